//! Drawing the song cloud: every song in ONE instanced draw call (`shaders/points.wgsl`) in the
//! transparent 3D phase. The instance buffers are uploaded only when their version changes (new
//! songs, genre toggles, a new selection); moving the distance slider changes one uniform. So
//! with nothing changing the CPU does the same small work per frame at 10 songs or a million.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bevy::core_pipeline::core_3d::{CORE_3D_DEPTH_FORMAT, Transparent3d, TransparentSortingInfo3d};
use bevy::ecs::query::ROQueryItem;
use bevy::ecs::system::SystemParamItem;
use bevy::ecs::system::lifetimeless::{Read, SRes};
use bevy::mesh::VertexBufferLayout;
use bevy::prelude::*;
use bevy::render::extract_component::{ExtractComponent, ExtractComponentPlugin};
use bevy::render::render_phase::{
    AddRenderCommand, DrawFunctions, PhaseItem, PhaseItemExtraIndex, RenderCommand, RenderCommandResult,
    SetItemPipeline, TrackedRenderPass, ViewSortedRenderPhases,
};
use bevy::render::render_resource::binding_types::uniform_buffer;
use bevy::render::render_resource::{
    BindGroup, BindGroupEntries, BindGroupLayoutDescriptor, BindGroupLayoutEntries, BlendState, Buffer,
    BufferInitDescriptor, BufferUsages, ColorTargetState, ColorWrites, CompareFunction, DepthStencilState,
    FragmentState, MultisampleState, PipelineCache, RenderPipelineDescriptor, ShaderStages, ShaderType,
    SpecializedRenderPipeline, SpecializedRenderPipelines, TextureFormat, UniformBuffer, VertexAttribute, VertexFormat,
    VertexState, VertexStepMode,
};
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::render::sync_world::MainEntity;
use bevy::render::view::{ExtractedView, ViewUniform, ViewUniformOffset, ViewUniforms};
use bevy::render::{Render, RenderApp, RenderStartup, RenderSystems};
use bevy::shader::Shader;

use super::camera::OrbitCamera;
use super::colour::linear;
use super::state::ExplorerState;
use crate::explore::Explorer;

/// How much darker the farthest songs are drawn than the nearest: enough to read depth in a
/// still picture, not so much that far songs' colours are lost.
const DEPTH_DIMMING: f32 = 0.55;

/// Bytes per song in the instance buffer: position and kind, then colour.
const INSTANCE_BYTES: u64 = 32;

/// What the GPU draws, owned by one entity in the main world. Cloning it (extraction does, each
/// frame) copies two pointers, never the songs.
#[derive(Component, Clone, Default)]
pub struct PointCloud {
    /// Per song: x, y, z, kind, r, g, b, 1 as f32 (see the shader's `Instance`).
    pub instances: Arc<Vec<f32>>,
    pub instances_version: u64,
    /// Per song: its filter value (distance from the selection, or infinity if hidden).
    pub filter_values: Arc<Vec<f32>>,
    pub filter_version: u64,
    pub style: PointStyle,
}

/// Per-frame numbers for the shader.
#[derive(Clone, Copy, Debug, PartialEq, ShaderType)]
pub struct PointStyle {
    pub filter_threshold: f32,
    pub world_radius: f32,
    pub min_pixels: f32,
    pub max_pixels: f32,
    /// Depth cue: songs at `depth_near` (view distance) or nearer keep their colour, songs at
    /// `depth_far` or farther are darkened by `depth_dimming` (0: no cue), linearly between.
    pub depth_near: f32,
    pub depth_far: f32,
    pub depth_dimming: f32,
}

impl Default for PointStyle {
    fn default() -> Self {
        Self {
            filter_threshold: f32::MAX,
            world_radius: 0.35,
            min_pixels: 1.6,
            max_pixels: 14.0,
            depth_near: 0.0,
            depth_far: 1.0,
            depth_dimming: 0.0,
        }
    }
}

impl PointCloud {
    pub fn len(&self) -> usize {
        self.instances.len() / 8
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }
}

