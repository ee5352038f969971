#!/usr/bin/env bash
# Quick start 1: set up, build songspace in release mode, and open it on the bundled example
# (eight synthetic test sounds in four made-up styles): imported, embedded with the shipped model,
# laid out in 3D, then shown in the explorer window.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./tools/setup-system.sh
if [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
cargo build --release --locked
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/songspace"
"$bin" import assets/example
"$bin" project assets/example
"$bin" info assets/example
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display to open a window on (DISPLAY is not set). On a desktop, run: $bin assets/example" >&2
  exit 1
fi
exec "$bin" assets/example
