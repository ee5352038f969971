//! The training panel: what to learn, where and for how long; then the loss and accuracy of every
//! epoch as it ends, and the confusion matrix of the finished model. The training itself is a
//! job ([`crate::workflow::JobKind::Train`]); this panel starts it and shows what it reports.

use bevy::prelude::*;
use bevy_egui::EguiContexts;
use bevy_egui::egui::{self, Color32, RichText};

use super::jobs::{JobNews, Jobs, StartJob};
use super::state::ExplorerState;
use crate::model::{Adapter, ClassCounts, DeviceChoice, EpochMetrics, LabelKind, TrainingMetrics, gpu_adapters};
use crate::workflow::{JobKind, TrainRequest};

#[derive(Resource)]
pub struct TrainingPanel {
    pub open: bool,
    pub label: LabelKind,
    pub device: DeviceChoice,
    pub epochs: usize,
    /// The seed of the weights and the shuffling: the same seed on the CPU trains the same model.
    pub seed: u64,
    /// Start from random weights instead of the shipped model.
    pub from_scratch: bool,
    /// The GPU adapters wgpu sees, asked once when the panel first opens.
    adapters: Option<Vec<Adapter>>,
    /// Asking wgpu for adapters takes tens of milliseconds (hundreds with a software driver):
    /// it runs on a thread, which leaves its answer here.
    adapters_found: Option<std::sync::Arc<std::sync::Mutex<Option<Vec<Adapter>>>>>,
    /// A run is going on (or its results are shown).
    pub running: bool,
    pub device_in_use: Option<String>,
    pub classes: Vec<ClassCounts>,
    pub history: Vec<EpochMetrics>,
    pub result: Option<Box<TrainingMetrics>>,
}

impl Default for TrainingPanel {
    fn default() -> Self {
        Self {
            open: false,
            label: LabelKind::Genre,
            device: DeviceChoice::Auto,
            epochs: 20,
            seed: 42,
            from_scratch: false,
            adapters: None,
            adapters_found: None,
            running: false,
            device_in_use: None,
            classes: Vec::new(),
            history: Vec::new(),
            result: None,
        }
    }
}

impl TrainingPanel {
    /// A training job was started: the plots start empty.
    pub fn begin(&mut self) {
        self.open = true;
        self.running = true;
        self.device_in_use = None;
        self.classes.clear();
        self.history.clear();
        self.result = None;
    }

    pub fn started(&mut self, device: String, classes: Vec<ClassCounts>) {
        self.device_in_use = Some(device);
        self.classes = classes;
    }

    pub fn epoch(&mut self, metrics: EpochMetrics) {
        self.history.push(metrics);
    }

    pub fn finished(&mut self, metrics: TrainingMetrics) {
        self.result = Some(Box::new(metrics));
    }

    pub fn job_ended(&mut self) {
        self.running = false;
    }

    fn request(&self) -> TrainRequest {
        TrainRequest {
            label: self.label,
            device: self.device,
            epochs: self.epochs,
            seed: self.seed,
            from_scratch: self.from_scratch,
        }
    }
}

/// Keeps the panel in step with the training jobs (see [`JobNews`]).
pub fn follow_training(mut news: MessageReader<JobNews>, mut panel: ResMut<TrainingPanel>) {
    for item in news.read() {
        match item.clone() {
            JobNews::TrainingBegan => panel.begin(),
            JobNews::TrainingStarted { device, classes } => panel.started(device, classes),
            JobNews::Epoch(metrics) => panel.epoch(metrics),
            JobNews::Trained(metrics) => panel.finished(*metrics),
            JobNews::Ended => panel.job_ended(),
            JobNews::LibraryReplaced => {}
        }
    }
}

