//! t-SNE's gradient descent (Barnes-Hut), ours rather than bhtsne's so that it can use every core
//! and still give the same map: each point's forces depend only on the layout, never on which
//! thread computed them, and every sum across points (the normaliser Z, the layout's mean) is
//! taken in one fixed order on one thread. The map is therefore bit for bit the same on 1 or N
//! threads. bhtsne still computes the affinities and the spectral start, on one thread, because
//! its own sums there are parallel reductions whose order changes with the threads.

use std::sync::atomic::{AtomicBool, Ordering};

use barnes_hut_tree::{Dim, Morton};
use rayon::prelude::*;

use super::repulsion::{BITS, Octree};
use super::tsne::Cancelled;

/// The symmetric input affinities P in compressed rows (`rows[i]..rows[i + 1]` index `columns`
/// and `values`), summing to 1.
pub(crate) struct Affinities {
    pub rows: Vec<usize>,
    pub columns: Vec<u32>,
    pub values: Vec<f32>,
}

/// A stretch of the optimisation with fixed constants. Each phase starts with fresh gains and no
/// momentum, as a new optimiser would (openTSNE's two calls, and our two bhtsne fits before).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phase {
    pub iterations: usize,
    pub exaggeration: f32,
    pub learning_rate: f32,
    pub momentum: f32,
}

// The delta-bar-delta gains of the reference implementation (and bhtsne, openTSNE).
const GAIN_INCREMENT: f32 = 0.2;
const GAIN_DECAY: f32 = 0.8;
const MIN_GAIN: f32 = 0.01;
const MAX_GAIN: f32 = 2.0;

/// Points per task of the parallel force pass. Any size gives the same map (each point's forces
/// are its own); this one amortises a task and still makes 40 tasks of 10,000 points.
const CHUNK: usize = 256;

/// How often the points are renumbered in Z-order of the layout: a point's neighbours then sit
/// near it in memory, for the attractions. Every 25 iterations rather than 10: at 106,574 points
/// the renumbering took 5 s of the map's 63 at 10, 2 s at 25, and the attractions ran as fast.
const RENUMBER_EVERY: usize = 25;

/// Runs `phases` from `start` (`n × 3`, row-major) and returns the final layout, in the order of
/// `start`. `on_iteration` hears the iteration number (from 1, across phases) and the layout
/// after it; `cancel` is checked after every iteration. Runs on the current rayon pool, whatever
/// its size. The tree is rebuilt on one thread, from the Z-order, whose keys are unique (the
/// index breaks ties), so it is the same whatever the threads sorted it.
pub(crate) fn descend(
    mut affinities: Affinities,
    start: &[f32],
    phases: &[Phase],
    theta: f32,
    cancel: &AtomicBool,
    on_iteration: &mut dyn FnMut(usize, &[f32]),
) -> Result<Vec<f32>, Cancelled> {
    let n = start.len() / 3;
    assert_eq!(affinities.rows.len(), n + 1, "one affinity row per point");
    // The working state is numbered by slot; `points[slot]` is the caller's number of the point
    // there, and `positions` the layout in the caller's order.
    let mut layout = start.to_vec();
    let mut points: Vec<u32> = (0..n as u32).collect();
    let mut positions = start.to_vec();
    let mut tree = Octree::default();
    let mut attraction = vec![0f32; n * 3];
    let mut repulsion = vec![0f32; n * 3];
    let mut q_sums = vec![0f32; n];
    let mut order = Vec::with_capacity(n);
    let mut scratch = Vec::with_capacity(n);
    let mut velocity = vec![0f32; n * 3];
    let mut gains = vec![1f32; n * 3];
    let mut iteration = 0;
    for phase in phases {
        velocity.fill(0.0);
        gains.fill(1.0);
        for _ in 0..phase.iterations {
            z_order(&layout, &mut order, &mut scratch);
            if iteration % RENUMBER_EVERY == 0 {
                renumber(&mut order, &mut [&mut layout, &mut velocity, &mut gains], &mut affinities, &mut points);
            }
            let (slots, _) = layout.as_chunks::<3>();
            tree.rebuild(slots, &order);
            forces(&affinities, slots, &tree, &order, theta, &mut attraction, &mut repulsion, &mut q_sums);
            // Z in one order whatever the threads; f64 so that 10⁶ terms keep their digits.
            let z: f64 = q_sums.iter().map(|&q| f64::from(q)).sum();
            let inverse_z = (1.0 / z) as f32;
            step(&mut layout, &attraction, &repulsion, &mut velocity, &mut gains, inverse_z, phase);
            centre(&mut layout);
            for (slot, &point) in points.iter().enumerate() {
                let point = point as usize;
                positions[point * 3..point * 3 + 3].copy_from_slice(&layout[slot * 3..slot * 3 + 3]);
            }
            iteration += 1;
            on_iteration(iteration, &positions);
            if cancel.load(Ordering::Relaxed) {
                return Err(Cancelled);
            }
        }
    }
    Ok(positions)
}

