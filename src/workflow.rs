//! The long jobs the window runs: importing a music folder, training a model, embedding with a
//! model or taking embeddings from a file, laying out the map again, opening and copying a
//! library. Each runs on its own thread, reports progress as [`JobEvent`]s, stops at the next safe
//! point when cancelled, and ends by opening the library it made, so the window only swaps it in.
//! The command line runs the same library functions as separate commands.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use crate::explore::Explorer;
use crate::library::{
    FeatureCache, ImportEvent, ImportOptions, Library, adopt_embeddings_file, default_library_path, embeddings_path,
    import_folder, load_library, positions_path, save_library,
};
use crate::model::{
    ClassCounts, DeviceChoice, EpochMetrics, LabelKind, ModelForNewTracks, TrainEvent, TrainOptions, TrainingMetrics,
    choose_device, embed_library, model_for_new_tracks, train_on,
};
use crate::space::{MapSettings, ProjectEvent, project_library};

/// The steps a job goes through; each has its own progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Analysing,
    Training,
    Embedding,
    Mapping,
    Copying,
    Opening,
}

impl Step {
    pub fn label(self) -> &'static str {
        match self {
            Step::Analysing => "analysing the audio",
            Step::Training => "training",
            Step::Embedding => "embedding",
            Step::Mapping => "laying out the map",
            Step::Copying => "copying",
            Step::Opening => "opening",
        }
    }
}

/// What to train: the label the classifier learns, where, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainRequest {
    pub label: LabelKind,
    pub device: DeviceChoice,
    pub epochs: usize,
    pub seed: u64,
    /// Start from random weights rather than fine-tuning the shipped model.
    pub from_scratch: bool,
}

/// A job and what it works on.
#[derive(Debug, Clone, PartialEq)]
pub enum JobKind {
    /// Import a folder into its default library (or `library`), embed it and map it.
    ImportFolder { folder: PathBuf, library: Option<PathBuf> },
    /// Train a model on the library's songs, then embed and map the library with it.
    Train { library: PathBuf, request: TrainRequest },
    /// Embed the library with another model, then map it.
    EmbedWithModel { library: PathBuf, model: PathBuf },
    /// Make an embeddings file made elsewhere the library's embeddings, then map it.
    AdoptEmbeddings { library: PathBuf, file: PathBuf },
    /// Lay the map out again with new settings.
    Remap { library: PathBuf, settings: MapSettings },
    /// Open another library.
    Open { library: PathBuf },
    /// Save a copy of the library (with its vectors, map and features) and open the copy.
    SaveAs { library: PathBuf, to: PathBuf },
}

impl JobKind {
    /// What the jobs panel calls it.
    pub fn title(&self) -> String {
        let name = |p: &Path| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into());
        match self {
            JobKind::ImportFolder { folder, .. } => format!("Importing {}", folder.display()),
            JobKind::Train { request, .. } => format!("Training on {}", request.label.name()),
            JobKind::EmbedWithModel { model, .. } => format!("Embedding with {}", name(model)),
            JobKind::AdoptEmbeddings { file, .. } => format!("Loading embeddings from {}", name(file)),
            JobKind::Remap { .. } => "Laying out the map".into(),
            JobKind::Open { library } => format!("Opening {}", library.display()),
            JobKind::SaveAs { to, .. } => format!("Saving as {}", to.display()),
        }
    }
}

pub enum JobEvent {
    /// `done` of `total` units of `step` (files, batches, tracks or t-SNE iterations; `total` 0
    /// while unknown).
    Progress {
        step: Step,
        done: usize,
        total: usize,
    },
    /// A file that could not be imported, and why.
    Skipped(String),
    /// Something else the user should read that does not stop the job.
    Notice(String),
    /// Training starts: where it runs and the classes it learns.
    TrainingStarted {
        device: String,
        classes: Vec<ClassCounts>,
    },
    /// One training epoch's losses and accuracies.
    Epoch(EpochMetrics),
    /// Training is over: the final scores and the confusion matrix.
    Trained(Box<TrainingMetrics>),
    /// The map as the t-SNE has it now, for the window to show it converging: track ids and their
    /// positions (`n × 3`, row-major, in the order of `ids`). Sent a few times a second at most.
    Layout {
        ids: Arc<Vec<u64>>,
        positions: Vec<f32>,
        iteration: usize,
        iterations: usize,
    },
    /// Done: the library, opened and ready to show, and one line saying what was done.
    Finished {
        explorer: Box<Explorer>,
        summary: String,
    },
    /// Stopped on request; what the user had is as it was (an import keeps what it analysed).
    Cancelled,
    Failed(String),
}

