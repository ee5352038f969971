//! k-means++ in the embedding space, reproducible with a seed, and the silhouette that suggests
//! how many clusters a library has.
//!
//! Plain numbers in, plain numbers out: the rows are whatever vectors the caller hands over (the
//! map's embeddings, or the classic descriptors when the clusters are compared with them). How
//! well a clustering agrees with labels: the adjusted Rand index and normalised mutual
//! information.

/// Lloyd iterations at most per run; runs stop earlier once no song changes cluster.
const MAX_ITERATIONS: usize = 200;
/// Independent k-means++ starts; the one with the lowest inertia is kept.
const RESTARTS: usize = 4;
/// The silhouette is averaged over at most this many songs (drawn with the seed): exact
/// silhouettes cost n² distances, and 2,000 songs pin it to about ±0.01.
const SILHOUETTE_SAMPLE: usize = 2_000;

/// A partition of the rows into `k` clusters.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// Cluster of each row, in 0..k.
    pub assignment: Vec<usize>,
    pub centres: Vec<Vec<f32>>,
    /// Sum of squared distances of the rows to their centres.
    pub inertia: f64,
}

impl Clustering {
    pub fn k(&self) -> usize {
        self.centres.len()
    }

    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.k()];
        for &c in &self.assignment {
            sizes[c] += 1;
        }
        sizes
    }
}

/// A small, seedable generator (SplitMix64): the same seed gives the same clusters on every
/// machine.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum()
}

/// k-means++ seeding and Lloyd's iterations, best of a few restarts. `k` is clamped to the
/// number of rows (and to at least 1); an empty input gives an empty clustering.
pub fn kmeans(rows: &[&[f32]], k: usize, seed: u64) -> Clustering {
    let n = rows.len();
    let k = k.clamp(1, n.max(1));
    if n == 0 {
        return Clustering { assignment: Vec::new(), centres: Vec::new(), inertia: 0.0 };
    }
    let mut rng = SplitMix(seed ^ 0x5EED_C1A5_7E25_0000);
    let mut best: Option<Clustering> = None;
    for _ in 0..RESTARTS {
        let run = lloyd(rows, plus_plus_centres(rows, k, &mut rng));
        if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
            best = Some(run);
        }
    }
    let mut best = best.unwrap_or_else(|| lloyd(rows, vec![rows[0].to_vec()]));
    relabel_by_size(&mut best);
    best
}

/// Centres chosen one by one, each row drawn with probability proportional to its squared
/// distance from the centres chosen so far.
fn plus_plus_centres(rows: &[&[f32]], k: usize, rng: &mut SplitMix) -> Vec<Vec<f32>> {
    let n = rows.len();
    let mut centres = vec![rows[rng.below(n)].to_vec()];
    let mut nearest: Vec<f64> = rows.iter().map(|r| squared_distance(r, &centres[0])).collect();
    while centres.len() < k {
        let total: f64 = nearest.iter().sum();
        let chosen = if total <= 0.0 {
            // Every row sits on a centre already (duplicates): any row will do.
            rng.below(n)
        } else {
            let mut target = rng.unit() * total;
            let mut chosen = n - 1;
            for (i, &d) in nearest.iter().enumerate() {
                if target < d {
                    chosen = i;
                    break;
                }
                target -= d;
            }
            chosen
        };
        let centre = rows[chosen].to_vec();
        for (slot, row) in nearest.iter_mut().zip(rows) {
            *slot = slot.min(squared_distance(row, &centre));
        }
        centres.push(centre);
    }
    centres
}

