//! t-SNE's repulsion by Barnes-Hut with shared interaction lists (Barnes 1990's grouping): the
//! layout's octree has buckets of up to [`BUCKET`] points at its leaves, and each bucket walks the
//! tree once for all of its points. A cell is summarised by its centre of mass when the box
//! bounding its points is small against the distance from that centre to the *nearest* point of
//! the bucket's box (half-side < θ × distance), so the test passes for every point of the bucket.
//! What the walk finds (cells' centres of mass, and the points of nearby buckets one by one) goes
//! into one contiguous list in columns, which each point of the bucket then sums four entries at
//! a time: the sum runs at the speed of vector arithmetic, and the walk's cache misses are paid
//! once per bucket rather than once per point.
//!
//! bhtsne's tree walked once per point and sized a cell by its place in a fixed grid; the tight
//! boxes summarise more cells for the same θ, and the bucket's nearest point keeps each one at
//! least as far as a walk per point would have required (README: what this changed in the maps).
//!
//! Every value a point gets depends on the layout only: the tree, its walks and the lanes' order
//! are fixed, whatever thread runs them.

use rayon::prelude::*;

/// Points per leaf bucket, and so per interaction list. 32 measured best of 16, 32, 64 and 128
/// on a 10,000 × 32 mixture and at 106,574 points: smaller buckets walk more often, larger ones
/// sum longer lists.
const BUCKET: usize = 32;

/// Bits per axis of the Morton codes the layout is sorted by (3 × 21 = 63 bits of a `u64`).
pub(crate) const BITS: u32 = 21;

/// Buckets per task of the parallel pass; any size gives the same values.
const BUCKETS_PER_TASK: usize = 16;

/// How much wider the acceptance is than the θ asked for. The walk's test is stricter than
/// bhtsne's at the same θ (tight boxes, and the distance to the bucket's nearest point rather than
/// to the point itself): at θ = 0.5 its forces were off by 2.5 % RMS against bhtsne's 5.0 %.
/// Widened by 1.15, it is still no coarser than bhtsne's walk at the θ asked for (forces 3.9 and
/// 4.0 % against 4.8 and 5.0 %, Z 0.14 % against 0.21 %, on the tests' two clouds) with 22 %
/// fewer interactions per point; 1.2 made Z's error equal to bhtsne's on one cloud.
const THETA_SCALE: f32 = 1.15;

/// Lanes of the list's sums: one SSE vector (every x86-64 has SSE2). Eight lanes, two vectors,
/// ran out of registers and were slower; two points at a time in one AVX vector (same values,
/// bit for bit) were no faster.
const LANES: usize = 4;

const LEAF: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    centre_of_mass: [f32; 3],
    mass: f32,
    /// The largest half-side of the box bounding the node's points, squared.
    size_sq: f32,
    /// The node's window in the Z-order.
    start: u32,
    end: u32,
    /// Children are contiguous from `first_child`; [`LEAF`] for a bucket.
    first_child: u32,
    child_count: u8,
}

/// The octree of a layout, built from the layout's points sorted by their Morton codes.
#[derive(Default)]
pub(crate) struct Octree {
    nodes: Vec<Node>,
    /// The buckets (node indices) in Z-order.
    buckets: Vec<u32>,
    /// The points' places in Z-order, by axis: a bucket's points are one stretch of each.
    x: Vec<f32>,
    y: Vec<f32>,
    z: Vec<f32>,
    /// Build scratch: each node's bounding box.
    boxes: Vec<([f32; 3], [f32; 3])>,
}

