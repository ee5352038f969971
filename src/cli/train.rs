use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::RecipeArgs;
use crate::fsutil::write_atomically;
use crate::library::{load_library, resolve_library_path};
use crate::model::{LabelKind, TrainEvent, TrainingMetrics, choose_device, train_on};

pub struct Args {
    pub library: PathBuf,
    pub label: LabelKind,
    pub recipe: RecipeArgs,
    pub seed: u64,
    pub out: Option<PathBuf>,
    pub metrics_out: Option<PathBuf>,
    pub resume: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(&args.library)?;
    let library = load_library(&library_path)?;
    let out_dir = args.out.clone().unwrap_or_else(|| library_path.with_file_name("model"));
    let mut options = args.recipe.options(out_dir.clone());
    options.label = args.label;
    options.seed = args.seed;
    options.resume = args.resume;
    let (base, start) = args.recipe.base_for(&library)?;
    args.recipe.start_from(&mut options, base);

    let (compute, notice) = choose_device(args.recipe.device()?).map_err(anyhow::Error::msg)?;
    if let Some(notice) = notice {
        eprintln!("{notice}");
    }
    let cancel = super::cancel_on_ctrl_c("stopping after this step; continue later with --resume");

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} batches, ETA {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let epochs = options.epochs;
    let mut on_event = |event: &TrainEvent| report_event(&bar, event, epochs);
    let device_name = compute.describe();
    println!(
        "training on {device_name}, labels: {}, up to {} epochs, {start}, model -> {}",
        args.label.name(),
        epochs,
        out_dir.display()
    );
    let metrics = train_on(&compute, &library, &library_path, &options, &cancel, &mut on_event)?;
    bar.finish_and_clear();
    print_summary(&metrics, &out_dir);
    if let Some(path) = &args.metrics_out {
        let json = serde_json::to_vec_pretty(&metrics)?;
        write_atomically(path, |o| o.write_all(&json)).with_context(|| "cannot write the metrics")?;
        println!("metrics: {}", path.display());
    }
    Ok(if metrics.cancelled { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

fn report_event(bar: &ProgressBar, event: &TrainEvent, epochs: usize) {
    match event {
        TrainEvent::Prepared { classes, dropped, unlabelled, split_from_library, resumed_after_epoch } => {
            let source = if *split_from_library { "the library's split" } else { "a seeded stratified split" };
            bar.suspend(|| {
                println!("{} classes, {source} (training / validation / test tracks):", classes.len());
                for c in classes {
                    println!("  {:<24} {:>5} / {:>4} / {:>4}", c.label, c.training, c.validation, c.test);
                }
                for (label, n) in dropped {
                    println!(
                        "  left out: {label:?} has only {n} track(s) (need {})",
                        crate::model::MIN_TRACKS_PER_LABEL
                    );
                }
                if *unlabelled > 0 {
                    println!("  left out: {unlabelled} track(s) without this label");
                }
                if let Some(epoch) = resumed_after_epoch {
                    println!("resuming after epoch {epoch}");
                }
            });
        }
        TrainEvent::Step { epoch, step, steps, eta_seconds, .. } => {
            bar.set_prefix(format!("{epoch}/{epochs}"));
            bar.set_length(*steps as u64);
            bar.set_position(*step as u64);
            bar.set_message(format!("{:.0} s", eta_seconds));
        }
        TrainEvent::Epoch(m) => {
            let validation = match (m.validation_loss, m.validation_accuracy) {
                (Some(l), Some(a)) => format!("validation loss {l:.3} accuracy {a:.3}"),
                _ => "no validation set".into(),
            };
            bar.suspend(|| {
                println!(
                    "epoch {:>3}/{epochs}: train loss {:.3} accuracy {:.3} | {validation} | {:.1} s",
                    m.epoch, m.train_loss, m.train_accuracy, m.seconds
                )
            });
        }
        TrainEvent::Evaluating => bar.suspend(|| println!("evaluating the best model on every split…")),
    }
}

fn print_summary(m: &TrainingMetrics, out_dir: &Path) {
    let pct = |v: Option<f32>| v.map_or("n/a".to_string(), |a| format!("{:.1}%", a * 100.0));
    println!(
        "best epoch {} of {}{}; track-level accuracy: train {}, validation {}, test {}; {:.1} s per epoch on {}",
        m.best_epoch,
        m.epochs,
        if m.stopped_early { " (stopped early)" } else { "" },
        pct(Some(m.train_accuracy)),
        pct(m.validation_accuracy),
        pct(m.test_accuracy),
        m.seconds_per_epoch,
        m.device
    );
    println!("confusion matrix ({} split; rows: true, columns: predicted):", m.confusion_split);
    let width = m.labels.iter().map(|l| l.len()).max().unwrap_or(4).max(4);
    for (label, row) in m.labels.iter().zip(&m.confusion_matrix) {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:>4}")).collect();
        println!("  {label:<width$} {}", cells.join(""));
    }
    if let Some(c) = &m.against_classic {
        println!(
            "on the {} {} songs, against the classic descriptor (MFCC+Δ, contrast, chroma, ZCR): genre P@3 from other albums {:.3} vs {:.3} (chance {:.3}); logistic regression {:.3} vs {:.3}",
            c.songs, c.split, c.model_p_at_3, c.classic_p_at_3, c.chance_p_at_3, c.model_logistic, c.classic_logistic
        );
    }
    println!("model: {}", out_dir.display());
    if m.cancelled {
        println!("interrupted: continue with the same command and --resume");
    }
}

/// Only the progress bar of a training run (no per-epoch lines): for runs inside another job.
pub(super) fn report_progress(bar: &ProgressBar, event: &TrainEvent, epochs: usize) {
    if let TrainEvent::Step { .. } = event {
        report_event(bar, event, epochs);
    }
}
