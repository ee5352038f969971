//! What a person does with a library, as opposed to what it holds: liked songs, playlists and
//! the songs played. Kept in a file of its own beside the library (`<stem>.listening.ron`), so a
//! like is a small atomic write, not a rewrite of a 100k-song library file, and no change to the
//! library (an import, a new model) can lose it. Songs are named by their stable track ids.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{FileError, FileProblem};
use crate::fsutil::write_atomically;

const FORMAT_NAME: &str = "songspace-listening";
pub const LISTENING_FORMAT_VERSION: u32 = 1;
/// Plays remembered; older ones are forgotten first (a year of evenings).
pub const HISTORY_LIMIT: usize = 20_000;
/// A listening file larger than this is refused before it is read (a million plays is ~40 MB).
const MAX_FILE_BYTES: u64 = 64 << 20;
/// The longest playlist name kept.
const MAX_NAME_CHARS: usize = 200;

/// One playlist: a name and songs in order. A song appears at most once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playlist {
    pub name: String,
    pub tracks: Vec<u64>,
}

/// A song played: when it started (seconds since 1970, UTC) and how long it was heard.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Play {
    pub track: u64,
    pub started_unix: u64,
    pub seconds: f32,
}

/// Likes, playlists and history of one library.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Listening {
    /// Liked songs, in the order they were liked.
    #[serde(default)]
    pub likes: Vec<u64>,
    #[serde(default)]
    pub playlists: Vec<Playlist>,
    /// Songs played, oldest first.
    #[serde(default)]
    pub history: Vec<Play>,
}

/// Why a playlist change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaylistError {
    #[error("a playlist needs a name")]
    EmptyName,
    #[error("a playlist name has at most {MAX_NAME_CHARS} characters and no line breaks")]
    BadName,
    #[error("there is already a playlist called {0:?}")]
    Taken(String),
    #[error("there is no playlist called {0:?}")]
    NotFound(String),
}

impl Listening {
    pub fn is_liked(&self, track: u64) -> bool {
        self.likes.contains(&track)
    }

    /// Likes the song, or takes the like back; returns whether it is liked now.
    pub fn toggle_like(&mut self, track: u64) -> bool {
        match self.likes.iter().position(|&t| t == track) {
            Some(at) => {
                self.likes.remove(at);
                false
            }
            None => {
                self.likes.push(track);
                true
            }
        }
    }

    pub fn playlist(&self, name: &str) -> Option<&Playlist> {
        self.playlists.iter().find(|p| p.name == name)
    }

    pub fn playlist_mut(&mut self, name: &str) -> Result<&mut Playlist, PlaylistError> {
        self.playlists.iter_mut().find(|p| p.name == name).ok_or_else(|| PlaylistError::NotFound(name.to_owned()))
    }

    fn check_new_name(&self, name: &str) -> Result<String, PlaylistError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(PlaylistError::EmptyName);
        }
        if name.chars().count() > MAX_NAME_CHARS || name.contains(['\n', '\r']) {
            return Err(PlaylistError::BadName);
        }
        if self.playlist(name).is_some() {
            return Err(PlaylistError::Taken(name.to_owned()));
        }
        Ok(name.to_owned())
    }

    /// A new, empty playlist; its name is trimmed and must be free.
    pub fn create_playlist(&mut self, name: &str) -> Result<&mut Playlist, PlaylistError> {
        let name = self.check_new_name(name)?;
        self.playlists.push(Playlist { name, tracks: Vec::new() });
        Ok(self.playlists.last_mut().expect("just pushed"))
    }

    /// A name not taken yet: `base`, else `base 2`, `base 3`…
    pub fn free_name(&self, base: &str) -> String {
        let base = base.trim();
        let base = if base.is_empty() { "Playlist" } else { base };
        let base: String = base.chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS - 8).collect();
        if self.playlist(&base).is_none() {
            return base;
        }
        (2..).map(|n| format!("{base} {n}")).find(|name| self.playlist(name).is_none()).expect("some number is free")
    }

    pub fn rename_playlist(&mut self, from: &str, to: &str) -> Result<(), PlaylistError> {
        if from == to.trim() {
            return Ok(());
        }
        let to = self.check_new_name(to)?;
        self.playlist_mut(from)?.name = to;
        Ok(())
    }

    pub fn delete_playlist(&mut self, name: &str) -> Result<Playlist, PlaylistError> {
        let at = self
            .playlists
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| PlaylistError::NotFound(name.to_owned()))?;
        Ok(self.playlists.remove(at))
    }

    /// Remembers a play, forgetting the oldest beyond [`HISTORY_LIMIT`].
    pub fn record_play(&mut self, play: Play) {
        self.history.push(play);
        if self.history.len() > HISTORY_LIMIT {
            let excess = self.history.len() - HISTORY_LIMIT;
            self.history.drain(..excess);
        }
    }

    /// Drops every mention of songs `keep` refuses (songs no longer in the library); returns how
    /// many mentions went.
    pub fn retain_tracks(&mut self, keep: impl Fn(u64) -> bool) -> usize {
        let before = self.mentions();
        self.likes.retain(|&t| keep(t));
        for playlist in &mut self.playlists {
            playlist.tracks.retain(|&t| keep(t));
        }
        self.history.retain(|p| keep(p.track));
        before - self.mentions()
    }

    fn mentions(&self) -> usize {
        self.likes.len() + self.playlists.iter().map(|p| p.tracks.len()).sum::<usize>() + self.history.len()
    }
}

