use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::library::{load_library, resolve_library_path};
use crate::model::default_model_dir;
use crate::model::evaluate::evaluate_embeddings;

pub fn run(library: &Path, model: Option<&Path>, json: bool) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(library)?;
    let lib = load_library(&library_path)?;
    let model_dir = match model {
        Some(m) => m.to_path_buf(),
        None => default_model_dir().context("no model given and no shipped model found (use --model)")?,
    };
    let report = evaluate_embeddings(&lib, &library_path, &model_dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "test split: {} tracks (neighbours searched among the {} test tracks, and among all {} tracks)",
        report.test_tracks, report.test_tracks, report.all_tracks
    );
    println!("classifier head, test genre accuracy: {:.1}%", report.classifier_test_accuracy * 100.0);
    println!();
    println!(
        "| representation | dims | test genre accuracy (3-NN vote) | 3-NN agreement within test | 3-NN agreement, test vs all |"
    );
    println!("|---|---:|---:|---:|---:|");
    for r in &report.rows {
        println!(
            "| {} | {} | {:.1}% | {:.1}% | {:.1}% |",
            r.name,
            r.dims,
            r.knn_test_accuracy * 100.0,
            r.agreement_within_test * 100.0,
            r.agreement_test_vs_all * 100.0
        );
    }
    Ok(ExitCode::SUCCESS)
}
