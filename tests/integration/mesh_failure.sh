# mesh_failure: a node of a mesh is killed with -9 while the mesh runs in
# real time; a node that waits for late values as long as it takes (--wait
# 30) stops and `why-stuck` names the dead node; a node with a short wait
# steps on with the last values and shows those links stale; a node that
# reads nobody's values goes on stepping. Restarted on its data directory
# the dead node rejoins with a new incarnation, catches up with mesh time,
# has every acknowledged actor and link, and the mesh runs on to one tick
# with no actor on two nodes.
. "$(dirname "$0")/lib.sh"

NAMES=(a b c d)
declare -A CEP MEP PID
for n in "${NAMES[@]}"; do
    MEP[$n]="tcp://127.0.0.1:$(free_port)"
    CEP[$n]="tcp://127.0.0.1:$(free_port)"
done
PEERS=()
for n in "${NAMES[@]}"; do
    PEERS+=(--peer "${MEP[$n]}")
done

declare -A WAIT=([a]=30 [b]=30 [c]=0.3 [d]=30)

up() { # up NAME [flags]: start (or restart) a node of the mesh
    local n=$1
    shift
    "$NODE_BIN" --name "$n" --data "$WORK/$n" --console "${CEP[$n]}" \
        --mesh "${MEP[$n]}" "${PEERS[@]}" --clock paused --workers 2 \
        --heartbeat 0.05 --suspect 4 --dead 20 --checkpoint 25 \
        --wait "${WAIT[$n]}" "$@" >>"$WORK/$n.log" 2>&1 &
    PID[$n]=$!
    NODE_PIDS+=("${PID[$n]}")
    watchdog "${PID[$n]}"
    EP=${CEP[$n]}
    wait_ready "${PID[$n]}" "$n"
}

at() {
    local n=$1
    shift
    "$TM_BIN" -c "${CEP[$n]}" "$@"
}

# state NODE NAME: the state a node reports for NAME in `nodes`
state() {
    at "$1" --json nodes | "$IT_BIN" get ".[$(at "$1" --json nodes |
        "$IT_BIN" index name "$2")].state"
}

for n in "${NAMES[@]}"; do
    up "$n"
done
for _ in $(seq 100); do
    [ "$(at a --json nodes | "$IT_BIN" count state=alive)" = 3 ] && break
    sleep 0.1
done
eq "$(at a --json nodes | "$IT_BIN" count state=alive)" 3 "a sees 3 peers alive"

# a chain over a, b, c; d holds an actor nobody reads
for i in 0 1 2 3 4 5; do
    expect_ok at a spawn "o$i" --model oscillator --param "x0=0.0$((i + 1))" \
        --node "${NAMES[$((i % 3))]}"
done
for i in 0 1 2 3 4; do
    expect_ok at b spawn "s$i" --model spring --node "${NAMES[$(((i + 1) % 3))]}"
    expect_ok at c link "o$i.x" "s$i.xa"
    expect_ok at c link "o$((i + 1)).x" "s$i.xb"
    expect_ok at a link "s$i.fa" "o$i.fr"
    expect_ok at a link "s$i.fb" "o$((i + 1)).fl"
done
expect_ok at d spawn lonely --model thermal --node d
expect_ok at a run --ticks 60
at b --json actors >"$WORK/actors.before"
for id in o0 o1 o2 o3 o4 o5 s0 s1 s2 s3 s4; do
    at c --json inspect "$id" | "$IT_BIN" get .links.in
done >"$WORK/links.before"

# kill -9 b while the mesh runs in real time
expect_ok at a clock realtime
sleep 0.3
kill -KILL "${PID[b]}"
wait "${PID[b]}" 2>/dev/null || true
for _ in $(seq 100); do
    [ "$(state a b)" = dead ] && break
    sleep 0.1
done
eq "$(state a b)" dead "a sees b dead"
t1=$(at a --json clock | "$IT_BIN" get tick)
sleep 0.5
eq "$(at a --json clock | "$IT_BIN" get tick)" "$t1" "a waits for b's values"
why=$(at c --json why-stuck)
row=$("$IT_BIN" index node a <<<"$why")
eq "$("$IT_BIN" get ".[$row].waiting_for" <<<"$why")" b "why-stuck: a waits for b"
"$IT_BIN" get ".[$row].reason" <<<"$why" | grep -q "b is dead" ||
    fail "why-stuck does not say b is dead: $why"
ok
row=$("$IT_BIN" index node b <<<"$why")
eq "$("$IT_BIN" get ".[$row].state" <<<"$why")" dead "why-stuck: b's row"
expect_fail 1 "node b is dead: the mesh digest needs every node's part" \
    at d hash
