#!/usr/bin/env bash
# Installs what building and testing songspace needs on Debian/Ubuntu, skipping what is present:
# a Rust toolchain (1.95 or newer), pkg-config, the ALSA and udev headers (audio output and
# input devices), ffmpeg (used only to build the development corpus for the tests) and Mesa's
# Vulkan drivers (lavapipe: the GPU code paths run on the CPU where there is no GPU), and Xvfb
# (a virtual display for the window tests) with xdotool (the tests drive the mouse), and
# desktop-file-utils (the tests check the menu entry), zenity (the file dialogs where no XDG
# desktop portal runs) and xclip (the tests paste a path into the dialog); dpkg-dev, appstream,
# librsvg2-bin and man-db build and check the Debian package (tools/package.sh).
# Safe to run again; needs root or sudo only when something is missing.
set -euo pipefail

say() { printf '[setup] %s\n' "$*" >&2; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else say "need root (or sudo) to run: $*"; exit 1; fi
}

packages=(pkg-config libasound2-dev libudev-dev ffmpeg curl ca-certificates mesa-vulkan-drivers xvfb xauth xdotool desktop-file-utils zenity xclip dpkg-dev appstream librsvg2-bin man-db)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
need="1.95"
have="$(rustc --version 2>/dev/null | awk '{print $2}')"
if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
  if command -v rustup >/dev/null; then
    say "updating the Rust toolchain (found ${have:-none}, need $need)"
    rustup toolchain install stable --profile minimal
    rustup default stable
  else
    say "installing Rust with rustup (found ${have:-none}, need $need)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    . "$HOME/.cargo/env"
  fi
fi
