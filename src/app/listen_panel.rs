//! The Listen tab of the right-hand panel: the queue and what plays next, For you, the path
//! between two songs, playlists and history; and the like and path buttons of the song tab.

use bevy_egui::egui::{self, Color32, RichText};

use super::listening::{Listen, SideTab, selected_id};
use super::menu::DialogKind;
use super::playback::Playback;
use super::state::ViewState;
use crate::explore::Explorer;
use crate::explore::queue::Repeat;
use crate::library::unix_now;

/// History entries listed (the file keeps many more).
const HISTORY_SHOWN: usize = 200;

/// What the panel asks of the rest of the window.
#[derive(Default)]
pub struct PanelRequests {
    /// Select this row (and fly to it).
    pub select: Option<(usize, bool)>,
    pub dialog: Option<DialogKind>,
}

/// The tab strip above the right-hand panel.
pub fn tab_strip(ui: &mut egui::Ui, listen: &mut Listen) {
    ui.horizontal(|ui| {
        ui.selectable_value(&mut listen.tab, SideTab::Song, "Song").on_hover_text("The selected song (K switches)");
        let likes = listen.listening.likes.len();
        let label = if likes > 0 { format!("Listen · ♥ {likes}") } else { "Listen".to_owned() };
        ui.selectable_value(&mut listen.tab, SideTab::Listen, label)
            .on_hover_text("Queue, For you, path, playlists and history (K switches)");
    });
    ui.separator();
}

/// The like, path and playlist buttons under the selected song.
pub fn song_actions(ui: &mut egui::Ui, explorer: &Explorer, listen: &mut Listen, view: &mut ViewState) {
    let Some(id) = selected_id(explorer) else { return };
    ui.horizontal_wrapped(|ui| {
        let liked = listen.listening.is_liked(id);
        let heart = if liked { RichText::new("♥ Liked").color(LIKED) } else { RichText::new("♥ Like") };
        if ui
            .add_enabled(listen.is_loaded(), egui::Button::new(heart))
            .on_hover_text("L: like or unlike; liked songs make For you")
            .clicked()
        {
            listen.toggle_like(explorer, view);
        }
        if ui.button("Path from here").on_hover_text("B: a path of similar songs starts at this one").clicked() {
            listen.set_path_end(explorer, view, true);
        }
        if ui.button("Path to here").on_hover_text("E: the path ends at this one").clicked() {
            listen.set_path_end(explorer, view, false);
        }
        ui.menu_button("Add to playlist", |ui| {
            add_to_playlist_menu(ui, listen, &[id], "this song");
        });
    });
}

pub const LIKED: Color32 = Color32::from_rgb(0xE0, 0x5A, 0x8A);

fn add_to_playlist_menu(ui: &mut egui::Ui, listen: &mut Listen, songs: &[u64], what: &str) {
    if !listen.is_loaded() {
        ui.weak("Playlists are not loaded");
        return;
    }
    let names: Vec<String> = listen.listening.playlists.iter().map(|p| p.name.clone()).collect();
    for name in names {
        if ui.button(&name).clicked() {
            if let Ok(playlist) = listen.listening.playlist_mut(&name) {
                playlist.add(songs.iter().copied());
            }
            listen.open_playlist = Some(name);
            listen.changed();
            ui.close();
        }
    }
    if ui.button(format!("New playlist with {what}")).clicked() {
        let name = listen.listening.free_name("New playlist");
        if let Ok(playlist) = listen.listening.create_playlist(&name) {
            playlist.add(songs.iter().copied());
        }
        listen.open_playlist = Some(name);
        listen.tab = SideTab::Listen;
        listen.changed();
        ui.close();
    }
}

