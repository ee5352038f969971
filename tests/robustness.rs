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
    let zero = out.lines().find(|l| l.contains("rate zero.wav")).unwrap_or_else(|| panic!("rate zero.wav: {out}"));
    assert!(zero.contains("sample rate is 0 Hz"), "read before symphonia's probe, which panicked on it: {zero}");
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

/// The track's vector in a `track_id,e0,…` CSV as `export` writes it.
fn csv_vectors(path: &Path) -> std::collections::HashMap<u64, Vec<f32>> {
    std::fs::read_to_string(path)
        .expect("csv")
        .lines()
        .skip(1)
        .map(|line| {
            let mut fields = line.split(',');
            let id = fields.next().expect("id").parse().expect("id");
            (id, fields.map(|v| v.parse().expect("value")).collect())
        })
        .collect()
}

/// What a killed change may leave: the library opens, holds every song it held before, and its
/// files agree with it (counts, and vectors of the source it names: never another's).
fn check_library_after_kill(
    library_path: &Path,
    saved: &std::collections::HashSet<u64>,
    probe: u64,
    by_model: &[f32],
    by_file: &[f32],
    what: &str,
) -> std::collections::HashSet<u64> {
    use songspace::library::{EmbeddingSource, load_embeddings, load_library, load_positions};
    let library = load_library(library_path).unwrap_or_else(|e| panic!("after killing {what}: {e}"));
    let ids: std::collections::HashSet<u64> = library.tracks.iter().map(|t| t.id).collect();
    let lost: Vec<&u64> = saved.difference(&ids).collect();
    assert!(lost.is_empty(), "after killing {what}: songs saved before are gone: {lost:?}");
    if let Some(info) = &library.embeddings {
        let vectors = load_embeddings(&library.embeddings_file(library_path))
            .unwrap_or_else(|e| panic!("after killing {what}: the embeddings the library names: {e}"));
        assert_eq!((vectors.len(), vectors.dim), (info.count, info.dim), "after killing {what}");
        let expected = match info.source {
            EmbeddingSource::Model { .. } => by_model,
            EmbeddingSource::File { .. } => by_file,
        };
        if let Some(v) = vectors.get(probe) {
            let off = v.iter().zip(expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(off < 1e-3, "after killing {what}: vectors of another source under {:?} ({off})", info.source);
        }
    }
    if let Some(projection) = &library.projection {
        let positions = load_positions(&library.positions_file(library_path))
            .unwrap_or_else(|e| panic!("after killing {what}: the positions the library names: {e}"));
        assert_eq!(positions.len(), projection.count, "after killing {what}");
    }
    ids
}

#[test]
fn a_kill_at_any_instant_leaves_the_library_as_it_was_or_as_it_became() {
    // 200 kills by default (a tenth of them during training, the rest shared by import,
    // embedding, layout and adding a song); SONGSPACE_KILL_ITERATIONS for more.
    let iterations: usize = std::env::var("SONGSPACE_KILL_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    write_tones(&music, "a", "Tone", 6, 200.0, 60.0);
    write_tones(&music, "n", "Hum", 6, 900.0, 80.0);
    let library = home.path().join("lib/library.ron");
    let run = songspace(home.path(), &["import", s(&music), "--library", s(&library)]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(songspace(home.path(), &["project", s(&library)]).status.success());
    // Two sources of vectors that differ everywhere: the shipped model's, and a file of their
    // negatives. A library naming one while holding the other is the mix a kill must not leave.
    let model_csv = home.path().join("model.csv");
    let run = songspace(home.path(), &["export", s(&library), "--what", "embeddings", "-o", s(&model_csv)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let by_model = csv_vectors(&model_csv);
    let file_csv = home.path().join("negated.csv");
    let text = std::fs::read_to_string(&model_csv).expect("csv");
    let mut lines = text.lines();
    let mut negated = format!("{}\n", lines.next().expect("header"));
    for line in lines {
        let mut fields = line.split(',');
        let id = fields.next().expect("id");
        let values: Vec<String> = fields.map(|v| format!("{}", -v.parse::<f32>().expect("value"))).collect();
        negated.push_str(&format!("{id},{}\n", values.join(",")));
    }
    std::fs::write(&file_csv, negated).expect("write");
    let probe = *by_model.keys().min().expect("a track");
    let by_file: Vec<f32> = by_model[&probe].iter().map(|v| -v).collect();
    let outside = home.path().join("dropped");
    let model_out = home.path().join("trained");

    let mut saved =
        check_library_after_kill(&library, &Default::default(), probe, &by_model[&probe], &by_file, "nothing");
    let mut rng = 0x5eed_u64;
    let mut next = |n: u64| {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 33) % n.max(1)
    };
    // How long each kind of change takes uninterrupted, measured once: kills fall anywhere in it.
    let mut took_ms = [0u64; 5];
    let (mut killed, mut finished) = (0usize, 0usize);
    for i in 0..iterations {
        let kind = if i % 10 == 9 { 4 } else { i % 4 };
        let args: Vec<String> = match kind {
            0 => {
                write_tones(&music, &format!("new{i}"), "Tone", 1, 300.0 + i as f32, 0.0);
                vec!["import".into(), s(&music).into(), "--library".into(), s(&library).into()]
            }
            1 if i % 8 == 5 => vec!["import-embeddings".into(), s(&library).into(), s(&file_csv).into()],
            1 => vec!["embed".into(), s(&library).into()],
            2 => vec!["project".into(), s(&library).into(), "--force".into(), "--seed".into(), i.to_string()],
            3 => {
                let file = outside.join(format!("drop{i}.wav"));
                crate::util::write_wav(&file, 22_050, 1, 4.0, "tone", 500.0 + i as f32, &Default::default());
                vec!["locate".into(), s(&library).into(), s(&file).into(), "--add".into()]
            }
            _ => vec![
                "train".into(),
                s(&library).into(),
                "--device".into(),
                "cpu".into(),
                "--epochs".into(),
                "2".into(),
                "--min-epochs".into(),
                "1".into(),
                "--out".into(),
                s(&model_out).into(),
            ],
        };
        let started = std::time::Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_songspace"))
            .args(&args)
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            // Every other run waits 40 ms between writing its new files and the switch: many
            // kills land exactly there.
            .env("SONGSPACE_PAUSE_BEFORE_SWITCH_MS", if i % 2 == 0 { "40" } else { "0" })
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        if took_ms[kind] == 0 {
            // The first run of each kind finishes, and times the kind.
            let output = child.wait_with_output().expect("wait");
            took_ms[kind] = started.elapsed().as_millis().max(1) as u64;
            assert!(output.status.success(), "{args:?} failed uninterrupted: {}", stderr(&output));
            finished += 1;
        } else {
            std::thread::sleep(std::time::Duration::from_millis(next(took_ms[kind] * 9 / 10)));
            match child.try_wait().expect("try_wait") {
                Some(_) => finished += 1,
                None => {
                    child.kill().expect("SIGKILL");
                    killed += 1;
                }
            }
            let _ = child.wait_with_output();
        }
        saved = check_library_after_kill(&library, &saved, probe, &by_model[&probe], &by_file, &args.join(" "));
        if kind == 4 && model_out.join("model.json").is_file() {
            let model = songspace::model::load_model::<songspace::model::CpuBackend>(&model_out, &Default::default());
            assert!(model.is_ok(), "after killing training: {:?}", model.err());
        }
        // A lock left by a killed writer never blocks the next one (the kernel drops it).
    }
    eprintln!("{killed} changes killed midway, {finished} finished first; runs took {took_ms:?} ms uninterrupted");
    assert!(killed * 3 >= iterations, "most runs were killed midway: {killed} of {iterations}");
    // Orphans of killed changes do not pile up: the last change removed them.
    let run = songspace(home.path(), &["project", s(&library), "--force"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let sidecars = std::fs::read_dir(library.parent().expect("folder"))
        .expect("folder")
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".embeddings") || name.ends_with(".positions")
        })
        .count();
    assert_eq!(sidecars, 2, "one embeddings file and one positions file remain");
}

#[test]
fn decoder_panics_found_by_fuzzing_stay_each_files_error() {
    // Inputs the fuzz campaign found (SONGSPACE_FUZZ_KEEP_ISOLATED), cut to the bytes that still
    // trigger them: a WAV whose rate of 0 symphonia turned into a zero time base, an MP3 that
    // overflows a subtraction in its decoder (still a panic inside symphonia, caught), and a
    // float WAV of 1e38 samples, which overflowed the resampler's FFT. The first and the last
    // are now refused by name before any decoding.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions");
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    write_tones(&music, "good", "Tone", 2, 220.0, 50.0);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&fixtures).expect("fixtures").filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        std::fs::copy(entry.path(), music.join(&name)).expect("copy");
        names.push(name);
    }
    assert_eq!(names.len(), 3);
    let library = home.path().join("lib/library.ron");
    let run = songspace(home.path(), &["import", s(&music), "--library", s(&library)]);
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    let out = stdout(&run);
    assert!(out.contains("3 files skipped"), "{out}");
    for (name, reason) in [
        // Once a panic in symphonia's probe; now read and refused before symphonia sees it.
        ("wav-sample-rate-zero-39-bytes.wav", "sample rate is 0 Hz, outside the allowed 8000 to 384000 Hz"),
        ("mp3-subtract-overflow.mp3", "the decoder failed"),
        ("wav-float-samples-1e38.wav", "beyond the allowed ±1000"),
    ] {
        let line = out.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name} not reported: {out}"));
        assert!(line.contains(reason), "{line}");
        let run = songspace(home.path(), &["mel", s(&music.join(name)), "-o", s(&home.path().join("x.npy"))]);
        assert_eq!(run.status.code(), Some(1), "{name}: {}", stderr(&run));
        assert!(!stderr(&run).contains("panicked"), "{}", stderr(&run));
    }
    assert!(out.contains("2 tracks in the library"), "{out}");
}
