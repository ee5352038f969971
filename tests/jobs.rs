//! The window's jobs, driven headless through their messages as the menu, dialogs and panels send
//! them: training with live metrics, laying the map out again, embeddings from a file, another
//! model, opening and saving libraries; progress, cancel, errors as messages, and the cloud's
//! motion from the old map to the new.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bevy::input::InputPlugin;
use bevy::prelude::*;

use songspace::app::animate::CloudAnimation;
use songspace::app::jobs::{Jobs, StartJob};
use songspace::app::training::TrainingPanel;
use songspace::app::{ExplorerPlugin, ExplorerState, Script, ViewState};
use songspace::explore::{ColourScheme, Explorer, FilterSpace};
use songspace::library::{EmbeddingSource, load_library};
use songspace::model::{DeviceChoice, LabelKind};
use songspace::space::Metric;
use songspace::workflow::{JobKind, TrainRequest};

fn headless(library: &Path) -> App {
    let explorer = Explorer::open(library).expect("open the library");
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, InputPlugin))
        .add_plugins(ExplorerPlugin { explorer: Mutex::new(Some(explorer)), script: Script::default() });
    app.update();
    app
}

fn explorer(app: &App) -> &Explorer {
    &app.world().resource::<ExplorerState>().0
}

fn last_notice(app: &App) -> String {
    app.world().resource::<ViewState>().notices.last().cloned().unwrap_or_default()
}

