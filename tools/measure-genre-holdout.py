#!/usr/bin/env python3
"""What supervised fine-tuning does to songs from albums it never saw, and to a genre it never
learnt (README, "Measuring similarity honestly").

The development corpus's albums are split into two halves (sorted by main genre and size, then
alternated). For each half held out, and for each of "no genre removed", "Tracker removed" and
"Electronic removed", a copy of the library is fine-tuned from the shipped model on the other
half (every fourth of its albums as the validation set; the removed genre's songs lose their
label there), every song is embedded with the result, and the held-out half's songs are judged:
genre precision of their 3 nearest songs from other albums and from any album, per genre,
beside the shipped model's.

    tools/measure-genre-holdout.py SONGSPACE_BINARY LIBRARY.ron MANIFEST.csv WORK_DIR

LIBRARY.ron is the development corpus imported and embedded with the shipped model; its
library.features folder is copied beside each copy. Needs numpy. About 2 minutes per run on
2 cores with the Flex backend, 6 runs.
"""
import collections
import csv
import os
import re
import shutil
import subprocess
import sys

import numpy as np

binary, library_path, manifest_path, work = sys.argv[1:5]
manifest = list(csv.DictReader(open(manifest_path)))
label = {int(r["track_id"]): r["label"] for r in manifest}
album = {int(r["track_id"]): r["source"] for r in manifest}
genres_of_album = collections.defaultdict(collections.Counter)
for track in label:
    genres_of_album[album[track]][label[track]] += 1
albums = sorted(
    genres_of_album,
    key=lambda a: (genres_of_album[a].most_common(1)[0][0], -sum(genres_of_album[a].values()), a),
)
half = {a: i % 2 for i, a in enumerate(albums)}
source = open(library_path).read()
library_dir = os.path.dirname(os.path.abspath(library_path))


def run(*args):
    subprocess.run([binary, *args], check=True, stdout=subprocess.DEVNULL)


def fine_tune(held, removed):
    folder = os.path.join(work, f"half{held}-without-{removed}")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    shutil.copytree(os.path.join(library_dir, "library.features"), os.path.join(folder, "library.features"))
    training_albums = [a for a in albums if half[a] != held]
    validation_albums = set(training_albums[1::4])

    def split(match):
        line = match.group(0)
        track = int(re.search(r"\(id: (\d+),", line).group(1))
        a = album[track]
        side = "Test" if half[a] == held else ("Validation" if a in validation_albums else "Training")
        line = re.sub(r"split: Some\(\w+\)", f"split: Some({side})", line)
        if half[a] != held and label[track] == removed:
            line = line.replace(f'genre: Some("{removed}"), genres: ["{removed}"]', "genre: None, genres: []")
        return line

    copy = os.path.join(folder, "library.ron")
    open(copy, "w").write(re.sub(r"^   \(id: \d+, path: .*$", split, source, flags=re.M))
    run("train", copy, "--label", "genre", "--device", "cpu", "--seed", "1", "--out", os.path.join(folder, "model"))
    run("embed", copy, "--model", os.path.join(folder, "model"))
    run("export", copy, "--what", "embeddings", "--out", os.path.join(folder, "embeddings.csv"))
    return os.path.join(folder, "embeddings.csv")


def load(path):
    rows = list(csv.reader(open(path)))[1:]
    return {int(r[0]): np.array([float(x) for x in r[1:]]) for r in rows}


def precision(vectors, held, other_albums):
    ids = sorted(vectors)
    x = np.stack([vectors[i] for i in ids])
    distances = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    by_genre = collections.defaultdict(list)
    for row, query in enumerate(ids):
        if half[album[query]] != held:
            continue
        found = [
            ids[j]
            for j in np.argsort(distances[row], kind="stable")
            if ids[j] != query and (not other_albums or album[ids[j]] != album[query])
        ][:3]
        by_genre[label[query]].append(np.mean([label[n] == label[query] for n in found]))
    every = [v for values in by_genre.values() for v in values]
    return np.mean(every), {g: round(float(np.mean(v)), 3) for g, v in sorted(by_genre.items())}


os.makedirs(work, exist_ok=True)
shipped = os.path.join(work, "shipped.csv")
run("export", library_path, "--what", "embeddings", "--out", shipped)
for held in (0, 1):
    print(f"held-out half {held}: {sum(half[album[t]] == held for t in label)} songs")
    for removed in ("nothing", "Tracker", "Electronic"):
        results = {"shipped model": load(shipped)} if removed == "nothing" else {}
        results[f"fine-tuned, {removed} removed"] = load(fine_tune(held, removed))
        for name, vectors in results.items():
            for other_albums in (True, False):
                mean, by_genre = precision(vectors, held, other_albums)
                kind = "other albums" if other_albums else "any album"
                print(f"  {name:32s} P@3 from {kind:12s} {mean:.3f}  {by_genre}")
