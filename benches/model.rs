//! Model speed: training throughput (patches per second, forward + backward + Adam step, batch
//! 32) on the CPU backend (burn Flex) as `train` runs it, in alternating rounds against the same
//! step with glibc's own allocator thresholds (a child process) and the same network and step in
//! PyTorch when it is installed; beside burn NdArray (the CPU backend songspace used before),
//! the batch in one piece and the same network with burn's own Conv1d on Flex; embedding a 30 s
//! clip end to end (decode -> log-mel -> CNN) with the shipped model on both CPU backends, with
//! how far apart their embeddings are; what denormal numbers cost the CPU backend's matrix
//! product, with and without training's flush; and last, training on the GPU backend when an
//! adapter exists.
//!
//!     cargo bench --bench model
//!     taskset -c 0 cargo bench --bench model     # one core

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::backend::Autodiff;
use burn::backend::NdArray;
use burn::module::AutodiffModule;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig1d};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::backend::AutodiffBackend;
use songspace::audio::{MelExtractor, MelSettings, Span, decode_file};
use songspace::model::{
    BackendEmbedder, CPU_TRAINING_SHARDS, CpuBackend, DeviceChoice, Embedder, FlushDenormals, GpuBackend, NetConfig,
    batch_gradients, choose_device,
};

const BATCH: usize = 32;

/// Patches per second of `net` trained on one fixed batch: forward (`logits`), cross-entropy,
/// backward and an Adam step, after two warm-up steps (lazy initialisation, kernel compilation).
fn patches_per_second<B: AutodiffBackend, M: AutodiffModule<B>>(
    net: M,
    logits: impl Fn(&M, Tensor<B, 3>) -> Tensor<B, 2>,
    device: &B::Device,
    steps: usize,
) -> f64 {
    let mut optimizer = AdamConfig::new().init::<B, M>();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let data: Vec<f32> = (0..BATCH * 128 * 128).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
    let input = Tensor::<B, 3>::from_data(TensorData::new(data, [BATCH, 128, 128]), device);
    let target = Tensor::<B, 1, Int>::from_data(
        TensorData::new((0..BATCH as i64).map(|i| i % 8).collect::<Vec<_>>(), [BATCH]),
        device,
    );
    let step = |net: M| {
        let loss = loss_fn.forward(logits(&net, input.clone()), target.clone());
        let _ = loss.clone().into_data();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        optimizer.step(1e-3, net, grads)
    };
    patches_per_second_of_steps(net, step, steps)
}

/// songspace's network (unfold + matrix product blocks), trained as `train` does: the batch's
/// network work in `shards` on threads of their own (`songspace::model::batch_gradients`), the
/// loss over the whole batch.
fn throughput<B: AutodiffBackend>(device: &B::Device, steps: usize, shards: usize) -> f64 {
    let net = NetConfig::new(128, 128, 8).init::<B>(device);
    let mut optimizer = AdamConfig::new().init::<B, EmbeddingNetOf<B>>();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let data: Vec<f32> = (0..BATCH * 128 * 128).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
    let target = Tensor::<B, 1, Int>::from_data(
        TensorData::new((0..BATCH as i64).map(|i| i % 8).collect::<Vec<_>>(), [BATCH]),
        device,
    );
    let step = |net: EmbeddingNetOf<B>| {
        let patches = TensorData::new(data.clone(), [BATCH, 128, 128]);
        let result = batch_gradients(&net, patches, shards, device, |embedding| {
            (loss_fn.forward(net.head(embedding), target.clone()), ())
        });
        optimizer.step(1e-3, net, result.grads.expect("a finite loss"))
    };
    patches_per_second_of_steps(net, step, steps)
}

