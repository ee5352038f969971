//! A teacher for self-supervised training: per-track vectors from a stronger model (made
//! elsewhere, e.g. `tools/teacher/musicnn_embed.py`) that the network's head learns to predict
//! from any patch of the song, beside the contrastive objective. The network keeps its size and
//! speed; only what its embedding learns to hold changes (distillation).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{FileError, FileProblem};
use crate::library::read_named_vectors;

/// The most values per vector a teacher may give (musicnn's layers have 50 to 753).
pub const MAX_TEACHER_DIM: usize = 4096;

/// Standardised target vectors by track id.
pub struct Teacher {
    pub source: PathBuf,
    pub dim: usize,
    targets: HashMap<u64, Vec<f32>>,
}

impl std::fmt::Debug for Teacher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Teacher")
            .field("source", &self.source)
            .field("dim", &self.dim)
            .field("tracks", &self.targets.len())
            .finish()
    }
}

impl Teacher {
    /// Reads a vectors file named by track id (`track_id,e0,…`, as `songspace export` writes
    /// them) and standardises each dimension to mean 0 and standard deviation 1 over its rows,
    /// so that every dimension weighs alike in the loss and its scale is about 1 whatever the
    /// teacher's layer. Constant dimensions become 0.
    pub fn load(path: &Path) -> Result<Self, FileError> {
        let vectors = read_named_vectors(path)?;
        let dim = vectors.dim;
        if dim > MAX_TEACHER_DIM {
            let what = format!("{dim} values per row; a teacher may have 1 to {MAX_TEACHER_DIM}");
            return Err(FileError::new(path, FileProblem::Format(what)));
        }
        let rows = vectors.names.len();
        let mut mean = vec![0.0f64; dim];
        for row in vectors.values.chunks_exact(dim) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += f64::from(*v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= rows as f64);
        let mut spread = vec![0.0f64; dim];
        for row in vectors.values.chunks_exact(dim) {
            for ((s, m), v) in spread.iter_mut().zip(&mean).zip(row) {
                *s += (f64::from(*v) - m).powi(2);
            }
        }
        spread.iter_mut().for_each(|s| *s = (*s / rows as f64).sqrt());
        let mut targets = HashMap::with_capacity(rows);
        for (line, (name, row)) in vectors.names.iter().zip(vectors.values.chunks_exact(dim)).enumerate() {
            let id: u64 = name.trim().parse().map_err(|_| {
                let what = format!("row {} is named {name:?}; a teacher's rows are named by track id", line + 1);
                FileError::new(path, FileProblem::Format(what))
            })?;
            let standardised = row
                .iter()
                .zip(mean.iter().zip(&spread))
                .map(|(v, (m, s))| if *s > 1e-9 { ((f64::from(*v) - m) / s) as f32 } else { 0.0 })
                .collect();
            if targets.insert(id, standardised).is_some() {
                let what = format!("track {id} has two rows (the second at row {})", line + 1);
                return Err(FileError::new(path, FileProblem::Format(what)));
            }
        }
        Ok(Self { source: path.to_path_buf(), dim, targets })
    }

    /// The standardised target of a track, if the teacher has one.
    pub fn target(&self, id: u64) -> Option<&[f32]> {
        self.targets.get(&id).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("teacher.csv");
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn targets_are_standardised_per_dimension_and_constant_ones_are_zero() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "track_id,e0,e1,e2\n1,1,10,5\n2,3,10,7\n3,5,10,9\n");
        let teacher = Teacher::load(&path).expect("teacher");
        assert_eq!(teacher.dim, 3);
        let first = teacher.target(1).expect("known");
        let third = teacher.target(3).expect("known");
        let spread = (8.0f32 / 3.0).sqrt();
        assert!((first[0] + 2.0 / spread).abs() < 1e-5, "{first:?}");
        assert!((third[2] - 2.0 / spread).abs() < 1e-5, "{third:?}");
        assert_eq!(first[1], 0.0);
        assert_eq!(teacher.target(2).expect("known")[0], 0.0);
        assert!(teacher.target(4).is_none());
    }

    #[test]
    fn rows_must_be_named_by_one_track_id_each() {
        let dir = tempfile::tempdir().expect("tempdir");
        let named = write(dir.path(), "track_id,e0\nsong,1\n");
        let error = Teacher::load(&named).expect_err("refused").to_string();
        assert!(error.contains("teacher.csv") && error.contains("track id"), "{error}");
        let twice = write(dir.path(), "track_id,e0\n7,1\n7,2\n");
        let error = Teacher::load(&twice).expect_err("refused").to_string();
        assert!(error.contains("track 7 has two rows"), "{error}");
    }
}
