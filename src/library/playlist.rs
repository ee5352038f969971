//! Playlist files other players read and write: extended M3U in UTF-8 (`.m3u8`) and CSV, written
//! atomically; read back into a library's songs, naming every line that is not one of them.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use super::Library;
use crate::error::{FileError, FileProblem};
use crate::fsutil::write_atomically;

/// A playlist file larger than this is refused before it is read (100k songs is ~10 MB).
const MAX_PLAYLIST_BYTES: u64 = 32 << 20;

/// One song of a playlist file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlaylistEntry {
    pub id: u64,
    /// The audio file, absolute.
    pub path: PathBuf,
    pub seconds: f32,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub genre: String,
}

impl PlaylistEntry {
    pub fn of(library: &Library, track: &super::Track) -> Self {
        let path = library.absolute_path(track);
        Self {
            id: track.id,
            path: std::path::absolute(&path).unwrap_or(path),
            seconds: track.duration_seconds,
            title: track.title.clone(),
            artist: track.artist.clone(),
            album: track.album.clone(),
            genre: track.genre.clone().unwrap_or_default(),
        }
    }

    /// "Artist - Title", or the title alone.
    pub fn display(&self) -> String {
        if self.artist.trim().is_empty() { self.title.clone() } else { format!("{} - {}", self.artist, self.title) }
    }
}

/// Writes `entries` as an extended M3U playlist (`#EXTM3U`, one `#EXTINF:<seconds>,<display>`
/// line before each file). Paths are relative to the playlist's folder where they can be (a
/// playlist and its music move together), else absolute.
pub fn write_m3u8(path: &Path, entries: &[PlaylistEntry]) -> Result<(), FileError> {
    let folder = std::path::absolute(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let mut text = String::from("#EXTM3U\n");
    for entry in entries {
        let file = relative_to(&entry.path, &folder);
        let file = file.to_string_lossy();
        // One line per file is all the format has: a file name with a line break cannot be listed.
        if file.contains(['\n', '\r']) {
            return Err(FileError::new(
                path,
                FileProblem::Format(format!("{:?} has a line break in its name, which M3U cannot hold", entry.path)),
            ));
        }
        // A line break in a tag would end the #EXTINF line early.
        let display: String = entry.display().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        text.push_str(&format!("#EXTINF:{},{display}\n", entry.seconds.round().max(0.0) as u64));
        text.push_str(&file);
        text.push('\n');
    }
    write_atomically(path, |out| out.write_all(text.as_bytes()))
}

/// Writes `entries` as CSV with a header: `id,title,artist,album,genre,seconds,path` (the path
/// absolute), for spreadsheets and scripts.
pub fn write_playlist_csv(path: &Path, entries: &[PlaylistEntry]) -> Result<(), FileError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| FileError::new(path, FileProblem::Format(format!("cannot write CSV: {e}")));
    out.write_record(["id", "title", "artist", "album", "genre", "seconds", "path"]).map_err(failed)?;
    for entry in entries {
        out.write_record([
            entry.id.to_string(),
            entry.title.clone(),
            entry.artist.clone(),
            entry.album.clone(),
            entry.genre.clone(),
            format!("{:.1}", entry.seconds),
            entry.path.to_string_lossy().into_owned(),
        ])
        .map_err(failed)?;
    }
    let bytes = out.into_inner().map_err(|e| FileError::new(path, FileProblem::Format(e.to_string())))?;
    write_atomically(path, |file| file.write_all(&bytes))
}

/// The playlist entries of a library's songs (ids it does not hold left out).
pub fn playlist_entries(library: &Library, tracks: &[u64]) -> Vec<PlaylistEntry> {
    tracks.iter().filter_map(|&id| library.track(id)).map(|t| PlaylistEntry::of(library, t)).collect()
}

/// `path` as a playlist file's name: kept if it ends in .csv or .m3u8, else with `default`
/// (a name typed without an extension in a save dialog).
pub fn playlist_file_name(path: std::path::PathBuf, default: &str) -> std::path::PathBuf {
    let known = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("m3u8"));
    if known { path } else { path.with_extension(default) }
}

