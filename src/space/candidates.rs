//! The exact `k` nearest neighbours of every point, found in two passes: a matrix product ranks
//! every pair roughly, and only the pairs that rounding could still put among a point's `k`
//! nearest are measured again with the exact scan's own sum. The result is the scan's, bit for
//! bit (the same distances, the same order, the same ties), at a fraction of its cost: the
//! product uses fused multiply-adds and the CPU's widest vectors (gemm picks AVX2 or AVX-512 at
//! run time), where the scan's `(a − b)²` needs three instructions per term and must not fuse
//! them to stay the same on every CPU.
//!
//! Why the re-measured pairs are enough. The rough distance `|q|² + |r|² − 2 q·r` is computed on
//! centred vectors (the mean subtracted, which leaves every distance unchanged) as one dot
//! product of `dim + 2` terms. Whatever the order of the sums and whether they fuse, its error is
//! at most `ε (|q|² + |r|²)`, with `ε` below `(3 dim + 8) u` for the unit roundoff `u` (the dot
//! product's `γ` bound, the norms' own rounding and the centring's); `SLACK_PER_TERM` takes more
//! than twice that. The exact sum `p` of `dim` non-negative terms is within a factor `1 ± g` of the
//! true distance. If `t` is the `k`-th smallest rough distance of some rows seen so far, `k` rows
//! have true distances below `t + E` (`E` the error bound with the largest norm of any row), so the
//! `k`-th exact distance is at most `(t + E)(1 + g)`, and any row among the exact `k` nearest has a
//! rough distance at most `(t + E)(1 + g) / (1 − g) + E`. Rows above that bound are dropped; the
//! bound only shrinks as rows are seen, so no row that ends among the nearest is ever dropped.

use rayon::prelude::*;

use super::neighbours::{NearestHeap, Neighbour, plain_squared_distance};

/// Queries whose rough distances are computed together: the block of products (queries ×
/// [`TILE_ROWS`] floats, 512 KiB) and the tile of rows stay in one core's L2 cache.
const QUERY_BLOCK: usize = 128;
/// Rows per matrix product.
const TILE_ROWS: usize = 1024;

/// The rough distances' error bound per unit roundoff, per term of the dot product: more than
/// twice what the analysis above gives (`3 dim + 8` for `dim + 2` terms).
const SLACK_PER_TERM: f32 = 8.0;

/// Below this squared norm (of the largest centred row) rounding near the floats' underflow is
/// no longer relative, so the bound above would not hold: such tables go to the plain scan. So
/// do tables whose squared norms come near overflowing.
const SMALLEST_NORM: f32 = 1e-20;
const LARGEST_NORM: f32 = f32::MAX / 64.0;

/// The `k` nearest neighbours of each of the `n` rows of `values` (`n × dim`), itself left out,
/// nearest first, ties by row; `None` where the values' scale keeps the bound from holding (the
/// caller then scans). `k` must be below `n`.
pub(super) fn all_nearest_by_products(values: &[f32], dim: usize, k: usize) -> Option<Vec<Vec<Neighbour>>> {
    all_nearest_in_tiles(values, dim, k, QUERY_BLOCK, TILE_ROWS)
}

fn all_nearest_in_tiles(
    values: &[f32],
    dim: usize,
    k: usize,
    query_block: usize,
    tile_rows: usize,
) -> Option<Vec<Vec<Neighbour>>> {
    let n = values.len() / dim;
    debug_assert!(k < n && k > 0);
    let table = RoughTable::new(values, dim)?;
    let unit = f32::EPSILON / 2.0;
    let slack_per_norm = SLACK_PER_TERM * (table.width + 16) as f32 * unit;
    let plain_error = 2.0 * (dim + 8) as f32 * unit;
    let plain_ratio = (1.0 + plain_error) / (1.0 - plain_error);
    let search = Search { values, dim, n, k, table: &table, slack_per_norm, plain_ratio, tile_rows };
    Some(
        (0..n.div_ceil(query_block))
            .into_par_iter()
            .flat_map_iter(|block| {
                let first = block * query_block;
                search.block(first, query_block.min(n - first))
            })
            .collect(),
    )
}

