#!/usr/bin/env python3
"""One FMA-layout folder that holds several: `songspace import OUT` then reads them as one library.

    merge_fma.py OUT ROOT [ROOT ...]

Each ROOT holds `fma_metadata/` and one or more `fma_*/` audio folders (the development corpus,
the pool, the rendered scores).  OUT gets a link to every audio folder and one `fma_metadata/`
whose tracks.csv has every ROOT's rows (the three header rows once) and whose genres.csv has every
genre once.  Nothing is copied.  Refuses two roots that share a track id, an audio folder's name
or a genre id with different titles.  Standard library only.
"""
import csv
import os
import sys


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    out, roots = os.path.abspath(argv[1]), [os.path.abspath(r) for r in argv[2:]]
    header, rows, ids, links, genres = None, [], {}, {}, {}
    for root in roots:
        meta = os.path.join(root, "fma_metadata")
        with open(os.path.join(meta, "tracks.csv"), newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f))
        if header is None:
            header = lines[:3]
        elif lines[:2] != header[:2]:
            sys.exit("%s: tracks.csv has other columns than %s" % (root, roots[0]))
        for row in lines[3:]:
            if row[0] in ids:
                sys.exit("track id %s is in both %s and %s" % (row[0], ids[row[0]], root))
            ids[row[0]] = root
            rows.append(row)
        with open(os.path.join(meta, "genres.csv"), newline="", encoding="utf-8") as f:
            for g in csv.DictReader(f):
                old = genres.setdefault(g["genre_id"], g)
                if old["title"] != g["title"]:
                    sys.exit("genre id %s is %r in one root and %r in another"
                             % (g["genre_id"], old["title"], g["title"]))
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name)
            if name.startswith("fma_") and name != "fma_metadata" and os.path.isdir(path):
                if name in links:
                    sys.exit("both %s and %s have an audio folder %s" % (links[name], root, name))
                links[name] = path
    os.makedirs(os.path.join(out, "fma_metadata"), exist_ok=True)
    for name, target in links.items():
        link = os.path.join(out, name)
        if os.path.islink(link):
            os.remove(link)
        os.symlink(target, link)
    tracks = os.path.join(out, "fma_metadata", "tracks.csv")
    with open(tracks + ".tmp", "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(header + rows)
    os.replace(tracks + ".tmp", tracks)
    with open(os.path.join(out, "fma_metadata", "genres.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["genre_id", "#tracks", "parent", "title", "top_level"])
        for g in genres.values():
            w.writerow([g["genre_id"], g["#tracks"], g["parent"], g["title"], g["top_level"]])
    print("%s: %d tracks from %d roots, audio folders %s" % (out, len(rows), len(roots),
                                                            ", ".join(sorted(links))))


if __name__ == "__main__":
    main(sys.argv)
