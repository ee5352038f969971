//! Structure-aware mutation fuzzing of everything songspace reads from a file: audio (WAV PCM
//! and float, MP3, OGG/Vorbis, FLAC) and library.ron, model.json, settings.ron and embeddings
//! files. Each input is a real file with a few mutations aimed at headers: bit flips, header
//! fields overwritten with extreme values, cuts, repeated and inserted bytes; in text files also
//! numbers replaced by extreme ones and lines dropped. Every parser must answer Ok or Err: a
//! panic that escapes, an abort or unbounded memory is a failure. Decoder panics that the audio
//! code isolates (they become the file's error) are counted and reported.
//!
//! CI runs a few thousand inputs; `SONGSPACE_FUZZ_ITERATIONS=1000000 cargo test --test
//! integration fuzz -- --nocapture` runs the long campaign and also checks peak memory
//! (`SONGSPACE_FUZZ_SEED` gives parallel campaigns other inputs).

use std::path::{Path, PathBuf};
use std::process::Command;

use songspace::audio::{Span, decode_file, panic_is_isolated_here, read_tags};
use songspace::library::{load_library, read_embeddings_file};
use songspace::model::data::Prng;
use songspace::model::load_model_info;
use songspace::settings::load_settings;

use crate::util::write_raw_wav;

const CI_ITERATIONS: usize = 3000;

fn extreme(rng: &mut Prng) -> u32 {
    [0, 1, 2, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 44_100, 384_001][rng.below(10)]
}

/// A few mutations of `bytes`, most of them in its first 256 bytes, where headers are.
fn mutate_bytes(bytes: &[u8], rng: &mut Prng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..1 + rng.below(4) {
        if out.is_empty() {
            out.push(0);
        }
        let near_start = rng.unit() < 0.7;
        let at = if near_start { rng.below(out.len().min(256)) } else { rng.below(out.len()) };
        match rng.below(6) {
            0 => out[at] ^= 1 << rng.below(8),
            1 => {
                let value = extreme(rng).to_le_bytes();
                for (i, b) in value.iter().enumerate() {
                    if let Some(slot) = out.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            2 => out.truncate(at.max(1)),
            3 => {
                let end = (at + 1 + rng.below(64)).min(out.len());
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
            4 => {
                let noise: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.below(256) as u8).collect();
                out.splice(at..at, noise);
            }
            _ => out[at] = rng.below(256) as u8,
        }
    }
    out
}

/// Text mutations: a number replaced by an extreme one, a line dropped, or byte mutations.
fn mutate_text(text: &str, rng: &mut Prng) -> Vec<u8> {
    let extremes = ["0", "-1", "1e39", "-1e39", "NaN", "inf", "18446744073709551615", "4294967296", "0.0", "\"\""];
    match rng.below(3) {
        0 => {
            let digits: Vec<usize> = text.match_indices(|c: char| c.is_ascii_digit()).map(|(i, _)| i).collect();
            if digits.is_empty() {
                return mutate_bytes(text.as_bytes(), rng);
            }
            let start = digits[rng.below(digits.len())];
            let end = text[start..].find(|c: char| !(c.is_ascii_digit() || c == '.')).map_or(text.len(), |e| start + e);
            format!("{}{}{}", &text[..start], extremes[rng.below(extremes.len())], &text[end..]).into_bytes()
        }
        1 => {
            let lines: Vec<&str> = text.lines().collect();
            let drop = rng.below(lines.len().max(1));
            lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != drop)
                .map(|(_, l)| *l)
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        }
        _ => mutate_bytes(text.as_bytes(), rng),
    }
}

/// One second of a 330 Hz tone (short, so decoding stays fast).
fn wav(path: &Path, float: bool, channels: u16) {
    let rate = 22_050u32;
    let samples: Vec<f32> = (0..rate as usize)
        .flat_map(|i| {
            let v = 0.4 * (2.0 * std::f32::consts::PI * 330.0 * i as f32 / rate as f32).sin();
            std::iter::repeat_n(v, usize::from(channels))
        })
        .collect();
    write_raw_wav(path, rate, channels, float, &samples);
}

/// Real files of every kind songspace reads (OGG and FLAC made by ffmpeg, which the setup
/// installs).
fn seeds(dir: &Path) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = vec![root.join("tests/data/parity_44k_stereo.mp3")];
    for (name, float, channels) in [("pcm.wav", false, 2), ("float.wav", true, 1)] {
        wav(&dir.join(name), float, channels);
        seeds.push(dir.join(name));
    }
    for (ext, codec) in [("ogg", "libvorbis"), ("flac", "flac")] {
        let out = dir.join(format!("seed.{ext}"));
        let made = Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:duration=1",
                "-ac",
                "2",
                "-c:a",
                codec,
            ])
            .args(["-metadata", "title=seed", "-metadata", "genre=Test"])
            .arg(&out)
            .status()
            .expect("ffmpeg (tools/setup-system.sh installs it)");
        assert!(made.success(), "ffmpeg could not make the {ext} seed");
        seeds.push(out);
    }
    seeds
}

/// `SONGSPACE_FUZZ_SEED` lets several campaigns run side by side on different inputs.
fn seed(default: u64) -> u64 {
    std::env::var("SONGSPACE_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn iterations() -> (usize, bool) {
    match std::env::var("SONGSPACE_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()) {
        Some(n) => (n, true),
        None => (CI_ITERATIONS, false),
    }
}

/// Peak resident memory of this process, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}

/// Stays quiet for panics the audio code catches and reports as a file's error; every other
/// panic is reported as usual.
fn quiet_isolated_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !panic_is_isolated_here() {
                report(info);
            }
        }));
    });
}

