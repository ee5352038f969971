//! Highlights drawn over the cloud: the selected song, its 3 nearest and the hovered song get a
//! ring and a label (title — artist) placed so that labels do not overlap, each tied to its
//! point by a line. Drawn by egui above the 3D view, so they are never hidden behind points.

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::EguiContexts;
use bevy_egui::egui::{self, Color32, FontId, Pos2, Stroke};

use super::camera::OrbitCamera;
use super::cloud::PointCloud;
use super::colour::colour32;
use super::input::Projector;
use super::state::{ExplorerState, ViewState};
use crate::explore::{LabelRequest, ScreenRect, layout_labels};

pub const SELECTED_RING: Color32 = Color32::WHITE;
pub const NEIGHBOUR_RING: Color32 = Color32::from_rgb(0xFF, 0xD7, 0x00);
const HOVER_RING: Color32 = Color32::from_rgb(0xB0, 0xC4, 0xDE);

pub fn overlay(
    mut contexts: EguiContexts,
    state: Res<ExplorerState>,
    view: Res<ViewState>,
    cameras: Query<(&Camera, &GlobalTransform), With<OrbitCamera>>,
    clouds: Query<&PointCloud>,
    windows: Query<&Window, With<PrimaryWindow>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let (Ok((camera, transform)), Ok(window), Some((min, max))) = (cameras.single(), windows.single(), view.scene_rect)
    else {
        return Ok(());
    };
    let style = clouds.single().map(|c| c.style).unwrap_or_default();
    let Some(projector) = Projector::new(camera, transform, style, window.scale_factor()) else { return Ok(()) };
    let explorer = &state.0;
    let scene = egui::Rect::from_min_max(Pos2::new(min.x, min.y), Pos2::new(max.x, max.y));
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Background, egui::Id::new("songspace overlay")));
    let painter = painter.with_clip_rect(scene);

    // Highlighted songs in label priority order: the selection, then its nearest.
    let mut marks: Vec<(usize, Color32, String)> = Vec::new();
    if let Some(selection) = explorer.selection() {
        marks.push((selection.row, SELECTED_RING, explorer.display_name(selection.row)));
        // A nearest song hidden by the distance filter stays hidden: the filter is what the user asked to see.
        for (rank, n) in selection.neighbours.iter().enumerate().filter(|(_, n)| explorer.is_visible(n.index)) {
            marks.push((n.index, NEIGHBOUR_RING, format!("{}. {}", rank + 1, explorer.display_name(n.index))));
        }
    }
    let font = FontId::proportional(13.0);
    let mut requests = Vec::new();
    let mut placed_marks = Vec::new();
    for (row, ring, text) in &marks {
        let Some(p) = projector.project(explorer.position(*row)) else { continue };
        let at = Pos2::new(p.screen.x, p.screen.y);
        if !scene.contains(at) {
            continue;
        }
        let radius = p.radius.max(4.0);
        painter.circle_filled(at, radius, colour32(explorer.genre_of(*row).colour));
        painter.circle_stroke(at, radius + 3.0, Stroke::new(2.0, *ring));
        let galley = painter.layout_no_wrap(text.clone(), font.clone(), Color32::WHITE);
        requests.push(LabelRequest { anchor: [at.x, at.y], size: [galley.size().x + 10.0, galley.size().y + 6.0] });
        placed_marks.push((at, *ring, galley));
    }
    let view_rect = ScreenRect { min: [scene.min.x, scene.min.y], max: [scene.max.x, scene.max.y] };
    let rects = layout_labels(&requests, view_rect, 9.0);
    for ((at, ring, galley), rect) in placed_marks.into_iter().zip(rects) {
        let rect = egui::Rect::from_min_max(Pos2::new(rect.min[0], rect.min[1]), Pos2::new(rect.max[0], rect.max[1]));
        let attach = Pos2::new(at.x.clamp(rect.min.x, rect.max.x), at.y.clamp(rect.min.y, rect.max.y));
        painter.line_segment([at, attach], Stroke::new(1.0, ring.gamma_multiply(0.8)));
        painter.rect_filled(rect, 4.0, Color32::from_black_alpha(200));
        painter.rect_stroke(rect, 4.0, Stroke::new(1.0, ring), egui::StrokeKind::Inside);
        painter.galley(rect.min + egui::vec2(5.0, 3.0), galley, Color32::WHITE);
    }

    // Hover: a ring and a tooltip with the genre.
    if let Some(row) = view.hovered
        && let Some(p) = projector.project(explorer.position(row))
    {
        let at = Pos2::new(p.screen.x, p.screen.y);
        painter.circle_stroke(at, p.radius.max(4.0) + 3.0, Stroke::new(1.5, HOVER_RING));
        let text = format!("{} — {}", explorer.display_name(row), explorer.genre_of(row).label());
        let galley = painter.layout_no_wrap(text, font, Color32::WHITE);
        let size = galley.size() + egui::vec2(10.0, 6.0);
        let mut min = at + egui::vec2(14.0, 10.0);
        if min.x + size.x > scene.max.x {
            min.x = at.x - 14.0 - size.x;
        }
        if min.y + size.y > scene.max.y {
            min.y = at.y - 10.0 - size.y;
        }
        // Near a corner neither side may fit: keep the whole label inside the view.
        min.x = min.x.min(scene.max.x - size.x).max(scene.min.x);
        min.y = min.y.min(scene.max.y - size.y).max(scene.min.y);
        let rect = egui::Rect::from_min_size(min, size);
        painter.rect_filled(rect, 4.0, Color32::from_rgba_unmultiplied(20, 24, 32, 235));
        painter.galley(rect.min + egui::vec2(5.0, 3.0), galley, Color32::WHITE);
    }
    Ok(())
}