impl Octree {
    /// Rebuilds the tree for `points` (the layout) from `order`, the points sorted by the Morton
    /// codes of their places (21 bits per axis, [`BITS`]) in the layout's bounding box.
    pub(crate) fn rebuild(&mut self, points: &[[f32; 3]], order: &[(u64, u32)]) {
        self.nodes.clear();
        self.buckets.clear();
        for (axis, column) in [&mut self.x, &mut self.y, &mut self.z].into_iter().enumerate() {
            column.clear();
            column.extend(order.iter().map(|&(_, point)| points[point as usize][axis]));
        }
        if order.is_empty() {
            return;
        }
        let code = |slot: u32| order[slot as usize].0;
        self.nodes.push(Node {
            centre_of_mass: [0.0; 3],
            mass: 0.0,
            size_sq: 0.0,
            start: 0,
            end: order.len() as u32,
            first_child: LEAF,
            child_count: 0,
        });
        // Breadth first: a node's children take consecutive places, and a child always comes
        // after its parent.
        let mut next = 0;
        while next < self.nodes.len() {
            let Node { start, end, .. } = self.nodes[next];
            let differing = code(start) ^ code(end - 1);
            // The depth at which the node's first and last codes part (BITS when they are equal).
            let level = if differing == 0 {
                BITS
            } else {
                // The digit (3 bits, counted from the top) holding the highest differing bit.
                BITS - 1 - (63 - differing.leading_zeros()) / 3
            };
            if (end - start) as usize <= BUCKET || differing == 0 {
                next += 1;
                continue;
            }
            let shift = 3 * (BITS - 1 - level);
            let first_child = self.nodes.len() as u32;
            let mut child_start = start;
            while child_start < end {
                let digit = (code(child_start) >> shift) & 7;
                let mut child_end = child_start + 1;
                while child_end < end && (code(child_end) >> shift) & 7 == digit {
                    child_end += 1;
                }
                self.nodes.push(Node {
                    centre_of_mass: [0.0; 3],
                    mass: 0.0,
                    size_sq: 0.0,
                    start: child_start,
                    end: child_end,
                    first_child: LEAF,
                    child_count: 0,
                });
                child_start = child_end;
            }
            self.nodes[next].first_child = first_child;
            self.nodes[next].child_count = (self.nodes.len() as u32 - first_child) as u8;
            next += 1;
        }
        // Centres of mass, buckets from their points and the rest from their children, bottom up
        // (children come after their parents), each in one fixed order.
        self.boxes.clear();
        self.boxes.resize(self.nodes.len(), ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]));
        for index in (0..self.nodes.len()).rev() {
            let node = self.nodes[index];
            let mut sum = [0f32; 3];
            let mut mass = 0f32;
            let (mut low, mut high) = self.boxes[index];
            if node.first_child == LEAF {
                for slot in node.start as usize..node.end as usize {
                    let point = [self.x[slot], self.y[slot], self.z[slot]];
                    for axis in 0..3 {
                        sum[axis] += point[axis];
                        low[axis] = low[axis].min(point[axis]);
                        high[axis] = high[axis].max(point[axis]);
                    }
                }
                mass = (node.end - node.start) as f32;
            } else {
                for (child, (child_low, child_high)) in self.nodes[node.first_child as usize..]
                    .iter()
                    .zip(&self.boxes[node.first_child as usize..])
                    .take(node.child_count as usize)
                {
                    for axis in 0..3 {
                        sum[axis] += child.centre_of_mass[axis] * child.mass;
                        low[axis] = low[axis].min(child_low[axis]);
                        high[axis] = high[axis].max(child_high[axis]);
                    }
                    mass += child.mass;
                }
            }
            self.boxes[index] = (low, high);
            let half = (0..3).map(|axis| (high[axis] - low[axis]) * 0.5).fold(0f32, f32::max);
            self.nodes[index].size_sq = half * half;
            self.nodes[index].centre_of_mass = sum.map(|s| s / mass);
            self.nodes[index].mass = mass;
        }
        let buckets: Vec<u32> =
            (0..self.nodes.len() as u32).filter(|&index| self.nodes[index as usize].first_child == LEAF).collect();
        self.buckets = buckets;
        self.buckets.sort_unstable_by_key(|&index| self.nodes[index as usize].start);
    }

    /// Each point's repulsion (the sum over the others of (y_i − y_j) / (1 + |y_i − y_j|²)²,
    /// unnormalised) and its share of Z (the sum of 1 / (1 + |y_i − y_j|²)), in Z-order: value
    /// `slot` belongs to point `order[slot].1`. `theta` is the Barnes-Hut θ as bhtsne and
    /// openTSNE mean it; the walk widens it by [`THETA_SCALE`] and stays as accurate.
    pub(crate) fn repulsion(&self, theta: f32) -> Vec<[f32; 4]> {
        let theta_sq = (THETA_SCALE * theta) * (THETA_SCALE * theta);
        self.buckets
            .par_chunks(BUCKETS_PER_TASK)
            .flat_map_iter(|buckets| {
                let mut walk = Walk::default();
                let mut out = Vec::new();
                for &bucket in buckets {
                    walk.list_for(self, bucket as usize, theta_sq);
                    let node = &self.nodes[bucket as usize];
                    for slot in node.start as usize..node.end as usize {
                        out.push(walk.sum([self.x[slot], self.y[slot], self.z[slot]]));
                    }
                }
                out
            })
            .collect()
    }
}

