//! Computing and storing every track's embedding for a library.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::inference::Embedder;
use super::store::{check_compatible, model_id};
use crate::error::{FileError, ModelError};
use crate::library::{
    EmbeddingSource, Embeddings, EmbeddingsInfo, FeatureCache, Library, commit_library, load_embeddings,
};

/// The folder of the model shipped with songspace: `$SONGSPACE_MODEL` if set, else the first
/// that holds one of the package's `<prefix>/share/songspace/models/genre-cnn` beside the program
/// (an installed program uses its own package's model), the source tree's `models/genre-cnn` (a
/// build uses its own tree's model while the tree is there),
/// `$XDG_DATA_HOME/songspace/models/genre-cnn` (where install-desktop copies it) and
/// `/usr/share/songspace/models/genre-cnn`.
pub fn default_model_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SONGSPACE_MODEL") {
        return Some(PathBuf::from(dir));
    }
    let candidates = [
        crate::library::installed_data_dir().map(|d| d.join("models/genre-cnn")),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/genre-cnn")),
        Some(crate::library::data_dir().join("models/genre-cnn")),
        Some(PathBuf::from("/usr/share/songspace/models/genre-cnn")),
    ];
    candidates.into_iter().flatten().find(|d| d.join("model.json").is_file())
}

/// The model training starts from by default: the shipped one, when there is one and it reads
/// the features `mel` describes (else why not).
pub fn fine_tuning_base(mel: &crate::audio::MelSettings) -> Result<PathBuf, String> {
    let dir = default_model_dir().ok_or_else(|| "no shipped model found".to_string())?;
    let info = super::store::load_model_info(&dir).map_err(|e| e.to_string())?;
    check_compatible(&info, &dir, mel).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// The folder of the model that computed a library's embeddings (`id`): the folder the library
/// records, or, when that holds another model or none (the library came from another machine, as
/// the bundled demo does), the shipped model if it is that model. A folder that now holds another
/// model (retrained in place, or a newer shipped model) is refused: a song embedded by another
/// model would land in a space the map was not made from.
pub fn recorded_model_dir(recorded: &Path, id: &str) -> Result<PathBuf, ModelError> {
    let is_that_model = |dir: &Path| dir.join("model.json").is_file() && model_id(dir).is_ok_and(|found| found == id);
    if is_that_model(recorded) {
        return Ok(recorded.to_path_buf());
    }
    if let Some(shipped) = default_model_dir().filter(|dir| is_that_model(dir)) {
        return Ok(shipped);
    }
    if recorded.join("model.json").is_file() {
        return Err(ModelError::Mismatch {
            path: recorded.to_path_buf(),
            what: format!(
                "holds another model than the one (id {id}) that made this library's embeddings; embed the library again with `songspace embed` (or import it again) to use it"
            ),
        });
    }
    Err(ModelError::Missing(recorded.to_path_buf()))
}

/// What a library's new tracks are embedded with.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelForNewTracks {
    /// The model that made the library's embeddings, else the shipped one.
    Model(PathBuf),
    /// The embeddings were loaded from this file: embedding with a model would replace them all,
    /// so new tracks stay without an embedding until the user embeds the library again.
    EmbeddingsFromFile(PathBuf),
    /// No model found (neither the library's nor the shipped one).
    NoModel,
}

pub fn model_for_new_tracks(library: &Library) -> ModelForNewTracks {
    let own = match &library.embeddings {
        Some(EmbeddingsInfo { source: EmbeddingSource::File { path }, .. }) => {
            return ModelForNewTracks::EmbeddingsFromFile(path.clone());
        }
        Some(EmbeddingsInfo { source: EmbeddingSource::Model { dir, id }, .. }) => recorded_model_dir(dir, id).ok(),
        None => None,
    };
    own.or_else(default_model_dir).map_or(ModelForNewTracks::NoModel, ModelForNewTracks::Model)
}

#[derive(Debug, Clone, Default)]
pub struct EmbedReport {
    pub computed: usize,
    /// Already embedded by the same model.
    pub reused: usize,
    /// Tracks without features (not imported correctly), left without an embedding.
    pub without_features: usize,
    pub failed: Vec<String>,
    pub cancelled: bool,
}

