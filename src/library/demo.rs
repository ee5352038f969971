//! The demo library bundled with songspace (`assets/demo`): real music with precomputed
//! embeddings and a map, so the window opens on something to explore with no setup.
//!
//! The bundle is never written to (it may be read-only, and in the source tree it is committed
//! data). Opening the demo opens the user's own copy of its library file in the data folder,
//! which points at the bundled audio; songs dropped onto the demo are saved there.

use std::path::{Path, PathBuf};

use super::store::{data_dir, fnv1a, load_library, save_library};
use super::{embeddings_path, positions_path};
use crate::error::{FileError, FileProblem, LibraryError};
use crate::fsutil::write_atomically;

/// The bundled demo's folder: `$SONGSPACE_DEMO` if set, else the first that holds a library of
/// the package's `<prefix>/share/songspace/demo` beside the program (an installed program uses
/// its own package's demo), the source tree's `assets/demo` (a build uses its own tree's demo
/// while the tree is there), `$XDG_DATA_HOME/songspace/demo-bundle` (where `songspace
/// install-desktop` copies it) and `/usr/share/songspace/demo`.
pub fn bundled_demo_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SONGSPACE_DEMO") {
        return Some(PathBuf::from(dir));
    }
    [
        super::store::installed_data_dir().map(|d| d.join("demo")),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")),
        Some(data_dir().join("demo-bundle")),
        Some(PathBuf::from("/usr/share/songspace/demo")),
    ]
    .into_iter()
    .flatten()
    .find(|d| d.join("library.ron").is_file())
}

/// Where the user's copy of the demo library lives.
pub fn demo_library_path() -> PathBuf {
    data_dir().join("demo").join("library.ron")
}

/// The user's copy of the demo library, made (or renewed, when the bundle changed or moved)
/// from the bundle first. Returns the library file to open.
pub fn open_demo() -> Result<PathBuf, LibraryError> {
    let bundle = bundled_demo_dir()
        .ok_or_else(|| LibraryError::NotFound(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")))?;
    open_demo_from(&bundle, &demo_library_path())
}

/// [`open_demo`] with explicit places, for tests.
pub fn open_demo_from(bundle: &Path, copy: &Path) -> Result<PathBuf, LibraryError> {
    let bundled_library = bundle.join("library.ron");
    if !bundled_library.is_file() {
        return Err(LibraryError::NotFound(bundle.to_path_buf()));
    }
    let stamp = bundle_stamp(bundle)?;
    let stamp_path = copy.with_extension("bundle");
    let current = copy.is_file() && std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp);
    if current {
        return Ok(copy.to_path_buf());
    }
    // The bundle's library names its audio folder relative to itself; the copy names it
    // absolutely, because it lives elsewhere.
    let mut library = load_library(&bundled_library)?;
    let companions = [
        (library.embeddings_file(&bundled_library), embeddings_path(copy)),
        (library.positions_file(&bundled_library), positions_path(copy)),
    ];
    for (from, to) in companions {
        let bytes = std::fs::read(&from).map_err(|e| FileError::new(&from, FileProblem::Io(e)))?;
        write_atomically(&to, |out| std::io::Write::write_all(out, &bytes))?;
    }
    // The copy's vectors have the plain names; its library file, written last, names them.
    library.forget_sidecar_names();
    save_library(&library, copy)?;
    // Written last: a copy interrupted before this is simply made again next time.
    write_atomically(&stamp_path, |out| std::io::Write::write_all(out, stamp.as_bytes()))?;
    Ok(copy.to_path_buf())
}

/// Identifies one bundle in one place: its folder, a hash of its library file and the sizes of
/// the vector files (not times: a checkout sets those anew).
fn bundle_stamp(bundle: &Path) -> Result<String, LibraryError> {
    let bundle = bundle.canonicalize().map_err(|e| FileError::new(bundle, FileProblem::Io(e)))?;
    let library = bundle.join("library.ron");
    let text = std::fs::read(&library).map_err(|e| FileError::new(&library, FileProblem::Io(e)))?;
    let mut stamp = format!("{}\nlibrary {:016x}\n", bundle.display(), fnv1a(&text));
    let described = load_library(&library)?;
    for file in [described.embeddings_file(&library), described.positions_file(&library)] {
        let meta = std::fs::metadata(&file).map_err(|e| FileError::new(&file, FileProblem::Io(e)))?;
        stamp.push_str(&format!("{} {}\n", file.display(), meta.len()));
    }
    Ok(stamp)
}

/// Whether `library_path` is the user's copy of the demo.
pub fn is_demo_library(library_path: &Path) -> bool {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    canonical(library_path) == canonical(&demo_library_path())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::{Embeddings, Library, SourceKind, save_embeddings, save_positions};

    /// A bundle as the demo ships: a library whose music folder is relative to it.
    fn make_bundle(dir: &Path, tracks: u64) {
        let mut library = Library::new(PathBuf::from("music"), SourceKind::Folder);
        library.next_id = tracks + 1;
        let library_path = dir.join("library.ron");
        save_library(&library, &library_path).expect("save library");
        let mut vectors = Embeddings::new(2);
        let mut positions = Embeddings::new(3);
        for id in 1..=tracks {
            vectors.insert(id, &[id as f32, 0.0]);
            positions.insert(id, &[id as f32, 0.0, 1.0]);
        }
        save_embeddings(&embeddings_path(&library_path), &vectors).expect("save embeddings");
        save_positions(&positions_path(&library_path), &positions).expect("save positions");
        std::fs::create_dir_all(dir.join("music")).expect("music folder");
    }

    #[test]
    fn the_copy_points_at_the_bundled_music_and_keeps_the_users_changes_until_the_bundle_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bundle = dir.path().join("bundle");
        let copy = dir.path().join("data/demo/library.ron");
        make_bundle(&bundle, 3);

        let opened = open_demo_from(&bundle, &copy).expect("first open");
        assert_eq!(opened, copy);
        let library = load_library(&copy).expect("copy loads");
        assert!(library.root.is_absolute(), "{}", library.root.display());
        assert_eq!(
            library.root.canonicalize().expect("root exists"),
            bundle.join("music").canonicalize().expect("music")
        );
        assert_eq!(crate::library::load_positions(&positions_path(&copy)).expect("positions").len(), 3);

        // What the user adds to the demo (a dropped song) stays across openings.
        let mut changed = library.clone();
        changed.next_id = 99;
        save_library(&changed, &copy).expect("user change");
        open_demo_from(&bundle, &copy).expect("second open");
        assert_eq!(load_library(&copy).expect("load").next_id, 99);

        // A new bundle replaces the copy.
        make_bundle(&bundle, 5);
        open_demo_from(&bundle, &copy).expect("open after update");
        assert_eq!(load_library(&copy).expect("load").next_id, 6);
        assert_eq!(crate::library::load_positions(&positions_path(&copy)).expect("positions").len(), 5);
    }

    #[test]
    fn a_bundle_without_its_vectors_is_named_and_leaves_no_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bundle = dir.path().join("bundle");
        make_bundle(&bundle, 2);
        std::fs::remove_file(positions_path(&bundle.join("library.ron"))).expect("remove");
        let copy = dir.path().join("data/demo/library.ron");
        let err = open_demo_from(&bundle, &copy).expect_err("incomplete bundle").to_string();
        assert!(err.contains("library.positions"), "{err}");
        assert!(!copy.exists());
    }
}
