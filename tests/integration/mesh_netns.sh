# mesh_netns: three nodes as three hosts - network namespaces made by this
# test, joined by veth pairs, each node bound to its own host address - with
# tc netem adding 20 ms of delay and 1 % loss on every link where the kernel
# has netem. The coupled chain spread over the three hosts gives the digest
# of a node outside any mesh. Then the link between two hosts goes down (a
# partition): each sees the other dead and why-stuck says who waits for
# whom; when it comes up again the mesh resumes and ends on one tick.
# Skipped (exit 77) where namespaces cannot be made (not root, no ip netns).
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/netns.sh"

NAMES=(a b c)
declare -A PID
netns_hosts "${NAMES[@]}"
netns_link a b 1
netns_link b c 2
netns_link a c 3
if [ "$NETEM" = 0 ]; then
    echo "NOTE: tc netem is not available in this kernel (sch_netem): the" \
        "links run without added delay and loss"
fi

PEERS=()
for n in "${NAMES[@]}"; do
    PEERS+=(--peer "tcp://${HOST[$n]}:7800")
done

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
