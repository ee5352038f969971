//! `recommend` and `path`: listening through the map from the command line.

use std::path::Path;
use std::process::ExitCode;

use super::map::describe;
use crate::explore::listen::{RecommendMethod, path_between, recommend as recommend_from};
use crate::library::{
    Library, listening_path, load_library, load_listening, lock_library, playlist_entries, resolve_library_path,
    save_listening, write_m3u8,
};
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
    let saved;
    let liked = if liked.is_empty() {
        saved = load_listening(&listening_path(&library_path))?.likes;
        if saved.is_empty() {
            anyhow::bail!(
                "{}: no liked songs yet; name some with --like ID, or like songs in the window (L)",
                library_path.display()
            );
        }
        &saved
    } else {
        liked
    };
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
    save: Option<&str>,
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
    let ids: Vec<u64> = found.rows.iter().map(|&row| map.id(row)).collect();
    if let Some(out) = out {
        let entries = playlist_entries(&lib, &ids);
        write_m3u8(out, &entries)?;
        println!("wrote {} ({} songs)", out.display(), entries.len());
    }
    if let Some(name) = save {
        let _lock = lock_library(&library_path, "saving a playlist")?;
        let mut listening = load_listening(&listening_path(&library_path))?;
        let name = listening.free_name(name);
        listening.create_playlist(&name)?.add(ids);
        save_listening(&listening_path(&library_path), &listening)?;
        println!("saved as playlist {name:?}");
    }
    Ok(ExitCode::SUCCESS)
}
