#!/usr/bin/env bash
# Build the rendered part of the unlabelled pool: music21 corpus scores the demo does not use,
# played on varied General MIDI instruments (some with bass and drums) through the demo's
# pipeline, 30 s clips in FMA layout with no genre. Not needed by the tests.
#
#   usage: build-score-pool.sh [OUTPUT_ROOT]
#          default OUTPUT_ROOT: ${XDG_CACHE_HOME:-$HOME/.cache}/songspace-score-pool
#
# SCORE_POOL_PER_COLLECTION (default 250) caps the clips of one collection; SCORE_POOL_JOBS
# (default: every core) renders in parallel. Rendered clips are kept in SCORE_POOL_WORK_DIR
# (default cache/songspace-score-pool-work), so a re-run or a larger cap renders only what is new.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}"
out="${1:-$cache/songspace-score-pool}"
work="${SCORE_POOL_WORK_DIR:-$cache/songspace-score-pool-work}"
venv="${SCORE_POOL_VENV:-$cache/songspace-demo-build/venv}"

say() { printf '[build-score-pool] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

missing=()
for pkg in fluidsynth fluid-soundfont-gm ffmpeg python3-venv; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  as_root apt-get update -qq || { say "apt-get update failed (need root?)"; exit 1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
    || { say "cannot install ${missing[*]}"; exit 1; }
fi
# The demo's environment (music21 10.5.1 and what it needs, pinned): the same parser renders both.
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r "$repo/tools/demo/requirements.txt"

mkdir -p "$work" "$out"
if command -v flock >/dev/null; then
  exec 9>"$out/.build.lock"
  flock -n 9 || { say "another build is running on $out"; exit 1; }
fi
say "rendering into $out"
nice -n 10 "$venv/bin/python" "$here/score_pool.py" build --out "$out" --work "$work" \
  --per-collection "${SCORE_POOL_PER_COLLECTION:-250}" --jobs "${SCORE_POOL_JOBS:-$(nproc)}"
say "verifying"
"$venv/bin/python" "$here/score_pool.py" verify --out "$out"
