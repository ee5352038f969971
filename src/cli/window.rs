//! `songspace [LIBRARY]`: the explorer window.

use std::process::ExitCode;

use anyhow::{Context, bail};

use super::WindowArgs;
use crate::app::{Script, WindowOptions, run_window};
use crate::explore::Explorer;

pub fn run(args: WindowArgs) -> anyhow::Result<ExitCode> {
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
