#!/usr/bin/env bash
# Builds songspace's Debian package from the ordinary Debian tools (dpkg-deb, dpkg-shlibdeps):
#
#   tools/package.sh                 # release build, then target/debian/songspace_<version>_<arch>.deb
#   tools/package.sh --binary PATH   # package this songspace binary instead of building one
#   tools/package.sh --out DIR       # write the .deb into DIR
#   tools/package.sh --quick         # light compression (the test uses it; the package is larger)
#
# What goes where: /usr/bin/songspace; the shipped model and the demo under /usr/share/songspace
# (the program looks there, beside its own prefix, with no environment variable); the menu entry,
# the hicolor icons (PNG sizes and SVG) and the AppStream metainfo, each validated; man pages and
# bash, zsh and fish completions generated from the program's own command-line definitions; the
# licence and the changelog under /usr/share/doc/songspace. Installs what it needs if missing
# (tools/setup-system.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

say() { printf '[package] %s\n' "$*" >&2; }

binary="" out="$root/target/debian" compression=(-Zxz -z6)
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$(realpath "$2")"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --quick) compression=(-Zgzip -z1); shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) say "unknown argument: $1 (see --help)"; exit 2 ;;
  esac
done

# What building and checking the package needs (dpkg-dev, appstream, librsvg2-bin, Rust) comes
# with the quick start's setup, which installs only what is missing.
./tools/setup-system.sh
if [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi

maintainer="The songspace developers <maintainers@users.noreply.b-seed-3b32a457.example>"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
arch="$(dpkg --print-architecture)"
# Files carry the last commit's time, so the same tree packs to the same bytes.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
release_date="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)"

if [ -z "$binary" ]; then
  started=$SECONDS
  cargo build --release --locked
  say "release build: $((SECONDS - started)) s"
  target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  binary="$target_dir/release/songspace"
fi
[ -x "$binary" ] || { say "no songspace binary at $binary"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 022
stage="$work/songspace_${version}_${arch}"
share="$stage/usr/share"
mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$share/songspace/models" "$share/applications" \
  "$share/metainfo" "$share/man/man1" "$share/doc/songspace" "$share/bash-completion/completions" \
  "$share/zsh/vendor-completions" "$share/fish/vendor_completions.d" "$share/icons/hicolor/scalable/apps"

install -m 755 "$binary" "$stage/usr/bin/songspace"
strip --strip-unneeded "$stage/usr/bin/songspace"
program="$stage/usr/bin/songspace"

# The shipped model: its description and the weights it names (no training checkpoints).
model_dir="$share/songspace/models/genre-cnn"
mkdir -p "$model_dir"
weights="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("weights", "model.mpk"))' models/genre-cnn/model.json)"
install -m 644 models/genre-cnn/model.json "models/genre-cnn/$weights" "$model_dir/"
cp -r assets/demo "$share/songspace/demo"

"$program" generate desktop-entry > "$share/applications/songspace.desktop"
desktop-file-validate "$share/applications/songspace.desktop"

for size in 16 24 32 48 64 128 256 512; do
  mkdir -p "$share/icons/hicolor/${size}x${size}/apps"
  rsvg-convert -w "$size" -h "$size" assets/icon/songspace.svg -o "$share/icons/hicolor/${size}x${size}/apps/songspace.png"
done
install -m 644 assets/icon/songspace.svg "$share/icons/hicolor/scalable/apps/songspace.svg"

metainfo="$share/metainfo/org.songspace.songspace.metainfo.xml"
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$release_date/" tools/package/songspace.metainfo.xml > "$metainfo"
appstreamcli validate --no-net "$metainfo" >&2

"$program" generate man --out "$work/man"
for page in "$work"/man/*.1; do gzip -9n < "$page" > "$share/man/man1/$(basename "$page").gz"; done
"$program" generate completions bash > "$share/bash-completion/completions/songspace"
"$program" generate completions zsh > "$share/zsh/vendor-completions/_songspace"
"$program" generate completions fish > "$share/fish/vendor_completions.d/songspace.fish"

install -m 644 tools/package/copyright "$share/doc/songspace/copyright"
# CHANGELOG.md in Debian's changelog format (one entry per "## VERSION — DATE" section).
python3 - "$maintainer" > "$work/changelog" <<'PY'
import re, sys, textwrap
from datetime import datetime, timezone
entries = re.split(r"^## ", open("CHANGELOG.md", encoding="utf-8").read(), flags=re.M)[1:]
for entry in entries:
    heading, _, body = entry.partition("\n")
    version, _, day = heading.partition(" — ")
    items = re.split(r"^- ", body, flags=re.M)[1:]
    print(f"songspace ({version.strip()}) unstable; urgency=medium\n")
    for item in items:
        text = " ".join(item.replace("**", "").split())
        print(textwrap.fill(text, 78, initial_indent="  * ", subsequent_indent="    "))
    when = datetime.strptime(day.strip(), "%Y-%m-%d").replace(hour=12, tzinfo=timezone.utc)
    print(f"\n -- {sys.argv[1]}  {when.strftime('%a, %d %b %Y %H:%M:%S %z')}\n")
PY
gzip -9n < "$work/changelog" > "$share/doc/songspace/changelog.gz"
install -m 644 tools/demo/README.md "$share/doc/songspace/demo-sources.md"
# Every crate the program is built from (normal dependencies on this platform), with its licence.
cargo metadata --format-version 1 --locked --filter-platform "$(rustc -vV | sed -n 's/^host: //p')" | python3 -c '
import json, sys
meta = json.load(sys.stdin)
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
packages = {p["id"]: p for p in meta["packages"]}
root = next(p["id"] for p in meta["packages"] if p["name"] == "songspace")
seen, todo = set(), [root]
while todo:
    node = todo.pop()
    if node not in seen:
        seen.add(node)
        todo += [d["pkg"] for d in nodes[node]["deps"] if any(k["kind"] is None for k in d["dep_kinds"])]
print("Crates songspace is built from (its dependencies on this platform, macros included), with the licences their Cargo.toml give:\n")
for p in sorted((packages[i] for i in seen if i != root), key=lambda p: (p["name"], p["version"])):
    print("%s %s: %s" % (p["name"], p["version"], p["license"] or "see its crate"))
' > "$share/doc/songspace/crate-licences.txt"
find "$stage/usr" -type d -exec chmod 755 {} +
find "$share" -type f -exec chmod 644 {} +

# Depends: the libraries the binary links, from dpkg-shlibdeps, and those it opens at run time,
# which no tool sees (found with LD_DEBUG=files on the window under Xvfb): libvulkan1 (wgpu's
# Vulkan backend), libx11-6, libx11-xcb1, libxcursor1, libxi6 and libxkbcommon-x11-0 (winit's X11
# backend). Recommends: mesa-vulkan-drivers (a Vulkan device on the CPU where there is no GPU
# driver), libegl1 (wgpu's OpenGL fallback) and zenity or a desktop portal (the file dialogs).
mkdir -p "$work/shlibs/debian"
printf 'Source: songspace\n\nPackage: songspace\nArchitecture: any\n' > "$work/shlibs/debian/control"
linked="$(cd "$work/shlibs" && dpkg-shlibdeps -O "$program" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
[ -n "$linked" ] || { say "dpkg-shlibdeps found no libraries for $program"; exit 1; }
depends="$linked, libvulkan1, libx11-6, libx11-xcb1, libxcursor1, libxi6, libxkbcommon-x11-0"

cat > "$stage/DEBIAN/control" <<EOF
Package: songspace
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Recommends: mesa-vulkan-drivers, libegl1, zenity | xdg-desktop-portal-gtk
Section: sound
Priority: optional
Description: see your music as a 3D map of how it sounds
 songspace turns a music collection into a 3D map: every song is a point,
 placed by what it sounds like. Its audio is decoded, turned into a log-mel
 spectrogram and embedded by a small neural network; click a song to hear it
 next to its three nearest neighbours. Likes, playlists, a queue with radio
 and paths of similar songs; training on your own library in the app.
 .
 A demo library of public-domain music opens with no setup.
EOF

mkdir -p "$out"
deb="$out/songspace_${version}_${arch}.deb"
dpkg-deb --root-owner-group "${compression[@]}" --build "$stage" "$deb" >/dev/null
say "Depends: $depends"
say "$(du -h "$deb" | cut -f1) $deb (installed: $(du -sh --exclude=DEBIAN "$stage" | cut -f1))"
echo "$deb"
