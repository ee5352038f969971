//! The egui panels: search and genre legend on the left, the selected song with its nearest
//! songs and the distance filter on the right, a status line, and the help overlay.

use bevy::camera::Viewport;
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::egui::{self, Color32, RichText};
use bevy_egui::{EguiContexts, egui::Order};

use super::camera::OrbitCamera;
use super::colour::colour32;
use super::input::select_song;
use super::listen_panel::{PanelRequests, listen_tab, song_actions, tab_strip};
use super::listening::{Listen, SideTab};
use super::menu::{DialogKind, OpenDialog};
use super::playback::{Playback, PlaybackRequest};
use super::session::{FirstStartHint, hint_contents};
use super::state::{ExplorerState, ViewState};
use crate::explore::{Explorer, FilterSpace};

const SEARCH_RESULTS: usize = 40;

pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Left drag", "orbit"),
    ("Right / middle drag", "pan"),
    ("Wheel", "zoom towards the cursor"),
    ("Click a song", "select it"),
    ("Double-click", "select and fly to it"),
    ("Arrows / WASD", "orbit"),
    ("+ / −", "zoom"),
    ("F", "focus on the selection"),
    ("R", "reset the view"),
    ("Space", "play / pause"),
    ("N / P", "next / previous of the 3 nearest"),
    ("L", "like / unlike the selection (For you follows)"),
    ("B / E", "a path of similar songs begins / ends at the selection"),
    ("Q", "play the path"),
    ("Ctrl+S", "save the path as a playlist"),
    ("Ctrl+E", "export the open playlist (M3U8 or CSV)"),
    ("] / [", "next / previous song of the queue"),
    ("O", "radio: play on to the nearest unplayed song"),
    ("Hold Alt", "hear the song under the pointer (5 s from its middle)"),
    ("K", "switch the right panel: song / listen"),
    ("Esc", "clear the selection"),
    ("Ctrl+F", "search"),
    ("Colour by", "genre, cluster, artist, album, or tempo, loudness, brightness, onsets, dynamics on a scale"),
    ("Map & view", "depth cue, axes, grid, turning slowly when left alone"),
    ("H or ?", "this help"),
];

