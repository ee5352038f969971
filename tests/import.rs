//! `songspace import` and `songspace info`, as a user runs them: on generated folders of tagged
//! audio with bad files mixed in, and on the development corpus (FMA layout, real music).

use std::collections::BTreeMap;
use std::path::Path;

use songspace::library::{FeatureCache, SourceKind, load_library};

use crate::util::{WavTags, dev_corpus, songspace, stderr, stdout, write_wav};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn info_json(home: &Path, library: &Path) -> serde_json::Value {
    let run = songspace(home, &["info", s(library), "--json"]);
    assert!(run.status.success(), "{}", stderr(&run));
    serde_json::from_str(&stdout(&run)).expect("info --json prints JSON")
}

/// A small tagged music folder with one bad file of each kind.
fn tagged_folder(dir: &Path) {
    let tags = |title, artist, genre| WavTags {
        title: Some(title),
        artist: Some(artist),
        album: Some("Tests"),
        genre: Some(genre),
    };
    write_wav(&dir.join("a/low.wav"), 44_100, 2, 4.0, "tone", 110.0, &tags("Low Hum", "Tone Band", "Drone"));
    write_wav(&dir.join("a/high.wav"), 22_050, 1, 4.0, "tone", 880.0, &tags("High Whistle", "Tone Band", "Drone"));
    write_wav(&dir.join("b/hiss.wav"), 48_000, 2, 5.0, "noise", 1.0, &tags("Hiss", "Noise Unit", "Noise"));
    write_wav(&dir.join("b/03 - Untagged_Song.wav"), 16_000, 1, 3.5, "tone", 440.0, &WavTags::default());
    write_wav(&dir.join("bad/short.wav"), 22_050, 1, 1.0, "tone", 440.0, &WavTags::default());
    write_wav(&dir.join("bad/quiet.wav"), 22_050, 1, 4.0, "silence", 0.0, &WavTags::default());
    std::fs::write(dir.join("bad/empty.mp3"), b"").expect("empty");
    std::fs::write(dir.join("bad/notes.mp3"), b"these are not audio frames, just text with an mp3 name\n".repeat(50))
        .expect("text");
    std::fs::write(dir.join("cover.jpg"), b"not audio and not looked at").expect("jpg");
}

#[test]
fn a_tagged_folder_imports_good_files_and_names_every_bad_one() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    tagged_folder(&music);
    let library = home.path().join("lib/library.ron");

    let run = songspace(home.path(), &["import", s(&music), "--library", s(&library), "--threads", "2"]);
    let out = stdout(&run);
    assert!(run.status.success(), "exit {:?}\n{out}\n{}", run.status, stderr(&run));
    for (file, reason) in [
        ("bad/short.wav", "too short"),
        ("bad/quiet.wav", "silent"),
        ("bad/empty.mp3", "empty file"),
        ("bad/notes.mp3", "not a recognised audio file"),
    ] {
        let line = out.lines().find(|l| l.contains(file)).unwrap_or_else(|| panic!("{file} not reported:\n{out}"));
        assert!(line.contains(reason), "{file}: {line}");
    }

    let lib = load_library(&library).expect("library saved");
    assert_eq!(lib.source, SourceKind::Folder);
    assert_eq!(lib.tracks.len(), 4);
    let low = lib.tracks.iter().find(|t| t.path.ends_with("a/low.wav")).expect("low.wav");
    assert_eq!((low.title.as_str(), low.artist.as_str(), low.album.as_str()), ("Low Hum", "Tone Band", "Tests"));
    assert_eq!(low.genre.as_deref(), Some("Drone"));
    assert!((low.duration_seconds - 4.0).abs() < 0.01, "{}", low.duration_seconds);
    let untagged = lib.tracks.iter().find(|t| t.path.ends_with("03 - Untagged_Song.wav")).expect("untagged");
    assert_eq!(untagged.title, "Untagged Song");
    assert_eq!(untagged.genre, None);

    // Features are cached in librosa's shape for every imported track.
    let cache = FeatureCache::for_library(&library);
    for track in &lib.tracks {
        let mel = cache.load(track.id, &lib.mel).expect("features cached");
        assert_eq!(mel.n_mels, 128);
        assert_eq!(mel.n_frames, lib.mel.frames_for((track.duration_seconds * 22_050.0).round() as usize));
    }

    let info = info_json(home.path(), &library);
    assert_eq!(info["tracks"], 4);
    assert_eq!(info["genres"], serde_json::json!({"Drone": 2, "Noise": 1}));
    assert_eq!(info["computed"]["features"], 4);
    assert_eq!(info["rejected"].as_array().map(Vec::len), Some(4));
}

