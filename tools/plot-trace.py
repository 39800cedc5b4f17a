#!/usr/bin/env python3
"""plot-trace.py: one signal of a twinmesh-replay trace as an SVG figure.

    tools/plot-trace.py TRACE.csv [--signal flow] [--out FIG.svg]
                        [--from ROW] [--to ROW] [--title TEXT]

TRACE.csv is what `twinmesh-replay --trace` writes: per row the measured
and predicted value and standard deviation of each signal (SI units of the
pumpmon data contract), the anomaly score, the alarm and the label. The
figure shows the measured and the predicted value, the band of +-2 standard
deviations around the prediction, the labelled anomalies shaded, the
twin's alarms as a strip under the plot, and the calibration window's end
(row 400). Python 3 standard library only; writes to stdout without --out.
Exit status: 0, 1 on a bad trace, 2 on bad usage.
"""

import argparse
import csv
import math
import sys
from xml.sax.saxutils import escape

UNITS = {
    "vib1": "m/s^2", "vib2": "m/s^2", "current": "A", "pressure": "Pa",
    "t_motor": "degC", "t_fluid": "degC", "voltage": "V", "flow": "m^3/s",
}
CALIBRATION_ROWS = 400
WIDTH, HEIGHT = 1000, 440
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 48, 84  # margins around the plot area
STRIP = 10  # height of the alarm strip under the plot area

COLOURS = {
    "measured": "#252525", "predicted": "#2171b5", "band": "#c6dbef",
    "anomaly": "#fcbba1", "alarm": "#cb181d", "grid": "#e0e0e0",
}


class TraceError(Exception):
    """A trace that cannot be plotted (message for the user)."""


def number(text):
    """A float, or NaN for an empty or non-finite field."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def read_trace(path, signal, first, last):
    """Rows of the trace within [first, last] as dicts of floats."""
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as e:
        raise TraceError(f"{path}: {e.strerror}") from e
    with f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        need = [f"{signal}_measured", f"{signal}_predicted", f"{signal}_sd",
                "row", "alarm", "label"]
        missing = [c for c in need if c not in cols]
        if missing:
            have = sorted({c.rsplit("_", 1)[0] for c in cols
                           if c.endswith("_measured")})
            raise TraceError(f"{path}: no column {missing[0]} (signals in "
                             f"it: {', '.join(have) or 'none'})")
        rows = []
        for rec in reader:
            row = number(rec["row"])
            if not math.isfinite(row):
                raise TraceError(f"{path}:{reader.line_num}: row "
                                 f"'{rec['row']}' is not a number")
            row = int(row)
            if row < first or (last is not None and row > last):
                continue
            rows.append({
                "row": row,
                "measured": number(rec[f"{signal}_measured"]),
                "predicted": number(rec[f"{signal}_predicted"]),
                "sd": number(rec[f"{signal}_sd"]),
                "alarm": rec["alarm"] == "1",
                "label": rec["label"] == "1",
            })
    if not rows:
        raise TraceError(f"{path}: no rows to plot")
    return rows


def nice_ticks(lo, hi, count=6):
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return ticks


def spans(rows, key):
    """[first_row, last_row] runs of rows where key is true."""
    out = []
    for r in rows:
        if r[key] and out and out[-1][1] == r["row"] - 1:
            out[-1][1] = r["row"]
        elif r[key]:
            out.append([r["row"], r["row"]])
    return out


def segments(rows, ok):
    """Runs of consecutive rows for which ok(row) holds."""
    out, cur = [], []
    for r in rows:
        if ok(r):
            cur.append(r)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


class Frame:
    """Maps rows and values to SVG coordinates."""

    def __init__(self, rows):
        self.x0, self.x1 = rows[0]["row"], max(rows[-1]["row"],
                                               rows[0]["row"] + 1)
        vals = []
        for r in rows:
            vals += [r["measured"]]
            if math.isfinite(r["predicted"]):
                sd = r["sd"] if math.isfinite(r["sd"]) else 0.0
                vals += [r["predicted"] - 2 * sd, r["predicted"] + 2 * sd]
        vals = [v for v in vals if math.isfinite(v)]
        if not vals:
            raise TraceError("no finite values of the signal in those rows")
        lo, hi = min(vals), max(vals)
        pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
        self.y0, self.y1 = lo - pad, hi + pad
        self.w = WIDTH - LEFT - RIGHT
        self.h = HEIGHT - TOP - BOTTOM

    def x(self, row):
        return LEFT + (row - self.x0) / (self.x1 - self.x0) * self.w

    def y(self, v):
        return TOP + (self.y1 - v) / (self.y1 - self.y0) * self.h


def fmt(v):
    return f"{v:.1f}"


def svg_series(fr, rows):
    """The band, the measured and the predicted lines."""
    out = []
    for seg in segments(rows, lambda r: math.isfinite(r["predicted"])
                        and math.isfinite(r["sd"])):
        up = [f"{fmt(fr.x(r['row']))},{fmt(fr.y(r['predicted'] + 2 * r['sd']))}"
              for r in seg]
        down = [f"{fmt(fr.x(r['row']))},"
                f"{fmt(fr.y(r['predicted'] - 2 * r['sd']))}"
                for r in reversed(seg)]
        out.append(f'<polygon class="band" fill="{COLOURS["band"]}" '
                   f'stroke="none" points="{" ".join(up + down)}"/>')
    for key in ("measured", "predicted"):
        for seg in segments(rows, lambda r, k=key: math.isfinite(r[k])):
            pts = " ".join(f"{fmt(fr.x(r['row']))},{fmt(fr.y(r[key]))}"
                           for r in seg)
            width = 1.2 if key == "measured" else 1.0
            out.append(f'<polyline class="{key}" fill="none" '
                       f'stroke="{COLOURS[key]}" stroke-width="{width}" '
                       f'points="{pts}"/>')
    return out


def svg_marks(fr, rows):
    """Labelled anomalies, alarms and the calibration window's end."""
    out = []
    half = 0.5 * fr.w / max(fr.x1 - fr.x0, 1)
    for a, b in spans(rows, "label"):
        x = fr.x(a) - half
        out.append(f'<rect class="anomaly" x="{fmt(x)}" y="{TOP}" '
                   f'width="{fmt(fr.x(b) + half - x)}" height="{fr.h}" '
                   f'fill="{COLOURS["anomaly"]}" fill-opacity="0.6"/>')
    strip = TOP + fr.h + 6
    for a, b in spans(rows, "alarm"):
        x = fr.x(a) - half
        out.append(f'<rect class="alarm" x="{fmt(x)}" y="{strip}" '
                   f'width="{fmt(max(fr.x(b) + half - x, 1.0))}" '
                   f'height="{STRIP}" fill="{COLOURS["alarm"]}"/>')
    out.append(f'<text x="{LEFT - 6}" y="{strip + STRIP - 1}" '
               f'text-anchor="end" font-size="10">alarm</text>')
    if fr.x0 <= CALIBRATION_ROWS <= fr.x1:
        x = fmt(fr.x(CALIBRATION_ROWS))
        out.append(f'<line class="calibration" x1="{x}" x2="{x}" y1="{TOP}" '
                   f'y2="{TOP + fr.h}" stroke="#636363" '
                   f'stroke-dasharray="4 3"/>')
        out.append(f'<text x="{float(x) + 4:.1f}" y="{TOP + 12}" '
                   f'font-size="10" fill="#636363">end of calibration (row '
                   f'{CALIBRATION_ROWS})</text>')
    return out


