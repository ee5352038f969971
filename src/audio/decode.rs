//! Decoding any supported file (MP3, OGG/Vorbis, FLAC, WAV) into mono `f32` at the analysis rate.

use std::fs::File;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rubato::{FftFixedInOut, Resampler};
use symphonia::core::audio::{AudioBuffer, AudioBufferRef};
use symphonia::core::codecs::{CODEC_TYPE_NULL, CodecParameters, CodecType, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader, Packet, SeekMode, SeekTo};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataOptions, MetadataRevision, StandardTagKey};
use symphonia::core::probe::Hint;
use symphonia::core::units::Time;

use crate::error::AudioError;

/// The sample rate every analysis runs at (librosa's default, and the seeds').
pub const ANALYSIS_SAMPLE_RATE: u32 = 22_050;

/// File extensions the decoder is built for.
pub const AUDIO_EXTENSIONS: [&str; 6] = ["mp3", "ogg", "oga", "flac", "wav", "wave"];

/// Whether `path` has one of the extensions in [`AUDIO_EXTENSIONS`].
pub fn is_audio_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// Which part of a file to decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Span {
    /// Every sample (what `songspace mel` does, for parity with librosa).
    Whole,
    /// At most this many seconds from the middle of the file, so a 10-minute file costs the same
    /// as a 90-second one. Short files are decoded whole.
    Middle { max_seconds: f64 },
}

/// Tags read from the file's metadata (ID3v2, Vorbis comments, RIFF INFO).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub genres: Vec<String>,
}

/// Mono audio at [`ANALYSIS_SAMPLE_RATE`], with what we learned about the file on the way.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    pub samples: Vec<f32>,
    /// Length of the whole file in seconds (not only the decoded span).
    pub duration_seconds: f64,
    /// Where the decoded span starts in the file, in seconds.
    pub offset_seconds: f64,
    pub source_sample_rate: u32,
    pub source_channels: usize,
    /// Packets that failed to decode and were skipped (corrupt frames).
    pub corrupt_packets: usize,
    pub tags: Tags,
}

impl DecodedAudio {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(ANALYSIS_SAMPLE_RATE)
    }
}

/// Sample rates a file may state: telephone quality to the highest studio rate. A header outside
/// this range is lying (a 220 KB WAV claiming 1 Hz reads as 30 hours of audio).
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 8_000..=384_000;
/// Channel counts a file may state.
pub const CHANNEL_COUNTS: std::ops::RangeInclusive<usize> = 1..=32;
/// The most frames one decode keeps (128 MiB of f32 per buffer: 12.7 minutes at 44.1 kHz), so
/// no file can make it allocate without bound; the mono mix and the resampled copy together
/// stay under 1 GiB at any allowed rate. Analyses take 90 s.
pub const MAX_DECODED_FRAMES: usize = 1 << 25;

/// Decodes `path` to mono at [`ANALYSIS_SAMPLE_RATE`]: channels are averaged (librosa's
/// `to_mono`), then a band-limited FFT resampler converts the rate. Header values are checked
/// before anything is allocated from them, samples must be finite, and a panic inside the
/// decoder becomes this file's error.
pub fn decode_file(path: &Path, span: Span) -> Result<DecodedAudio, AudioError> {
    isolated(path, || decode_checked(path, span))
}

thread_local! {
    /// How many [`isolated`] calls this thread is inside.
    static ISOLATING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether a panic on this thread now would be caught by [`isolated`] and reported as a file's
/// error: a panic hook can then stay quiet instead of printing a backtrace for a bad file.
pub fn panic_is_isolated_here() -> bool {
    ISOLATING.with(|depth| depth.get() > 0)
}

/// Runs `work` on one file so that a panic in a decoder (symphonia asserts on some malformed
/// headers) is that file's error rather than the end of the program.
pub fn isolated<T>(path: &Path, work: impl FnOnce() -> Result<T, AudioError>) -> Result<T, AudioError> {
    ISOLATING.with(|depth| depth.set(depth.get() + 1));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    ISOLATING.with(|depth| depth.set(depth.get() - 1));
    outcome.unwrap_or_else(|panic| {
        let message = crate::error::panic_message(&*panic);
        Err(AudioError::Undecodable { path: path.to_path_buf(), detail: format!("the decoder failed ({message})") })
    })
}

/// Refuses a sample rate or channel count (from a header, or a decoded packet) that no real
/// audio has, before anything is sized from it.
pub(super) fn check_stated_format(path: &Path, rate: Option<u32>, channels: Option<usize>) -> Result<(), AudioError> {
    if let Some(rate) = rate.filter(|r| !SAMPLE_RATES.contains(r)) {
        return Err(AudioError::BadHeader {
            path: path.to_path_buf(),
            field: "sample rate",
            value: format!("{rate} Hz"),
            allowed: format!("{} to {} Hz", SAMPLE_RATES.start(), SAMPLE_RATES.end()),
        });
    }
    if let Some(count) = channels.filter(|c| !CHANNEL_COUNTS.contains(c)) {
        return Err(AudioError::BadHeader {
            path: path.to_path_buf(),
            field: "channel count",
            value: count.to_string(),
            allowed: format!("{} to {} channels", CHANNEL_COUNTS.start(), CHANNEL_COUNTS.end()),
        });
    }
    Ok(())
}

/// The largest sample magnitude accepted: 60 dB above full scale. Real float files stay near ±1;
/// fuzzed ones with values like 1e38 overflowed the resampler's FFT and panicked inside it.
pub const MAX_SAMPLE_MAGNITUDE: f32 = 1000.0;

/// The largest magnitude in `samples`, or `None` if any is NaN or infinite. One pass in eight
/// lanes: comparisons rather than `f32::max`, whose NaN rule keeps the compiler from vectors.
fn finite_peak(samples: &[f32]) -> Option<f32> {
    let (mut peaks, mut finite) = ([0.0f32; 8], [true; 8]);
    let chunks = samples.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for ((peak, ok), &v) in peaks.iter_mut().zip(&mut finite).zip(chunk) {
            let magnitude = v.abs();
            *ok &= magnitude <= f32::MAX;
            *peak = if magnitude > *peak { magnitude } else { *peak };
        }
    }
    let mut peak = 0.0f32;
    for magnitude in rest.iter().map(|v| v.abs()) {
        if !magnitude.is_finite() {
            return None;
        }
        peak = peak.max(magnitude);
    }
    finite.iter().all(|&ok| ok).then(|| peaks.iter().fold(peak, |p, &m| p.max(m)))
}

