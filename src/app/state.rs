//! The resources most of the window's systems share: the library being explored and the
//! interface state that is not the library's.

use bevy::prelude::*;

use crate::explore::Explorer;

/// The library being explored.
#[derive(Resource)]
pub struct ExplorerState(pub Explorer);

/// What the pointer is over, and interface state that is not the library's.
#[derive(Resource, Default)]
pub struct ViewState {
    pub hovered: Option<usize>,
    /// The pointer is over a panel or window, or egui is dragging something: the 3D view ignores it.
    pub pointer_over_ui: bool,
    /// A text field has the keyboard: shortcuts are off.
    pub keyboard_taken: bool,
    pub search_text: String,
    pub search_results: Vec<usize>,
    pub focus_search: bool,
    pub show_help: bool,
    /// Show the About window.
    pub show_about: bool,
    /// Messages for the status line, newest last.
    pub notices: Vec<String>,
    /// The area of the window not covered by panels, in logical pixels (min, max).
    pub scene_rect: Option<(Vec2, Vec2)>,
    /// Show the jobs panel (it shows itself while a job runs).
    pub show_jobs: bool,
    /// Height of the menu bar, which the panels sit below.
    pub menu_height: f32,
    /// The open library's file and the name the panel gives it.
    pub library_name: Option<(std::path::PathBuf, String)>,
    /// Aids that make the cloud read as 3D, switched in Map & view: depth cues (far songs
    /// dimmed) and the orientation gizmo are on unless turned off; the grid and the slow orbit
    /// when idle are off unless turned on.
    pub flat_points: bool,
    pub hide_gizmo: bool,
    pub show_grid: bool,
    pub idle_orbit: bool,
    /// Where each cluster's floating name was drawn last frame (cluster id, min, max in logical
    /// pixels): a click there chooses the cluster instead of picking a song.
    pub cluster_labels: Vec<(usize, Vec2, Vec2)>,
    /// The cluster whose songs the left panel offers to play or keep as a playlist.
    pub chosen_cluster: Option<usize>,
}

impl ViewState {
    pub fn notify(&mut self, text: impl Into<String>) {
        self.notices.push(text.into());
        if self.notices.len() > 20 {
            self.notices.remove(0);
        }
    }
}
