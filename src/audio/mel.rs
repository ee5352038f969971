//! Log-mel spectrogram computed the way librosa does by default, so values match a Python notebook:
//! centred frames with zero padding, periodic Hann window, power 2, Slaney mel scale and
//! normalisation, then `10 * log10(max(S, 1e-10))` with no reference scaling and no clipping.

use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;

use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use super::decode::ANALYSIS_SAMPLE_RATE;

/// Runs of frames a log-mel is cut into when threads are free (see [`MelExtractor::compute_mapping`]).
const LOG_MEL_RUNS: usize = 2;

/// Frames a run gets at least: a run's buffers and FFT scratch cost less than its frames then.
const MIN_FRAMES_PER_RUN: usize = 256;

/// The settings of the analysis. They are saved with every library and (later) model, so that
/// features and weights computed with other settings are recognised as such.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MelSettings {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub hop_length: usize,
    pub n_mels: usize,
}

impl Default for MelSettings {
    fn default() -> Self {
        Self { sample_rate: ANALYSIS_SAMPLE_RATE, n_fft: 2048, hop_length: 512, n_mels: 128 }
    }
}

impl MelSettings {
    /// Checks settings read from a file (a library, a model) before anything is sized or divided
    /// by them: the first value outside its allowed range, named, with the range.
    pub fn check(&self) -> Result<(), String> {
        let within = |field: &str, value: usize, low: usize, high: usize| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(format!("analysis setting {field} is {value}, outside the allowed {low} to {high}"))
            }
        };
        within("sample_rate", self.sample_rate as usize, 8_000, 384_000)?;
        within("n_fft", self.n_fft, 64, 16_384)?;
        if !self.n_fft.is_power_of_two() {
            return Err(format!("analysis setting n_fft is {}, which is not a power of two", self.n_fft));
        }
        within("hop_length", self.hop_length, 1, self.n_fft)?;
        within("n_mels", self.n_mels, 1, (self.n_fft / 2 + 1).min(512))
    }

    /// Number of centred frames librosa produces for `samples` samples.
    pub fn frames_for(&self, samples: usize) -> usize {
        1 + samples / self.hop_length
    }

    pub fn frames_per_second(&self) -> f64 {
        f64::from(self.sample_rate) / self.hop_length as f64
    }
}

/// A log-mel spectrogram in librosa's orientation: `n_mels` rows of `n_frames` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMel {
    pub n_mels: usize,
    pub n_frames: usize,
    pub values: Vec<f32>,
}

impl LogMel {
    pub fn band(&self, mel: usize) -> &[f32] {
        &self.values[mel * self.n_frames..(mel + 1) * self.n_frames]
    }
}

/// The floor librosa's `power_to_db` applies before the logarithm (`amin`).
const POWER_FLOOR: f32 = 1e-10;

/// A reusable log-mel extractor: the FFT plan, window and filter bank are built once.
pub struct MelExtractor {
    settings: MelSettings,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    filters: Vec<FilterGroup>,
}

/// Mel filters summed side by side.
const FILTER_LANES: usize = 8;

/// [`FILTER_LANES`] consecutive triangular mel filters, stored sparsely and interleaved: at step
/// `j` lane `l` adds `power[bins[j][l]] × weights[j][l]`. Summed one filter at a time, every
/// addition waited for the one before it; eight independent sums do not. Each lane adds its own
/// filter's products in the filter's own order, then (for a filter narrower than the group's
/// widest) only products with a zero weight at the filter's last bin, which add +0: every
/// value is the filter-by-filter sum's, to the bit, as long as the power is finite (it is: samples
/// are finite and bounded before any analysis).
struct FilterGroup {
    /// The group's first filter (mel band).
    first_mel: usize,
    /// Filters in the group: [`FILTER_LANES`], fewer in the last group.
    count: usize,
    bins: Vec<[u32; FILTER_LANES]>,
    weights: Vec<[f32; FILTER_LANES]>,
}

