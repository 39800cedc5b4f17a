#!/usr/bin/env python3
"""plot_trace_test: tools/plot-trace.py turns a replay trace into a
well-formed SVG (xml.etree parses it) holding the measured and predicted
series, the +-2 sd band split where the prediction is missing, one shaded
span per labelled anomaly, the alarms and the calibration line; bad traces
and unknown signals are refused with a message and exit status 1.

    python3 plot_trace_test.py PATH/TO/plot-trace.py
"""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SIGNALS = ["vib1", "vib2", "current", "pressure", "t_motor", "t_fluid",
           "voltage", "flow"]
SVG = "{http://www.w3.org/2000/svg}"


def write_trace(path, rows=600):
    """Rows as twinmesh-replay --trace writes them: flow falls during the
    anomalies at rows 430-459 and 500-509; rows 200-204 have no output."""
    with open(path, "w", encoding="utf-8") as f:
        cols = ["row", "ts"]
        for s in SIGNALS:
            cols += [f"{s}_measured", f"{s}_predicted", f"{s}_sd"]
        f.write(",".join(cols + ["score", "alarm", "label", "output"]) + "\n")
        for r in range(rows):
            label = 430 <= r < 460 or 500 <= r < 510
            have = not 200 <= r < 205
            flow = 0.0005 if label else 0.002 + 1e-5 * (r % 7)
            vals = []
            for s in SIGNALS:
                if not have:
                    vals += ["", "", ""]
                elif s == "flow":
                    vals += [f"{flow:.9g}", "0.00201", "2e-05"]
                else:
                    vals += ["1", "1", "0.1"]
            alarm = have and (label or r == 300)
            f.write(",".join([str(r), "2020-03-09 10:14:33"] + vals +
                             ["2.5" if alarm else "0.3", str(int(alarm)),
                              str(int(label)), str(int(have))]) + "\n")


def run(script, *args):
    return subprocess.run([sys.executable, script, *args],
                          capture_output=True, text=True, check=False)


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)


def test_figure(script, tmp):
    trace = os.path.join(tmp, "trace.csv")
    out = os.path.join(tmp, "flow.svg")
    write_trace(trace)
    p = run(script, trace, "--signal", "flow", "--out", out)
    check(p.returncode == 0, f"exit {p.returncode}: {p.stderr}")
    root = ET.parse(out).getroot()  # well-formed, or this raises
    check(root.tag == SVG + "svg", f"root is {root.tag}")

    def of_class(tag, cls):
        return [e for e in root.iter(SVG + tag) if e.get("class") == cls]

    measured = of_class("polyline", "measured")
    predicted = of_class("polyline", "predicted")
    bands = of_class("polygon", "band")
    # rows 200-204 have no output: every series is split in two there
    check(len(measured) == 2, f"{len(measured)} measured lines")
    check(len(predicted) == 2, f"{len(predicted)} predicted lines")
    check(len(bands) == 2, f"{len(bands)} band polygons")
    npts = sum(len(m.get("points").split()) for m in measured)
    check(npts == 595, f"{npts} measured points")
    # the band is the prediction +-2 sd: twice as many points as rows
    check(len(bands[0].get("points").split()) == 2 * 200, "band points")
    check(len(of_class("rect", "anomaly")) == 2, "two anomaly spans")
    # alarms: rows 300, 430-459 and 500-509 make three runs
    check(len(of_class("rect", "alarm")) == 3, "three alarm runs")
    check(len(of_class("line", "calibration")) == 1, "calibration line")
    texts = " ".join(t.text or "" for t in root.iter(SVG + "text"))
    check("flow [m^3/s]" in texts, "axis label")
    title = root.find(SVG + "title")
    check(title is not None and "flow" in title.text, "title")

    # another signal, a window of rows, to stdout
    p = run(script, trace, "--signal", "vib1", "--from", "100", "--to", "199")
    check(p.returncode == 0, f"vib1 exit {p.returncode}: {p.stderr}")
    root = ET.fromstring(p.stdout)
    pts = [e for e in root.iter(SVG + "polyline")
           if e.get("class") == "measured"]
    check(len(pts) == 1 and len(pts[0].get("points").split()) == 100,
          "vib1 rows 100-199")
    check(not [e for e in root.iter(SVG + "line")
               if e.get("class") == "calibration"], "no calibration line")


def test_refusals(script, tmp):
    trace = os.path.join(tmp, "trace.csv")
    write_trace(trace, rows=10)
    p = run(script, trace, "--signal", "speed")
    check(p.returncode == 1 and "no column speed_measured" in p.stderr,
          f"unknown signal: {p.returncode} {p.stderr}")
    p = run(script, os.path.join(tmp, "missing.csv"))
    check(p.returncode == 1 and "missing.csv" in p.stderr, "missing file")
    p = run(script, trace, "--from", "50")
    check(p.returncode == 1 and "no rows to plot" in p.stderr, "no rows")
    empty = os.path.join(tmp, "empty.csv")
    with open(empty, "w", encoding="utf-8") as f:
        f.write("row,flow_measured,flow_predicted,flow_sd,alarm,label\n"
                "0,,,,0,0\n")
    p = run(script, empty)
    check(p.returncode == 1 and "no finite values" in p.stderr, "no values")
    p = run(script)
    check(p.returncode == 2, "usage")


def main():
    if len(sys.argv) != 2:
        print("usage: plot_trace_test.py PATH/TO/plot-trace.py",
              file=sys.stderr)
        return 2
    base = os.environ.get("TM_TEST_TMPDIR") or None
    if base:
        os.makedirs(base, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        test_figure(sys.argv[1], tmp)
        test_refusals(sys.argv[1], tmp)
    print("plot_trace_test: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
