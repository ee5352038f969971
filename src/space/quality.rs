//! How faithful a map is: trustworthiness (do the map's neighbours come from near in the
//! original space?) and genre agreement among nearest neighbours.

use rayon::prelude::*;

use super::neighbours::{EmbeddingIndex, Metric, PositionIndex};

/// Trustworthiness at `k` (Venna & Kaski; scikit-learn's definition), between the original
/// vectors `values` (`n × dim`) and `positions`: 1 when every map neighbour is also among the
/// `k` nearest originally; each intruder costs by how far down the original ranking it sits.
/// `queries` limits the points whose neighbourhoods are checked (all of them when `None`); ranks
/// are always among all points. O(n) per query point.
pub fn trustworthiness(values: &[f32], dim: usize, positions: &[[f32; 3]], k: usize, queries: Option<&[usize]>) -> f64 {
    let n = positions.len();
    assert_eq!(values.len(), n * dim, "one vector per position");
    assert!(n > 2 * k + 1, "trustworthiness needs more than 2k + 1 points");
    let map = PositionIndex::new(positions.to_vec()).expect("positions are finite");
    let all: Vec<usize>;
    let queries = match queries {
        Some(q) => q,
        None => {
            all = (0..n).collect();
            &all
        }
    };
    let penalty: f64 = queries
        .par_iter()
        .map(|&i| {
            let row = &values[i * dim..(i + 1) * dim];
            let distances: Vec<f32> = values
                .chunks_exact(dim)
                .map(|other| other.iter().zip(row).map(|(a, b)| (a - b) * (a - b)).sum::<f32>())
                .collect();
            map.nearest_to(i, k)
                .iter()
                .map(|neighbour| {
                    let d = distances[neighbour.index];
                    // Rank in the original space, 1-based, self excluded; ties count in favour.
                    let rank = distances
                        .iter()
                        .enumerate()
                        .filter(|&(j, &other)| j != i && (other < d || (other == d && j < neighbour.index)))
                        .count()
                        + 1;
                    rank.saturating_sub(k) as f64
                })
                .sum::<f64>()
        })
        .sum();
    let (m, n, k) = (queries.len() as f64, n as f64, k as f64);
    1.0 - 2.0 / (m * k * (2.0 * n - 3.0 * k - 1.0)) * penalty
}

/// The fraction of each point's `k` nearest neighbours sharing its label, averaged over points
/// that have a label; once among the embeddings and once on the map.
pub fn label_agreement(
    values: &[f32],
    dim: usize,
    positions: &[[f32; 3]],
    labels: &[Option<usize>],
    k: usize,
) -> (f64, f64) {
    let embedding = EmbeddingIndex::new(values, dim, Metric::Euclidean).expect("embeddings fit the index");
    let map = PositionIndex::new(positions.to_vec()).expect("positions are finite");
    let agreement = |neighbours_of: &(dyn Fn(usize) -> Vec<usize> + Sync)| {
        let (same, total) = (0..labels.len())
            .into_par_iter()
            .filter_map(|i| labels[i].map(|label| (i, label)))
            .map(|(i, label)| {
                let found = neighbours_of(i);
                (found.iter().filter(|&&j| labels[j] == Some(label)).count(), found.len())
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        same as f64 / total.max(1) as f64
    };
    let in_embedding = agreement(&|i| embedding.nearest_to(i, k).iter().map(|n| n.index).collect());
    let on_map = agreement(&|i| map.nearest_to(i, k).iter().map(|n| n.index).collect());
    (in_embedding, on_map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_faithful_map_is_trustworthy_and_a_shuffled_one_is_not() {
        // Points on a 3D grid embedded isometrically in 6D: the map that returns them is perfect.
        let mut values = Vec::new();
        let mut positions = Vec::new();
        let mut state = 5u32;
        let mut jitter = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * 0.2
        };
        for x in 0..6 {
            for y in 0..6 {
                for z in 0..4 {
                    // Jittered so that no two distances tie.
                    let (x, y, z) = (x as f32 + jitter(), y as f32 * 1.1 + jitter(), z as f32 * 1.3 + jitter());
                    values.extend_from_slice(&[x, y, z, 0.0, 0.0, 0.0]);
                    positions.push([x, y, z]);
                }
            }
        }
        let perfect = trustworthiness(&values, 6, &positions, 5, None);
        assert!((perfect - 1.0).abs() < 1e-9, "{perfect}");
        let mut shuffled = positions.clone();
        let n = shuffled.len();
        for i in 0..n {
            shuffled.swap(i, (i * 37 + 11) % n);
        }
        let bad = trustworthiness(&values, 6, &shuffled, 5, None);
        assert!(bad < 0.85, "{bad}");
        let sampled = trustworthiness(&values, 6, &positions, 5, Some(&[0, 10, 20]));
        assert!((sampled - 1.0).abs() < 1e-9);
    }

    #[test]
    fn agreement_counts_neighbours_with_the_same_label() {
        let values = vec![0.0, 0.1, 0.2, 10.0, 10.1, 10.2];
        let positions =
            vec![[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.2, 0.0, 0.0], [5.0, 0.0, 0.0], [5.1, 0.0, 0.0], [0.3, 0.0, 0.0]];
        let labels = vec![Some(0), Some(0), Some(0), Some(1), Some(1), Some(1)];
        let (embedding, map) = label_agreement(&values, 1, &positions, &labels, 2);
        assert!((embedding - 1.0).abs() < 1e-9);
        assert!(map < embedding);
    }
}
