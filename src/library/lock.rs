//! One writer per library at a time, across processes: every change to a library (import,
//! embed, adopting embeddings, projecting, adding a song, the window's own writes) holds an
//! advisory lock on `<stem>.lock` beside the library file while it runs. A second writer is
//! refused at once with the holder's name; readers never take the lock and never wait.
//!
//! Within one process the lock is re-entrant (a job that imports, embeds and projects takes it
//! once per step, and steps may call steps); the window orders its own threads' writes itself.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::error::{FileError, FileProblem};

/// Holds the library's lock until dropped.
#[must_use = "the lock is released when this is dropped"]
pub struct LibraryLock {
    lock_path: PathBuf,
}

/// Lock files this process holds, with how many holders each has here.
fn held() -> &'static Mutex<HashMap<PathBuf, (usize, File)>> {
    static HELD: OnceLock<Mutex<HashMap<PathBuf, (usize, File)>>> = OnceLock::new();
    HELD.get_or_init(|| Mutex::new(HashMap::new()))
}

/// `<library dir>/<library stem>.lock`.
pub fn lock_path(library_path: &Path) -> PathBuf {
    let stem = library_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    library_path.with_file_name(format!("{stem}.lock"))
}

/// Takes the library's write lock for `what` (a few words naming the change, shown to a second
/// writer), or says who holds it.
pub fn lock_library(library_path: &Path, what: &str) -> Result<LibraryLock, FileError> {
    let lock_path = lock_path(library_path);
    let io = |e: std::io::Error| FileError::new(&lock_path, FileProblem::Io(e));
    let mut held = held().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((holders, _)) = held.get_mut(&lock_path) {
        *holders += 1;
        return Ok(LibraryLock { lock_path });
    }
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&lock_path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            let holder = if holder.trim().is_empty() { "another songspace".to_string() } else { holder };
            return Err(FileError::new(library_path, FileProblem::Busy(holder.trim().to_string())));
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    // Who holds it, for the message a second writer gets. Written after locking; only a
    // courtesy, so a failure here does not stop the change.
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let _ = file.set_len(0).and_then(|()| {
        write!(file, "{what} (songspace, process {}, since {since} s after the Unix epoch)", std::process::id())
    });
    held.insert(lock_path.clone(), (1, file));
    Ok(LibraryLock { lock_path })
}

impl Drop for LibraryLock {
    fn drop(&mut self) {
        let mut held = held().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((holders, _)) = held.get_mut(&self.lock_path) {
            *holders -= 1;
            if *holders == 0 {
                // Closing the file releases the lock; the file stays for the next writer.
                held.remove(&self.lock_path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_re_entrant_here_and_released_by_the_last_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let library = dir.path().join("songs.ron");
        let first = lock_library(&library, "importing").expect("first");
        let nested = lock_library(&library, "embedding").expect("the same process may nest");
        assert!(lock_path(&library).ends_with("songs.lock"));
        drop(first);
        // Still held by `nested`: another open file description cannot take it.
        let other = File::open(lock_path(&library)).expect("open");
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        drop(nested);
        assert!(other.try_lock().is_ok(), "free once the last holder is gone");
        drop(other);
        // And the holder's words are what a second writer would read.
        let _again = lock_library(&library, "laying out the map").expect("again");
        let text = std::fs::read_to_string(lock_path(&library)).expect("read");
        assert!(text.starts_with("laying out the map (songspace, process "), "{text}");
    }
}
