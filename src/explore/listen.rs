//! Listening through the map, without bevy: recommendations from liked songs, and a path of
//! short, even steps from one song to another. Both work on map rows and the map's embedding
//! space under a metric, so the window and the command line give the same answers.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};

use crate::space::{Map, Metric};

/// How recommendations are drawn from the liked songs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum RecommendMethod {
    /// The songs nearest the mean of the liked songs' vectors (the IIIT-D app's method). Likes
    /// of different styles average to a point between them that may be near none of them.
    Mean,
    /// The union of each liked song's nearest songs, the likes taking turns (every like's
    /// nearest, then every like's second nearest…): every like keeps its own neighbourhood.
    #[default]
    Union,
}

/// One recommended song: its map row, its distance to what it was found from (the mean vector,
/// or its nearest liked song) and the liked songs it is nearest to, nearest first (the "why").
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub row: usize,
    pub distance: f32,
    pub near: Vec<usize>,
}

/// The `k` songs to recommend from the liked `liked` rows, never a liked song, best first.
pub fn recommend(map: &Map, metric: Metric, liked: &[usize], k: usize, method: RecommendMethod) -> Vec<Recommendation> {
    let liked_set: HashSet<usize> = liked.iter().copied().collect();
    if liked_set.is_empty() || k == 0 {
        return Vec::new();
    }
    let index = map.embedding_index(metric);
    // Enough candidates that k remain once the liked songs are left out.
    let wanted = (k + liked_set.len()).min(map.len());
    let mut found: Vec<(usize, f32)> = match method {
        RecommendMethod::Mean => {
            let dim = map.dim();
            let mut mean = vec![0f32; dim];
            for &row in &liked_set {
                for (m, v) in mean.iter_mut().zip(map.embedding(row)) {
                    *m += v / liked_set.len() as f32;
                }
            }
            index.nearest(&index.query_point(&mean), wanted, None).into_iter().map(|n| (n.index, n.distance)).collect()
        }
        RecommendMethod::Union => {
            // Each candidate's best rank among a liked song's neighbours, then its distance
            // there: the likes take turns (every like's nearest first, then every like's second),
            // so a like in a tight cluster does not crowd out one in a loose cluster.
            let mut best: HashMap<usize, (usize, f32)> = HashMap::new();
            for &row in &liked_set {
                let others = index.nearest_to(row, wanted).into_iter().filter(|n| !liked_set.contains(&n.index));
                for (rank, n) in others.enumerate() {
                    let entry = best.entry(n.index).or_insert((usize::MAX, f32::INFINITY));
                    *entry = (entry.0.min(rank), entry.1.min(n.distance));
                }
            }
            let mut ranked: Vec<(usize, (usize, f32))> = best.into_iter().collect();
            ranked.sort_by(|a, b| a.1.0.cmp(&b.1.0).then(a.1.1.total_cmp(&b.1.1)).then(a.0.cmp(&b.0)));
            ranked.into_iter().map(|(row, (_, distance))| (row, distance)).collect()
        }
    };
    found.retain(|(row, _)| !liked_set.contains(row));
    if method == RecommendMethod::Mean {
        found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    }
    found.truncate(k);
    let mut liked_sorted: Vec<usize> = liked_set.into_iter().collect();
    liked_sorted.sort_unstable();
    found
        .into_iter()
        .map(|(row, distance)| {
            let mut near: Vec<(usize, f32)> = liked_sorted.iter().map(|&l| (l, index.distance(row, l))).collect();
            near.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            Recommendation { row, distance, near: near.into_iter().take(2).map(|(l, _)| l).collect() }
        })
        .collect()
}

/// Radio: the song to play after `row` ends, its nearest song not in `played` (searched in
/// widening circles); `None` once every song was played.
pub fn radio_next(map: &Map, metric: Metric, row: usize, played: &HashSet<usize>) -> Option<usize> {
    let index = map.embedding_index(metric);
    let mut k = 16;
    loop {
        let k_now = k.min(map.len());
        if let Some(n) = index.nearest_to(row, k_now).into_iter().find(|n| n.index != row && !played.contains(&n.index))
        {
            return Some(n.index);
        }
        if k_now >= map.len() {
            return None;
        }
        k *= 8;
    }
}

