use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::audio::{MelExtractor, MelSettings, Span, decode_file, npy};

pub fn run(audio_path: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let audio = decode_file(audio_path, Span::Whole)?;
    let mel = MelExtractor::new(MelSettings::default()).compute(&audio.samples);
    npy::write_f32_2d(out, mel.n_mels, mel.n_frames, &mel.values)
        .with_context(|| format!("cannot write the spectrogram of {}", audio_path.display()))?;
    println!(
        "{}: {:.2} s at {} Hz, {} channel(s) -> {} ({} mels x {} frames)",
        audio_path.display(),
        audio.seconds(),
        audio.source_sample_rate,
        audio.source_channels,
        out.display(),
        mel.n_mels,
        mel.n_frames
    );
    Ok(ExitCode::SUCCESS)
}
