//! Audio descriptors a person can read: tempo, loudness, brightness, onset rate and dynamics,
//! computed from the analysis import already does (the decoded span, its short-time spectra and
//! its log-mel spectrogram), so describing a song costs no second decode.
//!
//! Where librosa has the same measure, the method is librosa's (0.10), so that the figures can
//! be checked against it: tempo is `librosa.feature.tempo` (onset-strength autocorrelation over
//! 8 s windows, weighted by a log-normal prior around 120 BPM), brightness is the mean of
//! `librosa.feature.spectral_centroid`, onsets are `librosa.onset.onset_detect`'s peak picking.

use std::sync::Arc;

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use super::mel::{LogMel, MelSettings};

/// What a song sounds like, in units people know.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Descriptors {
    /// Beats per minute.
    pub tempo_bpm: f32,
    /// RMS level of the analysed span, dB relative to full scale.
    pub loudness_dbfs: f32,
    /// Mean spectral centroid, Hz: where the spectrum's weight lies.
    pub brightness_hz: f32,
    /// Detected note and drum onsets per second: how percussive and busy the song is.
    pub onset_rate: f32,
    /// Spread of the short-time level, dB: the 95th percentile of the frame RMS level minus
    /// its 10th (a steady drone has little, a piece with quiet and loud passages much).
    pub dynamics_db: f32,
}

/// One descriptor, for tables, colour scales and cluster profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Descriptor {
    Tempo,
    Loudness,
    Brightness,
    OnsetRate,
    Dynamics,
}

impl Descriptor {
    pub const ALL: [Descriptor; 5] =
        [Descriptor::Tempo, Descriptor::Loudness, Descriptor::Brightness, Descriptor::OnsetRate, Descriptor::Dynamics];

    /// The key used in JSON and on the command line.
    pub fn key(self) -> &'static str {
        match self {
            Descriptor::Tempo => "tempo",
            Descriptor::Loudness => "loudness",
            Descriptor::Brightness => "brightness",
            Descriptor::OnsetRate => "onset_rate",
            Descriptor::Dynamics => "dynamics",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Descriptor::Tempo => "Tempo",
            Descriptor::Loudness => "Loudness",
            Descriptor::Brightness => "Brightness",
            Descriptor::OnsetRate => "Onsets",
            Descriptor::Dynamics => "Dynamics",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Descriptor::Tempo => "BPM",
            Descriptor::Loudness => "dBFS",
            Descriptor::Brightness => "Hz",
            Descriptor::OnsetRate => "/s",
            Descriptor::Dynamics => "dB",
        }
    }

    /// The words for a song far above and far below the library's typical value.
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Descriptor::Tempo => ("fast", "slow"),
            Descriptor::Loudness => ("loud", "quiet"),
            Descriptor::Brightness => ("bright", "dark"),
            Descriptor::OnsetRate => ("percussive", "smooth"),
            Descriptor::Dynamics => ("dynamic", "even"),
        }
    }

    pub fn of(self, d: &Descriptors) -> f32 {
        match self {
            Descriptor::Tempo => d.tempo_bpm,
            Descriptor::Loudness => d.loudness_dbfs,
            Descriptor::Brightness => d.brightness_hz,
            Descriptor::OnsetRate => d.onset_rate,
            Descriptor::Dynamics => d.dynamics_db,
        }
    }

    /// The value with its unit, as the selection panel shows it.
    pub fn format(self, value: f32) -> String {
        match self {
            Descriptor::Tempo => format!("{value:.0} BPM"),
            Descriptor::Loudness => format!("{value:.1} dBFS"),
            Descriptor::Brightness => format!("{value:.0} Hz"),
            Descriptor::OnsetRate => format!("{value:.1} /s"),
            Descriptor::Dynamics => format!("{value:.1} dB"),
        }
    }
}

