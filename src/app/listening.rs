//! Listening through the map in the window: likes and "For you", playlists, the play queue,
//! history, a path between two songs, radio, and auditioning by hover. The rules live in
//! [`crate::explore::listen`], [`crate::explore::queue`] and [`crate::library::Listening`]; these
//! systems drive them, and the listening file is read and written off the frame.
//!
//! Songs are held by track id, not map row: a library that is laid out again gets new rows.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, TryRecvError, channel};

use bevy::prelude::*;

use super::camera::OrbitCamera;
use super::jobs::JobNews;
use super::playback::{Playback, PlaybackRequest};
use super::saving::LibraryWriter;
use super::state::{ExplorerState, ViewState};
use crate::explore::Explorer;
use crate::explore::listen::{RecommendMethod, Recommendation, SongPath, path_between, radio_next, recommend};
use crate::explore::queue::PlayQueue;
use crate::library::{
    Listening, Play, PlaylistEntry, listening_path, load_library, load_listening, lock_library, read_playlist,
    save_listening, unix_now, write_playlist,
};
use crate::space::Metric;

/// Songs in "For you".
pub const FOR_YOU: usize = 10;
/// How long the pointer rests on a song before it is auditioned.
pub const HOVER_AUDITION_SECONDS: f32 = 0.3;
/// Plays the trail on the map shows, by default.
const TRAIL_DEFAULT: usize = 12;

/// What the right-hand panel shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SideTab {
    #[default]
    Song,
    Listen,
}

/// A path found between two songs (by id), with each step's distance.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundPath {
    pub songs: Vec<u64>,
    pub steps: Vec<f32>,
}

/// Something that came back from a thread: the listening file of a library, a path, or the
/// songs of an imported playlist.
type Incoming<T> = Mutex<Receiver<Result<T, String>>>;

#[derive(Resource)]
pub struct Listen {
    pub listening: Listening,
    /// The library file whose listening this is.
    pub library_path: Option<PathBuf>,
    loading: Option<(PathBuf, Incoming<Listening>)>,
    /// The library's listening file could not be read: nothing is saved over it (it may be
    /// mended by hand), and it is not read again until another library opens.
    unreadable: bool,
    /// Changed since it was last handed to the writer.
    unsaved: bool,
    pub for_you: Vec<Recommendation>,
    /// What "For you" was computed from: likes, the map's version, the metric.
    for_you_key: Option<(Vec<u64>, u64, Metric)>,
    pub queue: Option<PlayQueue>,
    /// When a song ends and no queue follows, play on to its nearest unplayed song.
    pub radio: bool,
    /// Audition songs by resting the pointer on them, without holding Alt.
    pub audition_on_hover: bool,
    /// The camera flies to each song the queue or radio plays.
    pub follow_camera: bool,
    pub path_from: Option<u64>,
    pub path_to: Option<u64>,
    pub path: Option<FoundPath>,
    path_job: Option<Incoming<FoundPath>>,
    pub tab: SideTab,
    /// The playlist open in the panel.
    pub open_playlist: Option<String>,
    /// The text of the playlist name field.
    pub name_edit: String,
    /// Plays drawn as a fading trail on the map (0: none).
    pub trail_length: usize,
    /// Songs played since the window opened (radio plays on to others).
    session_played: HashSet<u64>,
    /// The song playing, and its entry in the history.
    playing: Option<(u64, usize)>,
    imports: Vec<Incoming<(String, crate::library::ReadPlaylist)>>,
    /// Where the pointer rests and since when (seconds of real time), for auditions.
    hover_since: Option<(usize, f32)>,
    /// The song auditioned while the pointer rests on it (heard once, not again and again).
    auditioned: Option<usize>,
}

impl Default for Listen {
    fn default() -> Self {
        Self {
            listening: Listening::default(),
            library_path: None,
            loading: None,
            unreadable: false,
            unsaved: false,
            for_you: Vec::new(),
            for_you_key: None,
            queue: None,
            radio: false,
            audition_on_hover: false,
            follow_camera: true,
            path_from: None,
            path_to: None,
            path: None,
            path_job: None,
            tab: SideTab::default(),
            open_playlist: None,
            name_edit: String::new(),
            trail_length: TRAIL_DEFAULT,
            session_played: HashSet::new(),
            playing: None,
            imports: Vec::new(),
            hover_since: None,
            auditioned: None,
        }
    }
}

