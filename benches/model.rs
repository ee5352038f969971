//! Model speed: training throughput (patches per second, forward + backward + Adam step, batch
//! 32) on the CPU backend (burn Flex), beside burn NdArray (the CPU backend songspace used before,
//! measured in the same run) and PyTorch when it is installed, and on the GPU backend when an
//! adapter exists; and embedding a 30 s clip end to end (decode -> log-mel -> CNN) with the
//! shipped model on both CPU backends, with how far apart their embeddings are.
//!
//!     cargo bench --bench model
//!     taskset -c 0 cargo bench --bench model     # one core

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::backend::Autodiff;
use burn::backend::NdArray;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use songspace::audio::{MelExtractor, MelSettings, Span, decode_file};
use songspace::model::{BackendEmbedder, CpuBackend, DeviceChoice, Embedder, GpuBackend, NetConfig, choose_device};

const BATCH: usize = 32;

fn throughput<B: AutodiffBackend>(device: &B::Device, steps: usize) -> f64 {
    let mut net = NetConfig::new(128, 128, 8).init::<B>(device);
    let mut optimizer = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let data: Vec<f32> = (0..BATCH * 128 * 128).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
    let input = Tensor::<B, 3>::from_data(TensorData::new(data, [BATCH, 128, 128]), device);
    let target = Tensor::<B, 1, Int>::from_data(
        TensorData::new((0..BATCH as i64).map(|i| i % 8).collect::<Vec<_>>(), [BATCH]),
        device,
    );
    let mut step = |net: EmbeddingNetOf<B>| {
        let (_, logits) = net.forward(input.clone());
        let loss = loss_fn.forward(logits, target.clone());
        let _ = loss.clone().into_data();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        optimizer.step(1e-3, net, grads)
    };
    for _ in 0..2 {
        net = step(net); // warm-up (lazy init, kernel compilation)
    }
    let start = Instant::now();
    for _ in 0..steps {
        net = step(net);
    }
    (steps * BATCH) as f64 / start.elapsed().as_secs_f64()
}

type EmbeddingNetOf<B> = songspace::model::EmbeddingNet<B>;

fn main() {
    println!("| training, batch {BATCH} of 128x128 patches | patches/s |");
    println!("|---|---:|");
    let before = throughput::<Autodiff<NdArray>>(&Default::default(), 10);
    let flex = throughput::<Autodiff<CpuBackend>>(&Default::default(), 10);
    println!("| before: CPU (burn NdArray) | {before:.0} |");
    println!("| CPU (burn Flex) | {flex:.0} ({:.2}x NdArray) |", flex / before);
    match choose_device(DeviceChoice::Gpu) {
        Ok((compute, _)) => println!(
            "| {} (burn wgpu) | {:.0} |",
            compute.describe(),
            throughput::<Autodiff<GpuBackend>>(&Default::default(), 5)
        ),
        Err(e) => println!("| GPU | not measured: {e} |"),
    }
    // The same network and step in PyTorch (benches/torch_train.py), with as many threads as
    // this process may use, so `taskset -c 0` compares one core with one core.
    let python = std::env::var("SONGSPACE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/torch_train.py");
    match std::process::Command::new(&python).arg(&script).output() {
        Ok(out) if out.status.success() => print!("{}", String::from_utf8_lossy(&out.stdout)),
        _ => println!("| PyTorch | not measured: `{python} -m pip install torch` (or set SONGSPACE_PYTHON) |"),
    }
    println!();

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
    println!("| decode + log-mel | {:.1} |", decode * 1e3 / n);
    println!("| CNN (16 patches, burn Flex) | {:.1} ({:.2}x NdArray) |", cnn * 1e3 / n, cnn / cnn_before);
    println!("| before: CNN (16 patches, burn NdArray) | {:.1} |", cnn_before * 1e3 / n);
    println!("| total | {:.1} |", (decode + cnn) * 1e3 / n);
    println!("largest difference between the two backends' embeddings: {largest_difference:.2e} of its length");
}
