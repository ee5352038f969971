//! Long jobs started from the window (import, training, embedding, laying out the map, opening and
//! saving libraries), run on their own thread by [`crate::workflow`], one at a time, with
//! progress and cancel in the jobs panel. The window keeps drawing meanwhile; when a job ends, the
//! library it opened replaces the one in the window and the songs glide to their new places.

use std::collections::VecDeque;
use std::path::PathBuf;

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, egui};

use super::animate::CloudAnimation;
use super::camera::OrbitCamera;
use super::camera::frame_cloud;
use super::cloud::PointCloud;
use super::saving::LibraryWriter;
use super::state::{ExplorerState, ViewState};
use crate::explore::Explorer;
use crate::model::{ClassCounts, EpochMetrics, TrainingMetrics};
use crate::workflow::{Job, JobEvent, JobKind, Step, start};

/// Asks for a job to run (from a menu, a dialog, a panel or a script).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct StartJob(pub JobKind);

/// What happened to jobs, for the parts of the window that follow them (the Train panel, the
/// drop worker) without the jobs needing to know them.
#[derive(Message, Debug, Clone)]
pub enum JobNews {
    /// A training job started; its device and classes follow.
    TrainingBegan,
    TrainingStarted {
        device: String,
        classes: Vec<ClassCounts>,
    },
    Epoch(EpochMetrics),
    Trained(Box<TrainingMetrics>),
    /// The running job ended, however it ended.
    Ended,
    /// A finished job's library replaced the one in the window (it may bring another model).
    LibraryReplaced,
}

/// What the jobs panel shows and does.
#[derive(Resource, Default)]
pub struct Jobs {
    /// A dropped folder waiting for the user to say "Import".
    pub offered_folder: Option<PathBuf>,
    /// The user said yes: start importing this folder.
    pub accepted: Option<PathBuf>,
    pub running: Option<RunningJob>,
    /// Where imported libraries are written instead of the folder's default library location
    /// (tests use it to stay out of the user's data folder).
    pub library_override: Option<PathBuf>,
    /// The last jobs' outcomes, newest last, for the jobs panel.
    pub finished: VecDeque<FinishedJob>,
    /// Frame times (seconds) while the last job ran, to show that the window kept its pace.
    pub last_job_frames: Vec<f32>,
    /// Jobs asked for while the window's own writes were still going (they start right after).
    pub waiting_for_writes: Vec<JobKind>,
}

pub struct FinishedJob {
    pub title: String,
    pub succeeded: bool,
    pub message: String,
}

pub struct RunningJob {
    pub title: String,
    pub kind: JobKind,
    /// The step reported last (`None` until the job reports one).
    pub step: Option<Step>,
    pub done: usize,
    pub total: usize,
    pub skipped: usize,
    pub cancelling: bool,
    pub frame_times: Vec<f32>,
    /// The furthest the progress bar has gone: it never moves back, even when a later step's
    /// share starts below where an earlier step ended.
    pub reached: f32,
    /// A Mutex only to make the resource Sync; one system at a time uses it.
    job: std::sync::Mutex<Job>,
}

impl RunningJob {
    pub fn cancel(&mut self) {
        if let Ok(job) = self.job.lock() {
            job.cancel();
        }
        self.cancelling = true;
    }

    /// Overall progress in 0..=1, as far as it has ever reached.
    pub fn fraction(&self) -> f32 {
        self.reached
    }

    /// Takes in a progress report.
    fn progress(&mut self, step: Step, done: usize, total: usize) {
        self.step = Some(step);
        self.done = done;
        self.total = total;
        self.reached = self.reached.max(self.step_fraction());
    }

    /// Where the last report puts the job, each step weighted by how long it usually takes.
    fn step_fraction(&self) -> f32 {
        let Some(step) = self.step else { return 0.0 };
        let within = if self.total == 0 { 0.0 } else { self.done as f32 / self.total as f32 };
        let (start, span) = match (&self.kind, step) {
            (JobKind::ImportFolder { .. }, Step::Analysing) => (0.0, 0.7),
            (JobKind::ImportFolder { .. }, Step::Embedding) => (0.7, 0.1),
            (JobKind::ImportFolder { .. }, Step::Mapping) => (0.8, 0.2),
            (JobKind::Train { .. }, Step::Analysing) => (0.0, 0.1),
            (JobKind::Train { .. }, Step::Training) => (0.1, 0.7),
            (JobKind::Train { .. }, Step::Embedding) => (0.8, 0.05),
            (JobKind::Train { .. }, Step::Mapping) => (0.85, 0.15),
            (_, Step::Embedding) => (0.0, 0.4),
            (_, Step::Mapping) => (0.4, 0.6),
            (_, Step::Opening) => (0.95, 0.05),
            (_, _) => (0.0, 0.95),
        };
        start + span * within.clamp(0.0, 1.0)
    }
}

