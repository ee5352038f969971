#!/usr/bin/env python3
"""Regenerates assets/example/: eight 5-second synthetic sound clips (OGG Vorbis, tagged), a tiny
folder that `tools/launch.sh` imports so a new user sees the pipeline work with no download.
They are test sounds made by this script, not music, and are labelled as such.

    python3 -m pip install numpy soundfile==0.14.0
    python3 tools/make_example.py
"""
import pathlib

import numpy as np
import soundfile as sf

OUT = pathlib.Path(__file__).resolve().parent.parent / "assets" / "example"
SR = 22050


def clip(kind, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(SR * 5) / SR
    if kind == "Synth drone":
        f = 55 * 2 ** (rng.integers(0, 12) / 12)
        y = sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 8)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t))
    elif kind == "Noise percussion":
        y = np.zeros_like(t)
        for start in np.arange(0, 5, 60 / rng.integers(90, 140)):
            n = (t >= start) & (t < start + 0.15)
            y[n] += rng.normal(0, 1, n.sum()) * np.exp(-(t[n] - start) * 40)
    elif kind == "Arpeggio":
        y = np.zeros_like(t)
        base = 220 * 2 ** (rng.integers(0, 7) / 12)
        for k, start in enumerate(np.arange(0, 5, 0.125)):
            f = base * 2 ** ([0, 4, 7, 12][k % 4] / 12)
            n = t >= start
            y[n] += np.sin(2 * np.pi * f * (t[n] - start)) * np.exp(-(t[n] - start) * 12)
    else:  # "Chord pad"
        root = 110 * 2 ** (rng.integers(0, 12) / 12)
        y = sum(np.sin(2 * np.pi * root * 2 ** (s / 12) * t + rng.uniform(0, 6)) for s in (0, 3, 7, 10, 14))
        y *= np.minimum(1, t / 0.8)
    return (y / np.max(np.abs(y)) * 0.7).astype(np.float32)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    kinds = ["Synth drone", "Noise percussion", "Arpeggio", "Chord pad"]
    for i in range(8):
        kind = kinds[i % 4]
        path = OUT / f"{i + 1:02d} - {kind.lower().replace(' ', '_')}_{i // 4 + 1}.ogg"
        with sf.SoundFile(path, "w", SR, 1, format="OGG", subtype="VORBIS") as f:
            f.title = f"{kind} {i // 4 + 1}"
            f.artist = "songspace test sounds"
            f.album = "Example (synthetic)"
            f.genre = kind
            f.write(clip(kind, 1000 + i))
    print("\n".join(f"{p.name}: {p.stat().st_size} bytes" for p in sorted(OUT.glob("*.ogg"))))


if __name__ == "__main__":
    main()
