# mesh_netns: three nodes as three hosts - network namespaces made by this
# test, joined by veth pairs, each node bound to its own host address - with
# tc netem adding 20 ms of delay and 1 % loss on every link where the kernel
# has netem. The coupled chain spread over the three hosts gives the digest
# of a node outside any mesh. Then the link between two hosts goes down (a
# partition): each sees the other dead and why-stuck says who waits for
# whom; when it comes up again the mesh resumes and ends on one tick.
# Skipped (exit 77) where namespaces cannot be made (not root, no ip netns).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
    echo "SKIPPED: network namespaces need root and iproute2 (ip netns)"
    exit 77
fi
TAG="tm$$"
if ! ip netns add "$TAG-probe" 2>/dev/null; then
    echo "SKIPPED: this machine does not allow network namespaces"
    exit 77
fi
ip netns del "$TAG-probe"

NAMES=(a b c)
declare -A HOST=([a]=10.77.0.1 [b]=10.77.0.2 [c]=10.77.0.3) PID
for n in "${NAMES[@]}"; do
    ip netns add "$TAG-$n"
    NETNS_LIST+=("$TAG-$n")
    ip -n "$TAG-$n" link set lo up
    ip -n "$TAG-$n" addr add "${HOST[$n]}/32" dev lo
done

# link X Y NET: a veth pair between hosts X and Y on 10.77.NET.0/24, and
# routes to each other's host address through it
NETEM=1
link() {
    local x=$1 y=$2 net=$3
    ip link add "v$x$y" type veth peer name "v$y$x"
    ip link set "v$x$y" netns "$TAG-$x"
    ip link set "v$y$x" netns "$TAG-$y"
    ip -n "$TAG-$x" addr add "10.77.$net.1/24" dev "v$x$y"
    ip -n "$TAG-$y" addr add "10.77.$net.2/24" dev "v$y$x"
    ip -n "$TAG-$x" link set "v$x$y" up
    ip -n "$TAG-$y" link set "v$y$x" up
    ip -n "$TAG-$x" route add "${HOST[$y]}/32" via "10.77.$net.2"
    ip -n "$TAG-$y" route add "${HOST[$x]}/32" via "10.77.$net.1"
    for end in "$x v$x$y" "$y v$y$x"; do
        set -- $end
        if ! ip netns exec "$TAG-$1" tc qdisc add dev "$2" root netem \
            delay 20ms loss 1% 2>/dev/null; then
            NETEM=0
        fi
    done
}
link a b 1
link b c 2
link a c 3
if [ "$NETEM" = 0 ]; then
    echo "NOTE: tc netem is not available in this kernel (sch_netem): the" \
        "links run without added delay and loss"
fi

PEERS=()
for n in "${NAMES[@]}"; do
    PEERS+=(--peer "tcp://${HOST[$n]}:7800")
done

in_ns() { # in_ns NODE CMD...: run CMD in NODE's namespace
    local n=$1
    shift
    ip netns exec "$TAG-$n" "$@"
}

at() { # at NODE ARGS...: a console in NODE's namespace
    local n=$1
    shift
    in_ns "$n" "$TM_BIN" -c tcp://127.0.0.1:7700 -t 20 "$@"
}

for n in "${NAMES[@]}"; do
    in_ns "$n" "$NODE_BIN" --name "$n" --data "$WORK/$n" \
        --console tcp://127.0.0.1:7700 --mesh "tcp://${HOST[$n]}:7800" \
        "${PEERS[@]}" --clock paused --workers 1 --heartbeat 0.1 \
        --suspect 3 --dead 10 >>"$WORK/$n.log" 2>&1 &
    PID[$n]=$!
    NODE_PIDS+=("${PID[$n]}")
    watchdog "${PID[$n]}"
done
for _ in $(seq 150); do
    all=1
    for n in "${NAMES[@]}"; do
        [ "$(at "$n" --json nodes 2>/dev/null | "$IT_BIN" count state=alive)" = 2 ] ||
            all=0
    done
    [ "$all" = 1 ] && break
    sleep 0.2