/// The centred rows, laid out so that one product gives rough squared distances: a query row is
/// `[c, |c|², 1]`, a table row `[−2c, 1, |c|²]`.
struct RoughTable {
    width: usize,
    queries: Vec<f32>,
    rows: Vec<f32>,
    norms: Vec<f32>,
    largest_norm: f32,
}

impl RoughTable {
    fn new(values: &[f32], dim: usize) -> Option<Self> {
        let n = values.len() / dim;
        let width = dim + 2;
        let mut sums = vec![0f64; dim];
        for row in values.chunks_exact(dim) {
            for (sum, &value) in sums.iter_mut().zip(row) {
                *sum += f64::from(value);
            }
        }
        let mean: Vec<f32> = sums.iter().map(|sum| (sum / n as f64) as f32).collect();
        let (mut queries, mut rows, mut norms) = (vec![0f32; n * width], vec![0f32; n * width], vec![0f32; n]);
        let mut largest_norm = 0f32;
        for (((row, query), table_row), norm) in values
            .chunks_exact(dim)
            .zip(queries.chunks_exact_mut(width))
            .zip(rows.chunks_exact_mut(width))
            .zip(&mut norms)
        {
            for (((&value, &mean), query), table) in row.iter().zip(&mean).zip(&mut *query).zip(&mut *table_row) {
                let centred = value - mean;
                *query = centred;
                *table = -2.0 * centred;
            }
            *norm = query[..dim].iter().map(|c| c * c).sum();
            // NaN and infinity fail this too, and leave the table to the scan.
            if !norm.is_finite() || *norm > LARGEST_NORM {
                return None;
            }
            largest_norm = largest_norm.max(*norm);
            (query[dim], query[dim + 1]) = (*norm, 1.0);
            (table_row[dim], table_row[dim + 1]) = (1.0, *norm);
        }
        (largest_norm >= SMALLEST_NORM).then_some(Self { width, queries, rows, norms, largest_norm })
    }

    /// `products[q × rows + r]` = rough squared distance from query `first_query + q` to row
    /// `first_row + r`.
    fn rough_distances(&self, first_query: usize, queries: usize, first_row: usize, rows: usize, products: &mut [f32]) {
        let width = self.width;
        let lhs = &self.queries[first_query * width..][..queries * width];
        let rhs = &self.rows[first_row * width..][..rows * width];
        let dst = &mut products[..queries * rows];
        // SAFETY: gemm reads `lhs` as a `queries × width` matrix with rows `width` apart and
        // columns 1 apart, `rhs` as a `width × rows` matrix whose column `r` is table row `r`
        // (columns `width` apart, entries 1 apart), and writes `dst` as `queries × rows`, rows
        // `rows` apart: each slice above has exactly those lengths, and they do not overlap
        // (`dst` is borrowed mutably). With `read_dst` false, `dst` is only written.
        #[allow(unsafe_code)]
        unsafe {
            gemm::gemm(
                queries,
                rows,
                width,
                dst.as_mut_ptr(),
                1,
                rows as isize,
                false,
                lhs.as_ptr(),
                1,
                width as isize,
                rhs.as_ptr(),
                width as isize,
                1,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }
}

struct Search<'a> {
    values: &'a [f32],
    dim: usize,
    n: usize,
    k: usize,
    table: &'a RoughTable,
    slack_per_norm: f32,
    /// `(1 + g) / (1 − g)` for the exact sum's relative error `g`.
    plain_ratio: f32,
    tile_rows: usize,
}

impl Search<'_> {
    fn block(&self, first: usize, count: usize) -> Vec<Vec<Neighbour>> {
        let Self { n, k, tile_rows, .. } = *self;
        let mut candidates: Vec<Candidates> = (0..count)
            .map(|q| {
                let query = first + q;
                let slack = self.slack_per_norm * (self.table.norms[query] + self.table.largest_norm);
                Candidates::new(k, query, slack, self.plain_ratio)
            })
            .collect();
        let mut products = vec![0f32; count * tile_rows];
        // The query's own tile first: where nearby rows are stored near each other (a library in
        // album order), the bound is tight from the start. The order does not change the result.
        let tiles = n.div_ceil(tile_rows);
        let own = first / tile_rows;
        for tile in (own..tiles).chain(0..own) {
            let first_row = tile * tile_rows;
            let rows = tile_rows.min(n - first_row);
            self.table.rough_distances(first, count, first_row, rows, &mut products);
            for (query, line) in candidates.iter_mut().zip(products.chunks_exact(rows)) {
                query.scan(line, first_row);
            }
        }
        candidates.into_iter().map(|query| query.exact(self.values, self.dim)).collect()
    }
}