/// Writes a playlist file, M3U8 or CSV by the file's extension.
pub fn write_playlist(path: &Path, entries: &[PlaylistEntry]) -> Result<(), FileError> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        write_playlist_csv(path, entries)
    } else {
        write_m3u8(path, entries)
    }
}

/// Why one line of a playlist file did not become a song of the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The file is not there.
    Missing,
    /// The file exists but is not one of the library's songs.
    NotInLibrary,
    /// The song is in the playlist already (a playlist holds a song once).
    Duplicate,
    /// A stream address or a line that names no file.
    NotAFile,
    /// A CSV row whose id is not one of the library's.
    UnknownId,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Missing => "no such file",
            Self::NotInLibrary => "not a song of this library",
            Self::Duplicate => "already in the playlist",
            Self::NotAFile => "not a local file",
            Self::UnknownId => "no song with this id in the library",
        })
    }
}

/// One line left out of an imported playlist: its line number, what it said and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub line: usize,
    pub entry: String,
    pub reason: SkipReason,
}

/// A playlist file read against a library: the songs found, in order, and the lines left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadPlaylist {
    pub tracks: Vec<u64>,
    pub skipped: Vec<Skipped>,
}

/// Reads an M3U/M3U8 file (or CSV, by its extension) and finds its songs in `library`: relative
/// lines are relative to the playlist's folder, `file://` addresses are decoded. Every line that
/// is not a song of the library, or repeats one, is listed in `skipped` with why.
pub fn read_playlist(path: &Path, library: &Library) -> Result<ReadPlaylist, FileError> {
    let size = std::fs::metadata(path).map_err(|e| FileError::new(path, FileProblem::Io(e)))?.len();
    if size > MAX_PLAYLIST_BYTES {
        return Err(FileError::new(
            path,
            FileProblem::Format(format!("file size {size} bytes is over the {MAX_PLAYLIST_BYTES} a playlist may have")),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| FileError::new(path, FileProblem::Io(e)))?;
    // Plain .m3u files are often Latin-1: read what is not UTF-8 with replacement characters
    // (such a line then names no file, and says so) rather than refusing the whole playlist.
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let mut found = Finder::new(library);
    if is_csv {
        read_csv_lines(path, text, &mut found)?;
    } else {
        let folder = std::path::absolute(path).ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match entry_path(line, &folder) {
                Some(file) => found.add_file(n + 1, line, &file),
                None => found.skip(n + 1, line, SkipReason::NotAFile),
            }
        }
    }
    Ok(found.into_result())
}

fn read_csv_lines(path: &Path, text: &str, found: &mut Finder) -> Result<(), FileError> {
    let bad = |what: String| FileError::new(path, FileProblem::Format(what));
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| bad(format!("no CSV header: {e}")))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (id_column, path_column) = (column("id"), column("path"));
    if id_column.is_none() && path_column.is_none() {
        return Err(bad("the CSV header has neither an `id` nor a `path` column".into()));
    }
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = record.map_err(|e| bad(format!("line {line}: {e}")))?;
        let id = id_column.and_then(|c| record.get(c)).map(str::trim).filter(|v| !v.is_empty());
        match (id, path_column.and_then(|c| record.get(c)).map(str::trim).filter(|v| !v.is_empty())) {
            (Some(id), _) => match id.parse::<u64>().ok().filter(|id| found.library.track(*id).is_some()) {
                Some(id) => found.add_id(line, id.to_string().as_str(), id),
                None => found.skip(line, id, SkipReason::UnknownId),
            },
            (None, Some(file)) => found.add_file(line, file, Path::new(file)),
            (None, None) => found.skip(line, "", SkipReason::NotAFile),
        }
    }
    Ok(())
}

/// The file a playlist line names: a path (relative to the playlist's folder) or a `file://`
/// address; `None` for other addresses (streams).
fn entry_path(line: &str, folder: &Path) -> Option<PathBuf> {
    if let Some(rest) = line.strip_prefix("file://") {
        // file:///abs/path or file://localhost/abs/path
        let rest = rest.strip_prefix("localhost").unwrap_or(rest);
        return rest.starts_with('/').then(|| PathBuf::from(percent_decode(rest)));
    }
    let scheme =
        line.split_once("://").is_some_and(|(s, _)| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()));
    if scheme || line.contains('\u{fffd}') {
        return None;
    }
    let path = Path::new(line);
    Some(if path.is_absolute() { path.to_path_buf() } else { folder.join(path) })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(value) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Collects a playlist's songs: files are matched by their place under the library's music
