#!/usr/bin/env bash
# tools/bench-failover.sh: what standby copies cost and how long a
# failover takes.
#
# Three node processes on loopback with `--replicas 1` (paused clocks),
# and one node on its own for comparison:
#  1. `set` of one value, S times, on a mesh node (the reply waits for the
#     standby's confirmation) and on the node on its own: the median wall
#     time of each.
#  2. R times: `spawn-many N` on node a, the time until its standby has
#     confirmed the commit (N records streamed and committed there); a run
#     of 5 ticks; kill -9 of a, and the wall time of `failover a` from
#     node c (N actors made on the standby from its copy); a restarted on
#     its data (it fences its copies and comes back empty).
#
# Prints every run and the medians.
#
#   tools/bench-failover.sh [--build DIR] [--actors N] [--repeat R]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build
actors=10000
repeat=3
sets=20
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --actors) actors=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "usage: tools/bench-failover.sh [--build DIR] [--actors N]" \
        "[--repeat R]" >&2; exit 2 ;;
    esac
done
node=$build/nodes/twinmesh-node
console=$build/tools/twinmesh
work=$(mktemp -d /tmp/tm-bench-failover.XXXXXX)
declare -A CEP PID
cleanup() {
    for p in "${PID[@]}"; do
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

base=$((20000 + RANDOM % 10000))
peers=()
for i in 0 1 2; do
    peers+=(--peer "tcp://127.0.0.1:$((base + 100 + i))")
done
up() { # up NAME INDEX
    CEP[$1]=tcp://127.0.0.1:$((base + $2))
    "$node" --name "$1" --data "$work/$1" --console "${CEP[$1]}" \
        --mesh "tcp://127.0.0.1:$((base + 100 + $2))" "${peers[@]}" \
        --clock paused --checkpoint 1000000 --heartbeat 0.05 --dead 20 \
        --replicas 1 --log warn >>"$work/$1.log" 2>&1 &
    PID[$1]=$!
}
at() { local n=$1; shift; "$console" -c "${CEP[$n]}" -t 120 "$@"; }
alive() { # alive NODE COUNT: NODE sees COUNT members alive
    for _ in $(seq 300); do
        [ "$(at "$1" nodes 2>/dev/null | grep -c ' alive ')" = "$2" ] &&
            return 0
        sleep 0.05
    done
    echo "bench-failover: $1 does not see $2 members alive" >&2
    exit 1
}
stat() { at "$1" --json stats | python3 -c "import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split('.'):
    d = d[k]
print(d)" "$2"; }
confirmed() { # confirmed NODE: its standby has every commit
    while [ "$(stat "$1" standby.confirmed)" != "$(stat "$1" standby.commits)" ]; do
        sleep 0.01
    done
}
now() { date +%s.%N; }
since() { awk "BEGIN {printf \"%.4f\", $(now) - $1}"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

i=0
for n in a b c; do
    up "$n" "$i"
    i=$((i + 1))
done
CEP[solo]=tcp://127.0.0.1:$((base + 50))
"$node" --name solo --data "$work/solo" --console "${CEP[solo]}" \
    --clock paused --log warn >"$work/solo.log" 2>&1 &
PID[solo]=$!
for n in a b c; do alive "$n" 2; done
for _ in $(seq 100); do [ "$(stat a standby.node)" = b ] && break; sleep 0.05; done

# ---- 1. the cost of a change's confirmation ---------------------------------
at a spawn x --model oscillator --node a >/dev/null
at solo spawn x --model oscillator >/dev/null
mesh=()
solo=()
for k in $(seq "$sets"); do
    t=$(now); at a set x "x=0.$k" >/dev/null; mesh+=("$(since "$t")")
    t=$(now); at solo set x "x=0.$k" >/dev/null; solo+=("$(since "$t")")
done
echo "set: median $(median "${mesh[@]}") s with a standby, $(median "${solo[@]}") s on a node on its own ($sets each)"

# ---- 2. streaming, checkpoint, failover -------------------------------------
spawn=()
fo=()
for r in $(seq "$repeat"); do
    t=$(now)
    at a spawn-many "r${r}-" "$actors" --model oscillator --node a >/dev/null
    confirmed a
    s=$(since "$t")
    spawn+=("$s")
    at a run --ticks 5 >/dev/null
    kill -9 "${PID[a]}"
    wait "${PID[a]}" 2>/dev/null || true
    for _ in $(seq 300); do
        at c nodes | grep -q ' dead ' && break
        sleep 0.05
    done
    t=$(now)
    out=$(at c failover a)
    f=$(since "$t")
    fo+=("$f")
    echo "run $r: spawn-many $actors confirmed by the standby in $s s; failover of $actors actors in $f s ($out)"
    up a 0
    alive a 2
done
echo "spawn-many $actors on the standby: median $(median "${spawn[@]}") s"
echo "failover of $actors actors: median $(median "${fo[@]}") s"
