//! The map's clusters are computed on a worker thread when the songs are to be coloured by
//! cluster and the map has none yet (k-means with the silhouette's choice of k takes seconds at
//! 100k songs), and handed to the explorer when done.

use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::sync::{Arc, Mutex};

use bevy::prelude::*;

use super::state::{ExplorerState, ViewState};
use crate::explore::clusters::{ClusterReport, SongFacts, cluster_songs};
use crate::library::ColourBy;

/// The seed the window's clusters use: the same as `songspace clusters`' default, so the two
/// agree.
const WINDOW_SEED: u64 = 1;

/// The clustering in flight, if any, and which map it is for.
#[derive(Resource, Default)]
pub struct ClusterWorker {
    // Behind a mutex only because resources must be `Sync`; one system reads it.
    running: Option<(Mutex<Receiver<ClusterReport>>, u64)>,
}

impl ClusterWorker {
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

/// Starts a clustering when the songs are coloured by cluster and the map has none; hands a
/// finished one to the explorer if it is still for the map shown.
pub fn compute_clusters(
    mut worker: ResMut<ClusterWorker>,
    mut state: ResMut<ExplorerState>,
    mut view: ResMut<ViewState>,
) {
    if let Some((running, generation)) = &worker.running {
        let outcome = match running.lock() {
            Ok(receiver) => receiver.try_recv(),
            Err(_) => Err(TryRecvError::Disconnected),
        };
        match outcome {
            Err(TryRecvError::Empty) => return,
            Ok(report) => {
                // Another library opened meanwhile: its own clustering starts below.
                if state.0.generation() == *generation {
                    state.0.set_clusters(Arc::new(report));
                }
            }
            Err(TryRecvError::Disconnected) => {
                view.notify("Could not cluster the map (the worker stopped).".to_string());
            }
        }
        worker.running = None;
    }
    let explorer = &state.0;
    if explorer.colour_by() != ColourBy::Cluster || !explorer.needs_clusters() || explorer.len() < 2 {
        return;
    }
    let map = explorer.map().clone();
    let facts: Vec<SongFacts> = (0..explorer.len())
        .map(|row| {
            let track = explorer.track_at(row);
            SongFacts { genre: track.and_then(|t| t.genre.clone()), descriptors: track.and_then(|t| t.descriptors) }
        })
        .collect();
    let (sender, receiver) = channel();
    let spawned = std::thread::Builder::new().name("songspace clusters".into()).spawn(move || {
        let _ = sender.send(cluster_songs(&map, &facts, None, WINDOW_SEED));
    });
    match spawned {
        Ok(_) => worker.running = Some((Mutex::new(receiver), explorer.generation())),
        Err(e) => view.notify(format!("Could not start clustering the map: {e}")),
    }
}

/// Writes the chosen cluster's songs to `file` (CSV with their ids, or M3U8, by its extension;
/// CSV when it has neither), nearest its centre first, off the frame.
pub fn export_chosen_cluster(
    file: std::path::PathBuf,
    explorer: &crate::explore::Explorer,
    view: &mut ViewState,
    writer: &super::saving::LibraryWriter,
) {
    let report = explorer.shared_clusters();
    let Some((c, cluster)) =
        view.chosen_cluster.and_then(|c| report.as_ref().and_then(|r| r.clusters.get(c)).map(|k| (c, k)))
    else {
        view.notify("Choose a cluster to export its songs");
        return;
    };
    let file = crate::library::playlist_file_name(file, "csv");
    let entries = super::listening::entries_of(explorer, &cluster.tracks);
    view.notify(format!("Exporting the {} songs of cluster {} to {}", entries.len(), c + 1, file.display()));
    let name = cluster.name.clone();
    writer.write(move || {
        crate::library::write_playlist(&file, &entries).map_err(|e| format!("Cannot export cluster “{name}”: {e}"))
    });
}