/// folder (both resolved, so links and `..` do not hide a song).
struct Finder<'a> {
    library: &'a Library,
    root: Option<PathBuf>,
    by_path: HashMap<&'a Path, u64>,
    seen: HashSet<u64>,
    result: ReadPlaylist,
}

impl<'a> Finder<'a> {
    fn new(library: &'a Library) -> Self {
        Self {
            library,
            root: std::fs::canonicalize(&library.root).ok(),
            by_path: library.tracks.iter().map(|t| (t.path.as_path(), t.id)).collect(),
            seen: HashSet::new(),
            result: ReadPlaylist::default(),
        }
    }

    fn skip(&mut self, line: usize, entry: &str, reason: SkipReason) {
        self.result.skipped.push(Skipped { line, entry: entry.to_owned(), reason });
    }

    fn add_id(&mut self, line: usize, entry: &str, id: u64) {
        if self.seen.insert(id) {
            self.result.tracks.push(id);
        } else {
            self.skip(line, entry, SkipReason::Duplicate);
        }
    }

    fn add_file(&mut self, line: usize, entry: &str, file: &Path) {
        let Ok(file) = std::fs::canonicalize(file) else {
            return self.skip(line, entry, SkipReason::Missing);
        };
        let id = self
            .root
            .as_ref()
            .and_then(|root| file.strip_prefix(root).ok())
            .and_then(|relative| self.by_path.get(relative).copied());
        match id {
            Some(id) => self.add_id(line, entry, id),
            None => self.skip(line, entry, SkipReason::NotInLibrary),
        }
    }

    fn into_result(self) -> ReadPlaylist {
        self.result
    }
}