/// Moves every point to its place in `order` (which then reads 0, 1, 2, …): the per-coordinate
/// `state`, the affinities' rows and columns, and the record of who is where.
fn renumber(order: &mut [(u64, u32)], state: &mut [&mut Vec<f32>], affinities: &mut Affinities, points: &mut Vec<u32>) {
    let mut slot_of = vec![0u32; order.len()];
    for (slot, &(_, old)) in order.iter().enumerate() {
        slot_of[old as usize] = slot as u32;
    }
    for values in state.iter_mut() {
        **values = order
            .iter()
            .flat_map(|&(_, old)| <[f32; 3]>::try_from(&values[old as usize * 3..][..3]).expect("3"))
            .collect();
    }
    *points = order.iter().map(|&(_, old)| points[old as usize]).collect();
    let mut rows = Vec::with_capacity(affinities.rows.len());
    let mut columns = Vec::with_capacity(affinities.columns.len());
    let mut values = Vec::with_capacity(affinities.values.len());
    rows.push(0);
    for &(_, old) in order.iter() {
        let row = affinities.rows[old as usize]..affinities.rows[old as usize + 1];
        columns.extend(affinities.columns[row.clone()].iter().map(|&column| slot_of[column as usize]));
        values.extend_from_slice(&affinities.values[row]);
        rows.push(columns.len());
    }
    *affinities = Affinities { rows, columns, values };
    for (slot, entry) in order.iter_mut().enumerate() {
        entry.1 = slot as u32;
    }
}

/// The points in Z-order of the layout (ties by index): neighbours on the map come one after the
/// other, so that consecutive points walk the same cells of the tree and find them in cache.
/// The grid the codes are cut from has cubic cells (the bounding box's largest side, cut in
/// 2²¹), so that the octree's nodes are cubes rather than slabs.
pub(super) fn z_order(layout: &[f32], order: &mut Vec<(u64, u32)>, scratch: &mut Vec<(u64, u32)>) {
    let mut low = [f32::INFINITY; 3];
    let mut high = [f32::NEG_INFINITY; 3];
    for point in layout.chunks_exact(3) {
        for axis in 0..3 {
            low[axis] = low[axis].min(point[axis]);
            high[axis] = high[axis].max(point[axis]);
        }
    }
    let extent = (0..3).map(|axis| high[axis] - low[axis]).fold(0f32, f32::max);
    let cells = ((1u32 << BITS) - 1) as f32;
    let scale = if extent > 0.0 { cells / extent } else { 0.0 };
    order.clear();
    order.par_extend(layout.par_chunks_exact(3).enumerate().map(|(index, point)| {
        let cell = [0, 1, 2].map(|axis| ((point[axis] - low[axis]) * scale).clamp(0.0, cells) as u32);
        (<Dim<3> as Morton<3>>::encode(cell), index as u32)
    }));
    // Equal codes stay in index order (a stable sort of an index-ordered list), so the order is
    // the unique one of (code, index) whatever sorts it.
    radix_sort_by_code(order, scratch);
}

