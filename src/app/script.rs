//! Scripted runs (`songspace --screenshot`): the same actions a person takes (select a song, move
//! the distance slider, search), applied through the same code, then the first settled frame is
//! saved to a PNG and the app exits. Used by the window tests and for the README's picture.

use std::path::PathBuf;
use std::time::Duration;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, save_to_disk};

use super::animate::CloudAnimation;
use super::bench::{FrameBench, OffscreenTarget};
use super::camera::OrbitCamera;
use super::cloud::CloudReady;
use super::cloud::PointStyle;
use super::dropped::{DropWorker, submit_path};
use super::input::{Projector, select_song};
use super::jobs::{Jobs, StartJob};
use super::menu::{Dialogs, MapSettingsWindow, OpenDialog};
use super::playback::Playback;
use super::saving::LibraryWriter;
use super::state::{ExplorerState, ViewState};
use super::training::TrainingPanel;

/// The windows a script can open at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShownWindow {
    Train,
    Map,
    Jobs,
    About,
}

/// Gives up on a window that never draws (no usable GPU or driver) instead of hanging.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Resource, Debug, Clone, Default)]
pub struct Script {
    /// Save the first settled frame here, then exit (with `bench_frames`: the last frame measured).
    pub screenshot: Option<PathBuf>,
    /// Select this track (by id) first.
    pub select: Option<u64>,
    /// Then set the distance filter to this radius.
    pub filter_radius: Option<f32>,
    /// Type this into the search box.
    pub search: Option<String>,
    /// Drop these files onto the window (as a person dragging them from a file manager).
    pub drop: Vec<PathBuf>,
    /// Measure this many frames idle, then as many orbiting, print them and exit.
    pub bench_frames: Option<usize>,
    /// Before the screenshot, keep the window open this long for input from outside (xdotool in
    /// the tests), after printing where the songs are on screen.
    pub hold_seconds: Option<f32>,
    /// Start training from the training panel, and take the screenshot once the new map is in.
    pub train: Option<crate::workflow::TrainRequest>,
    /// Open this file dialog (answered from outside during the hold).
    pub dialog: Option<super::menu::DialogKind>,
    /// Open these windows.
    pub show: Vec<ShownWindow>,
}

#[derive(Default)]
pub struct ScriptProgress {
    stage: Stage,
    settled_frames: u32,
    /// Frames the hold has waited, clusters delivered, for their names to be drawn.
    frames_waiting_for_names: u32,
    hold_until: Option<Duration>,
}

/// How long a hold waits for cluster names after the clusters arrive: the overlay draws them on
/// the next frame, unless none is in view (every centre off screen), which must not stall the
/// run.
const NAME_WAIT_FRAMES: u32 = 30;

#[derive(Default, PartialEq, Eq)]
enum Stage {
    #[default]
    WaitingForGpu,
    Settling,
    Capturing,
    Measuring,
    Done,
}

