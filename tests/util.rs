//! Helpers shared by the integration tests: fixtures, the development corpus, running the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// Runs the songspace binary with an isolated XDG data folder inside `home`.
pub fn songspace(home: &Path, args: &[&str]) -> Output {
    songspace_with_env(home, args, &[])
}

/// [`songspace`] with these environment variables set as well.
pub fn songspace_with_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_songspace"))
        .args(args)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .envs(env.iter().copied())
        .output()
        .expect("run songspace")
}

/// `program` with every XDG folder inside `home`, none of songspace's variables and no display:
/// as a new user on a fresh machine would start it.
pub fn as_new_user(program: &Path, home: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("SONGSPACE_MODEL")
        .env_remove("SONGSPACE_DEMO")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    command
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The development corpus (tools/dev-corpus/build-dev-corpus.sh). Tests that need real music
/// call this: without the corpus they are skipped with a notice, unless
/// SONGSPACE_REQUIRE_CORPUS=1 (set by the README's test command), where a missing corpus fails.
pub fn dev_corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("SONGSPACE_DEV_CORPUS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/songspace-dev-corpus")
    });
    if dir.join("fma_metadata/tracks.csv").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("SONGSPACE_REQUIRE_CORPUS").is_none_or(|v| v != "1"),
        "the development corpus is required but missing at {}: run tools/dev-corpus/build-dev-corpus.sh",
        dir.display()
    );
    eprintln!("skipped: no development corpus at {} (tools/dev-corpus/build-dev-corpus.sh)", dir.display());
    None
}

/// Tags written into a WAV file's LIST/INFO chunk.
#[derive(Default, Clone)]
pub struct WavTags<'a> {
    pub title: Option<&'a str>,
    pub artist: Option<&'a str>,
    pub album: Option<&'a str>,
    pub genre: Option<&'a str>,
}

/// `count` 4-second mono tones at 22,050 Hz in `folder` (`<name> <i>.wav`), rising by `step_hz`
/// from `lowest_hz`, titled `name` and tagged with `genre`.
pub fn write_tones(folder: &Path, name: &str, genre: &str, count: usize, lowest_hz: f32, step_hz: f32) {
    let tags = WavTags { title: Some(name), genre: Some(genre), ..Default::default() };
    for i in 0..count {
        let path = folder.join(format!("{name} {i}.wav"));
        write_wav(&path, 22_050, 1, 4.0, "tone", lowest_hz + step_hz * i as f32, &tags);
    }
}

/// Writes a 16-bit PCM WAV of `seconds` seconds: `kind` "tone" (a chord at `freq`), "noise"
/// (seeded white noise) or "silence".
pub fn write_wav(path: &Path, sample_rate: u32, channels: u16, seconds: f32, kind: &str, freq: f32, tags: &WavTags) {
    let frames = (sample_rate as f32 * seconds) as usize;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d ^ u64::from(freq.to_bits());
    let mut pcm = Vec::with_capacity(frames * channels as usize * 2);
    for i in 0..frames {
        let t = i as f32 / sample_rate as f32;
        let v = match kind {
            "tone" => {
                let w = 2.0 * std::f32::consts::PI * freq * t;
                0.3 * w.sin() + 0.15 * (1.5 * w).sin() + 0.1 * (2.0 * w).sin()
            }
            "noise" => {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 40) as f32 / (1u64 << 24) as f32 * 0.8 - 0.4
            }
            _ => 0.0,
        };
        for _ in 0..channels {
            pcm.extend_from_slice(&((v * 32767.0) as i16).to_le_bytes());
        }
    }
    let mut info = Vec::new();
    for (key, value) in [(b"INAM", tags.title), (b"IART", tags.artist), (b"IPRD", tags.album), (b"IGNR", tags.genre)] {
        if let Some(value) = value {
            let mut text = value.as_bytes().to_vec();
            text.push(0);
            if text.len() % 2 == 1 {
                text.push(0);
            }
            info.extend_from_slice(key);
            info.extend_from_slice(&(text.len() as u32).to_le_bytes());
            info.extend_from_slice(&text);
        }
    }
    let mut body = Vec::new();
    body.extend_from_slice(b"WAVE");
    body.extend_from_slice(b"fmt ");
    body.extend_from_slice(&16u32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&channels.to_le_bytes());
    body.extend_from_slice(&sample_rate.to_le_bytes());
    body.extend_from_slice(&(sample_rate * u32::from(channels) * 2).to_le_bytes());
    body.extend_from_slice(&(channels * 2).to_le_bytes());
    body.extend_from_slice(&16u16.to_le_bytes());
    if !info.is_empty() {
        body.extend_from_slice(b"LIST");
        body.extend_from_slice(&(info.len() as u32 + 4).to_le_bytes());
        body.extend_from_slice(b"INFO");
        body.extend_from_slice(&info);
    }
    body.extend_from_slice(b"data");
    body.extend_from_slice(&(pcm.len() as u32).to_le_bytes());
    body.extend_from_slice(&pcm);
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(&body);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, file).expect("write wav");
}

/// A WAV file with exactly these header values over interleaved `samples` (16-bit PCM, or
/// 32-bit float when `float`), written whatever the values are: for files that lie.
pub fn write_raw_wav(path: &Path, sample_rate: u32, channels: u16, float: bool, samples: &[f32]) {
    let bytes_per_sample: u16 = if float { 4 } else { 2 };
    let mut data = Vec::with_capacity(samples.len() * usize::from(bytes_per_sample));
    for &v in samples {
        if float {
            data.extend_from_slice(&v.to_le_bytes());
        } else {
            data.extend_from_slice(&((v * 32767.0) as i16).to_le_bytes());
        }
    }
    let mut body = b"WAVEfmt ".to_vec();
    body.extend_from_slice(&16u32.to_le_bytes());
    body.extend_from_slice(&(if float { 3u16 } else { 1u16 }).to_le_bytes());
    body.extend_from_slice(&channels.to_le_bytes());
    body.extend_from_slice(&sample_rate.to_le_bytes());
    let block = channels.wrapping_mul(bytes_per_sample);
    body.extend_from_slice(&sample_rate.wrapping_mul(u32::from(block)).to_le_bytes());
    body.extend_from_slice(&block.to_le_bytes());
    body.extend_from_slice(&(bytes_per_sample * 8).to_le_bytes());
    body.extend_from_slice(b"data");
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&data);
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(&body);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, file).expect("write wav");
}

/// The arguments that start `xvfb-run` on a display of its own. `-a` alone searches from the same
/// number every time, and two windows started at the same instant by parallel tests could take
/// the same display (one then fails to open it, XOpenDisplayFailed); each call here starts its
/// search at a number no other call of this run starts at.
pub fn xvfb_args() -> Vec<String> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let first = 100 + (std::process::id() % 50) * 400 + (call % 100) * 4;
    // -noreset: by default Xvfb resets itself when its last client leaves, and a window opened
    // during the reset fails to connect ("XOpenDisplayFailed"): a test that closes one window and
    // opens the next, as a person would, lost that race once in CI.
    ["-a", "-n", &first.to_string(), "-s", "-screen 0 1280x800x24 -noreset"].map(str::to_owned).to_vec()
}

/// The first word after `prefix` on the first line of `text` that starts with it, as a number:
/// how the window tests read what a held window printed ("song 3 at 396 371").
pub fn number_after<T: std::str::FromStr>(text: &str, prefix: &str) -> Option<T> {
    text.lines().find_map(|l| l.strip_prefix(prefix)).and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}