/// The whole Listen tab.
pub fn listen_tab(
    ui: &mut egui::Ui,
    explorer: &Explorer,
    listen: &mut Listen,
    mut playback: Option<&mut Playback>,
    view: &mut ViewState,
    requests: &mut PanelRequests,
) {
    if !listen.is_loaded() {
        ui.weak("Likes, playlists and history are not loaded for this library (see the status line).");
    }
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        egui::CollapsingHeader::new(RichText::new("Playing").strong()).default_open(true).show(ui, |ui| {
            queue_section(ui, explorer, listen, playback.as_deref_mut(), view);
        });
        egui::CollapsingHeader::new(RichText::new("For you").strong()).default_open(true).show(ui, |ui| {
            for_you_section(ui, explorer, listen, playback.as_deref_mut(), requests);
        });
        egui::CollapsingHeader::new(RichText::new("Path").strong()).default_open(true).show(ui, |ui| {
            path_section(ui, explorer, listen, playback.as_deref_mut(), view, requests);
        });
        egui::CollapsingHeader::new(RichText::new("Playlists").strong()).default_open(true).show(ui, |ui| {
            playlists_section(ui, explorer, listen, playback.as_deref_mut(), view, requests);
        });
        egui::CollapsingHeader::new(RichText::new("History").strong()).default_open(true).show(ui, |ui| {
            history_section(ui, explorer, listen, playback, requests);
        });
    });
}

/// One clickable song line: a genre dot, the name cut to fit (whole on hover), a note on the right.
fn song_line(
    ui: &mut egui::Ui,
    explorer: &Explorer,
    row: usize,
    prefix: &str,
    note: &str,
    strong: bool,
) -> egui::Response {
    let dot = super::colour::colour32(explorer.row_colour(row));
    let name = explorer.display_name(row);
    ui.horizontal(|ui| {
        ui.label(RichText::new(prefix).color(dot).strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if !note.is_empty() {
                ui.weak(note);
            }
            ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                let text = if strong { RichText::new(&name).strong() } else { RichText::new(&name) };
                ui.add(egui::Label::new(text).truncate().sense(egui::Sense::click()))
                    .on_hover_text(format!("{name}\n{}", explorer.genre_label(row)))
            })
            .inner
        })
        .inner
    })
    .inner
}

fn queue_section(
    ui: &mut egui::Ui,
    explorer: &Explorer,
    listen: &mut Listen,
    mut playback: Option<&mut Playback>,
    view: &mut ViewState,
) {
    match &listen.queue {
        Some(queue) => {
            ui.label(format!("Queue: {} · {} of {}", queue.name, queue.position() + 1, queue.len()));
        }
        None => {
            ui.weak("No queue: play a playlist, the path or For you. Songs you click play one at a time.");
        }
    }
    if listen.queue.is_some() {
        ui.horizontal(|ui| {
            // Words, not symbols: egui's bundled fonts lack the media and cross glyphs.
            if ui.button("Prev").on_hover_text("[: previous").clicked() {
                listen.step_queue(false, playback.as_deref_mut(), explorer, view);
            }
            if ui.button("Next").on_hover_text("]: next").clicked() {
                listen.step_queue(true, playback.as_deref_mut(), explorer, view);
            }
            let queue = listen.queue.as_mut().expect("checked");
            let mut shuffle = queue.is_shuffled();
            if ui.checkbox(&mut shuffle, "shuffle").changed() {
                queue.set_shuffle(shuffle);
            }
            if ui.button(queue.repeat.label()).on_hover_text("off, all, one in turn").clicked() {
                queue.repeat = queue.repeat.cycled();
            }
            if ui.small_button("x").on_hover_text("Clear the queue").clicked() {
                listen.queue = None;
            }
        });
        if let Some(queue) = &listen.queue {
            let order: Vec<u64> = queue.playing_order().collect();
            let position = queue.position();
            let mut jump = None;
            egui::CollapsingHeader::new(format!("{} songs", order.len())).id_salt("queue songs").show(ui, |ui| {
                for (n, id) in order.iter().enumerate() {
                    let Some(row) = explorer.row_of(*id) else { continue };
                    if song_line(ui, explorer, row, &format!("{}", n + 1), "", n == position).clicked() {
                        jump = Some(n);
                    }
                }
            });
            if let Some(n) = jump
                && let Some(id) = listen.queue.as_mut().and_then(|q| q.jump(n))
                && let (Some(playback), Some(row)) = (playback, explorer.row_of(id))
            {
                playback.request(super::playback::PlaybackRequest::Play { row, from_seconds: 0.0 });
            }
        }
    }
    ui.checkbox(&mut listen.radio, "Radio")
        .on_hover_text("O: when a song ends and no queue follows, play its nearest song not played yet");
    ui.checkbox(&mut listen.audition_on_hover, "Audition on hover")
        .on_hover_text("Rest the pointer on a song to hear 5 s from its middle (or hold Alt)");
    ui.checkbox(&mut listen.follow_camera, "Camera follows the queue");
    if matches!(listen.queue.as_ref().map(|q| q.repeat), Some(Repeat::One)) {
        ui.weak("The current song repeats.");
    }
}

