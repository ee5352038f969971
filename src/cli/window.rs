//! `songspace [LIBRARY]`: the explorer window.

use std::process::ExitCode;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};

use super::WindowArgs;
use crate::app::bench::run_offscreen;
use crate::app::bench::{idle_update_ms, pick_ms, synthetic_explorer};
use crate::app::{Script, WindowOptions, run_window};
use crate::audio::is_audio_path;
use crate::explore::Explorer;
use crate::library::{is_demo_library, open_demo, resolve_library_path};
use crate::settings::{Settings, load_settings_or_defaults, save_settings, settings_path, state_dir};

pub fn run(args: WindowArgs) -> anyhow::Result<ExitCode> {
    if let Some(points) = args.bench_child {
        let size = args.size.unwrap_or((1200, 760));
        let script = Script { bench_frames: Some(args.bench_count), screenshot: args.screenshot, ..Script::default() };
        let explorer = synthetic_explorer(points, 42);
        let exit = if args.offscreen {
            run_offscreen(explorer, size, script)
        } else {
            run_window(explorer, WindowOptions { size, script, ..WindowOptions::default() })
        };
        return Ok(if exit.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    if args.bench_frames {
        return bench_frames(&args.bench_points, args.bench_count, args.offscreen, args.bench_shots.as_deref());
    }
    if args.offscreen {
        bail!("--offscreen goes with --bench-frames: the explorer itself needs a window");
    }
    if args.desktop {
        return run_with_log_in_state_folder();
    }
    let settings_path = settings_path();
    let (settings, warning) = load_settings_or_defaults(&settings_path);
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    // An audio file where the library goes (a file manager's "Open with") is dropped onto the
    // library that would open without it.
    let mut drops = args.drop;
    let library_arg = match args.library {
        Some(path) if path.is_file() && is_audio_path(&path) => {
            drops.insert(0, path);
            None
        }
        other => other,
    };
    let (library_path, on_demo) = choose_library(library_arg, &settings)?;
    eprintln!("opening {}{}", library_path.display(), if on_demo { " (the demo)" } else { "" });
    let mut explorer = Explorer::open(&library_path)?;
    if let Some(colour_by) = args.colour {
        explorer.set_colour_by(colour_by);
    }
    if explorer.is_empty() {
        bail!("{}: the map has no songs", explorer.library_path().display());
    }
    if cfg!(target_os = "linux") && ["DISPLAY", "WAYLAND_DISPLAY"].iter().all(|v| std::env::var_os(v).is_none()) {
        bail!(
            "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); \
             on a desktop, run songspace there (or under xvfb-run for screenshots)"
        );
    }
    if let Some(path) = &args.screenshot {
        // The run ends when the new file appears, so an old one must not be mistaken for it.
        if path.exists() {
            std::fs::remove_file(path).with_context(|| format!("replacing {}", path.display()))?;
        }
    }
    // A run that takes a screenshot and exits is not the user's session: it remembers nothing.
    let remember = args.screenshot.is_none();
    let first_start_hint = on_demo && !settings.hint_dismissed;
    let size = args.size.or(settings.window_size).unwrap_or((0, 0));
    let shared = Arc::new(Mutex::new(settings));
    let options = WindowOptions {
        size,
        script: Script {
            screenshot: args.screenshot.clone(),
            select: args.select,
            filter_radius: args.filter,
            search: args.search,
            drop: drops,
            bench_frames: None,
            hold_seconds: args.hold,
            train: args.train.map(|epochs| crate::workflow::TrainRequest {
                label: crate::model::LabelKind::Genre,
                device: args.train_device,
                epochs,
                seed: 42,
                from_scratch: false,
            }),
            dialog: args.dialog,
            show: args.show.clone(),
        },
        settings: Arc::clone(&shared),
        first_start_hint,
    };
    let exit = run_window(explorer, options);
    if remember {
        let settings = shared.lock().map(|s| s.clone()).unwrap_or_default();
        if let Err(e) = save_settings(&settings_path, &settings) {
            eprintln!("warning: the settings were not saved: {e}");
        }
    }
    if let Some(path) = &args.screenshot {
        if !path.exists() {
            bail!("no screenshot was written to {} (the window could not draw; see the log above)", path.display());
        }
        println!("{}", path.display());
    }
    Ok(if exit.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The library given, else the last one opened, else the demo; and whether it is the demo.
fn choose_library(given: Option<PathBuf>, settings: &Settings) -> anyhow::Result<(PathBuf, bool)> {
    if let Some(path) = given {
        let resolved = resolve_library_path(&path)?;
        let on_demo = is_demo_library(&resolved);
        return Ok((resolved, on_demo));
    }
    if let Some(last) = &settings.last_library {
        match resolve_library_path(last) {
            Ok(resolved) => return Ok((resolved, false)),
            Err(e) => eprintln!("notice: the last library is not there any more ({e}); opening the demo"),
        }
    }
    let demo = open_demo().context("opening the bundled demo library")?;
    Ok((demo, true))
}

/// Started from the desktop menu there is no terminal: this process runs songspace again, with
/// the same arguments but its output going to `songspace.log` in the XDG state folder (the
/// previous run's log is kept as `songspace.log.1`), and exits as it does. Everything is caught
/// that way, panics and the graphics drivers' messages included.
fn run_with_log_in_state_folder() -> anyhow::Result<ExitCode> {
    let dir = state_dir();
    let log = dir.join("songspace.log");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _ = std::fs::rename(&log, dir.join("songspace.log.1"));
    let file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let exe = std::env::current_exe().context("finding the songspace executable")?;
    let args = std::env::args_os().skip(1).filter(|a| a != "--desktop");
    let status = std::process::Command::new(&exe)
        .args(args)
        // A log file, not a terminal: no colour codes (the log's formatter honours NO_COLOR).
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone().with_context(|| format!("opening {}", log.display()))?)
        .stderr(file)
        .status()
        .with_context(|| format!("running {}", exe.display()))?;
    Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs each window measurement in a child process (a process can open only one event loop)
/// and the headless one here, then prints the table.
fn bench_frames(points: &[usize], frames: usize, offscreen: bool, shots: Option<&Path>) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("finding the songspace executable")?;
    if let Some(dir) = shots {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if offscreen {
        println!("No window: the 3D view, 1200 × 760, drawn into an image, each frame waited for on the GPU.");
    }
    let mut adapters = Vec::new();
    println!(
        "| songs | frame, idle: mean / p95 (ms) | frame, orbiting: mean / p95 (ms) | explorer CPU per idle frame (ms) | picking a song: kd-tree / scan (ms), ratio |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for &n in points {
        let mut child = std::process::Command::new(&exe);
        child.args(["--bench-child", &n.to_string(), "--bench-count", &frames.to_string()]);
        if offscreen {
            child.arg("--offscreen");
        }
        let shot = shots.map(|dir| dir.join(format!("frames-{n}.png")));
        if let Some(path) = &shot {
            // The child ends once the file is there: an earlier run's must not be taken for it.
            if path.exists() {
                std::fs::remove_file(path).with_context(|| format!("replacing {}", path.display()))?;
            }
            child.arg("--screenshot").arg(path);
        }
        let out = child
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("running {}", exe.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(adapter) = text.lines().find_map(|l| l.strip_prefix("adapter ")) {
            adapters.push(format!("{n} songs: {adapter}"));
        }
        let Some(line) = text.lines().find(|l| l.starts_with("frames ")) else {
            bail!("the {n}-song window run printed no measurement (exit {})", out.status);
        };
        if let Some(path) = shot.as_ref().filter(|p| !p.is_file()) {
            bail!("the {n}-song run saved no frame to {} (exit {})", path.display(), out.status);
        }
        let values: Vec<f64> = line.split_whitespace().skip(2).filter_map(|v| v.parse().ok()).collect();
        let [idle_mean, idle_p95, orbit_mean, orbit_p95] = values[..] else {
            bail!("unexpected measurement line {line:?}");
        };
        let explorer = synthetic_explorer(n, 42);
        let (pick, scan) = pick_ms(&explorer, 40);
        let cpu = idle_update_ms(explorer, 300);
        println!(
            "| {n} | {idle_mean:.1} / {idle_p95:.1} | {orbit_mean:.1} / {orbit_p95:.1} | {cpu:.3} | {pick:.3} / {scan:.2}, {:.4} |",
            pick / scan
        );
    }
    println!();
    for adapter in adapters {
        println!("drawn by {adapter}");
    }
    Ok(ExitCode::SUCCESS)
}
