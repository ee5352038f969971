//! Nearest neighbours and radius queries: kiddo kd-trees over the embeddings (the learned
//! similarity) and over the 3D positions (what the map shows), and a sorted distance ranking
//! from one track that answers a moving distance slider in O(log n).

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use rayon::prelude::*;

/// Embeddings are kept in kd-trees of this many dimensions; shorter ones are padded with zeros,
/// which leaves every distance unchanged.
pub const MAX_EMBEDDING_DIM: usize = 32;

pub use crate::library::Metric;

/// A point found by a query: its row in the index and its distance from the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    pub index: usize,
    pub distance: f32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("embeddings of dimension {0} are longer than the {MAX_EMBEDDING_DIM} the neighbour index holds")]
    TooManyDimensions(usize),
    #[error("cannot build the neighbour index: {0}")]
    Build(String),
}

/// A kd-tree over `K`-dimensional points with squared-Euclidean queries.
///
/// Points added after the tree was built (a dropped song) are answered by a linear scan beside
/// the tree, so adding one costs O(K) and never rebuilds anything on the caller's thread; a
/// clone shares the tree, so [`PointIndex::rebuilt`] can run on a worker thread and
/// [`PointIndex::adopt`] swaps its tree in afterwards.
#[derive(Clone)]
pub struct PointIndex<const K: usize> {
    /// The points the tree was built from, rows `0..indexed.points.len()`.
    indexed: Arc<IndexedPoints<K>>,
    /// Rows added since, in order: they follow the indexed rows.
    added: Vec<[f32; K]>,
    /// Indexed rows whose point changed since the tree was built, with their new value.
    replaced: BTreeMap<usize, [f32; K]>,
    /// Counts replacements, so that a tree built before one is not adopted after it.
    replacements: u64,
    /// Which index this is, kept by its rebuilds: another map's tree is never adopted.
    lineage: u64,
}

/// Kd-trees an index no longer uses, handed back by `adopt` so that the caller frees them where
/// it suits it: freeing the trees of a hundred thousand songs takes milliseconds, too long for a
/// frame.
#[must_use = "dropping it frees the old trees here; hand it to another thread to free them there"]
#[derive(Default)]
pub struct RetiredTrees(Vec<Arc<dyn std::any::Any + Send + Sync>>);

impl RetiredTrees {
    pub fn append(&mut self, mut other: RetiredTrees) {
        self.0.append(&mut other.0);
    }
}

struct IndexedPoints<const K: usize> {
    points: Vec<[f32; K]>,
    tree: ImmutableKdTree<f32, K>,
}

impl<const K: usize> PointIndex<K> {
    pub fn new(points: Vec<[f32; K]>) -> Result<Self, IndexError> {
        let tree = ImmutableKdTree::new_from_slice(&points).map_err(|e| IndexError::Build(format!("{e:?}")))?;
        Ok(Self {
            indexed: Arc::new(IndexedPoints { points, tree }),
            added: Vec::new(),
            replaced: BTreeMap::new(),
            replacements: 0,
            lineage: {
                static NEXT: AtomicU64 = AtomicU64::new(1);
                NEXT.fetch_add(1, Ordering::Relaxed)
            },
        })
    }

    pub fn len(&self) -> usize {
        self.indexed.points.len() + self.added.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn point(&self, index: usize) -> &[f32; K] {
        let indexed = self.indexed.points.len();
        if index >= indexed {
            return &self.added[index - indexed];
        }
        if !self.replaced.is_empty()
            && let Some(point) = self.replaced.get(&index)
        {
            return point;
        }
        &self.indexed.points[index]
    }

    /// Every point, by row.
    pub fn iter(&self) -> impl Iterator<Item = &[f32; K]> + '_ {
        (0..self.len()).map(|i| self.point(i))
    }

    /// Appends a point (row `len()`), answered by a scan until the tree is rebuilt.
    pub fn push(&mut self, point: [f32; K]) -> usize {
        self.added.push(point);
        self.len() - 1
    }

    /// Gives row `index` a new point. Counted either way: a tree being rebuilt from before
    /// holds the old point, whether the row was in the old tree or added since.
    pub fn replace(&mut self, index: usize, point: [f32; K]) {
        let indexed = self.indexed.points.len();
        if index >= indexed {
            self.added[index - indexed] = point;
        } else {
            self.replaced.insert(index, point);
        }
        self.replacements += 1;
    }

    /// Whether some points are answered by the scan rather than the tree.
    pub fn has_unindexed(&self) -> bool {
        !self.added.is_empty() || !self.replaced.is_empty()
    }

