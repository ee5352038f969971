use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use indicatif::{ProgressBar, ProgressStyle};

use crate::library::{ImportEvent, ImportOptions, SourceKind, default_library_path, import_folder, load_library};
use crate::model::{ModelForNewTracks, embed_library, model_for_new_tracks};

pub fn run(dir: &Path, library: Option<&Path>, threads: usize) -> anyhow::Result<ExitCode> {
    let library_path = library.map_or_else(|| default_library_path(dir), Path::to_path_buf);
    let cancel = super::cancel_on_ctrl_c("finishing the files in progress and saving");
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:32}] {pos}/{len} tracks, {per_sec}, ETA {eta} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let options = ImportOptions { threads, ..ImportOptions::default() };
    let mut on_event = |event: &ImportEvent| match event {
        ImportEvent::Scanned { found, to_analyse, source } => {
            let layout = match source {
                SourceKind::Fma => "Free Music Archive layout",
                SourceKind::Folder => "folder of audio files",
            };
            // Always printed, not only on a terminal (where the bar and its println live).
            bar.suspend(|| println!("{}: {layout}, {found} audio files, {to_analyse} to analyse", dir.display()));
            bar.set_length(*to_analyse as u64);
        }
        ImportEvent::Progress { done, path, rejected, .. } => {
            bar.set_position(*done as u64);
            bar.set_message(path.display().to_string());
            // On a terminal, say it as it happens; the summary below lists every skipped file anyway.
            if let Some(reason) = rejected {
                bar.println(format!("skipped {}: {reason}", path.display()));
            }
        }
    };
    let report = import_folder(dir, &library_path, &options, &cancel, &mut on_event)?;
    bar.finish_and_clear();

    println!("library: {}", report.library_path.display());
    println!(
        "{} tracks in the library: {} imported, {} recovered from an interrupted run, {} unchanged, {} removed (file gone)",
        report.total_tracks, report.imported, report.recovered, report.unchanged, report.removed
    );
    if report.listed_but_absent > 0 {
        println!("{} tracks listed in tracks.csv have no audio file here (not imported)", report.listed_but_absent);
    }
    if !report.rejected.is_empty() {
        println!("{} files skipped:", report.rejected.len());
        for r in &report.rejected {
            println!("  {}: {}", r.path.display(), r.reason);
        }
    }
    if report.cancelled {
        println!("interrupted: run the same command again to continue");
        return Ok(ExitCode::from(130));
    }
    if report.nothing_imported() {
        eprintln!("error: nothing could be imported from {}", dir.display());
        return Ok(ExitCode::FAILURE);
    }
    embed_new_tracks(&report.library_path, &cancel);
    Ok(ExitCode::SUCCESS)
}

/// Embeds the tracks that have none yet, with the model that made the library's embeddings or
/// else the shipped one. The import itself succeeded either way, so a problem here is a notice.
fn embed_new_tracks(library_path: &Path, cancel: &AtomicBool) {
    let Ok(mut library) = load_library(library_path) else { return };
    let model_dir = match model_for_new_tracks(&library) {
        ModelForNewTracks::Model(dir) => dir,
        ModelForNewTracks::EmbeddingsFromFile(path) => {
            println!("embeddings: loaded from {}; new tracks have none until you embed again", path.display());
            return;
        }
        ModelForNewTracks::NoModel => return,
    };
    match embed_library(&mut library, library_path, &model_dir, cancel, &|_, _| {}) {
        Ok(r) => println!("embeddings: {} computed, {} kept (model {})", r.computed, r.reused, model_dir.display()),
        Err(e) => println!("embeddings: not computed ({e})"),
    }
}
