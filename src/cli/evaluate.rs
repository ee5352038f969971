use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::RecipeArgs;
use crate::library::{Library, load_library, resolve_library_path};
use crate::model::crossval::{CrossValidationEvent, cross_validate_training};
use crate::model::evaluate::{EmbeddingsUnderTest, evaluate_library};
use crate::model::yardstick::{Protocol, paired_gain};
use crate::model::{choose_device, default_model_dir};

pub struct Args {
    pub library: PathBuf,
    pub model: Option<PathBuf>,
    pub library_embeddings: bool,
    pub folds: usize,
    pub seeds: Vec<u64>,
    /// Cross-validate this training recipe instead of judging fixed embeddings.
    pub train: Option<RecipeArgs>,
    /// What the fold models learn with --train (genre or none).
    pub label: crate::model::LabelKind,
    /// With --train: where each fold model's vectors of every song are written.
    pub fold_vectors: Option<PathBuf>,
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(&args.library)?;
    let lib = load_library(&library_path)?;
    anyhow::ensure!(!args.seeds.is_empty(), "give at least one seed");
    let protocol = Protocol { folds: args.folds, seeds: args.seeds.clone() };
    if let Some(recipe) = &args.train {
        let fold_vectors = args.fold_vectors.as_deref();
        return run_cross_validation(&lib, &library_path, recipe, args.label, &protocol, fold_vectors, args.json);
    }
    let source = if args.library_embeddings {
        EmbeddingsUnderTest::Library
    } else {
        EmbeddingsUnderTest::Model(match args.model {
            Some(m) => m,
            None => default_model_dir().context("no model given and no shipped model found (use --model)")?,
        })
    };
    let report = evaluate_library(&lib, &library_path, &source, &protocol)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} songs, {} albums, {} genres ({}); {} album-disjoint folds × seeds {:?}",
        report.songs,
        report.albums,
        report.labels.len(),
        report.labels.join(", "),
        report.protocol.folds,
        report.protocol.seeds
    );
    println!("embeddings: {}", report.embeddings);
    if !report.skipped.is_empty() {
        println!("left out: {} songs (no genre, not analysed, or unreadable; --json lists them)", report.skipped.len());
    }
    println!("genre P@3 if neighbours from other albums were random: {:.3}", report.chance_p_at_3);
    println!();
    println!(
        "| representation | dims | genre P@3, other albums | genre P@10, other albums | genre P@3, any album | same-album P@3 | logistic regression, album folds |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in &report.rows {
        println!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {} |",
            r.name,
            r.dims,
            r.label_p_at_3,
            r.label_p_at_10,
            r.label_p_at_3_any_album,
            r.same_album_p_at_3,
            r.logistic_accuracy
        );
    }
    println!();
    println!("mean ± standard deviation over folds × seeds; neighbours are searched among all songs.");
    println!();
    println!("k-means clusters (k = {} genres, one clustering per seed) against the genres:", report.labels.len());
    println!();
    println!("| representation | adjusted Rand index | normalised mutual information |");
    println!("|---|---:|---:|");
    for r in &report.rows {
        println!("| {} | {} | {} |", r.name, r.cluster_label_ari, r.cluster_label_nmi);
    }
    if let Some(classic) = report.rows.iter().find(|r| r.name.starts_with("classic")) {
        println!();
        println!("paired on the same folds, each row minus the classic descriptor (mean ± std of the differences):");
        println!();
        println!("| representation | genre P@3 gain | logistic regression gain |");
        println!("|---|---:|---:|");
        for r in report.rows.iter().filter(|r| !std::ptr::eq(*r, classic)) {
            println!(
                "| {} | {} | {} |",
                r.name,
                paired_gain(&r.label_p_at_3_by_fold, &classic.label_p_at_3_by_fold),
                paired_gain(&r.logistic_accuracy_by_fold, &classic.logistic_accuracy_by_fold)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_cross_validation(
    library: &Library,
    library_path: &std::path::Path,
    recipe: &RecipeArgs,
    label: crate::model::LabelKind,
    protocol: &Protocol,
    fold_vectors: Option<&std::path::Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (compute, notice) = choose_device(recipe.device()?).map_err(anyhow::Error::msg)?;
    if let Some(notice) = notice {
        eprintln!("{notice}");
    }
    let scratch = std::env::temp_dir().join(format!("songspace-crossval-{}", std::process::id()));
    // Without labels there is no classifier head: the model's own figure is how often an
    // excerpt's nearest is its song's other excerpt.
    let own = if label == crate::model::LabelKind::None { "excerpts matched" } else { "head accuracy" };
    let mut options = recipe.options(scratch.clone());
    options.label = label;
    let (base, start) = recipe.base_for(library)?;
    recipe.start_from(&mut options, base);
    // A base model that learnt from these very songs would judge itself: say which one it is.
    eprintln!("each fold model starts {start}; it must not have been trained on this library's songs");
    let cancel = super::cancel_on_ctrl_c("stopping after this step; the folds done so far are reported");
    let bar = indicatif::ProgressBar::new(0);
    let epochs = options.epochs;
    eprintln!("training one model per fold and seed on {} (up to {epochs} epochs each)", compute.describe());
    let mut on_event = |event: &CrossValidationEvent| {
        match event {
        CrossValidationEvent::FoldStarted { seed, fold, folds, test_songs } => {
            bar.suspend(|| eprintln!("seed {seed}, fold {}/{folds}: {test_songs} held-out songs", fold + 1))
        }
        CrossValidationEvent::Training(event) => super::train::report_progress(&bar, event, epochs),
        CrossValidationEvent::FoldDone(f) => bar.suspend(|| {
            eprintln!(
                "  best epoch {} of {}: P@3 model {:.3} classic {:.3}; {own} {:.3}; logistic model {:.3} classic {:.3} ({:.0} s)",
                f.best_epoch, f.epochs, f.model_p_at_3, f.classic_p_at_3, f.head_accuracy, f.model_logistic, f.classic_logistic, f.seconds
            )
        }),
    }
    };
    let result = cross_validate_training(
        &compute,
        library,
        library_path,
        &options,
        protocol,
        fold_vectors,
        &cancel,
        &mut on_event,
    );
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&scratch);
    let report = result?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} songs, {} albums, {} genres; {} folds of whole albums × seeds {:?}; {} models trained{}",
        report.songs,
        report.albums,
        report.labels.len(),
        report.protocol.folds,
        report.protocol.seeds,
        report.folds.len(),
        if report.cancelled { " (interrupted)" } else { "" }
    );
    println!("genre P@3 if neighbours from other albums were random: {:.3}", report.chance_p_at_3);
    println!();
    let start =
        |value: &Option<crate::model::yardstick::Spread>| value.as_ref().map_or("–".to_string(), |v| v.to_string());
    println!("| on held-out albums | trained model | classic descriptor | the model it started from |");
    println!("|---|---:|---:|---:|");
    println!(
        "| genre P@3, neighbours from other albums | {} | {} | {} |",
        report.model_p_at_3,
        report.classic_p_at_3,
        start(&report.start_p_at_3)
    );
    println!(
        "| genre P@3, neighbours from any album (as the map shows them) | {} | {} | {} |",
        report.model_p_at_3_any_album,
        report.classic_p_at_3_any_album,
        start(&report.start_p_at_3_any_album)
    );
    println!("| logistic regression accuracy | {} | {} | – |", report.model_logistic, report.classic_logistic);
    if label == crate::model::LabelKind::None {
        println!(
            "| excerpts whose nearest is their song's other excerpt (no labels) | {} | – | – |",
            report.head_accuracy
        );
    } else {
        println!("| the model's classifier head, accuracy | {} | – | – |", report.head_accuracy);
    }
    println!();
    println!("paired on the same folds (mean ± std of the per-fold differences):");
    println!("| trained model minus classic descriptor | gain |");
    println!("|---|---:|");
    println!("| genre P@3, neighbours from other albums | {} |", report.p_at_3_gain);
    if let (Some(other), Some(any)) = (&report.fine_tuning_p_at_3_gain, &report.fine_tuning_p_at_3_any_album_gain) {
        println!("| genre P@3 from other albums: trained model − the model it started from | {other} |");
        println!("| genre P@3 from any album: trained model − the model it started from | {any} |");
    }
    println!("| logistic regression: on the embedding − on the classic descriptor | {} |", report.logistic_gain);
    if label != crate::model::LabelKind::None {
        println!(
            "| the model's classifier head − logistic regression on the classic descriptor | {} |",
            report.head_gain
        );
    }
    let best: Vec<String> = report.folds.iter().map(|f| f.best_epoch.to_string()).collect();
    println!();
    println!("best epochs: {}", best.join(", "));
    Ok(if report.cancelled { ExitCode::from(130) } else { ExitCode::SUCCESS })
}