#[test]
fn no_mutated_audio_file_panics_aborts_or_allocates_without_bound() {
    quiet_isolated_panics();
    let dir = tempfile::tempdir().expect("tempdir");
    let seeds = seeds(dir.path());
    let seed_bytes: Vec<Vec<u8>> = seeds.iter().map(|p| std::fs::read(p).expect("seed")).collect();
    let (iterations, campaign) = iterations();
    let mut rng = Prng::new(seed(20_261_202));
    let (mut accepted, mut refused, mut isolated) = (0usize, 0usize, 0usize);
    let started = std::time::Instant::now();
    for i in 0..iterations {
        let which = rng.below(seeds.len());
        let input = mutate_bytes(&seed_bytes[which], &mut rng);
        let ext = seeds[which].extension().and_then(|e| e.to_str()).unwrap_or("bin");
        let path = dir.path().join(format!("input.{ext}"));
        std::fs::write(&path, &input).expect("write input");
        let outcome = std::panic::catch_unwind(|| {
            let _ = read_tags(&path);
            decode_file(&path, Span::Middle { max_seconds: 90.0 })
        });
        match outcome {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(e)) => {
                refused += 1;
                let decoder_panicked = e.to_string().contains("the decoder failed");
                isolated += usize::from(decoder_panicked);
                // A campaign can keep these inputs: they become regression tests
                // (tests/data/fuzz-regressions, checked by `decoder_panics_found_by_fuzzing_stay_each_files_error`).
                if decoder_panicked && let Some(keep) = std::env::var_os("SONGSPACE_FUZZ_KEEP_ISOLATED") {
                    let _ = std::fs::create_dir_all(&keep);
                    let _ = std::fs::write(Path::new(&keep).join(format!("decoder-panic-{i}.{ext}")), &input);
                }
            }
            Err(_) => {
                let kept = std::env::temp_dir().join(format!("songspace-fuzz-panic-{i}.{ext}"));
                let _ = std::fs::write(&kept, &input);
                panic!(
                    "input {i} (mutated {}) panicked outside isolation; saved as {}",
                    seeds[which].display(),
                    kept.display()
                );
            }
        }
    }
    let peak = peak_rss_mib();
    eprintln!(
        "audio fuzz: {iterations} inputs in {:.1} s: {accepted} decoded, {refused} refused ({isolated} by a decoder panic caught as the file's error); peak memory {peak:.0} MiB",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(accepted + refused, iterations);
    if campaign {
        assert!(peak < 1024.0, "peak memory {peak:.0} MiB");
    }
}

#[test]
fn no_mutated_library_model_settings_or_embeddings_file_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let library_text = std::fs::read_to_string(root.join("assets/demo/library.ron")).expect("demo library");
    let model_text = std::fs::read_to_string(root.join("assets/demo/model/model.json")).expect("demo model");
    let settings_text = "(last_library: Some(\"/music/library.ron\"), window_size: Some((1280, 800)), hint_dismissed: true, volume: 0.8, filter_in_map_space: false)";
    let library = load_library(&root.join("assets/demo/library.ron")).expect("the demo library loads");
    let ids: Vec<u64> = library.tracks.iter().take(3).map(|t| t.id).collect();
    let csv = format!("track_id,e0,e1\n{},0.5,0.25\n{},1.5,-2\n{},0,0\n", ids[0], ids[1], ids[2]);
    let ron_vectors =
        format!("[(track_id: {}, embedding: [0.5, 0.25]), (track_id: {}, embedding: [1.0, 2.0])]", ids[0], ids[1]);
    let model_dir = dir.path().join("model");
    std::fs::create_dir_all(&model_dir).expect("mkdir");
    std::fs::copy(root.join("assets/demo/model/model.mpk"), model_dir.join("model.mpk")).expect("weights");

    let (iterations, _) = iterations();
    let mut rng = Prng::new(seed(7));
    let mut refused = 0usize;
    for i in 0..iterations {
        let kind = rng.below(5);
        let (name, text): (&str, &str) = match kind {
            0 => ("library.ron", &library_text),
            1 => ("model/model.json", &model_text),
            2 => ("settings.ron", settings_text),
            3 => ("vectors.csv", &csv),
            _ => ("vectors.ron", &ron_vectors),
        };
        let input = mutate_text(text, &mut rng);
        let path = dir.path().join(name);
        std::fs::write(&path, &input).expect("write input");
        let outcome = std::panic::catch_unwind(|| match kind {
            0 => load_library(&path).is_err(),
            1 => load_model_info(&model_dir).is_err(),
            2 => load_settings(&path).is_err(),
            _ => read_embeddings_file(&path, &library).is_err(),
        });
        match outcome {
            Ok(was_refused) => refused += usize::from(was_refused),
            Err(_) => {
                let kept = std::env::temp_dir().join(format!("songspace-fuzz-panic-{i}-{}", name.replace('/', "-")));
                let _ = std::fs::write(&kept, &input);
                panic!("input {i} ({name}) panicked; saved as {}", kept.display());
            }
        }
    }
    eprintln!("file fuzz: {iterations} inputs, {refused} refused with an error, none panicked");
    assert!(refused > 0 && refused < iterations, "the mutations reach both outcomes");
}
