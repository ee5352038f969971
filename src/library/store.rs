//! The library file: RON, versioned, written atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{EmbeddingSource, EmbeddingsInfo, Library};
use crate::error::{FileError, FileProblem, LibraryError};
use crate::fsutil::write_atomically;

/// The library file format this build writes. Older files are read; newer ones are refused.
/// 2: the vector files beside a library are named in it (`EmbeddingsInfo::file`,
/// `ProjectionInfo::file`), so a change can switch to new ones in one step; version 1 files
/// (plain `<stem>.embeddings`) still load.
pub const LIBRARY_FORMAT_VERSION: u32 = 2;
const FORMAT_NAME: &str = "songspace-library";

#[derive(Serialize)]
struct LibraryFileOut<'a> {
    format: &'a str,
    version: u32,
    library: &'a Library,
}

#[derive(Deserialize)]
struct LibraryFileIn {
    format: String,
    version: u32,
    library: Library,
}

/// Only the header, read first so a newer file gets "too new" rather than a parse error.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

pub fn save_library(library: &Library, path: &Path) -> Result<(), FileError> {
    let file = LibraryFileOut { format: FORMAT_NAME, version: LIBRARY_FORMAT_VERSION, library };
    // Compact struct layout with one track a line: readable and diffable, yet fast to parse.
    let config = ron::ser::PrettyConfig::new().depth_limit(3).indentor(" ".to_string());
    let text = ron::ser::to_string_pretty(&file, config)
        .map_err(|e| FileError::new(path, FileProblem::Format(format!("cannot serialise: {e}"))))?;
    write_atomically(path, |out| out.write_all(text.as_bytes()))
}

pub fn load_library(path: &Path) -> Result<Library, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| FileError::new(path, FileProblem::Io(e)))?;
    let bad = |what: String| FileError::new(path, FileProblem::Format(what));
    // Parse once; only when that fails, read the header alone to say why precisely.
    match ron::from_str::<LibraryFileIn>(&text) {
        Ok(file) if file.format == FORMAT_NAME && file.version <= LIBRARY_FORMAT_VERSION => {
            let mut library = file.library;
            library.mel.check().map_err(bad)?;
            library.map.tsne.check().map_err(bad)?;
            let files = [
                ("embeddings.file", library.embeddings.as_ref().and_then(|e| e.file.as_deref())),
                ("projection.file", library.projection.as_ref().and_then(|p| p.file.as_deref())),
            ];
            for (field, name) in files {
                // A name, not a path: a library file never points outside its own folder.
                if let Some(name) = name
                    && (Path::new(name).file_name() != Some(std::ffi::OsStr::new(name)) || name.starts_with('.'))
                {
                    return Err(bad(format!("{field} {name:?} is not a plain file name beside the library")));
                }
            }
            // A relative music folder is relative to the library file, so a library can travel
            // with its music (the bundled demo does).
            // So is the folder of the model that made its embeddings.
            let base = path.parent().unwrap_or(Path::new("."));
            if library.root.is_relative() {
                library.root = base.join(&library.root);
            }
            if let Some(EmbeddingsInfo { source: EmbeddingSource::Model { dir, .. }, .. }) = &mut library.embeddings
                && dir.is_relative()
            {
                *dir = base.join(&*dir);
            }
            Ok(library)
        }
        Ok(file) if file.format != FORMAT_NAME => {
            Err(bad(format!("not a songspace library (format is {:?})", file.format)))
        }
        Ok(file) => {
            Err(FileError::new(path, FileProblem::TooNew { found: file.version, supported: LIBRARY_FORMAT_VERSION }))
        }
        Err(full_error) => match ron::from_str::<Header>(&text) {
            Ok(h) if h.format != FORMAT_NAME => Err(bad(format!("not a songspace library (format is {:?})", h.format))),
            Ok(h) if h.version > LIBRARY_FORMAT_VERSION => {
                Err(FileError::new(path, FileProblem::TooNew { found: h.version, supported: LIBRARY_FORMAT_VERSION }))
            }
            Ok(_) => Err(bad(format!("damaged library file ({full_error})"))),
            Err(_) if text.trim_start().starts_with("(") && text.contains(FORMAT_NAME) => {
                Err(bad(format!("damaged library file ({full_error})")))
            }
            Err(e) => Err(bad(format!("not a songspace library ({e})"))),
        },
    }
}

/// Where a library of `music_folder` lives unless `--library` says otherwise:
/// `$XDG_DATA_HOME/songspace/libraries/<folder name>-<hash of its path>/library.ron`.
/// The music folder itself is never written to.
pub fn default_library_path(music_folder: &Path) -> PathBuf {
    let canonical = music_folder.canonicalize().unwrap_or_else(|_| music_folder.to_path_buf());
    let name: String = canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into())
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    let hash = fnv1a(canonical.to_string_lossy().as_bytes());
    data_dir().join("libraries").join(format!("{name}-{hash:016x}")).join("library.ron")
}