/// librosa's `tempo(ac_size=8.0)`: the autocorrelation window in seconds.
const TEMPO_WINDOW_SECONDS: f64 = 8.0;
/// librosa's defaults: the prior's centre and width (in octaves), and the fastest tempo.
const TEMPO_PRIOR_BPM: f64 = 120.0;
const TEMPO_PRIOR_OCTAVES: f64 = 1.0;
const MAX_TEMPO_BPM: f64 = 320.0;
/// The windowed autocorrelations are averaged over every 4th frame instead of every frame:
/// a quarter of the work, and on 39 clips of the development corpus and the demo the same tempo
/// as librosa's (which takes every frame).
const TEMPO_FRAME_STRIDE: usize = 4;
/// `power_to_db(top_db=80)`, which librosa's onset strength starts from.
const ONSET_TOP_DB: f32 = 80.0;
/// librosa's `onset_detect` threshold over the local mean of the normalised envelope.
const ONSET_DELTA: f32 = 0.07;
/// Level given to digital silence in the frame levels.
const FLOOR_DB: f32 = -120.0;

/// Computes descriptors; holds the FFT plans the tempo estimate reuses.
pub struct DescriptorAnalyser {
    settings: MelSettings,
    window_frames: usize,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    hann: Vec<f32>,
    /// Frequency of each STFT bin, Hz.
    bin_hz: Vec<f32>,
}

/// Sums over the short-time spectra of a span, fed frame by frame while the log-mel is made.
#[derive(Debug, Default, Clone)]
pub struct SpectralSums {
    centroid_sum: f64,
    frames: usize,
}

impl SpectralSums {
    /// Adds one frame, with its centroid (`None`: silent).
    pub fn add(&mut self, centroid: Option<f32>) {
        if let Some(centroid) = centroid {
            self.centroid_sum += f64::from(centroid);
        }
        self.frames += 1;
    }

    /// The sums of frames whose centroids are `centroids`, in order.
    pub fn of_frames(centroids: &[Option<f32>]) -> Self {
        let mut sums = Self::default();
        for &centroid in centroids {
            sums.add(centroid);
        }
        sums
    }
}

