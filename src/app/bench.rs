//! `songspace --bench-frames`: frame times of the explorer on synthetic clouds of 10k, 100k and
//! 1M songs. Two numbers per size: the whole frame in a real window (on whatever GPU the machine
//! has; software Vulkan here), idle and while orbiting, and the CPU time of the explorer's own
//! systems per frame with nothing changing, headless, which must not grow with the song count.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bevy::app::ScheduleRunnerPlugin;
use bevy::camera::RenderTarget;
use bevy::input::InputPlugin;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy::render::renderer::RenderDevice;
use bevy::render::{Render, RenderApp, RenderSystems};
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;

use super::camera::OrbitCamera;
use super::cloud::CloudPlugin;
use super::input::Projector;
use super::{BACKGROUND, ExplorerPlugin, Script};
use crate::explore::Explorer;
use crate::library::{FileFingerprint, Library, SourceKind, Track};
use crate::space::{Map, ProjectionMethod};

const GENRES: [&str; 16] = [
    "Rock",
    "Electronic",
    "Experimental",
    "Hip-Hop",
    "Folk",
    "Instrumental",
    "Pop",
    "International",
    "Classical",
    "Old-Time / Historic",
    "Jazz",
    "Country",
    "Soul-RnB",
    "Spoken",
    "Blues",
    "Easy Listening",
];

/// `n` songs in 16 genres; each genre a few Gaussian clusters in an 8-d embedding and on the
/// map, sized unevenly as real libraries are. Nothing is written to disk.
pub fn synthetic_explorer(n: usize, seed: u64) -> Explorer {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32
    };
    let mut normal = {
        let mut u = uniform;
        move || {
            let (a, b) = (u().max(1e-7), u());
            (-2.0 * a.ln()).sqrt() * (std::f32::consts::TAU * b).cos()
        }
    };
    const DIM: usize = 8;
    let clusters: Vec<([f32; 3], [f32; DIM], usize)> = (0..48)
        .map(|c| {
            let centre = [normal() * 30.0, normal() * 30.0, normal() * 30.0];
            let mut embedding = [0.0; DIM];
            for e in &mut embedding {
                *e = normal() * 4.0;
            }
            (centre, embedding, c % GENRES.len())
        })
        .collect();
    let mut library = Library::new(PathBuf::from("/synthetic"), SourceKind::Folder);
    let mut ids = Vec::with_capacity(n);
    let mut embeddings = Vec::with_capacity(n * DIM);
    let mut positions = Vec::with_capacity(n);
    for i in 0..n {
        // Uneven cluster sizes: squaring a uniform favours the first clusters.
        let u = normal().abs().min(2.99) / 3.0;
        let (centre, embedding, genre) = &clusters[((u * u) * clusters.len() as f32) as usize % clusters.len()];
        let id = i as u64 + 1;
        ids.push(id);
        positions.push([centre[0] + normal() * 3.0, centre[1] + normal() * 3.0, centre[2] + normal() * 3.0]);
        embeddings.extend(embedding.iter().map(|e| e + normal()));
        library.tracks.push(Track {
            id,
            path: PathBuf::from(format!("{id}.mp3")),
            title: format!("Song {id}"),
            artist: format!("Artist {}", id % 997),
            album: String::new(),
            genre: Some(GENRES[*genre].to_owned()),
            genres: vec![GENRES[*genre].to_owned()],
            duration_seconds: 30.0,
            split: None,
            fingerprint: FileFingerprint { size: 0, modified_ns: 0 },
            features: None,
            descriptors: None,
        });
    }
    let map = Map::new(ids, embeddings, DIM, positions, 30.0, ProjectionMethod::Tsne).expect("finite synthetic data");
    Explorer::new(library, PathBuf::from(format!("synthetic-{n}.songspace")), map)
}

/// Mean CPU time (ms) of one frame of the explorer's systems, headless, with nothing changing.
pub fn idle_update_ms(explorer: Explorer, frames: usize) -> f64 {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, InputPlugin))
        .add_plugins(ExplorerPlugin { explorer: Mutex::new(Some(explorer)), script: Script::default() });
    for _ in 0..20 {
        app.update();
    }
    let started = Instant::now();
    for _ in 0..frames {
        app.update();
    }
    started.elapsed().as_secs_f64() * 1000.0 / frames as f64
}