impl Listen {
    /// The listening file is loaded (until then nothing is saved, so nothing is lost).
    pub fn is_loaded(&self) -> bool {
        self.library_path.is_some() && self.loading.is_none() && !self.unreadable
    }

    pub fn changed(&mut self) {
        self.unsaved = true;
    }

    /// Likes the selected song, or takes the like back.
    pub fn toggle_like(&mut self, explorer: &Explorer, view: &mut ViewState) {
        if !self.is_loaded() {
            view.notify("Likes are off for this library: its listening file could not be read");
            return;
        }
        let Some(id) = selected_id(explorer) else {
            view.notify("Select a song to like it");
            return;
        };
        let liked = self.listening.toggle_like(id);
        let name = explorer.selected().map(|r| explorer.display_name(r)).unwrap_or_default();
        view.notify(if liked { format!("♥ Liked {name}") } else { format!("Took back the like of {name}") });
        self.changed();
    }

    /// A thread is working for the panel (loading, a path, an import), or the pointer rests on
    /// a song that is about to be auditioned: frames must keep coming to see it through.
    pub fn is_waiting(&self) -> bool {
        self.loading.is_some() || self.path_job.is_some() || !self.imports.is_empty() || self.audition_due()
    }

    fn audition_due(&self) -> bool {
        self.hover_since.is_some_and(|(row, _)| self.auditioned != Some(row))
    }

    pub fn is_path_computing(&self) -> bool {
        self.path_job.is_some()
    }

    /// Sets one end of the path to the selected song; with both ends set, finds the path on a
    /// thread (up to seconds at 100k songs).
    pub fn set_path_end(&mut self, explorer: &Explorer, view: &mut ViewState, start: bool) {
        let Some(id) = selected_id(explorer) else {
            view.notify("Select a song first: the path starts or ends at the selection");
            return;
        };
        if start {
            self.path_from = Some(id);
        } else {
            self.path_to = Some(id);
        }
        self.path = None;
        let (Some(from), Some(to)) = (self.path_from, self.path_to) else {
            view.notify(if start {
                "The path starts here: select where it ends and press E"
            } else {
                "The path ends here: select where it starts and press B"
            });
            return;
        };
        let (Some(from_row), Some(to_row)) = (explorer.row_of(from), explorer.row_of(to)) else { return };
        let map = explorer.map().clone();
        let metric = explorer.metric();
        let (sender, receiver) = channel();
        let spawned = std::thread::Builder::new().name("songspace path".into()).spawn(move || {
            let found = path_between(&map, metric, from_row, to_row, None)
                .map(|p: SongPath| FoundPath { songs: p.rows.iter().map(|&r| map.id(r)).collect(), steps: p.steps })
                .map_err(|e| e.to_string());
            let _ = sender.send(found);
        });
        match spawned {
            Ok(_) => self.path_job = Some(Mutex::new(receiver)),
            Err(e) => view.notify(format!("Cannot find the path: cannot start a thread ({e})")),
        }
    }

    /// Plays `songs` in order from `start`, as a queue named `name`.
    pub fn play_queue(
        &mut self,
        name: &str,
        songs: &[u64],
        start: usize,
        playback: Option<&mut Playback>,
        explorer: &Explorer,
    ) {
        self.queue = PlayQueue::new(name, songs, start);
        if let Some(queue) = &self.queue {
            play_id(queue.current(), playback, explorer);
        }
    }

    /// The next (or previous) song of the queue.
    pub fn step_queue(
        &mut self,
        forward: bool,
        playback: Option<&mut Playback>,
        explorer: &Explorer,
        view: &mut ViewState,
    ) {
        let Some(queue) = self.queue.as_mut() else {
            view.notify("Nothing queued: play a playlist, a path or For you");
            return;
        };
        let next = if forward { queue.next_song() } else { Some(queue.previous_song()) };
        match next {
            Some(id) => play_id(id, playback, explorer),
            None => view.notify(format!("End of {}", queue.name)),
        }
    }

