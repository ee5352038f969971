//! What the explorer window shows and how it answers, with no window: the tracks of a map with
//! their genre colours, the selection and its nearest songs, the distance filter, the genre
//! legend's filter and search. The bevy plugins in `app` only draw this and forward input to it,
//! so every rule here is tested without a GPU.

pub mod clusters;
mod labels;
pub mod listen;
mod palette;
pub mod queue;
mod search;

use std::path::{Path, PathBuf};

pub use labels::{LabelRequest, ScreenRect, layout_labels};
pub use palette::{UNKNOWN_GENRE, genre_colour, scheme_colour, value_colour};
pub use search::{SearchEntry, search};

use crate::audio::percentile;
pub use crate::library::{ColourBy, ColourScheme, FilterSpace, ViewSettings};
use crate::library::{Library, Track, load_library, resolve_library_path};
use crate::space::{
    DistanceRanking, Located, Map, MapIndices, Metric, Neighbour, RetiredTrees, SpaceError, library_paths_of, new_track,
};
use clusters::ClusterReport;

/// Songs a session can drop before the per-song tables grow (and copy themselves).
const DROPS_WITHOUT_GROWING: usize = 256;

/// How many nearest songs a selection shows.
pub const NEIGHBOURS_SHOWN: usize = 3;

/// A value no distance reaches: a point with it is hidden whatever the filter.
pub const HIDDEN_DISTANCE: f32 = f32::INFINITY;

#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error(transparent)]
    Library(#[from] crate::error::LibraryError),
    #[error(transparent)]
    File(#[from] crate::error::FileError),
    #[error(transparent)]
    Space(#[from] SpaceError),
}

/// One entry of the genre legend.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// `None` for the tracks without a genre.
    pub name: Option<String>,
    pub count: usize,
    pub colour: [f32; 3],
    pub shown: bool,
    /// What the entry without a name is called: "(no genre)", "(no artist)"…
    pub missing: &'static str,
}

impl LegendEntry {
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(self.missing)
    }
}

/// The selected song, its nearest songs and every track's distance from it.
#[derive(Debug, Clone)]
pub struct Selection {
    pub row: usize,
    /// Nearest first, in embedding space.
    pub neighbours: Vec<Neighbour>,
    /// Which of `neighbours` N / P last moved to, if any.
    pub neighbour_cursor: Option<usize>,
    in_embedding: DistanceRanking,
    on_map: DistanceRanking,
}

impl Selection {
    fn ranking(&self, space: FilterSpace) -> &DistanceRanking {
        match space {
            FilterSpace::Embedding => &self.in_embedding,
            FilterSpace::Map => &self.on_map,
        }
    }
}

/// Everything the window shows of one library.
pub struct Explorer {
    library: Library,
    library_path: PathBuf,
    map: Map,
    /// Per map row: the index of its track in `library.tracks`.
    track_of_row: Vec<usize>,
    /// Per map row: its entry in `legend`.
    legend_of_row: Vec<usize>,
    /// The categories songs are coloured by (genres, clusters, artists or albums), most songs
    /// first; toggling and soloing act on them.
    legend: Vec<LegendEntry>,
    colour_by: ColourBy,
    /// The clusters of the map, once computed (the window computes them on a worker thread).
    clusters: Option<std::sync::Arc<ClusterReport>>,
    /// Per map row: its cluster, when clusters are known.
    cluster_of_row: Vec<Option<usize>>,
    /// Per map row in a descriptor mode: its value scaled to [0, 1] (None: not measured).
    scaled_value_of_row: Vec<Option<f32>>,
    /// The descriptor values the colour scale runs between (its 2nd and 98th percentiles).
    value_range: Option<(f32, f32)>,
    search_entries: Vec<SearchEntry>,
    /// Rows added in this session by dropping a file: drawn differently.
    added_rows: Vec<usize>,
    /// Each track's id by its stored path, and the next free id: a drop on a large library is
    /// checked and numbered without a pass over every track on the frame.
    id_of_path: std::collections::HashMap<PathBuf, u64>,
    next_id: u64,
    metric: Metric,
    colours: ColourScheme,
    /// Positions shown instead of the map's while it is being laid out anew or animated there.
    shown_positions: Option<Vec<[f32; 3]>>,
    selection: Option<Selection>,
    filter_space: FilterSpace,
    filter_radius: Option<f32>,
    /// Changed whenever positions or colours change (the GPU's point buffer must be rebuilt).
    points_version: u64,
    /// Changed whenever what is hidden changes other than by the filter radius.
    visibility_version: u64,
    /// Set once when the explorer is made: work started for one explorer (a clustering) is not
    /// handed to another that replaced it.
    generation: u64,
}

impl Explorer {
    /// Opens a library (a file, or a music folder imported with the default location) with its map.
    pub fn open(path: &Path) -> Result<Self, ExploreError> {
        let library_path = resolve_library_path(path)?;
        let library = load_library(&library_path)?;
        let map = Map::load(&library, &library_path)?;
        Ok(Self::new(library, library_path, map))
    }