fn decode_checked(path: &Path, span: Span) -> Result<DecodedAudio, AudioError> {
    let (mono, rate, info) = decode_mono_native(path, span, ChannelChoice::Mix)?;
    let Some(peak) = finite_peak(&mono) else {
        return Err(AudioError::NotFinite { path: path.to_path_buf() });
    };
    if peak > MAX_SAMPLE_MAGNITUDE {
        return Err(AudioError::OutOfRange { path: path.to_path_buf(), peak, limit: MAX_SAMPLE_MAGNITUDE });
    }
    let samples = resample(&mono, rate, ANALYSIS_SAMPLE_RATE)
        .map_err(|detail| AudioError::Undecodable { path: path.to_path_buf(), detail })?;
    Ok(DecodedAudio {
        samples,
        duration_seconds: info.duration_seconds,
        offset_seconds: info.offset_seconds,
        source_sample_rate: rate,
        source_channels: info.channels,
        corrupt_packets: info.corrupt_packets,
        tags: info.tags,
    })
}

/// Reads only the tags, without decoding audio.
pub fn read_tags(path: &Path) -> Result<Tags, AudioError> {
    isolated(path, || read_tags_unchecked(path))
}

fn read_tags_unchecked(path: &Path) -> Result<Tags, AudioError> {
    let mut opened = open(path)?;
    Ok(opened.tags())
}

struct NativeInfo {
    duration_seconds: f64,
    offset_seconds: f64,
    channels: usize,
    corrupt_packets: usize,
    tags: Tags,
    /// The most runs one batch of packets was decoded in.
    #[cfg_attr(not(test), expect(dead_code, reason = "the tests check how a file was decoded"))]
    most_runs: usize,
}

pub(super) struct Opened {
    pub(super) path: PathBuf,
    pub(super) reader: Box<dyn FormatReader>,
    probe_metadata: Option<MetadataRevision>,
}

impl Opened {
    /// The first audio track: its id, its parameters and a decoder for it.
    pub(super) fn audio_decoder(&self) -> Result<(u32, CodecParameters, Box<dyn Decoder>), AudioError> {
        let track = self
            .reader
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| AudioError::UnknownFormat { path: self.path.clone() })?;
        let params = track.codec_params.clone();
        let decoder = make_decoder(&self.path, &params)?;
        Ok((track.id, params, decoder))
    }

    fn tags(&mut self) -> Tags {
        let mut tags = Tags::default();
        // Container metadata (Vorbis comments, RIFF INFO) wins over a leading ID3 tag found by the
        // probe, but both are read so either kind of file gets its tags.
        if let Some(rev) = self.probe_metadata.as_ref() {
            merge_tags(&mut tags, rev);
        }
        if let Some(rev) = self.reader.metadata().current() {
            merge_tags(&mut tags, rev);
        }
        tags
    }
}

