//! Turning cached log-mel features into network inputs: normalisation, patches, augmentation.

use serde::{Deserialize, Serialize};

use crate::audio::LogMel;

/// The value silence has in the features (librosa's -100 dB floor); pads short tracks.
const SILENCE_DB: f32 = -100.0;

/// Most patches one track contributes to its embedding, so a 10-minute file costs like a short one.
pub const MAX_PATCHES_PER_TRACK: usize = 16;

/// A small, fast, seedable generator (SplitMix64): training draws are reproducible across
/// platforms and crate updates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Per-band mean and standard deviation of the training features, saved with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normaliser {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normaliser {
    /// Statistics over every frame of `mels` (accumulated in f64).
    pub fn fit<'a>(mels: impl IntoIterator<Item = &'a LogMel>, n_mels: usize) -> Self {
        let mut sum = vec![0.0f64; n_mels];
        let mut sum_sq = vec![0.0f64; n_mels];
        let mut count = 0usize;
        for mel in mels {
            for m in 0..n_mels {
                for &v in mel.band(m) {
                    sum[m] += f64::from(v);
                    sum_sq[m] += f64::from(v) * f64::from(v);
                }
            }
            count += mel.n_frames;
        }
        let n = count.max(1) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let std = sum_sq
            .iter()
            .zip(&mean)
            .map(|(sq, &m)| ((sq / n - f64::from(m) * f64::from(m)).max(0.0).sqrt() as f32).max(1e-3))
            .collect();
        Self { mean, std }
    }

    /// Normalises a patch laid out as `n_mels` rows of `frames` values, in place.
    pub fn apply(&self, patch: &mut [f32], frames: usize) {
        for (m, row) in patch.chunks_exact_mut(frames).enumerate() {
            let (mean, std) = (self.mean[m], self.std[m]);
            for v in row {
                *v = (*v - mean) / std;
            }
        }
    }
}

/// Copies `frames` frames starting at `start` into `out` (rows of `frames`), padding with silence
/// past the end of a short track.
pub fn copy_patch(mel: &LogMel, start: usize, frames: usize, out: &mut [f32]) {
    for m in 0..mel.n_mels {
        let band = mel.band(m);
        let row = &mut out[m * frames..(m + 1) * frames];
        for (i, slot) in row.iter_mut().enumerate() {
            *slot = band.get(start + i).copied().unwrap_or(SILENCE_DB);
        }
    }
}

/// Where the patches that describe a whole track start: evenly spread, half-overlapping, at most
/// [`MAX_PATCHES_PER_TRACK`].
pub fn patch_starts(n_frames: usize, patch_frames: usize) -> Vec<usize> {
    if n_frames <= patch_frames {
        return vec![0];
    }
    let span = n_frames - patch_frames;
    let wanted = (span.div_ceil(patch_frames / 2) + 1).min(MAX_PATCHES_PER_TRACK);
    if wanted == 1 {
        return vec![span / 2];
    }
    (0..wanted).map(|i| i * span / (wanted - 1)).collect()
}

/// All patches of a track, normalised, concatenated: `[patches, n_mels, patch_frames]`.
pub fn track_patches(mel: &LogMel, patch_frames: usize, normaliser: &Normaliser) -> (usize, Vec<f32>) {
    let starts = patch_starts(mel.n_frames, patch_frames);
    let size = mel.n_mels * patch_frames;
    let mut data = vec![0.0f32; starts.len() * size];
    for (chunk, &start) in data.chunks_exact_mut(size).zip(&starts) {
        copy_patch(mel, start, patch_frames, chunk);
        normaliser.apply(chunk, patch_frames);
    }
    (starts.len(), data)
}