pub fn training_window(
    mut contexts: EguiContexts,
    view: Res<super::state::ViewState>,
    mut panel: ResMut<TrainingPanel>,
    jobs: Res<Jobs>,
    state: Res<ExplorerState>,
    mut start: MessageWriter<StartJob>,
) -> Result {
    if !panel.open {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?.clone();
    if panel.adapters.is_none() {
        match &panel.adapters_found {
            None => {
                let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
                let filled = slot.clone();
                let _ = std::thread::Builder::new().name("songspace adapter listing".into()).spawn(move || {
                    let found = gpu_adapters();
                    if let Ok(mut slot) = filled.lock() {
                        *slot = Some(found);
                    }
                });
                panel.adapters_found = Some(slot);
            }
            Some(slot) => {
                let found = slot.lock().ok().and_then(|mut s| s.take());
                if found.is_some() {
                    panel.adapters = found;
                    panel.adapters_found = None;
                }
            }
        }
    }
    let mut open = true;
    egui::Window::new("Train a model")
        .open(&mut open)
        .resizable(false)
        .default_width(520.0)
        // In the 3D view beside the side panels, not over the legend.
        .default_pos(view.scene_rect.map_or(egui::pos2(300.0, 60.0), |(min, _)| egui::pos2(min.x + 16.0, min.y + 16.0)))
        .show(&ctx, |ui| {
            let busy = jobs.running.is_some();
            ui.add_enabled_ui(!busy, |ui| settings(ui, &mut panel));
            ui.horizontal(|ui| {
                let train = ui.add_enabled(!busy, egui::Button::new(RichText::new("Train").strong()));
                if train.clicked() {
                    let library = state.0.library_path().to_path_buf();
                    start.write(StartJob(JobKind::Train { library, request: panel.request() }));
                }
                if busy {
                    ui.weak("see the jobs panel for progress and Cancel");
                } else {
                    ui.weak("then the songs are embedded with the new model and the map is laid out again");
                }
            });
            if let Some(device) = &panel.device_in_use {
                ui.label(format!("Training on {device}"));
            }
            if !panel.classes.is_empty() {
                let names: Vec<String> =
                    panel.classes.iter().map(|c| format!("{} ({})", c.label, c.training)).collect();
                ui.add(egui::Label::new(format!("{} classes: {}", names.len(), names.join(", "))).truncate());
            }
            if !panel.history.is_empty() || panel.running {
                plots(ui, &panel.history, panel.epochs);
            }
            if let Some(result) = &panel.result {
                confusion_matrix(ui, result);
            }
        });
    if !open {
        panel.open = false;
    }
    Ok(())
}

fn settings(ui: &mut egui::Ui, panel: &mut TrainingPanel) {
    egui::Grid::new("training settings").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
        ui.label("Learn to tell apart");
        let describe = |label: LabelKind| match label {
            LabelKind::None => "no labels: learn from the music itself",
            other => other.name(),
        };
        egui::ComboBox::from_id_salt("label").selected_text(describe(panel.label)).show_ui(ui, |ui| {
            for label in [LabelKind::Genre, LabelKind::Artist, LabelKind::Album, LabelKind::None] {
                ui.selectable_value(&mut panel.label, label, describe(label));
            }
        })
        .response
        .on_hover_text("No labels: two excerpts of one song are taught to lie close, songs of other albums apart; for music without genre tags");
        ui.end_row();

        ui.label("Start from");
        ui.horizontal(|ui| {
            ui.radio_value(&mut panel.from_scratch, false, "the shipped model")
                .on_hover_text("Fine-tune: keep what the shipped model learnt and adjust it to this library");
            ui.radio_value(&mut panel.from_scratch, true, "scratch").on_hover_text("Random weights");
        });
        ui.end_row();

        ui.label("Device");
        ui.horizontal(|ui| {
            ui.radio_value(&mut panel.device, DeviceChoice::Auto, "auto");
            ui.radio_value(&mut panel.device, DeviceChoice::Gpu, "GPU");
            ui.radio_value(&mut panel.device, DeviceChoice::Cpu, "CPU");
        });
        ui.end_row();

        ui.label("");
        let looking = panel.adapters.is_none();
        let adapters = panel.adapters.as_deref().unwrap_or_default();
        let hardware = adapters.iter().find(|a| a.hardware);
        let text = match (panel.device, hardware, adapters.first()) {
            (DeviceChoice::Cpu, ..) => "the CPU".to_string(),
            _ if looking => "looking for GPUs…".to_string(),
            (_, Some(gpu), _) => format!("GPU: {}", gpu.name),
            (DeviceChoice::Gpu, None, Some(software)) => format!("{} (a software driver: slow)", software.name),
            (DeviceChoice::Gpu, None, None) => "no GPU adapter found: this will fail, choose CPU".to_string(),
            (DeviceChoice::Auto, None, _) => "no GPU found: the CPU".to_string(),
        };
        ui.weak(text);
        ui.end_row();

        ui.label("Epochs");
        ui.add(egui::DragValue::new(&mut panel.epochs).range(1..=200));
        ui.end_row();

        ui.label("Seed");
        ui.add(egui::DragValue::new(&mut panel.seed))
            .on_hover_text("The same seed trains the same model on the CPU; another seed, another model");
        ui.end_row();
    });
}

// Paul Tol's cyan and sand: apart from each other and from the first genre colours, so the plot
// does not look like part of the cloud.
pub const TRAIN_COLOUR: Color32 = Color32::from_rgb(0x88, 0xCC, 0xEE);
pub const VALIDATION_COLOUR: Color32 = Color32::from_rgb(0xDD, 0xCC, 0x77);