impl Jobs {
    /// A folder was dropped: offer to import it, unless a job is running.
    pub fn offer_folder(&mut self, folder: PathBuf, view: &mut ViewState) {
        if self.running.is_some() {
            view.notify(format!("{}: wait for the running job to finish (or cancel it)", folder.display()));
        } else {
            self.offered_folder = Some(folder);
        }
    }

    fn remember(&mut self, title: String, succeeded: bool, message: String) {
        self.finished.push_back(FinishedJob { title, succeeded, message });
        while self.finished.len() > 5 {
            self.finished.pop_front();
        }
    }
}

/// Starts requested jobs and follows the running one: progress, the converging map, training
/// metrics; when it finishes, its library replaces the one in the window.
#[allow(clippy::too_many_arguments)]
pub fn run_jobs(
    mut requests: MessageReader<StartJob>,
    mut jobs: ResMut<Jobs>,
    mut state: ResMut<ExplorerState>,
    mut view: ResMut<ViewState>,
    writer: Res<LibraryWriter>,
    mut news: MessageWriter<JobNews>,
    mut animation: ResMut<CloudAnimation>,
    time: Res<Time<Real>>,
    mut cameras: Query<&mut OrbitCamera>,
    mut clouds: Query<&mut PointCloud>,
    mut windows: Query<&mut Window, With<PrimaryWindow>>,
) {
    let mut wanted = std::mem::take(&mut jobs.waiting_for_writes);
    wanted.extend(requests.read().map(|request| request.0.clone()));
    if let Some(folder) = jobs.accepted.take() {
        wanted.push(JobKind::ImportFolder { folder, library: jobs.library_override.clone() });
    }
    for kind in wanted {
        if let Some(running) = &jobs.running {
            view.notify(format!("{}: wait for \"{}\" to finish (or cancel it)", kind.title(), running.title));
            continue;
        }
        // A job reads the library file: the window's own changes must be in it first.
        if writer.busy() {
            jobs.waiting_for_writes.push(kind);
            continue;
        }
        let title = kind.title();
        match start(kind.clone()) {
            Ok(job) => {
                view.notify(format!("{title} …"));
                if let JobKind::Train { .. } = kind {
                    news.write(JobNews::TrainingBegan);
                }
                jobs.running = Some(RunningJob {
                    title,
                    kind,
                    step: None,
                    done: 0,
                    total: 0,
                    skipped: 0,
                    cancelling: false,
                    frame_times: Vec::new(),
                    reached: 0.0,
                    job: std::sync::Mutex::new(job),
                });
            }
            Err(e) => view.notify(format!("{title}: cannot start: {e}")),
        }
    }

    let Some(running) = jobs.running.as_mut() else { return };
    running.frame_times.push(time.delta_secs());
    let mut ended: Option<Result<(Box<Explorer>, String), String>> = None;
    let (events, gone) = running
        .job
        .lock()
        .map(|job| {
            let events: Vec<JobEvent> = job.events.try_iter().collect();
            (events, matches!(job.events.try_recv(), Err(std::sync::mpsc::TryRecvError::Disconnected)))
        })
        .unwrap_or_default();
    for event in events {
        match event {
            JobEvent::Progress { step, done, total } => running.progress(step, done, total),
            JobEvent::Skipped(text) => {
                running.skipped += 1;
                view.notify(text);
            }
            JobEvent::Notice(text) => view.notify(text),
            JobEvent::TrainingStarted { device, classes } => {
                news.write(JobNews::TrainingStarted { device, classes });
            }
            JobEvent::Epoch(metrics) => {
                news.write(JobNews::Epoch(metrics));
            }
            JobEvent::Trained(metrics) => {
                news.write(JobNews::Trained(metrics));
            }
            JobEvent::Layout { ids, positions, .. } => animation.show_layout(&mut state.0, &ids, &positions),
            JobEvent::Finished { explorer, summary } => ended = Some(Ok((explorer, summary))),
            JobEvent::Cancelled => {
                ended = Some(Err(format!("{}: cancelled; nothing you had was changed", running.title)))
            }
            JobEvent::Failed(message) => ended = Some(Err(format!("{} failed: {message}", running.title))),
        }
    }
    if ended.is_none() && gone {
        // The job's thread ended without its last word (it died): the window must not wait for
        // it forever with its menus disabled.
        ended = Some(Err(format!("{} failed: its worker stopped without finishing", running.title)));
    }
    let Some(ended) = ended else { return };
    let Some(finished) = jobs.running.take() else { return };
    jobs.last_job_frames = finished.frame_times;
    news.write(JobNews::Ended);
    let (mut explorer, summary) = match ended {
        Ok(done) => done,
        Err(message) => {
            // The old library is back as it was drawn before the job.
            animation.stop(&mut state.0);
            view.notify(message.clone());
            jobs.remember(finished.title, false, message);
            return;
        }
    };
    let same_library = explorer.library_path() == state.0.library_path();
    if same_library {
        // The view choices made while the job ran win over what the job read from disk.
        let wanted = state.0.view_settings();
        explorer.set_metric(wanted.metric);
        explorer.set_filter_space(wanted.filter_space);
        explorer.set_colours(wanted.colours);
    }
    let selected_id = state.0.selected().and_then(|row| state.0.track_at(row)).map(|t| t.id);
    let framing = frame_cloud(&explorer);
    if let Ok(mut camera) = cameras.single_mut() {
        if same_library {
            // Same songs, new places: keep the angle, move to the new cloud, and let them glide.
            camera.reframe(&framing);
            animation.glide(&state.0, &mut explorer);
        } else {
            animation.stop(&mut state.0);
            *camera = framing;
        }
    }
    if let Ok(mut window) = windows.single_mut() {
        window.title = format!("songspace — {}", explorer.library_path().display());
    }
    if same_library && let Some(row) = selected_id.and_then(|id| explorer.row_of(id)) {
        explorer.select(row);
    }
    state.0 = *explorer;
    // The new library may bring its own model: the drop worker for the old one goes.
    news.write(JobNews::LibraryReplaced);
    view.hovered = None;
    view.search_results.clear();
    view.library_name = None;
    if let Ok(mut cloud) = clouds.single_mut() {
        cloud.instances_version = 0;
        cloud.filter_version = 0;
    }
    view.notify(summary.clone());
    jobs.remember(finished.title, true, summary);
}

