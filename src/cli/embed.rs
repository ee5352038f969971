use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::library::{load_library, resolve_library_path};
use crate::model::{default_model_dir, embed_library};

pub fn run(library: &Path, model: Option<&Path>) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(library)?;
    let mut lib = load_library(&library_path)?;
    let model_dir: PathBuf = match model {
        Some(m) => m.to_path_buf(),
        None => {
            default_model_dir().context("no model given and no shipped model found (set --model or SONGSPACE_MODEL)")?
        }
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} tracks, ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = embed_library(&mut lib, &library_path, &model_dir, &AtomicBool::new(false), &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    println!(
        "{} embeddings computed, {} reused (same model), {} track(s) without features; model {}",
        report.computed,
        report.reused,
        report.without_features,
        model_dir.display()
    );
    for failure in &report.failed {
        println!("  failed: {failure}");
    }
    Ok(ExitCode::SUCCESS)
}
