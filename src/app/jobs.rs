//! Long jobs started from the window (for now: importing a dropped music folder as a new library),
//! run on their own thread with progress and cancel; the window keeps drawing meanwhile.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, egui};

use super::camera::OrbitCamera;
use super::cloud::PointCloud;
use super::dropped::DropWorker;
use super::{ExplorerState, ViewState, frame_cloud};
use crate::explore::Explorer;
use crate::workflow::{Job, JobEvent, Step, start_folder_import};

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
}

pub struct RunningJob {
    pub folder: PathBuf,
    pub step: Step,
    pub done: usize,
    pub total: usize,
    pub skipped: usize,
    pub cancelling: bool,
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

    /// Overall progress in 0..=1: analysis weighs most, then the map, then embedding.
    pub fn fraction(&self) -> f32 {
        let within = if self.total == 0 { 0.0 } else { self.done as f32 / self.total as f32 };
        let (start, span) = match self.step {
            Step::Analysing => (0.0, 0.7),
            Step::Embedding => (0.7, 0.1),
            Step::Mapping => (0.8, 0.2),
        };
        start + span * within.clamp(0.0, 1.0)
    }
}

impl Jobs {
    /// A folder was dropped: offer to import it, unless a job is running.
    pub fn offer_folder(&mut self, folder: PathBuf, view: &mut ViewState) {
        if self.running.is_some() {
            view.notify(format!("{}: wait for the running import to finish (or cancel it)", folder.display()));
        } else {
            self.offered_folder = Some(folder);
        }
    }
}

/// Starts accepted imports and follows the running one; when it finishes, its library replaces
/// the one in the window.
pub fn run_jobs(
    mut jobs: ResMut<Jobs>,
    mut state: ResMut<ExplorerState>,
    mut view: ResMut<ViewState>,
    mut worker: ResMut<DropWorker>,
    mut cameras: Query<&mut OrbitCamera>,
    mut clouds: Query<&mut PointCloud>,
    mut windows: Query<&mut Window, With<PrimaryWindow>>,
) {
    if let Some(folder) = jobs.accepted.take() {
        match start_folder_import(folder.clone(), jobs.library_override.clone()) {
            Ok(job) => {
                view.notify(format!("Importing {} …", folder.display()));
                jobs.running = Some(RunningJob {
                    folder,
                    step: Step::Analysing,
                    done: 0,
                    total: 0,
                    skipped: 0,
                    cancelling: false,
                    job: std::sync::Mutex::new(job),
                });
            }
            Err(e) => view.notify(format!("Cannot start the import of {}: {e}", folder.display())),
        }
    }
    let Some(running) = jobs.running.as_mut() else { return };
    let mut ended: Option<Result<PathBuf, String>> = None;
    let events: Vec<JobEvent> = running.job.lock().map(|job| job.events.try_iter().collect()).unwrap_or_default();
    for event in events {
        match event {
            JobEvent::Progress { step, done, total } => {
                running.step = step;
                running.done = done;
                running.total = total;
            }
            JobEvent::Skipped(text) => {
                running.skipped += 1;
                view.notify(text);
            }
            JobEvent::Notice(text) => view.notify(text),
            JobEvent::Finished { library, tracks, skipped } => {
                view.notify(format!(
                    "Imported {}: {tracks} songs{}",
                    running.folder.display(),
                    if skipped > 0 { format!(", {skipped} files skipped (see above)") } else { String::new() }
                ));
                ended = Some(Ok(library));
            }
            JobEvent::Cancelled => {
                ended = Some(Err(format!(
                    "Import of {} cancelled; what was analysed is kept, and importing again resumes",
                    running.folder.display()
                )))
            }
            JobEvent::Failed(message) => ended = Some(Err(format!("Import failed: {message}"))),
        }
    }
    let Some(ended) = ended else { return };
    jobs.running = None;
    let library = match ended {
        Ok(library) => library,
        Err(message) => {
            view.notify(message);
            return;
        }
    };
    match Explorer::open(&library) {
        Ok(explorer) if !explorer.is_empty() => {
            let framing = frame_cloud(&explorer);
            if let Ok(mut window) = windows.single_mut() {
                window.title = format!("songspace — {}", explorer.library_path().display());
            }
            state.0 = explorer;
            // The new library brings its own model; the worker for the old one goes.
            *worker = DropWorker::default();
            view.hovered = None;
            view.search_results.clear();
            if let Ok(mut camera) = cameras.single_mut() {
                *camera = framing;
            }
            if let Ok(mut cloud) = clouds.single_mut() {
                cloud.instances_version = 0;
                cloud.filter_version = 0;
            }
        }
        Ok(_) => view.notify(format!("{}: the map has no songs", library.display())),
        Err(e) => view.notify(format!("Cannot open the imported library: {e}")),
    }
}

/// The offer to import a dropped folder, and the running job's progress with Cancel.
pub fn jobs_window(mut contexts: EguiContexts, mut jobs: ResMut<Jobs>) -> Result {
    if jobs.offered_folder.is_none() && jobs.running.is_none() {
        return Ok(());
    }
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
    if let Some(running) = jobs.running.as_mut() {
        egui::Window::new("Importing")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -40.0))
            .show(&ctx, |ui| {
                ui.label(running.folder.display().to_string());
                let counts =
                    if running.total > 0 { format!(" {} / {}", running.done, running.total) } else { String::new() };
                ui.add(
                    egui::ProgressBar::new(running.fraction())
                        .desired_width(320.0)
                        .text(format!("{}{counts}", running.step.label())),
                );
                if running.skipped > 0 {
                    ui.weak(format!("{} files skipped (named in the status line)", running.skipped));
                }
                ui.add_enabled_ui(!running.cancelling, |ui| {
                    if ui.button(if running.cancelling { "Cancelling…" } else { "Cancel" }).clicked() {
                        running.cancel();
                    }
                });
            });
    }
    Ok(())
}