impl DescriptorAnalyser {
    pub fn new(settings: MelSettings) -> Self {
        let window_frames = ((TEMPO_WINDOW_SECONDS * settings.frames_per_second()).floor() as usize).max(2);
        let mut planner = RealFftPlanner::<f32>::new();
        // Zero-padded to at least twice the window (no circular wrap-around), to a length of
        // only factors 2 and 3, which FFTs are fastest at: 2 × 344 = 688 has the prime factor 43,
        // which makes the transform several times slower; 768 = 3 × 256 is a quarter less work
        // than the next power of two, 1,024.
        let fft_len = smooth_length(2 * window_frames);
        let forward = planner.plan_fft_forward(fft_len);
        let inverse = planner.plan_fft_inverse(fft_len);
        // A periodic Hann window (scipy's `get_window('hann', n, fftbins=True)`).
        let hann = (0..window_frames)
            .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / window_frames as f64).cos()) as f32)
            .collect();
        let bins = settings.n_fft / 2 + 1;
        let bin_hz =
            (0..bins).map(|k| (k as f64 * f64::from(settings.sample_rate) / settings.n_fft as f64) as f32).collect();
        Self { settings, window_frames, forward, inverse, hann, bin_hz }
    }

    /// Adds one short-time power spectrum (`1 + n_fft/2` bins) to `sums`: its spectral centroid
    /// of the magnitudes, as librosa's `spectral_centroid` (a silent frame counts as 0 Hz).
    pub fn add_power_frame(&self, power: &[f32], sums: &mut SpectralSums) {
        sums.add(self.frame_centroid(power));
    }

    /// One frame's spectral centroid in Hz, from its power spectrum; `None` for a silent frame.
    pub fn frame_centroid(&self, power: &[f32]) -> Option<f32> {
        // In f32 with eight running sums, which the compiler keeps in vector registers: a
        // frame's sums lose nothing that matters (1,025 bins); frames are summed in f64.
        const LANES: usize = 8;
        let (mut weighted, mut total) = ([0.0f32; LANES], [0.0f32; LANES]);
        let bins = power.len().min(self.bin_hz.len());
        let (power, hz) = (&power[..bins], &self.bin_hz[..bins]);
        for (p, f) in power.chunks_exact(LANES).zip(hz.chunks_exact(LANES)) {
            for lane in 0..LANES {
                let magnitude = p[lane].max(0.0).sqrt();
                weighted[lane] += magnitude * f[lane];
                total[lane] += magnitude;
            }
        }
        let tail = bins - bins % LANES;
        for (&p, &f) in power[tail..].iter().zip(&hz[tail..]) {
            let magnitude = p.max(0.0).sqrt();
            weighted[0] += magnitude * f;
            total[0] += magnitude;
        }
        let (weighted, total) = (weighted.iter().sum::<f32>(), total.iter().sum::<f32>());
        (total > f32::MIN_POSITIVE).then(|| weighted / total)
    }

    /// The descriptors of a span: its samples (mono, at the analysis rate), its log-mel and the
    /// sums gathered over its spectra.
    pub fn describe(&self, samples: &[f32], mel: &LogMel, spectra: &SpectralSums) -> Descriptors {
        let envelope = onset_envelope(mel, &self.settings);
        let seconds = samples.len() as f64 / f64::from(self.settings.sample_rate);
        let onsets = pick_onsets(&envelope, &self.settings).len();
        let energy = BlockEnergy::of(samples, self.settings.hop_length);
        let levels = energy.frame_levels_db(self.settings.n_fft);
        Descriptors {
            tempo_bpm: self.tempo(&envelope) as f32,
            loudness_dbfs: energy.rms_dbfs().max(FLOOR_DB),
            brightness_hz: if spectra.frames == 0 {
                0.0
            } else {
                (spectra.centroid_sum / spectra.frames as f64) as f32
            },
            onset_rate: if seconds > 0.0 { (onsets as f64 / seconds) as f32 } else { 0.0 },
            dynamics_db: percentile(&levels, 0.95) - percentile(&levels, 0.10),
        }
    }

    /// librosa's global tempo: the mean of the normalised autocorrelations of Hann-windowed
    /// 8 s stretches of the onset envelope, the lag whose score plus the log-normal prior is
    /// highest.
    fn tempo(&self, envelope: &[f32]) -> f64 {
        let win = self.window_frames;
        let n = envelope.len();
        if n == 0 {
            return 0.0;
        }
        // Centred frames: the envelope padded by half a window each side with a linear ramp
        // from 0 (numpy's `linear_ramp`, as librosa pads it).
        let half = win / 2;
        let mut padded = vec![0.0f32; n + 2 * half];
        padded[half..half + n].copy_from_slice(envelope);
        for i in 0..half {
            padded[i] = envelope[0] * i as f32 / half as f32;
            padded[half + n + half - 1 - i] = envelope[n - 1] * i as f32 / half as f32;
        }
        let mut frame = self.forward.make_input_vec();
        let mut spectrum = self.forward.make_output_vec();
        let mut lags = self.inverse.make_output_vec();
        let mut mean = vec![0.0f64; win];
        let mut counted = 0usize;
        for t in (0..n).step_by(TEMPO_FRAME_STRIDE) {
            frame.iter_mut().for_each(|v| *v = 0.0);
            for (i, (slot, w)) in frame.iter_mut().zip(&self.hann).enumerate() {
                *slot = padded.get(t + i).copied().unwrap_or(0.0) * w;
            }
            if self.forward.process(&mut frame, &mut spectrum).is_err() {
                unreachable!("FFT buffers come from the plan");
            }
            for c in spectrum.iter_mut() {
                *c = realfft::num_complex::Complex::new(c.norm_sqr(), 0.0);
            }
            if self.inverse.process(&mut spectrum, &mut lags).is_err() {
                unreachable!("FFT buffers come from the plan");
            }
            // Each stretch normalised by its largest value (lag 0), as librosa's norm=inf; an
            // all-zero stretch stays zero.
            let peak = lags[..win].iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if peak > f32::MIN_POSITIVE {
                for (m, v) in mean.iter_mut().zip(&lags[..win]) {
                    *m += f64::from(v / peak);
                }
            }
            counted += 1;
        }
        let frames_per_minute = 60.0 * self.settings.frames_per_second();
        let mut best = (f64::NEG_INFINITY, 0.0);
        for (lag, &sum) in mean.iter().enumerate().skip(1) {
            let bpm = frames_per_minute / lag as f64;
            if bpm >= MAX_TEMPO_BPM {
                continue;
            }
            let strength = sum / counted.max(1) as f64;
            let prior = -0.5 * ((bpm.log2() - TEMPO_PRIOR_BPM.log2()) / TEMPO_PRIOR_OCTAVES).powi(2);
            let score = (1e6 * strength.max(0.0)).ln_1p() + prior;
            if score > best.0 {
                best = (score, bpm);
            }
        }
        best.1
    }
}