/// Patches per second of `steps` training steps after two warm-up steps (lazy initialisation,
/// kernel compilation).
fn patches_per_second_of_steps<M>(mut net: M, mut step: impl FnMut(M) -> M, steps: usize) -> f64 {
    for _ in 0..2 {
        net = step(net);
    }
    let start = Instant::now();
    for _ in 0..steps {
        net = step(net);
    }
    (steps * BATCH) as f64 / start.elapsed().as_secs_f64()
}

type EmbeddingNetOf<B> = songspace::model::EmbeddingNet<B>;

/// The same network with burn's own Conv1d in place of unfold + matrix product (songspace's
/// blocks), for measuring which a backend runs faster: 4 blocks of 128, 128, 256, 256 channels,
/// kernel 3, layer norm, ReLU, max-pool 2 in time but after the last; mean and max over time,
/// the 32-unit layer, the classifier.
#[derive(Module, Debug)]
struct Conv1dNet<B: Backend> {
    convs: Vec<Conv1d<B>>,
    norms: Vec<LayerNorm<B>>,
    embedding: Linear<B>,
    classifier: Linear<B>,
}

impl<B: Backend> Conv1dNet<B> {
    fn new(classes: usize, device: &B::Device) -> Self {
        let (mut convs, mut norms, mut input) = (Vec::new(), Vec::new(), 128);
        for output in [128, 128, 256, 256] {
            let conv = Conv1dConfig::new(input, output, 3).with_padding(PaddingConfig1d::Explicit(1, 1));
            convs.push(conv.init(device));
            norms.push(LayerNormConfig::new(output).init(device));
            input = output;
        }
        Self {
            convs,
            norms,
            embedding: LinearConfig::new(2 * input, 32).init(device),
            classifier: LinearConfig::new(32, classes).init(device),
        }
    }

    /// [batch, time, mels] -> logits
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        let mut x = x.swap_dims(1, 2); // [batch, channels, time]
        let last = self.convs.len() - 1;
        for (i, (conv, norm)) in self.convs.iter().zip(&self.norms).enumerate() {
            let y = relu(norm.forward(conv.forward(x).swap_dims(1, 2))); // [batch, time, channels]
            let [batch, time, channels] = y.dims();
            let y = if i < last {
                y.reshape([batch, time / 2, 2, channels]).max_dim(2).reshape([batch, time / 2, channels])
            } else {
                y
            };
            x = y.swap_dims(1, 2);
        }
        let [batch, channels, _] = x.dims();
        let pooled = Tensor::cat(
            vec![x.clone().mean_dim(2).reshape([batch, channels]), x.max_dim(2).reshape([batch, channels])],
            1,
        );
        self.classifier.forward(relu(self.embedding.forward(pooled)))
    }
}

fn conv1d_throughput<B: AutodiffBackend>(device: &B::Device, steps: usize) -> f64 {
    patches_per_second(Conv1dNet::<B>::new(8, device), |net: &Conv1dNet<B>, x| net.forward(x), device, steps)
}

/// Seconds per product of a [4096, 768] by [768, 256] matrix on Flex (the last block's unfolded
/// input of one batch of 32 patches × 128 frames, by its weights), whose left factor's values are
/// `scale` times numbers in [-1, 1): with a scale of 1e-39 every one of them, and every product,
/// is denormal.
fn matmul_seconds(scale: f32, repeats: usize) -> f64 {
    let device = Default::default();
    let left: Vec<f32> = (0..4096 * 768).map(|i| scale * (((i * 7919 % 1000) as f32 / 500.0) - 1.0)).collect();
    let right: Vec<f32> = (0..768 * 256).map(|i| ((i * 104_729 % 1000) as f32 / 500.0) - 1.0).collect();
    let left = Tensor::<CpuBackend, 2>::from_data(TensorData::new(left, [4096, 768]), &device);
    let right = Tensor::<CpuBackend, 2>::from_data(TensorData::new(right, [768, 256]), &device);
    let _ = left.clone().matmul(right.clone()).into_data();
    let start = Instant::now();
    for _ in 0..repeats {
        let _ = left.clone().matmul(right.clone()).into_data();
    }
    start.elapsed().as_secs_f64() / repeats as f64
}

