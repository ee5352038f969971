//! The menu bar, the native file dialogs it opens (rfd, on a thread of their own so the window
//! keeps drawing while one is open), and the map and view settings window.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, channel};

use bevy::prelude::*;
use bevy_egui::EguiContexts;
use bevy_egui::egui;

use super::jobs::{Jobs, StartJob};
use super::saving::LibraryWriter;
use super::state::{ExplorerState, ViewState};
use super::training::TrainingPanel;
use crate::explore::{ColourScheme, Explorer, FilterSpace, ViewSettings};
use crate::library::{load_library, save_library};
use crate::space::{MapSettings, Metric, ProjectionMethod};
use crate::workflow::JobKind;

/// The file dialogs the window opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DialogKind {
    OpenLibrary,
    ImportFolder,
    OpenEmbeddings,
    OpenModel,
    SaveLibraryAs,
    /// Write the open playlist as M3U8 or CSV.
    ExportPlaylist,
    /// Read an M3U/M3U8 or CSV file into a new playlist.
    ImportPlaylist,
    /// Write the chosen cluster's songs as CSV (with their ids) or M3U8.
    ExportCluster,
}

impl DialogKind {
    pub fn title(self) -> &'static str {
        match self {
            Self::OpenLibrary => "Open library",
            Self::ImportFolder => "Import music folder",
            Self::OpenEmbeddings => "Open embeddings file",
            Self::OpenModel => "Open model (a folder with model.json)",
            Self::SaveLibraryAs => "Save library as",
            Self::ExportPlaylist => "Export playlist",
            Self::ImportPlaylist => "Import playlist",
            Self::ExportCluster => "Export the cluster's songs",
        }
    }

    /// Shows the dialog and waits for the answer (`None`: the user cancelled it).
    fn ask(self, start_in: Option<PathBuf>) -> Option<PathBuf> {
        let mut dialog = rfd::FileDialog::new().set_title(self.title());
        if let Some(dir) = start_in {
            if !matches!(self, Self::SaveLibraryAs | Self::ExportPlaylist | Self::ExportCluster) {
                // rfd's zenity fallback passes on only a file name (GTK then opens on "Recent",
                // where a typed folder cannot be chosen); a name ending in "/" opens the folder.
                // The portal reads no name when opening.
                dialog = dialog.set_file_name(format!("{}/", dir.display()));
            }
            dialog = dialog.set_directory(dir);
        }
        match self {
            Self::OpenLibrary => dialog.add_filter("songspace library", &["ron"]).pick_file(),
            Self::ImportFolder => dialog.pick_folder(),
            Self::OpenEmbeddings => {
                dialog.add_filter("Embeddings (CSV, projector TSV, RON)", &["csv", "tsv", "ron"]).pick_file()
            }
            Self::OpenModel => dialog.pick_folder(),
            Self::SaveLibraryAs => {
                dialog.add_filter("songspace library", &["ron"]).set_file_name("library copy.ron").save_file()
            }
            Self::ExportPlaylist => dialog
                .add_filter("M3U8 playlist", &["m3u8"])
                .add_filter("CSV", &["csv"])
                .set_file_name("playlist.m3u8")
                .save_file(),
            Self::ImportPlaylist => dialog.add_filter("Playlist (M3U, M3U8, CSV)", &["m3u8", "m3u", "csv"]).pick_file(),
            Self::ExportCluster => dialog
                .add_filter("CSV (track ids, titles, paths)", &["csv"])
                .add_filter("M3U8 playlist", &["m3u8"])
                .set_file_name("cluster.csv")
                .save_file(),
        }
    }

    /// The job the chosen path asks for; `None` for the playlist and cluster dialogs, which are
    /// answered where their songs are known.
    pub fn job(self, picked: PathBuf, library: &Path) -> Option<JobKind> {
        let library = library.to_path_buf();
        Some(match self {
            Self::ExportPlaylist | Self::ImportPlaylist | Self::ExportCluster => return None,
            Self::OpenLibrary => JobKind::Open { library: picked },
            Self::ImportFolder => JobKind::ImportFolder { folder: picked, library: None },
            Self::OpenEmbeddings => JobKind::AdoptEmbeddings { library, file: picked },
            Self::OpenModel => {
                // Picking the model's model.json instead of its folder means the same.
                let model =
                    if picked.is_file() { picked.parent().map(Path::to_path_buf).unwrap_or(picked) } else { picked };
                JobKind::EmbedWithModel { library, model }
            }
            Self::SaveLibraryAs => {
                let to =
                    if picked.extension().is_some_and(|e| e == "ron") { picked } else { picked.with_extension("ron") };
                JobKind::SaveAs { library, to }
            }
        })
    }
}

