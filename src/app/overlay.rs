//! Highlights drawn over the cloud: the selected song, its 3 nearest and the hovered song get a
//! ring and a label (title — artist) placed so that labels do not overlap, each tied to its
//! point by a line; the path between two songs and the trail of recent plays are lines through
//! the cloud, For you and the song playing are ringed. Drawn by egui above the 3D view, so they
//! are never hidden behind points.

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::EguiContexts;
use bevy_egui::egui::{self, Color32, FontId, Pos2, Stroke};

use super::camera::OrbitCamera;
use super::cloud::PointCloud;
use super::colour::colour32;
use super::input::Projector;
use super::listening::Listen;
use super::playback::Playback;
use super::state::{ExplorerState, ViewState};
use crate::explore::{LabelRequest, ScreenRect, layout_labels};

pub const SELECTED_RING: Color32 = Color32::WHITE;
pub const NEIGHBOUR_RING: Color32 = Color32::from_rgb(0xFF, 0xD7, 0x00);
const HOVER_RING: Color32 = Color32::from_rgb(0xB0, 0xC4, 0xDE);
/// Bright colours outside the genres' palettes (Okabe & Ito's first) and apart from the gold of
/// the nearest: pink for For you, cyan for the path, lime for the song playing.
pub const FOR_YOU_RING: Color32 = Color32::from_rgb(0xFF, 0x5F, 0xA2);
pub const PATH_LINE: Color32 = Color32::from_rgb(0x00, 0xE5, 0xFF);
pub const PLAYING_RING: Color32 = Color32::from_rgb(0x9C, 0xFF, 0x57);
/// The orientation gizmo's axes.
pub const AXIS_X: Color32 = Color32::from_rgb(0xFF, 0x45, 0x45);
pub const AXIS_Y: Color32 = Color32::from_rgb(0x7C, 0xFC, 0x00);
pub const AXIS_Z: Color32 = Color32::from_rgb(0x3A, 0x6E, 0xFF);

#[allow(clippy::too_many_arguments)]
pub fn overlay(
    mut contexts: EguiContexts,
    state: Res<ExplorerState>,
    mut view: ResMut<ViewState>,
    cameras: Query<(&Camera, &GlobalTransform), With<OrbitCamera>>,
    clouds: Query<&PointCloud>,
    windows: Query<&Window, With<PrimaryWindow>>,
    listen: Option<Res<Listen>>,
    playback: Option<Res<Playback>>,
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

    if view.show_grid {
        draw_grid(&painter, &projector, explorer);
    }
    if !view.hide_gizmo {
        draw_gizmo(&painter, transform, scene);
    }
    if let Some(listen) = listen.as_deref() {
        draw_listening(&painter, &projector, explorer, listen, playback.as_deref());
    }

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
        painter.circle_filled(at, radius, colour32(explorer.row_colour(*row)));
        painter.circle_stroke(at, radius + 3.0, Stroke::new(2.0, *ring));
        let galley = painter.layout_no_wrap(text.clone(), font.clone(), Color32::WHITE);
        requests.push(LabelRequest { anchor: [at.x, at.y], size: [galley.size().x + 10.0, galley.size().y + 6.0] });
        placed_marks.push((at, *ring, galley));
    }
    let mut first_cluster_label = usize::MAX;
    let mut cluster_ids: Vec<usize> = Vec::new();
    // Coloured by cluster: each shown cluster's name floats at its centre, after the songs' labels
    // (which win a contested spot), in the cluster's colour.
    if explorer.colour_by() == crate::library::ColourBy::Cluster
        && let Some(report) = explorer.clusters()
    {
        let cluster_font = FontId::proportional(12.0);
        first_cluster_label = requests.len();
        for cluster in &report.clusters {
            let entry = explorer.legend_index_of_cluster(cluster.id).map(|i| &explorer.legend()[i]);
            let Some(entry) = entry.filter(|e| e.shown) else { continue };
            let Some(p) = projector.project(cluster.centre_position) else { continue };
            let at = Pos2::new(p.screen.x, p.screen.y);
            if !scene.contains(at) {
                continue;
            }
            let text = format!("{}  ({})", report.label(cluster.id), cluster.size);
            let galley = painter.layout_no_wrap(text, cluster_font.clone(), Color32::WHITE);
            requests.push(LabelRequest { anchor: [at.x, at.y], size: [galley.size().x + 10.0, galley.size().y + 6.0] });
            placed_marks.push((at, colour32(entry.colour), galley));
            cluster_ids.push(cluster.id);
        }
    }
    let view_rect = ScreenRect { min: [scene.min.x, scene.min.y], max: [scene.max.x, scene.max.y] };
    let rects = layout_labels(&requests, view_rect, 9.0);
    view.cluster_labels = cluster_ids
        .iter()
        .zip(rects.iter().skip(first_cluster_label.min(rects.len())))
        .map(|(&id, r)| (id, Vec2::new(r.min[0], r.min[1]), Vec2::new(r.max[0], r.max[1])))
        .collect();
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
        let text = format!("{} — {}", explorer.display_name(row), explorer.genre_label(row));
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

/// Lines of a faint grid per side of the square under the cloud (on the plane of its lowest song).
const GRID_LINES: usize = 11;
/// Pieces each grid line is drawn in, so that a line running behind the camera loses only the
/// pieces there.
const GRID_PIECES: usize = 16;

