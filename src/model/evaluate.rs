//! How useful embeddings are on music the model has not been trained on, compared with simple
//! hand-made features computed the same way:
//!
//! - MFCC statistics: mean and standard deviation of 20 MFCCs (librosa's `mfcc` from the same
//!   log-mel: DCT-II, orthonormal);
//! - log-mel statistics: mean and standard deviation of each of the 128 bands.
//!
//! Each representation is judged on the library's test split by (a) genre accuracy of a 3-nearest-
//! neighbour vote among the training tracks, and (b) neighbour agreement: the fraction of a test
//! track's 3 nearest neighbours (itself excluded) that share its genre, among the test tracks and
//! among all tracks. Baseline features are standardised per dimension (z-scores over the library)
//! so that no dimension dominates the Euclidean distance; embeddings are used as they are.

use std::path::Path;

use serde::Serialize;

use super::inference::Embedder;
use super::store::check_compatible;
use crate::audio::LogMel;
use crate::error::TrainError;
use crate::library::{FeatureCache, Library, Split};

pub const NEIGHBOURS: usize = 3;

#[derive(Debug, Clone, Serialize)]
pub struct RepresentationScores {
    pub name: String,
    pub dims: usize,
    /// Genre accuracy on the test split by a 3-NN vote among training tracks.
    pub knn_test_accuracy: f32,
    /// Share of each test track's 3 nearest test tracks with its genre.
    pub agreement_within_test: f32,
    /// Share of each test track's 3 nearest tracks (any split) with its genre.
    pub agreement_test_vs_all: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvaluationReport {
    pub test_tracks: usize,
    pub all_tracks: usize,
    /// The model's own classifier head on the test split (track level).
    pub classifier_test_accuracy: f32,
    pub rows: Vec<RepresentationScores>,
}

/// Mean and standard deviation of `n_mfcc` MFCCs over the frames.
pub fn mfcc_statistics(mel: &LogMel, n_mfcc: usize) -> Vec<f32> {
    let m = mel.n_mels;
    let basis: Vec<Vec<f32>> = (0..n_mfcc)
        .map(|k| {
            let scale = if k == 0 { (1.0 / m as f64).sqrt() } else { (2.0 / m as f64).sqrt() };
            (0..m)
                .map(|i| (scale * (std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2 * m) as f64).cos()) as f32)
                .collect()
        })
        .collect();
    let mut stats = vec![0.0f32; 2 * n_mfcc];
    let mut column = vec![0.0f32; m];
    let mut sums = vec![(0.0f64, 0.0f64); n_mfcc];
    for t in 0..mel.n_frames {
        for (i, c) in column.iter_mut().enumerate() {
            *c = mel.values[i * mel.n_frames + t];
        }
        for (k, row) in basis.iter().enumerate() {
            let v = f64::from(row.iter().zip(&column).map(|(a, b)| a * b).sum::<f32>());
            sums[k].0 += v;
            sums[k].1 += v * v;
        }
    }
    let n = mel.n_frames.max(1) as f64;
    for (k, (s, sq)) in sums.into_iter().enumerate() {
        let mean = s / n;
        stats[k] = mean as f32;
        stats[n_mfcc + k] = (sq / n - mean * mean).max(0.0).sqrt() as f32;
    }
    stats
}

/// Mean and standard deviation of every mel band over the frames.
pub fn logmel_statistics(mel: &LogMel) -> Vec<f32> {
    let mut stats = vec![0.0f32; 2 * mel.n_mels];
    for m in 0..mel.n_mels {
        let band = mel.band(m);
        let n = band.len().max(1) as f64;
        let mean = band.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = band.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        stats[m] = mean as f32;
        stats[mel.n_mels + m] = var.sqrt() as f32;
    }
    stats
}

/// Z-scores per dimension, in place.
pub fn standardise(vectors: &mut [Vec<f32>]) {
    let Some(dims) = vectors.first().map(Vec::len) else { return };
    let n = vectors.len() as f64;
    for d in 0..dims {
        let mean = vectors.iter().map(|v| f64::from(v[d])).sum::<f64>() / n;
        let std = (vectors.iter().map(|v| (f64::from(v[d]) - mean).powi(2)).sum::<f64>() / n).sqrt().max(1e-9);
        for v in vectors.iter_mut() {
            v[d] = ((f64::from(v[d]) - mean) / std) as f32;
        }
    }
}

fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The `k` candidates nearest to `query` (itself excluded), nearest first.
fn nearest(vectors: &[Vec<f32>], query: usize, candidates: &[usize], k: usize) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> =
        candidates.iter().filter(|&&c| c != query).map(|&c| (distance(&vectors[query], &vectors[c]), c)).collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, c)| c).collect()
}

/// Fraction of the queries' `k` nearest candidates that share the query's genre.
pub fn neighbour_agreement(
    vectors: &[Vec<f32>],
    genres: &[usize],
    queries: &[usize],
    candidates: &[usize],
    k: usize,
) -> f32 {
    let (mut same, mut total) = (0usize, 0usize);
    for &q in queries {
        for n in nearest(vectors, q, candidates, k) {
            same += usize::from(genres[n] == genres[q]);
            total += 1;
        }
    }
    same as f32 / total.max(1) as f32
}