/// A job running on its own thread.
pub struct Job {
    pub kind: JobKind,
    pub events: Receiver<JobEvent>,
    cancel: Arc<AtomicBool>,
}

impl Job {
    /// Asks the job to stop at its next safe point; it answers with [`JobEvent::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

/// Starts a job on its own thread.
pub fn start(kind: JobKind) -> std::io::Result<Job> {
    spawn(kind, run)
}

/// Runs `work` for `kind` on its own thread; its result (or its panic) is the last event.
fn spawn(kind: JobKind, work: fn(&JobKind, &Reporter<'_>) -> Outcome) -> std::io::Result<Job> {
    let (sender, events) = channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let job_kind = kind.clone();
    std::thread::Builder::new().name("songspace job".into()).spawn(move || {
        let reporter = Reporter { events: sender.clone(), cancel: &flag };
        // A panic is this job's failure, reported like any other, never a job that never ends.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&job_kind, &reporter)))
            .unwrap_or_else(|panic| {
                let why = crate::error::panic_message(&*panic);
                Err(format!(
                    "an internal error stopped it ({why}); the library on disk is as the last completed step left it"
                ))
            });
        let last = match outcome {
            Ok(Some(event)) => event,
            Ok(None) => JobEvent::Cancelled,
            Err(_) if flag.load(Ordering::SeqCst) => JobEvent::Cancelled,
            Err(message) => JobEvent::Failed(message),
        };
        let _ = sender.send(last);
    })?;
    Ok(Job { kind, events, cancel })
}

/// Imports `folder` into its default library (or `library` if given), embeds and maps it.
pub fn start_folder_import(folder: PathBuf, library: Option<PathBuf>) -> std::io::Result<Job> {
    start(JobKind::ImportFolder { folder, library })
}

struct Reporter<'a> {
    events: Sender<JobEvent>,
    cancel: &'a AtomicBool,
}

impl Reporter<'_> {
    fn send(&self, event: JobEvent) {
        let _ = self.events.send(event);
    }

