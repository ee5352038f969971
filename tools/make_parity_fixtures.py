#!/usr/bin/env python3
"""Regenerates the librosa parity fixtures in tests/data/ (run once; the outputs are committed).

Versions used for the committed files: librosa 0.10.2.post1, soundfile 0.14.0 (libsndfile 1.2.2),
numpy as pip resolved it, ffmpeg with libmp3lame (Debian 12).

    python3 -m pip install librosa==0.10.2.post1 soundfile==0.14.0
    python3 tools/make_parity_fixtures.py

Writes:
  parity_22k_mono.wav           3 s, 22,050 Hz, mono, 16-bit: a music-like synthetic signal
  parity_22k_mono.librosa.npy   its log-mel dB as librosa computes it, float32 (128, frames)
  parity_44k_stereo.mp3         5 s, 44.1 kHz, stereo, 128 kbit/s MP3 (other content per channel)
  parity_44k_stereo.librosa.npy librosa.load(sr=22050, mono=True) then the same log-mel
"""
import pathlib
import subprocess
import tempfile

import librosa
import numpy as np
import soundfile as sf

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"


def notes(sr, seconds, rng, base):
    """Plucked notes with harmonics and decays, a noise snare, and a chirp: broadband content."""
    t = np.arange(int(sr * seconds)) / sr
    y = np.zeros_like(t)
    step = 0.25
    for k, start in enumerate(np.arange(0, seconds - step, step)):
        f0 = base * 2 ** (rng.integers(0, 24) / 12)
        env = np.where(t >= start, np.exp(-(t - start) * 6.0), 0.0)
        for h in range(1, 6):
            y += env * np.sin(2 * np.pi * f0 * h * (t - start)) * (0.3 / h)
        if k % 4 == 2:
            burst = np.where((t >= start) & (t < start + 0.08), rng.normal(0, 0.3, t.size), 0.0)
            y += burst * np.exp(-(t - start).clip(0) * 30)
    y += 0.05 * np.sin(2 * np.pi * (200 + 3000 * t / seconds) * t)
    return (y / np.max(np.abs(y)) * 0.8).astype(np.float32)


def logmel(y, sr):
    s = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128)
    return librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=None).astype(np.float32)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261123)

    mono = notes(22050, 3.0, rng, 110.0)
    wav = OUT / "parity_22k_mono.wav"
    sf.write(wav, mono, 22050, subtype="PCM_16")
    y, sr = librosa.load(wav, sr=None, mono=True)
    assert sr == 22050
    np.save(OUT / "parity_22k_mono.librosa.npy", logmel(y, sr))

    left = notes(44100, 5.0, rng, 220.0)
    right = 0.6 * left + 0.4 * notes(44100, 5.0, rng, 55.0)
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "stereo.wav"
        sf.write(src, np.stack([left, right], axis=1), 44100, subtype="PCM_16")
        mp3 = OUT / "parity_44k_stereo.mp3"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), "-codec:a", "libmp3lame",
                        "-b:a", "128k", "-ar", "44100", "-ac", "2", str(mp3)], check=True)
    y, sr = librosa.load(mp3, sr=22050, mono=True)
    np.save(OUT / "parity_44k_stereo.librosa.npy", logmel(y, sr))
    for p in sorted(OUT.iterdir()):
        print(f"{p.name}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
