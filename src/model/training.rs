//! The training engine: a hand-written loop with progress events and a cancel flag, so the
//! command line and the window can both drive it. Generic over the backend, so the GPU (wgpu) and
//! the CPU (burn Flex) run the same code.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, Optimizer, decay::WeightDecayConfig};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use super::average::WeightAverage;
use super::data::{Normaliser, Prng, augmented_patch, mask_patch, track_patches};
use super::evaluate::{HeldOutComparison, compare_on_held_out};
use super::net::{EmbeddingNet, NetConfig};
use super::sharded::{BatchGradients, CPU_TRAINING_SHARDS, batch_gradients};
use super::store::{ModelInfo, check_compatible, load_model, save_model};
use super::teacher::Teacher;
use crate::audio::LogMel;
use crate::error::{FileError, FileProblem, ModelError, TrainError};
use crate::fsutil::write_atomically;
use crate::library::{FeatureCache, Library, Split, Track};

/// What the classifier learns to recognise; the embedding is its by-product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabelKind {
    Genre,
    Artist,
    Album,
    /// No labels: learn from the music itself (two excerpts of one song are a positive pair;
    /// songs of other albums are the negatives). For libraries without genre tags.
    None,
}

impl LabelKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Genre => "genre",
            Self::Artist => "artist",
            Self::Album => "album",
            Self::None => "none",
        }
    }

    fn of(self, track: &Track) -> Option<String> {
        let text = match self {
            Self::Genre => track.genre.clone()?,
            Self::Artist => track.artist.clone(),
            Self::Album => track.album.clone(),
            Self::None => SELF_SUPERVISED_LABEL.to_string(),
        };
        Some(text).filter(|t| !t.trim().is_empty())
    }
}

impl std::str::FromStr for LabelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "genre" => Ok(Self::Genre),
            "artist" => Ok(Self::Artist),
            "album" => Ok(Self::Album),
            "none" => Ok(Self::None),
            other => Err(format!("unknown label {other:?} (use genre, artist, album or none)")),
        }
    }
}

/// The one class of a self-supervised model (its classifier head is not trained).
const SELF_SUPERVISED_LABEL: &str = "music";

/// Labels with fewer tracks than this cannot be split and learned; they are reported and left out.
pub const MIN_TRACKS_PER_LABEL: usize = 3;

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub label: LabelKind,
    pub epochs: usize,
    pub seed: u64,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Patches drawn per training track and epoch.
    pub patches_per_track: usize,
    /// Epochs without a better (smoothed) validation loss before stopping.
    pub patience: usize,
    /// Epochs of warm-up: the model is saved after each, but the choice of the best epoch and
    /// early stopping start only after them. On a small validation set the loss is noisy and
    /// often lowest after 2 or 3 epochs, long before the embedding has formed; choosing that
    /// epoch is what left some seeds with a collapsed model.
    pub min_epochs: usize,
    /// Weight of the past in the exponential smoothing of the validation loss that picks the
    /// best epoch (0: no smoothing). Smoothing keeps one lucky epoch from being chosen.
    pub loss_smoothing: f32,
    /// Statistics pooling (mean and standard deviation over time) instead of mean and max.
    pub std_pooling: bool,
    /// Weight of the cross-album contrastive term beside the cross-entropy (0: none).
    pub contrastive_weight: f32,
    /// Give the embedding layer each mel band's statistics over the patch beside the
    /// convolutions' features ([`NetConfig::input_statistics`]); a base without that path gets
    /// it with zero weights.
    pub input_statistics: bool,
    /// After training, compare the model with the classic descriptor on the held-out songs
    /// (decodes every song once more; cross-validation, which measures this itself, turns it off).
    pub compare_with_classic: bool,
    pub patch_frames: usize,
    pub out_dir: PathBuf,
    pub resume: bool,
    /// Start from this model's weights (fine-tuning) instead of random ones: its convolutions
    /// and embedding layer are kept, its classifier head is replaced for the new labels, and
    /// its input normalisation and pooling are used. Its analysis settings must be the
    /// library's.
    pub base: Option<PathBuf>,
    /// When fine-tuning with labels: before the first step, fit the new classifier head as
    /// logistic regression on the base's features of the training songs' patches, the base
    /// held fixed (linear probing, then fine-tuning: Kumar et al., 2022). A random head's first
    /// gradients would otherwise reshape what the base learnt to suit a head that knows nothing.
    /// Off by default: on the development corpus's album folds it moved neither the neighbours
    /// nor the head's accuracy by more than the folds' spread, up with one seed, down with the
    /// other (README).
    pub probe_head: bool,
    /// Learning rate when starting from `base`: lower, so the new labels adjust what the base
    /// learnt rather than overwrite it.
    pub fine_tune_learning_rate: f64,
    /// With [`LabelKind::None`]: a vectors file named by track id from a stronger model
    /// ([`Teacher`]); the network's head learns to predict each song's vector from any of its
    /// patches, beside the contrastive objective. Every training and validation song needs one.
    pub teacher: Option<PathBuf>,
    /// Weight of the teacher's mean squared error beside the contrastive loss.
    pub teacher_weight: f32,
    /// With [`LabelKind::None`] and no teacher: the contrastive loss compares the views through
    /// a projection of this many values (the head on the embedding's ReLU) rather than on the
    /// embedding itself (0: on the embedding). SimCLR (Chen et al., 2020) found the layer before
    /// such a projection keeps more of what the views share than the layer the loss is on.
    pub projection_dims: usize,
    /// Run every epoch (no early stopping) and save the mean of the weights after each of the
    /// last this many epochs ([`WeightAverage`]) instead of the epoch with the best validation
    /// loss (0: the best epoch).
    pub average_last_epochs: usize,
}

impl TrainOptions {
    /// The warm-up when fine-tuning: the base's features are formed already, and on the
    /// development corpus's album folds the best fine-tuned epoch was the 3rd (README).
    pub const FINE_TUNE_MIN_EPOCHS: usize = 3;

    /// Starts from `base` (fine-tuning) with the shorter warm-up fine-tuning needs.
    pub fn fine_tune(&mut self, base: PathBuf) {
        self.base = Some(base);
        self.min_epochs = Self::FINE_TUNE_MIN_EPOCHS;
    }