    /// An explorer over a loaded library and its map. Map rows without a track in the library
    /// (impossible for files written by songspace) are kept and shown without a genre.
    pub fn new(library: Library, library_path: PathBuf, map: Map) -> Self {
        let view = library.view.unwrap_or_default();
        let mut explorer = Self {
            library,
            library_path,
            map,
            track_of_row: Vec::new(),
            legend_of_row: Vec::new(),
            legend: Vec::new(),
            colour_by: view.colour_by,
            clusters: None,
            cluster_of_row: Vec::new(),
            scaled_value_of_row: Vec::new(),
            value_range: None,
            search_entries: Vec::new(),
            added_rows: Vec::new(),
            id_of_path: std::collections::HashMap::new(),
            next_id: 1,
            metric: view.metric,
            colours: view.colours,
            shown_positions: None,
            selection: None,
            filter_space: view.filter_space,
            filter_radius: None,
            points_version: fresh_version(),
            visibility_version: fresh_version(),
            generation: fresh_version(),
        };
        explorer.index_rows();
        explorer.index_paths();
        explorer
    }

    /// Rebuilds the per-row tables and the legend (genres ranked by count, so the most common
    /// get the most distinct colours). Keeps which genres were hidden.
    fn index_rows(&mut self) {
        let track_index: std::collections::HashMap<u64, usize> =
            self.library.tracks.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
        self.track_of_row =
            (0..self.map.len()).map(|row| track_index.get(&self.map.id(row)).copied().unwrap_or(usize::MAX)).collect();
        self.index_colours();
        self.search_entries = (0..self.map.len()).map(|row| self.search_entry(row)).collect();
        // Room for the songs a session drops: growing a table of 100k tracks copies megabytes.
        self.track_of_row.reserve(DROPS_WITHOUT_GROWING);
        self.legend_of_row.reserve(DROPS_WITHOUT_GROWING);
        self.search_entries.reserve(DROPS_WITHOUT_GROWING);
        self.points_version = fresh_version();
        self.visibility_version = fresh_version();
    }

    /// The legend and each row's entry for the current colour mode, and in a descriptor mode each
    /// row's place on the colour scale. Keeps which entries were hidden (by name).
    fn index_colours(&mut self) {
        self.scaled_value_of_row.clear();
        self.value_range = None;
        if let Some(descriptor) = self.colour_by.descriptor() {
            let values: Vec<f32> = (0..self.map.len())
                .filter_map(|row| self.track_at(row).and_then(|t| t.descriptors).map(|d| descriptor.of(&d)))
                .collect();
            if !values.is_empty() {
                let (low, high) = (percentile(&values, 0.02), percentile(&values, 0.98));
                self.value_range = Some((low, if high > low { high } else { low + 1.0 }));
            }
            self.scaled_value_of_row = (0..self.map.len()).map(|row| self.scaled_value(row)).collect();
        }
        let mut counts: std::collections::HashMap<Option<String>, usize> = std::collections::HashMap::new();
        let categories: Vec<Option<String>> = (0..self.map.len()).map(|row| self.category_of(row)).collect();
        for category in &categories {
            *counts.entry(category.clone()).or_default() += 1;
        }
        self.rank_legend(counts.into_iter().collect());
        let index: std::collections::HashMap<Option<&str>, usize> =
            self.legend.iter().enumerate().map(|(i, g)| (g.name.as_deref(), i)).collect();
        self.legend_of_row = categories.iter().map(|c| index[&c.as_deref()]).collect();
        self.legend_of_row.reserve(DROPS_WITHOUT_GROWING);
    }

    /// The legend category of the song at `row` in the current colour mode (None: it has none).
    fn category_of(&self, row: usize) -> Option<String> {
        let track = self.track_at(row);
        let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
        match self.colour_by {
            ColourBy::Genre => track.and_then(|t| t.genre.clone()),
            ColourBy::Artist => track.and_then(|t| non_empty(&t.artist)),
            ColourBy::Album => track.and_then(|t| non_empty(&t.album)),
            ColourBy::Cluster => {
                let cluster = (*self.cluster_of_row.get(row)?)?;
                Some(self.clusters.as_ref()?.label(cluster))
            }
            _ => {
                let descriptor = self.colour_by.descriptor()?;
                track.and_then(|t| t.descriptors).map(|_| format!("measured {}", descriptor.label().to_lowercase()))
            }
        }
    }

    /// The song's descriptor value on the colour scale, in [0, 1].
    fn scaled_value(&self, row: usize) -> Option<f32> {
        let descriptor = self.colour_by.descriptor()?;
        let (low, high) = self.value_range?;
        let value = descriptor.of(&self.track_at(row)?.descriptors?);
        Some(((value - low) / (high - low)).clamp(0.0, 1.0))
    }

    /// Each track's id by its stored path and the next free id, once per library: what a drop
    /// needs to refuse a file the library has and to number a new one without a pass over
    /// every track (kept up to date by [`Explorer::add_located`]).
    fn index_paths(&mut self) {
        self.id_of_path = self.library.tracks.iter().map(|t| (t.path.clone(), t.id)).collect();
        self.next_id = self.library.next_id.max(self.library.tracks.iter().map(|t| t.id + 1).max().unwrap_or(1));
        self.library.tracks.reserve(DROPS_WITHOUT_GROWING);
    }

