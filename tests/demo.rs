//! The bundled demo and the desktop program: the demo is real music with its map ready, the
//! window opens on it with no setup and remembers the library opened last, and install-desktop
//! makes a menu entry that launches songspace and logs to the XDG state folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use songspace::audio::{Span, decode_file, read_tags};

use crate::app::{Png, genre_pixels, mapped_library, xvfb};
use crate::util::{as_new_user, stderr, stdout};

fn bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")
}

fn audio_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(audio_files(&path));
        } else if songspace::audio::is_audio_path(&path) {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// songspace with every XDG folder inside `home`, and no display unless `display` says so.
pub(crate) fn run_in(home: &Path, program: &Path, args: &[&str], under_xvfb: bool) -> Output {
    let mut command = if under_xvfb {
        let mut c = as_new_user(Path::new("xvfb-run"), home);
        c.args(crate::util::xvfb_args()).arg(program);
        c
    } else {
        as_new_user(program, home)
    };
    command.args(args).output().expect("run songspace")
}

fn songspace_in(home: &Path, args: &[&str], under_xvfb: bool) -> Output {
    run_in(home, Path::new(env!("CARGO_BIN_EXE_songspace")), args, under_xvfb)
}

#[test]
fn the_demo_is_real_music_in_many_styles_with_its_map_ready() {
    let home = tempfile::tempdir().expect("tempdir");
    let run = songspace_in(home.path(), &["info", "--demo", "--json"], false);
    assert!(run.status.success(), "{}", stderr(&run));
    let info: serde_json::Value = serde_json::from_str(&stdout(&run)).expect("json");
    let tracks = info["tracks"].as_u64().expect("tracks");
    assert!(tracks >= 200, "{tracks} tracks");
    let genres = info["genres"].as_object().expect("genres");
    assert!(genres.len() >= 6, "{genres:?}");
    assert!(genres.values().all(|n| n.as_u64().unwrap_or(0) >= 20), "every style is well represented: {genres:?}");
    assert_eq!(info["tracks_without_genre"], 0);
    let computed = &info["computed"];
    assert_eq!(computed["embeddings"].as_u64(), Some(tracks));
    assert_eq!(computed["embedding_dim"].as_u64(), Some(32));
    assert_eq!(computed["positions"].as_u64(), Some(tracks));
    assert_eq!(computed["map_current"], true, "the map matches the embeddings");
    assert_eq!(info["missing_files"].as_array().map(Vec::len), Some(0), "{}", info["missing_files"]);
    // It opened the user's copy, which plays the bundled audio.
    let library = PathBuf::from(info["library"].as_str().expect("library"));
    assert!(library.starts_with(home.path().join("data/songspace/demo")), "{}", library.display());
    let root = PathBuf::from(info["root"].as_str().expect("root"));
    assert_eq!(root.canonicalize().expect("root"), bundle().join("music").canonicalize().expect("bundle"));

    // A song dropped onto the demo is embedded with the demo's own model, found through the copy.
    let song = crate::util::data("parity_44k_stereo.mp3");
    let run =
        songspace_in(home.path(), &["locate", library.to_str().expect("utf8"), song.to_str().expect("utf8")], false);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stdout(&run)
            .lines()
            .filter(|l| l.contains("Traditional")
                || l.contains("Bach")
                || l.contains("Monteverdi")
                || l.contains("Haydn")
                || l.contains("Mozart")
                || l.contains("Beethoven"))
            .count()
            >= 3,
        "{}",
        stdout(&run)
    );

    // Small enough to commit, and every clip is music that decodes, tagged with its style.
    let files = audio_files(&bundle().join("music"));
    assert_eq!(files.len() as u64, tracks);
    let bytes: u64 = files.iter().map(|f| f.metadata().expect("size").len()).sum();
    assert!(bytes < 15_000_000, "bundled audio is {bytes} bytes");
    for file in files.iter().step_by(7) {
        let audio = decode_file(file, Span::Whole).unwrap_or_else(|e| panic!("{e}"));
        assert!(audio.seconds() >= 10.0, "{}: {:.1} s", file.display(), audio.seconds());
        let level = songspace::audio::rms_dbfs(&audio.samples);
        assert!(level > -40.0, "{}: {level:.1} dBFS is close to silence", file.display());
        let tags = read_tags(file).expect("tags");
        assert!(
            tags.title.is_some() && tags.artist.is_some() && tags.genres.len() == 1,
            "{}: {tags:?}",
            file.display()
        );
        assert!(genres.contains_key(&tags.genres[0]), "{}", file.display());
    }
    // Every clip's provenance is listed beside it.
    for style in std::fs::read_dir(bundle().join("music")).expect("styles").flatten() {
        let sources = std::fs::read_to_string(style.path().join("sources.tsv")).expect("sources.tsv");
        let listed = sources.lines().count() - 1;
        assert_eq!(listed, audio_files(&style.path()).len(), "{}", style.path().display());
    }
}

