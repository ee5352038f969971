//! Playing the selected song through rodio. Our own symphonia decoder (the same one analysis uses)
//! feeds it from a thread, a packet at a time, so a selection starts playing after one packet and
//! the frame never waits for decoding. Without an audio device the app runs with playback off.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

use bevy::prelude::*;
use rodio::{ChannelCount, MixerDeviceSink, Player, SampleRate, Source};

use super::state::{ExplorerState, ViewState};
use crate::audio::{PcmChunk, PcmStream};

/// Decoded packets buffered ahead of the speaker (about a second of MP3).
const CHUNKS_AHEAD: usize = 40;

/// How long an audition plays, and how long it takes to fade in and out.
pub const AUDITION_SECONDS: f64 = 5.0;
const AUDITION_FADE_SECONDS: f32 = 0.3;
/// The song playing is turned down to this while another is auditioned.
const DUCKED: f32 = 0.2;

/// What the interface asks of the player.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaybackRequest {
    Play {
        row: usize,
        from_seconds: f64,
    },
    TogglePause,
    Seek(f64),
    Stop,
    /// Play a few seconds from the middle of a song beside (over) the song playing, fading in
    /// and out; a new audition fades the last one out.
    Audition {
        row: usize,
    },
    /// Fade the audition out now.
    EndAudition,
}

/// The song playing, as the interface shows it.
#[derive(Debug, Clone)]
pub struct NowPlaying {
    pub row: usize,
    pub path: PathBuf,
    pub duration_seconds: f64,
    pub position_seconds: f64,
    pub paused: bool,
    pub finished: bool,
    /// Where the current player started in the file (after a seek).
    start_seconds: f64,
}

impl NowPlaying {
    /// A song that just started (what the player reports once a song is open).
    pub fn started(row: usize, path: PathBuf, duration_seconds: f64) -> Self {
        Self { row, path, duration_seconds, position_seconds: 0.0, paused: false, finished: false, start_seconds: 0.0 }
    }
}

#[derive(Resource, Debug)]
pub struct Playback {
    /// Why there is no playback (no audio device), if there is none.
    pub unavailable: Option<String>,
    pub now: Option<NowPlaying>,
    pub volume: f32,
    pub requests: Vec<PlaybackRequest>,
    /// Plays each newly selected song (off in scripted runs, so tests make no sound).
    pub follow_selection: bool,
    /// The song being auditioned (heard now, or opening).
    pub auditioning: Option<usize>,
    /// Auditions heard since the window opened.
    pub auditions: usize,
    /// Something changes from frame to frame: a song opening, an audition fading in or out.
    pub animating: bool,
}

impl Default for Playback {
    fn default() -> Self {
        Self {
            unavailable: None,
            now: None,
            volume: 0.8,
            requests: Vec::new(),
            follow_selection: true,
            auditioning: None,
            auditions: 0,
            animating: false,
        }
    }
}

impl Playback {
    pub fn request(&mut self, request: PlaybackRequest) {
        self.requests.push(request);
    }
}

/// The audio device, on the main thread (audio streams are not `Send` on every platform).
struct AudioOutput {
    device: MixerDeviceSink,
    player: Option<Player>,
    /// A song being opened on a thread (the file probed, its first packet decoded): the frame
    /// never waits on a slow disk or a long seek. Played when it is ready.
    opening: Option<Opening>,
    /// The song being auditioned, and auditions fading out (with when their fade began).
    audition: Option<Audition>,
    audition_opening: Option<(usize, Opened)>,
    fading: Vec<(Player, std::time::Instant, f32)>,
}

struct Audition {
    row: usize,
    player: Player,
    started: std::time::Instant,
}

/// A song opened on a thread: the source and where in the file it starts, or why it cannot play.
type Opened = Receiver<Result<(StreamedSource, f64), String>>;

struct Opening {
    row: usize,
    path: PathBuf,
    duration_seconds: f64,
    /// Stay paused once open (a seek while paused).
    paused: bool,
    ready: Opened,
}

pub struct PlaybackPlugin {
    pub follow_selection: bool,
}

