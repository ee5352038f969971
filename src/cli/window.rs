//! `songspace [LIBRARY]`: the explorer window.

use std::process::ExitCode;

use anyhow::{Context, bail};

use super::WindowArgs;
use crate::app::bench::{idle_update_ms, pick_ms, synthetic_explorer};
use crate::app::{Script, WindowOptions, run_window};
use crate::explore::Explorer;

pub fn run(args: WindowArgs) -> anyhow::Result<ExitCode> {
    if let Some(points) = args.bench_child {
        let options = WindowOptions {
            size: args.size.unwrap_or((1200, 760)),
            script: Script { bench_frames: Some(args.bench_count), ..Script::default() },
        };
        let exit = run_window(synthetic_explorer(points, 42), options);
        return Ok(if exit.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    if args.bench_frames {
        return bench_frames(&args.bench_points, args.bench_count);
    }
    let Some(library) = args.library else {
        bail!(
            "which library? `songspace <LIBRARY>` opens a library file or an imported music folder \
             (see `songspace --help` for the commands that make one)"
        )
    };
    let explorer = Explorer::open(&library)?;
    if explorer.is_empty() {
        bail!("{}: the map has no songs", explorer.library_path().display());
    }
    if let Some(path) = &args.screenshot {
        // The run ends when the new file appears, so an old one must not be mistaken for it.
        if path.exists() {
            std::fs::remove_file(path).with_context(|| format!("replacing {}", path.display()))?;
        }
    }
    let options = WindowOptions {
        size: args.size.unwrap_or((0, 0)),
        script: Script {
            screenshot: args.screenshot.clone(),
            select: args.select,
            filter_radius: args.filter,
            search: args.search,
            drop: args.drop,
            bench_frames: None,
        },
    };
    let exit = run_window(explorer, options);
    if let Some(path) = &args.screenshot {
        if !path.exists() {
            bail!("no screenshot was written to {} (the window could not draw; see the log above)", path.display());
        }
        println!("{}", path.display());
    }
    Ok(if exit.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs each window measurement in a child process (a process can open only one event loop)
/// and the headless one here, then prints the table.
fn bench_frames(points: &[usize], frames: usize) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("finding the songspace executable")?;
    println!(
        "| songs | frame, idle: mean / p95 (ms) | frame, orbiting: mean / p95 (ms) | explorer CPU per idle frame (ms) | picking a song (ms) |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for &n in points {
        let out = std::process::Command::new(&exe)
            .args(["--bench-child", &n.to_string(), "--bench-count", &frames.to_string()])
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("running {}", exe.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().find(|l| l.starts_with("frames ")) else {
            bail!("the {n}-song window run printed no measurement (exit {})", out.status);
        };
        let values: Vec<f64> = line.split_whitespace().skip(2).filter_map(|v| v.parse().ok()).collect();
        let [idle_mean, idle_p95, orbit_mean, orbit_p95] = values[..] else {
            bail!("unexpected measurement line {line:?}");
        };
        let explorer = synthetic_explorer(n, 42);
        let pick = pick_ms(&explorer, 40);
        let cpu = idle_update_ms(explorer, 300);
        println!("| {n} | {idle_mean:.1} / {idle_p95:.1} | {orbit_mean:.1} / {orbit_p95:.1} | {cpu:.3} | {pick:.2} |");
    }
    Ok(ExitCode::SUCCESS)
}
