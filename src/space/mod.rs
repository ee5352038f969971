//! The map: embeddings projected to 3D (t-SNE, or PCA), nearest neighbours in embedding space and
//! on the map, distance filtering, and placing a new song into a finished map. Plain Rust with no
//! UI dependency.

mod candidates;
mod descent;
mod locate;
mod map;
mod neighbours;
mod pca;
mod place;
mod project;
mod quality;
mod repulsion;
mod tsne;

pub use locate::{
    Embedded, LocateTimings, Located, add_located_track, embed_file, library_paths_of, locate_file, new_track,
    place_embedded, save_added_track, track_for_located,
};
pub use map::{Map, MapIndices, embeddings_digest};
pub use neighbours::{
    DistanceRanking, EmbeddingIndex, IndexError, MAX_EMBEDDING_DIM, Metric, Neighbour, PointIndex, PositionIndex,
    RetiredTrees, all_nearest,
};
pub use pca::pca_3d;
pub use place::{Placement, place_point};
pub use project::{ProjectEvent, ProjectOutcome, project_library};
pub use quality::{label_agreement, trustworthiness};
pub use tsne::{Cancelled, MIN_TSNE_POINTS, TsneEvent, TsneProgress, TsneStage, tsne_3d};
// The map's settings and record are part of the library's file, so they live in `library`.
pub use crate::library::{MapSettings, ProjectionInfo, ProjectionMethod, TsneInit, TsneSettings};

/// Errors of the map commands; each says which file or what is missing.
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    #[error("{path}: no embeddings yet; run `songspace embed` (or `songspace import-embeddings`) first")]
    NoEmbeddings { path: std::path::PathBuf },
    #[error("{path}: no map yet; run `songspace project` first")]
    NoMap { path: std::path::PathBuf },
    #[error("{path}: the map was computed from other embeddings than the current ones; run `songspace project` again")]
    StaleMap { path: std::path::PathBuf },
    #[error("{path} is already in the library, as track {id}")]
    AlreadyInLibrary { path: std::path::PathBuf, id: u64 },
    #[error("track {id} is not in the map of {path}")]
    UnknownTrack { id: u64, path: std::path::PathBuf },
    #[error("{0}")]
    File(#[from] crate::error::FileError),
    #[error("{0}")]
    Index(#[from] IndexError),
    #[error("{0}")]
    Cancelled(#[from] Cancelled),
}

#[cfg(test)]
pub(crate) mod test_data {
    /// `clusters` well-separated Gaussian blobs in `dim` dimensions, `per_cluster` points each,
    /// with each point's cluster.
    pub fn blobs(clusters: usize, per_cluster: usize, dim: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut state = seed;
        let mut normal = move || {
            let mut u = || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64).max(1e-12)
            };
            let (a, b) = (u(), u());
            ((-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()) as f32
        };
        let centres: Vec<Vec<f32>> = (0..clusters).map(|_| (0..dim).map(|_| normal() * 10.0).collect()).collect();
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for (label, centre) in centres.iter().enumerate() {
            for _ in 0..per_cluster {
                values.extend(centre.iter().map(|c| c + normal()));
                labels.push(label);
            }
        }
        (values, labels)
    }
}