    /// The tables after one row was appended to the map for the library's last track: what
    /// [`Explorer::index_rows`] would give, without a pass over every track's tags (a drop on a
    /// large library must not hold the frame). The legend may reorder; rows keep their genre.
    fn index_appended_row(&mut self, row: usize) {
        debug_assert_eq!(row, self.track_of_row.len(), "only appended rows");
        self.track_of_row.push(self.library.tracks.len() - 1);
        if let Some(clusters) = &self.clusters {
            let nearest = nearest_cluster(clusters, self.map.embedding(row));
            self.cluster_of_row.push(nearest);
        }
        self.scaled_value_of_row.push(self.scaled_value(row));
        let category = self.category_of(row);
        let mut counts: Vec<(Option<String>, usize)> = self.legend.iter().map(|g| (g.name.clone(), g.count)).collect();
        match counts.iter_mut().find(|(name, _)| *name == category) {
            Some((_, count)) => *count += 1,
            None => counts.push((category.clone(), 1)),
        }
        let before: Vec<Option<String>> = self.legend.iter().map(|g| g.name.clone()).collect();
        self.rank_legend(counts);
        let new_index = |name: &Option<String>| self.legend.iter().position(|g| g.name == *name).unwrap_or(0);
        let moved: Vec<usize> = before.iter().map(new_index).collect();
        if moved.iter().enumerate().any(|(old, &new)| old != new) {
            for entry in &mut self.legend_of_row {
                *entry = moved[*entry];
            }
        }
        self.legend_of_row.push(new_index(&category));
        self.search_entries.push(self.search_entry(row));
        self.points_version = fresh_version();
        self.visibility_version = fresh_version();
    }

    /// Orders the legend (most tracks first; the unknown genre last whatever its size; names
    /// break ties) and gives each genre its colour by rank, keeping which were hidden.
    fn rank_legend(&mut self, mut named: Vec<(Option<String>, usize)>) {
        let hidden: Vec<Option<String>> = self.legend.iter().filter(|g| !g.shown).map(|g| g.name.clone()).collect();
        named.sort_by(|a, b| a.0.is_none().cmp(&b.0.is_none()).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
        let mut rank = 0;
        let named_count = named.iter().filter(|(name, _)| name.is_some()).count();
        self.legend = named
            .into_iter()
            .map(|(name, count)| {
                let colour = if name.is_some() {
                    rank += 1;
                    if self.colour_by.descriptor().is_some() {
                        // The songs are coloured by their value; the legend's swatch is the scale's middle.
                        value_colour(0.5)
                    } else {
                        scheme_colour(self.colours, rank - 1, named_count)
                    }
                } else {
                    UNKNOWN_GENRE
                };
                LegendEntry {
                    shown: !hidden.contains(&name),
                    name,
                    count,
                    colour,
                    missing: self.colour_by.missing_label(),
                }
            })
            .collect();
    }

    fn search_entry(&self, row: usize) -> SearchEntry {
        match self.track_at(row) {
            Some(t) => SearchEntry::new(&t.title, &t.artist, &t.album),
            None => SearchEntry::new("", "", ""),
        }
    }

    pub fn library(&self) -> &Library {
        &self.library
    }

    pub fn library_path(&self) -> &Path {
        &self.library_path
    }

    pub fn map(&self) -> &Map {
        &self.map
    }

    /// Number of songs on the map.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn track_at(&self, row: usize) -> Option<&Track> {
        self.library.tracks.get(*self.track_of_row.get(row)?)
    }

    /// "Title — Artist" (or just the title) for labels and tooltips.
    pub fn display_name(&self, row: usize) -> String {
        match self.track_at(row) {
            Some(t) if t.artist.is_empty() => t.title.clone(),
            Some(t) => format!("{} — {}", t.title, t.artist),
            None => format!("track {}", self.map.id(row)),
        }
    }

    /// Where the song's audio file is (the library may store it relative to its root).
    pub fn audio_path(&self, row: usize) -> Option<PathBuf> {
        self.track_at(row).map(|t| self.library.absolute_path(t))
    }

    /// Where the song is drawn: on the map, or where an animation towards a new map has it now.
    pub fn position(&self, row: usize) -> [f32; 3] {
        match &self.shown_positions {
            Some(shown) => shown[row],
            None => self.map.position(row),
        }
    }

    /// Whether every song is drawn at its place on the map (not moved by an animation), so the
    /// map's kd-tree of positions answers what is under the pointer.
    pub fn draws_map_positions(&self) -> bool {
        self.shown_positions.is_none()
    }

    /// Draws every song at `positions` (one per row) instead of on the map, until cleared with
    /// `None`. Picking and labels follow what is drawn; distances still come from the map.
    pub fn show_positions(&mut self, positions: Option<Vec<[f32; 3]>>) {
        if let Some(shown) = &positions {
            assert_eq!(shown.len(), self.len(), "one shown position per song");
        }
        if positions.is_some() || self.shown_positions.is_some() {
            self.shown_positions = positions;
            self.points_version = fresh_version();
        }
    }

    /// Each row's position in a layout given by track ids (`n × 3` row-major); songs the layout
    /// lacks keep the position they are drawn at now.
    pub fn positions_from_layout(&self, ids: &[u64], layout: &[f32]) -> Vec<[f32; 3]> {
        let mut positions: Vec<[f32; 3]> = (0..self.len()).map(|row| self.position(row)).collect();
        for (i, id) in ids.iter().enumerate() {
            if let (Some(row), Some(p)) = (self.map.row(*id), layout.get(i * 3..i * 3 + 3)) {
                positions[row] = [p[0], p[1], p[2]];
            }
        }
        positions
    }

    /// The choices a user makes about how the library is looked at.
    pub fn view_settings(&self) -> ViewSettings {
        ViewSettings {
            metric: self.metric,
            filter_space: self.filter_space,
            colours: self.colours,
            colour_by: self.colour_by,
        }
    }