/// One task's scratch: the walk's stack and the interaction list, in columns.
#[derive(Default)]
struct Walk {
    stack: Vec<u32>,
    x: Vec<f32>,
    y: Vec<f32>,
    z: Vec<f32>,
    mass: Vec<f32>,
}

impl Walk {
    fn push(&mut self, at: [f32; 3], mass: f32) {
        self.x.push(at[0]);
        self.y.push(at[1]);
        self.z.push(at[2]);
        self.mass.push(mass);
    }

    /// Fills the list of what the points of `bucket` interact with.
    fn list_for(&mut self, tree: &Octree, bucket: usize, theta_sq: f32) {
        self.x.clear();
        self.y.clear();
        self.z.clear();
        self.mass.clear();
        let own = tree.nodes[bucket];
        let (low, high) = tree.boxes[bucket];
        self.stack.clear();
        self.stack.push(0);
        while let Some(index) = self.stack.pop() {
            let node = tree.nodes[index as usize];
            let holds_bucket = node.start <= own.start && own.end <= node.end;
            if !holds_bucket {
                // The squared distance from the centre of mass to the nearest point of the box.
                let mut distance_sq = 0f32;
                for axis in 0..3 {
                    let c = node.centre_of_mass[axis];
                    let gap = (low[axis] - c).max(c - high[axis]).max(0.0);
                    distance_sq += gap * gap;
                }
                if node.size_sq < theta_sq * distance_sq {
                    self.push(node.centre_of_mass, node.mass);
                    continue;
                }
            }
            if node.first_child == LEAF {
                let points = node.start as usize..node.end as usize;
                self.x.extend_from_slice(&tree.x[points.clone()]);
                self.y.extend_from_slice(&tree.y[points.clone()]);
                self.z.extend_from_slice(&tree.z[points.clone()]);
                self.mass.resize(self.mass.len() + points.len(), 1.0);
            } else {
                // Pushed last child first, so that the first child's part of the list comes first.
                self.stack.extend((node.first_child..node.first_child + u32::from(node.child_count)).rev());
            }
        }
        // Padding with no mass, so that the sum runs over whole lanes.
        while !self.x.len().is_multiple_of(LANES) {
            self.push([0.0; 3], 0.0);
        }
    }