    /// Saves the path as a new playlist (named after its ends) and opens it in the panel.
    pub fn save_path_as_playlist(&mut self, explorer: &Explorer, view: &mut ViewState) {
        if !self.is_loaded() {
            view.notify("Playlists are off for this library: its listening file could not be read");
            return;
        }
        let Some(path) = &self.path else {
            view.notify("No path yet: select a song and press B, another and press E");
            return;
        };
        // Titles alone: "artist — title" twice makes a name too long to read in the list.
        let name_of = |id: u64| {
            explorer.row_of(id).and_then(|r| explorer.track_at(r)).map_or_else(|| id.to_string(), |t| t.title.clone())
        };
        let (first, last) = (path.songs[0], *path.songs.last().expect("a path has songs"));
        // egui's fonts have no arrow: "to" reads as well.
        let name = self.listening.free_name(&format!("{} to {}", name_of(first), name_of(last)));
        let songs = path.songs.clone();
        if let Ok(playlist) = self.listening.create_playlist(&name) {
            playlist.add(songs);
            view.notify(format!("Saved the path as playlist “{name}”"));
            self.open_playlist = Some(name);
            self.tab = SideTab::Listen;
            self.changed();
        }
    }

    /// Keeps `songs` as a new playlist named after `name` (made unique) and opens it in the
    /// Listen tab, where it plays and exports like any other.
    pub fn save_songs_as_playlist(&mut self, name: &str, songs: &[u64], view: &mut ViewState) {
        if !self.is_loaded() {
            view.notify("Playlists are off for this library: its listening file could not be read");
            return;
        }
        let name = self.listening.free_name(name);
        if let Ok(playlist) = self.listening.create_playlist(&name) {
            playlist.add(songs.to_vec());
            view.notify(format!("Kept {} songs as playlist “{name}”", songs.len()));
            self.open_playlist = Some(name);
            self.tab = SideTab::Listen;
            self.changed();
        }
    }

    /// Reads a playlist file into a new playlist, on the library writer's thread (after the
    /// window's earlier writes, so the library file it reads holds every dropped song).
    pub fn import_playlist(&mut self, file: PathBuf, writer: &LibraryWriter) {
        let Some(library_path) = self.library_path.clone() else { return };
        let (sender, receiver) = channel();
        writer.write(move || {
            let read = load_library(&library_path).and_then(|library| read_playlist(&file, &library));
            let name = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "Imported".into());
            let _ = sender.send(read.map(|r| (name, r)).map_err(|e| e.to_string()));
            Ok(())
        });
        self.imports.push(Mutex::new(receiver));
    }

    /// Writes the open playlist to `file` (M3U8 or CSV by its extension), off the frame.
    pub fn export_playlist(&self, file: PathBuf, explorer: &Explorer, writer: &LibraryWriter, view: &mut ViewState) {
        let Some(playlist) = self.open_playlist.as_deref().and_then(|name| self.listening.playlist(name)) else {
            view.notify("Open a playlist to export it");
            return;
        };
        let entries = entries_of(explorer, &playlist.tracks);
        let name = playlist.name.clone();
        view.notify(format!("Exporting “{name}” ({} songs) to {}", entries.len(), file.display()));
        writer.write(move || {
            write_playlist(&file, &entries).map_err(|e| format!("Cannot export the playlist “{name}”: {e}"))
        });
    }
}

/// The selected song's track id.
pub fn selected_id(explorer: &Explorer) -> Option<u64> {
    explorer.selected().and_then(|row| explorer.track_at(row)).map(|t| t.id)
}

fn play_id(id: u64, playback: Option<&mut Playback>, explorer: &Explorer) {
    if let (Some(playback), Some(row)) = (playback, explorer.row_of(id)) {
        playback.request(PlaybackRequest::Play { row, from_seconds: 0.0 });
    }
}

/// A playlist file's entries for the songs of `ids` that the explorer holds.
pub fn entries_of(explorer: &Explorer, ids: &[u64]) -> Vec<PlaylistEntry> {
    ids.iter()
        .filter_map(|&id| explorer.row_of(id).and_then(|row| explorer.track_at(row)))
        .map(|track| PlaylistEntry::of(explorer.library(), track))
        .collect()
}

pub struct ListenPlugin;

impl Plugin for ListenPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Listen>().add_systems(
            Update,
            (
                load_for_library,
                receive_results,
                listen_keys,
                refresh_for_you,
                follow_playback,
                audition_by_hover,
                save_changes,
            )
                .chain()
                .after(super::jobs::run_jobs),
        );
    }
}

