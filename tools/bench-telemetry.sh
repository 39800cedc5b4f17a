#!/usr/bin/env bash
# bench-telemetry: samples per second accepted by one node (release build).
#
#   tools/bench-telemetry.sh [TWINS] [ROWS] [BATCH]
#
# Starts a node on loopback with a telemetry endpoint and a paused clock,
# spawns TWINS pumpmon twins (default 2000), and runs
# twinmesh-telemetry-bench: ROWS rows (default 50) of eight signals per
# twin in batches of BATCH samples (default 4096), five times; prints the
# median. Figures go to docs/performance.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
twins=${1:-2000}
rows=${2:-50}
batch=${3:-4096}
work=$(mktemp -d /tmp/tm-bench-telemetry.XXXXXX)
node=""
cleanup() {
    [ -n "$node" ] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(port)
tport=$(port)
"$root/build/nodes/twinmesh-node" --data "$work/d" --clock paused --tick 1 \
    --checkpoint 0 --console "tcp://127.0.0.1:$cport" \
    --telemetry "tcp://127.0.0.1:$tport" --log warn &
node=$!
tm() { "$root/build/tools/twinmesh" -c "tcp://127.0.0.1:$cport" "$@"; }
for _ in $(seq 50); do tm stats >/dev/null 2>&1 && break; sleep 0.1; done
tm spawn-many tb "$twins" --model pumpmon >/dev/null
"$root/build/tools/twinmesh-telemetry-bench" -c "tcp://127.0.0.1:$cport" \
    --prefix tb --assets "$twins" --rows "$rows" --batch "$batch" --repeat 5
tm --json stats | python3 -c 'import json, sys
t = json.load(sys.stdin)["telemetry"]
print("received %d, accepted %d, rejected %s" % (t["received"], t["accepted"], {k: v for k, v in t["rejected"].items() if v}))'
