#!/usr/bin/env bash
# tools/demo-mesh.sh BUILD_DIR: the three-site example on this machine -
# three twinmesh-node processes from config/node-a.ini, node-b.ini and
# node-c.ini (consoles tcp://127.0.0.1:7701-7703, mesh 7801-7803, data in
# ./twinmesh-data-a, -b, -c), the plant config/three-site-plant.yaml
# applied over them from one console, then shown from the others: the
# plan per node, the nodes, an actor of another node, its values across
# the sites, a run of the whole mesh, its digest and its export. The
# script stops the three nodes cleanly at its end or on Ctrl-C (SIGTERM,
# final checkpoints).
#
# Run again, it finds the plant in the data directories (diff: nothing to
# change). For tests only: TM_DEMO_PORTS="C1 C2 C3 M1 M2 M3" (console and
# mesh ports) and TM_DEMO_DATA (a directory for the three data
# directories) run the nodes without the config files' endpoints.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: tools/demo-mesh.sh BUILD_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
node_bin=$build/nodes/twinmesh-node
console_bin=$build/tools/twinmesh
for b in "$node_bin" "$console_bin"; do
    if [ ! -x "$b" ]; then
        echo "demo: $b is missing; build first (tools/dev.sh build)" >&2
        exit 1
    fi
done
cd "$root"

names=(a b c)
read -r -a ports <<<"${TM_DEMO_PORTS:-7701 7702 7703 7801 7802 7803}"
data=${TM_DEMO_DATA:-$root}
declare -A console pid
for i in 0 1 2; do
    console[${names[$i]}]="tcp://127.0.0.1:${ports[$i]}"
done

tm() { # tm NODE ARGS...: the console of node-NODE
    local n=$1
    shift
    "$console_bin" -c "${console[$n]}" "$@"
}
say() {
    if [ -t 1 ]; then
        printf '\n\033[1m== %s\033[0m\n' "$*"
    else
        printf '\n== %s\n' "$*"
    fi
}
# ini KEY FILE: a key of the [node] section of a config file
ini() { sed -n "s/^$1 *= *//p" "$2" | head -n 1; }

for n in "${names[@]}"; do
    if tm "$n" -t 1 nodes >/dev/null 2>&1; then
        echo "demo: a twinmesh node already answers at ${console[$n]};" \
            "stop it first, or talk to it with: $console_bin -c" \
            "${console[$n]}" >&2
        exit 1
    fi
done

stop_nodes() {
    trap - EXIT INT TERM
    local n
    for n in "${names[@]}"; do
        if [ -n "${pid[$n]:-}" ] && kill -0 "${pid[$n]}" 2>/dev/null; then
            kill -TERM "${pid[$n]}"
        fi
    done
    for n in "${names[@]}"; do
        if [ -n "${pid[$n]:-}" ]; then
            wait "${pid[$n]}" || true
            echo "node-$n: $(tail -n 1 "$build/demo-node-$n.log")"
        fi
    done
}
trap stop_nodes EXIT
trap 'exit 130' INT TERM

for i in 0 1 2; do
    n=${names[$i]}
    cfg=$root/config/node-$n.ini
    args=(--config "$cfg" --data "$data/twinmesh-data-$n")
    if [ -n "${TM_DEMO_PORTS:-}" ]; then
        args=(--name "$(ini name "$cfg")" --site "$(ini site "$cfg")"
            --data "$data/twinmesh-data-$n" --console "${console[$n]}"
            --mesh "tcp://127.0.0.1:${ports[$((i + 3))]}")
        for k in 3 4 5; do
            args+=(--peer "tcp://127.0.0.1:${ports[$k]}")
        done
    fi
    # a session of its own: Ctrl-C reaches the script, which stops it
    setsid "$node_bin" "${args[@]}" >"$build/demo-node-$n.log" 2>&1 &
    pid[$n]=$!
done
for n in "${names[@]}"; do
    for _ in $(seq 150); do
        if ! kill -0 "${pid[$n]}" 2>/dev/null; then
            echo "demo: node-$n did not start; its log:" >&2
            cat "$build/demo-node-$n.log" >&2
            exit 1
        fi
        alive=$(tm "$n" -t 0.5 --json nodes 2>/dev/null |
            grep -o '"state": *"alive"' | wc -l) || true
        [ "${alive:-0}" -ge 2 ] && break
        sleep 0.1
    done
done
say "three nodes, one per site (logs: $build/demo-node-*.log)"
tm a nodes

plant=config/three-site-plant.yaml
if [ "$(tm a --json nodes | grep -o '"actors": *[1-9]' | wc -l)" -gt 0 ]; then
    say "the plant of an earlier run is on the nodes; reusing it"
    tm b diff "$plant"
else
    say "what $plant would change, asked on node-b"
    # Pumps at the pumping station feed the treatment plant's basin, a
    # pipe takes the water on to the reservoir and another back: each
    # actor names its site and runs on that site's node; links between
    # sites have a delay of 2 ticks (docs/plant.md).
    tm b diff "$plant"
    say "applying it from node-a: every node checks its part, then commits"
    tm a apply "$plant"
fi

say "the nodes hold their sites' actors"
tm c nodes
say "actors, as node-c sees the mesh"
tm c actors
say "inspect basin (on node-b), asked on node-a"
tm a inspect basin
say "watch the basin on node-b: the pumps' flows come from node-a"
tm b watch basin level --count 4
say "run the whole mesh 100 ticks, from node-c"
tm c clock pause
tm c run --ticks 100
say "mesh digest (every node's part)"
tm a hash
say "export of every node, asked on node-b (the first lines)"
tm b export "$build/demo-mesh-export.yaml"
head -n 16 "$build/demo-mesh-export.yaml"
say "done: the nodes stop now; start them again with" \
    "$node_bin --config config/node-a.ini (b, c) and open a console:" \
    "$console_bin -c ${console[a]}"
