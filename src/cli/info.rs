use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use crate::library::{FeatureCache, Library, SourceKind, Split, load_embeddings, load_library, resolve_library_path};
use crate::space::{ProjectionMethod, embeddings_digest};

pub fn run(arg: &Path, as_json: bool) -> anyhow::Result<ExitCode> {
    let path = resolve_library_path(arg)?;
    let library = load_library(&path)?;
    let summary = Summary::of(&library, &path);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&summary.to_json(&library, &path))?);
    } else {
        summary.print(&library, &path);
    }
    Ok(ExitCode::SUCCESS)
}

struct Summary {
    features: usize,
    /// Tracks with a position, and whether the map still matches the embeddings.
    map: Option<(usize, bool)>,
    missing: Vec<String>,
    without_genre: usize,
}

impl Summary {
    fn of(library: &Library, path: &Path) -> Self {
        let cache = FeatureCache::for_library(path);
        Self {
            features: library.tracks.iter().filter(|t| t.features.is_some() && cache.contains(t.id)).count(),
            map: library.projection.as_ref().map(|p| {
                let current = load_embeddings(&library.embeddings_file(path))
                    .is_ok_and(|e| embeddings_digest(&e) == p.embeddings_digest)
                    && library.positions_file(path).is_file();
                (p.count, current)
            }),
            missing: library.missing_files().iter().map(|t| t.path.display().to_string()).collect(),
            without_genre: library.tracks.iter().filter(|t| t.genre.is_none()).count(),
        }
    }

    fn split_counts(library: &Library) -> [(String, usize); 3] {
        [Split::Training, Split::Validation, Split::Test]
            .map(|s| (format!("{s:?}").to_lowercase(), library.tracks.iter().filter(|t| t.split == Some(s)).count()))
    }

    fn to_json(&self, library: &Library, path: &Path) -> serde_json::Value {
        let splits: serde_json::Map<String, serde_json::Value> =
            Self::split_counts(library).into_iter().map(|(k, v)| (k, json!(v))).collect();
        json!({
            "library": path,
            "root": library.root,
            "source": source_name(library.source),
            "tracks": library.tracks.len(),
            "genres": library.genre_counts(),
            "tracks_without_genre": self.without_genre,
            "splits": splits,
            "computed": {
                "features": self.features,
                "embeddings": library.embeddings.as_ref().map_or(0, |e| e.count),
                "embedding_dim": library.embeddings.as_ref().map(|e| e.dim),
                "positions": self.map.map_or(0, |m| m.0),
                "map_current": self.map.is_some_and(|m| m.1),
                "map_method": library.projection.as_ref().map(|p| p.settings.method.to_string()),
            },
            "missing_files": self.missing,
            "rejected": library.rejected.iter().map(|r| json!({"path": r.path, "reason": r.reason})).collect::<Vec<_>>(),
        })
    }

    fn print(&self, library: &Library, path: &Path) {
        println!("library:   {}", path.display());
        println!("music:     {} ({})", library.root.display(), source_name(library.source));
        println!("tracks:    {}", library.tracks.len());
        let total = library.tracks.len();
        let embeddings = library.embeddings.as_ref().map_or(0, |e| e.count);
        let positions = self.map.map_or(0, |m| m.0);
        println!(
            "computed:  features {}/{total}, embeddings {embeddings}/{total}, positions {positions}/{total}",
            self.features
        );
        if let Some(e) = &library.embeddings {
            let source = match &e.source {
                crate::library::EmbeddingSource::Model { dir, .. } => format!("model {}", dir.display()),
                crate::library::EmbeddingSource::File { path } => format!("file {}", path.display()),
            };
            println!("embedding: {} dimensions, from {source}", e.dim);
        }
        if let (Some(p), Some((_, current))) = (&library.projection, self.map) {
            let method = match p.settings.method {
                ProjectionMethod::Tsne => format!(
                    "t-SNE (perplexity {}, {} iterations, seed {})",
                    p.perplexity, p.settings.tsne.iterations, p.settings.tsne.seed
                ),
                ProjectionMethod::Pca => "PCA".to_string(),
            };
            let state = if current { "" } else { "; out of date, run `songspace project`" };
            println!("map:       {method}, {:.1} s{state}", p.seconds);
        }
        let splits = Self::split_counts(library);
        if splits.iter().any(|(_, n)| *n > 0) {
            let text: Vec<String> = splits.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!("split:     {}", text.join(", "));
        }
        let counts = library.genre_counts();
        println!("genres:    {}", counts.len());
        let width = counts.keys().map(|k| k.chars().count()).max().unwrap_or(0);
        let mut by_count: Vec<_> = counts.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (genre, n) in by_count {
            println!("  {genre:<width$}  {n:>6}");
        }
        if self.without_genre > 0 {
            println!("  {:<width$}  {:>6}", "(no genre)", self.without_genre);
        }
        println!("missing:   {} file(s) not found on disk", self.missing.len());
        for m in self.missing.iter().take(10) {
            println!("  {m}");
        }
        if self.missing.len() > 10 {
            println!("  … and {} more", self.missing.len() - 10);
        }
        if !library.rejected.is_empty() {
            println!("rejected:  {} file(s) could not be imported", library.rejected.len());
            for r in &library.rejected {
                println!("  {}: {}", r.path.display(), r.reason);
            }
        }
    }
}

fn source_name(source: SourceKind) -> &'static str {
    match source {
        SourceKind::Fma => "fma",
        SourceKind::Folder => "folder",
    }
}
