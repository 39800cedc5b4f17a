#!/usr/bin/env bash
# tools/demo.sh BUILD_DIR: start twinmesh-node on its embedded defaults
# (data in ./twinmesh-data, console tcp://127.0.0.1:7700, realtime clock)
# from the repository root, build a small plant through the twinmesh
# console, and show it: actors, one pump in detail, a few watch lines, then
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

node_args=()
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

if grep -qx tank0 <<<"$(tm ids tank0)"; then
    say "the plant of an earlier run is in the data directory; reusing it"
else
    say "spawning a small plant"
    # Hydraulic loop: tank0 -pump1-> tank1 -pipe1-> tank2 -pump2-> tank3
    # -pipe2-> tank0. Every pump and pipe reads the levels on both sides
    # and its flow leaves one tank and enters the next.
    tm spawn tank0 --model tank --param area=20 --param h0=2 --param hmax=4
    tm spawn tank1 --model tank --param area=4 --param h0=1 --param hmax=4
    tm spawn tank2 --model tank --param area=4 --param h0=1 --param hmax=4
    tm spawn tank3 --model tank --param area=4 --param h0=1 --param hmax=4
    tm spawn pump1 --model pump
    tm spawn pump2 --model pump@1.0.0 --fidelity medium
    tm spawn pipe1 --model pipe --param length=50 --param diameter=0.15
    tm spawn pipe2 --model pipe --param length=80 --param diameter=0.15
    link_pump() { # pump from to
        tm link "$2.level" "$1.h_suction"
        tm link "$3.level" "$1.h_discharge"
        tm link "$1.flow" "$2.qout"
        tm link "$1.flow" "$3.qin"
    }
    link_pipe() { # pipe from to
        tm link "$2.level" "$1.head_in"
        tm link "$3.level" "$1.head_out"
        tm link "$1.q" "$2.qout"
        tm link "$1.q" "$3.qin"
    }
    link_pump pump1 tank0 tank1
    link_pipe pipe1 tank1 tank2
    link_pump pump2 tank2 tank3
    link_pipe pipe2 tank3 tank0
    # Oscillator chain: osc0 - spring0 - osc1 - spring1 - osc2.
    for i in 0 1 2; do
        tm spawn "osc$i" --model oscillator --param k=4 --param c=0.3 \
            --param x0=$((i == 0 ? 1 : 0))
    done
    for i in 0 1; do
        tm spawn "spring$i" --model spring --param k=1
        tm link "osc$i.x" "spring$i.xa"
        tm link "osc$((i + 1)).x" "spring$i.xb"
        tm link "spring$i.fa" "osc$i.fr"
        tm link "spring$i.fb" "osc$((i + 1)).fl"
    done
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

if [ -t 1 ]; then
    say "top (Ctrl-C stops the demo and the node)"
    sleep 1
    tm top || true
else
    say "done (stdout is not a terminal, so no live top)"
    echo "the node stops now; to explore the plant, start it again with" \
        "$node_bin and open the console: $console_bin"
fi
