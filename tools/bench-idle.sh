#!/usr/bin/env bash
# What an idle window costs: the demo opened under Xvfb and left alone for N seconds (default
# 20), once as it draws now (waiting for input) and once drawing every frame
# (SONGSPACE_FRAMES=continuous, the reference), in the same run. Prints the CPU seconds each
# used and the ratio. Usage: tools/bench-idle.sh [SECONDS] [BINARY]
set -euo pipefail
seconds="${1:-20}"
bin="${2:-${CARGO_TARGET_DIR:-$HOME/.cache/songspace-target}/release/songspace}"
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release, or pass its path)"; exit 1; }
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/config/songspace"
# The first-start hint stays closed, as after a first run.
printf '(hint_dismissed: true)\n' > "$home/config/songspace/settings.ron"
cpu_of() {
  local mode="$1"
  HOME="$home" XDG_DATA_HOME="$home/data" XDG_CONFIG_HOME="$home/config" SONGSPACE_FRAMES="$mode" \
    xvfb-run -a -s "-screen 0 1280x800x24 -noreset" sh -c '
      "$0" --size 1200x760 > /dev/null 2>&1 &
      app=$!
      sleep 8  # opened and settled
      before=$(awk "{ print \$14 + \$15 }" /proc/$app/stat)
      sleep "$1"
      after=$(awk "{ print \$14 + \$15 }" /proc/$app/stat)
      kill $app
      echo $(( after - before ))
    ' "$bin" "$seconds"
}
ticks=$(getconf CLK_TCK)
reactive=$(cpu_of reactive)
continuous=$(cpu_of continuous)
awk -v r="$reactive" -v c="$continuous" -v t="$ticks" -v s="$seconds" 'BEGIN {
  printf "idle window, %d s: waiting for input %.2f s of CPU (%.1f %% of a core); drawing every frame %.2f s (%.1f %%); ratio %.4f\n",
    s, r / t, 100 * r / t / s, c / t, 100 * c / t / s, (c > 0 ? r / c : 0) }'
