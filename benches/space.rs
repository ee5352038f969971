//! The map, measured: our 3D t-SNE against openTSNE (Barnes-Hut, 3 components, same perplexity
//! and iterations) and against bhtsne with its own defaults, on the development corpus's
//! embeddings and on a synthetic 10,000 × 32 Gaussian mixture: wall time, trustworthiness
//! (k = 10, computed by the same code for every map) and 3-NN label agreement in 32-d and in 3D.
//! Then scale: 106,574 synthetic points projected (time, peak memory), and the neighbour queries
//! the window runs at that size.
//!
//!     cargo bench --bench space
//!     SONGSPACE_BENCH_SKIP_OPENTSNE=1 cargo bench --bench space    # ours only
//!     SONGSPACE_BENCH_SKIP_SCALE=1 SONGSPACE_BENCH_TSNE='(iterations: 500)' cargo bench --bench space
//!     SONGSPACE_BENCH_DROP=1 cargo bench --bench space    # only: a drop's work on the frame at 106,574
//!
//! openTSNE runs through `python3 benches/opentsne_3d.py` (`pip install openTSNE`; or set
//! SONGSPACE_PYTHON). The corpus row needs the development corpus (tools/dev-corpus).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use songspace::audio::npy::{read_2d, write_f32_2d};
use songspace::library::{ImportOptions, import_folder, load_embeddings, load_library};
use songspace::model::embed_library;
use songspace::space::{
    DistanceRanking, EmbeddingIndex, Map, Metric, PositionIndex, ProjectionMethod, TsneEvent, TsneSettings, TsneStage,
    label_agreement, trustworthiness, tsne_3d,
};

const FULL_SIZE: usize = 106_574;

struct Dataset {
    name: String,
    values: Vec<f32>,
    dim: usize,
    labels: Vec<Option<usize>>,
}

fn main() {
    if std::env::var_os("SONGSPACE_BENCH_SCALE_CHILD").is_some() {
        scale_child();
        return;
    }
    if std::env::var_os("SONGSPACE_BENCH_DROP").is_some() {
        drop_on_a_large_library();
        return;
    }
    let mut datasets = Vec::new();
    match corpus_embeddings() {
        Ok(d) => datasets.push(d),
        Err(e) => println!("(corpus row skipped: {e})\n"),
    }
    datasets.push(mixture(10_000, 32, 20, 7));

    println!("| data | t-SNE | time (s) | trustworthiness k=10 | 3-NN label agreement 32-d → 3D |");
    println!("|---|---|---:|---:|---:|");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for data in &datasets {
        let n = data.values.len() / data.dim;
        let settings = bench_settings();
        let schedule = format!(
            "{} + {} iterations",
            settings.exaggeration_iterations,
            settings.iterations - settings.exaggeration_iterations
        );
        let mut ours_on_every_core = None;
        for threads in if cores > 1 { vec![cores, 1] } else { vec![1] } {
            let (ours, seconds) = timed(|| run_ours(data, &settings, threads));
            report(
                data,
                &format!("songspace (PCA start, two phases, {schedule}), {threads} thread{}", plural(threads)),
                &ours,
                seconds,
            );
            match &ours_on_every_core {
                None => ours_on_every_core = Some((ours, seconds)),
                Some((first, _)) => {
                    let same = first.iter().zip(&ours).all(|(a, b)| a.map(f32::to_bits) == b.map(f32::to_bits));
                    println!(
                        "| {} | the map on {cores} threads and on 1, bit for bit | {} | | |",
                        data.name,
                        if same { "the same" } else { "DIFFERENT" }
                    );
                }
            }
        }
        let (before, seconds) = timed(|| previous_optimiser(data, &settings));
        report(data, &format!("before: bhtsne's optimiser, same settings ({schedule}), 1 thread"), &before, seconds);

        let (as_is, seconds) = timed(|| bhtsne_as_is(data, settings.effective_perplexity(n), settings.iterations));
        report(data, &format!("bhtsne with its defaults (random start, one phase), {cores} threads"), &as_is, seconds);

        if std::env::var_os("SONGSPACE_BENCH_SKIP_OPENTSNE").is_none() {
            // With every core, as openTSNE runs by default, and with one.
            let mut thread_counts = vec![cores];
            if cores > 1 {
                thread_counts.push(1);
            }
            let schedule = |s: &TsneSettings| {
                format!("{} + {}", s.exaggeration_iterations, s.iterations - s.exaggeration_iterations)
            };
            // openTSNE's own schedule, 250 exaggerated + 500.
            let its_own = TsneSettings { iterations: 750, exaggeration_iterations: 250, ..settings.clone() };
            let mut runs: Vec<(usize, &TsneSettings)> = thread_counts.iter().map(|&t| (t, &settings)).collect();
            runs.push((1, &its_own));
            for (threads, run) in runs {
                let method = format!(
                    "openTSNE 1.0 (BH, PCA start, {} iterations), {threads} thread{}",
                    schedule(run),
                    if threads > 1 { "s" } else { "" }
                );
                match open_tsne(data, run, threads) {
                    Ok((positions, seconds)) => report(data, &method, &positions, seconds),
                    Err(e) => println!("| {} | openTSNE | not measured: {e} | | |", data.name),
                }
            }
        }
    }
    println!();

    if std::env::var_os("SONGSPACE_BENCH_SKIP_SCALE").is_some() {
        return;
    }
    // Scale, in a child process so its peak memory is its own.
    let exe = std::env::current_exe().expect("own path");
    let status = std::process::Command::new(exe).env("SONGSPACE_BENCH_SCALE_CHILD", "1").status();
    if !matches!(status, Ok(s) if s.success()) {
        println!("scale run failed: {status:?}");
    }
    println!();
    drop_on_a_large_library();
}

