#!/usr/bin/env bash
# Quick start 1: set up, build songspace in release mode and open the window: on the bundled demo
# (224 short pieces in 7 styles, with their map precomputed) the first time, later on the library
# opened last. Pass a library or a music file to open that instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./tools/setup-system.sh
if [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
cargo build --release --locked
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/songspace"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  "$bin" info --demo
  echo "No display to open a window on (DISPLAY is not set). On a desktop, run: $bin" >&2
  exit 1
fi
exec "$bin" "$@"
