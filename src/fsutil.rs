//! File-system helpers shared by everything that writes user data.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::error::{FileError, FileProblem};

/// Writes `path` atomically: the content goes to a temporary file beside it, is flushed to disk,
/// and only then renamed over `path`. A crash mid-write leaves the old file intact.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), FileError> {
    let io_err = |e: std::io::Error| FileError::new(path, FileProblem::Io(e));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_err)?;
    }
    let temp = temp_path_for(path);
    let result = (|| {
        let file = File::create(&temp)?;
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        sync_folder(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(io_err)
}

/// Makes a rename in `path`'s folder durable: until the folder itself is synced, a power cut
/// may bring back the old name after the rename returned.
fn sync_folder(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        File::open(folder)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// An XDG base folder: `$variable` when set and not empty, else `under_home` in the home folder
/// (the XDG defaults: `.local/share`, `.config`, `.local/state`).
pub fn xdg_base_dir(variable: &str, under_home: &str) -> PathBuf {
    std::env::var_os(variable)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(under_home)))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A temporary name in the same folder (so the rename stays on one file system), unique per
/// process and thread so parallel writers never share one.
fn temp_path_for(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let unique = format!(".{name}.{}.{:?}.tmp", std::process::id(), std::thread::current().id());
    let unique: String = unique.chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).collect();
    path.with_file_name(unique)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_failed_write_leaves_the_previous_file_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("library.ron");
        write_atomically(&path, |w| w.write_all(b"version one")).expect("first write");
        let failed = write_atomically(&path, |w| {
            w.write_all(b"half of version two")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(failed.expect_err("must fail").to_string().contains("library.ron"));
        assert_eq!(fs::read_to_string(&path).expect("read"), "version one");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
    }
}