#[allow(clippy::too_many_arguments)]
pub fn run_script(
    mut progress: Local<ScriptProgress>,
    script: Res<Script>,
    time: Res<Time<Real>>,
    ready: Res<CloudReady>,
    mut commands: Commands,
    mut state: ResMut<ExplorerState>,
    mut view: ResMut<ViewState>,
    mut cameras: Query<&mut OrbitCamera>,
    views: Query<(&Camera, &GlobalTransform), With<OrbitCamera>>,
    mut worker: ResMut<DropWorker>,
    mut jobs: ResMut<Jobs>,
    playback: Option<Res<Playback>>,
    mut bench: Local<FrameBench>,
    mut exit: MessageWriter<AppExit>,
    mut windows: ScriptWindows,
    listen: Res<super::listening::Listen>,
) {
    if script.screenshot.is_none() && script.bench_frames.is_none() {
        return;
    }
    match progress.stage {
        Stage::WaitingForGpu => {
            if ready.is_ready() {
                apply_actions(&script, &mut state, &mut view, cameras.single_mut().ok().as_deref_mut());
                for path in &script.drop {
                    if path.is_dir() {
                        jobs.offer_folder(path.clone(), &mut view);
                    } else {
                        submit_path(path, &state, &mut worker, &mut view, &jobs);
                    }
                }
                windows.open(&script, &state, &mut view);
                progress.stage = Stage::Settling;
            } else if time.elapsed() > READY_TIMEOUT {
                error!("the window did not draw within {} s; no screenshot taken", READY_TIMEOUT.as_secs());
                exit.write(AppExit::error());
            }
        }
        Stage::Settling => {
            // Coloured by cluster, the hold starts once the clusters' names are drawn, so that
            // whatever drives the window can click them.
            let by_cluster = state.0.colour_by() == crate::library::ColourBy::Cluster;
            let names_pending = by_cluster
                && (state.0.needs_clusters()
                    || (view.cluster_labels.is_empty() && progress.frames_waiting_for_names < NAME_WAIT_FRAMES));
            if by_cluster && !state.0.needs_clusters() && view.cluster_labels.is_empty() {
                progress.frames_waiting_for_names += 1;
            }
            if let Some(hold) = script.hold_seconds
                && progress.hold_until.is_none()
                && view.scene_rect.is_some()
                && !names_pending
                && let Ok((camera, transform)) = views.single()
            {
                progress.hold_until = Some(time.elapsed() + Duration::from_secs_f32(hold));
                print_screen_positions(&state.0, &view, camera, transform, hold);
            }
            let holding =
                progress.hold_until.is_none_or(|until| time.elapsed() < until) && script.hold_seconds.is_some();
            // Dropped files must have landed (and the camera flown to them) first.
            let settled = !holding
                && cameras.single().map(|c| c.is_settled()).unwrap_or(true)
                && worker.is_idle()
                && windows.idle(&jobs)
                // Coloured by cluster: the clustering's worker must have delivered.
                && !(state.0.colour_by() == crate::library::ColourBy::Cluster && state.0.needs_clusters());
            progress.settled_frames = if settled { progress.settled_frames + 1 } else { 0 };
            // A few settled frames: the panels have laid out and the viewport has its final size.
            if progress.settled_frames >= 6 {
                if script.bench_frames.is_some() {
                    progress.stage = Stage::Measuring;
                } else if let Some(path) = script.screenshot.clone() {
                    info!("screenshot requested: {}", path.display());
                    commands.spawn(windows.screenshot()).observe(save_to_disk(path));
                    progress.stage = Stage::Capturing;
                }
            }
        }
        Stage::Capturing => {
            if script.screenshot.as_ref().is_some_and(|path| path.exists()) {
                print_job_frames(&jobs);
                if script.hold_seconds.is_some()
                    && let Ok(camera) = cameras.single()
                {
                    let selected = state.0.selected().and_then(|row| state.0.track_at(row)).map(|t| t.id);
                    println!("library {}", state.0.library_path().display());
                    println!(
                        "camera yaw {:.3} pitch {:.3} distance {:.3} home distance {:.3}; selected track {}",
                        camera.current.yaw,
                        camera.current.pitch,
                        camera.current.distance,
                        camera.home.distance,
                        selected.map_or("none".to_string(), |id| id.to_string())
                    );
                    match playback.as_deref() {
                        Some(Playback { unavailable: Some(why), .. }) => println!("playback: off ({why})"),
                        Some(Playback { now: Some(now), .. }) => println!(
                            "playback: track {} at {:.2} s of {:.2} s",
                            state.0.track_at(now.row).map_or(0, |t| t.id),
                            now.position_seconds,
                            now.duration_seconds
                        ),
                        _ => println!("playback: nothing playing"),
                    }
                    println!(
                        "shown {} of {} songs; chosen cluster {}",
                        state.0.visible_count(),
                        state.0.len(),
                        view.chosen_cluster.map_or("none".to_string(), |c| c.to_string())
                    );
                    let ids = |rows: &mut dyn Iterator<Item = usize>| -> String {
                        rows.filter_map(|r| state.0.track_at(r)).map(|t| t.id.to_string()).collect::<Vec<_>>().join(",")
                    };
                    println!(
                        "listen: likes {}; for you [{}]; path [{}]; playlists {}; plays {}; auditions {}",
                        listen.listening.likes.len(),
                        ids(&mut listen.for_you.iter().map(|r| r.row)),
                        listen
                            .path
                            .as_ref()
                            .map(|p| p.songs.iter().map(u64::to_string).collect::<Vec<_>>().join(","))
                            .unwrap_or_default(),
                        listen.listening.playlists.len(),
                        listen.listening.history.len(),
                        playback.as_deref().map_or(0, |p| p.auditions),
                    );
                }
                progress.stage = Stage::Done;
                exit.write(AppExit::Success);
            }
        }
        Stage::Measuring => {
            let frames = script.bench_frames.unwrap_or(0);
            let delta = time.delta_secs();
            if bench.idle.len() < frames {
                bench.idle.push(delta);
            } else if bench.orbiting.len() < frames {
                bench.orbiting.push(delta);
                if let Ok(mut camera) = cameras.single_mut() {
                    // A slow turn: the whole cloud moves on screen every frame.
                    camera.orbit_by(0.02, 0.0);
                }
            } else {
                println!("{}", bench.report_line(state.0.len()));
                if let Some(adapter) = &windows.adapter {
                    println!(
                        "adapter {} ({:?}, {:?}, driver {})",
                        adapter.name, adapter.backend, adapter.device_type, adapter.driver
                    );
                }
                // The frame measured last, kept to show what was drawn.
                if let Some(path) = script.screenshot.clone() {
                    commands.spawn(windows.screenshot()).observe(save_to_disk(path));
                    progress.stage = Stage::Capturing;
                } else {
                    progress.stage = Stage::Done;
                    exit.write(AppExit::Success);
                }
            }
        }
        Stage::Done => {}
    }
}

