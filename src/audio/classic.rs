//! The classic hand-made description of a song: the yardstick a learned embedding has to beat.
//!
//! Per STFT frame (the log-mel's own framing): 20 MFCCs and their deltas, spectral contrast in
//! 7 octave bands, a 12-bin chroma, the zero-crossing rate and 16 coarse log-mel bands; each
//! summarised over time by its mean and standard deviation. These are the features of the
//! genre-recognition literature from Tzanetakis & Cook (2002) on, computed as librosa does by
//! default where librosa has them (MFCC from the Slaney log-mel with an orthonormal DCT-II,
//! deltas over 9 frames, contrast with fmin 200 Hz and quantile 0.02, chroma of the power
//! spectrum normalised per frame by its maximum).

use super::mel::{MelExtractor, MelSettings};

pub const N_MFCC: usize = 20;
/// Six octave bands from 200 Hz, plus everything below the first.
pub const N_CONTRAST: usize = 7;
pub const N_CHROMA: usize = 12;
pub const N_COARSE_BANDS: usize = 16;
/// Values per frame: MFCC, their deltas, contrast, chroma, zero-crossing rate, coarse bands.
const FRAME_DIMS: usize = 2 * N_MFCC + N_CONTRAST + N_CHROMA + 1 + N_COARSE_BANDS;
/// Length of a classic descriptor: the mean and the standard deviation of each frame value.
pub const CLASSIC_DIMS: usize = 2 * FRAME_DIMS;

/// Frames on each side that the deltas look at (librosa's `width=9`).
const DELTA_HALF_WIDTH: usize = 4;
const CONTRAST_FMIN_HZ: f64 = 200.0;
const CONTRAST_QUANTILE: f64 = 0.02;
/// The chroma ignores what lies below C1 (no pitch is heard there).
const CHROMA_FMIN_HZ: f64 = 32.7;
const AMPLITUDE_FLOOR: f32 = 1e-10;

/// Names of the descriptor's dimensions, in order (for reports and JSON).
pub fn classic_dimension_names() -> Vec<String> {
    let mut frame: Vec<String> = Vec::with_capacity(FRAME_DIMS);
    frame.extend((0..N_MFCC).map(|k| format!("mfcc{k}")));
    frame.extend((0..N_MFCC).map(|k| format!("delta_mfcc{k}")));
    frame.extend((0..N_CONTRAST).map(|k| format!("contrast{k}")));
    const PITCHES: [&str; 12] = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
    frame.extend(PITCHES.iter().map(|p| format!("chroma_{p}")));
    frame.push("zcr".into());
    frame.extend((0..N_COARSE_BANDS).map(|k| format!("band{k}")));
    frame.iter().map(|n| format!("{n}_mean")).chain(frame.iter().map(|n| format!("{n}_std"))).collect()
}

/// The MFCCs' means and standard deviations alone (the weak "MFCC-20 mean+std" baseline), taken
/// from a classic descriptor.
pub fn mfcc_statistics(descriptor: &[f32]) -> Vec<f32> {
    descriptor[..N_MFCC].iter().chain(&descriptor[FRAME_DIMS..FRAME_DIMS + N_MFCC]).copied().collect()
}

/// Computes classic descriptors; the FFT plan, filters and bases are built once.
pub struct ClassicAnalyser {
    mel: MelExtractor,
    dct: Vec<[f32; N_MFCC]>,
    /// FFT bin ranges of the contrast bands (half-open).
    contrast_bands: Vec<std::ops::Range<usize>>,
    /// For each FFT bin from `chroma_first_bin`: the two pitch classes it feeds, with weights.
    chroma_weights: Vec<[(usize, f32); 2]>,
    chroma_first_bin: usize,
    n_fft: usize,
    hop: usize,
}

