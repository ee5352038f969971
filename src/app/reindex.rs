//! The map's kd-trees are rebuilt off the frame after songs are added to it (a drop): until the
//! rebuilt trees are adopted, the new songs are found by a scan beside the old trees, so every
//! query stays exact and the frame never waits for an O(n log n) build.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, TryRecvError, channel};

use bevy::prelude::*;

use super::state::{ExplorerState, ViewState};
use crate::space::{IndexError, MapIndices};

/// The rebuild in flight, if any.
#[derive(Resource, Default)]
pub struct Reindexer {
    // Behind a mutex only because resources must be `Sync`; one system reads it.
    running: Option<Mutex<Receiver<Result<MapIndices, IndexError>>>>,
    /// The map size a rebuild failed at: not retried until the map changes.
    failed_at: Option<usize>,
}

impl Reindexer {
    /// A rebuild is running on its thread.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

/// Starts a rebuild when the map has songs outside its trees, and adopts one that finished.
pub fn rebuild_indices(
    mut reindexer: ResMut<Reindexer>,
    mut state: ResMut<ExplorerState>,
    mut view: ResMut<ViewState>,
) {
    if let Some(running) = &reindexer.running {
        let outcome = match running.lock() {
            Ok(receiver) => receiver.try_recv(),
            Err(_) => Err(TryRecvError::Disconnected),
        };
        match outcome {
            Err(TryRecvError::Empty) => return,
            Ok(Ok(rebuilt)) => {
                // Refused when the map moved on in a way the trees cannot follow (another map
                // opened, a song moved): the check below starts again from what is there now.
                if let Some(retired) = state.0.adopt_indices(&rebuilt) {
                    // Freeing the old trees takes milliseconds at 100k songs: not on the frame.
                    let _ = std::thread::Builder::new().name("songspace map index".into()).spawn(move || drop(retired));
                }
                reindexer.running = None;
            }
            Ok(Err(e)) => {
                view.notify(format!("Could not rebuild the map's search trees (queries stay exact, only slower): {e}"));
                reindexer.failed_at = Some(state.0.len());
                reindexer.running = None;
            }
            Err(TryRecvError::Disconnected) => {
                reindexer.failed_at = Some(state.0.len());
                reindexer.running = None;
            }
        }
    }
    let map = state.0.map();
    if !map.indices().has_unindexed() || reindexer.failed_at == Some(map.len()) {
        return;
    }
    let snapshot = map.indices().clone();
    let (sender, receiver) = channel();
    let started = std::thread::Builder::new().name("songspace map index".into()).spawn(move || {
        let rebuilt = snapshot.rebuilt();
        drop(snapshot);
        let _ = sender.send(rebuilt);
    });
    match started {
        Ok(_) => reindexer.running = Some(Mutex::new(receiver)),
        Err(_) => reindexer.failed_at = Some(map.len()),
    }
}
