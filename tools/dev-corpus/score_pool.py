#!/usr/bin/env python3
"""Builder helper for the rendered part of the unlabelled pool (see build-score-pool.sh): many
more music21 scores than the demo uses, played through the demo's pipeline (music21 -> MIDI ->
FluidSynth with the FluidR3 General MIDI SoundFont) on varied instruments, some with a bass line
and a drum kit, cut to 30 s clips in FMA layout with no genre.

Runs in the demo's Python environment (tools/demo/requirements.txt: music21 10.5.1).

  build  --out ROOT --work DIR [--per-collection N] [--jobs J]
  verify --out ROOT

Layout written under ROOT (FMA's, as the Debian part of the pool):
  fma_scores/NNN/NNNNNN.mp3     30 s clips, 44.1 kHz stereo, CBR 192 kbit/s; ids from 600001
  fma_metadata/tracks.csv       FMA's 52 columns; genre left empty
  fma_metadata/genres.csv       header only (no labels)
  SOURCES.md                    per collection: scores tried, clips made, what was left out
  manifest.csv                  every clip's corpus file, tune, excerpt, tempo and instruments

Album = "collection, ensemble" (say "Ryan's Mammoth Collection, fiddle"): songs of one album are
not each other's negatives in self-supervised training, and one collection played on one set of
instruments is as alike as one game's soundtrack.  Artist = composer or collection.

Deterministic for the same tool versions: scores, excerpts, tempos and instruments are drawn
from seeded streams, one per score, so a larger --per-collection keeps every clip a smaller one
made.  The demo's own pieces (assets/demo/music/*/sources.tsv) are left out, and so are the
corpus collections with restrictions (Palestrina, Essen folk songs, Trecento) and the Nottingham
dataset, whose licence the corpus does not state.
"""
import argparse
import csv
import hashlib
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tools" / "demo"))
from dev_corpus_build import decode_error, write_fma_tracks, log  # noqa: E402

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SEED = 20261203
SAMPLE_RATE = 44100
CLIP_SECONDS = 30.0
FIRST_TRACK_ID = 600001
AUDIO_DIR = "fma_scores"
BITRATE = 192000
RENDER_SETTINGS = "fluidsynth FluidR3_GM 44100 gain0.5 rms-18 libmp3lame 192k stereo scores-v1"

# General MIDI programs (0-based), parts from the top down, the last repeating. `bass`: the
# lowest part doubled two octaves down on that program (one-line tunes get a bass that way);
# `drums`: a kit on channel 10 keeping the metre; `octave`: the top part doubled an octave down.
SOLO = [
    dict(name="piano", programs=[0], octave=True),
    dict(name="fiddle", programs=[110]),
    dict(name="violin", programs=[40]),
    dict(name="flute", programs=[73]),
    dict(name="tin whistle", programs=[78]),
    dict(name="accordion", programs=[21]),
    dict(name="harmonica", programs=[22]),
    dict(name="banjo", programs=[105]),
    dict(name="nylon guitar", programs=[24], octave=True),
    dict(name="clarinet", programs=[71]),
    dict(name="trumpet", programs=[56]),
    dict(name="alto sax", programs=[65], bass=32, drums=True),
    dict(name="vibraphone", programs=[11]),
    dict(name="marimba", programs=[12], octave=True),
    dict(name="bagpipe", programs=[109]),
    dict(name="overdriven guitar, bass and drums", programs=[29], bass=33, drums=True),
    dict(name="distortion guitar, bass and drums", programs=[30], bass=34, drums=True),
    dict(name="square lead, synth bass and drums", programs=[80], bass=38, drums=True),
    dict(name="saw lead, synth bass and drums", programs=[81], bass=39, drums=True),
    dict(name="electric piano, bass and drums", programs=[4], bass=33, drums=True, octave=True),
]
ENSEMBLE = [
    dict(name="string orchestra", programs=[48, 48, 48, 48]),
    dict(name="string quartet", programs=[40, 40, 41, 42]),
    dict(name="brass", programs=[56, 56, 60, 57, 58]),
    dict(name="woodwinds", programs=[73, 68, 71, 70]),
    dict(name="church organ", programs=[19]),
    dict(name="choir", programs=[52]),
    dict(name="piano", programs=[0]),
    dict(name="harpsichord", programs=[6]),
    dict(name="guitars", programs=[24, 25, 24, 32]),
    dict(name="synth pads", programs=[89, 88, 90, 38]),
    dict(name="rock band", programs=[30, 29, 27, 33], drums=True),
    dict(name="electric piano and bass", programs=[4, 4, 4, 33], drums=True),
    dict(name="saxophones", programs=[64, 65, 66, 67]),
]