    fn progress(&self, step: Step, done: usize, total: usize) {
        self.send(JobEvent::Progress { step, done, total });
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}

/// `Ok(None)`: cancelled. Errors are whole sentences for the user.
type Outcome = Result<Option<JobEvent>, String>;

fn run(kind: &JobKind, report: &Reporter<'_>) -> Outcome {
    match kind {
        JobKind::ImportFolder { folder, library } => {
            let library = library.clone().unwrap_or_else(|| default_library_path(folder));
            import_embed_map(folder, &library, report)
        }
        JobKind::Train { library, request } => train_embed_map(library, request, report),
        JobKind::EmbedWithModel { library, model } => {
            let mut lib = load(library)?;
            let Some(()) = embed(&mut lib, library, model, report)? else { return Ok(None) };
            map_and_open(&mut lib, library, true, report, format!("Embedded with the model {}", model.display()))
        }
        JobKind::AdoptEmbeddings { library, file } => {
            let mut lib = load(library)?;
            report.progress(Step::Opening, 0, 0);
            let imported = adopt_embeddings_file(&mut lib, library, file).map_err(|e| e.to_string())?;
            for remark in imported.remarks() {
                report.send(JobEvent::Notice(format!("{}: {remark}", file.display())));
            }
            let summary = format!(
                "{} embeddings of dimension {} loaded from {}",
                imported.embeddings.len(),
                imported.embeddings.dim,
                file.display()
            );
            map_and_open(&mut lib, library, true, report, summary)
        }
        JobKind::Remap { library, settings } => {
            let mut lib = load(library)?;
            lib.map = settings.clone();
            map_and_open(&mut lib, library, false, report, "The map is laid out with the new settings".into())
        }
        JobKind::Open { library } => {
            // A library imported on the command line may lack embeddings or a current map: the
            // window makes them, as `embed` and `project` would, rather than refuse to open it.
            let mut lib = load(library)?;
            if lib.embeddings.is_none()
                && let ModelForNewTracks::Model(model) = model_for_new_tracks(&lib)
            {
                let Some(()) = embed(&mut lib, library, &model, report)? else { return Ok(None) };
            }
            let summary = format!("Opened {}", library.display());
            if lib.embeddings.is_some() {
                map_and_open(&mut lib, library, false, report, summary)
            } else {
                open(library, report, summary)
            }
        }
        JobKind::SaveAs { library, to } => save_as(library, to, report),
    }
}

fn load(library: &Path) -> Result<Library, String> {
    load_library(library).map_err(|e| e.to_string())
}

fn open(library: &Path, report: &Reporter<'_>, summary: String) -> Outcome {
    report.progress(Step::Opening, 0, 0);
    let explorer = Explorer::open(library).map_err(|e| e.to_string())?;
    if explorer.is_empty() {
        return Err(format!("{}: the map has no songs", library.display()));
    }
    Ok(Some(JobEvent::Finished { explorer: Box::new(explorer), summary }))
}

fn import_embed_map(folder: &Path, library_path: &Path, report: &Reporter<'_>) -> Outcome {
    let Some(skipped) = analyse(folder, library_path, report)? else { return Ok(None) };
    let mut library = load(library_path)?;
    match model_for_new_tracks(&library) {
        ModelForNewTracks::Model(model) => {
            let Some(()) = embed(&mut library, library_path, &model, report)? else { return Ok(None) };
        }
        ModelForNewTracks::EmbeddingsFromFile(path) => report.send(JobEvent::Notice(format!(
            "{}: its embeddings were loaded from {}, so new songs are not embedded or mapped until you embed it again",
            library_path.display(),
            path.display()
        ))),
        ModelForNewTracks::NoModel => {
            return Err("the shipped model (models/genre-cnn) is not found, so the songs cannot be embedded".into());
        }
    }
    let summary = format!(
        "Imported {}: {} songs{}",
        folder.display(),
        library.tracks.len(),
        if skipped > 0 { format!(", {skipped} files skipped (see above)") } else { String::new() }
    );
    map_and_open(&mut library, library_path, false, report, summary)
}

/// Imports (or brings up to date) `folder` into the library; `Some(files skipped)`, `None` when
/// cancelled.
fn analyse(folder: &Path, library_path: &Path, report: &Reporter<'_>) -> Result<Option<usize>, String> {
    let mut on_import = |event: &ImportEvent| match event {
        ImportEvent::Scanned { to_analyse, .. } => report.progress(Step::Analysing, 0, *to_analyse),
        ImportEvent::Progress { done, total, path, rejected } => {
            report.progress(Step::Analysing, *done, *total);
            if let Some(reason) = rejected {
                report.send(JobEvent::Skipped(format!("skipped {}: {reason}", path.display())));
            }
        }
    };
    let imported = import_folder(folder, library_path, &ImportOptions::default(), report.cancel, &mut on_import)
        .map_err(|e| e.to_string())?;
    if imported.cancelled {
        return Ok(None);
    }
    if imported.nothing_imported() {
        return Err(format!(
            "{}: nothing could be imported ({} files skipped)",
            folder.display(),
            imported.rejected.len()
        ));
    }
    Ok(Some(imported.rejected.len()))
}

/// `Some(())` when embedded, `None` when cancelled (the old embeddings are kept).
fn embed(
    library: &mut Library,
    library_path: &Path,
    model: &Path,
    report: &Reporter<'_>,
) -> Result<Option<()>, String> {
    let total = library.tracks.len();
    report.progress(Step::Embedding, 0, total);
    let embedded = embed_library(library, library_path, model, report.cancel, &|done, total| {
        report.progress(Step::Embedding, done, total)
    })
    .map_err(|e| e.to_string())?;
    if embedded.cancelled {
        return Ok(None);
    }
    for failure in embedded.failed.iter().take(20) {
        report.send(JobEvent::Notice(format!("not embedded: {failure}")));
    }
    Ok(Some(()))
}

/// How often the converging map is sent to the window.
const LAYOUT_INTERVAL: Duration = Duration::from_millis(120);
/// The map's t-SNE uses every core (0); the window's frame has its own threads, and the map
/// comes out the same on any number.
const MAP_THREADS: usize = 0;

fn map_and_open(
    library: &mut Library,
    library_path: &Path,
    force: bool,
    report: &Reporter<'_>,
    summary: String,
) -> Outcome {
    let mut last_layout: Option<Instant> = None;
    let mut on_map = |event: ProjectEvent<'_>| match event {
        ProjectEvent::Affinities { points, .. } => report.progress(Step::Mapping, 0, points),
        ProjectEvent::Iteration { iteration, iterations, ids, positions } => {
            report.progress(Step::Mapping, iteration, iterations);
            if last_layout.is_none_or(|at| at.elapsed() >= LAYOUT_INTERVAL) || iteration == iterations {
                last_layout = Some(Instant::now());
                report.send(JobEvent::Layout {
                    ids: Arc::new(ids.to_vec()),
                    positions: positions.to_vec(),
                    iteration,
                    iterations,
                });
            }
        }
    };
    if library.embeddings.is_none() {
        return Err(format!("{}: no embeddings yet, so there is nothing to map", library_path.display()));
    }
    match project_library(library, library_path, force, MAP_THREADS, report.cancel, &mut on_map) {
        Ok(_) => {}
        Err(_) if report.cancelled() => return Ok(None),
        Err(e) => return Err(e.to_string()),
    }
    open(library_path, report, summary)
}