/// Genre accuracy of a `k`-NN vote (ties go to the nearest neighbour's genre).
pub fn knn_accuracy(vectors: &[Vec<f32>], genres: &[usize], queries: &[usize], candidates: &[usize], k: usize) -> f32 {
    let mut correct = 0;
    for &q in queries {
        let found = nearest(vectors, q, candidates, k);
        let mut votes: Vec<(usize, usize, usize)> = Vec::new(); // (genre, count, rank of first)
        for (rank, &n) in found.iter().enumerate() {
            match votes.iter_mut().find(|v| v.0 == genres[n]) {
                Some(v) => v.1 += 1,
                None => votes.push((genres[n], 1, rank)),
            }
        }
        let winner = votes.iter().max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2))).map(|v| v.0);
        correct += usize::from(winner == Some(genres[q]));
    }
    correct as f32 / queries.len().max(1) as f32
}

/// Scores the model's embeddings and the two baselines on `library`'s test split.
pub fn evaluate_embeddings(
    library: &Library,
    library_path: &Path,
    model_dir: &Path,
) -> Result<EvaluationReport, TrainError> {
    let embedder = Embedder::load(model_dir)?;
    check_compatible(&embedder.info, model_dir, &library.mel)?;
    let cache = FeatureCache::for_library(library_path);
    let mut genre_names: Vec<String> = Vec::new();
    let (mut embeddings, mut mfcc, mut logmel, mut genres, mut splits) = (vec![], vec![], vec![], vec![], vec![]);
    let mut classifier_correct = 0;
    for track in library.tracks.iter().filter(|t| t.features.is_some()) {
        let Some(genre) = &track.genre else { continue };
        let mel = cache.load(track.id, &library.mel)?;
        let (embedding, probs) = embedder.embed_and_predict(&mel);
        let genre_index = match genre_names.iter().position(|g| g == genre) {
            Some(i) => i,
            None => {
                genre_names.push(genre.clone());
                genre_names.len() - 1
            }
        };
        if track.split == Some(Split::Test) {
            let predicted =
                probs.iter().enumerate().fold((0, f32::MIN), |b, (i, &p)| if p > b.1 { (i, p) } else { b }).0;
            classifier_correct += usize::from(embedder.info.labels.get(predicted) == Some(genre));
        }
        embeddings.push(embedding);
        mfcc.push(mfcc_statistics(&mel, 20));
        logmel.push(logmel_statistics(&mel));
        genres.push(genre_index);
        splits.push(track.split);
    }
    let test: Vec<usize> = (0..splits.len()).filter(|&i| splits[i] == Some(Split::Test)).collect();
    let training: Vec<usize> = (0..splits.len()).filter(|&i| splits[i] == Some(Split::Training)).collect();
    let all: Vec<usize> = (0..splits.len()).collect();
    if test.len() < NEIGHBOURS + 1 || training.is_empty() {
        return Err(TrainError::Data(format!(
            "{}: evaluation needs a training split and at least {} test tracks with a genre (found {} test tracks)",
            library_path.display(),
            NEIGHBOURS + 1,
            test.len()
        )));
    }
    standardise(&mut mfcc);
    standardise(&mut logmel);
    let score = |name: &str, vectors: &[Vec<f32>]| RepresentationScores {
        name: name.into(),
        dims: vectors.first().map_or(0, Vec::len),
        knn_test_accuracy: knn_accuracy(vectors, &genres, &test, &training, NEIGHBOURS),
        agreement_within_test: neighbour_agreement(vectors, &genres, &test, &test, NEIGHBOURS),
        agreement_test_vs_all: neighbour_agreement(vectors, &genres, &test, &all, NEIGHBOURS),
    };
    Ok(EvaluationReport {
        test_tracks: test.len(),
        all_tracks: all.len(),
        classifier_test_accuracy: classifier_correct as f32 / test.len() as f32,
        rows: vec![
            score("songspace embedding", &embeddings),
            score("MFCC mean+std (20)", &mfcc),
            score("log-mel mean+std (128)", &logmel),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfcc_of_a_flat_spectrum_is_only_the_first_coefficient() {
        let mel = LogMel { n_mels: 128, n_frames: 3, values: vec![-20.0; 384] };
        let stats = mfcc_statistics(&mel, 20);
        // DCT-II (ortho) of a constant c over M bands: c * sqrt(M) at k = 0, zero elsewhere.
        assert!((stats[0] - (-20.0 * 128f32.sqrt())).abs() < 1e-3, "{}", stats[0]);
        assert!(stats[1..20].iter().all(|v| v.abs() < 1e-3));
        assert!(stats[20..].iter().all(|v| v.abs() < 1e-3), "no variation over time");
    }

    #[test]
    fn agreement_and_knn_vote_on_two_clean_clusters() {
        let vectors: Vec<Vec<f32>> =
            vec![vec![0.0], vec![0.1], vec![0.2], vec![0.3], vec![10.0], vec![10.1], vec![10.2], vec![10.3]];
        let genres = vec![0, 0, 0, 0, 1, 1, 1, 1];
        let all: Vec<usize> = (0..8).collect();
        assert_eq!(neighbour_agreement(&vectors, &genres, &all, &all, 3), 1.0);
        // Mislabel one point: its neighbours disagree with it, and it spoils 2 other votes of 3.
        let noisy = vec![0, 0, 0, 1, 1, 1, 1, 1];
        let a = neighbour_agreement(&vectors, &noisy, &all, &all, 3);
        assert!(a < 1.0 && a > 0.5, "{a}");
        assert_eq!(knn_accuracy(&vectors, &genres, &[0, 7], &[1, 2, 3, 4, 5, 6], 3), 1.0);
    }
}
