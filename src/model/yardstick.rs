//! Measuring how well a representation groups songs of one style, so that album identity cannot
//! pass for style.
//!
//! Songs of one album (one source) resemble each other in ways that have nothing to do with
//! style: the same mix, instruments and composer. A neighbour from the song's own album, or a
//! classifier tested on an album it trained on, measures that resemblance. So:
//! - label precision at k counts only neighbours from *other* albums;
//! - the classifier (multinomial logistic regression) is cross-validated on folds of whole
//!   albums: no album on both sides;
//! - every figure over folds is reported as mean and standard deviation over folds and seeds
//!   (the seed changes which albums share a fold).
//!
//! Plain functions over vectors: the command line, the window and tests share them.

use serde::Serialize;

use super::data::Prng;
use super::kmeans::{adjusted_rand_index, kmeans, normalised_mutual_information};

/// Songs with their label and album, as dense indices.
#[derive(Debug, Clone)]
pub struct SongGroups {
    pub label: Vec<usize>,
    pub album: Vec<usize>,
}

impl SongGroups {
    pub fn len(&self) -> usize {
        self.label.len()
    }

    pub fn is_empty(&self) -> bool {
        self.label.is_empty()
    }

    pub fn albums(&self) -> usize {
        self.album.iter().max().map_or(0, |m| m + 1)
    }

    pub fn labels(&self) -> usize {
        self.label.iter().max().map_or(0, |m| m + 1)
    }
}

/// How many folds and which seeds.
#[derive(Debug, Clone, Serialize)]
pub struct Protocol {
    pub folds: usize,
    pub seeds: Vec<u64>,
}

impl Default for Protocol {
    fn default() -> Self {
        Self { folds: 5, seeds: vec![1, 2, 3] }
    }
}

/// Mean and (population) standard deviation of one figure over folds and seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub mean: f32,
    pub std: f32,
    /// Folds × seeds that were measured.
    pub samples: usize,
}

impl Spread {
    pub fn of(values: &[f32]) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = values.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        Self { mean: mean as f32, std: var.sqrt() as f32, samples: values.len() }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} ± {:.3}", self.mean, self.std)
    }
}

/// Assigns every song a fold so that each album lies in exactly one: albums in a seeded random
/// order, each to the fold with the fewest songs so far (folds stay near equal in size, and the
/// seed changes which albums meet). With fewer albums than folds, each album is a fold.
pub fn album_folds(album: &[usize], folds: usize, seed: u64) -> Vec<usize> {
    let albums = album.iter().max().map_or(0, |m| m + 1);
    let mut sizes = vec![0usize; albums];
    for &a in album {
        sizes[a] += 1;
    }
    let mut order: Vec<usize> = (0..albums).filter(|&a| sizes[a] > 0).collect();
    let folds = folds.min(order.len()).max(1);
    Prng::new(seed).shuffle(&mut order);
    let mut fold_of_album = vec![0usize; albums];
    let mut fold_sizes = vec![0usize; folds];
    for a in order {
        let smallest = (0..folds).min_by_key(|&f| (fold_sizes[f], f)).unwrap_or(0);
        fold_of_album[a] = smallest;
        fold_sizes[smallest] += sizes[a];
    }
    album.iter().map(|&a| fold_of_album[a]).collect()
}

fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// What each song's nearest neighbours are, computed once per representation.
struct Neighbourhoods {
    /// The `K_MAX` nearest songs from other albums, nearest first.
    other_albums: Vec<Vec<usize>>,
    /// The 3 nearest songs of any album (itself excluded), nearest first.
    any_album: Vec<Vec<usize>>,
}

const K_MAX: usize = 10;

fn neighbourhoods(vectors: &[Vec<f32>], songs: &SongGroups) -> Neighbourhoods {
    use rayon::prelude::*;
    let n = vectors.len();
    let (other_albums, any_album) = (0..n)
        .into_par_iter()
        .map(|q| {
            let mut ranked: Vec<(f32, usize)> =
                (0..n).filter(|&c| c != q).map(|c| (squared_distance(&vectors[q], &vectors[c]), c)).collect();
            ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let other: Vec<usize> =
                ranked.iter().filter(|(_, c)| songs.album[*c] != songs.album[q]).take(K_MAX).map(|&(_, c)| c).collect();
            let any: Vec<usize> = ranked.iter().take(3).map(|&(_, c)| c).collect();
            (other, any)
        })
        .unzip();
    Neighbourhoods { other_albums, any_album }
}