/// Accepts a library file, a folder holding `library.ron`, or a music folder that was imported
/// with the default library location.
pub fn resolve_library_path(arg: &Path) -> Result<PathBuf, LibraryError> {
    if arg.is_file() {
        return Ok(arg.to_path_buf());
    }
    if arg.is_dir() {
        let inside = arg.join("library.ron");
        if inside.is_file() {
            return Ok(inside);
        }
        let default = default_library_path(arg);
        if default.is_file() {
            return Ok(default);
        }
    }
    Err(LibraryError::NotFound(arg.to_path_buf()))
}

/// `$XDG_DATA_HOME/songspace`, else `~/.local/share/songspace`.
pub fn data_dir() -> PathBuf {
    crate::fsutil::xdg_base_dir("XDG_DATA_HOME", ".local/share").join("songspace")
}

/// Where a package puts songspace's shipped model and demo: `<prefix>/share/songspace` for the
/// program at `<prefix>/bin/songspace` (`/usr/share/songspace` for the Debian package, or
/// wherever the package was unpacked). None when that folder is missing, or when it is the
/// user's own data folder (a program that install-desktop copied to `~/.local/bin`), whose
/// `demo` is the user's copy of the demo library, not a bundle.
pub fn installed_data_dir() -> Option<PathBuf> {
    let program = std::env::current_exe().ok()?;
    let dir = program.parent()?.parent()?.join("share/songspace");
    let user = data_dir();
    let same = match (dir.canonicalize(), user.canonicalize()) {
        (Ok(dir), Ok(user)) => dir == user,
        _ => dir == user,
    };
    (dir.is_dir() && !same).then_some(dir)
}

pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::{FileFingerprint, SourceKind, Split, Track};

    fn sample_library() -> Library {
        let mut lib = Library::new(PathBuf::from("/music"), SourceKind::Fma);
        lib.ensure_genre("Rock");
        lib.tracks.push(Track {
            id: 2,
            path: PathBuf::from("000/000002.mp3"),
            title: "Food \"quoted\"".into(),
            artist: "AWOL".into(),
            album: "AWOL - A Way Of Life".into(),
            genre: Some("Hip-Hop".into()),
            genres: vec!["Hip-Hop".into()],
            duration_seconds: 168.0,
            split: Some(Split::Training),
            fingerprint: FileFingerprint { size: 10, modified_ns: 20 },
            features: None,
            descriptors: None,
        });
        lib
    }

    #[test]
    fn save_then_load_gives_the_same_library() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.ron");
        let lib = sample_library();
        save_library(&lib, &path).expect("save");
        assert_eq!(load_library(&path).expect("load"), lib);
    }

    #[test]
    fn a_newer_version_is_refused_by_name_and_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.ron");
        save_library(&sample_library(), &path).expect("save");
        let text = std::fs::read_to_string(&path)
            .expect("read")
            .replace(&format!("version: {LIBRARY_FORMAT_VERSION}"), "version: 99");
        std::fs::write(&path, text).expect("write");
        let err = load_library(&path).expect_err("newer").to_string();
        assert!(err.contains("lib.ron") && err.contains("99"), "{err}");
    }

    #[test]
    fn a_damaged_file_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.ron");
        save_library(&sample_library(), &path).expect("save");
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, &text[..text.len() / 2]).expect("write");
        let err = load_library(&path).expect_err("damaged").to_string();
        assert!(err.contains("lib.ron") && err.contains("damaged"), "{err}");
    }

    #[test]
    fn settings_in_the_file_that_would_divide_by_zero_or_never_end_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lib.ron");
        let mut zero_hop = sample_library();
        zero_hop.mel.hop_length = 0;
        let mut zero_theta = sample_library();
        zero_theta.map.tsne.theta = 0.0;
        let mut endless = sample_library();
        endless.map.tsne.iterations = 1_000_000_000;
        let mut elsewhere = sample_library();
        elsewhere.embeddings = Some(crate::library::EmbeddingsInfo {
            source: crate::library::EmbeddingSource::File { path: "x.csv".into() },
            dim: 32,
            count: 1,
            file: Some("../../home/someone/.ssh/id_rsa".into()),
        });
        for (library, expected) in [
            (zero_hop, "hop_length is 0, outside the allowed 1 to 2048"),
            (zero_theta, "theta is 0, outside the allowed 0.01 to 2"),
            (endless, "iterations is 1000000000"),
            (elsewhere, "embeddings.file \"../../home/someone/.ssh/id_rsa\" is not a plain file name"),
        ] {
            save_library(&library, &path).expect("save");
            let err = load_library(&path).expect_err(expected).to_string();
            assert!(err.contains("lib.ron") && err.contains(expected), "{err}");
        }
    }
}