fn merge_tags(tags: &mut Tags, rev: &MetadataRevision) {
    for tag in rev.tags() {
        let value = tag.value.to_string().trim().trim_matches('\0').trim().to_string();
        if value.is_empty() {
            continue;
        }
        match tag.std_key {
            Some(StandardTagKey::TrackTitle) => tags.title = Some(value),
            Some(StandardTagKey::Artist) => tags.artist = Some(value),
            Some(StandardTagKey::AlbumArtist) if tags.artist.is_none() => tags.artist = Some(value),
            Some(StandardTagKey::Album) => tags.album = Some(value),
            Some(StandardTagKey::Genre) => {
                for genre in split_genres(&value) {
                    if !tags.genres.contains(&genre) {
                        tags.genres.push(genre);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Splits a genre tag into genres: multiple values are separated by ';', '/', ',' or NUL (ID3v2.4),
/// and ID3v1-style numeric references like "(17)" are resolved to names.
fn split_genres(value: &str) -> Vec<String> {
    value
        .split([';', '/', ',', '\0'])
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(|g| {
            let inner = g.trim_start_matches('(').trim_end_matches(')');
            match inner.parse::<usize>() {
                Ok(n) if g.starts_with('(') || g.chars().all(|c| c.is_ascii_digit()) => {
                    ID3V1_GENRES.get(n).map_or_else(|| g.to_string(), |s| (*s).to_string())
                }
                _ => g.to_string(),
            }
        })
        .collect()
}

pub(super) fn open(path: &Path) -> Result<Opened, AudioError> {
    let mut file = File::open(path).map_err(|source| AudioError::Open { path: path.to_path_buf(), source })?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Err(AudioError::Empty { path: path.to_path_buf() });
    }
    check_wav_header(path, &mut file)?;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    // Gapless: trims the MP3 encoder delay and padding, as libsndfile/mpg123 (librosa) do, so our
    // frames line up with theirs.
    let format_options = FormatOptions { enable_gapless: true, ..Default::default() };
    let mut probed = symphonia::default::get_probe()
        .format(&hint, stream, &format_options, &MetadataOptions::default())
        .map_err(|e| match e {
            SymphoniaError::Unsupported(_) => AudioError::UnknownFormat { path: path.to_path_buf() },
            SymphoniaError::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                AudioError::UnknownFormat { path: path.to_path_buf() }
            }
            other => AudioError::Undecodable { path: path.to_path_buf(), detail: other.to_string() },
        })?;
    let probe_metadata = probed.metadata.get().and_then(|m| m.current().cloned());
    Ok(Opened { path: path.to_path_buf(), reader: probed.format, probe_metadata })
}

/// A WAV file states its rate and channel count in its `fmt ` chunk, and symphonia's WAV reader
/// panics while probing on some impossible values (a rate of 0 makes a zero time base). So those
/// two are read here first, from at most the first 64 KiB, and checked like any other header.
fn check_wav_header(path: &Path, file: &mut File) -> Result<(), AudioError> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |source| AudioError::Open { path: path.to_path_buf(), source };
    let mut head = Vec::with_capacity(4096);
    file.by_ref().take(64 * 1024).read_to_end(&mut head).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(());
    }
    let u32_at = |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let mut at = 12usize;
    while at + 8 <= head.len() {
        let size = u32_at(at + 4) as usize;
        if &head[at..at + 4] == b"fmt " {
            if at + 16 > head.len() {
                return Ok(());
            }
            let channels = u16::from_le_bytes([head[at + 10], head[at + 11]]);
            return check_stated_format(path, Some(u32_at(at + 12)), Some(usize::from(channels)));
        }
        // Chunks are padded to an even size.
        at = at.saturating_add(8).saturating_add(size).saturating_add(size & 1);
    }
    Ok(())
}

/// Which samples of a file with several channels make the mono signal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ChannelChoice {
    /// The average of all channels (librosa's `to_mono`).
    Mix,
    /// The first channel alone: for files whose channels cancel in the mix.
    First,
}

/// Appends the average of `planes` (the first `frames` samples of each) to `mono`. Each sample
/// is summed channel by channel in order and then scaled, as `iter().sum() * scale` over an
/// interleaved frame would, so the values are the same to the bit; done plane by plane, the
/// loops run on whole vectors.
fn mix_planes(planes: &[&[f32]], frames: usize, mono: &mut Vec<f32>) {
    let start = mono.len();
    mono.extend_from_slice(&planes[0][..frames]);
    if planes.len() == 1 {
        return;
    }
    let mixed = &mut mono[start..];
    for plane in &planes[1..] {
        for (m, &v) in mixed.iter_mut().zip(&plane[..frames]) {
            *m += v;
        }
    }
    let scale = 1.0 / planes.len() as f32;
    for m in mixed {
        *m *= scale;
    }
}

/// The sum of squares, in eight running sums so the additions need not wait on each other.
fn energy(samples: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = samples.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f64::from(v) * f64::from(v);
        }
    }
    lanes.iter().sum::<f64>() + rest.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>()
}

/// A file's packets are decoded in this many runs side by side (on rayon's threads) when it has
/// enough of them: MP3 decoding is most of an analysis, and symphonia's decoder uses one core.
/// Fixed, not the number of cores, though the samples do not depend on it (see below).
const DECODE_RUNS: usize = 2;

/// Packets a run other than the first decodes before its own and throws away. A decoder's state
/// reaches back a short way only: an MP3 frame's main data starts at most 511 bytes before it
/// (the bit reservoir: 5 frames at MPEG-1's lowest bit rate, 11 at MPEG-2's), its overlap-add and
/// synthesis filter bank one granule; a Vorbis block overlaps the one before it. After these
/// packets a fresh decoder is in the state the one that decoded everything before is in, so its
/// samples are the same to the bit (a test compares both ways on MP3, Vorbis and FLAC files).
const PREROLL_PACKETS: usize = 24;

/// A run gets at least this many packets of its own, so the preroll stays a small share.
const MIN_PACKETS_PER_RUN: usize = 8 * PREROLL_PACKETS;

/// Most bytes of packets read ahead before they are decoded (a 90 s span of a 320 kbit/s MP3 is
/// 3.6 MB); a longer span is read and decoded in several batches.
const MAX_BATCH_BYTES: usize = 16 << 20;

/// What decoding a run of packets gave.
#[derive(Default)]
struct DecodedRun {
    mono: Vec<f32>,
    /// Each decoded packet's energy in the mix and in its first channel (files with several
    /// channels, mixed): summed in packet order at the end, however the packets were split.
    energies: Vec<(f64, f64)>,
    /// The rate of the first packet decoded (0: none yet).
    sample_rate: u32,
    /// The channel count of the last packet decoded.
    channels: Option<usize>,
    corrupt_packets: usize,
    /// The first error met, keyed by where it happened (see [`error_position`]).
    first_error: Option<(usize, String)>,
}

/// Orders errors as a decoder reading and decoding packet by packet meets them: an error while
/// reading after `read` packets comes after decoding packet `read - 1` and before packet `read`.
fn error_position(packets_before: usize, while_decoding: bool) -> usize {
    if while_decoding { 2 * packets_before + 1 } else { 2 * packets_before }
}

fn keep_first_error(slot: &mut Option<(usize, String)>, position: usize, message: String) {
    if slot.as_ref().is_none_or(|(at, _)| position < *at) {
        *slot = Some((position, message));
    }
}

/// What every run of one file shares.
struct RunSettings<'a> {
    path: &'a Path,
    /// The rate the header states (0: none stated).
    header_rate: u32,
    channel_choice: ChannelChoice,
    /// Whether the span may be longer than [`MAX_DECODED_FRAMES`] (a run longer than that is
    /// refused as too long).
    unbounded: bool,
}

