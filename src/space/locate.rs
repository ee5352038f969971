//! A new audio file on an existing map: analysed, embedded with the library's model, placed
//! among its neighbours, and (if asked) added to the library.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::map::{Map, MapIndices, embeddings_digest};
use super::neighbours::{Metric, Neighbour};
use super::place::Placement;
use super::{ProjectionInfo, SpaceError};
use crate::audio::{self, Descriptors, MelExtractor, Tags};
use crate::error::{AudioError, FileError, FileProblem};
use crate::library::{
    EmbeddingsInfo, FeatureInfo, FileFingerprint, Library, Track, commit_library, load_embeddings, load_library,
    load_positions,
};
use crate::model::Embedder;

/// Where each millisecond of a placement went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LocateTimings {
    pub decode_and_mel: Duration,
    pub embed: Duration,
    pub place: Duration,
}

impl LocateTimings {
    pub fn total(&self) -> Duration {
        self.decode_and_mel + self.embed + self.place
    }
}

/// A song placed on the map.
#[derive(Debug, Clone)]
pub struct Located {
    pub embedding: Vec<f32>,
    pub placement: Placement,
    /// Its nearest tracks in embedding space (map rows), nearest first.
    pub neighbours: Vec<Neighbour>,
    pub tags: Tags,
    pub duration_seconds: f32,
    pub analysed: FeatureInfo,
    pub descriptors: Descriptors,
    pub timings: LocateTimings,
}

/// A file analysed and embedded, not yet placed: the slow part of locating it, which needs no
/// map (so it can run on another thread while the map is in use).
#[derive(Debug, Clone)]
pub struct Embedded {
    pub embedding: Vec<f32>,
    pub tags: Tags,
    pub duration_seconds: f32,
    pub analysed: FeatureInfo,
    pub descriptors: Descriptors,
    pub decode_and_mel: Duration,
    pub embed: Duration,
}

/// Analyses `path` as import does (same checks, same errors) and embeds it.
pub fn embed_file(path: &Path, embedder: &Embedder, extractor: &MelExtractor) -> Result<Embedded, AudioError> {
    let started = Instant::now();
    let analysis = audio::analyse_file(path, extractor)?;
    let analysed_at = Instant::now();
    let embedding = embedder.embed(&analysis.mel);
    Ok(Embedded {
        analysed: FeatureInfo {
            offset_seconds: analysis.audio.offset_seconds as f32,
            seconds: analysis.audio.seconds() as f32,
            frames: analysis.mel.n_frames as u32,
        },
        duration_seconds: analysis.audio.duration_seconds as f32,
        descriptors: analysis.descriptors,
        tags: analysis.audio.tags,
        embedding,
        decode_and_mel: analysed_at - started,
        embed: analysed_at.elapsed(),
    })
}

/// Places an embedded file on a map (its indices: see [`MapIndices`]) and finds its `k` nearest
/// tracks. Nothing changes.
pub fn place_embedded(embedded: Embedded, map: &MapIndices, metric: Metric, k: usize) -> Located {
    let started = Instant::now();
    let placement = map.place(&embedded.embedding);
    let neighbours = map.neighbours_of_vector(&embedded.embedding, k, metric);
    Located {
        timings: LocateTimings {
            decode_and_mel: embedded.decode_and_mel,
            embed: embedded.embed,
            place: started.elapsed(),
        },
        embedding: embedded.embedding,
        placement,
        neighbours,
        tags: embedded.tags,
        duration_seconds: embedded.duration_seconds,
        analysed: embedded.analysed,
        descriptors: embedded.descriptors,
    }
}

/// Analyses `path` as import does (same checks, same errors), embeds it and places it. Nothing
/// is changed: the map and the library stay as they are.
pub fn locate_file(
    path: &Path,
    map: &Map,
    embedder: &Embedder,
    extractor: &MelExtractor,
    metric: Metric,
    k: usize,
) -> Result<Located, AudioError> {
    Ok(place_embedded(embed_file(path, embedder, extractor)?, map.indices(), metric, k))
}