fn lloyd(rows: &[&[f32]], mut centres: Vec<Vec<f32>>) -> Clustering {
    let dim = rows[0].len();
    let k = centres.len();
    let mut assignment = vec![usize::MAX; rows.len()];
    for _ in 0..MAX_ITERATIONS {
        let mut changed = false;
        for (slot, row) in assignment.iter_mut().zip(rows) {
            let nearest = nearest_centre(row, &centres).0;
            if *slot != nearest {
                *slot = nearest;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let mut sums = vec![vec![0.0f64; dim]; k];
        let mut counts = vec![0usize; k];
        for (&c, row) in assignment.iter().zip(rows) {
            counts[c] += 1;
            for (s, &v) in sums[c].iter_mut().zip(row.iter()) {
                *s += f64::from(v);
            }
        }
        for c in 0..k {
            if counts[c] == 0 {
                // An emptied cluster takes the row farthest from its centre, so k stays k.
                let far = (0..rows.len())
                    .max_by(|&a, &b| {
                        let da = squared_distance(rows[a], &centres[assignment[a]]);
                        let db = squared_distance(rows[b], &centres[assignment[b]]);
                        da.total_cmp(&db)
                    })
                    .unwrap_or(0);
                centres[c] = rows[far].to_vec();
            } else {
                centres[c] = sums[c].iter().map(|s| (s / counts[c] as f64) as f32).collect();
            }
        }
    }
    let inertia = assignment.iter().zip(rows).map(|(&c, row)| squared_distance(row, &centres[c])).sum();
    Clustering { assignment, centres, inertia }
}

fn nearest_centre(row: &[f32], centres: &[Vec<f32>]) -> (usize, f64) {
    centres
        .iter()
        .enumerate()
        .map(|(c, centre)| (c, squared_distance(row, centre)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 0.0))
}

/// Cluster 0 is the largest (ties: the one whose first row comes first), so ids read the same
/// whichever restart won; empty clusters go.
fn relabel_by_size(clustering: &mut Clustering) {
    let sizes = clustering.sizes();
    let first_row: Vec<usize> =
        (0..clustering.k()).map(|c| clustering.assignment.iter().position(|&a| a == c).unwrap_or(usize::MAX)).collect();
    let mut order: Vec<usize> = (0..clustering.k()).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(sizes[c]), first_row[c]));
    let mut new_id = vec![0; clustering.k()];
    for (new, &old) in order.iter().enumerate() {
        new_id[old] = new;
    }
    for a in &mut clustering.assignment {
        *a = new_id[*a];
    }
    // Clusters left empty (only when rows repeat) are dropped: every cluster has a song.
    clustering.centres =
        order.iter().filter(|&&old| sizes[old] > 0).map(|&old| clustering.centres[old].clone()).collect();
}

/// Mean silhouette (in [-1, 1]: how much nearer each song is to its own cluster than to the
/// next one), over at most [`SILHOUETTE_SAMPLE`] songs drawn with `seed`.
pub fn silhouette(rows: &[&[f32]], assignment: &[usize], k: usize, seed: u64) -> f32 {
    let n = rows.len();
    if k < 2 || n < 3 {
        return 0.0;
    }
    let mut sample: Vec<usize> = (0..n).collect();
    if n > SILHOUETTE_SAMPLE {
        let mut rng = SplitMix(seed ^ 0x51_1Au64);
        for i in 0..SILHOUETTE_SAMPLE {
            let j = i + rng.below(n - i);
            sample.swap(i, j);
        }
        sample.truncate(SILHOUETTE_SAMPLE);
    }
    let mut total = 0.0f64;
    for &i in &sample {
        let mut sums = vec![0.0f64; k];
        let mut counts = vec![0usize; k];
        for &j in &sample {
            if i != j {
                sums[assignment[j]] += squared_distance(rows[i], rows[j]).sqrt();
                counts[assignment[j]] += 1;
            }
        }
        let own = assignment[i];
        if counts[own] == 0 {
            continue; // a singleton's silhouette is 0
        }
        let a = sums[own] / counts[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && counts[c] > 0)
            .map(|c| sums[c] / counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    (total / sample.len() as f64) as f32
}

/// The k in `candidates` with the highest silhouette, and every candidate's silhouette.
pub fn suggest_k(
    rows: &[&[f32]],
    candidates: std::ops::RangeInclusive<usize>,
    seed: u64,
) -> (usize, Vec<(usize, f32)>) {
    let scores: Vec<(usize, f32)> = candidates
        .filter(|&k| k >= 2 && k < rows.len())
        .map(|k| {
            let clustering = kmeans(rows, k, seed);
            (k, silhouette(rows, &clustering.assignment, k, seed))
        })
        .collect();
    let best = scores.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0))).map_or(1, |(k, _)| k);
    (best, scores)
}

/// Counts of each (a, b) pair of two labellings of the same items.
fn contingency(a: &[usize], b: &[usize]) -> (Vec<Vec<f64>>, Vec<f64>, Vec<f64>) {
    assert_eq!(a.len(), b.len(), "two labellings of the same items");
    let (ka, kb) = (a.iter().max().map_or(0, |m| m + 1), b.iter().max().map_or(0, |m| m + 1));
    let mut table = vec![vec![0.0f64; kb]; ka];
    for (&x, &y) in a.iter().zip(b) {
        table[x][y] += 1.0;
    }
    let rows = table.iter().map(|r| r.iter().sum()).collect();
    let columns = (0..kb).map(|j| table.iter().map(|r| r[j]).sum()).collect();
    (table, rows, columns)
}

/// Adjusted Rand index of two labellings (1: the same partition; about 0: as by chance), as
/// scikit-learn's `adjusted_rand_score`.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f32 {
    let n = a.len() as f64;
    if n < 2.0 {
        return 1.0;
    }
    let pairs = |x: f64| x * (x - 1.0) / 2.0;
    let (table, rows, columns) = contingency(a, b);
    let index: f64 = table.iter().flatten().map(|&c| pairs(c)).sum();
    let (sum_a, sum_b): (f64, f64) = (rows.iter().map(|&c| pairs(c)).sum(), columns.iter().map(|&c| pairs(c)).sum());
    let expected = sum_a * sum_b / pairs(n);
    let max = 0.5 * (sum_a + sum_b);
    if (max - expected).abs() < 1e-12 {
        return 1.0; // both labellings put everything together (or everything apart)
    }
    ((index - expected) / (max - expected)) as f32
}

