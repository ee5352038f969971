//! The Free Music Archive layout: audio in `NNN/NNNNNN.mp3` (the folder is the id's first three
//! digits), metadata in `fma_metadata/tracks.csv` (three header rows: column group, column name,
//! `track_id`) and `fma_metadata/genres.csv`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Split;
use crate::error::{FileError, FileProblem};

/// Where an FMA data set's audio and metadata are.
#[derive(Debug, Clone, PartialEq)]
pub struct FmaLayout {
    /// Folders holding `NNN/NNNNNN.mp3` (`fma_small`, `fma_large`, …).
    pub audio_dirs: Vec<PathBuf>,
    pub metadata_dir: PathBuf,
}

/// The metadata of one FMA track that songspace uses.
#[derive(Debug, Clone, PartialEq)]
pub struct FmaTrack {
    pub title: String,
    pub artist: String,
    pub album: String,
    pub genre_top: Option<String>,
    /// Names of `track.genres` (falling back to `genres_all`), in file order.
    pub genres: Vec<String>,
    pub duration_seconds: Option<f32>,
    pub split: Option<Split>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FmaGenre {
    pub id: u32,
    pub title: String,
    pub parent: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct FmaMetadata {
    pub tracks: HashMap<u64, FmaTrack>,
    pub genres: Vec<FmaGenre>,
}

/// Recognises the FMA layout from `dir`: either an audio folder (metadata beside it or one level
/// up) or the data set's root holding `fma_metadata/` and `fma_*/` audio folders.
pub fn detect_fma_layout(dir: &Path) -> Option<FmaLayout> {
    let has_metadata = |d: &Path| d.join("fma_metadata").join("tracks.csv").is_file();
    if has_fma_audio(dir) {
        let metadata_root = [Some(dir), dir.parent(), dir.parent().and_then(Path::parent)]
            .into_iter()
            .flatten()
            .find(|d| has_metadata(d))?;
        return Some(FmaLayout {
            audio_dirs: vec![dir.to_path_buf()],
            metadata_dir: metadata_root.join("fma_metadata"),
        });
    }
    if has_metadata(dir) {
        let mut audio_dirs: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("fma_") && n != "fma_metadata")
                    && has_fma_audio(p)
            })
            .collect();
        audio_dirs.sort();
        if !audio_dirs.is_empty() {
            return Some(FmaLayout { audio_dirs, metadata_dir: dir.join("fma_metadata") });
        }
    }
    None
}

/// A folder with at least one `NNN/NNNNNN.mp3`.
fn has_fma_audio(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name.len() == 3
            && name.bytes().all(|b| b.is_ascii_digit())
            && std::fs::read_dir(e.path())
                .is_ok_and(|files| files.filter_map(Result::ok).any(|f| fma_track_id(&f.path()).is_some()))
    })
}

/// The track id of an FMA audio path (`.../NNN/NNNNNN.mp3`), if it is one.
pub fn fma_track_id(path: &Path) -> Option<u64> {
    let stem = path.file_stem()?.to_str()?;
    let ext = path.extension()?.to_str()?;
    if stem.len() != 6 || !stem.bytes().all(|b| b.is_ascii_digit()) || !ext.eq_ignore_ascii_case("mp3") {
        return None;
    }
    stem.parse().ok()
}

pub fn read_fma_metadata(metadata_dir: &Path) -> Result<FmaMetadata, FileError> {
    let genres = read_genres(&metadata_dir.join("genres.csv"))?;
    let names: HashMap<u32, &str> = genres.iter().map(|g| (g.id, g.title.as_str())).collect();
    let tracks = read_tracks(&metadata_dir.join("tracks.csv"), &names)?;
    Ok(FmaMetadata { tracks, genres })
}

fn csv_error(path: &Path, e: csv::Error) -> FileError {
    FileError::new(path, FileProblem::Format(format!("unreadable CSV: {e}")))
}

fn read_genres(path: &Path) -> Result<Vec<FmaGenre>, FileError> {
    let bad = |what: String| FileError::new(path, FileProblem::Format(what));
    let mut reader = csv::Reader::from_path(path).map_err(|e| csv_error(path, e))?;
    let headers = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| bad(format!("no column {name:?} in genres.csv")))
    };
    let (id_col, parent_col, title_col) = (column("genre_id")?, column("parent")?, column("title")?);
    let mut genres = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let field = |c: usize| record.get(c).unwrap_or("").trim();
        let id = field(id_col)
            .parse()
            .map_err(|_| bad(format!("row {}: genre_id {:?} is not a number", row + 2, field(id_col))))?;
        let parent = field(parent_col).parse::<u32>().ok().filter(|&p| p != 0);
        genres.push(FmaGenre { id, title: field(title_col).to_string(), parent });
    }
    Ok(genres)
}

