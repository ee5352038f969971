#!/usr/bin/env bash
# Quick start 1: set up, build songspace in release mode, and run it on the bundled example.
# (The 3D window arrives with the explorer; until then this imports the example folder, lays it
# out in 3D, describes the library it made and lists the nearest sounds of its first track.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./tools/setup-system.sh
if [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
cargo build --release --locked
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/songspace"
"$bin" import assets/example
"$bin" project assets/example
"$bin" info assets/example
positions="$(mktemp)"
trap 'rm -f "$positions"' EXIT
"$bin" export assets/example --what positions --format csv -o "$positions" >/dev/null
first="$(sed -n 2p "$positions" | cut -d, -f1)"
"$bin" neighbours assets/example "$first" -k 3
