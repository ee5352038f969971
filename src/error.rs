//! Library error types. Every error names the file it is about, so a message alone tells the
//! user what to look at.

use std::path::{Path, PathBuf};

/// The text a panic was raised with (`panic!("...")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown failure".into())
}

/// Why a file could not be decoded or analysed. One line each, starting with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{}: cannot open: {source}", path.display())]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{}: empty file (0 bytes)", path.display())]
    Empty { path: PathBuf },
    #[error("{}: not a recognised audio file (supported: MP3, OGG/Vorbis, FLAC, WAV)", path.display())]
    UnknownFormat { path: PathBuf },
    #[error("{}: unsupported codec ({codec})", path.display())]
    UnsupportedCodec { path: PathBuf, codec: String },
    #[error("{}: cannot decode: {detail}", path.display())]
    Undecodable { path: PathBuf, detail: String },
    #[error("{}: too short ({seconds:.1} s of audio; at least {min_seconds:.0} s needed)", path.display())]
    TooShort { path: PathBuf, seconds: f64, min_seconds: f64 },
    #[error("{}: silent (RMS level {} dBFS)", path.display(), if *rms_dbfs <= -200.0 { "-inf".to_string() } else { format!("{rms_dbfs:.0}") })]
    Silent { path: PathBuf, rms_dbfs: f64 },
    /// A value the file states about itself that cannot be true of real audio.
    #[error("{}: the header's {field} is {value}, outside the allowed {allowed}", path.display())]
    BadHeader { path: PathBuf, field: &'static str, value: String, allowed: String },
    #[error("{}: longer than one decode keeps ({limit_minutes:.1} minutes at its {rate} Hz)", path.display())]
    TooLong { path: PathBuf, limit_minutes: f64, rate: u32 },
    #[error("{}: holds samples that are not numbers (NaN or infinite)", path.display())]
    NotFinite { path: PathBuf },
    /// Decoded samples far beyond full scale: a float file of garbage, not audio (and values
    /// that would overflow the resampler's FFT to infinity).
    #[error("{}: holds samples of magnitude {peak:e}, beyond the allowed ±{limit} (full scale is ±1)", path.display())]
    OutOfRange { path: PathBuf, peak: f32, limit: f32 },
}

impl AudioError {
    /// The reason without the path, for tables that already show the file.
    pub fn reason(&self) -> String {
        let full = self.to_string();
        let path = match self {
            Self::Open { path, .. }
            | Self::Empty { path }
            | Self::UnknownFormat { path }
            | Self::UnsupportedCodec { path, .. }
            | Self::Undecodable { path, .. }
            | Self::TooShort { path, .. }
            | Self::Silent { path, .. }
            | Self::BadHeader { path, .. }
            | Self::TooLong { path, .. }
            | Self::NotFinite { path }
            | Self::OutOfRange { path, .. } => path,
        };
        full.strip_prefix(&format!("{}: ", path.display())).map_or(full.clone(), str::to_string)
    }
}

/// What went wrong with a file songspace reads or writes (a library, a feature cache, metadata).
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct FileError {
    pub path: PathBuf,
    pub problem: FileProblem,
}

impl FileError {
    pub fn new(path: &Path, problem: FileProblem) -> Self {
        Self { path: path.to_path_buf(), problem }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FileProblem {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Format(String),
    #[error("written by a newer songspace (format version {found}; this build reads up to {supported})")]
    TooNew { found: u32, supported: u32 },
    #[error("being changed right now by: {0}; try again when that is done")]
    Busy(String),
}

/// Errors of library operations (import, load, save).
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{}: not a folder", .0.display())]
    NotADirectory(PathBuf),
    #[error("{}: no audio files found (looked for {exts})", path.display())]
    NoAudio { path: PathBuf, exts: String },
    #[error(
        "{}: this library was imported from {} , not {}; choose another --library",
        library.display(), existing.display(), requested.display()
    )]
    OtherRoot { library: PathBuf, existing: PathBuf, requested: PathBuf },
    #[error("{}: no library here (run `songspace import <MUSIC_FOLDER>` first)", .0.display())]
    NotFound(PathBuf),
}

/// Why a model could not be loaded, saved or used with a library.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{}: no model here (expected model.json and the weights file it names, model.mpk in older models)", .0.display())]
    Missing(PathBuf),
    #[error("{}: {problem}", path.display())]
    Corrupt { path: PathBuf, problem: String },
    #[error("{}: {what}", path.display())]
    Mismatch { path: PathBuf, what: String },
    #[error(transparent)]
    File(#[from] FileError),
}

/// Why training could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Data(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error("training diverged at epoch {epoch} (loss is {loss}); try a lower learning rate")]
    Diverged { epoch: usize, loss: f32 },
}