    pub fn new(out_dir: PathBuf) -> Self {
        Self {
            label: LabelKind::Genre,
            epochs: 40,
            seed: 42,
            batch_size: 32,
            learning_rate: 1e-3,
            patches_per_track: 8,
            patience: 8,
            min_epochs: 8,
            loss_smoothing: 0.5,
            std_pooling: false,
            input_statistics: false,
            contrastive_weight: 0.0,
            compare_with_classic: true,
            patch_frames: 128,
            out_dir,
            resume: false,
            base: None,
            fine_tune_learning_rate: 3e-4,
            probe_head: false,
            teacher: None,
            teacher_weight: 1.0,
            projection_dims: 0,
            average_last_epochs: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f32,
    /// Patch-level accuracy on the augmented training batches.
    pub train_accuracy: f32,
    pub validation_loss: Option<f32>,
    /// Track-level accuracy (patch predictions averaged per track).
    pub validation_accuracy: Option<f32>,
    pub seconds: f32,
}

/// How the tracks were divided, per class: (training, validation, test).
#[derive(Debug, Clone, Serialize)]
pub struct ClassCounts {
    pub label: String,
    pub training: usize,
    pub validation: usize,
    pub test: usize,
}

#[derive(Debug, Clone)]
pub enum TrainEvent {
    Prepared {
        classes: Vec<ClassCounts>,
        /// Labels left out for having fewer than [`MIN_TRACKS_PER_LABEL`] tracks, with their counts.
        dropped: Vec<(String, usize)>,
        unlabelled: usize,
        split_from_library: bool,
        resumed_after_epoch: Option<usize>,
    },
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        seconds: f32,
        eta_seconds: f32,
    },
    Epoch(EpochMetrics),
    Evaluating,
}

/// The result of a training run, also written as JSON by `--metrics-out`.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingMetrics {
    pub train_accuracy: f32,
    pub validation_accuracy: Option<f32>,
    pub test_accuracy: Option<f32>,
    pub epochs: usize,
    pub best_epoch: usize,
    pub seconds_per_epoch: f32,
    pub device: String,
    pub label: String,
    pub labels: Vec<String>,
    /// Rows: true label; columns: predicted label (track level, on `confusion_split`).
    pub confusion_matrix: Vec<Vec<usize>>,
    pub confusion_split: String,
    pub train_tracks: usize,
    pub validation_tracks: usize,
    pub test_tracks: usize,
    pub stopped_early: bool,
    pub cancelled: bool,
    pub history: Vec<EpochMetrics>,
    /// The new model's embeddings against the classic descriptor on the held-out songs (genre
    /// training only; absent when there are too few held-out songs or albums to judge).
    pub against_classic: Option<HeldOutComparison>,
}

/// State kept beside the checkpoint so `--resume` continues exactly.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    epoch: usize,
    label: LabelKind,
    labels: Vec<String>,
    seed: u64,
    rng: Prng,
    /// Infinite until an epoch is chosen (during the warm-up, or all along when averaging),
    /// which JSON writes as null.
    #[serde(deserialize_with = "infinite_when_null")]
    best_loss: f32,
    best_epoch: usize,
    stale_epochs: usize,
    history: Vec<EpochMetrics>,
    /// The smoothed validation loss after the last epoch (absent in older checkpoints).
    #[serde(default)]
    smoothed_loss: Option<f32>,
    /// Epochs in the weight average kept beside the checkpoint (0 in older checkpoints).
    #[serde(default)]
    averaged_epochs: usize,
    /// The first epoch of the average's window.
    #[serde(default)]
    averaged_from: usize,
}

/// serde_json writes a non-finite number as null; read null back as no loss yet (infinity).
fn infinite_when_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(deserializer)?.unwrap_or(f32::INFINITY))
}

struct Example {
    id: u64,
    mel: LogMel,
    class: usize,
    /// Index of the song's album ([`Track::album_key`]) among the library's.
    album: usize,
}

struct Dataset {
    labels: Vec<String>,
    train: Vec<Example>,
    validation: Vec<Example>,
    test: Vec<Example>,
}