/// Asks for a dialog (from the menu or a script).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenDialog(pub DialogKind);

/// The dialog open now, if any: one at a time.
#[derive(Resource, Default)]
pub struct Dialogs {
    open: Option<(DialogKind, Mutex<Receiver<Option<PathBuf>>>)>,
}

impl Dialogs {
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }
}

/// Opens requested dialogs on their own thread and turns answers into jobs.
pub fn run_dialogs(
    mut requests: MessageReader<OpenDialog>,
    mut dialogs: ResMut<Dialogs>,
    state: Res<ExplorerState>,
    mut view: ResMut<ViewState>,
    mut start: MessageWriter<StartJob>,
    mut listen: ResMut<super::listening::Listen>,
    writer: Res<super::saving::LibraryWriter>,
) {
    for OpenDialog(kind) in requests.read().copied() {
        if dialogs.open.is_some() {
            view.notify("A file dialog is already open");
            continue;
        }
        let start_in = state.0.library().root.parent().map(Path::to_path_buf);
        let (answer, answers) = channel();
        let spawned = std::thread::Builder::new().name("songspace dialog".into()).spawn(move || {
            let _ = answer.send(kind.ask(start_in));
        });
        match spawned {
            Ok(_) => dialogs.open = Some((kind, Mutex::new(answers))),
            Err(e) => view.notify(format!("{}: cannot open the dialog: {e}", kind.title())),
        }
    }
    let Some((kind, answers)) = &dialogs.open else { return };
    let answer = answers.lock().ok().and_then(|a| a.try_recv().ok());
    let kind = *kind;
    match answer {
        Some(Some(picked)) => {
            dialogs.open = None;
            match kind {
                DialogKind::ExportPlaylist => {
                    // A name typed without an extension is an M3U8.
                    let to = crate::library::playlist_file_name(picked, "m3u8");
                    listen.export_playlist(to, &state.0, &writer, &mut view);
                }
                DialogKind::ImportPlaylist => listen.import_playlist(picked, &writer),
                DialogKind::ExportCluster => {
                    super::clusters::export_chosen_cluster(picked, &state.0, &mut view, &writer);
                }
                _ => {
                    if let Some(job) = kind.job(picked, state.0.library_path()) {
                        start.write(StartJob(job));
                    }
                }
            }
        }
        Some(None) => dialogs.open = None,
        None => {
            // Still open, or the dialog thread ended without answering (no dialog could be shown).
            let gone =
                answers.lock().is_ok_and(|a| matches!(a.try_recv(), Err(std::sync::mpsc::TryRecvError::Disconnected)));
            if gone {
                dialogs.open = None;
                view.notify(format!("{}: no file dialog could be shown", kind.title()));
            }
        }
    }
}

/// Which of the map and view settings window is open, and its edits before "Lay out again".
#[derive(Resource, Default)]
pub struct MapSettingsWindow {
    pub open: bool,
    /// The map settings being edited (taken from the library when the window opens).
    editing: Option<MapSettings>,
}

/// Keeps the library file's view settings in step with the window's.
#[derive(Resource, Default)]
pub struct ViewSaver {
    /// The library and view settings seen last frame.
    last: Option<(PathBuf, ViewSettings)>,
    /// Changed since the last save was queued.
    unsaved: bool,
}