/// Where a model trained in the window goes: a new folder beside the library each time, so the
/// model the library's embeddings came from is never overwritten.
fn new_model_dir(library_path: &Path, label: LabelKind) -> PathBuf {
    let stem = library_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let models = library_path.with_file_name(format!("{stem}.models"));
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut dir = models.join(format!("{}-{stamp}", label.name()));
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = models.join(format!("{}-{stamp}-{n}", label.name()));
    }
    dir
}

fn train_embed_map(library_path: &Path, request: &TrainRequest, report: &Reporter<'_>) -> Outcome {
    let mut library = load(library_path)?;
    // Features may be missing (a copied library such as the demo ships without them): analyse
    // what lacks them first, as an import of the library's own folder would.
    let cache = FeatureCache::for_library(library_path);
    if library.tracks.iter().any(|t| t.features.is_none() || !cache.contains(t.id)) {
        let folder = library.root.clone();
        let Some(_) = analyse(&folder, library_path, report)? else { return Ok(None) };
        library = load(library_path)?;
    }
    let (compute, notice) = choose_device(request.device)?;
    if let Some(notice) = notice {
        report.send(JobEvent::Notice(notice));
    }
    let out_dir = new_model_dir(library_path, request.label);
    let mut options = TrainOptions::new(out_dir.clone());
    options.label = request.label;
    options.epochs = request.epochs;
    options.seed = request.seed;
    if !request.from_scratch {
        match crate::model::fine_tuning_base(&library.mel) {
            Ok(base) => options.fine_tune(base),
            Err(why) => report.send(JobEvent::Notice(format!("training from random weights: {why}"))),
        }
    }
    let device = compute.describe();
    let mut on_train = |event: &TrainEvent| match event {
        TrainEvent::Prepared { classes, dropped, unlabelled, .. } => {
            report.send(JobEvent::TrainingStarted { device: device.clone(), classes: classes.clone() });
            for (label, n) in dropped {
                report.send(JobEvent::Notice(format!(
                    "left out of training: {label:?} has only {n} song(s) (need {})",
                    crate::model::MIN_TRACKS_PER_LABEL
                )));
            }
            if *unlabelled > 0 {
                report.send(JobEvent::Notice(format!(
                    "left out of training: {unlabelled} song(s) without a {}",
                    request.label.name()
                )));
            }
        }
        TrainEvent::Step { epoch, step, steps, .. } => {
            report.progress(Step::Training, (epoch - 1) * steps + step, request.epochs * steps)
        }
        TrainEvent::Epoch(metrics) => report.send(JobEvent::Epoch(metrics.clone())),
        TrainEvent::Evaluating => {}
    };
    let trained = train_on(&compute, &library, library_path, &options, report.cancel, &mut on_train);
    let metrics = match trained {
        Ok(metrics) if !metrics.cancelled => metrics,
        other => {
            // Nothing half-trained is left behind; the library still has its old model.
            let _ = std::fs::remove_dir_all(&out_dir);
            return match other {
                Ok(_) => Ok(None),
                Err(e) => Err(format!("training stopped: {e}")),
            };
        }
    };
    // The checkpoint is only for resuming an interrupted run; this one finished.
    let _ = std::fs::remove_dir_all(out_dir.join("checkpoint"));
    let accuracy = metrics.validation_accuracy.or(metrics.test_accuracy).unwrap_or(metrics.train_accuracy);
    let on_validation = if metrics.validation_accuracy.is_some() { " on validation songs" } else { "" };
    let summary = if request.label == LabelKind::None {
        format!(
            "Learnt from the music itself, without labels ({:.0}% of excerpts found their song's other excerpt{on_validation}); the map is laid out anew",
            accuracy * 100.0
        )
    } else {
        format!(
            "Trained on {} ({} classes, {:.0}% accuracy{on_validation}); the map is laid out anew",
            request.label.name(),
            metrics.labels.len(),
            accuracy * 100.0,
        )
    };
    report.send(JobEvent::Trained(Box::new(metrics)));
    let Some(()) = embed(&mut library, library_path, &out_dir, report)? else { return Ok(None) };
    map_and_open(&mut library, library_path, true, report, summary)
}

