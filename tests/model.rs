//! Training, embedding and exchanging embeddings, as a user runs them, on a tiny generated
//! library of two obviously different classes (steady tones and white noise).

use std::path::Path;

use crate::util::{WavTags, songspace, songspace_with_env, stderr, stdout, write_wav};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// Eight tone tracks and eight noise tracks, tagged with their genre; imported.
fn tones_and_noise(home: &Path) -> std::path::PathBuf {
    let music = home.join("music");
    for i in 0..8 {
        let tone = WavTags { title: Some("tone"), genre: Some("Tone"), ..Default::default() };
        write_wav(&music.join(format!("tone{i}.wav")), 22_050, 1, 3.5, "tone", 150.0 + 90.0 * i as f32, &tone);
        let noise = WavTags { title: Some("noise"), genre: Some("Noise"), ..Default::default() };
        write_wav(&music.join(format!("noise{i}.wav")), 22_050, 1, 3.5, "noise", 1.0 + i as f32, &noise);
    }
    let library = home.join("lib/library.ron");
    let run = songspace(home, &["import", s(&music), "--library", s(&library)]);
    assert!(run.status.success(), "{}", stderr(&run));
    library
}

fn train(home: &Path, library: &Path, out: &Path, epochs: &str, extra: &[&str]) -> serde_json::Value {
    train_with_threads(home, library, out, epochs, extra, None)
}

/// `train` with rayon's pool (where the CPU backend's matrix products run) of `threads` threads.
fn train_with_threads(
    home: &Path,
    library: &Path,
    out: &Path,
    epochs: &str,
    extra: &[&str],
    threads: Option<usize>,
) -> serde_json::Value {
    let metrics = out.with_extension("json");
    let mut args = vec![
        "train",
        s(library),
        "--device",
        "cpu",
        "--epochs",
        epochs,
        "--seed",
        "7",
        "--out",
        s(out),
        "--metrics-out",
        s(&metrics),
    ];
    args.extend_from_slice(extra);
    let threads = threads.map(|n| n.to_string());
    let env: Vec<(&str, &str)> = threads.iter().map(|n| ("RAYON_NUM_THREADS", n.as_str())).collect();
    let run = songspace_with_env(home, &args, &env);
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    serde_json::from_slice(&std::fs::read(&metrics).expect("metrics written")).expect("metrics JSON")
}

fn read_csv(path: &Path) -> Vec<(u64, Vec<f32>)> {
    std::fs::read_to_string(path)
        .expect("csv")
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            let id = f.next().expect("id").parse().expect("id");
            (id, f.map(|x| x.parse().expect("number")).collect())
        })
        .collect()
}

