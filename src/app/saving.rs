//! The window's own changes to library files (a dropped song, the view settings) are written on
//! one background thread, in the order they were made: the frame never waits on a large
//! library's file, and two writes never undo each other (each reads the file it changes). Jobs
//! write libraries too, so a job starts only once these writes are done, and while a job runs
//! the window writes nothing (what it would write waits for the job's end).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bevy::prelude::*;

use super::state::ViewState;

/// One change to write: it returns a message for the user when it fails.
type Write = Box<dyn FnOnce() -> Result<(), String> + Send>;

#[derive(Resource)]
pub struct LibraryWriter {
    writes: Option<Sender<Write>>,
    /// Where failures are sent from (kept here too for writes made without the thread).
    report: Sender<String>,
    failures: Mutex<Receiver<String>>,
    /// Writes handed over and not finished yet.
    in_flight: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Default for LibraryWriter {
    fn default() -> Self {
        let (writes, queue) = channel::<Write>();
        let (to_app, failures) = channel();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&in_flight);
        let report = to_app.clone();
        let thread = std::thread::Builder::new()
            .name("songspace library writer".into())
            .spawn(move || {
                for write in queue {
                    if let Err(message) = write() {
                        let _ = to_app.send(message);
                    }
                    counter.fetch_sub(1, Ordering::SeqCst);
                }
            })
            .ok();
        let writes = thread.as_ref().map(|_| writes);
        Self { writes, report, failures: Mutex::new(failures), in_flight, thread }
    }
}

impl LibraryWriter {
    /// Queues a write; it runs after every write queued before it.
    pub fn write(&self, write: impl FnOnce() -> Result<(), String> + Send + 'static) {
        let write: Write = Box::new(write);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let unsent = match &self.writes {
            Some(writes) => writes.send(write).err().map(|returned| returned.0),
            None => Some(write),
        };
        // No thread could be started (or it is gone): write now rather than lose the change.
        if let Some(write) = unsent {
            if let Err(message) = write() {
                let _ = self.report.send(message);
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Some write is queued or running.
    pub fn busy(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) > 0
    }

    /// Failed writes' messages since the last call.
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().map(|r| r.try_iter().collect()).unwrap_or_default()
    }
}

impl Drop for LibraryWriter {
    /// The window is closing: what was changed is written before the process ends.
    fn drop(&mut self) {
        self.writes = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Shows failed writes in the status line.
pub fn report_write_failures(writer: Res<LibraryWriter>, mut view: ResMut<ViewState>) {
    for message in writer.failures() {
        view.notify(message);
    }
}
