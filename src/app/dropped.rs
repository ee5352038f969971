//! Dropping audio files onto the window: each is analysed, embedded with the library's model and
//! placed on the map (without moving any other song) on a worker thread, so the window keeps
//! drawing; then added to the map and the library (saved by the library writer; the kd-trees are
//! rebuilt off the frame, see `reindex.rs`), selected, flown to and played. A bad file gets a
//! message naming it, and nothing else changes. Files dropped while a job runs wait for its end:
//! the job may bring another model, map or library.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};

use bevy::prelude::*;
use bevy::window::FileDragAndDrop;

use super::camera::OrbitCamera;
use super::input::select_song;
use super::jobs::{JobNews, Jobs};
use super::saving::LibraryWriter;
use super::state::{ExplorerState, ViewState};
use crate::audio::{MelExtractor, is_audio_path};
use crate::explore::NEIGHBOURS_SHOWN;
use crate::library::{EmbeddingSource, Library};
use crate::model::{Embedder, check_compatible, recorded_model_dir};
use crate::space::{Located, MapIndices, Metric, SpaceError, embed_file, place_embedded, save_added_track};

/// A dropped file, analysed, embedded and placed on the worker (the parts that take time).
type Analysed = (PathBuf, Located);

/// A file to place, with the map's indices as they were when it was dropped (a clone that
/// shares their kd-trees) and the metric its neighbours are found with.
type Request = (PathBuf, MapIndices, Metric);

/// The worker thread that owns the model, and the files it is working on.
#[derive(Resource, Default)]
pub struct DropWorker {
    sender: Option<Sender<Request>>,
    // Behind a mutex only because resources must be `Sync`; one system reads it.
    results: Option<Mutex<Receiver<Result<Analysed, String>>>>,
    /// Files sent to the worker and not yet back.
    pub pending: Vec<PathBuf>,
    /// Files dropped while a job ran, to analyse when it ends.
    pub waiting: Vec<PathBuf>,
}

impl DropWorker {
    /// Nothing dropped is still on its way onto the map.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.waiting.is_empty()
    }

    /// The library (and so maybe its model) changed: a new worker starts on the next file, and
    /// the files the old one had not finished are analysed again.
    pub fn restart(&mut self) {
        let mut waiting = std::mem::take(&mut self.pending);
        waiting.append(&mut self.waiting);
        *self = Self { waiting, ..Self::default() };
    }

    /// Starts the worker on first use: it loads the library's model once, then embeds files as
    /// they come.
    fn submit(
        &mut self,
        library: &Library,
        library_path: &Path,
        map: &MapIndices,
        metric: Metric,
        path: PathBuf,
    ) -> Result<(), String> {
        if self.sender.is_none() {
            let model_dir = match library.embeddings.as_ref().map(|e| &e.source) {
                Some(EmbeddingSource::Model { dir, id }) => recorded_model_dir(dir, id).map_err(|e| e.to_string())?,
                Some(EmbeddingSource::File { path }) => {
                    return Err(format!(
                        "{}: its embeddings were loaded from {}, so there is no model to embed a new song with",
                        library_path.display(),
                        path.display()
                    ));
                }
                None => return Err(SpaceError::NoEmbeddings { path: library_path.to_path_buf() }.to_string()),
            };
            let mel = library.mel;
            let (to_worker, requests) = channel::<Request>();
            let (to_app, results) = channel();
            std::thread::Builder::new()
                .name("songspace drop worker".into())
                .spawn(move || worker(model_dir, mel, requests, to_app))
                .map_err(|e| format!("cannot start the analysis thread: {e}"))?;
            self.sender = Some(to_worker);
            self.results = Some(Mutex::new(results));
        }
        let sender = self.sender.as_ref().ok_or("the analysis thread is not running")?;
        sender.send((path.clone(), map.clone(), metric)).map_err(|_| "the analysis thread stopped".to_string())?;
        self.pending.push(path);
        Ok(())
    }
}

fn worker(
    model_dir: PathBuf,
    mel: crate::audio::MelSettings,
    requests: Receiver<Request>,
    results: Sender<Result<Analysed, String>>,
) {
    let embedder = Embedder::load(&model_dir)
        .map_err(|e| format!("loading the library's model {}: {e}", model_dir.display()))
        .and_then(|embedder| {
            check_compatible(&embedder.info, &model_dir, &mel).map_err(|e| e.to_string())?;
            Ok(embedder)
        });
    let extractor = MelExtractor::new(mel);
    for (path, map, metric) in requests {
        let result = match &embedder {
            Err(e) => Err(format!("{}: {e}", path.display())),
            Ok(embedder) => embed_file(&path, embedder, &extractor)
                .map(|embedded| (path, place_embedded(embedded, &map, metric, NEIGHBOURS_SHOWN)))
                .map_err(|e| e.to_string()),
        };
        if results.send(result).is_err() {
            return;
        }
    }
}