/// Decodes `packets` (whose first is packet number `first_index` of the file) with `decoder`,
/// appending to `mono` what packets from `keep_from` on give; those before only bring the
/// decoder's state up.
fn decode_run(
    settings: &RunSettings<'_>,
    decoder: &mut dyn Decoder,
    packets: &[Packet],
    first_index: usize,
    keep_from: usize,
    mono: Vec<f32>,
) -> Result<DecodedRun, AudioError> {
    let path = settings.path;
    let undecodable = |detail: String| AudioError::Undecodable { path: path.to_path_buf(), detail };
    let mut run = DecodedRun { mono, sample_rate: settings.header_rate, ..Default::default() };
    // Only for decoders whose samples are not f32 (FLAC, most WAV): MP3 and Vorbis hand f32
    // planes over, which are read where they lie.
    let mut converted: Option<AudioBuffer<f32>> = None;
    for (offset, packet) in packets.iter().enumerate() {
        let index = first_index + offset;
        if offset < keep_from {
            // The preroll: its samples and errors are the run before's to report.
            let _ = decoder.decode(packet);
            continue;
        }
        let decoded = match decoder.decode(packet) {
            Ok(buf) => buf,
            Err(SymphoniaError::DecodeError(msg)) => {
                run.corrupt_packets += 1;
                keep_first_error(&mut run.first_error, error_position(index, true), msg.to_string());
                continue;
            }
            Err(SymphoniaError::IoError(e)) => {
                run.corrupt_packets += 1;
                keep_first_error(&mut run.first_error, error_position(index, true), e.to_string());
                continue;
            }
            Err(e) => return Err(undecodable(e.to_string())),
        };
        let spec = *decoded.spec();
        if run.sample_rate == 0 {
            run.sample_rate = spec.rate;
        }
        check_stated_format(path, Some(spec.rate), Some(spec.channels.count()))?;
        if spec.rate != run.sample_rate {
            return Err(undecodable(rate_change(run.sample_rate, spec.rate)));
        }
        let channels = spec.channels.count();
        run.channels = Some(channels);
        if channels == 0 {
            continue;
        }
        let frames = decoded.frames();
        if frames == 0 {
            continue;
        }
        if run.mono.len() + frames > MAX_DECODED_FRAMES && settings.unbounded {
            return Err(too_long(path, spec.rate));
        }
        let planes = match &decoded {
            AudioBufferRef::F32(buf) => buf.planes(),
            other => {
                let buf = match converted.as_mut() {
                    Some(b) if b.capacity() >= other.capacity() && *b.spec() == spec => b,
                    _ => converted.insert(AudioBuffer::new(other.capacity() as u64, spec)),
                };
                other.convert(buf);
                buf.planes()
            }
        };
        let planes = planes.planes();
        let start = run.mono.len();
        match settings.channel_choice {
            ChannelChoice::Mix => mix_planes(planes, frames, &mut run.mono),
            ChannelChoice::First => run.mono.extend_from_slice(&planes[0][..frames]),
        }
        if channels > 1 && settings.channel_choice == ChannelChoice::Mix {
            run.energies.push((energy(&run.mono[start..]), energy(&planes[0][..frames])));
        }
    }
    Ok(run)
}

fn rate_change(from: u32, to: u32) -> String {
    format!("sample rate changes mid-stream ({from} Hz to {to} Hz)")
}

fn too_long(path: &Path, rate: u32) -> AudioError {
    let limit_minutes = MAX_DECODED_FRAMES as f64 / f64::from(rate) / 60.0;
    AudioError::TooLong { path: path.to_path_buf(), limit_minutes, rate }
}

impl DecodedRun {
    /// Appends `next`, the run that follows this one.
    fn append(&mut self, next: DecodedRun, settings: &RunSettings<'_>) -> Result<(), AudioError> {
        if self.sample_rate != 0 && next.sample_rate != 0 && next.sample_rate != self.sample_rate {
            let detail = rate_change(self.sample_rate, next.sample_rate);
            return Err(AudioError::Undecodable { path: settings.path.to_path_buf(), detail });
        }
        if self.sample_rate == 0 {
            self.sample_rate = next.sample_rate;
        }
        if self.mono.len() + next.mono.len() > MAX_DECODED_FRAMES && settings.unbounded {
            return Err(too_long(settings.path, self.sample_rate));
        }
        self.mono.extend_from_slice(&next.mono);
        self.energies.extend(next.energies);
        self.channels = next.channels.or(self.channels);
        self.corrupt_packets += next.corrupt_packets;
        if let Some((at, message)) = next.first_error {
            keep_first_error(&mut self.first_error, at, message);
        }
        Ok(())
    }
}

/// How many runs to decode a batch of `packets` in: [`DECODE_RUNS`] when there are enough of them
/// and threads to run them on, else one. Inside a pool's worker (an import decoding a file per
/// thread) the other threads have files of their own, so one run spares the preroll. The samples
/// are the same either way.
fn runs_for(packets: usize, codec: CodecType) -> usize {
    // PCM is copied, not decoded: nothing to share.
    let decoded = !matches!(
        codec,
        symphonia::core::codecs::CODEC_TYPE_PCM_S16LE
            | symphonia::core::codecs::CODEC_TYPE_PCM_S24LE
            | symphonia::core::codecs::CODEC_TYPE_PCM_S32LE
            | symphonia::core::codecs::CODEC_TYPE_PCM_F32LE
            | symphonia::core::codecs::CODEC_TYPE_PCM_U8
    );
    if super::threads_are_free() && decoded { (packets / MIN_PACKETS_PER_RUN).clamp(1, DECODE_RUNS) } else { 1 }
}