/// Training-time augmentation that respects audio: a random excerpt, a small gain change
/// (a constant in dB), and sometimes a mix with another excerpt of the same track (summed in the
/// power domain, as two sounds add).
pub fn augmented_patch(mel: &LogMel, patch_frames: usize, rng: &mut Prng, out: &mut [f32]) {
    let max_start = mel.n_frames.saturating_sub(patch_frames);
    copy_patch(mel, rng.below(max_start + 1), patch_frames, out);
    if rng.unit() < 0.3 {
        let mut other = vec![0.0f32; out.len()];
        copy_patch(mel, rng.below(max_start + 1), patch_frames, &mut other);
        let weight = 0.3 + 0.4 * rng.unit();
        for (a, b) in out.iter_mut().zip(&other) {
            let power = (1.0 - weight) * 10f32.powf(*a / 10.0) + weight * 10f32.powf(*b / 10.0);
            *a = 10.0 * power.max(1e-10).log10();
        }
    }
    let gain_db = (rng.unit() - 0.5) * 12.0;
    for v in out.iter_mut() {
        *v = (*v + gain_db).max(SILENCE_DB);
    }
}

/// Masks one random band of mel bins and one random stretch of time in a normalised patch
/// (SpecAugment, Park et al. 2019): each up to an eighth of the patch, set to the mean (0). Two
/// views of a song then differ in what they hide, and the network must recognise the song from
/// what is left.
pub fn mask_patch(patch: &mut [f32], n_mels: usize, frames: usize, rng: &mut Prng) {
    let bands = rng.below(n_mels / 8 + 1);
    let first_band = rng.below(n_mels - bands + 1);
    for row in patch.chunks_exact_mut(frames).skip(first_band).take(bands) {
        row.fill(0.0);
    }
    let steps = rng.below(frames / 8 + 1);
    let first_step = rng.below(frames - steps + 1);
    for row in patch.chunks_exact_mut(frames) {
        row[first_step..first_step + steps].fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_starts_cover_the_track_and_stay_bounded() {
        assert_eq!(patch_starts(100, 128), vec![0]);
        assert_eq!(patch_starts(128, 128), vec![0]);
        let starts = patch_starts(1292, 128);
        assert_eq!(*starts.first().expect("first"), 0);
        assert_eq!(*starts.last().expect("last"), 1292 - 128);
        assert_eq!(starts.len(), 16);
        assert_eq!(patch_starts(200, 128), vec![0, 36, 72]);
        assert!(patch_starts(100_000, 128).len() <= MAX_PATCHES_PER_TRACK);
    }

    #[test]
    fn masking_hides_at_most_an_eighth_of_bands_and_frames() {
        let (n_mels, frames) = (64, 128);
        let mut rng = Prng::new(3);
        let mut hid_something = false;
        for _ in 0..200 {
            let mut patch = vec![1.0f32; n_mels * frames];
            mask_patch(&mut patch, n_mels, frames, &mut rng);
            let full_rows = patch.chunks(frames).filter(|r| r.iter().all(|v| *v == 0.0)).count();
            let zero_columns = (0..frames).filter(|&t| (0..n_mels).all(|m| patch[m * frames + t] == 0.0)).count();
            assert!(full_rows <= n_mels / 8 && zero_columns <= frames / 8, "{full_rows} {zero_columns}");
            hid_something |= patch.contains(&0.0);
        }
        assert!(hid_something);
    }

    #[test]
    fn normaliser_gives_zero_mean_unit_variance_per_band() {
        let mel = LogMel { n_mels: 2, n_frames: 4, values: vec![1.0, 2.0, 3.0, 4.0, -10.0, -10.0, -30.0, -30.0] };
        let norm = Normaliser::fit([&mel], 2);
        let mut patch = mel.values.clone();
        norm.apply(&mut patch, 4);
        for row in patch.chunks(4) {
            let mean: f32 = row.iter().sum::<f32>() / 4.0;
            let var: f32 = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 4.0;
            assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "{row:?}");
        }
    }

    #[test]
    fn prng_is_reproducible_and_uniform_enough() {
        let (mut a, mut b) = (Prng::new(7), Prng::new(7));
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[a.below(4)] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
    }
}