impl Plugin for PlaybackPlugin {
    fn build(&self, app: &mut App) {
        let mut playback = Playback { follow_selection: self.follow_selection, ..default() };
        match rodio::DeviceSinkBuilder::open_default_sink() {
            Ok(mut device) => {
                device.log_on_drop(false);
                app.insert_non_send(AudioOutput {
                    device,
                    player: None,
                    opening: None,
                    audition: None,
                    audition_opening: None,
                    fading: Vec::new(),
                });
            }
            Err(e) => {
                let reason = format!("No audio output ({e}): playback is off.");
                warn!("{reason}");
                playback.unavailable = Some(reason);
            }
        }
        app.insert_resource(playback).add_systems(Update, (follow_selection, drive_output).chain());
    }
}

fn follow_selection(state: Res<ExplorerState>, mut playback: ResMut<Playback>, mut last: Local<Option<usize>>) {
    let selected = state.0.selected();
    if selected != *last {
        *last = selected;
        if let Some(row) = selected
            && playback.follow_selection
        {
            playback.request(PlaybackRequest::Play { row, from_seconds: 0.0 });
        }
    }
}

fn drive_output(
    output: Option<NonSendMut<AudioOutput>>,
    state: Res<ExplorerState>,
    mut playback: ResMut<Playback>,
    mut view: ResMut<ViewState>,
) {
    let requests = std::mem::take(&mut playback.requests);
    let Some(mut output) = output else { return };
    for request in requests {
        match request {
            PlaybackRequest::Play { row, from_seconds } => {
                let Some(path) = state.0.audio_path(row) else { continue };
                let duration = state.0.track_at(row).map_or(0.0, |t| f64::from(t.duration_seconds));
                start(&mut output, &mut playback, &mut view, row, path, duration, from_seconds);
            }
            PlaybackRequest::Seek(seconds) => {
                if let Some(now) = playback.now.clone() {
                    start(&mut output, &mut playback, &mut view, now.row, now.path, now.duration_seconds, seconds);
                    if let Some(opening) = output.opening.as_mut() {
                        opening.paused = now.paused;
                    }
                }
            }
            PlaybackRequest::TogglePause => {
                if let (Some(player), Some(now)) = (&output.player, playback.now.as_mut()) {
                    if now.finished {
                        let (row, path, duration) = (now.row, now.path.clone(), now.duration_seconds);
                        start(&mut output, &mut playback, &mut view, row, path, duration, 0.0);
                    } else if player.is_paused() {
                        player.play();
                        now.paused = false;
                    } else {
                        player.pause();
                        now.paused = true;
                    }
                }
            }
            PlaybackRequest::Stop => {
                if let Some(player) = output.player.take() {
                    player.stop();
                }
                output.opening = None;
                playback.now = None;
            }
            PlaybackRequest::Audition { row } => {
                if output.audition.as_ref().is_some_and(|a| a.row == row)
                    || output.audition_opening.as_ref().is_some_and(|(r, _)| *r == row)
                {
                    continue;
                }
                let Some(path) = state.0.audio_path(row) else { continue };
                let duration = state.0.track_at(row).map_or(0.0, |t| f64::from(t.duration_seconds));
                let from = (duration / 2.0 - AUDITION_SECONDS / 2.0).max(0.0);
                let (sender, ready) = sync_channel(1);
                let spawned = std::thread::Builder::new().name("songspace audition opener".into()).spawn(move || {
                    let _ = sender.send(StreamedSource::open(&path, from).map_err(|e| e.to_string()));
                });
                if spawned.is_ok() {
                    output.audition_opening = Some((row, ready));
                    playback.auditioning = Some(row);
                }
            }
            PlaybackRequest::EndAudition => {
                output.audition_opening = None;
                end_audition(&mut output);
                playback.auditioning = None;
            }
        }
    }
    finish_opening(&mut output, &mut playback, &mut view);
    drive_audition(&mut output, &mut playback);
    playback.animating = output.opening.is_some()
        || output.audition_opening.is_some()
        || output.audition.is_some()
        || !output.fading.is_empty();
    let volume = playback.volume * if output.audition.is_some() { DUCKED } else { 1.0 };
    if let (Some(player), Some(now)) = (&output.player, playback.now.as_mut()) {
        player.set_volume(volume);
        now.position_seconds = (now.start_seconds + player.get_pos().as_secs_f64()).min(now.duration_seconds.max(0.0));
        now.finished = player.empty();
    }
}