/// Writes a copy of the library at `to` (its music stays where it is), with its vectors, map and
/// analysed features, then opens the copy.
fn save_as(library_path: &Path, to: &Path, report: &Reporter<'_>) -> Outcome {
    let library = load(library_path)?;
    let _lock = crate::library::lock_library(to, "saving a copy of a library").map_err(|e| e.to_string())?;
    let same = |a: &Path, b: &Path| a.canonicalize().ok().is_some_and(|a| b.canonicalize().is_ok_and(|b| a == b));
    if same(library_path, to) {
        save_library(&library, to).map_err(|e| e.to_string())?;
        return open(to, report, format!("Saved {}", to.display()));
    }
    let from_cache = FeatureCache::for_library(library_path);
    let to_cache = FeatureCache::for_library(to);
    let with_features: Vec<u64> = library.tracks.iter().filter(|t| from_cache.contains(t.id)).map(|t| t.id).collect();
    if !with_features.is_empty() {
        std::fs::create_dir_all(to_cache.dir()).map_err(|e| format!("{}: {e}", to_cache.dir().display()))?;
    }
    for (done, id) in with_features.iter().enumerate() {
        if report.cancelled() {
            return Ok(None);
        }
        let (from, to_file) = (from_cache.path_for(*id), to_cache.path_for(*id));
        // A hard link costs no space and the files are never changed in place (always replaced
        // by a rename); across file systems, a copy.
        let _ = std::fs::remove_file(&to_file);
        if std::fs::hard_link(&from, &to_file).is_err() {
            copy_atomically(&from, &to_file)?;
        }
        report.progress(Step::Copying, done + 1, with_features.len());
    }
    let companions = [
        (library.embeddings_file(library_path), embeddings_path(to)),
        (library.positions_file(library_path), positions_path(to)),
    ];
    for (from, to_file) in companions {
        if from.is_file() {
            copy_atomically(&from, &to_file)?;
        }
    }
    let mut library = library;
    library.forget_sidecar_names();
    // Last, so that a copy interrupted before this is no library at all.
    save_library(&library, to).map_err(|e| e.to_string())?;
    open(to, report, format!("Saved a copy as {}; it is the library open now", to.display()))
}

/// Streams `from` into a temporary file beside `to`, then renames it (no whole file in memory).
fn copy_atomically(from: &Path, to: &Path) -> Result<(), String> {
    let mut source = std::fs::File::open(from).map_err(|e| format!("{}: {e}", from.display()))?;
    crate::fsutil::write_atomically(to, |out| std::io::copy(&mut source, out).map(drop)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trained_models_never_overwrite_each_other() {
        let dir = tempfile::tempdir().expect("tempdir");
        let library = dir.path().join("songs.ron");
        let first = new_model_dir(&library, LabelKind::Genre);
        std::fs::create_dir_all(&first).expect("mkdir");
        let second = new_model_dir(&library, LabelKind::Genre);
        assert_ne!(first, second);
        assert_eq!(first.parent(), Some(dir.path().join("songs.models").as_path()));
        assert!(first.file_name().is_some_and(|n| n.to_string_lossy().starts_with("genre-")));
    }

    #[test]
    fn a_job_that_panics_ends_as_a_failed_job() {
        fn panicking(_: &JobKind, report: &Reporter<'_>) -> Outcome {
            report.progress(Step::Analysing, 1, 2);
            panic!("a bug in a job");
        }
        let kind = JobKind::Open { library: PathBuf::from("/nowhere/library.ron") };
        let job = spawn(kind, panicking).expect("spawn");
        let events: Vec<JobEvent> = job.events.iter().collect();
        assert_eq!(events.len(), 2, "its progress, then its end");
        assert!(matches!(events.first(), Some(JobEvent::Progress { .. })));
        let Some(JobEvent::Failed(message)) = events.last() else { panic!("the last event is not a failure") };
        assert!(message.contains("internal error") && message.contains("a bug in a job"), "{message}");
    }
}