/// The offer to import a dropped folder, and the jobs panel: the running job's progress with
/// Cancel, and how the last ones ended.
pub fn jobs_window(mut contexts: EguiContexts, mut jobs: ResMut<Jobs>, mut view: ResMut<ViewState>) -> Result {
    let ctx = contexts.ctx_mut()?.clone();
    if let Some(folder) = jobs.offered_folder.clone() {
        let mut answer = None;
        egui::Window::new("Import a music folder")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
            .show(&ctx, |ui| {
                ui.label(format!("Import {} as a new library?", folder.display()));
                ui.weak(
                    "Every song is analysed and embedded with the shipped model, then the folder gets a map \
                     of its own, which opens here. The library open now stays as it is.",
                );
                ui.horizontal(|ui| {
                    if ui.button("Import").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Not now").clicked() {
                        answer = Some(false);
                    }
                });
            });
        match answer {
            Some(true) => {
                jobs.offered_folder = None;
                jobs.accepted = Some(folder);
            }
            Some(false) => jobs.offered_folder = None,
            None => {}
        }
    }
    if !view.show_jobs && jobs.running.is_none() {
        return Ok(());
    }
    let mut open = true;
    egui::Window::new("Jobs")
        .open(&mut open)
        .collapsible(true)
        .resizable(false)
        .default_width(360.0)
        .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -40.0))
        .show(&ctx, |ui| {
            match jobs.running.as_mut() {
                Some(running) => {
                    ui.label(egui::RichText::new(&running.title).strong());
                    let counts = if running.total > 0 {
                        format!(" {} / {}", running.done, running.total)
                    } else {
                        String::new()
                    };
                    ui.add(
                        egui::ProgressBar::new(running.fraction())
                            .desired_width(340.0)
                            .text(format!("{}{counts}", running.step.map_or("starting", Step::label))),
                    );
                    if running.skipped > 0 {
                        ui.weak(format!("{} files skipped (named in the status line)", running.skipped));
                    }
                    ui.add_enabled_ui(!running.cancelling, |ui| {
                        if ui.button(if running.cancelling { "Cancelling…" } else { "Cancel" }).clicked() {
                            running.cancel();
                        }
                    });
                }
                None => {
                    ui.weak("Nothing running.");
                }
            }
            if !jobs.finished.is_empty() {
                ui.separator();
                for done in jobs.finished.iter().rev() {
                    let mark = if done.succeeded { "✔" } else { "✖" };
                    ui.add(egui::Label::new(format!("{mark} {}", done.message)).wrap());
                }
            }
        });
    if !open {
        view.show_jobs = false;
    }
    Ok(())
}
