//! How a library is looked at: the distance that ranks neighbours, the space the distance filter
//! measures in and the colours of the genres. Saved with the library, so it opens as it was left.

use serde::{Deserialize, Serialize};

use crate::space::Metric;

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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewSettings {
    #[serde(default)]
    pub metric: Metric,
    #[serde(default)]
    pub filter_space: FilterSpace,
    #[serde(default)]
    pub colours: ColourScheme,
}