/// Sorts `entries` by their codes, stably: least significant digit (11 bits) first, one counting
/// pass per digit, skipping the digits every code shares. On one thread it sorted 106,574
/// points' codes in 3.3 ms where rayon's parallel merge sort took 10.0 ms on two (the layout
/// moves enough between iterations that the last order leaves few runs to find).
fn radix_sort_by_code(entries: &mut Vec<(u64, u32)>, scratch: &mut Vec<(u64, u32)>) {
    const BITS_PER_DIGIT: u32 = 11;
    const DIGITS: usize = 64usize.div_ceil(BITS_PER_DIGIT as usize);
    const VALUES: usize = 1 << BITS_PER_DIGIT;
    let digit_of = |code: u64, digit: usize| ((code >> (BITS_PER_DIGIT as usize * digit)) as usize) & (VALUES - 1);
    let mut counts = vec![[0usize; VALUES]; DIGITS];
    for &(code, _) in entries.iter() {
        for (digit, counts) in counts.iter_mut().enumerate() {
            counts[digit_of(code, digit)] += 1;
        }
    }
    let n = entries.len();
    let mut next = [0usize; VALUES];
    for (digit, counts) in counts.iter().enumerate() {
        if counts.contains(&n) {
            continue;
        }
        let mut total = 0;
        for (next, &count) in next.iter_mut().zip(counts) {
            *next = total;
            total += count;
        }
        scratch.clear();
        scratch.resize(n, (0, 0));
        for &entry in entries.iter() {
            let value = digit_of(entry.0, digit);
            scratch[next[value]] = entry;
            next[value] += 1;
        }
        std::mem::swap(entries, scratch);
    }
}

/// Each point's attraction (its affinities, exaggeration not applied), Barnes-Hut repulsion and
/// share of Z, in parallel by fixed chunks; each point's values depend on the layout only.
#[allow(clippy::too_many_arguments)]
fn forces(
    affinities: &Affinities,
    points: &[[f32; 3]],
    tree: &Octree,
    order: &[(u64, u32)],
    theta: f32,
    attraction: &mut [f32],
    repulsion: &mut [f32],
    q_sums: &mut [f32],
) {
    attraction.par_chunks_mut(CHUNK * 3).enumerate().for_each(|(chunk, pulls)| {
        for (offset, pull) in pulls.chunks_exact_mut(3).enumerate() {
            let point = chunk * CHUNK + offset;
            let row = affinities.rows[point]..affinities.rows[point + 1];
            pull.copy_from_slice(&attraction_of(
                points,
                points[point],
                &affinities.columns[row.clone()],
                &affinities.values[row],
            ));
        }
    });
    // Computed in Z-order; put back in index order.
    let pushes = tree.repulsion(theta);
    for (&(_, point), push) in order.iter().zip(&pushes) {
        let point = point as usize;
        repulsion[point * 3..point * 3 + 3].copy_from_slice(&push[0..3]);
        q_sums[point] = push[3];
    }
}