expect_fail 1 "node b is dead" at a inspect o1
# c waits 0.3 s at most: it steps on, its link from b's o1 is stale
c1=$(at c --json clock | "$IT_BIN" get tick)
sleep 0.5
c2=$(at c --json clock | "$IT_BIN" get tick)
[ "$c2" -gt "$c1" ] || fail "c did not step on with b's last values"
ok
eq "$(at c --json inspect s1 | "$IT_BIN" get '.links.in[0].stale')" true \
    "c's link from b's o1 is stale"
eq "$(at c --json inspect s1 | "$IT_BIN" get '.links.in[1].stale')" false \
    "c's link from its own o2 is not"
# the held values are degraded inputs to their readers, and c's audit log
# records when it began holding (with the next checkpoint)
eq "$(at c --json inspect s1 | "$IT_BIN" get '.supervision.degraded_inputs')" \
    '["o1"]' "c's s1 is told its input from o1 is degraded"
# audit_kind NODE KIND: records of that kind in NODE's audit log, waiting
# up to 10 s for the next checkpoint to write them
audit_kind() {
    local n=0
    for _ in $(seq 100); do
        n=$(at "$1" --json audit --node "$1" | "$IT_BIN" count "kind=$2")
        [ "$n" -gt 0 ] && break
        sleep 0.1
    done
    echo "$n"
}
# (a, which waits for b, is late too: c holds its values as well)
[ "$(audit_kind c stale)" -ge 1 ] || fail "c's audit log has no stale record"
at c audit --node c | grep -q "stale .*node b's values of tick [0-9]* are late: [0-9]* of its actors feed this node's with their last values (degraded)" ||
    fail "audit text: $(at c audit --node c | tail -3)"
ok
d1=$(at d --json clock | "$IT_BIN" get tick)
sleep 0.3
d2=$(at d --json clock | "$IT_BIN" get tick)
[ "$d2" -gt "$d1" ] || fail "d, which reads nobody, stopped with b ($d1 -> $d2)"
ok
inc_before=$(at a --json nodes | "$IT_BIN" get ".[$(at a --json nodes |
    "$IT_BIN" index name b)].incarnation")

# b comes back on its data: same actors and links, a new incarnation; it
# catches up with the mesh's real time and the values flow again
up b --clock realtime
for _ in $(seq 100); do
    [ "$(state a b)" = alive ] && break
    sleep 0.1
done
eq "$(state a b)" alive "a sees b alive again"
inc_after=$(at a --json nodes | "$IT_BIN" get ".[$(at a --json nodes |
    "$IT_BIN" index name b)].incarnation")
[ "$inc_after" != "$inc_before" ] || fail "b's incarnation did not change"
ok
for _ in $(seq 100); do
    [ "$(at c --json inspect s1 | "$IT_BIN" get '.links.in[0].stale')" = false ] &&
        break
    sleep 0.1
done
eq "$(at c --json inspect s1 | "$IT_BIN" get '.links.in[0].stale')" false \
    "b's values flow to c again"
eq "$(at c --json inspect s1 | "$IT_BIN" get '.supervision.degraded_inputs')" \
    '[]' "c's s1: no degraded input any more"
[ "$(audit_kind c fresh)" -ge 1 ] || fail "c's audit log has no fresh record"
at c audit --node c | grep -q "fresh .*node b's values flow again from tick" ||
    fail "audit text: $(at c audit --node c | tail -3)"
ok
expect_ok at b clock pause
expect_ok at b run --ticks 40
at b --json actors >"$WORK/actors.after"
cmp -s "$WORK/actors.before" "$WORK/actors.after" ||
    fail "actors differ after the restart: $(diff "$WORK/actors.before" \
        "$WORK/actors.after")"
ok
for id in o0 o1 o2 o3 o4 o5 s0 s1 s2 s3 s4; do
    at a --json inspect "$id" | "$IT_BIN" get .links.in
done >"$WORK/links.after"
cmp -s "$WORK/links.before" "$WORK/links.after" || fail "links differ"
ok
# one tick everywhere, every id once, no conflict
t=$(at a --json clock | "$IT_BIN" get tick)
for n in b c d; do
    eq "$(at "$n" --json clock | "$IT_BIN" get tick)" "$t" "node $n's tick"
done
eq "$(at c --json actors | "$IT_BIN" count)" 12 "12 actors, each once"
out=$(at c nodes)
grep -q "claimed by two nodes" <<<"$out" && fail "conflict reported: $out"
ok
expect_ok at c hash

done_checks