/// Mutual information of two labellings over the mean of their entropies (0: independent, 1:
/// the same partition), as scikit-learn's `normalized_mutual_info_score`.
pub fn normalised_mutual_information(a: &[usize], b: &[usize]) -> f32 {
    let n = a.len() as f64;
    if n == 0.0 {
        return 1.0;
    }
    let (table, rows, columns) = contingency(a, b);
    let entropy =
        |counts: &[f64]| -> f64 { counts.iter().filter(|&&c| c > 0.0).map(|&c| -(c / n) * (c / n).ln()).sum() };
    let (ha, hb) = (entropy(&rows), entropy(&columns));
    let mut mutual = 0.0;
    for (i, row) in table.iter().enumerate() {
        for (j, &c) in row.iter().enumerate() {
            if c > 0.0 {
                mutual += (c / n) * ((c * n) / (rows[i] * columns[j])).ln();
            }
        }
    }
    let mean = 0.5 * (ha + hb);
    if mean <= 0.0 { 1.0 } else { (mutual / mean).clamp(0.0, 1.0) as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `clusters` blobs of `per` points in 4-d around well separated centres.
    fn blobs(clusters: usize, per: usize) -> Vec<Vec<f32>> {
        let mut rng = SplitMix(7);
        (0..clusters * per)
            .map(|i| {
                let c = i % clusters;
                (0..4)
                    .map(|d| if d == c % 4 { 10.0 * (1 + c / 4) as f32 } else { 0.0 } + rng.unit() as f32 - 0.5)
                    .collect()
            })
            .collect()
    }

    fn refs(rows: &[Vec<f32>]) -> Vec<&[f32]> {
        rows.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn separated_blobs_are_found_whole_and_the_seed_repeats_them() {
        let rows = blobs(3, 30);
        let c = kmeans(&refs(&rows), 3, 11);
        assert_eq!(c.sizes(), vec![30, 30, 30]);
        for i in 0..rows.len() {
            assert_eq!(c.assignment[i], c.assignment[i % 3], "row {i} is with its blob");
        }
        assert_eq!(kmeans(&refs(&rows), 3, 11), c, "same seed, same clusters");
    }

    #[test]
    fn the_silhouette_suggests_the_number_of_blobs() {
        let rows = blobs(4, 25);
        let (k, scores) = suggest_k(&refs(&rows), 2..=8, 3);
        assert_eq!(k, 4, "{scores:?}");
        let at = |k: usize| scores.iter().find(|s| s.0 == k).map(|s| s.1).unwrap_or(0.0);
        assert!(at(4) > 0.8 && at(4) > at(3) && at(4) > at(5), "{scores:?}");
    }

    #[test]
    fn agreement_scores_match_scikit_learn() {
        // scikit-learn 1.9.1: adjusted_rand_score([0,0,1,1,2,2],[0,0,1,2,2,2]) = 0.4444...,
        // normalized_mutual_info_score(...) = 0.7397...
        let (a, b) = ([0, 0, 1, 1, 2, 2], [0, 0, 1, 2, 2, 2]);
        assert!((adjusted_rand_index(&a, &b) - 0.444_444).abs() < 1e-4, "{}", adjusted_rand_index(&a, &b));
        assert!(
            (normalised_mutual_information(&a, &b) - 0.739_67).abs() < 1e-4,
            "{}",
            normalised_mutual_information(&a, &b)
        );
        // Renaming clusters changes nothing; a perfect match is 1.
        assert_eq!(adjusted_rand_index(&a, &[2, 2, 0, 0, 1, 1]), 1.0);
        assert!((normalised_mutual_information(&a, &[2, 2, 0, 0, 1, 1]) - 1.0).abs() < 1e-6);
        // Independent labellings score about 0.
        let x: Vec<usize> = (0..400).map(|i| i % 4).collect();
        let y: Vec<usize> = (0..400).map(|i| (i / 4) % 4).collect();
        assert!(adjusted_rand_index(&x, &y).abs() < 0.02 && normalised_mutual_information(&x, &y) < 0.02);
    }

    #[test]
    fn degenerate_inputs_give_valid_clusterings() {
        assert_eq!(kmeans(&[], 3, 1).k(), 0);
        let same = vec![vec![1.0f32, 2.0]; 5];
        let c = kmeans(&refs(&same), 3, 1);
        assert_eq!(c.sizes(), vec![5], "identical rows make one cluster, not empty ones");
        let two = vec![vec![0.0f32], vec![1.0]];
        assert_eq!(kmeans(&refs(&two), 5, 1).k(), 2, "k is at most the number of rows");
        assert_eq!(silhouette(&refs(&two), &[0, 1], 2, 1), 0.0);
    }
}
