//! The explorer window. Headless: the explorer's bevy systems without a GPU, driven by key
//! presses as winit would deliver them. Windowed: the real binary under Xvfb with Mesa's software
//! Vulkan driver, with screenshots whose pixels are checked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use bevy::input::ButtonState;
use bevy::input::InputPlugin;
use bevy::input::keyboard::{Key, KeyboardInput};
use bevy::prelude::*;

use songspace::app::camera::OrbitCamera;
use songspace::app::cloud::{PointCloud, PointStyle};
use songspace::app::input::Projector;
use songspace::app::{ExplorerPlugin, ExplorerState, Script, ViewState};
use songspace::explore::Explorer;
use songspace::library::{FileFingerprint, Library, SourceKind, Track};
use songspace::space::{Map, ProjectionMethod};

use crate::util::{songspace, stderr, stdout};

/// Four genres of 15 songs, each a tight cluster in 8-d and on the map.
fn explorer() -> Explorer {
    let genres = ["Rock", "Jazz", "Folk", "Ambient"];
    let mut library = Library::new(PathBuf::from("/music"), SourceKind::Folder);
    let mut ids = Vec::new();
    let mut embeddings = Vec::new();
    let mut positions = Vec::new();
    let mut state = 7u64;
    let mut noise = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    for (g, genre) in genres.iter().enumerate() {
        for i in 0..15 {
            let id = (g * 100 + i + 1) as u64;
            ids.push(id);
            library.tracks.push(Track {
                id,
                path: PathBuf::from(format!("{genre}/{i}.mp3")),
                title: format!("{genre} song {i}"),
                artist: format!("{genre} band"),
                album: String::new(),
                genre: Some(genre.to_string()),
                genres: vec![genre.to_string()],
                duration_seconds: 30.0,
                split: None,
                fingerprint: FileFingerprint { size: 1, modified_ns: 1 },
                features: None,
                descriptors: None,
            });
            let centre = g as f32 * 10.0;
            embeddings.extend((0..8).map(|d| if d == g { centre } else { 0.0 } + noise()));
            positions.push([centre + noise(), noise(), noise()]);
        }
    }
    let map = Map::new(ids, embeddings, 8, positions, 10.0, ProjectionMethod::Pca).expect("map");
    Explorer::new(library, PathBuf::from("/tmp/test.songspace"), map)
}

fn headless(explorer: Explorer) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, InputPlugin))
        .add_plugins(ExplorerPlugin { explorer: Mutex::new(Some(explorer)), script: Script::default() });
    app.update();
    app
}

fn send_key(app: &mut App, code: KeyCode, logical: Key, state: ButtonState) {
    app.world_mut().write_message(KeyboardInput {
        key_code: code,
        logical_key: logical,
        state,
        text: None,
        repeat: false,
        window: Entity::PLACEHOLDER,
    });
}

/// A key pressed and released, a frame each.
fn key(app: &mut App, code: KeyCode, logical: Key) {
    for state in [ButtonState::Pressed, ButtonState::Released] {
        send_key(app, code, logical.clone(), state);
        app.update();
    }
}

fn press(app: &mut App, code: KeyCode) {
    key(app, code, Key::Unidentified(bevy::input::keyboard::NativeKey::Unidentified));
}

fn explorer_of(app: &mut App) -> &mut Explorer {
    &mut app.world_mut().resource_mut::<ExplorerState>().into_inner().0
}

fn camera(app: &mut App) -> OrbitCamera {
    app.world_mut().query::<&OrbitCamera>().single(app.world()).expect("camera").clone()
}

fn cloud(app: &mut App) -> PointCloud {
    app.world_mut().query::<&PointCloud>().single(app.world()).expect("cloud").clone()
}

#[test]
fn keys_cycle_neighbours_focus_reset_clear_and_open_help() {
    let mut app = headless(explorer());
    let jazz_3 = explorer_of(&mut app).row_of(104).expect("row");
    explorer_of(&mut app).select(jazz_3);
    let neighbours: Vec<usize> =
        explorer_of(&mut app).selection().expect("selected").neighbours.iter().map(|n| n.index).collect();
    assert_eq!(neighbours.len(), 3);

    press(&mut app, KeyCode::KeyN);
    let to = explorer_of(&mut app).position(neighbours[0]);
    assert_eq!(camera(&mut app).goal.target, Vec3::from(to), "N flies to the nearest song");
    press(&mut app, KeyCode::KeyN);
    press(&mut app, KeyCode::KeyP);
    assert_eq!(explorer_of(&mut app).selection().expect("selected").neighbour_cursor, Some(0));

    press(&mut app, KeyCode::KeyR);
    let cam = camera(&mut app);
    assert_eq!(cam.goal, cam.home, "R resets the view");
    press(&mut app, KeyCode::KeyF);
    assert_eq!(camera(&mut app).goal.target, Vec3::from(explorer_of(&mut app).position(jazz_3)), "F focuses");

    press(&mut app, KeyCode::KeyH);
    assert!(app.world().resource::<ViewState>().show_help);
    press(&mut app, KeyCode::Escape);
    assert!(!app.world().resource::<ViewState>().show_help, "Esc closes the help first");
    assert!(explorer_of(&mut app).selected().is_some());
    press(&mut app, KeyCode::Escape);
    assert_eq!(explorer_of(&mut app).selected(), None, "then clears the selection");

    // Orbiting with a held arrow key turns the camera.
    let yaw = camera(&mut app).goal.yaw;
    send_key(&mut app, KeyCode::ArrowLeft, Key::ArrowLeft, ButtonState::Pressed);
    for _ in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(5));
        app.update();
    }
    assert!(camera(&mut app).goal.yaw > yaw, "left arrow orbits");
}

#[test]
fn remembered_settings_are_applied_and_what_the_user_changes_is_remembered() {
    use songspace::app::session::{FirstStartHint, SessionPlugin};
    use songspace::explore::FilterSpace;
    use songspace::settings::Settings;
    let listen = songspace::settings::ListenSettings { tab_listen: true, radio: true, trail: 30, ..Default::default() };
    let settings =
        std::sync::Arc::new(Mutex::new(Settings { filter_in_map_space: true, listen, ..Settings::default() }));
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, InputPlugin))
        .add_plugins(ExplorerPlugin { explorer: Mutex::new(Some(explorer())), script: Script::default() })
        .add_plugins(SessionPlugin { settings: std::sync::Arc::clone(&settings), first_start_hint: true })
        .add_message::<bevy::window::WindowResized>();
    app.update();
    assert_eq!(explorer_of(&mut app).filter_space(), FilterSpace::Map, "applied at start");
    // The Listen panel as it was left, kept when its library's listening file is read.
    assert!(update_until(&mut app, 10, |app| listen_of(app).is_loaded()));
    let listen = listen_of(&mut app);
    assert_eq!((listen.tab, listen.radio, listen.trail_length), (songspace::app::listening::SideTab::Listen, true, 30));
    assert!(app.world().resource::<FirstStartHint>().showing);
    app.update();
    assert!(!settings.lock().expect("lock").hint_dismissed, "showing the hint is not closing it");

    explorer_of(&mut app).set_filter_space(FilterSpace::Embedding);
    app.world_mut().resource_mut::<FirstStartHint>().showing = false;
    app.world_mut().write_message(bevy::window::WindowResized {
        window: Entity::PLACEHOLDER,
        width: 1024.4,
        height: 700.0,
    });
    app.update();
    let remembered = settings.lock().expect("lock").clone();
    assert!(!remembered.filter_in_map_space && remembered.hint_dismissed);
    assert!(remembered.listen.tab_listen && remembered.listen.radio && remembered.listen.camera_follows_queue);
    press(&mut app, KeyCode::KeyO);
    assert!(!settings.lock().expect("lock").listen.radio, "radio off (O) is remembered");
    assert_eq!(remembered.window_size, Some((1024, 700)));
}