fn for_you_section(
    ui: &mut egui::Ui,
    explorer: &Explorer,
    listen: &mut Listen,
    playback: Option<&mut Playback>,
    requests: &mut PanelRequests,
) {
    if listen.listening.likes.is_empty() {
        ui.weak("Like songs (L, or ♥ Like under a song): the songs nearest them show here, ringed on the map.");
        return;
    }
    ui.weak(format!("near your {} liked songs, each like's nearest taking turns", listen.listening.likes.len()));
    let name = |row: usize| explorer.track_at(row).map_or_else(|| explorer.display_name(row), |t| t.title.clone());
    for (rank, r) in listen.for_you.iter().enumerate() {
        let near: Vec<String> = r.near.iter().map(|&l| name(l)).collect();
        let note = format!("near {}", near.join(" and "));
        if song_line(ui, explorer, r.row, &format!("{}", rank + 1), "", false).on_hover_text(&note).clicked() {
            requests.select = Some((r.row, true));
        }
        ui.horizontal(|ui| {
            ui.add_space(14.0);
            ui.add(egui::Label::new(RichText::new(note).weak().small()).truncate());
        });
    }
    let ids: Vec<u64> = listen.for_you.iter().filter_map(|r| explorer.track_at(r.row)).map(|t| t.id).collect();
    ui.horizontal(|ui| {
        if ui.add_enabled(!ids.is_empty(), egui::Button::new("▶ Play all")).clicked() {
            listen.play_queue("For you", &ids, 0, playback, explorer);
        }
        ui.menu_button("Add to playlist", |ui| add_to_playlist_menu(ui, listen, &ids, "these songs"));
    });
    let liked: Vec<u64> = listen.listening.likes.clone();
    egui::CollapsingHeader::new(format!("Liked ({})", liked.len())).id_salt("liked songs").show(ui, |ui| {
        for id in liked.iter().rev() {
            let Some(row) = explorer.row_of(*id) else { continue };
            if song_line(ui, explorer, row, "♥", "", false).clicked() {
                requests.select = Some((row, true));
            }
        }
    });
}

fn path_section(
    ui: &mut egui::Ui,
    explorer: &Explorer,
    listen: &mut Listen,
    playback: Option<&mut Playback>,
    view: &mut ViewState,
    requests: &mut PanelRequests,
) {
    let name = |id: Option<u64>| {
        id.and_then(|id| explorer.row_of(id)).map_or_else(|| "—".to_owned(), |row| explorer.display_name(row))
    };
    ui.horizontal_wrapped(|ui| {
        ui.weak("from");
        ui.label(name(listen.path_from));
        ui.weak("to");
        ui.label(name(listen.path_to));
    });
    if listen.is_path_computing() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("finding the path…");
        });
    }
    let Some(path) = listen.path.clone() else {
        ui.weak(
            "Select a song and press B (path from here), another and press E: the path walks through similar songs.",
        );
        return;
    };
    let total: f32 = path.steps.iter().sum();
    ui.label(format!("{} songs, {} steps, {total:.2} in all", path.songs.len(), path.steps.len()));
    for (n, id) in path.songs.iter().enumerate() {
        let Some(row) = explorer.row_of(*id) else { continue };
        let note = path.steps.get(n).map(|d| format!("next {d:.3}")).unwrap_or_default();
        if song_line(ui, explorer, row, &format!("{}", n + 1), &note, false).clicked() {
            requests.select = Some((row, true));
        }
    }
    ui.horizontal_wrapped(|ui| {
        if ui.button("▶ Play").on_hover_text("Q: play the path as a queue").clicked() {
            listen.play_queue("path", &path.songs, 0, playback, explorer);
        }
        if ui.add_enabled(listen.is_loaded(), egui::Button::new("Save as playlist")).on_hover_text("Ctrl+S").clicked() {
            listen.save_path_as_playlist(explorer, view);
        }
        if ui.button("Clear").clicked() {
            listen.path = None;
            listen.path_from = None;
            listen.path_to = None;
        }
    });
}

