//! Families of songs the map found by itself: k-means clusters in the embedding space, each
//! described by its size, its genres, its typical descriptors against the library's and the
//! songs nearest its centre, and named from that profile ("fast, bright, percussive · mostly
//! Electronic").

use std::collections::BTreeMap;

use serde::Serialize;

use crate::audio::{Descriptor, Descriptors, percentile};
use crate::library::Library;
use crate::model::kmeans::{kmeans, silhouette, suggest_k};
use crate::space::Map;

/// k tried when none is given: from 2 to this (or fewer when the library is small).
pub const MAX_SUGGESTED_K: usize = 12;
/// Songs the silhouette search clusters (drawn evenly); the final clustering uses every song.
const SUGGESTION_SAMPLE: usize = 4_000;
/// A descriptor names a cluster when the cluster's median lies this many robust standard
/// deviations from the library's median.
const NAMING_THRESHOLD: f32 = 0.5;
/// Descriptor words in a name, at most (more only to tell two clusters apart).
const NAME_WORDS: usize = 3;
/// A genre with at least this share of a cluster makes it "mostly" that genre.
const MOSTLY_SHARE: f32 = 0.5;
/// Songs nearest a cluster's centre that represent it.
pub const REPRESENTATIVES: usize = 3;

/// One cluster and what it sounds like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSummary {
    pub id: usize,
    pub size: usize,
    pub name: String,
    /// Genre name -> songs of it ("Unknown" for songs without a genre).
    pub genres: BTreeMap<String, usize>,
    /// Track ids of the songs nearest the centre, nearest first.
    pub representatives: Vec<u64>,
    /// Track ids of every member, nearest the centre first.
    pub tracks: Vec<u64>,
    /// Descriptor -> the members' median (only songs with descriptors count).
    pub profile: BTreeMap<String, f32>,
    /// Descriptor -> how far that median lies from the library's, in robust standard
    /// deviations of the library (positive: more than typical).
    pub relative: BTreeMap<String, f32>,
    /// Mean map position of the members: where its name floats.
    pub centre_position: [f32; 3],
    /// The k-means centre in embedding space (not in the JSON: 32 numbers nobody reads).
    #[serde(skip)]
    pub centre: Vec<f32>,
}

/// A clustering of a whole map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterReport {
    pub k: usize,
    pub seed: u64,
    /// Mean silhouette of this clustering (sampled for large maps).
    pub silhouette: f32,
    /// When k was not given: the silhouette of each k tried (the best was taken).
    pub tried: Vec<(usize, f32)>,
    /// Descriptor -> the library's median.
    pub library_profile: BTreeMap<String, f32>,
    pub clusters: Vec<ClusterSummary>,
}

impl ClusterReport {
    /// "3. fast, bright · mostly Folk": how the legend and the panels name cluster `id`.
    pub fn label(&self, id: usize) -> String {
        format!("{}. {}", id + 1, self.clusters[id].name)
    }

    /// The cluster of each map row.
    pub fn assignment(&self, rows: usize, map: &Map) -> Vec<Option<usize>> {
        let mut of_row = vec![None; rows];
        for cluster in &self.clusters {
            for &id in &cluster.tracks {
                if let Some(row) = map.row(id).filter(|&r| r < rows) {
                    of_row[row] = Some(cluster.id);
                }
            }
        }
        of_row
    }
}

/// Clusters every song of `map` into `k` clusters (or the k in 2..=12 with the best silhouette)
/// and describes each with `library`'s genres and descriptors. The same seed gives the same
/// report.
pub fn cluster_map(map: &Map, library: &Library, k: Option<usize>, seed: u64) -> ClusterReport {
    let facts: Vec<SongFacts> = (0..map.len())
        .map(|r| {
            let track = library.track(map.id(r));
            SongFacts { genre: track.and_then(|t| t.genre.clone()), descriptors: track.and_then(|t| t.descriptors) }
        })
        .collect();
    cluster_songs(map, &facts, k, seed)
}

/// What a cluster's profile needs of each song besides its embedding.
#[derive(Debug, Clone, Default)]
pub struct SongFacts {
    pub genre: Option<String>,
    pub descriptors: Option<Descriptors>,
}