/// The attraction on a point at `here` from its affinities (`columns`, `values`): the sum of
/// p_ij (y_i − y_j) / (1 + |y_i − y_j|²). Four entries at a time, stage by stage, so that the
/// compiler makes vector operations of it (the division above all); a short last group is padded
/// with p = 0, which adds exactly nothing.
fn attraction_of(points: &[[f32; 3]], here: [f32; 3], columns: &[u32], values: &[f32]) -> [f32; 3] {
    use std::array::from_fn;
    const LANES: usize = 4;
    let mut sums = [[0f32; LANES]; 3];
    let mut add = |there: [[f32; 3]; LANES], p: [f32; LANES]| {
        let delta: [[f32; LANES]; 3] = from_fn(|axis| from_fn(|lane| here[axis] - there[lane][axis]));
        let distance_sq: [f32; LANES] = from_fn(|lane| {
            delta[0][lane] * delta[0][lane] + delta[1][lane] * delta[1][lane] + delta[2][lane] * delta[2][lane]
        });
        let factor: [f32; LANES] = from_fn(|lane| p[lane] / (1.0 + distance_sq[lane]));
        for axis in 0..3 {
            for lane in 0..LANES {
                sums[axis][lane] += factor[lane] * delta[axis][lane];
            }
        }
    };
    let (whole, _) = columns.as_chunks::<LANES>();
    let (whole_values, _) = values.as_chunks::<LANES>();
    for (columns, values) in whole.iter().zip(whole_values) {
        add(columns.map(|column| points[column as usize]), *values);
    }
    let done = whole.len() * LANES;
    let mut there = [here; LANES];
    let mut p = [0f32; LANES];
    for (lane, (&column, &value)) in columns[done..].iter().zip(&values[done..]).enumerate() {
        there[lane] = points[column as usize];
        p[lane] = value;
    }
    add(there, p);
    sums.map(|lanes| (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
}

/// The gradient step with momentum and per-coordinate gains; each coordinate on its own.
fn step(
    layout: &mut [f32],
    attraction: &[f32],
    repulsion: &[f32],
    velocity: &mut [f32],
    gains: &mut [f32],
    inverse_z: f32,
    phase: &Phase,
) {
    let Phase { exaggeration, learning_rate, momentum, .. } = *phase;
    layout
        .par_chunks_mut(CHUNK * 3)
        .zip(attraction.par_chunks(CHUNK * 3))
        .zip(repulsion.par_chunks(CHUNK * 3))
        .zip(velocity.par_chunks_mut(CHUNK * 3))
        .zip(gains.par_chunks_mut(CHUNK * 3))
        .for_each(|((((layout, attraction), repulsion), velocity), gains)| {
            for i in 0..layout.len() {
                let gradient = exaggeration * attraction[i] - repulsion[i] * inverse_z;
                let gain = if gradient.signum() != velocity[i].signum() {
                    gains[i] + GAIN_INCREMENT
                } else {
                    gains[i] * GAIN_DECAY
                };
                gains[i] = gain.clamp(MIN_GAIN, MAX_GAIN);
                velocity[i] = momentum * velocity[i] - learning_rate * gains[i] * gradient;
                layout[i] += velocity[i];
            }
        });
}

/// Moves the layout's mean to the origin; the mean is summed in index order.
fn centre(layout: &mut [f32]) {
    let n = (layout.len() / 3).max(1) as f64;
    let mut sums = [0f64; 3];
    for point in layout.chunks_exact(3) {
        for axis in 0..3 {
            sums[axis] += f64::from(point[axis]);
        }
    }
    let mean = sums.map(|s| (s / n) as f32);
    for point in layout.chunks_exact_mut(3) {
        for axis in 0..3 {
            point[axis] -= mean[axis];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_radix_sort_orders_by_code_then_index() {
        let mut state = 3u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 1
        };
        // Codes of every width, many of them equal (ties keep index order), and some 11-bit
        // digits shared by all (their passes are skipped).
        for (n, mask) in
            [(0, u64::MAX), (1, u64::MAX), (5_000, u64::MAX >> 1), (5_000, 0x0000_ff00_00f0_0f00), (300, 7)]
        {
            let mut entries: Vec<(u64, u32)> = (0..n).map(|index| (next() & mask, index as u32)).collect();
            let mut expected = entries.clone();
            expected.sort();
            radix_sort_by_code(&mut entries, &mut Vec::new());
            assert_eq!(entries, expected, "{n} codes under {mask:#x}");
        }
    }
}
