//! An idle window costs nothing. Left to itself bevy draws every frame, whatever happens: under
//! Xvfb the demo used 1.8 cores doing nothing, and on a laptop it would keep the GPU busy and
//! drain the battery. Here the window waits for input (winit's reactive mode) and draws on
//! every event; while something moves on its own (the cloud not drawn yet, the camera flying, the cloud gliding, a job's
//! progress, a drop being placed, a file dialog, an audition fading) it asks for the next frame
//! each frame; while a song plays it wakes 4 times a second (the time shown, the queue's next
//! song). `SONGSPACE_FRAMES=continuous` draws every frame as before. Scripted runs (tests,
//! screenshots, the frame benchmark) always draw continuously.

use std::time::Duration;

use bevy::prelude::*;
use bevy::window::RequestRedraw;
use bevy::winit::{UpdateMode, WinitSettings};

use super::animate::CloudAnimation;
use super::camera::OrbitCamera;
use super::cloud::CloudReady;
use super::dropped::DropWorker;
use super::jobs::Jobs;
use super::listening::Listen;
use super::menu::Dialogs;
use super::playback::Playback;
use super::reindex::Reindexer;
use super::saving::LibraryWriter;

/// How long an idle window sleeps between frames when nothing wakes it.
const IDLE_WAIT: Duration = Duration::from_secs(2);
/// Out of focus, and nothing playing.
const IDLE_WAIT_UNFOCUSED: Duration = Duration::from_secs(10);
/// While a song plays: the time shown, and the next song of a queue soon after the end.
const PLAYING_WAIT: Duration = Duration::from_millis(250);

pub struct PacingPlugin;

impl Plugin for PacingPlugin {
    fn build(&self, app: &mut App) {
        if std::env::var("SONGSPACE_FRAMES").is_ok_and(|v| v == "continuous") {
            return;
        }
        app.insert_resource(settings(false)).add_systems(Last, pace_frames).add_systems(
            PreUpdate,
            drop_unchanged_modifiers
                .after(bevy_egui::EguiPreUpdateSet::ProcessInput)
                .before(bevy_egui::EguiPreUpdateSet::BeginPass),
        );
    }
}

/// bevy_egui 0.42 tells egui the modifier keys' state every frame as an event, and any event
/// makes egui ask for another frame: the window would never rest. Only changes go through.
fn drop_unchanged_modifiers(
    mut inputs: Query<&mut bevy_egui::EguiInput>,
    mut last: Local<Option<bevy_egui::egui::Modifiers>>,
) {
    for mut input in &mut inputs {
        input.0.events.retain(|event| match event {
            bevy_egui::egui::Event::ModifiersChanged(modifiers) => {
                let changed = *last != Some(*modifiers);
                *last = Some(*modifiers);
                changed
            }
            _ => true,
        });
    }
}

fn settings(playing: bool) -> WinitSettings {
    let (focused, unfocused) = if playing { (PLAYING_WAIT, PLAYING_WAIT) } else { (IDLE_WAIT, IDLE_WAIT_UNFOCUSED) };
    WinitSettings {
        focused_mode: UpdateMode::reactive(focused),
        unfocused_mode: UpdateMode::reactive_low_power(unfocused),
    }
}

/// What moves on its own now.
#[derive(bevy::ecs::system::SystemParam)]
pub struct Motion<'w, 's> {
    cameras: Query<'w, 's, &'static OrbitCamera>,
    ready: Res<'w, CloudReady>,
    animation: Res<'w, CloudAnimation>,
    jobs: Res<'w, Jobs>,
    worker: Res<'w, DropWorker>,
    reindexer: Res<'w, Reindexer>,
    clustering: Res<'w, super::clusters::ClusterWorker>,
    view: Res<'w, super::state::ViewState>,
    writer: Res<'w, LibraryWriter>,
    dialogs: Res<'w, Dialogs>,
    listen: Res<'w, Listen>,
    playback: Option<Res<'w, Playback>>,
    keys: Res<'w, ButtonInput<KeyCode>>,
    buttons: Res<'w, ButtonInput<MouseButton>>,
}

impl Motion<'_, '_> {
    /// The next frame is needed whatever the input: something animates or is awaited, or a key
    /// or button is held (orbiting with the arrows goes on between key repeats).
    fn needs_next_frame(&self) -> bool {
        // Until the cloud is first drawn: its shader loads and its pipeline is built over frames.
        !self.ready.is_ready()
            || !self.cameras.iter().all(OrbitCamera::is_settled)
            || self.animation.is_gliding()
            || self.jobs.running.is_some()
            || !self.jobs.waiting_for_writes.is_empty()
            || !self.worker.is_idle()
            || self.reindexer.is_running()
            || self.clustering.is_running()
            || self.view.idle_orbit
            || self.writer.busy()
            || self.dialogs.is_open()
            || self.listen.is_waiting()
            || self.playback.as_ref().is_some_and(|p| p.animating || p.auditioning.is_some())
            || self.keys.get_pressed().next().is_some()
            || self.buttons.get_pressed().next().is_some()
    }

    fn playing(&self) -> bool {
        self.playback.as_ref().and_then(|p| p.now.as_ref()).is_some_and(|now| !now.paused && !now.finished)
    }
}

fn pace_frames(motion: Motion, mut winit: ResMut<WinitSettings>, mut redraw: MessageWriter<RequestRedraw>) {
    if motion.needs_next_frame() {
        redraw.write(RequestRedraw);
    }
    let wanted = settings(motion.playing());
    if winit.focused_mode != wanted.focused_mode || winit.unfocused_mode != wanted.unfocused_mode {
        *winit = wanted;
    }
}
