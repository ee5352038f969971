//! Genre colours for a dark background. The first sixteen are fixed, chosen so that every pair
//! stays apart for normal vision and under simulated deuteranopia and protanopia (the test below
//! measures it); past sixteen, hues follow the golden angle at alternating lightness.

/// sRGB colours, 0–1. Okabe & Ito's eight (black replaced by a light grey, since the background
/// is dark), then eight from Paul Tol's "light" and "muted" schemes that keep their distance from
/// the first eight.
const FIXED: [[u8; 3]; 16] = [
    [0xE6, 0x9F, 0x00], // orange
    [0x56, 0xB4, 0xE9], // sky blue
    [0x00, 0x9E, 0x73], // bluish green
    [0xF0, 0xE4, 0x42], // yellow
    [0x00, 0x72, 0xB2], // blue
    [0xD5, 0x5E, 0x00], // vermillion
    [0xCC, 0x79, 0xA7], // reddish purple
    [0xDD, 0xDD, 0xDD], // light grey
    [0xFF, 0xAA, 0xBB], // pink
    [0x44, 0xBB, 0x99], // mint
    [0xBB, 0xCC, 0x33], // pear
    [0x88, 0x22, 0x55], // wine
    [0x99, 0xDD, 0xFF], // pale cyan
    [0x99, 0x99, 0x33], // olive
    [0xAA, 0x44, 0x99], // purple
    [0x77, 0x55, 0x33], // brown
];

/// The colour for the genre at `rank` (0 = the most common genre), as sRGB in 0–1.
pub fn genre_colour(rank: usize) -> [f32; 3] {
    if let Some(rgb) = FIXED.get(rank) {
        return rgb.map(|c| c as f32 / 255.0);
    }
    let extra = rank - FIXED.len();
    let hue = (extra as f32 * 137.508 + 20.0) % 360.0;
    let lightness = if extra.is_multiple_of(2) { 0.72 } else { 0.55 };
    hsl_to_rgb(hue, 0.55, lightness)
}

/// The colour for the genre at `rank` of `count` named genres under a colour scheme.
pub fn scheme_colour(scheme: crate::library::ColourScheme, rank: usize, count: usize) -> [f32; 3] {
    use crate::library::ColourScheme;
    match scheme {
        ColourScheme::ColourBlindSafe => genre_colour(rank),
        ColourScheme::Rainbow => hsl_to_rgb(360.0 * rank as f32 / count.max(rank + 1) as f32, 0.8, 0.6),
        ColourScheme::Uniform => [0.55, 0.75, 0.95],
    }
}

/// Viridis at nine even stops (sRGB): perceptually even and readable with any colour vision.
const VIRIDIS: [[u8; 3]; 9] = [
    [0x44, 0x01, 0x54],
    [0x48, 0x28, 0x78],
    [0x3E, 0x4A, 0x89],
    [0x31, 0x68, 0x8E],
    [0x26, 0x82, 0x8E],
    [0x1F, 0x9E, 0x89],
    [0x35, 0xB7, 0x79],
    [0x6D, 0xCD, 0x59],
    [0xFD, 0xE7, 0x25],
];

/// Where on viridis the scale starts: its darkest purple would vanish on the dark background.
const SCALE_START: f32 = 0.2;

/// The colour of a value scaled to [0, 1] on the continuous scale (low: blue, high: yellow).
pub fn value_colour(t: f32) -> [f32; 3] {
    let t = SCALE_START + (1.0 - SCALE_START) * if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let position = t * (VIRIDIS.len() - 1) as f32;
    let below = (position.floor() as usize).min(VIRIDIS.len() - 2);
    let fraction = position - below as f32;
    let (a, b) = (VIRIDIS[below], VIRIDIS[below + 1]);
    [0, 1, 2].map(|i| (f32::from(a[i]) + (f32::from(b[i]) - f32::from(a[i])) * fraction) / 255.0)
}

/// The colour of tracks without a genre: a dim grey, so tagged songs stand out.
pub const UNKNOWN_GENRE: [f32; 3] = [0.45, 0.45, 0.48];