/// Share of `found` that satisfies `same`; 0 for an empty list.
fn share(found: &[usize], same: impl Fn(usize) -> bool) -> f32 {
    if found.is_empty() {
        return 0.0;
    }
    found.iter().filter(|&&c| same(c)).count() as f32 / found.len() as f32
}

/// The scores of one representation.
#[derive(Debug, Clone, Serialize)]
pub struct RepresentationScores {
    pub name: String,
    pub dims: usize,
    /// Share of the 3 nearest songs *from other albums* that have the song's label, averaged
    /// over the songs of each fold.
    pub label_p_at_3: Spread,
    /// The same with 10 neighbours.
    pub label_p_at_10: Spread,
    /// Share of the 3 nearest songs of any album with the song's label: what the map shows,
    /// album resemblance included.
    pub label_p_at_3_any_album: f32,
    /// Share of the 3 nearest songs (any album) from the song's own album: how much of a
    /// neighbourhood is album identity.
    pub same_album_p_at_3: f32,
    /// Accuracy of logistic regression on this representation, trained on the other folds'
    /// albums and tested on the fold's.
    pub logistic_accuracy: Spread,
    /// The per-fold figures behind `label_p_at_3` and `logistic_accuracy`, seeds one after the
    /// other: every representation is scored on the same folds, so two can be compared fold by
    /// fold ([`paired_gain`]).
    pub label_p_at_3_by_fold: Vec<f32>,
    pub logistic_accuracy_by_fold: Vec<f32>,
    /// How well k-means clusters (k = the number of labels, one clustering per seed) agree with
    /// the labels: adjusted Rand index and normalised mutual information, over the seeds.
    pub cluster_label_ari: Spread,
    pub cluster_label_nmi: Spread,
}

/// How much `a` beats `b` measured on the same folds: the mean and spread of the per-fold
/// differences. Folds differ in difficulty far more than two methods differ on one fold, so
/// this spread is the one that says whether a gain is more than chance.
pub fn paired_gain(a: &[f32], b: &[f32]) -> Spread {
    assert_eq!(a.len(), b.len(), "the same folds");
    Spread::of(&a.iter().zip(b).map(|(x, y)| x - y).collect::<Vec<_>>())
}

/// Scores `vectors` (one per song, in `songs`' order) under `protocol`. Vectors are used as they
/// are for neighbours (standardise hand-made features first); the classifier standardises with
/// its training folds' statistics.
pub fn score(name: &str, vectors: &[Vec<f32>], songs: &SongGroups, protocol: &Protocol) -> RepresentationScores {
    assert_eq!(vectors.len(), songs.len(), "one vector per song");
    let hoods = neighbourhoods(vectors, songs);
    let n = songs.len();
    let p3: Vec<f32> = (0..n)
        .map(|q| {
            share(&hoods.other_albums[q][..hoods.other_albums[q].len().min(3)], |c| songs.label[c] == songs.label[q])
        })
        .collect();
    let p10: Vec<f32> = (0..n).map(|q| share(&hoods.other_albums[q], |c| songs.label[c] == songs.label[q])).collect();
    let mean = |values: &[f32]| values.iter().sum::<f32>() / values.len().max(1) as f32;
    let (mut p3_folds, mut p10_folds, mut accuracy_folds) = (Vec::new(), Vec::new(), Vec::new());
    for &seed in &protocol.seeds {
        let fold = album_folds(&songs.album, protocol.folds, seed);
        let folds = fold.iter().max().map_or(0, |m| m + 1);
        for f in 0..folds {
            let test: Vec<usize> = (0..n).filter(|&i| fold[i] == f).collect();
            let train: Vec<usize> = (0..n).filter(|&i| fold[i] != f).collect();
            p3_folds.push(mean(&test.iter().map(|&q| p3[q]).collect::<Vec<_>>()));
            p10_folds.push(mean(&test.iter().map(|&q| p10[q]).collect::<Vec<_>>()));
            if !train.is_empty() {
                accuracy_folds.push(logistic_fold_accuracy(vectors, songs, &train, &test));
            }
        }
    }
    let rows: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
    let (mut cluster_ari, mut cluster_nmi) = (Vec::new(), Vec::new());
    for &seed in &protocol.seeds {
        let clusters = kmeans(&rows, songs.labels(), seed);
        cluster_ari.push(adjusted_rand_index(&clusters.assignment, &songs.label));
        cluster_nmi.push(normalised_mutual_information(&clusters.assignment, &songs.label));
    }
    RepresentationScores {
        name: name.into(),
        dims: vectors.first().map_or(0, Vec::len),
        label_p_at_3: Spread::of(&p3_folds),
        label_p_at_10: Spread::of(&p10_folds),
        label_p_at_3_any_album: mean(
            &(0..n).map(|q| share(&hoods.any_album[q], |c| songs.label[c] == songs.label[q])).collect::<Vec<_>>(),
        ),
        same_album_p_at_3: mean(
            &(0..n).map(|q| share(&hoods.any_album[q], |c| songs.album[c] == songs.album[q])).collect::<Vec<_>>(),
        ),
        logistic_accuracy: Spread::of(&accuracy_folds),
        cluster_label_ari: Spread::of(&cluster_ari),
        cluster_label_nmi: Spread::of(&cluster_nmi),
        label_p_at_3_by_fold: p3_folds,
        logistic_accuracy_by_fold: accuracy_folds,
    }
}

