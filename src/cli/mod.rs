//! The command line: parsing, then one function per command. Errors go up as `anyhow` and are
//! printed once, by `main`.

mod clusters;
mod desktop;
mod embed;
mod evaluate;
mod exchange;
mod generate;
mod import;
mod info;
mod listen;
mod map;
mod mel;
mod playlist;
mod train;
mod tsne;
mod window;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::library::ExchangeFormat;
use crate::model::{DeviceChoice, LabelKind};
use crate::space::{Metric, ProjectionMethod};

#[derive(Debug, Parser)]
#[command(
    name = "songspace",
    version,
    about = "See your music: every song a point in a 3D space, placed by what it sounds like."
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// Without a command: open the explorer window on a library.
#[derive(Debug, clap::Args)]
pub struct WindowArgs {
    /// The library to explore: a library file, or a music folder imported with the default
    /// library location. It needs embeddings and a map (`songspace embed`, `songspace project`).
    /// Without it: the library opened last, else the bundled demo. An audio file here is dropped
    /// onto that library.
    pub library: Option<PathBuf>,
    /// Render the first settled frame to this PNG and exit.
    #[arg(long, value_name = "FILE.png")]
    pub screenshot: Option<PathBuf>,
    /// Select this track (by id) when the window opens.
    #[arg(long, value_name = "TRACK_ID")]
    pub select: Option<u64>,
    /// Set the distance filter to this radius (with --select).
    #[arg(long, value_name = "D", requires = "select")]
    pub filter: Option<f32>,
    /// Type this into the search box.
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Drop this audio file onto the window when it opens (repeatable): it is placed on the map,
    /// added to the library and selected.
    #[arg(long, value_name = "AUDIO")]
    pub drop: Vec<PathBuf>,
    /// With --screenshot: first keep the window open this many seconds for input from outside
    /// (xdotool), after printing where every song is on screen.
    #[arg(long, value_name = "SECONDS", requires = "screenshot")]
    pub hold: Option<f32>,
    /// With --screenshot: start training from the training panel (this many epochs), wait for it,
    /// the new embeddings and the new map, then take the screenshot of the panel's plots.
    #[arg(long, value_name = "EPOCHS", requires = "screenshot")]
    pub train: Option<usize>,
    /// Where --train runs.
    #[arg(long, value_name = "DEVICE", default_value = "auto", requires = "train")]
    pub train_device: crate::model::DeviceChoice,
    /// With --screenshot and --hold: open this file dialog when the window opens, for input from
    /// outside to answer it; the job it asks for runs before the screenshot.
    #[arg(long, value_name = "DIALOG", requires = "hold")]
    pub dialog: Option<crate::app::menu::DialogKind>,
    /// Colour the songs by this when the window opens (and remember it for the library, as the
    /// legend's "Colour by" does).
    #[arg(long, value_enum, value_name = "BY")]
    pub colour: Option<crate::library::ColourBy>,
    /// Open these windows when the window opens (repeatable): train, map, jobs, about.
    #[arg(long, value_name = "WINDOW")]
    pub show: Vec<crate::app::ShownWindow>,
    /// Window size in logical pixels.
    #[arg(long, value_name = "WIDTHxHEIGHT", value_parser = parse_size)]
    pub size: Option<(u32, u32)>,
    /// Measure frame times on synthetic clouds (10k, 100k and 1M songs by default) and print a
    /// table: whole frames in a window, idle and orbiting, and the explorer's CPU time per frame.
    #[arg(long, conflicts_with_all = ["library", "screenshot"])]
    pub bench_frames: bool,
    /// Song counts for --bench-frames, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000", requires = "bench_frames")]
    pub bench_points: Vec<usize>,
    /// Frames measured per phase for --bench-frames.
    #[arg(long, default_value_t = 300)]
    pub bench_count: usize,
    /// --bench-frames with no window: the view drawn into an image on the GPU, each frame
    /// waited for (for a machine with a GPU and no display).
    #[arg(long)]
    pub offscreen: bool,
    /// --bench-frames: save each size's last frame as DIR/frames-<songs>.png.
    #[arg(long, value_name = "DIR", requires = "bench_frames")]
    pub bench_shots: Option<PathBuf>,
    /// Started from the desktop menu: log to the XDG state folder instead of the terminal.
    #[arg(long)]
    pub desktop: bool,
    /// One window measurement of --bench-frames (run by it, in a process of its own).
    #[arg(long, hide = true)]
    pub bench_child: Option<usize>,
}

