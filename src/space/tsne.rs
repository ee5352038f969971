//! 3D t-SNE (Barnes-Hut) with a deterministic PCA or spectral start, progress with position
//! snapshots, and cancellation; on any number of threads, with the same map on each.

use std::sync::atomic::AtomicBool;

use super::descent::{Affinities, Phase, descend};
use super::neighbours::all_nearest;
use super::pca::pca_3d;
use crate::library::{TsneInit, TsneSettings};

/// The automatic learning rate is this × n / exaggeration (at least 200) in each phase. openTSNE
/// uses 1 × n / exaggeration; with bhtsne's gradient, 4 measured best on a 10,000 × 32 mixture
/// (trustworthiness 0.9701 against 0.9694 at 1 and 0.9674 at 0.25; benches/space.rs).
pub const AUTO_LEARNING_RATE_FACTOR: f32 = 4.0;

/// The fewest points t-SNE is run on; smaller maps are laid out by PCA.
pub const MIN_TSNE_POINTS: usize = 4;

impl TsneSettings {
    /// The perplexity actually used for `n` points: bhtsne needs 3 × perplexity neighbours.
    pub fn effective_perplexity(&self, n: usize) -> f32 {
        let largest = (n.saturating_sub(1) / 3).max(1) as f32;
        self.perplexity.clamp(1.0, largest)
    }

    /// The learning rate of a phase run with `exaggeration`.
    pub fn effective_learning_rate(&self, n: usize, exaggeration: f32) -> f32 {
        self.learning_rate.unwrap_or_else(|| (AUTO_LEARNING_RATE_FACTOR * n as f32 / exaggeration.max(1.0)).max(200.0))
    }
}

/// Reported once per iteration; `positions` is the current layout (`n × 3`, row-major) for
/// whoever wants to animate it.
pub struct TsneProgress<'a> {
    pub iteration: usize,
    pub iterations: usize,
    pub positions: &'a [f32],
}

/// What happens before the iterations start (the neighbour search can take a while at 100k points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsneStage {
    Affinities,
    Optimising,
}