def svg_axes(fr, signal):
    out = [f'<rect x="{LEFT}" y="{TOP}" width="{fr.w}" height="{fr.h}" '
           f'fill="none" stroke="#969696"/>']
    for v in nice_ticks(fr.y0, fr.y1):
        y = fmt(fr.y(v))
        out.append(f'<line x1="{LEFT}" x2="{LEFT + fr.w}" y1="{y}" y2="{y}" '
                   f'stroke="{COLOURS["grid"]}"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y}" text-anchor="end" '
                   f'dominant-baseline="middle" font-size="11">{v:g}</text>')
    base = TOP + fr.h + STRIP + 22
    for v in nice_ticks(fr.x0, fr.x1, 10):
        x = fmt(fr.x(v))
        out.append(f'<text x="{x}" y="{base}" text-anchor="middle" '
                   f'font-size="11">{v:g}</text>')
    out.append(f'<text x="{LEFT + fr.w / 2}" y="{base + 20}" '
               f'text-anchor="middle" font-size="12">row</text>')
    unit = UNITS.get(signal, "")
    out.append(f'<text transform="translate(16 {TOP + fr.h / 2}) rotate(-90)" '
               f'text-anchor="middle" font-size="12">'
               f'{escape(signal)}{" [" + escape(unit) + "]" if unit else ""}'
               f'</text>')
    return out


def svg_legend():
    items = [("measured", "line"), ("predicted", "line"),
             ("band", "predicted +-2 sd"), ("anomaly", "labelled anomaly")]
    out, x = [], LEFT + 300
    for key, text in items:
        if text == "line":
            out.append(f'<line x1="{x}" x2="{x + 18}" y1="30" y2="30" '
                       f'stroke="{COLOURS[key]}" stroke-width="2"/>')
            text = key
        else:
            out.append(f'<rect x="{x}" y="25" width="18" height="10" '
                       f'fill="{COLOURS[key]}"/>')
        out.append(f'<text x="{x + 24}" y="34" font-size="11">'
                   f'{escape(text)}</text>')
        x += 40 + 7 * len(text)
    return out


def render(rows, signal, title):
    fr = Frame(rows)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'font-family="sans-serif">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<title>{escape(title)}</title>',
        f'<text x="{LEFT}" y="18" font-size="14">{escape(title)}</text>',
    ]
    parts += svg_marks(fr, rows)
    parts += svg_axes(fr, signal)
    parts += svg_series(fr, rows)
    parts += svg_legend()
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv):
    p = argparse.ArgumentParser(
        prog="plot-trace.py",
        description="One signal of a twinmesh-replay trace as SVG.")
    p.add_argument("trace", help="CSV written by twinmesh-replay --trace")
    p.add_argument("--signal", default="flow",
                   help=f"one of {', '.join(UNITS)} (default flow)")
    p.add_argument("--out", help="SVG file (default: stdout)")
    p.add_argument("--from", dest="first", type=int, default=0,
                   help="first row")
    p.add_argument("--to", dest="last", type=int, default=None,
                   help="last row")
    p.add_argument("--title", help="figure title")
    a = p.parse_args(argv)
    try:
        rows = read_trace(a.trace, a.signal, a.first, a.last)
        title = a.title or (f"{a.signal}: measured and predicted "
                            f"(+-2 sd), alarms and labelled anomalies")
        svg = render(rows, a.signal, title)
    except TraceError as e:
        print(f"plot-trace.py: {e}", file=sys.stderr)
        return 1
    if a.out:
        try:
            with open(a.out, "w", encoding="utf-8") as f:
                f.write(svg)
        except OSError as e:
            print(f"plot-trace.py: {a.out}: {e.strerror}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