fn hsl_to_rgb(hue: f32, saturation: f32, lightness: f32) -> [f32; 3] {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = hue / 60.0;
    let x = chroma * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    [r + m, g + m, b + m]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_linear(c: f32) -> f32 {
        if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    }

    /// CIELAB (D65) of an sRGB colour.
    fn lab(rgb: [f32; 3]) -> [f32; 3] {
        let [r, g, b] = rgb.map(to_linear);
        lab_of_linear([r, g, b])
    }

    fn lab_of_linear([r, g, b]: [f32; 3]) -> [f32; 3] {
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
        let f = |t: f32| if t > 0.008856 { t.cbrt() } else { 7.787 * t + 16.0 / 116.0 };
        [116.0 * f(y) - 16.0, 500.0 * (f(x) - f(y)), 200.0 * (f(y) - f(z))]
    }

    /// Machado, Oliveira & Fernandes (2009), severity 1.0, applied in linear RGB.
    fn simulate(rgb: [f32; 3], matrix: [[f32; 3]; 3]) -> [f32; 3] {
        let linear = rgb.map(to_linear);
        let mixed = matrix.map(|row| (row[0] * linear[0] + row[1] * linear[1] + row[2] * linear[2]).clamp(0.0, 1.0));
        lab_of_linear(mixed)
    }

    const DEUTERANOPIA: [[f32; 3]; 3] =
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]];
    const PROTANOPIA: [[f32; 3]; 3] =
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]];

    fn min_pairwise(labs: &[[f32; 3]]) -> f32 {
        let mut best = f32::MAX;
        for (i, a) in labs.iter().enumerate() {
            for b in &labs[i + 1..] {
                let d = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
                best = best.min(d);
            }
        }
        best
    }

    #[test]
    fn the_first_sixteen_genres_stay_apart_for_common_colour_blindness() {
        let colours: Vec<[f32; 3]> = (0..16).map(genre_colour).collect();
        let normal: Vec<_> = colours.iter().map(|&c| lab(c)).collect();
        let deutan: Vec<_> = colours.iter().map(|&c| simulate(c, DEUTERANOPIA)).collect();
        let protan: Vec<_> = colours.iter().map(|&c| simulate(c, PROTANOPIA)).collect();
        // ΔE*ab 10 is clearly different side by side; 5 is still telling two small dots apart.
        assert!(min_pairwise(&normal) > 10.0, "normal vision: {}", min_pairwise(&normal));
        assert!(min_pairwise(&deutan) > 5.0, "deuteranopia: {}", min_pairwise(&deutan));
        assert!(min_pairwise(&protan) > 5.0, "protanopia: {}", min_pairwise(&protan));
        // And every genre colour stands out from the unknown-genre grey and the dark background.
        for c in &normal {
            assert!(c[0] > 25.0, "too dark for the background: {c:?}");
        }
    }

    #[test]
    fn colours_beyond_the_fixed_sixteen_are_valid_and_differ() {
        let extra: Vec<[f32; 3]> = (16..40).map(genre_colour).collect();
        assert!(extra.iter().flatten().all(|c| (0.0..=1.0).contains(c)));
        for pair in extra.windows(2) {
            assert_ne!(pair[0], pair[1]);
        }
    }

    #[test]
    fn every_scheme_gives_each_genre_a_colour_and_rainbow_spreads_them_apart() {
        use crate::library::ColourScheme;
        for count in [1, 7, 40] {
            let rainbow: Vec<[f32; 3]> = (0..count).map(|r| scheme_colour(ColourScheme::Rainbow, r, count)).collect();
            for (i, a) in rainbow.iter().enumerate() {
                for b in &rainbow[i + 1..] {
                    let gap = (0..3).map(|c| (a[c] - b[c]).abs()).fold(0.0, f32::max);
                    assert!(gap > 0.02, "{count} genres: {a:?} and {b:?} look alike");
                }
            }
        }
        assert_eq!(scheme_colour(ColourScheme::ColourBlindSafe, 3, 7), genre_colour(3));
        assert_eq!(scheme_colour(ColourScheme::Uniform, 0, 7), scheme_colour(ColourScheme::Uniform, 6, 7));
    }
}