    /// The same points, every one in a fresh tree: O(n log n), for a worker thread (a clone
    /// shares the old tree and copies only the unindexed points).
    pub fn rebuilt(&self) -> Result<Self, IndexError> {
        let mut rebuilt = Self::new(self.iter().copied().collect())?;
        rebuilt.replacements = self.replacements;
        rebuilt.lineage = self.lineage;
        Ok(rebuilt)
    }

    /// Takes a tree that [`PointIndex::rebuilt`] made from an earlier state of this index,
    /// keeping the points added since, and hands back the old one. Refused (`None`, nothing
    /// changes) if the tree cannot follow what happened since: a point replaced, another
    /// index's tree, or more rows than this index has.
    pub fn adopt(&mut self, rebuilt: &Self) -> Option<RetiredTrees> {
        if !self.can_adopt(rebuilt) {
            return None;
        }
        let (old_indexed, new_indexed) = (self.indexed.points.len(), rebuilt.indexed.points.len());
        let old = std::mem::replace(&mut self.indexed, Arc::clone(&rebuilt.indexed));
        self.added.drain(..new_indexed - old_indexed);
        self.replaced.clear();
        Some(RetiredTrees(vec![old]))
    }

    /// Whether [`PointIndex::adopt`] would take `rebuilt`.
    pub fn can_adopt(&self, rebuilt: &Self) -> bool {
        let (old_indexed, new_indexed) = (self.indexed.points.len(), rebuilt.indexed.points.len());
        rebuilt.lineage == self.lineage
            && rebuilt.replacements == self.replacements
            && rebuilt.added.is_empty()
            && (old_indexed..=self.len()).contains(&new_indexed)
    }

    /// Rows the tree cannot answer for: those added since it was built, and those replaced.
    fn unindexed_rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.replaced.keys().copied().chain(self.indexed.points.len()..self.len())
    }

    /// The `k` points nearest `query` by squared distance, nearest first, `exclude` left out.
    fn nearest_squared(&self, query: &[f32; K], k: usize, exclude: Option<usize>) -> Vec<Neighbour> {
        let skip = |index: usize| Some(index) == exclude || self.replaced.contains_key(&index);
        let wanted = (k + usize::from(exclude.is_some()) + self.replaced.len()).min(self.indexed.points.len());
        let mut found: Vec<Neighbour> = match NonZeroUsize::new(wanted) {
            None => Vec::new(),
            Some(wanted) => self
                .indexed
                .tree
                .query(query)
                .nearest_n::<SquaredEuclidean<f32>>(wanted)
                .execute()
                .into_iter()
                .map(|r| Neighbour { index: r.item as usize, distance: r.distance })
                .filter(|n| !skip(n.index))
                .collect(),
        };
        found.extend(
            self.unindexed_rows()
                .filter(|&index| Some(index) != exclude)
                .map(|index| Neighbour { index, distance: squared_distance(self.point(index), query) }),
        );
        // Equal distances come back in tree order; the index breaks ties so results are stable.
        found.sort_by(|a, b| a.distance.total_cmp(&b.distance).then(a.index.cmp(&b.index)));
        found.truncate(k);
        found
    }

    /// Every point within squared distance `radius_squared` of `query`, in no particular order.
    fn within_squared(&self, query: &[f32; K], radius_squared: f32) -> Vec<Neighbour> {
        let mut found: Vec<Neighbour> = self
            .indexed
            .tree
            .query(query)
            .within::<SquaredEuclidean<f32>>(radius_squared)
            .unsorted()
            .execute()
            .into_iter()
            .map(|r| Neighbour { index: r.item as usize, distance: r.distance })
            .filter(|n| !self.replaced.contains_key(&n.index))
            .collect();
        found.extend(
            self.unindexed_rows()
                .map(|index| Neighbour { index, distance: squared_distance(self.point(index), query) })
                .filter(|n| n.distance <= radius_squared),
        );
        found
    }

    fn squared_distances_from(&self, query: &[f32; K]) -> Vec<f32> {
        (0..self.len()).into_par_iter().map(|i| squared_distance(self.point(i), query)).collect()
    }
}

fn squared_distance<const K: usize>(a: &[f32; K], b: &[f32; K]) -> f32 {
    let mut sum = 0.0;
    for k in 0..K {
        let d = a[k] - b[k];
        sum += d * d;
    }
    sum
}

/// Neighbours in embedding space under a metric.
#[derive(Clone)]
pub struct EmbeddingIndex {
    metric: Metric,
    dim: usize,
    index: PointIndex<MAX_EMBEDDING_DIM>,
}