fn main() {
    if std::env::var_os(DEFAULT_ALLOCATOR_CHILD).is_some() {
        // The reference for the allocator's thresholds: this bench run again, left with glibc's.
        println!("{}", throughput::<Autodiff<CpuBackend>>(&Default::default(), 10, CPU_TRAINING_SHARDS));
        return;
    }
    // As the program does first thing (src/main.rs).
    let thresholds_fixed = songspace::model::reuse_freed_memory();
    println!("allocator thresholds fixed as the program fixes them: {thresholds_fixed}");
    // Late in long runs some values fall below f32's smallest normal number; the CPU then
    // computes through microcode. Training flushes them to zero (src/model/denormals.rs).
    let normal = matmul_seconds(1.0, 20);
    let denormal = matmul_seconds(1e-39, 20);
    let flushed = {
        let _flush = FlushDenormals::on_cpu_threads();
        matmul_seconds(1e-39, 20)
    };
    println!("| matrix product [4096, 768] x [768, 256], burn Flex | ms |");
    println!("|---|---:|");
    println!("| normal numbers | {:.2} |", normal * 1e3);
    println!("| denormal numbers | {:.2} ({:.1}x normal) |", denormal * 1e3, denormal / normal);
    println!(
        "| denormal numbers, flushed to zero (as training does) | {:.2} ({:.2}x normal) |",
        flushed * 1e3,
        flushed / normal
    );
    println!();

    println!("| training, batch {BATCH} of 128x128 patches | patches/s |");
    println!("|---|---:|");
    let before = throughput::<Autodiff<NdArray>>(&Default::default(), 10, 1);
    let one_thread_step = throughput::<Autodiff<CpuBackend>>(&Default::default(), 10, 1);
    println!("| before: CPU (burn NdArray) | {before:.0} |");
    println!(
        "| before: CPU (burn Flex), the batch in one piece | {one_thread_step:.0} ({:.2}x NdArray) |",
        one_thread_step / before
    );
    let conv1d = conv1d_throughput::<Autodiff<CpuBackend>>(&Default::default(), 10);
    println!(
        "| CPU (burn Flex), burn's Conv1d in place of unfold + matrix product, one piece | {conv1d:.0} ({:.2}x unfold) |",
        conv1d / one_thread_step
    );
    // Flex as training runs, against two references in alternating rounds: the same Flex step
    // with glibc's own allocator thresholds (a child process of this bench, which has fixed them
    // as the program does), and the same network and step in PyTorch (benches/torch_train.py,
    // with as many threads as this process may use, so `taskset -c 0` compares one core with
    // one core). The host's load moves each side's speed by half from minute to minute here,
    // so one measurement of each compares two moments, not two programs.
    let python = std::env::var("SONGSPACE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/torch_train.py");
    let (mut flex_rates, mut torch_rates, mut default_rates) = (Vec::new(), Vec::new(), Vec::new());
    let (mut torch_ratios, mut allocator_ratios) = (Vec::new(), Vec::new());
    let mut torch_label = None;
    for round in 1..=TORCH_ROUNDS {
        let flex = throughput::<Autodiff<CpuBackend>>(&Default::default(), 10, CPU_TRAINING_SHARDS);
        flex_rates.push(flex);
        let mut row = format!("| round {round}: Flex, {CPU_TRAINING_SHARDS} shards | {flex:.0}");
        if let Some(default) = default_allocator_rate() {
            row += &format!("; glibc's own thresholds {default:.0} ({:.2}x)", flex / default);
            default_rates.push(default);
            allocator_ratios.push(flex / default);
        }
        if let Some((label, torch)) = torch_rate(&python, &script, &[]) {
            row += &format!("; PyTorch {torch:.0} ({:.2}x)", flex / torch);
            torch_label = Some(label);
            torch_rates.push(torch);
            torch_ratios.push(flex / torch);
        }
        println!("{row} |");
    }
    let flex = median(&mut flex_rates);
    println!(
        "| CPU (burn Flex), the batch in {CPU_TRAINING_SHARDS} shards, as training runs (on threads of their own; in turn with one core), median of {TORCH_ROUNDS} rounds | {flex:.0} ({:.2}x NdArray, {:.2}x one piece) |",
        flex / before,
        flex / one_thread_step
    );
    if !default_rates.is_empty() {
        println!(
            "| before: the same with glibc's own allocator thresholds, median of the same rounds | {:.0} |",
            median(&mut default_rates)
        );
        println!(
            "| fixed thresholds / glibc's own, median of the rounds' ratios | {} |",
            spread(&mut allocator_ratios)
        );
    }
    match torch_label {
        Some(label) => {
            println!("| {label}, median of the same rounds | {:.0} |", median(&mut torch_rates));
            println!("| **Flex / PyTorch**, median of the rounds' ratios | **{}** |", spread(&mut torch_ratios));
        }
        None => println!("| PyTorch | not measured: `{python} -m pip install torch` (or set SONGSPACE_PYTHON) |"),
    }
    println!();

    embedding_table();
    println!();

    // Last: once a wgpu device exists its service thread stays alive and polls for the rest of
    // the process (5-15 % of a core on Mesa's software driver here), which slowed every
    // measurement made after it, PyTorch's most of all (a child process, measured in its first
    // seconds).
    println!("| training on the GPU backend, batch {BATCH} | patches/s |");
    println!("|---|---:|");
    match choose_device(DeviceChoice::Gpu) {
        Ok((compute, _)) => {
            let wgpu_rate = throughput::<Autodiff<GpuBackend>>(&Default::default(), 5, 1);
            println!("| {} (burn wgpu) | {wgpu_rate:.0} |", compute.describe());
            // The reference on the same card, where PyTorch has CUDA (an NVIDIA GPU).
            match torch_rate(&python, &script, &["--cuda"]) {
                Some((label, rate)) => {
                    println!("| {label}, same network and step | {rate:.0} |");
                    println!("| **wgpu / PyTorch CUDA** | **{:.2}x** |", wgpu_rate / rate);
                }
                None => println!("| PyTorch on CUDA | not measured: no CUDA device (or no torch) |"),
            }
        }
        Err(e) => println!("| GPU | not measured: {e} |"),
    }
}