/// The smallest length at least `n` of the form 2^k or 3 × 2^k.
fn smooth_length(n: usize) -> usize {
    let power = n.next_power_of_two();
    let three = (n.div_ceil(3)).next_power_of_two() * 3;
    power.min(three)
}

/// librosa's `onset_strength`: the mean over mel bands of the rise of each band's level (dB,
/// floored 80 dB under the loudest) from one frame to the next, shifted so that it lines up with
/// the centred frames.
pub fn onset_envelope(mel: &LogMel, settings: &MelSettings) -> Vec<f32> {
    let n = mel.n_frames;
    if n == 0 || mel.n_mels == 0 {
        return Vec::new();
    }
    let top = mel.values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let floor = top - ONSET_TOP_DB;
    let mut rise = vec![0.0f32; n.saturating_sub(1)];
    for band in 0..mel.n_mels {
        let values = mel.band(band);
        for (t, slot) in rise.iter_mut().enumerate() {
            *slot += (values[t + 1].max(floor) - values[t].max(floor)).max(0.0);
        }
    }
    // lag 1 plus the half window of the centred frames, as librosa pads.
    let shift = 1 + settings.n_fft / (2 * settings.hop_length);
    let mut envelope = vec![0.0f32; n];
    for (t, &r) in rise.iter().enumerate() {
        if let Some(slot) = envelope.get_mut(t + shift) {
            *slot = r / mel.n_mels as f32;
        }
    }
    envelope
}

/// librosa's `onset_detect` peak picking on the envelope scaled to [0, 1]: a frame that is the
/// largest of the last 30 ms, at least 0.07 above the mean of the 100 ms around it, and not
/// within 30 ms of the previous onset.
fn pick_onsets(envelope: &[f32], settings: &MelSettings) -> Vec<usize> {
    let frames_of = |seconds: f64| (seconds * settings.frames_per_second()).floor() as usize;
    let (pre_max, post_max) = (frames_of(0.03), 1usize);
    let (pre_avg, post_avg) = (frames_of(0.10), frames_of(0.10) + 1);
    let wait = frames_of(0.03);
    let low = envelope.iter().copied().fold(f32::INFINITY, f32::min);
    let high = envelope.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if envelope.is_empty() || high - low <= f32::MIN_POSITIVE {
        return Vec::new();
    }
    let x: Vec<f32> = envelope.iter().map(|v| (v - low) / (high - low)).collect();
    let mut onsets: Vec<usize> = Vec::new();
    for i in 0..x.len() {
        let max_range = i.saturating_sub(pre_max)..(i + post_max).min(x.len());
        if x[max_range].iter().any(|&v| v > x[i]) {
            continue;
        }
        let avg_range = i.saturating_sub(pre_avg)..(i + post_avg).min(x.len());
        let mean = x[avg_range.clone()].iter().sum::<f32>() / avg_range.len() as f32;
        if x[i] < mean + ONSET_DELTA {
            continue;
        }
        if onsets.last().is_none_or(|&last| i > last + wait) {
            onsets.push(i);
        }
    }
    onsets
}

/// The energy (sum of squares) of each hop-long block of a span: one pass over the samples,
/// from which the whole span's level and every centred frame's are sums of a few blocks. (A
/// prefix sum per sample did the same with a 5 MB table per 30 s, and cost more than the tempo.)
struct BlockEnergy {
    /// Energy of samples `[b × hop, (b + 1) × hop)`, the last block possibly shorter.
    blocks: Vec<f64>,
    /// Prefix sums of `blocks`: the energy of the first `b` blocks is `prefix[b]`.
    prefix: Vec<f64>,
    hop: usize,
    samples: usize,
}

