"""Render the embedded demo library: public-domain scores from the music21 corpus, played through
the FluidR3 General MIDI SoundFont with fluidsynth, cut to short mono clips and encoded with lame.

Run through build-demo.sh, which pins the tools. Deterministic for the same tool versions: the
pieces and excerpts are chosen with a fixed seed from the sorted corpus listing.

    python make_demo.py OUT_DIR [--per-genre 32] [--seconds 12]
"""

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from music21 import corpus, instrument, midi, tempo

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SEED = 20261124
SAMPLE_RATE = 22050
BITRATE_KBPS = 32


def programs(*numbers):
    """General MIDI programs (0-based) for the parts from the top down; the last repeats."""
    return list(numbers)


# Each style: where its pieces come from, who wrote them, and how they are played. The names are
# the styles, honestly named; the instrumentation is what that music is usually heard on, as far
# as a General MIDI SoundFont allows. Only corpus collections without restrictions on
# redistribution are used: the Palestrina masses ("rights to all derivative electronic formats
# reserved"), the Essen folk songs (non-commercial only) and the Trecento pieces (from a modern
# edition) are left out on purpose.
STYLES = [
    {
        "genre": "Baroque chorale",
        "album": "J. S. Bach: Four-part chorales",
        "sources": lambda: [p for p in corpus.getComposer("bach") if re.search(r"bwv\d+", p.name)],
        "programs": programs(19),  # church organ
        "qpm": 76,
    },
    {
        "genre": "Classical string quartet",
        "album": "String quartets (Haydn, Mozart, Beethoven)",
        "sources": lambda: [
            p
            for c in ("haydn", "mozart", "beethoven")
            for p in corpus.getComposer(c)
            if p.suffix == ".mxl" and "k545" not in str(p)  # K. 545 is a piano sonata
        ],
        "programs": programs(40, 40, 41, 42),  # violin, violin, viola, cello
        "qpm": 112,
        "excerpts_per_piece": 2,
    },
    {
        "genre": "Italian madrigal",
        "album": "C. Monteverdi: Madrigals, books 3 to 5",
        "sources": lambda: [p for p in corpus.getComposer("monteverdi") if p.suffix == ".mxl"],
        "programs": programs(52),  # choir aahs
        "qpm": 120,
    },
    {
        "genre": "Celtic fiddle tune",
        "album": "O'Neill's Music of Ireland (1850)",
        "opus": lambda: [p for p in corpus.getComposer("oneills1850")],
        "artist": "Traditional (Irish)",
        "programs": programs(110),  # fiddle
        "qpm": 180,
    },
    {
        "genre": "Scottish air",
        "album": "James Aird: A Selection of Scotch, English, Irish and Foreign Airs (1778)",
        "opus": lambda: list(corpus.getComposer("airdsAirs")),
        "artist": "Traditional (Scottish), from Aird's collection",
        "programs": programs(73),  # flute: the collection is "adapted to the Fife, Violin, or German-Flute"
        "qpm": 90,
    },
    {
        "genre": "Highland dance",
        "album": "Ryan's Mammoth Collection (1883): strathspeys and flings",
        "sources": lambda: ryans("strathspey", "highland fling"),
        "artist": "Traditional (Scottish), from Ryan's collection",
        "programs": programs(109),  # bagpipe
        "qpm": 120,
    },
    {
        "genre": "Hornpipe",
        "album": "Ryan's Mammoth Collection (1883): hornpipes and clogs",
        "sources": lambda: ryans("hornpipe", "clog"),
        "artist": "Traditional, from Ryan's collection",
        "programs": programs(0),  # piano, the tune in octaves
        "octaves": True,
        "qpm": 150,
    },
]


def ryans(*rhythms):
    """Tunes of Ryan's Mammoth Collection whose rhythm (the ABC R: field) is one of `rhythms`."""
    found = []
    for path in corpus.getComposer("ryansMammoth"):
        text = Path(path).read_text(errors="replace")
        rhythm = re.search(r"^R:\s*(.+?)\s*$", text, re.M)
        if rhythm and rhythm.group(1).lower() in rhythms:
            found.append(path)
    return found