# Each collection: its scores (files, or books of many tunes), who wrote them, its tempo range
# (quarter notes a minute) and its instruments.
def collections():
    from music21 import corpus

    def composer(name, suffix=None):
        return sorted((p for p in corpus.getComposer(name)
                       if suffix is None or p.suffix == suffix), key=str)

    others = ["schumann_robert", "schumann_clara", "chopin", "joplin", "beach", "handel",
              "corelli", "cpebach", "schubert", "verdi", "weber", "josquin", "johnson_j_r",
              "liliuokalani", "lusitano", "luca", "ciconia", "schoenberg", "webern"]
    return [
        dict(key="bach", album="J. S. Bach: chorales", artist="Johann Sebastian Bach",
             files=lambda: [p for p in composer("bach") if re.search(r"bwv\d+", p.name)],
             qpm=(60, 96), palette=ENSEMBLE),
        dict(key="ryans", album="Ryan's Mammoth Collection (1883)",
             artist="Traditional, from Ryan's collection",
             files=lambda: composer("ryansMammoth"), qpm=(100, 200), palette=SOLO),
        dict(key="oneills", album="O'Neill's Music of Ireland (1850)",
             artist="Traditional (Irish)", books=lambda: composer("oneills1850"),
             qpm=(100, 200), palette=SOLO),
        dict(key="aird", album="Aird's Airs (1778)",
             artist="Traditional (Scottish), from Aird's collection",
             books=lambda: composer("airdsAirs"), qpm=(70, 140), palette=SOLO),
        dict(key="monteverdi", album="C. Monteverdi: madrigals", artist="Claudio Monteverdi",
             files=lambda: composer("monteverdi", ".mxl"), qpm=(96, 144), palette=ENSEMBLE),
        dict(key="quartets", album="String quartets (Haydn, Mozart, Beethoven)",
             artist=None,
             files=lambda: [p for c in ("haydn", "mozart", "beethoven")
                            for p in composer(c, ".mxl") if "k545" not in str(p)],
             qpm=(80, 140), palette=ENSEMBLE, excerpts=3),
        dict(key="others", album="Other composers", artist=None,
             files=lambda: [p for c in others for p in composer(c)
                            if p.suffix in (".mxl", ".xml", ".krn", ".musicxml", ".abc")],
             qpm=(70, 140), palette=ENSEMBLE + SOLO[:3], excerpts=4),
    ]