/// Decodes a batch of packets in `runs` runs side by side: the first with `decoder` (which
/// carries on from the batch before) appending to `so_far` (the samples of the batches before),
/// each other with a fresh decoder that first decodes the [`PREROLL_PACKETS`] before its own.
/// Returns the samples so far with the batch's, what else the batch found, and the decoder that
/// ended it, in the state of one that decoded every packet so far. `batch_frames` is the
/// packets' stated length, to size each run's buffer.
#[expect(clippy::too_many_arguments, reason = "one batch's whole description; called from one place")]
fn decode_batch(
    settings: &RunSettings<'_>,
    params: &CodecParameters,
    decoder: Box<dyn Decoder>,
    packets: &[Packet],
    first_index: usize,
    runs: usize,
    so_far: Vec<f32>,
    batch_frames: usize,
) -> Result<RunAndDecoder, AudioError> {
    let runs = runs.max(1);
    let per_run = packets.len().div_ceil(runs);
    // A stated length can lie: each buffer is at most the cap, and grows from there if needed.
    let run_frames = (batch_frames / runs).min(MAX_DECODED_FRAMES);
    let mut work = Vec::with_capacity(runs);
    work.push((decoder, 0, 0, so_far));
    for r in 1..runs {
        let decoder = make_decoder(settings.path, params)?;
        work.push((decoder, r * per_run - PREROLL_PACKETS, PREROLL_PACKETS, Vec::with_capacity(run_frames)));
    }
    let decoded: Vec<Result<RunAndDecoder, AudioError>> = work
        .into_par_iter()
        .enumerate()
        .map(|(r, (mut decoder, from, keep_from, mono))| {
            let to = ((r + 1) * per_run).min(packets.len());
            let run = decode_run(settings, decoder.as_mut(), &packets[from..to], first_index + from, keep_from, mono)?;
            Ok((run, decoder))
        })
        .collect();
    let mut batch = DecodedRun::default();
    let mut last_decoder = None;
    for result in decoded {
        let (run, decoder) = result?;
        if last_decoder.is_none() {
            batch = run;
        } else {
            batch.append(run, settings)?;
        }
        last_decoder = Some(decoder);
    }
    // `work` held at least the caller's decoder, so one came back.
    let decoder = last_decoder.ok_or_else(|| AudioError::Undecodable {
        path: settings.path.to_path_buf(),
        detail: "no decoder came back from decoding".into(),
    })?;
    Ok((batch, decoder))
}

/// A run's samples and the decoder that made them, in its state after them.
type RunAndDecoder = (DecodedRun, Box<dyn Decoder>);

/// A decoder for the track `params` describes.
fn make_decoder(path: &Path, params: &CodecParameters) -> Result<Box<dyn Decoder>, AudioError> {
    symphonia::default::get_codecs().make(params, &DecoderOptions::default()).map_err(|e| match e {
        SymphoniaError::Unsupported(what) => {
            AudioError::UnsupportedCodec { path: path.to_path_buf(), codec: what.to_string() }
        }
        other => AudioError::Undecodable { path: path.to_path_buf(), detail: other.to_string() },
    })
}

/// Decodes to mono at the file's own rate. Packets are read a batch at a time and each batch
/// decoded in runs side by side (see [`DECODE_RUNS`]); the samples are those of one decoder
/// decoding every packet in order.
fn decode_mono_native(
    path: &Path,
    span: Span,
    channel_choice: ChannelChoice,
) -> Result<(Vec<f32>, u32, NativeInfo), AudioError> {
    decode_mono_native_in(path, span, channel_choice, None)
}