impl Playlist {
    /// Appends the songs not in the playlist yet, in order; returns how many were added.
    pub fn add(&mut self, tracks: impl IntoIterator<Item = u64>) -> usize {
        let before = self.tracks.len();
        for track in tracks {
            if !self.tracks.contains(&track) {
                self.tracks.push(track);
            }
        }
        self.tracks.len() - before
    }

    /// Moves the song at `from` to position `to` (both within the playlist; else nothing moves).
    pub fn move_track(&mut self, from: usize, to: usize) {
        if from < self.tracks.len() && to < self.tracks.len() && from != to {
            let track = self.tracks.remove(from);
            self.tracks.insert(to, track);
        }
    }
}

/// `<stem>.listening.ron` beside the library file.
pub fn listening_path(library_path: &Path) -> PathBuf {
    let stem = library_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "library".into());
    library_path.with_file_name(format!("{stem}.listening.ron"))
}

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'a str,
    version: u32,
    listening: &'a Listening,
}

#[derive(Deserialize)]
struct FileIn {
    format: String,
    version: u32,
    #[serde(default)]
    listening: Listening,
}

/// Reads a listening file; a missing file is an empty one (nothing liked or played yet).
pub fn load_listening(path: &Path) -> Result<Listening, FileError> {
    let bad = |what: String| FileError::new(path, FileProblem::Format(what));
    let size = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Listening::default()),
        Err(e) => return Err(FileError::new(path, FileProblem::Io(e))),
    };
    if size > MAX_FILE_BYTES {
        return Err(bad(format!("file size {size} bytes is over the {MAX_FILE_BYTES} a listening file may have")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| FileError::new(path, FileProblem::Io(e)))?;
    let file: FileIn = ron::from_str(&text).map_err(|e| bad(format!("not a listening file: {e}")))?;
    if file.format != FORMAT_NAME {
        return Err(bad(format!("format {:?} is not {FORMAT_NAME:?}", file.format)));
    }
    if file.version > LISTENING_FORMAT_VERSION {
        return Err(FileError::new(
            path,
            FileProblem::TooNew { found: file.version, supported: LISTENING_FORMAT_VERSION },
        ));
    }
    let mut listening = file.listening;
    // What a hand edit may break, mended rather than refused: likes and playlists hold a song
    // once, names are unique and usable, history is bounded and its lengths are real numbers.
    let mut seen = std::collections::HashSet::new();
    listening.likes.retain(|t| seen.insert(*t));
    let mut names = std::collections::HashSet::new();
    for (n, playlist) in listening.playlists.iter_mut().enumerate() {
        let mut seen = std::collections::HashSet::new();
        playlist.tracks.retain(|t| seen.insert(*t));
        let mut name: String = playlist.name.chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS).collect();
        if name.trim().is_empty() || names.contains(&name) {
            name = format!("{} ({})", name.trim(), n + 1).trim().to_owned();
        }
        names.insert(name.clone());
        playlist.name = name;
    }
    for play in &mut listening.history {
        if !play.seconds.is_finite() || play.seconds < 0.0 {
            play.seconds = 0.0;
        }
    }
    if listening.history.len() > HISTORY_LIMIT {
        let excess = listening.history.len() - HISTORY_LIMIT;
        listening.history.drain(..excess);
    }
    Ok(listening)
}