/// Where a file would be in `library`: its absolute path, and the path a track stores (relative
/// to the library's root when it lies inside it).
pub fn library_paths_of(library: &Library, path: &Path) -> Result<(PathBuf, PathBuf), SpaceError> {
    let absolute = std::path::absolute(path).map_err(|e| FileError::new(path, FileProblem::Io(e)))?;
    let stored = absolute.strip_prefix(&library.root).map(Path::to_path_buf).unwrap_or_else(|_| absolute.clone());
    Ok((absolute, stored))
}

/// The new track a located file becomes in `library`: the next free id, its tags, its file's
/// fingerprint. Nothing changes; a file the library already has is refused.
pub fn track_for_located(library: &Library, path: &Path, located: &Located) -> Result<Track, SpaceError> {
    let (absolute, stored) = library_paths_of(library, path)?;
    if let Some(existing) = library.tracks.iter().find(|t| t.path == stored || t.path == absolute) {
        return Err(SpaceError::AlreadyInLibrary { path: absolute, id: existing.id });
    }
    let id = library.next_id.max(library.tracks.iter().map(|t| t.id + 1).max().unwrap_or(1));
    new_track(absolute, stored, id, located)
}

/// A located file as track `id` (see [`library_paths_of`] for the paths); whoever calls this
/// has checked that the library does not have the file and that the id is free.
pub fn new_track(absolute: PathBuf, stored: PathBuf, id: u64, located: &Located) -> Result<Track, SpaceError> {
    let fingerprint = FileFingerprint::of(&absolute).map_err(|e| FileError::new(&absolute, FileProblem::Io(e)))?;
    let file_stem = absolute.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let tags = &located.tags;
    Ok(Track {
        id,
        path: stored,
        title: tags.title.clone().unwrap_or_else(|| crate::library::title_from_file_name(&file_stem)),
        artist: tags.artist.clone().unwrap_or_default(),
        album: tags.album.clone().unwrap_or_default(),
        genre: tags.genres.first().cloned(),
        genres: tags.genres.clone(),
        duration_seconds: located.duration_seconds,
        split: None,
        fingerprint,
        // Its features are not in the feature cache; the next import of the folder adds them.
        features: None,
        descriptors: Some(located.descriptors),
    })
}

/// Writes a new track into the library's files: its vector, its position, then the library file
/// last, so a library never names a track without them. Each file is read from disk and replaced
/// atomically, so what was written meanwhile is kept.
pub fn save_added_track(
    library_path: &Path,
    track: &Track,
    embedding: &[f32],
    position: [f32; 3],
) -> Result<(), SpaceError> {
    let _lock = crate::library::lock_library(library_path, "adding a song")?;
    let mut library = load_library(library_path)?;
    if library.track(track.id).is_some() {
        return Err(SpaceError::AlreadyInLibrary { path: library.absolute_path(track), id: track.id });
    }
    let mut embeddings = load_embeddings(&library.embeddings_file(library_path))?;
    let mut positions = load_positions(&library.positions_file(library_path))?;
    embeddings.insert(track.id, embedding);
    positions.insert(track.id, &position);

    library.add_track(track.clone());
    if let Some(info) = &mut library.embeddings {
        *info = EmbeddingsInfo { count: embeddings.len(), ..info.clone() };
    }
    // The map now holds the new point: it stays current for the grown embeddings.
    if let Some(ProjectionInfo { embeddings_digest: digest, count, .. }) = &mut library.projection {
        *digest = embeddings_digest(&embeddings);
        *count = embeddings.len();
    }
    commit_library(&mut library, library_path, Some(&embeddings), Some(&positions))?;
    Ok(())
}

/// Adds a located file to the library as a new track, with its embedding and position, in its
/// files and in `library` and `map`. Returns the new track's id.
pub fn add_located_track(
    library: &mut Library,
    library_path: &Path,
    map: &mut Map,
    path: &Path,
    located: &Located,
) -> Result<u64, SpaceError> {
    let track = track_for_located(library, path, located)?;
    let id = track.id;
    save_added_track(library_path, &track, &located.embedding, located.placement.position)?;
    library.add_track(track);
    map.insert(id, &located.embedding, located.placement.position)?;
    Ok(id)
}