/// `path` relative to `folder` (with `..` where needed) when both are absolute and share a root;
/// else `path` as it is.
fn relative_to(path: &Path, folder: &Path) -> PathBuf {
    if !path.is_absolute() || !folder.is_absolute() {
        return path.to_path_buf();
    }
    let (ours, theirs): (Vec<Component>, Vec<Component>) = (path.components().collect(), folder.components().collect());
    let common = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
    // Only the root in common: an absolute path says it better than a ladder of `..`.
    if common <= 1 {
        return path.to_path_buf();
    }
    let mut relative = PathBuf::new();
    for _ in common..theirs.len() {
        relative.push("..");
    }
    for part in &ours[common..] {
        relative.push(part.as_os_str());
    }
    relative
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_without_a_playlist_extension_gets_the_default_one() {
        let name = |p: &str, d: &str| playlist_file_name(std::path::PathBuf::from(p), d);
        assert_eq!(name("/m/family", "csv"), Path::new("/m/family.csv"));
        assert_eq!(name("/m/family.M3U8", "csv"), Path::new("/m/family.M3U8"));
        assert_eq!(name("/m/mix.csv", "m3u8"), Path::new("/m/mix.csv"));
        assert_eq!(name("/m/mix.txt", "m3u8"), Path::new("/m/mix.m3u8"));
    }

    #[test]
    fn an_m3u8_names_each_file_relative_to_itself_where_it_can() {
        let home = tempfile::tempdir().expect("tempdir");
        let home = std::path::absolute(home.path()).expect("absolute");
        let playlist = home.join("lists/evening.m3u8");
        let entries = vec![
            PlaylistEntry {
                path: home.join("music/a b.ogg"),
                seconds: 29.6,
                artist: "Band".into(),
                title: "Song\nA".into(),
                ..Default::default()
            },
            PlaylistEntry {
                path: home.join("lists/here.mp3"),
                seconds: 3.0,
                title: "Here".into(),
                ..Default::default()
            },
        ];
        write_m3u8(&playlist, &entries).expect("write");
        let text = std::fs::read_to_string(&playlist).expect("read");
        assert_eq!(text, "#EXTM3U\n#EXTINF:30,Band - Song A\n../music/a b.ogg\n#EXTINF:3,Here\nhere.mp3\n");
        assert_eq!(relative_to(Path::new("/usr/share/x.ogg"), Path::new("/home/me")), Path::new("/usr/share/x.ogg"));
        let broken = PlaylistEntry { path: home.join("music/two\nlines.ogg"), ..Default::default() };
        let err = write_m3u8(&playlist, &[broken]).expect_err("a line break").to_string();
        assert!(err.contains("evening.m3u8") && err.contains("line break"), "{err}");
        assert_eq!(std::fs::read_to_string(&playlist).expect("read"), text, "the old playlist is kept");
    }

    fn library_of(root: &Path, names: &[&str]) -> Library {
        let mut library = Library::new(root.to_path_buf(), super::super::SourceKind::Folder);
        for (n, name) in names.iter().enumerate() {
            std::fs::create_dir_all(root.join(name).parent().expect("parent")).expect("mkdir");
            std::fs::write(root.join(name), b"audio").expect("write");
            library.add_track(super::super::Track {
                id: 10 + n as u64,
                path: PathBuf::from(name),
                title: format!("Song {n}"),
                artist: "Band, \"The\"".into(),
                album: String::new(),
                genre: Some("Rock".into()),
                genres: vec![],
                duration_seconds: 61.0,
                split: None,
                fingerprint: super::super::FileFingerprint { size: 5, modified_ns: 0 },
                features: None,
                descriptors: None,
            });
        }
        library
    }

    #[test]
    fn an_imported_m3u8_keeps_its_songs_in_order_and_names_every_other_line() {
        let home = tempfile::tempdir().expect("tempdir");
        let home = std::fs::canonicalize(home.path()).expect("canonical");
        let library = library_of(&home.join("music"), &["a b.ogg", "sub/c.mp3", "d.flac"]);
        std::fs::write(home.join("elsewhere.ogg"), b"x").expect("write");
        let list = home.join("lists/mix.m3u8");
        std::fs::create_dir_all(list.parent().expect("folder")).expect("mkdir");
        let c = home.join("music/sub/c.mp3");
        let text = format!(
            "\u{feff}#EXTM3U\n#EXTINF:61,Band - Song 2\n../music/d.flac\n{}\n\nfile://{}\n../music/d.flac\n\
             ../music/gone.ogg\n../elsewhere.ogg\nhttp://radio.example/stream\n",
            c.display(),
            home.join("music/a%20b.ogg").display(),
        );
        std::fs::write(&list, text).expect("write");
        let read = read_playlist(&list, &library).expect("read");
        assert_eq!(read.tracks, vec![12, 11, 10]);
        let reasons: Vec<(usize, SkipReason)> = read.skipped.iter().map(|s| (s.line, s.reason.clone())).collect();
        assert_eq!(
            reasons,
            [
                (7, SkipReason::Duplicate),
                (8, SkipReason::Missing),
                (9, SkipReason::NotInLibrary),
                (10, SkipReason::NotAFile)
            ]
        );
        assert_eq!(read.skipped[1].entry, "../music/gone.ogg");
        // What songspace writes, songspace reads back the same, in M3U8 and in CSV.
        for name in ["back.m3u8", "back.csv"] {
            let out = home.join("lists").join(name);
            write_playlist(&out, &playlist_entries(&library, &read.tracks)).expect("write");
            assert_eq!(read_playlist(&out, &library).expect("read back").tracks, read.tracks, "{name}");
        }
        let csv_text = std::fs::read_to_string(home.join("lists/back.csv")).expect("read");
        assert!(
            csv_text
                .starts_with("id,title,artist,album,genre,seconds,path\n12,Song 2,\"Band, \"\"The\"\"\",,Rock,61.0,"),
            "{csv_text}"
        );
        std::fs::write(home.join("lists/ids.csv"), "id\n11\n999\nx\n11\n").expect("write");
        let by_id = read_playlist(&home.join("lists/ids.csv"), &library).expect("ids");
        assert_eq!(by_id.tracks, vec![11]);
        assert_eq!(by_id.skipped.iter().map(|s| s.line).collect::<Vec<_>>(), [3, 4, 5]);
        std::fs::write(home.join("lists/none.csv"), "title\nx\n").expect("write");
        let err = read_playlist(&home.join("lists/none.csv"), &library).expect_err("no id or path").to_string();
        assert!(err.contains("none.csv") && err.contains("`id`"), "{err}");
    }
}