/// [`decode_mono_native`], with the number of runs per batch fixed by `runs` (tests), else
/// chosen by [`runs_for`].
fn decode_mono_native_in(
    path: &Path,
    span: Span,
    channel_choice: ChannelChoice,
    runs: Option<usize>,
) -> Result<(Vec<f32>, u32, NativeInfo), AudioError> {
    let mut opened = open(path)?;
    let tags = opened.tags();

    let (track_id, params, mut decoder) = opened.audio_decoder()?;

    check_stated_format(path, params.sample_rate, params.channels.map(|c| c.count()))?;
    let header_rate = params.sample_rate.unwrap_or(0);
    let known_frames = params.n_frames.filter(|&n| n > 0);
    let known_duration = match (known_frames, header_rate) {
        (Some(n), r) if r > 0 => Some(n as f64 / f64::from(r)),
        _ => None,
    };

    // For a bounded span of a long file, jump to the middle; a coarse seek is enough here.
    let mut offset_seconds = 0.0;
    let mut max_native_frames = usize::MAX;
    if let Span::Middle { max_seconds } = span
        && let Some(total) = known_duration
    {
        if total > max_seconds {
            let start = (total - max_seconds) / 2.0;
            let seeked = opened
                .reader
                .seek(SeekMode::Coarse, SeekTo::Time { time: Time::from(start), track_id: Some(track_id) });
            if let Ok(to) = seeked {
                decoder.reset();
                offset_seconds = if header_rate > 0 { to.actual_ts as f64 / f64::from(header_rate) } else { start };
            }
        }
        if header_rate > 0 {
            max_native_frames = (max_seconds * f64::from(header_rate)).ceil() as usize;
        }
    } else if let Span::Middle { max_seconds } = span
        && header_rate > 0
    {
        max_native_frames = (max_seconds * f64::from(header_rate)).ceil() as usize;
    }

    let settings = RunSettings { path, header_rate, channel_choice, unbounded: max_native_frames > MAX_DECODED_FRAMES };
    // Sized once from the header when it states a length, within the span and the cap (a lying
    // header can make this too large, never unbounded; pages never written cost nothing).
    let expected_frames = known_frames.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    // What the batches found besides their samples, which go straight on to `so_far`.
    let mut decoded = DecodedRun { sample_rate: header_rate, ..Default::default() };
    let mut so_far = Vec::with_capacity(expected_frames.min(max_native_frames).min(MAX_DECODED_FRAMES));
    // Timestamps of packets read past the span, to learn the file's length when no header said.
    let mut last_packet_end: u64 = 0;
    let mut packets_read = 0usize;
    let mut read_errors = 0usize;
    let mut at_end = false;
    let mut batch: Vec<Packet> = Vec::new();
    let mut most_runs = 0usize;

    while !at_end {
        // Read a batch: the packets the span still needs by their stated lengths (a lying length
        // only makes the batch shorter or longer: another batch follows, or the tail is cut),
        // at most MAX_BATCH_BYTES of them.
        let wanted = max_native_frames.saturating_sub(so_far.len()) as u64;
        let (mut batch_frames, mut batch_bytes) = (0u64, 0usize);
        let first_index = packets_read;
        batch.clear();
        while batch_frames < wanted && batch_bytes < MAX_BATCH_BYTES {
            let packet = match opened.reader.next_packet() {
                Ok(p) => p,
                Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    at_end = true;
                    break;
                }
                Err(SymphoniaError::ResetRequired) => {
                    at_end = true;
                    break;
                }
                Err(SymphoniaError::DecodeError(msg)) => {
                    // A damaged container frame: skip it, as players do.
                    read_errors += 1;
                    let position = error_position(packets_read, false);
                    keep_first_error(&mut decoded.first_error, position, msg.to_string());
                    if read_errors > 1000 && packets_read == 0 {
                        at_end = true;
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    keep_first_error(&mut decoded.first_error, error_position(packets_read, false), e.to_string());
                    at_end = true;
                    break;
                }
            };
            if packet.track_id() != track_id {
                continue;
            }
            last_packet_end = last_packet_end.max(packet.ts().saturating_add(packet.dur()));
            batch_frames = batch_frames.saturating_add(packet.dur().max(1));
            batch_bytes += packet.data.len();
            packets_read += 1;
            batch.push(packet);
        }
        if !batch.is_empty() {
            let runs = runs.unwrap_or_else(|| runs_for(batch.len(), params.codec));
            // Each run other than the first needs packets of its own beyond its preroll.
            let runs = if batch.len() >= runs * (PREROLL_PACKETS + 1) { runs.max(1) } else { 1 };
            most_runs = most_runs.max(runs);
            let (mut run, carried_on) =
                decode_batch(&settings, &params, decoder, &batch, first_index, runs, so_far, batch_frames as usize)?;
            decoder = carried_on;
            so_far = std::mem::take(&mut run.mono);
            decoded.append(run, &settings)?;
        }
        if so_far.len() >= max_native_frames {
            // Past the span: only keep reading packet headers when the length is unknown.
            if known_duration.is_none() {
                loop {
                    match opened.reader.next_packet() {
                        Ok(packet) if packet.track_id() == track_id => {
                            last_packet_end = last_packet_end.max(packet.ts().saturating_add(packet.dur()));
                        }
                        Ok(_) | Err(SymphoniaError::DecodeError(_)) => {}
                        Err(_) => break,
                    }
                }
            }
            break;
        }
    }
    let corrupt_packets = decoded.corrupt_packets + read_errors;
    let sample_rate = decoded.sample_rate;
    let channels = decoded.channels.unwrap_or_else(|| params.channels.map(|c| c.count()).unwrap_or(0));
    let (mix_energy, first_energy) =
        decoded.energies.iter().fold((0.0f64, 0.0f64), |(mix, first), &(m, f)| (mix + m, first + f));
    let mut mono = so_far;
    // Channels in opposite phase cancel in the mix (a "karaoke" or phase-inverted file): the mix
    // is then far quieter than either channel, and one channel is the truer picture of the song.
    // Rare enough that decoding once more for it costs less than keeping that channel for all.
    if channel_choice == ChannelChoice::Mix && first_energy > 0.0 && mix_energy < 1e-4 * first_energy {
        return decode_mono_native_in(path, span, ChannelChoice::First, runs);
    }

    if mono.len() > max_native_frames {
        mono.truncate(max_native_frames);
    }
    if mono.is_empty() || sample_rate == 0 {
        let detail = match decoded.first_error {
            Some((_, e)) => format!("no audio could be decoded ({e})"),
            None => "the file holds no audio frames".to_string(),
        };
        return Err(AudioError::Undecodable { path: path.to_path_buf(), detail });
    }
    let decoded_seconds = mono.len() as f64 / f64::from(sample_rate);
    let duration_seconds = known_duration
        .or_else(|| (last_packet_end > 0).then(|| last_packet_end as f64 / f64::from(sample_rate)))
        .unwrap_or(decoded_seconds)
        .max(offset_seconds + decoded_seconds);
    Ok((mono, sample_rate, NativeInfo { duration_seconds, offset_seconds, channels, corrupt_packets, tags, most_runs }))
}

/// Chunks of the resampler's input each run of [`resample`] gets at least, so that the chunk a
/// run resamples first and throws away stays a small share.
const MIN_CHUNKS_PER_RESAMPLING_RUN: usize = 64;

/// Band-limited resampling of a whole mono signal from `from` Hz to `to` Hz. The output has
/// `ceil(len * to / from)` samples, aligned with the input (the resampler's delay is removed).
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    resample_in(input, from, to, None)
}

