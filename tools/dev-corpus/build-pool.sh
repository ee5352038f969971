#!/usr/bin/env bash
# Build the unlabelled pool: music to learn from without labels (self-supervised pretraining),
# from the 34 Debian game-data packages issue 15 names, in FMA layout. Not needed by the tests.
#
#   usage: build-pool.sh [OUTPUT_ROOT]
#          default OUTPUT_ROOT: ${XDG_CACHE_HOME:-$HOME/.cache}/songspace-pool
#
# Produces OUTPUT_ROOT/fma_pool/NNN/NNNNNN.mp3 (30 s excerpts, up to 4 per track),
# OUTPUT_ROOT/fma_metadata/{tracks,genres}.csv (no genres), SOURCES.md and manifest.csv.
# Idempotent like build-dev-corpus.sh. Cost: about 3.2 GB of downloads (kept in
# POOL_DEB_DIR, default cache/songspace-pool-debs), extraction in POOL_WORK_DIR (default
# cache/songspace-pool-work).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}"
out="${1:-$cache/songspace-pool}"
debdir="${POOL_DEB_DIR:-$cache/songspace-pool-debs}"
work="${POOL_WORK_DIR:-$cache/songspace-pool-work}"
helper="$here/pool_build.py"

say() { printf '[build-pool] %s\n' "$*" >&2; }
# shellcheck source=debs.sh
. "$here/debs.sh"

ensure_tools_and_lists "$helper"
mkdir -p "$debdir" "$work" "$out"
if command -v flock >/dev/null; then
  exec 9>"$out/.build.lock"
  flock -n 9 || { say "another build is running on $out"; exit 1; }
fi

list="$work/debs.tsv"
download_debs "$helper" "$debdir" "$list"

say "building into $out"
# POOL_SECONDS_PER_EXCERPT and POOL_MAX_EXCERPTS (default 45 and 4) cut long tracks more densely.
nice -n 10 python3 "$helper" build --out "$out" --debs "$list" --work "$work" \
  --seconds-per-excerpt "${POOL_SECONDS_PER_EXCERPT:-45}" --max-excerpts "${POOL_MAX_EXCERPTS:-4}"
say "verifying"
python3 "$helper" verify --out "$out"