/// Label precision at 3 of a representation that put neighbours at random among other albums:
/// what a score must beat to mean anything.
pub fn chance_p_at_3(songs: &SongGroups) -> f32 {
    chance_p_at_3_for(songs, &(0..songs.len()).collect::<Vec<_>>())
}

/// The same, averaged over `queries` only.
pub fn chance_p_at_3_for(songs: &SongGroups, queries: &[usize]) -> f32 {
    let per_song: Vec<f32> = queries
        .iter()
        .map(|&q| {
            let others: Vec<usize> = (0..songs.len()).filter(|&c| songs.album[c] != songs.album[q]).collect();
            share(&others, |c| songs.label[c] == songs.label[q])
        })
        .collect();
    per_song.iter().sum::<f32>() / per_song.len().max(1) as f32
}

/// Mean label precision of each query's `k` nearest songs from other albums (all songs are
/// candidates).
pub fn label_precision(vectors: &[Vec<f32>], songs: &SongGroups, queries: &[usize], k: usize) -> f32 {
    label_precision_among(vectors, songs, queries, k, Neighbours::OtherAlbums)
}

/// Which songs may be a query's neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neighbours {
    /// Songs of other albums only: style, not album identity.
    OtherAlbums,
    /// Any other song, as the map shows them: album resemblance included.
    AnyAlbum,
}

/// Mean label precision of each query's `k` nearest songs among `candidates`.
pub fn label_precision_among(
    vectors: &[Vec<f32>],
    songs: &SongGroups,
    queries: &[usize],
    k: usize,
    candidates: Neighbours,
) -> f32 {
    let per_query: Vec<f32> = queries
        .iter()
        .map(|&q| {
            let mut ranked: Vec<(f32, usize)> = (0..vectors.len())
                .filter(|&c| match candidates {
                    Neighbours::OtherAlbums => songs.album[c] != songs.album[q],
                    Neighbours::AnyAlbum => c != q,
                })
                .map(|c| (squared_distance(&vectors[q], &vectors[c]), c))
                .collect();
            ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let found: Vec<usize> = ranked.into_iter().take(k).map(|(_, c)| c).collect();
            share(&found, |c| songs.label[c] == songs.label[q])
        })
        .collect();
    per_query.iter().sum::<f32>() / per_query.len().max(1) as f32
}