fn read_tracks(path: &Path, genre_names: &HashMap<u32, &str>) -> Result<HashMap<u64, FmaTrack>, FileError> {
    let bad = |what: String| FileError::new(path, FileProblem::Format(what));
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(path).map_err(|e| csv_error(path, e))?;
    let mut records = reader.records();
    let mut header_row = |what: &str| -> Result<csv::StringRecord, FileError> {
        records
            .next()
            .ok_or_else(|| bad(format!("missing the {what} header row (FMA's tracks.csv has three)")))?
            .map_err(|e| csv_error(path, e))
    };
    let groups = header_row("column-group")?;
    let names = header_row("column-name")?;
    let id_row = header_row("track_id")?;
    if id_row.get(0) != Some("track_id") {
        return Err(bad("third header row should start with track_id (is this FMA's tracks.csv?)".into()));
    }
    let column = |group: &str, name: &str| {
        groups
            .iter()
            .zip(names.iter())
            .position(|(g, n)| g == group && n == name)
            .ok_or_else(|| bad(format!("no column ({group}, {name}) in tracks.csv")))
    };
    let title = column("track", "title")?;
    let artist = column("artist", "name")?;
    let album = column("album", "title")?;
    let genre_top = column("track", "genre_top")?;
    let genres = column("track", "genres")?;
    let genres_all = column("track", "genres_all")?;
    let duration = column("track", "duration")?;
    let split = column("set", "split")?;

    let mut tracks = HashMap::new();
    for record in records {
        let record = record.map_err(|e| csv_error(path, e))?;
        let field = |c: usize| record.get(c).unwrap_or("").trim();
        let Ok(id) = field(0).parse::<u64>() else {
            return Err(bad(format!(
                "track_id {:?} is not a number (line {})",
                field(0),
                record.position().map_or(0, |p| p.line())
            )));
        };
        let mut genre_ids = parse_id_list(field(genres));
        if genre_ids.is_empty() {
            genre_ids = parse_id_list(field(genres_all));
        }
        let genre_list: Vec<String> =
            genre_ids.iter().filter_map(|id| genre_names.get(id)).map(|s| (*s).to_string()).collect();
        let top = Some(field(genre_top)).filter(|g| !g.is_empty()).map(str::to_string);
        tracks.insert(
            id,
            FmaTrack {
                title: field(title).to_string(),
                artist: field(artist).to_string(),
                album: field(album).to_string(),
                genre_top: top,
                genres: genre_list,
                duration_seconds: field(duration).parse().ok(),
                split: Split::parse(field(split)),
            },
        );
    }
    Ok(tracks)
}

/// Parses FMA's Python-style id lists: `[21, 76]`.
fn parse_id_list(text: &str) -> Vec<u32> {
    text.trim_matches(|c| c == '[' || c == ']').split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_and_track_paths_parse_like_fma() {
        assert_eq!(parse_id_list("[21, 76]"), vec![21, 76]);
        assert_eq!(parse_id_list("[]"), Vec::<u32>::new());
        assert_eq!(fma_track_id(Path::new("fma_small/000/000002.mp3")), Some(2));
        assert_eq!(fma_track_id(Path::new("000/2.mp3")), None);
        assert_eq!(fma_track_id(Path::new("000/000002.ogg")), None);
    }

    #[test]
    fn tracks_csv_with_three_header_rows_and_quoted_fields() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = dir.path().join("fma_metadata");
        std::fs::create_dir_all(&meta).expect("mkdir");
        std::fs::write(
            meta.join("genres.csv"),
            "genre_id,#tracks,parent,title,top_level\n21,1,0,Hip-Hop,21\n76,1,21,Experimental Pop,21\n",
        )
        .expect("genres");
        std::fs::write(
            meta.join("tracks.csv"),
            ",album,artist,set,track,track,track,track,track,track\n\
             ,title,name,split,duration,genre_top,genres,genres_all,title,comments\n\
             track_id,,,,,,,,,\n\
             2,\"AWOL - A Way, Of Life\",AWOL,training,168,Hip-Hop,\"[21, 76]\",[21],Food,\"multi\nline\"\n\
             5,Album,Artist,test,,,[],[76],Untitled,\n",
        )
        .expect("tracks");
        let md = read_fma_metadata(&meta).expect("metadata");
        let t = &md.tracks[&2];
        assert_eq!(t.album, "AWOL - A Way, Of Life");
        assert_eq!(t.title, "Food");
        assert_eq!(t.genre_top.as_deref(), Some("Hip-Hop"));
        assert_eq!(t.genres, vec!["Hip-Hop", "Experimental Pop"]);
        assert_eq!(t.split, Some(Split::Training));
        assert_eq!(t.duration_seconds, Some(168.0));
        let u = &md.tracks[&5];
        assert_eq!(u.genre_top, None);
        assert_eq!(u.genres, vec!["Experimental Pop"]);
        assert_eq!(md.genres[1].parent, Some(21));
    }

    #[test]
    fn a_csv_without_fma_headers_is_refused_with_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("genres.csv"), "genre_id,#tracks,parent,title,top_level\n").expect("genres");
        std::fs::write(dir.path().join("tracks.csv"), "id,title\n1,x\n").expect("tracks");
        let err = read_fma_metadata(dir.path()).expect_err("not FMA").to_string();
        assert!(err.contains("tracks.csv"), "{err}");
    }
}
