//! Mouse and keyboard: orbit, pan, zoom towards the cursor, picking songs, shortcuts. Nothing
//! here reacts while the pointer is over a panel or while a text field has the keyboard.

use std::time::Duration;

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;

use super::camera::OrbitCamera;
use super::cloud::{PointCloud, PointStyle};
use super::playback::{Playback, PlaybackRequest};
use super::state::{ExplorerState, ViewState};
use crate::explore::Explorer;

/// Extra pixels around a point that still count as on it.
const PICK_SLACK: f32 = 3.0;
/// A press and release closer than this (logical pixels) is a click, not a drag.
const CLICK_SLOP: f32 = 4.0;
const DOUBLE_CLICK: Duration = Duration::from_millis(400);

/// Mouse state across frames.
#[derive(Default)]
pub struct PointerMemory {
    press_at: Option<Vec2>,
    dragged: bool,
    last_click: Option<(usize, Duration)>,
    last_cursor: Option<Vec2>,
}

/// Where a song appears on screen (logical pixels) and how far from the camera.
#[derive(Debug, Clone, Copy)]
pub struct Projected {
    pub screen: Vec2,
    pub depth: f32,
    pub radius: f32,
}

/// Projects world points as the point shader does, so picking matches what is drawn.
pub struct Projector {
    clip_from_world: Mat4,
    world_from_view: Mat4,
    focal: f32,
    /// The projection's horizontal scale (`focal` over the aspect ratio).
    focal_x: f32,
    viewport_min: Vec2,
    viewport_size: Vec2,
    scale_factor: f32,
    style: PointStyle,
}

impl Projector {
    pub fn new(camera: &Camera, transform: &GlobalTransform, style: PointStyle, scale_factor: f32) -> Option<Self> {
        let rect = camera.logical_viewport_rect()?;
        Some(Self::from_parts(camera.clip_from_view(), transform.to_matrix(), rect, style, scale_factor))
    }

    /// From the camera's projection, its world transform and its viewport (logical pixels).
    pub fn from_parts(
        clip_from_view: Mat4,
        world_from_view: Mat4,
        viewport: Rect,
        style: PointStyle,
        scale_factor: f32,
    ) -> Self {
        Self {
            clip_from_world: clip_from_view * world_from_view.inverse(),
            world_from_view,
            focal: clip_from_view.y_axis.y,
            focal_x: clip_from_view.x_axis.x,
            viewport_min: viewport.min,
            viewport_size: viewport.size(),
            scale_factor,
            style,
        }
    }

    pub fn project(&self, point: [f32; 3]) -> Option<Projected> {
        let clip = self.clip_from_world * Vec4::new(point[0], point[1], point[2], 1.0);
        if clip.w <= 1e-6 {
            return None;
        }
        let ndc = clip.truncate() / clip.w;
        if ndc.x.abs() > 1.1 || ndc.y.abs() > 1.1 {
            return None;
        }
        let screen = self.viewport_min + Vec2::new((ndc.x + 1.0) * 0.5, (1.0 - ndc.y) * 0.5) * self.viewport_size;
        let physical_height = self.viewport_size.y * self.scale_factor;
        let pixels = (self.style.world_radius * self.focal * physical_height * 0.5 / clip.w)
            .clamp(self.style.min_pixels, self.style.max_pixels);
        Some(Projected { screen, depth: clip.w, radius: pixels / self.scale_factor })
    }

    /// Whether the song at `row` is drawn under `cursor` (its disc plus a little slack holds
    /// it), and if so how far it is from the camera.
    fn depth_under(&self, explorer: &Explorer, row: usize, cursor: Vec2) -> Option<f32> {
        if !explorer.is_visible(row) {
            return None;
        }
        let p = self.project(explorer.position(row))?;
        (p.screen.distance(cursor) <= p.radius + PICK_SLACK).then_some(p.depth)
    }

