# failover: a node of a mesh of three keeps a standby copy of its store on
# another node (replicas = 1). After kill -9 of the node, `failover` runs
# its actors on the standby from the copy: the last checkpoint with every
# change acknowledged after it (a set, a spawn, a kill), with their links
# across nodes rewired, and the mesh steps on. The killed node, restarted
# in real time, lets its copies go before it steps (they run elsewhere at
# a higher ownership epoch) and never runs them a second time: every node
# names one owner for every actor. Refusals are clear.
. "$(dirname "$0")/lib.sh"

NAMES=(a b c)
declare -A CEP MEP PID

at() { # at NODE ARGS...: a console on NODE's console endpoint
    local n=$1
    shift
    "$TM_BIN" -c "${CEP[$n]}" "$@"
}

node_up() { # node_up NAME [CLOCK]: start (or restart) node NAME
    local n=$1 clock=${2:-paused} peers=() p
    for p in "${NAMES[@]}"; do
        peers+=(--peer "${MEP[$p]}")
    done
    "$NODE_BIN" --name "$n" --site "site-$n" --data "$WORK/$n" \
        --console "${CEP[$n]}" --mesh "${MEP[$n]}" "${peers[@]}" \
        --clock "$clock" --workers 1 --heartbeat 0.05 --tick 0.05 \
        --dead 40 --checkpoint 20 --replicas 1 >>"$WORK/$n.log" 2>&1 &
    PID[$n]=$!
    NODE_PIDS+=("${PID[$n]}")
    watchdog "${PID[$n]}"
    EP=${CEP[$n]}
    wait_ready "${PID[$n]}" "$n"
}

alive_count() { at "$1" --json nodes | "$IT_BIN" count state=alive; }
dead_count() { at "$1" --json nodes | "$IT_BIN" count state=dead; }

all_alive() {
    local n all
    for _ in $(seq 200); do
        all=1
        for n in "${NAMES[@]}"; do
            [ "$(alive_count "$n")" = 2 ] || all=0
        done
        [ "$all" = 1 ] && return 0
        sleep 0.1
    done
    fail "the three nodes did not see each other alive within 20 s"
}

stat() { at "$1" --json stats | jget "$2"; }
owner() { at "$1" --json inspect "$2" | jget node; }

# wait_confirmed NODE: its standby has confirmed every commit
wait_confirmed() {
    for _ in $(seq 200); do
        [ "$(stat "$1" standby.confirmed)" = "$(stat "$1" standby.commits)" ] &&
            [ "$(stat "$1" standby.commits)" != 0 ] && return 0
        sleep 0.05
    done
    fail "the standby of $1 did not confirm its commits"
}

for n in "${NAMES[@]}"; do
    MEP[$n]="tcp://127.0.0.1:$(free_port)"
    CEP[$n]="tcp://127.0.0.1:$(free_port)"
done
for n in "${NAMES[@]}"; do
    node_up "$n"
done
all_alive

# each node's standby is the next member by name
for _ in $(seq 100); do
    [ "$(stat a standby.node)" = b ] && [ "$(stat c standby.node)" = a ] &&
        break
    sleep 0.05
done
eq "$(stat a standby.node)" b "a's standby"
eq "$(stat b standby.node)" c "b's standby"
eq "$(stat c standby.node)" a "c's standby"

# o0 on a is coupled with s0 on c both ways; o1, o2, o3 on a on their own
for i in 0 1 2 3; do
    expect_ok at a spawn "o$i" --model oscillator --param "x0=0.$((i + 1))" \
        --node a
done
expect_ok at c spawn s0 --model spring --param k=25 --node c
expect_ok at c link o0.x s0.xa
expect_ok at a link s0.fa o0.fr --delay 2
expect_ok at b run --ticks 30 # a checkpoint at tick 20
wait_confirmed a
eq "$(stat a checkpoint.tick)" 20 "a's last checkpoint"

# changes after the checkpoint, acknowledged: they survive the failover
# (each reply waits for the standby's confirmation)
# held_for_standby WAIT NAME CMD...: with the standby b stopped, CMD on a
# is not answered within WAIT seconds; once b continues it is, and does
# not say its change went unconfirmed
held_for_standby() {
    local wait=$1 name=$2 pid
    shift 2
    kill -STOP "${PID[b]}"
    at a "$@" >"$WORK/$name.out" 2>&1 &
    pid=$!
    sleep "$wait"
    kill -0 "$pid" 2>/dev/null ||
        fail "$name was answered while its standby was stopped: $(cat "$WORK/$name.out")"
    ok
    kill -CONT "${PID[b]}"
    wait "$pid" || fail "$name failed: $(cat "$WORK/$name.out")"
    grep -q "not confirmed" "$WORK/$name.out" &&
        fail "$name: $(cat "$WORK/$name.out")"
    ok
}
# a reply waits for the standby
held_for_standby 1 set set o1 x=0.75 v=-0.5
# so does an answer that comes later: a link from c's actor into a's,
# answered once the values flow, then held for b's confirmation
wait_confirmed a
held_for_standby 1.5 link link s0.fb o1.fl
expect_ok at a unlink s0.fb o1.fl
expect_ok at b spawn o9 --model oscillator --node a
expect_ok at a kill o3
expect_ok at a unlink s0.fa o0.fr # a reads nothing from c now
eq "$(stat a standby.confirmed)" "$(stat a standby.commits)" \
    "every acknowledged change is on the standby"