fn parse_smoothing(text: &str) -> Result<f32, String> {
    let value: f32 = text.parse().map_err(|e| format!("{text:?} is not a number ({e})"))?;
    if (0.0..1.0).contains(&value) { Ok(value) } else { Err(format!("{value} is outside [0, 1)")) }
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(|| format!("expected WIDTHxHEIGHT, got {text:?}"))?;
    let parse = |v: &str| v.trim().parse::<u32>().ok().filter(|&n| (100..=8192).contains(&n));
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!("expected WIDTHxHEIGHT with each between 100 and 8192, got {text:?}")),
    }
}

/// The t-SNE settings `project` and `tsne` take.
#[derive(Debug, clap::Args)]
pub struct TsneOptions {
    /// t-SNE perplexity [default: 30; clamped to (points − 1) / 3].
    #[arg(long)]
    perplexity: Option<f32>,
    /// Seed of the jitter added to the PCA start [default: 42]; the same seed gives the same map.
    #[arg(long)]
    seed: Option<u64>,
    /// t-SNE iterations in all [default: 500, the first 150 with early exaggeration].
    #[arg(long)]
    iterations: Option<usize>,
    /// Threads for the t-SNE [default: one per core]; the map is the same on any number.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

impl TsneOptions {
    /// Sets what was given, checked.
    fn apply(&self, settings: &mut crate::space::TsneSettings) -> anyhow::Result<()> {
        if let Some(p) = self.perplexity {
            anyhow::ensure!(p.is_finite() && p >= 1.0, "--perplexity must be a number of at least 1 (got {p})");
            settings.perplexity = p;
        }
        if let Some(seed) = self.seed {
            settings.seed = seed;
        }
        if let Some(iterations) = self.iterations {
            anyhow::ensure!(iterations > 0, "--iterations must be at least 1");
            settings.iterations = iterations;
            // Exaggeration takes the usual first 30% at most, so short runs still converge.
            let usual = crate::space::TsneSettings::default().exaggeration_iterations;
            settings.exaggeration_iterations = usual.min(iterations * 3 / 10);
        }
        Ok(())
    }