/// A faint square grid under the cloud: a floor that shows which way is down and how far things
/// are as the view turns.
fn draw_grid(painter: &egui::Painter, projector: &Projector, explorer: &crate::explore::Explorer) {
    let Some((min, max)) = explorer.map().position_index().bounds() else { return };
    let (centre_x, centre_z) = ((min[0] + max[0]) / 2.0, (min[2] + max[2]) / 2.0);
    let half = 0.6 * (max[0] - min[0]).max(max[2] - min[2]).max(1e-3);
    let floor = min[1];
    let stroke = Stroke::new(1.0, Color32::from_white_alpha(60));
    let at = |x: f32, z: f32| projector.project([x, floor, z]).map(|p| Pos2::new(p.screen.x, p.screen.y));
    for i in 0..GRID_LINES {
        let offset = -half + 2.0 * half * i as f32 / (GRID_LINES - 1) as f32;
        for along_x in [true, false] {
            let point = |t: f32| {
                let run = -half + 2.0 * half * t;
                if along_x { at(centre_x + run, centre_z + offset) } else { at(centre_x + offset, centre_z + run) }
            };
            for piece in 0..GRID_PIECES {
                let (t0, t1) = (piece as f32 / GRID_PIECES as f32, (piece + 1) as f32 / GRID_PIECES as f32);
                if let (Some(a), Some(b)) = (point(t0), point(t1)) {
                    painter.line_segment([a, b], stroke);
                }
            }
        }
    }
}

/// The world's axes as the camera sees them, in the view's lower left corner: x, y (up) and z,
/// each a line with its letter, the nearer drawn last.
fn draw_gizmo(painter: &egui::Painter, camera: &GlobalTransform, scene: egui::Rect) {
    let centre = Pos2::new(scene.min.x + 46.0, scene.max.y - 46.0);
    let length = 30.0;
    let to_view = camera.rotation().inverse();
    // Red, green and blue as axes usually are, each apart from every genre colour (so a point's
    // colour never reads as an axis), and told apart by their letters too.
    let mut axes: Vec<(Vec3, &str, Color32)> =
        vec![(to_view * Vec3::X, "x", AXIS_X), (to_view * Vec3::Y, "y", AXIS_Y), (to_view * Vec3::Z, "z", AXIS_Z)];
    // In view space the camera looks along -z: the most negative z is farthest.
    axes.sort_by(|a, b| a.0.z.total_cmp(&b.0.z));
    painter.circle_filled(centre, length + 8.0, Color32::from_black_alpha(110));
    for (direction, letter, colour) in axes {
        let tip = centre + egui::vec2(direction.x, -direction.y) * length;
        painter.line_segment([centre, tip], Stroke::new(2.0, colour));
        painter.text(tip, egui::Align2::CENTER_CENTER, letter, FontId::proportional(12.0), colour);
    }
}

/// The trail of recent plays (fading into the past), the path (a line with a dot per song), For
/// you and the song playing (rings). Songs hidden by the filter are still on a path or trail:
/// a line through them says where it goes.
fn draw_listening(
    painter: &egui::Painter,
    projector: &Projector,
    explorer: &crate::explore::Explorer,
    listen: &Listen,
    playback: Option<&Playback>,
) {
    let at = |id: u64| {
        explorer
            .row_of(id)
            .and_then(|row| projector.project(explorer.position(row)))
            .map(|p| (Pos2::new(p.screen.x, p.screen.y), p.radius.max(3.0)))
    };
    if listen.trail_length > 0 {
        let history = &listen.listening.history;
        let recent: Vec<u64> = history.iter().rev().take(listen.trail_length).map(|p| p.track).collect();
        let points: Vec<Option<(Pos2, f32)>> = recent.iter().rev().map(|&id| at(id)).collect();
        let n = points.len().max(1) as f32;
        for (i, pair) in points.windows(2).enumerate() {
            if let [Some((a, _)), Some((b, _))] = pair {
                let alpha = (40.0 + 200.0 * (i + 1) as f32 / n) as u8;
                painter.line_segment([*a, *b], Stroke::new(1.5, Color32::from_white_alpha(alpha)));
            }
        }
    }
    if let Some(path) = &listen.path {
        let points: Vec<Option<(Pos2, f32)>> = path.songs.iter().map(|&id| at(id)).collect();
        for pair in points.windows(2) {
            if let [Some((a, _)), Some((b, _))] = pair {
                painter.line_segment([*a, *b], Stroke::new(2.5, PATH_LINE));
            }
        }
        for (pos, radius) in points.iter().flatten() {
            painter.circle_filled(*pos, radius.min(5.0), PATH_LINE);
        }
    }
    for r in &listen.for_you {
        if let Some(p) = projector.project(explorer.position(r.row)) {
            painter.circle_stroke(
                Pos2::new(p.screen.x, p.screen.y),
                p.radius.max(4.0) + 3.0,
                Stroke::new(2.0, FOR_YOU_RING),
            );
        }
    }
    if let Some(now) = playback.and_then(|p| p.now.as_ref()).filter(|n| Some(n.row) != explorer.selected())
        && let Some(p) = projector.project(explorer.position(now.row))
    {
        painter.circle_stroke(
            Pos2::new(p.screen.x, p.screen.y),
            p.radius.max(4.0) + 5.0,
            Stroke::new(2.5, PLAYING_RING),
        );
    }
}