/// A finished job replaced the library (and maybe its model): the worker for the old one goes,
/// and the files it had not finished are analysed again.
pub fn restart_after_jobs(mut news: MessageReader<JobNews>, mut worker: ResMut<DropWorker>) {
    if news.read().any(|item| matches!(item, JobNews::LibraryReplaced)) {
        worker.restart();
    }
}

/// What was dropped, turned into work or a message; files that waited for a job go now.
pub fn receive_drops(
    mut drops: MessageReader<FileDragAndDrop>,
    state: Res<ExplorerState>,
    mut worker: ResMut<DropWorker>,
    mut view: ResMut<ViewState>,
    mut jobs: ResMut<Jobs>,
) {
    for drop in drops.read() {
        let FileDragAndDrop::DroppedFile { path_buf, .. } = drop else { continue };
        if path_buf.is_dir() {
            jobs.offer_folder(path_buf.clone(), &mut view);
        } else {
            submit_path(path_buf, &state, &mut worker, &mut view, &jobs);
        }
    }
    if jobs.running.is_none() && !worker.waiting.is_empty() {
        for path in std::mem::take(&mut worker.waiting) {
            submit_path(&path, &state, &mut worker, &mut view, &jobs);
        }
    }
}

/// Sends a file to be placed (also used by scripted runs), or says why it cannot be.
pub fn submit_path(path: &Path, state: &ExplorerState, worker: &mut DropWorker, view: &mut ViewState, jobs: &Jobs) {
    if !is_audio_path(path) {
        view.notify(format!("{}: not an audio file songspace reads (MP3, OGG, FLAC or WAV)", path.display()));
        return;
    }
    if let Some(job) = &jobs.running {
        view.notify(format!("{} will be placed when \"{}\" ends", path.display(), job.title));
        worker.waiting.push(path.to_path_buf());
        return;
    }
    let explorer = &state.0;
    let map = explorer.map().indices();
    match worker.submit(explorer.library(), explorer.library_path(), map, explorer.metric(), path.to_path_buf()) {
        Ok(()) => view.notify(format!("Analysing {} …", path.display())),
        Err(e) => view.notify(format!("Cannot place {}: {e}", path.display())),
    }
}

/// Places what the worker finished: on the map, in the library (written by the library writer),
/// selected, flown to (and, with the playback plugin, played: it follows the selection).
pub fn place_finished(
    mut worker: ResMut<DropWorker>,
    mut state: ResMut<ExplorerState>,
    mut view: ResMut<ViewState>,
    jobs: Res<Jobs>,
    writer: Res<LibraryWriter>,
    mut cameras: Query<&mut OrbitCamera>,
) {
    let Some(results) = &worker.results else { return };
    let finished: Vec<Result<Analysed, String>> = match results.lock() {
        Ok(receiver) => receiver.try_iter().collect(),
        Err(_) => return,
    };
    for result in finished {
        if !worker.pending.is_empty() {
            worker.pending.remove(0);
        }
        let (path, located) = match result {
            Ok(done) => done,
            Err(e) => {
                view.notify(format!("Not added: {e}"));
                continue;
            }
        };
        if jobs.running.is_some() {
            // A job started meanwhile: place it on what the job leaves, with that model.
            worker.waiting.push(path);
            continue;
        }
        let explorer = &mut state.0;
        let (row, track) = match explorer.add_located(&path, &located) {
            Ok(added) => added,
            Err(SpaceError::AlreadyInLibrary { id, .. }) => {
                // Already there: show it rather than add a twin.
                if let Some(row) = explorer.row_of(id) {
                    select_song(explorer, cameras.single_mut().ok().as_deref_mut(), row, true);
                }
                view.notify(format!("{} is already in the library; selected it", path.display()));
                continue;
            }
            Err(e) => {
                view.notify(format!("Not added: {e}"));
                continue;
            }
        };
        let library_path = explorer.library_path().to_path_buf();
        let (embedding, position) = (located.embedding.clone(), located.placement.position);
        writer.write(move || {
            save_added_track(&library_path, &track, &embedding, position).map_err(|e| {
                format!("{} is on the map but was not saved in {}: {e}", track.title, library_path.display())
            })
        });
        select_song(explorer, cameras.single_mut().ok().as_deref_mut(), row, true);
        view.notify(format!(
            "Placed {} in {:.0} ms (analysis {:.0} ms, model {:.0} ms, placement {:.0} ms)",
            explorer.display_name(row),
            located.timings.total().as_secs_f64() * 1000.0,
            located.timings.decode_and_mel.as_secs_f64() * 1000.0,
            located.timings.embed.as_secs_f64() * 1000.0,
            located.timings.place.as_secs_f64() * 1000.0,
        ));
    }
}