/// [`cluster_map`] with each map row's facts given (row order), so that a worker thread needs
/// no copy of the whole library.
pub fn cluster_songs(map: &Map, facts: &[SongFacts], k: Option<usize>, seed: u64) -> ClusterReport {
    assert_eq!(facts.len(), map.len(), "one entry per map row");
    let n = map.len();
    let rows: Vec<&[f32]> = (0..n).map(|r| map.embedding(r)).collect();
    let (k, tried) = match k {
        Some(k) => (k, Vec::new()),
        None => {
            // The silhouette needs many clusterings; an even sample keeps that quick at any size.
            let step = n.div_ceil(SUGGESTION_SAMPLE).max(1);
            let sample: Vec<&[f32]> = rows.iter().step_by(step).copied().collect();
            let (best, tried) = suggest_k(&sample, 2..=MAX_SUGGESTED_K.min(sample.len().saturating_sub(1)), seed);
            (best, tried)
        }
    };
    let clustering = kmeans(&rows, k, seed);
    let score = silhouette(&rows, &clustering.assignment, clustering.k(), seed);

    let descriptors_of_row: Vec<Option<Descriptors>> = facts.iter().map(|f| f.descriptors).collect();
    let library_values = |d: Descriptor| -> Vec<f32> { descriptors_of_row.iter().flatten().map(|x| d.of(x)).collect() };
    let mut library_profile = BTreeMap::new();
    let mut scale = BTreeMap::new();
    for d in Descriptor::ALL {
        let values = library_values(d);
        if values.is_empty() {
            continue;
        }
        library_profile.insert(d.key().to_string(), percentile(&values, 0.5));
        scale.insert(d, robust_scale(&values));
    }

    let mut clusters: Vec<ClusterSummary> = (0..clustering.k())
        .map(|c| {
            let members: Vec<usize> = (0..n).filter(|&r| clustering.assignment[r] == c).collect();
            let mut genres = BTreeMap::new();
            for &r in &members {
                let genre = facts[r].genre.clone().unwrap_or_else(|| "Unknown".to_string());
                *genres.entry(genre).or_insert(0) += 1;
            }
            let mut by_distance: Vec<(f64, usize)> = members
                .iter()
                .map(|&r| {
                    let d: f64 =
                        rows[r].iter().zip(&clustering.centres[c]).map(|(a, b)| f64::from(a - b).powi(2)).sum();
                    (d, r)
                })
                .collect();
            by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut profile = BTreeMap::new();
            let mut relative = BTreeMap::new();
            for d in Descriptor::ALL {
                let values: Vec<f32> =
                    members.iter().filter_map(|&r| descriptors_of_row[r].map(|x| d.of(&x))).collect();
                let (Some(&library_median), Some(&scale)) = (library_profile.get(d.key()), scale.get(&d)) else {
                    continue;
                };
                if values.is_empty() {
                    continue;
                }
                let median = percentile(&values, 0.5);
                profile.insert(d.key().to_string(), median);
                relative.insert(d.key().to_string(), (median - library_median) / scale);
            }
            let mut centre_position = [0.0f32; 3];
            for &r in &members {
                let p = map.position(r);
                for (c, v) in centre_position.iter_mut().zip(p) {
                    *c += v / members.len() as f32;
                }
            }
            ClusterSummary {
                id: c,
                size: members.len(),
                name: String::new(),
                genres,
                representatives: by_distance.iter().take(REPRESENTATIVES).map(|&(_, r)| map.id(r)).collect(),
                tracks: by_distance.iter().map(|&(_, r)| map.id(r)).collect(),
                profile,
                relative,
                centre_position,
                centre: clustering.centres[c].clone(),
            }
        })
        .collect();
    name_clusters(&mut clusters);
    ClusterReport { k: clusters.len(), seed, silhouette: score, tried, library_profile, clusters }
}

/// The interquartile range as a standard deviation (IQR / 1.349), which one odd song cannot
/// stretch; falls back to the standard deviation, then to 1, when the values barely vary.
fn robust_scale(values: &[f32]) -> f32 {
    let iqr = (percentile(values, 0.75) - percentile(values, 0.25)) / 1.349;
    if iqr > 1e-6 {
        return iqr;
    }
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / values.len() as f32).sqrt();
    if std > 1e-6 { std } else { 1.0 }
}