/// Starts an audition once it is open, and sets each frame the volume of the audition (fading in,
/// then out at its end) and of those fading out.
fn drive_audition(output: &mut AudioOutput, playback: &mut Playback) {
    if let Some((row, ready)) = &output.audition_opening {
        match ready.try_recv() {
            Ok(Ok((source, _))) => {
                let row = *row;
                output.audition_opening = None;
                end_audition(output);
                let player = Player::connect_new(output.device.mixer());
                player.set_volume(0.0);
                player.append(source);
                output.audition = Some(Audition { row, player, started: std::time::Instant::now() });
                playback.auditions += 1;
            }
            Ok(Err(_)) | Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                output.audition_opening = None;
                playback.auditioning = None;
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
        }
    }
    if let Some(audition) = &output.audition {
        let heard = audition.started.elapsed().as_secs_f32();
        let left = AUDITION_SECONDS as f32 - heard;
        if left <= 0.0 || audition.player.empty() {
            end_audition(output);
            playback.auditioning = None;
        } else {
            let envelope = (heard / AUDITION_FADE_SECONDS).min(left / AUDITION_FADE_SECONDS).min(1.0);
            audition.player.set_volume(playback.volume * envelope);
        }
    }
    output.fading.retain(|(player, since, from_volume)| {
        let gain = 1.0 - since.elapsed().as_secs_f32() / AUDITION_FADE_SECONDS;
        if gain <= 0.0 {
            player.stop();
            return false;
        }
        player.set_volume(from_volume * gain);
        true
    });
}

/// Moves the audition to the fading list (it fades out over a few frames rather than cutting).
fn end_audition(output: &mut AudioOutput) {
    if let Some(audition) = output.audition.take() {
        let volume = audition.player.volume();
        output.fading.push((audition.player, std::time::Instant::now(), volume));
    }
}

fn start(
    output: &mut AudioOutput,
    playback: &mut Playback,
    view: &mut ViewState,
    row: usize,
    path: PathBuf,
    duration_seconds: f64,
    from_seconds: f64,
) {
    if let Some(old) = output.player.take() {
        old.stop();
    }
    playback.now = None;
    // A song still opening for an earlier request is dropped with its receiver; its thread ends
    // when it finds no one waiting.
    let (sender, ready) = sync_channel(1);
    let opened_path = path.clone();
    let spawned = std::thread::Builder::new().name("songspace playback opener".into()).spawn(move || {
        let result = if opened_path.is_file() {
            StreamedSource::open(&opened_path, from_seconds).map_err(|e| e.to_string())
        } else {
            Err(format!("{} is missing (moved or deleted?)", opened_path.display()))
        };
        let _ = sender.send(result);
    });
    match spawned {
        Ok(_) => output.opening = Some(Opening { row, path, duration_seconds, paused: false, ready }),
        Err(e) => view.notify(format!("Cannot play: cannot start a thread ({e})")),
    }
}

/// Plays the song opened on its thread, once it is ready (checked every frame, never waited on).
fn finish_opening(output: &mut AudioOutput, playback: &mut Playback, view: &mut ViewState) {
    let Some(opening) = &output.opening else { return };
    let result = match opening.ready.try_recv() {
        Ok(result) => result,
        Err(std::sync::mpsc::TryRecvError::Empty) => return,
        Err(std::sync::mpsc::TryRecvError::Disconnected) => Err("the opening thread ended without a word".into()),
    };
    let Some(opening) = output.opening.take() else { return };
    match result {
        Ok((source, start_seconds)) => {
            let player = Player::connect_new(output.device.mixer());
            player.set_volume(playback.volume);
            player.append(source);
            if opening.paused {
                player.pause();
            }
            output.player = Some(player);
            playback.now = Some(NowPlaying {
                row: opening.row,
                path: opening.path,
                duration_seconds: opening.duration_seconds,
                position_seconds: start_seconds,
                paused: opening.paused,
                finished: false,
                start_seconds,
            });
        }
        Err(e) => view.notify(format!("Cannot play: {e}")),
    }
}

/// A rodio source fed by a decoding thread. Each decoded packet is one span, so a change of rate
/// or channel count mid-file is handled by rodio's conversion.
struct StreamedSource {
    chunk: Vec<f32>,
    position: usize,
    sample_rate: u32,
    channels: u16,
    incoming: Receiver<PcmChunk>,
    total: Option<Duration>,
}