#[test]
fn re_running_skips_unchanged_files_and_follows_additions_removals_and_edits() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    tagged_folder(&music);
    let library = home.path().join("library.ron");
    let import = || songspace(home.path(), &["import", s(&music), "--library", s(&library)]);
    assert!(import().status.success());
    let first = load_library(&library).expect("library");
    let ids: BTreeMap<_, _> = first.tracks.iter().map(|t| (t.path.clone(), t.id)).collect();

    let again = stdout(&import());
    assert!(
        again.contains("4 tracks in the library: 0 imported, 0 recovered from an interrupted run, 4 unchanged"),
        "{again}"
    );
    // Known bad files are reported again without being decoded again.
    assert!(again.contains("bad/empty.mp3: empty file"), "{again}");

    std::fs::remove_file(music.join("b/hiss.wav")).expect("rm");
    write_wav(
        &music.join("c/new.wav"),
        22_050,
        1,
        3.2,
        "noise",
        7.0,
        &WavTags { genre: Some("Noise"), ..Default::default() },
    );
    write_wav(
        &music.join("a/low.wav"),
        44_100,
        2,
        6.0,
        "tone",
        220.0,
        &WavTags { title: Some("Low Hum (edit)"), ..Default::default() },
    );
    let third = stdout(&import());
    assert!(
        third.contains(
            "4 tracks in the library: 2 imported, 0 recovered from an interrupted run, 2 unchanged, 1 removed"
        ),
        "{third}"
    );
    let lib = load_library(&library).expect("library");
    let low = lib.tracks.iter().find(|t| t.path.ends_with("a/low.wav")).expect("low");
    assert_eq!(low.title, "Low Hum (edit)");
    assert!((low.duration_seconds - 6.0).abs() < 0.01);
    // Ids are stable: the edited file keeps its id, a new file gets a new one.
    assert_eq!(low.id, ids[&low.path]);
    let new = lib.tracks.iter().find(|t| t.path.ends_with("c/new.wav")).expect("new");
    assert!(!ids.values().any(|&id| id == new.id));
    assert!(!FeatureCache::for_library(&library).contains(ids[Path::new("b/hiss.wav")]), "stale features left behind");
}

#[test]
fn an_import_killed_before_saving_resumes_without_decoding_again() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    tagged_folder(&music);
    let library = home.path().join("library.ron");
    assert!(songspace(home.path(), &["import", s(&music), "--library", s(&library)]).status.success());
    // As if the process died after analysing everything but before its last save.
    std::fs::remove_file(&library).expect("rm library");
    let out = stdout(&songspace(home.path(), &["import", s(&music), "--library", s(&library)]));
    assert!(out.contains("4 tracks in the library: 0 imported, 4 recovered from an interrupted run"), "{out}");
}

#[test]
fn nothing_importable_exits_non_zero_and_says_so() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    std::fs::create_dir_all(&music).expect("mkdir");
    std::fs::write(music.join("empty.mp3"), b"").expect("empty");
    let run = songspace(home.path(), &["import", s(&music), "--library", s(&home.path().join("l.ron"))]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("nothing could be imported"), "{}", stderr(&run));
    assert!(stdout(&run).contains("empty.mp3: empty file"), "{}", stdout(&run));

    let no_audio = home.path().join("docs");
    std::fs::create_dir_all(&no_audio).expect("mkdir");
    std::fs::write(no_audio.join("readme.txt"), b"hi").expect("txt");
    let run = songspace(home.path(), &["import", s(&no_audio)]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("no audio files found"), "{}", stderr(&run));
}

#[test]
fn default_library_location_is_outside_the_music_folder_and_info_finds_it() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    tagged_folder(&music);
    let run = songspace(home.path(), &["import", s(&music)]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stdout(&run).contains(s(&home.path().join("data/songspace/libraries"))), "{}", stdout(&run));
    assert!(!music.join("library.ron").exists());
    // `info` accepts the music folder itself.
    let info = info_json(home.path(), &music);
    assert_eq!(info["tracks"], 4);
}