/// Sends `frames` updates, or until `done`; false when time ran out.
fn update_until(app: &mut App, seconds: u64, mut done: impl FnMut(&mut App) -> bool) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < until {
        app.update();
        if done(app) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

#[test]
fn a_dropped_folder_is_offered_then_imported_in_the_background_and_opened_or_cancelled() {
    use songspace::app::jobs::Jobs;
    let home = tempfile::tempdir().expect("tempdir");
    let music = home.path().join("dropped music");
    for i in 0..6 {
        let tone = crate::util::WavTags { title: Some("Tone"), genre: Some("Tone"), ..Default::default() };
        let noise = crate::util::WavTags { title: Some("Noise"), genre: Some("Noise"), ..Default::default() };
        crate::util::write_wav(
            &music.join(format!("tone{i}.wav")),
            22_050,
            1,
            4.0,
            "tone",
            220.0 + 40.0 * i as f32,
            &tone,
        );
        crate::util::write_wav(&music.join(format!("noise{i}.wav")), 22_050, 1, 4.0, "noise", 0.0, &noise);
    }
    let mut app = headless(explorer());
    let library = home.path().join("imported/library.ron");
    app.world_mut().resource_mut::<Jobs>().library_override = Some(library.clone());
    let drop = |app: &mut App| {
        app.world_mut().write_message(bevy::window::FileDragAndDrop::DroppedFile {
            window: Entity::PLACEHOLDER,
            path_buf: music.clone(),
        });
        app.update();
        let mut jobs = app.world_mut().resource_mut::<Jobs>();
        assert_eq!(jobs.offered_folder.as_ref(), Some(&music), "a folder is offered for import, not placed");
        jobs.accepted = jobs.offered_folder.take(); // "Import"
        app.update();
        assert!(app.world().resource::<Jobs>().running.is_some());
    };

    // Cancelled at once: the library in the window stays.
    drop(&mut app);
    app.world_mut().resource_mut::<Jobs>().running.as_mut().expect("running").cancel();
    assert!(update_until(&mut app, 60, |app| app.world().resource::<Jobs>().running.is_none()), "the job stops");
    assert_eq!(explorer_of(&mut app).len(), 60);
    let last = app.world().resource::<ViewState>().notices.last().cloned().unwrap_or_default();
    assert!(last.contains("cancelled") && last.contains("dropped music"), "{last}");

    // Imported: progress is reported while it runs, then the new library is in the window.
    drop(&mut app);
    let mut fractions = Vec::new();
    let finished = update_until(&mut app, 300, |app| {
        let jobs = app.world().resource::<Jobs>();
        match &jobs.running {
            Some(running) => {
                fractions.push(running.fraction());
                false
            }
            None => true,
        }
    });
    assert!(finished, "the import finishes");
    assert!(fractions.windows(2).all(|w| w[1] >= w[0]), "progress never goes back: {fractions:?}");
    let explorer = explorer_of(&mut app);
    assert_eq!(explorer.len(), 12, "{:?}", app.world().resource::<ViewState>().notices);
    let explorer = explorer_of(&mut app);
    assert_eq!(explorer.library_path(), library.as_path());
    assert_eq!(explorer.legend().len(), 2);
    let last = app.world().resource::<ViewState>().notices.last().cloned().unwrap_or_default();
    assert!(last.starts_with("Imported") && last.contains("12 songs"), "{last}");
}

#[test]
fn shortcuts_are_off_while_typing_in_the_search_box() {
    let mut app = headless(explorer());
    explorer_of(&mut app).select(0);
    app.world_mut().resource_mut::<ViewState>().keyboard_taken = true;
    press(&mut app, KeyCode::Escape);
    assert_eq!(explorer_of(&mut app).selected(), Some(0), "Esc typed into a text field does not clear");
    // Ctrl+F still reaches the search box.
    app.world_mut().resource_mut::<ViewState>().keyboard_taken = false;
    send_key(&mut app, KeyCode::ControlLeft, Key::Control, ButtonState::Pressed);
    press(&mut app, KeyCode::KeyF);
    assert!(app.world().resource::<ViewState>().focus_search);
}

#[test]
fn the_gpu_copy_follows_selection_filter_and_genres_without_rebuilding_needlessly() {
    let mut app = headless(explorer());
    app.update();
    let first = cloud(&mut app);
    assert_eq!(first.len(), 60);
    assert_eq!(first.filter_values.len(), 60);
    assert_eq!(first.style.filter_threshold, f32::MAX);

    // Selecting re-uploads the distances, not the points.
    explorer_of(&mut app).select(0);
    app.update();
    let selected = cloud(&mut app);
    assert_eq!(selected.instances_version, first.instances_version);
    assert!(std::sync::Arc::ptr_eq(&selected.instances, &first.instances));
    assert_ne!(selected.filter_version, first.filter_version);
    assert_eq!(selected.filter_values[0], 0.0);

    // The slider changes only the threshold: songs farther than it are not drawn.
    explorer_of(&mut app).set_filter_radius(Some(3.0));
    app.update();
    let filtered = cloud(&mut app);
    assert!(std::sync::Arc::ptr_eq(&filtered.filter_values, &selected.filter_values));
    assert_eq!(filtered.style.filter_threshold, 3.0);
    let drawn = filtered.filter_values.iter().filter(|&&v| v <= filtered.style.filter_threshold).count();
    assert_eq!(drawn, explorer_of(&mut app).visible_count());
    assert_eq!(drawn, 15, "only the selection's own genre cluster is within 3");

    // Hiding a genre marks its songs hidden for the GPU.
    explorer_of(&mut app).reset_filter();
    explorer_of(&mut app).toggle_legend_entry(0);
    app.update();
    let hidden = cloud(&mut app);
    assert_eq!(hidden.filter_values.iter().filter(|v| v.is_infinite()).count(), 15);
    assert_eq!(hidden.style.filter_threshold, f32::MAX);
}

#[test]
fn picking_finds_the_song_under_the_cursor_and_prefers_the_nearer() {
    let mut e = explorer();
    // Looking down -z from above the middle of the clusters, 800 × 600 view.
    let clip_from_view = Mat4::perspective_infinite_reverse_rh(std::f32::consts::FRAC_PI_4, 800.0 / 600.0, 0.1);
    let world_from_view = Mat4::from_translation(Vec3::new(15.0, 0.0, 120.0));
    let viewport = Rect::new(0.0, 0.0, 800.0, 600.0);
    let projector = Projector::from_parts(clip_from_view, world_from_view, viewport, PointStyle::default(), 1.0);

    // The Ambient cluster is around x = 30, Rock around x = 0.
    let rock = e.row_of(1).expect("row");
    let p = projector.project(e.position(rock)).expect("in view");
    assert_eq!(e.map().position(rock), e.position(rock));
    let picked = projector.pick(&e, p.screen).expect("a song under the cursor");
    let q = projector.project(e.position(picked)).expect("in view");
    assert!(q.screen.distance(p.screen) <= q.radius + 3.0);
    // Of the songs whose discs cover that pixel, the nearest to the camera wins.
    let covering: Vec<usize> = (0..e.len())
        .filter(|&r| {
            let s = projector.project(e.position(r)).expect("in view");
            s.screen.distance(p.screen) <= s.radius + 3.0
        })
        .collect();
    let nearest = covering
        .iter()
        .copied()
        .min_by(|&a, &b| {
            let da = projector.project(e.position(a)).expect("in view").depth;
            let db = projector.project(e.position(b)).expect("in view").depth;
            da.total_cmp(&db)
        })
        .expect("covering");
    assert_eq!(picked, nearest);
    // Empty space picks nothing; hidden songs cannot be picked.
    assert_eq!(projector.pick(&e, Vec2::new(790.0, 10.0)), None);
    let rock_genre = e.legend().iter().position(|g| g.label() == "Rock").expect("rock");
    e.toggle_legend_entry(rock_genre);
    assert!(projector.pick(&e, p.screen).is_none_or(|row| e.legend_entry_of(row).label() != "Rock"));
}

// --- the real window, under Xvfb ---------------------------------------------------------------

/// `xvfb-run` is how the window tests get a display; `tools/test.sh` installs it and requires
/// these tests (`SONGSPACE_REQUIRE_WINDOW=1`).
pub(crate) fn xvfb() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("xvfb-run")).find(|p| p.is_file()));
    if found.is_none() {
        assert!(
            std::env::var_os("SONGSPACE_REQUIRE_WINDOW").is_none(),
            "SONGSPACE_REQUIRE_WINDOW is set but xvfb-run is missing"
        );
        eprintln!("skipped: xvfb-run is not installed (tools/setup-system.sh installs it)");
    }
    found
}

pub(crate) struct Png {
    pub(crate) width: usize,
    pub(crate) height: usize,
    rgba: Vec<u8>,
}

