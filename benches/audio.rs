//! Decode + log-mel throughput on real 30 s MP3 clips, on one thread (compared with librosa on the
//! same files, benches/librosa_mel.py) and one file shared by every thread, plus the parity of
//! the two on those clips.
//!
//!     cargo bench --bench audio            # clips from the development corpus
//!     SONGSPACE_BENCH_CLIPS=40 cargo bench --bench audio
//!
//! Clips: `$SONGSPACE_DEV_CORPUS/fma_dev` (default `~/.cache/songspace-dev-corpus`), built by
//! tools/dev-corpus/build-dev-corpus.sh.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use songspace::audio::{DescriptorAnalyser, MelExtractor, MelSettings, Span, SpectralSums, decode_file, npy};

fn main() {
    let corpus = songspace_corpus_dir();
    let wanted: usize = std::env::var("SONGSPACE_BENCH_CLIPS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let mut clips = Vec::new();
    collect_mp3(&corpus.join("fma_dev"), &mut clips);
    clips.sort();
    // Spread the sample over the corpus (its ids are ordered by genre).
    let step = (clips.len() / wanted.max(1)).max(1);
    let clips: Vec<PathBuf> = clips.into_iter().step_by(step).take(wanted).collect();
    if clips.is_empty() {
        eprintln!("no clips under {}: build the corpus with tools/dev-corpus/build-dev-corpus.sh", corpus.display());
        std::process::exit(1);
    }

    let extractor = MelExtractor::new(MelSettings::default());
    let describer = DescriptorAnalyser::new(MelSettings::default());
    let out_dir = std::env::temp_dir().join(format!("songspace-bench-mel-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("temp dir");
    // Inside a pool of one thread a file is analysed in one piece, as an import's workers do
    // (each has a file of its own); on the calling thread it is shared with rayon's threads, as
    // when one file is dropped or located. Both give the same values to the bit.
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool");
    let alone = one_thread.install(|| measure(&clips, &extractor, &describer, Some(&out_dir)));
    let shared = measure(&clips, &extractor, &describer, None);
    let n = clips.len() as f64;
    let ours = n / (alone.decode + alone.mel).as_secs_f64();
    let per_clip = |d: Duration| d.as_secs_f64() * 1e3 / n;

    println!(
        "decode + log-mel, {} clips ({:.0} s of audio): one thread (as an import's workers run), and one file \
         shared by rayon's {} threads (as a drop or `locate` runs)",
        clips.len(),
        alone.audio_seconds,
        rayon::current_num_threads()
    );
    println!("| step | ms per clip, one thread | ms per clip, shared | shared / one thread |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, a: Duration, b: Duration| {
        println!("| {name} | {:.1} | {:.1} | {:.2}x |", per_clip(a), per_clip(b), b.as_secs_f64() / a.as_secs_f64());
    };
    row("decode + resample (symphonia, rubato)", alone.decode, shared.decode);
    row("log-mel (realfft, sparse mel)", alone.mel, shared.mel);
    row("total", alone.decode + alone.mel, shared.decode + shared.mel);
    row("import's analysis: log-mel with the descriptors", alone.described, shared.described);
    println!();
    for (name, t) in [("one thread", &alone), ("shared", &shared)] {
        println!(
            "{name}: the log-mel with the descriptors (tempo, centroid, onsets, levels) {:.1} ms per clip, {:.2}× the \
             log-mel alone; decode + that: {:.2}× decoding alone; of which the log-mel with each frame's centroid \
             {:.1} ms, tempo, onsets and levels {:.1} ms",
            per_clip(t.described),
            t.described.as_secs_f64() / t.mel.as_secs_f64(),
            (t.decode + t.described).as_secs_f64() / t.decode.as_secs_f64(),
            per_clip(t.visiting),
            per_clip(t.summing)
        );
    }
    println!();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/librosa_mel.py");
    let librosa = Command::new("python3").arg(&script).arg("--parity").arg(&out_dir).args(&clips).output();
    let _ = std::fs::remove_dir_all(&out_dir);
    let parsed = librosa
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().last().and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok()));
    println!("| implementation | clips/s (one thread) | ratio |");
    println!("|---|---:|---:|");
    println!("| songspace | {ours:.2} | |");
    match parsed {
        Some(v) => {
            let theirs = v["clips_per_second"].as_f64().unwrap_or(f64::NAN);
            println!(
                "| librosa {} | {theirs:.2} | songspace is {:.1}x |",
                v["librosa"].as_str().unwrap_or("?"),
                ours / theirs
            );
            println!();
            println!(
                "parity with librosa on these clips: mean |difference| {:.3} dB (worst clip {:.3} dB)",
                v["parity_mean_abs_db"].as_f64().unwrap_or(f64::NAN),
                v["parity_worst_clip_mean_abs_db"].as_f64().unwrap_or(f64::NAN)
            );
        }
        None => println!("| librosa | not measured: `python3 -m pip install librosa==0.10.2.post1` | |"),
    }
}

#[derive(Default)]
struct Timings {
    decode: Duration,
    mel: Duration,
    described: Duration,
    visiting: Duration,
    summing: Duration,
    audio_seconds: f64,
}

/// Times each step on every clip (after a warm-up clip, as for librosa); writes each log-mel as
/// .npy into `npy_dir` for the parity check.
fn measure(
    clips: &[PathBuf],
    extractor: &MelExtractor,
    describer: &DescriptorAnalyser,
    npy_dir: Option<&Path>,
) -> Timings {
    let _ = decode_file(&clips[0], Span::Whole).map(|a| extractor.compute(&a.samples));
    let mut t = Timings::default();
    for clip in clips {
        let t0 = Instant::now();
        let audio = decode_file(clip, Span::Whole).expect("decodable clip");
        let t1 = Instant::now();
        let spec = extractor.compute(&audio.samples);
        let t2 = Instant::now();
        // What import does: the same log-mel with the descriptors measured from its spectra.
        let (with, centroids) = extractor.compute_mapping(&audio.samples, |power| describer.frame_centroid(power));
        let sums = SpectralSums::of_frames(&centroids);
        let t_visited = Instant::now();
        let descriptors = describer.describe(&audio.samples, &with, &sums);
        let t3 = Instant::now();
        assert!(descriptors.tempo_bpm.is_finite());
        t.visiting += t_visited - t2;
        t.summing += t3 - t_visited;
        t.decode += t1 - t0;
        t.mel += t2 - t1;
        t.described += t3 - t2;
        t.audio_seconds += audio.seconds();
        if let Some(dir) = npy_dir {
            let stem = clip.file_stem().and_then(|s| s.to_str()).unwrap_or("clip");
            npy::write_f32_2d(&dir.join(format!("{stem}.npy")), spec.n_mels, spec.n_frames, &spec.values).expect("npy");
        }
    }
    t
}

fn songspace_corpus_dir() -> PathBuf {
    std::env::var_os("SONGSPACE_DEV_CORPUS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/songspace-dev-corpus")
    })
}

fn collect_mp3(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            collect_mp3(&p, out);
        } else if p.extension().is_some_and(|x| x == "mp3") {
            out.push(p);
        }
    }
}
