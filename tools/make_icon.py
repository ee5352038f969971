"""Draws songspace's icon: three clusters of genre-coloured points on a dark tile, one song
selected (gold ring) and linked to its nearest neighbours. Writes an SVG and a 256 px PNG.

    python tools/make_icon.py assets/icon     (needs Pillow for the PNG)
"""

import math
import random
import sys
from pathlib import Path

SIZE = 256
BACKGROUND = "#0b0f16"
# Three of the window's palette colours (Okabe-Ito), one cluster each.
CLUSTERS = [((82, 92), "#e69f00"), ((176, 108), "#56b4e9"), ((122, 180), "#009e73")]
GOLD = "#ffd34d"


def points():
    rng = random.Random(7)
    out = []
    for (cx, cy), colour in CLUSTERS:
        for _ in range(11):
            angle, radius = rng.uniform(0, 2 * math.pi), abs(rng.gauss(0, 19))
            depth = rng.uniform(0.55, 1.0)  # nearer points are larger and brighter
            out.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle), 3.5 + 5 * depth, colour, depth))
    out.sort(key=lambda p: p[4])
    return out


def svg(pts, selected, neighbours):
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}">',
        f'<rect x="8" y="8" width="{SIZE - 16}" height="{SIZE - 16}" rx="48" fill="{BACKGROUND}"/>',
    ]
    for n in neighbours:
        parts.append(f'<line x1="{selected[0]:.1f}" y1="{selected[1]:.1f}" x2="{n[0]:.1f}" y2="{n[1]:.1f}" stroke="{GOLD}" stroke-width="2.5" stroke-opacity="0.7"/>')
    for x, y, r, colour, depth in pts:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}" fill-opacity="{0.45 + 0.55 * depth:.2f}"/>')
    parts.append(f'<circle cx="{selected[0]:.1f}" cy="{selected[1]:.1f}" r="{selected[2] + 7:.1f}" fill="none" stroke="{GOLD}" stroke-width="5"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def png(pts, selected, neighbours, path):
    from PIL import Image, ImageDraw

    scale = 4  # drawn large, then reduced: smooth edges without an SVG renderer
    img = Image.new("RGBA", (SIZE * scale, SIZE * scale), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    s = lambda v: v * scale
    d.rounded_rectangle([s(8), s(8), s(SIZE - 8), s(SIZE - 8)], radius=s(48), fill=BACKGROUND)
    for n in neighbours:
        d.line([s(selected[0]), s(selected[1]), s(n[0]), s(n[1])], fill=GOLD, width=int(s(2.5)))
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    ld = ImageDraw.Draw(layer)
    for x, y, r, colour, depth in pts:
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        ld.ellipse([s(x - r), s(y - r), s(x + r), s(y + r)], fill=rgb + (int(255 * (0.45 + 0.55 * depth)),))
    img = Image.alpha_composite(img, layer)
    d = ImageDraw.Draw(img)
    r = selected[2] + 7
    d.ellipse([s(selected[0] - r), s(selected[1] - r), s(selected[0] + r), s(selected[1] + r)], outline=GOLD, width=int(s(5)))
    img.resize((SIZE, SIZE), Image.LANCZOS).save(path)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "assets/icon")
    out.mkdir(parents=True, exist_ok=True)
    pts = points()
    selected = max((p for p in pts if p[3] == CLUSTERS[1][1]), key=lambda p: p[4])
    neighbours = sorted((p for p in pts if p is not selected), key=lambda p: math.dist(p[:2], selected[:2]))[:3]
    (out / "songspace.svg").write_text(svg(pts, selected, neighbours))
    png(pts, selected, neighbours, out / "songspace.png")


if __name__ == "__main__":
    main()
