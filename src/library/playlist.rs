//! Playlist files other players read: extended M3U in UTF-8 (`.m3u8`), written atomically.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::error::{FileError, FileProblem};
use crate::fsutil::write_atomically;

/// One song of a playlist file.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaylistEntry {
    /// The audio file, absolute.
    pub path: PathBuf,
    pub seconds: f32,
    /// "Artist - Title", or the title alone.
    pub display: String,
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
        let display: String = entry.display.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        text.push_str(&format!("#EXTINF:{},{display}\n", entry.seconds.round().max(0.0) as u64));
        text.push_str(&file);
        text.push('\n');
    }
    write_atomically(path, |out| out.write_all(text.as_bytes()))
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
    fn an_m3u8_names_each_file_relative_to_itself_where_it_can() {
        let home = tempfile::tempdir().expect("tempdir");
        let home = std::path::absolute(home.path()).expect("absolute");
        let playlist = home.join("lists/evening.m3u8");
        let entries = vec![
            PlaylistEntry { path: home.join("music/a b.ogg"), seconds: 29.6, display: "Band - Song\nA".into() },
            PlaylistEntry { path: home.join("lists/here.mp3"), seconds: 3.0, display: "Here".into() },
        ];
        write_m3u8(&playlist, &entries).expect("write");
        let text = std::fs::read_to_string(&playlist).expect("read");
        assert_eq!(text, "#EXTM3U\n#EXTINF:30,Band - Song A\n../music/a b.ogg\n#EXTINF:3,Here\nhere.mp3\n");
        assert_eq!(relative_to(Path::new("/usr/share/x.ogg"), Path::new("/home/me")), Path::new("/usr/share/x.ogg"));
        let broken = PlaylistEntry { path: home.join("music/two\nlines.ogg"), seconds: 1.0, display: "x".into() };
        let err = write_m3u8(&playlist, &[broken]).expect_err("a line break").to_string();
        assert!(err.contains("evening.m3u8") && err.contains("line break"), "{err}");
        assert_eq!(std::fs::read_to_string(&playlist).expect("read"), text, "the old playlist is kept");
    }
}