    /// Ranks neighbours by another distance; the selection's nearest songs are found again.
    pub fn set_metric(&mut self, metric: Metric) {
        if metric != self.metric {
            self.metric = metric;
            if let Some(row) = self.selected() {
                let filter = self.filter_radius.take();
                self.select(row);
                // A radius in one metric means nothing in the other, unless it is on the map.
                if self.filter_space == FilterSpace::Map {
                    self.filter_radius = filter;
                }
            }
        }
    }

    pub fn colours(&self) -> ColourScheme {
        self.colours
    }

    pub fn set_colours(&mut self, colours: ColourScheme) {
        if colours != self.colours {
            self.colours = colours;
            // The same counts rank the same: only the colours change, every row keeps its entry.
            self.rank_legend(self.legend.iter().map(|g| (g.name.clone(), g.count)).collect());
            self.points_version = fresh_version();
        }
    }

    /// Which explorer this is ([`Explorer::new`] gives each its own).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn colour_by(&self) -> ColourBy {
        self.colour_by
    }

    /// Colours the songs by another property; the legend becomes that property's categories
    /// (what was hidden in the old legend is shown again).
    pub fn set_colour_by(&mut self, colour_by: ColourBy) {
        if colour_by != self.colour_by {
            self.colour_by = colour_by;
            self.legend.clear();
            self.index_colours();
            self.points_version = fresh_version();
            self.visibility_version = fresh_version();
        }
    }

    /// The clusters the map was last given ([`Explorer::set_clusters`]).
    pub fn clusters(&self) -> Option<&ClusterReport> {
        self.clusters.as_deref()
    }

    /// The same, shared: a copy of the pointer, not of every cluster's songs.
    pub fn shared_clusters(&self) -> Option<std::sync::Arc<ClusterReport>> {
        self.clusters.clone()
    }

    /// Whether no clustering has been handed over yet (a dropped song joins its nearest cluster
    /// without a new clustering).
    pub fn needs_clusters(&self) -> bool {
        self.clusters.is_none()
    }

    /// The legend entry of cluster `id`, when the songs are coloured by cluster.
    pub fn legend_index_of_cluster(&self, id: usize) -> Option<usize> {
        if self.colour_by != ColourBy::Cluster {
            return None;
        }
        let label = self.clusters.as_ref().filter(|c| id < c.clusters.len())?.label(id);
        self.legend.iter().position(|e| e.name.as_deref() == Some(label.as_str()))
    }

    /// Takes a clustering of this map (made by [`crate::explore::clusters::cluster_map`] on a
    /// worker); songs it does not name (dropped since) join their nearest cluster.
    pub fn set_clusters(&mut self, report: std::sync::Arc<ClusterReport>) {
        let mut of_row = report.assignment(self.map.len(), &self.map);
        for (row, slot) in of_row.iter_mut().enumerate() {
            if slot.is_none() {
                *slot = nearest_cluster(&report, self.map.embedding(row));
            }
        }
        self.cluster_of_row = of_row;
        self.cluster_of_row.reserve(DROPS_WITHOUT_GROWING);
        self.clusters = Some(report);
        if self.colour_by == ColourBy::Cluster {
            self.legend.clear();
            self.index_colours();
            self.points_version = fresh_version();
            self.visibility_version = fresh_version();
        }
    }

    /// The cluster of the song at `row`, once clusters are known.
    pub fn cluster_of(&self, row: usize) -> Option<usize> {
        self.cluster_of_row.get(row).copied().flatten()
    }

    /// The colour the song at `row` is drawn with: its legend entry's, or in a descriptor mode its
    /// value's on the colour scale (grey when not measured).
    pub fn row_colour(&self, row: usize) -> [f32; 3] {
        if self.colour_by.descriptor().is_some() {
            return match self.scaled_value_of_row.get(row).copied().flatten() {
                Some(t) => value_colour(t),
                None => UNKNOWN_GENRE,
            };
        }
        self.legend[self.legend_of_row[row]].colour
    }

    /// In a descriptor mode: the values at the two ends of the colour scale.
    pub fn value_range(&self) -> Option<(f32, f32)> {
        self.value_range
    }

    /// The song's genre, or "(no genre)", whatever the songs are coloured by.
    pub fn genre_label(&self, row: usize) -> &str {
        self.track_at(row).and_then(|t| t.genre.as_deref()).unwrap_or("(no genre)")
    }

    pub fn legend(&self) -> &[LegendEntry] {
        &self.legend
    }

    pub fn legend_entry_of(&self, row: usize) -> &LegendEntry {
        &self.legend[self.legend_of_row[row]]
    }

    /// The legend entry (index into [`Explorer::legend`]) of the song at `row`.
    pub fn legend_index_of(&self, row: usize) -> usize {
        self.legend_of_row[row]
    }

    pub fn is_added(&self, row: usize) -> bool {
        self.added_rows.contains(&row)
    }

    /// The rows added in this session by dropping a file.
    pub fn added_rows(&self) -> &[usize] {
        &self.added_rows
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn points_version(&self) -> u64 {
        self.points_version
    }

    pub fn visibility_version(&self) -> u64 {
        self.visibility_version
    }

    // --- selection ---------------------------------------------------------------------------

    pub fn selection(&self) -> Option<&Selection> {
        self.selection.as_ref()
    }

    pub fn selected(&self) -> Option<usize> {
        self.selection.as_ref().map(|s| s.row)
    }

    /// Selects a song: finds its nearest songs and ranks every song by distance from it, once,
    /// so that moving the filter slider afterwards costs a binary search.
    pub fn select(&mut self, row: usize) {
        assert!(row < self.map.len(), "row {row} is not on the map");
        let index = self.map.embedding_index(self.metric);
        let query = index.query_point(self.map.embedding(row));
        let position = self.map.position(row);
        self.selection = Some(Selection {
            row,
            neighbours: self.map.neighbours(row, NEIGHBOURS_SHOWN, self.metric),
            neighbour_cursor: None,
            in_embedding: index.ranking_from(&query),
            on_map: self.map.position_index().ranking_from(&position),
        });
        self.visibility_version = fresh_version();
    }

    /// Clears the selection; the distance filter has nothing to measure from and lets all through.
    pub fn clear_selection(&mut self) {
        if self.selection.take().is_some() {
            self.visibility_version = fresh_version();
        }
    }

    /// Moves the neighbour cursor forward (or back) through the selection's nearest songs,
    /// wrapping, and returns the row it lands on.
    pub fn cycle_neighbour(&mut self, forward: bool) -> Option<usize> {
        let selection = self.selection.as_mut()?;
        let count = selection.neighbours.len();
        if count == 0 {
            return None;
        }
        let next = match (selection.neighbour_cursor, forward) {
            (None, true) => 0,
            (None, false) => count - 1,
            (Some(i), true) => (i + 1) % count,
            (Some(i), false) => (i + count - 1) % count,
        };
        selection.neighbour_cursor = Some(next);
        Some(selection.neighbours[next].index)
    }

    // --- distance filter ---------------------------------------------------------------------

    pub fn filter_space(&self) -> FilterSpace {
        self.filter_space
    }

    pub fn set_filter_space(&mut self, space: FilterSpace) {
        if space != self.filter_space {
            self.filter_space = space;
            // A radius in one space means nothing in the other.
            self.filter_radius = None;
            self.visibility_version = fresh_version();
        }
    }

    pub fn filter_radius(&self) -> Option<f32> {
        self.filter_radius
    }

    /// Hides songs farther than `radius` from the selection (`None`: no filter).
    pub fn set_filter_radius(&mut self, radius: Option<f32>) {
        self.filter_radius = radius.map(|r| r.max(0.0));
    }

    pub fn reset_filter(&mut self) {
        self.filter_radius = None;
    }

    /// The slider's range: from 0 to the farthest song from the selection.
    pub fn filter_max(&self) -> Option<f32> {
        Some(self.selection.as_ref()?.ranking(self.filter_space).max_distance())
    }

    /// The selection's distance to `row` in the filter's space.
    pub fn distance_from_selection(&self, row: usize) -> Option<f32> {
        Some(self.selection.as_ref()?.ranking(self.filter_space).distance_of(row))
    }

    /// The radius the GPU compares each point's value against (see [`Explorer::point_filter_values`]).
    pub fn filter_threshold(&self) -> f32 {
        match (&self.selection, self.filter_radius) {
            (Some(_), Some(radius)) => radius,
            _ => f32::MAX,
        }
    }

    /// One value per row for the GPU: the row's distance from the selection (0 without one), or
    /// [`HIDDEN_DISTANCE`] when its genre is hidden. A point is drawn when its value is at most
    /// [`Explorer::filter_threshold`], so moving the slider changes one number, not the buffer.
    pub fn point_filter_values(&self) -> Vec<f32> {
        let ranking = self.selection.as_ref().map(|s| s.ranking(self.filter_space));
        (0..self.map.len())
            .map(|row| {
                if !self.legend_entry_of(row).shown {
                    HIDDEN_DISTANCE
                } else {
                    ranking.map_or(0.0, |r| r.distance_of(row))
                }
            })
            .collect()
    }

    pub fn is_visible(&self, row: usize) -> bool {
        if !self.legend_entry_of(row).shown {
            return false;
        }
        match (self.filter_radius, self.distance_from_selection(row)) {
            (Some(radius), Some(distance)) => distance <= radius,
            _ => true,
        }
    }

    /// How many songs are drawn now.
    pub fn visible_count(&self) -> usize {
        let shown_by_genre = |row: usize| self.legend[self.legend_of_row[row]].shown;
        match (&self.selection, self.filter_radius) {
            (Some(selection), Some(radius)) => selection
                .ranking(self.filter_space)
                .within(radius)
                .iter()
                .filter(|&&row| shown_by_genre(row as usize))
                .count(),
            _ => self.legend.iter().filter(|g| g.shown).map(|g| g.count).sum(),
        }
    }

    // --- genre legend ------------------------------------------------------------------------

    pub fn toggle_legend_entry(&mut self, genre: usize) {
        self.legend[genre].shown = !self.legend[genre].shown;
        self.visibility_version = fresh_version();
    }

    /// Shows only `genre`; soloing the genre that is already alone shows all again.
    pub fn solo_legend_entry(&mut self, genre: usize) {
        let alone = self.legend.iter().enumerate().all(|(i, g)| g.shown == (i == genre));
        for (i, g) in self.legend.iter_mut().enumerate() {
            g.shown = alone || i == genre;
        }
        self.visibility_version = fresh_version();
    }

    pub fn show_all_legend(&mut self, shown: bool) {
        for g in &mut self.legend {
            g.shown = shown;
        }
        self.visibility_version = fresh_version();
    }

    // --- search ------------------------------------------------------------------------------

    /// Rows whose title, artist or album contain every word of `query`, best first.
    pub fn search(&self, query: &str, limit: usize) -> Vec<usize> {
        search(&self.search_entries, query, limit)
    }

    // --- songs added by dropping a file -------------------------------------------------------

    /// Adds a located song to this explorer's library as a new track and puts it on the map where
    /// it was placed; no other point moves. Returns its row and the track, which the caller saves
    /// ([`crate::space::save_added_track`]) off the frame. A file already in the library is
    /// refused with its id.
    pub fn add_located(&mut self, audio: &Path, located: &Located) -> Result<(usize, Track), SpaceError> {
        let (absolute, stored) = library_paths_of(&self.library, audio)?;
        if let Some(&id) = self.id_of_path.get(&stored).or_else(|| self.id_of_path.get(&absolute)) {
            return Err(SpaceError::AlreadyInLibrary { path: absolute, id });
        }
        let track = new_track(absolute, stored, self.next_id, located)?;
        let id = track.id;
        self.id_of_path.insert(track.path.clone(), id);
        self.next_id = id + 1;
        self.map.insert(id, &located.embedding, located.placement.position)?;
        self.library.add_track(track.clone());
        if let Some(shown) = &mut self.shown_positions {
            // The cloud is gliding to a new map: the new song waits at its place there.
            shown.push(located.placement.position);
        }
        let row = self.map.row(id).ok_or(SpaceError::UnknownTrack { id, path: self.library_path.clone() })?;
        self.added_rows.push(row);
        if row == self.track_of_row.len() {
            self.index_appended_row(row);
        } else {
            self.index_rows();
        }
        Ok((row, track))
    }

    /// Takes the map's kd-trees rebuilt on another thread (see [`Map::adopt_indices`]).
    pub fn adopt_indices(&mut self, rebuilt: &MapIndices) -> Option<RetiredTrees> {
        self.map.adopt_indices(rebuilt)
    }

    /// The row of a track id.
    pub fn row_of(&self, id: u64) -> Option<usize> {
        self.map.row(id)
    }
}