#[allow(clippy::too_many_arguments)]
pub fn panels(
    mut contexts: EguiContexts,
    mut state: ResMut<ExplorerState>,
    mut view: ResMut<ViewState>,
    mut cameras: Query<(&mut Camera, &mut OrbitCamera)>,
    windows: Query<&Window, With<PrimaryWindow>>,
    mut playback: Option<ResMut<Playback>>,
    mut hint: Option<ResMut<FirstStartHint>>,
    mut listen: ResMut<Listen>,
    mut dialogs: MessageWriter<OpenDialog>,
) -> Result {
    let ctx = contexts.ctx_mut()?.clone();
    let Ok((mut camera, mut orbit)) = cameras.single_mut() else { return Ok(()) };
    let explorer = &mut state.0;
    let mut root = egui::Ui::new(
        ctx.clone(),
        "songspace root".into(),
        egui::UiBuilder::new().layer_id(egui::LayerId::background()).max_rect({
            // Below the menu bar.
            let mut rect = ctx.viewport_rect();
            rect.min.y += view.menu_height;
            rect
        }),
    );
    let mut to_select: Option<(usize, bool)> = None;

    // First, so that it spans the whole width and long messages fit.
    egui::Panel::bottom("status").show(&mut root, |ui| {
        match view.notices.last() {
            Some(notice) => ui.add(egui::Label::new(notice.as_str()).truncate()).on_hover_text(view.notices.join("\n")),
            None => ui.weak("Click a song to hear it and see its 3 nearest. H for help."),
        };
    });
    let mut cluster_action = None;
    egui::Panel::left("library").default_size(270.0).resizable(true).show(&mut root, |ui| {
        library_panel(ui, explorer, &mut view, &mut to_select, &mut cluster_action);
    });
    if let Some(report) = explorer.shared_clusters() {
        match cluster_action {
            Some(ClusterAction::Play(c)) => {
                let cluster = &report.clusters[c];
                let name = format!("cluster {}", cluster.name);
                listen.play_queue(&name, &cluster.tracks, 0, playback.as_deref_mut(), explorer);
                view.notify(format!(
                    "Playing the {} songs of cluster {}, nearest its centre first",
                    cluster.size,
                    c + 1
                ));
            }
            Some(ClusterAction::KeepAsPlaylist(c)) => {
                let cluster = &report.clusters[c];
                listen.save_songs_as_playlist(&cluster.name, &cluster.tracks, &mut view);
            }
            Some(ClusterAction::Export) => {
                dialogs.write(OpenDialog(DialogKind::ExportCluster));
            }
            None => {}
        }
    }
    let mut requests = PanelRequests::default();
    egui::Panel::right("selection").default_size(310.0).resizable(true).show(&mut root, |ui| {
        ui.add_space(4.0);
        tab_strip(ui, &mut listen);
        if listen.tab == SideTab::Listen {
            listen_tab(ui, explorer, &mut listen, playback.as_deref_mut(), &mut view, &mut requests);
            return;
        }
        match hint.as_deref_mut().filter(|h| h.showing && explorer.selected().is_none()) {
            Some(hint) => {
                let (songs, styles) = (explorer.len(), explorer.legend().len());
                ui.add_space(6.0);
                hint_contents(ui, hint, songs, styles);
            }
            None => selection_panel(ui, explorer, playback.as_deref_mut(), &mut to_select, &mut listen, &mut view),
        }
    });
    if requests.select.is_some() {
        to_select = requests.select;
    }
    if let Some(kind) = requests.dialog {
        dialogs.write(OpenDialog(kind));
    }
    let scene = root.available_rect_before_wrap();
    view.scene_rect = Some((Vec2::new(scene.min.x, scene.min.y), Vec2::new(scene.max.x, scene.max.y)));

    if view.show_help {
        egui::Window::new("Keys and mouse").collapsible(false).resizable(false).show(&ctx, |ui| {
            egui::Grid::new("help").num_columns(2).spacing([16.0, 4.0]).show(ui, |ui| {
                for (key, action) in SHORTCUTS {
                    ui.label(RichText::new(*key).strong());
                    ui.label(*action);
                    ui.end_row();
                }
            });
        });
    }

    if let Some((row, fly)) = to_select {
        select_song(explorer, Some(&mut orbit), row, fly);
    }

    // The 3D view fills what the panels leave.
    if let Ok(window) = windows.single() {
        let scale = window.scale_factor();
        let min = UVec2::new((scene.min.x * scale) as u32, (scene.min.y * scale) as u32);
        let max = UVec2::new(
            ((scene.max.x * scale) as u32).min(window.physical_width()),
            ((scene.max.y * scale) as u32).min(window.physical_height()),
        );
        if max.x > min.x + 1 && max.y > min.y + 1 {
            let size = max - min;
            let unchanged =
                camera.viewport.as_ref().is_some_and(|v| v.physical_position == min && v.physical_size == size);
            if !unchanged {
                camera.viewport = Some(Viewport { physical_position: min, physical_size: size, ..default() });
            }
        }
    }

    let pointer = ctx.input(|i| i.pointer.interact_pos());
    view.pointer_over_ui = ctx.egui_is_using_pointer()
        || pointer.is_some_and(|p| {
            !scene.contains(p) || ctx.layer_id_at(p).is_some_and(|layer| layer.order != Order::Background)
        });
    view.keyboard_taken = ctx.egui_wants_keyboard_input();
    Ok(())
}

