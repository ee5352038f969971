//! Embeddings in and out of songspace: CSV (`track_id,e0,…`), the TensorBoard projector pair
//! (vectors TSV + metadata TSV with a header) and RON. Everything read is checked: one
//! dimension for all rows, numbers only, no NaN or infinity, ids that exist.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{EmbeddingSource, Embeddings, EmbeddingsInfo, Library};
use crate::error::{FileError, FileProblem};
use crate::fsutil::write_atomically;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeFormat {
    Csv,
    /// Writes `FILE` (vectors, no header) and `FILE` with `.metadata.tsv` (with a header).
    ProjectorTsv,
    Ron,
}

#[derive(Serialize, Deserialize)]
struct RonRow {
    track_id: u64,
    embedding: Vec<f32>,
}

/// The metadata file that goes with a projector vectors file: `x.tsv` -> `x.metadata.tsv`.
pub fn projector_metadata_path(vectors: &Path) -> PathBuf {
    let stem = vectors.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    vectors.with_file_name(format!("{stem}.metadata.tsv"))
}

fn tsv_field(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

/// Writes the embeddings of the library's tracks (in library order) and returns the files written.
pub fn export_embeddings(
    path: &Path,
    format: ExchangeFormat,
    library: &Library,
    embeddings: &Embeddings,
) -> Result<Vec<PathBuf>, FileError> {
    let rows: Vec<(u64, &[f32])> =
        library.tracks.iter().filter_map(|t| embeddings.get(t.id).map(|v| (t.id, v))).collect();
    let join = |v: &[f32], sep: &str| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(sep);
    match format {
        ExchangeFormat::Csv => {
            write_atomically(path, |out| {
                let header: Vec<String> = (0..embeddings.dim).map(|i| format!("e{i}")).collect();
                writeln!(out, "track_id,{}", header.join(","))?;
                for (id, v) in &rows {
                    writeln!(out, "{id},{}", join(v, ","))?;
                }
                Ok(())
            })?;
            Ok(vec![path.to_path_buf()])
        }
        ExchangeFormat::ProjectorTsv => {
            write_atomically(path, |out| {
                for (_, v) in &rows {
                    writeln!(out, "{}", join(v, "\t"))?;
                }
                Ok(())
            })?;
            let metadata = projector_metadata_path(path);
            write_atomically(&metadata, |out| {
                writeln!(out, "track_id\ttitle\tartist\talbum\tgenre")?;
                for (id, _) in &rows {
                    if let Some(t) = library.track(*id) {
                        let genre = t.genre.clone().unwrap_or_default();
                        writeln!(
                            out,
                            "{id}\t{}\t{}\t{}\t{}",
                            tsv_field(&t.title),
                            tsv_field(&t.artist),
                            tsv_field(&t.album),
                            tsv_field(&genre)
                        )?;
                    }
                }
                Ok(())
            })?;
            Ok(vec![path.to_path_buf(), metadata])
        }
        ExchangeFormat::Ron => {
            let data: Vec<RonRow> =
                rows.iter().map(|(id, v)| RonRow { track_id: *id, embedding: v.to_vec() }).collect();
            let text = ron::ser::to_string_pretty(&data, ron::ser::PrettyConfig::new().depth_limit(1))
                .map_err(|e| FileError::new(path, FileProblem::Format(e.to_string())))?;
            write_atomically(path, |out| out.write_all(text.as_bytes()))?;
            Ok(vec![path.to_path_buf()])
        }
    }
}

/// What an embeddings file held, checked against a library.
#[derive(Debug, Clone)]
pub struct ImportedEmbeddings {
    pub embeddings: Embeddings,
    /// Ids in the file that the library does not have.
    pub unknown_ids: Vec<u64>,
    /// Library tracks the file has no vector for.
    pub missing_tracks: usize,
}

/// Reads an embeddings file made elsewhere; the format follows the extension (`.csv`, `.tsv`
/// with its `.metadata.tsv`, `.ron`).
pub fn read_embeddings_file(path: &Path, library: &Library) -> Result<ImportedEmbeddings, FileError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let rows = match ext.as_str() {
        "csv" => read_csv(path)?,
        "tsv" => read_projector(path)?,
        "ron" => read_ron(path)?,
        _ => {
            return Err(FileError::new(
                path,
                FileProblem::Format("unknown embeddings format (use .csv, .tsv or .ron)".into()),
            ));
        }
    };
    let first =
        rows.first().ok_or_else(|| FileError::new(path, FileProblem::Format("no embeddings in the file".into())))?;
    let dim = first.1.len();
    let mut embeddings = Embeddings::new(dim);
    let known: HashSet<u64> = library.tracks.iter().map(|t| t.id).collect();
    let mut seen = HashSet::new();
    let mut unknown_ids = Vec::new();
    for (line, (id, vector)) in rows.iter().enumerate() {
        let where_ = |what: String| FileError::new(path, FileProblem::Format(what));
        if vector.len() != dim {
            return Err(where_(format!(
                "track {id} has {} values, the first row has {dim} (row {})",
                vector.len(),
                line + 1
            )));
        }
        if let Some(bad) = vector.iter().position(|v| !v.is_finite()) {
            return Err(where_(format!(
                "track {id} has a non-finite value ({}) in column {bad} (row {})",
                vector[bad],
                line + 1
            )));
        }
        if !seen.insert(*id) {
            return Err(where_(format!("track {id} appears twice (row {})", line + 1)));
        }
        if known.contains(id) {
            embeddings.insert(*id, vector);
        } else {
            unknown_ids.push(*id);
        }
    }
    let missing_tracks = library.tracks.iter().filter(|t| embeddings.get(t.id).is_none()).count();
    Ok(ImportedEmbeddings { embeddings, unknown_ids, missing_tracks })
}

