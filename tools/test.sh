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
export SONGSPACE_DEV_CORPUS="$corpus" SONGSPACE_REQUIRE_CORPUS=1 SONGSPACE_REQUIRE_WINDOW=1
log="$(mktemp)"
packages="$(mktemp -d)"
trap 'rm -rf "$log" "$packages"' EXIT
# In CI (or with SONGSPACE_PACKAGE_RELEASE=1), the Debian package is built as a user builds it,
# release build included (about 15 minutes on 2 cores), and the package test checks that one;
# elsewhere the test packages its own build of the program, which takes seconds.
if [ -n "${CI:-}" ] || [ -n "${SONGSPACE_PACKAGE_RELEASE:-}" ]; then
  ./tools/package.sh --out "$packages"
  SONGSPACE_PACKAGE="$(ls "$packages"/songspace_*.deb)"
  export SONGSPACE_PACKAGE
fi
set +e
cargo test --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "songspace: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
