//! Placing one new point into a finished t-SNE map without moving the others: its affinities to
//! its nearest neighbours in embedding space are computed as t-SNE computes them, and its 3D
//! position minimises the t-SNE objective for that one point with every other point fixed.

use super::neighbours::{EmbeddingIndex, MAX_EMBEDDING_DIM, Neighbour, PositionIndex};

/// Where a new point goes, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub position: [f32; 3],
    /// The embedding-space neighbours that attract it, nearest first, with their affinities.
    pub attractors: Vec<(Neighbour, f32)>,
    /// Where the optimisation started: the affinity-weighted mean of the attractors' positions.
    pub start: [f32; 3],
    pub iterations: usize,
}

/// Places `query` (already prepared for `index`, see [`EmbeddingIndex::query_point`]) into a map
/// whose points are `positions` (one per index row). `perplexity` is the map's. The index should
/// be Euclidean, as t-SNE's affinities are.
pub fn place_point(
    query: &[f32; MAX_EMBEDDING_DIM],
    index: &EmbeddingIndex,
    positions: &PositionIndex,
    perplexity: f32,
) -> Placement {
    assert_eq!(index.len(), positions.len(), "one position per indexed point");
    let n = positions.len();
    if n == 0 {
        return Placement { position: [0.0; 3], attractors: Vec::new(), start: [0.0; 3], iterations: 0 };
    }
    let k = ((3.0 * perplexity) as usize).clamp(1, n);
    let neighbours = index.nearest(query, k, None);
    let affinities = conditional_affinities(&neighbours, perplexity.min((n as f32 - 1.0).max(1.0)));
    let attractors: Vec<(Neighbour, f32)> = neighbours.into_iter().zip(affinities).collect();

    let mut start = [0f64; 3];
    for (neighbour, p) in &attractors {
        for (s, &v) in start.iter_mut().zip(&positions.position(neighbour.index)) {
            *s += f64::from(*p) * f64::from(v);
        }
    }
    let (position, iterations) = minimise(start, &attractors, positions);
    Placement { position: position.map(|v| v as f32), attractors, start: start.map(|v| v as f32), iterations }
}

/// p(j | new) ∝ exp(−β d²), with β found by bisection so the distribution's perplexity matches.
fn conditional_affinities(neighbours: &[Neighbour], perplexity: f32) -> Vec<f32> {
    if neighbours.is_empty() {
        return Vec::new();
    }
    let squared: Vec<f64> = neighbours.iter().map(|n| f64::from(n.distance).powi(2)).collect();
    let nearest = squared.iter().copied().fold(f64::INFINITY, f64::min);
    let target_entropy = f64::from(perplexity.max(1.0)).ln();
    let (mut beta, mut low, mut high) = (1.0f64, 0.0f64, f64::INFINITY);
    let mut p = vec![0f64; squared.len()];
    for _ in 0..200 {
        // Shifting by the nearest distance keeps exp() from underflowing for distant neighbours.
        p.iter_mut().zip(&squared).for_each(|(p, d)| *p = (-beta * (d - nearest)).exp());
        let sum: f64 = p.iter().sum();
        let entropy = beta * p.iter().zip(&squared).map(|(p, d)| p * (d - nearest)).sum::<f64>() / sum + sum.ln();
        if (entropy - target_entropy).abs() < 1e-5 {
            break;
        }
        if entropy > target_entropy {
            low = beta;
            beta = if high.is_finite() { (beta + high) / 2.0 } else { beta * 2.0 };
        } else {
            high = beta;
            beta = (beta + low) / 2.0;
        }
    }
    let sum: f64 = p.iter().sum();
    p.iter().map(|v| (v / sum) as f32).collect()
}

/// The new point's part of the t-SNE objective, up to a constant:
/// C(y) = −Σ_j p_j log w_j + log Σ_k w_k, with w = 1 / (1 + |y − y_k|²), and its gradient.
fn objective(y: [f64; 3], attractors: &[(Neighbour, f32)], positions: &PositionIndex) -> (f64, [f64; 3]) {
    let mut attraction = 0.0;
    let mut gradient = [0f64; 3];
    for (neighbour, p) in attractors {
        let q = positions.position(neighbour.index);
        let diff = [y[0] - f64::from(q[0]), y[1] - f64::from(q[1]), y[2] - f64::from(q[2])];
        let w = 1.0 / (1.0 + diff[0] * diff[0] + diff[1] * diff[1] + diff[2] * diff[2]);
        attraction -= f64::from(*p) * w.ln();
        for k in 0..3 {
            gradient[k] += 2.0 * f64::from(*p) * w * diff[k];
        }
    }
    let mut z = 0.0;
    let mut repulsion = [0f64; 3];
    for q in positions.iter() {
        let diff = [y[0] - f64::from(q[0]), y[1] - f64::from(q[1]), y[2] - f64::from(q[2])];
        let w = 1.0 / (1.0 + diff[0] * diff[0] + diff[1] * diff[1] + diff[2] * diff[2]);
        z += w;
        for k in 0..3 {
            repulsion[k] += 2.0 * w * w * diff[k];
        }
    }
    for k in 0..3 {
        gradient[k] -= repulsion[k] / z;
    }
    (attraction + z.ln(), gradient)
}