/// Keeps the GPU's copy of the cloud in step with the explorer: rebuilt when the explorer says
/// it changed, otherwise only the per-frame style numbers are touched.
pub fn sync_cloud(
    state: Res<ExplorerState>,
    view: Res<super::state::ViewState>,
    cameras: Query<&OrbitCamera>,
    mut clouds: Query<&mut PointCloud>,
) {
    let explorer = &state.0;
    let Ok(mut cloud) = clouds.single_mut() else { return };
    if cloud.instances_version != explorer.points_version() {
        cloud.instances = cloud_instances(explorer).into();
        cloud.instances_version = explorer.points_version();
    }
    if cloud.filter_version != explorer.visibility_version() {
        cloud.filter_values = explorer.point_filter_values().into();
        cloud.filter_version = explorer.visibility_version();
    }
    // Dots sized to the view; a sparse library gets bigger ones (up to 3× for under ~40 songs).
    let sparseness = (1000.0 / explorer.len().max(1) as f32).cbrt().clamp(1.0, 3.0);
    let world_radius = cameras.single().map(|c| c.home.distance * 0.003 * sparseness).unwrap_or(0.1);
    let mut style = PointStyle { filter_threshold: explorer.filter_threshold(), world_radius, ..PointStyle::default() };
    if let Ok(camera) = cameras.single()
        && !view.flat_points
    {
        // The framed cloud's radius is about a third of the home distance (camera.rs framing):
        // the dimming runs from the near side of that sphere, seen from where the camera is now,
        // to its far side.
        let radius = camera.home.distance * 0.33;
        style.depth_near = (camera.current.distance - radius).max(0.0);
        style.depth_far = style.depth_near + 2.0 * radius;
        style.depth_dimming = DEPTH_DIMMING;
    }
    if cloud.style != style {
        cloud.style = style;
    }
}

/// The instance buffer's contents: per song x, y, z, kind (1 for a dropped song), then its
/// colour (its legend entry's, or its value's on the continuous scale) in linear light and 1. One pass with the colours converted once per genre:
/// it runs on the frame whenever a song is added or the map moves (0.4 ms at 106,574 songs,
/// benches/space.rs).
pub fn cloud_instances(explorer: &Explorer) -> Vec<f32> {
    let colours: Vec<[f32; 3]> = explorer.legend().iter().map(|g| g.colour.map(linear)).collect();
    // On a continuous scale each song has its own colour.
    let per_song = explorer.colour_by().descriptor().is_some();
    let mut instances = Vec::with_capacity(explorer.len() * 8);
    for row in 0..explorer.len() {
        let p = explorer.position(row);
        let c = if per_song { explorer.row_colour(row).map(linear) } else { colours[explorer.legend_index_of(row)] };
        instances.extend_from_slice(&[p[0], p[1], p[2], 0.0, c[0], c[1], c[2], 1.0]);
    }
    for &row in explorer.added_rows() {
        instances[row * 8 + 3] = 1.0;
    }
    instances
}

impl bevy::render::sync_component::SyncComponent for PointCloud {
    type Target = Self;
}

impl ExtractComponent for PointCloud {
    type QueryData = &'static PointCloud;
    type QueryFilter = ();
    type Out = Self;

    fn extract_component(cloud: ROQueryItem<'_, '_, Self::QueryData>) -> Option<Self> {
        Some(cloud.clone())
    }
}

/// Set by the render world once the point pipeline has compiled, so that a screenshot is not
/// taken of a frame without the songs.
#[derive(Resource, Clone, Default)]
pub struct CloudReady(pub Arc<AtomicBool>);