pub fn save_listening(path: &Path, listening: &Listening) -> Result<(), FileError> {
    let file = FileOut { format: FORMAT_NAME, version: LISTENING_FORMAT_VERSION, listening };
    let config = ron::ser::PrettyConfig::new().depth_limit(3).indentor(" ".to_string());
    let text = ron::ser::to_string_pretty(&file, config)
        .map_err(|e| FileError::new(path, FileProblem::Format(format!("cannot serialise: {e}"))))?;
    write_atomically(path, |out| out.write_all(text.as_bytes()))
}

/// Seconds since 1970 now (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likes_playlists_and_history_round_trip_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = listening_path(&dir.path().join("library.ron"));
        assert_eq!(path.file_name().expect("name"), "library.listening.ron");
        assert_eq!(load_listening(&path).expect("missing is empty"), Listening::default());
        let mut listening = Listening::default();
        assert!(listening.toggle_like(7) && listening.toggle_like(3) && !listening.toggle_like(7));
        assert_eq!(listening.likes, vec![3]);
        listening.create_playlist("  Evening ").expect("create").add([5, 6, 5, 9]);
        assert_eq!(listening.playlist("Evening").expect("made").tracks, vec![5, 6, 9]);
        assert_eq!(listening.create_playlist("Evening").err(), Some(PlaylistError::Taken("Evening".into())));
        assert_eq!(listening.create_playlist(" ").err(), Some(PlaylistError::EmptyName));
        assert_eq!(listening.free_name("Evening"), "Evening 2");
        listening.playlist_mut("Evening").expect("made").move_track(2, 0);
        assert_eq!(listening.playlist("Evening").expect("made").tracks, vec![9, 5, 6]);
        listening.rename_playlist("Evening", "Night").expect("rename");
        assert!(listening.playlist("Evening").is_none());
        listening.record_play(Play { track: 5, started_unix: 1_000, seconds: 12.5 });
        save_listening(&path, &listening).expect("save");
        assert_eq!(load_listening(&path).expect("load"), listening);
        assert_eq!(listening.retain_tracks(|t| t != 5), 2, "one playlist entry and one play");
        assert_eq!(listening.delete_playlist("Night").expect("delete").tracks, vec![9, 6]);
        assert!(listening.delete_playlist("Night").is_err());
    }

    #[test]
    fn a_hand_edited_file_is_mended_and_a_wrong_one_refused_with_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.listening.ron");
        std::fs::write(
            &path,
            r#"(format: "songspace-listening", version: 1, listening: (likes: [1, 1, 2],
               playlists: [(name: "A", tracks: [4, 4]), (name: "A", tracks: []), (name: "", tracks: [])],
               history: [(track: 1, started_unix: 5, seconds: -3.0)]))"#,
        )
        .expect("write");
        let listening = load_listening(&path).expect("mended");
        assert_eq!(listening.likes, vec![1, 2]);
        let names: Vec<&str> = listening.playlists.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["A", "A (2)", "(3)"]);
        assert_eq!(listening.playlists[0].tracks, vec![4]);
        assert_eq!(listening.history[0].seconds, 0.0);
        std::fs::write(&path, r#"(format: "songspace-listening", version: 9)"#).expect("write");
        let err = load_listening(&path).expect_err("too new").to_string();
        assert!(err.contains("x.listening.ron") && err.contains("version 9"), "{err}");
        std::fs::write(&path, "not ron at all").expect("write");
        let err = load_listening(&path).expect_err("garbage").to_string();
        assert!(err.contains("x.listening.ron") && err.contains("not a listening file"), "{err}");
    }
}
