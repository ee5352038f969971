//! The About window: the version and licence, where the shipped model and the demo were found,
//! and the credits of the demo's music and of what songspace is built on.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::state::ViewState;

/// The places the About window names, looked up once when the window starts (so opening it does
/// no file IO on the frame). Whether it is open is [`ViewState::show_about`].
#[derive(Resource)]
pub struct About {
    model: Option<PathBuf>,
    demo: Option<PathBuf>,
}

pub struct AboutPlugin;

impl Plugin for AboutPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(About {
            model: crate::model::default_model_dir(),
            demo: crate::library::bundled_demo_dir(),
        })
        .add_systems(EguiPrimaryContextPass, about_window.after(super::panels::panels));
    }
}

/// What the demo is made of, and what songspace is built on: (what, who and under which licence).
pub const CREDITS: &[(&str, &str)] = &[
    (
        "The demo's music",
        "Public-domain compositions (J. S. Bach, Haydn, Mozart, Beethoven, Monteverdi; tunes printed \
         in 1778, 1850 and 1883) in the encodings of the music21 corpus (BSD licence); fiddle tunes \
         transcribed by Norbert Paap, Scottish airs by Jack Campin",
    ),
    ("The demo's sound", "FluidR3 GM SoundFont by Frank Wen (MIT), rendered with FluidSynth, encoded with LAME"),
    (
        "Built with",
        "bevy, egui and bevy_egui, burn, wgpu, rodio, rfd (MIT or Apache-2.0); symphonia (MPL-2.0); \
         bhtsne, kiddo (MIT or Apache-2.0); egui's fonts (SIL Open Font Licence, Ubuntu Font Licence)",
    ),
];

fn about_window(mut contexts: EguiContexts, about: Res<About>, mut view: ResMut<ViewState>) -> Result {
    if !view.show_about {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?.clone();
    let mut open = true;
    let centre = ctx.viewport_rect().center();
    let window = egui::Window::new("About songspace").open(&mut open).collapsible(false).default_width(420.0);
    window.pivot(egui::Align2::CENTER_CENTER).default_pos(centre).show(&ctx, |ui| {
        ui.heading(format!("songspace {}", env!("CARGO_PKG_VERSION")));
        ui.label(env!("CARGO_PKG_DESCRIPTION"));
        ui.add_space(6.0);
        egui::Grid::new("about").num_columns(2).spacing([12.0, 4.0]).show(ui, |ui| {
            ui.label(egui::RichText::new("Licence").strong());
            ui.label(env!("CARGO_PKG_LICENSE"));
            ui.end_row();
            for (what, place) in [("Shipped model", &about.model), ("Demo", &about.demo)] {
                ui.label(egui::RichText::new(what).strong());
                match place {
                    Some(path) => ui.label(path.display().to_string()),
                    None => ui.weak("not found"),
                };
                ui.end_row();
            }
        });
        ui.separator();
        ui.label(egui::RichText::new("Credits").strong());
        for (what, credit) in CREDITS {
            ui.horizontal_wrapped(|ui| {
                ui.label(egui::RichText::new(format!("{what}:")).italics());
                ui.label(*credit);
            });
        }
    });
    if !open {
        view.show_about = false;
    }
    Ok(())
}