impl CloudReady {
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct CloudPlugin;

#[derive(Resource, Clone)]
struct PointShader(Handle<Shader>);

impl Plugin for CloudPlugin {
    fn build(&self, app: &mut App) {
        let shader = app
            .world_mut()
            .resource_mut::<Assets<Shader>>()
            .add(Shader::from_wgsl(include_str!("../../shaders/points.wgsl"), "shaders/points.wgsl"));
        let ready = app.world().get_resource::<CloudReady>().cloned().unwrap_or_default();
        app.insert_resource(ready.clone()).add_plugins(ExtractComponentPlugin::<PointCloud>::default());
        let Some(render_app) = app.get_sub_app_mut(RenderApp) else {
            return;
        };
        render_app
            .insert_resource(PointShader(shader))
            .insert_resource(ready)
            .init_resource::<SpecializedRenderPipelines<PointPipeline>>()
            .init_resource::<PointBuffers>()
            .add_render_command::<Transparent3d, DrawPoints>()
            .add_systems(RenderStartup, init_point_pipeline)
            .add_systems(
                Render,
                (
                    prepare_point_buffers.in_set(RenderSystems::PrepareResources),
                    prepare_point_bind_group.in_set(RenderSystems::PrepareBindGroups),
                    queue_points.in_set(RenderSystems::Queue),
                ),
            );
    }
}

#[derive(Resource, Clone)]
struct PointPipeline {
    layout: BindGroupLayoutDescriptor,
    shader: Handle<Shader>,
}

fn init_point_pipeline(mut commands: Commands, shader: Res<PointShader>) {
    let layout = BindGroupLayoutDescriptor::new(
        "songspace points",
        &BindGroupLayoutEntries::sequential(
            ShaderStages::VERTEX,
            (uniform_buffer::<ViewUniform>(true), uniform_buffer::<PointStyle>(false)),
        ),
    );
    commands.insert_resource(PointPipeline { layout, shader: shader.0.clone() });
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct PointPipelineKey {
    format: TextureFormat,
    samples: u32,
}

impl SpecializedRenderPipeline for PointPipeline {
    type Key = PointPipelineKey;

    fn specialize(&self, key: Self::Key) -> RenderPipelineDescriptor {
        let float4 =
            |location, offset| VertexAttribute { format: VertexFormat::Float32x4, offset, shader_location: location };
        RenderPipelineDescriptor {
            label: Some("songspace points".into()),
            layout: vec![self.layout.clone()],
            vertex: VertexState {
                shader: self.shader.clone(),
                entry_point: Some("vertex".into()),
                buffers: vec![
                    VertexBufferLayout {
                        array_stride: INSTANCE_BYTES,
                        step_mode: VertexStepMode::Instance,
                        attributes: vec![float4(0, 0), float4(1, 16)],
                    },
                    VertexBufferLayout {
                        array_stride: 4,
                        step_mode: VertexStepMode::Instance,
                        attributes: vec![VertexAttribute {
                            format: VertexFormat::Float32,
                            offset: 0,
                            shader_location: 2,
                        }],
                    },
                ],
                ..default()
            },
            fragment: Some(FragmentState {
                shader: self.shader.clone(),
                entry_point: Some("fragment".into()),
                targets: vec![Some(ColorTargetState {
                    format: key.format,
                    blend: Some(BlendState::ALPHA_BLENDING),
                    write_mask: ColorWrites::ALL,
                })],
                ..default()
            }),
            // Reverse-Z, as bevy's 3D views: nearer is greater.
            depth_stencil: Some(DepthStencilState {
                format: CORE_3D_DEPTH_FORMAT,
                depth_write_enabled: Some(true),
                depth_compare: Some(CompareFunction::GreaterEqual),
                stencil: default(),
                bias: default(),
            }),
            multisample: MultisampleState { count: key.samples, ..default() },
            ..default()
        }
    }
}

/// The GPU copies of the cloud, rebuilt only when a version changes.
#[derive(Resource, Default)]
struct PointBuffers {
    instances: Option<(u64, Buffer)>,
    filter: Option<(u64, Buffer)>,
    count: u32,
    style: UniformBuffer<PointStyle>,
    bind_group: Option<BindGroup>,
}

fn as_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

/// Replaces `slot`'s buffer when its version is not `version`.
fn upload(device: &RenderDevice, label: &'static str, version: u64, values: &[f32], slot: &mut Option<(u64, Buffer)>) {
    if slot.as_ref().map(|(v, _)| *v) != Some(version) {
        let contents = as_bytes(values);
        *slot = Some((
            version,
            device.create_buffer_with_data(&BufferInitDescriptor {
                label: Some(label),
                contents: &contents,
                usage: BufferUsages::VERTEX,
            }),
        ));
    }
}

fn prepare_point_buffers(
    clouds: Query<&PointCloud>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    mut buffers: ResMut<PointBuffers>,
) {
    let Some(cloud) = clouds.iter().next() else {
        buffers.count = 0;
        return;
    };
    upload(&device, "songspace point instances", cloud.instances_version, &cloud.instances, &mut buffers.instances);
    upload(&device, "songspace point filter values", cloud.filter_version, &cloud.filter_values, &mut buffers.filter);
    buffers.count = cloud.len().min(cloud.filter_values.len()) as u32;
    buffers.style.set(cloud.style);
    buffers.style.write_buffer(&device, &queue);
}

fn prepare_point_bind_group(
    pipeline: Option<Res<PointPipeline>>,
    pipeline_cache: Res<PipelineCache>,
    device: Res<RenderDevice>,
    view_uniforms: Res<ViewUniforms>,
    mut buffers: ResMut<PointBuffers>,
) {
    let (Some(pipeline), Some(view), Some(style)) =
        (pipeline, view_uniforms.uniforms.binding(), buffers.style.binding())
    else {
        return;
    };
    let bind_group = device.create_bind_group(
        "songspace points",
        &pipeline_cache.get_bind_group_layout(&pipeline.layout),
        &BindGroupEntries::sequential((view, style)),
    );
    buffers.bind_group = Some(bind_group);
}

#[allow(clippy::too_many_arguments)]
fn queue_points(
    draw_functions: Res<DrawFunctions<Transparent3d>>,
    pipeline: Option<Res<PointPipeline>>,
    mut pipelines: ResMut<SpecializedRenderPipelines<PointPipeline>>,
    pipeline_cache: Res<PipelineCache>,
    clouds: Query<(Entity, &MainEntity), With<PointCloud>>,
    mut phases: ResMut<ViewSortedRenderPhases<Transparent3d>>,
    views: Query<(&ExtractedView, Option<&Msaa>)>,
    ready: Res<CloudReady>,
) {
    let Some(pipeline) = pipeline else { return };
    let draw = draw_functions.read().id::<DrawPoints>();
    for (view, msaa) in &views {
        let Some(phase) = phases.get_mut(&view.retained_view_entity) else { continue };
        let key = PointPipelineKey { format: view.target_format, samples: msaa.map_or(1, |m| m.samples()) };
        let id = pipelines.specialize(&pipeline_cache, &pipeline, key);
        if pipeline_cache.get_render_pipeline(id).is_some() {
            ready.0.store(true, Ordering::Relaxed);
        }
        for (entity, main_entity) in &clouds {
            phase.add_transient(Transparent3d {
                // Drawn before the other transparent items (egui draws in its own pass anyway).
                sorting_info: TransparentSortingInfo3d::Sorted { mesh_center: Vec3::ZERO, depth_bias: 0.0 },
                distance: f32::NEG_INFINITY,
                pipeline: id,
                entity: (entity, *main_entity),
                draw_function: draw,
                batch_range: 0..1,
                extra_index: PhaseItemExtraIndex::None,
                indexed: false,
            });
        }
    }
}

type DrawPoints = (SetItemPipeline, DrawPointInstances);

struct DrawPointInstances;

impl<P: PhaseItem> RenderCommand<P> for DrawPointInstances {
    type Param = SRes<PointBuffers>;
    type ViewQuery = Read<ViewUniformOffset>;
    type ItemQuery = ();

    fn render<'w>(
        _item: &P,
        view_offset: ROQueryItem<'w, '_, Self::ViewQuery>,
        _entity: Option<ROQueryItem<'w, '_, Self::ItemQuery>>,
        buffers: SystemParamItem<'w, '_, Self::Param>,
        pass: &mut TrackedRenderPass<'w>,
    ) -> RenderCommandResult {
        let buffers = buffers.into_inner();
        let (Some(bind_group), Some((_, instances)), Some((_, filter))) =
            (&buffers.bind_group, &buffers.instances, &buffers.filter)
        else {
            return RenderCommandResult::Skip;
        };
        if buffers.count == 0 {
            return RenderCommandResult::Skip;
        }
        pass.set_bind_group(0, bind_group, &[view_offset.offset]);
        pass.set_vertex_buffer(0, instances.slice(..));
        pass.set_vertex_buffer(1, filter.slice(..));
        pass.draw(0..3, 0..buffers.count);
        RenderCommandResult::Success
    }
}
