#!/usr/bin/env python3
"""Regenerates tests/data/demo_descriptors.librosa.csv: librosa's tempo and mean spectral
centroid of every song of the embedded demo (run once; the output is committed).

Versions used for the committed file: librosa 0.10.2.post1, soundfile 0.14.0 (libsndfile
1.2.2, which decodes the MP3s with mpg123), numpy as pip resolved it.

    python3 -m pip install librosa==0.10.2.post1 soundfile==0.14.0
    python3 tools/make_descriptor_fixtures.py

Each song is loaded whole (the demo's clips are 12.2 s, under songspace's 90 s analysis span)
at 22,050 Hz mono, as songspace analyses it; tempo is `librosa.feature.tempo` with its defaults
and brightness the mean over frames of `librosa.feature.spectral_centroid` (n_fft 2048, hop 512).
"""
import csv
import pathlib

import librosa
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
MUSIC = ROOT / "assets" / "demo" / "music"
OUT = ROOT / "tests" / "data" / "demo_descriptors.librosa.csv"


def main():
    rows = []
    for path in sorted(MUSIC.glob("*/*.mp3")):
        y, sr = librosa.load(path, sr=22050, mono=True)
        tempo = float(librosa.feature.tempo(y=y, sr=sr)[0])
        centroid = float(np.mean(librosa.feature.spectral_centroid(y=y, sr=sr, n_fft=2048, hop_length=512)))
        rows.append((path.relative_to(MUSIC).as_posix(), f"{tempo:.3f}", f"{centroid:.2f}"))
    with OUT.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["path", "tempo_bpm", "centroid_hz"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} songs to {OUT}")


if __name__ == "__main__":
    main()
