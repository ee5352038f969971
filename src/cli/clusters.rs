//! `clusters`: the families of songs the map found, as text or JSON.

use std::path::Path;
use std::process::ExitCode;

use crate::audio::Descriptor;
use crate::explore::clusters::cluster_map;
use crate::library::{load_library, resolve_library_path};
use crate::space::Map;

pub fn run(library: &Path, k: Option<usize>, seed: u64, json: bool) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(library)?;
    let lib = load_library(&library_path)?;
    let map = Map::load(&lib, &library_path)?;
    if map.is_empty() {
        anyhow::bail!("{}: the library has no embedded songs to cluster", library_path.display());
    }
    if let Some(k) = k
        && k > map.len()
    {
        anyhow::bail!(
            "{}: -k {k} asks for more clusters than the library's {} songs",
            library_path.display(),
            map.len()
        );
    }
    let report = cluster_map(&map, &lib, k, seed);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let how = if report.tried.is_empty() {
        "k given".to_string()
    } else {
        let (low, high) = (report.tried.first().map_or(0, |t| t.0), report.tried.last().map_or(0, |t| t.0));
        format!("k chosen by silhouette among {low}–{high}")
    };
    println!(
        "{} clusters of {} songs (seed {}, silhouette {:.2}; {how})",
        report.k,
        map.len(),
        report.seed,
        report.silhouette
    );
    let library_profile: Vec<String> = Descriptor::ALL
        .iter()
        .filter_map(|&d| {
            report.library_profile.get(d.key()).map(|&v| format!("{} {}", d.label().to_lowercase(), d.format(v)))
        })
        .collect();
    if library_profile.is_empty() {
        println!("no song has descriptors yet: import the music folder again to measure them");
    } else {
        println!("library median: {}", library_profile.join(", "));
    }
    for cluster in &report.clusters {
        println!();
        println!("#{}  {} songs  {}", cluster.id + 1, cluster.size, cluster.name);
        let mut genres: Vec<(&String, &usize)> = cluster.genres.iter().collect();
        genres.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let genres: Vec<String> = genres.iter().map(|(g, n)| format!("{g} {n}")).collect();
        println!("    genres: {}", genres.join(", "));
        let profile: Vec<String> = Descriptor::ALL
            .iter()
            .filter_map(|&d| {
                let value = cluster.profile.get(d.key())?;
                let z = cluster.relative.get(d.key()).copied().unwrap_or(0.0);
                Some(format!("{} {} ({z:+.1})", d.label().to_lowercase(), d.format(*value)))
            })
            .collect();
        if !profile.is_empty() {
            println!("    median: {}", profile.join(", "));
        }
        let nearest: Vec<String> = cluster
            .representatives
            .iter()
            .map(|&id| match lib.track(id) {
                Some(t) if !t.artist.is_empty() => format!("{} — {} ({id})", t.title, t.artist),
                Some(t) => format!("{} ({id})", t.title),
                None => format!("({id})"),
            })
            .collect();
        println!("    nearest its centre: {}", nearest.join("; "));
    }
    Ok(ExitCode::SUCCESS)
}
