#!/usr/bin/env bash
# tools/bench-migrate.sh: how long the mesh pauses to move actors.
#
# Three node processes on loopback (paused clocks, no checkpoints):
#  1. `migrate` of one actor (an oscillator linked to one on each other
#     node) back and forth between two nodes, R times: the command's wall
#     time, which is the pause (align, adopt, announce, resume).
#  2. `drain` of a node running N oscillators (each linked from one on
#     another node), R times (the actors go back with another drain): wall
#     time and actors moved per second.
#
# Prints every run and the medians.
#
#   tools/bench-migrate.sh [--build DIR] [--actors N] [--repeat R]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build
actors=10000
repeat=5
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --actors) actors=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "usage: tools/bench-migrate.sh [--build DIR] [--actors N]" \
        "[--repeat R]" >&2; exit 2 ;;
    esac
done
node=$build/nodes/twinmesh-node
console=$build/tools/twinmesh
work=$(mktemp -d /tmp/tm-bench-migrate.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

base=$((20000 + RANDOM % 10000))
declare -A CEP
peers=()
for i in 0 1 2; do
    peers+=(--peer "tcp://127.0.0.1:$((base + 100 + i))")
done
i=0
for n in a b c; do
    CEP[$n]=tcp://127.0.0.1:$((base + i))
    "$node" --name "$n" --data "$work/$n" --console "${CEP[$n]}" \
        --mesh "tcp://127.0.0.1:$((base + 100 + i))" "${peers[@]}" \
        --clock paused --checkpoint 0 --heartbeat 0.05 --log warn \
        >"$work/$n.log" 2>&1 &
    pids+=("$!")
    i=$((i + 1))
done
at() { local n=$1; shift; "$console" -c "${CEP[$n]}" -t 120 "$@"; }
for n in a b c; do
    for _ in $(seq 100); do
        at "$n" nodes 2>/dev/null | grep -c ' alive ' | grep -q 2 && break
        sleep 0.1
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
timed() { # timed ARGS...: seconds the console command took
    local t0 t1
    t0=$(date +%s.%N)
    at "$@" >/dev/null
    t1=$(date +%s.%N)
    awk "BEGIN {printf \"%.4f\", $t1 - $t0}"
}

# ---- 1. one actor ------------------------------------------------------------
at a spawn m --model oscillator --node a >/dev/null
at b spawn rb --model oscillator --node b >/dev/null
at c spawn rc --model oscillator --node c >/dev/null
at b link m.x rb.fl >/dev/null
at c link m.x rc.fl >/dev/null
at a link rc.x m.fr >/dev/null
at a run --ticks 10 >/dev/null
one=()
for r in $(seq "$repeat"); do
    to=b
    [ $((r % 2)) = 0 ] && to=a
    s=$(timed c migrate m "$to")
    echo "migrate: run $r: one actor to $to in $s s"
    one+=("$s")
done
echo "migrate: median $(median "${one[@]}") s for one actor (3 nodes)"

# ---- 2. drain ---------------------------------------------------------------
at a spawn-many d "$actors" --model oscillator --node a >/dev/null
at b spawn-many e "$actors" --model oscillator --node b >/dev/null
for k in $(seq 0 $((actors - 1))); do echo "link e$k.x d$k.fl"; done |
    at a >/dev/null
at a run --ticks 5 >/dev/null
drain=()
rates=()
count() { at "$1" --json actors --node "$1" --limit 1000000 | grep -o '"id"' | wc -l; }
from=a
for r in $(seq "$repeat"); do
    cnt=$(count "$from")
    s=$(timed "$from" drain "$from")
    rate=$(awk "BEGIN {printf \"%d\", $cnt / $s}")
    echo "drain: run $r: $cnt actors off node $from in $s s ($rate actors/s)"
    drain+=("$s")
    rates+=("$rate")
    from=$(for x in a b c; do printf '%s %s\n' "$(count "$x")" "$x"; done |
        sort -n | tail -1 | cut -d' ' -f2)
done
echo "drain: median $(median "${rates[@]}") actors/s"
