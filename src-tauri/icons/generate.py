#!/usr/bin/env python3
"""Draws Switchyard's icons (a railway switch: one track forking in two) without any imaging
library: shapes are rasterized with 4x4 supersampling and written as PNG, ICO and ICNS.

Tray icons are macOS template images (black on transparent; the system tints them), one per
state: running, local-only (a filled dot: nothing leaves the machine), error (an exclamation
mark). Run it from anywhere; it writes next to itself."""
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SS = 4  # supersampling per axis


def seg_dist(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def fork(x, y):
    """The switch, in a unit square: a stem from the bottom, two branches to the top."""
    w = 0.085
    return (seg_dist(x, y, 0.5, 0.92, 0.5, 0.55) < w or seg_dist(x, y, 0.5, 0.57, 0.2, 0.1) < w
            or seg_dist(x, y, 0.5, 0.57, 0.8, 0.1) < w)


def dot(x, y):
    return math.hypot(x - 0.8, y - 0.8) < 0.16


def bang(x, y):
    return seg_dist(x, y, 0.86, 0.5, 0.86, 0.75) < 0.06 or math.hypot(x - 0.86, y - 0.9) < 0.065


def rounded_square(x, y, r=0.22):
    cx, cy = min(max(x, r), 1 - r), min(max(y, r), 1 - r)
    return math.hypot(x - cx, y - cy) <= r


def render(size, shade):
    """shade(x, y) -> (r, g, b, a) for a point in the unit square."""
    rows = []
    for j in range(size):
        row = bytearray()
        for i in range(size):
            acc = [0, 0, 0, 0]
            for sj in range(SS):
                for si in range(SS):
                    r, g, b, a = shade((i + (si + 0.5) / SS) / size, (j + (sj + 0.5) / SS) / size)
                    acc[0] += r * a
                    acc[1] += g * a
                    acc[2] += b * a
                    acc[3] += a
            n = SS * SS
            alpha = acc[3] / n
            if acc[3] == 0:
                row += bytes(4)
            else:
                row += bytes([round(acc[0] / acc[3]), round(acc[1] / acc[3]), round(acc[2] / acc[3]), round(alpha)])
        rows.append(bytes(row))
    return rows


def png(size, rows):
    raw = b"".join(b"\x00" + r for r in rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def tray_shade(extra):
    def shade(x, y):
        on = fork(x, y) or (extra is not None and extra(x, y))
        return (0, 0, 0, 255 if on else 0)
    return shade


def app_shade(x, y):
    if not rounded_square(x, y):
        return (0, 0, 0, 0)
    # The fork, inset in the tile.
    fx, fy = (x - 0.15) / 0.7, (y - 0.15) / 0.7
    if 0 <= fx <= 1 and 0 <= fy <= 1 and fork(fx, fy):
        return (255, 255, 255, 255)
    return (31, 64, 120, 255)


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    for state, extra in (("running", None), ("local-only", dot), ("error", bang)):
        for size, suffix in ((22, ""), (44, "@2x")):
            write(f"tray-{state}{suffix}.png", png(size, render(size, tray_shade(extra))))
    app = {size: png(size, render(size, app_shade)) for size in (32, 128, 256, 512)}
    write("32x32.png", app[32])
    write("128x128.png", app[128])
    write("128x128@2x.png", app[256])
    write("icon.png", app[512])
    # ICO with one embedded PNG (allowed since Windows Vista).
    write("icon.ico", struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(app[256]), 22)
          + app[256])
    # ICNS: ic07 = 128 px, ic08 = 256 px, ic09 = 512 px, each a PNG.
    body = b"".join(kind + struct.pack(">I", len(data) + 8) + data
                    for kind, data in ((b"ic07", app[128]), (b"ic08", app[256]), (b"ic09", app[512])))
    write("icon.icns", b"icns" + struct.pack(">I", len(body) + 8) + body)


if __name__ == "__main__":
    main()
