#!/usr/bin/env bash
# tools/bench-node.sh: node-level benchmark - spawn-many through the
# console into a fresh node (one request, one durable batch), repeated;
# prints each rate and the median, and with --check MIN fails when the
# median is below MIN actors/s.
#
#   tools/bench-node.sh [--build DIR] [--count N] [--repeat R] [--check MIN]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build
count=100000
repeat=5
check=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --check) check=$2; shift 2 ;;
    *) echo "usage: tools/bench-node.sh [--build DIR] [--count N]" \
        "[--repeat R] [--check MIN]" >&2; exit 2 ;;
    esac
done
node=$build/nodes/twinmesh-node
console=$build/tools/twinmesh
work=$(mktemp -d /tmp/tm-bench-node.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

rates=()
for r in $(seq "$repeat"); do
    # port 0: the node picks a free port and logs which
    "$node" --data "$work/n$r" --console tcp://127.0.0.1:0 --clock paused \
        --checkpoint 0 >"$work/n$r.log" 2>&1 &
    pid=$!
    ep=
    for _ in $(seq 100); do
        ep=$(grep -o "console tcp://127.0.0.1:[0-9]*" "$work/n$r.log" |
            head -n 1 | cut -d' ' -f2) || true
        [ -n "$ep" ] && "$console" -c "$ep" -t 0.2 nodes >/dev/null 2>&1 &&
            break
        sleep 0.1
    done
    [ -n "$ep" ] || { echo "bench-node: the node did not start" >&2; exit 1; }
    t0=$(date +%s.%N)
    "$console" -c "$ep" -t 600 spawn-many b "$count" --model oscillator \
        >/dev/null
    t1=$(date +%s.%N)
    rate=$(awk "BEGIN {printf \"%d\", $count / ($t1 - $t0)}")
    echo "run $r: $count actors in $(awk "BEGIN {printf \"%.3f\", $t1 - $t0}") s: $rate actors/s"
    rates+=("$rate")
    kill "$pid"
    wait "$pid" || true
    pid=
    rm -rf "$work/n$r"
done
median=$(printf '%s\n' "${rates[@]}" | sort -n |
    awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
echo "spawn-many median: $median actors/s ($repeat runs of $count)"
if [ "$check" -gt 0 ] && [ "$median" -lt "$check" ]; then
    echo "bench-node: median $median actors/s is below $check" >&2
    exit 1
fi
