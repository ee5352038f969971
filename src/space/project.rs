//! Computing a library's map and saving it beside the library.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::map::embeddings_digest;
use super::pca::pca_3d;
use super::tsne::{TsneEvent, TsneStage, tsne_3d};
use super::{ProjectionInfo, ProjectionMethod, SpaceError};
use crate::library::{Embeddings, Library, commit_library, load_embeddings};

/// What a projection is doing, for a progress bar or an animated view.
pub enum ProjectEvent<'a> {
    /// Finding each point's neighbours and affinities (no progress within this step).
    Affinities { points: usize, perplexity: f32 },
    /// One optimisation step done; `positions` is the current layout, `n × 3` row-major, in the
    /// order of `ids`.
    Iteration { iteration: usize, iterations: usize, ids: &'a [u64], positions: &'a [f32] },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectOutcome {
    pub method: ProjectionMethod,
    pub points: usize,
    /// True when the saved map was still current and nothing was computed.
    pub reused: bool,
    pub perplexity: f32,
    pub seconds: f32,
}

/// Projects the library's embeddings to 3D with its map settings, unless the saved positions
/// already come from the same embeddings and settings (or `force`). Saves the positions and the
/// library, each atomically; on cancel nothing is written. The t-SNE runs on `threads` threads
/// (0: one per core); the map does not depend on how many.
pub fn project_library(
    library: &mut Library,
    library_path: &Path,
    force: bool,
    threads: usize,
    cancel: &AtomicBool,
    on_event: &mut (dyn FnMut(ProjectEvent<'_>) + Send),
) -> Result<ProjectOutcome, SpaceError> {
    let _lock = crate::library::lock_library(library_path, "laying out the map")?;
    if library.embeddings.is_none() {
        return Err(SpaceError::NoEmbeddings { path: library_path.to_path_buf() });
    }
    let embeddings = load_embeddings(&library.embeddings_file(library_path))?;
    let digest = embeddings_digest(&embeddings);
    let settings = library.map.clone();
    if !force
        && let Some(info) = &library.projection
        && info.embeddings_digest == digest
        && info.settings == settings
        && library.positions_file(library_path).is_file()
    {
        return Ok(ProjectOutcome {
            method: settings.method,
            points: info.count,
            reused: true,
            perplexity: info.perplexity,
            seconds: 0.0,
        });
    }

    let started = Instant::now();
    let n = embeddings.len();
    let perplexity = settings.tsne.effective_perplexity(n);
    let positions = match settings.method {
        ProjectionMethod::Pca => pca_3d(&embeddings.values, embeddings.dim),
        ProjectionMethod::Tsne => {
            let ids = &embeddings.ids;
            let mut forward = |event: TsneEvent<'_>| match event {
                TsneEvent::Stage(TsneStage::Affinities) => on_event(ProjectEvent::Affinities { points: n, perplexity }),
                TsneEvent::Stage(TsneStage::Optimising) => {}
                TsneEvent::Progress(p) => on_event(ProjectEvent::Iteration {
                    iteration: p.iteration,
                    iterations: p.iterations,
                    ids,
                    positions: p.positions,
                }),
            };
            tsne_3d(&embeddings.values, embeddings.dim, &settings.tsne, threads, cancel, &mut forward)?
        }
    };
    let seconds = started.elapsed().as_secs_f32();

    let mut stored = Embeddings::new(3);
    for (id, position) in embeddings.ids.iter().zip(&positions) {
        stored.insert(*id, position);
    }
    library.projection = Some(ProjectionInfo {
        settings: settings.clone(),
        embeddings_digest: digest,
        count: n,
        perplexity,
        seconds,
        file: None,
    });
    commit_library(library, library_path, None, Some(&stored))?;
    Ok(ProjectOutcome { method: settings.method, points: n, reused: false, perplexity, seconds })
}