/// Saves the view settings with the library whenever the user changes them (in the settings
/// window or the selection panel), through the library writer. Changes made while a job runs are
/// saved when it ends, into the library it leaves (a job writes the library file too).
pub fn save_view_changes(
    mut saver: ResMut<ViewSaver>,
    state: Res<ExplorerState>,
    jobs: Res<Jobs>,
    writer: Res<LibraryWriter>,
) {
    let now = (state.0.library_path().to_path_buf(), state.0.view_settings());
    if let Some((path, settings)) = &saver.last
        && *path == now.0
        && *settings != now.1
    {
        saver.unsaved = true;
    }
    saver.last = Some(now);
    // Sliders change every frame while dragged: one save at a time is enough.
    if saver.unsaved && jobs.running.is_none() && !writer.busy() {
        saver.unsaved = false;
        writer.write(view_settings_write(&state.0));
    }
}

pub fn menu_bar(
    mut contexts: EguiContexts,
    mut dialogs: MessageWriter<OpenDialog>,
    open_dialog: Res<Dialogs>,
    jobs: Res<Jobs>,
    mut training: ResMut<TrainingPanel>,
    mut settings: ResMut<MapSettingsWindow>,
    mut view: ResMut<ViewState>,
) -> Result {
    let ctx = contexts.ctx_mut()?.clone();
    let mut root = egui::Ui::new(
        ctx.clone(),
        "songspace menu".into(),
        egui::UiBuilder::new().layer_id(egui::LayerId::background()).max_rect(ctx.viewport_rect()),
    );
    let bar = egui::Panel::top("menu").show(&mut root, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            let free = !open_dialog.is_open() && jobs.running.is_none();
            ui.menu_button("Library", |ui| {
                ui.add_enabled_ui(free, |ui| {
                    for (kind, label) in [
                        (DialogKind::OpenLibrary, "Open library…"),
                        (DialogKind::ImportFolder, "Import music folder…"),
                        (DialogKind::OpenEmbeddings, "Open embeddings file…"),
                        (DialogKind::OpenModel, "Open model…"),
                        (DialogKind::SaveLibraryAs, "Save library as…"),
                    ] {
                        if ui.button(label).clicked() {
                            dialogs.write(OpenDialog(kind));
                            ui.close();
                        }
                    }
                });
                if !free {
                    ui.weak("(one job or dialog at a time)");
                }
            });
            if ui.selectable_label(training.open, "Train").clicked() {
                training.open = !training.open;
            }
            if ui.selectable_label(settings.open, "Map & view").clicked() {
                settings.open = !settings.open;
                settings.editing = None;
            }
            let jobs_label = if jobs.running.is_some() { "Jobs (1 running)" } else { "Jobs" };
            if ui.selectable_label(view.show_jobs, jobs_label).clicked() {
                view.show_jobs = !view.show_jobs;
            }
            if ui.selectable_label(view.show_help, "Help").clicked() {
                view.show_help = !view.show_help;
            }
            if ui.selectable_label(view.show_about, "About").clicked() {
                view.show_about = !view.show_about;
            }
        });
    });
    view.menu_height = bar.response.rect.height();
    Ok(())
}