/// Counts of `track.genre_top` straight from tracks.csv, by the corpus's own header rows.
fn expected_genre_counts(corpus: &Path, present: impl Fn(u64) -> bool) -> BTreeMap<String, u64> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).from_path(corpus.join("fma_metadata/tracks.csv")).expect("csv");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let col =
        rows[0].iter().zip(rows[1].iter()).position(|(g, n)| g == "track" && n == "genre_top").expect("genre_top");
    let mut counts = BTreeMap::new();
    for row in &rows[3..] {
        let id: u64 = row[0].parse().expect("id");
        if present(id) {
            *counts.entry(row[col].to_string()).or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn the_development_corpus_imports_every_clip_with_its_fma_genre_and_split() {
    let Some(corpus) = dev_corpus() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let library = home.path().join("library.ron");
    let run = songspace(home.path(), &["import", s(&corpus.join("fma_dev")), "--library", s(&library)]);
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    assert!(stdout(&run).contains("Free Music Archive layout"), "{}", stdout(&run));

    let lib = load_library(&library).expect("library");
    let mut on_disk = Vec::new();
    for dir in std::fs::read_dir(corpus.join("fma_dev")).expect("ls").filter_map(Result::ok) {
        if dir.path().is_dir() {
            on_disk.extend(std::fs::read_dir(dir.path()).expect("ls").filter_map(Result::ok).map(|e| e.path()));
        }
    }
    assert_eq!(lib.tracks.len(), on_disk.len(), "every clip imported");
    assert!(lib.rejected.is_empty(), "{:?}", lib.rejected);
    let ids: std::collections::HashSet<u64> = lib.tracks.iter().map(|t| t.id).collect();
    let expected = expected_genre_counts(&corpus, |id| ids.contains(&id));
    let info = info_json(home.path(), &library);
    assert_eq!(info["tracks"], lib.tracks.len());
    assert_eq!(info["genres"], serde_json::to_value(&expected).expect("json"));
    assert!(lib.tracks.iter().all(|t| t.split.is_some() && t.features.is_some()));
    assert!(lib.tracks.iter().all(|t| !t.title.is_empty() && !t.artist.is_empty()));
}

#[test]
fn every_deliberately_bad_corpus_file_gets_a_result_or_a_reason() {
    let Some(corpus) = dev_corpus() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let library = home.path().join("library.ron");
    let run = songspace(home.path(), &["import", s(&corpus.join("bad_inputs")), "--library", s(&library)]);
    let out = stdout(&run);
    assert!(run.status.success(), "{out}\n{}", stderr(&run));
    let lib = load_library(&library).expect("library");
    let reason = |name: &str| {
        lib.rejected
            .iter()
            .find(|r| r.path.ends_with(name))
            .map(|r| r.reason.clone())
            .unwrap_or_else(|| panic!("{name} not rejected: {out}"))
    };
    assert!(reason("zero_bytes.mp3").contains("empty"));
    assert!(reason("text_renamed.mp3").contains("not a recognised audio file"));
    assert!(reason("one_second.mp3").contains("too short (1.0 s"));
    assert!(reason("silent_30s.mp3").contains("silent"));
    assert!(reason("truncated_10k.mp3").contains("too short"));
    assert!(reason("id3_then_garbage.mp3").contains("not a recognised audio file"));
    let track = |name: &str| {
        lib.tracks.iter().find(|t| t.path.ends_with(name)).unwrap_or_else(|| panic!("{name} not imported: {out}"))
    };
    // Valid but unusual files are imported correctly.
    let long = track("ten_minutes.mp3");
    assert!((long.duration_seconds - 600.0).abs() < 1.0, "{}", long.duration_seconds);
    let analysed = long.features.expect("features");
    assert!((analysed.seconds - 90.0).abs() < 0.5 && analysed.offset_seconds > 200.0, "{analysed:?}");
    assert!((track("mono_8khz.mp3").duration_seconds - 30.0).abs() < 0.5);
    assert!((track("wav_renamed.mp3").duration_seconds - 5.0).abs() < 0.1);
    for rejected in &lib.rejected {
        assert!(out.contains(&format!("{}: {}", rejected.path.display(), rejected.reason)), "{out}");
    }
}

#[test]
fn a_killed_corpus_import_continues_where_it_stopped() {
    let Some(corpus) = dev_corpus() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let library = home.path().join("library.ron");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_songspace"))
        .args(["import", s(&corpus.join("fma_dev")), "--library", s(&library), "--threads", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Long enough to analyse some clips, far too short for all of them on one thread.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().expect("kill");
    let _ = child.wait();
    let cache = FeatureCache::for_library(&library);
    let finished = std::fs::read_dir(cache.dir())
        .map(|d| d.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "mel")).count())
        .unwrap_or(0);
    assert!(finished > 0, "nothing was analysed before the kill");

    let run = songspace(home.path(), &["import", s(&corpus.join("fma_dev")), "--library", s(&library)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let out = stdout(&run);
    let numbers: Vec<usize> = out
        .lines()
        .find(|l| l.contains("tracks in the library"))
        .expect("summary")
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let (total, imported, recovered, unchanged) = (numbers[0], numbers[1], numbers[2], numbers[3]);
    assert_eq!(recovered + unchanged, finished, "{out}");
    assert_eq!(imported + recovered + unchanged, total, "{out}");
    assert!(imported < total, "{out}");
}