fn playlists_section(
    ui: &mut egui::Ui,
    explorer: &Explorer,
    listen: &mut Listen,
    playback: Option<&mut Playback>,
    view: &mut ViewState,
    requests: &mut PanelRequests,
) {
    if !listen.is_loaded() {
        return;
    }
    ui.horizontal(|ui| {
        let field = ui.add(egui::TextEdit::singleline(&mut listen.name_edit).hint_text("name").desired_width(120.0));
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("New").on_hover_text("A new, empty playlist with this name").clicked() || enter {
            let name = listen.name_edit.clone();
            match listen.listening.create_playlist(&name) {
                Ok(playlist) => {
                    listen.open_playlist = Some(playlist.name.clone());
                    listen.name_edit.clear();
                    listen.changed();
                }
                Err(e) => view.notify(format!("No new playlist: {e}")),
            }
        }
        if ui.button("Import…").on_hover_text("An M3U, M3U8 or CSV file: the songs of this library it lists").clicked()
        {
            requests.dialog = Some(DialogKind::ImportPlaylist);
        }
    });
    let names: Vec<(String, usize)> =
        listen.listening.playlists.iter().map(|p| (p.name.clone(), p.tracks.len())).collect();
    if names.is_empty() {
        ui.weak("No playlists yet.");
    }
    for (name, count) in &names {
        let open = listen.open_playlist.as_deref() == Some(name.as_str());
        if ui.selectable_label(open, format!("{name}  ({count})")).clicked() {
            listen.open_playlist = if open { None } else { Some(name.clone()) };
            if !open {
                listen.name_edit = name.clone();
            }
        }
    }
    let Some(name) = listen.open_playlist.clone().filter(|n| listen.listening.playlist(n).is_some()) else { return };
    ui.separator();
    ui.strong(&name);
    ui.horizontal_wrapped(|ui| {
        if ui.button("Rename").on_hover_text("To the name in the field above").clicked() {
            let to = listen.name_edit.clone();
            match listen.listening.rename_playlist(&name, &to) {
                Ok(()) => {
                    listen.open_playlist = Some(to.trim().to_owned());
                    listen.changed();
                }
                Err(e) => view.notify(format!("Not renamed: {e}")),
            }
        }
        if ui.button("Delete").on_hover_text("Its songs stay in the library").clicked() {
            let _ = listen.listening.delete_playlist(&name);
            view.notify(format!("Deleted playlist “{name}”"));
            listen.open_playlist = None;
            listen.changed();
        }
        if ui.button("Export…").on_hover_text("As M3U8 (other players) or CSV (spreadsheets)").clicked() {
            requests.dialog = Some(DialogKind::ExportPlaylist);
        }
    });
    let Some(playlist) = listen.listening.playlist(&name) else { return };
    let songs = playlist.tracks.clone();
    // What can be added: the selection, its nearest, the path, the songs inside the filter.
    let mut additions: Vec<(&str, Vec<u64>)> = Vec::new();
    if let Some(selection) = explorer.selection() {
        let id_of = |row: usize| explorer.track_at(row).map(|t| t.id);
        additions.push(("+ selection", id_of(selection.row).into_iter().collect()));
        additions.push(("+ its 3 nearest", selection.neighbours.iter().filter_map(|n| id_of(n.index)).collect()));
    }
    // The songs inside the filter are gathered only when asked for: a scan of every song is
    // not for every frame of a large library.
    let filter_shown = explorer.filter_radius().is_some().then(|| explorer.visible_count());
    if let Some(path) = &listen.path {
        additions.push(("+ path", path.songs.clone()));
    }
    ui.horizontal_wrapped(|ui| {
        for (label, ids) in additions {
            if ui
                .button(label)
                .on_hover_text(format!("{} songs (those already in it are skipped)", ids.len()))
                .clicked()
                && let Ok(playlist) = listen.listening.playlist_mut(&name)
            {
                let added = playlist.add(ids);
                view.notify(format!("Added {added} songs to “{name}”"));
                listen.changed();
            }
        }
        if let Some(shown) = filter_shown
            && ui
                .button("+ inside the filter")
                .on_hover_text(format!("{shown} songs (those already in it are skipped)"))
                .clicked()
            && let Ok(playlist) = listen.listening.playlist_mut(&name)
        {
            let inside = (0..explorer.len()).filter(|&r| explorer.is_visible(r)).filter_map(|r| explorer.track_at(r));
            let added = playlist.add(inside.map(|t| t.id));
            view.notify(format!("Added {added} songs to “{name}”"));
            listen.changed();
        }
    });
    if songs.is_empty() {
        ui.weak("Empty: add the selection, its nearest, the path or the songs inside the distance filter.");
        return;
    }
    let mut play_from = None;
    let mut remove = None;
    let mut moved: Option<(usize, usize)> = None;
    ui.weak("Drag = to reorder, x removes; click a song to play from it.");
    for (n, id) in songs.iter().enumerate() {
        let Some(row) = explorer.row_of(*id) else { continue };
        let item = egui::Id::new(("playlist song", &name, n));
        let response = ui
            .horizontal(|ui| {
                ui.dnd_drag_source(item, n, |ui| {
                    ui.label("=").on_hover_text("Drag to move");
                });
                if ui.small_button("x").on_hover_text("Remove from the playlist").clicked() {
                    remove = Some(n);
                }
                if song_line(ui, explorer, row, &format!("{}", n + 1), "", false).clicked() {
                    play_from = Some(n);
                }
            })
            .response;
        if let Some(from) = response.dnd_release_payload::<usize>() {
            moved = Some((*from, n));
        } else if response.dnd_hover_payload::<usize>().is_some() {
            ui.painter().hline(response.rect.x_range(), response.rect.top(), egui::Stroke::new(2.0, LIKED));
        }
    }
    if let Some((from, to)) = moved
        && let Ok(playlist) = listen.listening.playlist_mut(&name)
    {
        playlist.move_track(from, to);
        listen.changed();
    }
    if let Some(n) = remove
        && let Ok(playlist) = listen.listening.playlist_mut(&name)
    {
        playlist.tracks.remove(n);
        listen.changed();
    }
    if let Some(n) = play_from {
        listen.play_queue(&name, &songs, n, playback, explorer);
    } else if ui.button("▶ Play").clicked() {
        listen.play_queue(&name, &songs, 0, playback, explorer);
    }
}