pub fn map_settings_window(
    mut contexts: EguiContexts,
    mut view: ResMut<ViewState>,
    mut window: ResMut<MapSettingsWindow>,
    mut state: ResMut<ExplorerState>,
    jobs: Res<Jobs>,
    mut start: MessageWriter<StartJob>,
) -> Result {
    if !window.open {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?.clone();
    let explorer = &mut state.0;
    let saved_map = explorer.library().map.clone();
    let mut editing = window.editing.clone().unwrap_or_else(|| saved_map.clone());
    let mut open = true;
    let before = explorer.view_settings();
    // Opens in the 3D view beside the side panels, not over the legend.
    let corner = view.scene_rect.map_or(egui::pos2(300.0, 60.0), |(min, _)| egui::pos2(min.x + 16.0, min.y + 16.0));
    egui::Window::new("Map & view").open(&mut open).default_width(330.0).default_pos(corner).show(&ctx, |ui| {
        ui.label(egui::RichText::new("Map (laid out again when changed)").strong());
        egui::Grid::new("map settings").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
            ui.label("Projection");
            ui.horizontal(|ui| {
                ui.radio_value(&mut editing.method, ProjectionMethod::Tsne, "t-SNE");
                ui.radio_value(&mut editing.method, ProjectionMethod::Pca, "PCA");
            });
            ui.end_row();
            let tsne = editing.method == ProjectionMethod::Tsne;
            ui.label("Perplexity");
            ui.add_enabled(tsne, egui::DragValue::new(&mut editing.tsne.perplexity).range(2.0..=100.0).speed(0.5))
                .on_hover_text("about how many neighbours each song keeps close; small: tight local groups");
            ui.end_row();
            ui.label("Iterations");
            let least = editing.tsne.exaggeration_iterations + 50;
            ui.add_enabled(tsne, egui::DragValue::new(&mut editing.tsne.iterations).range(least..=5000).speed(10.0));
            ui.end_row();
            ui.label("Seed");
            ui.add_enabled(tsne, egui::DragValue::new(&mut editing.tsne.seed));
            ui.end_row();
        });
        ui.horizontal(|ui| {
            let changed = editing != saved_map;
            let can = changed && jobs.running.is_none();
            if ui.add_enabled(can, egui::Button::new("Lay out again")).clicked() {
                let library = explorer.library_path().to_path_buf();
                start.write(StartJob(JobKind::Remap { library, settings: editing.clone() }));
            }
            if ui.add_enabled(changed, egui::Button::new("Revert")).clicked() {
                editing = saved_map.clone();
            }
            if jobs.running.is_some() {
                ui.weak("(after the running job)");
            }
        });
        ui.separator();
        ui.label(egui::RichText::new("View (applied at once)").strong());
        let mut wanted = before;
        egui::Grid::new("view settings").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
            ui.label("Nearest songs by");
            ui.horizontal(|ui| {
                ui.radio_value(&mut wanted.metric, Metric::Euclidean, "distance");
                ui.radio_value(&mut wanted.metric, Metric::Cosine, "angle (cosine)");
            });
            ui.end_row();
            ui.label("Distance filter in");
            ui.horizontal(|ui| {
                ui.radio_value(&mut wanted.filter_space, FilterSpace::Embedding, "embedding");
                ui.radio_value(&mut wanted.filter_space, FilterSpace::Map, "map");
            });
            ui.end_row();
            ui.label("Colours");
            egui::ComboBox::from_id_salt("colours").selected_text(wanted.colours.label()).show_ui(ui, |ui| {
                for scheme in ColourScheme::ALL {
                    ui.selectable_value(&mut wanted.colours, scheme, scheme.label());
                }
            });
            ui.end_row();
        });
        ui.checkbox(&mut view.flat_points, "flat: no depth cue")
            .on_hover_text("by default songs farther from the camera are drawn darker, so the cloud reads as 3D");
        let mut gizmo = !view.hide_gizmo;
        ui.checkbox(&mut gizmo, "axes in the corner");
        view.hide_gizmo = !gizmo;
        ui.checkbox(&mut view.show_grid, "grid under the cloud");
        ui.checkbox(&mut view.idle_orbit, "turn slowly when left alone");
        if wanted != before {
            explorer.set_metric(wanted.metric);
            explorer.set_filter_space(wanted.filter_space);
            explorer.set_colours(wanted.colours);
        }
    });
    window.editing = Some(editing);
    if !open {
        window.open = false;
        window.editing = None;
    }
    Ok(())
}

/// Writes the explorer's view settings into its library file; the library is read again first,
/// so what was written since it was opened is kept.
pub fn view_settings_write(explorer: &Explorer) -> impl FnOnce() -> Result<(), String> + Send + 'static {
    let path = explorer.library_path().to_path_buf();
    let wanted = explorer.view_settings();
    move || {
        crate::library::lock_library(&path, "saving the view settings")
            .and_then(|_lock| {
                let mut library = load_library(&path)?;
                library.view = Some(wanted);
                save_library(&library, &path)
            })
            .map_err(|e| format!("The view settings were not saved: {e}"))
    }
}
