#!/usr/bin/env bash
# tools/demo.sh BUILD_DIR: start twinmesh-node on its embedded defaults
# (data in ./twinmesh-data, console tcp://127.0.0.1:7700, realtime clock)
# from the repository root, apply the plant file config/demo-plant.yaml
# through the twinmesh console, and show it: actors, one pump in detail, a few watch lines, then
# a live top when stdout is a terminal. Ctrl-C (or the end of the script)
# stops the node cleanly: SIGTERM, final checkpoint.
#
# Run again, it finds the plant in ./twinmesh-data and shows it as it was
# left. For tests only: TM_DEMO_CONSOLE and TM_DEMO_DATA move the node to
# another endpoint and data directory.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: tools/demo.sh BUILD_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
node_bin=$build/nodes/twinmesh-node
console_bin=$build/tools/twinmesh
endpoint=${TM_DEMO_CONSOLE:-tcp://127.0.0.1:7700}
log=$build/demo-node.log
for b in "$node_bin" "$console_bin"; do
    if [ ! -x "$b" ]; then
        echo "demo: $b is missing; build first (tools/dev.sh build)" >&2
        exit 1
    fi
done
cd "$root"

# Telemetry in and twin outputs out, on ports the system picks (`stats`
# shows them; the replay below reads them from there).
node_args=(--telemetry tcp://127.0.0.1:0 --outputs tcp://127.0.0.1:0)
if [ -n "${TM_DEMO_CONSOLE:-}" ]; then
    node_args+=(--console "$TM_DEMO_CONSOLE")
fi
if [ -n "${TM_DEMO_DATA:-}" ]; then
    node_args+=(--data "$TM_DEMO_DATA")
fi

tm() { "$console_bin" -c "$endpoint" "$@"; }
say() {
    if [ -t 1 ]; then
        printf '\n\033[1m== %s\033[0m\n' "$*"
    else
        printf '\n== %s\n' "$*"
    fi
}

if tm -t 1 nodes >/dev/null 2>&1; then
    echo "demo: a twinmesh node already answers at $endpoint:" >&2
    tm nodes >&2 || true
    echo "demo: stop it first (Ctrl-C in its terminal, or kill its" \
        "process), or talk to it with: $console_bin -c $endpoint" >&2
    exit 1
fi

# The node gets a session of its own, so that Ctrl-C in this terminal
# reaches the script and the console only; the script then stops the node.
setsid "$node_bin" ${node_args[@]+"${node_args[@]}"} >"$log" 2>&1 &
node_pid=$!
stop_node() {
    trap - EXIT INT TERM
    if kill -0 "$node_pid" 2>/dev/null; then
        echo "demo: stopping the node (final checkpoint)..."
        kill -TERM "$node_pid"
        wait "$node_pid" || true
        tail -n 1 "$log"
    fi
}
trap stop_node EXIT
trap 'exit 130' INT TERM

for _ in $(seq 100); do
    if ! kill -0 "$node_pid" 2>/dev/null; then
        echo "demo: twinmesh-node did not start; its log ($log):" >&2
        cat "$log" >&2
        exit 1
    fi
    if tm -t 0.5 nodes >/dev/null 2>&1; then
        break
    fi
    sleep 0.1
done
say "twinmesh-node $(tm nodes | sed -n 2p | awk '{print $1}') is up" \
    "at $endpoint (log: $log)"
tm nodes

plant=$root/config/demo-plant.yaml
if grep -qx tank0 <<<"$(tm ids tank0)"; then
    say "the plant of an earlier run is in the data directory; reusing it"
    tm diff "$plant"
else
    say "applying the demo plant ($plant)"
    # Two pumps, two pipes and four tanks in a hydraulic loop, and an
    # oscillator chain with springs: 13 actors and 24 links, spawned and
    # linked in one batch (docs/plant.md).
    tm apply "$plant"
fi

say "actors"
tm actors
say "inspect pump1"
tm inspect pump1
say "watch pump1 and tank1 (a few ticks)"
tm watch pump1 speed flow head current --count 8
tm watch tank1 level --count 4
say "mesh digest"
tm hash

# A twin that follows real telemetry: one recorded experiment of the SKAB
# pump testbed (data outside the project), streamed through the node's
# telemetry endpoint by twinmesh-replay; the twin is calibrated on the
# first 400 rows and its alarms are scored against the labels.
skab=${TWINMESH_SKAB:-$root/../shared/data/skab}
replay_bin=$build/tools/twinmesh-replay
if [ -f "$skab/valve1/3.csv" ] && [ -x "$replay_bin" ]; then
    say "a pump twin on recorded telemetry (SKAB valve1/3.csv)"
    one=$(mktemp -d "${TMPDIR:-/tmp}/tm-demo-skab.XXXXXX")
    mkdir -p "$one/valve1"
    ln -s "$skab/valve1/3.csv" "$one/valve1/3.csv"
    "$replay_bin" --skab "$one" -c "$endpoint" -q || true
    rm -rf "$one"
else
    say "no SKAB data at $skab: skipping the telemetry replay"
fi

if [ -t 1 ]; then
    say "top (Ctrl-C stops the demo and the node)"
    sleep 1
    tm top || true
else
    say "done (stdout is not a terminal, so no live top)"
    echo "the node stops now; to explore the plant, start it again with" \
        "$node_bin and open the console: $console_bin"
fi