/// What a dropped song costs the window's frame at fma_large's size: adding it to the map and
/// the explorer's tables (its analysis and placement run on the drop worker), against what the
/// frame did before in the same run: every kd-tree and every table rebuilt.
fn drop_on_a_large_library() {
    use songspace::explore::Explorer;
    use songspace::library::{FeatureInfo, FileFingerprint, Library, SourceKind, Track};
    use songspace::space::{LocateTimings, Located};

    let n = FULL_SIZE;
    let data = mixture(n, 32, 16, 13);
    // Positions stand in for a t-SNE map (the costs measured do not depend on where points are).
    let positions: Vec<[f32; 3]> = data.values.chunks_exact(32).map(|v| [v[0], v[1], v[2]]).collect();
    let folder = std::env::temp_dir().join(format!("songspace-bench-drop-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("folder");
    let mut library = Library::new(folder.clone(), SourceKind::Folder);
    for (row, label) in data.labels.iter().enumerate() {
        let genre = label.map(|l| format!("Genre {l}"));
        library.tracks.push(Track {
            id: row as u64 + 1,
            path: PathBuf::from(format!("artist {}/album {}/track {row}.mp3", row % 997, row % 8971)),
            title: format!("Track {row}"),
            artist: format!("Artist {}", row % 997),
            album: format!("Album {}", row % 8971),
            genres: genre.iter().cloned().collect(),
            genre,
            duration_seconds: 30.0,
            split: None,
            fingerprint: FileFingerprint { size: 1, modified_ns: 1 },
            features: None,
            descriptors: None,
        });
    }
    let ids: Vec<u64> = (1..=n as u64).collect();
    let build_map = || {
        Map::new(ids.clone(), data.values.clone(), 32, positions.clone(), 30.0, ProjectionMethod::Tsne).expect("map")
    };
    let mut explorer = Explorer::new(library.clone(), folder.join("library.ron"), build_map());

    let drops = 20;
    let (mut on_frame, mut selecting) = (Vec::new(), Vec::new());
    for d in 0..drops {
        let file = folder.join(format!("dropped {d}.mp3"));
        std::fs::write(&file, b"bench").expect("file");
        let embedding: Vec<f32> = explorer.map().embedding(d * 101).iter().map(|v| v + 0.01).collect();
        // Placed as the drop worker does, off the frame: not timed.
        let located = Located {
            placement: explorer.map().place(&embedding),
            neighbours: explorer.map().neighbours_of_vector(&embedding, 3, Metric::Euclidean),
            embedding,
            tags: songspace::audio::Tags { genres: vec![format!("Genre {}", d % 16)], ..Default::default() },
            duration_seconds: 30.0,
            analysed: FeatureInfo { offset_seconds: 0.0, seconds: 30.0, frames: 1292 },
            descriptors: songspace::audio::Descriptors {
                tempo_bpm: 120.0,
                loudness_dbfs: -14.0,
                brightness_hz: 1500.0,
                onset_rate: 2.0,
                dynamics_db: 10.0,
            },
            timings: LocateTimings::default(),
        };
        let start = Instant::now();
        let (row, _) = explorer.add_located(&file, &located).expect("added");
        on_frame.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        explorer.select(row);
        selecting.push(start.elapsed().as_secs_f64() * 1e3);
    }
    fn ms<T>((value, seconds): (T, f64)) -> (T, f64) {
        (value, seconds * 1e3)
    }
    let (rebuilt, rebuild_ms) = ms(timed(|| explorer.map().indices().rebuilt().expect("rebuilt")));
    let (adopted, adopt_ms) = ms(timed(|| explorer.adopt_indices(&rebuilt)));
    let retired = adopted.expect("adopted");
    let (_, free_ms) = ms(timed(|| drop(retired)));
    // The reference, as the frame did it before: all three kd-trees and every table rebuilt.
    let (map, trees_ms) = ms(timed(build_map));
    let (_, tables_ms) = ms(timed(|| Explorer::new(library, folder.join("library.ron"), map)));
    // What the window then redoes on the frame for the GPU: the instance and filter buffers.
    let (_, instances_ms) = ms(timed(|| songspace::app::cloud::cloud_instances(&explorer)));
    let (_, filter_ms) = ms(timed(|| explorer.point_filter_values()));
    on_frame.sort_by(f64::total_cmp);
    selecting.sort_by(f64::total_cmp);
    let (median, worst) = (on_frame[drops / 2], on_frame[drops - 1]);
    println!("| a dropped song on the frame, {n} songs | time |");
    println!("|---|---:|");
    println!("| added to the map and the explorer's tables: median / worst of {drops} | {median:.2} / {worst:.2} ms |");
    println!("| then the GPU's instance buffer refilled (every song) | {instances_ms:.2} ms |");
    println!("| and its filter values (every song) | {filter_ms:.2} ms |");
    println!(
        "| then selecting it (3 nearest + distance ranking, as any click): median | {:.2} ms |",
        selecting[drops / 2]
    );
    println!("| kd-trees rebuilt on the rebuild thread (off the frame) | {rebuild_ms:.0} ms |");
    println!("| adopting the rebuilt trees (on the frame) | {adopt_ms:.3} ms |");
    println!("| freeing the old trees (on another thread) | {free_ms:.1} ms |");
    println!(
        "| before, on the frame: kd-trees {trees_ms:.0} ms + every table as an opened library builds them {tables_ms:.0} ms; ratio now / before | {:.4} |",
        median / (trees_ms + tables_ms)
    );
    std::fs::remove_dir_all(&folder).ok();
}

/// The default settings, or others from SONGSPACE_BENCH_TSNE (RON, e.g.
/// `(iterations: 500, theta: 0.8)`) to measure a change before making it the default.
fn bench_settings() -> TsneSettings {
    match std::env::var("SONGSPACE_BENCH_TSNE") {
        Ok(text) => ron::from_str(&text).expect("SONGSPACE_BENCH_TSNE: RON TsneSettings"),
        Err(_) => TsneSettings::default(),
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed().as_secs_f64())
}

fn report(data: &Dataset, method: &str, positions: &[[f32; 3]], seconds: f64) {
    let trust = trustworthiness(&data.values, data.dim, positions, 10, None);
    let (high, low) = label_agreement(&data.values, data.dim, positions, &data.labels, 3);
    println!("| {} | {method} | {seconds:.1} | {trust:.4} | {:.1}% → {:.1}% |", data.name, high * 100.0, low * 100.0);
}

fn run_ours(data: &Dataset, settings: &TsneSettings, threads: usize) -> Vec<[f32; 3]> {
    tsne_3d(&data.values, data.dim, settings, threads, &AtomicBool::new(false), &mut |_| {}).expect("no cancel")
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// What songspace ran before its own optimiser, kept as the reference: bhtsne's, one fit per
/// phase, on one thread (its parallel sums were not reproducible), from the same neighbours and
/// the same start.
fn previous_optimiser(data: &Dataset, settings: &TsneSettings) -> Vec<[f32; 3]> {
    let n = data.values.len() / data.dim;
    let rows: Vec<&[f32]> = data.values.chunks_exact(data.dim).collect();
    let perplexity = settings.effective_perplexity(n);
    let k = ((3.0 * perplexity) as usize).clamp(1, n - 1);
    let neighbours: Vec<Vec<bhtsne::Neighbor<f32>>> = songspace::space::all_nearest(&data.values, data.dim, k)
        .into_iter()
        .map(|row| row.into_iter().map(|nb| bhtsne::Neighbor { index: nb.index, distance: nb.distance }).collect())
        .collect();
    // The start, as ours takes it: the map of no iterations.
    let start = TsneSettings { iterations: 0, exaggeration_iterations: 0, ..settings.clone() };
    let start: Vec<f32> = run_ours(data, &start, 1).into_iter().flatten().collect();
    let fit = || {
        let mut layout = start;
        let phases = [
            (settings.exaggeration_iterations, settings.early_exaggeration, 0.5),
            (settings.iterations - settings.exaggeration_iterations, 1.0, 0.8),
        ];
        for (epochs, exaggeration, momentum) in phases {
            if epochs == 0 {
                continue;
            }
            let mut tsne = bhtsne::tSNE::<f32, &[f32], 3>::new(&rows);
            tsne.perplexity(perplexity)
                .epochs(epochs)
                .learning_rate(settings.effective_learning_rate(n, exaggeration))
                .early_exaggeration(exaggeration)
                .stop_lying_epoch(if exaggeration > 1.0 { epochs } else { 0 })
                .momentum(momentum)
                .final_momentum(momentum)
                .initial_embedding(layout);
            tsne.barnes_hut_with_neighbors(settings.theta, &neighbours);
            layout = tsne.embedding();
        }
        layout
    };
    let layout = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool").install(fit);
    layout.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect()
}

/// bhtsne as its README uses it: random start and its own learning-rate rule, same perplexity
/// and iterations.
fn bhtsne_as_is(data: &Dataset, perplexity: f32, iterations: usize) -> Vec<[f32; 3]> {
    let rows: Vec<&[f32]> = data.values.chunks_exact(data.dim).collect();
    let mut tsne = bhtsne::tSNE::<f32, &[f32], 3>::new(&rows);
    tsne.perplexity(perplexity)
        .epochs(iterations)
        .barnes_hut(0.5, |a, b| a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt());
    tsne.embedding().chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect()
}

fn open_tsne(data: &Dataset, settings: &TsneSettings, threads: usize) -> Result<(Vec<[f32; 3]>, f64), String> {
    let n = data.values.len() / data.dim;
    let dir = std::env::temp_dir().join(format!("songspace-bench-space-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let input = dir.join("in.npy");
    let output = dir.join("out.npy");
    write_f32_2d(&input, n, data.dim, &data.values).map_err(|e| e.to_string())?;
    let python = std::env::var("SONGSPACE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/opentsne_3d.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .env("OMP_NUM_THREADS", threads.to_string())
        .env("OPENBLAS_NUM_THREADS", threads.to_string())
        .env("MKL_NUM_THREADS", threads.to_string())
        .arg(&input)
        .arg(&output)
        .args([
            settings.effective_perplexity(n).to_string(),
            settings.exaggeration_iterations.to_string(),
            (settings.iterations - settings.exaggeration_iterations).to_string(),
            threads.to_string(),
        ])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("`{python} -m pip install openTSNE` ({})", stderr.lines().last().unwrap_or("failed")));
    }
    let seconds: f64 =
        String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|_| "no time printed".to_string())?;
    let array = read_2d(&output).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((array.values.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(), seconds))
}

/// A Gaussian mixture: `clusters` centres, each with its own spread and size, in `dim` dimensions.
fn mixture(n: usize, dim: usize, clusters: usize, seed: u64) -> Dataset {
    let mut state = seed;
    let mut uniform = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64).max(1e-12)
    };
    let mut normal = move || {
        let (a, b) = (uniform(), uniform());
        ((-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()) as f32
    };
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| (0..dim).map(|_| normal()).collect()).collect();
    let spreads: Vec<f32> = (0..clusters).map(|c| 0.6 + 0.8 * (c as f32 / clusters as f32)).collect();
    // Uneven sizes: cluster c gets a share proportional to 1 + c % 4.
    let weights: Vec<usize> = (0..clusters).map(|c| 1 + c % 4).collect();
    let total: usize = weights.iter().sum();
    let mut values = Vec::with_capacity(n * dim);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let mut slot = (i * total / n) % total;
        let cluster = weights
            .iter()
            .position(|&w| {
                if slot < w {
                    true
                } else {
                    slot -= w;
                    false
                }
            })
            .unwrap_or(0);
        values.extend(centres[cluster].iter().map(|c| c + normal() * spreads[cluster]));
        labels.push(Some(cluster));
    }
    Dataset { name: format!("mixture {}k × {dim}", n / 1000), values, dim, labels }
}