/// The music folder names a library better than its file (usually "library.ron").
fn library_name(explorer: &Explorer) -> String {
    if crate::library::is_demo_library(explorer.library_path()) {
        return "the demo".to_owned();
    }
    explorer
        .library()
        .root
        .file_name()
        .or_else(|| explorer.library_path().file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn library_panel(
    ui: &mut egui::Ui,
    explorer: &mut Explorer,
    view: &mut ViewState,
    to_select: &mut Option<(usize, bool)>,
    cluster_action: &mut Option<ClusterAction>,
) {
    ui.add_space(6.0);
    ui.heading("songspace");
    // Worked out once per library (it asks the file system).
    if view.library_name.as_ref().is_none_or(|(path, _)| path != explorer.library_path()) {
        view.library_name = Some((explorer.library_path().to_path_buf(), library_name(explorer)));
    }
    let name = view.library_name.as_ref().map(|(_, name)| name.clone()).unwrap_or_default();
    ui.weak(format!("{name} · {} songs · {} map", explorer.len(), explorer.map().method()))
        .on_hover_text(explorer.library_path().display().to_string());
    ui.separator();

    let search = ui.add(
        egui::TextEdit::singleline(&mut view.search_text)
            .hint_text("Search title, artist, album  (Ctrl+F)")
            .desired_width(f32::INFINITY),
    );
    if view.focus_search {
        search.request_focus();
        view.focus_search = false;
    }
    if search.changed() {
        view.search_results = explorer.search(&view.search_text, SEARCH_RESULTS);
    }
    if search.lost_focus()
        && ui.input(|i| i.key_pressed(egui::Key::Enter))
        && let Some(&row) = view.search_results.first()
    {
        *to_select = Some((row, true));
    }
    if !view.search_text.trim().is_empty() {
        if view.search_results.is_empty() {
            ui.weak("No song matches.");
        }
        egui::ScrollArea::vertical().id_salt("results").max_height(220.0).show(ui, |ui| {
            for &row in &view.search_results {
                let selected = explorer.selected() == Some(row);
                if ui.selectable_label(selected, explorer.display_name(row)).clicked() {
                    *to_select = Some((row, true));
                }
            }
        });
    }
    ui.separator();

    ui.horizontal(|ui| {
        ui.strong("Colour by");
        let mut colour_by = explorer.colour_by();
        egui::ComboBox::from_id_salt("colour-by").selected_text(colour_by.label()).show_ui(ui, |ui| {
            for choice in crate::library::ColourBy::ALL {
                ui.selectable_value(&mut colour_by, choice, choice.label());
            }
        });
        explorer.set_colour_by(colour_by);
    });
    if let (Some(descriptor), Some((low, high))) = (explorer.colour_by().descriptor(), explorer.value_range()) {
        colour_bar(ui, descriptor, low, high);
    }
    ui.horizontal(|ui| {
        ui.strong(legend_title(explorer.colour_by()));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.small_button("none").clicked() {
                explorer.show_all_legend(false);
            }
            if ui.small_button("all").clicked() {
                explorer.show_all_legend(true);
            }
        });
    });
    ui.weak("Click to hide or show, shift-click to show only one.");
    if explorer.colour_by() == crate::library::ColourBy::Cluster {
        cluster_box(ui, explorer, view, cluster_action);
    }
    egui::ScrollArea::vertical().id_salt("legend").show(ui, |ui| {
        let mut clicked = None;
        for (index, genre) in explorer.legend().iter().enumerate() {
            let text_colour = if genre.shown { ui.visuals().text_color() } else { ui.visuals().weak_text_color() };
            let response = ui
                .horizontal(|ui| {
                    let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                    let swatch =
                        if genre.shown { colour32(genre.colour) } else { colour32(genre.colour).gamma_multiply(0.25) };
                    ui.painter().circle_filled(rect.center(), 5.5, swatch);
                    // The count at the right edge and the name cut to the room left (in full on
                    // hover): a long album or cluster name must not widen the panel over the map.
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        ui.label(RichText::new(genre.count.to_string()).color(text_colour));
                        ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                            ui.add(
                                egui::Label::new(RichText::new(genre.label()).color(text_colour))
                                    .truncate()
                                    .sense(egui::Sense::click()),
                            )
                        })
                        .inner
                    })
                    .inner
                })
                .inner;
            if response.clicked() {
                clicked = Some((index, ui.input(|i| i.modifiers.shift)));
            }
        }
        match clicked {
            Some((index, true)) => explorer.solo_legend_entry(index),
            Some((index, false)) => explorer.toggle_legend_entry(index),
            None => {}
        }
    });
}

/// What the chosen cluster's box asks for, done where the listening state is at hand.
enum ClusterAction {
    Play(usize),
    KeepAsPlaylist(usize),
    /// Ask where to write the chosen cluster's songs.
    Export,
}