impl BlockEnergy {
    fn of(samples: &[f32], hop: usize) -> Self {
        let hop = hop.max(1);
        // Eight running f32 sums per block (kept in vector registers), the block's total in f64:
        // a block of 512 squares loses nothing that matters in f32.
        const LANES: usize = 8;
        let blocks: Vec<f64> = samples
            .chunks(hop)
            .map(|block| {
                let mut lanes = [0.0f32; LANES];
                let whole = block.len() - block.len() % LANES;
                for chunk in block[..whole].chunks_exact(LANES) {
                    for (lane, &s) in lanes.iter_mut().zip(chunk) {
                        *lane += s * s;
                    }
                }
                let tail: f32 = block[whole..].iter().map(|s| s * s).sum();
                lanes.iter().map(|&l| f64::from(l)).sum::<f64>() + f64::from(tail)
            })
            .collect();
        let mut prefix = Vec::with_capacity(blocks.len() + 1);
        prefix.push(0.0);
        let mut running = 0.0;
        for &b in &blocks {
            running += b;
            prefix.push(running);
        }
        Self { blocks, prefix, hop, samples: samples.len() }
    }

    /// The span's RMS level, dBFS (as [`super::rms_dbfs`]).
    fn rms_dbfs(&self) -> f32 {
        if self.samples == 0 {
            return super::SILENCE_DBFS as f32;
        }
        super::mean_square_dbfs(self.prefix[self.blocks.len()] / self.samples as f64) as f32
    }

    /// RMS level of each centred frame of `frame` samples (one per hop), dB relative to full
    /// scale. A frame's edges fall on block edges when half a frame is a whole number of hops
    /// (2,048 and 512, the usual settings); otherwise they are rounded to the nearest block edge.
    fn frame_levels_db(&self, frame: usize) -> Vec<f32> {
        if self.samples == 0 {
            return vec![FLOOR_DB];
        }
        let half_blocks = ((frame / 2) as f64 / self.hop as f64).round() as usize;
        let frames = 1 + self.samples / self.hop;
        let n = self.blocks.len();
        (0..frames)
            .map(|t| {
                let (start, end) = (t.saturating_sub(half_blocks).min(n), (t + half_blocks).min(n));
                let mean_square = (self.prefix[end] - self.prefix[start]) / frame as f64;
                if mean_square > 0.0 { ((10.0 * mean_square.log10()) as f32).max(FLOOR_DB) } else { FLOOR_DB }
            })
            .collect()
    }
}

