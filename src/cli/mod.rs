//! The command line: parsing, then one function per command. Errors go up as `anyhow` and are
//! printed once, by `main`.

mod import;
mod info;
mod mel;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "songspace",
    version,
    about = "See your music: every song a point in a 3D space, placed by what it sounds like."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import a music folder (Free Music Archive layout or any folder of tagged audio) into a
    /// library, analysing every new or changed file. Interrupt and re-run at will: it resumes.
    Import {
        /// The music folder.
        dir: PathBuf,
        /// The library file to create or update [default: one per folder in the XDG data folder].
        #[arg(long)]
        library: Option<PathBuf>,
        /// Analysis threads [default: one per core].
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Describe a library: tracks, genres, what is computed, files missing on disk.
    Info {
        /// A library file, or a music folder imported with the default library location.
        library: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write the log-mel spectrogram of an audio file as a float32 .npy of shape (128, frames),
    /// as librosa computes it at 22,050 Hz (n_fft 2048, hop 512, Slaney mel, power to dB).
    Mel {
        audio: PathBuf,
        #[arg(long, short)]
        out: PathBuf,
    },
}

/// Runs the command line given as `args` (program name first).
pub fn run(args: impl IntoIterator<Item = OsString>) -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; clap knows how to print both.
            let code = if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
            let _ = e.print();
            return Ok(code);
        }
    };
    match cli.command {
        Command::Import { dir, library, threads } => import::run(&dir, library.as_deref(), threads),
        Command::Info { library, json } => info::run(&library, json),
        Command::Mel { audio, out } => mel::run(&audio, &out),
    }
}
