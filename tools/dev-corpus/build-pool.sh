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
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

for tool in apt-get apt-cache dpkg-deb tar python3; do
  command -v "$tool" >/dev/null || { say "missing $tool"; exit 1; }
done
mkdir -p "$debdir" "$work" "$out"
if command -v flock >/dev/null; then
  exec 9>"$out/.build.lock"
  flock -n 9 || { say "another build is running on $out"; exit 1; }
fi

first_pkg="$(python3 "$helper" packages | sed -n 1p)"
if ! apt-cache show --no-all-versions "$first_pkg" >/dev/null 2>&1; then
  say "apt package lists missing or stale: running apt-get update"
  as_root apt-get update -qq || { say "apt-get update failed (need root?)"; exit 1; }
fi
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  say "installing ffmpeg"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg \
    || { say "cannot install ffmpeg"; exit 1; }
fi

list="$work/debs.tsv"
: > "$list.tmp"
while read -r pkg; do
  ver="$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sed -n 1p)"
  if [ -z "$ver" ]; then say "package $pkg not available: skipped"; continue; fi
  enc="${ver//:/%3a}"
  deb="$(ls "$debdir/${pkg}_${enc}_"*.deb 2>/dev/null | sed -n 1p || true)"
  if [ -z "$deb" ]; then
    say "downloading $pkg $ver"
    (cd "$debdir" && apt-get download -q "$pkg=$ver" 2>&1 | grep -v -e 'unsandboxed' >&2) || true
    deb="$(ls "$debdir/${pkg}_${enc}_"*.deb 2>/dev/null | sed -n 1p || true)"
    if [ -z "$deb" ]; then say "download of $pkg failed: skipped"; continue; fi
  fi
  printf '%s\t%s\t%s\n' "$pkg" "$ver" "$deb" >> "$list.tmp"
done < <(python3 "$helper" packages)
mv "$list.tmp" "$list"

say "building into $out"
nice -n 10 python3 "$helper" build --out "$out" --debs "$list" --work "$work"
say "verifying"
python3 "$helper" verify --out "$out"