/// Makes an embeddings file made elsewhere the library's embeddings: checked, saved beside the
/// library and recorded in it (each file atomically). A file that matches none of the library's
/// tracks changes nothing.
pub fn adopt_embeddings_file(
    library: &mut Library,
    library_path: &Path,
    file: &Path,
) -> Result<ImportedEmbeddings, FileError> {
    let _lock = super::lock_library(library_path, "adopting an embeddings file")?;
    let imported = read_embeddings_file(file, library)?;
    if imported.embeddings.is_empty() {
        return Err(FileError::new(
            file,
            FileProblem::Format(format!(
                "none of its {} track ids is in the library {}",
                imported.unknown_ids.len(),
                library_path.display()
            )),
        ));
    }
    library.embeddings = Some(EmbeddingsInfo {
        source: EmbeddingSource::File { path: file.to_path_buf() },
        dim: imported.embeddings.dim,
        count: imported.embeddings.len(),
        file: None,
    });
    super::commit_library(library, library_path, Some(&imported.embeddings), None)?;
    Ok(imported)
}

impl ImportedEmbeddings {
    /// What was left out, in one line each, for the user to read.
    pub fn remarks(&self) -> Vec<String> {
        let mut remarks = Vec::new();
        if !self.unknown_ids.is_empty() {
            let shown: Vec<String> = self.unknown_ids.iter().take(10).map(u64::to_string).collect();
            remarks.push(format!(
                "{} id(s) in the file are not in the library and were ignored: {}{}",
                self.unknown_ids.len(),
                shown.join(", "),
                if self.unknown_ids.len() > 10 { ", …" } else { "" }
            ));
        }
        if self.missing_tracks > 0 {
            remarks.push(format!("{} track(s) of the library have no embedding in the file", self.missing_tracks));
        }
        remarks
    }
}

fn parse_number(path: &Path, row: usize, text: &str) -> Result<f32, FileError> {
    text.trim()
        .parse::<f32>()
        .map_err(|_| FileError::new(path, FileProblem::Format(format!("row {row}: {:?} is not a number", text.trim()))))
}

fn parse_id(path: &Path, row: usize, text: &str) -> Result<u64, FileError> {
    text.trim().parse::<u64>().map_err(|_| {
        FileError::new(
            path,
            FileProblem::Format(format!("row {row}: track id {:?} is not a whole number", text.trim())),
        )
    })
}

fn read_text(path: &Path) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(|e| FileError::new(path, FileProblem::Io(e)))
}

fn read_csv(path: &Path) -> Result<Vec<(u64, Vec<f32>)>, FileError> {
    let text = read_text(path)?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| FileError::new(path, FileProblem::Format("empty file".into())))?;
    if !header.trim_start().starts_with("track_id") {
        return Err(FileError::new(
            path,
            FileProblem::Format("the header must start with track_id (track_id,e0,e1,…)".into()),
        ));
    }
    lines
        .map(|(i, line)| {
            let mut fields = line.split(',');
            let id = parse_id(path, i + 1, fields.next().unwrap_or(""))?;
            let values = fields.map(|f| parse_number(path, i + 1, f)).collect::<Result<Vec<_>, _>>()?;
            Ok((id, values))
        })
        .collect()
}