/// Embedding a 30 s clip end to end with the shipped model: decode + log-mel, then the CNN, on
/// Flex and (the reference) NdArray, shared by rayon's threads and on one thread.
fn embedding_table() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/genre-cnn");
    let embedder = Embedder::load(&model).expect("shipped model");
    let before_embedder = BackendEmbedder::<NdArray>::load(&model).expect("shipped model");
    let corpus = std::env::var_os("SONGSPACE_DEV_CORPUS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/songspace-dev-corpus")
    });
    let clips: Vec<PathBuf> = (1..=160)
        .step_by(16)
        .map(|i| corpus.join(format!("fma_dev/300/300{i:03}.mp3")))
        .filter(|p| p.is_file())
        .collect();
    if clips.is_empty() {
        println!("embedding: no corpus clips at {}", corpus.display());
        return;
    }
    let extractor = MelExtractor::new(MelSettings::default());
    let (mut decode, mut cnn, mut cnn_before, mut largest_difference) = (0.0, 0.0, 0.0, 0.0f32);
    // Before this version a file was decoded and analysed on one thread, as it still is inside a
    // pool of one (an import's workers each have a file of their own).
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool");
    let (mut decode_one_thread, mut cnn_one_thread) = (0.0, 0.0);
    for clip in &clips {
        let t0 = Instant::now();
        let mel = one_thread.install(|| extractor.compute(&decode_file(clip, Span::Whole).expect("clip").samples));
        let t1 = Instant::now();
        let e = one_thread.install(|| embedder.embed(&mel));
        assert_eq!(e.len(), 32);
        decode_one_thread += (t1 - t0).as_secs_f64();
        cnn_one_thread += t1.elapsed().as_secs_f64();
    }
    for clip in &clips {
        let t0 = Instant::now();
        let mel = extractor.compute(&decode_file(clip, Span::Whole).expect("clip").samples);
        let t1 = Instant::now();
        let e = embedder.embed(&mel);
        let t2 = Instant::now();
        let reference = before_embedder.embed(&mel);
        assert_eq!(e.len(), 32);
        decode += (t1 - t0).as_secs_f64();
        cnn += (t2 - t1).as_secs_f64();
        cnn_before += t2.elapsed().as_secs_f64();
        // Relative to the embedding's size: the two backends round differently, nothing more.
        let norm = reference.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-6);
        let difference = e.iter().zip(&reference).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt() / norm;
        largest_difference = largest_difference.max(difference);
    }
    let n = clips.len() as f64;
    println!("| embedding a 30 s MP3 clip ({} clips) | ms |", clips.len());
    println!("|---|---:|");
    println!(
        "| decode + log-mel, the file shared by rayon's {} threads | {:.1} |",
        rayon::current_num_threads(),
        decode * 1e3 / n
    );
    println!("| CNN (16 patches, burn Flex) | {:.1} ({:.2}x NdArray) |", cnn * 1e3 / n, cnn / cnn_before);
    println!("| before: CNN (16 patches, burn NdArray) | {:.1} |", cnn_before * 1e3 / n);
    println!("| total | {:.1} |", (decode + cnn) * 1e3 / n);
    println!(
        "| before: decode + log-mel on one thread, same run | {:.1} (shared: {:.2}x) |",
        decode_one_thread * 1e3 / n,
        decode / decode_one_thread
    );
    println!(
        "| CNN in a pool of one thread | {:.1} (all threads: {:.2}x) |",
        cnn_one_thread * 1e3 / n,
        cnn / cnn_one_thread
    );
    println!(
        "| before: total (decode + log-mel on one thread, the CNN as above) | {:.1} (now: {:.2}x) |",
        (decode_one_thread + cnn) * 1e3 / n,
        (decode + cnn) / (decode_one_thread + cnn)
    );
    println!("largest difference between the two backends' embeddings: {largest_difference:.2e} of its length");
}

