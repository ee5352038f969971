//! The music library: tracks with their metadata and analysis state, saved as a versioned RON
//! file. Plain Rust with no UI dependency.

mod commit;
mod demo;
mod embeddings;
mod exchange;
mod features;
mod fma;
mod import;
mod listening;
mod lock;
mod map_record;
mod playlist;
mod store;
mod view;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::audio::MelSettings;

pub use commit::commit_library;
pub use demo::{bundled_demo_dir, demo_library_path, is_demo_library, open_demo, open_demo_from};
pub use embeddings::{
    EmbeddingSource, Embeddings, EmbeddingsInfo, embeddings_path, load_embeddings, load_positions, positions_path,
    save_embeddings, save_positions,
};
pub use exchange::{
    ExchangeFormat, ImportedEmbeddings, MAX_VECTORS_FILE_BYTES, NamedVectors, adopt_embeddings_file, export_embeddings,
    projector_metadata_path, read_embeddings_file, read_named_vectors,
};
pub use features::{FeatureCache, FeatureHeader, FeatureSource, read_feature_header, read_features, write_features};
pub use fma::{FmaLayout, FmaMetadata, FmaTrack, detect_fma_layout, read_fma_metadata};
pub(crate) use import::title_from_file_name;
pub use import::{ImportEvent, ImportOptions, ImportReport, Rejection, import_folder};
pub use listening::{
    HISTORY_LIMIT, LISTENING_FORMAT_VERSION, Listening, Play, Playlist, PlaylistError, listening_path, load_listening,
    save_listening, unix_now,
};
pub use lock::{LibraryLock, lock_library, lock_path};
pub use map_record::{MapSettings, ProjectionInfo, ProjectionMethod, TsneInit, TsneSettings};
pub use playlist::{
    PlaylistEntry, ReadPlaylist, SkipReason, Skipped, playlist_entries, playlist_file_name, read_playlist, write_m3u8,
    write_playlist, write_playlist_csv,
};
pub use store::{
    LIBRARY_FORMAT_VERSION, data_dir, default_library_path, installed_data_dir, load_library, resolve_library_path,
    save_library,
};
pub use view::{ColourBy, ColourScheme, FilterSpace, Metric, ViewSettings};

/// A library: the tracks of one music folder, their genres and what has been computed for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Library {
    /// The music folder the tracks' paths are relative to.
    pub root: PathBuf,
    pub source: SourceKind,
    /// The analysis settings the cached features were computed with.
    pub mel: MelSettings,
    /// Every genre known to the library (from FMA's genres.csv, or collected from tags).
    pub genres: Vec<Genre>,
    pub tracks: Vec<Track>,
    /// Files that could not be imported, remembered so an unchanged bad file is not decoded again.
    #[serde(default)]
    pub rejected: Vec<RejectedFile>,
    /// The id the next track without an id of its own (not FMA) gets.
    pub next_id: u64,
    /// What the embeddings beside the library are (the vectors live in `<stem>.embeddings`).
    #[serde(default)]
    pub embeddings: Option<EmbeddingsInfo>,
    /// How the map is computed (t-SNE settings or PCA).
    #[serde(default)]
    pub map: MapSettings,
    /// What the positions beside the library (`<stem>.positions`) were computed from.
    #[serde(default)]
    pub projection: Option<ProjectionInfo>,
    /// Neighbour metric, distance-filter space and colours, once the user has chosen them.
    #[serde(default)]
    pub view: Option<ViewSettings>,
}

/// Where the metadata came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceKind {
    /// The Free Music Archive layout: `NNN/NNNNNN.mp3` plus `fma_metadata/tracks.csv`.
    Fma,
    /// Any folder of audio files, described by their tags.
    Folder,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genre {
    /// FMA's genre id for FMA libraries; a number assigned in order of appearance otherwise.
    pub id: u32,
    pub name: String,
    #[serde(default)]
    pub parent: Option<u32>,
}

/// FMA's `set.split`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Split {
    Training,
    Validation,
    Test,
}

impl Split {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "training" => Some(Self::Training),
            "validation" => Some(Self::Validation),
            "test" => Some(Self::Test),
            _ => None,
        }
    }
}