impl FilterGroup {
    /// Groups `filters` (full rows of `1 + n_fft/2` weights, zero outside each triangle).
    fn from_rows(rows: &[Vec<f32>]) -> Vec<Self> {
        let sparse: Vec<(usize, &[f32])> = rows
            .iter()
            .map(|row| {
                let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&w| w != 0.0).map_or(first, |l| l + 1);
                (first, &row[first..last])
            })
            .collect();
        sparse
            .chunks(FILTER_LANES)
            .enumerate()
            .map(|(g, filters)| {
                let width = filters.iter().map(|(_, w)| w.len()).max().unwrap_or(0);
                let step = |j: usize| {
                    let mut bins = [0u32; FILTER_LANES];
                    let mut weights = [0f32; FILTER_LANES];
                    for (lane, &(first, w)) in filters.iter().enumerate() {
                        // Past its own end, a filter reads its last bin with weight 0.
                        bins[lane] = (first + j.min(w.len().saturating_sub(1))) as u32;
                        weights[lane] = w.get(j).copied().unwrap_or(0.0);
                    }
                    (bins, weights)
                };
                let (bins, weights) = (0..width).map(step).unzip();
                Self { first_mel: g * FILTER_LANES, count: filters.len(), bins, weights }
            })
            .collect()
    }
}

