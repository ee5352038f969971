//! The explorer window: bevy draws the song cloud, egui the panels. One plugin per concern; all
//! rules (selection, filters, search, label placement) live in [`crate::explore`], which these
//! systems drive and draw.

mod about;
pub mod animate;
pub mod bench;
pub mod camera;
pub mod cloud;
pub mod clusters;
mod colour;
mod dropped;
pub mod input;
pub mod jobs;
mod listen_panel;
pub mod listening;
pub mod menu;
mod overlay;
mod pacing;
mod panels;
pub mod playback;
mod reindex;
pub mod saving;
mod script;
pub mod session;
pub mod state;
pub mod training;

use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy::window::WindowResolution;
use bevy_egui::{EguiPlugin, EguiPrimaryContextPass};

use crate::explore::Explorer;
use camera::OrbitCamera;
use cloud::{CloudPlugin, PointCloud};
use playback::PlaybackPlugin;

pub use script::{Script, ShownWindow};
pub use state::{ExplorerState, ViewState};

/// Behind the songs.
pub(crate) const BACKGROUND: Color = Color::srgb(0.035, 0.04, 0.055);

/// How the window is started.
#[derive(Debug, Clone, Default)]
pub struct WindowOptions {
    /// Window size in logical pixels.
    pub size: (u32, u32),
    /// Scripted steps (tests, docs): select a song, set the filter, take a screenshot and exit.
    pub script: Script,
    /// The remembered settings to start from; the window writes its changes back here.
    pub settings: std::sync::Arc<std::sync::Mutex<crate::settings::Settings>>,
    /// Show the first-start hint.
    pub first_start_hint: bool,
}

/// Opens the window on an explorer and runs until it is closed (or the script ends).
pub fn run_window(explorer: Explorer, options: WindowOptions) -> AppExit {
    let title = format!("songspace — {}", explorer.library_path().display());
    let (width, height) = if options.size.0 > 0 { options.size } else { (1400, 900) };
    let scripted = options.script.screenshot.is_some() || options.script.bench_frames.is_some();
    let mut app = App::new();
    app.insert_resource(ClearColor(BACKGROUND))
        .add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window { title, resolution: WindowResolution::new(width, height), ..default() }),
            ..default()
        }))
        .add_plugins((EguiPlugin::default(), CloudPlugin))
        .add_systems(Startup, spawn_ui_camera)
        // Scripted runs (tests, screenshots) stay silent, unless they hold for outside input,
        // which clicks as a person would.
        .add_plugins(PlaybackPlugin {
            follow_selection: options.script.screenshot.is_none() || options.script.hold_seconds.is_some(),
        })
        .add_plugins(ExplorerPlugin { explorer: std::sync::Mutex::new(Some(explorer)), script: options.script })
        .add_plugins(session::SessionPlugin { settings: options.settings, first_start_hint: options.first_start_hint })
        .add_systems(
            EguiPrimaryContextPass,
            (jobs::jobs_window, training::training_window, menu::map_settings_window).after(panels::panels),
        );
    // Scripted runs time themselves in frames: they draw continuously.
    if !scripted {
        app.add_plugins(pacing::PacingPlugin);
    }
    app.run()
}

/// The explorer's state and input systems. The window adds [`CloudPlugin`] (drawing) and egui
/// (panels); headless tests run this alone.
pub struct ExplorerPlugin {
    pub explorer: std::sync::Mutex<Option<Explorer>>,
    pub script: Script,
}

impl Plugin for ExplorerPlugin {
    fn build(&self, app: &mut App) {
        let explorer = self.explorer.lock().ok().and_then(|mut e| e.take()).expect("the explorer is added once");
        let framing = camera::frame_cloud(&explorer);
        app.insert_resource(ExplorerState(explorer))
            .add_plugins((listening::ListenPlugin, about::AboutPlugin))
            .init_resource::<ViewState>()
            .init_resource::<cloud::CloudReady>()
            .init_resource::<dropped::DropWorker>()
            .init_resource::<jobs::Jobs>()
            .init_resource::<training::TrainingPanel>()
            .init_resource::<animate::CloudAnimation>()
            .init_resource::<menu::Dialogs>()
            .init_resource::<menu::MapSettingsWindow>()
            .init_resource::<menu::ViewSaver>()
            .init_resource::<saving::LibraryWriter>()
            .init_resource::<reindex::Reindexer>()
            .init_resource::<clusters::ClusterWorker>()
            .add_message::<jobs::StartJob>()
            .add_message::<jobs::JobNews>()
            .add_message::<menu::OpenDialog>()
            .add_message::<bevy::window::FileDragAndDrop>()
            .add_message::<bevy::window::CursorMoved>()
            .insert_resource(self.script.clone())
            .add_systems(Startup, move |mut commands: Commands| spawn_scene(&mut commands, framing.clone()))
            .add_systems(
                Update,
                (
                    dropped::receive_drops,
                    dropped::place_finished,
                    reindex::rebuild_indices,
                    clusters::compute_clusters,
                    menu::run_dialogs,
                    jobs::run_jobs,
                    dropped::restart_after_jobs,
                    training::follow_training,
                    animate::animate_cloud,
                    menu::save_view_changes,
                    saving::report_write_failures,
                    input::pointer_input,
                    input::keyboard_input,
                    camera::idle_orbit,
                    camera::apply_orbit,
                    cloud::sync_cloud,
                    script::run_script,
                )
                    .chain(),
            )
            .add_systems(EguiPrimaryContextPass, (menu::menu_bar, panels::panels, overlay::overlay).chain());
    }
}

fn spawn_scene(commands: &mut Commands, camera: OrbitCamera) {
    commands.spawn((Camera3d::default(), Tonemapping::None, camera.current.transform(), camera));
    commands.spawn(PointCloud::default());
}

/// egui gets a camera of its own covering the whole window, so that the 3D camera's viewport can
/// be the area between the panels (and "focus" centres a song in what you can see).
fn spawn_ui_camera(mut commands: Commands, mut settings: ResMut<bevy_egui::EguiGlobalSettings>) {
    settings.auto_create_primary_context = false;
    commands.spawn((
        bevy_egui::PrimaryEguiContext,
        Camera2d,
        bevy::camera::visibility::RenderLayers::none(),
        Camera {
            order: 1,
            output_mode: bevy::camera::CameraOutputMode::Write {
                blend_state: Some(bevy::render::render_resource::BlendState::ALPHA_BLENDING),
                clear_color: ClearColorConfig::None,
            },
            clear_color: ClearColorConfig::Custom(Color::NONE),
            ..default()
        },
    ));
}
