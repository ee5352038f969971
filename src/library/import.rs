//! Importing a music folder into a library: find the audio, read metadata (FMA's CSV files or
//! the files' tags), analyse every new or changed file in parallel, and keep going past bad files.
//!
//! Resumable by construction: every analysed track's features are written at once (atomically,
//! with the source file's fingerprint in their header) and the library is saved every few seconds,
//! so a run that is interrupted or killed loses at most the bookkeeping, which the next run
//! recovers from the feature files without decoding again.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::features::{FeatureSource, read_feature_header, write_features};
use super::fma::{FmaMetadata, FmaTrack, detect_fma_layout, fma_track_id, read_fma_metadata};
use super::store::{load_library, save_library};
use super::{FeatureCache, FeatureInfo, FileFingerprint, Genre, Library, RejectedFile, SourceKind, Track};
use crate::audio::{self, AUDIO_EXTENSIONS, MelExtractor, Tags, is_audio_path};
use crate::error::{AudioError, LibraryError};

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Analysis threads (0: one per core).
    pub threads: usize,
    /// How often the library is saved while a long import runs.
    pub save_every: Duration,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self { threads: 0, save_every: Duration::from_secs(5) }
    }
}

/// Progress of an import, for a progress bar or a jobs panel.
#[derive(Debug, Clone)]
pub enum ImportEvent {
    /// The folder was scanned: `to_analyse` of `found` audio files need work.
    Scanned { found: usize, to_analyse: usize, source: SourceKind },
    /// One file finished (analysed, recovered from the cache, or rejected).
    Progress { done: usize, total: usize, path: PathBuf, rejected: Option<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub path: PathBuf,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub library_path: PathBuf,
    pub source: SourceKind,
    /// Audio files found on disk.
    pub found: usize,
    /// Tracks analysed and added or updated in this run.
    pub imported: usize,
    /// Tracks whose features were recovered from an interrupted run without decoding.
    pub recovered: usize,
    /// Tracks already in the library and unchanged.
    pub unchanged: usize,
    /// Tracks dropped because their file is gone.
    pub removed: usize,
    /// Files that could not be imported, with the reason (known bad files included).
    pub rejected: Vec<Rejection>,
    /// FMA only: tracks listed in tracks.csv whose audio is not on disk.
    pub listed_but_absent: usize,
    pub cancelled: bool,
    /// Tracks in the library after the import.
    pub total_tracks: usize,
}

impl ImportReport {
    /// An import failed when there was audio to import and the library holds none of it.
    pub fn nothing_imported(&self) -> bool {
        self.total_tracks == 0
    }
}

/// One file to import.
struct Job {
    id: u64,
    rel_path: PathBuf,
    abs_path: PathBuf,
    fingerprint: FileFingerprint,
    /// Whether a finished feature file of an interrupted run may stand in for the analysis.
    recover: bool,
}

struct Analysed {
    tags: Tags,
    source: FeatureSource,
    frames: u32,
    /// None when recovered from an interrupted run (the next import measures them).
    descriptors: Option<crate::audio::Descriptors>,
    recovered: bool,
}

/// Imports `dir` into the library at `library_path` (created if absent). `cancel` stops the run
/// between files; whatever finished is saved.
pub fn import_folder(
    dir: &Path,
    library_path: &Path,
    options: &ImportOptions,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&ImportEvent),
) -> Result<ImportReport, LibraryError> {
    if !dir.is_dir() {
        return Err(LibraryError::NotADirectory(dir.to_path_buf()));
    }
    let _lock = super::lock_library(library_path, "importing music")?;
    let root = dir
        .canonicalize()
        .map_err(|e| LibraryError::File(crate::error::FileError::new(dir, crate::error::FileProblem::Io(e))))?;
    let fma = detect_fma_layout(&root);
    let source = if fma.is_some() { SourceKind::Fma } else { SourceKind::Folder };

    let mut library = if library_path.is_file() {
        let existing = load_library(library_path)?;
        if existing.root != root {
            return Err(LibraryError::OtherRoot {
                library: library_path.to_path_buf(),
                existing: existing.root,
                requested: root,
            });
        }
        existing
    } else {
        Library::new(root.clone(), source)
    };
    library.source = source;
    let cache = FeatureCache::for_library(library_path);
    let settings = library.mel;

    let metadata = match &fma {
        Some(layout) => read_fma_metadata(&layout.metadata_dir)?,
        None => FmaMetadata::default(),
    };
    if fma.is_some() {
        merge_fma_genres(&mut library, &metadata);
    }

    // Find the audio on disk.
    let scan_roots = fma.as_ref().map_or_else(|| vec![root.clone()], |l| l.audio_dirs.clone());
    let mut files = Vec::new();
    for scan_root in &scan_roots {
        collect_audio_files(scan_root, &mut files);
    }
    files.sort();
    if files.is_empty() {
        return Err(LibraryError::NoAudio { path: dir.to_path_buf(), exts: AUDIO_EXTENSIONS.join(", ") });
    }

    let mut report = ImportReport {
        library_path: library_path.to_path_buf(),
        source,
        found: files.len(),
        imported: 0,
        recovered: 0,
        unchanged: 0,
        removed: 0,
        rejected: Vec::new(),
        listed_but_absent: 0,
        cancelled: false,
        total_tracks: 0,
    };

    // Reconcile what is on disk with what the library knows.
    let by_path: HashMap<PathBuf, usize> =
        library.tracks.iter().enumerate().map(|(i, t)| (t.path.clone(), i)).collect();
    let known_bad: HashMap<PathBuf, RejectedFile> = library.rejected.drain(..).map(|r| (r.path.clone(), r)).collect();
    let mut jobs = Vec::new();
    let mut keep_tracks = vec![false; library.tracks.len()];
    let mut ids_in_use: HashMap<u64, PathBuf> = HashMap::new();
    let mut rejected_now: Vec<RejectedFile> = Vec::new();

    for abs_path in files {
        let rel_path = abs_path.strip_prefix(&root).unwrap_or(&abs_path).to_path_buf();
        let fingerprint = match FileFingerprint::of(&abs_path) {
            Ok(f) => f,
            Err(e) => {
                report.rejected.push(Rejection { path: rel_path, reason: format!("cannot read: {e}") });
                continue;
            }
        };
        let existing = by_path.get(&rel_path).copied();
        let id = match (source, existing) {
            (SourceKind::Fma, _) => fma_track_id(&abs_path),
            (SourceKind::Folder, Some(i)) => Some(library.tracks[i].id),
            (SourceKind::Folder, None) => None,
        };
        let id = id.unwrap_or_else(|| {
            let id = library.next_id;
            library.next_id += 1;
            id
        });
        if let Some(first) = ids_in_use.get(&id) {
            report.rejected.push(Rejection {
                path: rel_path,
                reason: format!("same track id {id} as {}; skipped", first.display()),
            });
            continue;
        }
        ids_in_use.insert(id, rel_path.clone());
        library.next_id = library.next_id.max(id + 1);

        // A song analysed by an older songspace has no descriptors: it is analysed again (its
        // feature file left from the earlier run must not stand in for that).
        let mut recover = true;
        if let Some(i) = existing {
            let track = &library.tracks[i];
            if track.fingerprint == fingerprint && track.features.is_some() && cache.contains(track.id) {
                if track.descriptors.is_some() {
                    keep_tracks[i] = true;
                    report.unchanged += 1;
                    continue;
                }
                recover = false;
            }
        }
        if let Some(bad) = known_bad.get(&rel_path).filter(|b| b.fingerprint == fingerprint) {
            report.rejected.push(Rejection { path: rel_path, reason: bad.reason.clone() });
            rejected_now.push(bad.clone());
            continue;
        }
        jobs.push(Job { id, rel_path, abs_path, fingerprint, recover });
    }

    // Songs the user added from outside the music folder (a drop, `locate --add`) are not the
    // folder walk's to remove: they stay while their file exists, re-analysed if it changed.
    for (i, track) in library.tracks.iter().enumerate() {
        let abs_path = library.absolute_path(track);
        if keep_tracks[i] || ids_in_use.contains_key(&track.id) || abs_path.starts_with(&root) {
            continue;
        }
        let Ok(fingerprint) = FileFingerprint::of(&abs_path) else { continue };
        ids_in_use.insert(track.id, track.path.clone());
        let analysed = track.fingerprint == fingerprint && track.features.is_some() && cache.contains(track.id);
        if analysed && track.descriptors.is_some() {
            keep_tracks[i] = true;
        } else {
            let recover = !analysed;
            jobs.push(Job { id: track.id, rel_path: track.path.clone(), abs_path, fingerprint, recover });
        }
    }

    // Tracks whose file disappeared (or changed and is re-analysed below) leave the library.
    let mut kept = Vec::with_capacity(library.tracks.len());
    for (track, keep) in library.tracks.drain(..).zip(keep_tracks) {
        if keep {
            kept.push(track);
        } else if !ids_in_use.contains_key(&track.id) {
            cache.remove(track.id);
            report.removed += 1;
        }
    }
    library.tracks = kept;
    library.rejected = rejected_now;
    if source == SourceKind::Fma {
        report.listed_but_absent = metadata.tracks.keys().filter(|id| !ids_in_use.contains_key(id)).count();
    }
    // Metadata may have been corrected in tracks.csv since the last import.
    for track in &mut library.tracks {
        if let Some(meta) = metadata.tracks.get(&track.id) {
            apply_fma_metadata(track, meta);
        }
    }

    on_event(&ImportEvent::Scanned { found: report.found, to_analyse: jobs.len(), source });

    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        options.threads
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("songspace-import-{i}"))
        .build()
        .map_err(|e| {
            LibraryError::File(crate::error::FileError::new(
                dir,
                crate::error::FileProblem::Io(std::io::Error::other(e)),
            ))
        })?;
    let extractor = MelExtractor::new(settings);
    let total = jobs.len();
    let mut last_save = Instant::now();
    let mut save_error = None;

    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<Analysed, AudioError>)>();
        let jobs_ref = &jobs;
        let extractor = &extractor;
        let cache = &cache;
        scope.spawn(move || {
            pool.install(|| {
                jobs_ref.par_iter().enumerate().for_each_with(tx, |tx, (index, job)| {
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    // One file's panic is its own error: the batch goes on and is saved.
                    let result = audio::isolated(&job.abs_path, || analyse_job(job, extractor, cache, &settings));
                    // The receiver only goes away if the main loop panicked.
                    let _ = tx.send((index, result));
                });
            });
        });

        for (finished, (index, result)) in rx.into_iter().enumerate() {
            let job = &jobs[index];
            let done = finished + 1;
            let rejected = match result {
                Ok(analysed) => {
                    if analysed.recovered {
                        report.recovered += 1;
                    } else {
                        report.imported += 1;
                    }
                    let track = make_track(job, &analysed, metadata.tracks.get(&job.id), source);
                    if source == SourceKind::Folder {
                        for g in &track.genres {
                            library.ensure_genre(g);
                        }
                    }
                    library.tracks.push(track);
                    None
                }
                Err(error) => {
                    let reason = error.reason();
                    library.rejected.push(RejectedFile {
                        path: job.rel_path.clone(),
                        fingerprint: job.fingerprint,
                        reason: reason.clone(),
                    });
                    report.rejected.push(Rejection { path: job.rel_path.clone(), reason: reason.clone() });
                    Some(reason)
                }
            };
            on_event(&ImportEvent::Progress { done, total, path: job.rel_path.clone(), rejected });
            if last_save.elapsed() >= options.save_every {
                if let Err(e) = save_library(&library, library_path) {
                    save_error.get_or_insert(e);
                }
                last_save = Instant::now();
            }
        }
    });

    report.cancelled = cancel.load(Ordering::Relaxed);
    report.rejected.sort_by(|a, b| a.path.cmp(&b.path));
    library.tracks.sort_by_key(|t| t.id);
    report.total_tracks = library.tracks.len();
    save_library(&library, library_path)?;
    if let Some(e) = save_error {
        // The final save worked, so an earlier intermediate failure lost nothing; still say so.
        eprintln!("warning: an intermediate save failed ({e}); the final save succeeded");
    }
    Ok(report)
}