/// Neighbours each song links to in the graph a path walks on.
pub const PATH_GRAPH_NEIGHBOURS: usize = 10;

/// Songs the graph search may visit before it gives up for the straight line: each visit is a
/// neighbour query (about 2 ms at 100k songs), so this bounds a path's time at ~10 s.
const PATH_SEARCH_VISITS: usize = 5_000;

/// A path from one song to another: rows in order, first `from`, last `to`, and the distance of
/// each step (one fewer than the rows).
#[derive(Debug, Clone, PartialEq)]
pub struct SongPath {
    pub rows: Vec<usize>,
    pub steps: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathError {
    #[error("the path must have at least 1 step, not {0}")]
    NoSteps(usize),
    #[error("a path of {steps} steps needs {needed} songs; the library has {songs}")]
    TooManySteps { steps: usize, needed: usize, songs: usize },
}

/// A path of short, even steps from `from` to `to` through embedding space.
///
/// Without `steps`: the shortest path on the graph linking each song to its
/// [`PATH_GRAPH_NEIGHBOURS`] nearest, each step costing its squared distance, so
/// that two half steps cost less than one whole one and long jumps are avoided; if the graph does
/// not link the two songs (or the search visits `PATH_SEARCH_VISITS` songs first), or links
/// them only through a step longer than the straight line's longest, the path is drawn as with
/// `steps`, one step per typical step length.
/// With `steps = N`: N − 1 points evenly spaced on the straight line between the two songs, each
/// replaced by the nearest song not yet on the path.
pub fn path_between(
    map: &Map,
    metric: Metric,
    from: usize,
    to: usize,
    steps: Option<usize>,
) -> Result<SongPath, PathError> {
    let index = map.embedding_index(metric);
    if from == to {
        return Ok(SongPath { rows: vec![from], steps: Vec::new() });
    }
    let rows = match steps {
        Some(0) => return Err(PathError::NoSteps(0)),
        Some(n) if n + 1 > map.len() => {
            return Err(PathError::TooManySteps { steps: n, needed: n + 1, songs: map.len() });
        }
        Some(n) => along_the_line(map, metric, from, to, n, None),
        None => {
            // Along the line, as many steps as typical neighbour distances fit in the gap; the
            // graph's path instead if its longest step is shorter (it is, unless the two songs
            // lie in clusters the graph links only through a far-off pair).
            let typical = typical_step(map, metric);
            let n = ((index.distance(from, to) / typical.max(1e-6)).ceil() as usize).clamp(1, map.len() - 1);
            // Only songs near the line: across an empty stretch the path jumps, rather than
            // filling it with the songs nearest to nothing.
            let line = along_the_line(map, metric, from, to, n, Some(typical));
            let longest = |rows: &[usize]| rows.windows(2).map(|w| index.distance(w[0], w[1])).fold(0.0, f32::max);
            match graph_path(map, metric, from, to, typical) {
                Some(graph) if longest(&graph) <= longest(&line) => graph,
                _ => line,
            }
        }
    };
    let steps = rows.windows(2).map(|w| index.distance(w[0], w[1])).collect();
    Ok(SongPath { rows, steps })
}

/// The median distance from a song to the farthest of its [`PATH_GRAPH_NEIGHBOURS`] nearest (over
/// up to 200 songs spread through the map): the length of the graph's typical link. Not the
/// nearest's: excerpts of one recording lie next to each other, and steps that short would
/// make a path of near-copies.
fn typical_step(map: &Map, metric: Metric) -> f32 {
    let stride = (map.len() / 200).max(1);
    let mut distances: Vec<f32> = (0..map.len())
        .step_by(stride)
        .filter_map(|row| map.neighbours(row, PATH_GRAPH_NEIGHBOURS, metric).last().map(|n| n.distance))
        .collect();
    distances.sort_by(f32::total_cmp);
    distances.get(distances.len() / 2).copied().unwrap_or(1.0)
}

/// Songs nearest `steps - 1` points evenly spaced from `from` to `to`, each used once; with
/// `within`, points with no song that near are left out.
fn along_the_line(map: &Map, metric: Metric, from: usize, to: usize, steps: usize, within: Option<f32>) -> Vec<usize> {
    let index = map.embedding_index(metric);
    let (a, b) = (map.embedding(from).to_vec(), map.embedding(to).to_vec());
    let mut used: HashSet<usize> = [from, to].into_iter().collect();
    let mut rows = vec![from];
    for step in 1..steps {
        let t = step as f32 / steps as f32;
        let point: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + (y - x) * t).collect();
        let query = index.query_point(&point);
        let candidates = index.nearest(&query, used.len() + 1, None);
        let near_enough = |n: &crate::space::Neighbour| within.is_none_or(|d| n.distance <= d);
        if let Some(n) = candidates.into_iter().find(|n| !used.contains(&n.index)).filter(near_enough) {
            used.insert(n.index);
            rows.push(n.index);
        }
    }
    rows.push(to);
    rows
}