/// The listening keys (see the help): L like, B / E the path's ends, Q play the path, ] / [ the
/// queue's next / previous, O radio, K the Listen panel, Ctrl+S save the path as a playlist,
/// Ctrl+E export the open playlist.
fn listen_keys(
    keys: Res<ButtonInput<KeyCode>>,
    mut listen: ResMut<Listen>,
    state: Res<ExplorerState>,
    mut view: ResMut<ViewState>,
    mut playback: Option<ResMut<Playback>>,
    mut dialogs: MessageWriter<super::menu::OpenDialog>,
) {
    if view.keyboard_taken {
        return;
    }
    let explorer = &state.0;
    // Ctrl pressed and let go within one slow frame still counts (it arrives with the key).
    let ctrl_keys = [KeyCode::ControlLeft, KeyCode::ControlRight];
    let ctrl = keys.any_pressed(ctrl_keys) || keys.any_just_released(ctrl_keys);
    if ctrl {
        if keys.just_pressed(KeyCode::KeyS) {
            listen.save_path_as_playlist(explorer, &mut view);
        }
        if keys.just_pressed(KeyCode::KeyE) {
            if listen.open_playlist.is_some() {
                dialogs.write(super::menu::OpenDialog(super::menu::DialogKind::ExportPlaylist));
            } else {
                view.notify("Open a playlist in the Listen panel to export it");
            }
        }
        return;
    }
    if keys.just_pressed(KeyCode::KeyL) {
        listen.toggle_like(explorer, &mut view);
    }
    if keys.just_pressed(KeyCode::KeyB) {
        listen.set_path_end(explorer, &mut view, true);
    }
    if keys.just_pressed(KeyCode::KeyE) {
        listen.set_path_end(explorer, &mut view, false);
    }
    if keys.just_pressed(KeyCode::KeyQ) {
        match listen.path.as_ref().map(|p| p.songs.clone()) {
            Some(songs) => listen.play_queue("path", &songs, 0, playback.as_deref_mut(), explorer),
            None => view.notify("No path to play: select a song and press B, another and press E"),
        }
    }
    if keys.just_pressed(KeyCode::BracketRight) {
        listen.step_queue(true, playback.as_deref_mut(), explorer, &mut view);
    }
    if keys.just_pressed(KeyCode::BracketLeft) {
        listen.step_queue(false, playback.as_deref_mut(), explorer, &mut view);
    }
    if keys.just_pressed(KeyCode::KeyO) {
        listen.radio = !listen.radio;
        view.notify(if listen.radio {
            "Radio on: when a song ends, its nearest unplayed song follows"
        } else {
            "Radio off"
        });
    }
    if keys.just_pressed(KeyCode::KeyK) {
        listen.tab = if listen.tab == SideTab::Listen { SideTab::Song } else { SideTab::Listen };
    }
}

/// Loads the open library's listening file on a thread, whenever another library opens.
fn load_for_library(mut listen: ResMut<Listen>, state: Res<ExplorerState>, mut news: MessageReader<JobNews>) {
    let replaced = news.read().any(|n| matches!(n, JobNews::LibraryReplaced));
    let path = state.0.library_path();
    let current = listen.loading.as_ref().map(|(p, _)| p.as_path()).or(listen.library_path.as_deref());
    if current == Some(path) {
        if replaced {
            // Same library laid out again: rows changed, ids did not; "For you" follows the
            // new map by its version, the path by its ids.
            listen.for_you_key = None;
        }
        return;
    }
    let path = path.to_path_buf();
    let file = listening_path(&path);
    let (sender, receiver) = channel();
    let spawned = std::thread::Builder::new().name("songspace listening loader".into()).spawn(move || {
        let _ = sender.send(load_listening(&file).map_err(|e| e.to_string()));
    });
    if spawned.is_ok() {
        // What belonged to the last library goes with it.
        let keep = (listen.radio, listen.audition_on_hover, listen.follow_camera, listen.tab, listen.trail_length);
        *listen = Listen { loading: Some((path, Mutex::new(receiver))), ..Listen::default() };
        (listen.radio, listen.audition_on_hover, listen.follow_camera, listen.tab, listen.trail_length) = keep;
    }
}