impl EmbeddingIndex {
    /// `values` holds `n × dim` numbers, row-major.
    pub fn new(values: &[f32], dim: usize, metric: Metric) -> Result<Self, IndexError> {
        if dim > MAX_EMBEDDING_DIM || dim == 0 {
            return Err(IndexError::TooManyDimensions(dim));
        }
        let points = values.chunks_exact(dim).map(|row| prepare(row, metric)).collect();
        Ok(Self { metric, dim, index: PointIndex::new(points)? })
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// A vector as this index stores it (padded; normalised for cosine), for queries.
    pub fn query_point(&self, vector: &[f32]) -> [f32; MAX_EMBEDDING_DIM] {
        assert_eq!(vector.len(), self.dim, "query of the wrong dimension");
        prepare(vector, self.metric)
    }

    pub fn point(&self, index: usize) -> &[f32; MAX_EMBEDDING_DIM] {
        self.index.point(index)
    }

    /// Appends a vector (row `len()`); O(dim), see [`PointIndex`].
    pub fn push(&mut self, vector: &[f32]) -> usize {
        let point = self.query_point(vector);
        self.index.push(point)
    }

    /// Gives row `index` a new vector.
    pub fn replace(&mut self, index: usize, vector: &[f32]) {
        let point = self.query_point(vector);
        self.index.replace(index, point);
    }

    pub fn has_unindexed(&self) -> bool {
        self.index.has_unindexed()
    }

    /// See [`PointIndex::rebuilt`].
    pub fn rebuilt(&self) -> Result<Self, IndexError> {
        Ok(Self { metric: self.metric, dim: self.dim, index: self.index.rebuilt()? })
    }

    pub fn can_adopt(&self, rebuilt: &Self) -> bool {
        self.metric == rebuilt.metric && self.dim == rebuilt.dim && self.index.can_adopt(&rebuilt.index)
    }

    /// See [`PointIndex::adopt`].
    pub fn adopt(&mut self, rebuilt: &Self) -> Option<RetiredTrees> {
        if !self.can_adopt(rebuilt) {
            return None;
        }
        self.index.adopt(&rebuilt.index)
    }

    /// The `k` nearest to a vector, nearest first, with distances under the index's metric.
    pub fn nearest(&self, query: &[f32; MAX_EMBEDDING_DIM], k: usize, exclude: Option<usize>) -> Vec<Neighbour> {
        self.to_metric(self.index.nearest_squared(query, k, exclude))
    }

    /// The `k` nearest to the point at `index`, itself left out.
    pub fn nearest_to(&self, index: usize, k: usize) -> Vec<Neighbour> {
        self.nearest(self.index.point(index), k, Some(index))
    }

    /// Every point within `radius` (under the metric) of `query`, nearest first.
    pub fn within(&self, query: &[f32; MAX_EMBEDDING_DIM], radius: f32) -> Vec<Neighbour> {
        let radius_squared = match self.metric {
            Metric::Euclidean => radius * radius,
            Metric::Cosine => 2.0 * radius,
        };
        let mut found = self.to_metric(self.index.within_squared(query, radius_squared.max(0.0)));
        found.sort_by(|a, b| a.distance.total_cmp(&b.distance).then(a.index.cmp(&b.index)));
        found
    }

    pub fn distance(&self, a: usize, b: usize) -> f32 {
        self.metric_distance(squared_distance(self.index.point(a), self.index.point(b)))
    }

    /// Every point's distance from `query`, ranked: what a distance slider needs.
    pub fn ranking_from(&self, query: &[f32; MAX_EMBEDDING_DIM]) -> DistanceRanking {
        DistanceRanking::new(
            self.index.squared_distances_from(query).into_iter().map(|d| self.metric_distance(d)).collect(),
        )
    }

    fn metric_distance(&self, squared: f32) -> f32 {
        match self.metric {
            Metric::Euclidean => squared.max(0.0).sqrt(),
            Metric::Cosine => (squared / 2.0).clamp(0.0, 2.0),
        }
    }

    fn to_metric(&self, mut found: Vec<Neighbour>) -> Vec<Neighbour> {
        for n in &mut found {
            n.distance = self.metric_distance(n.distance);
        }
        found
    }
}

/// The `k` nearest neighbours of every point, itself left out, nearest first (ties by index):
/// exact, and the same on every run and every machine, which t-SNE's reproducibility rests on.
/// Each distance is the plain sum of `(b − a)²` over the dimensions in order
/// ([`plain_squared_distance`]). Found by a matrix product that ranks every pair roughly and the
/// plain sum on the few pairs rounding leaves in doubt (`candidates.rs`, which says why that is
/// exact); tables whose scale the product's error bound cannot cover are scanned.
pub fn all_nearest(values: &[f32], dim: usize, k: usize) -> Vec<Vec<Neighbour>> {
    assert!(dim > 0 && values.len().is_multiple_of(dim), "values must be n × dim");
    let n = values.len() / dim;
    let k = k.min(n.saturating_sub(1));
    if k > 0
        && let Some(found) = super::candidates::all_nearest_by_products(values, dim, k)
    {
        return found;
    }
    all_nearest_by_scan(values, dim, k)
}

/// [`all_nearest`] by a linear scan of every pair with the plain sum (`k` below `n`). Not the
/// kd-tree: in 32 dimensions a kd-tree visits most leaves for 90 neighbours. The rows are stored
/// 8 at a time, transposed, and 4 queries are measured against each block together: one pass
/// over the dimensions gives 32 distances, each loaded column serves 4 queries, and the 8 running
/// sums are independent, where one query's 2 sums made every addition wait for the last. Each
/// distance is the same sum in the same order whatever the grouping or the vector width, so the
/// result does not depend on either.
pub(super) fn all_nearest_by_scan(values: &[f32], dim: usize, k: usize) -> Vec<Vec<Neighbour>> {
    let n = values.len() / dim;
    let transposed = transposed(values, dim);
    let scan = Scan { transposed: &transposed, values, dim, n, k };
    (0..n.div_ceil(QUERIES)).into_par_iter().flat_map_iter(|group| scan.group(group * QUERIES)).collect()
}

/// The squared distance the neighbour search measures: `(b − a)²` summed over the dimensions in
/// order from 0, unfused, as the scan's lanes sum it.
pub(super) fn plain_squared_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0f32, |sum, (x, y)| {
        let difference = y - x;
        sum + difference * difference
    })
}

