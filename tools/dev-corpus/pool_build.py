#!/usr/bin/env python3
"""Builder helper for the unlabelled pool (see build-pool.sh): music to learn from without labels.

Standard library only.  Sub-commands:

  packages                      print the Debian packages the pool is made from
  build  --out ROOT --debs FILE --work DIR
                                extract every audio file (also inside zip/pk3 archives), keep the
                                music, cut excerpts, encode, write FMA-style metadata
  verify --out ROOT             decode every clip, count clips per source

Layout written under ROOT (FMA's, as the development corpus):
  fma_pool/NNN/NNNNNN.mp3       30 s excerpts, 44.1 kHz stereo, CBR 192 kbit/s
  fma_metadata/tracks.csv       FMA's 52 columns; genre left empty; artist = album = package
  fma_metadata/genres.csv       header only (no labels)
  SOURCES.md                    per package: audio files seen, music kept, excerpts, what was left out
  manifest.csv                  provenance of every clip (package path, excerpt start)

What counts as music: a file that lies in a music folder (a path component such as music, musics,
songs, soundtrack, bgm, mus) and lasts at least 20 s, or any audio file over a minute.  Sound
effects and voices are short and live elsewhere; the few long ambience loops that pass are music
enough to learn timbre from.  Several excerpts per long track: one per 45 s, at most 4, spread
evenly over the middle 80 % of the track (`build --seconds-per-excerpt S --max-excerpts N` for
a denser pool: 20 and 10 cut the same 173 tracks into 955 overlapping excerpts).
"""
import argparse
import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dev_corpus_build import decode_error, write_fma_tracks, ffprobe, log, run, sha256_files, tag  # noqa: E402

# The packages issue 15 names, and no other (the held-out evaluation set comes from other Debian
# sources, and the development corpus's 19 packages are kept out so it stays unheard).
PACKAGES = [
    "supertuxkart-data", "hedgewars-data", "frozen-bubble-data", "neverball-data", "xmoto-data",
    "lincity-ng-data", "extremetuxracer-data", "trigger-rally-data", "openarena-data",
    "redeclipse-data", "teeworlds-data", "endless-sky-data", "lugaru-data", "freeciv-data",
    "scorched3d-data", "ardentryst", "powermanga-data", "pokerth-data", "dreamchess-data",
    "blockattack", "fillets-ng-data", "cube2-data", "freeorion-data", "gcompris-qt-data",
    "berusky2-data", "alienblaster-data", "chromium-bsu-data", "kobodeluxe-data",
    "holotz-castle-data", "bzflag-data", "liquidwar-data", "bumprace-data", "viruskiller",
    "stormbaancoureur-data",
]
AUDIO_EXT = (".ogg", ".oga", ".mp3", ".flac", ".wav", ".opus", ".mod", ".xm", ".it", ".s3m")
ARCHIVE_EXT = (".zip", ".pk3", ".data", ".pak")
MUSIC_DIR = re.compile(r"^(music|musics|songs?|soundtracks?|bgm|mus|tracks)$", re.I)
MIN_MUSIC_DIR_SECONDS = 20.0
MIN_ELSEWHERE_SECONDS = 60.0
CLIP_SECONDS = 30.0
SECONDS_PER_EXCERPT = 45.0
MAX_EXCERPTS = 4
FIRST_TRACK_ID = 500001
AUDIO_DIR = "fma_pool"
BITRATE = 192000
ENCODER_SETTINGS = "libmp3lame CBR 192k 44100Hz stereo pool-v1"


def in_music_folder(rel):
    return any(MUSIC_DIR.match(part) for part in rel.split("/")[:-1])