/// The `q` quantile of `values` by linear interpolation (numpy's default).
pub fn percentile(values: &[f32], q: f64) -> f32 {
    let mut sorted: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(f32::total_cmp);
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (below, above) = (position.floor() as usize, position.ceil() as usize);
    let fraction = (position - below as f64) as f32;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::MelExtractor;

    const SR: f32 = 22_050.0;

    /// Clicks (short decaying noise bursts) every `period` seconds over a quiet tone.
    fn clicks(bpm: f32, seconds: f32) -> Vec<f32> {
        let period = (60.0 / bpm * SR) as usize;
        let mut state = 12_345u32;
        (0..(seconds * SR) as usize)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let since = (i % period) as f32 / SR;
                noise * (-since * 60.0).exp() + 0.05 * (2.0 * std::f32::consts::PI * 220.0 * i as f32 / SR).sin()
            })
            .collect()
    }

    fn describe(samples: &[f32]) -> Descriptors {
        let settings = MelSettings::default();
        let extractor = MelExtractor::new(settings);
        let analyser = DescriptorAnalyser::new(settings);
        let mut sums = SpectralSums::default();
        let mel = extractor.compute_visiting(samples, |_, power| analyser.add_power_frame(power, &mut sums));
        analyser.describe(samples, &mel, &sums)
    }

    #[test]
    fn a_click_track_has_its_tempo_and_one_onset_per_click() {
        for bpm in [90.0f32, 128.0, 150.0] {
            let d = describe(&clicks(bpm, 20.0));
            // librosa's tempo is quantised to whole frame lags: about 2.5 % apart here.
            assert!((d.tempo_bpm / bpm - 1.0).abs() < 0.03, "{bpm} BPM measured as {}", d.tempo_bpm);
            let per_second = bpm / 60.0;
            assert!((d.onset_rate / per_second - 1.0).abs() < 0.1, "{} onsets/s for {per_second}", d.onset_rate);
        }
    }

    #[test]
    fn a_pure_tone_is_as_bright_as_its_frequency_and_as_loud_as_its_rms() {
        for hz in [440.0f32, 3_000.0] {
            // The phase in f64: in f32 it drifts by 0.01 rad after a few seconds, which is noise
            // across the whole spectrum.
            let tone: Vec<f32> = (0..(5.0 * SR) as usize)
                .map(|i| (0.5 * (2.0 * std::f64::consts::PI * f64::from(hz) * i as f64 / f64::from(SR)).sin()) as f32)
                .collect();
            let d = describe(&tone);
            assert!((d.brightness_hz / hz - 1.0).abs() < 0.05, "{hz} Hz tone: centroid {}", d.brightness_hz);
            // 0.5 amplitude: RMS 0.354, -9.03 dBFS.
            assert!((d.loudness_dbfs + 9.03).abs() < 0.05, "{}", d.loudness_dbfs);
            assert!(d.dynamics_db < 1.0, "a steady tone has no dynamics: {}", d.dynamics_db);
            // Its start is an onset, and the edges of the span may give one or two more.
            assert!(d.onset_rate < 1.0, "a steady tone has no onsets but its start: {}", d.onset_rate);
        }
    }

    #[test]
    fn loud_and_quiet_halves_have_dynamics_and_silence_gives_finite_values() {
        let mut swell = clicks(120.0, 10.0);
        for v in &mut swell[..(5.0 * SR) as usize] {
            *v *= 0.01;
        }
        let d = describe(&swell);
        assert!(d.dynamics_db > 30.0, "40 dB apart: {}", d.dynamics_db);
        let silent = describe(&vec![0.0; (4.0 * SR) as usize]);
        for value in
            [silent.tempo_bpm, silent.loudness_dbfs, silent.brightness_hz, silent.onset_rate, silent.dynamics_db]
        {
            assert!(value.is_finite(), "{silent:?}");
        }
        assert_eq!((silent.brightness_hz, silent.onset_rate), (0.0, 0.0));
    }

    #[test]
    fn block_energies_give_the_span_and_frame_levels_a_sample_by_sample_sum_gives() {
        let samples: Vec<f32> =
            (0..10_000).map(|i| ((i as f32 * 0.37).sin() * (1.0 + (i % 97) as f32 / 50.0)) * 0.3).collect();
        let energy = BlockEnergy::of(&samples, 512);
        assert!((f64::from(energy.rms_dbfs()) - crate::audio::rms_dbfs(&samples)).abs() < 1e-4);
        // Each centred frame of 2,048 samples, summed sample by sample.
        let levels = energy.frame_levels_db(2048);
        assert_eq!(levels.len(), 1 + 10_000 / 512);
        for (t, level) in levels.iter().enumerate() {
            let (start, end) = ((t * 512).saturating_sub(1024), (t * 512 + 1024).min(samples.len()));
            let sum: f64 = samples[start..end].iter().map(|&s| f64::from(s) * f64::from(s)).sum();
            let expected = 10.0 * (sum / 2048.0).log10();
            assert!((f64::from(*level) - expected).abs() < 1e-3, "frame {t}: {level} against {expected}");
        }
        assert_eq!(BlockEnergy::of(&[], 512).frame_levels_db(2048), vec![FLOOR_DB]);
    }

    #[test]
    fn autocorrelations_are_padded_to_a_length_of_twos_and_threes() {
        assert_eq!(smooth_length(688), 768);
        assert_eq!(smooth_length(768), 768);
        assert_eq!(smooth_length(769), 1024);
        assert_eq!(smooth_length(1000), 1024);
        assert_eq!(smooth_length(1025), 1536);
        assert_eq!(smooth_length(2), 2);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let values = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&values, 0.0), 1.0);
        assert_eq!(percentile(&values, 1.0), 4.0);
        assert!((percentile(&values, 0.5) - 2.5).abs() < 1e-6);
        assert!((percentile(&values, 0.1) - 1.3).abs() < 1e-6);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