/// Takes in what threads finished: the listening file, a path, imported playlists.
fn receive_results(mut listen: ResMut<Listen>, state: Res<ExplorerState>, mut view: ResMut<ViewState>) {
    let listen = &mut *listen;
    if let Some((path, receiver)) = &listen.loading {
        let result = receiver.lock().map_err(|_| TryRecvError::Disconnected).and_then(|r| r.try_recv());
        match result {
            Err(TryRecvError::Empty) => {}
            Ok(loaded) => {
                let path = path.clone();
                listen.loading = None;
                match loaded {
                    Ok(mut listening) => {
                        // Songs no longer in the library (deleted files re-imported away) are
                        // forgotten; dropped songs not mapped yet are kept.
                        let known: HashSet<u64> = state.0.library().tracks.iter().map(|t| t.id).collect();
                        let gone = listening.retain_tracks(|id| known.contains(&id));
                        if gone > 0 {
                            view.notify(format!("{gone} liked, listed or played songs are no longer in the library"));
                            listen.unsaved = true;
                        }
                        listen.listening = listening;
                        listen.library_path = Some(path);
                    }
                    Err(e) => {
                        // Not loaded: nothing is saved over the file, which may be mended by hand.
                        view.notify(format!("Likes, playlists and history are off for this library: {e}"));
                        listen.library_path = Some(path);
                        listen.unreadable = true;
                    }
                }
            }
            Err(TryRecvError::Disconnected) => listen.loading = None,
        }
    }
    if let Some(receiver) = &listen.path_job {
        let result = receiver.lock().map_err(|_| TryRecvError::Disconnected).and_then(|r| r.try_recv());
        match result {
            Err(TryRecvError::Empty) => {}
            Ok(Ok(path)) => {
                let total: f32 = path.steps.iter().sum();
                view.notify(format!(
                    "Path of {} songs, {} steps ({total:.2} in all): Q plays it, Ctrl+S saves it as a playlist",
                    path.songs.len(),
                    path.steps.len()
                ));
                listen.path = Some(path);
                listen.path_job = None;
                listen.tab = SideTab::Listen;
            }
            Ok(Err(e)) => {
                view.notify(format!("No path: {e}"));
                listen.path_job = None;
            }
            Err(TryRecvError::Disconnected) => listen.path_job = None,
        }
    }
    let mut finished = Vec::new();
    listen.imports.retain(|receiver| {
        match receiver.lock().map_err(|_| TryRecvError::Disconnected).and_then(|r| r.try_recv()) {
            Err(TryRecvError::Empty) => true,
            Ok(result) => {
                finished.push(result);
                false
            }
            Err(TryRecvError::Disconnected) => false,
        }
    });
    for result in finished {
        match result {
            Ok((base, read)) => {
                let name = listen.listening.free_name(&base);
                let Ok(playlist) = listen.listening.create_playlist(&name) else { continue };
                playlist.add(read.tracks.iter().copied());
                let mut message = format!("Imported “{name}”: {} songs", read.tracks.len());
                if !read.skipped.is_empty() {
                    let named: Vec<String> = read
                        .skipped
                        .iter()
                        .take(5)
                        .map(|s| format!("line {} {} ({})", s.line, s.entry, s.reason))
                        .collect();
                    message.push_str(&format!("; left out {}: {}", read.skipped.len(), named.join("; ")));
                    if read.skipped.len() > 5 {
                        message.push_str("; …");
                    }
                }
                view.notify(message);
                listen.open_playlist = Some(name);
                listen.tab = SideTab::Listen;
                listen.unsaved = true;
            }
            Err(e) => view.notify(format!("Cannot import the playlist: {e}")),
        }
    }
}

/// Recomputes "For you" when the likes, the map or the metric change.
fn refresh_for_you(mut listen: ResMut<Listen>, state: Res<ExplorerState>) {
    let explorer = &state.0;
    let key = (listen.listening.likes.clone(), explorer.points_version(), explorer.metric());
    if listen.for_you_key.as_ref() == Some(&key) {
        return;
    }
    let rows: Vec<usize> = key.0.iter().filter_map(|&id| explorer.row_of(id)).collect();
    // Each like is one neighbour query on the kd-tree: well under a millisecond each.
    listen.for_you = recommend(explorer.map(), explorer.metric(), &rows, FOR_YOU, RecommendMethod::Union);
    listen.for_you_key = Some(key);
}