/// The chosen cluster (a click on its name in the view, or chosen here): its profile, the songs
/// nearest its centre, and buttons to play its songs, keep them as a playlist, or export them
/// (ids, titles and files as CSV, or M3U8).
fn cluster_box(ui: &mut egui::Ui, explorer: &mut Explorer, view: &mut ViewState, action: &mut Option<ClusterAction>) {
    let Some(report) = explorer.shared_clusters() else {
        ui.weak("Clustering the map…");
        return;
    };
    let label = |c: usize| report.label(c);
    let mut chosen = view.chosen_cluster.filter(|&c| c < report.clusters.len());
    egui::ComboBox::from_id_salt("chosen-cluster")
        .width(ui.available_width().min(240.0))
        // A long name is cut rather than widening the panel over the map.
        .truncate()
        .selected_text(chosen.map_or_else(|| "choose a cluster…".to_owned(), label))
        .show_ui(ui, |ui| {
            for c in 0..report.clusters.len() {
                ui.selectable_value(&mut chosen, Some(c), label(c));
            }
        });
    if chosen != view.chosen_cluster
        && let Some(c) = chosen
    {
        super::input::choose_cluster(explorer, view, c);
    }
    let Some(c) = view.chosen_cluster.filter(|&c| c < report.clusters.len()) else {
        ui.weak("Or click a cluster's name in the view.");
        return;
    };
    let cluster = &report.clusters[c];
    ui.label(format!("{} songs, silhouette of the clustering {:.2}", cluster.size, report.silhouette));
    let profile: Vec<String> = crate::audio::Descriptor::ALL
        .iter()
        .filter_map(|&d| cluster.profile.get(d.key()).map(|&v| format!("{} {}", d.label().to_lowercase(), d.format(v))))
        .collect();
    if !profile.is_empty() {
        ui.weak(format!("median {}", profile.join(", ")));
    }
    let nearest: Vec<String> = cluster
        .representatives
        .iter()
        .filter_map(|&id| explorer.row_of(id).map(|row| explorer.display_name(row)))
        .collect();
    ui.weak(format!("nearest its centre: {}", nearest.join("; ")));
    ui.horizontal_wrapped(|ui| {
        if ui.button("Play its songs").clicked() {
            *action = Some(ClusterAction::Play(c));
        }
        if ui.button("Keep as a playlist").clicked() {
            *action = Some(ClusterAction::KeepAsPlaylist(c));
        }
        if ui.button("Export…").on_hover_text("Their ids, titles and files as CSV, or an M3U8 playlist").clicked() {
            *action = Some(ClusterAction::Export);
        }
        if ui.button("Show all").clicked() {
            view.chosen_cluster = None;
            explorer.show_all_legend(true);
        }
    });
    ui.separator();
}

/// The legend's heading for a colour mode.
fn legend_title(colour_by: crate::library::ColourBy) -> &'static str {
    use crate::library::ColourBy;
    match colour_by {
        ColourBy::Genre => "Genres",
        ColourBy::Cluster => "Clusters",
        ColourBy::Artist => "Artists",
        ColourBy::Album => "Albums",
        _ => "Songs",
    }
}

/// The continuous scale's colours from its low end to its high end, with the values there.
fn colour_bar(ui: &mut egui::Ui, descriptor: crate::audio::Descriptor, low: f32, high: f32) {
    let width = ui.available_width().min(220.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 12.0), egui::Sense::hover());
    let steps = 48;
    for i in 0..steps {
        let t = i as f32 / (steps - 1) as f32;
        let x0 = rect.left() + rect.width() * i as f32 / steps as f32;
        let x1 = rect.left() + rect.width() * (i + 1) as f32 / steps as f32;
        let strip = egui::Rect::from_min_max(egui::pos2(x0, rect.top()), egui::pos2(x1 + 0.5, rect.bottom()));
        ui.painter().rect_filled(strip, 0.0, colour32(crate::explore::value_colour(t)));
    }
    ui.horizontal(|ui| {
        ui.set_width(width);
        ui.small(descriptor.format(low));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.small(descriptor.format(high));
        });
    });
}