impl Png {
    pub(crate) fn read(path: &Path) -> Png {
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("png")));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("png frame");
        let channels = info.color_type.samples();
        let rgba = buf[..info.buffer_size()]
            .chunks_exact(channels)
            .flat_map(|c| [c[0], c[1], c[2], if channels == 4 { c[3] } else { 255 }])
            .collect();
        Png { width: info.width as usize, height: info.height as usize, rgba }
    }

    /// Pixels that are `colour` darkened by any factor from 0.35 to 1 (the shading towards a
    /// point's rim and the depth cue both darken), within `tolerance` per channel, in `x0..x1`.
    pub(crate) fn near_shade(&self, colour: [u8; 3], tolerance: f32, x0: usize, x1: usize) -> usize {
        let c = colour.map(f32::from);
        let norm = c.iter().map(|v| v * v).sum::<f32>().max(1.0);
        let mut found = 0;
        for y in 0..self.height {
            for x in x0..x1.min(self.width) {
                let p = &self.rgba[(y * self.width + x) * 4..][..3];
                let p = [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])];
                let k = ((p[0] * c[0] + p[1] * c[1] + p[2] * c[2]) / norm).clamp(0.35, 1.0);
                if (0..3).all(|i| (p[i] - k * c[i]).abs() <= tolerance) {
                    found += 1;
                }
            }
        }
        found
    }

    /// Pixels of `colour`'s hue and saturation (within 5° and 0.06) at any brightness from 0.2:
    /// shading and the depth cue darken a point's colour but keep its hue, and two palette
    /// colours that darkening could confuse differ in hue.
    pub(crate) fn same_hue(&self, colour: [u8; 3], x0: usize, x1: usize) -> usize {
        fn hsv(c: [f32; 3]) -> (f32, f32, f32) {
            let (max, min) = (c[0].max(c[1]).max(c[2]), c[0].min(c[1]).min(c[2]));
            let delta = max - min;
            let hue = if delta <= 0.0 {
                0.0
            } else if max == c[0] {
                60.0 * ((c[1] - c[2]) / delta).rem_euclid(6.0)
            } else if max == c[1] {
                60.0 * ((c[2] - c[0]) / delta + 2.0)
            } else {
                60.0 * ((c[0] - c[1]) / delta + 4.0)
            };
            (hue, if max > 0.0 { delta / max } else { 0.0 }, max)
        }
        let (hue, saturation, _) = hsv(colour.map(|v| f32::from(v) / 255.0));
        let mut found = 0;
        for y in 0..self.height {
            for x in x0..x1.min(self.width) {
                let p = &self.rgba[(y * self.width + x) * 4..][..3];
                let (h, s, v) = hsv([p[0], p[1], p[2]].map(|v| f32::from(v) / 255.0));
                let dh = (h - hue).abs().min(360.0 - (h - hue).abs());
                if v >= 0.2 && dh <= 5.0 && (s - saturation).abs() <= 0.06 {
                    found += 1;
                }
            }
        }
        found
    }

    /// How many of the palette's first `colours` colours are in the 3D view (more than 30
    /// pixels of their hue: shading and the depth cue keep it).
    pub(crate) fn palette_hues_in_scene(&self, colours: usize) -> usize {
        (0..colours)
            .filter(|&rank| {
                let c = songspace::explore::genre_colour(rank).map(|v| (v * 255.0).round() as u8);
                self.same_hue(c, SCENE.0, SCENE.1) > 30
            })
            .count()
    }

    /// Pixels close to an sRGB colour, within columns `x0..x1` (the 3D view between the panels).
    pub(crate) fn near(&self, colour: [u8; 3], tolerance: i32, x0: usize, x1: usize) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        for y in 0..self.height {
            for x in x0..x1.min(self.width) {
                let p = &self.rgba[(y * self.width + x) * 4..][..3];
                if (0..3).all(|i| (p[i] as i32 - colour[i] as i32).abs() <= tolerance) {
                    found.push((x, y));
                }
            }
        }
        found
    }
}

/// The 3D view's columns in a 1200-wide window: right of the left panel, left of the right one.
const SCENE: (usize, usize) = (290, 780);

/// Pixels of the two genres' colours (palette ranks 0 and 1; shaded towards the rim) in the view.
pub(crate) fn genre_pixels(png: &Png) -> Vec<(usize, usize)> {
    let mut all = png.near([0xE6, 0x9F, 0x00], 48, SCENE.0, SCENE.1);
    all.extend(png.near([0x56, 0xB4, 0xE9], 48, SCENE.0, SCENE.1));
    all
}

fn extent(pixels: &[(usize, usize)]) -> usize {
    let xs = pixels.iter().map(|p| p.0);
    let ys = pixels.iter().map(|p| p.1);
    let w = xs.clone().max().unwrap_or(0) - xs.min().unwrap_or(0);
    let h = ys.clone().max().unwrap_or(0) - ys.min().unwrap_or(0);
    w.max(h)
}