def demo_sources():
    """(corpus file, title) of every demo clip; title None for a file-per-piece source."""
    used = set()
    for tsv in sorted((REPO / "assets" / "demo" / "music").glob("*/sources.tsv")):
        with open(tsv, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                src = row["music21 corpus source"]
                book = src.startswith(("oneills1850/", "airdsAirs/"))
                used.add((src, row["title"].strip() if book else None))
    return used


def rel(path):
    return str(path).split("corpus/")[-1]


def add_drums(mf, score, ticks_per_quarter):
    """A drum kit on channel 10 for the score's length: kick on the bar's first beat (and its
    middle one in four), snare on the others, closed hi-hat on every half beat."""
    from music21 import midi

    ts = score.recurse().getElementsByClass("TimeSignature").first()
    beat = ts.beatDuration.quarterLength if ts else 1.0
    beats = ts.beatCount if ts else 4
    total = score.highestTime
    track = midi.MidiTrack(len(mf.tracks))
    events = []  # (tick, order, pitch, velocity): note-offs before note-ons at one tick
    t, n = 0.0, 0
    while t < total:
        in_bar = n % beats
        hits = [(36 if in_bar == 0 or (beats == 4 and in_bar == 2) else 38, 100 if in_bar == 0 else 80)]
        for offset in (0.0, beat / 2):
            tick = int(round((t + offset) * ticks_per_quarter))
            events.append((tick, 1, 42, 60))
            events.append((tick + ticks_per_quarter // 8, 0, 42, 0))
        tick = int(round(t * ticks_per_quarter))
        for pitch, velocity in hits:
            events.append((tick, 1, pitch, velocity))
            events.append((tick + ticks_per_quarter // 4, 0, pitch, 0))
        t += beat
        n += 1
    events.sort()
    now = 0
    for tick, _order, pitch, velocity in events:
        dt = midi.DeltaTime(track, time=tick - now, channel=10)
        track.events.append(dt)
        on = midi.MidiEvent(track, type=midi.ChannelVoiceMessages.NOTE_ON, channel=10)
        on.pitch, on.velocity = pitch, velocity
        track.events.append(on)
        now = tick
    track.events.append(midi.DeltaTime(track, time=0, channel=10))
    end = midi.MidiEvent(track, type=midi.MetaEvents.END_OF_TRACK, channel=10)
    end.data = b""
    track.events.append(end)
    mf.tracks.append(track)


def render_clip(score, plan, work):
    """Plays `score` (already cut) on the plan's instruments and tempo; returns the WAV path."""
    from music21 import midi
    from make_demo import set_performance

    set_performance(score, plan["programs"], plan["qpm"])
    if plan.get("octave"):
        score.insert(0, score.parts[0].transpose(-12))
    if plan.get("bass") is not None:
        from music21 import instrument

        bass = score.parts[-1].transpose(-24)
        for old in list(bass.recurse().getElementsByClass(instrument.Instrument)):
            old.activeSite.remove(old)
        player = instrument.Instrument()
        player.midiProgram = plan["bass"]
        bass.insert(0, player)
        score.insert(0, bass)
    mf = midi.translate.music21ObjectToMidiFile(score)
    if plan.get("drums"):
        add_drums(mf, score, mf.ticksPerQuarterNote)
    mid, wav = work / "piece.mid", work / "piece.wav"
    mf.open(str(mid), "wb")
    mf.write()
    mf.close()
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(SAMPLE_RATE), "-F", str(wav),
                    SOUNDFONT, str(mid)], check=True, stdout=subprocess.DEVNULL, timeout=120)
    return wav


def level_gain_db(wav):
    """The gain that brings the rendering's RMS to -18 dBFS without its peak passing -1 dBFS:
    FluidSynth's level depends on how many voices play, and a whole collection 10 dB quieter than
    other music would be something to learn that is not style."""
    import wave

    import numpy as np

    with wave.open(str(wav)) as w:
        frames = w.readframes(min(w.getnframes(), int(CLIP_SECONDS * w.getframerate())))
    x = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    if x.size == 0:
        return 0.0
    rms = float(np.sqrt(np.mean(x * x)))
    peak = float(np.max(np.abs(x)))
    if rms <= 1e-6:
        return 0.0
    gain = -18.0 - 20.0 * np.log10(rms)
    return float(min(gain, -1.0 - 20.0 * np.log10(peak)))


def encode(wav, dst, tags):
    """30 s of the rendering (looped when the piece is shorter, as a tune is played again),
    levelled, encoded as the pool's other clips are."""
    tmp = dst.with_suffix(".part")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(wav),
         "-t", "%.1f" % CLIP_SECONDS,
         "-af", "volume=%.2fdB,afade=t=in:d=0.02,afade=t=out:st=%.1f:d=1"
         % (level_gain_db(wav), CLIP_SECONDS - 1),
         "-ar", str(SAMPLE_RATE), "-ac", "2", "-map_metadata", "-1",
         "-c:a", "libmp3lame", "-b:a", "192k", "-id3v2_version", "3",
         "-metadata", "title=" + tags["title"], "-metadata", "artist=" + tags["artist"],
         "-metadata", "album=" + tags["album"],
         "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "mp3", str(tmp)],
        check=True)
    os.replace(tmp, dst)


def plan_for(collection, source, index, excerpt_no):
    """The seeded choices for one clip: tempo, instruments and where the excerpt starts."""
    rng = random.Random("%d|%s|%s|%d|%d" % (SEED, collection["key"], source, index, excerpt_no))
    low, high = collection["qpm"]
    ensemble = rng.choice(collection["palette"])
    plan = dict(ensemble)
    plan["qpm"] = rng.randint(low, high)
    plan["start_fraction"] = rng.random()
    return plan


def cut(score, plan):
    """At most 30 s and a bar of the score (whole measures), from a seeded place."""
    from make_demo import excerpt

    quarters = CLIP_SECONDS * plan["qpm"] / 60 + 4
    room = score.highestTime - quarters
    if room <= 0:
        return score
    return excerpt(score, plan["start_fraction"] * room, quarters)


def clip_key(collection, source, index, excerpt_no, plan):
    text = "|".join([RENDER_SETTINGS, collection["key"], source, str(index), str(excerpt_no),
                     plan["name"], str(plan["qpm"]), "%.6f" % plan["start_fraction"]])
    return hashlib.sha1(text.encode()).hexdigest()


def render_task(task):
    """One corpus file: parse it once, render each wanted clip of it (a book: up to `want` of
    its tunes, in a seeded order).  Returns (clips made, notes) and never raises: a score music21
    cannot read or render is a note, and the build goes on."""
    key, path, want, clips_dir, skip_titles = task
    collection = next(c for c in collections() if c["key"] == key)
    from music21 import converter, stream
    from make_demo import strip_repeats

    source = rel(path)
    made, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        try:
            parsed = converter.parse(str(path))
        except Exception as e:  # noqa: BLE001
            return made, ["%s: unreadable (%s)" % (source, str(e)[:120])]
        scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
        order = list(range(len(scores)))
        random.Random("%d|%s|order" % (SEED, source)).shuffle(order)
        for index in order:
            if len(made) >= want:
                break
            score = scores[index]
            title = ((score.metadata.title if score.metadata else None) or Path(source).stem).strip()
            if title in skip_titles:
                continue
            try:
                if not score.parts or not score.highestTime:
                    notes.append("%s #%d: no parts" % (source, index))
                    continue
                strip_repeats(score)
                for excerpt_no in range(collection.get("excerpts", 1)):
                    if len(made) >= want:
                        break
                    plan = plan_for(collection, source, index, excerpt_no)
                    if excerpt_no and score.highestTime * 60 / plan["qpm"] < (excerpt_no + 1) * CLIP_SECONDS:
                        break  # a short piece gives one excerpt
                    key = clip_key(collection, source, index, excerpt_no, plan)
                    dst = Path(clips_dir) / (key + ".mp3")
                    artist = collection["artist"] or composer_name(source)
                    name = title if excerpt_no == 0 else "%s (excerpt %d)" % (title, excerpt_no + 1)
                    album = "%s, %s" % (collection["album"], plan["name"])
                    if not dst.exists():
                        piece = cut(score, plan)
                        if piece.highestTime > 3 * (CLIP_SECONDS * plan["qpm"] / 60 + 4):
                            notes.append("%s #%d: measures could not be cut" % (source, index))
                            break
                        wav = render_clip(piece, plan, work)
                        if wav.stat().st_size < 44 + 4 * SAMPLE_RATE * 3:
                            notes.append("%s #%d: under 3 s rendered" % (source, index))
                            break
                        encode(wav, dst, dict(title=name, artist=artist, album=album))
                    made.append(dict(collection=collection["key"], source=source, index=index,
                                     excerpt=excerpt_no, title=name, artist=artist, album=album,
                                     ensemble=plan["name"], qpm=plan["qpm"], key=key,
                                     start_fraction=plan["start_fraction"]))
            except Exception as e:  # noqa: BLE001
                notes.append("%s #%d: %s" % (source, index, str(e)[:120]))
    return made, notes


def composer_name(source):
    head = source.split("/")[0]
    return {"haydn": "Joseph Haydn", "mozart": "Wolfgang Amadeus Mozart",
            "beethoven": "Ludwig van Beethoven", "schumann_robert": "Robert Schumann",
            "schumann_clara": "Clara Schumann", "chopin": "Frédéric Chopin",
            "joplin": "Scott Joplin", "beach": "Amy Beach", "handel": "George Frideric Handel",
            "corelli": "Arcangelo Corelli", "cpebach": "C. P. E. Bach",
            "schubert": "Franz Schubert", "verdi": "Giuseppe Verdi",
            "weber": "Carl Maria von Weber", "josquin": "Josquin des Prez",
            "johnson_j_r": "J. Rosamond Johnson", "liliuokalani": "Liliʻuokalani",
            "lusitano": "Vicente Lusitano", "luca": "Gaffurius (Luca)",
            "ciconia": "Johannes Ciconia", "schoenberg": "Arnold Schoenberg",
            "webern": "Anton Webern"}.get(head, head)


def tasks_for(collection, per_collection, clips_dir, demo):
    """A collection's work: one task per file, in a seeded order, enough to reach the cap."""
    if "books" in collection:
        books = list(collection["books"]())
        per_book = -(-per_collection // max(1, len(books)))
        out = []
        for book in books:
            skip = {t for (s, t) in demo if s == rel(book) and t}
            out.append((collection["key"], book, per_book, clips_dir, skip))
        return out
    files = [p for p in collection["files"]() if (rel(p), None) not in demo]
    random.Random("%d|%s|files" % (SEED, collection["key"])).shuffle(files)
    per_file = collection.get("excerpts", 1)
    # A few more than needed, as some scores fail (at most 4 of 250 did); the first that
    # succeed in the seeded order are kept, so the choice does not depend on the workers.
    n = min(len(files), -(-per_collection * 21 // (20 * per_file)) + 8)
    return [(collection["key"], p, per_file, clips_dir, set()) for p in files[:n]]


def write_tracks_csv(path, clips, albums):
    per_album = {}
    for c in clips:
        per_album[c["album"]] = per_album.get(c["album"], 0) + 1

    def rows():
        for c in clips:
            album_id = albums[c["album"]]
            row = {
                ("album", "id"): album_id, ("album", "title"): c["album"],
                ("album", "tags"): "[]", ("album", "tracks"): per_album[c["album"]],
                ("album", "type"): "Album",
                ("album", "information"): "<p>music21 corpus, rendered with FluidSynth.</p>",
                ("artist", "id"): album_id, ("artist", "name"): c["artist"],
                ("artist", "tags"): "[]", ("set", "subset"): "small",
                ("track", "bit_rate"): BITRATE, ("track", "composer"): c["artist"],
                ("track", "duration"): int(CLIP_SECONDS),
                ("track", "genres"): "[]", ("track", "genres_all"): "[]",
                ("track", "information"): "<p>%s, score %d, %d qpm, %s</p>"
                                          % (c["source"], c["index"], c["qpm"], c["ensemble"]),
                ("track", "number"): c["number"], ("track", "tags"): "[]",
                ("track", "title"): c["title"],
            }
            yield c["id"], row

    write_fma_tracks(path, rows())


def clip_path(out, tid):
    s = "%06d" % tid
    return os.path.join(out, AUDIO_DIR, s[:3], s + ".mp3")


def cmd_build(args):
    out, work = os.path.abspath(args.out), os.path.abspath(args.work)
    if not os.path.exists(SOUNDFONT):
        sys.exit("%s is missing (Debian package fluid-soundfont-gm)" % SOUNDFONT)
    clips_dir = os.path.join(work, "clips")
    os.makedirs(clips_dir, exist_ok=True)
    demo = demo_sources()
    all_clips, report = [], {}
    with multiprocessing.Pool(args.jobs, maxtasksperchild=20) as pool:
        for collection in collections():
            tasks = tasks_for(collection, args.per_collection, clips_dir, demo)
            made, notes, tried = [], [], 0
            for clips, task_notes in pool.imap(render_task, tasks):
                tried += 1
                notes += task_notes
                made += clips
            made = made[:args.per_collection]
            report[collection["key"]] = dict(album=collection["album"], files=tried,
                                             clips=len(made), notes=notes,
                                             ensembles=len({c["ensemble"] for c in made}))
            log("%s: %d clips from %d files (%d notes)" % (collection["key"], len(made), tried,
                                                          len(notes)))
            all_clips += made
    if not all_clips:
        sys.exit("no score could be rendered")
    albums, numbers = {}, {}
    for i, c in enumerate(all_clips):
        c["id"] = FIRST_TRACK_ID + i
        albums.setdefault(c["album"], len(albums) + 1)
        numbers[c["album"]] = numbers.get(c["album"], 0) + 1
        c["number"] = numbers[c["album"]]
    wanted = set()
    for c in all_clips:
        dst = clip_path(out, c["id"])
        wanted.add(os.path.abspath(dst))
        src = os.path.join(clips_dir, c["key"] + ".mp3")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not (os.path.exists(dst) and os.path.samefile(src, dst)):
            tmp = dst + ".part"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
    for dirpath, _dirs, names in os.walk(os.path.join(out, AUDIO_DIR)):
        for name in names:
            p = os.path.abspath(os.path.join(dirpath, name))
            if p.endswith(".mp3") and p not in wanted:
                os.remove(p)
    meta = os.path.join(out, "fma_metadata")
    os.makedirs(meta, exist_ok=True)
    write_tracks_csv(os.path.join(meta, "tracks.csv"), all_clips, albums)
    with open(os.path.join(meta, "genres.csv"), "w", newline="") as f:
        f.write("genre_id,#tracks,parent,title,top_level\n")
    manifest = os.path.join(out, "manifest.csv")
    with open(manifest + ".tmp", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["track_id", "collection", "music21 corpus source", "score index", "excerpt",
                    "start fraction", "qpm", "ensemble", "album", "key"])
        for c in all_clips:
            w.writerow([c["id"], c["collection"], c["source"], c["index"], c["excerpt"],
                        "%.6f" % c["start_fraction"], c["qpm"], c["ensemble"], c["album"], c["key"]])
    os.replace(manifest + ".tmp", manifest)
    with open(os.path.join(out, "SOURCES.md"), "w", encoding="utf-8") as f:
        f.write("# Rendered scores (unlabelled pool)\n\nmusic21 10.5.1 corpus, FluidSynth with the "
                "FluidR3 GM SoundFont; album = collection and ensemble; no genre.  The demo's "
                "pieces are left out.\n\n| collection | files parsed | clips | ensembles | "
                "scores left out |\n|---|---:|---:|---:|---:|\n")
        for r in report.values():
            f.write("| %s | %d | %d | %d | %d |\n" % (r["album"], r["files"], r["clips"],
                                                     r["ensembles"], len(r["notes"])))
        f.write("\nTotal: %d clips in %d albums.\n\n## Left out\n\n" % (len(all_clips), len(albums)))
        for r in report.values():
            for note in r["notes"]:
                f.write("- %s\n" % note)
    log("built %d clips in %d albums into %s" % (len(all_clips), len(albums), out))


def cmd_verify(args):
    out = os.path.abspath(args.out)
    with open(os.path.join(out, "manifest.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    bad, per = [], {}
    for row in rows:
        p = clip_path(out, int(row["track_id"]))
        error = decode_error(p)
        if error is not None:
            bad.append((p, error))
        per[row["collection"]] = per.get(row["collection"], 0) + 1
    print("clips: %d, decode errors: %d" % (len(rows), len(bad)))
    for k, n in per.items():
        print("  %-12s %d" % (k, n))
    for p, e in bad:
        print("  BAD", p, e)
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    b.add_argument("--work", required=True)
    b.add_argument("--per-collection", type=int, default=250,
                   help="at most this many clips from one collection (default %(default)s)")
    b.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    v = sub.add_parser("verify")
    v.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.cmd == "build":
        cmd_build(args)
    else:
        sys.exit(cmd_verify(args))


if __name__ == "__main__":
    main()