/// Embeds every track of `library` that has features and lacks an embedding from this model,
/// then saves the embeddings and the library (atomically). `on_progress(done, total)`.
pub fn embed_library(
    library: &mut Library,
    library_path: &Path,
    model_dir: &Path,
    cancel: &AtomicBool,
    on_progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<EmbedReport, ModelError> {
    let _lock = crate::library::lock_library(library_path, "embedding songs")?;
    let embedder = Embedder::load(model_dir)?;
    check_compatible(&embedder.info, model_dir, &library.mel)?;
    let id = model_id(model_dir)?;
    let dim = embedder.info.net.embedding_dim;
    let path = library.embeddings_file(library_path);
    let same_model = matches!(&library.embeddings, Some(EmbeddingsInfo { source: EmbeddingSource::Model { id: old, .. }, .. }) if *old == id);
    let mut embeddings = if same_model && path.is_file() { load_embeddings(&path)? } else { Embeddings::new(dim) };
    let present: std::collections::HashSet<u64> = library.tracks.iter().map(|t| t.id).collect();
    embeddings.retain(|id| present.contains(&id));

    let mut report = EmbedReport::default();
    let todo: Vec<u64> = library
        .tracks
        .iter()
        .filter(|t| {
            if t.features.is_none() {
                report.without_features += 1;
                false
            } else if embeddings.get(t.id).is_some() {
                report.reused += 1;
                false
            } else {
                true
            }
        })
        .map(|t| t.id)
        .collect();
    let cache = FeatureCache::for_library(library_path);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = todo.len();
    let results: Vec<(u64, Result<Vec<f32>, FileError>)> = todo
        .par_iter()
        .map(|&track_id| {
            if cancel.load(Ordering::Relaxed) {
                return (track_id, Ok(Vec::new()));
            }
            let result = cache.load(track_id, &library.mel).map(|mel| embedder.embed(&mel));
            on_progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            (track_id, result)
        })
        .collect();
    for (track_id, result) in results {
        match result {
            Ok(v) if v.len() == dim => {
                embeddings.insert(track_id, &v);
                report.computed += 1;
            }
            Ok(_) => {}
            Err(e) => report.failed.push(e.to_string()),
        }
    }
    report.cancelled = cancel.load(Ordering::Relaxed);
    // Half of another model's embeddings would replace all of the old ones: keep the old.
    if report.cancelled && !same_model {
        return Ok(report);
    }
    library.embeddings = Some(EmbeddingsInfo {
        source: EmbeddingSource::Model { id, dir: model_dir.to_path_buf() },
        dim,
        count: embeddings.len(),
        file: None,
    });
    commit_library(library, library_path, Some(&embeddings), None)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::SourceKind;

    #[test]
    fn embeddings_loaded_from_a_file_are_never_replaced_by_a_model_for_new_tracks() {
        let mut library = Library::new(PathBuf::from("/music"), SourceKind::Folder);
        let shipped = default_model_dir().expect("the source tree has the shipped model");
        assert_eq!(model_for_new_tracks(&library), ModelForNewTracks::Model(shipped.clone()));

        let file = PathBuf::from("/elsewhere/vectors.csv");
        library.embeddings = Some(EmbeddingsInfo {
            source: EmbeddingSource::File { path: file.clone() },
            dim: 32,
            count: 3,
            file: None,
        });
        assert_eq!(model_for_new_tracks(&library), ModelForNewTracks::EmbeddingsFromFile(file));

        // A model recorded on another machine: the shipped model stands in only if it is that model.
        let id = model_id(&shipped).expect("id");
        library.embeddings = Some(EmbeddingsInfo {
            source: EmbeddingSource::Model { id, dir: PathBuf::from("/gone/genre-cnn") },
            dim: 32,
            count: 3,
            file: None,
        });
        assert_eq!(model_for_new_tracks(&library), ModelForNewTracks::Model(shipped));
        assert!(matches!(recorded_model_dir(Path::new("/gone/genre-cnn"), "0000"), Err(ModelError::Missing(_))));
    }
}