#[test]
fn training_separates_tones_from_noise_and_embeddings_cluster_by_class() {
    let home = tempfile::tempdir().expect("tempdir");
    let library = tones_and_noise(home.path());
    let model = home.path().join("model");
    let metrics = train(home.path(), &library, &model, "8", &[]);
    for key in [
        "train_accuracy",
        "validation_accuracy",
        "test_accuracy",
        "epochs",
        "seconds_per_epoch",
        "device",
        "confusion_matrix",
    ] {
        assert!(metrics.get(key).is_some(), "metrics lack {key}: {metrics}");
    }
    assert_eq!(metrics["device"], "cpu");
    assert_eq!(metrics["labels"], serde_json::json!(["Noise", "Tone"]));
    assert_eq!(metrics["train_accuracy"], 1.0, "{metrics}");
    assert_eq!(metrics["test_accuracy"], 1.0, "{metrics}");
    // A seeded stratified split (no split in the library): 6 / 1 / 1 tracks per class.
    assert_eq!((metrics["train_tracks"].as_u64(), metrics["test_tracks"].as_u64()), (Some(12), Some(2)));

    let run = songspace(home.path(), &["embed", s(&library), "--model", s(&model)]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stdout(&run).contains("16 embeddings computed"), "{}", stdout(&run));
    let again = songspace(home.path(), &["embed", s(&library), "--model", s(&model)]);
    assert!(stdout(&again).contains("0 embeddings computed, 16 reused"), "{}", stdout(&again));

    let csv = home.path().join("e.csv");
    let run =
        songspace(home.path(), &["export", s(&library), "--what", "embeddings", "--format", "csv", "-o", s(&csv)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let header = std::fs::read_to_string(&csv).expect("csv").lines().next().unwrap_or_default().to_string();
    assert!(header.starts_with("track_id,e0,e1,") && header.ends_with(",e31"), "{header}");
    let rows = read_csv(&csv);
    assert_eq!(rows.len(), 16);
    assert!(rows.iter().all(|(_, v)| v.len() == 32));

    // Every track's 3 nearest neighbours in embedding space are of its own class.
    let lib = songspace::library::load_library(&library).expect("library");
    let genre = |id: u64| lib.track(id).and_then(|t| t.genre.clone()).expect("genre");
    for (id, v) in &rows {
        let mut others: Vec<(f32, u64)> = rows
            .iter()
            .filter(|(o, _)| o != id)
            .map(|(o, w)| (v.iter().zip(w).map(|(a, b)| (a - b) * (a - b)).sum(), *o))
            .collect();
        others.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, n) in others.iter().take(3) {
            assert_eq!(genre(*n), genre(*id), "track {id}'s neighbour {n}");
        }
    }
}

#[test]
fn resume_continues_from_the_checkpoint_and_cpu_training_is_reproducible() {
    let home = tempfile::tempdir().expect("tempdir");
    let library = tones_and_noise(home.path());
    let first = train(home.path(), &library, &home.path().join("a"), "2", &[]);
    let resumed = train(home.path(), &library, &home.path().join("a"), "4", &["--resume"]);
    let epochs: Vec<u64> =
        resumed["history"].as_array().expect("history").iter().filter_map(|h| h["epoch"].as_u64()).collect();
    assert_eq!(epochs, vec![1, 2, 3, 4]);
    assert_eq!(resumed["history"][0], first["history"][0], "resumed history keeps the earlier epochs");

    let again = train(home.path(), &library, &home.path().join("b"), "2", &[]);
    let losses = |m: &serde_json::Value| {
        m["history"].as_array().expect("history").iter().map(|h| h["train_loss"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(losses(&first), losses(&again), "same seed, same CPU losses");
    // Each batch is split into a fixed number of shards on threads of their own, whatever the
    // cores: one thread and three give the same losses to the bit.
    let one = train_with_threads(home.path(), &library, &home.path().join("c"), "2", &[], Some(1));
    let three = train_with_threads(home.path(), &library, &home.path().join("d"), "2", &[], Some(3));
    assert_eq!(losses(&one), losses(&three), "the same model on one thread and three");
    assert_eq!(losses(&one), losses(&first), "and on this machine's own count");
}

#[test]
fn embeddings_from_elsewhere_load_and_bad_files_are_refused_clearly() {
    let home = tempfile::tempdir().expect("tempdir");
    let library = tones_and_noise(home.path());
    let lib = songspace::library::load_library(&library).expect("library");
    let ids: Vec<u64> = lib.tracks.iter().map(|t| t.id).collect();

    let good = home.path().join("good.csv");
    let mut text = String::from("track_id,e0,e1,e2\n");
    for (i, id) in ids.iter().enumerate().take(10) {
        text.push_str(&format!("{id},{i},0.5,-1\n"));
    }
    text.push_str("999999,1,2,3\n");
    std::fs::write(&good, text).expect("write");
    let run = songspace(home.path(), &["import-embeddings", s(&library), s(&good)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let out = stdout(&run);
    assert!(out.contains("10 embeddings of dimension 3"), "{out}");
    assert!(out.contains("1 id(s) in the file are not in the library") && out.contains("999999"), "{out}");
    assert!(out.contains("6 track(s) of the library have no embedding"), "{out}");

    // The projector pair written by export loads back.
    let tsv = home.path().join("p.tsv");
    let run =
        songspace(home.path(), &["export", s(&library), "--what", "embeddings", "--format", "tsv", "-o", s(&tsv)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let metadata = std::fs::read_to_string(home.path().join("p.metadata.tsv")).expect("metadata");
    assert!(metadata.starts_with("track_id\ttitle\tartist\talbum\tgenre\n"), "{metadata}");
    let run = songspace(home.path(), &["import-embeddings", s(&library), s(&tsv)]);
    assert!(stdout(&run).contains("10 embeddings of dimension 3"), "{}{}", stdout(&run), stderr(&run));
    // And so does RON, with the same vectors.
    let ron = home.path().join("e.ron");
    let run =
        songspace(home.path(), &["export", s(&library), "--what", "embeddings", "--format", "ron", "-o", s(&ron)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let run = songspace(home.path(), &["import-embeddings", s(&library), s(&ron)]);
    assert!(stdout(&run).contains("10 embeddings of dimension 3"), "{}{}", stdout(&run), stderr(&run));
    let csv = home.path().join("back.csv");
    assert!(songspace(home.path(), &["export", s(&library), "--what", "embeddings", "-o", s(&csv)]).status.success());
    let back = std::fs::read_to_string(&csv).expect("csv");
    assert!(back.contains(&format!("\n{},3,0.5,-1\n", ids[3])), "{back}");

    for (name, content, expected) in [
        ("nan.csv", format!("track_id,e0,e1\n{},1,NaN\n", ids[0]), "non-finite value"),
        ("ragged.csv", format!("track_id,e0,e1\n{},1,2\n{},1\n", ids[0], ids[1]), "has 1 values, the first row has 2"),
        ("words.csv", format!("track_id,e0\n{},abc\n", ids[0]), "\"abc\" is not a number"),
        ("strangers.csv", "track_id,e0\n999998,1\n".to_string(), "none of its 1 track ids is in the library"),
    ] {
        let path = home.path().join(name);
        std::fs::write(&path, content).expect("write");
        let run = songspace(home.path(), &["import-embeddings", s(&library), s(&path)]);
        assert_eq!(run.status.code(), Some(1), "{name}");
        let err = stderr(&run);
        assert!(err.contains(name) && err.contains(expected), "{name}: {err}");
    }
    // The failed imports changed nothing: the projector embeddings are still there.
    let info = songspace(home.path(), &["info", s(&library), "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&info)).expect("json");
    assert_eq!(json["computed"]["embeddings"], 10);
}

#[test]
fn training_a_library_without_labels_says_why() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    for i in 0..4 {
        write_wav(
            &music.join(format!("t{i}.wav")),
            22_050,
            1,
            3.5,
            "tone",
            200.0 + 50.0 * i as f32,
            &WavTags::default(),
        );
    }
    let library = home.path().join("library.ron");
    assert!(songspace(home.path(), &["import", s(&music), "--library", s(&library)]).status.success());
    let run = songspace(home.path(), &["train", s(&library), "--device", "cpu", "--epochs", "1"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("at least two genre labels"), "{}", stderr(&run));
}

#[test]
fn evaluate_compares_embeddings_with_hand_made_features_on_album_disjoint_folds() {
    let Some(corpus) = crate::util::dev_corpus() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let library = home.path().join("library.ron");
    let run = songspace(home.path(), &["import", s(&corpus.join("fma_dev")), "--library", s(&library)]);
    assert!(run.status.success(), "{}", stderr(&run));
    // Import embeds new tracks with the shipped model on its own.
    assert!(stdout(&run).contains("embeddings: 160 computed"), "{}", stdout(&run));
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/genre-cnn");
    let run = songspace(home.path(), &["evaluate", s(&library), "--model", s(&shipped), "--json"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let report: serde_json::Value = serde_json::from_str(&stdout(&run)).expect("json");
    assert_eq!(report["songs"], 160, "{report}");
    assert_eq!(report["albums"], 19, "one album per source package");
    let rows = report["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().expect("name")).collect();
    assert!(names[0] == "embeddings" && names[1].starts_with("classic"), "{names:?}");
    assert_eq!(rows[0]["dims"], 32);
    assert_eq!(rows[1]["dims"], 152);
    let figure = |row: usize, key: &str, part: &str| rows[row][key][part].as_f64().expect("figure");
    for (row, _) in names.iter().enumerate() {
        // 5 folds of whole albums × 3 seeds, each measured.
        assert_eq!(rows[row]["label_p_at_3"]["samples"], 15, "{report}");
        assert_eq!(rows[row]["logistic_accuracy"]["samples"], 15, "{report}");
        assert!(figure(row, "label_p_at_3", "std") > 0.0, "folds differ: {report}");
    }
    // The strong baseline finds the style of music from other albums far above chance.
    let chance = report["chance_p_at_3"].as_f64().expect("chance");
    assert!(figure(1, "label_p_at_3", "mean") > chance + 0.15, "classic vs chance {chance}: {report}");
    // The shipped model never heard these songs (it learnt without labels from other Debian
    // packages: models/README.md), and its neighbours from other albums share the genre more
    // often than the classic descriptor's, by more than the baseline's spread over folds, and
    // more often than MFCC statistics'.
    let (model, classic, mfcc) =
        (figure(0, "label_p_at_3", "mean"), figure(1, "label_p_at_3", "mean"), figure(2, "label_p_at_3", "mean"));
    assert!(model > classic + figure(1, "label_p_at_3", "std"), "shipped {model} vs classic {classic}: {report}");
    assert!(model > mfcc, "shipped {model} vs MFCC {mfcc}: {report}");
    // Paired on the same folds (each fold's difference), the gain is more than its own spread.
    let by_fold = |row: usize| -> Vec<f64> {
        rows[row]["label_p_at_3_by_fold"].as_array().expect("per fold").iter().filter_map(|v| v.as_f64()).collect()
    };
    let gains: Vec<f64> = by_fold(0).iter().zip(by_fold(1)).map(|(m, c)| m - c).collect();
    assert_eq!(gains.len(), 15, "{report}");
    let mean = gains.iter().sum::<f64>() / 15.0;
    let std = (gains.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / 15.0).sqrt();
    assert!(mean > std, "paired gain over classic {mean:.3} ± {std:.3}: {report}");
    // Neighbours of any album include the song's own album, which flatters every representation.
    for (row, name) in names.iter().enumerate() {
        let same_album = rows[row]["same_album_p_at_3"].as_f64().expect("same album");
        assert!(same_album > 0.3, "{name}: songs of one package resemble each other: {report}");
    }
    // The library's own embeddings (here: the shipped model's, from the import) give the same
    // figures as embedding with that model.
    let run = songspace(home.path(), &["evaluate", s(&library), "--library-embeddings", "--json"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let own: serde_json::Value = serde_json::from_str(&stdout(&run)).expect("json");
    let p3 = |r: &serde_json::Value| r["rows"][0]["label_p_at_3"]["mean"].as_f64().expect("p3");
    assert!((p3(&own) - p3(&report)).abs() < 1e-6, "{own}");
    // k-means on each representation against the genres: scores in range, one per seed.
    for row in rows {
        let (ari, nmi) = (
            row["cluster_label_ari"]["mean"].as_f64().expect("ari"),
            row["cluster_label_nmi"]["mean"].as_f64().expect("nmi"),
        );
        assert!((-0.5..=1.0).contains(&ari) && (0.0..=1.0).contains(&nmi), "{row}");
        assert_eq!(row["cluster_label_ari"]["samples"], 3);
    }

    clusters_of_the_corpus(home.path(), &library);
}

/// `clusters` on the development corpus: every song measured at import, clusters that a seed
/// repeats, sizes that add up, names that differ and say what their profiles say.
fn clusters_of_the_corpus(home: &Path, library: &Path) {
    let described = std::fs::read_to_string(library).expect("library").matches("tempo_bpm:").count();
    assert_eq!(described, 160, "every imported song has its descriptors");
    assert!(songspace(home, &["project", s(library)]).status.success());
    let cluster = |seed: &str, k: Option<&str>| {
        let mut args = vec!["clusters", s(library), "--seed", seed, "--json"];
        if let Some(k) = k {
            args.extend(["-k", k]);
        }
        let run = songspace(home, &args);
        assert!(run.status.success(), "{}", stderr(&run));
        serde_json::from_str::<serde_json::Value>(&stdout(&run)).expect("json")
    };
    let first = cluster("3", Some("6"));
    assert_eq!(first, cluster("3", Some("6")), "the same seed gives the same clusters");
    let clusters = first["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 6);
    let sizes: u64 = clusters.iter().map(|c| c["size"].as_u64().expect("size")).sum();
    assert_eq!(sizes, 160, "every song in one cluster");
    let mut all_tracks: Vec<u64> = clusters
        .iter()
        .flat_map(|c| c["tracks"].as_array().expect("tracks").iter().map(|t| t.as_u64().expect("id")))
        .collect();
    all_tracks.sort_unstable();
    all_tracks.dedup();
    assert_eq!(all_tracks.len(), 160);
    let mut names: Vec<&str> = clusters.iter().map(|c| c["name"].as_str().expect("name")).collect();
    for c in clusters {
        let genres: u64 = c["genres"].as_object().expect("genres").values().filter_map(|v| v.as_u64()).sum();
        assert_eq!(genres, c["size"].as_u64().expect("size"), "{c}");
        assert_eq!(c["representatives"].as_array().expect("representatives").len(), 3.min(genres as usize));
        let profile = c["profile"].as_object().expect("profile");
        assert!(profile.contains_key("tempo") && profile.contains_key("brightness"), "{c}");
        // Every descriptor word of the name is the side of the library its median lies on.
        let name = c["name"].as_str().expect("name");
        let words = name.split(" · ").next().expect("words");
        for word in words
            .split(", ")
            .map(|w| w.trim_end_matches(|ch: char| ch == ')' || ch.is_ascii_digit() || ch == '(' || ch == ' '))
        {
            let (key, above) = match word {
                "fast" => ("tempo", true),
                "slow" => ("tempo", false),
                "loud" => ("loudness", true),
                "quiet" => ("loudness", false),
                "bright" => ("brightness", true),
                "dark" => ("brightness", false),
                "percussive" => ("onset_rate", true),
                "smooth" => ("onset_rate", false),
                "dynamic" => ("dynamics", true),
                "even" => ("dynamics", false),
                "typical" => continue,
                other => panic!("unexpected word {other:?} in {name:?}"),
            };
            let z = c["relative"][key].as_f64().expect("relative");
            assert_eq!(z >= 0.0, above, "{word} in {name:?} but {key} is {z:+.2} from the library's");
        }
    }
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "names differ: {names:?}");
    // Without -k, the silhouette chooses among 2..=12 and says what it tried.
    let chosen = cluster("1", None);
    let tried = chosen["tried"].as_array().expect("tried");
    assert_eq!(tried.len(), 11);
    assert!((2..=12).contains(&chosen["k"].as_u64().expect("k")));
    let text = songspace(home, &["clusters", s(library), "-k", "4"]);
    assert!(
        stdout(&text).contains("4 clusters of 160 songs") && stdout(&text).contains("nearest its centre:"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn the_gpu_backend_trains_with_the_same_code() {
    // Runs on a real GPU where there is one, else on Mesa's software Vulkan driver (lavapipe),
    // which tools/setup-system.sh installs.
    let home = tempfile::tempdir().expect("tempdir");
    let library = tones_and_noise(home.path());
    let out = home.path().join("gpu-model");
    let metrics = out.with_extension("json");
    let run = songspace(
        home.path(),
        &["train", s(&library), "--device", "gpu", "--epochs", "2", "--out", s(&out), "--metrics-out", s(&metrics)],
    );
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&metrics).expect("metrics")).expect("json");
    assert!(m["device"].as_str().is_some_and(|d| d.starts_with("gpu (")), "{m}");
    assert_eq!(m["epochs"], 2);
    let losses: Vec<f64> =
        m["history"].as_array().expect("history").iter().filter_map(|h| h["train_loss"].as_f64()).collect();
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    // The model it saved loads and embeds on the CPU.
    let run = songspace(home.path(), &["embed", s(&library), "--model", s(&out)]);
    assert!(
        run.status.success() && stdout(&run).contains("16 embeddings computed"),
        "{}{}",
        stdout(&run),
        stderr(&run)
    );
}

#[test]
fn evaluate_train_judges_the_recipe_on_albums_each_fold_never_saw() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    // Four albums (folders), each with tones and noise: every fold holds out whole albums. One
    // album's name needs quoting in CSV.
    let albums = ["A, live", "B", "C", "D"];
    for (album, name) in albums.into_iter().enumerate() {
        for i in 0..3 {
            let tone = WavTags { genre: Some("Tone"), album: Some(name), ..Default::default() };
            let freq = 150.0 + 70.0 * (album * 3 + i) as f32;
            write_wav(&music.join(format!("{album}/tone{i}.wav")), 22_050, 1, 3.5, "tone", freq, &tone);
            let noise = WavTags { genre: Some("Noise"), album: Some(name), ..Default::default() };
            let seed = 1.0 + (album * 3 + i) as f32;
            write_wav(&music.join(format!("{album}/noise{i}.wav")), 22_050, 1, 3.5, "noise", seed, &noise);
        }
    }
    let library = home.path().join("lib/library.ron");
    let run = songspace(home.path(), &["import", s(&music), "--library", s(&library)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let run = songspace(
        home.path(),
        &[
            "evaluate",
            s(&library),
            "--train",
            "--device",
            "cpu",
            "--epochs",
            "3",
            "--min-epochs",
            "2",
            "--folds",
            "4",
            "--seeds",
            "5",
            "--fold-vectors",
            s(&home.path().join("vectors")),
            "--json",
        ],
    );
    assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    let report: serde_json::Value = serde_json::from_str(&stdout(&run)).expect("json");
    let folds = report["folds"].as_array().expect("folds");
    assert_eq!(folds.len(), 4, "one model per fold: {report}");
    // Each fold model's vectors of every song, to try other classifiers on the same folds.
    let read_csv = |name: &str| -> Vec<Vec<String>> {
        let path = home.path().join("vectors").join(name);
        let mut reader = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let header: Vec<String> = reader.headers().expect("header").iter().map(String::from).collect();
        std::iter::once(header)
            .chain(reader.records().map(|r| r.expect("record").iter().map(String::from).collect()))
            .collect()
    };
    let classic = read_csv("classic.csv");
    assert_eq!(classic.len(), 25, "a header and 24 songs");
    assert_eq!(classic[0][..5], ["track_id", "split", "genre", "album", "c1"]);
    assert!(classic.iter().any(|row| row[3] == "A, live"), "album names as in the library");
    let mut held_out = std::collections::HashMap::<String, usize>::new();
    for (f, fold) in folds.iter().enumerate() {
        let rows = read_csv(&format!("seed5-fold{}.csv", f + 1));
        let header = &rows[0];
        assert_eq!(header.len(), 4 + 32 + 2, "id, split, genre, album, 32 values, 2 probabilities: {header:?}");
        assert_eq!(header[36..], ["p:Noise", "p:Tone"]);
        let ids: Vec<&String> = rows[1..].iter().map(|row| &row[0]).collect();
        assert_eq!(ids, classic[1..].iter().map(|row| &row[0]).collect::<Vec<_>>(), "the same songs in the same order");
        let test: Vec<&Vec<String>> = rows[1..].iter().filter(|row| row[1] == "test").collect();
        assert_eq!(test.len() as u64, fold["test_songs"].as_u64().expect("n"), "fold {f}");
        assert!(rows[1..].iter().all(|row| ["training", "validation", "test"].contains(&row[1].as_str())));
        for row in test {
            *held_out.entry(row[0].clone()).or_default() += 1;
        }
        for row in &rows[1..] {
            let p: f64 = row[36..].iter().map(|v| v.parse::<f64>().expect("probability")).sum();
            assert!((p - 1.0).abs() < 1e-4, "probabilities sum to 1: {row:?}");
        }
    }
    assert!(held_out.len() == 24 && held_out.values().all(|&n| n == 1), "every song held out once: {held_out:?}");
    assert_eq!(folds.iter().map(|f| f["test_songs"].as_u64().expect("n")).sum::<u64>(), 24, "every song held out once");
    for f in folds {
        assert!(f["best_epoch"].as_u64().expect("best") >= 2, "not chosen during the warm-up: {f}");
    }
    // Tones and noise differ so much that even 3 epochs separate them on unseen albums, and the
    // classic descriptor does too.
    assert!(report["model_p_at_3"]["mean"].as_f64().expect("p3") > 0.8, "{report}");
    assert!(report["classic_p_at_3"]["mean"].as_f64().expect("p3") > 0.8, "{report}");
    assert_eq!(report["model_p_at_3"]["samples"], 4);
    // Beside it, neighbours from any album and the shipped model it started from, on the same
    // folds: what fine-tuning changed.
    assert_eq!(report["model_p_at_3_any_album"]["samples"], 4, "{report}");
    assert_eq!(report["start_p_at_3"]["samples"], 4, "{report}");
    for f in folds {
        for key in ["model_p_at_3_any_album", "classic_p_at_3_any_album", "start_p_at_3", "start_p_at_3_any_album"] {
            let value = f[key].as_f64().unwrap_or_else(|| panic!("{key}: {f}"));
            assert!((0.0..=1.0).contains(&value), "{key}: {f}");
        }
    }
    // The paired gain is the mean of each fold's difference from where it started.
    let differences: f64 = folds
        .iter()
        .map(|f| f["model_p_at_3"].as_f64().expect("p3") - f["start_p_at_3"].as_f64().expect("start"))
        .sum::<f64>()
        / 4.0;
    let gain = report["fine_tuning_p_at_3_gain"]["mean"].as_f64().expect("fine-tuning gain");
    assert!((gain - differences).abs() < 1e-4, "{gain} against {differences}: {report}");

    // A plain training run ends with the same comparison on its own held-out (test) songs.
    let metrics = train(home.path(), &library, &home.path().join("model"), "3", &["--min-epochs", "2"]);
    let comparison = &metrics["against_classic"];
    assert_eq!(comparison["split"], "test", "{metrics}");
    assert!(comparison["songs"].as_u64().expect("songs") >= 2, "{comparison}");
    for key in ["model_p_at_3", "classic_p_at_3", "model_logistic", "classic_logistic"] {
        let value = comparison[key].as_f64().expect("figure");
        assert!((0.0..=1.0).contains(&value), "{key}: {comparison}");
    }
}

#[test]
fn training_starts_from_the_shipped_model_unless_told_otherwise() {
    let home = tempfile::tempdir().expect("tempdir");
    let library = tones_and_noise(home.path());
    // One epoch into `out`, with `extra` flags; what the command printed.
    let one_epoch = |out: &str, extra: &[&str]| {
        let out = home.path().join(out);
        let mut args =
            vec!["train", s(&library), "--device", "cpu", "--epochs", "1", "--min-epochs", "1", "--out", s(&out)];
        args.extend_from_slice(extra);
        let run = songspace(home.path(), &args);
        assert!(run.status.success(), "{}", stderr(&run));
        stdout(&run)
    };
    let printed = one_epoch("a", &[]);
    assert!(printed.contains("fine-tuning the shipped model"), "{printed}");
    let printed = one_epoch("b", &["--from-scratch"]);
    assert!(printed.contains("from random weights (--from-scratch)"), "{printed}");
    // The two runs start from different weights, so they end with different models.
    let info = |dir: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("model.json")).expect("model.json")).expect("json")
    };
    let weights = |name: &str| {
        let dir = home.path().join(name);
        let file = info(&dir)["weights"].as_str().expect("model.json names its weights").to_string();
        std::fs::read(dir.join(file)).expect("weights")
    };
    assert_ne!(weights("a"), weights("b"));
    // Fine-tuning keeps the base's input normalisation: the shipped model's.
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/genre-cnn");
    assert_eq!(info(&home.path().join("a"))["normaliser"], info(&shipped)["normaliser"]);
    assert_ne!(info(&home.path().join("b"))["normaliser"], info(&shipped)["normaliser"]);
}

#[test]
fn without_labels_the_model_learns_from_the_music_itself() {
    // No genre, artist or album tags at all: tones and noise in one folder.
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    for i in 0..8 {
        write_wav(
            &music.join(format!("tone{i}.wav")),
            22_050,
            1,
            3.5,
            "tone",
            150.0 + 90.0 * i as f32,
            &WavTags::default(),
        );
        write_wav(&music.join(format!("noise{i}.wav")), 22_050, 1, 3.5, "noise", 1.0 + i as f32, &WavTags::default());
    }
    let library = home.path().join("lib/library.ron");
    assert!(songspace(home.path(), &["import", s(&music), "--library", s(&library)]).status.success());
    let model = home.path().join("model");
    let metrics =
        train(home.path(), &library, &model, "6", &["--label", "none", "--from-scratch", "--min-epochs", "3"]);
    assert_eq!(metrics["label"], "none");
    assert_eq!(metrics["train_tracks"], 12, "every song takes part, labelled or not: {metrics}");
    // How often a view's nearest (of the batch) is the other view of its own song: above chance.
    let accuracy = metrics["train_accuracy"].as_f64().expect("accuracy");
    assert!(accuracy > 0.3, "{metrics}");
    let run = songspace(home.path(), &["embed", s(&library), "--model", s(&model)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let csv = home.path().join("e.csv");
    assert!(songspace(home.path(), &["export", s(&library), "--what", "embeddings", "-o", s(&csv)]).status.success());
    let rows = read_csv(&csv);
    let lib = songspace::library::load_library(&library).expect("library");
    let is_tone = |id: u64| lib.track(id).expect("track").path.to_string_lossy().contains("tone");
    // Without ever being told, the nearest song of each is of its own kind, nearly always.
    let mut agree = 0;
    for (id, v) in &rows {
        let nearest = rows
            .iter()
            .filter(|(o, _)| o != id)
            .map(|(o, w)| (v.iter().zip(w).map(|(a, b)| (a - b) * (a - b)).sum::<f32>(), *o))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .expect("neighbour")
            .1;
        agree += usize::from(is_tone(nearest) == is_tone(*id));
    }
    assert!(agree >= 14, "{agree} of 16 nearest neighbours of the same kind");
}

#[test]
fn averaging_the_last_epochs_runs_every_epoch_and_an_interrupted_run_resumes_to_the_same_model() {
    use songspace::model::{Compute, LabelKind, TrainEvent, TrainOptions, train_on};
    use std::sync::atomic::{AtomicBool, Ordering};
    let home = tempfile::tempdir().expect("tempdir");
    let library_path = tones_and_noise(home.path());
    let library = songspace::library::load_library(&library_path).expect("library");
    let options = |out: &str| {
        let mut options = TrainOptions::new(home.path().join(out));
        options.label = LabelKind::None;
        options.epochs = 5;
        options.seed = 3;
        options.average_last_epochs = 3;
        options.compare_with_classic = false;
        options
    };
    // What a model makes of the library: its embeddings, as `export` writes them. (The weight
    // files' names cannot be compared: burn gives every run's parameters ids of their own.)
    let embeddings = |out: &str| {
        let model = home.path().join(out);
        let run = songspace(home.path(), &["embed", s(&library_path), "--model", s(&model)]);
        assert!(run.status.success(), "{}", stderr(&run));
        let csv = home.path().join(format!("{out}.csv"));
        let run = songspace(home.path(), &["export", s(&library_path), "--what", "embeddings", "-o", s(&csv)]);
        assert!(run.status.success(), "{}", stderr(&run));
        std::fs::read_to_string(&csv).expect("csv")
    };
    let never = AtomicBool::new(false);
    let straight = train_on(&Compute::Cpu, &library, &library_path, &options("a"), &never, &mut |_| {}).expect("a");
    assert_eq!((straight.epochs, straight.best_epoch, straight.stopped_early), (5, 5, false));

    // Without averaging the same run saves one epoch's weights: the average is another model.
    let mut single = options("single");
    single.average_last_epochs = 0;
    single.min_epochs = 5;
    train_on(&Compute::Cpu, &library, &library_path, &single, &never, &mut |_| {}).expect("single");
    assert_ne!(embeddings("single"), embeddings("a"));

    // Stopped after epoch 4 (inside the window of epochs 3 to 5), then resumed: the same model,
    // bit for bit, as the run that was never stopped.
    let cancel = AtomicBool::new(false);
    let stopped = train_on(&Compute::Cpu, &library, &library_path, &options("b"), &cancel, &mut |event| {
        if let TrainEvent::Epoch(metrics) = event
            && metrics.epoch == 4
        {
            cancel.store(true, Ordering::Relaxed);
        }
    })
    .expect("b, stopped");
    assert!(stopped.cancelled && stopped.epochs == 4, "{stopped:?}");
    let after_four = embeddings("b");
    assert_ne!(after_four, embeddings("a"), "two epochs averaged so far");
    let mut resumed = options("b");
    resumed.resume = true;
    let resumed = train_on(&Compute::Cpu, &library, &library_path, &resumed, &never, &mut |_| {}).expect("b");
    assert_eq!(resumed.epochs, 5);
    assert_eq!(embeddings("b"), embeddings("a"));

    // Supervised training draws the head's dropout from the backend's generator, which no
    // checkpoint holds; each epoch seeds it afresh, so a resumed run is the same run there too.
    let supervised = |out: &str| {
        let mut options = TrainOptions::new(home.path().join(out));
        options.epochs = 4;
        options.seed = 5;
        options.min_epochs = 1;
        options.compare_with_classic = false;
        options
    };
    train_on(&Compute::Cpu, &library, &library_path, &supervised("c"), &never, &mut |_| {}).expect("c");
    let cancel = AtomicBool::new(false);
    train_on(&Compute::Cpu, &library, &library_path, &supervised("d"), &cancel, &mut |event| {
        if let TrainEvent::Epoch(metrics) = event
            && metrics.epoch == 2
        {
            cancel.store(true, Ordering::Relaxed);
        }
    })
    .expect("d, stopped");
    let mut resumed = supervised("d");
    resumed.resume = true;
    let resumed = train_on(&Compute::Cpu, &library, &library_path, &resumed, &never, &mut |_| {}).expect("d");
    let straight = train_on(&Compute::Cpu, &library, &library_path, &supervised("e"), &never, &mut |_| {}).expect("e");
    let losses = |m: &songspace::model::TrainingMetrics| m.history.iter().map(|h| h.train_loss).collect::<Vec<_>>();
    assert_eq!(losses(&resumed), losses(&straight), "the same losses, epoch by epoch");
    assert_eq!(embeddings("d"), embeddings("c"));

    // Options that need the other kind of training say so rather than being ignored.
    for (flags, expected) in [
        (&["--label", "genre", "--projection", "8"][..], "needs --label none"),
        (&["--label", "none", "--probe-head"][..], "needs --label genre"),
    ] {
        let mut args = vec!["train", s(&library_path), "--device", "cpu", "--epochs", "1", "--out"];
        let out = home.path().join("refused");
        args.push(s(&out));
        args.extend_from_slice(flags);
        let run = songspace(home.path(), &args);
        assert_eq!(run.status.code(), Some(1), "{flags:?}");
        assert!(stderr(&run).contains(expected), "{flags:?}: {}", stderr(&run));
    }

    // A damaged sum file is named, not trusted.
    std::fs::write(home.path().join("b/checkpoint/average.f64"), [0u8; 12]).expect("damage");
    let mut again = options("b");
    again.resume = true;
    let err = train_on(&Compute::Cpu, &library, &library_path, &again, &never, &mut |_| {}).expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("average.f64") && text.contains("12 bytes"), "{text}");
}

#[test]
fn a_teacher_is_learnt_beside_the_music_and_checked_against_the_library() {
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("music");
    for i in 0..6 {
        let tags = WavTags::default();
        write_wav(&music.join(format!("tone{i}.wav")), 22_050, 1, 3.5, "tone", 200.0 + 80.0 * i as f32, &tags);
        write_wav(&music.join(format!("noise{i}.wav")), 22_050, 1, 3.5, "noise", 1.0 + i as f32, &tags);
    }
    let library = home.path().join("lib/library.ron");
    assert!(songspace(home.path(), &["import", s(&music), "--library", s(&library)]).status.success());
    let lib = songspace::library::load_library(&library).expect("library");
    // A teacher that knows tones from noise, as a stronger model's vectors would.
    let teacher_file = |name: &str, tracks: &[&songspace::library::Track]| {
        let path = home.path().join(name);
        let mut text = String::from("track_id,e0,e1,e2\n");
        for t in tracks {
            let tone = t.path.to_string_lossy().contains("tone");
            text += &format!("{},{},{},0.5\n", t.id, if tone { 1.0 } else { -1.0 }, t.id % 7);
        }
        std::fs::write(&path, text).expect("teacher");
        path
    };
    let all: Vec<_> = lib.tracks.iter().collect();
    let teacher = teacher_file("teacher.csv", &all);
    let model = home.path().join("model");
    let metrics = train(
        home.path(),
        &library,
        &model,
        "3",
        &["--label", "none", "--from-scratch", "--min-epochs", "2", "--teacher", s(&teacher), "--teacher-weight", "2"],
    );
    assert_eq!(metrics["label"], "none");
    // The head that predicted the teacher's 3 values is not saved: the model has the one
    // output of a model trained without labels, and embeds like any other.
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("model.json")).expect("model.json")).expect("json");
    assert_eq!(info["labels"], serde_json::json!(["music"]), "{info}");
    assert_eq!(info["net"]["n_classes"], 1, "{info}");
    let run = songspace(home.path(), &["embed", s(&library), "--model", s(&model)]);
    assert!(run.status.success(), "{}", stderr(&run));

    // A teacher missing songs, or asked to teach labels, is refused by name before training.
    let half = teacher_file("half.csv", &all[..6]);
    let run = songspace(
        home.path(),
        &["train", s(&library), "--device", "cpu", "--epochs", "1", "--label", "none", "--teacher", s(&half)],
    );
    assert!(!run.status.success());
    assert!(stderr(&run).contains("half.csv") && stderr(&run).contains("no vector for"), "{}", stderr(&run));
    let run = songspace(
        home.path(),
        &["train", s(&library), "--device", "cpu", "--epochs", "1", "--label", "genre", "--teacher", s(&teacher)],
    );
    assert!(!run.status.success());
    assert!(stderr(&run).contains("use --label none"), "{}", stderr(&run));
}