/// Size and modification time: cheap to read, and changes whenever a file is replaced or edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFingerprint {
    pub size: u64,
    pub modified_ns: u64,
}

impl FileFingerprint {
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Ok(Self { size: meta.len(), modified_ns })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Stable id: FMA's track id for FMA libraries, else assigned once and kept across imports.
    pub id: u64,
    /// Path relative to the library's root.
    pub path: PathBuf,
    pub title: String,
    pub artist: String,
    pub album: String,
    /// The main genre (FMA's `genre_top`, or the first genre tag).
    pub genre: Option<String>,
    /// All genres of the track, the main one included.
    #[serde(default)]
    pub genres: Vec<String>,
    /// Length of the whole file in seconds.
    pub duration_seconds: f32,
    #[serde(default)]
    pub split: Option<Split>,
    pub fingerprint: FileFingerprint,
    /// Set once the log-mel features are in the feature cache.
    #[serde(default)]
    pub features: Option<FeatureInfo>,
    /// Tempo, loudness, brightness, onsets and dynamics, measured in the same analysis; none
    /// for songs analysed by an older songspace (the next import of their folder adds them).
    #[serde(default)]
    pub descriptors: Option<crate::audio::Descriptors>,
}

/// What was analysed of a track: the span's start and length, in seconds, and its frame count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureInfo {
    pub offset_seconds: f32,
    pub seconds: f32,
    pub frames: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedFile {
    pub path: PathBuf,
    pub fingerprint: FileFingerprint,
    pub reason: String,
}

impl Track {
    /// The album a song counts as, for keeping one album on one side of a split: its album
    /// tag, else the folder it lies in (songs of one folder usually come from one release).
    pub fn album_key(&self) -> String {
        if !self.album.trim().is_empty() {
            return format!("album:{}", self.album.trim());
        }
        format!("folder:{}", self.path.parent().map(|p| p.display().to_string()).unwrap_or_default())
    }
}

impl Library {
    pub fn new(root: PathBuf, source: SourceKind) -> Self {
        Self {
            root,
            source,
            mel: MelSettings::default(),
            genres: Vec::new(),
            tracks: Vec::new(),
            rejected: Vec::new(),
            next_id: 1,
            embeddings: None,
            map: MapSettings::default(),
            projection: None,
            view: None,
        }
    }

    pub fn track(&self, id: u64) -> Option<&Track> {
        self.tracks.iter().find(|t| t.id == id)
    }

    pub fn absolute_path(&self, track: &Track) -> PathBuf {
        self.root.join(&track.path)
    }

    /// Number of tracks per main genre, tracks without a genre left out.
    pub fn genre_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for genre in self.tracks.iter().filter_map(|t| t.genre.as_ref()) {
            *counts.entry(genre.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Tracks whose audio file is no longer where the library says.
    pub fn missing_files(&self) -> Vec<&Track> {
        self.tracks.iter().filter(|t| !self.absolute_path(t).is_file()).collect()
    }

    /// Adds a track found after import (a dropped or located file): its genre becomes known, and
    /// its id is never handed out again.
    pub fn add_track(&mut self, track: Track) {
        if let Some(genre) = &track.genre {
            self.ensure_genre(genre);
        }
        self.next_id = self.next_id.max(track.id + 1);
        self.tracks.push(track);
    }

    /// Adds a genre by name if it is new (tag-based libraries), keeping ids unique.
    pub fn ensure_genre(&mut self, name: &str) {
        if self.genres.iter().any(|g| g.name == name) {
            return;
        }
        let id = self.genres.iter().map(|g| g.id).max().map_or(1, |m| m + 1);
        self.genres.push(Genre { id, name: name.to_string(), parent: None });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn songs_without_an_album_tag_count_by_folder() {
        let mut track = Track {
            id: 1,
            path: PathBuf::from("band/record/01.mp3"),
            title: String::new(),
            artist: String::new(),
            album: "  ".into(),
            genre: None,
            genres: vec![],
            duration_seconds: 1.0,
            split: None,
            fingerprint: FileFingerprint { size: 0, modified_ns: 0 },
            features: None,
            descriptors: None,
        };
        assert_eq!(track.album_key(), "folder:band/record");
        track.album = "Record".into();
        assert_eq!(track.album_key(), "album:Record");
    }
}