def composer_of(path: Path) -> str:
    parts = str(path).split("corpus/")[-1].split("/")
    return {
        "bach": "Johann Sebastian Bach",
        "haydn": "Joseph Haydn",
        "mozart": "Wolfgang Amadeus Mozart",
        "beethoven": "Ludwig van Beethoven",
        "monteverdi": "Claudio Monteverdi",
    }.get(parts[0], parts[0])


def title_of(score, path: Path, excerpt: int) -> str:
    rel = str(path).split("corpus/")[-1]
    stem = re.sub(r"\.(mxl|xml|krn|abc)$", "", rel)
    pieces = stem.split("/")
    if pieces[0] == "bach":
        return "Chorale " + pieces[-1].replace("bwv", "BWV ")
    if pieces[0] in ("haydn", "mozart", "beethoven"):
        work = pieces[1].replace("opus", "Op. ").replace("no", " No. ")
        if work.startswith("k"):
            work = "K. " + work[1:]
        movement = pieces[2].replace("movement", "mvt. ") if len(pieces) > 2 else ""
        name = f"Quartet {work}" + (f", {movement}" if movement else "")
        return name + (f" (excerpt {excerpt + 1})" if excerpt else "")
    if pieces[0] == "monteverdi":
        return "Madrigal " + pieces[-1].replace("madrigal.", "")
    return stem


def set_performance(score, progs, qpm):
    """Replace the score's instruments and tempo marks by the style's own."""
    # Grace notes have no duration: their note-off can come before their note-on in the MIDI
    # file, and the held note keeps fluidsynth rendering for ever.
    for note in list(score.recurse().notes):
        if note.duration.isGrace or note.quarterLength == 0:
            note.activeSite.remove(note)
    for mark in list(score.recurse().getElementsByClass(tempo.MetronomeMark)):
        mark.activeSite.remove(mark)
    for mark in list(score.recurse().getElementsByClass(tempo.TempoIndication)):
        mark.activeSite.remove(mark)
    for index, part in enumerate(score.parts):
        for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
            old.activeSite.remove(old)
        player = instrument.Instrument()
        player.midiProgram = progs[min(index, len(progs) - 1)]
        part.insert(0, player)
    first = score.parts[0]
    target = first.getElementsByClass("Measure").first() or first
    target.insert(0, tempo.MetronomeMark(number=qpm))


def strip_repeats(score):
    """Plays every section once: many ABC transcriptions have repeat signs music21 cannot expand
    into MIDI, and a 12-second excerpt rarely reaches a repeat anyway."""
    from music21 import bar, spanner

    for measure in score.recurse().getElementsByClass("Measure"):
        for side in ("leftBarline", "rightBarline"):
            if isinstance(getattr(measure, side), bar.Repeat):
                setattr(measure, side, None)
    for bracket in list(score.recurse().getElementsByClass(spanner.RepeatBracket)):
        bracket.activeSite.remove(bracket)


def excerpt(score, start_quarter, quarters):
    """The measures covering [start_quarter, start_quarter + quarters)."""
    measures = score.parts[0].getElementsByClass("Measure")
    if not measures:
        return score
    first = last = None
    for m in measures:
        begin, end = m.offset, m.offset + m.duration.quarterLength
        if first is None and end > start_quarter:
            first = m.number
        if first is not None:
            last = m.number
            if end >= start_quarter + quarters:
                break
    return score.measures(first, last)


def render(score, wav_path: Path, work: Path):
    mid = work / "piece.mid"
    mf = midi.translate.music21ObjectToMidiFile(score)
    mf.open(str(mid), "wb")
    mf.write()
    mf.close()
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-g", "0.7", "-r", str(SAMPLE_RATE), "-F", str(wav_path), SOUNDFONT, str(mid)],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=30,
    )


def encode(wav: Path, out: Path, seconds: float, tags: dict):
    clip = wav.with_suffix(".clip.wav")
    fade = 1.5
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-t", str(seconds), "-ac", "1",
         "-af", f"afade=t=in:d=0.02,afade=t=out:st={seconds - fade}:d={fade},loudnorm=I=-18:TP=-2:LRA=11",
         "-ar", str(SAMPLE_RATE), str(clip)],
        check=True,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["lame", "--quiet", "-m", "m", "-b", str(BITRATE_KBPS), "--add-id3v2",
         "--tt", tags["title"], "--ta", tags["artist"], "--tl", tags["album"], "--tg", tags["genre"],
         "--tn", str(tags["track"]), str(clip), str(out)],
        check=True,
    )