/// Rounds of Flex against PyTorch, alternating.
const TORCH_ROUNDS: usize = 5;

/// PyTorch's label and patches per second from one run of `script` (its one output line,
/// `| label | rate |`), or None when it cannot run (no python, no torch).
fn torch_rate(python: &str, script: &Path, args: &[&str]) -> Option<(String, f64)> {
    let out = std::process::Command::new(python).arg(script).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.trim().trim_matches('|').split('|').map(str::trim).collect();
    match fields.as_slice() {
        [label, rate] => Some((label.to_string(), rate.parse().ok()?)),
        _ => None,
    }
}

/// Set in the child process that measures training with glibc's own allocator thresholds.
const DEFAULT_ALLOCATOR_CHILD: &str = "SONGSPACE_BENCH_DEFAULT_ALLOCATOR";

/// Patches per second of Flex training (4 shards) in a child process that leaves glibc's
/// allocator thresholds as they are; None where it cannot run.
fn default_allocator_rate() -> Option<f64> {
    let out =
        std::process::Command::new(std::env::current_exe().ok()?).env(DEFAULT_ALLOCATOR_CHILD, "1").output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// "median x (rounds lowest x to highest x)"
fn spread(ratios: &mut [f64]) -> String {
    let median = median(ratios);
    format!("{median:.2}x (rounds {:.2}x to {:.2}x)", ratios[0], ratios[ratios.len() - 1])
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}