impl MelExtractor {
    pub fn new(settings: MelSettings) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(settings.n_fft);
        // Periodic Hann window (scipy `get_window('hann', n, fftbins=True)`), as librosa uses.
        let n = settings.n_fft as f64;
        let window = (0..settings.n_fft)
            .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos()) as f32)
            .collect();
        let filters = FilterGroup::from_rows(&slaney_mel_filters(&settings));
        Self { settings, fft, window, filters }
    }

    pub fn settings(&self) -> &MelSettings {
        &self.settings
    }

    /// The log-mel spectrogram of mono `samples` at the settings' sample rate.
    pub fn compute(&self, samples: &[f32]) -> LogMel {
        self.compute_mapping(samples, |_| ()).0
    }

    /// [`Self::compute`], also handing each frame's power spectrum to `visit` (frame index,
    /// `1 + n_fft/2` bins): what else is measured from the spectra costs no second transform.
    pub fn compute_visiting(&self, samples: &[f32], mut visit: impl FnMut(usize, &[f32])) -> LogMel {
        let MelSettings { n_mels, .. } = self.settings;
        let n_frames = self.settings.frames_for(samples.len());
        let mut values = vec![0.0f32; n_mels * n_frames];
        let mut column = vec![0.0f32; n_mels];
        self.for_each_power_frame(samples, |t, power| {
            visit(t, power);
            self.log_mel_of(power, &mut column);
            for (m, &v) in column.iter().enumerate() {
                values[m * n_frames + t] = v;
            }
        });
        LogMel { n_mels, n_frames, values }
    }

    /// [`Self::compute`], also returning `per_frame` of each frame's power spectrum, in frame
    /// order. Frames are independent, so when threads are free the frames are cut into
    /// [`LOG_MEL_RUNS`] runs computed side by side: the same values to the bit.
    pub fn compute_mapping<T: Send>(
        &self,
        samples: &[f32],
        per_frame: impl Fn(&[f32]) -> T + Sync,
    ) -> (LogMel, Vec<T>) {
        let runs =
            if super::threads_are_free() { self.settings.frames_for(samples.len()) / MIN_FRAMES_PER_RUN } else { 1 };
        self.compute_mapping_in(samples, per_frame, runs.clamp(1, LOG_MEL_RUNS))
    }

    fn compute_mapping_in<T: Send>(
        &self,
        samples: &[f32],
        per_frame: impl Fn(&[f32]) -> T + Sync,
        runs: usize,
    ) -> (LogMel, Vec<T>) {
        let MelSettings { n_mels, .. } = self.settings;
        let n_frames = self.settings.frames_for(samples.len());
        let per_run = n_frames.div_ceil(runs.max(1)).max(1);
        // Each run's frames as columns of n_mels values, and what `per_frame` made of them.
        let pieces: Vec<(Vec<f32>, Vec<T>)> = (0..n_frames.div_ceil(per_run))
            .into_par_iter()
            .map(|r| {
                let frames = r * per_run..((r + 1) * per_run).min(n_frames);
                let mut columns = vec![0.0f32; n_mels * frames.len()];
                let mut mapped = Vec::with_capacity(frames.len());
                self.for_each_power_frame_in(samples, frames.clone(), |t, power| {
                    mapped.push(per_frame(power));
                    let at = (t - frames.start) * n_mels;
                    self.log_mel_of(power, &mut columns[at..at + n_mels]);
                });
                (columns, mapped)
            })
            .collect();
        let mut values = vec![0.0f32; n_mels * n_frames];
        let mut all_mapped = Vec::with_capacity(n_frames);
        let mut t0 = 0;
        for (columns, mapped) in pieces {
            for (dt, column) in columns.chunks_exact(n_mels).enumerate() {
                for (m, &v) in column.iter().enumerate() {
                    values[m * n_frames + t0 + dt] = v;
                }
            }
            t0 += mapped.len();
            all_mapped.extend(mapped);
        }
        (LogMel { n_mels, n_frames, values }, all_mapped)
    }

    /// Calls `visit(frame index, power spectrum)` for every centred STFT frame of `samples`, in
    /// order: the framing every analysis of a song shares (the log-mel, the classic descriptors).
    pub fn for_each_power_frame(&self, samples: &[f32], visit: impl FnMut(usize, &[f32])) {
        self.for_each_power_frame_in(samples, 0..self.settings.frames_for(samples.len()), visit);
    }

    /// [`Self::for_each_power_frame`] for the frames in `frames` only.
    fn for_each_power_frame_in(&self, samples: &[f32], frames: Range<usize>, mut visit: impl FnMut(usize, &[f32])) {
        let MelSettings { n_fft, hop_length, .. } = self.settings;
        let pad = n_fft / 2;
        let mut frame = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f32; spectrum.len()];

        for t in frames {
            // Frame t covers padded[t*hop .. t*hop + n_fft]; the padding is zeros (librosa's
            // `pad_mode="constant"`), so copy only the part that overlaps the signal.
            let start = (t * hop_length) as isize - pad as isize;
            let inside = usize::try_from(start).ok().and_then(|s| samples.get(s..s + n_fft));
            if let Some(inside) = inside {
                // Away from the ends (all but a few frames): one pass the compiler vectorises.
                for ((slot, &sample), &weight) in frame.iter_mut().zip(inside).zip(&self.window) {
                    *slot = sample * weight;
                }
            } else {
                for (i, slot) in frame.iter_mut().enumerate() {
                    let idx = start + i as isize;
                    *slot = if idx >= 0 && (idx as usize) < samples.len() {
                        samples[idx as usize] * self.window[i]
                    } else {
                        0.0
                    };
                }
            }
            // The buffers are sized by the plan itself, so this cannot fail.
            if self.fft.process_with_scratch(&mut frame, &mut spectrum, &mut scratch).is_err() {
                unreachable!("FFT buffers come from the plan");
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.re * c.re + c.im * c.im;
            }
            visit(t, &power);
        }
    }

    /// One frame's log-mel values (dB) from its power spectrum; `out` holds `n_mels` values.
    pub fn log_mel_of(&self, power: &[f32], out: &mut [f32]) {
        for group in &self.filters {
            let mut energies = [0f32; FILTER_LANES];
            for (bins, weights) in group.bins.iter().zip(&group.weights) {
                for ((energy, &bin), &weight) in energies.iter_mut().zip(bins).zip(weights) {
                    *energy += power[bin as usize] * weight;
                }
            }
            let slots = &mut out[group.first_mel..group.first_mel + group.count];
            for (slot, energy) in slots.iter_mut().zip(energies) {
                *slot = 10.0 * energy.max(POWER_FLOOR).log10();
            }
        }
    }
}

/// Slaney-scale mel: linear below 1 kHz, logarithmic above (librosa's `htk=False`).
fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= MIN_LOG_HZ { min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep } else { hz / F_SP }
}

fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel { MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp() } else { F_SP * mel }
}

