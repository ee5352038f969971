//! How a library is looked at: the distance that ranks neighbours, the space the distance filter
//! measures in and the colours of the genres. Saved with the library, so it opens as it was left.

use serde::{Deserialize, Serialize};

use crate::audio::Descriptor;

/// How the distance between two songs' embeddings is measured (neighbours, the filter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Metric {
    /// Straight-line distance between embeddings.
    #[default]
    Euclidean,
    /// 1 − cos(angle): the direction of the embedding, not its length. Computed as Euclidean
    /// distance between normalised vectors (cosine distance = squared chord / 2).
    Cosine,
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Euclidean => "euclidean",
            Self::Cosine => "cosine",
        })
    }
}

/// The space the distance filter measures in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterSpace {
    /// The 32-d embedding: the learned similarity (a true sphere there).
    #[default]
    Embedding,
    /// The 3D map as drawn.
    Map,
}

/// How genres are coloured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColourScheme {
    /// Okabe & Ito's colours first, chosen to stay apart under colour blindness.
    #[default]
    ColourBlindSafe,
    /// Hues spread evenly around the colour wheel: the most different hues for many genres.
    Rainbow,
    /// One colour for every song: only the shape of the map.
    Uniform,
}

impl ColourScheme {
    pub const ALL: [ColourScheme; 3] = [Self::ColourBlindSafe, Self::Rainbow, Self::Uniform];

    pub fn label(self) -> &'static str {
        match self {
            Self::ColourBlindSafe => "colour-blind safe",
            Self::Rainbow => "rainbow",
            Self::Uniform => "one colour",
        }
    }
}

/// What the songs are coloured by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
pub enum ColourBy {
    #[default]
    Genre,
    /// The k-means clusters of the embeddings.
    Cluster,
    Artist,
    Album,
    /// A descriptor on a continuous, colour-blind-safe scale.
    Tempo,
    Loudness,
    Brightness,
    OnsetRate,
    Dynamics,
}

impl ColourBy {
    pub const ALL: [ColourBy; 9] = [
        Self::Genre,
        Self::Cluster,
        Self::Artist,
        Self::Album,
        Self::Tempo,
        Self::Loudness,
        Self::Brightness,
        Self::OnsetRate,
        Self::Dynamics,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Genre => "genre",
            Self::Cluster => "cluster",
            Self::Artist => "artist",
            Self::Album => "album",
            Self::Tempo => "tempo",
            Self::Loudness => "loudness",
            Self::Brightness => "brightness",
            Self::OnsetRate => "onset rate",
            Self::Dynamics => "dynamics",
        }
    }

    /// The descriptor a continuous mode shows.
    pub fn descriptor(self) -> Option<Descriptor> {
        match self {
            Self::Tempo => Some(Descriptor::Tempo),
            Self::Loudness => Some(Descriptor::Loudness),
            Self::Brightness => Some(Descriptor::Brightness),
            Self::OnsetRate => Some(Descriptor::OnsetRate),
            Self::Dynamics => Some(Descriptor::Dynamics),
            _ => None,
        }
    }

    /// What the legend calls songs without the property.
    pub fn missing_label(self) -> &'static str {
        match self {
            Self::Genre => "(no genre)",
            Self::Cluster => "(clustering…)",
            Self::Artist => "(no artist)",
            Self::Album => "(no album)",
            _ => "(not measured)",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewSettings {
    #[serde(default)]
    pub metric: Metric,
    #[serde(default)]
    pub filter_space: FilterSpace,
    #[serde(default)]
    pub colours: ColourScheme,
    #[serde(default)]
    pub colour_by: ColourBy,
}