    /// The visible song under `cursor`: of those whose disc (plus a little slack) contains it,
    /// the nearest to the camera (the lower row where two are as near).
    ///
    /// It asks the map's kd-tree of positions for the songs near the pointer's ray, front to
    /// back, so a pick costs about as much at a million songs as at a thousand; it finds the
    /// same song as [`Projector::pick_by_scan`]. While an animation moves the songs away from
    /// their places on the map, the tree does not know where they are drawn: then it scans.
    pub fn pick(&self, explorer: &Explorer, cursor: Vec2) -> Option<usize> {
        if !explorer.draws_map_positions() {
            return self.pick_by_scan(explorer, cursor);
        }
        let positions = explorer.map().position_index();
        let (low, high) = positions.bounds()?;
        // In view space the camera looks down -z, and clip w is the depth -z. The points drawn
        // under the cursor at depth w lie around ray(w) = (ndc.x / focal_x, ndc.y / focal, -1) w.
        let uv = (cursor - self.viewport_min) / self.viewport_size;
        let ray_view = Vec3::new((uv.x * 2.0 - 1.0) / self.focal_x, (1.0 - uv.y * 2.0) / self.focal, -1.0);
        let eye = self.world_from_view.transform_point3(Vec3::ZERO);
        let ray = self.world_from_view.transform_vector3(ray_view);
        let ray_at = |depth: f32| eye + ray * depth;
        // A song at depth w is under the cursor only if its screen distance is at most its
        // radius plus the slack, so its distance from ray(w) is at most `across` × w: one pixel
        // at depth w spans 2w / (focal × viewport height) world units, in x as in y.
        let across =
            (self.style.max_pixels / self.scale_factor + PICK_SLACK) * 2.0 / (self.focal * self.viewport_size.y);
        let ray_length = ray.length();

        // The depths the cloud spans: those of its bounding box's corners.
        let view_from_world = self.world_from_view.inverse();
        let (mut nearest, mut farthest) = (f32::INFINITY, f32::NEG_INFINITY);
        for corner in 0..8 {
            let pick = |axis: usize| if corner >> axis & 1 == 0 { low[axis] } else { high[axis] };
            let depth = -view_from_world.transform_point3(Vec3::new(pick(0), pick(1), pick(2))).z;
            nearest = nearest.min(depth);
            farthest = farthest.max(depth);
        }
        if farthest <= 0.0 {
            return None;
        }
        let extent = Vec3::from(high).distance(Vec3::from(low)).max(1e-6);
        let start = nearest.max(1e-6);

        // Slabs of depth, front to back, each covered by one ball: a song under the cursor in
        // [near, far] lies within across × far of ray(w) for its own w, and ray(w) within half
        // the slab's length of its middle. Each slab is about as long as the ball is wide, so
        // slabs grow with depth (a few dozen cover a framed cloud). The first goes to a
        // thousandth of the cloud's size, so a camera inside the cloud needs no tiny slabs.
        let mut best: Option<(f32, usize)> = None;
        let mut near = start;
        while near < farthest {
            let far = if near == start {
                (start + extent * 1e-3).max(start * (1.0 + 2.0 * across / ray_length))
            } else {
                near * (1.0 + 2.0 * across / ray_length)
            };
            let middle = (near + far) * 0.5;
            let radius = (across * far + (far - near) * 0.5 * ray_length) * 1.01;
            for row in positions.rows_within(&ray_at(middle).to_array(), radius) {
                if let Some(depth) = self.depth_under(explorer, row, cursor)
                    && best.is_none_or(|(d, r)| (depth, row) < (d, r))
                {
                    best = Some((depth, row));
                }
            }
            // Every song not yet looked at lies deeper than this slab.
            if best.is_some_and(|(depth, _)| depth <= far) {
                break;
            }
            near = far;
        }
        best.map(|(_, row)| row)
    }

    /// [`Projector::pick`] by looking at every song: the reference it is checked against, and
    /// what it does while songs are drawn away from their places on the map.
    pub fn pick_by_scan(&self, explorer: &Explorer, cursor: Vec2) -> Option<usize> {
        let mut best: Option<(f32, usize)> = None;
        for row in 0..explorer.len() {
            if let Some(depth) = self.depth_under(explorer, row, cursor)
                && best.is_none_or(|(d, r)| (depth, row) < (d, r))
            {
                best = Some((depth, row));
            }
        }
        best.map(|(_, row)| row)
    }
}

/// Selects a song (and later, plays it); the camera flies to it when asked.
pub fn select_song(explorer: &mut Explorer, camera: Option<&mut OrbitCamera>, row: usize, fly: bool) {
    explorer.select(row);
    if fly && let Some(camera) = camera {
        camera.focus_on(Vec3::from(explorer.position(row)));
    }
}

/// Shows only `cluster`'s songs and offers, in the left panel, to play them or keep them as a
/// playlist; choosing the chosen cluster again shows every song again.
pub fn choose_cluster(explorer: &mut crate::explore::Explorer, view: &mut ViewState, cluster: usize) {
    let Some(entry) = explorer.legend_index_of_cluster(cluster) else { return };
    if view.chosen_cluster == Some(cluster) {
        view.chosen_cluster = None;
        explorer.show_all_legend(true);
    } else {
        view.chosen_cluster = Some(cluster);
        explorer.show_all_legend(false);
        explorer.toggle_legend_entry(entry);
    }
}

