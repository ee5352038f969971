//! Track embeddings, kept beside the library in a binary file (`<stem>.embeddings`): 106,574 × 32
//! floats would be 30 MB of slow-to-parse text in RON, and 14 MB here.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{FileError, FileProblem};
use crate::fsutil::write_atomically;

const MAGIC: &[u8; 8] = b"SSEMB\x00\x01\x00";
const POSITIONS_MAGIC: &[u8; 8] = b"SSPOS\x00\x01\x00";

/// Where a library's embeddings came from; stored in the library file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmbeddingSource {
    /// Computed by `songspace embed` with the model whose files hash to `id`.
    Model { id: String, dir: PathBuf },
    /// Loaded from a file made elsewhere.
    File { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingsInfo {
    pub source: EmbeddingSource,
    pub dim: usize,
    pub count: usize,
    /// The file beside the library that holds the vectors (see [`super::commit_library`]);
    /// `None` in libraries written before files were named: `<stem>.embeddings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// One vector per track id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embeddings {
    pub dim: usize,
    pub ids: Vec<u64>,
    /// `ids.len() × dim` values, row-major.
    pub values: Vec<f32>,
    index: HashMap<u64, usize>,
}

impl Embeddings {
    pub fn new(dim: usize) -> Self {
        Self { dim, ..Self::default() }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Sets a track's vector, replacing any earlier one.
    pub fn insert(&mut self, id: u64, vector: &[f32]) {
        assert_eq!(vector.len(), self.dim, "embedding of the wrong size");
        match self.index.get(&id) {
            Some(&row) => self.values[row * self.dim..(row + 1) * self.dim].copy_from_slice(vector),
            None => {
                self.index.insert(id, self.ids.len());
                self.ids.push(id);
                self.values.extend_from_slice(vector);
            }
        }
    }

    pub fn get(&self, id: u64) -> Option<&[f32]> {
        self.index.get(&id).map(|&row| &self.values[row * self.dim..(row + 1) * self.dim])
    }

    /// Keeps only the tracks `keep` says yes to (tracks removed from the library).
    pub fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        let mut kept = Embeddings::new(self.dim);
        for (row, &id) in self.ids.iter().enumerate() {
            if keep(id) {
                kept.insert(id, &self.values[row * self.dim..(row + 1) * self.dim]);
            }
        }
        *self = kept;
    }

    fn reindex(&mut self) {
        self.index = self.ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    }
}

/// The legacy place of a library's embeddings, `<stem>.embeddings` (libraries now name their
/// file: [`super::Library::embeddings_file`]).
pub fn embeddings_path(library_path: &Path) -> PathBuf {
    let stem = library_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    library_path.with_file_name(format!("{stem}.embeddings"))
}

/// The legacy place of the map's 3D positions, one per track id, beside the library
/// (`<stem>.positions`; libraries now name their file: [`super::Library::positions_file`]).
pub fn positions_path(library_path: &Path) -> PathBuf {
    let stem = library_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    library_path.with_file_name(format!("{stem}.positions"))
}

pub fn save_embeddings(path: &Path, embeddings: &Embeddings) -> Result<(), FileError> {
    save_vectors(path, MAGIC, embeddings)
}

pub fn load_embeddings(path: &Path) -> Result<Embeddings, FileError> {
    load_vectors(path, MAGIC, "embeddings")
}

/// Positions are stored as vectors of dimension 3, in their own kind of file.
pub fn save_positions(path: &Path, positions: &Embeddings) -> Result<(), FileError> {
    assert_eq!(positions.dim, 3, "positions are 3D");
    save_vectors(path, POSITIONS_MAGIC, positions)
}

pub fn load_positions(path: &Path) -> Result<Embeddings, FileError> {
    let positions = load_vectors(path, POSITIONS_MAGIC, "positions")?;
    if positions.dim != 3 {
        return Err(FileError::new(
            path,
            FileProblem::Format(format!("positions of dimension {}, not 3", positions.dim)),
        ));
    }
    Ok(positions)
}

fn save_vectors(path: &Path, magic: &[u8; 8], vectors: &Embeddings) -> Result<(), FileError> {
    write_atomically(path, |out| {
        out.write_all(magic)?;
        out.write_all(&(vectors.dim as u32).to_le_bytes())?;
        out.write_all(&(vectors.len() as u64).to_le_bytes())?;
        let mut bytes = Vec::with_capacity(vectors.len() * (8 + 4 * vectors.dim));
        for id in &vectors.ids {
            bytes.extend_from_slice(&id.to_le_bytes());
        }
        for v in &vectors.values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        out.write_all(&bytes)
    })
}

fn load_vectors(path: &Path, magic: &[u8; 8], what: &str) -> Result<Embeddings, FileError> {
    let bytes = std::fs::read(path).map_err(|e| FileError::new(path, FileProblem::Io(e)))?;
    let bad = |problem: String| FileError::new(path, FileProblem::Format(problem));
    if bytes.len() < 20 || &bytes[..8] != magic {
        return Err(bad(format!("not a songspace {what} file")));
    }
    let dim = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default()) as usize;
    let count = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or_default()) as usize;
    let expected = count.checked_mul(8 + 4 * dim).and_then(|body| body.checked_add(20));
    if expected != Some(bytes.len()) || dim == 0 {
        return Err(bad(format!("truncated or damaged {what} file")));
    }
    let ids_end = 20 + count * 8;
    let ids =
        bytes[20..ids_end].chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect();
    let values: Vec<f32> =
        bytes[ids_end..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default())).collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(bad(format!("the {what} file holds numbers that are not finite")));
    }
    let mut vectors = Embeddings { dim, ids, values, index: HashMap::new() };
    vectors.reindex();
    Ok(vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_round_trip_and_replace_by_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = embeddings_path(&dir.path().join("library.ron"));
        assert!(path.ends_with("library.embeddings"));
        let mut e = Embeddings::new(3);
        e.insert(7, &[1.0, 2.0, 3.0]);
        e.insert(9, &[4.0, 5.0, 6.0]);
        e.insert(7, &[-1.0, -2.0, -3.0]);
        save_embeddings(&path, &e).expect("save");
        let back = load_embeddings(&path).expect("load");
        assert_eq!(back.len(), 2);
        assert_eq!(back.get(7), Some(&[-1.0, -2.0, -3.0][..]));
        assert_eq!(back.get(9), Some(&[4.0, 5.0, 6.0][..]));
        std::fs::write(&path, &std::fs::read(&path).expect("read")[..30]).expect("truncate");
        assert!(load_embeddings(&path).expect_err("truncated").to_string().contains("library.embeddings"));
    }
}
