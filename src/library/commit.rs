//! Changing a library in one step. A library is its file (`library.ron`) and the vector files
//! beside it (embeddings, map positions). Rewriting those one after the other in place would let
//! a kill between two writes leave, say, the vectors of model B under a library file that says
//! model A. So a change writes its new vector files under fresh names, then replaces the library
//! file that names them (the one atomic step: a rename, with the file and the folder synced), and
//! only then removes the files no longer named. Whenever the process dies, the library file names
//! complete files: the old set or the new one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Embeddings, Library, embeddings_path, positions_path, save_embeddings, save_library, save_positions};
use crate::error::{FileError, FileProblem};

const EMBEDDINGS_EXT: &str = "embeddings";
const POSITIONS_EXT: &str = "positions";

impl Library {
    /// The file that holds this library's embeddings (saved at `library_path`).
    pub fn embeddings_file(&self, library_path: &Path) -> PathBuf {
        match self.embeddings.as_ref().and_then(|e| e.file.as_deref()) {
            Some(name) => library_path.with_file_name(name),
            None => embeddings_path(library_path),
        }
    }

    /// Drops the names of the vector files, for a copy whose vectors are written under the
    /// plain names (`<stem>.embeddings`, `<stem>.positions`) beside it.
    pub fn forget_sidecar_names(&mut self) {
        if let Some(e) = &mut self.embeddings {
            e.file = None;
        }
        if let Some(p) = &mut self.projection {
            p.file = None;
        }
    }

    /// The file that holds this library's map positions (saved at `library_path`).
    pub fn positions_file(&self, library_path: &Path) -> PathBuf {
        match self.projection.as_ref().and_then(|p| p.file.as_deref()) {
            Some(name) => library_path.with_file_name(name),
            None => positions_path(library_path),
        }
    }
}

/// Saves `library` at `library_path` together with new embeddings and/or positions, as one
/// change (see the module's note). `library.embeddings` (`library.projection`) must describe the
/// new embeddings (positions) already; their file names are filled in here. The caller holds the
/// library's lock.
pub fn commit_library(
    library: &mut Library,
    library_path: &Path,
    embeddings: Option<&Embeddings>,
    positions: Option<&Embeddings>,
) -> Result<(), FileError> {
    let undescribed = |what: &str| {
        FileError::new(
            library_path,
            FileProblem::Format(format!("new {what} without their description in the library")),
        )
    };
    let tag = fresh_tag();
    if let Some(vectors) = embeddings {
        let name = sidecar_name(library_path, &tag, EMBEDDINGS_EXT);
        let info = library.embeddings.as_mut().ok_or_else(|| undescribed("embeddings"))?;
        save_embeddings(&library_path.with_file_name(&name), vectors)?;
        info.file = Some(name);
    }
    if let Some(vectors) = positions {
        let name = sidecar_name(library_path, &tag, POSITIONS_EXT);
        let info = library.projection.as_mut().ok_or_else(|| undescribed("map positions"))?;
        save_positions(&library_path.with_file_name(&name), vectors)?;
        info.file = Some(name);
    }
    pause_for_tests();
    // The switch.
    save_library(library, library_path)?;
    remove_unnamed_sidecars(library, library_path);
    Ok(())
}

/// A test hook: `SONGSPACE_PAUSE_BEFORE_SWITCH_MS` holds every change for that long between
/// writing its vector files and switching the library file to them, so that the kill test's kills
/// land in that window often rather than by luck.
fn pause_for_tests() {
    if let Some(ms) = std::env::var("SONGSPACE_PAUSE_BEFORE_SWITCH_MS").ok().and_then(|v| v.parse::<u64>().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(10_000)));
    }
}

/// Removes this library's vector files that its file no longer names: those of earlier changes,
/// of changes a kill interrupted before their switch, and the legacy `<stem>.embeddings` once a
/// named file replaced it. Best effort: a file left behind wastes space but is never read.
fn remove_unnamed_sidecars(library: &Library, library_path: &Path) {
    let Some(dir) = library_path.parent().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d }) else {
        return;
    };
    let named_embeddings = library.embeddings.as_ref().and_then(|e| e.file.clone());
    let named_positions = library.projection.as_ref().and_then(|p| p.file.clone());
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let (ext, named) = if name.ends_with(EMBEDDINGS_EXT) {
            (EMBEDDINGS_EXT, &named_embeddings)
        } else if name.ends_with(POSITIONS_EXT) {
            (POSITIONS_EXT, &named_positions)
        } else {
            continue;
        };
        if named.as_deref() == Some(name.as_str()) {
            continue;
        }
        let legacy = library_path.with_file_name(&name) == library_path.with_extension(ext);
        // The legacy file is only stale once a named file took its place.
        if (legacy && named.is_some()) || is_tagged_sidecar(library_path, &name, ext) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// `<stem>.g<16 hex digits>.<ext>`: strict, so another library's files in the same folder