fn analyse_job(
    job: &Job,
    extractor: &MelExtractor,
    cache: &FeatureCache,
    settings: &audio::MelSettings,
) -> Result<Analysed, AudioError> {
    let feature_path = cache.path_for(job.id);
    // Finished by a run that was stopped before it saved the library: reuse it.
    if job.recover
        && let Ok(header) = read_feature_header(&feature_path, settings)
        && header.source.fingerprint == job.fingerprint
    {
        let tags = audio::read_tags(&job.abs_path).unwrap_or_default();
        let frames = header.n_frames as u32;
        return Ok(Analysed { tags, source: header.source, frames, descriptors: None, recovered: true });
    }
    let analysis = audio::analyse_file(&job.abs_path, extractor)?;
    let source = FeatureSource {
        fingerprint: job.fingerprint,
        duration_seconds: analysis.audio.duration_seconds as f32,
        offset_seconds: analysis.audio.offset_seconds as f32,
        seconds: analysis.audio.seconds() as f32,
    };
    write_features(&feature_path, &analysis.mel, settings, &source).map_err(|e| AudioError::Undecodable {
        path: job.abs_path.clone(),
        detail: format!("cannot write its features: {e}"),
    })?;
    Ok(Analysed {
        tags: analysis.audio.tags,
        source,
        frames: analysis.mel.n_frames as u32,
        descriptors: Some(analysis.descriptors),
        recovered: false,
    })
}

