#!/usr/bin/env bash
# Quick start 2: set up and run the whole test suite (unit and integration tests, real-audio
# tests on the development corpus, which is built on first use: ~2 GB of Debian packages
# downloaded once, ~5 minutes, 122 MB kept in ~/.cache/songspace-dev-corpus).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./tools/setup-system.sh
if [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi

corpus="${SONGSPACE_DEV_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/songspace-dev-corpus}"
if [ ! -f "$corpus/fma_metadata/tracks.csv" ] || [ ! -d "$corpus/bad_inputs" ]; then
  ./tools/dev-corpus/build-dev-corpus.sh "$corpus"
fi
export SONGSPACE_DEV_CORPUS="$corpus" SONGSPACE_REQUIRE_CORPUS=1
cargo test --locked