#[test]
fn without_a_library_the_demo_opens_and_the_last_library_is_remembered() {
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    // No display: the demo is chosen, then the window says why it cannot open.
    let run = songspace_in(home, &[], false);
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert!(err.contains("(the demo)") && err.contains("no display"), "{err}");

    let Some(_) = xvfb() else { return };
    let shot = home.join("demo.png");
    let shot_arg = shot.to_str().expect("utf8");
    let run = songspace_in(home, &["--screenshot", shot_arg, "--size", "1200x760"], true);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains("(the demo)"), "{}", stderr(&run));
    let png = Png::read(&shot);
    let points = genre_pixels(&png).len();
    assert!(points > 200, "the demo's points are drawn: {points} pixels");
    // A screenshot run is not the user's session: it leaves no settings behind.
    assert!(!home.join("config/songspace/settings.ron").exists());

    // The library opened last is opened again; a vanished one falls back to the demo.
    let library = mapped_library(home);
    let settings = home.join("config/songspace/settings.ron");
    std::fs::create_dir_all(settings.parent().expect("folder")).expect("config");
    std::fs::write(&settings, format!("(last_library: Some({:?}), window_size: Some((900, 600)))", library))
        .expect("settings");
    let run = songspace_in(home, &["--screenshot", shot_arg], true);
    assert!(run.status.success(), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(err.contains(&format!("opening {}", library.display())) && !err.contains("(the demo)"), "{err}");
    assert_eq!((Png::read(&shot).width, Png::read(&shot).height), (900, 600), "the remembered window size");

    std::fs::write(&settings, "(last_library: Some(\"/nowhere/library.ron\"))").expect("settings");
    let run = songspace_in(home, &["--screenshot", shot_arg, "--size", "1200x760"], true);
    assert!(run.status.success(), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(err.contains("/nowhere/library.ron") && err.contains("(the demo)"), "{err}");
}

#[test]
fn install_desktop_makes_a_menu_entry_that_launches_songspace_and_logs() {
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let run = songspace_in(home, &["install-desktop"], false);
    assert!(run.status.success(), "{}", stderr(&run));
    let entry_path = home.join("data/applications/songspace.desktop");
    let entry = std::fs::read_to_string(&entry_path).expect("desktop entry");
    for line in ["Type=Application", "Name=songspace", "Icon=songspace", "Terminal=false"] {
        assert!(entry.lines().any(|l| l == line), "{line} in\n{entry}");
    }
    assert!(home.join("data/icons/hicolor/256x256/apps/songspace.png").is_file());
    assert!(home.join("data/icons/hicolor/scalable/apps/songspace.svg").is_file());
    assert!(home.join("data/songspace/models/genre-cnn/model.json").is_file());
    assert!(home.join("data/songspace/demo-bundle/library.ron").is_file());
    if let Ok(validate) = Command::new("desktop-file-validate").arg(&entry_path).output() {
        assert!(validate.status.success(), "{}{}", stdout(&validate), stderr(&validate));
    }

    // Launched the way the menu launches it: the program from Exec, with its arguments.
    let exec = entry.lines().find_map(|l| l.strip_prefix("Exec=")).expect("Exec");
    let (program, args) = exec.strip_prefix('"').and_then(|e| e.split_once("\" ")).expect("quoted program");
    assert_eq!(Path::new(program), home.join(".local/bin/songspace"));
    assert_eq!(args, "--desktop");
    if xvfb().is_some() {
        let shot = home.join("menu.png");
        let run = run_in(home, Path::new(program), &["--desktop", "--screenshot", shot.to_str().expect("utf8")], true);
        assert!(run.status.success(), "{}", stderr(&run));
        assert!(shot.is_file());
        assert!(!stderr(&run).contains("opening"), "the output goes to the log, not the terminal: {}", stderr(&run));
        let log = std::fs::read_to_string(home.join("state/songspace/songspace.log")).expect("log");
        assert!(log.contains("(the demo)"), "{log}");
    }

    let run = songspace_in(home, &["install-desktop", "--uninstall"], false);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(!entry_path.exists() && !home.join(".local/bin/songspace").exists());
    assert!(!home.join("data/icons/hicolor/256x256/apps/songspace.png").exists());
}
