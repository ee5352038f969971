//! The per-track feature cache: log-mel matrices stored as float16 (half the space of float32;
//! a 30 s clip is 330 KB), one file per track, written atomically so an interrupted import
//! leaves only whole files behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::FileFingerprint;
use crate::audio::{LogMel, MelSettings};
use crate::error::{FileError, FileProblem};
use crate::fsutil::write_atomically;

const MAGIC: &[u8; 8] = b"SSMEL\x00\x02\x00";
/// Magic, five u32 (settings and shape), the source fingerprint (two u64) and three f32.
const HEADER_LEN: usize = 8 + 4 * 5 + 8 + 8 + 4 * 3;

/// What a feature file was computed from. Stored in its header, so an import that was killed
/// before saving the library can still recognise finished work and skip decoding it again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureSource {
    pub fingerprint: FileFingerprint,
    pub duration_seconds: f32,
    pub offset_seconds: f32,
    pub seconds: f32,
}

/// The folder of cached features that belongs to one library file.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    dir: PathBuf,
}

impl FeatureCache {
    /// `<library dir>/<library stem>.features/`.
    pub fn for_library(library_path: &Path) -> Self {
        let stem = library_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = library_path.with_file_name(format!("{stem}.features"));
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path_for(&self, track_id: u64) -> PathBuf {
        self.dir.join(format!("{track_id}.mel"))
    }

    pub fn contains(&self, track_id: u64) -> bool {
        self.path_for(track_id).is_file()
    }

    pub fn load(&self, track_id: u64, settings: &MelSettings) -> Result<LogMel, FileError> {
        read_features(&self.path_for(track_id), settings)
    }

    pub fn remove(&self, track_id: u64) {
        // A stale cache entry only wastes space; failing to delete it is not worth reporting.
        let _ = std::fs::remove_file(self.path_for(track_id));
    }
}

pub fn write_features(
    path: &Path,
    mel: &LogMel,
    settings: &MelSettings,
    source: &FeatureSource,
) -> Result<(), FileError> {
    write_atomically(path, |out| {
        out.write_all(MAGIC)?;
        for v in [settings.sample_rate, settings.n_fft as u32, settings.hop_length as u32] {
            out.write_all(&v.to_le_bytes())?;
        }
        out.write_all(&(mel.n_mels as u32).to_le_bytes())?;
        out.write_all(&(mel.n_frames as u32).to_le_bytes())?;
        out.write_all(&source.fingerprint.size.to_le_bytes())?;
        out.write_all(&source.fingerprint.modified_ns.to_le_bytes())?;
        for v in [source.duration_seconds, source.offset_seconds, source.seconds] {
            out.write_all(&v.to_le_bytes())?;
        }
        let mut bytes = Vec::with_capacity(mel.values.len() * 2);
        for &v in &mel.values {
            bytes.extend_from_slice(&half::f16::from_f32(v).to_le_bytes());
        }
        out.write_all(&bytes)
    })
}

/// Reads cached features, checking they were computed with `settings`.
pub fn read_features(path: &Path, settings: &MelSettings) -> Result<LogMel, FileError> {
    let bytes = std::fs::read(path).map_err(|e| FileError::new(path, FileProblem::Io(e)))?;
    let header = parse_header(path, &bytes, settings)?;
    let data = &bytes[HEADER_LEN..];
    let expected = header.n_mels * header.n_frames * 2;
    if data.len() != expected {
        let what = format!("truncated: {} bytes of data, {expected} expected", data.len());
        return Err(FileError::new(path, FileProblem::Format(what)));
    }
    let values = data.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect();
    Ok(LogMel { n_mels: header.n_mels, n_frames: header.n_frames, values })
}

/// The header of a feature file: its shape and what it was computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureHeader {
    pub n_mels: usize,
    pub n_frames: usize,
    pub source: FeatureSource,
}

/// Reads only the header of a complete feature file (the data's length is checked too).
pub fn read_feature_header(path: &Path, settings: &MelSettings) -> Result<FeatureHeader, FileError> {
    use std::io::Read;
    let io = |e| FileError::new(path, FileProblem::Io(e));
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len() as usize;
    let mut bytes = vec![0u8; HEADER_LEN.min(len)];
    file.read_exact(&mut bytes).map_err(io)?;
    let header = parse_header(path, &bytes, settings)?;
    if len != HEADER_LEN + header.n_mels * header.n_frames * 2 {
        return Err(FileError::new(path, FileProblem::Format("truncated feature file".into())));
    }
    Ok(header)
}

fn parse_header(path: &Path, bytes: &[u8], settings: &MelSettings) -> Result<FeatureHeader, FileError> {
    let bad = |what: String| FileError::new(path, FileProblem::Format(what));
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(bad("not a songspace feature file (or one from an older version)".into()));
    }
    let field = |at: usize, n: usize| &bytes[at..at + n];
    let word = |i: usize| u32::from_le_bytes(field(8 + 4 * i, 4).try_into().unwrap_or_default());
    let (sr, n_fft, hop, n_mels, n_frames) =
        (word(0), word(1) as usize, word(2) as usize, word(3) as usize, word(4) as usize);
    if sr != settings.sample_rate || n_fft != settings.n_fft || hop != settings.hop_length || n_mels != settings.n_mels
    {
        return Err(bad(format!(
            "computed with other settings ({sr} Hz, n_fft {n_fft}, hop {hop}, {n_mels} mels; expected {} Hz, n_fft {}, hop {}, {} mels)",
            settings.sample_rate, settings.n_fft, settings.hop_length, settings.n_mels
        )));
    }
    let size = u64::from_le_bytes(field(28, 8).try_into().unwrap_or_default());
    let modified_ns = u64::from_le_bytes(field(36, 8).try_into().unwrap_or_default());
    let float = |at: usize| f32::from_le_bytes(field(at, 4).try_into().unwrap_or_default());
    let source = FeatureSource {
        fingerprint: FileFingerprint { size, modified_ns },
        duration_seconds: float(44),
        offset_seconds: float(48),
        seconds: float(52),
    };
    Ok(FeatureHeader { n_mels, n_frames, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_round_trip_within_half_precision_and_check_settings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = FeatureCache::for_library(&dir.path().join("library.ron"));
        assert!(cache.dir().ends_with("library.features"));
        let settings = MelSettings::default();
        let mel = LogMel { n_mels: 128, n_frames: 3, values: (0..384).map(|i| -100.0 + i as f32 * 0.37).collect() };
        let source = FeatureSource {
            fingerprint: FileFingerprint { size: 1234, modified_ns: 1 << 60 },
            duration_seconds: 200.5,
            offset_seconds: 55.25,
            seconds: 90.0,
        };
        write_features(&cache.path_for(7), &mel, &settings, &source).expect("write");
        let header = read_feature_header(&cache.path_for(7), &settings).expect("header");
        assert_eq!(header.source, source);
        assert_eq!((header.n_mels, header.n_frames), (128, 3));
        let back = cache.load(7, &settings).expect("load");
        assert_eq!((back.n_mels, back.n_frames), (128, 3));
        // float16 keeps about 3 decimal digits: well under 0.1 dB for values up to ±100 dB.
        assert!(back.values.iter().zip(&mel.values).all(|(a, b)| (a - b).abs() < 0.07));
        let other = MelSettings { hop_length: 256, ..settings };
        let err = cache.load(7, &other).expect_err("other settings").to_string();
        assert!(err.contains("7.mel") && err.contains("other settings"), "{err}");
    }
}
