// The song cloud: one instanced draw, one camera-facing triangle per song built here from the
// vertex index (no vertex buffer for it) around a round point. Sized in pixels from a world-space
// radius so that near songs look bigger, clamped so that far ones stay visible and near ones do
// not fill the screen; far songs are dimmed (a depth cue). Round with a soft edge, depth-tested.

#import bevy_render::view::View

@group(0) @binding(0) var<uniform> view: View;

struct PointSettings {
    // A point is drawn when its filter value is at most this (the distance-filter radius).
    filter_threshold: f32,
    // Radius in world units at which the pixel size is computed.
    world_radius: f32,
    min_pixels: f32,
    max_pixels: f32,
    // Depth cue: no dimming at depth_near (view distance) or nearer, depth_dimming at depth_far.
    depth_near: f32,
    depth_far: f32,
    depth_dimming: f32,
};
@group(0) @binding(1) var<uniform> settings: PointSettings;

struct Instance {
    // xyz: position; w: 1.0 for a song added this session (drawn with a ring), else 0.0.
    @location(0) position_kind: vec4<f32>,
    // rgb: linear colour; a: unused (1.0).
    @location(1) colour: vec4<f32>,
    // The song's distance from the selection, or infinity when its genre is hidden.
    @location(2) filter_value: f32,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) colour: vec3<f32>,
    // Position relative to the point's centre, in units of its radius.
    @location(1) corner: vec2<f32>,
    @location(2) kind: f32,
    // Pixels per unit of `corner`, for a one-pixel soft edge at any size.
    @location(3) pixel_radius: f32,
    // 0 for the nearest songs up to depth_dimming for the farthest.
    @location(4) dimming: f32,
};

@vertex
fn vertex(@builtin(vertex_index) vertex_index: u32, instance: Instance) -> VertexOutput {
    var out: VertexOutput;
    if !(instance.filter_value <= settings.filter_threshold) {
        // Outside the clip volume: the rasteriser drops it.
        out.clip_position = vec4(0.0, 0.0, -2.0, 1.0);
        return out;
    }
    // One triangle circumscribing the unit circle: half the vertices of a quad, which is what
    // costs most with a million songs (a software rasteriser spends it all on the CPU).
    var corners = array<vec2<f32>, 3>(vec2(0.0, 2.0), vec2(-1.7320508, -1.0), vec2(1.7320508, -1.0));
    let corner = corners[vertex_index % 3u];
    let center = view.clip_from_world * vec4(instance.position_kind.xyz, 1.0);
    let viewport_size = view.viewport.zw;
    // clip_from_view[1][1] is the projection's focal scale (1 / tan(fov / 2)).
    let projected = settings.world_radius * view.clip_from_view[1][1] * viewport_size.y * 0.5 / max(center.w, 1e-6);
    let pixels = clamp(projected, settings.min_pixels, settings.max_pixels);
    let offset = corner * pixels * 2.0 / viewport_size;
    out.clip_position = vec4(center.xy + offset * center.w, center.z, center.w);
    out.colour = instance.colour.rgb;
    out.corner = corner;
    out.kind = instance.position_kind.w;
    out.pixel_radius = pixels;
    let depth = clamp((center.w - settings.depth_near) / max(settings.depth_far - settings.depth_near, 1e-6), 0.0, 1.0);
    out.dimming = depth * settings.depth_dimming;
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let r = length(in.corner);
    let edge = 1.0 / max(in.pixel_radius, 1.0);
    let alpha = 1.0 - smoothstep(1.0 - edge, 1.0, r);
    if alpha <= 0.0 {
        discard;
    }
    // A gentle shading towards the rim reads as a small sphere rather than a flat disc.
    var colour = in.colour * (1.0 - 0.35 * r * r) * (1.0 - in.dimming);
    if in.kind > 0.5 && r > 0.62 {
        // Songs added this session: a white ring.
        colour = vec3(1.0, 1.0, 1.0);
    }
    return vec4(colour, alpha);
}
