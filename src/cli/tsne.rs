//! `songspace tsne`: the map's 3D t-SNE for vectors brought from anywhere, with no library.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::fsutil::write_atomically;
use crate::library::read_named_vectors;
use crate::space::{MIN_TSNE_POINTS, TsneEvent, TsneSettings, TsneStage, tsne_3d};

pub fn run(input: &Path, out: &Path, options: &super::TsneOptions) -> anyhow::Result<ExitCode> {
    let vectors = read_named_vectors(input)?;
    let n = vectors.names.len();
    if n < MIN_TSNE_POINTS {
        anyhow::bail!("{}: {n} vectors; t-SNE needs at least {MIN_TSNE_POINTS}", input.display());
    }
    let mut settings = TsneSettings::default();
    options.apply(&mut settings)?;

    let cancel = super::cancel_on_ctrl_c("stopping t-SNE; nothing is written");
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {bar:30} {pos}/{len} iterations, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let perplexity = settings.effective_perplexity(n);
    let started = std::time::Instant::now();
    let positions =
        tsne_3d(&vectors.values, vectors.dim, &settings, options.threads(), &cancel, &mut |event| match event {
            TsneEvent::Stage(TsneStage::Affinities) => {
                bar.set_message(format!("t-SNE of {n} vectors (perplexity {perplexity}): neighbours…"));
                bar.enable_steady_tick(std::time::Duration::from_millis(200));
            }
            TsneEvent::Stage(TsneStage::Optimising) => bar.set_message("t-SNE"),
            TsneEvent::Progress(progress) => {
                bar.set_length(progress.iterations as u64);
                bar.set_position(progress.iteration as u64);
            }
        });
    bar.finish_and_clear();
    let Ok(positions) = positions else {
        eprintln!("t-SNE cancelled; nothing was written");
        return Ok(ExitCode::from(130));
    };
    write_positions(out, &vectors.name_column, &vectors.names, &positions)?;
    println!(
        "mapped {n} vectors of {} dimensions to 3D (perplexity {perplexity}, {} iterations, seed {}) in {:.1} s: {}",
        vectors.dim,
        settings.iterations,
        settings.seed,
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `NAME,x,y,z` with the input's name column, one row per vector in the input's order; names
/// are quoted where CSV needs it. Written atomically.
fn write_positions(out: &Path, name_column: &str, names: &[String], positions: &[[f32; 3]]) -> anyhow::Result<()> {
    write_atomically(out, |file| {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| std::io::Error::other(e.to_string());
        writer.write_record([name_column, "x", "y", "z"]).map_err(io)?;
        for (name, p) in names.iter().zip(positions) {
            writer.write_record([name.clone(), p[0].to_string(), p[1].to_string(), p[2].to_string()]).map_err(io)?;
        }
        let bytes = writer.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
        file.write_all(&bytes)
    })
    .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