/// The mel filter bank of `librosa.filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2, htk=False,
/// norm="slaney")`: `n_mels` rows of `1 + n_fft/2` weights.
pub fn slaney_mel_filters(settings: &MelSettings) -> Vec<Vec<f32>> {
    let n_bins = 1 + settings.n_fft / 2;
    let sr = f64::from(settings.sample_rate);
    let fft_freqs: Vec<f64> = (0..n_bins).map(|i| i as f64 * sr / settings.n_fft as f64).collect();
    let (min_mel, max_mel) = (hz_to_mel(0.0), hz_to_mel(sr / 2.0));
    let points = settings.n_mels + 2;
    let mel_freqs: Vec<f64> =
        (0..points).map(|i| mel_to_hz(min_mel + (max_mel - min_mel) * i as f64 / (points - 1) as f64)).collect();
    (0..settings.n_mels)
        .map(|m| {
            let (lo, centre, hi) = (mel_freqs[m], mel_freqs[m + 1], mel_freqs[m + 2]);
            // Slaney normalisation: each filter has unit area in Hz.
            let norm = 2.0 / (hi - lo);
            fft_freqs
                .iter()
                .map(|&f| {
                    let rising = (f - lo) / (centre - lo);
                    let falling = (hi - f) / (hi - centre);
                    (rising.min(falling).max(0.0) * norm) as f32
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_mel_computed_in_runs_side_by_side_is_the_same_to_the_bit() {
        let signal = crate::audio::tone_with_noise(22_050 * 9 + 77, 3);
        let extractor = MelExtractor::new(MelSettings::default());
        let mut first_bins = Vec::new();
        let whole = extractor.compute_visiting(&signal, |t, power| first_bins.push((t, power[3].to_bits())));
        for runs in [1, 2, 3, 8] {
            let (mel, mapped) = extractor.compute_mapping_in(&signal, |power| power[3].to_bits(), runs);
            assert_eq!((mel.n_mels, mel.n_frames), (whole.n_mels, whole.n_frames));
            let first_difference = mel.values.iter().zip(&whole.values).position(|(a, b)| a.to_bits() != b.to_bits());
            assert_eq!(first_difference, None, "{runs} runs");
            let in_order: Vec<(usize, u32)> = mapped.into_iter().enumerate().collect();
            assert_eq!(in_order, first_bins, "{runs} runs: each frame's value, in frame order");
        }
    }

    #[test]
    fn settings_from_a_file_are_checked_field_by_field() {
        assert_eq!(MelSettings::default().check(), Ok(()));
        let bad = |change: fn(&mut MelSettings)| {
            let mut s = MelSettings::default();
            change(&mut s);
            s.check().expect_err("out of range")
        };
        assert_eq!(bad(|s| s.hop_length = 0), "analysis setting hop_length is 0, outside the allowed 1 to 2048");
        assert!(bad(|s| s.sample_rate = 0).contains("sample_rate is 0"));
        assert!(bad(|s| s.n_fft = 1000).contains("not a power of two"));
        assert!(bad(|s| s.n_mels = 100_000).contains("n_mels is 100000, outside the allowed 1 to 512"));
    }

    /// A seeded sequence of powers spanning many orders of magnitude, with exact zeros.
    fn powers(count: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let unit = (state >> 40) as f32 / (1u64 << 24) as f32;
                if unit < 0.05 { 0.0 } else { 10f32.powf(unit * 16.0 - 12.0) }
            })
            .collect()
    }

    #[test]
    fn filters_summed_side_by_side_give_each_filters_own_sum_to_the_bit() {
        for settings in [MelSettings::default(), MelSettings { n_mels: 61, n_fft: 1024, ..MelSettings::default() }] {
            let extractor = MelExtractor::new(settings);
            let rows = slaney_mel_filters(&settings);
            let mut out = vec![0f32; settings.n_mels];
            for seed in 0..20 {
                let power = powers(settings.n_fft / 2 + 1, seed);
                extractor.log_mel_of(&power, &mut out);
                for (m, row) in rows.iter().enumerate() {
                    // One filter at a time, in bin order: what the grouped sums must equal.
                    let energy: f32 = row.iter().zip(&power).filter(|(w, _)| **w != 0.0).map(|(w, p)| p * w).sum();
                    let expected = 10.0 * energy.max(POWER_FLOOR).log10();
                    assert_eq!(out[m].to_bits(), expected.to_bits(), "band {m} of {}, seed {seed}", settings.n_mels);
                }
            }
        }
    }

    #[test]
    fn every_frame_is_the_zero_padded_windowed_signal_whichever_path_frames_it() {
        // Frames inside the signal take a vectorised path, the ends a per-sample one: each must
        // be the definition, sample by sample (zeros outside the signal), to the bit.
        let settings = MelSettings::default();
        let extractor = MelExtractor::new(settings);
        let samples: Vec<f32> =
            powers(5 * settings.n_fft + 77, 7).iter().map(|p| (p.max(1e-30).log10() / 3.0).sin()).collect();
        assert!(samples.iter().all(|s| s.is_finite()));
        let (n_fft, hop, pad) = (settings.n_fft, settings.hop_length, settings.n_fft as isize / 2);
        let mut frame = extractor.fft.make_input_vec();
        let mut spectrum = extractor.fft.make_output_vec();
        let mut frames = 0;
        extractor.for_each_power_frame(&samples, |t, power| {
            for (i, slot) in frame.iter_mut().enumerate() {
                let index = (t * hop) as isize - pad + i as isize;
                let sample = usize::try_from(index).ok().and_then(|i| samples.get(i)).copied().unwrap_or(0.0);
                *slot = sample * extractor.window[i];
            }
            extractor.fft.process(&mut frame, &mut spectrum).expect("plan's buffers");
            let expected: Vec<u32> = spectrum.iter().map(|c| (c.re * c.re + c.im * c.im).to_bits()).collect();
            assert_eq!(power.iter().map(|p| p.to_bits()).collect::<Vec<_>>(), expected, "frame {t}");
            frames += 1;
        });
        assert_eq!(frames, settings.frames_for(samples.len()));
        assert!(frames * hop > 2 * n_fft, "frames on both paths");
    }

    #[test]
    fn frame_count_matches_librosa_centred_frames() {
        let s = MelSettings::default();
        assert_eq!(s.frames_for(22_050 * 30), 1292);
        assert_eq!(s.frames_for(0), 1);
        assert_eq!(s.frames_for(511), 1);
        assert_eq!(s.frames_for(512), 2);
    }

    #[test]
    fn mel_scale_round_trips_and_is_linear_below_1khz() {
        for hz in [0.0, 100.0, 999.0, 1000.0, 4000.0, 11_025.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
    }

    #[test]
    fn filter_bank_has_one_peak_per_band_in_ascending_order() {
        let filters = slaney_mel_filters(&MelSettings::default());
        assert_eq!(filters.len(), 128);
        assert!(filters.iter().all(|f| f.len() == 1025));
        let peaks: Vec<usize> = filters
            .iter()
            .map(|f| f.iter().enumerate().fold((0, 0.0f32), |b, (i, &w)| if w > b.1 { (i, w) } else { b }).0)
            .collect();
        assert!(peaks.windows(2).all(|w| w[0] <= w[1]));
        assert!(filters.iter().all(|f| f.iter().all(|&w| w >= 0.0)));
    }

    #[test]
    fn a_tone_lands_in_the_band_containing_its_frequency() {
        let settings = MelSettings::default();
        let sr = settings.sample_rate as f32;
        let samples: Vec<f32> =
            (0..22_050).map(|i| 0.5 * (2.0 * std::f32::consts::PI * 2000.0 * i as f32 / sr).sin()).collect();
        let mel = MelExtractor::new(settings).compute(&samples);
        let t = mel.n_frames / 2;
        let loudest = (0..mel.n_mels).max_by(|&a, &b| mel.band(a)[t].total_cmp(&mel.band(b)[t])).unwrap_or(0);
        let centre_hz = mel_to_hz(hz_to_mel(0.0) + (hz_to_mel(11_025.0)) * (loudest + 1) as f64 / 129.0);
        assert!((centre_hz - 2000.0).abs() < 120.0, "band {loudest} centred at {centre_hz} Hz");
    }

    #[test]
    fn silence_is_floored_at_minus_100_db() {
        let mel = MelExtractor::new(MelSettings::default()).compute(&[0.0; 4096]);
        assert!(mel.values.iter().all(|&v| v == -100.0));
    }
}