fn read_projector(path: &Path) -> Result<Vec<(u64, Vec<f32>)>, FileError> {
    // Accept either file of the pair.
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (vectors, metadata) = if let Some(stem) = name.strip_suffix(".metadata.tsv") {
        (path.with_file_name(format!("{stem}.tsv")), path.to_path_buf())
    } else {
        (path.to_path_buf(), projector_metadata_path(path))
    };
    if !metadata.is_file() {
        return Err(FileError::new(
            &vectors,
            FileProblem::Format(format!(
                "its metadata file {} (with a track_id column) is missing",
                metadata.display()
            )),
        ));
    }
    let meta_text = read_text(&metadata)?;
    let mut meta_lines = meta_text.lines().filter(|l| !l.is_empty());
    let header = meta_lines.next().unwrap_or("");
    let column = header
        .split('\t')
        .position(|c| c.trim() == "track_id")
        .ok_or_else(|| FileError::new(&metadata, FileProblem::Format("no track_id column in the header".into())))?;
    let ids = meta_lines
        .enumerate()
        .map(|(i, l)| parse_id(&metadata, i + 2, l.split('\t').nth(column).unwrap_or("")))
        .collect::<Result<Vec<_>, _>>()?;
    let vec_text = read_text(&vectors)?;
    let rows: Vec<Vec<f32>> = vec_text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| l.split('\t').map(|f| parse_number(&vectors, i + 1, f)).collect())
        .collect::<Result<_, _>>()?;
    if rows.len() != ids.len() {
        return Err(FileError::new(
            &vectors,
            FileProblem::Format(format!(
                "{} vectors but {} rows of metadata in {}",
                rows.len(),
                ids.len(),
                metadata.display()
            )),
        ));
    }
    Ok(ids.into_iter().zip(rows).collect())
}

fn read_ron(path: &Path) -> Result<Vec<(u64, Vec<f32>)>, FileError> {
    let rows: Vec<RonRow> = ron::from_str(&read_text(path)?).map_err(|e| {
        FileError::new(path, FileProblem::Format(format!("expected [(track_id: N, embedding: [..]), …] ({e})")))
    })?;
    Ok(rows.into_iter().map(|r| (r.track_id, r.embedding)).collect())
}

/// Vectors brought from anywhere, each named (for `songspace tsne`): no library needed.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedVectors {
    /// What the names are, as the file's first header says (`name` where the file has none).
    pub name_column: String,
    pub names: Vec<String>,
    pub dim: usize,
    /// `names.len() × dim`, row-major.
    pub values: Vec<f32>,
}

/// The largest vectors file read whole (a million 256-d vectors as text is about 2 GB).
pub const MAX_VECTORS_FILE_BYTES: u64 = 4 << 30;

/// Reads named vectors: a CSV with a header whose first column names each row (as `songspace
/// export` writes them), or a TensorFlow projector TSV (vectors, no header) named by the first
/// column of its `.metadata.tsv` if there is one (a single column has no header there), else by
/// row number. Every row must have the first row's length and only finite numbers; the error
/// names the file, the row and the column.
pub fn read_named_vectors(path: &Path) -> Result<NamedVectors, FileError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    // Each row with its line in the file, for messages.
    let (name_column, rows) = match ext.as_str() {
        "csv" => read_named_csv(path)?,
        "tsv" => read_named_projector(path)?,
        _ => {
            return Err(FileError::new(
                path,
                FileProblem::Format("unknown vectors format (use .csv with a header, or a projector .tsv)".into()),
            ));
        }
    };
    let dim = rows.first().map(|(_, v, _)| v.len()).unwrap_or(0);
    if dim == 0 {
        return Err(FileError::new(path, FileProblem::Format("no vectors in the file".into())));
    }
    let mut names = Vec::with_capacity(rows.len());
    let mut values = Vec::with_capacity(rows.len() * dim);
    for (name, vector, line) in rows {
        if vector.len() != dim {
            let what = format!("row {line} ({name}) has {} values, the first row has {dim}", vector.len());
            return Err(FileError::new(path, FileProblem::Format(what)));
        }
        names.push(name);
        values.extend(vector);
    }
    Ok(NamedVectors { name_column, names, dim, values })
}

/// A file's text, refused before it is read when it is larger than [`MAX_VECTORS_FILE_BYTES`].
fn read_bounded_text(path: &Path) -> Result<String, FileError> {
    let size = std::fs::metadata(path).map_err(|e| FileError::new(path, FileProblem::Io(e)))?.len();
    if size > MAX_VECTORS_FILE_BYTES {
        let what = format!("{size} bytes: larger than the {MAX_VECTORS_FILE_BYTES} bytes a vectors file may have");
        return Err(FileError::new(path, FileProblem::Format(what)));
    }
    read_text(path)
}