/// Gradient descent with a backtracking line search: the objective is one point's, so each step
/// can afford to evaluate it, and the result does not depend on a learning rate.
fn minimise(start: [f64; 3], attractors: &[(Neighbour, f32)], positions: &PositionIndex) -> ([f64; 3], usize) {
    const MAX_ITERATIONS: usize = 100;
    let (mut value, mut gradient) = objective(start, attractors, positions);
    let mut y = start;
    let mut step = 1.0;
    for iteration in 0..MAX_ITERATIONS {
        let norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
        if norm < 1e-7 {
            return (y, iteration);
        }
        let mut accepted = false;
        for _ in 0..40 {
            let candidate = [y[0] - step * gradient[0], y[1] - step * gradient[1], y[2] - step * gradient[2]];
            let (candidate_value, candidate_gradient) = objective(candidate, attractors, positions);
            if candidate_value <= value - 1e-4 * step * norm * norm {
                y = candidate;
                value = candidate_value;
                gradient = candidate_gradient;
                step *= 2.0;
                accepted = true;
                break;
            }
            step /= 2.0;
        }
        if !accepted {
            return (y, iteration);
        }
    }
    (y, MAX_ITERATIONS)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::space::TsneSettings;
    use crate::space::neighbours::Metric;
    use crate::space::test_data::blobs;
    use crate::space::tsne::tsne_3d;

    #[test]
    fn affinities_have_the_requested_perplexity() {
        let neighbours: Vec<Neighbour> =
            (0..30).map(|i| Neighbour { index: i, distance: 1.0 + i as f32 * 0.1 }).collect();
        let p = conditional_affinities(&neighbours, 10.0);
        let sum: f32 = p.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5);
        let entropy: f32 = -p.iter().filter(|&&v| v > 0.0).map(|v| v * v.ln()).sum::<f32>();
        assert!((entropy.exp() - 10.0).abs() < 0.05, "perplexity {}", entropy.exp());
        assert!(p.windows(2).all(|w| w[0] >= w[1]), "nearer neighbours weigh more");
    }

    #[test]
    fn a_new_point_lands_in_its_own_cluster_and_nothing_else_moves() {
        let dim = 16;
        let (values, labels) = blobs(5, 60, dim, 11);
        let settings = TsneSettings { iterations: 400, exaggeration_iterations: 150, ..TsneSettings::default() };
        let positions = tsne_3d(&values, dim, &settings, 0, &AtomicBool::new(false), &mut |_| {}).expect("projected");
        let before = positions.clone();
        let index = EmbeddingIndex::new(&values, dim, Metric::Euclidean).expect("index");
        let position_index = PositionIndex::new(positions.clone()).expect("index");

        // A fresh member of each cluster: the mean of two members, nudged.
        for cluster in 0..5 {
            let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == cluster).collect();
            let (a, b) = (members[3], members[7]);
            let vector: Vec<f32> = (0..dim).map(|k| (values[a * dim + k] + values[b * dim + k]) / 2.0 + 0.05).collect();
            let placement = place_point(&index.query_point(&vector), &index, &position_index, 30.0);
            assert!(placement.iterations > 0);
            let centre = |c: usize| {
                let m: Vec<&[f32; 3]> = (0..labels.len()).filter(|&i| labels[i] == c).map(|i| &positions[i]).collect();
                let mut s = [0f32; 3];
                for p in &m {
                    for k in 0..3 {
                        s[k] += p[k] / m.len() as f32;
                    }
                }
                s
            };
            let dist = |c: [f32; 3]| (0..3).map(|k| (c[k] - placement.position[k]).powi(2)).sum::<f32>().sqrt();
            let own = dist(centre(cluster));
            for other in (0..5).filter(|&c| c != cluster) {
                assert!(own < dist(centre(other)), "cluster {cluster}: {own} vs {}", dist(centre(other)));
            }
            // Its nearest map points are its embedding neighbours' cluster.
            let nearest_on_map = (0..positions.len())
                .min_by(|&x, &y| {
                    let dx = (0..3).map(|k| (positions[x][k] - placement.position[k]).powi(2)).sum::<f32>();
                    let dy = (0..3).map(|k| (positions[y][k] - placement.position[k]).powi(2)).sum::<f32>();
                    dx.total_cmp(&dy)
                })
                .expect("points");
            assert_eq!(labels[nearest_on_map], cluster);
        }
        assert_eq!(positions, before);
    }
}