/// Dijkstra on the k-nearest-neighbour graph. A step costs its squared length (two half steps
/// cost less than one whole: no long jumps) plus the square of a typical step (each song on the
/// way costs something: without it, the path crawls through every song of a dense cluster, 100
/// of the demo's 220 songs between two of them). So steps tend to the typical length. A song's
/// neighbours are looked up when the search reaches it, not for every song beforehand: on a
/// large library the search visits a small part of it.
fn graph_path(map: &Map, metric: Metric, from: usize, to: usize, typical: f32) -> Option<Vec<usize>> {
    let hop = typical * typical;
    let n = map.len();
    #[derive(PartialEq)]
    struct Visit(f32, usize);
    impl Eq for Visit {}
    impl PartialOrd for Visit {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Visit {
        // Reversed: the heap pops the cheapest first; ties by row for a stable answer.
        fn cmp(&self, other: &Self) -> Ordering {
            other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
        }
    }
    let mut cost = vec![f32::INFINITY; n];
    let mut previous = vec![usize::MAX; n];
    let mut heap = BinaryHeap::new();
    cost[from] = 0.0;
    heap.push(Visit(0.0, from));
    let mut visits = 0;
    while let Some(Visit(c, row)) = heap.pop() {
        if row == to {
            break;
        }
        if c > cost[row] {
            continue;
        }
        visits += 1;
        if visits > PATH_SEARCH_VISITS {
            return None;
        }
        for nb in map.neighbours(row, PATH_GRAPH_NEIGHBOURS, metric) {
            let (next, total) = (nb.index, c + nb.distance * nb.distance + hop);
            if total < cost[next] {
                cost[next] = total;
                previous[next] = row;
                heap.push(Visit(total, next));
            }
        }
    }
    if !cost[to].is_finite() {
        return None;
    }
    let mut rows = vec![to];
    while let Some(&last) = rows.last() {
        if last == from {
            break;
        }
        rows.push(previous[last]);
    }
    rows.reverse();
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{ProjectionMethod, test_data::blobs};

    /// Three clusters of 20 songs in 8-d.
    fn map() -> (Map, Vec<usize>) {
        let (values, labels) = blobs(3, 20, 8, 5);
        let positions = values.chunks_exact(8).map(|v| [v[0], v[1], v[2]]).collect();
        (Map::new((1..=60).collect(), values, 8, positions, 10.0, ProjectionMethod::Pca).expect("map"), labels)
    }

    #[test]
    fn recommendations_never_include_a_liked_song_and_say_which_likes_they_are_near() {
        let (map, labels) = map();
        let liked: Vec<usize> = (0..60).filter(|&r| labels[r] == 1).take(3).collect();
        for method in [RecommendMethod::Mean, RecommendMethod::Union] {
            let found = recommend(&map, Metric::Euclidean, &liked, 10, method);
            assert_eq!(found.len(), 10);
            assert!(found.iter().all(|r| !liked.contains(&r.row)), "{method:?}");
            assert!(found.iter().all(|r| labels[r.row] == 1), "{method:?}: from the liked cluster");
            if method == RecommendMethod::Mean {
                assert!(found.windows(2).all(|w| w[0].distance <= w[1].distance));
            }
            assert!(found.iter().all(|r| r.near.len() == 2 && r.near.iter().all(|l| liked.contains(l))));
        }
        assert!(recommend(&map, Metric::Euclidean, &[], 10, RecommendMethod::Union).is_empty());
    }

    #[test]
    fn radio_plays_on_to_the_nearest_unplayed_song_until_every_song_was_played() {
        let (map, labels) = map();
        let mut played = HashSet::from([0]);
        let mut row = 0;
        for _ in 1..60 {
            let next = radio_next(&map, Metric::Euclidean, row, &played).expect("songs left");
            assert!(!played.contains(&next));
            let nearest_unplayed = (0..60)
                .filter(|r| !played.contains(r))
                .min_by(|&a, &b| {
                    let index = map.embedding_index(Metric::Euclidean);
                    index.distance(row, a).total_cmp(&index.distance(row, b)).then(a.cmp(&b))
                })
                .expect("left");
            let index = map.embedding_index(Metric::Euclidean);
            assert_eq!(index.distance(row, next), index.distance(row, nearest_unplayed));
            played.insert(next);
            row = next;
        }
        assert_eq!(radio_next(&map, Metric::Euclidean, row, &played), None);
        // The first steps stay in the first song's cluster.
        let mut played = HashSet::from([0]);
        let next = radio_next(&map, Metric::Euclidean, 0, &played).expect("next");
        played.insert(next);
        assert_eq!(labels[next], labels[0]);
    }

    #[test]
    fn likes_in_two_clusters_keep_both_with_the_union_and_not_with_the_mean() {
        let (map, labels) = map();
        let liked = [(0..60).find(|&r| labels[r] == 0).expect("a"), (0..60).find(|&r| labels[r] == 2).expect("b")];
        let clusters = |method| -> HashSet<usize> {
            recommend(&map, Metric::Euclidean, &liked, 6, method).iter().map(|r| labels[r.row]).collect()
        };
        assert_eq!(clusters(RecommendMethod::Union), [0, 2].into_iter().collect());
        assert!(!clusters(RecommendMethod::Mean).is_superset(&[0, 2].into_iter().collect()));
    }

    #[test]
    fn a_path_starts_and_ends_where_asked_and_crosses_a_gap_once() {
        let (map, labels) = map();
        let from = (0..60).find(|&r| labels[r] == 0).expect("from");
        let to = (0..60).rev().find(|&r| labels[r] == 2).expect("to");
        let jump = map.embedding_index(Metric::Euclidean).distance(from, to);
        for steps in [None, Some(4)] {
            let path = path_between(&map, Metric::Euclidean, from, to, steps).expect("path");
            assert_eq!((path.rows[0], *path.rows.last().expect("last")), (from, to));
            assert_eq!(path.steps.len(), path.rows.len() - 1);
            let unique: HashSet<usize> = path.rows.iter().copied().collect();
            assert_eq!(unique.len(), path.rows.len(), "no song twice");
            // The clusters lie far apart: the path crosses the gap once, in one long step, and
            // walks through each cluster in short ones.
            let long = path.steps.iter().filter(|&&s| s > jump / 2.0).count();
            assert_eq!(long, 1, "{steps:?}, jump {jump}: {path:?}");
            if let Some(n) = steps {
                assert_eq!(path.steps.len(), n);
            }
        }
        // Within one cluster the graph's path goes through neighbours: every step is short.
        let other = (0..60).rev().find(|&r| labels[r] == 0).expect("other");
        let path = path_between(&map, Metric::Euclidean, from, other, None).expect("path");
        let longest = path.steps.iter().copied().fold(0.0, f32::max);
        assert!(longest <= map.embedding_index(Metric::Euclidean).distance(from, other) + 1e-6);
        assert_eq!(path_between(&map, Metric::Euclidean, from, to, Some(0)), Err(PathError::NoSteps(0)));
        assert!(matches!(
            path_between(&map, Metric::Euclidean, from, to, Some(60)),
            Err(PathError::TooManySteps { .. })
        ));
    }
}