impl ClassicAnalyser {
    pub fn new(settings: MelSettings) -> Self {
        let n_mels = settings.n_mels;
        // Orthonormal DCT-II, transposed: one row of N_MFCC weights per mel band.
        let dct = (0..n_mels)
            .map(|i| {
                let mut row = [0.0f32; N_MFCC];
                for (k, w) in row.iter_mut().enumerate() {
                    let scale = if k == 0 { (1.0 / n_mels as f64).sqrt() } else { (2.0 / n_mels as f64).sqrt() };
                    let angle = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2 * n_mels) as f64;
                    *w = (scale * angle.cos()) as f32;
                }
                row
            })
            .collect();
        let n_bins = 1 + settings.n_fft / 2;
        let hz_per_bin = f64::from(settings.sample_rate) / settings.n_fft as f64;
        let bin_of = |hz: f64| ((hz / hz_per_bin).round() as usize).min(n_bins);
        // Band k spans [200·2^(k-1), 200·2^k] Hz; the first starts at 0, the last runs to Nyquist.
        let contrast_bands = (0..N_CONTRAST)
            .map(|k| {
                let low = if k == 0 { 0 } else { bin_of(CONTRAST_FMIN_HZ * 2f64.powi(k as i32 - 1)) };
                let high = if k + 1 == N_CONTRAST { n_bins } else { bin_of(CONTRAST_FMIN_HZ * 2f64.powi(k as i32)) };
                low..high.max(low + 1).min(n_bins)
            })
            .collect();
        let chroma_first_bin = ((CHROMA_FMIN_HZ / hz_per_bin).ceil() as usize).max(1);
        let chroma_weights = (chroma_first_bin..n_bins)
            .map(|bin| {
                let hz = bin as f64 * hz_per_bin;
                // Semitones above C (MIDI 0 is C at 8.18 Hz), shared linearly between the two
                // nearest pitch classes, and weighted towards the middle octaves as librosa's
                // chroma filters are (a Gaussian over octaves centred near 880 Hz, width 2).
                let semitones = 12.0 * (hz / 440.0).log2() + 69.0;
                let lower = semitones.floor();
                let frac = (semitones - lower) as f32;
                let octaves_from_centre = ((hz / 27.5).log2() - 5.0) / 2.0;
                let weight = (-0.5 * octaves_from_centre * octaves_from_centre).exp() as f32;
                let class = (lower as i64).rem_euclid(12) as usize;
                [(class, weight * (1.0 - frac)), ((class + 1) % 12, weight * frac)]
            })
            .collect();
        Self {
            mel: MelExtractor::new(settings),
            dct,
            contrast_bands,
            chroma_weights,
            chroma_first_bin,
            n_fft: settings.n_fft,
            hop: settings.hop_length,
        }
    }

    /// The classic descriptor ([`CLASSIC_DIMS`] values) of mono `samples` at the settings' rate.
    /// Every value is finite for any finite input, silence included.
    pub fn describe(&self, samples: &[f32]) -> Vec<f32> {
        let n_mels = self.mel.settings().n_mels;
        let n_frames = self.mel.settings().frames_for(samples.len());
        // Frame-major: FRAME_DIMS values per frame, the deltas filled in afterwards.
        let mut frames = vec![0.0f32; n_frames * FRAME_DIMS];
        let mut log_mel = vec![0.0f32; n_mels];
        let mut band = Vec::new();
        let group = n_mels.div_ceil(N_COARSE_BANDS).max(1);
        self.mel.for_each_power_frame(samples, |t, power| {
            let row = &mut frames[t * FRAME_DIMS..(t + 1) * FRAME_DIMS];
            self.mel.log_mel_of(power, &mut log_mel);
            let (mfcc, rest) = row.split_at_mut(N_MFCC);
            for (value, weights) in log_mel.iter().zip(&self.dct) {
                for (c, w) in mfcc.iter_mut().zip(weights) {
                    *c += value * w;
                }
            }
            let rest = &mut rest[N_MFCC..]; // the deltas' place
            let (contrast, rest) = rest.split_at_mut(N_CONTRAST);
            for (slot, bins) in contrast.iter_mut().zip(&self.contrast_bands) {
                band.clear();
                band.extend(power[bins.clone()].iter().map(|p| p.sqrt()));
                band.sort_unstable_by(f32::total_cmp);
                let take = ((CONTRAST_QUANTILE * band.len() as f64).round() as usize).clamp(1, band.len());
                let valley = band[..take].iter().sum::<f32>() / take as f32;
                let peak = band[band.len() - take..].iter().sum::<f32>() / take as f32;
                *slot = 10.0 * (peak.max(AMPLITUDE_FLOOR).log10() - valley.max(AMPLITUDE_FLOOR).log10());
            }
            let (chroma, rest) = rest.split_at_mut(N_CHROMA);
            for (p, pairs) in power[self.chroma_first_bin..].iter().zip(&self.chroma_weights) {
                for &(class, w) in pairs {
                    chroma[class] += p * w;
                }
            }
            let loudest = chroma.iter().copied().fold(0.0f32, f32::max);
            if loudest > 0.0 {
                chroma.iter_mut().for_each(|c| *c /= loudest);
            }
            rest[0] = self.zero_crossing_rate(samples, t);
            for (slot, bands) in rest[1..].iter_mut().zip(log_mel.chunks(group)) {
                *slot = bands.iter().sum::<f32>() / bands.len() as f32;
            }
        });
        add_deltas(&mut frames, n_frames);
        summarise(&frames, n_frames)
    }

    /// Share of sample pairs that change sign in frame `t` (centred like the STFT frames; only
    /// pairs inside the signal count, over the frame's full length, as librosa divides).
    fn zero_crossing_rate(&self, samples: &[f32], t: usize) -> f32 {
        let centre = t * self.hop;
        let start = centre.saturating_sub(self.n_fft / 2).max(1);
        let end = (centre + self.n_fft / 2).min(samples.len());
        if start >= end {
            return 0.0;
        }
        let crossings = samples[start - 1..end].windows(2).filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0)).count();
        crossings as f32 / self.n_fft as f32
    }
}