/// The development corpus imported and embedded with the shipped model (cached between runs).
fn corpus_embeddings() -> Result<Dataset, String> {
    let corpus = std::env::var_os("SONGSPACE_DEV_CORPUS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/songspace-dev-corpus")
    });
    let music = corpus.join("fma_dev");
    if !music.is_dir() {
        return Err(format!("no development corpus at {}", corpus.display()));
    }
    let library_path = std::env::temp_dir().join("songspace-bench-space-corpus/library.ron");
    let never = AtomicBool::new(false);
    import_folder(&music, &library_path, &ImportOptions::default(), &never, &mut |_| {}).map_err(|e| e.to_string())?;
    let mut library = load_library(&library_path).map_err(|e| e.to_string())?;
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/genre-cnn");
    embed_library(&mut library, &library_path, &model, &never, &|_, _| {}).map_err(|e| e.to_string())?;
    // The library names its embeddings file (by generation); a fresh load says which.
    let library = load_library(&library_path).map_err(|e| e.to_string())?;
    let embeddings = load_embeddings(&library.embeddings_file(&library_path)).map_err(|e| e.to_string())?;
    let mut genre_ids: Vec<String> = Vec::new();
    let labels = embeddings
        .ids
        .iter()
        .map(|&id| {
            let genre = library.track(id)?.genre.clone()?;
            Some(genre_ids.iter().position(|g| *g == genre).unwrap_or_else(|| {
                genre_ids.push(genre);
                genre_ids.len() - 1
            }))
        })
        .collect();
    Ok(Dataset {
        name: format!("dev corpus {} × {}", embeddings.len(), embeddings.dim),
        dim: embeddings.dim,
        values: embeddings.values,
        labels,
    })
}

