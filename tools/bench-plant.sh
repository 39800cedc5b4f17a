#!/usr/bin/env bash
# tools/bench-plant.sh: plant benchmark - `twinmesh apply` of a generated
# plant (tools/gen-plant.py: oscillators and springs in a chain, 2 links per
# actor) into a fresh node, end to end (the console reads and checks the
# file, uploads it in chunks, the node plans it and commits it in one
# batch), then the same file again (nothing to change) and `diff`;
# repeated on a fresh node each time; prints each run and the medians, and
# with --check SECONDS fails when the median apply takes longer.
#
#   tools/bench-plant.sh [--build DIR] [--actors N] [--repeat R]
#                        [--check SECONDS]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build
actors=100000
repeat=5
check=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --actors) actors=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --check) check=$2; shift 2 ;;
    *) echo "usage: tools/bench-plant.sh [--build DIR] [--actors N]" \
        "[--repeat R] [--check SECONDS]" >&2; exit 2 ;;
    esac
done
node=$build/nodes/twinmesh-node
console=$build/tools/twinmesh
work=$(mktemp -d /tmp/tm-bench-plant.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

plant=$work/plant.yaml
python3 "$root/tools/gen-plant.py" "$actors" "$plant"
echo "plant: $actors actors, $((2 * actors)) links, $(du -h "$plant" |
    cut -f1) of YAML"

elapsed() { # CMD...: run, print the wall time in seconds
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$work/out" || { cat "$work/out" >&2; exit 1; }
    t1=$(date +%s.%N)
    awk "BEGIN {printf \"%.3f\", $t1 - $t0}"
}

applies=()
agains=()
diffs=()
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
    [ -n "$ep" ] || { echo "bench-plant: the node did not start" >&2; exit 1; }
    a=$(elapsed "$console" -c "$ep" -t 600 --json apply "$plant")
    node_s=$("$build/tests/tm_itest" get .elapsed_s <"$work/out" |
        awk '{printf "%.3f", $1}') || node_s="?"
    g=$(elapsed "$console" -c "$ep" -t 600 apply "$plant")
    grep -q "nothing to change" "$work/out" || {
        echo "bench-plant: applying again changed something" >&2
        exit 1
    }
    d=$(elapsed "$console" -c "$ep" -t 600 diff "$plant")
    echo "run $r: apply $a s (node $node_s s), again $g s, diff $d s"
    applies+=("$a")
    agains+=("$g")
    diffs+=("$d")
    kill "$pid"
    wait "$pid" || true
    pid=
    rm -rf "$work/n$r"
done
median() {
    printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}
ma=$(median "${applies[@]}")
echo "apply median: $ma s; again: $(median "${agains[@]}") s; diff:" \
    "$(median "${diffs[@]}") s ($repeat runs, $actors actors)"
if [ "$check" != 0 ] && awk "BEGIN {exit !($ma > $check)}"; then
    echo "bench-plant: median apply $ma s is over $check s" >&2
    exit 1
fi
