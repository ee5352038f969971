//! A library's map loaded for queries: embeddings and positions by track, with their indices.

use std::collections::HashMap;
use std::path::Path;

use super::neighbours::{EmbeddingIndex, IndexError, Metric, Neighbour, PositionIndex};
use super::place::{Placement, place_point};
use super::{ProjectionMethod, SpaceError};
use crate::library::{Embeddings, Library, load_embeddings, load_positions};

/// A fingerprint of embeddings (ids and values), to tell whether a map is still theirs.
pub fn embeddings_digest(embeddings: &Embeddings) -> u64 {
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    feed(&(embeddings.dim as u64).to_le_bytes());
    for id in &embeddings.ids {
        feed(&id.to_le_bytes());
    }
    for v in &embeddings.values {
        feed(&v.to_bits().to_le_bytes());
    }
    hash
}

/// Every track of a map, by row: its id, embedding and 3D position, with kd-trees over both.
pub struct Map {
    ids: Vec<u64>,
    row_of: HashMap<u64, usize>,
    dim: usize,
    embeddings: Vec<f32>,
    euclidean: EmbeddingIndex,
    cosine: EmbeddingIndex,
    positions: PositionIndex,
    /// The perplexity the map was made with (new points are placed with the same).
    perplexity: f32,
    method: ProjectionMethod,
}

impl Map {
    /// Loads the embeddings and positions beside `library_path`, refusing a map that was made
    /// from other embeddings.
    pub fn load(library: &Library, library_path: &Path) -> Result<Self, SpaceError> {
        let path = || library_path.to_path_buf();
        if library.embeddings.is_none() {
            return Err(SpaceError::NoEmbeddings { path: path() });
        }
        let Some(projection) = &library.projection else { return Err(SpaceError::NoMap { path: path() }) };
        let embeddings = load_embeddings(&library.embeddings_file(library_path))?;
        if embeddings_digest(&embeddings) != projection.embeddings_digest {
            return Err(SpaceError::StaleMap { path: path() });
        }
        let positions = load_positions(&library.positions_file(library_path))?;
        if positions.ids != embeddings.ids {
            return Err(SpaceError::StaleMap { path: path() });
        }
        let points = positions.values.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect();
        Ok(Self::new(
            embeddings.ids.clone(),
            embeddings.values,
            embeddings.dim,
            points,
            projection.perplexity,
            projection.settings.method,
        )?)
    }

    /// A map from its parts: `embeddings` holds `ids.len() × dim` values.
    pub fn new(
        ids: Vec<u64>,
        embeddings: Vec<f32>,
        dim: usize,
        positions: Vec<[f32; 3]>,
        perplexity: f32,
        method: ProjectionMethod,
    ) -> Result<Self, IndexError> {
        assert_eq!(ids.len() * dim, embeddings.len(), "one embedding per id");
        assert_eq!(ids.len(), positions.len(), "one position per id");
        let row_of = ids.iter().enumerate().map(|(row, &id)| (id, row)).collect();
        Ok(Self {
            euclidean: EmbeddingIndex::new(&embeddings, dim, Metric::Euclidean)?,
            cosine: EmbeddingIndex::new(&embeddings, dim, Metric::Cosine)?,
            positions: PositionIndex::new(positions)?,
            ids,
            row_of,
            dim,
            embeddings,
            perplexity,
            method,
        })
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn method(&self) -> ProjectionMethod {
        self.method
    }

    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    pub fn row(&self, id: u64) -> Option<usize> {
        self.row_of.get(&id).copied()
    }

    pub fn id(&self, row: usize) -> u64 {
        self.ids[row]
    }

    pub fn embedding(&self, row: usize) -> &[f32] {
        &self.embeddings[row * self.dim..(row + 1) * self.dim]
    }

    pub fn position(&self, row: usize) -> [f32; 3] {
        self.positions.positions()[row]
    }

    pub fn positions(&self) -> &[[f32; 3]] {
        self.positions.positions()
    }

    pub fn embedding_index(&self, metric: Metric) -> &EmbeddingIndex {
        match metric {
            Metric::Euclidean => &self.euclidean,
            Metric::Cosine => &self.cosine,
        }
    }

    pub fn position_index(&self) -> &PositionIndex {
        &self.positions
    }

    /// The `k` tracks nearest the track at `row` in embedding space, nearest first.
    pub fn neighbours(&self, row: usize, k: usize, metric: Metric) -> Vec<Neighbour> {
        self.embedding_index(metric).nearest_to(row, k)
    }

    /// The `k` tracks nearest an embedding that is not in the map.
    pub fn neighbours_of_vector(&self, embedding: &[f32], k: usize, metric: Metric) -> Vec<Neighbour> {
        let index = self.embedding_index(metric);
        index.nearest(&index.query_point(embedding), k, None)
    }

    /// Distance between two tracks on the map (to compare with their embedding distance).
    pub fn map_distance(&self, a: usize, b: usize) -> f32 {
        self.positions.distance(a, b)
    }

    /// Where a new embedding goes on this map, the existing points fixed. A PCA map uses the same
    /// placement: it puts the song among its embedding neighbours, though not exactly where a
    /// projection on the principal axes would.
    pub fn place(&self, embedding: &[f32]) -> Placement {
        place_point(
            &self.euclidean.query_point(embedding),
            &self.euclidean,
            self.positions.positions(),
            self.perplexity,
        )
    }

    /// Adds a track (rebuilding the kd-trees, which takes a fraction of a second at 100k).
    pub fn insert(&mut self, id: u64, embedding: &[f32], position: [f32; 3]) -> Result<usize, IndexError> {
        assert_eq!(embedding.len(), self.dim, "embedding of the wrong dimension");
        let mut positions = self.positions.positions().to_vec();
        let row = match self.row_of.get(&id) {
            Some(&row) => {
                self.embeddings[row * self.dim..(row + 1) * self.dim].copy_from_slice(embedding);
                positions[row] = position;
                row
            }
            None => {
                self.ids.push(id);
                self.row_of.insert(id, self.ids.len() - 1);
                self.embeddings.extend_from_slice(embedding);
                positions.push(position);
                self.ids.len() - 1
            }
        };
        self.euclidean = EmbeddingIndex::new(&self.embeddings, self.dim, Metric::Euclidean)?;
        self.cosine = EmbeddingIndex::new(&self.embeddings, self.dim, Metric::Cosine)?;
        self.positions = PositionIndex::new(positions)?;
        Ok(row)
    }
}
