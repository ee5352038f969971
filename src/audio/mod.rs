//! Audio analysis: decoding to mono at the analysis rate, and the log-mel spectrogram.
//! Plain Rust with no UI dependency, so the command line, tests and the app share it.

mod classic;
mod decode;
mod descriptors;
mod mel;
pub mod npy;
mod stream;

pub use classic::{CLASSIC_DIMS, ClassicAnalyser, classic_dimension_names, mfcc_statistics};
pub use decode::{
    ANALYSIS_SAMPLE_RATE, AUDIO_EXTENSIONS, CHANNEL_COUNTS, DecodedAudio, MAX_DECODED_FRAMES, SAMPLE_RATES, Span, Tags,
    decode_file, is_audio_path, isolated, panic_is_isolated_here, read_tags, resample,
};
pub use descriptors::{Descriptor, DescriptorAnalyser, Descriptors, SpectralSums, onset_envelope, percentile};
pub use mel::{LogMel, MelExtractor, MelSettings, slaney_mel_filters};
pub use stream::{PcmChunk, PcmStream};

use std::path::Path;

use crate::error::AudioError;

/// Shortest audio an analysis accepts: one model patch is about 3 s.
pub const MIN_ANALYSIS_SECONDS: f64 = 3.0;

/// Longest span of one file that is analysed (taken from its middle).
pub const MAX_ANALYSIS_SECONDS: f64 = 90.0;

/// RMS level (dBFS) under which a file counts as silent.
const SILENCE_RMS_DBFS: f64 = -70.0;

/// A file analysed for the library: its decoded span, log-mel features and descriptors.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub audio: DecodedAudio,
    pub mel: LogMel,
    pub descriptors: Descriptors,
}

/// Decodes the middle of `path` (at most [`MAX_ANALYSIS_SECONDS`]), refuses what cannot serve as
/// music (too short, silent) with the reason, and computes its log-mel features and, from the
/// same spectra, its descriptors.
pub fn analyse_file(path: &Path, extractor: &MelExtractor) -> Result<Analysis, AudioError> {
    let audio = decode_file(path, Span::Middle { max_seconds: MAX_ANALYSIS_SECONDS })?;
    let seconds = audio.seconds();
    if seconds < MIN_ANALYSIS_SECONDS {
        return Err(AudioError::TooShort { path: path.to_path_buf(), seconds, min_seconds: MIN_ANALYSIS_SECONDS });
    }
    let rms_dbfs = rms_dbfs(&audio.samples);
    if rms_dbfs < SILENCE_RMS_DBFS {
        return Err(AudioError::Silent { path: path.to_path_buf(), rms_dbfs });
    }
    let describer = DescriptorAnalyser::new(*extractor.settings());
    let (mel, centroids) = extractor.compute_mapping(&audio.samples, |power| describer.frame_centroid(power));
    let spectra = SpectralSums::of_frames(&centroids);
    let descriptors = describer.describe(&audio.samples, &mel, &spectra);
    Ok(Analysis { audio, mel, descriptors })
}

/// Whether one file's work can be shared with rayon's other threads: there are some, and this is
/// not one of a pool's workers (an import analyses a file per worker, so the others are busy with
/// files of their own). Work split this way gives the same values to the bit as done in one piece.
pub(crate) fn threads_are_free() -> bool {
    rayon::current_thread_index().is_none() && rayon::current_num_threads() > 1
}

/// Root-mean-square level in dB relative to full scale (-inf dB is reported as -200).
pub fn rms_dbfs(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return SILENCE_DBFS;
    }
    let mean_square = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len() as f64;
    mean_square_dbfs(mean_square)
}

/// The level reported for digital silence (-inf dB).
pub const SILENCE_DBFS: f64 = -200.0;

/// A mean square (of samples in ±1) in dB relative to full scale; silence is [`SILENCE_DBFS`].
pub fn mean_square_dbfs(mean_square: f64) -> f64 {
    if mean_square <= 0.0 { SILENCE_DBFS } else { 10.0 * mean_square.log10() }
}

/// A tone with noise of `len` samples (the noise from a seeded generator), for tests that compare
/// two ways of computing one thing.
#[cfg(test)]
pub(crate) fn tone_with_noise(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|i| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            0.4 * (i as f32 * 0.031).sin() + ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
        })
        .collect()
}