/// "5 min ago", "3 h ago", "yesterday", "4 days ago": readable in any time zone.
pub fn ago(then_unix: u64, now_unix: u64) -> String {
    let seconds = now_unix.saturating_sub(then_unix);
    match seconds {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86_400 => format!("{} h ago", seconds / 3600),
        86_400..172_800 => "yesterday".to_owned(),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

fn history_section(
    ui: &mut egui::Ui,
    explorer: &Explorer,
    listen: &mut Listen,
    playback: Option<&mut Playback>,
    requests: &mut PanelRequests,
) {
    ui.horizontal(|ui| {
        ui.add(egui::Slider::new(&mut listen.trail_length, 0..=50).text("trail"))
            .on_hover_text("The last plays drawn as a fading line on the map");
        let clear = ui.add_enabled(!listen.listening.history.is_empty(), egui::Button::new("Clear history"));
        if clear.clicked() {
            listen.listening.history.clear();
            listen.changed();
        }
    });
    if listen.listening.history.is_empty() {
        ui.weak("Songs you play are listed here, newest first.");
        return;
    }
    let now = unix_now();
    let mut replay = None;
    for play in listen.listening.history.iter().rev().take(HISTORY_SHOWN) {
        let Some(row) = explorer.row_of(play.track) else { continue };
        let heard = play.seconds.round() as u32;
        let note = format!("{} · {}:{:02}", ago(play.started_unix, now), heard / 60, heard % 60);
        if song_line(ui, explorer, row, "•", &note, false).on_hover_text("Click to play it again").clicked() {
            replay = Some(row);
        }
    }
    if let Some(row) = replay {
        requests.select = Some((row, false));
        // A selection plays itself, unless the player was told not to follow it.
        if let Some(playback) = playback.filter(|p| !p.follow_selection) {
            playback.request(super::playback::PlaybackRequest::Play { row, from_seconds: 0.0 });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ago;

    #[test]
    fn plays_are_dated_relative_to_now() {
        let now = 1_800_000_000;
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now - 300, now), "5 min ago");
        assert_eq!(ago(now - 3 * 3600, now), "3 h ago");
        assert_eq!(ago(now - 30 * 3600, now), "yesterday");
        assert_eq!(ago(now - 5 * 86_400, now), "5 days ago");
        assert_eq!(ago(now + 10, now), "just now", "a clock set back is not the future");
    }
}