def extract(pkg, deb, work):
    """Every audio file of one package, also those inside zip archives (idempotent, stamped)."""
    dest = os.path.join(work, "pool", pkg)
    stamp = os.path.join(dest, ".extracted-from")
    key = "%s|%d|%s|%s" % (os.path.basename(deb), os.path.getsize(deb), AUDIO_EXT, ARCHIVE_EXT)
    if os.path.exists(stamp) and open(stamp).read() == key:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    patterns = ["*" + e for e in AUDIO_EXT + ARCHIVE_EXT]
    patterns += [p.upper() for p in patterns]
    tar = subprocess.Popen(["tar", "-x", "-C", dest, "--wildcards", "--no-anchored"] + patterns,
                           stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    run(["dpkg-deb", "--fsys-tarfile", deb], stdout=tar.stdin)
    tar.stdin.close()
    tar.wait()  # "not found in archive" for the patterns a package lacks is expected
    for root, _dirs, files in os.walk(dest):
        for name in files:
            path = os.path.join(root, name)
            if not name.lower().endswith(ARCHIVE_EXT):
                continue
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as z:
                    for member in z.namelist():
                        if member.lower().endswith(AUDIO_EXT) and ".." not in member.split("/"):
                            z.extract(member, path + ".unzipped")
            os.remove(path)
    with open(stamp, "w") as f:
        f.write(key)
    return dest


def excerpt_starts(duration, seconds_per_excerpt=SECONDS_PER_EXCERPT, max_excerpts=MAX_EXCERPTS):
    if duration <= CLIP_SECONDS:
        return [0.0]
    n = int(max(1, min(max_excerpts, duration // seconds_per_excerpt)))
    if n == 1:
        return [round((duration - CLIP_SECONDS) / 2.0, 3)]
    first, last = 0.1 * duration, 0.9 * duration - CLIP_SECONDS
    if last <= first:
        first, last = 0.0, duration - CLIP_SECONDS
    return [round(first + k * (last - first) / (n - 1), 3) for k in range(n)]


def clip_path(out, tid):
    s = "%06d" % tid
    return os.path.join(out, AUDIO_DIR, s[:3], s + ".mp3")


def encode(clip, dst):
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-threads", "1",
           "-ss", "%.3f" % clip["start"], "-t", "%.3f" % clip["seconds"], "-i", clip["file"],
           "-map", "0:a:0", "-map_metadata", "-1", "-ar", "44100", "-ac", "2",
           "-c:a", "libmp3lame", "-b:a", "192k", "-id3v2_version", "3",
           "-metadata", "title=" + clip["title"], "-metadata", "artist=" + clip["pkg"],
           "-metadata", "album=" + clip["pkg"], "-metadata", "track=%d" % clip["number"],
           "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "mp3", dst]
    run(cmd)


def write_tracks_csv(path, clips, versions):
    album_ids = {pkg: i + 1 for i, pkg in enumerate(PACKAGES)}
    per_album = {}
    for c in clips:
        per_album[c["pkg"]] = per_album.get(c["pkg"], 0) + 1

    def rows():
        for c in clips:
            row = {
                ("album", "id"): album_ids[c["pkg"]], ("album", "title"): c["pkg"],
                ("album", "tags"): "[]", ("album", "tracks"): per_album[c["pkg"]],
                ("album", "type"): "Album",
                ("album", "information"): "<p>Debian package %s %s.</p>"
                                          % (c["pkg"], versions[c["pkg"]]),
                ("artist", "id"): album_ids[c["pkg"]], ("artist", "name"): c["pkg"],
                ("artist", "tags"): "[]", ("set", "subset"): "small",
                ("track", "bit_rate"): BITRATE, ("track", "composer"): c["composer"],
                ("track", "duration"): int(round(c["seconds"])),
                ("track", "genres"): "[]", ("track", "genres_all"): "[]",
                ("track", "information"): "<p>%s %s: %s; excerpt %.1f-%.1f s</p>"
                                          % (c["pkg"], versions[c["pkg"]], c["relpath"],
                                             c["start"], c["start"] + c["seconds"]),
                ("track", "number"): c["number"], ("track", "tags"): "[]",
                ("track", "title"): c["title"],
            }
            yield c["id"], row

    write_fma_tracks(path, rows())


def cmd_packages(_args):
    for p in PACKAGES:
        print(p)


def cmd_build(args):
    out, work = os.path.abspath(args.out), os.path.abspath(args.work)
    debs = {}
    with open(args.debs) as f:
        for line in f:
            if line.strip():
                pkg, version, path = line.rstrip("\n").split("\t")
                debs[pkg] = (version, path)
    report, clips, seen = {}, [], {}
    for pkg in PACKAGES:
        r = report.setdefault(pkg, dict(audio=0, kept=0, clips=0, minutes=0.0, short=0,
                                         unreadable=0, duplicate=0, note=""))
        if pkg not in debs:
            r["note"] = "package not available"
            continue
        root = extract(pkg, debs[pkg][1], work)
        files = []
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                if name.lower().endswith(AUDIO_EXT):
                    files.append(os.path.join(dirpath, name))
        for path in sorted(files):
            rel = os.path.relpath(path, root).replace(".unzipped/", "!/")
            r["audio"] += 1
            info = ffprobe(path)
            if info is None or not any(s.get("codec_type") == "audio"
                                       for s in info.get("streams", [])):
                r["unreadable"] += 1
                continue
            duration = float(info.get("format", {}).get("duration", 0) or 0)
            wanted = (duration >= MIN_MUSIC_DIR_SECONDS and in_music_folder(rel)) \
                or duration > MIN_ELSEWHERE_SECONDS
            if not wanted:
                r["short"] += 1
                continue
            digest = sha256_files([path])
            if digest in seen:
                r["duplicate"] += 1
                continue
            seen[digest] = "%s:%s" % (pkg, rel)
            r["kept"] += 1
            r["minutes"] += duration / 60.0
            stem = os.path.splitext(os.path.basename(rel))[0]
            title = (tag(info, "title") or stem)[:180]
            composer = tag(info, "artist", "composer")[:200]
            starts = excerpt_starts(duration, args.seconds_per_excerpt, args.max_excerpts)
            for k, start in enumerate(starts):
                clips.append(dict(pkg=pkg, relpath=rel, file=path, sha256=digest, start=start,
                                  seconds=min(CLIP_SECONDS, duration), composer=composer,
                                  title=title if len(starts) == 1
                                  else "%s (%d/%d)" % (title, k + 1, len(starts))))
                r["clips"] += 1
        if r["kept"] == 0:
            r["note"] = "no music found (%d audio files, none in a music folder and over 20 s " \
                        "or over a minute)" % r["audio"]
    if not clips:
        sys.exit("no music found in any package")
    clips.sort(key=lambda c: (PACKAGES.index(c["pkg"]), c["relpath"], c["start"]))
    numbers = {}
    for i, c in enumerate(clips):
        c["id"] = FIRST_TRACK_ID + i
        numbers[c["pkg"]] = numbers.get(c["pkg"], 0) + 1
        c["number"] = numbers[c["pkg"]]

    manifest_path = os.path.join(out, "manifest.csv")
    old = {}
    if os.path.exists(manifest_path):
        with open(manifest_path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                old[row["track_id"]] = row
    os.makedirs(os.path.join(out, AUDIO_DIR), exist_ok=True)
    wanted, encoded = set(), 0
    for i, c in enumerate(clips):
        dst = clip_path(out, c["id"])
        wanted.add(os.path.abspath(dst))
        key = "%s|%.3f|%.3f|%s|%s|%d" % (c["sha256"], c["start"], c["seconds"], ENCODER_SETTINGS,
                                         c["title"], c["number"])
        c["key"] = hashlib.sha1(key.encode()).hexdigest()
        o = old.get(str(c["id"]))
        if o and o.get("key") == c["key"] and os.path.exists(dst):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = dst + ".part"
        encode(c, tmp)
        os.replace(tmp, dst)
        encoded += 1
        if encoded % 50 == 0:
            log("encoded %d (at clip %d/%d)" % (encoded, i + 1, len(clips)))
    log("encoded %d clips, %d unchanged" % (encoded, len(clips) - encoded))
    for dirpath, _dirs, names in os.walk(os.path.join(out, AUDIO_DIR)):
        for name in names:
            p = os.path.abspath(os.path.join(dirpath, name))
            if p.endswith(".mp3") and p not in wanted:
                os.remove(p)

    versions = {pkg: v for pkg, (v, _) in debs.items()}
    meta = os.path.join(out, "fma_metadata")
    os.makedirs(meta, exist_ok=True)
    write_tracks_csv(os.path.join(meta, "tracks.csv"), clips, versions)
    with open(os.path.join(meta, "genres.csv"), "w", newline="") as f:
        f.write("genre_id,#tracks,parent,title,top_level\n")
    with open(manifest_path + ".tmp", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["track_id", "source", "version", "path_in_package", "sha256",
                    "excerpt_start", "excerpt_seconds", "key"])
        for c in clips:
            w.writerow([c["id"], c["pkg"], versions[c["pkg"]], c["relpath"], c["sha256"],
                        "%.3f" % c["start"], "%.3f" % c["seconds"], c["key"]])
    os.replace(manifest_path + ".tmp", manifest_path)
    with open(os.path.join(out, "SOURCES.md"), "w") as f:
        f.write("# Unlabelled pool sources\n\nSource = Debian package = artist.name = album.title; "
                "no genre.  Music = in a music folder and >= 20 s, or > 60 s anywhere.\n\n"
                "| source | version | audio files | music kept | minutes | excerpts | "
                "too short / not music | duplicates | unreadable | note |\n"
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
        for pkg in PACKAGES:
            r = report[pkg]
            f.write("| %s | %s | %d | %d | %.1f | %d | %d | %d | %d | %s |\n"
                    % (pkg, versions.get(pkg, "-"), r["audio"], r["kept"], r["minutes"],
                       r["clips"], r["short"], r["duplicate"], r["unreadable"], r["note"]))
        f.write("\nTotal: %d excerpts from %d tracks of %d packages.\n"
                % (len(clips), sum(r["kept"] for r in report.values()),
                   sum(1 for r in report.values() if r["kept"])))
    log("built %d excerpts from %d tracks of %d packages into %s"
        % (len(clips), sum(r["kept"] for r in report.values()),
           sum(1 for r in report.values() if r["kept"]), out))


def cmd_verify(args):
    out = os.path.abspath(args.out)
    bad, per_source, total = [], {}, 0
    with open(os.path.join(out, "manifest.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        p = clip_path(out, int(row["track_id"]))
        error = decode_error(p)
        if error is not None:
            bad.append((p, error))
        per_source[row["source"]] = per_source.get(row["source"], 0) + 1
        total += 1
    print("clips: %d, decode errors: %d, sources: %d" % (total, len(bad), len(per_source)))
    for src, n in sorted(per_source.items(), key=lambda kv: -kv[1]):
        print("  %-24s %d" % (src, n))
    for p, e in bad:
        print("  BAD", p, e)
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("packages")
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    b.add_argument("--debs", required=True, help="TSV: package, version, path of .deb")
    b.add_argument("--work", required=True)
    b.add_argument("--seconds-per-excerpt", type=float, default=SECONDS_PER_EXCERPT,
                   help="one excerpt per this many seconds of a track (default %(default)s)")
    b.add_argument("--max-excerpts", type=int, default=MAX_EXCERPTS,
                   help="at most this many excerpts per track (default %(default)s)")
    v = sub.add_parser("verify")
    v.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.cmd == "packages":
        cmd_packages(args)
    elif args.cmd == "build":
        cmd_build(args)
    else:
        sys.exit(cmd_verify(args))


if __name__ == "__main__":
    main()