fn plots(ui: &mut egui::Ui, history: &[EpochMetrics], epochs: usize) {
    let series = |value: &dyn Fn(&EpochMetrics) -> Option<f32>| -> Vec<[f64; 2]> {
        history.iter().filter_map(|m| value(m).map(|v| [m.epoch as f64, v as f64])).collect()
    };
    let plot = |ui: &mut egui::Ui, id: &str, title: &str, train: Vec<[f64; 2]>, validation: Vec<[f64; 2]>| {
        ui.vertical(|ui| {
            ui.label(title);
            egui_plot::Plot::new(id)
                .height(150.0)
                .width(240.0)
                .include_x(1.0)
                .include_x(epochs.max(2) as f64)
                .include_y(0.0)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .x_axis_label("epoch")
                .legend(egui_plot::Legend::default())
                .show(ui, |plot| {
                    plot.line(egui_plot::Line::new("training", train.clone()).color(TRAIN_COLOUR));
                    plot.points(egui_plot::Points::new("training", train).color(TRAIN_COLOUR).radius(2.5));
                    if !validation.is_empty() {
                        plot.line(egui_plot::Line::new("validation", validation.clone()).color(VALIDATION_COLOUR));
                        plot.points(
                            egui_plot::Points::new("validation", validation).color(VALIDATION_COLOUR).radius(2.5),
                        );
                    }
                });
        });
    };
    ui.horizontal(|ui| {
        plot(ui, "loss", "Loss", series(&|m| Some(m.train_loss)), series(&|m| m.validation_loss));
        plot(ui, "accuracy", "Accuracy", series(&|m| Some(m.train_accuracy)), series(&|m| m.validation_accuracy));
    });
    match history.last() {
        Some(last) => ui.weak(format!("epoch {} of up to {epochs}, {:.1} s per epoch", last.epoch, last.seconds)),
        None => ui.weak("the first epoch is running…"),
    };
}

fn confusion_matrix(ui: &mut egui::Ui, result: &TrainingMetrics) {
    let pct = |v: Option<f32>| v.map_or("n/a".to_string(), |a| format!("{:.0}%", a * 100.0));
    ui.separator();
    ui.label(format!(
        "Best epoch {} of {}{}. Accuracy: training {}, validation {}, test {}.",
        result.best_epoch,
        result.epochs,
        if result.stopped_early { " (stopped early: no better validation loss)" } else { "" },
        pct(Some(result.train_accuracy)),
        pct(result.validation_accuracy),
        pct(result.test_accuracy),
    ));
    if let Some(c) = &result.against_classic {
        ui.label(format!(
            "On the {} {} songs, the new embedding against classic audio features (MFCC, contrast, chroma): \
             same genre among the 3 nearest songs of other albums {:.0}% vs {:.0}% (chance {:.0}%); \
             genre from a linear classifier {:.0}% vs {:.0}%.",
            c.songs,
            c.split,
            c.model_p_at_3 * 100.0,
            c.classic_p_at_3 * 100.0,
            c.chance_p_at_3 * 100.0,
            c.model_logistic * 100.0,
            c.classic_logistic * 100.0
        ));
    }
    ui.label(format!("Confusion matrix, {} songs (rows: true, columns: predicted)", result.confusion_split));
    egui::ScrollArea::both().max_height(260.0).show(ui, |ui| {
        egui::Grid::new("confusion").spacing([4.0, 2.0]).show(ui, |ui| {
            ui.label("");
            for (i, _) in result.labels.iter().enumerate() {
                ui.label(RichText::new(format!("{}", i + 1)).weak());
            }
            ui.end_row();
            for (i, (label, row)) in result.labels.iter().zip(&result.confusion_matrix).enumerate() {
                let short: String = label.chars().take(18).collect();
                ui.label(format!("{} {short}", i + 1)).on_hover_text(label);
                let total: usize = row.iter().sum();
                for (j, count) in row.iter().enumerate() {
                    let share = if total > 0 { *count as f32 / total as f32 } else { 0.0 };
                    let base =
                        if i == j { Color32::from_rgb(0x00, 0x9E, 0x73) } else { Color32::from_rgb(0xD5, 0x5E, 0x00) };
                    let fill = base.gamma_multiply(if *count == 0 { 0.0 } else { 0.25 + 0.75 * share });
                    let text =
                        RichText::new(format!("{count:>3}")).monospace().color(Color32::WHITE).background_color(fill);
                    ui.label(text);
                }
                ui.end_row();
            }
        });
    });
}
