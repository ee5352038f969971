//! A music folder to an explorable library in one cancellable job: import (analyse every file),
//! embed (the shipped model, or the library's own) and map (t-SNE). The window runs it on a
//! thread and shows its progress; the command line runs the same steps as separate commands.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use crate::library::{ImportEvent, ImportOptions, default_library_path, import_folder, load_library};
use crate::model::{ModelForNewTracks, embed_library, model_for_new_tracks};
use crate::space::{ProjectEvent, project_library};

/// The steps of a folder import, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Analysing,
    Embedding,
    Mapping,
}

impl Step {
    pub fn label(self) -> &'static str {
        match self {
            Step::Analysing => "analysing the audio",
            Step::Embedding => "embedding",
            Step::Mapping => "laying out the map",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// `done` of `total` units of `step` (files, tracks or t-SNE iterations; `total` 0 while
    /// unknown).
    Progress {
        step: Step,
        done: usize,
        total: usize,
    },
    /// A file that could not be imported, and why.
    Skipped(String),
    /// Something else the user should read that does not stop the job.
    Notice(String),
    /// The library is ready to open.
    Finished {
        library: PathBuf,
        tracks: usize,
        skipped: usize,
    },
    /// Stopped on request; what was analysed is kept, and importing again resumes.
    Cancelled,
    Failed(String),
}

/// A job running on its own thread.
pub struct Job {
    pub events: Receiver<JobEvent>,
    cancel: Arc<AtomicBool>,
}

impl Job {
    /// Asks the job to stop at its next safe point; it answers with [`JobEvent::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

/// Imports `folder` into its default library (or `library` if given), embeds and maps it.
pub fn start_folder_import(folder: PathBuf, library: Option<PathBuf>) -> std::io::Result<Job> {
    let (sender, events) = channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    std::thread::Builder::new().name("songspace import".into()).spawn(move || {
        let library = library.unwrap_or_else(|| default_library_path(&folder));
        let last = match import_embed_map(&folder, &library, &flag, &sender) {
            Ok(Some(event)) => event,
            Ok(None) => JobEvent::Cancelled,
            Err(message) => JobEvent::Failed(message),
        };
        let _ = sender.send(last);
    })?;
    Ok(Job { events, cancel })
}

/// `Ok(None)`: cancelled.
fn import_embed_map(
    folder: &Path,
    library_path: &Path,
    cancel: &AtomicBool,
    events: &Sender<JobEvent>,
) -> Result<Option<JobEvent>, String> {
    let send = |event| {
        let _ = events.send(event);
    };
    let mut on_import = |event: &ImportEvent| match event {
        ImportEvent::Scanned { to_analyse, .. } => {
            send(JobEvent::Progress { step: Step::Analysing, done: 0, total: *to_analyse })
        }
        ImportEvent::Progress { done, total, path, rejected } => {
            send(JobEvent::Progress { step: Step::Analysing, done: *done, total: *total });
            if let Some(reason) = rejected {
                send(JobEvent::Skipped(format!("skipped {}: {reason}", path.display())));
            }
        }
    };
    let report = import_folder(folder, library_path, &ImportOptions::default(), cancel, &mut on_import)
        .map_err(|e| e.to_string())?;
    if report.cancelled {
        return Ok(None);
    }
    if report.nothing_imported() {
        return Err(format!(
            "{}: nothing could be imported ({} files skipped)",
            folder.display(),
            report.rejected.len()
        ));
    }

    let mut library = load_library(library_path).map_err(|e| e.to_string())?;
    match model_for_new_tracks(&library) {
        ModelForNewTracks::Model(model) => {
            let total = library.tracks.len();
            send(JobEvent::Progress { step: Step::Embedding, done: 0, total });
            let embedded = embed_library(&mut library, library_path, &model, cancel, &|done, total| {
                send(JobEvent::Progress { step: Step::Embedding, done, total })
            })
            .map_err(|e| e.to_string())?;
            if embedded.cancelled {
                return Ok(None);
            }
        }
        ModelForNewTracks::EmbeddingsFromFile(path) => send(JobEvent::Notice(format!(
            "{}: its embeddings were loaded from {}, so new songs are not embedded or mapped until you embed it again",
            library_path.display(),
            path.display()
        ))),
        ModelForNewTracks::NoModel => {
            return Err("the shipped model (models/genre-cnn) is not found, so the songs cannot be embedded".into());
        }
    }

    let mut on_map = |event: ProjectEvent<'_>| match event {
        ProjectEvent::Affinities { points, .. } => {
            send(JobEvent::Progress { step: Step::Mapping, done: 0, total: points })
        }
        ProjectEvent::Iteration { iteration, iterations, .. } => {
            send(JobEvent::Progress { step: Step::Mapping, done: iteration, total: iterations })
        }
    };
    match project_library(&mut library, library_path, false, cancel, &mut on_map) {
        Ok(_) => {}
        Err(_) if cancel.load(Ordering::SeqCst) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    }
    Ok(Some(JobEvent::Finished {
        library: library_path.to_path_buf(),
        tracks: library.tracks.len(),
        skipped: report.rejected.len(),
    }))
}
