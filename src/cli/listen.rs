//! `recommend` and `path`: listening through the map from the command line.

use std::path::Path;
use std::process::ExitCode;

use super::map::describe;
use crate::explore::listen::{RecommendMethod, path_between, recommend as recommend_from};
use crate::library::{Library, PlaylistEntry, load_library, resolve_library_path, write_m3u8};
use crate::space::{Map, Metric, SpaceError};

fn open(library: &Path) -> anyhow::Result<(Library, Map, std::path::PathBuf)> {
    let library_path = resolve_library_path(library)?;
    let lib = load_library(&library_path)?;
    let map = Map::load(&lib, &library_path)?;
    Ok((lib, map, library_path))
}

fn row_of(map: &Map, id: u64, library_path: &Path) -> Result<usize, SpaceError> {
    map.row(id).ok_or(SpaceError::UnknownTrack { id, path: library_path.to_path_buf() })
}

pub fn recommend(
    library: &Path,
    liked: &[u64],
    k: usize,
    method: RecommendMethod,
    metric: Metric,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (lib, map, library_path) = open(library)?;
    let rows = liked.iter().map(|&id| row_of(&map, id, &library_path)).collect::<Result<Vec<_>, _>>()?;
    let found = recommend_from(&map, metric, &rows, k, method);
    if json {
        let items: Vec<serde_json::Value> = found
            .iter()
            .map(|r| {
                let id = map.id(r.row);
                serde_json::json!({
                    "id": id,
                    "distance": r.distance,
                    "near": r.near.iter().map(|&l| map.id(l)).collect::<Vec<_>>(),
                    "title": lib.track(id).map(|t| t.title.clone()),
                    "artist": lib.track(id).map(|t| t.artist.clone()),
                    "genre": lib.track(id).and_then(|t| t.genre.clone()),
                })
            })
            .collect();
        let report = serde_json::json!({ "liked": liked, "method": method, "metric": metric.to_string(), "recommendations": items });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("for you, from {} liked songs ({method:?} method, {metric} distance):", liked.len());
    for (rank, r) in found.iter().enumerate() {
        let id = map.id(r.row);
        let near: Vec<String> = r.near.iter().map(|&l| describe(&lib, map.id(l))).collect();
        println!(
            "  {:>2}. {:>8}  {:.4}  {}  (near {})",
            rank + 1,
            id,
            r.distance,
            describe(&lib, id),
            near.join(" and ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn path(
    library: &Path,
    from_id: u64,
    to_id: u64,
    steps: Option<usize>,
    out: Option<&Path>,
    metric: Metric,
) -> anyhow::Result<ExitCode> {
    let (lib, map, library_path) = open(library)?;
    let (from, to) = (row_of(&map, from_id, &library_path)?, row_of(&map, to_id, &library_path)?);
    let found = path_between(&map, metric, from, to, steps)?;
    println!("{} songs, {} steps ({metric} distance to the next):", found.rows.len(), found.steps.len());
    for (i, &row) in found.rows.iter().enumerate() {
        let id = map.id(row);
        let step = found.steps.get(i).map_or_else(|| "      –".to_string(), |d| format!("{d:>7.4}"));
        println!("  {:>3}. {:>8}  {step}  {}", i + 1, id, describe(&lib, id));
    }
    if let Some(out) = out {
        let entries: Vec<PlaylistEntry> = found
            .rows
            .iter()
            .filter_map(|&row| lib.track(map.id(row)))
            .map(|t| PlaylistEntry {
                path: std::path::absolute(lib.absolute_path(t)).unwrap_or_else(|_| lib.absolute_path(t)),
                seconds: t.duration_seconds,
                display: if t.artist.is_empty() { t.title.clone() } else { format!("{} - {}", t.artist, t.title) },
            })
            .collect();
        write_m3u8(out, &entries)?;
        println!("wrote {} ({} songs)", out.display(), entries.len());
    }
    Ok(ExitCode::SUCCESS)
}
