//! 3D t-SNE (Barnes-Hut, through bhtsne) with a deterministic PCA or spectral start, progress with
//! position snapshots, and cancellation.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Marker unwound through bhtsne's loop to stop it: the library offers no way out of a fit.
struct CancelUnwind;

/// Runs t-SNE on `values` (`n × dim`) and returns `n` 3D positions. `cancel` is checked after
/// every iteration; `on_event` hears what is going on (on another thread: the fit runs in a
/// one-thread pool).
pub fn tsne_3d(
    values: &[f32],
    dim: usize,
    settings: &TsneSettings,
    cancel: &AtomicBool,
    on_event: &mut (dyn FnMut(TsneEvent<'_>) + Send),
) -> Result<Vec<[f32; 3]>, Cancelled> {
    let n = values.len() / dim;
    if n < MIN_TSNE_POINTS {
        return Ok(pca_3d(values, dim));
    }
    let rows: Vec<&[f32]> = values.chunks_exact(dim).collect();
    let initial = initial_layout(values, dim, settings);
    let iterations = settings.iterations.max(1);

    on_event(TsneEvent::Stage(TsneStage::Affinities));
    // bhtsne's own neighbour search picks random vantage points, and the order in which equally
    // near neighbours come back changes the map; ours is exact and ordered.
    let perplexity = settings.effective_perplexity(n);
    let k = ((3.0 * perplexity) as usize).clamp(1, n - 1);
    let neighbours: Vec<Vec<bhtsne::Neighbor<f32>>> = all_nearest(values, dim, k)
        .into_iter()
        .map(|row| row.into_iter().map(|nb| bhtsne::Neighbor { index: nb.index, distance: nb.distance }).collect())
        .collect();
    let mut started = false;
    let mut report = |iteration: usize, positions: &[f32]| {
        if !started {
            started = true;
            on_event(TsneEvent::Stage(TsneStage::Optimising));
        }
        on_event(TsneEvent::Progress(TsneProgress { iteration, iterations, positions }));
        if cancel.load(Ordering::Relaxed) {
            resume_unwind(Box::new(CancelUnwind));
        }
    };
    // Two phases, as openTSNE runs them: early exaggeration with momentum 0.5, then the true
    // affinities with momentum 0.8, each with its own learning rate (n / exaggeration by default).
    // bhtsne keeps one learning rate for a whole fit, so each phase is a fit of its own, the
    // second starting where the first ended.
    let exaggerated = settings.exaggeration_iterations.min(iterations);
    let fit = || {
        let mut layout = initial;
        if exaggerated > 0 {
            let phase = Phase {
                epochs: exaggerated,
                exaggeration: settings.early_exaggeration,
                learning_rate: settings.effective_learning_rate(n, settings.early_exaggeration),
                momentum: 0.5,
            };
            layout =
                Some(phase.run(&rows, &neighbours, perplexity, settings.theta, layout, &mut |epoch, positions| {
                    report(epoch + 1, positions)
                }));
        }
        if iterations > exaggerated {
            let phase = Phase {
                epochs: iterations - exaggerated,
                exaggeration: 1.0,
                learning_rate: settings.effective_learning_rate(n, 1.0),
                momentum: 0.8,
            };
            layout =
                Some(phase.run(&rows, &neighbours, perplexity, settings.theta, layout, &mut |epoch, positions| {
                    report(exaggerated + epoch + 1, positions)
                }));
        }
        layout.unwrap_or_default()
    };
    // bhtsne sums some quantities (P's total, the layout's mean) with rayon, whose reduction order
    // changes from run to run; t-SNE amplifies those rounding differences into a different map.
    // One thread keeps the map a function of the embeddings and the settings.
    let outcome = catch_unwind(AssertUnwindSafe(|| match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
        Ok(pool) => pool.install(fit),
        Err(_) => fit(),
    }));
    match outcome {
        Ok(flat) => Ok(flat.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect()),
        Err(payload) if payload.is::<CancelUnwind>() => Err(Cancelled),
        Err(payload) => resume_unwind(payload),
    }
}

/// The PCA start (flattened), or `None` for the spectral one. A seeded jitter of 1% of the
/// spread is added so that tracks with identical embeddings can move apart.
/// One run of bhtsne's optimiser with fixed exaggeration, learning rate and momentum.
struct Phase {
    epochs: usize,
    exaggeration: f32,
    learning_rate: f32,
    momentum: f32,
}

impl Phase {
    /// Runs from `start` (the spectral embedding when `None`) and returns the layout, flattened.
    fn run(
        &self,
        rows: &[&[f32]],
        neighbours: &[Vec<bhtsne::Neighbor<f32>>],
        perplexity: f32,
        theta: f32,
        start: Option<Vec<f32>>,
        on_epoch: &mut dyn FnMut(usize, &[f32]),
    ) -> Vec<f32> {
        let mut tsne = bhtsne::tSNE::<f32, &[f32], 3>::new(rows);
        tsne.perplexity(perplexity)
            .epochs(self.epochs)
            .learning_rate(self.learning_rate)
            .early_exaggeration(self.exaggeration)
            // The exaggeration lasts the whole phase (0 would switch it off from the start).
            .stop_lying_epoch(if self.exaggeration > 1.0 { self.epochs } else { 0 })
            .momentum(self.momentum)
            .final_momentum(self.momentum)
            .epoch_callback(|epoch, positions| on_epoch(epoch, positions));
        match start {
            Some(layout) => tsne.initial_embedding(layout),
            None => tsne.spectral_init(),
        };
        tsne.barnes_hut_with_neighbors(theta, neighbours);
        tsne.embedding()
    }
}

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
        let first = tsne_3d(&values, 8, &settings, &never, &mut |event| match event {
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

        let second = tsne_3d(&values, 8, &settings, &never, &mut |_| {}).expect("not cancelled");
        let largest_difference =
            first.iter().zip(&second).flat_map(|(a, b)| (0..3).map(move |k| (a[k] - b[k]).abs())).fold(0f32, f32::max);
        assert!(largest_difference < 1e-3, "same seed, different maps: {largest_difference}");
    }

    #[test]
    fn cancelling_stops_at_the_next_iteration() {
        let (values, _) = blobs(3, 30, 4, 2);
        let cancel = AtomicBool::new(false);
        let mut last = 0;
        let result = tsne_3d(&values, 4, &TsneSettings::default(), &cancel, &mut |event| {
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
        let positions = tsne_3d(&values, 3, &settings, &AtomicBool::new(false), &mut |_| {}).expect("not cancelled");
        assert_eq!(positions.len(), 8);
        let three = tsne_3d(&values[..9], 3, &settings, &AtomicBool::new(false), &mut |_| {}).expect("not cancelled");
        assert_eq!(three, pca_3d(&values[..9], 3));
    }
}