/// Accuracy on `test` of logistic regression fitted on `train`.
pub fn logistic_fold_accuracy(vectors: &[Vec<f32>], songs: &SongGroups, train: &[usize], test: &[usize]) -> f32 {
    let x: Vec<&[f32]> = train.iter().map(|&i| vectors[i].as_slice()).collect();
    let y: Vec<usize> = train.iter().map(|&i| songs.label[i]).collect();
    let model = LogisticRegression::fit(&x, &y, songs.labels(), 1.0);
    let correct = test.iter().filter(|&&i| model.predict(&vectors[i]) == songs.label[i]).count();
    correct as f32 / test.len().max(1) as f32
}

/// Multinomial logistic regression with an L2 penalty (scikit-learn's objective: the penalty
/// ½‖W‖² against `c` times the summed cross-entropy; no penalty on the biases), on inputs
/// standardised with the training set's statistics. Fitted by accelerated gradient descent with
/// the step set from the largest eigenvalue of the inputs' second moment, so it converges
/// without tuning on any scale of data.
pub struct LogisticRegression {
    mean: Vec<f32>,
    std: Vec<f32>,
    /// One row of `dims + 1` (bias last) per class.
    weights: Vec<Vec<f64>>,
}

const LOGISTIC_ITERATIONS: usize = 400;

impl LogisticRegression {
    pub fn fit(x: &[&[f32]], y: &[usize], classes: usize, c: f64) -> Self {
        Self::fit_weighted(x, y, None, classes, c)
    }

    /// [`Self::fit`] with a weight per sample (its cross-entropy counts that many times; `None`:
    /// all 1). The penalty is set against the weights' sum, so weights that average 1 keep `c`'s
    /// meaning.
    pub fn fit_weighted(x: &[&[f32]], y: &[usize], sample_weights: Option<&[f64]>, classes: usize, c: f64) -> Self {
        let n = x.len();
        let dims = x.first().map_or(0, |r| r.len());
        // Standardised with the weighted statistics, so that a weight is exactly that many copies.
        let (mean, std) = match sample_weights {
            None => column_statistics(x, dims),
            Some(w) => weighted_column_statistics(x, w, dims),
        };
        let rows: Vec<Vec<f64>> = x
            .iter()
            .map(|r| {
                let mut row: Vec<f64> =
                    r.iter().zip(&mean).zip(&std).map(|((v, m), s)| f64::from((v - m) / s)).collect();
                row.push(1.0);
                row
            })
            .collect();
        let width = dims + 1;
        let total_weight = sample_weights.map_or(n as f64, |w| w.iter().sum()).max(f64::MIN_POSITIVE);
        let heaviest = sample_weights.map_or(1.0, |w| w.iter().copied().fold(0.0, f64::max) * n as f64 / total_weight);
        let penalty = 1.0 / (c * total_weight);
        // The cross-entropy's Hessian is at most ½ XᵀX/n (Böhning's bound; with weights, times
        // the largest weight over their mean); with the penalty that makes L, and 1/L a step that
        // always descends.
        let lipschitz = 0.5 * largest_eigenvalue(&rows, width) * heaviest.max(1e-12) + penalty;
        let step = 1.0 / lipschitz.max(1e-9);
        let mut weights = vec![vec![0.0f64; width]; classes];
        let mut previous = weights.clone();
        let mut probabilities = vec![0.0f64; classes];
        for iteration in 0..LOGISTIC_ITERATIONS {
            // Nesterov look-ahead point.
            let momentum = iteration as f64 / (iteration as f64 + 3.0);
            let look: Vec<Vec<f64>> = weights
                .iter()
                .zip(&previous)
                .map(|(w, p)| w.iter().zip(p).map(|(a, b)| a + momentum * (a - b)).collect())
                .collect();
            let mut gradient = vec![vec![0.0f64; width]; classes];
            for (i, (row, &label)) in rows.iter().zip(y).enumerate() {
                softmax_into(&look, row, &mut probabilities);
                let weight = sample_weights.map_or(1.0, |w| w[i]);
                for (k, g) in gradient.iter_mut().enumerate() {
                    let error = weight * (probabilities[k] - f64::from(u8::from(k == label)));
                    for (gj, xj) in g.iter_mut().zip(row) {
                        *gj += error * xj;
                    }
                }
            }
            previous = std::mem::replace(
                &mut weights,
                look.iter()
                    .zip(&gradient)
                    .map(|(w, g)| {
                        w.iter()
                            .zip(g)
                            .enumerate()
                            .map(|(j, (wj, gj))| {
                                let decay = if j + 1 < width { penalty * wj } else { 0.0 };
                                wj - step * (gj / total_weight + decay)
                            })
                            .collect()
                    })
                    .collect(),
            );
        }
        Self { mean, std, weights }
    }