/// A number of row `row` (counted from 1, the header or the first vector being row 1) and
/// column `column` (from 1), or an error that names both.
fn parse_finite(path: &Path, row: usize, column: usize, text: &str) -> Result<f32, FileError> {
    match text.trim().parse::<f32>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(FileError::new(
            path,
            FileProblem::Format(format!("row {row}, column {column}: {:?} is not a finite number", text.trim())),
        )),
    }
}

/// Named vectors with the line each came from.
type NamedRows = (String, Vec<(String, Vec<f32>, usize)>);

fn read_named_csv(path: &Path) -> Result<NamedRows, FileError> {
    let text = read_bounded_text(path)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
    let bad = |what: String| FileError::new(path, FileProblem::Format(what));
    let name_column = reader
        .headers()
        .map_err(|e| bad(format!("the header cannot be read ({e})")))?
        .get(0)
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "name".to_owned());
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        let record = record.map_err(|e| bad(format!("row {row} cannot be read ({e})")))?;
        let name = record.get(0).unwrap_or("").trim().to_owned();
        let values = record
            .iter()
            .enumerate()
            .skip(1)
            .map(|(column, field)| parse_finite(path, row, column + 1, field))
            .collect::<Result<Vec<_>, _>>()?;
        rows.push((name, values, row));
    }
    Ok((name_column, rows))
}

fn read_named_projector(path: &Path) -> Result<NamedRows, FileError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (vectors, metadata) = match name.strip_suffix(".metadata.tsv") {
        Some(stem) => (path.with_file_name(format!("{stem}.tsv")), path.to_path_buf()),
        None => (path.to_path_buf(), projector_metadata_path(path)),
    };
    let text = read_bounded_text(&vectors)?;
    let rows: Vec<(Vec<f32>, usize)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let values = l.split('\t').enumerate().map(|(c, f)| parse_finite(&vectors, i + 1, c + 1, f));
            Ok((values.collect::<Result<Vec<_>, _>>()?, i + 1))
        })
        .collect::<Result<_, FileError>>()?;
    if !metadata.is_file() {
        let named = rows.into_iter().enumerate().map(|(k, (v, line))| ((k + 1).to_string(), v, line)).collect();
        return Ok(("row".to_owned(), named));
    }
    let meta = read_bounded_text(&metadata)?;
    let lines: Vec<&str> = meta.lines().filter(|l| !l.trim().is_empty()).collect();
    // The projector's convention: a single column has no header, several have one.
    let with_header = lines.first().is_some_and(|l| l.contains('\t'));
    let name_column =
        if with_header { lines[0].split('\t').next().unwrap_or("name").trim().to_owned() } else { "name".to_owned() };
    let names: Vec<String> = lines
        .iter()
        .skip(usize::from(with_header))
        .map(|l| l.split('\t').next().unwrap_or("").trim().to_owned())
        .collect();
    if names.len() != rows.len() {
        return Err(FileError::new(
            &vectors,
            FileProblem::Format(format!("{} vectors but {} names in {}", rows.len(), names.len(), metadata.display())),
        ));
    }
    Ok((name_column, names.into_iter().zip(rows).map(|(name, (v, line))| (name, v, line)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vectors_file_larger_than_the_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("huge.csv");
        // Sparse: no disk is used, and nothing is read.
        std::fs::File::create(&path).expect("file").set_len(MAX_VECTORS_FILE_BYTES + 1).expect("length");
        let error = read_named_vectors(&path).expect_err("refused").to_string();
        assert!(error.contains("huge.csv") && error.contains("larger than the 4294967296 bytes"), "{error}");
    }

    #[test]
    fn names_come_from_the_first_column_and_single_column_projector_metadata_has_no_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("v.csv");
        std::fs::write(&csv, "track_id,e0,e1\n7,1,2\n9,3,4\n").expect("csv");
        let read = read_named_vectors(&csv).expect("csv");
        assert_eq!(
            (read.name_column.as_str(), read.names.clone(), read.dim),
            ("track_id", vec!["7".into(), "9".into()], 2)
        );
        assert_eq!(read.values, [1.0, 2.0, 3.0, 4.0]);
        let tsv = dir.path().join("p.tsv");
        std::fs::write(&tsv, "1\t2\n3\t4\n").expect("tsv");
        std::fs::write(dir.path().join("p.metadata.tsv"), "first\nsecond\n").expect("metadata");
        let read = read_named_vectors(&tsv).expect("tsv");
        assert_eq!(read.names, ["first", "second"]);
    }
}