/// Rows checked together: the check whether any is within the bound vectorises.
const CHUNK: usize = 32;

/// One query's rows that may still be among its `k` nearest.
struct Candidates {
    query: usize,
    k: usize,
    /// The error bound of a rough distance from this query (with the largest row norm).
    slack: f32,
    plain_ratio: f32,
    /// Rough distances above this cannot be among the nearest; infinite until `k` rows are seen.
    bound: f32,
    rows: Vec<(f32, u32)>,
    /// When `rows` reaches this length, the bound is tightened and the rows past it dropped.
    tighten_at: usize,
}

impl Candidates {
    fn new(k: usize, query: usize, slack: f32, plain_ratio: f32) -> Self {
        let tighten_at = 4 * k + 64;
        Self { query, k, slack, plain_ratio, bound: f32::INFINITY, rows: Vec::with_capacity(tighten_at), tighten_at }
    }

    fn scan(&mut self, line: &[f32], first_row: usize) {
        let chunks = line.chunks_exact(CHUNK);
        let tail = chunks.remainder();
        for (chunk_index, chunk) in chunks.enumerate() {
            // A fixed length, so that the check compiles to a few vector comparisons.
            let chunk: &[f32; CHUNK] = chunk.try_into().expect("chunks_exact");
            let bound = self.bound;
            if chunk.iter().fold(0u32, |within, &rough| within | u32::from(rough <= bound)) != 0 {
                self.offer_within(chunk, first_row + chunk_index * CHUNK);
            }
        }
        self.offer_within(tail, first_row + line.len() - tail.len());
    }

    fn offer_within(&mut self, roughs: &[f32], first_row: usize) {
        for (offset, &rough) in roughs.iter().enumerate() {
            let row = first_row + offset;
            if rough <= self.bound && row != self.query {
                self.rows.push((rough, row as u32));
                if self.rows.len() >= self.tighten_at {
                    self.tighten();
                }
            }
        }
    }

    /// The bound from the `k`-th smallest rough distance among the rows kept (a selection, not
    /// a heap kept up to date row by row: most rows of a tile pass once the bound is tight), and
    /// the rows past it dropped.
    fn tighten(&mut self) {
        if self.rows.len() < self.k {
            return;
        }
        // A negative rough distance counts as 0, which only raises the bound.
        let (_, kth, _) = self.rows.select_nth_unstable_by(self.k - 1, |a, b| a.0.total_cmp(&b.0));
        let kth = kth.0.max(0.0);
        self.bound = self.bound.min((kth + self.slack) * self.plain_ratio + self.slack);
        let bound = self.bound;
        self.rows.retain(|&(rough, _)| rough <= bound);
        // Many rows within the bound (near-ties): let the list grow rather than select often.
        self.tighten_at = self.tighten_at.max(2 * self.rows.len());
    }

