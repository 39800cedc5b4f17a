#!/usr/bin/env bash
# tools/bench-mesh.sh: benchmarks of a mesh of node processes on loopback.
#
#  1. link values/s between two nodes: L oscillators on node a each feed an
#     oscillator on node b (L links across nodes, 2 outputs per actor sent
#     each tick); `run --ticks T` from b, R times: values/s = ticks/s x 2L.
#  2. synchronisation cost per tick: the coupled chain of the mesh tests
#     (8 oscillators, 7 springs) spread over three nodes, against the same
#     chain on one node outside any mesh: µs per tick of each and the
#     difference. --delay D gives the chain's links delay D (a node then
#     steps up to D ticks ahead of the batches it reads).
#
# Prints every run and the medians; with --check V fails (exit 1) when the
# median link values/s is below V, with --sync-check US when the median
# synchronisation per tick is above US microseconds.
#
#   tools/bench-mesh.sh [--build DIR] [--links L] [--ticks T] [--repeat R]
#                       [--check VALUES_PER_S] [--delay D] [--sync-only]
#                       [--sync-check US]
#
# --sync-only runs the second part alone.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build
links=2000
ticks=2000
repeat=3
check=0
delay=1
sync_only=0
sync_check=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --links) links=$2; shift 2 ;;
    --ticks) ticks=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --check) check=$2; shift 2 ;;
    --delay) delay=$2; shift 2 ;;
    --sync-only) sync_only=1; shift ;;
    --sync-check) sync_check=$2; shift 2 ;;
    *) echo "usage: tools/bench-mesh.sh [--build DIR] [--links L]" \
        "[--ticks T] [--repeat R] [--check VALUES_PER_S] [--delay D]" \
        "[--sync-only] [--sync-check US]" >&2
        exit 2 ;;
    esac