/// Mean time (ms) to pick the song under the cursor (a click, or a hover after the pointer
/// moved) in a 1200 × 760 view framing the whole cloud: through the kd-tree as the window does,
/// and by the scan it replaced (the reference, measured in the same run).
pub fn pick_ms(explorer: &Explorer, picks: usize) -> (f64, f64) {
    let camera = super::camera::frame_cloud(explorer);
    let view = Rect::new(0.0, 0.0, 1200.0, 760.0);
    let clip_from_view = Mat4::perspective_infinite_reverse_rh(std::f32::consts::FRAC_PI_4, 1200.0 / 760.0, 0.1);
    let projector = Projector::from_parts(
        clip_from_view,
        camera.current.transform().to_matrix(),
        view,
        super::cloud::PointStyle::default(),
        1.0,
    );
    let time = |pick: &dyn Fn(Vec2) -> Option<usize>| {
        let started = Instant::now();
        let mut found = 0usize;
        for i in 0..picks {
            let at = Vec2::new(400.0 + (i % 40) as f32 * 10.0, 250.0 + (i / 40) as f32 * 10.0);
            found += usize::from(pick(at).is_some());
        }
        std::hint::black_box(found);
        started.elapsed().as_secs_f64() * 1000.0 / picks as f64
    };
    (time(&|at| projector.pick(explorer, at)), time(&|at| projector.pick_by_scan(explorer, at)))
}

/// Frame-time statistics, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameStats {
    pub mean: f64,
    pub p95: f64,
}

impl FrameStats {
    pub fn of(mut seconds: Vec<f32>) -> Self {
        if seconds.is_empty() {
            return Self::default();
        }
        seconds.sort_by(f32::total_cmp);
        let mean = seconds.iter().map(|&s| f64::from(s)).sum::<f64>() / seconds.len() as f64;
        let p95 = f64::from(seconds[((seconds.len() as f64 * 0.95) as usize).min(seconds.len() - 1)]);
        Self { mean: mean * 1000.0, p95: p95 * 1000.0 }
    }
}

/// What a window run in bench mode measures.
#[derive(Resource, Debug, Clone, Default)]
pub struct FrameBench {
    pub frames: usize,
    pub idle: Vec<f32>,
    pub orbiting: Vec<f32>,
}

impl FrameBench {
    /// The line a bench child prints for its parent.
    pub fn report_line(&self, points: usize) -> String {
        let idle = FrameStats::of(self.idle.clone());
        let orbit = FrameStats::of(self.orbiting.clone());
        format!("frames {points} {:.3} {:.3} {:.3} {:.3}", idle.mean, idle.p95, orbit.mean, orbit.p95)
    }
}

/// The image a run with no window draws the scene into.
#[derive(Resource, Clone)]
pub struct OffscreenTarget(pub Handle<Image>);

/// The frame measurement with no window, for machines with a GPU and no display (a compute
/// server): the 3D view of `size` pixels drawn into an image on the GPU bevy picks, every song as
/// in the window, then `script` as a window run would. Nothing presents a frame, so nothing
/// would hold the CPU back while the GPU falls behind: each frame waits for the GPU to finish
/// its work. The egui panels are not drawn, and the view is the whole image (in the window it is
/// the space between the panels).
pub fn run_offscreen(explorer: Explorer, size: (u32, u32), script: Script) -> AppExit {
    let mut app = App::new();
    app.insert_resource(ClearColor(BACKGROUND))
        .add_plugins(
            DefaultPlugins
                .set(WindowPlugin {
                    primary_window: None,
                    exit_condition: ExitCondition::DontExit,
                    close_when_requested: false,
                    ..default()
                })
                .disable::<WinitPlugin>(),
        )
        .add_plugins((ScheduleRunnerPlugin::run_loop(Duration::ZERO), CloudPlugin))
        .add_plugins(ExplorerPlugin { explorer: Mutex::new(Some(explorer)), script })
        .add_systems(
            PostStartup,
            move |mut commands: Commands,
                  mut images: ResMut<Assets<Image>>,
                  cameras: Query<Entity, With<OrbitCamera>>| {
                let image = Image::new_target_texture(size.0, size.1, TextureFormat::Rgba8UnormSrgb, None);
                let handle = images.add(image);
                for camera in &cameras {
                    commands.entity(camera).insert(RenderTarget::Image(handle.clone().into()));
                }
                commands.insert_resource(OffscreenTarget(handle));
            },
        );
    if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
        render_app.add_systems(Render, wait_for_gpu.in_set(RenderSystems::Cleanup));
    }
    app.run()
}

/// Blocks until the GPU has finished the frame just submitted.
fn wait_for_gpu(device: Res<RenderDevice>) {
    if let Err(e) = device.poll(bevy::render::render_resource::PollType::wait_indefinitely()) {
        warn!("waiting for the GPU: {e}");
    }
}