/// Versions are unique in the process, not per explorer: when the window swaps in another
/// library, its first version cannot be mistaken for one the GPU copy already holds.
fn fresh_version() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The cluster whose centre is nearest `embedding` (None for a report without clusters).
fn nearest_cluster(report: &ClusterReport, embedding: &[f32]) -> Option<usize> {
    report
        .clusters
        .iter()
        .map(|c| (c.id, c.centre.iter().zip(embedding).map(|(a, b)| (a - b) * (a - b)).sum::<f32>()))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::{FileFingerprint, SourceKind};
    use crate::space::{ProjectionMethod, test_data::blobs};

    fn track(id: u64, title: &str, genre: Option<&str>) -> Track {
        Track {
            id,
            path: PathBuf::from(format!("{id}.mp3")),
            title: title.into(),
            artist: format!("Artist {}", id % 3),
            album: "Album".into(),
            genre: genre.map(str::to_owned),
            genres: genre.map(|g| vec![g.to_owned()]).unwrap_or_default(),
            duration_seconds: 30.0,
            split: None,
            fingerprint: FileFingerprint { size: 1, modified_ns: 1 },
            features: None,
            descriptors: None,
        }
    }

    /// Three tight clusters of 20 in 8-d, laid out on the "map" as the same clusters in 3D.
    fn explorer() -> Explorer {
        let (values, labels) = blobs(3, 20, 8, 5);
        let names = ["Rock", "Jazz", "Folk"];
        let mut library = Library::new(PathBuf::from("/music"), SourceKind::Folder);
        let ids: Vec<u64> = (1..=60).collect();
        for (i, &id) in ids.iter().enumerate() {
            // One song without a genre.
            let genre = if i == 59 { None } else { Some(names[labels[i]]) };
            library.tracks.push(track(id, &format!("Song {id}"), genre));
        }
        let positions: Vec<[f32; 3]> = values.chunks_exact(8).map(|v| [v[0], v[1], v[2]]).collect();
        let map = Map::new(ids, values, 8, positions, 10.0, ProjectionMethod::Pca).expect("map");
        Explorer::new(library, PathBuf::from("/tmp/lib.songspace"), map)
    }

    #[test]
    fn another_colour_scheme_recolours_the_legend_as_a_full_rebuild_would() {
        let mut e = explorer();
        e.toggle_legend_entry(1);
        let before = e.points_version();
        e.set_colours(ColourScheme::Rainbow);
        assert_ne!(e.points_version(), before, "the GPU's colours must be refilled");
        let recoloured = (e.legend.clone(), e.legend_of_row.clone());
        assert_ne!(recoloured.0[0].colour, genre_colour(0), "rainbow colours, not the default ones");
        e.index_rows();
        assert_eq!(recoloured, (e.legend.clone(), e.legend_of_row.clone()), "hidden genres stay hidden too");
    }

    #[test]
    fn colouring_by_artist_cluster_or_a_descriptor_gives_its_own_legend_and_colours() {
        let mut e = explorer();
        // Artists: "Artist 0/1/2" by id % 3, 20 each; the legend and hiding follow them.
        e.set_colour_by(ColourBy::Artist);
        let legend: Vec<(&str, usize)> = e.legend().iter().map(|g| (g.label(), g.count)).collect();
        assert_eq!(legend, vec![("Artist 0", 20), ("Artist 1", 20), ("Artist 2", 20)]);
        let artist_0 = e.legend().iter().position(|g| g.label() == "Artist 0").expect("entry");
        e.solo_legend_entry(artist_0);
        assert_eq!(e.visible_count(), 20);
        assert!(e.is_visible(2) && !e.is_visible(0), "id 3 is Artist 0, id 1 is not");
        assert_eq!(e.genre_label(0), "Rock", "the genre is still the genre");

        // Clusters: none until a clustering is handed over, then one entry per cluster.
        e.set_colour_by(ColourBy::Cluster);
        assert!(e.needs_clusters());
        assert_eq!(e.legend().len(), 1);
        assert_eq!(e.legend()[0].label(), "(clustering…)");
        let report = crate::explore::clusters::cluster_map(e.map(), e.library(), Some(3), 1);
        e.set_clusters(std::sync::Arc::new(report));
        assert!(!e.needs_clusters());
        assert_eq!(e.legend().len(), 3);
        assert!(e.legend().iter().all(|g| g.count == 20), "the three blobs");
        assert_eq!(e.cluster_of(0), e.cluster_of(19));
        assert_ne!(e.cluster_of(0), e.cluster_of(20));
        assert_eq!(e.row_colour(0), e.legend_entry_of(0).colour);

        // A descriptor: each song its own colour on the scale, unmeasured songs grey.
        for (i, track) in e.library.tracks.iter_mut().enumerate().take(59) {
            track.descriptors = Some(crate::audio::Descriptors {
                tempo_bpm: 60.0 + i as f32,
                loudness_dbfs: -20.0,
                brightness_hz: 1000.0,
                onset_rate: 2.0,
                dynamics_db: 8.0,
            });
        }
        e.set_colour_by(ColourBy::Tempo);
        let (low, high) = e.value_range().expect("a range");
        assert!(low > 60.0 && low < 63.0 && high > 115.0 && high < 118.0, "2nd to 98th percentile: {low}..{high}");
        assert_eq!(e.row_colour(0), value_colour(0.0));
        assert_eq!(e.row_colour(58), value_colour(1.0));
        assert_ne!(e.row_colour(20), e.row_colour(40));
        assert_eq!(e.row_colour(59), UNKNOWN_GENRE, "not measured");
        let legend: Vec<(&str, usize)> = e.legend().iter().map(|g| (g.label(), g.count)).collect();
        assert_eq!(legend, vec![("measured tempo", 59), ("(not measured)", 1)]);
        assert_eq!(e.view_settings().colour_by, ColourBy::Tempo, "saved with the library's view");
    }

    #[test]
    fn the_legend_ranks_genres_by_count_with_no_genre_last() {
        let e = explorer();
        let legend: Vec<(&str, usize)> = e.legend().iter().map(|g| (g.label(), g.count)).collect();
        assert_eq!(legend, vec![("Jazz", 20), ("Rock", 20), ("Folk", 19), ("(no genre)", 1)]);
        assert_eq!(e.legend()[3].colour, UNKNOWN_GENRE);
        assert_eq!(e.legend()[0].colour, genre_colour(0));
        assert_eq!(e.legend_entry_of(0).label(), "Rock");
        assert_eq!(e.display_name(0), "Song 1 — Artist 1");
    }

    #[test]
    fn selecting_finds_the_three_nearest_in_embedding_space_and_n_p_cycle_them() {
        let mut e = explorer();
        e.select(5);
        let selection = e.selection().expect("selected");
        assert_eq!(selection.neighbours.len(), NEIGHBOURS_SHOWN);
        let expected = e.map().neighbours(5, 3, Metric::Euclidean);
        assert_eq!(selection.neighbours, expected);
        // Its neighbours are from its own cluster (rows 0..20).
        assert!(selection.neighbours.iter().all(|n| n.index < 20 && n.index != 5));
        let first = e.cycle_neighbour(true);
        let second = e.cycle_neighbour(true);
        let third = e.cycle_neighbour(true);
        assert_eq!(e.cycle_neighbour(true), first, "wraps around");
        assert_eq!(e.cycle_neighbour(false), third);
        assert_eq!(e.cycle_neighbour(false), second);
        assert_eq!(first, Some(expected[0].index));
        e.clear_selection();
        assert_eq!(e.selected(), None);
        assert_eq!(e.cycle_neighbour(true), None);
    }

    #[test]
    fn the_distance_filter_keeps_exactly_the_songs_within_the_radius() {
        let mut e = explorer();
        e.set_filter_radius(Some(1.0));
        assert_eq!(e.visible_count(), 60, "without a selection the filter lets everything through");
        e.select(5);
        let distances: Vec<f32> = (0..60).map(|row| e.distance_from_selection(row).expect("selected")).collect();
        let radius = {
            let mut sorted = distances.clone();
            sorted.sort_by(f32::total_cmp);
            sorted[10]
        };
        e.set_filter_radius(Some(radius));
        let expected = (0..60).filter(|&row| distances[row] <= radius).count();
        assert_eq!(e.visible_count(), expected);
        assert_eq!((0..60).filter(|&row| e.is_visible(row)).count(), expected);
        assert!(e.is_visible(5), "the selection is at distance 0");
        // The GPU's view of it agrees.
        let values = e.point_filter_values();
        assert_eq!(values.iter().filter(|&&v| v <= e.filter_threshold()).count(), expected);
        assert!(e.filter_max().expect("selected") >= radius);

        // The map space measures in 3D.
        e.set_filter_space(FilterSpace::Map);
        assert_eq!(e.filter_radius(), None, "a radius does not carry over between spaces");
        let p = e.position(5);
        let q = e.position(42);
        let d3 = ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt();
        assert!((e.distance_from_selection(42).expect("selected") - d3).abs() < 1e-4);

        e.reset_filter();
        assert_eq!(e.visible_count(), 60);
    }

    #[test]
    fn genre_toggles_solo_and_all_none_hide_the_right_songs() {
        let mut e = explorer();
        let jazz = e.legend().iter().position(|g| g.label() == "Jazz").expect("jazz");
        e.toggle_legend_entry(jazz);
        assert_eq!(e.visible_count(), 40);
        assert!(!e.is_visible(25), "row 25 is jazz");
        assert_eq!(e.point_filter_values()[25], HIDDEN_DISTANCE);
        e.solo_legend_entry(jazz);
        assert_eq!(e.visible_count(), 20);
        e.solo_legend_entry(jazz);
        assert_eq!(e.visible_count(), 60, "soloing the soloed genre shows all again");
        e.show_all_legend(false);
        assert_eq!(e.visible_count(), 0);
        e.show_all_legend(true);
        // Genre and distance filters combine.
        e.toggle_legend_entry(jazz);
        e.select(25);
        e.set_filter_radius(Some(f32::MAX / 2.0));
        assert_eq!(e.visible_count(), 40);
    }

    #[test]
    fn search_finds_by_title_and_artist() {
        let e = explorer();
        assert_eq!(e.search("song 12", 5), vec![11]);
        // Every word must appear somewhere: "2" also matches titles such as "Song 12".
        let found = e.search("artist 2", 100);
        let by_artist: Vec<usize> =
            (0..60).filter(|&row| e.track_at(row).expect("track").artist == "Artist 2").collect();
        assert_eq!(by_artist.len(), 20);
        assert!(by_artist.iter().all(|row| found.contains(row)));
        assert!(found.iter().all(|&row| {
            let t = e.track_at(row).expect("track");
            t.artist.contains('2') || t.title.contains('2')
        }));
        assert!(e.search("artist 7", 100).iter().all(|&row| e.track_at(row).expect("track").title.contains('7')));
    }

    #[test]
    fn versions_change_only_when_the_gpu_data_must() {
        let mut e = explorer();
        let (points, visibility) = (e.points_version(), e.visibility_version());
        e.set_filter_radius(Some(2.0));
        assert_eq!((e.points_version(), e.visibility_version()), (points, visibility), "the slider is a uniform");
        e.select(3);
        assert_eq!(e.points_version(), points);
        assert!(e.visibility_version() > visibility);
    }

    #[test]
    fn a_dropped_song_updates_the_tables_as_a_full_rebuild_would() {
        let folder = std::env::temp_dir().join(format!("songspace-explore-drop-{}", std::process::id()));
        std::fs::create_dir_all(&folder).expect("folder");
        let mut e = explorer();
        e.library.root = folder.clone();
        // Folk has 19 songs to Jazz's and Rock's 20: two more Folk songs move it to the top of the
        // legend (every row's genre index changes), then a genre the library had not seen.
        for (n, genre) in ["Folk", "Folk", "Polka"].into_iter().enumerate() {
            let file = folder.join(format!("dropped {n}.mp3"));
            std::fs::write(&file, b"not decoded here").expect("file");
            let embedding = e.map.embedding(n).iter().map(|v| v + 0.01).collect::<Vec<f32>>();
            let placement = e.map.place(&embedding);
            let neighbours = e.map.neighbours_of_vector(&embedding, 3, Metric::Euclidean);
            let located = Located {
                embedding,
                placement,
                neighbours,
                tags: crate::audio::Tags {
                    title: Some(format!("Dropped {n}")),
                    genres: vec![genre.into()],
                    ..Default::default()
                },
                duration_seconds: 30.0,
                analysed: crate::library::FeatureInfo { offset_seconds: 0.0, seconds: 30.0, frames: 1292 },
                descriptors: crate::audio::Descriptors {
                    tempo_bpm: 120.0,
                    loudness_dbfs: -14.0,
                    brightness_hz: 1500.0,
                    onset_rate: 2.0,
                    dynamics_db: 10.0,
                },
                timings: Default::default(),
            };
            let (row, track) = e.add_located(&file, &located).expect("added");
            assert_eq!((row, e.len()), (60 + n, 61 + n));
            assert_eq!(e.legend_entry_of(row).label(), genre);
            let incremental =
                (e.track_of_row.clone(), e.legend_of_row.clone(), e.search_entries.clone(), e.legend.clone());
            e.index_rows();
            assert_eq!(
                incremental,
                (e.track_of_row.clone(), e.legend_of_row.clone(), e.search_entries.clone(), e.legend.clone())
            );
            assert_eq!(e.track_at(row).map(|t| t.id), Some(track.id));
            assert_eq!(e.map.neighbours(row, 1, Metric::Euclidean)[0].index, n, "found by the scan beside the tree");
        }
        assert_eq!(e.legend()[0].label(), "Folk");
        assert!(e.map.indices().has_unindexed(), "the kd-trees are not rebuilt on the caller's thread");
        let rebuilt = e.map.indices().rebuilt().expect("rebuilt");
        assert!(e.adopt_indices(&rebuilt).is_some() && !e.map.indices().has_unindexed());
        assert_eq!(e.map.neighbours(60, 1, Metric::Euclidean)[0].index, 0, "found by the rebuilt tree");
        std::fs::remove_dir_all(&folder).ok();
    }
}