fn make_track(job: &Job, analysed: &Analysed, fma: Option<&FmaTrack>, source: SourceKind) -> Track {
    let tags = &analysed.tags;
    let file_stem = job.abs_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut track = Track {
        id: job.id,
        path: job.rel_path.clone(),
        title: tags.title.clone().unwrap_or_else(|| title_from_file_name(&file_stem)),
        artist: tags.artist.clone().unwrap_or_default(),
        album: tags.album.clone().unwrap_or_default(),
        genre: tags.genres.first().cloned(),
        genres: tags.genres.clone(),
        duration_seconds: analysed.source.duration_seconds,
        split: None,
        fingerprint: job.fingerprint,
        features: Some(FeatureInfo {
            offset_seconds: analysed.source.offset_seconds,
            seconds: analysed.source.seconds,
            frames: analysed.frames,
        }),
        descriptors: analysed.descriptors,
    };
    if source == SourceKind::Fma
        && let Some(meta) = fma
    {
        apply_fma_metadata(&mut track, meta);
    }
    track
}

/// FMA's metadata wins over tags; empty CSV fields keep what the tags said.
fn apply_fma_metadata(track: &mut Track, meta: &FmaTrack) {
    let set = |field: &mut String, value: &str| {
        if !value.is_empty() {
            *field = value.to_string();
        }
    };
    set(&mut track.title, &meta.title);
    set(&mut track.artist, &meta.artist);
    set(&mut track.album, &meta.album);
    track.genre = meta.genre_top.clone().or_else(|| meta.genres.first().cloned());
    track.genres = meta.genres.clone();
    if let Some(top) = &meta.genre_top
        && !track.genres.contains(top)
    {
        track.genres.insert(0, top.clone());
    }
    track.split = meta.split;
}

fn merge_fma_genres(library: &mut Library, metadata: &FmaMetadata) {
    library.genres =
        metadata.genres.iter().map(|g| Genre { id: g.id, name: g.title.clone(), parent: g.parent }).collect();
}

/// "03 - My_Song" becomes "My Song": the file name is the title of last resort.
pub(crate) fn title_from_file_name(stem: &str) -> String {
    let spaced = stem.replace('_', " ");
    let trimmed = spaced.trim_start_matches(|c: char| c.is_ascii_digit()).trim_start_matches([' ', '-', '.']).trim();
    if trimmed.is_empty() { spaced.trim().to_string() } else { trimmed.to_string() }
}

/// All audio files below `dir`, skipping hidden entries; symbolic links to folders are not
/// followed (they could loop).
fn collect_audio_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = HashSet::new();
    while let Some(current) = stack.pop() {
        if !seen.insert(current.clone()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) if is_audio_path(&path) && path.is_file() => out.push(path),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_from_file_names_drop_track_numbers() {
        assert_eq!(title_from_file_name("03 - My_Song"), "My Song");
        assert_eq!(title_from_file_name("1999"), "1999");
        assert_eq!(title_from_file_name("Intro"), "Intro");
    }
}