impl StreamedSource {
    /// Opens the file and decodes its first packet here (a millisecond or two), then leaves the
    /// rest to a thread. Returns where in the file playback starts.
    fn open(path: &Path, from_seconds: f64) -> Result<(Self, f64), crate::error::AudioError> {
        let mut stream = PcmStream::open(path, from_seconds)?;
        let start_seconds = stream.start_seconds();
        let first = match stream.next_chunk() {
            Some(chunk) => chunk?,
            None => PcmChunk { samples: Vec::new(), sample_rate: stream.sample_rate(), channels: stream.channels() },
        };
        let total = stream.duration_seconds().map(|d| Duration::from_secs_f64((d - start_seconds).max(0.0)));
        let (sender, incoming): (SyncSender<_>, _) = sync_channel(CHUNKS_AHEAD);
        std::thread::Builder::new()
            .name("songspace playback decoder".into())
            .spawn(move || {
                while let Some(Ok(chunk)) = stream.next_chunk() {
                    // The player dropped the source (another song, or stop): nothing more to do.
                    if sender.send(chunk).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| crate::error::AudioError::Undecodable {
                path: path.to_path_buf(),
                detail: format!("cannot start the decoding thread: {e}"),
            })?;
        let mut source = Self {
            chunk: first.samples,
            position: 0,
            sample_rate: first.sample_rate.max(1),
            channels: first.channels.max(1),
            incoming,
            total,
        };
        if source.chunk.is_empty() {
            source.load_next();
        }
        Ok((source, start_seconds))
    }

    /// Waits for the decoder's next packet (it runs far ahead of real time, so this rarely
    /// waits); at the end of the file the current, exhausted chunk stays.
    fn load_next(&mut self) {
        while let Ok(chunk) = self.incoming.recv() {
            if chunk.samples.is_empty() {
                continue;
            }
            self.chunk = chunk.samples;
            self.position = 0;
            self.sample_rate = chunk.sample_rate.max(1);
            self.channels = chunk.channels.max(1);
            return;
        }
    }
}

impl Iterator for StreamedSource {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        let sample = *self.chunk.get(self.position)?;
        self.position += 1;
        if self.position == self.chunk.len() {
            // Fetch the next packet now, so that an exhausted span means the end of the song.
            self.load_next();
        }
        Some(sample)
    }
}

impl Source for StreamedSource {
    fn current_span_len(&self) -> Option<usize> {
        Some(self.chunk.len() - self.position)
    }

    fn channels(&self) -> ChannelCount {
        ChannelCount::new(self.channels.max(1)).unwrap_or(ChannelCount::MIN)
    }

    fn sample_rate(&self) -> SampleRate {
        SampleRate::new(self.sample_rate.max(1)).unwrap_or(SampleRate::MIN)
    }

    fn total_duration(&self) -> Option<Duration> {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/parity_44k_stereo.mp3")
    }

    #[test]
    fn the_streamed_source_delivers_the_whole_song_in_its_own_format() {
        let (source, start) = StreamedSource::open(&fixture(), 0.0).expect("open");
        assert_eq!(start, 0.0);
        assert_eq!((source.channels().get(), source.sample_rate().get()), (2, 44_100));
        let total = source.total_duration().expect("the header gives the length");
        let samples = source.count();
        let seconds = samples as f64 / 2.0 / 44_100.0;
        assert!((seconds - total.as_secs_f64()).abs() < 0.05, "{seconds} s played of {total:?}");
        assert!(seconds > 4.9, "{seconds}");
    }

    #[test]
    fn seeking_starts_the_stream_later_in_the_song() {
        let (whole, _) = StreamedSource::open(&fixture(), 0.0).expect("open");
        let all = whole.count();
        let (later, start) = StreamedSource::open(&fixture(), 2.0).expect("open at 2 s");
        assert!((start - 2.0).abs() < 0.05, "started at {start}");
        let rest = later.count() as f64;
        let expected = all as f64 - 2.0 * 44_100.0 * 2.0;
        assert!((rest - expected).abs() < 0.05 * 44_100.0 * 2.0, "{rest} samples left, expected about {expected}");
    }

    #[test]
    fn a_missing_or_broken_file_is_refused_with_its_name() {
        let missing = StreamedSource::open(Path::new("/nowhere/gone.mp3"), 0.0).err().expect("error");
        assert!(missing.to_string().contains("/nowhere/gone.mp3"), "{missing}");
        let dir = tempfile::tempdir().expect("tempdir");
        let broken = dir.path().join("broken.mp3");
        std::fs::write(&broken, b"not audio at all").expect("write");
        let err = StreamedSource::open(&broken, 0.0).err().expect("error");
        assert!(err.to_string().contains("broken.mp3"), "{err}");
    }
}