/// Fills each frame's deltas: the slope of a least-squares line through the MFCCs of the
/// frames within [`DELTA_HALF_WIDTH`] (edges repeat the first and last frame).
fn add_deltas(frames: &mut [f32], n_frames: usize) {
    let norm: f32 = 2.0 * (1..=DELTA_HALF_WIDTH).map(|n| (n * n) as f32).sum::<f32>();
    for t in 0..n_frames {
        for k in 0..N_MFCC {
            let mut slope = 0.0f32;
            for n in 1..=DELTA_HALF_WIDTH {
                let after = frames[(t + n).min(n_frames - 1) * FRAME_DIMS + k];
                let before = frames[t.saturating_sub(n) * FRAME_DIMS + k];
                slope += n as f32 * (after - before);
            }
            frames[t * FRAME_DIMS + N_MFCC + k] = slope / norm;
        }
    }
}

/// Mean of every frame value, then standard deviation of every frame value (f64 sums).
fn summarise(frames: &[f32], n_frames: usize) -> Vec<f32> {
    let mut sum = [0.0f64; FRAME_DIMS];
    let mut sum_sq = [0.0f64; FRAME_DIMS];
    for row in frames.chunks_exact(FRAME_DIMS) {
        for (d, &v) in row.iter().enumerate() {
            sum[d] += f64::from(v);
            sum_sq[d] += f64::from(v) * f64::from(v);
        }
    }
    let n = n_frames.max(1) as f64;
    let means: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let stds = sum_sq.iter().zip(&means).map(|(sq, m)| (sq / n - m * m).max(0.0).sqrt());
    means.iter().map(|&m| m as f32).chain(stds.map(|s| s as f32)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, seconds: f32) -> Vec<f32> {
        let sr = 22_050.0;
        (0..(seconds * sr) as usize).map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / sr).sin()).collect()
    }

    fn value(descriptor: &[f32], name: &str) -> f32 {
        let names = classic_dimension_names();
        descriptor[names.iter().position(|n| n == name).unwrap_or_else(|| panic!("no dimension {name}"))]
    }

    #[test]
    fn names_match_the_length() {
        let names = classic_dimension_names();
        assert_eq!(names.len(), CLASSIC_DIMS);
        let mfcc: Vec<String> = mfcc_statistics(&(0..CLASSIC_DIMS).map(|i| i as f32).collect::<Vec<_>>())
            .iter()
            .map(|&i| names[i as usize].clone())
            .collect();
        assert_eq!((mfcc[0].as_str(), mfcc[19].as_str()), ("mfcc0_mean", "mfcc19_mean"));
        assert_eq!((mfcc[20].as_str(), mfcc[39].as_str()), ("mfcc0_std", "mfcc19_std"));
        assert_eq!(ClassicAnalyser::new(MelSettings::default()).describe(&tone(440.0, 1.0)).len(), CLASSIC_DIMS);
    }

    #[test]
    fn chroma_of_a_pure_a_peaks_at_a_and_zero_crossings_follow_the_pitch() {
        let analyser = ClassicAnalyser::new(MelSettings::default());
        let a = analyser.describe(&tone(440.0, 2.0));
        assert!((value(&a, "chroma_A_mean") - 1.0).abs() < 0.05, "{}", value(&a, "chroma_A_mean"));
        for other in ["C", "D", "E", "F", "G"] {
            assert!(value(&a, &format!("chroma_{other}_mean")) < 0.1, "{other}");
        }
        let e = analyser.describe(&tone(659.26, 2.0));
        assert!(value(&e, "chroma_E_mean") > 0.9);
        // A sine crosses zero twice per period: 880 crossings per second among 22,050 pairs.
        let zcr = value(&a, "zcr_mean");
        assert!((zcr - 880.0 / 22_050.0).abs() < 0.004, "{zcr}");
    }

    #[test]
    fn a_tone_has_more_spectral_contrast_than_noise_and_silence_stays_finite() {
        let analyser = ClassicAnalyser::new(MelSettings::default());
        let mut state = 12_345u64;
        let noise: Vec<f32> = (0..44_100)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
            })
            .collect();
        let tone = analyser.describe(&tone(1000.0, 2.0));
        let noisy = analyser.describe(&noise);
        // 1 kHz lies in the band 800-1600 Hz (band 3): a peak far above the valley.
        assert!(value(&tone, "contrast3_mean") > value(&noisy, "contrast3_mean") + 20.0);
        assert!(value(&noisy, "zcr_mean") > 0.3, "white noise changes sign about half the time");
        let silence = analyser.describe(&[0.0; 22_050]);
        assert!(silence.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn deltas_measure_how_the_mfccs_change() {
        let analyser = ClassicAnalyser::new(MelSettings::default());
        // A steady tone: the MFCCs barely change inside it. A rising sweep: they keep changing.
        let steady = analyser.describe(&tone(500.0, 3.0));
        let sr = 22_050.0f32;
        let sweep: Vec<f32> = (0..(3.0 * sr) as usize)
            .map(|i| {
                let t = i as f32 / sr;
                0.5 * (2.0 * std::f32::consts::PI * (200.0 * t + 600.0 * t * t)).sin()
            })
            .collect();
        let sweeping = analyser.describe(&sweep);
        let spread = |d: &[f32]| (1..N_MFCC).map(|k| value(d, &format!("delta_mfcc{k}_std"))).sum::<f32>();
        assert!(spread(&sweeping) > 2.0 * spread(&steady), "{} vs {}", spread(&sweeping), spread(&steady));
    }
}