fn window_run(home: &Path, library: &Path, shot: &Path, extra: &[&str]) {
    let mut args = crate::util::xvfb_args();
    args.extend([
        env!("CARGO_BIN_EXE_songspace").to_owned(),
        library.display().to_string(),
        "--screenshot".to_owned(),
        shot.display().to_string(),
        "--size".to_owned(),
        "1200x760".to_owned(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let started = std::time::Instant::now();
    let out = Command::new("xvfb-run")
        .args(&args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .output()
        .expect("xvfb-run");
    assert!(out.status.success(), "{extra:?} failed after {:?}\n{}\n{}", started.elapsed(), stdout(&out), stderr(&out));
    assert!(shot.is_file(), "no screenshot at {}", shot.display());
}

/// The map tests' small library (tones and noises, tagged with those genres), laid out in 3D.
pub(crate) fn mapped_library(home: &Path) -> PathBuf {
    let library = crate::map::small_library(home);
    let run = songspace(home, &["project", library.to_str().expect("utf8")]);
    assert!(run.status.success(), "{}", stderr(&run));
    library
}

#[test]
fn the_window_draws_the_cloud_highlights_the_selection_and_filters_by_distance() {
    let Some(_) = xvfb() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let library = mapped_library(home);
    let shots = std::env::var_os("SONGSPACE_SCREENSHOTS").map(PathBuf::from).unwrap_or_else(|| home.join("shots"));
    std::fs::create_dir_all(&shots).expect("shots dir");

    let plain = shots.join("window-plain.png");
    window_run(home, &library, &plain, &[]);
    let plain = Png::read(&plain);
    assert!(plain.width >= 1000 && plain.height >= 600, "{}×{}", plain.width, plain.height);
    let cloud = genre_pixels(&plain);
    assert!(cloud.len() > 200, "the points are drawn: {} genre-coloured pixels", cloud.len());
    assert!(extent(&cloud) > 100, "the cloud spreads over the view: {} px", extent(&cloud));

    // Track 1 selected: its 3 nearest ringed in gold, itself in white.
    let selected = shots.join("window-selected.png");
    window_run(home, &library, &selected, &["--select", "1"]);
    let selected = Png::read(&selected);
    let gold = selected.near([0xFF, 0xD7, 0x00], 10, SCENE.0, SCENE.1).len();
    assert!(gold > 30, "the 3 nearest are ringed in gold: {gold} pixels");
    let white = |png: &Png| png.near([255, 255, 255], 8, SCENE.0, SCENE.1).len();
    assert!(white(&selected) > white(&plain) + 30, "the selection is ringed and labelled in white");

    // A filter radius that keeps only the selection: every other song vanishes.
    let filtered = shots.join("window-filtered.png");
    window_run(home, &library, &filtered, &["--select", "1", "--filter", "0.0001"]);
    let filtered = Png::read(&filtered);
    let before = genre_pixels(&selected);
    let after = genre_pixels(&filtered);
    assert!(!after.is_empty(), "the selected song stays visible");
    assert!(extent(&before) > 80, "without the filter, songs spread around the selection: {} px", extent(&before));
    assert!(extent(&after) < 40, "with it, only the selection's own dot is left: {} px across", extent(&after));

    // Dropping a new song: it lands, is selected (its nearest ringed in gold) and is saved.
    let song = home.join("new/dropped tone.wav");
    let tags = crate::util::WavTags {
        title: Some("Dropped"),
        artist: Some("Sine"),
        genre: Some("Tone"),
        ..Default::default()
    };
    crate::util::write_wav(&song, 22_050, 1, 4.0, "tone", 333.0, &tags);
    let dropped = shots.join("window-dropped.png");
    window_run(home, &library, &dropped, &["--drop", song.to_str().expect("utf8")]);
    let dropped = Png::read(&dropped);
    let gold = dropped.near([0xFF, 0xD7, 0x00], 10, SCENE.0, SCENE.1).len();
    assert!(gold > 30, "the dropped song is selected with its 3 nearest ringed: {gold} gold pixels");
    assert_eq!(Explorer::open(&library).expect("reopen").len(), 21, "and it is in the library");
}

#[test]
fn the_mouse_selects_and_plays_a_song_orbits_and_zooms_in_the_real_window() {
    let Some(_) = xvfb() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let library = mapped_library(home);
    let shot = home.join("mouse.png");
    let out = home.join("out.txt");
    // The window prints where the songs are, then waits; xdotool clicks, of the songs nearer the
    // cloud's centre than the average, the one farthest from any other, scrolls the wheel up three
    // times and drags to the right. (A song on the rim, zoomed towards and then orbited, can
    // swing out of the view: which songs are on the rim depends on the map's rounding.)
    let steps = r#"
        timeout 120 "$0" "$1" --size 1200x760 --hold 10 --screenshot "$2" > "$3" 2>&1 &
        app=$!
        for i in $(seq 300); do grep -q "holding for input" "$3" && break; sleep 0.1; done
        grep -q "holding for input" "$3" || { kill $app; echo "the window never waited for input"; exit 1; }
        target=$(awk '$1 == "song" { x[$2] = $4; y[$2] = $5; n++; cx += $4; cy += $5 }
            END { cx /= n; cy /= n; for (a in x) { r[a] = (x[a]-cx)^2 + (y[a]-cy)^2; mean += r[a] / n }
                  for (a in x) { if (r[a] > mean) continue
                  nearest = 1e9; for (b in x) if (a != b) { d = (x[a]-x[b])^2 + (y[a]-y[b])^2; if (d < nearest) nearest = d }
                  if (nearest > best) { best = nearest; pick = a } } print pick, x[pick], y[pick] }' "$3")
        set -- $target
        echo "clicking song $1 at $2 $3"
        xdotool mousemove "$2" "$3" sleep 0.3 click 1 sleep 0.5
        xdotool click 4 sleep 0.2 click 4 sleep 0.2 click 4 sleep 0.5
        xdotool mousedown 1 sleep 0.5 mousemove_relative -- 40 0 sleep 0.3 mousemove_relative -- 40 0 sleep 0.3 \
            mousemove_relative -- 40 0 sleep 0.5 mouseup 1
        wait $app
    "#;
    // ALSA's null device: a real audio output that plays into nothing, so the song is played
    // through rodio as on a desktop.
    std::fs::write(home.join(".asoundrc"), "pcm.!default { type null }\nctl.!default { type hw card 0 }\n")
        .expect("asoundrc");
    let run = Command::new("xvfb-run")
        .args(crate::util::xvfb_args())
        .args(["sh", "-c", steps])
        .arg(env!("CARGO_BIN_EXE_songspace"))
        .args([&library, &shot, &out])
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .output()
        .expect("xvfb-run");
    let printed = std::fs::read_to_string(&out).unwrap_or_default();
    if let Some(dir) = std::env::var_os("SONGSPACE_SCREENSHOTS") {
        let _ = std::fs::copy(&shot, PathBuf::from(dir).join("window-mouse.png"));
    }
    assert!(run.status.success(), "{}\n{}\n{printed}", stdout(&run), stderr(&run));
    let clicked = stdout(&run)
        .lines()
        .find_map(|l| {
            l.strip_prefix("clicking song ").and_then(|rest| rest.split_whitespace().next()).map(str::to_owned)
        })
        .expect("a song was clicked");
    let last = printed.lines().find(|l| l.starts_with("camera yaw")).unwrap_or_else(|| panic!("{printed}"));
    let number = |key: &str| -> f32 {
        let at = last.find(key).unwrap_or_else(|| panic!("{key} in {last}")) + key.len();
        last[at..].split_whitespace().next().and_then(|v| v.trim_end_matches(';').parse().ok()).expect("number")
    };
    assert!(last.ends_with(&format!("selected track {clicked}")), "the click selects the song under it: {last}");
    assert!(number("distance ") < 0.8 * number("home distance "), "the wheel zooms in: {last}");
    // Home yaw is 0.6; dragging right turns the view.
    assert!((number("yaw ") - 0.6).abs() > 0.2, "the drag orbits: {last}");
    // The click played it, through the audio output, from our decoder.
    let playback = printed.lines().find(|l| l.starts_with("playback:")).unwrap_or_default();
    let prefix = format!("playback: track {clicked} at ");
    let position: f32 = playback
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("the clicked song plays: {playback}\n{printed}"));
    assert!(position >= 1.0, "{playback}");
    // Zoomed in and turned, its neighbours may be out of view; the selection itself is ringed,
    // anywhere in the 3D view (the side panels begin at columns 270 and 890).
    let white = Png::read(&shot).near([255, 255, 255], 8, 272, 888).len();
    assert!(white > 30, "the clicked song is ringed and labelled in white: {white} pixels");
}

#[test]
fn dropped_files_are_placed_added_and_selected_and_bad_ones_change_nothing() {
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let library = mapped_library(home);
    let explorer = Explorer::open(&library).expect("open");
    let before = explorer.len();
    let mut app = headless(explorer);

    // A new tone, outside the library's folder.
    let new_song = home.join("elsewhere/new tone.wav");
    let tags = crate::util::WavTags {
        title: Some("New tone"),
        artist: Some("Sine"),
        genre: Some("Tone"),
        ..Default::default()
    };
    crate::util::write_wav(&new_song, 22_050, 1, 4.0, "tone", 420.0, &tags);
    let bad = home.join("elsewhere/not audio.mp3");
    std::fs::write(&bad, b"this is not an mp3").expect("write");
    let folder = home.join("elsewhere");

    for path in [&bad, &folder, &new_song] {
        app.world_mut().write_message(bevy::window::FileDragAndDrop::DroppedFile {
            window: Entity::PLACEHOLDER,
            path_buf: path.clone(),
        });
    }
    let started = std::time::Instant::now();
    while explorer_of(&mut app).len() == before {
        assert!(started.elapsed().as_secs() < 60, "the dropped song was not placed within 60 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
        app.update();
    }
    let notices = app.world().resource::<ViewState>().notices.join("\n");
    assert!(notices.contains("not audio.mp3"), "the bad file is named: {notices}");
    let offered = app.world().resource::<songspace::app::jobs::Jobs>().offered_folder.clone();
    assert_eq!(offered, Some(folder), "the folder is offered for import, not placed");

    let e = explorer_of(&mut app);
    assert_eq!(e.len(), before + 1, "only the good file was added");
    let row = e.selected().expect("the new song is selected");
    assert!(e.is_added(row));
    assert_eq!(e.track_at(row).expect("track").title, "New tone");
    // A tone lands among tones.
    let neighbours = &e.selection().expect("selected").neighbours;
    assert!(neighbours.iter().all(|n| e.legend_entry_of(n.index).label() == "Tone"), "{neighbours:?}");
    // And it was saved (in the background): a fresh open finds it.
    while app.world().resource::<songspace::app::saving::LibraryWriter>().busy() {
        assert!(started.elapsed().as_secs() < 60, "the dropped song was not saved within 60 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
        app.update();
    }
    let reopened = Explorer::open(&library).expect("reopen");
    assert_eq!(reopened.len(), before + 1);
    assert!((0..reopened.len()).any(|r| reopened.track_at(r).is_some_and(|t| t.title == "New tone")));
    // The kd-trees were rebuilt on a thread and taken in: the new song is in them, no longer
    // scanned beside them, and is still found as its neighbours' neighbour.
    while explorer_of(&mut app).map().indices().has_unindexed() {
        assert!(started.elapsed().as_secs() < 60, "the map's kd-trees were not rebuilt within 60 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
        app.update();
    }
    let e = explorer_of(&mut app);
    let nearest = e.selection().expect("selected").neighbours[0].index;
    assert!(e.map().neighbours(nearest, 8, songspace::space::Metric::Euclidean).iter().any(|n| n.index == row));
}

#[test]
fn opening_without_a_usable_library_says_why_once_and_opens_no_window() {
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let missing = home.join("nowhere.songspace");
    let run = songspace(home, &[missing.to_str().expect("utf8")]);
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert_eq!(err.matches("nowhere.songspace").count(), 1, "named once: {err}");

    // A library without a map yet: the message says what to run.
    let music = home.join("music");
    crate::util::write_tones(&music, "t", "Tone", 4, 200.0, 50.0);
    let library = home.join("lib/library.ron");
    let import =
        songspace(home, &["import", music.to_str().expect("utf8"), "--library", library.to_str().expect("utf8")]);
    assert!(import.status.success(), "{}", stderr(&import));
    let run = songspace(home, &[library.to_str().expect("utf8")]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("songspace project"), "{}", stderr(&run));
}

fn listen_of(app: &mut App) -> &mut songspace::app::listening::Listen {
    app.world_mut().resource_mut::<songspace::app::listening::Listen>().into_inner()
}

fn select_id(app: &mut App, id: u64) {
    let row = explorer_of(app).row_of(id).expect("row");
    explorer_of(app).select(row);
    app.update();
}

#[test]
fn likes_make_for_you_a_path_becomes_a_playlist_and_everything_is_kept_with_the_library() {
    let home = tempfile::tempdir().expect("tempdir");
    let library_path = home.path().join("library.ron");
    let open = |path: &Path| {
        let e = explorer();
        Explorer::new(e.library().clone(), path.to_path_buf(), Map::clone(e.map()))
    };
    let mut app = headless(open(&library_path));
    assert!(update_until(&mut app, 10, |app| listen_of(app).is_loaded()), "the listening file is read");

    // L on three songs, two of them Jazz, one Ambient: For you keeps both tastes, never a liked song.
    for id in [104, 105, 301] {
        select_id(&mut app, id);
        press(&mut app, KeyCode::KeyL);
    }
    assert_eq!(listen_of(&mut app).listening.likes, vec![104, 105, 301]);
    app.update();
    let for_you: Vec<u64> = {
        let rows: Vec<usize> = listen_of(&mut app).for_you.iter().map(|r| r.row).collect();
        rows.iter().map(|&r| explorer_of(&mut app).track_at(r).expect("track").id).collect()
    };
    assert_eq!(for_you.len(), 10, "{for_you:?}");
    assert!(for_you.iter().all(|id| ![104, 105, 301].contains(id)), "{for_you:?}");
    assert!(
        for_you.iter().any(|id| (101..=115).contains(id)) && for_you.iter().any(|id| (301..=315).contains(id)),
        "both tastes: {for_you:?}"
    );
    assert!(for_you.iter().all(|id| (101..=115).contains(id) || (301..=315).contains(id)), "{for_you:?}");
    // L again takes the like back.
    select_id(&mut app, 301);
    press(&mut app, KeyCode::KeyL);
    assert_eq!(listen_of(&mut app).listening.likes, vec![104, 105]);
    press(&mut app, KeyCode::KeyL);

    // B at a Rock song, E at an Ambient one: a path from one to the other, found on a thread.
    select_id(&mut app, 1);
    press(&mut app, KeyCode::KeyB);
    select_id(&mut app, 310);
    press(&mut app, KeyCode::KeyE);
    assert!(update_until(&mut app, 20, |app| listen_of(app).path.is_some()), "the path is found");
    let path = listen_of(&mut app).path.clone().expect("path");
    assert_eq!((path.songs[0], *path.songs.last().expect("last")), (1, 310));
    assert_eq!(path.steps.len(), path.songs.len() - 1);
    // Ctrl+S keeps it as a playlist; Q queues it.
    send_key(&mut app, KeyCode::ControlLeft, Key::Control, ButtonState::Pressed);
    press(&mut app, KeyCode::KeyS);
    send_key(&mut app, KeyCode::ControlLeft, Key::Control, ButtonState::Released);
    app.update();
    let playlist = listen_of(&mut app).listening.playlists[0].clone();
    assert_eq!(playlist.tracks, path.songs);
    assert_eq!(playlist.name, "Rock song 0 to Ambient song 9");
    press(&mut app, KeyCode::KeyQ);
    let queue = listen_of(&mut app).queue.clone().expect("queued");
    assert_eq!((queue.name.as_str(), queue.current(), queue.len()), ("path", 1, path.songs.len()));
    press(&mut app, KeyCode::BracketRight);
    assert_eq!(listen_of(&mut app).queue.as_ref().expect("queued").current(), path.songs[1]);

    // Everything is in the listening file beside the library, and there when it opens again.
    let file = songspace::library::listening_path(&library_path);
    assert!(
        update_until(&mut app, 10, |_| songspace::library::load_listening(&file)
            .is_ok_and(|l| l.playlists.len() == 1 && l.likes.len() == 3)),
        "saved: {:?}",
        std::fs::read_to_string(&file)
    );
    drop(app);
    let mut again = headless(open(&library_path));
    assert!(update_until(&mut again, 10, |app| listen_of(app).is_loaded()));
    assert_eq!(listen_of(&mut again).listening.likes, vec![104, 105, 301]);
    assert_eq!(listen_of(&mut again).listening.playlists[0].tracks, path.songs);
}

#[test]
fn plays_are_remembered_with_their_length_and_the_queue_or_radio_plays_on() {
    use songspace::app::playback::{NowPlaying, Playback, PlaybackRequest};
    let home = tempfile::tempdir().expect("tempdir");
    let e = explorer();
    let mut app = headless(Explorer::new(e.library().clone(), home.path().join("library.ron"), Map::clone(e.map())));
    app.insert_resource(Playback::default());
    assert!(update_until(&mut app, 10, |app| listen_of(app).is_loaded()));
    let row = |app: &mut App, id: u64| explorer_of(app).row_of(id).expect("row");
    let start = |app: &mut App, id: u64| {
        let r = row(app, id);
        app.world_mut().resource_mut::<Playback>().now = Some(NowPlaying::started(r, PathBuf::from("x.mp3"), 30.0));
        app.update();
    };
    let finish = |app: &mut App| {
        app.world_mut().resource_mut::<Playback>().now.as_mut().expect("playing").finished = true;
        app.update();
        std::mem::take(&mut app.world_mut().resource_mut::<Playback>().requests)
    };

    // A song heard for a while: one play, with when and how long.
    start(&mut app, 201);
    std::thread::sleep(std::time::Duration::from_millis(150));
    app.update();
    let play = *listen_of(&mut app).listening.history.last().expect("a play");
    assert_eq!(play.track, 201);
    assert!(play.seconds > 0.1 && play.seconds < 5.0, "{play:?}");
    assert!(play.started_unix.abs_diff(songspace::library::unix_now()) < 60);
    // It ends with nothing queued and radio off: nothing follows.
    assert!(finish(&mut app).is_empty());

    // Radio on (O): the nearest song not played yet follows, then the next nearest unplayed.
    press(&mut app, KeyCode::KeyO);
    start(&mut app, 202);
    let requested = finish(&mut app);
    let [PlaybackRequest::Play { row: next, .. }] = requested[..] else { panic!("{requested:?}") };
    let next_id = explorer_of(&mut app).track_at(next).expect("track").id;
    assert!((201..=215).contains(&next_id) && ![201, 202].contains(&next_id), "a Folk song not played: {next_id}");
    assert_eq!(listen_of(&mut app).listening.history.len(), 2);

    // A queue plays on in its order, and says when it ends.
    let (a, b) = (row(&mut app, 301), row(&mut app, 302));
    let ids = [301u64, 302];
    {
        let world = app.world_mut();
        world.resource_scope(|world, mut listen: Mut<songspace::app::listening::Listen>| {
            let explorer = &world.resource::<ExplorerState>().0;
            let mut playback = Playback::default();
            listen.play_queue("two", &ids, 0, Some(&mut playback), explorer);
            assert_eq!(playback.requests, [PlaybackRequest::Play { row: a, from_seconds: 0.0 }]);
        });
    }
    start(&mut app, 301);
    let requested = finish(&mut app);
    assert_eq!(requested, [PlaybackRequest::Play { row: b, from_seconds: 0.0 }], "the queue, not the radio");
    start(&mut app, 302);
    let requested = finish(&mut app);
    assert!(
        matches!(requested[..], [PlaybackRequest::Play { .. }]),
        "after the queue's end the radio plays on: {requested:?}"
    );
    let plays: Vec<u64> = listen_of(&mut app).listening.history.iter().map(|p| p.track).collect();
    assert_eq!(plays, [201, 202, 301, 302]);
}

#[test]
fn in_the_real_window_likes_give_for_you_a_path_becomes_an_exported_playlist_and_hovering_auditions() {
    let Some(_) = xvfb() else { return };
    if !crate::jobs::dialog_tools_installed() {
        return;
    }
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let library = mapped_library(home);
    // Yesterday evening's listening: one song played 30 hours ago.
    let first = songspace::library::load_library(&library).expect("library").tracks[0].id;
    let mut earlier = songspace::library::Listening::default();
    earlier.record_play(songspace::library::Play {
        track: first,
        started_unix: songspace::library::unix_now() - 30 * 3600,
        seconds: 42.0,
    });
    let listening_file = songspace::library::listening_path(&library);
    songspace::library::save_listening(&listening_file, &earlier).expect("history");
    std::fs::write(home.join(".asoundrc"), "pcm.!default { type null }\nctl.!default { type hw card 0 }\n")
        .expect("asoundrc");
    let exported = home.join("exported/path.m3u8");
    std::fs::create_dir_all(exported.parent().expect("folder")).expect("mkdir");
    let shot = home.join("window-listen.png");
    // As a person would: click three songs and press L on each; click one and press B, another
    // and E; Ctrl+S keeps the path as a playlist, Ctrl+E exports it through the file dialog;
    // then rest the pointer on a song with Alt held.
    let steps = format!(
        r#"
        out="$3"; export_to='{}'
        timeout 170 "$0" "$1" --size 1200x760 --hold 45 --screenshot "$2" > "$out" 2>&1 &
        app=$!
        for i in $(seq 300); do grep -q "holding for input" "$out" && break; sleep 0.1; done
        grep -q "holding for input" "$out" || {{ kill $app; echo "the window never waited for input"; exit 1; }}
        # The songs farthest from any other, most isolated first: a click lands on the one meant.
        set -- $(awk '$1 == "song" {{ x[$2] = $4; y[$2] = $5 }}
            END {{ for (a in x) {{ nearest = 1e9; for (b in x) if (a != b) {{ d = (x[a]-x[b])^2 + (y[a]-y[b])^2; if (d < nearest) nearest = d }}
                  print nearest, a, x[a], y[a] }} }}' "$out" | sort -rn | head -6 | awk '{{ print $2, $3, $4 }}')
        echo "songs $*"
        # Keys go to the window with the input focus; Xvfb has no window manager to give it.
        window=$(xdotool search --onlyvisible --name songspace | head -1)
        [ -n "$window" ] || {{ kill $app; echo "no songspace window"; exit 1; }}
        xdotool windowfocus --sync "$window"
        click() {{ xdotool mousemove "$1" "$2" sleep 0.4 click 1 sleep 0.6; }}
        click $2 $3; xdotool key l sleep 0.3
        click $5 $6; xdotool key l sleep 0.3
        click $8 $9; xdotool key l sleep 0.3
        click ${{11}} ${{12}}; xdotool key b sleep 0.3
        click ${{14}} ${{15}}; xdotool key e sleep 2
        xdotool keydown ctrl sleep 0.2 key s sleep 0.2 keyup ctrl sleep 0.5
        xdotool keydown ctrl sleep 0.2 key e sleep 0.2 keyup ctrl
        dialog=$(timeout 60 xdotool search --sync --onlyvisible --class zenity | head -1)
        [ -n "$dialog" ] || {{ kill $app; echo "no dialog appeared"; exit 1; }}
        printf '%s' "$export_to" | xclip -selection clipboard
        for attempt in 1 2 3; do
            xdotool windowfocus --sync "$dialog" 2>/dev/null || true
            xdotool key ctrl+a sleep 0.2 key ctrl+v sleep 0.8 key Return
            sleep 2
            xdotool search --onlyvisible --class zenity > /dev/null || {{ echo "answered on attempt $attempt"; break; }}
        done
        xdotool windowfocus --sync "$window"
        xdotool mousemove ${{17}} ${{18}} sleep 0.2 keydown alt sleep 1.5 keyup alt
        wait $app
    "#,
        exported.display()
    );
    let (stdout, printed) = crate::jobs::in_a_window(home, &library, &shot, &steps);
    let report = printed.lines().find(|l| l.starts_with("listen:")).unwrap_or_else(|| panic!("{printed}"));
    let songs: Vec<u64> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("songs "))
        .map(|l| l.split_whitespace().step_by(3).map(|id| id.parse().expect("id")).collect())
        .expect("songs picked");
    assert!(report.starts_with("listen: likes 3;"), "{report}");
    let listening = songspace::library::load_listening(&listening_file).expect("saved");
    assert_eq!(listening.likes, songs[..3], "the three clicked songs are liked, in order");
    // For you: songs near the likes, never one of them.
    let for_you = report.split("for you [").nth(1).and_then(|r| r.split(']').next()).expect("for you");
    let for_you: Vec<u64> = for_you.split(',').filter(|s| !s.is_empty()).map(|s| s.parse().expect("id")).collect();
    assert!(!for_you.is_empty() && for_you.iter().all(|id| !songs[..3].contains(id)), "{report}");
    // The path from the 4th song to the 5th, kept as a playlist and exported as an M3U8.
    let playlist = listening.playlists.first().unwrap_or_else(|| panic!("{report}"));
    assert_eq!((playlist.tracks[0], *playlist.tracks.last().expect("last")), (songs[3], songs[4]), "{report}");
    let text = std::fs::read_to_string(&exported).unwrap_or_else(|e| panic!("{e}\n{stdout}\n{printed}"));
    assert!(text.starts_with("#EXTM3U\n#EXTINF:"), "{text}");
    let lib = songspace::library::load_library(&library).expect("library");
    assert_eq!(songspace::library::read_playlist(&exported, &lib).expect("read back").tracks, playlist.tracks);
    // Yesterday's play is kept, and today's clicks were played and remembered after it.
    assert_eq!(listening.history[0].track, first);
    assert!(listening.history.len() >= 6, "{:?}", listening.history);
    assert!(report.contains("auditions 1"), "hovering with Alt auditions the song: {report}");
    // On the map: For you ringed in pink, the path drawn in cyan.
    let png = Png::read(&shot);
    let pink = png.near([0xFF, 0x5F, 0xA2], 12, SCENE.0, SCENE.1).len();
    let cyan = png.near([0x00, 0xE5, 0xFF], 12, SCENE.0, SCENE.1).len();
    assert!(pink > 30 && cyan > 30, "For you ringed ({pink} pink pixels), the path drawn ({cyan} cyan pixels)");
}

#[test]
fn resting_the_pointer_with_alt_held_auditions_a_song_once_and_moving_off_fades_it() {
    use songspace::app::playback::{Playback, PlaybackRequest};
    let mut app = headless(explorer());
    app.insert_resource(Playback::default());
    let row = explorer_of(&mut app).row_of(104).expect("row");
    let requests = |app: &mut App| std::mem::take(&mut app.world_mut().resource_mut::<Playback>().requests);
    let hover = |app: &mut App, row: Option<usize>| app.world_mut().resource_mut::<ViewState>().hovered = row;

    // Without Alt, resting on a song does nothing.
    hover(&mut app, Some(row));
    update_until(&mut app, 1, |_| false);
    assert!(requests(&mut app).is_empty());
    // With Alt held: after 0.3 s, one audition, and the selection is untouched.
    send_key(&mut app, KeyCode::AltLeft, Key::Alt, ButtonState::Pressed);
    app.update();
    let started = std::time::Instant::now();
    assert!(update_until(&mut app, 3, |app| !app.world().resource::<Playback>().requests.is_empty()));
    assert!(started.elapsed().as_secs_f32() >= 0.25, "{:?}", started.elapsed());
    assert_eq!(requests(&mut app), [PlaybackRequest::Audition { row }]);
    assert_eq!(explorer_of(&mut app).selected(), None);
    // The audition ends (the player says so); resting on longer does not start it again.
    app.world_mut().resource_mut::<Playback>().auditioning = None;
    update_until(&mut app, 1, |_| false);
    assert!(requests(&mut app).is_empty(), "heard once");
    // Another song: auditioned in turn; the pointer off every song: faded out.
    let other = explorer_of(&mut app).row_of(301).expect("row");
    hover(&mut app, Some(other));
    assert!(update_until(&mut app, 3, |app| !app.world().resource::<Playback>().requests.is_empty()));
    assert_eq!(requests(&mut app), [PlaybackRequest::Audition { row: other }]);
    hover(&mut app, None);
    app.update();
    assert_eq!(requests(&mut app), [PlaybackRequest::EndAudition]);
}

#[test]
fn an_unreadable_listening_file_is_named_once_and_never_written_over() {
    let home = tempfile::tempdir().expect("tempdir");
    let library_path = home.path().join("library.ron");
    let file = songspace::library::listening_path(&library_path);
    std::fs::write(&file, "not a listening file").expect("write");
    let e = explorer();
    let mut app = headless(Explorer::new(e.library().clone(), library_path, Map::clone(e.map())));
    assert!(update_until(&mut app, 10, |app| !app.world().resource::<ViewState>().notices.is_empty()));
    for _ in 0..20 {
        app.update();
    }
    let notices = app.world().resource::<ViewState>().notices.clone();
    assert_eq!(notices.len(), 1, "said once: {notices:?}");
    assert!(notices[0].contains("library.listening.ron") && notices[0].contains("off for this library"), "{notices:?}");
    select_id(&mut app, 104);
    press(&mut app, KeyCode::KeyL);
    for _ in 0..20 {
        app.update();
    }
    assert!(!listen_of(&mut app).is_loaded() && listen_of(&mut app).listening.likes.is_empty());
    let last = app.world().resource::<ViewState>().notices.last().cloned().unwrap_or_default();
    assert!(last.starts_with("Likes are off for this library"), "{last}");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "not a listening file", "left for the user to mend");
}

#[test]
fn a_resting_window_still_answers_a_click_and_a_key_at_once() {
    let Some(_) = xvfb() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let library = mapped_library(home);
    // Where the songs are: a scripted run prints it (scripted runs draw every frame; the plain
    // window below waits for input), with the same size and camera.
    let steps = r#"
        out="$3"
        timeout 120 "$0" "$1" --size 1200x760 --hold 0.5 --screenshot "$2" > "$3" 2>&1
        set -- "$0" "$1" $(awk '$1 == "song" { x[$2] = $4; y[$2] = $5 }
            END { for (a in x) { nearest = 1e9; for (b in x) if (a != b) { d = (x[a]-x[b])^2 + (y[a]-y[b])^2; if (d < nearest) nearest = d }
                  print nearest, a, x[a], y[a] } }' "$3" | sort -rn | head -1 | awk '{ print $2, $3, $4 }')
        echo "song $3 at $4 $5"
        "$1" "$2" --size 1200x760 > "$out.plain" 2>&1 &
        app=$!
        window=""
        for i in $(seq 100); do window=$(xdotool search --onlyvisible --name songspace | head -1); [ -n "$window" ] && break; sleep 0.2; done
        # Let it open, draw and come to rest: from here it only draws when something happens.
        sleep 6
        xdotool windowfocus --sync "$window" mousemove "$4" "$5" sleep 0.3 click 1 sleep 0.5 key l sleep 1.5
        # A window that ended by itself is a failure: say what it printed.
        kill $app || { echo "the window had ended (window id: '$window'):"; cat "$out.plain"; exit 1; }
    "#;
    let shot = home.join("resting.png");
    let (stdout, _) = crate::jobs::in_a_window(home, &library, &shot, steps);
    let clicked: u64 = crate::util::number_after(&stdout, "song ").unwrap_or_else(|| panic!("{stdout}"));
    let listening = songspace::library::load_listening(&songspace::library::listening_path(&library)).expect("saved");
    assert_eq!(listening.likes, [clicked], "the click selected the song and L liked it: {stdout}");
}

/// The demo coloured by cluster (computed on the worker before the first frame is kept, the
/// names floating in the view), by a descriptor on the continuous scale, whose two ends both
/// appear and no genre colour does, by artist and by album.
#[test]
fn the_songs_are_coloured_by_cluster_or_a_descriptor_on_its_scale() {
    let Some(_) = xvfb() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/library.ron");
    let palette_colours_seen = |png: &Png, count: usize| {
        (0..count)
            .filter(|&rank| {
                let c = songspace::explore::genre_colour(rank).map(|v| (v * 255.0).round() as u8);
                png.near(c, 24, SCENE.0, SCENE.1).len() > 30
            })
            .count()
    };
    // The demo has 7 styles of 32 songs; its clusters are those styles.
    let shot = home.path().join("cluster.png");
    window_run(home.path(), &demo, &shot, &["--colour", "cluster"]);
    let png = Png::read(&shot);
    assert!(palette_colours_seen(&png, 7) >= 6, "each cluster in its colour");
    // With nothing selected, the only white in the view is the clusters' names floating there.
    let white_text = png.near([255, 255, 255], 30, SCENE.0, SCENE.1).len();
    assert!(white_text > 300, "the clusters' names are drawn in the view: {white_text} white pixels");

    let shot = home.path().join("brightness.png");
    window_run(home.path(), &demo, &shot, &["--colour", "brightness"]);
    let png = Png::read(&shot);
    let low = songspace::explore::value_colour(0.0).map(|v| (v * 255.0).round() as u8);
    let high = songspace::explore::value_colour(1.0).map(|v| (v * 255.0).round() as u8);
    assert!(png.near_shade(low, 12.0, SCENE.0, SCENE.1) > 30, "the darkest songs at the scale's low end");
    assert!(png.near_shade(high, 12.0, SCENE.0, SCENE.1) > 30, "the brightest at its high end");
    let orange = songspace::explore::genre_colour(0).map(|v| (v * 255.0).round() as u8);
    assert!(png.near_shade(orange, 12.0, SCENE.0, SCENE.1) < 10, "no genre colour on the scale");
    // The scale is drawn in the left panel: its low and high ends side by side.
    assert!(png.near(low, 8, 0, SCENE.0).len() > 20 && png.near(high, 8, 0, SCENE.0).len() > 20, "the colour bar");

    // The other descriptors: each spreads the songs over its whole scale.
    for mode in ["loudness", "onset-rate", "dynamics", "tempo"] {
        let shot = home.path().join(format!("{mode}.png"));
        window_run(home.path(), &demo, &shot, &["--colour", mode]);
        let png = Png::read(&shot);
        assert!(png.near_shade(low, 12.0, SCENE.0, SCENE.1) > 30, "{mode}: songs at the scale's low end");
        assert!(png.near_shade(high, 12.0, SCENE.0, SCENE.1) > 30, "{mode}: songs at its high end");
        assert!(png.near_shade(orange, 12.0, SCENE.0, SCENE.1) < 10, "{mode}: no category colour");
    }

    // By artist: the demo has 9 composers or traditions for its 7 styles, so the ninth colour of
    // the palette (pink), which no style gets, is on the map.
    let shot = home.path().join("artist.png");
    window_run(home.path(), &demo, &shot, &["--colour", "artist"]);
    let pink = songspace::explore::genre_colour(8).map(|v| (v * 255.0).round() as u8);
    assert!(Png::read(&shot).same_hue(pink, SCENE.0, SCENE.1) > 100, "a ninth artist in the ninth colour");
    // By album: the demo's 7 albums in the first 7 colours, and their long names (up to 73
    // characters) cut in the legend rather than widening the panel over the map, where only
    // the menu and status bars are panel grey.
    let shot = home.path().join("album.png");
    window_run(home.path(), &demo, &shot, &["--colour", "album"]);
    let png = Png::read(&shot);
    // (By hue: which album is far and dimmed depends on the palette's order.)
    let album_hues = png.palette_hues_in_scene(7);
    assert!(album_hues >= 6, "each album in its colour: {album_hues} of 7 seen");
    assert_eq!(png.same_hue(pink, SCENE.0, SCENE.1), 0, "7 albums use 7 colours");
    let panel_grey = png.near([27, 27, 27], 3, SCENE.0, SCENE.0 + 100).len();
    assert!(panel_grey < 10_000, "the left panel reaches over the map: {panel_grey} panel-grey pixels");
    // Coloured by genre, nothing has that colour.
    let shot = home.path().join("genre.png");
    window_run(home.path(), &demo, &shot, &[]);
    assert_eq!(Png::read(&shot).same_hue(pink, SCENE.0, SCENE.1), 0, "7 styles use 7 colours");
}

/// As a person would: the demo coloured by cluster, the pointer on a cluster's name floating in
/// the view, a click. Only that cluster's songs stay, and its box opens in the left panel.
#[test]
fn clicking_a_cluster_name_in_the_real_window_shows_only_its_songs() {
    let Some(_) = xvfb() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/library.ron");
    let steps = r#"
        timeout 120 "$0" "$1" --size 1200x760 --colour cluster --hold 5 --screenshot "$2" > "$3" 2>&1 &
        app=$!
        for i in $(seq 600); do grep -q "holding for input" "$3" && break; sleep 0.1; done
        name=$(awk '$1 == "cluster" && $3 == "name" { print $2, $5, $6; exit }' "$3")
        [ -n "$name" ] || { kill $app; echo "no cluster name on screen"; exit 1; }
        set -- $name
        echo "cluster $1 at $2 $3"
        sleep 0.5
        xdotool mousemove "$2" "$3" sleep 0.4 click 1 sleep 0.6 mousemove 5 5
        wait $app
    "#;
    let shot = home.join("cluster-clicked.png");
    let (stdout, printed) = crate::jobs::in_a_window(home, &demo, &shot, steps);
    let clicked: usize =
        crate::util::number_after(&stdout, "cluster ").unwrap_or_else(|| panic!("{stdout}\n{printed}"));
    // The demo's clusters are its 7 styles of 32 songs.
    assert!(
        printed.contains(&format!("shown 32 of 224 songs; chosen cluster {clicked}")),
        "the click chose cluster {clicked}: {printed}"
    );
    // One cluster's colour left in the view.
    let hues = Png::read(&shot).palette_hues_in_scene(7);
    assert_eq!(hues, 1, "only the chosen cluster's songs are drawn");
}

/// Far songs are dimmed by default (the shader's depth cue runs from the near to the far side
/// of the cloud as the camera sees it), and not at all when the view is made flat; zooming in
/// moves the cue with the camera. Slow turning when left alone is off unless asked for.
#[test]
fn depth_cues_follow_the_camera_and_can_be_turned_off() {
    let mut app = headless(explorer());
    app.update();
    let style = cloud(&mut app).style;
    assert!(style.depth_dimming > 0.3 && style.depth_dimming < 1.0, "{style:?}");
    let orbit = camera(&mut app);
    assert!(style.depth_near < orbit.current.distance && orbit.current.distance < style.depth_far, "{style:?}");
    // Zoom in: the cue's near side comes closer with the camera.
    app.world_mut().query::<&mut OrbitCamera>().single_mut(app.world_mut()).expect("camera").goal.distance *= 0.5;
    for _ in 0..120 {
        app.update();
    }
    let closer = cloud(&mut app).style;
    assert!(closer.depth_near < style.depth_near, "{closer:?} after zooming in from {style:?}");
    let mut view = app.world_mut().resource_mut::<songspace::app::state::ViewState>();
    assert!(!view.idle_orbit && !view.show_grid && !view.hide_gizmo, "defaults");
    view.flat_points = true;
    app.update();
    assert_eq!(cloud(&mut app).style.depth_dimming, 0.0);
}

/// The orientation gizmo in the lower left corner of the view: its three axes' colours are there.
#[test]
fn the_axes_turn_in_the_corner_of_the_real_window() {
    let Some(_) = xvfb() else { return };
    let home = tempfile::tempdir().expect("tempdir");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/library.ron");
    let shot = home.path().join("gizmo.png");
    window_run(home.path(), &demo, &shot, &[]);
    let png = Png::read(&shot);
    // The corner box of the 3D view (it starts right of the 270-pixel left panel at this size).
    let corner = |colour: [u8; 3]| {
        png.near(colour, 20, 270, 370).into_iter().filter(|&(_, y)| y + 110 > png.height && y + 20 < png.height).count()
    };
    for (axis, colour) in [("x", [0xFF, 0x45, 0x45]), ("y", [0x7C, 0xFC, 0x00]), ("z", [0x3A, 0x6E, 0xFF])] {
        assert!(corner(colour) > 15, "the {axis} axis is drawn: {} pixels", corner(colour));
    }
}

/// Coloured by cluster, the window clusters the map on a worker and hands the clusters over;
/// choosing a cluster (a click on its name, or the panel's list) shows only its songs, which
/// can be exported with their ids, and choosing it again shows all.
#[test]
fn clusters_arrive_from_the_worker_and_choosing_one_shows_only_its_songs() {
    let mut app = headless(explorer());
    explorer_of(&mut app).set_colour_by(songspace::library::ColourBy::Cluster);
    let arrived = update_until(&mut app, 30, |app| !explorer_of(app).needs_clusters());
    assert!(arrived, "the clustering worker delivers");
    let clusters = explorer_of(&mut app).clusters().expect("clusters").clusters.len();
    assert!(clusters >= 2, "{clusters} clusters");
    let sizes: usize = explorer_of(&mut app).clusters().expect("clusters").clusters.iter().map(|c| c.size).sum();
    assert_eq!(sizes, 60);
    let first_size = explorer_of(&mut app).clusters().expect("clusters").clusters[0].size;
    let world = app.world_mut();
    let mut view = world.remove_resource::<ViewState>().expect("view");
    let mut state = world.remove_resource::<ExplorerState>().expect("explorer");
    songspace::app::input::choose_cluster(&mut state.0, &mut view, 0);
    assert_eq!(view.chosen_cluster, Some(0));
    assert_eq!(state.0.visible_count(), first_size, "only its songs");

    // Exported (the box's Export… button, then the file dialog's answer): its songs' ids,
    // nearest its centre first, as CSV; a name without an extension gets .csv.
    let home = tempfile::tempdir().expect("tempdir");
    let writer = songspace::app::saving::LibraryWriter::default();
    songspace::app::clusters::export_chosen_cluster(home.path().join("family"), &state.0, &mut view, &writer);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while writer.busy() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(writer.failures().is_empty());
    let text = std::fs::read_to_string(home.path().join("family.csv")).expect("the cluster's CSV");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,title,artist,album,genre,seconds,path"));
    let ids: Vec<u64> = lines.map(|l| l.split(',').next().expect("id").parse().expect("an id")).collect();
    let members = state.0.clusters().expect("clusters").clusters[0].tracks.clone();
    assert_eq!(ids, members, "every member, in the cluster's order");
    assert_eq!(ids.len(), first_size);

    songspace::app::input::choose_cluster(&mut state.0, &mut view, 0);
    assert_eq!((view.chosen_cluster, state.0.visible_count()), (None, 60), "again: every song");
    // With no cluster chosen there is nothing to export, and the window says so.
    songspace::app::clusters::export_chosen_cluster(home.path().join("none.csv"), &state.0, &mut view, &writer);
    assert_eq!(view.notices.last().map(String::as_str), Some("Choose a cluster to export its songs"));
    assert!(!home.path().join("none.csv").exists());
}

/// `--bench-frames --offscreen`, for a machine with a GPU and no display (none here at all): the
/// view drawn into an image, a row of times for each size, the adapter named, and the last frame
/// measured, saved, shows the synthetic songs in their genres' colours.
#[test]
fn the_frame_bench_draws_without_a_display() {
    let home = tempfile::tempdir().expect("tempdir");
    let shots = home.path().join("shots");
    // An earlier run's frame in the folder is replaced, not kept.
    std::fs::create_dir_all(&shots).expect("shots");
    std::fs::write(shots.join("frames-3000.png"), "an earlier run's").expect("stale frame");
    let out = Command::new(env!("CARGO_BIN_EXE_songspace"))
        .args(["--bench-frames", "--offscreen", "--bench-points", "3000", "--bench-count", "20", "--bench-shots"])
        .arg(&shots)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("HOME", home.path())
        .output()
        .expect("songspace");
    let printed = stdout(&out);
    assert!(out.status.success(), "{printed}\n{}", stderr(&out));
    let row = printed.lines().find(|l| l.starts_with("| 3000 |")).unwrap_or_else(|| panic!("no row: {printed}"));
    let numbers: Vec<f64> = row.split(['|', '/', ',']).filter_map(|v| v.trim().parse().ok()).collect();
    // Songs; idle mean and p95; orbiting mean and p95; the explorer's CPU; picking, scan, ratio.
    assert_eq!(numbers.len(), 9, "{row}");
    assert!(numbers[1..5].iter().all(|&ms| ms > 0.0 && ms < 60_000.0), "frame times in ms: {row}");
    assert!(printed.contains("drawn by 3000 songs: "), "the adapter is named: {printed}");
    let png = Png::read(&shots.join("frames-3000.png"));
    assert_eq!((png.width, png.height), (1200, 760), "the whole image is the view");
    let colours_seen = (0..8)
        .filter(|&rank| {
            let c = songspace::explore::genre_colour(rank).map(|v| (v * 255.0).round() as u8);
            png.same_hue(c, 0, png.width) > 20
        })
        .count();
    assert!(colours_seen >= 6, "the songs drawn in their genres' colours: {colours_seen} of 8");
}
