#!/usr/bin/env python3
"""Embeddings of a folder of audio from musicnn (Pons & Serra, ISMIR 2019 LBD), to measure it as a
teacher for songspace's own network.

musicnn's weights ship inside its package on PyPI (ISC licence); see tools/teacher/README.md for
the environment. Nothing here is needed to run songspace or its tests: the teacher is only used
when a model is made.

Writes CSVs in songspace's embeddings format (`track_id,e0,…`), one per layer, named
OUT_PREFIX-<layer>.csv: one row per audio file whose name (without extension) is a number, as in
the FMA layout; a row is the mean over the file's 3 s patches of that layer's activations
(taggram: the 50 tag probabilities; penultimate: 200 values; max_pool and mean_pool: 753).

    musicnn_embed.py FOLDER OUT_PREFIX [--model MSD_musicnn]
"""
import argparse
import os
import sys

import numpy as np

LAYERS = ["taggram", "penultimate", "mean_pool", "max_pool"]


def audio_files(folder):
    files = []
    for root, _, names in os.walk(folder):
        for name in names:
            stem, ext = os.path.splitext(name)
            if ext.lower() in (".mp3", ".ogg", ".flac", ".wav") and stem.isdigit():
                files.append((int(stem), os.path.join(root, name)))
    return sorted(files)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("out_prefix")
    parser.add_argument("--model", default="MSD_musicnn", choices=["MSD_musicnn", "MTT_musicnn"])
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import librosa
    import tensorflow as tf
    tf.compat.v1.disable_eager_execution()
    import musicnn
    from musicnn import configuration as config
    from musicnn import models
    from musicnn.extractor import batch_data

    files = audio_files(args.folder)
    if not files:
        sys.exit(f"no audio files named by a number under {args.folder}")
    labels = config.MSD_LABELS if args.model.startswith("MSD") else config.MTT_LABELS

    # The graph and the weights once, as musicnn's own extractor builds them per file.
    n_frames = librosa.time_to_frames(3, sr=config.SR, n_fft=config.FFT_SIZE, hop_length=config.FFT_HOP) + 1
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        y, _, _, _, _, _, mean_pool, max_pool, penultimate = models.define_model(x, is_training, args.model, len(labels))
        tags = tf.nn.sigmoid(y)
    sess = tf.compat.v1.Session()
    sess.run(tf.compat.v1.global_variables_initializer())
    tf.compat.v1.train.Saver().restore(sess, os.path.join(os.path.dirname(musicnn.__file__), args.model) + "/")

    rows = {layer: [] for layer in LAYERS}
    for i, (track_id, path) in enumerate(files):
        batch, _ = batch_data(path, n_frames, n_frames)
        outputs = sess.run([tags, penultimate, mean_pool, max_pool], feed_dict={x: batch, is_training: False})
        for layer, values in zip(LAYERS, outputs):
            rows[layer].append((track_id, np.asarray(values, dtype=np.float64).reshape(len(batch), -1).mean(axis=0)))
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(files)}", file=sys.stderr, flush=True)

    for layer in LAYERS:
        out_path = f"{args.out_prefix}-{layer}.csv"
        dim = len(rows[layer][0][1])
        with open(out_path, "w") as out:
            out.write("track_id," + ",".join(f"e{i}" for i in range(dim)) + "\n")
            for track_id, vector in rows[layer]:
                out.write(f"{track_id}," + ",".join(f"{v:.6g}" for v in vector) + "\n")
        print(f"{len(rows[layer])} rows of {dim} values -> {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
