//! Files that lie: headers with impossible values, samples that are not numbers, channels that
//! cancel, a reader that goes away. Each must end as that file's error (or a quiet exit), never
//! as a panic, a signal or unbounded memory, and never stop a batch.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::{songspace, stderr, stdout, write_raw_wav, write_tones};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn tone(frames: usize, rate: f32) -> Vec<f32> {
    (0..frames).map(|i| 0.4 * (2.0 * std::f32::consts::PI * 330.0 * i as f32 / rate).sin()).collect()
}

#[test]
fn lying_headers_and_nan_samples_are_refused_by_name_and_the_import_goes_on() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    write_tones(&music, "good", "Tone", 3, 220.0, 50.0);
    // 5 s of audio at 22,050 Hz, each with a header that lies.
    let audio = tone(22_050 * 5, 22_050.0);
    write_raw_wav(&music.join("rate zero.wav"), 0, 1, false, &audio);
    write_raw_wav(&music.join("rate one.wav"), 1, 1, false, &audio);
    write_raw_wav(&music.join("rate max.wav"), u32::MAX, 1, false, &audio);
    write_raw_wav(&music.join("channels 300.wav"), 22_050, 300, false, &audio[..22_050 * 3]);
    let mut nan = audio.clone();
    nan[1000] = f32::NAN;
    nan[2000] = f32::INFINITY;
    write_raw_wav(&music.join("nan.wav"), 22_050, 1, true, &nan);

    let library = home.path().join("lib/library.ron");
    let started = std::time::Instant::now();
    let run = songspace(home.path(), &["import", s(&music), "--library", s(&library)]);
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    assert!(started.elapsed().as_secs() < 60, "a lying header must not make the import decode for long");
    let out = stdout(&run);
    assert!(out.contains("5 files skipped"), "{out}");
    for (file, reason) in [
        ("rate one.wav", "sample rate is 1 Hz, outside the allowed 8000 to 384000 Hz"),
        ("rate max.wav", "sample rate is 4294967295 Hz"),
        // symphonia's WAV reader refuses this one itself, naming the field.
        ("channels 300.wav", "channel count"),
        ("nan.wav", "not numbers"),
    ] {
        let line = out.lines().find(|l| l.contains(file)).unwrap_or_else(|| panic!("{file} not reported: {out}"));
        assert!(line.contains(reason), "{line}");
    }
    assert!(out.lines().any(|l| l.contains("rate zero.wav")), "{out}");
    eprintln!("{out}");
    let info = songspace(home.path(), &["info", s(&library), "--json"]);
    let info: serde_json::Value = serde_json::from_str(&stdout(&info)).expect("info json");
    assert_eq!(info["tracks"], 3, "the good songs were saved: {info}");

    // The single-file commands say the same, with exit code 1, not a panic (101).
    for file in ["rate zero.wav", "rate one.wav", "nan.wav"] {
        let run = songspace(home.path(), &["mel", s(&music.join(file)), "-o", s(&home.path().join("x.npy"))]);
        assert_eq!(run.status.code(), Some(1), "{file}: {}", stderr(&run));
        assert!(stderr(&run).contains(file), "{}", stderr(&run));
        assert!(!stderr(&run).contains("panicked"), "{}", stderr(&run));
    }
}

#[test]
fn a_stereo_song_whose_channels_cancel_is_analysed_from_one_channel() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    let left = tone(22_050 * 5, 22_050.0);
    let interleaved: Vec<f32> = left.iter().flat_map(|&v| [v, -v]).collect();
    write_raw_wav(&music.join("inverted.wav"), 22_050, 2, false, &interleaved);
    let library = home.path().join("lib/library.ron");
    let run = songspace(home.path(), &["import", s(&music), "--library", s(&library)]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(!stdout(&run).contains("skipped"), "{}", stdout(&run));
    let info = songspace(home.path(), &["info", s(&library), "--json"]);
    let info: serde_json::Value = serde_json::from_str(&stdout(&info)).expect("info json");
    assert_eq!(info["tracks"], 1, "{info}");
}

#[test]
fn a_reader_that_goes_away_ends_a_command_quietly() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    write_tones(&music, "t", "Tone", 4, 220.0, 50.0);
    let library = home.path().join("lib/library.ron");
    assert!(songspace(home.path(), &["import", s(&music), "--library", s(&library)]).status.success());
    // `songspace info LIB | head -0`: the pipe's reading end is closed before anything is printed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_songspace"))
        .args(["info", s(&library)])
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_second_writer_is_refused_with_the_holders_name_and_readers_do_not_wait() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    write_tones(&music, "t", "Tone", 4, 220.0, 50.0);
    let library = home.path().join("lib/library.ron");
    assert!(songspace(home.path(), &["import", s(&music), "--library", s(&library)]).status.success());
    let before = std::fs::read(&library).expect("library");

    // Another process (this test) holds the library's lock, as a running import would.
    let lock_path = home.path().join("lib/library.lock");
    std::fs::write(&lock_path, "importing music (songspace, process 4242, since 0 s)").expect("holder");
    let holder = std::fs::File::open(&lock_path).expect("open");
    holder.try_lock().expect("lock");

    write_tones(&music, "u", "Tone", 1, 700.0, 0.0);
    for args in [vec!["import", s(&music), "--library", s(&library)], vec!["project", s(&library)]] {
        let run = songspace(home.path(), &args);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", stdout(&run));
        let err = stderr(&run);
        assert!(err.contains("being changed right now by: importing music (songspace, process 4242"), "{err}");
    }
    assert_eq!(std::fs::read(&library).expect("library"), before, "nothing was written");
    let info = songspace(home.path(), &["info", s(&library), "--json"]);
    assert!(info.status.success(), "a reader does not wait: {}", stderr(&info));

    drop(holder);
    let run = songspace(home.path(), &["import", s(&music), "--library", s(&library)]);
    assert!(run.status.success(), "free again: {}", stderr(&run));
    assert!(stdout(&run).contains("5 tracks in the library"), "{}", stdout(&run));
}
