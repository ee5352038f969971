//! How a library's map is made and what it was made from, as the library file records it: the
//! projection's settings (t-SNE's among them) and the record of the positions beside the library.
//! The map's code (`space`) computes with these; the file format does not depend on it.

use serde::{Deserialize, Serialize};

/// Which projection lays out the map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum ProjectionMethod {
    /// t-SNE: neighbourhoods kept, distances between far clusters not meaningful. Minutes at 100k.
    #[default]
    Tsne,
    /// The first three principal components: instant, linear, clusters overlap more.
    Pca,
}

impl std::fmt::Display for ProjectionMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tsne => "t-SNE",
            Self::Pca => "PCA",
        })
    }
}

/// How a library's map is computed; saved in the library.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MapSettings {
    pub method: ProjectionMethod,
    pub tsne: TsneSettings,
}

/// What the positions beside a library were computed from, so they are reused until the
/// embeddings or the settings change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectionInfo {
    pub settings: MapSettings,
    /// [`crate::space::embeddings_digest`] of the embeddings projected.
    pub embeddings_digest: u64,
    pub count: usize,
    /// The perplexity actually used (clamped for small libraries).
    pub perplexity: f32,
    pub seconds: f32,
    /// The file beside the library that holds the positions (see
    /// [`crate::library::commit_library`]); `None` in older libraries: `<stem>.positions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// How the embedding starts. bhtsne's own default is random, which costs trustworthiness (the
/// global layout is left to chance); both of these start from the data's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TsneInit {
    /// The top three principal components, scaled to a standard deviation of 1e-4 (openTSNE's).
    Pca,
    /// The spectral embedding of the affinity graph (bhtsne's solver).
    Spectral,
}

/// t-SNE settings, saved in the library so a map is recomputed only when they change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TsneSettings {
    /// Effective number of neighbours each point attends to; clamped to (n − 1) / 3.
    pub perplexity: f32,
    /// Gradient step; `None` scales it with the number of points for each phase (see
    /// `AUTO_LEARNING_RATE_FACTOR` in the t-SNE code).
    pub learning_rate: Option<f32>,
    /// Optimisation iterations in all, the early-exaggeration ones included.
    pub iterations: usize,
    /// Iterations at the start during which attractions are exaggerated, to form clusters.
    pub exaggeration_iterations: usize,
    pub early_exaggeration: f32,
    /// Barnes-Hut accuracy: 0 would be exact; larger is faster and coarser.
    pub theta: f32,
    /// Seeds the tiny jitter added to the start, which separates tracks with equal embeddings.
    pub seed: u64,
    pub init: TsneInit,
}

impl Default for TsneSettings {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            learning_rate: None,
            // openTSNE runs 250 + 500; past 150 + 350 trustworthiness stopped improving here.
            iterations: 500,
            exaggeration_iterations: 150,
            early_exaggeration: 12.0,
            theta: 0.5,
            seed: 42,
            init: TsneInit::Pca,
        }
    }
}

impl TsneSettings {
    /// Checks settings read from a library file before t-SNE runs with them: the first value
    /// outside its allowed range, named, with the range (bhtsne asserts on a theta of 0, and a
    /// billion iterations would never end).
    pub fn check(&self) -> Result<(), String> {
        let within = |field: &str, value: f32, low: f32, high: f32| {
            if value.is_finite() && (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(format!("map setting {field} is {value}, outside the allowed {low} to {high}"))
            }
        };
        within("perplexity", self.perplexity, 1.0, 1000.0)?;
        if let Some(rate) = self.learning_rate {
            within("learning_rate", rate, 1.0, 1e6)?;
        }
        within("iterations", self.iterations as f32, 1.0, 100_000.0)?;
        within("exaggeration_iterations", self.exaggeration_iterations as f32, 0.0, self.iterations as f32)?;
        within("early_exaggeration", self.early_exaggeration, 1.0, 1000.0)?;
        within("theta", self.theta, 0.01, 2.0)
    }
}
