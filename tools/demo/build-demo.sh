#!/usr/bin/env bash
# Regenerates the bundled demo (assets/demo) from scratch: renders the music (make_demo.py), then
# uses songspace itself to import it, train a model on its styles, embed it and lay it out in 3D.
# Rarely needed: the result is committed. Takes ~30 minutes on 2 cores, mostly music21 parsing.
#
# Made with Debian 12: fluidsynth 2.3.1-2, fluid-soundfont-gm 3.1-5.3, lame 3.100-6,
# ffmpeg 5.1.9; Python 3.11 with requirements.txt. Other versions render slightly different audio.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$repo/assets/demo"
work="${SONGSPACE_DEMO_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/songspace-demo-build}"
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in fluidsynth fluid-soundfont-gm lame ffmpeg python3-venv; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
fi
"$work/venv/bin/pip" install -q -r "$repo/tools/demo/requirements.txt"

# --keep-music: reuse the clips of the last run and only redo the library, model and map.
if [ "${1:-}" != "--keep-music" ] || [ ! -d "$work/music" ]; then
  rm -rf "$work/music"
  (cd "$work" && "$work/venv/bin/python" "$repo/tools/demo/make_demo.py" "$work/music")
fi
rm -rf "$work/library"

cd "$repo"
cargo build --release --locked
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/songspace"
rm -rf "$out/music"
mkdir -p "$out"
cp -r "$work/music" "$out/music"
library="$work/library/library.ron"
"$bin" import "$out/music" --library "$library"
# The demo's map comes from a model trained on the demo's own styles, as a user's library would
# after `songspace train`: the shipped model (game soundtracks) mixes these styles up. From
# scratch, as the bundled demo model was made (training now fine-tunes the shipped model by default).
rm -rf "$work/model" "$out/model"
"$bin" train "$library" --device cpu --epochs 40 --seed 42 --from-scratch --out "$work/model" --metrics-out "$work/metrics.json"
mkdir -p "$out/model"
# model.json and the weights file it names (model.<hash>.mpk; a save leaves no other).
cp "$work/model/model.json" "$work/model/"model*.mpk "$out/model/"
"$bin" embed "$library" --model "$out/model"
# 32 clips a style: at the default perplexity (30) every clip's neighbourhood is its whole style,
# which t-SNE draws as a tight ball; at 5 the styles keep their inner structure.
"$bin" project "$library" --perplexity 5
# The bundle names its music and its model relative to itself (songspace reads relative paths
# in a library file that way), and keeps its vectors under the plain names
# (library.embeddings, library.positions) that a library without file names reads.
python3 - "$library" "$out/library.ron" <<'PY'
import os, re, shutil, sys
src, dst = sys.argv[1:]
text = open(src).read()
text = re.sub(r'root: "[^"]*"', 'root: "music"', text, count=1)
text = re.sub(r'(source: Model\(id: "[0-9a-f]+", dir: )"[^"]*"', r'\1"model"', text)
for ext in ("embeddings", "positions"):
    named = re.search(r'file: Some\("([^"]+\.%s)"\)' % ext, text)
    name = named.group(1) if named else "library." + ext
    shutil.copyfile(os.path.join(os.path.dirname(src), name), os.path.join(os.path.dirname(dst), "library." + ext))
text = re.sub(r'\s*file: Some\("[^"]+"\),', '', text)
open(dst, "w").write(text)
PY
"$bin" info --demo
du -sh "$out/music"
