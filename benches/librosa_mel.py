#!/usr/bin/env python3
"""librosa's side of the decode + log-mel benchmark, and the parity check on real clips.

    python3 benches/librosa_mel.py CLIP.mp3 [...]                 # throughput, one thread
    python3 benches/librosa_mel.py --parity OURS_DIR CLIP.mp3 ...  # compare with songspace's .npy

Throughput is measured after one warm-up clip (numba compiles on first use), with BLAS and
OpenMP limited to one thread, over: librosa.load(sr=22050, mono) + melspectrogram + power_to_db.
Prints one JSON object on the last line.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"

import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402


def logmel(path):
    y, sr = librosa.load(path, sr=22050, mono=True)
    s = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128)
    return librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=None)


def main(argv):
    parity_dir = None
    if argv and argv[0] == "--parity":
        parity_dir, argv = pathlib.Path(argv[1]), argv[2:]
    clips = [pathlib.Path(a) for a in argv]
    if not clips:
        sys.exit(__doc__)
    logmel(clips[0])  # warm-up: numba JIT, file caches
    start = time.perf_counter()
    results = {}
    for clip in clips:
        results[clip] = logmel(clip)
    elapsed = time.perf_counter() - start
    out = {"librosa": librosa.__version__, "clips": len(clips), "seconds": elapsed,
           "clips_per_second": len(clips) / elapsed}
    if parity_dir is not None:
        maes, worst = [], 0.0
        for clip, ref in results.items():
            ours = np.load(parity_dir / (clip.stem + ".npy"))
            n = min(ours.shape[1], ref.shape[1])
            mae = float(np.abs(ours[:, :n] - ref[:, :n]).mean())
            maes.append(mae)
            worst = max(worst, mae)
            if ours.shape != ref.shape:
                print(f"{clip.name}: shape {ours.shape} vs librosa {ref.shape}", file=sys.stderr)
        out.update({"parity_mean_abs_db": float(np.mean(maes)), "parity_worst_clip_mean_abs_db": worst})
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