def audio_seconds(wav: Path) -> float:
    return (wav.stat().st_size - 44) / (2 * 2 * SAMPLE_RATE)  # fluidsynth writes 16-bit stereo


def candidates(style, rng):
    """(path, score-or-opus-index) pairs in a seeded order."""
    if "sources" in style:
        paths = sorted(style["sources"](), key=str)
        rng.shuffle(paths)
        for p in paths:
            yield p, None
    else:
        books = sorted(style["opus"](), key=str)
        entries = []
        for book in books:
            parsed = corpus.parse(str(book))
            scores = parsed.scores if hasattr(parsed, "scores") else [parsed]
            entries.extend((book, s) for s in scores)
        rng.shuffle(entries)
        for book, s in entries:
            yield book, s


def make_style(style, out_dir: Path, per_genre: int, seconds: float, work: Path, rng):
    made = []
    qpm = style["qpm"]
    quarters = seconds * qpm / 60 + 4
    slug = re.sub(r"[^a-z]+", "-", style["genre"].lower()).strip("-")
    for path, parsed in candidates(style, rng):
        if len(made) >= per_genre:
            break
        try:
            score = parsed if parsed is not None else corpus.parse(str(path))
            if not score.parts or score.highestTime * 60 / qpm < seconds + 1:
                continue
            strip_repeats(score)
            excerpts = style.get("excerpts_per_piece", 1)
            starts = [0.0]
            if excerpts > 1:
                room = score.highestTime - quarters
                starts += sorted(rng.uniform(quarters, room) for _ in range(excerpts - 1) if room > quarters)
            for n, start in enumerate(starts):
                if len(made) >= per_genre:
                    break
                piece = excerpt(score, start, quarters)
                if piece.highestTime > 3 * quarters:  # the measures could not be cut out
                    continue
                set_performance(piece, style["programs"], qpm)
                if style.get("octaves"):
                    piece.insert(0, piece.parts[0].transpose(-12))
                wav = work / "render.wav"
                render(piece, wav, work)
                if audio_seconds(wav) < seconds:
                    continue
                if parsed is not None or "ryansMammoth" in str(path):
                    title = (score.metadata.title or "Untitled").strip()
                    artist = style["artist"]
                else:
                    title = title_of(score, path, n)
                    artist = composer_of(path)
                number = len(made) + 1
                name = re.sub(r"[^\w .,'()-]+", "", title).strip()[:60]
                out = out_dir / slug / f"{number:02d} - {name}.mp3"
                tags = {
                    "title": title, "artist": artist, "album": style["album"], "genre": style["genre"],
                    "track": number,
                }
                encode(wav, out, seconds, tags)
                made.append((out, title, artist, str(path).split("corpus/")[-1]))
                print(f"{style['genre']:26} {number:3} {title}", flush=True)
        except Exception as e:  # a score music21 cannot read or render is skipped, and said
            print(f"skipped {path}: {e}", file=sys.stderr)
    if len(made) < per_genre:
        raise SystemExit(f"{style['genre']}: only {len(made)} of {per_genre} pieces could be rendered")
    return made


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-genre", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--only", action="append", help="render only this style (repeatable)")
    args = parser.parse_args()
    if not os.path.exists(SOUNDFONT):
        raise SystemExit(f"{SOUNDFONT} is missing (Debian package fluid-soundfont-gm)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for style in STYLES:
            if args.only and style["genre"] not in args.only:
                continue
            # Each style has its own random stream, so rendering one again changes no other.
            rng = random.Random(f"{SEED}-{style['genre']}")
            made = make_style(style, args.out, args.per_genre, args.seconds, Path(tmp), rng)
            with open(made[0][0].parent / "sources.tsv", "w") as f:
                f.write("file\ttitle\tartist\tmusic21 corpus source\n")
                for out, title, artist, source in made:
                    f.write(f"{out.name}\t{title}\t{artist}\t{source}\n")


if __name__ == "__main__":
    main()