/// The rows (`n × dim`) in blocks of [`LANES`], each block stored by dimension: value `d` of row
/// `r` at `(r / LANES) × dim × LANES + d × LANES + r % LANES`; a short last block padded with 0.
fn transposed(values: &[f32], dim: usize) -> Vec<f32> {
    let n = values.len() / dim;
    let mut transposed = vec![0f32; n.div_ceil(LANES) * dim * LANES];
    for (row, vector) in values.chunks_exact(dim).enumerate() {
        let block = &mut transposed[(row / LANES) * dim * LANES..][..dim * LANES];
        for (d, &value) in vector.iter().enumerate() {
            block[d * LANES + row % LANES] = value;
        }
    }
    transposed
}

/// Rows per transposed block: two 128-bit vectors of f32 (the portable build's SSE2), one of AVX.
const LANES: usize = 8;

/// Queries measured together against each block: 4 × 8 running sums fill 8 of SSE2's 16 vector
/// registers, leaving room for the column and the queries' values. 8 queries with AVX (8 sums of
/// 8 lanes) were 5 times slower than 4: the compiler no longer kept the sums in registers.
const QUERIES: usize = 4;

struct Scan<'a> {
    transposed: &'a [f32],
    values: &'a [f32],
    dim: usize,
    n: usize,
    k: usize,
}

impl Scan<'_> {
    /// The neighbours of the queries `first..first + QUERIES` (fewer at the end of the table).
    fn group(&self, first: usize) -> Vec<Vec<Neighbour>> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: `group_avx` only needs AVX, which this CPU was just found to have. It runs
            // the same operations in the same order as the portable path (Rust never fuses a
            // multiplication and an addition), so the neighbours are the same bit for bit.
            #[allow(unsafe_code)]
            return unsafe { self.group_avx(first) };
        }
        self.queries(first)
    }

    /// The portable scan compiled for AVX: twice the lanes per instruction on most x86-64 CPUs
    /// of the last decade, while the binary still runs on the rest.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    fn group_avx(&self, first: usize) -> Vec<Vec<Neighbour>> {
        self.queries(first)
    }

    #[inline(always)]
    fn queries(&self, first: usize) -> Vec<Vec<Neighbour>> {
        let Self { transposed, values, dim, n, k } = *self;
        let count = QUERIES.min(n - first);
        // The group's values by dimension; a short last group repeats its first query.
        let queries: Vec<[f32; QUERIES]> = (0..dim)
            .map(|d| std::array::from_fn(|q| values[(first + if q < count { q } else { 0 }) * dim + d]))
            .collect();
        let mut heaps: [NearestHeap; QUERIES] = std::array::from_fn(|q| NearestHeap::new(k, first + q));
        for (block_index, block) in transposed.chunks_exact(dim * LANES).enumerate() {
            let mut sums = [[0f32; LANES]; QUERIES];
            for (values, column) in queries.iter().zip(block.chunks_exact(LANES)) {
                for q in 0..QUERIES {
                    for lane in 0..LANES {
                        let difference = column[lane] - values[q];
                        sums[q][lane] += difference * difference;
                    }
                }
            }
            for (heap, sums) in heaps.iter_mut().zip(&sums).take(count) {
                for (lane, &distance) in sums.iter().enumerate() {
                    let row = block_index * LANES + lane;
                    if row < n {
                        heap.offer(distance, row);
                    }
                }
            }
        }
        heaps.into_iter().take(count).map(NearestHeap::into_sorted).collect()
    }
}