/// The windows and requests a script opens, as the menu and the panels' buttons would.
#[derive(bevy::ecs::system::SystemParam)]
pub struct ScriptWindows<'w> {
    training: ResMut<'w, TrainingPanel>,
    map_settings: ResMut<'w, MapSettingsWindow>,
    dialogs: Res<'w, Dialogs>,
    animation: Res<'w, CloudAnimation>,
    writer: Res<'w, LibraryWriter>,
    start: MessageWriter<'w, StartJob>,
    open_dialog: MessageWriter<'w, OpenDialog>,
    /// Where a run with no window draws.
    offscreen: Option<Res<'w, OffscreenTarget>>,
    adapter: Option<Res<'w, bevy::render::renderer::RenderAdapterInfo>>,
}

impl ScriptWindows<'_> {
    fn open(&mut self, script: &Script, state: &ExplorerState, view: &mut ViewState) {
        for window in &script.show {
            match window {
                ShownWindow::Train => self.training.open = true,
                ShownWindow::Map => self.map_settings.open = true,
                ShownWindow::Jobs => view.show_jobs = true,
                ShownWindow::About => view.show_about = true,
            }
        }
        if let Some(request) = script.train {
            // What the panel's Train button does with these choices.
            self.training.open = true;
            self.training.label = request.label;
            self.training.device = request.device;
            self.training.epochs = request.epochs;
            let library = state.0.library_path().to_path_buf();
            self.start.write(StartJob(crate::workflow::JobKind::Train { library, request }));
        }
        if let Some(kind) = script.dialog {
            self.open_dialog.write(OpenDialog(kind));
        }
    }

    /// A capture of what the scene is drawn on: the window, or the image of a run without one.
    fn screenshot(&self) -> Screenshot {
        match &self.offscreen {
            Some(target) => Screenshot::image(target.0.clone()),
            None => Screenshot::primary_window(),
        }
    }

    /// No job, dialog, glide or write under way: what they bring is on screen and on disk.
    fn idle(&self, jobs: &Jobs) -> bool {
        jobs.running.is_none()
            && jobs.waiting_for_writes.is_empty()
            && !self.dialogs.is_open()
            && !self.animation.is_gliding()
            && !self.writer.busy()
    }
}

/// How the window kept up while the last job ran.
fn print_job_frames(jobs: &Jobs) {
    let mut frames = jobs.last_job_frames.clone();
    if frames.is_empty() {
        return;
    }
    frames.sort_by(f32::total_cmp);
    let mean = frames.iter().sum::<f32>() / frames.len() as f32;
    let p95 = frames[(frames.len() * 95 / 100).min(frames.len() - 1)];
    println!(
        "frames while the job ran: {} frames, mean {:.1} ms, 95th percentile {:.1} ms, longest {:.1} ms",
        frames.len(),
        mean * 1000.0,
        p95 * 1000.0,
        frames[frames.len() - 1] * 1000.0
    );
}

/// One line for the scene's centre, one per song on screen and one per cluster name drawn (the
/// centre of its box), in window coordinates (logical pixels), for whatever drives the held
/// window.
fn print_screen_positions(
    explorer: &crate::explore::Explorer,
    view: &ViewState,
    camera: &Camera,
    transform: &GlobalTransform,
    hold: f32,
) {
    let Some(projector) = Projector::new(camera, transform, PointStyle::default(), 1.0) else { return };
    let centre = camera.logical_viewport_rect().map(|r| r.center()).unwrap_or_default();
    println!("holding for input {hold} s; scene centre {:.0} {:.0}", centre.x, centre.y);
    for row in 0..explorer.len() {
        if let (Some(track), Some(p)) = (explorer.track_at(row), projector.project(explorer.position(row))) {
            println!("song {} at {:.0} {:.0}", track.id, p.screen.x, p.screen.y);
        }
    }
    for (cluster, min, max) in &view.cluster_labels {
        let centre = (*min + *max) / 2.0;
        println!("cluster {cluster} name at {:.0} {:.0}", centre.x, centre.y);
    }
}

fn apply_actions(script: &Script, state: &mut ExplorerState, view: &mut ViewState, camera: Option<&mut OrbitCamera>) {
    let explorer = &mut state.0;
    if let Some(id) = script.select {
        match explorer.row_of(id) {
            Some(row) => select_song(explorer, camera, row, true),
            None => view.notify(format!("track {id} is not on the map")),
        }
    }
    if let Some(radius) = script.filter_radius {
        explorer.set_filter_radius(Some(radius));
    }
    if let Some(text) = &script.search {
        view.search_text = text.clone();
        view.search_results = explorer.search(text, 40);
    }
}
