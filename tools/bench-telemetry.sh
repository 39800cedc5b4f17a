#!/usr/bin/env bash
# bench-telemetry: samples per second accepted by one node, and the time
# from a row's arrival to its twin's output (release build).
#
#   tools/bench-telemetry.sh [--build DIR] [TWINS] [ROWS] [BATCH]
#       [--check-rate SAMPLES_PER_S]
#   tools/bench-telemetry.sh [--build DIR] --latency ROUNDS [--assets A]
#       [--gap S] [--frames twin|round] [--tick H] [--repeat K]
#       [--check-p50 US] [--check-p99 US]
#
# Throughput: starts a node on loopback with a telemetry endpoint and a
# paused clock, spawns TWINS pumpmon twins (default 2000), and runs
# twinmesh-telemetry-bench: ROWS rows (default 50) of eight signals per
# twin in batches of BATCH samples (default 4096), five times; prints the
# median. --check-rate: exit 3 when the median is under it, 1 when a sample
# was rejected.
#
# Latency: a node whose clock runs in real time (tick H, default 0.001 s)
# with [telemetry] window = 0 (steps on arrival), A pumpmon twins (default
# 13), and every S seconds (default 0.001) a row of each sent, a frame per
# twin or one frame per round; ROUNDS rounds. Prints the time from
# sending to the output received and the node's own figure (a row's first
# sample read -> its output published, over the last 4,096 rows). Repeated
# K times (default 3), a fresh node each time; --check-p50 / --check-p99:
# exit 3 when the median over the repeats of the node's figure is over the
# limit (us), or when a node measured no row. The node's figure covers its
# last 4,096 rows (with 13 twins at 1 kHz, the last 0.3 s of the run).
#
# Figures go to docs/performance.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build
latency=0
assets=13
gap=0.001
frames=twin
tick=0.001
repeat=3
checks=()
p50_max=0
p99_max=0
pos=()
while [ $# -gt 0 ]; do
    case $1 in
    --build | --latency | --assets | --gap | --frames | --tick | --repeat | \
        --check-rate | --check-p50 | --check-p99)
        if [ $# -lt 2 ]; then
            echo "bench-telemetry: $1 needs a value" >&2
            exit 2
        fi
        ;;
    esac
    case $1 in
    --build) build=$2; shift 2 ;;
    --latency) latency=$2; shift 2 ;;
    --assets) assets=$2; shift 2 ;;
    --gap) gap=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    --tick) tick=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --check-rate) checks+=("$1" "$2"); shift 2 ;;
    --check-p50) p50_max=$2; shift 2 ;;
    --check-p99) p99_max=$2; shift 2 ;;
    -*) echo "bench-telemetry: unknown option $1" >&2; exit 2 ;;
    *) pos+=("$1"); shift ;;
    esac
done
case $latency$repeat in
*[!0-9]*)
    echo "bench-telemetry: --latency and --repeat take whole numbers" >&2
    exit 2
    ;;
esac
twins=${pos[0]:-2000}
rows=${pos[1]:-50}
batch=${pos[2]:-4096}
work=$(mktemp -d /tmp/tm-bench-telemetry.XXXXXX)
node=""
# start_node ARGS...: a node on the ports above with data in $work/d
start_node() {
    rm -rf "$work/d"
    "$build/nodes/twinmesh-node" --data "$work/d" --checkpoint 0 \
        --console "tcp://127.0.0.1:$cport" \
        --telemetry "tcp://127.0.0.1:$tport" --log warn "$@" &
    node=$!
    wait_node
}
stop_node() {
    kill "$node" 2>/dev/null || true
    wait "$node" 2>/dev/null || true
    node=""
}
cleanup() {
    if [ -n "$node" ]; then
        stop_node
    fi
    rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(port)
tport=$(port)
tm() { "$build/tools/twinmesh" -c "tcp://127.0.0.1:$cport" "$@"; }
bench() {
    "$build/tools/twinmesh-telemetry-bench" -c "tcp://127.0.0.1:$cport" \
        --prefix tb "$@"
}
wait_node() {
    for _ in $(seq 50); do tm stats >/dev/null 2>&1 && return; sleep 0.1; done
    echo "bench-telemetry: the node did not come up" >&2
    exit 1
}

if [ "$latency" -gt 0 ]; then
    printf '[telemetry]\nwindow = 0\n' >"$work/node.ini"
    for k in $(seq "$repeat"); do
        start_node --config "$work/node.ini" --clock paused --tick "$tick" \
            --outputs "tcp://127.0.0.1:$(port)"
        tm spawn-many tb "$assets" --model pumpmon >/dev/null
        tm clock realtime >/dev/null
        echo "repeat $k:"
        bench --assets "$assets" --latency "$latency" --gap "$gap" \
            --frames "$frames" | tee "$work/lat.$k"
        stop_node
    done
    # the median over the repeats of the node's p50 and p99
    cat "$work"/lat.* | python3 -c 'import re, statistics, sys
p50_max, p99_max = float(sys.argv[1]), float(sys.argv[2])
text = sys.stdin.read()
v = [tuple(map(float, m)) for m in re.findall(r"^node: .*p50 ([0-9.]+) us, p99 ([0-9.]+) us.*rows measured: ([0-9]+)$", text, re.M)]
nodes = len(re.findall(r"^node: ", text, re.M))
if not v or len(v) != nodes or any(x[2] == 0 for x in v):
    print("bench-telemetry: a node measured no row (%d of %d figures)" % (len(v), nodes))
    sys.exit(3)
p50 = statistics.median(x[0] for x in v)
p99 = statistics.median(x[1] for x in v)
print("median over %d repeats, in the node: p50 %.1f us, p99 %.1f us" % (len(v), p50, p99))
rc = 0
for name, val, lim in (("p50", p50, p50_max), ("p99", p99, p99_max)):
    if lim > 0:
        ok = val <= lim
        print("check: %s %.1f us %s %.0f us: %s" % (name, val, "<=" if ok else ">", lim, "met" if ok else "NOT MET"))
        rc = rc if ok else 3
sys.exit(rc)' "$p50_max" "$p99_max"
    exit
fi

start_node --clock paused --tick 1
tm spawn-many tb "$twins" --model pumpmon >/dev/null
rc=0
bench --assets "$twins" --rows "$rows" --batch "$batch" --repeat 5 \
    "${checks[@]}" || rc=$?
tm --json stats | python3 -c 'import json, sys
t = json.load(sys.stdin)["telemetry"]
bad = {k: v for k, v in t["rejected"].items() if v}
print("received %d, accepted %d, rejected %s" % (t["received"], t["accepted"], bad))
sys.exit(1 if bad else 0)' || { [ "$rc" -ne 0 ] || rc=1; }
exit "$rc"