/// The best `k` rows so far for one query, by (squared distance, row).
pub(super) struct NearestHeap {
    best: std::collections::BinaryHeap<(OrderedDistance, usize)>,
    k: usize,
    itself: usize,
    /// The k-th best distance once there are k, infinity before.
    worst: f32,
}

impl NearestHeap {
    pub(super) fn new(k: usize, itself: usize) -> Self {
        Self { best: std::collections::BinaryHeap::with_capacity(k + 1), k, itself, worst: f32::INFINITY }
    }

    #[inline(always)]
    pub(super) fn offer(&mut self, distance: f32, row: usize) {
        if distance > self.worst || row == self.itself || self.k == 0 {
            return;
        }
        let candidate = (OrderedDistance(distance), row);
        if self.best.len() < self.k {
            self.best.push(candidate);
        } else if self.best.peek().is_some_and(|top| candidate < *top) {
            self.best.pop();
            self.best.push(candidate);
        }
        if self.best.len() == self.k {
            self.worst = self.best.peek().map_or(f32::INFINITY, |top| top.0.0);
        }
    }

    pub(super) fn into_sorted(self) -> Vec<Neighbour> {
        self.best
            .into_sorted_vec()
            .into_iter()
            .map(|(d, index)| Neighbour { index, distance: d.0.max(0.0).sqrt() })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedDistance(f32);

impl Eq for OrderedDistance {}

impl PartialOrd for OrderedDistance {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedDistance {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

fn prepare(vector: &[f32], metric: Metric) -> [f32; MAX_EMBEDDING_DIM] {
    let mut point = [0f32; MAX_EMBEDDING_DIM];
    point[..vector.len()].copy_from_slice(vector);
    if metric == Metric::Cosine {
        let norm = point.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            point.iter_mut().for_each(|v| *v /= norm);
        }
    }
    point
}

/// Neighbours on the map (Euclidean distance between 3D positions).
#[derive(Clone)]
pub struct PositionIndex {
    index: PointIndex<3>,
    /// A box holding every position (it only grows when a position moves: still a bound).
    bounds: Option<([f32; 3], [f32; 3])>,
}

impl PositionIndex {
    pub fn new(positions: Vec<[f32; 3]>) -> Result<Self, IndexError> {
        let bounds = positions.iter().fold(None, |bounds, p| Some(grown(bounds, p)));
        Ok(Self { index: PointIndex::new(positions)?, bounds })
    }

    /// The smallest and largest coordinate on each axis, or a box that holds them (None when
    /// there is no position).
    pub fn bounds(&self) -> Option<([f32; 3], [f32; 3])> {
        self.bounds
    }

    /// The rows whose position lies within `radius` of `query`, in no particular order.
    pub fn rows_within(&self, query: &[f32; 3], radius: f32) -> impl Iterator<Item = usize> {
        self.index.within_squared(query, radius * radius).into_iter().map(|n| n.index)
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn position(&self, index: usize) -> [f32; 3] {
        *self.index.point(index)
    }

    /// Every position, by row.
    pub fn iter(&self) -> impl Iterator<Item = &[f32; 3]> + '_ {
        self.index.iter()
    }

    /// Appends a position (row `len()`); O(1), see [`PointIndex`].
    pub fn push(&mut self, position: [f32; 3]) -> usize {
        self.bounds = Some(grown(self.bounds, &position));
        self.index.push(position)
    }

    pub fn replace(&mut self, index: usize, position: [f32; 3]) {
        self.bounds = Some(grown(self.bounds, &position));
        self.index.replace(index, position);
    }

    pub fn has_unindexed(&self) -> bool {
        self.index.has_unindexed()
    }

    /// See [`PointIndex::rebuilt`].
    pub fn rebuilt(&self) -> Result<Self, IndexError> {
        let index = self.index.rebuilt()?;
        let bounds = index.iter().fold(None, |bounds, p| Some(grown(bounds, p)));
        Ok(Self { index, bounds })
    }

    pub fn can_adopt(&self, rebuilt: &Self) -> bool {
        self.index.can_adopt(&rebuilt.index)
    }

    /// See [`PointIndex::adopt`].
    pub fn adopt(&mut self, rebuilt: &Self) -> Option<RetiredTrees> {
        self.index.adopt(&rebuilt.index)
    }

    pub fn nearest(&self, query: &[f32; 3], k: usize, exclude: Option<usize>) -> Vec<Neighbour> {
        let mut found = self.index.nearest_squared(query, k, exclude);
        found.iter_mut().for_each(|n| n.distance = n.distance.sqrt());
        found
    }

    pub fn nearest_to(&self, index: usize, k: usize) -> Vec<Neighbour> {
        self.nearest(self.index.point(index), k, Some(index))
    }

    pub fn within(&self, query: &[f32; 3], radius: f32) -> Vec<Neighbour> {
        let mut found = self.index.within_squared(query, radius * radius);
        found.iter_mut().for_each(|n| n.distance = n.distance.sqrt());
        found.sort_by(|a, b| a.distance.total_cmp(&b.distance).then(a.index.cmp(&b.index)));
        found
    }

    pub fn distance(&self, a: usize, b: usize) -> f32 {
        squared_distance(self.index.point(a), self.index.point(b)).sqrt()
    }

    pub fn ranking_from(&self, query: &[f32; 3]) -> DistanceRanking {
        DistanceRanking::new(self.index.squared_distances_from(query).into_iter().map(f32::sqrt).collect())
    }
}

/// `bounds` grown to hold `point`.
fn grown(bounds: Option<([f32; 3], [f32; 3])>, point: &[f32; 3]) -> ([f32; 3], [f32; 3]) {
    let (mut low, mut high) = bounds.unwrap_or((*point, *point));
    for axis in 0..3 {
        low[axis] = low[axis].min(point[axis]);
        high[axis] = high[axis].max(point[axis]);
    }
    (low, high)
}

/// All points ordered by their distance from one point. Built once when a track is selected
/// (a linear pass and a sort); after that "which points are within d" is a binary search and a
/// slice, so a slider can move every frame at any library size.
#[derive(Debug, Clone, Default)]
pub struct DistanceRanking {
    /// Point indices, nearest first.
    order: Vec<u32>,
    /// Their distances, ascending.
    sorted: Vec<f32>,
    /// Distance of each point, by index.
    by_index: Vec<f32>,
}

impl DistanceRanking {
    pub fn new(distances: Vec<f32>) -> Self {
        let mut order: Vec<u32> = (0..distances.len() as u32).collect();
        order.par_sort_unstable_by(|&a, &b| distances[a as usize].total_cmp(&distances[b as usize]).then(a.cmp(&b)));
        let sorted = order.iter().map(|&i| distances[i as usize]).collect();
        Self { order, sorted, by_index: distances }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// How many points lie within `radius` (inclusive).
    pub fn count_within(&self, radius: f32) -> usize {
        self.sorted.partition_point(|&d| d <= radius)
    }

    /// The points within `radius`, nearest first.
    pub fn within(&self, radius: f32) -> &[u32] {
        &self.order[..self.count_within(radius)]
    }

    pub fn distance_of(&self, index: usize) -> f32 {
        self.by_index[index]
    }

    /// The farthest point's distance: the slider's useful maximum.
    pub fn max_distance(&self) -> f32 {
        self.sorted.last().copied().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_force(values: &[f32], dim: usize, query: usize, metric: Metric) -> Vec<(usize, f32)> {
        let rows: Vec<&[f32]> = values.chunks_exact(dim).collect();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let mut all: Vec<(usize, f32)> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != query)
            .map(|(i, row)| {
                let d = match metric {
                    Metric::Euclidean => row.iter().zip(rows[query]).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt(),
                    Metric::Cosine => {
                        1.0 - row.iter().zip(rows[query]).map(|(a, b)| a * b).sum::<f32>()
                            / (norm(row) * norm(rows[query]))
                    }
                };
                (i, d)
            })
            .collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1));
        all
    }

    fn random_values(n: usize, dim: usize) -> Vec<f32> {
        let mut state = 99u64;
        (0..n * dim)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn nearest_and_within_match_brute_force_for_both_metrics() {
        let dim = 32;
        let values = random_values(500, dim);
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let index = EmbeddingIndex::new(&values, dim, metric).expect("index");
            for query in [0, 17, 499] {
                let expected = brute_force(&values, dim, query, metric);
                let found = index.nearest_to(query, 3);
                assert_eq!(
                    found.iter().map(|n| n.index).collect::<Vec<_>>(),
                    vec![expected[0].0, expected[1].0, expected[2].0]
                );
                for (n, e) in found.iter().zip(&expected) {
                    assert!((n.distance - e.1).abs() < 1e-4, "{metric}: {} vs {}", n.distance, e.1);
                }
                // Halfway between the 21st and 22nd nearest, clear of rounding at the boundary.
                let radius = (expected[20].1 + expected[21].1) / 2.0;
                let inside: Vec<usize> =
                    index.within(index.point(query), radius).iter().map(|n| n.index).filter(|&i| i != query).collect();
                assert_eq!(inside.len(), expected.iter().filter(|e| e.1 <= radius + 1e-6).count(), "{metric}");
                let ranking = index.ranking_from(index.point(query));
                assert_eq!(ranking.count_within(radius) - 1, inside.len(), "{metric}: ranking and tree agree");
                assert_eq!(ranking.within(radius)[0] as usize, query);
            }
        }
    }

    #[test]
    fn all_nearest_is_exact_and_ordered() {
        // 301 rows: the last block of 8 and the last group of 4 queries are short.
        for dim in [32, 5] {
            let values = random_values(301, dim);
            let table = all_nearest(&values, dim, 12);
            assert_eq!(table.len(), 301);
            for query in [0, 1, 2, 3, 150, 299, 300] {
                let expected = brute_force(&values, dim, query, Metric::Euclidean);
                let found: Vec<usize> = table[query].iter().map(|n| n.index).collect();
                assert_eq!(found, expected.iter().take(12).map(|e| e.0).collect::<Vec<_>>(), "dim {dim}");
                assert!(table[query].windows(2).all(|w| w[0].distance <= w[1].distance));
                // Each distance is the plain sum over the dimensions in order, bit for bit,
                // whatever the lanes and the grouping of queries.
                for neighbour in &table[query] {
                    let (a, b) = (&values[query * dim..][..dim], &values[neighbour.index * dim..][..dim]);
                    let sum = a.iter().zip(b).fold(0f32, |sum, (x, y)| sum + (y - x) * (y - x));
                    assert_eq!(neighbour.distance.to_bits(), sum.sqrt().to_bits(), "dim {dim}, query {query}");
                }
            }
        }
        assert!(all_nearest(&[1.0, 2.0], 1, 5)[0].len() == 1, "k is capped at n − 1");
    }

    #[test]
    fn the_portable_scan_and_what_this_cpu_runs_agree_bit_for_bit() {
        // `group` takes the AVX path where the CPU has it; `queries` is the portable code.
        let (n, dim, k) = (203, 32, 9);
        let values = random_values(n, dim);
        let transposed = transposed(&values, dim);
        let scan = Scan { transposed: &transposed, values: &values, dim, n, k };
        let bits = |found: Vec<Vec<Neighbour>>| -> Vec<(usize, u32)> {
            found.into_iter().flatten().map(|nb| (nb.index, nb.distance.to_bits())).collect()
        };
        for first in (0..n).step_by(QUERIES) {
            assert_eq!(bits(scan.group(first)), bits(scan.queries(first)), "queries from {first}");
        }
        assert_eq!(
            bits(all_nearest(&values, dim, k)),
            bits((0..n).step_by(QUERIES).flat_map(|f| scan.queries(f)).collect())
        );
    }

    #[test]
    fn shorter_embeddings_are_padded_and_longer_ones_refused() {
        let values = random_values(50, 8);
        let index = EmbeddingIndex::new(&values, 8, Metric::Euclidean).expect("index");
        let expected = brute_force(&values, 8, 5, Metric::Euclidean);
        assert_eq!(index.nearest_to(5, 1)[0].index, expected[0].0);
        assert!(EmbeddingIndex::new(&random_values(2, 40), 40, Metric::Euclidean).is_err());
    }

    #[test]
    fn many_identical_points_are_indexed() {
        let mut values = vec![0.25f32; 32 * 300];
        values.extend(random_values(10, 32));
        let index = EmbeddingIndex::new(&values, 32, Metric::Euclidean).expect("index");
        let found = index.nearest_to(0, 3);
        assert_eq!(found.len(), 3);
        assert!(found.iter().all(|n| n.distance == 0.0));
    }

    #[test]
    fn ranking_answers_slider_positions() {
        let ranking = DistanceRanking::new(vec![3.0, 0.0, 1.0, 2.0, 1.0]);
        assert_eq!(ranking.count_within(0.5), 1);
        assert_eq!(ranking.within(1.0), &[1, 2, 4]);
        assert_eq!(ranking.count_within(10.0), 5);
        assert_eq!(ranking.max_distance(), 3.0);
        assert_eq!(ranking.distance_of(3), 2.0);
    }

    #[test]
    fn positions_index_finds_neighbours_on_the_map() {
        let positions = vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 3.0, 0.0], [10.0, 10.0, 10.0]];
        let index = PositionIndex::new(positions).expect("index");
        let found = index.nearest_to(0, 2);
        assert_eq!(found, vec![Neighbour { index: 1, distance: 1.0 }, Neighbour { index: 2, distance: 3.0 }]);
        assert_eq!(index.within(&[0.0, 0.0, 0.0], 2.0).len(), 2);
    }