    /// The repulsion on a point at `at` from the list, and its share of Z. A duplicate of the
    /// point (at its very place) counts in Z, as exact t-SNE counts it, and pushes it nowhere.
    fn sum(&self, at: [f32; 3]) -> [f32; 4] {
        let (x, _) = self.x.as_chunks::<LANES>();
        let (y, _) = self.y.as_chunks::<LANES>();
        let (z, _) = self.z.as_chunks::<LANES>();
        let (mass, _) = self.mass.as_chunks::<LANES>();
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `lane_sums` needs only SSE2, which every x86-64 CPU has (the target's baseline:
        // the compiler already emits SSE2 everywhere in this build).
        #[allow(unsafe_code)]
        let lanes = unsafe { lane_sums(at, x, y, z, mass) };
        #[cfg(not(target_arch = "x86_64"))]
        let lanes = lane_sums(at, x, y, z, mass);
        let [fx, fy, fz, q] = lanes.map(|lane| (lane[0] + lane[1]) + (lane[2] + lane[3]));
        // The point itself is in the list once (its bucket's points are), at distance 0: no
        // force, and 1 in the kernel's sum, taken back out here.
        [fx, fy, fz, q - 1.0]
    }
}

/// The list's sums by lane: force x, y, z and the kernel (Z's share), lane `l` holding entries
/// `l`, `l + 4`, `l + 8`, …. On x86-64 written with SSE's own operations (every x86-64 has SSE2):
/// the compiler's vectorisation of the portable loop below shuffled lanes between stages and
/// took twice the instructions. Both run the same operations in the same order on the same
/// lanes (no fused multiply-add), so they give the same values bit for bit (tested).
#[cfg(target_arch = "x86_64")]
// Named so that the intrinsics are safe to call inside; SSE2 is x86-64's baseline.
#[target_feature(enable = "sse2")]
fn lane_sums(
    at: [f32; 3],
    x: &[[f32; LANES]],
    y: &[[f32; LANES]],
    z: &[[f32; LANES]],
    mass: &[[f32; LANES]],
) -> [[f32; LANES]; 4] {
    use std::arch::x86_64::{
        __m128, _mm_add_ps, _mm_cvtss_f32, _mm_div_ps, _mm_mul_ps, _mm_set_ps, _mm_set1_ps, _mm_setzero_ps,
        _mm_shuffle_ps, _mm_sub_ps,
    };
    let load = |lanes: &[f32; LANES]| _mm_set_ps(lanes[3], lanes[2], lanes[1], lanes[0]);
    let lanes_of = |v: __m128| -> [f32; LANES] {
        [
            _mm_cvtss_f32(v),
            _mm_cvtss_f32(_mm_shuffle_ps::<0b01_01_01_01>(v, v)),
            _mm_cvtss_f32(_mm_shuffle_ps::<0b10_10_10_10>(v, v)),
            _mm_cvtss_f32(_mm_shuffle_ps::<0b11_11_11_11>(v, v)),
        ]
    };
    let [at_x, at_y, at_z] = at.map(|value| _mm_set1_ps(value));
    let one = _mm_set1_ps(1.0);
    let (mut force_x, mut force_y, mut force_z, mut kernels) =
        (_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps());
    for (((x, y), z), mass) in x.iter().zip(y).zip(z).zip(mass) {
        let dx = _mm_sub_ps(at_x, load(x));
        let dy = _mm_sub_ps(at_y, load(y));
        let dz = _mm_sub_ps(at_z, load(z));
        let distance_sq = _mm_add_ps(_mm_add_ps(_mm_mul_ps(dx, dx), _mm_mul_ps(dy, dy)), _mm_mul_ps(dz, dz));
        let inverse = _mm_div_ps(one, _mm_add_ps(one, distance_sq));
        let kernel = _mm_mul_ps(load(mass), inverse);
        let magnitude = _mm_mul_ps(kernel, inverse);
        force_x = _mm_add_ps(force_x, _mm_mul_ps(magnitude, dx));
        force_y = _mm_add_ps(force_y, _mm_mul_ps(magnitude, dy));
        force_z = _mm_add_ps(force_z, _mm_mul_ps(magnitude, dz));
        kernels = _mm_add_ps(kernels, kernel);
    }
    [force_x, force_y, force_z, kernels].map(lanes_of)
}

#[cfg(not(target_arch = "x86_64"))]
use portable_lane_sums as lane_sums;

/// [`lane_sums`] in portable Rust, written stage by stage over whole lanes so that the compiler
/// makes each stage vector operations; one loop over the lanes with all four sums in it came out
/// as scalar divisions with the four sums packed into one vector. No lane is masked: a branch per
/// lane made it scalar again.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn portable_lane_sums(
    at: [f32; 3],
    x: &[[f32; LANES]],
    y: &[[f32; LANES]],
    z: &[[f32; LANES]],
    mass: &[[f32; LANES]],
) -> [[f32; LANES]; 4] {
    use std::array::from_fn;
    let mut out = [[0f32; LANES]; 4];
    for (((x, y), z), mass) in x.iter().zip(y).zip(z).zip(mass) {
        let dx: [f32; LANES] = from_fn(|lane| at[0] - x[lane]);
        let dy: [f32; LANES] = from_fn(|lane| at[1] - y[lane]);
        let dz: [f32; LANES] = from_fn(|lane| at[2] - z[lane]);
        let distance_sq: [f32; LANES] = from_fn(|lane| dx[lane] * dx[lane] + dy[lane] * dy[lane] + dz[lane] * dz[lane]);
        let inverse: [f32; LANES] = from_fn(|lane| 1.0 / (1.0 + distance_sq[lane]));
        let kernel: [f32; LANES] = from_fn(|lane| mass[lane] * inverse[lane]);
        let magnitude: [f32; LANES] = from_fn(|lane| kernel[lane] * inverse[lane]);
        for lane in 0..LANES {
            out[0][lane] += magnitude[lane] * dx[lane];
        }
        for lane in 0..LANES {
            out[1][lane] += magnitude[lane] * dy[lane];
        }
        for lane in 0..LANES {
            out[2][lane] += magnitude[lane] * dz[lane];
        }
        for lane in 0..LANES {
            out[3][lane] += kernel[lane];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::descent::z_order;

    fn cloud(n: usize, seed: u64) -> Vec<[f32; 3]> {
        let mut state = seed;
        let mut uniform = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        // Two clumps and a sparse halo, so that the tree has deep and shallow parts.
        (0..n)
            .map(|i| {
                let spread = if i % 3 == 0 { 40.0 } else { 4.0 };
                let offset = if i % 2 == 0 { 10.0 } else { -10.0 };
                [0, 1, 2].map(|_| offset + (uniform() - 0.5) * spread)
            })
            .collect()
    }

    /// The points in the Z-order the optimiser builds the tree from.
    fn sorted(points: &[[f32; 3]]) -> Vec<(u64, u32)> {
        let mut order = Vec::new();
        z_order(points.as_flattened(), &mut order, &mut Vec::new());
        order
    }

    fn exact(points: &[[f32; 3]], i: usize) -> [f64; 4] {
        let mut out = [0f64; 4];
        for (j, other) in points.iter().enumerate() {
            if j == i {
                continue;
            }
            let d = [0, 1, 2].map(|axis| f64::from(points[i][axis]) - f64::from(other[axis]));
            let inverse = 1.0 / (1.0 + d.iter().map(|v| v * v).sum::<f64>());
            for axis in 0..3 {
                out[axis] += inverse * inverse * d[axis];
            }
            out[3] += inverse;
        }
        out
    }

    /// The forces' error (root mean square over the points, relative to that of the exact
    /// forces) and Z's relative error, of our sums at `theta` and of bhtsne's walk per point.
    fn errors(points: &[[f32; 3]], theta: f32) -> ([f64; 2], [f64; 2]) {
        let order = sorted(points);
        let mut tree = Octree::default();
        tree.rebuild(points, &order);
        let ours = tree.repulsion(theta);
        let flat: Vec<f32> = points.iter().flatten().copied().collect();
        let theirs_tree = barnes_hut_tree::BarnesHutTree::<f32, u64, 3>::new_uniform(&flat);
        let mut stack = [0u32; 192];
        let mut squared = [0f64; 2];
        let mut total = 0f64;
        let mut z = [0f64; 2];
        let mut exact_z = 0f64;
        for (&(_, point), value) in order.iter().zip(&ours) {
            let truth = exact(points, point as usize);
            let mut push = [0f32; 3];
            let mut q = 0f32;
            theirs_tree.compute_non_edge_forces(point as usize, theta * theta, &flat, &mut push, &mut q, &mut stack);
            let theirs = [push[0], push[1], push[2], q];
            for (which, got) in [value, &theirs].into_iter().enumerate() {
                squared[which] += (0..3).map(|axis| (f64::from(got[axis]) - truth[axis]).powi(2)).sum::<f64>();
                z[which] += f64::from(got[3]);
            }
            total += (0..3).map(|axis| truth[axis].powi(2)).sum::<f64>();
            exact_z += truth[3];
        }
        let force = squared.map(|s| (s / total).sqrt());
        let z = z.map(|z| (z - exact_z).abs() / exact_z);
        (force, z)
    }

    // Elsewhere `lane_sums` is the portable loop itself.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_portable_sums_and_what_this_cpu_runs_agree_bit_for_bit() {
        let points = cloud(2_000, 4);
        let order = sorted(&points);
        let mut tree = Octree::default();
        tree.rebuild(&points, &order);
        let mut walk = Walk::default();
        for &bucket in tree.buckets.iter().step_by(7) {
            walk.list_for(&tree, bucket as usize, 0.5 * 0.5);
            let (x, _) = walk.x.as_chunks::<LANES>();
            let (y, _) = walk.y.as_chunks::<LANES>();
            let (z, _) = walk.z.as_chunks::<LANES>();
            let (mass, _) = walk.mass.as_chunks::<LANES>();
            let node = tree.nodes[bucket as usize];
            for slot in node.start as usize..node.end as usize {
                let at = [tree.x[slot], tree.y[slot], tree.z[slot]];
                let bits = |sums: [[f32; LANES]; 4]| sums.map(|lanes| lanes.map(f32::to_bits));
                // SAFETY: SSE2 is in every x86-64 CPU (see `Walk::sum`).
                #[allow(unsafe_code)]
                let sse = unsafe { lane_sums(at, x, y, z, mass) };
                assert_eq!(bits(sse), bits(portable_lane_sums(at, x, y, z, mass)));
            }
        }
    }

    #[test]
    fn at_theta_zero_the_sums_are_exact() {
        let (force, z) = errors(&cloud(700, 3), 0.0);
        assert!(force[0] < 1e-5 && z[0] < 1e-5, "relative errors {force:?}, {z:?}");
    }

    #[test]
    fn at_theta_one_half_the_sums_are_no_coarser_than_bhtsnes_walk_per_point() {
        for seed in [5, 6] {
            let (force, z) = errors(&cloud(3_000, seed), 0.5);
            assert!(force[0] <= force[1] && z[0] <= z[1], "ours, bhtsne's: forces {force:?}, Z {z:?}");
            assert!(force[0] < 0.045 && z[0] < 0.0016, "forces {force:?}, Z {z:?}");
            // And the approximation is used: θ = 0.5 does not sum exactly.
            assert!(force[0] > 1e-5, "θ = 0.5 summed exactly ({force:?})");
        }
    }

    #[test]
    fn every_point_gets_one_value_and_duplicates_do_not_push_each_other_apart() {
        let mut points = cloud(300, 9);
        points[7] = points[8];
        let order = sorted(&points);
        let mut tree = Octree::default();
        tree.rebuild(&points, &order);
        let values = tree.repulsion(0.5);
        assert_eq!(values.len(), points.len());
        assert!(values.iter().flatten().all(|v| v.is_finite()));
        // Points 7 and 8 are at one place: each is pushed by the others exactly as the other is.
        let slot = |point: u32| order.iter().position(|&(_, p)| p == point).expect("every point sorted");
        assert_eq!(values[slot(7)], values[slot(8)]);
    }
}