fn peak_memory_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn scale_child() {
    let data = mixture(FULL_SIZE, 32, 16, 11);
    let n = FULL_SIZE;
    let settings = bench_settings();
    println!("| {n} synthetic × 32 | value |");
    println!("|---|---:|");
    let before = peak_memory_mib();
    let start = Instant::now();
    let mut optimising_from = None;
    let positions = tsne_3d(&data.values, 32, &settings, 0, &AtomicBool::new(false), &mut |event| {
        if let TsneEvent::Stage(TsneStage::Optimising) = event {
            optimising_from = Some(start.elapsed().as_secs_f64());
        }
    })
    .expect("no cancel");
    let seconds = start.elapsed().as_secs_f64();
    let seconds_of_tsne = seconds;
    let neighbours = optimising_from.unwrap_or(0.0);
    println!(
        "| t-SNE, {} iterations (perplexity {}), in all | {seconds:.1} s |",
        settings.iterations, settings.perplexity
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "| of which exact 90-NN of every point, P and the PCA start ({cores} threads; P on 1) | {neighbours:.1} s |"
    );
    println!("| of which the optimisation ({cores} threads) | {:.1} s |", seconds - neighbours);
    println!(
        "| peak memory of the process (data {:.0} MiB; before t-SNE {before:.0} MiB) | {:.0} MiB |",
        (n * 32 * 4) as f64 / 1048576.0,
        peak_memory_mib()
    );
    let sample: Vec<usize> = (0..n).step_by(n / 1000).collect();
    println!(
        "| trustworthiness k=10 (1,000 sampled points, ranks among all) | {:.4} |",
        trustworthiness(&data.values, 32, &positions, 10, Some(&sample))
    );

    let (map, seconds) = timed(|| {
        Map::new(
            (0..n as u64).collect(),
            data.values.clone(),
            32,
            positions.clone(),
            settings.perplexity,
            ProjectionMethod::Tsne,
        )
        .expect("map")
    });
    println!("| build kd-trees (32-d Euclidean + cosine, 3D) | {:.0} ms |", seconds * 1e3);
    let facts = vec![songspace::explore::clusters::SongFacts::default(); n];
    let (report, seconds) = timed(|| songspace::explore::clusters::cluster_songs(&map, &facts, None, 1));
    println!(
        "| clusters as the window makes them (k by silhouette on an even sample of 4,000, then k-means++ on every song; k = {}) | {seconds:.1} s, {:.3}× the t-SNE |",
        report.k,
        seconds / seconds_of_tsne
    );
    let queries: Vec<usize> = (0..n).step_by(n / 200).collect();
    let per_query = |f: &dyn Fn(usize)| {
        let start = Instant::now();
        for &q in &queries {
            f(q);
        }
        start.elapsed().as_secs_f64() * 1e3 / queries.len() as f64
    };
    let index: &EmbeddingIndex = map.embedding_index(Metric::Euclidean);
    println!("| 3 nearest in 32-d (kiddo) | {:.3} ms |", per_query(&|q| assert_eq!(index.nearest_to(q, 3).len(), 3)));
    let cosine = map.embedding_index(Metric::Cosine);
    println!(
        "| 3 nearest in 32-d, cosine (kiddo) | {:.3} ms |",
        per_query(&|q| assert_eq!(cosine.nearest_to(q, 3).len(), 3))
    );
    let positions_index: &PositionIndex = map.position_index();
    println!(
        "| 3 nearest in 3D (kiddo) | {:.3} ms |",
        per_query(&|q| assert_eq!(positions_index.nearest_to(q, 3).len(), 3))
    );
    // A radius that keeps about a tenth of the library, as a half-open slider would.
    let ranking: DistanceRanking = index.ranking_from(index.point(0));
    let radius = {
        let mut d: Vec<f32> = (0..n).map(|i| ranking.distance_of(i)).collect();
        d.sort_by(f32::total_cmp);
        d[n / 10]
    };
    println!(
        "| points within d of a track, 32-d (kiddo radius query, ~10% of the map) | {:.2} ms |",
        per_query(&|q| {
            index.within(index.point(q), radius);
        })
    );
    println!(
        "| distance ranking from a track (on selection: all distances + sort) | {:.2} ms |",
        per_query(&|q| {
            index.ranking_from(index.point(q));
        })
    );
    let slider = {
        let start = Instant::now();
        let mut visible = 0;
        for step in 0..1000 {
            visible += ranking.count_within(ranking.max_distance() * step as f32 / 1000.0);
        }
        assert!(visible > 0);
        start.elapsed().as_secs_f64() * 1e3 / 1000.0
    };
    println!("| distance filter, one slider move (ranking lookup) | {slider:.4} ms |");
    println!(
        "| place a new point (t-SNE objective, others fixed) | {:.1} ms |",
        per_query(&|q| {
            let e: Vec<f32> = map.embedding(q).iter().map(|v| v + 0.01).collect();
            map.place(&e);
        })
    );
}
