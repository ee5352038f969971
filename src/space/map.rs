//! A library's map loaded for queries: embeddings and positions by track, with their indices.

use std::collections::HashMap;
use std::path::Path;

use super::neighbours::{EmbeddingIndex, IndexError, Metric, Neighbour, PositionIndex, RetiredTrees};
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

/// Songs that can be added to a map before its id tables grow.
const ADDED_WITHOUT_GROWING: usize = 256;

/// Every track of a map, by row: its id, embedding and 3D position, with kd-trees over both.
#[derive(Clone)]
pub struct Map {
    ids: Vec<u64>,
    row_of: HashMap<u64, usize>,
    dim: usize,
    indices: MapIndices,
    method: ProjectionMethod,
}

/// A map's neighbour indices and perplexity: what placing a song and finding its neighbours
/// need. A clone shares the kd-trees (it copies only songs added since they were built), so a
/// worker thread can place a dropped song or rebuild the trees while the window goes on.
#[derive(Clone)]
pub struct MapIndices {
    euclidean: EmbeddingIndex,
    cosine: EmbeddingIndex,
    positions: PositionIndex,
    /// The perplexity the map was made with (new points are placed with the same).
    perplexity: f32,
}

impl MapIndices {
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
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

    /// The `k` tracks nearest an embedding that is not in the map.
    pub fn neighbours_of_vector(&self, embedding: &[f32], k: usize, metric: Metric) -> Vec<Neighbour> {
        let index = self.embedding_index(metric);
        index.nearest(&index.query_point(embedding), k, None)
    }

    /// Where a new embedding goes on this map, the existing points fixed. A PCA map uses the same
    /// placement: it puts the song among its embedding neighbours, though not exactly where a
    /// projection on the principal axes would.
    pub fn place(&self, embedding: &[f32]) -> Placement {
        place_point(&self.euclidean.query_point(embedding), &self.euclidean, &self.positions, self.perplexity)
    }

    /// Whether songs were added (or moved) since the kd-trees were built: they are answered by
    /// a scan until [`MapIndices::rebuilt`] is adopted.
    pub fn has_unindexed(&self) -> bool {
        self.euclidean.has_unindexed() || self.cosine.has_unindexed() || self.positions.has_unindexed()
    }

    /// The same indices with every song in fresh kd-trees: O(n log n), for a worker thread.
    pub fn rebuilt(&self) -> Result<Self, IndexError> {
        Ok(Self {
            euclidean: self.euclidean.rebuilt()?,
            cosine: self.cosine.rebuilt()?,
            positions: self.positions.rebuilt()?,
            perplexity: self.perplexity,
        })
    }
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
        mut ids: Vec<u64>,
        embeddings: Vec<f32>,
        dim: usize,
        positions: Vec<[f32; 3]>,
        perplexity: f32,
        method: ProjectionMethod,
    ) -> Result<Self, IndexError> {
        assert_eq!(ids.len() * dim, embeddings.len(), "one embedding per id");
        assert_eq!(ids.len(), positions.len(), "one position per id");
        // Room for songs dropped later: growing (rehashing) 100k ids would hold the window's frame.
        let mut row_of = HashMap::with_capacity(ids.len() + ADDED_WITHOUT_GROWING);
        row_of.extend(ids.iter().enumerate().map(|(row, &id)| (id, row)));
        ids.reserve(ADDED_WITHOUT_GROWING);
        let indices = MapIndices {
            euclidean: EmbeddingIndex::new(&embeddings, dim, Metric::Euclidean)?,
            cosine: EmbeddingIndex::new(&embeddings, dim, Metric::Cosine)?,
            positions: PositionIndex::new(positions)?,
            perplexity,
        };
        Ok(Self { ids, row_of, dim, indices, method })
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
        // The Euclidean index keeps each vector as it is, padded with zeros.
        &self.indices.euclidean.point(row)[..self.dim]
    }

    pub fn position(&self, row: usize) -> [f32; 3] {
        self.indices.positions.position(row)
    }

    /// Every position, by row (a copy).
    pub fn positions(&self) -> Vec<[f32; 3]> {
        self.indices.positions.iter().copied().collect()
    }

    /// The kd-trees and the perplexity; clone them to place songs on another thread.
    pub fn indices(&self) -> &MapIndices {
        &self.indices
    }

    pub fn embedding_index(&self, metric: Metric) -> &EmbeddingIndex {
        self.indices.embedding_index(metric)
    }

    pub fn position_index(&self) -> &PositionIndex {
        self.indices.position_index()
    }

    /// The `k` tracks nearest the track at `row` in embedding space, nearest first.
    pub fn neighbours(&self, row: usize, k: usize, metric: Metric) -> Vec<Neighbour> {
        self.embedding_index(metric).nearest_to(row, k)
    }

    /// The `k` tracks nearest an embedding that is not in the map.
    pub fn neighbours_of_vector(&self, embedding: &[f32], k: usize, metric: Metric) -> Vec<Neighbour> {
        self.indices.neighbours_of_vector(embedding, k, metric)
    }

    /// Distance between two tracks on the map (to compare with their embedding distance).
    pub fn map_distance(&self, a: usize, b: usize) -> f32 {
        self.indices.positions.distance(a, b)
    }

    /// Where a new embedding goes on this map; see [`MapIndices::place`].
    pub fn place(&self, embedding: &[f32]) -> Placement {
        self.indices.place(embedding)
    }

    /// Adds a track, or moves one the map has: O(dim), nothing is rebuilt. The kd-trees answer
    /// for it by a scan until rebuilt trees are adopted ([`Map::adopt_indices`]).
    pub fn insert(&mut self, id: u64, embedding: &[f32], position: [f32; 3]) -> Result<usize, IndexError> {
        assert_eq!(embedding.len(), self.dim, "embedding of the wrong dimension");
        let indices = &mut self.indices;
        let row = match self.row_of.get(&id) {
            Some(&row) => {
                indices.euclidean.replace(row, embedding);
                indices.cosine.replace(row, embedding);
                indices.positions.replace(row, position);
                row
            }
            None => {
                let row = self.ids.len();
                self.ids.push(id);
                self.row_of.insert(id, row);
                indices.euclidean.push(embedding);
                indices.cosine.push(embedding);
                indices.positions.push(position);
                row
            }
        };
        Ok(row)
    }

    /// Takes kd-trees rebuilt (on another thread) from an earlier state of this map's indices,
    /// keeping the songs added since, and hands back the old trees (free them off the frame).
    /// `None`, and nothing changes, if the map changed in a way they cannot follow (a song moved
    /// meanwhile, or another map); rebuild again then.
    pub fn adopt_indices(&mut self, rebuilt: &MapIndices) -> Option<RetiredTrees> {
        let indices = &mut self.indices;
        let fits = indices.euclidean.can_adopt(&rebuilt.euclidean)
            && indices.cosine.can_adopt(&rebuilt.cosine)
            && indices.positions.can_adopt(&rebuilt.positions);
        if !fits {
            return None;
        }
        let mut retired = indices.euclidean.adopt(&rebuilt.euclidean)?;
        retired.append(indices.cosine.adopt(&rebuilt.cosine)?);
        retired.append(indices.positions.adopt(&rebuilt.positions)?);
        Some(retired)
    }
}
