//! `project`, `neighbours`, `locate` and exporting positions.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::audio::MelExtractor;
use crate::fsutil::write_atomically;
use crate::library::{EmbeddingSource, Library, load_library, resolve_library_path};
use crate::model::{Embedder, check_compatible, recorded_model_dir};
use crate::space::{
    Map, Metric, ProjectEvent, ProjectionMethod, SpaceError, add_located_track, locate_file, project_library,
};

pub struct ProjectArgs {
    pub library: PathBuf,
    pub method: Option<ProjectionMethod>,
    pub tsne: super::TsneOptions,
    pub learning_rate: Option<f32>,
    pub force: bool,
}

pub fn project(args: ProjectArgs) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(&args.library)?;
    let mut lib = load_library(&library_path)?;
    if let Some(method) = args.method {
        lib.map.method = method;
    }
    args.tsne.apply(&mut lib.map.tsne)?;
    if let Some(rate) = args.learning_rate {
        if !(rate.is_finite() && rate > 0.0) {
            bail!("--learning-rate must be a positive number (got {rate})");
        }
        lib.map.tsne.learning_rate = Some(rate);
    }

    let cancel = super::cancel_on_ctrl_c("stopping the projection; the previous map is kept");
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {bar:30} {pos}/{len} iterations, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let outcome =
        project_library(&mut lib, &library_path, args.force, args.tsne.threads(), &cancel, &mut |event| match event {
            ProjectEvent::Affinities { points, perplexity } => {
                bar.set_message(format!("t-SNE of {points} tracks (perplexity {perplexity}): neighbours…"));
                bar.enable_steady_tick(std::time::Duration::from_millis(200));
            }
            ProjectEvent::Iteration { iteration, iterations, .. } => {
                if iteration == 1 {
                    bar.set_message("t-SNE");
                    bar.set_length(iterations as u64);
                }
                bar.set_position(iteration as u64);
            }
        });
    bar.finish_and_clear();
    let outcome = match outcome {
        Err(SpaceError::Cancelled(_)) => {
            eprintln!("projection cancelled; nothing was changed");
            return Ok(ExitCode::from(130));
        }
        other => other?,
    };
    if outcome.reused {
        println!(
            "the map of {} tracks is up to date ({}, same embeddings and settings); --force recomputes it",
            outcome.points, outcome.method
        );
    } else {
        let detail = match outcome.method {
            ProjectionMethod::Tsne => format!(
                ", perplexity {}, {} iterations, seed {}",
                outcome.perplexity, lib.map.tsne.iterations, lib.map.tsne.seed
            ),
            ProjectionMethod::Pca => String::new(),
        };
        println!(
            "projected {} tracks to 3D with {}{detail} in {:.1} s",
            outcome.points, outcome.method, outcome.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn neighbours(library: &Path, track_id: u64, k: usize, metric: Metric) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(library)?;
    let lib = load_library(&library_path)?;
    let map = Map::load(&lib, &library_path)?;
    let row = map.row(track_id).ok_or(SpaceError::UnknownTrack { id: track_id, path: library_path.clone() })?;
    println!("{}", describe(&lib, track_id));
    println!("  {:>4}  {:>10}  {:>11}  {:>8}  track", "rank", "id", format!("{metric}"), "map (3D)");
    for (rank, n) in map.neighbours(row, k, metric).iter().enumerate() {
        let id = map.id(n.index);
        println!(
            "  {:>4}  {:>10}  {:>11.4}  {:>8.2}  {}",
            rank + 1,
            id,
            n.distance,
            map.map_distance(row, n.index),
            describe(&lib, id)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub struct LocateArgs {
    pub library: PathBuf,
    pub audio: PathBuf,
    pub add: bool,
    pub k: usize,
    pub metric: Metric,
    pub verbose: bool,
}

pub fn locate(args: LocateArgs) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(&args.library)?;
    let mut lib = load_library(&library_path)?;
    let mut map = Map::load(&lib, &library_path)?;
    let model_dir = match lib.embeddings.as_ref().map(|e| &e.source) {
        Some(EmbeddingSource::Model { dir, id }) => recorded_model_dir(dir, id)?,
        Some(EmbeddingSource::File { path }) => bail!(
            "{}: its embeddings were loaded from {}, so there is no model to embed a new song with; \
             run `songspace embed` to embed the library with a model first",
            library_path.display(),
            path.display()
        ),
        None => return Err(SpaceError::NoEmbeddings { path: library_path }.into()),
    };
    let embedder =
        Embedder::load(&model_dir).with_context(|| format!("loading the library's model {}", model_dir.display()))?;
    check_compatible(&embedder.info, &model_dir, &lib.mel)?;
    let extractor = MelExtractor::new(lib.mel);

    let located = locate_file(&args.audio, &map, &embedder, &extractor, args.metric, args.k)?;
    let p = located.placement.position;
    println!("{}", args.audio.display());
    println!("  position  x {:.3}  y {:.3}  z {:.3}", p[0], p[1], p[2]);
    println!("  nearest ({} distance in embedding space, distance on the map):", args.metric);
    for (rank, n) in located.neighbours.iter().enumerate() {
        let id = map.id(n.index);
        let on_map = distance3(p, map.position(n.index));
        println!("  {:>2}. {:>8.4}  {:>7.2}  {}  {}", rank + 1, n.distance, on_map, id, describe(&lib, id));
    }
    if args.verbose {
        let t = located.timings;
        println!(
            "  time: {:.1} ms in all (decode + log-mel {:.1} ms, embed {:.1} ms, place {:.1} ms over {} iterations); \
             map of {} tracks",
            ms(t.total()),
            ms(t.decode_and_mel),
            ms(t.embed),
            ms(t.place),
            located.placement.iterations,
            map.len()
        );
    }
    if args.add {
        let id = add_located_track(&mut lib, &library_path, &mut map, &args.audio, &located)?;
        println!("added to the library as track {id}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn export_positions(library: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(library)?;
    let lib = load_library(&library_path)?;
    let map = Map::load(&lib, &library_path)?;
    write_atomically(out, |file| {
        writeln!(file, "track_id,x,y,z")?;
        for row in 0..map.len() {
            let p = map.position(row);
            writeln!(file, "{},{},{},{}", map.id(row), p[0], p[1], p[2])?;
        }
        Ok(())
    })?;
    println!("wrote {} ({} positions)", out.display(), map.len());
    Ok(ExitCode::SUCCESS)
}

pub(super) fn describe(lib: &Library, id: u64) -> String {
    match lib.track(id) {
        Some(t) => {
            let mut text = if t.artist.is_empty() { t.title.clone() } else { format!("{} — {}", t.title, t.artist) };
            if let Some(genre) = &t.genre {
                text.push_str(&format!(" [{genre}]"));
            }
            text
        }
        None => format!("track {id}"),
    }
}

fn distance3(a: [f32; 3], b: [f32; 3]) -> f32 {
    (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f32>().sqrt()
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