#[allow(clippy::too_many_arguments)]
pub fn pointer_input(
    mut memory: Local<PointerMemory>,
    time: Res<Time<Real>>,
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    windows: Query<&Window, With<PrimaryWindow>>,
    mut cameras: Query<(&Camera, &GlobalTransform, &mut OrbitCamera)>,
    clouds: Query<&PointCloud>,
    mut state: ResMut<ExplorerState>,
    mut view: ResMut<ViewState>,
) {
    let Ok(window) = windows.single() else { return };
    let Ok((camera, transform, mut orbit)) = cameras.single_mut() else { return };
    let cursor = window.cursor_position();
    let over_panel = view.pointer_over_ui;
    let style = clouds.single().map(|c| c.style).unwrap_or_default();
    let projector = Projector::new(camera, transform, style, window.scale_factor());

    // Drags started over a panel belong to the panel.
    if buttons.any_just_pressed([MouseButton::Left, MouseButton::Right, MouseButton::Middle]) {
        memory.press_at = if over_panel { None } else { cursor };
        memory.dragged = false;
    }
    if let Some(start) = memory.press_at {
        if cursor.is_some_and(|c| c.distance(start) > CLICK_SLOP) {
            memory.dragged = true;
        }
        let delta = motion.delta;
        if memory.dragged && delta != Vec2::ZERO {
            let height = window.height().max(1.0);
            if buttons.pressed(MouseButton::Left) {
                orbit.orbit_by(-delta.x / height * 3.0, delta.y / height * 3.0);
            } else if buttons.pressed(MouseButton::Right) || buttons.pressed(MouseButton::Middle) {
                // One window height of drag moves the view by about its visible height.
                orbit.pan_by(-delta.x / height, delta.y / height);
            }
        }
    }
    // A cluster's floating name: the click chooses the cluster (shows only its songs and offers
    // to play them or keep them as a playlist) instead of picking a song under it.
    let on_cluster_name = cursor.and_then(|c| {
        view.cluster_labels.iter().find(|(_, min, max)| c.x >= min.x && c.x <= max.x && c.y >= min.y && c.y <= max.y)
    });
    if buttons.just_released(MouseButton::Left)
        && memory.press_at.is_some()
        && !memory.dragged
        && let Some(&(cluster, _, _)) = on_cluster_name
    {
        choose_cluster(&mut state.0, &mut view, cluster);
        memory.press_at = None;
    }
    // Empty space keeps the selection: a missed click should not lose what you found.
    if buttons.just_released(MouseButton::Left)
        && memory.press_at.is_some()
        && !memory.dragged
        && let (Some(cursor), Some(projector)) = (cursor, &projector)
        && let Some(row) = projector.pick(&state.0, cursor)
    {
        let now = time.elapsed();
        let double = memory.last_click.is_some_and(|(last, at)| last == row && now - at < DOUBLE_CLICK);
        select_song(&mut state.0, Some(&mut orbit), row, double);
        memory.last_click = Some((row, now));
    }
    if !buttons.any_pressed([MouseButton::Left, MouseButton::Right, MouseButton::Middle]) {
        memory.press_at = None;
    }

    if !over_panel && scroll.delta.y != 0.0 {
        let lines = match scroll.unit {
            MouseScrollUnit::Line => scroll.delta.y,
            MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
        };
        let towards = match (cursor, &projector) {
            (Some(c), Some(_)) => cursor_point_at_target_depth(camera, transform, c, orbit.goal.target),
            _ => None,
        };
        orbit.zoom_by(0.85f32.powf(lines), towards);
    }

    // Hover: only recomputed when the pointer or the view moved.
    let moved = cursor != memory.last_cursor || !orbit.is_settled();
    memory.last_cursor = cursor;
    if over_panel || cursor.is_none() || memory.dragged {
        view.hovered = None;
    } else if moved && let (Some(c), Some(projector)) = (cursor, &projector) {
        view.hovered = projector.pick(&state.0, c);
    }
}

/// The point under the cursor on the plane through the orbit target facing the camera.
fn cursor_point_at_target_depth(
    camera: &Camera,
    transform: &GlobalTransform,
    cursor: Vec2,
    target: Vec3,
) -> Option<Vec3> {
    let ray = camera.viewport_to_world(transform, cursor).ok()?;
    let normal = transform.forward();
    let distance = ray.intersect_plane(target, InfinitePlane3d::new(*normal))?;
    Some(ray.get_point(distance))
}