    /// The fitted model as one affine map on the raw (unstandardised) inputs: per class, the
    /// weights of each input and a bias, so that `weights[k]·x + bias[k]` is class k's score.
    pub fn affine(&self) -> (Vec<Vec<f32>>, Vec<f32>) {
        let dims = self.mean.len();
        let weights =
            self.weights.iter().map(|w| (0..dims).map(|j| (w[j] / f64::from(self.std[j])) as f32).collect()).collect();
        let bias = self
            .weights
            .iter()
            .map(|w| (w[dims] - (0..dims).map(|j| w[j] * f64::from(self.mean[j] / self.std[j])).sum::<f64>()) as f32)
            .collect();
        (weights, bias)
    }

    pub fn predict(&self, x: &[f32]) -> usize {
        let mut row: Vec<f64> =
            x.iter().zip(&self.mean).zip(&self.std).map(|((v, m), s)| f64::from((v - m) / s)).collect();
        row.push(1.0);
        let scores = self.weights.iter().map(|w| w.iter().zip(&row).map(|(a, b)| a * b).sum::<f64>());
        scores.enumerate().fold((0, f64::NEG_INFINITY), |best, (k, s)| if s > best.1 { (k, s) } else { best }).0
    }
}

fn column_statistics(x: &[&[f32]], dims: usize) -> (Vec<f32>, Vec<f32>) {
    let n = x.len().max(1) as f64;
    let mean: Vec<f64> = (0..dims).map(|d| x.iter().map(|r| f64::from(r[d])).sum::<f64>() / n).collect();
    let std = (0..dims)
        .map(|d| (x.iter().map(|r| (f64::from(r[d]) - mean[d]).powi(2)).sum::<f64>() / n).sqrt().max(1e-6) as f32);
    (mean.iter().map(|&m| m as f32).collect(), std.collect())
}

fn weighted_column_statistics(x: &[&[f32]], weights: &[f64], dims: usize) -> (Vec<f32>, Vec<f32>) {
    let total = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mean: Vec<f64> =
        (0..dims).map(|d| x.iter().zip(weights).map(|(r, w)| w * f64::from(r[d])).sum::<f64>() / total).collect();
    let std = (0..dims).map(|d| {
        let variance = x.iter().zip(weights).map(|(r, w)| w * (f64::from(r[d]) - mean[d]).powi(2)).sum::<f64>() / total;
        variance.sqrt().max(1e-6) as f32
    });
    (mean.iter().map(|&m| m as f32).collect(), std.collect())
}

fn softmax_into(weights: &[Vec<f64>], row: &[f64], out: &mut [f64]) {
    for (o, w) in out.iter_mut().zip(weights) {
        *o = w.iter().zip(row).map(|(a, b)| a * b).sum();
    }
    let top = out.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for o in out.iter_mut() {
        *o = (*o - top).exp();
        total += *o;
    }
    out.iter_mut().for_each(|o| *o /= total);
}

/// Largest eigenvalue of XᵀX/n by power iteration (an upper estimate is fine: it sets a step).
fn largest_eigenvalue(rows: &[Vec<f64>], width: usize) -> f64 {
    let n = rows.len().max(1) as f64;
    let mut v = vec![1.0 / (width as f64).sqrt(); width];
    let mut value = 0.0;
    for _ in 0..50 {
        let mut next = vec![0.0f64; width];
        for row in rows {
            let projection: f64 = row.iter().zip(&v).map(|(a, b)| a * b).sum();
            for (nj, xj) in next.iter_mut().zip(row) {
                *nj += projection * xj / n;
            }
        }
        let norm = next.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        value = norm;
        v = next.into_iter().map(|a| a / norm).collect();
    }
    // Power iteration approaches from below; a margin keeps the step safe.
    value * 1.05
}