eq "$(stat a standby.unconfirmed)" 0 "no reply went before its confirmation"
at a --json inspect o2 >"$WORK/o2-before.json"
x2=$(jget state.x <"$WORK/o2-before.json")

# refusals while a lives
expect_fail 1 "is alive" at c failover a
expect_fail 1 "unknown node" at c failover zz
expect_fail 1 "this node" at a failover a

kill -9 "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
for _ in $(seq 200); do
    [ "$(dead_count b)" = 1 ] && [ "$(dead_count c)" = 1 ] && break
    sleep 0.05
done
eq "$(dead_count c)" 1 "c sees a dead"

# a's audit log lives on in its copy on b: the last change acknowledged
# before the kill is there, from b, and in the mesh's log from any node
# copy_has NODE ARGS...: audit ARGS on NODE has a's kill of o3, read from
# its copy on b
copy_has() {
    local n=$1
    shift
    at "$n" --json audit "$@" --limit 1000 >"$WORK/copy-audit.json"
    python3 -c 'import json, sys
recs = json.load(open(sys.argv[1]))
sys.exit(not any(r.get("node") == "a" and r.get("copy_on") == "b" and
                 r["kind"] == "kill" and r["actor"] == "o3" for r in recs))' \
        "$WORK/copy-audit.json" ||
        fail "audit $* on $n lacks a's kill of o3 from its copy on b: $(head -c 600 "$WORK/copy-audit.json")"
    ok
}
copy_has b --node a
copy_has c
# merged in time order with the others' records (b answers with its own
# log and a's: two logs, each in its own order)
"$IT_BIN" sorted wall_ns <"$WORK/copy-audit.json" ||
    fail "the mesh's log is not in time order with a's records from b"
ok
out=$(at b audit --node a --actor o3)
case $out in *"of node a, from its standby copy on b"*) ok ;;
*) fail "audit --node a on b: $out" ;; esac
grep -q "a via b" <<<"$(at c audit --limit 1000)" ||
    fail "the mesh's log does not say where a's records come from"
ok

out=$(at c failover a)
case $out in *"node b runs the 4 actors of dead node a"*) ok ;;
*) fail "failover said: $out" ;; esac
for n in b c; do
    for id in o0 o1 o2 o9; do
        eq "$(owner "$n" "$id")" b "node $n sees $id on b"
    done
    expect_fail 1 "unknown actor" at "$n" inspect o3
done
eq "$(at b --json inspect o1 | jget state.x)" 0.75 "the set after the checkpoint"
eq "$(at b --json inspect o1 | jget state.v)" -0.5 "its second value"
eq "$(at b --json inspect o0 | jget epoch)" 1 "o0's ownership epoch on b"
at b --json audit --node b --actor o1 | grep -q '"failover"' ||
    fail "no failover record on b"
ok
copy_has b --node a # the copy a failover set aside
copy_has c
# o2's state is its checkpoint's (tick 20), not tick 30's: a restart's rule
[ "$(at b --json inspect o2 | jget state.x)" != "$x2" ] ||
    fail "o2 has tick 30's state; the copy holds the checkpoint of tick 20"
ok

links=$(at b --json inspect o0)
case $links in *'"s0.fa"'*|*'"from":"s0'*) fail "the unlink was lost: $links" ;; esac
ok

# the mesh steps on: c reads o0 from b
t0=$(at c --json clock | jget tick)
expect_ok at c run --ticks 10
eq "$(at c --json clock | jget tick)" $((t0 + 10)) "c stepped on"
eq "$(at b --json clock | jget tick)" $((t0 + 10)) "b stepped on"

# a comes back in real time (with no proxy: nothing else would hold its
# clock): its copies are claimed at a higher epoch; it lets them go before
# it steps, and never runs them again
node_up a realtime
all_alive
for _ in $(seq 100); do
    [ "$(owner a o1)" = b ] && break
    sleep 0.05
done
for n in "${NAMES[@]}"; do
    for id in o0 o1 o2 o9; do
        eq "$(owner "$n" "$id")" b "after a's return, node $n sees $id on b"
    done
done
at a --json audit --node a --actor o1 >"$WORK/a-audit.json"
grep -q '"fenced"' "$WORK/a-audit.json" || fail "a did not fence o1"
ok
# a alive: its own log again, asked of it
at c --json audit --node a --limit 1000 | grep -q '"copy_on"' &&
    fail "a is alive, yet its log came from a copy"
ok
# the fence came at the tick a restarted from: it stepped nothing before
fence_tick=$(python3 -c 'import json, sys
recs = json.load(open(sys.argv[1]))
print([r["tick"] for r in recs if r["kind"] == "fenced"][0])' "$WORK/a-audit.json")
eq "$fence_tick" 20 "a fenced its copies at its checkpoint tick, before a step"
out=$(at c nodes)
case $out in *"claimed by two nodes"*) fail "id conflict: $out" ;; esac
ok

done_checks