pub fn keyboard_input(
    keys: Res<ButtonInput<KeyCode>>,
    time: Res<Time<Real>>,
    mut cameras: Query<&mut OrbitCamera>,
    mut state: ResMut<ExplorerState>,
    mut view: ResMut<ViewState>,
    playback: Option<ResMut<Playback>>,
) {
    let Ok(mut orbit) = cameras.single_mut() else { return };
    let ctrl = keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]);
    if ctrl && keys.just_pressed(KeyCode::KeyF) {
        view.focus_search = true;
        return;
    }
    if view.keyboard_taken {
        return;
    }
    let dt = time.delta_secs();
    // Ctrl+S and the like are commands, not orbiting.
    let held = |a: KeyCode, b: KeyCode| !ctrl && (keys.pressed(a) || keys.pressed(b));
    let turn = 1.6 * dt;
    if held(KeyCode::ArrowLeft, KeyCode::KeyA) {
        orbit.orbit_by(turn, 0.0);
    }
    if held(KeyCode::ArrowRight, KeyCode::KeyD) {
        orbit.orbit_by(-turn, 0.0);
    }
    if held(KeyCode::ArrowUp, KeyCode::KeyW) {
        orbit.orbit_by(0.0, turn);
    }
    if held(KeyCode::ArrowDown, KeyCode::KeyS) {
        orbit.orbit_by(0.0, -turn);
    }
    if held(KeyCode::Equal, KeyCode::NumpadAdd) {
        orbit.zoom_by((-2.0 * dt).exp(), None);
    }
    if held(KeyCode::Minus, KeyCode::NumpadSubtract) {
        orbit.zoom_by((2.0 * dt).exp(), None);
    }
    if keys.just_pressed(KeyCode::KeyF)
        && let Some(row) = state.0.selected()
    {
        orbit.focus_on(Vec3::from(state.0.position(row)));
    }
    if keys.just_pressed(KeyCode::KeyR) {
        orbit.reset();
    }
    if keys.just_pressed(KeyCode::Space)
        && let Some(mut playback) = playback
    {
        playback.request(PlaybackRequest::TogglePause);
    }
    for (key, forward) in [(KeyCode::KeyN, true), (KeyCode::KeyP, false)] {
        if keys.just_pressed(key)
            && let Some(row) = state.0.cycle_neighbour(forward)
        {
            orbit.focus_on(Vec3::from(state.0.position(row)));
        }
    }
    if keys.just_pressed(KeyCode::Escape) {
        if view.show_help {
            view.show_help = false;
        } else {
            state.0.clear_selection();
        }
    }
    if keys.just_pressed(KeyCode::KeyH) || keys.just_pressed(KeyCode::Slash) {
        view.show_help = !view.show_help;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::bench::synthetic_explorer;
    use crate::app::camera::{Orbit, frame_cloud};
    use crate::app::cloud::PointStyle;

    fn projector(orbit: &Orbit, style: PointStyle, scale_factor: f32) -> Projector {
        let (width, height) = (1200.0, 760.0);
        let clip_from_view = Mat4::perspective_infinite_reverse_rh(std::f32::consts::FRAC_PI_4, width / height, 0.1);
        let viewport = Rect::new(40.0, 30.0, 40.0 + width, 30.0 + height);
        Projector::from_parts(clip_from_view, orbit.transform().to_matrix(), viewport, style, scale_factor)
    }

    /// The kd-tree pick finds exactly the song the scan finds, wherever the pointer is: the
    /// cloud framed, seen close up and from inside, from several sides, at two pixel densities,
    /// and with a genre hidden.
    #[test]
    fn picking_through_the_tree_finds_the_song_the_scan_finds() {
        let mut explorer = synthetic_explorer(20_000, 7);
        let home = frame_cloud(&explorer).home;
        let inside = Orbit { distance: home.distance * 0.05, ..home };
        let close = Orbit { distance: home.distance * 0.3, yaw: home.yaw + 2.0, pitch: -0.6, ..home };
        let above = Orbit { pitch: 1.4, yaw: home.yaw - 1.0, ..home };
        let styles = [(PointStyle::default(), 1.0), (PointStyle { max_pixels: 30.0, ..PointStyle::default() }, 2.0)];
        let mut checked = 0;
        let mut found = 0;
        for phase in 0..2 {
            if phase == 1 {
                explorer.toggle_legend_entry(0);
            }
            for orbit in [&home, &inside, &close, &above] {
                for &(style, scale) in &styles {
                    let projector = projector(orbit, style, scale);
                    for i in 0..400 {
                        let cursor =
                            Vec2::new(40.0 + (i % 25) as f32 * 48.0 + 3.7, 30.0 + (i / 25) as f32 * 47.5 + 1.3);
                        let by_tree = projector.pick(&explorer, cursor);
                        assert_eq!(by_tree, projector.pick_by_scan(&explorer, cursor), "at {cursor} from {orbit:?}");
                        checked += 1;
                        found += usize::from(by_tree.is_some());
                    }
                }
            }
        }
        assert!(found >= checked / 10, "many of the pointer's places are over a song: {found} of {checked}");
        assert!(found < checked, "and some are not: {found} of {checked}");
    }
}