pub enum TsneEvent<'a> {
    Stage(TsneStage),
    Progress(TsneProgress<'a>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the projection was cancelled")]
pub struct Cancelled;

/// Runs t-SNE on `values` (`n × dim`) and returns `n` 3D positions, on `threads` threads (0: one
/// per core); the map is the same whatever the number. `cancel` is checked after every
/// iteration; `on_event` hears what is going on (from one thread of the pool at a time).
pub fn tsne_3d(
    values: &[f32],
    dim: usize,
    settings: &TsneSettings,
    threads: usize,
    cancel: &AtomicBool,
    on_event: &mut (dyn FnMut(TsneEvent<'_>) + Send),
) -> Result<Vec<[f32; 3]>, Cancelled> {
    let n = values.len() / dim;
    if n < MIN_TSNE_POINTS {
        return Ok(pca_3d(values, dim));
    }
    let mut run = move || {
        on_event(TsneEvent::Stage(TsneStage::Affinities));
        let perplexity = settings.effective_perplexity(n);
        let k = ((3.0 * perplexity) as usize).clamp(1, n - 1);
        // bhtsne's own neighbour search picks random vantage points, and the order in which
        // equally near neighbours come back changes the map; ours is exact and ordered.
        let neighbours = all_nearest(values, dim, k);
        let (affinities, start) = affinities_and_start(values, dim, neighbours, perplexity, settings);
        on_event(TsneEvent::Stage(TsneStage::Optimising));

        // Two phases, as openTSNE runs them: early exaggeration with momentum 0.5, then the true
        // affinities with momentum 0.8, each with its own learning rate (n / exaggeration by
        // default).
        let iterations = settings.iterations;
        let exaggerated = settings.exaggeration_iterations.min(iterations);
        let phases = [
            Phase {
                iterations: exaggerated,
                exaggeration: settings.early_exaggeration,
                learning_rate: settings.effective_learning_rate(n, settings.early_exaggeration),
                momentum: 0.5,
            },
            Phase {
                iterations: iterations - exaggerated,
                exaggeration: 1.0,
                learning_rate: settings.effective_learning_rate(n, 1.0),
                momentum: 0.8,
            },
        ];
        descend(affinities, &start, &phases, settings.theta, cancel, &mut |iteration, positions| {
            on_event(TsneEvent::Progress(TsneProgress { iteration, iterations, positions }))
        })
    };
    let flat = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(run),
        Err(_) => run(),
    }?;
    Ok(flat.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect())
}

/// P from the neighbours, and the start (the seeded PCA layout, or the spectral one of P).
/// bhtsne computes both, in a fit of no iterations on one thread: its sums over P are parallel
/// reductions, whose rounding would change with the number of threads.
fn affinities_and_start(
    values: &[f32],
    dim: usize,
    neighbours: Vec<Vec<super::Neighbour>>,
    perplexity: f32,
    settings: &TsneSettings,
) -> (Affinities, Vec<f32>) {
    let rows: Vec<&[f32]> = values.chunks_exact(dim).collect();
    // Converted row by row, each freed as it goes: at 100k points a table is 150 MB.
    let neighbours: Vec<Vec<bhtsne::Neighbor<f32>>> = neighbours
        .into_iter()
        .map(|row| row.into_iter().map(|nb| bhtsne::Neighbor { index: nb.index, distance: nb.distance }).collect())
        .collect();
    let fit = || {
        let mut tsne = bhtsne::tSNE::<f32, &[f32], 3>::new(&rows);
        // No exaggeration here: P comes back as it is, summing to 1.
        tsne.perplexity(perplexity).epochs(0).early_exaggeration(1.0);
        match initial_layout(values, dim, settings) {
            Some(layout) => tsne.initial_embedding(layout),
            None => tsne.spectral_init(),
        };
        // θ plays no part in a fit of no iterations; bhtsne only insists that it is positive.
        tsne.barnes_hut_with_neighbors(0.5, &neighbours);
        let p = tsne.affinities().expect("a Barnes-Hut fit leaves its affinities");
        let start = tsne.embedding();
        // bhtsne's own copy goes before ours is made: at 100k points each is 150 MB.
        drop(tsne);
        let affinities =
            Affinities { rows: p.rows().to_vec(), columns: p.columns().to_vec(), values: p.values().to_vec() };
        (affinities, start)
    };
    match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
        Ok(pool) => pool.install(fit),
        Err(_) => fit(),
    }
}

/// The PCA start (flattened), or `None` for the spectral one. A seeded jitter of 1% of the
/// spread is added so that tracks with identical embeddings can move apart.
fn initial_layout(values: &[f32], dim: usize, settings: &TsneSettings) -> Option<Vec<f32>> {
    if settings.init == TsneInit::Spectral {
        return None;
    }
    let pca = pca_3d(values, dim);
    let n = pca.len() as f64;
    let mean0 = pca.iter().map(|p| f64::from(p[0])).sum::<f64>() / n;
    let std0 = (pca.iter().map(|p| (f64::from(p[0]) - mean0).powi(2)).sum::<f64>() / n).sqrt();
    let scale = if std0 > 0.0 { 1e-4 / std0 } else { 1.0 };
    let mut state = settings.seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut jitter = || {
        // SplitMix64 to a uniform number in [-0.5, 0.5).
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    Some(pca.iter().flat_map(|p| p.map(|v| (f64::from(v) * scale + jitter() * 1e-6) as f32)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::test_data::blobs;
    use std::sync::atomic::Ordering;

    fn cluster_separation(positions: &[[f32; 3]], labels: &[usize]) -> f32 {
        // Fraction of points whose nearest other point has the same label.
        let mut same = 0;
        for (i, p) in positions.iter().enumerate() {
            let nearest = (0..positions.len())
                .filter(|&j| j != i)
                .min_by(|&a, &b| dist2(p, &positions[a]).total_cmp(&dist2(p, &positions[b])))
                .expect("more than one point");
            same += usize::from(labels[nearest] == labels[i]);
        }
        same as f32 / positions.len() as f32
    }

    fn dist2(a: &[f32; 3], b: &[f32; 3]) -> f32 {
        (0..3).map(|k| (a[k] - b[k]).powi(2)).sum()
    }

    #[test]
    fn separates_clusters_reproducibly_and_reports_every_iteration() {
        let (values, labels) = blobs(4, 50, 8, 1);
        let settings = TsneSettings { iterations: 300, exaggeration_iterations: 100, ..TsneSettings::default() };
        let mut seen = Vec::new();
        let mut stages = Vec::new();
        let never = AtomicBool::new(false);
        let first = tsne_3d(&values, 8, &settings, 0, &never, &mut |event| match event {
            TsneEvent::Stage(s) => stages.push(s),
            TsneEvent::Progress(p) => {
                assert_eq!(p.positions.len(), 200 * 3);
                seen.push(p.iteration);
            }
        })
        .expect("not cancelled");
        assert_eq!(stages, vec![TsneStage::Affinities, TsneStage::Optimising]);
        assert_eq!(seen, (1..=300).collect::<Vec<_>>());
        assert_eq!(first.len(), 200);
        assert!(first.iter().all(|p| p.iter().all(|v| v.is_finite())));
        assert!(cluster_separation(&first, &labels) > 0.98);

        let second = tsne_3d(&values, 8, &settings, 0, &never, &mut |_| {}).expect("not cancelled");
        let largest_difference =
            first.iter().zip(&second).flat_map(|(a, b)| (0..3).map(move |k| (a[k] - b[k]).abs())).fold(0f32, f32::max);
        assert!(largest_difference < 1e-3, "same seed, different maps: {largest_difference}");
    }

    #[test]
    fn the_map_is_the_same_bit_for_bit_on_any_number_of_threads() {
        // Enough points for several chunks of the force pass on every thread, and clusters that
        // sit close enough for many cells of the tree to be summarised.
        let (values, labels) = blobs(6, 150, 12, 4);
        let settings = TsneSettings { iterations: 120, exaggeration_iterations: 40, ..TsneSettings::default() };
        let never = AtomicBool::new(false);
        let on = |threads| tsne_3d(&values, 12, &settings, threads, &never, &mut |_| {}).expect("not cancelled");
        let one = on(1);
        assert!(cluster_separation(&one, &labels) > 0.95);
        for threads in [2, 3, 5] {
            let many = on(threads);
            let differing = one.iter().zip(&many).filter(|(a, b)| a.map(f32::to_bits) != b.map(f32::to_bits)).count();
            assert_eq!(differing, 0, "{threads} threads moved {differing} of {} points", one.len());
        }
        // And the affinities' spectral start is as reproducible as the PCA one.
        let spectral = TsneSettings { init: TsneInit::Spectral, ..settings.clone() };
        let first = tsne_3d(&values, 12, &spectral, 1, &never, &mut |_| {}).expect("not cancelled");
        let second = tsne_3d(&values, 12, &spectral, 4, &never, &mut |_| {}).expect("not cancelled");
        assert!(first.iter().zip(&second).all(|(a, b)| a.map(f32::to_bits) == b.map(f32::to_bits)));
        assert_ne!(first, one, "the spectral start is another start");
    }

    #[test]
    fn no_iterations_leave_the_start() {
        let (values, _) = blobs(3, 20, 5, 6);
        let settings = TsneSettings { iterations: 0, exaggeration_iterations: 0, ..TsneSettings::default() };
        let mut events = 0;
        let start = tsne_3d(&values, 5, &settings, 1, &AtomicBool::new(false), &mut |e| {
            events += usize::from(matches!(e, TsneEvent::Progress(_)));
        })
        .expect("not cancelled");
        assert_eq!(events, 0);
        // The PCA layout scaled to a spread of 1e-4, as the optimisation starts from it.
        let spread = (start.iter().map(|p| p[0] * p[0]).sum::<f32>() / start.len() as f32).sqrt();
        assert!((0.5e-4..2e-4).contains(&spread), "{spread}");
    }

    #[test]
    fn cancelling_stops_at_the_next_iteration() {
        let (values, _) = blobs(3, 30, 4, 2);
        let cancel = AtomicBool::new(false);
        let mut last = 0;
        let result = tsne_3d(&values, 4, &TsneSettings::default(), 0, &cancel, &mut |event| {
            if let TsneEvent::Progress(p) = event {
                last = p.iteration;
                if p.iteration == 10 {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        });
        assert_eq!(result, Err(Cancelled));
        assert_eq!(last, 10);
    }

    #[test]
    fn tiny_libraries_get_a_clamped_perplexity_or_pca() {
        let settings = TsneSettings::default();
        assert_eq!(settings.effective_perplexity(8), 2.0);
        assert_eq!(settings.effective_perplexity(1000), 30.0);
        let (values, _) = blobs(2, 4, 3, 3);
        let positions = tsne_3d(&values, 3, &settings, 0, &AtomicBool::new(false), &mut |_| {}).expect("not cancelled");
        assert_eq!(positions.len(), 8);
        let three =
            tsne_3d(&values[..9], 3, &settings, 0, &AtomicBool::new(false), &mut |_| {}).expect("not cancelled");
        assert_eq!(three, pca_3d(&values[..9], 3));
    }
}