/// A cluster's descriptor words, most distinctive first: the word for the side its median lies
/// on, with how far it lies.
fn descriptor_words(cluster: &ClusterSummary) -> Vec<(&'static str, f32)> {
    let mut words: Vec<(&'static str, f32)> = Descriptor::ALL
        .iter()
        .filter_map(|&d| {
            let z = *cluster.relative.get(d.key())?;
            let (above, below) = d.words();
            Some((if z >= 0.0 { above } else { below }, z.abs()))
        })
        .collect();
    words.sort_by(|a, b| b.1.total_cmp(&a.1));
    words
}

/// "mostly Folk", "Folk and Rock", or "mixed".
fn genre_phrase(cluster: &ClusterSummary) -> String {
    let mut genres: Vec<(&String, &usize)> = cluster.genres.iter().collect();
    genres.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let share = |i: usize| genres.get(i).map_or(0.0, |g| *g.1 as f32 / cluster.size.max(1) as f32);
    match genres.first() {
        Some((genre, _)) if share(0) >= MOSTLY_SHARE => format!("mostly {genre}"),
        Some((first, _)) if genres.len() >= 2 && share(0) + share(1) >= MOSTLY_SHARE + 0.2 => {
            format!("{first} and {}", genres[1].0)
        }
        _ => "mixed".to_string(),
    }
}

/// Names every cluster from its profile: up to three descriptor words that set it apart (those
/// at least half a robust standard deviation from the library), then its genres. Two clusters
/// never share a name: the next most distinctive word is added to tell them apart, and if
/// their words run out, their number.
fn name_clusters(clusters: &mut [ClusterSummary]) {
    let words: Vec<Vec<(&'static str, f32)>> = clusters.iter().map(descriptor_words).collect();
    let genres: Vec<String> = clusters.iter().map(genre_phrase).collect();
    let mut counts: Vec<usize> =
        words.iter().map(|w| w.iter().take(NAME_WORDS).filter(|(_, z)| *z >= NAMING_THRESHOLD).count()).collect();
    let name_of = |c: usize, count: usize| {
        let chosen: Vec<&str> = words[c].iter().take(count).map(|(w, _)| *w).collect();
        if chosen.is_empty() {
            format!("typical · {}", genres[c])
        } else {
            format!("{} · {}", chosen.join(", "), genres[c])
        }
    };
    for _ in 0..=Descriptor::ALL.len() {
        let names: Vec<String> = (0..clusters.len()).map(|c| name_of(c, counts[c])).collect();
        let mut grew = false;
        for c in 0..clusters.len() {
            let clash = names.iter().enumerate().any(|(o, n)| o != c && *n == names[c]);
            if clash && counts[c] < words[c].len() {
                counts[c] += 1;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    let names: Vec<String> = (0..clusters.len()).map(|c| name_of(c, counts[c])).collect();
    for (c, cluster) in clusters.iter_mut().enumerate() {
        let clash = names.iter().enumerate().any(|(o, n)| o != c && *n == names[c]);
        cluster.name = if clash { format!("{} ({})", names[c], c + 1) } else { names[c].clone() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(id: usize, relative: &[(&str, f32)], genres: &[(&str, usize)]) -> ClusterSummary {
        ClusterSummary {
            id,
            size: genres.iter().map(|g| g.1).sum(),
            name: String::new(),
            genres: genres.iter().map(|(g, n)| (g.to_string(), *n)).collect(),
            representatives: Vec::new(),
            tracks: Vec::new(),
            profile: BTreeMap::new(),
            relative: relative.iter().map(|(k, z)| (k.to_string(), *z)).collect(),
            centre_position: [0.0; 3],
            centre: Vec::new(),
        }
    }

    #[test]
    fn names_say_what_sets_a_cluster_apart_and_never_repeat() {
        let mut clusters = vec![
            cluster(
                0,
                &[("tempo", 1.2), ("brightness", 0.9), ("onset_rate", 0.7), ("loudness", 0.1)],
                &[("Electronic", 8), ("Rock", 2)],
            ),
            cluster(
                1,
                &[("tempo", -1.0), ("brightness", -0.2), ("dynamics", 0.8)],
                &[("Folk", 3), ("Classical", 3), ("Rock", 1)],
            ),
            cluster(2, &[("tempo", 0.1), ("loudness", -0.1)], &[("Folk", 2), ("Rock", 2), ("Jazz", 2)]),
            // Same strong words and genres as cluster 0, a different weaker one.
            cluster(
                3,
                &[("tempo", 1.1), ("brightness", 0.8), ("onset_rate", 0.6), ("dynamics", -0.3)],
                &[("Electronic", 5)],
            ),
        ];
        name_clusters(&mut clusters);
        let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names[1], "slow, dynamic · Classical and Folk");
        assert_eq!(names[2], "typical · mixed");
        assert!(
            names[0].starts_with("fast, bright, percussive") && names[0].ends_with("· mostly Electronic"),
            "{names:?}"
        );
        assert_eq!(names[0], "fast, bright, percussive, loud · mostly Electronic", "told apart by the next word");
        assert_eq!(names[3], "fast, bright, percussive, even · mostly Electronic");
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn identical_profiles_are_told_apart_by_number() {
        let mut clusters =
            vec![cluster(0, &[("tempo", 1.0)], &[("Folk", 4)]), cluster(1, &[("tempo", 1.0)], &[("Folk", 4)])];
        name_clusters(&mut clusters);
        assert_eq!(clusters[0].name, "fast · mostly Folk (1)");
        assert_eq!(clusters[1].name, "fast · mostly Folk (2)");
    }

    #[test]
    fn the_robust_scale_ignores_one_odd_value() {
        let mut values: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let before = robust_scale(&values);
        values[99] = 1e6;
        assert_eq!(robust_scale(&values), before);
        assert_eq!(robust_scale(&[3.0; 10]), 1.0);
    }
}