/// Keeps the history (each song played, when, for how long), and plays on when a song ends: the
/// queue's next song, else with radio on the nearest song not played yet.
fn follow_playback(
    mut listen: ResMut<Listen>,
    state: Res<ExplorerState>,
    playback: Option<ResMut<Playback>>,
    time: Res<Time<Real>>,
    mut cameras: Query<&mut OrbitCamera>,
    mut view: ResMut<ViewState>,
    mut ended: Local<Option<u64>>,
) {
    let Some(mut playback) = playback else { return };
    let explorer = &state.0;
    let now = playback.now.as_ref().map(|n| (explorer.track_at(n.row).map(|t| t.id), n.paused, n.finished));
    let playing_id = now.and_then(|n| n.0);
    let listen = &mut *listen;
    if let Some(id) = playing_id
        && listen.playing.map(|(p, _)| p) != Some(id)
        && listen.is_loaded()
    {
        listen.listening.record_play(Play { track: id, started_unix: unix_now(), seconds: 0.0 });
        listen.playing = Some((id, listen.listening.history.len() - 1));
        listen.session_played.insert(id);
        listen.unsaved = true;
        *ended = None;
    }
    let Some((id, entry)) = listen.playing else { return };
    if playing_id != Some(id) {
        // Stopped, or another song is opening: the last one's time is kept.
        listen.playing = None;
        listen.unsaved = true;
        return;
    }
    let (_, paused, finished) = now.expect("a song is playing");
    if !paused && !finished {
        if let Some(play) = listen.listening.history.get_mut(entry).filter(|p| p.track == id) {
            play.seconds += time.delta_secs();
        }
        return;
    }
    if !finished || *ended == Some(id) {
        return;
    }
    // The song ended by itself (once per song).
    *ended = Some(id);
    listen.unsaved = true;
    let from_queue = listen.queue.as_ref().is_some_and(|q| q.current() == id);
    let mut next = None;
    if from_queue {
        let queue = listen.queue.as_mut().expect("checked");
        next = queue.after_song_ended();
        if next.is_none() {
            view.notify(format!("End of {}", queue.name));
        }
    }
    // No queue, or its end: radio plays on from the song that ended.
    if next.is_none() && listen.radio {
        let played: HashSet<usize> = listen.session_played.iter().filter_map(|&p| explorer.row_of(p)).collect();
        next = explorer
            .row_of(id)
            .and_then(|row| radio_next(explorer.map(), explorer.metric(), row, &played))
            .and_then(|row| explorer.track_at(row))
            .map(|t| t.id);
    }
    if let Some(next) = next
        && let Some(row) = explorer.row_of(next)
    {
        playback.request(PlaybackRequest::Play { row, from_seconds: 0.0 });
        if listen.follow_camera
            && let Ok(mut camera) = cameras.single_mut()
        {
            camera.focus_on(Vec3::from(explorer.position(row)));
        }
    }
}

/// With Alt held (or auditioning on hover turned on), a song the pointer rests on for
/// [`HOVER_AUDITION_SECONDS`] plays a few seconds from its middle; moving on switches, moving off
/// or letting go of Alt fades it out. The selection does not change.
fn audition_by_hover(
    mut listen: ResMut<Listen>,
    view: Res<ViewState>,
    keys: Res<ButtonInput<KeyCode>>,
    time: Res<Time<Real>>,
    playback: Option<ResMut<Playback>>,
) {
    let Some(mut playback) = playback else { return };
    let wanted = listen.audition_on_hover || keys.any_pressed([KeyCode::AltLeft, KeyCode::AltRight]);
    let hovered = view.hovered.filter(|_| wanted && !view.pointer_over_ui);
    let now = time.elapsed_secs();
    match hovered {
        None => {
            listen.hover_since = None;
            listen.auditioned = None;
            if playback.auditioning.is_some() {
                playback.request(PlaybackRequest::EndAudition);
                playback.auditioning = None;
            }
        }
        Some(row) => {
            let since = match listen.hover_since {
                Some((r, since)) if r == row => since,
                _ => {
                    listen.hover_since = Some((row, now));
                    now
                }
            };
            if now - since >= HOVER_AUDITION_SECONDS && listen.auditioned != Some(row) {
                playback.request(PlaybackRequest::Audition { row });
                playback.auditioning = Some(row);
                listen.auditioned = Some(row);
            }
        }
    }
}

/// Hands the listening file to the library writer when it changed.
fn save_changes(mut listen: ResMut<Listen>, writer: Res<LibraryWriter>) {
    if !listen.unsaved || !listen.is_loaded() {
        return;
    }
    listen.unsaved = false;
    let Some(library_path) = listen.library_path.clone() else { return };
    let listening = listen.listening.clone();
    writer.write(move || save_listening_locked(&library_path, &listening));
}

fn save_listening_locked(library_path: &Path, listening: &Listening) -> Result<(), String> {
    let failed = |e: crate::error::FileError| format!("Cannot save likes, playlists and history: {e}");
    let _lock = lock_library(library_path, "saving likes, playlists and history").map_err(failed)?;
    save_listening(&listening_path(library_path), listening).map_err(failed)
}
