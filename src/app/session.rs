//! What the window remembers between runs (window size, volume, distance space, whether the
//! first-start hint was closed, the Listen panel's choices), and that hint.

use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use bevy::window::WindowResized;
use bevy_egui::egui;

use super::listening::{Listen, SideTab};
use super::playback::Playback;
use super::state::ExplorerState;
use crate::explore::FilterSpace;
use crate::settings::Settings;

/// The settings this run started from; the window writes its changes back, and the command line
/// saves them when the window closes.
#[derive(Resource, Clone)]
pub struct Remembered(pub Arc<Mutex<Settings>>);

/// The short hint shown on the first start on the demo, until it is closed.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FirstStartHint {
    pub showing: bool,
}

pub struct SessionPlugin {
    pub settings: Arc<Mutex<Settings>>,
    pub first_start_hint: bool,
}

impl Plugin for SessionPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Remembered(Arc::clone(&self.settings)))
            .insert_resource(FirstStartHint { showing: self.first_start_hint })
            .add_systems(Startup, apply_remembered)
            .add_systems(Update, remember);
    }
}

fn apply_remembered(
    remembered: Res<Remembered>,
    mut state: ResMut<ExplorerState>,
    playback: Option<ResMut<Playback>>,
    mut listen: ResMut<Listen>,
) {
    let Ok(settings) = remembered.0.lock() else { return };
    let choices = &settings.listen;
    listen.tab = if choices.tab_listen { SideTab::Listen } else { SideTab::Song };
    listen.radio = choices.radio;
    listen.audition_on_hover = choices.audition_on_hover;
    listen.follow_camera = choices.camera_follows_queue;
    listen.trail_length = choices.trail.min(50);
    // A library that has its own view settings keeps them; the remembered space is for the rest.
    if settings.filter_in_map_space && state.0.library().view.is_none() {
        state.0.set_filter_space(FilterSpace::Map);
    }
    if let Some(mut playback) = playback {
        playback.volume = settings.volume;
    }
}

/// Copies what the user changed into the shared settings; cheap enough to run every frame.
fn remember(
    remembered: Res<Remembered>,
    mut resized: MessageReader<WindowResized>,
    state: Res<ExplorerState>,
    playback: Option<Res<Playback>>,
    hint: Res<FirstStartHint>,
    listen: Res<Listen>,
    mut open_library: Local<Option<std::path::PathBuf>>,
) {
    let Ok(mut settings) = remembered.0.lock() else { return };
    // The library open now is the one to open next time (the demo is opened without naming it);
    // it changes when a job opens another.
    let path = state.0.library_path();
    if open_library.as_deref() != Some(path) {
        *open_library = Some(path.to_path_buf());
        settings.last_library = if crate::library::is_demo_library(path) {
            None
        } else {
            Some(path.canonicalize().unwrap_or_else(|_| path.to_path_buf()))
        };
    }
    if let Some(last) = resized.read().last() {
        settings.window_size = Some((last.width.round() as u32, last.height.round() as u32));
    }
    if let Some(playback) = playback {
        settings.volume = playback.volume;
    }
    settings.filter_in_map_space = state.0.filter_space() == FilterSpace::Map;
    settings.listen = crate::settings::ListenSettings {
        tab_listen: listen.tab == SideTab::Listen,
        radio: listen.radio,
        audition_on_hover: listen.audition_on_hover,
        camera_follows_queue: listen.follow_camera,
        trail: listen.trail_length,
    };
    if hint.is_changed() && !hint.is_added() && !hint.showing {
        settings.hint_dismissed = true;
    }
}

/// The hint's text, shown in the selection panel while nothing is selected (where it covers
/// no song), until "Got it".
pub fn hint_contents(ui: &mut egui::Ui, hint: &mut FirstStartHint, songs: usize, styles: usize) {
    ui.heading("Welcome to songspace");
    ui.label(format!("This demo holds {songs} short pieces in {styles} styles, each placed by what it sounds like."));
    ui.add_space(4.0);
    for line in [
        "Click a point to listen; its 3 nearest songs light up.",
        "Drag to orbit, right-drag to pan, scroll to zoom.",
        "Drop an MP3 onto the window to place it among them.",
        "H lists every key.",
    ] {
        ui.label(format!("•  {line}"));
    }
    ui.add_space(4.0);
    if ui.button("Got it").clicked() {
        hint.showing = false;
    }
}