/// Trains on the chosen compute device: the same loop on burn's wgpu backend or on the CPU.
pub fn train_on(
    compute: &super::Compute,
    library: &Library,
    library_path: &Path,
    options: &TrainOptions,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainingMetrics, TrainError> {
    use burn::backend::Autodiff;
    let name = compute.describe();
    match compute {
        super::Compute::Cpu => train::<Autodiff<super::CpuBackend>>(
            library,
            library_path,
            options,
            &Default::default(),
            CPU_TRAINING_SHARDS,
            &name,
            cancel,
            on_event,
        ),
        // The batch in one piece: shards were measured on the CPU backend only (no GPU here).
        super::Compute::Gpu { .. } => train::<Autodiff<super::GpuBackend>>(
            library,
            library_path,
            options,
            &Default::default(),
            1,
            &name,
            cancel,
            on_event,
        ),
    }
}

/// Trains on `device`, writing the best model to `options.out_dir` and a checkpoint every epoch.
/// Each batch's network work is split into `shards` run on threads of their own (see
/// `sharded.rs`); the model depends on the shard count (by rounding), not on the cores.
#[allow(clippy::too_many_arguments)]
pub fn train<B: AutodiffBackend>(
    library: &Library,
    library_path: &Path,
    options: &TrainOptions,
    device: &B::Device,
    shards: usize,
    device_name: &str,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainingMetrics, TrainError> {
    check_recipe_options(options)?;
    let _flush_denormals = super::denormals::FlushDenormals::on_cpu_threads();
    let (dataset, prepared) = prepare(library, library_path, options)?;
    let teacher = load_teacher(options, &dataset)?;
    // With a teacher the head predicts its vectors while training; the saved model gets the
    // usual head for its labels, as fine-tuning replaces the head anyway.
    let projected = options.label == LabelKind::None && teacher.is_none() && options.projection_dims > 0;
    let head_outputs = match &teacher {
        Some(t) => t.dim,
        None if projected => options.projection_dims,
        None => dataset.labels.len(),
    };
    B::seed(device, options.seed);
    // From a base model: its network shape, pooling and input normalisation, a new head.
    let (net_config, normaliser, mut model, learning_rate) = match &options.base {
        Some(base) => {
            let (base_info, base_net) = load_model::<B>(base, device)?;
            check_compatible(&base_info, base, &library.mel)?;
            let mut net_config = base_info.net.clone();
            net_config.n_classes = head_outputs;
            let mut model = base_net.with_new_classifier(head_outputs, device);
            if options.input_statistics {
                model = model.with_input_statistics(device);
                net_config.input_statistics = Some(true);
            }
            (net_config, base_info.normaliser, model, options.fine_tune_learning_rate)
        }
        None => {
            let normaliser = Normaliser::fit(dataset.train.iter().map(|e| &e.mel), library.mel.n_mels);
            let net_config = NetConfig::new(library.mel.n_mels, options.patch_frames, head_outputs)
                .with_std_pooling(options.std_pooling.then_some(true))
                .with_input_statistics(options.input_statistics.then_some(true));
            let model: EmbeddingNet<B> = net_config.init(device);
            (net_config, normaliser, model, options.learning_rate)
        }
    };
    let patch_frames = net_config.patch_frames;
    let mut saved_config = net_config.clone();
    saved_config.n_classes = dataset.labels.len();
    let info = ModelInfo::new(saved_config, library.mel, options.label.name(), dataset.labels.clone(), normaliser);
    let saved_form = |net: &EmbeddingNet<B::InnerBackend>| match head_outputs == dataset.labels.len() {
        true => net.clone(),
        false => net.clone().with_new_classifier(dataset.labels.len(), device),
    };
    let teacher_term = teacher.as_ref().map(|t| (t, options.teacher_weight));
    let self_supervised = options.label == LabelKind::None;
    let mut optimizer = AdamConfig::new().with_weight_decay(Some(WeightDecayConfig::new(1e-4))).init();
    let checkpoint_dir = options.out_dir.join("checkpoint");
    let mut state = CheckpointState {
        epoch: 0,
        label: options.label,
        labels: dataset.labels.clone(),
        seed: options.seed,
        rng: Prng::new(options.seed),
        best_loss: f32::INFINITY,
        best_epoch: 0,
        stale_epochs: 0,
        history: Vec::new(),
        smoothed_loss: None,
        averaged_epochs: 0,
        averaged_from: 0,
    };
    if options.base.is_some() && options.probe_head && !options.resume && !self_supervised && teacher.is_none() {
        model = with_probed_head(model, &info, &dataset.train, device);
    }
    let averaging = options.average_last_epochs > 0;
    let first_averaged_epoch = options.epochs.saturating_sub(options.average_last_epochs) + 1;
    let mut average = WeightAverage::default();
    let mut resumed_after_epoch = None;
    if options.resume {
        let (saved, restored_model, restored_optimizer) =
            load_checkpoint::<B, _>(&checkpoint_dir, &net_config, optimizer, device)?;
        if saved.labels != dataset.labels || saved.label != options.label {
            return Err(TrainError::Data(format!(
                "{}: the checkpoint was made for other labels ({} classes of {}); train again without --resume",
                checkpoint_dir.display(),
                saved.labels.len(),
                saved.label.name()
            )));
        }
        // The saved sums hold epochs from the window's first on; a resumed run with more
        // epochs has a later window, and the sums cannot give back the epochs before it: then
        // the average starts again from the resumed epoch.
        if averaging && saved.averaged_epochs > 0 && saved.averaged_from == first_averaged_epoch {
            average = load_average(&checkpoint_dir, saved.averaged_epochs, &model.valid())?;
        }
        resumed_after_epoch = Some(saved.epoch);
        state = saved;
        model = restored_model;
        optimizer = restored_optimizer;
    }
    if let TrainEvent::Prepared { classes, dropped, unlabelled, split_from_library, .. } = prepared {
        on_event(&TrainEvent::Prepared { classes, dropped, unlabelled, split_from_library, resumed_after_epoch });
    }

    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let class_sampler = ClassSampler::new(&dataset);
    let steps = (dataset.train.len() * options.patches_per_track).div_ceil(options.batch_size).max(1);
    let patch_len = library.mel.n_mels * patch_frames;
    // Self-supervised batches are pairs: two views of each song, side by side.
    let batch_size = if self_supervised { options.batch_size.max(4) / 2 * 2 } else { options.batch_size };
    let mut stopped_early = false;
    let mut cancelled = false;
    let run_started = Instant::now();
    let first_epoch = state.epoch + 1;

    for epoch in first_epoch..=options.epochs {
        if state.stale_epochs >= options.patience {
            stopped_early = true;
            break;
        }
        let epoch_started = Instant::now();
        // The backend's random numbers (the head's dropout) start each epoch from a seed of
        // their own: a checkpoint cannot hold the backend's generator, so this is what lets a
        // resumed run draw what the uninterrupted run drew.
        B::seed(device, options.seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for step in 0..steps {
            if cancel.load(Ordering::Relaxed) {
                cancelled = true;
                break;
            }
            let mut inputs = vec![0.0f32; batch_size * patch_len];
            let mut targets = Vec::with_capacity(batch_size);
            let mut albums = Vec::with_capacity(batch_size);
            let mut ids = Vec::with_capacity(batch_size);
            let mut example = &dataset.train[0];
            for (i, chunk) in inputs.chunks_exact_mut(patch_len).enumerate() {
                // A self-supervised pair shares its song; every other patch draws a new one.
                if !self_supervised || i % 2 == 0 {
                    example = &dataset.train[class_sampler.draw(&mut state.rng)];
                }
                augmented_patch(&example.mel, patch_frames, &mut state.rng, chunk);
                info.normaliser.apply(chunk, patch_frames);
                if self_supervised {
                    mask_patch(chunk, library.mel.n_mels, patch_frames, &mut state.rng);
                }
                targets.push(example.class as i64);
                albums.push(example.album);
                ids.push(example.id);
            }
            let patches = TensorData::new(inputs, [batch_size, library.mel.n_mels, patch_frames]);
            let loss_of = |embedding: Tensor<B, 2>| {
                if self_supervised {
                    let compared = if projected { model.project(embedding.clone()) } else { embedding.clone() };
                    let (mut loss, correct) = pair_contrastive(compared, &albums, SELF_SUPERVISED_TEMPERATURE);
                    if let Some((teacher, weight)) = teacher_term {
                        loss = loss + teacher_error(model.head(embedding), teacher, &ids).mul_scalar(weight);
                    }
                    (loss, correct)
                } else {
                    let logits = model.head(embedding.clone());
                    let target =
                        Tensor::<B, 1, Int>::from_data(TensorData::new(targets.clone(), [targets.len()]), device);
                    let mut loss = loss_fn.forward(logits.clone(), target);
                    if options.contrastive_weight > 0.0
                        && let Some(term) =
                            cross_album_contrastive(embedding, &targets, &albums, CONTRASTIVE_TEMPERATURE)
                    {
                        loss = loss + term.mul_scalar(options.contrastive_weight);
                    }
                    let predicted =
                        argmax_rows(&logits.into_data().to_vec::<f32>().unwrap_or_default(), dataset.labels.len());
                    let correct = predicted.iter().zip(&targets).filter(|(p, t)| **p as i64 == **t).count();
                    (loss, correct)
                }
            };
            let BatchGradients { loss: loss_value, extra: batch_correct, grads } =
                batch_gradients(&model, patches, shards, device, loss_of);
            let Some(grads) = grads else {
                return Err(TrainError::Diverged { epoch, loss: loss_value });
            };
            model = optimizer.step(learning_rate, model, grads);

            loss_sum += f64::from(loss_value) * targets.len() as f64;
            correct += batch_correct;
            seen += targets.len();
            let seconds = run_started.elapsed().as_secs_f32();
            let done = (epoch - first_epoch) * steps + step + 1;
            let total = (options.epochs + 1 - first_epoch) * steps;
            on_event(&TrainEvent::Step {
                epoch,
                step: step + 1,
                steps,
                seconds,
                eta_seconds: seconds / done as f32 * (total - done) as f32,
            });
        }
        if cancelled {
            break;
        }
        let valid = model.valid();
        let validation = (!dataset.validation.is_empty())
            .then(|| evaluate(&valid, &info, &dataset.validation, options.label, teacher_term, projected));
        let metrics = EpochMetrics {
            epoch,
            train_loss: (loss_sum / seen.max(1) as f64) as f32,
            train_accuracy: correct as f32 / seen.max(1) as f32,
            validation_loss: validation.as_ref().map(|v| v.loss),
            validation_accuracy: validation.as_ref().map(|v| v.accuracy),
            seconds: epoch_started.elapsed().as_secs_f32(),
        };
        // Early stopping follows the validation loss (the training loss when there is no
        // validation set, as in a tiny library), smoothed over epochs.
        let watched = metrics.validation_loss.unwrap_or(metrics.train_loss);
        let smoothed = match state.smoothed_loss {
            Some(previous) if previous.is_finite() => {
                options.loss_smoothing * previous + (1.0 - options.loss_smoothing) * watched
            }
            _ => watched,
        };
        state.smoothed_loss = Some(smoothed);
        if averaging {
            // Every epoch runs; from the window on, the saved model is the running mean.
            state.best_epoch = epoch;
            if epoch >= first_averaged_epoch {
                average.add(&valid);
                state.averaged_epochs = average.count();
                state.averaged_from = first_averaged_epoch;
                save_model(&options.out_dir, &info, &saved_form(&average.apply(valid.clone())))?;
            } else {
                save_model(&options.out_dir, &info, &saved_form(&valid))?;
            }
        } else if epoch < options.min_epochs.min(options.epochs) {
            // Warm-up: keep the latest model, so a cancelled run still leaves one, but choose
            // none yet.
            state.best_loss = f32::INFINITY;
            state.best_epoch = epoch;
            save_model(&options.out_dir, &info, &saved_form(&valid))?;
        } else if smoothed < state.best_loss {
            state.best_loss = smoothed;
            state.best_epoch = epoch;
            state.stale_epochs = 0;
            save_model(&options.out_dir, &info, &saved_form(&valid))?;
        } else {
            state.stale_epochs += 1;
        }
        state.epoch = epoch;
        state.history.push(metrics.clone());
        save_checkpoint(&checkpoint_dir, &state, &model, &optimizer, averaging.then_some(&average))?;
        on_event(&TrainEvent::Epoch(metrics));
    }

    if state.best_epoch == 0 {
        return Err(TrainError::Data("training was stopped before its first epoch ended; nothing to save".into()));
    }
    on_event(&TrainEvent::Evaluating);
    let (info, best) = load_model::<B::InnerBackend>(&options.out_dir, device)?;
    let train_eval = evaluate(&best, &info, &dataset.train, options.label, None, false);
    let validation_eval = (!dataset.validation.is_empty())
        .then(|| evaluate(&best, &info, &dataset.validation, options.label, None, false));
    let test_eval =
        (!dataset.test.is_empty()).then(|| evaluate(&best, &info, &dataset.test, options.label, None, false));
    let (confusion_split, confusion_source) = match (&test_eval, &validation_eval) {
        (Some(t), _) => ("test", t),
        (None, Some(v)) => ("validation", v),
        (None, None) => ("training", &train_eval),
    };
    // The model against the classic descriptor on the songs it neither trained on nor was
    // chosen by (else the validation songs): what the map will make of music it has not heard.
    let held_out_ids: HashSet<u64> = match (dataset.test.is_empty(), dataset.validation.is_empty()) {
        (false, _) => dataset.test.iter().map(|e| e.id).collect(),
        (true, false) => dataset.validation.iter().map(|e| e.id).collect(),
        (true, true) => HashSet::new(),
    };
    // A self-supervised model is judged on the genres the library has, if it has them.
    let against_classic = if options.compare_with_classic && matches!(options.label, LabelKind::Genre | LabelKind::None)
    {
        let split = if dataset.test.is_empty() { "validation" } else { "test" };
        compare_on_held_out(library, library_path, &options.out_dir, &held_out_ids, split).ok().flatten()
    } else {
        None
    };
    let epochs_run = state.history.len();
    Ok(TrainingMetrics {
        against_classic,
        train_accuracy: train_eval.accuracy,
        validation_accuracy: validation_eval.as_ref().map(|v| v.accuracy),
        test_accuracy: test_eval.as_ref().map(|v| v.accuracy),
        epochs: epochs_run,
        best_epoch: state.best_epoch,
        seconds_per_epoch: state.history.iter().map(|h| h.seconds).sum::<f32>() / epochs_run.max(1) as f32,
        device: device_name.to_string(),
        label: options.label.name().into(),
        labels: dataset.labels.clone(),
        confusion_matrix: confusion_source.confusion.clone(),
        confusion_split: confusion_split.into(),
        train_tracks: dataset.train.len(),
        validation_tracks: dataset.validation.len(),
        test_tracks: dataset.test.len(),
        stopped_early,
        cancelled,
        history: state.history,
    })
}

/// The network with its classifier head fitted, as multinomial logistic regression, to the
/// training songs' patches as the network's (fixed) embedding layer sees them. Each patch is
/// weighted as [`ClassSampler`] draws it (a class's share proportional to the square root of its
/// size), so the fitted head expects the class balance that fine-tuning then trains it on.
fn with_probed_head<B: AutodiffBackend>(
    model: EmbeddingNet<B>,
    info: &ModelInfo,
    train: &[Example],
    device: &B::Device,
) -> EmbeddingNet<B> {
    let frozen = model.valid();
    let classes = info.labels.len();
    let mut features: Vec<Vec<f32>> = Vec::new();
    let mut targets: Vec<usize> = Vec::new();
    for example in train {
        let (count, data) = track_patches(&example.mel, info.net.patch_frames, &info.normaliser);
        let input = Tensor::<B::InnerBackend, 3>::from_data(
            TensorData::new(data, [count, info.net.n_mels, info.net.patch_frames]),
            device,
        );
        let embedding = burn::tensor::activation::relu(frozen.embed(input));
        let [_, dim] = embedding.dims();
        let values = embedding.into_data().to_vec::<f32>().unwrap_or_default();
        for row in values.chunks_exact(dim) {
            features.push(row.to_vec());
            targets.push(example.class);
        }
    }
    let mut tracks_per_class = vec![0usize; classes];
    for example in train {
        tracks_per_class[example.class] += 1;
    }
    let mut patches_per_class = vec![0usize; classes];
    for &t in &targets {
        patches_per_class[t] += 1;
    }
    // The sampler's share of class c is √tracks_c / Σ√tracks; spread over its patches and scaled
    // so that the weights average 1.
    let root_total: f64 = tracks_per_class.iter().map(|&n| (n as f64).sqrt()).sum();
    let weights: Vec<f64> = targets
        .iter()
        .map(|&t| (tracks_per_class[t] as f64).sqrt() / root_total / patches_per_class[t] as f64 * targets.len() as f64)
        .collect();
    let rows: Vec<&[f32]> = features.iter().map(Vec::as_slice).collect();
    if rows.is_empty() {
        return model;
    }
    let probe = super::yardstick::LogisticRegression::fit_weighted(&rows, &targets, Some(&weights), classes, 1.0);
    let (head_weights, bias) = probe.affine();
    model.with_classifier(&head_weights, &bias, device)
}

/// Temperature of the contrastive term's cosine similarities (Khosla et al. use 0.07 to 0.1).
const CONTRASTIVE_TEMPERATURE: f32 = 0.1;

/// A supervised contrastive loss (Khosla et al., 2020) on the L2-normalised embeddings of a
/// batch, with one change for small libraries: a song's positives are the songs of its label
/// from *other* albums, and pairs from one album are left out of the comparison entirely
/// (neither pulled together nor pushed apart). What it rewards is then exactly what the map
/// needs: songs of one style from different sources close together, rather than each album a
/// tight clump of its own. `None` when no song in the batch has such a positive.
fn cross_album_contrastive<B: Backend>(
    embedding: Tensor<B, 2>,
    labels: &[i64],
    albums: &[usize],
    temperature: f32,
) -> Option<Tensor<B, 1>> {
    let n = labels.len();
    let mut positive = vec![0.0f32; n * n];
    let mut excluded = vec![0.0f32; n * n];
    let mut anchors = 0usize;
    for i in 0..n {
        let mut has_positive = false;
        for j in 0..n {
            if i == j || albums[i] == albums[j] {
                excluded[i * n + j] = 1.0;
            } else if labels[i] == labels[j] {
                positive[i * n + j] = 1.0;
                has_positive = true;
            }
        }
        anchors += usize::from(has_positive);
    }
    if anchors == 0 {
        return None;
    }
    Some(masked_contrastive(embedding, positive, excluded, anchors, temperature).0)
}

/// Temperature of the self-supervised loss (SimCLR's NT-Xent; 0.1 to 0.5 are usual).
const SELF_SUPERVISED_TEMPERATURE: f32 = 0.2;

/// The self-supervised loss (NT-Xent, Chen et al. 2020) on a batch laid out as pairs: rows 2i
/// and 2i+1 are two views of one song. A view's positive is its partner; its negatives are the
/// songs of *other* albums: songs of one album (and excerpts of one track) usually share their
/// style, and pushing them apart would teach the map to split what belongs together. A view
/// with no song of another album in its batch (a library that is one folder) takes the other
/// songs of its own album as negatives instead. Returns the loss and how many views found their
/// partner as their nearest.
fn pair_contrastive<B: Backend>(embedding: Tensor<B, 2>, albums: &[usize], temperature: f32) -> (Tensor<B, 1>, usize) {
    let (positive, excluded) = pair_masks(albums);
    masked_contrastive(embedding, positive, excluded, albums.len(), temperature)
}

/// The positive and excluded pairs of [`pair_contrastive`], row-major `n × n`.
fn pair_masks(albums: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let n = albums.len();
    let mut positive = vec![0.0f32; n * n];
    let mut excluded = vec![0.0f32; n * n];
    for i in 0..n {
        let partner = i ^ 1;
        let other_albums = albums.iter().any(|&a| a != albums[i]);
        for j in 0..n {
            if j == partner {
                positive[i * n + j] = 1.0;
            } else if i == j || (other_albums && albums[i] == albums[j]) {
                excluded[i * n + j] = 1.0;
            }
        }
    }
    (positive, excluded)
}

/// Contrastive loss over the batch's cosine similarities: for every anchor row, the mean log
/// probability of its positives in a softmax over the pairs that are not excluded. Returns the
/// loss and the number of anchors whose most similar non-excluded row is a positive.
fn masked_contrastive<B: Backend>(
    embedding: Tensor<B, 2>,
    positive: Vec<f32>,
    excluded: Vec<f32>,
    anchors: usize,
    temperature: f32,
) -> (Tensor<B, 1>, usize) {
    let n = embedding.dims()[0];
    let device = embedding.device();
    let norm = embedding.clone().powi_scalar(2).sum_dim(1).add_scalar(1e-8).sqrt();
    let unit = embedding / norm;
    let similarity = unit.clone().matmul(unit.transpose()).div_scalar(temperature);
    let excluded = Tensor::<B, 2>::from_data(TensorData::new(excluded, [n, n]), &device);
    let positive_mask = Tensor::<B, 2>::from_data(TensorData::new(positive.clone(), [n, n]), &device);
    // Excluded pairs get a logit so low that they vanish from each row's softmax.
    let logits = similarity - excluded.mul_scalar(1e4);
    let nearest = argmax_rows(&logits.clone().into_data().to_vec::<f32>().unwrap_or_default(), n);
    let found = nearest.iter().enumerate().filter(|(i, j)| positive[i * n + **j] > 0.0).count();
    let top = logits.clone().max_dim(1).detach();
    let log_denominator = (logits.clone() - top.clone()).exp().sum_dim(1).log() + top;
    let log_probability = logits - log_denominator;
    let positives_per_anchor = positive_mask.clone().sum_dim(1).clamp_min(1.0);
    let per_anchor = (log_probability * positive_mask).sum_dim(1) / positives_per_anchor;
    (per_anchor.sum().neg().div_scalar(anchors as f32), found)
}

/// The teacher of `options`, read and checked against the songs it must teach: every training
/// and validation song needs its vector.
fn load_teacher(options: &TrainOptions, dataset: &Dataset) -> Result<Option<Teacher>, TrainError> {
    let Some(path) = &options.teacher else { return Ok(None) };
    let teacher = Teacher::load(path)?;
    let songs = dataset.train.len() + dataset.validation.len();
    let missing = dataset.train.iter().chain(&dataset.validation).filter(|e| teacher.target(e.id).is_none()).count();
    if missing > 0 {
        return Err(TrainError::Data(format!(
            "{}: no vector for {missing} of the {songs} training and validation songs (rows are named by track id)",
            path.display()
        )));
    }
    Ok(Some(teacher))
}

/// Options that only one kind of training uses, and what a teacher asks of the others, checked
/// before the library is read.
fn check_recipe_options(options: &TrainOptions) -> Result<(), TrainError> {
    if options.projection_dims > 0 && options.label != LabelKind::None {
        return Err(TrainError::Data(
            "--projection shapes the loss that compares two views of a song: it needs --label none".into(),
        ));
    }
    if options.probe_head && options.label == LabelKind::None {
        return Err(TrainError::Data(
            "--probe-head fits a classifier head to labels: it needs --label genre, artist or album".into(),
        ));
    }
    let Some(path) = &options.teacher else { return Ok(()) };
    if options.label != LabelKind::None {
        return Err(TrainError::Data(format!(
            "{}: a teacher trains without labels; use --label none (then fine-tune for labels)",
            path.display()
        )));
    }
    if !(options.teacher_weight.is_finite() && options.teacher_weight >= 0.0) {
        return Err(TrainError::Data(format!(
            "the teacher's weight must be 0 or more (got {})",
            options.teacher_weight
        )));
    }
    Ok(())
}

/// The mean squared error between the head's predictions (a row per patch) and the teacher's
/// vectors of the patches' songs; songs the teacher does not know add nothing.
fn teacher_error<B: Backend>(predicted: Tensor<B, 2>, teacher: &Teacher, ids: &[u64]) -> Tensor<B, 1> {
    let device = predicted.device();
    let mut targets = Vec::with_capacity(ids.len() * teacher.dim);
    let mut known = Vec::with_capacity(ids.len());
    for &id in ids {
        match teacher.target(id) {
            Some(target) => {
                targets.extend_from_slice(target);
                known.push(1.0f32);
            }
            None => {
                targets.extend(std::iter::repeat_n(0.0, teacher.dim));
                known.push(0.0);
            }
        }
    }
    let rows = known.iter().sum::<f32>().max(1.0);
    let targets = Tensor::<B, 2>::from_data(TensorData::new(targets, [ids.len(), teacher.dim]), &device);
    let known = Tensor::<B, 2>::from_data(TensorData::new(known, [ids.len(), 1]), &device);
    ((predicted - targets).powi_scalar(2) * known).sum().div_scalar(rows * teacher.dim as f32)
}

/// Songs per batch when the self-supervised loss is measured on held-out songs.
const SELF_SUPERVISED_EVAL_SONGS: usize = 32;

/// The self-supervised loss and partner accuracy on held-out songs, with views drawn from a
/// fixed seed per song so every epoch is measured on the same pairs.
fn evaluate_self_supervised<B: Backend>(
    net: &EmbeddingNet<B>,
    info: &ModelInfo,
    examples: &[Example],
    teacher_term: Option<(&Teacher, f32)>,
    projected: bool,
) -> Evaluation {
    let device = net.devices().into_iter().next().unwrap_or_default();
    let (n_mels, frames) = (info.net.n_mels, info.net.patch_frames);
    let patch_len = n_mels * frames;
    let (mut loss_sum, mut batches, mut found, mut views) = (0.0f64, 0usize, 0usize, 0usize);
    for chunk in examples.chunks(SELF_SUPERVISED_EVAL_SONGS) {
        if chunk.len() < 2 {
            continue;
        }
        let mut inputs = vec![0.0f32; 2 * chunk.len() * patch_len];
        let mut albums = Vec::with_capacity(2 * chunk.len());
        let mut ids = Vec::with_capacity(2 * chunk.len());
        for (pair, example) in inputs.chunks_exact_mut(2 * patch_len).zip(chunk) {
            let mut rng = Prng::new(example.id ^ 0x0e7a_1a7e);
            for view in pair.chunks_exact_mut(patch_len) {
                augmented_patch(&example.mel, frames, &mut rng, view);
                info.normaliser.apply(view, frames);
                mask_patch(view, n_mels, frames, &mut rng);
                albums.push(example.album);
                ids.push(example.id);
            }
        }
        let input = Tensor::<B, 3>::from_data(TensorData::new(inputs, [albums.len(), n_mels, frames]), &device);
        let (loss, correct) = match teacher_term {
            Some((teacher, weight)) => {
                let (embedding, predicted) = net.forward(input);
                let (loss, correct) = pair_contrastive(embedding, &albums, SELF_SUPERVISED_TEMPERATURE);
                (loss + teacher_error(predicted, teacher, &ids).mul_scalar(weight), correct)
            }
            None if projected => pair_contrastive(net.project(net.embed(input)), &albums, SELF_SUPERVISED_TEMPERATURE),
            None => pair_contrastive(net.embed(input), &albums, SELF_SUPERVISED_TEMPERATURE),
        };
        loss_sum += f64::from(loss.into_data().to_vec::<f32>().ok().and_then(|v| v.first().copied()).unwrap_or(0.0));
        batches += 1;
        found += correct;
        views += albums.len();
    }
    Evaluation {
        loss: (loss_sum / batches.max(1) as f64) as f32,
        accuracy: found as f32 / views.max(1) as f32,
        confusion: vec![vec![0; info.labels.len()]; info.labels.len()],
    }
}

/// Draws training examples so small classes are seen more often than their share: a class is
/// picked with probability proportional to the square root of its size (a middle way between
/// the raw imbalance and full balancing, which would overfit classes of a handful of tracks).
struct ClassSampler {
    by_class: Vec<Vec<usize>>,
    cumulative: Vec<f32>,
}

impl ClassSampler {
    fn new(dataset: &Dataset) -> Self {
        let mut by_class = vec![Vec::new(); dataset.labels.len()];
        for (i, e) in dataset.train.iter().enumerate() {
            by_class[e.class].push(i);
        }
        let weights: Vec<f32> = by_class.iter().map(|c| (c.len() as f32).sqrt()).collect();
        let total: f32 = weights.iter().sum();
        let mut acc = 0.0;
        let cumulative = weights.iter().map(|w| {
            acc += w / total;
            acc
        });
        Self { cumulative: cumulative.collect(), by_class }
    }

    fn draw(&self, rng: &mut Prng) -> usize {
        let u = rng.unit();
        let class = self.cumulative.iter().position(|&c| u < c).unwrap_or(self.cumulative.len() - 1);
        let members = &self.by_class[class];
        if members.is_empty() {
            // A class absent from training (all its tracks in other splits): draw any example.
            return self.by_class.iter().flatten().next().copied().unwrap_or(0);
        }
        members[rng.below(members.len())]
    }
}

struct Evaluation {
    loss: f32,
    accuracy: f32,
    confusion: Vec<Vec<usize>>,
}

/// Track-level evaluation: every track's patches go through the network; the loss is the mean
/// over patches, the prediction the argmax of the track's mean probabilities. Without labels:
/// the self-supervised loss and how often a song's other view is its nearest.
fn evaluate<B: Backend>(
    net: &EmbeddingNet<B>,
    info: &ModelInfo,
    examples: &[Example],
    label: LabelKind,
    teacher_term: Option<(&Teacher, f32)>,
    projected: bool,
) -> Evaluation {
    if label == LabelKind::None {
        return evaluate_self_supervised(net, info, examples, teacher_term, projected);
    }
    let device = net.devices().into_iter().next().unwrap_or_default();
    let n = info.labels.len();
    let mut confusion = vec![vec![0usize; n]; n];
    let (mut loss_sum, mut patches, mut correct) = (0.0f64, 0usize, 0usize);
    for example in examples {
        let (count, data) = track_patches(&example.mel, info.net.patch_frames, &info.normaliser);
        let input =
            Tensor::<B, 3>::from_data(TensorData::new(data, [count, info.net.n_mels, info.net.patch_frames]), &device);
        let (_, logits) = net.forward(input);
        let probs = softmax(logits, 1).into_data().to_vec::<f32>().unwrap_or_default();
        let mut mean = vec![0.0f32; n];
        for row in probs.chunks_exact(n) {
            loss_sum -= f64::from(row[example.class].max(1e-7).ln());
            for (m, p) in mean.iter_mut().zip(row) {
                *m += p;
            }
        }
        patches += count;
        let predicted = argmax_rows(&mean, n)[0];
        confusion[example.class][predicted] += 1;
        correct += usize::from(predicted == example.class);
    }
    Evaluation {
        loss: (loss_sum / patches.max(1) as f64) as f32,
        accuracy: correct as f32 / examples.len().max(1) as f32,
        confusion,
    }
}

fn argmax_rows(values: &[f32], width: usize) -> Vec<usize> {
    values
        .chunks_exact(width)
        .map(|row| row.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0)
        .collect()
}

/// Labels, split and features of the tracks that take part.
fn prepare(
    library: &Library,
    library_path: &Path,
    options: &TrainOptions,
) -> Result<(Dataset, TrainEvent), TrainError> {
    let cache = FeatureCache::for_library(library_path);
    let with_features: Vec<&Track> = library.tracks.iter().filter(|t| t.features.is_some()).collect();
    if with_features.is_empty() {
        return Err(TrainError::Data(format!(
            "{}: no track has features yet; run `songspace import` first",
            library_path.display()
        )));
    }
    let labelled: Vec<(&Track, String)> =
        with_features.iter().filter_map(|t| options.label.of(t).map(|l| (*t, l))).collect();
    let unlabelled = with_features.len() - labelled.len();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (_, label) in &labelled {
        *counts.entry(label.clone()).or_insert(0) += 1;
    }
    let dropped: Vec<(String, usize)> =
        counts.iter().filter(|(_, n)| **n < MIN_TRACKS_PER_LABEL).map(|(l, n)| (l.clone(), *n)).collect();
    let labels: Vec<String> = counts.keys().filter(|l| counts[*l] >= MIN_TRACKS_PER_LABEL).cloned().collect();
    let needed = if options.label == LabelKind::None { 1 } else { 2 };
    if labels.len() < needed {
        return Err(TrainError::Data(format!(
            "{}: training needs at least two {} labels with {MIN_TRACKS_PER_LABEL}+ tracks each; found {}",
            library_path.display(),
            options.label.name(),
            labels.len()
        )));
    }
    let class_of: HashMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    let used: Vec<(&Track, usize)> =
        labelled.iter().filter_map(|(t, l)| class_of.get(l.as_str()).map(|&c| (*t, c))).collect();

    let split_from_library = used.iter().any(|(t, _)| t.split.is_some());
    let splits: HashMap<u64, Split> = if split_from_library {
        used.iter().map(|(t, _)| (t.id, t.split.unwrap_or(Split::Training))).collect()
    } else {
        stratified_split(&used, labels.len(), options.seed)
    };

    let mut dataset = Dataset { labels: labels.clone(), train: Vec::new(), validation: Vec::new(), test: Vec::new() };
    let mut class_counts: Vec<ClassCounts> =
        labels.iter().map(|l| ClassCounts { label: l.clone(), training: 0, validation: 0, test: 0 }).collect();
    let mut albums: HashMap<String, usize> = HashMap::new();
    for (track, class) in &used {
        let mel = cache.load(track.id, &library.mel)?;
        let next = albums.len();
        let album = *albums.entry(track.album_key()).or_insert(next);
        let example = Example { id: track.id, mel, class: *class, album };
        match splits[&track.id] {
            Split::Training => {
                class_counts[*class].training += 1;
                dataset.train.push(example);
            }
            Split::Validation => {
                class_counts[*class].validation += 1;
                dataset.validation.push(example);
            }
            Split::Test => {
                class_counts[*class].test += 1;
                dataset.test.push(example);
            }
        }
    }
    if dataset.train.is_empty() {
        return Err(TrainError::Data(format!("{}: the training split is empty", library_path.display())));
    }
    let event = TrainEvent::Prepared {
        classes: class_counts,
        dropped,
        unlabelled,
        split_from_library,
        resumed_after_epoch: None,
    };
    Ok((dataset, event))
}

/// A seeded 80/10/10 split within each class, so every class is in training, and in validation
/// and test when it has enough tracks.
fn stratified_split(used: &[(&Track, usize)], classes: usize, seed: u64) -> HashMap<u64, Split> {
    // Its own stream, so changing the sampling does not move tracks between splits.
    let mut rng = Prng::new(seed ^ 0x5eed_0000_5eed);
    let mut by_class: Vec<Vec<u64>> = vec![Vec::new(); classes];
    for (t, c) in used {
        by_class[*c].push(t.id);
    }
    let mut splits = HashMap::new();
    for mut ids in by_class {
        ids.sort_unstable();
        rng.shuffle(&mut ids);
        let n = ids.len();
        let held_out = if n >= 5 { ((n as f32 * 0.1).round() as usize).max(1) } else { usize::from(n >= 3) };
        for (i, id) in ids.into_iter().enumerate() {
            let split = if i < held_out {
                Split::Validation
            } else if i < 2 * held_out && n >= 5 {
                Split::Test
            } else {
                Split::Training
            };
            splits.insert(id, split);
        }
    }
    splits
}

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::new()
}

fn save_checkpoint<B: AutodiffBackend, O: Optimizer<EmbeddingNet<B>, B>>(
    dir: &Path,
    state: &CheckpointState,
    model: &EmbeddingNet<B>,
    optimizer: &O,
    average: Option<&WeightAverage>,
) -> Result<(), TrainError> {
    let encode_error = |what: &str, e: burn::record::RecorderError| {
        TrainError::File(FileError::new(dir, FileProblem::Format(format!("cannot encode the {what}: {e}"))))
    };
    let model_bytes =
        Recorder::<B>::record(&recorder(), model.clone().into_record(), ()).map_err(|e| encode_error("model", e))?;
    let optim_bytes =
        Recorder::<B>::record(&recorder(), optimizer.to_record(), ()).map_err(|e| encode_error("optimiser", e))?;
    let state_json =
        serde_json::to_vec_pretty(state).map_err(|e| FileError::new(dir, FileProblem::Format(e.to_string())))?;
    write_atomically(&dir.join("model.mpk"), |o| o.write_all(&model_bytes))?;
    write_atomically(&dir.join("optimizer.mpk"), |o| o.write_all(&optim_bytes))?;
    if let Some(average) = average.filter(|a| a.count() > 0) {
        write_atomically(&dir.join(AVERAGE_FILE), |o| o.write_all(&average.to_bytes()))?;
    }
    // Written last: a checkpoint counts only once its state says which epoch it holds.
    write_atomically(&dir.join("state.json"), |o| o.write_all(&state_json))?;
    Ok(())
}

/// The checkpoint's running sums of the weights, when the run averages its last epochs.
const AVERAGE_FILE: &str = "average.f64";

/// The weight average saved beside a checkpoint whose state says it holds `count` epochs.
fn load_average<B: Backend>(dir: &Path, count: usize, template: &EmbeddingNet<B>) -> Result<WeightAverage, TrainError> {
    let path = dir.join(AVERAGE_FILE);
    let bytes = std::fs::read(&path).map_err(|e| TrainError::File(FileError::new(&path, FileProblem::Io(e))))?;
    WeightAverage::from_bytes(&bytes, count, template)
        .map_err(|problem| TrainError::Model(ModelError::Corrupt { path, problem }))
}

fn load_checkpoint<B: AutodiffBackend, O: Optimizer<EmbeddingNet<B>, B>>(
    dir: &Path,
    net_config: &NetConfig,
    optimizer: O,
    device: &B::Device,
) -> Result<(CheckpointState, EmbeddingNet<B>, O), TrainError> {
    let corrupt = |problem: String| TrainError::Model(ModelError::Corrupt { path: dir.to_path_buf(), problem });
    let state_path = dir.join("state.json");
    if !state_path.is_file() {
        return Err(TrainError::Data(format!("{}: no checkpoint to resume from", dir.display())));
    }
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|e| TrainError::File(FileError::new(&dir.join(name), FileProblem::Io(e))))
    };
    let state: CheckpointState =
        serde_json::from_slice(&read("state.json")?).map_err(|e| corrupt(format!("unreadable state.json ({e})")))?;
    let model_record = Recorder::<B>::load(&recorder(), read("model.mpk")?, device)
        .map_err(|e| corrupt(format!("damaged model.mpk ({e})")))?;
    let optim_record = Recorder::<B>::load(&recorder(), read("optimizer.mpk")?, device)
        .map_err(|e| corrupt(format!("damaged optimizer.mpk ({e})")))?;
    // burn does not check shapes here; a checkpoint made for other classes is caught by the
    // caller, which compares its labels with this library's before using it.
    let model = net_config.init::<B>(device).load_record(model_record);
    Ok((state, model, optimizer.load_record(optim_record)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contrastive(rows: &[[f32; 2]], labels: &[i64], albums: &[usize]) -> Option<f32> {
        use crate::model::CpuBackend as Cpu;
        let data: Vec<f32> = rows.iter().flatten().copied().collect();
        let embedding = Tensor::<Cpu, 2>::from_data(TensorData::new(data, [rows.len(), 2]), &Default::default());
        cross_album_contrastive(embedding, labels, albums, 0.1).map(|t| t.into_scalar())
    }

    #[test]
    fn the_contrastive_term_rewards_style_across_albums_and_never_pairs_album_mates() {
        // Two labels, each on two albums.
        let (labels, albums) = ([0, 0, 1, 1], [0, 1, 2, 3]);
        let aligned = contrastive(&[[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]], &labels, &albums).expect("loss");
        let crossed = contrastive(&[[1.0, 0.0], [0.0, 1.0], [0.1, 1.0], [1.0, 0.1]], &labels, &albums).expect("loss");
        assert!(aligned < 0.1 && crossed > 5.0, "aligned {aligned}, crossed {crossed}");
        // No positive anywhere: labels that differ, or one label on one album only (album
        // mates are never positives).
        assert_eq!(contrastive(&[[1.0, 0.0], [0.0, 1.0]], &[0, 1], &[0, 1]), None);
        assert_eq!(contrastive(&[[1.0, 0.0], [0.0, 1.0]], &[0, 0], &[4, 4]), None);
    }

    #[test]
    fn self_supervised_pairs_pull_partners_and_push_only_other_albums() {
        // Views 0,1 of song A (album 0), 2,3 of song B (album 0), 4,5 of song C (album 1).
        let albums = [0, 0, 0, 0, 1, 1];
        let (positive, excluded) = pair_masks(&albums);
        let at = |m: &[f32], i: usize, j: usize| m[i * 6 + j];
        assert_eq!(at(&positive, 0, 1), 1.0);
        assert_eq!(at(&positive, 5, 4), 1.0);
        assert_eq!(at(&excluded, 0, 2), 1.0, "an album mate is not a negative");
        assert_eq!(at(&excluded, 0, 4), 0.0, "another album's song is");
        assert_eq!(positive.iter().sum::<f32>(), 6.0);
        // One album only: the other songs are the negatives.
        let (_, excluded) = pair_masks(&[0, 0, 0, 0]);
        assert_eq!((excluded[2], excluded[0]), (0.0, 1.0));

        let loss = |rows: &[[f32; 2]]| {
            let device: burn::tensor::Device<crate::model::CpuBackend> = Default::default();
            let flat: Vec<f32> = rows.iter().flatten().copied().collect();
            let e = Tensor::<crate::model::CpuBackend, 2>::from_data(TensorData::new(flat, [rows.len(), 2]), &device);
            let (loss, found) = pair_contrastive(e, &albums, 0.2);
            (loss.into_data().to_vec::<f32>().expect("loss")[0], found)
        };
        let partners_close = [[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0], [-1.0, 0.0], [-1.0, 0.1]];
        let partners_apart = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [-1.0, 0.1], [0.1, 1.0]];
        let (close, found_close) = loss(&partners_close);
        let (apart, found_apart) = loss(&partners_apart);
        assert!(close < apart, "{close} vs {apart}");
        assert_eq!(found_close, 6);
        assert!(found_apart < 6);
    }

    #[test]
    fn the_teacher_error_averages_over_the_songs_it_knows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("teacher.csv");
        // Standardised, the two songs' vectors are (-1, 1) and (1, -1).
        std::fs::write(&path, "track_id,e0,e1\n1,0,4\n2,2,2\n").expect("write");
        let teacher = Teacher::load(&path).expect("teacher");
        let device = Default::default();
        let predicted = Tensor::<crate::model::CpuBackend, 2>::from_data(
            TensorData::new(vec![-1.0f32, 3.0, 9.0, 9.0], [2, 2]),
            &device,
        );
        let error = |ids: &[u64]| {
            teacher_error(predicted.clone(), &teacher, ids).into_data().to_vec::<f32>().expect("values")[0]
        };
        // Song 1 for the first row: (0² + 2²) / 2; song 99 is unknown and adds nothing.
        assert!((error(&[1, 99]) - 2.0).abs() < 1e-6);
        // Both known: (0 + 4 + 64 + 100) / 4.
        assert!((error(&[1, 2]) - 42.0).abs() < 1e-5);
    }

    #[test]
    fn a_checkpoint_saved_before_any_epoch_was_chosen_reads_back() {
        // During the warm-up the best loss is infinite, which JSON writes as null: a run
        // stopped then must still resume.
        let state = CheckpointState {
            epoch: 2,
            label: LabelKind::Genre,
            labels: vec!["a".into(), "b".into()],
            seed: 1,
            rng: Prng::new(1),
            best_loss: f32::INFINITY,
            best_epoch: 2,
            stale_epochs: 0,
            history: Vec::new(),
            smoothed_loss: Some(0.5),
            averaged_epochs: 0,
            averaged_from: 0,
        };
        let json = serde_json::to_string(&state).expect("json");
        assert!(json.contains("\"best_loss\":null"), "{json}");
        let back: CheckpointState = serde_json::from_str(&json).expect("reads back");
        assert_eq!((back.best_loss, back.epoch, back.smoothed_loss), (f32::INFINITY, 2, Some(0.5)));
        let chosen = CheckpointState { best_loss: 0.25, ..state };
        let back: CheckpointState = serde_json::from_str(&serde_json::to_string(&chosen).expect("json")).expect("back");
        assert_eq!(back.best_loss, 0.25);
    }

    #[test]
    fn argmax_picks_the_largest_per_row() {
        assert_eq!(argmax_rows(&[0.1, 0.7, 0.2, 0.9, 0.05, 0.05], 3), vec![1, 0]);
    }
}