    /// Nearest, within and ranking against brute force over the index's own points.
    fn check_against_brute_force(index: &EmbeddingIndex, values: &[f32], dim: usize) {
        let n = values.len() / dim;
        assert_eq!(index.len(), n);
        for query in [0, n / 2, n - 1] {
            let expected = brute_force(values, dim, query, Metric::Euclidean);
            let found: Vec<usize> = index.nearest_to(query, 5).iter().map(|m| m.index).collect();
            assert_eq!(found, expected.iter().take(5).map(|e| e.0).collect::<Vec<_>>(), "query {query}");
            let radius = (expected[9].1 + expected[10].1) / 2.0;
            let mut inside: Vec<usize> = index.within(index.point(query), radius).iter().map(|m| m.index).collect();
            inside.retain(|&i| i != query);
            inside.sort_unstable();
            let mut want: Vec<usize> = expected.iter().take(10).map(|e| e.0).collect();
            want.sort_unstable();
            assert_eq!(inside, want, "query {query}");
            assert_eq!(index.ranking_from(index.point(query)).count_within(radius), 11);
        }
    }

    #[test]
    fn points_added_after_the_tree_are_found_before_and_after_the_rebuilt_tree_is_adopted() {
        let dim = 32;
        let mut values = random_values(400, dim);
        let mut index = EmbeddingIndex::new(&values, dim, Metric::Euclidean).expect("index");
        let extra = random_values(420, dim);
        // Six songs added (the last a copy of song 3, so it is song 3's nearest) and one moved.
        for row in 400..406 {
            let v =
                if row == 405 { values[3 * dim..4 * dim].to_vec() } else { extra[row * dim..(row + 1) * dim].to_vec() };
            assert_eq!(index.push(&v), row);
            values.extend(v);
        }
        let moved: Vec<f32> = values[..dim].iter().map(|v| v + 0.3).collect();
        index.replace(7, &moved);
        values[7 * dim..8 * dim].copy_from_slice(&moved);
        assert!(index.has_unindexed());
        check_against_brute_force(&index, &values, dim);
        assert_eq!(index.nearest_to(3, 1)[0], Neighbour { index: 405, distance: 0.0 });

        // The rebuild runs on a clone (another thread in the window); two more songs come meanwhile.
        let rebuilt = index.rebuilt().expect("rebuilt");
        for row in 406..408 {
            let v = extra[row * dim..(row + 1) * dim].to_vec();
            index.push(&v);
            values.extend(v);
        }
        assert!(index.adopt(&rebuilt).is_some(), "the same index, only songs added since");
        assert!(index.has_unindexed(), "the two songs added during the rebuild are still scanned");
        check_against_brute_force(&index, &values, dim);
        let again = index.rebuilt().expect("rebuilt");
        assert!(index.adopt(&again).is_some());
        assert!(!index.has_unindexed());
        check_against_brute_force(&index, &values, dim);

        // Not adopted: a tree from before a song moved (one in the old tree, or one added
        // since and in the snapshot), or another map's tree.
        let stale = index.rebuilt().expect("rebuilt");
        index.replace(0, &moved);
        assert!(index.adopt(&stale).is_none());
        let last = index.len();
        index.push(&extra[408 * dim..409 * dim]);
        values.extend_from_slice(&extra[408 * dim..409 * dim]);
        let before_move = index.rebuilt().expect("rebuilt");
        index.replace(last, &moved);
        values[last * dim..(last + 1) * dim].copy_from_slice(&moved);
        assert!(index.adopt(&before_move).is_none(), "the rebuilt tree holds the song's old place");
        let other = EmbeddingIndex::new(&values, dim, Metric::Euclidean).expect("index");
        assert!(index.adopt(&other.rebuilt().expect("rebuilt")).is_none());
        values[..dim].copy_from_slice(&moved);
        check_against_brute_force(&index, &values, dim);
    }

    #[test]
    fn positions_added_after_the_tree_are_on_the_map() {
        let mut index = PositionIndex::new(vec![[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]]).expect("index");
        assert_eq!(index.push([1.0, 0.0, 0.0]), 2);
        assert_eq!(index.nearest_to(0, 1), vec![Neighbour { index: 2, distance: 1.0 }]);
        assert_eq!(index.within(&[0.0, 0.0, 0.0], 1.5).len(), 2);
        assert_eq!(index.iter().count(), 3);
        let rebuilt = index.rebuilt().expect("rebuilt");
        assert!(index.adopt(&rebuilt).is_some() && !index.has_unindexed());
        assert_eq!(index.position(2), [1.0, 0.0, 0.0]);
        assert_eq!(index.nearest_to(0, 1), vec![Neighbour { index: 2, distance: 1.0 }]);
    }
}
