//! Decoding any supported file (MP3, OGG/Vorbis, FLAC, WAV) into mono `f32` at the analysis rate.

use std::fs::File;
use std::path::{Path, PathBuf};

use rubato::{FftFixedInOut, Resampler};
use symphonia::core::audio::{AudioBuffer, AudioBufferRef};
use symphonia::core::codecs::{CODEC_TYPE_NULL, CodecParameters, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo};
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
        let decoder =
            symphonia::default::get_codecs().make(&params, &DecoderOptions::default()).map_err(|e| match e {
                SymphoniaError::Unsupported(what) => {
                    AudioError::UnsupportedCodec { path: self.path.clone(), codec: what.to_string() }
                }
                other => AudioError::Undecodable { path: self.path.clone(), detail: other.to_string() },
            })?;
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

/// Decodes to mono at the file's own rate.
fn decode_mono_native(
    path: &Path,
    span: Span,
    channel_choice: ChannelChoice,
) -> Result<(Vec<f32>, u32, NativeInfo), AudioError> {
    let mut opened = open(path)?;
    let tags = opened.tags();
    let undecodable = |detail: String| AudioError::Undecodable { path: opened.path.clone(), detail };

    let (track_id, params, mut decoder) = opened.audio_decoder()?;

    check_stated_format(path, params.sample_rate, params.channels.map(|c| c.count()))?;
    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let known_frames = params.n_frames.filter(|&n| n > 0);
    let known_duration = match (known_frames, sample_rate) {
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
                offset_seconds = if sample_rate > 0 { to.actual_ts as f64 / f64::from(sample_rate) } else { start };
            }
        }
        if sample_rate > 0 {
            max_native_frames = (max_seconds * f64::from(sample_rate)).ceil() as usize;
        }
    } else if let Span::Middle { max_seconds } = span
        && sample_rate > 0
    {
        max_native_frames = (max_seconds * f64::from(sample_rate)).ceil() as usize;
    }

    // Sized once from the header when it states a length, within the span and the cap (a lying
    // header can make this too large, never unbounded; pages never written cost nothing).
    let expected_frames = known_frames.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut mono: Vec<f32> = Vec::with_capacity(expected_frames.min(max_native_frames).min(MAX_DECODED_FRAMES));
    // Energies of the mix and of the first channel, to notice channels that cancel in the mix.
    let (mut mix_energy, mut first_energy) = (0.0f64, 0.0f64);
    let mut channels = params.channels.map(|c| c.count()).unwrap_or(0);
    let mut corrupt_packets = 0usize;
    let mut decoded_packets = 0usize;
    // Only for decoders whose samples are not f32 (FLAC, most WAV): MP3 and Vorbis hand f32
    // planes over, which are read where they lie.
    let mut converted: Option<AudioBuffer<f32>> = None;
    // Timestamps of packets read past the span, to learn the file's length when no header said.
    let mut last_packet_end: u64 = 0;
    let mut first_error: Option<String> = None;

    loop {
        let packet = match opened.reader.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(SymphoniaError::DecodeError(msg)) => {
                // A damaged container frame: skip it, as players do.
                corrupt_packets += 1;
                first_error.get_or_insert_with(|| msg.to_string());
                if corrupt_packets > 1000 && decoded_packets == 0 {
                    break;
                }
                continue;
            }
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
                break;
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        last_packet_end = last_packet_end.max(packet.ts() + packet.dur());
        if mono.len() >= max_native_frames {
            // Past the span: only keep reading packet headers when the length is unknown.
            if known_duration.is_some() {
                break;
            }
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(buf) => buf,
            Err(SymphoniaError::DecodeError(msg)) => {
                corrupt_packets += 1;
                first_error.get_or_insert_with(|| msg.to_string());
                continue;
            }
            Err(SymphoniaError::IoError(e)) => {
                first_error.get_or_insert_with(|| e.to_string());
                corrupt_packets += 1;
                continue;
            }
            Err(e) => return Err(undecodable(e.to_string())),
        };
        decoded_packets += 1;
        let spec = *decoded.spec();
        if sample_rate == 0 {
            sample_rate = spec.rate;
        }
        check_stated_format(path, Some(spec.rate), Some(spec.channels.count()))?;
        if spec.rate != sample_rate {
            return Err(undecodable(format!("sample rate changes mid-stream ({sample_rate} Hz to {} Hz)", spec.rate)));
        }
        channels = spec.channels.count();
        if channels == 0 {
            continue;
        }
        let frames = decoded.frames();
        if frames == 0 {
            continue;
        }
        if mono.len() + frames > MAX_DECODED_FRAMES && max_native_frames > MAX_DECODED_FRAMES {
            let limit_minutes = MAX_DECODED_FRAMES as f64 / f64::from(sample_rate) / 60.0;
            return Err(AudioError::TooLong { path: path.to_path_buf(), limit_minutes, rate: sample_rate });
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
        let start = mono.len();
        match channel_choice {
            ChannelChoice::Mix => mix_planes(planes, frames, &mut mono),
            ChannelChoice::First => mono.extend_from_slice(&planes[0][..frames]),
        }
        if channels > 1 && channel_choice == ChannelChoice::Mix {
            mix_energy += energy(&mono[start..]);
            first_energy += energy(&planes[0][..frames]);
        }
    }
    // Channels in opposite phase cancel in the mix (a "karaoke" or phase-inverted file): the mix
    // is then far quieter than either channel, and one channel is the truer picture of the song.
    // Rare enough that decoding once more for it costs less than keeping that channel for all.
    if channel_choice == ChannelChoice::Mix && first_energy > 0.0 && mix_energy < 1e-4 * first_energy {
        return decode_mono_native(path, span, ChannelChoice::First);
    }

    if mono.len() > max_native_frames {
        mono.truncate(max_native_frames);
    }
    if mono.is_empty() || sample_rate == 0 {
        let detail = match first_error {
            Some(e) => format!("no audio could be decoded ({e})"),
            None => "the file holds no audio frames".to_string(),
        };
        return Err(AudioError::Undecodable { path: path.to_path_buf(), detail });
    }
    let decoded_seconds = mono.len() as f64 / f64::from(sample_rate);
    let duration_seconds = known_duration
        .or_else(|| (last_packet_end > 0).then(|| last_packet_end as f64 / f64::from(sample_rate)))
        .unwrap_or(decoded_seconds)
        .max(offset_seconds + decoded_seconds);
    Ok((mono, sample_rate, NativeInfo { duration_seconds, offset_seconds, channels, corrupt_packets, tags }))
}

