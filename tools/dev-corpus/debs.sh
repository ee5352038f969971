# Shared by build-dev-corpus.sh and build-pool.sh (sourced, not run): the tools they need, apt
# package lists, and downloading each package's current .deb once. The caller sets `say`.

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# ensure_tools_and_lists HELPER: apt-get, dpkg-deb, tar and python3 present; apt lists fresh
# enough to know HELPER's first package; ffmpeg installed.
ensure_tools_and_lists() {
  local helper="$1" tool first_pkg
  for tool in apt-get apt-cache dpkg-deb tar python3; do
    command -v "$tool" >/dev/null || { say "missing $tool"; exit 1; }
  done
  # sed reads the whole list: head would close the pipe early and, under pipefail, fail the
  # build with a broken pipe whenever the helper is still writing.
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
}

# download_debs HELPER DEBDIR LIST: downloads each of HELPER's packages' current candidate .deb
# once (kept in DEBDIR) and writes LIST: package, version, path of the .deb, tab-separated.
download_debs() {
  local helper="$1" debdir="$2" list="$3" pkg ver enc deb
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
}