/// Z-scores per dimension over all `vectors`, in place (for neighbour search on hand-made
/// features, whose dimensions have unrelated units).
pub fn standardise(vectors: &mut [Vec<f32>]) {
    let Some(dims) = vectors.first().map(Vec::len) else { return };
    let rows: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
    let (mean, std) = column_statistics(&rows, dims);
    for v in vectors.iter_mut() {
        for ((x, m), s) in v.iter_mut().zip(&mean).zip(&std) {
            *x = (*x - m) / s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_album_is_on_both_sides_and_folds_are_balanced() {
        // 12 albums of 1 to 12 songs.
        let album: Vec<usize> = (0..12).flat_map(|a| std::iter::repeat_n(a, a + 1)).collect();
        for seed in 1..6 {
            let fold = album_folds(&album, 5, seed);
            for a in 0..12 {
                let of_album: Vec<usize> = (0..album.len()).filter(|&i| album[i] == a).map(|i| fold[i]).collect();
                assert!(of_album.windows(2).all(|w| w[0] == w[1]), "album {a} split across folds");
            }
            let mut sizes = [0usize; 5];
            fold.iter().for_each(|&f| sizes[f] += 1);
            assert!(sizes.iter().all(|&s| s > 0), "{sizes:?}");
        }
        assert_ne!(album_folds(&album, 5, 1), album_folds(&album, 5, 2), "the seed changes which albums meet");
        // Fewer albums than folds: one fold per album.
        let fold = album_folds(&[0, 0, 1, 1], 5, 1);
        assert_eq!(fold[0], fold[1]);
        assert_ne!(fold[0], fold[2]);
    }

    /// Two labels, four albums of five songs; within an album songs sit close together.
    fn clustered(album_offset: f32, label_offset: f32) -> (Vec<Vec<f32>>, SongGroups) {
        let mut vectors = Vec::new();
        let (mut label, mut album) = (Vec::new(), Vec::new());
        for a in 0..4 {
            for s in 0..5 {
                let l = a % 2;
                vectors
                    .push(vec![l as f32 * label_offset + s as f32 * 0.01, a as f32 * album_offset + s as f32 * 0.01]);
                label.push(l);
                album.push(a);
            }
        }
        (vectors, SongGroups { label, album })
    }

    #[test]
    fn style_scores_high_and_album_identity_alone_scores_at_chance() {
        let protocol = Protocol { folds: 4, seeds: vec![1] };
        // Labels far apart, albums of one label close: style is what the vectors hold.
        let (vectors, songs) = clustered(0.1, 10.0);
        let style = score("style", &vectors, &songs, &protocol);
        assert_eq!(style.label_p_at_3.mean, 1.0);
        assert_eq!(style.logistic_accuracy.mean, 1.0);
        // Every album far from every other, in an order unrelated to the label: the nearest
        // songs are the album's own (which the any-album figure counts as the right label),
        // but neighbours from other albums carry no style.
        let (vectors, songs) = clustered(10.0, 0.0);
        let album = score("album", &vectors, &songs, &protocol);
        assert_eq!(album.same_album_p_at_3, 1.0);
        assert_eq!(album.label_p_at_3_any_album, 1.0);
        assert!(album.label_p_at_3.mean < 0.7, "{:?}", album.label_p_at_3);
        assert!(album.logistic_accuracy.mean < 0.75, "{:?}", album.logistic_accuracy);
        assert!((chance_p_at_3(&songs) - 1.0 / 3.0).abs() < 1e-6);
        // The fold-level precision agrees with the whole-corpus figures for either kind of
        // neighbours.
        let every: Vec<usize> = (0..songs.len()).collect();
        assert_eq!(label_precision_among(&vectors, &songs, &every, 3, Neighbours::AnyAlbum), 1.0);
        let other = label_precision_among(&vectors, &songs, &every, 3, Neighbours::OtherAlbums);
        assert!(other < 0.7, "{other}");
        assert_eq!(other, label_precision(&vectors, &songs, &every, 3));
    }

    #[test]
    fn logistic_regression_separates_three_gaussian_blobs_of_any_scale() {
        let mut rng = Prng::new(5);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for class in 0..3 {
            for _ in 0..40 {
                let jitter = |rng: &mut Prng| rng.unit() - 0.5;
                // Dimension 1 is a thousand times larger than dimension 0: standardisation matters.
                x.push(vec![
                    class as f32 * 2.0 + jitter(&mut rng),
                    1000.0 * (class % 2) as f32 + 300.0 * jitter(&mut rng),
                ]);
                y.push(class);
            }
        }
        let rows: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        let model = LogisticRegression::fit(&rows, &y, 3, 1.0);
        let correct = x.iter().zip(&y).filter(|(v, l)| model.predict(v) == **l).count();
        assert!(correct >= 114, "{correct} of 120");
    }

    #[test]
    fn a_weight_counts_as_copies_and_the_affine_form_scores_as_predict_does() {
        let mut rng = Prng::new(9);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..60 {
            let class = i % 3;
            // Overlapping classes, so the fit depends on every sample.
            x.push(vec![class as f32 + 2.0 * rng.unit(), 50.0 + 40.0 * rng.unit() * class as f32, rng.unit()]);
            y.push(class);
        }
        let rows: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        // Weights of 1 are the unweighted fit, bit for bit.
        let plain = LogisticRegression::fit(&rows, &y, 3, 1.0);
        let ones = LogisticRegression::fit_weighted(&rows, &y, Some(&[1.0; 60]), 3, 1.0);
        assert_eq!(plain.weights, ones.weights);
        // Weight 3 on the first sample is that sample three times (same objective, so the same
        // optimum up to rounding), and not the same as weight 1.
        let mut weights = vec![1.0; 60];
        weights[0] = 3.0;
        let weighted = LogisticRegression::fit_weighted(&rows, &y, Some(&weights), 3, 1.0);
        let mut copied_rows = rows.clone();
        copied_rows.extend([rows[0], rows[0]]);
        let mut copied_y = y.clone();
        copied_y.extend([y[0], y[0]]);
        let copied = LogisticRegression::fit(&copied_rows, &copied_y, 3, 1.0);
        // Compared through the raw-input affine form: class scores, as the head uses them.
        let scores = |model: &LogisticRegression, v: &[f32]| {
            let (w, b) = model.affine();
            w.iter()
                .zip(&b)
                .map(|(row, bias)| row.iter().zip(v).map(|(a, x)| a * x).sum::<f32>() + bias)
                .collect::<Vec<f32>>()
        };
        let mut largest_gap_to_copies = 0.0f32;
        let mut largest_gap_to_plain = 0.0f32;
        for v in &x {
            let (a, c, p) = (scores(&weighted, v), scores(&copied, v), scores(&plain, v));
            for k in 0..3 {
                largest_gap_to_copies = largest_gap_to_copies.max((a[k] - c[k]).abs());
                largest_gap_to_plain = largest_gap_to_plain.max((a[k] - p[k]).abs());
            }
            let best =
                a.iter().enumerate().fold((0, f32::NEG_INFINITY), |m, (k, s)| if *s > m.1 { (k, *s) } else { m }).0;
            assert_eq!(best, weighted.predict(v), "the affine form ranks classes as predict does");
        }
        assert!(largest_gap_to_copies < 0.01, "weight 3 against three copies: {largest_gap_to_copies}");
        assert!(
            largest_gap_to_plain > 4.0 * largest_gap_to_copies,
            "{largest_gap_to_plain} vs {largest_gap_to_copies}"
        );
    }

    #[test]
    fn a_paired_gain_sees_through_folds_of_different_difficulty() {
        // One method is 0.05 better on every fold; the folds' difficulty varies far more.
        let classic = [0.30f32, 0.70, 0.45, 0.90, 0.20];
        let model: Vec<f32> = classic.iter().map(|v| v + 0.05).collect();
        let gain = paired_gain(&model, &classic);
        assert!((gain.mean - 0.05).abs() < 1e-6 && gain.std < 1e-6, "{gain:?}");
        assert!(Spread::of(&classic).std > 0.2, "unpaired, the gain hides in the folds' spread");
    }

    #[test]
    fn spread_is_mean_and_population_std() {
        let s = Spread::of(&[0.5, 0.7]);
        assert!((s.mean - 0.6).abs() < 1e-6 && (s.std - 0.1).abs() < 1e-6 && s.samples == 2);
    }
}