/// Band-limited resampling of a whole mono signal from `from` Hz to `to` Hz. The output has
/// `ceil(len * to / from)` samples, aligned with the input (the resampler's delay is removed).
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    if from == to {
        return Ok(input.to_vec());
    }
    let expected = (input.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    let mut resampler = FftFixedInOut::<f32>::new(from as usize, to as usize, 1024, 1)
        .map_err(|e| format!("cannot resample {from} Hz to {to} Hz: {e}"))?;
    let delay = resampler.output_delay();
    let chunk_in = resampler.input_frames_next();
    let chunk_out = resampler.output_frames_next();
    let mut output = Vec::with_capacity(expected + chunk_out);
    let mut out_buf = vec![vec![0.0f32; chunk_out]; 1];
    let mut in_buf = vec![vec![0.0f32; chunk_in]; 1];
    let mut pos = 0;
    // The first `delay` samples out are the resampler's latency: dropped as they come.
    let mut to_skip = delay;
    // Feed whole chunks, then zero-padded ones until the delayed tail has come out.
    while output.len() < expected {
        let take = chunk_in.min(input.len().saturating_sub(pos));
        in_buf[0][..take].copy_from_slice(&input[pos..pos + take]);
        in_buf[0][take..].fill(0.0);
        pos += take;
        let (_, written) = resampler
            .process_into_buffer(&in_buf, &mut out_buf, None)
            .map_err(|e| format!("resampling failed: {e}"))?;
        let skipped = to_skip.min(written);
        to_skip -= skipped;
        output.extend_from_slice(&out_buf[0][skipped..written]);
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