/// [`resample`] in `runs` runs side by side (tests), else as many as [`DECODE_RUNS`] when the
/// signal is long enough and threads are free. The FFT resampler works chunk by chunk and keeps
/// from one chunk to the next only the overlap its last chunk left, so a run that first
/// resamples the chunk before its own (and drops that output) gives the same samples to the bit
/// as one resampler going through everything.
fn resample_in(input: &[f32], from: u32, to: u32, runs: Option<usize>) -> Result<Vec<f32>, String> {
    if from == to {
        return Ok(input.to_vec());
    }
    let expected = (input.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    let new_resampler = || {
        FftFixedInOut::<f32>::new(from as usize, to as usize, 1024, 1)
            .map_err(|e| format!("cannot resample {from} Hz to {to} Hz: {e}"))
    };
    let resampler = new_resampler()?;
    // The first `delay` samples out are the resampler's latency: dropped.
    let delay = resampler.output_delay();
    let chunk_in = resampler.input_frames_next();
    let chunk_out = resampler.output_frames_next();
    // Whole chunks, then zero-padded ones until the delayed tail has come out.
    let chunks = (expected + delay).div_ceil(chunk_out);
    let runs = match runs {
        Some(runs) => runs,
        None if super::threads_are_free() => (chunks / MIN_CHUNKS_PER_RESAMPLING_RUN).min(DECODE_RUNS),
        None => 1,
    }
    .clamp(1, chunks.max(1));
    let per_run = chunks.div_ceil(runs);
    let mut first_resampler = Some(resampler);
    let work: Vec<_> = (0..runs).map(|r| (r, if r == 0 { first_resampler.take() } else { None })).collect();
    let pieces: Vec<Result<Vec<f32>, String>> = work
        .into_par_iter()
        .map(|(r, resampler)| {
            let mut resampler = match resampler {
                Some(resampler) => resampler,
                None => new_resampler()?,
            };
            let (first, last) = (r * per_run, ((r + 1) * per_run).min(chunks));
            let mut piece = Vec::with_capacity((last - first) * chunk_out);
            let mut in_buf = vec![vec![0.0f32; chunk_in]; 1];
            let mut out_buf = vec![vec![0.0f32; chunk_out]; 1];
            for chunk in first.saturating_sub(1)..last {
                let at = (chunk * chunk_in).min(input.len());
                let take = chunk_in.min(input.len() - at);
                in_buf[0][..take].copy_from_slice(&input[at..at + take]);
                in_buf[0][take..].fill(0.0);
                let (_, written) = resampler
                    .process_into_buffer(&in_buf, &mut out_buf, None)
                    .map_err(|e| format!("resampling failed: {e}"))?;
                if chunk >= first {
                    piece.extend_from_slice(&out_buf[0][..written]);
                }
            }
            Ok(piece)
        })
        .collect();
    let mut output = Vec::with_capacity(expected);
    let mut to_skip = delay;
    for piece in pieces {
        let piece = piece?;
        let skipped = to_skip.min(piece.len());
        to_skip -= skipped;
        output.extend_from_slice(&piece[skipped..]);
    }
    output.truncate(expected);
    Ok(output)
}

/// ID3v1 genre names, indexed by their number (the Winamp extensions included).
const ID3V1_GENRES: [&str; 80] = [
    "Blues",
    "Classic Rock",
    "Country",
    "Dance",
    "Disco",
    "Funk",
    "Grunge",
    "Hip-Hop",
    "Jazz",
    "Metal",
    "New Age",
    "Oldies",
    "Other",
    "Pop",
    "R&B",
    "Rap",
    "Reggae",
    "Rock",
    "Techno",
    "Industrial",
    "Alternative",
    "Ska",
    "Death Metal",
    "Pranks",
    "Soundtrack",
    "Euro-Techno",
    "Ambient",
    "Trip-Hop",
    "Vocal",
    "Jazz+Funk",
    "Fusion",
    "Trance",
    "Classical",
    "Instrumental",
    "Acid",
    "House",
    "Game",
    "Sound Clip",
    "Gospel",
    "Noise",
    "AlternRock",
    "Bass",
    "Soul",
    "Punk",
    "Space",
    "Meditative",
    "Instrumental Pop",
    "Instrumental Rock",
    "Ethnic",
    "Gothic",
    "Darkwave",
    "Techno-Industrial",
    "Electronic",
    "Pop-Folk",
    "Eurodance",
    "Dream",
    "Southern Rock",
    "Comedy",
    "Cult",
    "Gangsta",
    "Top 40",
    "Christian Rap",
    "Pop/Funk",
    "Jungle",
    "Native American",
    "Cabaret",
    "New Wave",
    "Psychadelic",
    "Rave",
    "Showtunes",
    "Trailer",
    "Lo-Fi",
    "Tribal",
    "Acid Punk",
    "Acid Jazz",
    "Polka",
    "Retro",
    "Musical",
    "Rock & Roll",
    "Hard Rock",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_mixed_plane_by_plane_are_the_interleaved_average_to_the_bit() {
        let mut state = 11u64;
        let mut next = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.0
        };
        for channels in 1..=6 {
            let planes: Vec<Vec<f32>> = (0..channels).map(|_| (0..1000).map(|_| next()).collect()).collect();
            let plane_refs: Vec<&[f32]> = planes.iter().map(Vec::as_slice).collect();
            let mut mono = vec![9.0];
            mix_planes(&plane_refs, 997, &mut mono);
            assert_eq!(mono.len(), 998);
            let scale = 1.0 / channels as f32;
            for (t, &mixed) in mono[1..].iter().enumerate() {
                // What the decoder did before: each interleaved frame summed, then scaled.
                let expected = planes.iter().map(|p| p[t]).sum::<f32>() * scale;
                assert_eq!(mixed.to_bits(), expected.to_bits(), "{channels} channels, frame {t}");
            }
        }
    }

    #[test]
    fn the_peak_check_finds_the_largest_magnitude_and_any_value_that_is_not_finite() {
        let mut samples: Vec<f32> = (0..1003).map(|i| ((i * 37 % 101) as f32 - 50.0) / 10.0).collect();
        assert_eq!(finite_peak(&samples), Some(5.0));
        assert_eq!(finite_peak(&[]), Some(0.0));
        samples[1001] = -7.5; // in the tail past the last whole chunk of 8
        assert_eq!(finite_peak(&samples), Some(7.5));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 500, 1002] {
                let mut with_bad = samples.clone();
                with_bad[at] = bad;
                assert_eq!(finite_peak(&with_bad), None, "{bad} at {at}");
            }
        }
    }

    #[test]
    fn genre_tags_are_split_and_numeric_references_resolved() {
        assert_eq!(split_genres("Rock; Pop"), vec!["Rock", "Pop"]);
        assert_eq!(split_genres("(17)"), vec!["Rock"]);
        assert_eq!(split_genres("52"), vec!["Electronic"]);
        assert_eq!(split_genres("Drum & Bass"), vec!["Drum & Bass"]);
        assert!(split_genres("  ").is_empty());
    }

    /// Files of each decoded kind, long enough to be decoded in several runs: low bit rates
    /// (where an MP3 frame's main data reaches furthest back), one, two and three channels.
    fn files_to_decode_in_runs(dir: &Path) -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<PathBuf> = ["italian-madrigal", "hornpipe"]
            .iter()
            .filter_map(|style| std::fs::read_dir(root.join("assets/demo/music").join(style)).ok()?.next())
            .filter_map(|entry| Some(entry.ok()?.path()))
            .collect();
        assert_eq!(files.len(), 2, "two demo songs");
        let made: [(&str, &[&str]); 7] = [
            ("mp3-mpeg1-32k.mp3", &["-ac", "2", "-ar", "48000", "-c:a", "libmp3lame", "-b:a", "32k"]),
            ("mp3-mpeg2-8k.mp3", &["-ac", "1", "-ar", "24000", "-c:a", "libmp3lame", "-b:a", "8k"]),
            ("mp3-mpeg25-vbr.mp3", &["-ac", "1", "-ar", "8000", "-c:a", "libmp3lame", "-q:a", "9"]),
            ("mp3-vbr.mp3", &["-ac", "2", "-ar", "44100", "-c:a", "libmp3lame", "-q:a", "2"]),
            ("vorbis.ogg", &["-ac", "2", "-ar", "44100", "-c:a", "libvorbis", "-q:a", "3"]),
            ("vorbis-3ch.ogg", &["-ac", "3", "-ar", "32000", "-c:a", "libvorbis"]),
            ("flac-24bit.flac", &["-ac", "2", "-ar", "44100", "-c:a", "flac", "-sample_fmt", "s32"]),
        ];
        for (name, args) in made {
            let out = dir.join(name);
            // Music-like material: chords that change, with noise, so every band carries data.
            let source = "aevalsrc=0.3*sin(2*PI*(220+40*floor(t))*t)+0.2*sin(2*PI*(330+25*floor(2*t))*t)\
                          +0.1*sin(2*PI*(1760+300*sin(t))*t):d=40,aeval=val(0)+0.05*random(0)";
            let status = std::process::Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i", source])
                .args(args)
                .arg(&out)
                .status()
                .expect("ffmpeg (tools/setup-system.sh installs it)");
            assert!(status.success(), "ffmpeg could not make {name}");
            files.push(out);
        }
        files
    }

    #[test]
    fn decoding_in_runs_side_by_side_gives_the_samples_of_one_decoder_to_the_bit() {
        let dir = tempfile::tempdir().expect("temp dir");
        for file in files_to_decode_in_runs(dir.path()) {
            for span in [Span::Whole, Span::Middle { max_seconds: 20.0 }] {
                let (one, rate, info) =
                    decode_mono_native_in(&file, span, ChannelChoice::Mix, Some(1)).expect("decodes");
                assert!(one.len() as f64 / f64::from(rate) > 5.0, "{}: {} samples", file.display(), one.len());
                assert_eq!(info.most_runs, 1);
                for runs in [2, 3, 5] {
                    let (split, split_rate, split_info) =
                        decode_mono_native_in(&file, span, ChannelChoice::Mix, Some(runs)).expect("decodes");
                    assert_eq!((split_rate, split.len()), (rate, one.len()), "{} in {runs} runs", file.display());
                    let first_difference = one.iter().zip(&split).position(|(a, b)| a.to_bits() != b.to_bits());
                    assert_eq!(first_difference, None, "{} in {runs} runs, {span:?}", file.display());
                    assert_eq!(split_info.corrupt_packets, info.corrupt_packets);
                    assert_eq!(split_info.channels, info.channels);
                    assert_eq!(split_info.duration_seconds, info.duration_seconds);
                    assert_eq!(split_info.most_runs, runs, "{} was not decoded in {runs} runs", file.display());
                }
            }
        }
    }

    #[test]
    fn resampling_in_runs_side_by_side_gives_the_samples_of_one_resampler_to_the_bit() {
        let signal = crate::audio::tone_with_noise(44_100 * 7 + 123, 5);
        for (from, to) in [(44_100, 22_050), (48_000, 22_050), (8_000, 22_050)] {
            let one = resample_in(&signal, from, to, Some(1)).expect("resample");
            for runs in [2, 3, 7] {
                let split = resample_in(&signal, from, to, Some(runs)).expect("resample");
                assert_eq!(split.len(), one.len());
                let first_difference = one.iter().zip(&split).position(|(a, b)| a.to_bits() != b.to_bits());
                assert_eq!(first_difference, None, "{from} Hz to {to} Hz in {runs} runs");
            }
        }
    }

    #[test]
    fn resampling_keeps_length_alignment_and_a_tone_in_band() {
        let from = 44_100;
        let n = from as usize * 2;
        // A 1 kHz tone survives with its amplitude and phase; alignment is checked by comparing
        // with the same tone generated at the target rate.
        let tone: Vec<f32> =
            (0..n).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / from as f32).sin()).collect();
        let out = resample(&tone, from, 22_050).expect("resample");
        assert_eq!(out.len(), n / 2);
        let reference: Vec<f32> =
            (0..n / 2).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 22_050.0).sin()).collect();
        let mid = &out[2000..out.len() - 2000];
        let err = mid.iter().zip(&reference[2000..]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-2, "max error {err}");
    }

    #[test]
    fn resampling_removes_content_above_the_new_nyquist() {
        let from = 44_100;
        let n = from as usize;
        // 15 kHz is above 11,025 Hz: it must not fold back into the band.
        let tone: Vec<f32> =
            (0..n).map(|i| (2.0 * std::f32::consts::PI * 15_000.0 * i as f32 / from as f32).sin()).collect();
        let out = resample(&tone, from, 22_050).expect("resample");
        let rms = (out[1000..out.len() - 1000].iter().map(|x| x * x).sum::<f32>() / (out.len() - 2000) as f32).sqrt();
        assert!(rms < 1e-3, "aliased energy rms {rms}");
    }
}
