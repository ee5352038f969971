//! The cloud in motion: while the t-SNE converges, each layout it reports is drawn in place of the
//! old map (scaled into the old map's frame, so the view does not jump); when the new map is ready,
//! every song glides from where it is drawn to its new place.

use bevy::prelude::*;

use super::state::ExplorerState;
use crate::explore::Explorer;

/// How long the glide to the new map takes.
pub const GLIDE_SECONDS: f32 = 1.2;

#[derive(Resource, Default)]
pub struct CloudAnimation {
    glide: Option<Glide>,
    /// How many converging layouts have been drawn in place of the map.
    layouts_shown: usize,
}

struct Glide {
    from: Vec<[f32; 3]>,
    to: Vec<[f32; 3]>,
    elapsed: f32,
}

impl CloudAnimation {
    pub fn is_gliding(&self) -> bool {
        self.glide.is_some()
    }

    pub fn layouts_shown(&self) -> usize {
        self.layouts_shown
    }

    /// Draws a layout reported by the running t-SNE, fitted into the frame of the map on screen.
    pub fn show_layout(&mut self, explorer: &mut Explorer, ids: &[u64], layout: &[f32]) {
        self.glide = None;
        let in_layout: Vec<usize> = ids.iter().filter_map(|id| explorer.row_of(*id)).collect();
        if in_layout.is_empty() {
            return;
        }
        let raw = explorer.positions_from_layout(ids, layout);
        let map: Vec<[f32; 3]> = (0..explorer.len()).map(|row| explorer.map().position(row)).collect();
        let fitted = fit(&raw, &in_layout, frame_of(in_layout.iter().map(|&row| map[row])));
        explorer.show_positions(Some(fitted));
        self.layouts_shown += 1;
    }

    /// `new` replaces `old` in the window: its songs start where `old` draws them (in `new`'s
    /// frame) and glide to their places on `new`'s map. Songs `old` did not have start in place.
    pub fn glide(&mut self, old: &Explorer, new: &mut Explorer) {
        let to: Vec<[f32; 3]> = (0..new.len()).map(|row| new.map().position(row)).collect();
        let mut from = to.clone();
        let mut known = Vec::new();
        for (row, start) in from.iter_mut().enumerate() {
            if let Some(old_row) = old.row_of(new.map().id(row)) {
                *start = old.position(old_row);
                known.push(row);
            }
        }
        if known.is_empty() {
            self.glide = None;
            new.show_positions(None);
            return;
        }
        let from = fit(&from, &known, frame_of(known.iter().map(|&row| to[row])));
        new.show_positions(Some(from.clone()));
        self.glide = Some(Glide { from, to, elapsed: 0.0 });
    }

    /// Back to the map as it is, with no motion.
    pub fn stop(&mut self, explorer: &mut Explorer) {
        self.glide = None;
        explorer.show_positions(None);
    }
}

/// Centre and radius (98th percentile of distances from the centre, so that a few outliers do
/// not decide the scale).
pub fn frame_of(points: impl Iterator<Item = [f32; 3]>) -> (Vec3, f32) {
    let points: Vec<Vec3> = points.map(Vec3::from).collect();
    let n = points.len().max(1) as f32;
    let centre = points.iter().fold(Vec3::ZERO, |sum, p| sum + *p) / n;
    let mut radii: Vec<f32> = points.iter().map(|p| p.distance(centre)).collect();
    radii.sort_by(f32::total_cmp);
    let radius = radii.get(radii.len() * 98 / 100).copied().unwrap_or(1.0).max(1e-6);
    (centre, radius)
}

/// Moves and scales `positions` so that the rows in `fitted_rows` have the frame `target`; the
/// other rows are left alone.
fn fit(positions: &[[f32; 3]], fitted_rows: &[usize], target: (Vec3, f32)) -> Vec<[f32; 3]> {
    let (centre, radius) = frame_of(fitted_rows.iter().map(|&row| positions[row]));
    let scale = target.1 / radius;
    let mut out = positions.to_vec();
    for &row in fitted_rows {
        out[row] = ((Vec3::from(positions[row]) - centre) * scale + target.0).to_array();
    }
    out
}

/// Moves the songs along their glide each frame; at the end they are drawn on the map itself.
pub fn animate_cloud(time: Res<Time<Real>>, mut animation: ResMut<CloudAnimation>, mut state: ResMut<ExplorerState>) {
    let Some(glide) = animation.glide.as_mut() else { return };
    glide.elapsed += time.delta_secs();
    let t = (glide.elapsed / GLIDE_SECONDS).clamp(0.0, 1.0);
    if t >= 1.0 || glide.from.len() != state.0.len() {
        animation.glide = None;
        state.0.show_positions(None);
        return;
    }
    let eased = t * t * (3.0 - 2.0 * t);
    let shown =
        glide.from.iter().zip(&glide.to).map(|(a, b)| Vec3::from(*a).lerp(Vec3::from(*b), eased).to_array()).collect();
    state.0.show_positions(Some(shown));
}