fn selection_panel(
    ui: &mut egui::Ui,
    explorer: &mut Explorer,
    playback: Option<&mut Playback>,
    to_select: &mut Option<(usize, bool)>,
    listen: &mut Listen,
    view: &mut ViewState,
) {
    ui.add_space(2.0);
    let Some(row) = explorer.selected() else {
        ui.heading("No song selected");
        ui.label("Click a point to select a song: its 3 nearest songs are highlighted, and the distance filter measures from it.");
        return;
    };
    let track = explorer.track_at(row).cloned();
    match &track {
        Some(t) => {
            ui.heading(&t.title);
            // Wrapped, not in a grid: a long album name must not widen the panel.
            for (label, value) in [
                ("Artist", t.artist.clone()),
                ("Album", t.album.clone()),
                ("Genre", explorer.genre_label(row).to_owned()),
                ("Duration", format_duration(t.duration_seconds)),
            ] {
                ui.horizontal_wrapped(|ui| {
                    ui.weak(label);
                    ui.label(if value.is_empty() { "—".to_owned() } else { value });
                });
            }
            if let (Some(cluster), Some(report)) = (explorer.cluster_of(row), explorer.clusters()) {
                ui.horizontal_wrapped(|ui| {
                    ui.weak("Cluster");
                    ui.label(report.label(cluster));
                });
            }
            match &t.descriptors {
                Some(d) => {
                    egui::Grid::new("descriptors").num_columns(2).show(ui, |ui| {
                        for descriptor in crate::audio::Descriptor::ALL {
                            ui.weak(descriptor.label());
                            ui.label(descriptor.format(descriptor.of(d)));
                            ui.end_row();
                        }
                    });
                }
                None => {
                    ui.weak("Tempo, loudness and brightness: import the folder again to measure them.");
                }
            }
        }
        None => {
            ui.heading(explorer.display_name(row));
        }
    }
    if let Some(playback) = playback {
        player_controls(ui, row, playback);
    }
    song_actions(ui, explorer, listen, view);
    ui.separator();

    ui.strong("Nearest songs");
    ui.weak(format!("by {} distance between embeddings; the map distance after it", explorer.metric()));
    let neighbours = explorer.selection().map(|s| (s.neighbours.clone(), s.neighbour_cursor)).unwrap_or_default();
    // One row each: rank, the name cut to fit (full on hover), the distances on the right.
    for (rank, n) in neighbours.0.iter().enumerate() {
        let dot = colour32(explorer.row_colour(n.index));
        let current = neighbours.1 == Some(rank);
        let name = explorer.display_name(n.index);
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("{}", rank + 1)).color(dot).strong());
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.monospace(format!("{:.3} · {:.2}", n.distance, explorer.map().map_distance(row, n.index)));
                let text = if current { RichText::new(&name).strong() } else { RichText::new(&name) };
                let clicked = ui
                    .with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                        ui.add(egui::Label::new(text).truncate().sense(egui::Sense::click()))
                            .on_hover_text(format!("{name}\n{}", explorer.genre_label(n.index)))
                            .clicked()
                    })
                    .inner;
                if clicked {
                    *to_select = Some((n.index, false));
                }
            });
        });
    }
    ui.separator();

    ui.strong("Distance filter");
    let mut space = explorer.filter_space();
    ui.horizontal(|ui| {
        ui.radio_value(&mut space, FilterSpace::Embedding, "embedding (32-d)");
        ui.radio_value(&mut space, FilterSpace::Map, "map (3D)");
    });
    explorer.set_filter_space(space);
    let max = explorer.filter_max().unwrap_or(1.0).max(1e-6);
    let mut radius = explorer.filter_radius().unwrap_or(max);
    ui.horizontal(|ui| {
        let slider = ui.add(egui::Slider::new(&mut radius, 0.0..=max).text("d").max_decimals(3));
        if slider.changed() {
            // All the way right is "no filter" (the slider rounds, and must not drop the farthest song).
            explorer.set_filter_radius((radius < max * 0.9999).then_some(radius));
        }
        if ui.add_enabled(explorer.filter_radius().is_some(), egui::Button::new("Reset")).clicked() {
            explorer.reset_filter();
        }
    });
    let visible = explorer.visible_count();
    ui.label(
        RichText::new(format!("{visible} of {} songs shown", explorer.len())).color(if visible < explorer.len() {
            Color32::from_rgb(0xE6, 0x9F, 0x00)
        } else {
            ui.visuals().text_color()
        }),
    );
}

fn format_duration(seconds: f32) -> String {
    let total = seconds.max(0.0).round() as u32;
    format!("{}:{:02}", total / 60, total % 60)
}

fn player_controls(ui: &mut egui::Ui, row: usize, playback: &mut Playback) {
    ui.add_space(4.0);
    if let Some(reason) = &playback.unavailable {
        ui.add_enabled_ui(false, |ui| {
            ui.horizontal(|ui| {
                let _ = ui.button("▶ Play");
            });
        });
        ui.weak(reason.as_str());
        return;
    }
    let now = playback.now.as_ref().filter(|n| n.row == row).cloned();
    ui.horizontal(|ui| {
        let playing = now.as_ref().is_some_and(|n| !n.paused && !n.finished);
        let label = if playing { "⏸ Pause" } else { "▶ Play" };
        if ui.button(label).on_hover_text("Space").clicked() {
            match &now {
                Some(_) => playback.request(PlaybackRequest::TogglePause),
                None => playback.request(PlaybackRequest::Play { row, from_seconds: 0.0 }),
            }
        }
        if let Some(n) = &now {
            ui.monospace(format!(
                "{} / {}",
                format_duration(n.position_seconds as f32),
                format_duration(n.duration_seconds as f32)
            ));
        }
    });
    if let Some(n) = &now {
        let mut position = n.position_seconds as f32;
        let seek = ui.add(
            egui::Slider::new(&mut position, 0.0..=(n.duration_seconds as f32).max(0.1))
                .show_value(false)
                .text("position"),
        );
        if seek.drag_stopped() || (seek.changed() && !seek.dragged()) {
            playback.request(PlaybackRequest::Seek(f64::from(position)));
        }
    }
    let mut volume = playback.volume;
    if ui.add(egui::Slider::new(&mut volume, 0.0..=1.0).text("volume").show_value(false)).changed() {
        playback.volume = volume;
    }
}