    /// The `k` nearest of the candidates by the exact scan's distance.
    fn exact(mut self, values: &[f32], dim: usize) -> Vec<Neighbour> {
        self.tighten();
        let query = &values[self.query * dim..][..dim];
        let mut nearest = NearestHeap::new(self.k, self.query);
        for &(_, row) in &self.rows {
            let row = row as usize;
            nearest.offer(plain_squared_distance(query, &values[row * dim..][..dim]), row);
        }
        nearest.into_sorted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::all_nearest;

    fn bits(found: Vec<Vec<Neighbour>>) -> Vec<Vec<(usize, u32)>> {
        found.into_iter().map(|row| row.into_iter().map(|nb| (nb.index, nb.distance.to_bits())).collect()).collect()
    }

    /// The first query whose neighbours differ, if any, with both lists.
    fn first_difference(found: Vec<Vec<Neighbour>>, expected: Vec<Vec<Neighbour>>) -> Option<String> {
        let (found, expected) = (bits(found), bits(expected));
        assert_eq!(found.len(), expected.len());
        let query = found.iter().zip(&expected).position(|(f, e)| f != e)?;
        Some(format!("query {query}: {:?} against the scan's {:?}", found[query], expected[query]))
    }

    fn scanned(values: &[f32], dim: usize, k: usize) -> Vec<Vec<Neighbour>> {
        super::super::neighbours::all_nearest_by_scan(values, dim, k)
    }

    fn lcg(seed: u64) -> impl FnMut() -> f32 {
        let mut state = seed;
        move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        }
    }

    #[test]
    fn the_two_passes_find_the_scans_neighbours_bit_for_bit() {
        // Small tiles and blocks so that every path runs: several tiles, a short last tile and
        // block, the query's own tile first, compaction of the candidate lists.
        let mut next = lcg(7);
        let (n, dim) = (777, 32);
        // Clusters far from the origin (the centring matters), each with near-duplicates.
        let centres: Vec<Vec<f32>> = (0..9).map(|_| (0..dim).map(|_| 300.0 + 40.0 * next()).collect()).collect();
        let values: Vec<f32> = (0..n)
            .flat_map(|i| {
                let centre = &centres[i % centres.len()];
                let scale = if i % 5 == 0 { 1e-3 } else { 1.0 };
                centre.iter().map(|c| c + scale * next()).collect::<Vec<_>>()
            })
            .collect();
        for k in [1, 12, 90] {
            for (block, tile) in [(128, 1024), (16, 100), (7, 33)] {
                let found = all_nearest_in_tiles(&values, dim, k, block, tile).expect("finite values");
                let difference = first_difference(found, scanned(&values, dim, k));
                assert_eq!(difference, None, "k {k}, blocks of {block}, tiles of {tile}");
            }
        }
    }

    #[test]
    fn ties_on_a_lattice_are_broken_as_the_scan_breaks_them() {
        // Points on a lattice of eighths: the plain sums are exact, so many rows are at exactly
        // the same distance and the k-th place is often shared; the row breaks the tie.
        let dim = 16;
        let values: Vec<f32> = (0..600)
            .flat_map(|i: usize| (0..dim).map(move |d| 0.3 + ((i * (d + 3) * 7919) % 7) as f32 * 0.125))
            .collect();
        for k in [3, 30, 90] {
            let found = all_nearest_in_tiles(&values, dim, k, 16, 64).expect("finite values");
            assert_eq!(first_difference(found, scanned(&values, dim, k)), None, "k {k}");
        }
    }

    #[test]
    fn tables_the_bound_cannot_cover_are_left_to_the_scan() {
        let identical = vec![0.25f32; 40 * 4];
        assert!(all_nearest_by_products(&identical, 4, 3).is_none(), "all norms zero");
        let mut huge = vec![1.0f32; 40 * 4];
        huge[7] = 1e30;
        assert!(all_nearest_by_products(&huge, 4, 3).is_none(), "a norm past the largest");
        let mut nan = vec![1.0f32; 40 * 4];
        nan[9] = f32::NAN;
        assert!(all_nearest_by_products(&nan, 4, 3).is_none(), "NaN");
        // And `all_nearest` still answers them, by the scan.
        assert_eq!(all_nearest(&identical, 4, 3).len(), 40);
    }
}