done
node=$build/nodes/twinmesh-node
console=$build/tools/twinmesh
work=$(mktemp -d /tmp/tm-bench-mesh.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

base=$((20000 + RANDOM % 20000))
declare -A CEP MEP

# up NAME PEERS...: a node with console port base+i, mesh port base+100+i
up() {
    local n=$1 i=${#pids[@]}
    shift
    CEP[$n]=tcp://127.0.0.1:$((base + i))
    MEP[$n]=tcp://127.0.0.1:$((base + 100 + i))
    local mesh=()
    if [ $# -gt 0 ]; then
        mesh=(--mesh "${MEP[$n]}")
        local peer
        for peer in "$@"; do mesh+=(--peer "$peer"); done
    fi
    "$node" --name "$n" --data "$work/$n" --console "${CEP[$n]}" \
        "${mesh[@]}" --clock paused --checkpoint 0 --log warn \
        >"$work/$n.log" 2>&1 &
    pids+=("$!")
    for _ in $(seq 100); do
        "$console" -c "${CEP[$n]}" -t 0.2 nodes >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench-mesh: node $n did not start:" >&2
    cat "$work/$n.log" >&2
    exit 1
}
at() { local n=$1; shift; "$console" -c "${CEP[$n]}" -t 60 "$@"; }
stop_all() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    pids=()
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
tps() { # tps NODE TICKS: ticks/s of a run from NODE
    local out
    if ! out=$("$console" -c "${CEP[$1]}" -t "${TM_BENCH_RUN_S:-120}" --json run --ticks "$2"); then
        echo "bench-mesh: the run did not finish:" >&2
        "$console" -c "${CEP[$1]}" why-stuck >&2 || true
        tail -n 20 "$work"/*.log >&2
        exit 1
    fi
    grep -o '"ticks_per_s": *[0-9.e+]*' <<<"$out" | awk -F: '{print $2 + 0}'
}

# ---- 1. link values between two nodes -------------------------------------
mv=0
if [ "$sync_only" = 0 ]; then
pa=tcp://127.0.0.1:$((base + 100))
pb=tcp://127.0.0.1:$((base + 101))
up a "$pa" "$pb"
up b "$pa" "$pb"
for _ in $(seq 100); do
    at b nodes | grep -q ' alive ' && break
    sleep 0.1
done
at a spawn-many src "$links" --model oscillator --node a >/dev/null
at b spawn-many dst "$links" --model oscillator --node b >/dev/null
for i in $(seq 0 $((links - 1))); do echo "link src$i.x dst$i.fl"; done |
    at b >/dev/null
vals=()
for r in $(seq "$repeat"); do
    t=$(tps b "$ticks")
    v=$(awk "BEGIN {printf \"%d\", $t * 2 * $links}")
    echo "values: run $r: $t ticks/s x $((2 * links)) values = $v values/s"
    vals+=("$v")
done
mv=$(median "${vals[@]}")
echo "values: median $mv link values/s between two nodes ($links links)"
stop_all
fi

# ---- 2. synchronisation cost per tick ----------------------------------------
chain() { # chain VIA NODES...: the mesh tests' chain, actor i on NODES[i mod n]
    local via=$1 k=0
    shift
    local pl=("$@") i
    place() {
        PL=()
        if [ "${#pl[@]}" -gt 0 ]; then
            PL=(--node "${pl[$((k % ${#pl[@]}))]}")
        fi
        k=$((k + 1))
    }
    for i in $(seq 0 7); do place; at "$via" spawn "o$i" --model oscillator "${PL[@]}" >/dev/null; done
    for i in $(seq 0 6); do place; at "$via" spawn "s$i" --model spring "${PL[@]}" >/dev/null; done
    for i in $(seq 0 6); do
        at "$via" link "o$i.x" "s$i.xa" --delay "$delay" >/dev/null
        at "$via" link "o$((i + 1)).x" "s$i.xb" --delay "$delay" >/dev/null
        at "$via" link "s$i.fa" "o$i.fr" --delay "$delay" >/dev/null
        at "$via" link "s$i.fb" "o$((i + 1)).fl" --delay "$delay" >/dev/null
    done
}
up solo
chain solo
one=()
for r in $(seq "$repeat"); do
    t=$(tps solo "$ticks")
    one+=("$(awk "BEGIN {printf \"%.1f\", 1e6 / $t}")")
done
stop_all
p=(tcp://127.0.0.1:$((base + 100)) tcp://127.0.0.1:$((base + 101))
    tcp://127.0.0.1:$((base + 102)))
up a "${p[@]}"
up b "${p[@]}"
up c "${p[@]}"
for _ in $(seq 100); do
    [ "$(at a nodes | grep -c ' alive ')" = 2 ] && break
    sleep 0.1
done
chain a a b c
three=()
for r in $(seq "$repeat"); do
    t=$(tps b "$ticks")
    three+=("$(awk "BEGIN {printf \"%.1f\", 1e6 / $t}")")
done
out=$(at b --json stats | grep -o '"batches_out": *[0-9]*' | awk -F: '{print $2 + 0}' || true)
msgs=$(at b --json stats | grep -o '"batch_messages": *[0-9]*' | awk -F: '{print $2 + 0}' || true)
echo "sync: node b sent $out link batches in ${msgs:-?} messages"
m1=$(median "${one[@]}")
m3=$(median "${three[@]}")
echo "sync (links of delay $delay): one node: ${one[*]} µs/tick; three nodes: ${three[*]} µs/tick"
echo "sync: median $m1 µs/tick on one node, $m3 µs/tick on three nodes:" \
    "$(awk "BEGIN {printf \"%.1f\", $m3 - $m1}") µs of synchronisation per tick"
if [ "$sync_check" != 0 ] && awk "BEGIN {exit !($m3 - $m1 > $sync_check)}"; then
    echo "bench-mesh: $(awk "BEGIN {printf \"%.1f\", $m3 - $m1}") µs of" \
        "synchronisation per tick, above $sync_check (links of delay $delay)" >&2
    exit 1
fi
if [ "$check" != 0 ] && [ "$sync_only" = 0 ] && awk "BEGIN {exit !($mv < $check)}"; then
    echo "bench-mesh: median $mv link values/s is below $check" >&2
    exit 1
fi