done
[ "$all" = 1 ] || fail "the three hosts did not see each other within 30 s"
ok

# the chain of mesh.sh, actor i on host i mod 3
OSC=6
for i in $(seq 0 $((OSC - 1))); do
    at a spawn "o$i" --model oscillator --param "x0=0.0$((i + 1))" \
        --node "${NAMES[$((i % 3))]}" >/dev/null
done
for i in $(seq 0 $((OSC - 2))); do
    at b spawn "s$i" --model spring --node "${NAMES[$(((i + 1) % 3))]}" \
        >/dev/null
    at c link "o$i.x" "s$i.xa" >/dev/null
    at c link "o$((i + 1)).x" "s$i.xb" >/dev/null
    at a link "s$i.fa" "o$i.fr" >/dev/null
    at a link "s$i.fb" "o$((i + 1)).fl" >/dev/null
done
at b run --ticks 200 >/dev/null
digest=$(at c --json hash | jget digest)

# the same chain on a node outside any mesh (on this host's loopback)
start_node solo --workers 1
for i in $(seq 0 $((OSC - 1))); do
    tmc spawn "o$i" --model oscillator --param "x0=0.0$((i + 1))" >/dev/null
done
for i in $(seq 0 $((OSC - 2))); do
    tmc spawn "s$i" --model spring >/dev/null
    tmc link "o$i.x" "s$i.xa" >/dev/null
    tmc link "o$((i + 1)).x" "s$i.xb" >/dev/null
    tmc link "s$i.fa" "o$i.fr" >/dev/null
    tmc link "s$i.fb" "o$((i + 1)).fl" >/dev/null
done
tmc run --ticks 200 >/dev/null
eq "$digest" "$(tmc --json hash | jget digest)" \
    "digest over three hosts equals a lone node's"

# a partition between a and b, then its healing
at a clock fast >/dev/null
sleep 0.5
ip -n "$TAG-a" link set vab down
for _ in $(seq 100); do
    st=$(at a --json nodes | "$IT_BIN" get ".[$(at a --json nodes |
        "$IT_BIN" index name b)].state")
    [ "$st" = dead ] && break
    sleep 0.1
done
eq "$st" dead "a sees b dead across the partition"
why=$(at c --json why-stuck)
grep -q '"waiting_for"' <<<"$why" || fail "why-stuck: $why"
row=$("$IT_BIN" index node a <<<"$why")
[ -n "$("$IT_BIN" get ".[$row].reason" <<<"$why")" ] || fail "no reason: $why"
ok
t_cut=$(at a --json clock | jget tick)
sleep 0.5
eq "$(at a --json clock | jget tick)" "$t_cut" "a waits while cut from b"
ip -n "$TAG-a" link set vab up
# a link going down takes the routes through it along: put them back
ip -n "$TAG-a" route replace "${HOST[b]}/32" via 10.77.1.2
for _ in $(seq 150); do
    st=$(at a --json nodes | "$IT_BIN" get ".[$(at a --json nodes |
        "$IT_BIN" index name b)].state")
    [ "$st" = alive ] && break
    sleep 0.2
done
eq "$st" alive "a sees b alive after the healing"
for _ in $(seq 100); do
    [ "$(at a --json clock | jget tick)" -gt "$t_cut" ] && break
    sleep 0.1
done
[ "$(at a --json clock | jget tick)" -gt "$t_cut" ] ||
    fail "a did not resume after the healing"
ok
at c clock pause >/dev/null
at c run --ticks 20 >/dev/null
t=$(at a --json clock | jget tick)
for n in b c; do
    eq "$(at "$n" --json clock | jget tick)" "$t" "host $n on the mesh's tick"
done
eq "$(at a --json actors | "$IT_BIN" count)" $((2 * OSC - 1)) \
    "every actor once"

done_checks