fn start(app: &mut App, kind: JobKind) {
    let finished_before = app.world().resource::<Jobs>().finished.len();
    app.world_mut().write_message(StartJob(kind));
    // A job asked for while the window's own write (a view choice, a dropped song) is still
    // going waits for it, as it must: it reads the library file. Give that write a few seconds.
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        app.update();
        // A job that fails at once (a file that is not a library) can start and end in one frame.
        let jobs = app.world().resource::<Jobs>();
        if jobs.running.is_some() || jobs.finished.len() > finished_before {
            return;
        }
        assert!(!jobs.waiting_for_writes.is_empty() && Instant::now() < until, "the job starts: {}", last_notice(app));
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs frames until the job ends, calling `each` after every frame; false if it did not end.
fn run_until_done(app: &mut App, seconds: u64, mut each: impl FnMut(&mut App)) -> bool {
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until {
        app.update();
        each(app);
        if app.world().resource::<Jobs>().running.is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn drawn_on_the_map(explorer: &Explorer) -> bool {
    (0..explorer.len()).all(|row| explorer.position(row) == explorer.map().position(row))
}

fn cpu_training(epochs: usize) -> TrainRequest {
    TrainRequest { label: LabelKind::Genre, device: DeviceChoice::Cpu, epochs, seed: 7, from_scratch: false }
}

fn model_dir_of(library: &Path) -> Option<PathBuf> {
    match load_library(library).expect("library").embeddings?.source {
        EmbeddingSource::Model { dir, .. } => Some(dir),
        EmbeddingSource::File { .. } => None,
    }
}

#[test]
fn training_in_the_window_plots_every_epoch_then_the_songs_move_to_the_new_map() {
    let home = tempfile::tempdir().expect("tempdir");
    let library = crate::app::mapped_library(home.path());
    let shipped = model_dir_of(&library).expect("embedded with the shipped model");
    let mut app = headless(&library);
    let old_positions: Vec<[f32; 3]> = (0..explorer(&app).len()).map(|r| explorer(&app).position(r)).collect();
    let selected_id = explorer(&app).track_at(3).expect("track").id;
    app.world_mut().resource_mut::<ExplorerState>().0.select(3);

    start(&mut app, JobKind::Train { library: library.clone(), request: cpu_training(3) });
    let (mut fractions, mut epochs_seen) = (Vec::new(), Vec::new());
    let finished = run_until_done(&mut app, 600, |app| {
        if let Some(running) = &app.world().resource::<Jobs>().running {
            fractions.push(running.fraction());
        }
        epochs_seen.push(app.world().resource::<TrainingPanel>().history.len());
    });
    assert!(finished, "training ends within 10 minutes");
    assert!(
        last_notice(&app).starts_with("Trained on genre (2 classes"),
        "{:?}",
        app.world().resource::<ViewState>().notices
    );
    assert!(fractions.windows(2).all(|w| w[1] >= w[0] - 1e-6), "progress never goes back: {fractions:?}");
    assert!(fractions.iter().any(|f| *f > 0.1 && *f < 0.8), "progress is seen during training");
    // The plots got one point per epoch as each ended, not all at the end.
    for n in 1..=3 {
        assert!(epochs_seen.contains(&n), "epoch {n} was shown on its own: {epochs_seen:?}");
    }
    let panel = app.world().resource::<TrainingPanel>();
    assert_eq!(panel.device_in_use.as_deref(), Some("cpu"));
    let result = panel.result.as_ref().expect("the confusion matrix is shown");
    assert_eq!(result.labels, ["Noise", "Tone"]);
    assert_eq!(result.confusion_matrix.len(), 2);
    assert!(result.confusion_matrix.iter().flatten().sum::<usize>() > 0);
    // While the t-SNE ran, the cloud was drawn at its layouts instead of the old map.
    assert!(app.world().resource::<CloudAnimation>().layouts_shown() > 0, "the converging map was shown");

    // The library now uses the new model, in a folder of its own; the shipped one is untouched.
    let trained = model_dir_of(&library).expect("embedded with a model");
    assert_ne!(trained, shipped);
    assert!(trained.starts_with(library.with_file_name("library.models")), "{}", trained.display());
    assert!(trained.join("model.json").is_file() && !trained.join("checkpoint").exists());
    let explorer_now = explorer(&app);
    assert_eq!(explorer_now.len(), 20);
    assert_eq!(explorer_now.selected().and_then(|row| explorer_now.track_at(row)).map(|t| t.id), Some(selected_id));

    // The songs glide from where they were drawn to the new map, then rest on it.
    assert!(app.world().resource::<CloudAnimation>().is_gliding());
    let new_map: Vec<[f32; 3]> = (0..explorer_now.len()).map(|r| explorer_now.map().position(r)).collect();
    assert_ne!(new_map, old_positions, "a new map");
    let start_of_glide: Vec<[f32; 3]> = (0..explorer_now.len()).map(|r| explorer_now.position(r)).collect();
    assert_ne!(start_of_glide, new_map, "the glide starts from the old places");
    let until = Instant::now() + Duration::from_secs(5);
    while app.world().resource::<CloudAnimation>().is_gliding() && Instant::now() < until {
        app.update();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(drawn_on_the_map(explorer(&app)), "after the glide, the songs are on the new map");
    let jobs = app.world().resource::<Jobs>();
    assert!(jobs.finished.back().is_some_and(|j| j.succeeded));
    assert!(!jobs.last_job_frames.is_empty(), "frame times were kept while the job ran");
}

#[test]
fn cancelling_training_leaves_the_library_and_its_model_as_they_were() {
    let home = tempfile::tempdir().expect("tempdir");
    let library = crate::app::mapped_library(home.path());
    let before = std::fs::read(&library).expect("library");
    let mut app = headless(&library);
    start(&mut app, JobKind::Train { library: library.clone(), request: cpu_training(200) });
    let mut cancelled = false;
    let ended = run_until_done(&mut app, 300, |app| {
        let epoch_done = !app.world().resource::<TrainingPanel>().history.is_empty();
        let mut jobs = app.world_mut().resource_mut::<Jobs>();
        if epoch_done
            && !cancelled
            && let Some(running) = jobs.running.as_mut()
        {
            running.cancel(); // the jobs panel's Cancel
            cancelled = true;
        }
    });
    assert!(ended && cancelled, "the job stopped after Cancel");
    assert!(last_notice(&app).contains("cancelled"), "{}", last_notice(&app));
    assert_eq!(std::fs::read(&library).expect("library"), before, "the library file is unchanged");
    let models = library.with_file_name("library.models");
    let left: Vec<_> = std::fs::read_dir(&models).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(left.is_empty(), "no half-trained model is left: {left:?}");
    assert!(drawn_on_the_map(explorer(&app)));
    assert_eq!(explorer(&app).library_path(), library.as_path());
}

#[test]
fn bad_files_given_to_jobs_end_in_a_message_naming_them_and_the_window_keeps_its_library() {
    let home = tempfile::tempdir().expect("tempdir");
    let library = crate::app::mapped_library(home.path());
    let before = std::fs::read(&library).expect("library");
    let mut app = headless(&library);

    let garbage = home.path().join("vectors.csv");
    std::fs::write(&garbage, "track_id,e0\n1,not a number\n").expect("write");
    let not_a_model = home.path().join("holiday photos");
    std::fs::create_dir_all(&not_a_model).expect("mkdir");
    let not_a_library = home.path().join("notes.ron");
    std::fs::write(&not_a_library, "(this is not a library)").expect("write");
    let cases = [
        (JobKind::AdoptEmbeddings { library: library.clone(), file: garbage.clone() }, garbage.clone(), "not a number"),
        (
            JobKind::EmbedWithModel { library: library.clone(), model: not_a_model.clone() },
            not_a_model.clone(),
            "no model here",
        ),
        (JobKind::Open { library: not_a_library.clone() }, not_a_library.clone(), "notes.ron"),
    ];
    for (kind, file, problem) in cases {
        start(&mut app, kind);
        assert!(run_until_done(&mut app, 60, |_| {}), "the job ends");
        let message = last_notice(&app);
        assert!(message.contains(&file.display().to_string()) && message.contains(problem), "{message}");
        assert!(app.world().resource::<Jobs>().finished.back().is_some_and(|j| !j.succeeded));
        assert_eq!(explorer(&app).library_path(), library.as_path());
        assert_eq!(explorer(&app).len(), 20);
    }
    assert_eq!(std::fs::read(&library).expect("library"), before, "nothing the user had was changed");
}

#[test]
fn embeddings_from_a_file_are_mapped_and_the_library_saved_as_a_copy_opens_with_them() {
    let home = tempfile::tempdir().expect("tempdir");
    let library = crate::app::mapped_library(home.path());
    let lib = load_library(&library).expect("library");
    // Vectors "made elsewhere": the tones on one side, the noises on the other.
    let file = home.path().join("elsewhere.csv");
    let mut text = String::from("track_id,e0,e1,e2\n");
    for (i, track) in lib.tracks.iter().enumerate() {
        let side = if track.genre.as_deref() == Some("Tone") { 10.0 } else { -10.0 };
        text.push_str(&format!("{},{side},{},{}\n", track.id, i % 3, i % 5));
    }
    std::fs::write(&file, text).expect("write");
    let mut app = headless(&library);
    start(&mut app, JobKind::AdoptEmbeddings { library: library.clone(), file: file.clone() });
    assert!(run_until_done(&mut app, 120, |_| {}), "the job ends");
    assert!(last_notice(&app).starts_with("20 embeddings of dimension 3 loaded from"), "{}", last_notice(&app));
    assert_eq!(explorer(&app).map().dim(), 3);
    let neighbours = explorer(&app).map().neighbours(0, 3, Metric::Euclidean);
    let genre = |row: usize| explorer(&app).track_at(row).and_then(|t| t.genre.clone());
    assert!(neighbours.iter().all(|n| genre(n.index) == genre(0)), "nearest songs come from the file's vectors");

    let copy = home.path().join("elsewhere/my copy.ron");
    start(&mut app, JobKind::SaveAs { library: library.clone(), to: copy.clone() });
    assert!(run_until_done(&mut app, 120, |_| {}), "the job ends");
    assert!(last_notice(&app).contains("Saved a copy as"), "{}", last_notice(&app));
    assert_eq!(explorer(&app).library_path(), copy.as_path(), "the copy is the library open now");
    let reopened = Explorer::open(&copy).expect("the copy opens");
    assert_eq!(reopened.len(), 20);
    assert_eq!(reopened.map().dim(), 3);
    let features = std::fs::read_dir(copy.with_file_name("my copy.features")).expect("features copied").count();
    assert_eq!(features, 20, "the copy can be trained on without analysing again");
    assert!(Explorer::open(&library).is_ok(), "the original still opens");
}

#[test]
fn new_map_settings_lay_the_map_out_again_and_view_choices_are_saved_with_the_library() {
    let home = tempfile::tempdir().expect("tempdir");
    let library = crate::app::mapped_library(home.path());
    let mut app = headless(&library);
    {
        let explorer = &mut app.world_mut().resource_mut::<ExplorerState>().0;
        explorer.set_metric(Metric::Cosine);
        explorer.set_filter_space(FilterSpace::Map);
        explorer.set_colours(ColourScheme::Rainbow);
    }
    let until = Instant::now() + Duration::from_secs(20);
    let saved = loop {
        app.update();
        let view = load_library(&library).expect("library").view;
        if view.is_some() || Instant::now() > until {
            break view;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let saved = saved.expect("the view settings are written to the library");
    assert_eq!(
        (saved.metric, saved.filter_space, saved.colours),
        (Metric::Cosine, FilterSpace::Map, ColourScheme::Rainbow)
    );

    let old_map: Vec<[f32; 3]> = explorer(&app).map().positions();
    let mut settings = load_library(&library).expect("library").map;
    settings.tsne.perplexity = 3.0;
    settings.tsne.seed = 99;
    start(&mut app, JobKind::Remap { library: library.clone(), settings });
    assert!(run_until_done(&mut app, 120, |_| {}), "the job ends");
    assert!(last_notice(&app).contains("new settings"), "{}", last_notice(&app));
    let lib = load_library(&library).expect("library");
    assert_eq!((lib.map.tsne.perplexity, lib.map.tsne.seed), (3.0, 99));
    assert_ne!(explorer(&app).map().positions(), old_map);
    // The choices made before survive the job, and the library opens with them next time.
    assert_eq!(explorer(&app).metric(), Metric::Cosine);
    let reopened = Explorer::open(&library).expect("open");
    assert_eq!(reopened.view_settings(), saved);
}

#[test]
fn a_job_asked_for_during_the_windows_own_write_starts_when_that_write_is_done() {
    let home = tempfile::tempdir().expect("tempdir");
    let library = crate::app::mapped_library(home.path());
    let mut app = headless(&library);
    // A slow disk: the window's write of a view choice holds until the test lets it go.
    let (release, held) = std::sync::mpsc::channel::<()>();
    app.world()
        .resource::<songspace::app::saving::LibraryWriter>()
        .write(move || held.recv().map_err(|e| e.to_string()));
    let mut settings = load_library(&library).expect("library").map;
    settings.tsne.seed = 5;
    app.world_mut().write_message(StartJob(JobKind::Remap { library: library.clone(), settings }));
    for _ in 0..5 {
        app.update();
        let jobs = app.world().resource::<Jobs>();
        assert!(jobs.running.is_none(), "a job never reads the library while the window writes it");
        assert_eq!(jobs.waiting_for_writes.len(), 1, "the job is kept, not dropped");
    }
    release.send(()).expect("the write is waiting");
    let until = Instant::now() + Duration::from_secs(10);
    while app.world().resource::<Jobs>().running.is_none() {
        assert!(Instant::now() < until, "the job did not start after the write: {}", last_notice(&app));
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(app.world().resource::<Jobs>().waiting_for_writes.is_empty());
    assert!(run_until_done(&mut app, 120, |_| {}), "the job ends");
    assert_eq!(load_library(&library).expect("library").map.tsne.seed, 5);
}

#[test]
fn a_song_dropped_and_a_view_changed_while_a_job_runs_land_in_the_library_the_job_leaves() {
    let home = tempfile::tempdir().expect("tempdir");
    let library = crate::app::mapped_library(home.path());
    let song = home.path().join("elsewhere/late tone.wav");
    let tags = crate::util::WavTags { title: Some("Late tone"), genre: Some("Tone"), ..Default::default() };
    crate::util::write_wav(&song, 22_050, 1, 4.0, "tone", 390.0, &tags);
    let mut app = headless(&library);

    let mut settings = load_library(&library).expect("library").map;
    settings.tsne.perplexity = 3.0;
    settings.tsne.seed = 11;
    start(&mut app, JobKind::Remap { library: library.clone(), settings });
    app.world_mut().write_message(bevy::window::FileDragAndDrop::DroppedFile {
        window: Entity::PLACEHOLDER,
        path_buf: song.clone(),
    });
    app.world_mut().resource_mut::<ExplorerState>().0.set_colours(ColourScheme::Uniform);
    let mut sizes_during_job = Vec::new();
    assert!(run_until_done(&mut app, 120, |app| sizes_during_job.push(explorer(app).len())), "the job ends");
    assert!(sizes_during_job.iter().all(|&n| n == 20), "nothing is placed on a map that is being replaced");
    let notices = app.world().resource::<ViewState>().notices.join("\n");
    assert!(notices.contains("late tone.wav will be placed when \"Laying out the map\" ends"), "{notices}");

    // Then the song is analysed and placed on the new map, and everything is written.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        app.update();
        let writing = app.world().resource::<songspace::app::saving::LibraryWriter>().busy();
        if explorer(&app).len() == 21 && !writing {
            break;
        }
        assert!(Instant::now() < until, "the waiting song was not placed: {}", last_notice(&app));
        std::thread::sleep(Duration::from_millis(20));
    }
    let selected = explorer(&app).selected().and_then(|row| explorer(&app).track_at(row)).map(|t| t.title.clone());
    assert_eq!(selected.as_deref(), Some("Late tone"));
    let lib = load_library(&library).expect("library");
    assert_eq!((lib.map.tsne.perplexity, lib.map.tsne.seed), (3.0, 11), "the job's map settings are kept");
    assert_eq!(lib.tracks.len(), 21, "the dropped song is saved");
    assert_eq!(lib.view.map(|v| v.colours), Some(ColourScheme::Uniform), "the view choice is saved");
    let reopened = Explorer::open(&library).expect("the library opens with all of it");
    assert_eq!(reopened.len(), 21);
    let new_map_row = reopened.row_of(lib.tracks[20].id).expect("on the map");
    assert_eq!(reopened.map().position(new_map_row), explorer(&app).map().position(explorer(&app).len() - 1));
}

// --- the real window, under Xvfb ---------------------------------------------------------------

/// Runs `steps` (a shell script: `$0` the program, `$1` the library, `$2` the screenshot, `$3`
/// the window's output) under Xvfb; returns the script's stdout and the window's output.
pub(crate) fn in_a_window(home: &Path, library: &Path, shot: &Path, steps: &str) -> (String, String) {
    let out = home.join("window.txt");
    let run = std::process::Command::new("xvfb-run")
        .args(crate::util::xvfb_args())
        .args(["sh", "-c", steps])
        .arg(env!("CARGO_BIN_EXE_songspace"))
        .args([library, shot, &out])
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        // No session bus: the file dialogs fall back to zenity, which xdotool can answer.
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .expect("xvfb-run");
    let printed = std::fs::read_to_string(&out).unwrap_or_default();
    if let Some(dir) = std::env::var_os("SONGSPACE_SCREENSHOTS")
        && let Some(name) = shot.file_name()
    {
        let _ = std::fs::copy(shot, PathBuf::from(dir).join(name));
    }
    let stdout = crate::util::stdout(&run);
    assert!(run.status.success(), "{stdout}\n{}\n{printed}", crate::util::stderr(&run));
    assert!(shot.is_file(), "no screenshot\n{stdout}\n{printed}");
    (stdout, printed)
}

/// zenity shows the file dialogs where no desktop portal runs; xclip lets the test paste a path.
pub(crate) fn dialog_tools_installed() -> bool {
    let on_path = |tool: &str| {
        std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
    };
    let found = on_path("zenity") && on_path("xclip");
    if !found {
        assert!(
            std::env::var_os("SONGSPACE_REQUIRE_WINDOW").is_none(),
            "SONGSPACE_REQUIRE_WINDOW is set but zenity or xclip is missing (tools/setup-system.sh installs them)"
        );
        eprintln!("skipped: zenity or xclip is not installed (tools/setup-system.sh installs them)");
    }
    found
}

/// Window steps that open the `dialog` (as its menu item does), find it on screen, paste `answer`
/// into its location bar and press Return.
fn answer_dialog(dialog: &str, answer: &Path) -> String {
    format!(
        r#"
        timeout 180 "$0" "$1" --size 1200x760 --hold 12 --dialog {dialog} --screenshot "$2" > "$3" 2>&1 &
        app=$!
        dialog=$(timeout 60 xdotool search --sync --onlyvisible --class zenity | head -1)
        [ -n "$dialog" ] || {{ kill $app; echo "no dialog appeared"; exit 1; }}
        echo "dialog $dialog"
        # The path is pasted, as people often do: GTK completes what is typed into its location
        # bar while folders load, which garbles a path typed key by key by a fast machine.
        printf '%s' '{}' | xclip -selection clipboard
        for attempt in 1 2 3; do
            xdotool windowactivate --sync "$dialog" 2>/dev/null || true
            xdotool key ctrl+l sleep 0.5 key ctrl+a sleep 0.2 key ctrl+v sleep 0.8 key Return
            sleep 2
            xdotool search --onlyvisible --class zenity > /dev/null || {{ echo "answered on attempt $attempt"; break; }}
        done
        wait $app
    "#,
        answer.display()
    )
}

#[test]
fn a_file_chosen_in_the_native_dialog_is_loaded_by_a_job_in_the_real_window() {
    let Some(_) = crate::app::xvfb() else { return };
    if !dialog_tools_installed() {
        return;
    }
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let library = crate::app::mapped_library(home);
    let vectors = home.join("made elsewhere.csv");
    let mut text = String::from("track_id,e0,e1\n");
    for (i, track) in load_library(&library).expect("library").tracks.iter().enumerate() {
        text.push_str(&format!("{},{},{}\n", track.id, i % 4, i / 4));
    }
    std::fs::write(&vectors, text).expect("write");
    let shot = home.join("window-dialog.png");
    let (stdout, printed) = in_a_window(home, &library, &shot, &answer_dialog("open-embeddings", &vectors));
    assert!(stdout.contains("dialog "), "{stdout}");
    let lib = load_library(&library).expect("library");
    match lib.embeddings.map(|e| (e.source, e.dim)) {
        Some((EmbeddingSource::File { path }, 2)) => assert_eq!(path, vectors),
        other => panic!("the chosen file's vectors are the library's now: {other:?}\n{printed}"),
    }
    assert!(printed.contains("frames while the job ran:"), "{printed}");
}

#[test]
fn a_music_folder_chosen_in_the_native_dialog_is_imported_mapped_and_opened() {
    let Some(_) = crate::app::xvfb() else { return };
    if !dialog_tools_installed() {
        return;
    }
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let library = crate::app::mapped_library(home);
    let folder = home.join("new music");
    crate::util::write_tones(&folder, "hum", "Hum", 6, 90.0, 15.0);
    let shot = home.join("window-import-dialog.png");
    let (stdout, printed) = in_a_window(home, &library, &shot, &answer_dialog("import-folder", &folder));
    assert!(stdout.contains("dialog "), "{stdout}");
    assert!(printed.contains("frames while the job ran:"), "{printed}");
    // The folder's library is written where imports go by default, mapped, and it is the
    // library the window shows at the end.
    let libraries: Vec<PathBuf> = std::fs::read_dir(home.join("data/songspace/libraries"))
        .map(|d| d.flatten().map(|e| e.path().join("library.ron")).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    assert_eq!(libraries.len(), 1, "one library imported: {libraries:?}\n{printed}");
    let imported = Explorer::open(&libraries[0]).expect("the imported library opens with its map");
    assert_eq!(imported.len(), 6);
    assert!(printed.contains(&format!("library {}", libraries[0].display())), "the window ends on it: {printed}");
    assert!(load_library(&library).expect("library").tracks.len() == 20, "the library open before is untouched");
}

#[test]
fn a_short_training_run_started_from_the_panel_draws_its_plots_in_the_real_window() {
    let Some(_) = crate::app::xvfb() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let library = crate::app::mapped_library(home);
    let shipped = model_dir_of(&library);
    let shot = home.join("window-training.png");
    let steps = r#"timeout 300 "$0" "$1" --size 1200x760 --train 4 --train-device cpu --screenshot "$2" > "$3" 2>&1"#;
    let (_, printed) = in_a_window(home, &library, &shot, steps);
    assert_ne!(model_dir_of(&library), shipped, "the library is embedded with the new model");
    let frames =
        printed.lines().find(|l| l.starts_with("frames while the job ran:")).unwrap_or_else(|| panic!("{printed}"));
    println!("{frames}");
    // Both curves of both plots are drawn, in their own colours.
    let png = crate::app::Png::read(&shot);
    let colour = |c: bevy_egui::egui::Color32| [c.r(), c.g(), c.b()];
    let training = png.near(colour(songspace::app::training::TRAIN_COLOUR), 6, 0, png.width).len();
    let validation = png.near(colour(songspace::app::training::VALIDATION_COLOUR), 6, 0, png.width).len();
    assert!(training > 150 && validation > 150, "plot pixels: training {training}, validation {validation}");
}

#[test]
fn opening_a_library_that_has_no_map_yet_lays_it_out_instead_of_refusing() {
    let home = tempfile::tempdir().expect("tempdir");
    let mapped = crate::app::mapped_library(home.path());
    let other_home = tempfile::tempdir().expect("tempdir");
    let unmapped = crate::map::small_library(other_home.path());
    assert!(Explorer::open(&unmapped).is_err(), "no map yet");
    let mut app = headless(&mapped);
    start(&mut app, JobKind::Open { library: unmapped.clone() });
    assert!(run_until_done(&mut app, 120, |_| {}), "the job ends");
    assert!(last_notice(&app).starts_with("Opened"), "{}", last_notice(&app));
    assert_eq!(explorer(&app).library_path(), unmapped.as_path());
    assert_eq!(explorer(&app).len(), 20);
    assert!(drawn_on_the_map(explorer(&app)), "another library is not animated from this one");
}