/// (`<stem>.other.embeddings` of a library called `<stem>.other.ron`) never match.
fn sidecar_name(library_path: &Path, tag: &str, ext: &str) -> String {
    format!("{}.g{tag}.{ext}", stem(library_path))
}

fn is_tagged_sidecar(library_path: &Path, name: &str, ext: &str) -> bool {
    let Some(rest) = name.strip_prefix(&format!("{}.g", stem(library_path))) else { return false };
    let Some(tag) = rest.strip_suffix(&format!(".{ext}")) else { return false };
    tag.len() == 16 && tag.bytes().all(|b| b.is_ascii_hexdigit())
}

fn stem(library_path: &Path) -> String {
    library_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A name no earlier change of this library used: time, process and a counter.
fn fresh_tag() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mixed = nanos ^ (u64::from(std::process::id()) << 40) ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(20);
    format!("{mixed:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::{EmbeddingSource, EmbeddingsInfo, SourceKind, load_embeddings, load_library};

    fn vectors(ids: &[u64], value: f32) -> Embeddings {
        let mut e = Embeddings::new(2);
        for &id in ids {
            e.insert(id, &[value, value]);
        }
        e
    }

    #[test]
    fn a_change_names_fresh_files_and_removes_the_ones_it_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.ron");
        // Another library in the same folder, whose files must survive.
        let other = dir.path().join("lib.other.ron");
        std::fs::write(other.with_extension("embeddings"), b"theirs").expect("write");
        // A library from before names: legacy file.
        let mut library = Library::new(dir.path().to_path_buf(), SourceKind::Folder);
        save_embeddings(&embeddings_path(&path), &vectors(&[1], 1.0)).expect("legacy");
        let info = |count| EmbeddingsInfo {
            source: EmbeddingSource::File { path: "x.csv".into() },
            dim: 2,
            count,
            file: None,
        };
        library.embeddings = Some(info(1));
        save_library(&library, &path).expect("save");
        assert_eq!(library.embeddings_file(&path), embeddings_path(&path));

        library.embeddings = Some(info(2));
        commit_library(&mut library, &path, Some(&vectors(&[1, 2], 2.0)), None).expect("commit");
        let first = library.embeddings_file(&path);
        assert_ne!(first, embeddings_path(&path));
        assert!(!embeddings_path(&path).exists(), "the legacy file was replaced");
        let reloaded = load_library(&path).expect("load");
        assert_eq!(reloaded.embeddings_file(&path), first);
        assert_eq!(load_embeddings(&first).expect("vectors").len(), 2);

        library.embeddings = Some(info(3));
        commit_library(&mut library, &path, Some(&vectors(&[1, 2, 3], 3.0)), None).expect("commit");
        assert!(!first.exists(), "the replaced file is removed");
        assert_eq!(load_embeddings(&library.embeddings_file(&path)).expect("vectors").len(), 3);
        assert!(other.with_extension("embeddings").exists(), "another library's file is left alone");
    }

    #[test]
    fn files_of_an_interrupted_change_are_never_read_and_are_cleaned_up_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.ron");
        let mut library = Library::new(dir.path().to_path_buf(), SourceKind::Folder);
        library.embeddings = Some(EmbeddingsInfo {
            source: EmbeddingSource::File { path: "x.csv".into() },
            dim: 2,
            count: 1,
            file: None,
        });
        commit_library(&mut library, &path, Some(&vectors(&[1], 1.0)), None).expect("commit");
        let current = library.embeddings_file(&path);
        // A change killed after writing its vectors, before its switch.
        let orphan = path.with_file_name(sidecar_name(&path, &fresh_tag(), EMBEDDINGS_EXT));
        save_embeddings(&orphan, &vectors(&[1, 2], 9.0)).expect("orphan");
        let reloaded = load_library(&path).expect("load");
        assert_eq!(reloaded.embeddings_file(&path), current, "the library still names its own file");
        assert_eq!(load_embeddings(&current).expect("vectors").get(1), Some(&[1.0f32, 1.0][..]));
        commit_library(&mut library, &path, None, None).expect("commit");
        assert!(!orphan.exists(), "the next change removes the orphan");
        assert!(current.exists());
    }

    #[test]
    fn only_strict_tags_count_as_this_librarys_files() {
        let path = Path::new("/x/lib.ron");
        assert!(is_tagged_sidecar(path, "lib.g0123456789abcdef.embeddings", EMBEDDINGS_EXT));
        assert!(!is_tagged_sidecar(path, "lib.other.g0123456789abcdef.embeddings", EMBEDDINGS_EXT));
        assert!(!is_tagged_sidecar(path, "lib.g0123.embeddings", EMBEDDINGS_EXT));
        assert!(!is_tagged_sidecar(path, "lib.g0123456789abcdef.positions", EMBEDDINGS_EXT));
    }
}