    /// The threads asked for, 0 for one per core.
    fn threads(&self) -> usize {
        self.threads.map_or(0, usize::from)
    }
}

/// What `songspace generate` writes.
#[derive(Debug, Subcommand)]
pub enum Generated {
    /// The man pages: songspace.1 and one per command (songspace-import.1, …).
    Man {
        /// The folder to write them into.
        #[arg(long, short)]
        out: PathBuf,
    },
    /// A shell's completion script, to standard output.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// The desktop menu entry for songspace installed on the PATH, to standard output.
    DesktopEntry,
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
        #[arg(required_unless_present = "demo")]
        library: Option<PathBuf>,
        /// Describe the bundled demo library instead.
        #[arg(long, conflicts_with = "library")]
        demo: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write what a package installs beside the program: the man pages, a shell's completion
    /// script or the desktop menu entry (tools/package.sh uses it).
    Generate {
        #[command(subcommand)]
        what: Generated,
    },
    /// Add songspace to the desktop's application menu: the program, the shipped model and the
    /// demo are copied into the XDG data folders, with a .desktop entry and an icon.
    InstallDesktop {
        /// Remove what install-desktop added instead (the libraries and settings stay).
        #[arg(long)]
        uninstall: bool,
    },
    /// Write the log-mel spectrogram of an audio file as a float32 .npy of shape (128, frames),
    /// as librosa computes it at 22,050 Hz (n_fft 2048, hop 512, Slaney mel, power to dB).
    Mel {
        audio: PathBuf,
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Train the song model (a CNN over log-mel patches) to recognise a label; its last hidden
    /// layer becomes the 32-dim embedding. Checkpoints every epoch; Ctrl-C, then --resume.
    Train {
        library: PathBuf,
        /// What to learn: a tag (genre, artist, album), or none: learn from the music itself,
        /// two excerpts of one song as a pair (self-supervised; for libraries without tags).
        #[arg(long, default_value = "genre", value_parser = ["genre", "artist", "album", "none"])]
        label: String,
        #[command(flatten)]
        recipe: RecipeArgs,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Model folder [default: `model/` beside the library].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the metrics (accuracies, confusion matrix, history) as JSON.
        #[arg(long)]
        metrics_out: Option<PathBuf>,
        /// Continue from the last checkpoint in the model folder.
        #[arg(long)]
        resume: bool,
    },
    /// Compute every track's 32-dim embedding with a model (default: the shipped one). Tracks
    /// already embedded by the same model are kept.
    Embed {
        library: PathBuf,
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Write the library's embeddings or map positions to a file.
    Export {
        library: PathBuf,
        #[arg(long, value_enum)]
        what: ExportWhat,
        /// csv: track_id,e0,…; tsv: the TensorBoard projector pair (FILE and FILE.metadata.tsv); ron.
        #[arg(long, value_enum, default_value = "csv")]
        format: FormatArg,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Judge embeddings against hand-made features (MFCC with deltas, spectral contrast, chroma,
    /// zero-crossing rate, log-mel bands) on every song with a genre, with album-disjoint folds:
    /// genre precision of the 3 and 10 nearest songs from other albums, same-album share, and
    /// logistic-regression accuracy, each as mean ± spread over folds and seeds.
    Evaluate {
        library: PathBuf,
        /// Model folder whose embeddings to judge [default: the shipped model].
        #[arg(long, conflicts_with = "library_embeddings")]
        model: Option<PathBuf>,
        /// Judge the embeddings saved with the library (from any model or file) instead.
        #[arg(long)]
        library_embeddings: bool,
        /// Folds of whole albums.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(2..=50))]
        folds: u16,
        /// Seeds of the fold assignment (and, with --train, of training), comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
        seeds: Vec<u64>,
        /// Judge the training recipe instead of a fixed model: for every seed and fold, train a
        /// model on the other folds' albums and judge it on the fold's (slow: one training run
        /// per fold and seed).
        #[arg(long, conflicts_with_all = ["model", "library_embeddings"])]
        train: bool,
        /// With --train: what the fold models learn (genre, or none: self-supervised, judged on
        /// the genres all the same).
        #[arg(long, default_value = "genre", value_parser = ["genre", "none"], requires = "train")]
        label: String,
        /// With --train: write each fold model's embedding and class probabilities of every song
        /// (seed<S>-fold<F>.csv, with each song's split) and the classic descriptor
        /// (classic.csv) to this folder, to try other classifiers on the same folds
        /// (tools/measure-fold-classifiers.py).
        #[arg(long, value_name = "DIR", requires = "train")]
        fold_vectors: Option<PathBuf>,
        #[command(flatten)]
        recipe: RecipeArgs,
        #[arg(long)]
        json: bool,
    },
    /// Load embeddings made elsewhere (.csv, projector .tsv pair, or .ron) into a library.
    ImportEmbeddings { library: PathBuf, file: PathBuf },
    /// Lay the library's embeddings out in 3D (t-SNE, or PCA). Options given are saved in the
    /// library; the map is recomputed only when the embeddings or the settings change.
    Project {
        library: PathBuf,
        #[arg(long, value_enum)]
        method: Option<ProjectionMethod>,
        #[command(flatten)]
        tsne: TsneOptions,
        /// t-SNE learning rate for every phase [default: 4 × tracks / exaggeration, at least 200].
        #[arg(long)]
        learning_rate: Option<f32>,
        /// Recompute even if the saved map is current.
        #[arg(long)]
        force: bool,
    },
    /// Map any vectors to 3D with the map's t-SNE, with no library: a CSV whose first column
    /// names each row (as `export` writes embeddings) or a projector TSV (with its
    /// .metadata.tsv, if any). Writes NAME,x,y,z in the input's order.
    Tsne {
        /// The vectors: FILE.csv (header, then NAME,v1,v2,…) or FILE.tsv.
        input: PathBuf,
        /// The positions file to write (CSV).
        #[arg(short, long, value_name = "POSITIONS.csv")]
        out: PathBuf,
        #[command(flatten)]
        tsne: TsneOptions,
    },
    /// Families of songs the map found by itself: k-means clusters in embedding space, each
    /// with its size, genres, typical tempo, loudness, brightness, onsets and dynamics against
    /// the library's, the songs nearest its centre, and a name made from that profile.
    Clusters {
        library: PathBuf,
        /// How many clusters [default: the k from 2 to 12 with the best silhouette].
        #[arg(short, value_parser = clap::value_parser!(u16).range(1..=1000))]
        k: Option<u16>,
        /// The same seed gives the same clusters.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The tracks nearest a track in embedding space, with their distance there and on the map.
    Neighbours {
        library: PathBuf,
        track_id: u64,
        #[arg(short, default_value_t = 3)]
        k: usize,
        #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
        metric: Metric,
    },
    /// Songs to listen to next, from songs you like: the songs nearest them in embedding space,
    /// never one you like, each with the liked songs it is nearest to.
    Recommend {
        library: PathBuf,
        /// A liked track's id (repeat for each); default: the songs liked in the window.
        #[arg(long = "like", num_args = 1..)]
        liked: Vec<u64>,
        #[arg(short, default_value_t = 10)]
        k: usize,
        /// union: each liked song's own neighbours (default); mean: the songs nearest the mean of
        /// the liked songs' vectors.
        #[arg(long, value_enum, default_value_t = crate::explore::listen::RecommendMethod::Union)]
        method: crate::explore::listen::RecommendMethod,
        #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
        metric: Metric,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A path of short, even steps through embedding space from one song to another, printed in
    /// order with each step's distance; -o also writes it as an M3U8 playlist.
    Path {
        library: PathBuf,
        from_id: u64,
        to_id: u64,
        /// Exactly this many steps (evenly spaced on the line between the two songs); default:
        /// the shortest path through each song's 10 nearest.
        #[arg(long)]
        steps: Option<usize>,
        /// Write the path as an extended M3U playlist (.m3u8).
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Save the path as a playlist of the library, with this name.
        #[arg(long)]
        save: Option<String>,
        #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
        metric: Metric,
    },
    /// The library's playlists: list, show, export (M3U8 or CSV), import, delete.
    Playlist {
        library: PathBuf,
        #[command(subcommand)]
        action: playlist::PlaylistAction,
    },
    /// Place an audio file on the library's map without recomputing it: its position and its
    /// nearest tracks. --add keeps it in the library.
    Locate {
        library: PathBuf,
        audio: PathBuf,
        #[arg(long)]
        add: bool,
        #[arg(short, default_value_t = 3)]
        k: usize,
        #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
        metric: Metric,
        /// Also print where the time went.
        #[arg(long, short)]
        verbose: bool,
    },
}

/// How a model is trained: shared by `train` and `evaluate --train`.
#[derive(Debug, Clone, clap::Args)]
pub struct RecipeArgs {
    /// gpu (wgpu), cpu, or auto: the GPU when a real one is usable, else the CPU.
    #[arg(long, default_value = "auto", value_parser = ["gpu", "cpu", "auto"])]
    pub device: String,
    #[arg(long, default_value_t = 40)]
    pub epochs: usize,
    /// Warm-up epochs before the best epoch is chosen and early stopping may end the run.
    /// [default: 8 from scratch, 3 when fine-tuning]
    #[arg(long)]
    pub min_epochs: Option<usize>,
    /// Weight of the past in the smoothed validation loss that chooses the best epoch, in
    /// [0, 1) (0: the raw loss).
    #[arg(long, default_value_t = 0.5, value_parser = parse_smoothing)]
    pub loss_smoothing: f32,
    /// How the network pools its features over time before the embedding layer.
    #[arg(long, value_enum, default_value_t = Pooling::MeanMax)]
    pub pooling: Pooling,
    /// Weight of a contrastive term that pulls songs of one label from different albums
    /// together (0: cross-entropy alone).
    #[arg(long, default_value_t = 0.0)]
    pub contrastive_weight: f32,
    /// Give the embedding layer each mel band's mean, spread and spread of change over the
    /// patch beside the convolutions' features (the statistics classic descriptors use).
    #[arg(long)]
    pub input_statistics: bool,
    /// Start from random weights instead of fine-tuning the shipped model.
    #[arg(long)]
    pub from_scratch: bool,
    /// When fine-tuning with labels, fit the new classifier head to the base's features with
    /// the base held fixed before fine-tuning all of it (linear probing first).
    #[arg(long, conflicts_with = "from_scratch")]
    pub probe_head: bool,
    /// Fine-tune this model folder instead of the shipped model.
    #[arg(long, conflicts_with = "from_scratch")]
    pub base: Option<PathBuf>,
    /// With --label none: a vectors file named by track id (`track_id,e0,…`) from a stronger
    /// model, which the network learns to predict from each song's patches beside the
    /// contrastive objective (see tools/teacher/README.md).
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Weight of the teacher's squared error beside the contrastive loss.
    #[arg(long, default_value_t = 1.0)]
    pub teacher_weight: f32,
    /// Patches per training step (with --label none: pairs of views, so twice the songs
    /// compared with each other).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(4..=1024))]
    pub batch_size: u16,
    /// With --label none: compare the two views through a projection of this many values on
    /// the embedding, not on the embedding itself (0: on the embedding).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub projection: u16,
    /// Run every epoch and keep the mean of the weights of the last N epochs instead of the
    /// epoch with the best validation loss (0: the best epoch).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1000))]
    pub average_last: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pooling {
    /// Mean and maximum over time.
    MeanMax,
    /// Mean and standard deviation over time (statistics pooling).
    MeanStd,
}

impl RecipeArgs {
    /// The training options these flags describe, writing the model to `out_dir`.
    pub fn options(&self, out_dir: std::path::PathBuf) -> crate::model::TrainOptions {
        let mut options = crate::model::TrainOptions::new(out_dir);
        options.epochs = self.epochs;
        if let Some(min_epochs) = self.min_epochs {
            options.min_epochs = min_epochs;
        }
        options.loss_smoothing = self.loss_smoothing;
        options.std_pooling = self.pooling == Pooling::MeanStd;
        options.contrastive_weight = self.contrastive_weight;
        options.input_statistics = self.input_statistics;
        options.probe_head = self.probe_head;
        options.teacher = self.teacher.clone();
        options.teacher_weight = self.teacher_weight;
        options.batch_size = usize::from(self.batch_size);
        options.projection_dims = usize::from(self.projection);
        options.average_last_epochs = usize::from(self.average_last);
        options
    }

    /// The model to start from for `library`: --base, else the shipped model when its analysis
    /// settings are the library's, else none (with a line saying why) or --from-scratch.
    pub fn base_for(&self, library: &crate::library::Library) -> anyhow::Result<(Option<PathBuf>, String)> {
        if self.from_scratch {
            return Ok((None, "from random weights (--from-scratch)".into()));
        }
        if let Some(base) = &self.base {
            let info = crate::model::load_model_info(base)?;
            crate::model::check_compatible(&info, base, &library.mel)?;
            return Ok((Some(base.clone()), format!("fine-tuning {}", base.display())));
        }
        Ok(match crate::model::fine_tuning_base(&library.mel) {
            Ok(shipped) => {
                let line = format!("fine-tuning the shipped model {}", shipped.display());
                (Some(shipped), line)
            }
            Err(why) => (None, format!("from random weights: {why}")),
        })
    }

    /// Sets where training starts ([`Self::base_for`]): fine-tuning has a shorter warm-up unless
    /// --min-epochs says otherwise.
    pub fn start_from(&self, options: &mut crate::model::TrainOptions, base: Option<PathBuf>) {
        if let Some(base) = base {
            options.fine_tune(base);
            if let Some(min_epochs) = self.min_epochs {
                options.min_epochs = min_epochs;
            }
        }
    }

    pub fn device(&self) -> anyhow::Result<DeviceChoice> {
        self.device.parse::<DeviceChoice>().map_err(anyhow::Error::msg)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportWhat {
    /// track_id and the embedding's components.
    Embeddings,
    /// track_id,x,y,z: the map (csv only).
    Positions,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Tsv,
    Ron,
}

impl From<FormatArg> for ExchangeFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Csv => Self::Csv,
            FormatArg::Tsv => Self::ProjectorTsv,
            FormatArg::Ron => Self::Ron,
        }
    }
}

/// A cancel flag raised by the first Ctrl-C (the job stops at its next safe point, saying
/// `notice`); a second Ctrl-C quits at once, which is safe because every file is written
/// atomically.
fn cancel_on_ctrl_c(notice: &'static str) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let cancel = std::sync::Arc::new(AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&cancel);
    // Fails only if a handler is already set, and each command sets one.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: {notice} (Ctrl-C again to quit now)");
    });
    cancel
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
    let Some(command) = cli.command else { return window::run(cli.window) };
    match command {
        Command::Import { dir, library, threads } => import::run(&dir, library.as_deref(), threads),
        Command::Info { library: Some(library), json, .. } => info::run(&library, json),
        Command::Info { library: None, json, .. } => {
            let demo = crate::library::open_demo().context("opening the bundled demo library")?;
            info::run(&demo, json)
        }
        Command::Generate { what: Generated::Man { out } } => generate::man_pages(&out),
        Command::Generate { what: Generated::Completions { shell } } => generate::completions(shell),
        Command::Generate { what: Generated::DesktopEntry } => generate::desktop_entry(),
        Command::InstallDesktop { uninstall: false } => desktop::install(),
        Command::InstallDesktop { uninstall: true } => desktop::uninstall(),
        Command::Mel { audio, out } => mel::run(&audio, &out),
        Command::Train { library, label, recipe, seed, out, metrics_out, resume } => train::run(train::Args {
            library,
            label: label.parse::<LabelKind>().map_err(anyhow::Error::msg)?,
            recipe,
            seed,
            out,
            metrics_out,
            resume,
        }),
        Command::Embed { library, model } => embed::run(&library, model.as_deref()),
        Command::Export { library, what: ExportWhat::Embeddings, format, out } => {
            exchange::export(&library, format.into(), &out)
        }
        Command::Export { library, what: ExportWhat::Positions, format: FormatArg::Csv, out } => {
            map::export_positions(&library, &out)
        }
        Command::Export { what: ExportWhat::Positions, .. } => {
            anyhow::bail!("positions are exported as csv only (track_id,x,y,z): use --format csv")
        }
        Command::ImportEmbeddings { library, file } => exchange::import(&library, &file),
        Command::Evaluate {
            library,
            model,
            library_embeddings,
            folds,
            seeds,
            train,
            label,
            fold_vectors,
            recipe,
            json,
        } => evaluate::run(evaluate::Args {
            library,
            model,
            library_embeddings,
            folds: usize::from(folds),
            seeds,
            train: train.then_some(recipe),
            label: label.parse::<LabelKind>().map_err(anyhow::Error::msg)?,
            fold_vectors,
            json,
        }),
        Command::Project { library, method, tsne, learning_rate, force } => {
            map::project(map::ProjectArgs { library, method, tsne, learning_rate, force })
        }
        Command::Tsne { input, out, tsne } => tsne::run(&input, &out, &tsne),
        Command::Clusters { library, k, seed, json } => clusters::run(&library, k.map(usize::from), seed, json),
        Command::Neighbours { library, track_id, k, metric } => map::neighbours(&library, track_id, k, metric),
        Command::Recommend { library, liked, k, method, metric, json } => {
            listen::recommend(&library, &liked, k, method, metric, json)
        }
        Command::Path { library, from_id, to_id, steps, out, save, metric } => {
            listen::path(&library, from_id, to_id, steps, out.as_deref(), save.as_deref(), metric)
        }
        Command::Playlist { library, action } => playlist::run(&library, action),
        Command::Locate { library, audio, add, k, metric, verbose } => {
            map::locate(map::LocateArgs { library, audio, add, k, metric, verbose })
        }
    }
}

/// A length in seconds as `h:mm:ss` or `m:ss`.
fn format_minutes(seconds: f32) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m}:{s:02}") }
}
