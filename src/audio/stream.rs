//! Decoding for playback: the file's own rate and channels, packet by packet, from any start
//! time, so a player can begin after the first packet instead of after the whole file.

use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::Decoder;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{SeekMode, SeekTo};
use symphonia::core::units::Time;

use super::decode::{Opened, check_stated_format, isolated, open};
use crate::error::AudioError;

/// One decoded packet: interleaved samples and the format they are in.
#[derive(Debug, Clone, PartialEq)]
pub struct PcmChunk {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub channels: u16,
}

/// Interleaved `f32` samples of a file, a packet at a time.
pub struct PcmStream {
    opened: Opened,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    sample_rate: u32,
    channels: u16,
    duration_seconds: Option<f64>,
    buffer: Option<SampleBuffer<f32>>,
    /// Where the stream started, in seconds (after a seek, where the reader really landed).
    start_seconds: f64,
}

impl PcmStream {
    /// Opens `path` and positions it at `start_seconds` (clamped to the file).
    pub fn open(path: &Path, start_seconds: f64) -> Result<Self, AudioError> {
        isolated(path, || Self::open_unchecked(path, start_seconds))
    }

    fn open_unchecked(path: &Path, start_seconds: f64) -> Result<Self, AudioError> {
        let mut opened = open(path)?;
        let (track_id, params, mut decoder) = opened.audio_decoder()?;
        check_stated_format(path, params.sample_rate, params.channels.map(|c| c.count()))?;
        let sample_rate = params.sample_rate.unwrap_or(0);
        let channels = params.channels.map(|c| c.count() as u16).unwrap_or(0);
        let duration_seconds = match (params.n_frames, sample_rate) {
            (Some(n), r) if r > 0 && n > 0 => Some(n as f64 / f64::from(r)),
            _ => None,
        };
        let mut start = 0.0;
        if start_seconds > 0.0 {
            let seeked = opened
                .reader
                .seek(SeekMode::Accurate, SeekTo::Time { time: Time::from(start_seconds), track_id: Some(track_id) });
            match seeked {
                Ok(to) => {
                    decoder.reset();
                    start = if sample_rate > 0 { to.actual_ts as f64 / f64::from(sample_rate) } else { start_seconds };
                }
                Err(e) => {
                    return Err(AudioError::Undecodable {
                        path: path.to_path_buf(),
                        detail: format!("cannot seek to {start_seconds:.1} s: {e}"),
                    });
                }
            }
        }
        Ok(Self {
            opened,
            decoder,
            track_id,
            sample_rate,
            channels,
            duration_seconds,
            buffer: None,
            start_seconds: start,
        })
    }

    /// The next packet's samples, interleaved, with the rate and channel count they are at
    /// (known for certain only once a packet is decoded). `None` at the end of the file.
    pub fn next_chunk(&mut self) -> Option<Result<PcmChunk, AudioError>> {
        let path = self.opened.path.clone();
        // A panic inside the decoder ends this stream with an error, not the player's thread.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.next_chunk_unchecked())).unwrap_or_else(|_| {
            Some(Err(AudioError::Undecodable { path, detail: "the decoder failed on a packet".into() }))
        })
    }

    fn next_chunk_unchecked(&mut self) -> Option<Result<PcmChunk, AudioError>> {
        loop {
            let packet = match self.opened.reader.next_packet() {
                Ok(p) => p,
                Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
                Err(SymphoniaError::ResetRequired) => return None,
                // A damaged container frame: skip it, as players do.
                Err(SymphoniaError::DecodeError(_)) => continue,
                Err(e) => return Some(Err(self.undecodable(e))),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(buf) => buf,
                // A damaged frame: skip it, as players do.
                Err(SymphoniaError::DecodeError(_)) | Err(SymphoniaError::IoError(_)) => continue,
                Err(e) => return Some(Err(self.undecodable(e))),
            };
            let spec = *decoded.spec();
            let frames = decoded.frames();
            let channels = spec.channels.count();
            if frames == 0 || channels == 0 {
                continue;
            }
            if let Err(e) = check_stated_format(&self.opened.path, Some(spec.rate), Some(channels)) {
                return Some(Err(e));
            }
            let buffer = match self.buffer.as_mut() {
                Some(b) if b.capacity() >= frames * channels => b,
                _ => self.buffer.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
            };
            buffer.copy_interleaved_ref(decoded);
            self.sample_rate = spec.rate;
            self.channels = channels as u16;
            // Speakers get silence where a file holds no numbers (NaN, infinity), and nothing
            // beyond full scale.
            let samples = buffer.samples()[..frames * channels]
                .iter()
                .map(|&v| if v.is_finite() { v.clamp(-1.0, 1.0) } else { 0.0 });
            return Some(Ok(PcmChunk {
                samples: samples.collect(),
                sample_rate: spec.rate,
                channels: channels as u16,
            }));
        }
    }

    fn undecodable(&self, e: SymphoniaError) -> AudioError {
        AudioError::Undecodable { path: self.opened.path.clone(), detail: e.to_string() }
    }

    /// The rate the header announces (0 if it does not).
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn channels(&self) -> u16 {
        self.channels
    }

    pub fn duration_seconds(&self) -> Option<f64> {
        self.duration_seconds
    }

    pub fn start_seconds(&self) -> f64 {
        self.start_seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_yields_the_whole_file_at_its_own_rate_and_can_start_later() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/parity_44k_stereo.mp3");
        let mut stream = PcmStream::open(&path, 0.0).expect("open");
        let mut samples = 0usize;
        let mut format = None;
        while let Some(chunk) = stream.next_chunk() {
            let chunk = chunk.expect("chunk");
            format = Some((chunk.sample_rate, chunk.channels));
            samples += chunk.samples.len();
        }
        let (rate, channels) = format.expect("some audio");
        assert_eq!((rate, channels), (44_100, 2));
        let seconds = samples as f64 / f64::from(rate) / f64::from(channels);
        let whole = crate::audio::decode_file(&path, crate::audio::Span::Whole).expect("decode");
        assert!(
            (seconds - whole.duration_seconds).abs() < 0.1,
            "{seconds} s streamed, file is {}",
            whole.duration_seconds
        );

        let mut later = PcmStream::open(&path, 1.0).expect("open at 1 s");
        assert!((later.start_seconds() - 1.0).abs() < 0.05, "started at {}", later.start_seconds());
        let mut rest = 0usize;
        while let Some(chunk) = later.next_chunk() {
            rest += chunk.expect("chunk").samples.len();
        }
        let rest_seconds = rest as f64 / f64::from(rate) / f64::from(channels);
        assert!((rest_seconds - (seconds - 1.0)).abs() < 0.1, "{rest_seconds} s after a seek to 1 s of {seconds}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = PcmStream::open(Path::new("/nowhere/song.mp3"), 0.0).err().expect("error");
        assert!(err.to_string().contains("/nowhere/song.mp3"), "{err}");
    }
}
