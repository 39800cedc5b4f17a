# writes: a change that comes while a checkpoint is being written waits for
# the writer without holding the node: other consoles are answered
# meanwhile, the change is answered once it is durable (kill -9 right
# after keeps it; the node sends keepalives while it waits, so a console
# with a short timeout waits on), later changes queue behind it in order,
# and a node stopped meanwhile answers the waiting ones "not made" (a
# restart shows none of them); a change another node of the mesh forwards
# waits the same way. The checkpoints are made slow by size: 150,000 pumpmon
# twins (about 1 KB each) with a checkpoint after every tick.
. "$(dirname "$0")/lib.sh"

PD=${TM_PLUGIN_DIR:?TM_PLUGIN_DIR must name the built test plugins}
j() { tmc --json "$@"; }
N=150000

start_node w --checkpoint 1
ep=$EP
expect_ok tmc -t 600 spawn-many pm "$N" --model pumpmon

# seen_waiting PATH [TRIES]: poll stats while the background console
# runs; SEEN=1 once stats, answered, says at PATH true or a count of at
# least 1 while that console still waits.
seen_waiting() {
    SEEN=0
    for _ in $(seq "${2:-200}"); do
        case $(j stats | jget "$1") in
        true | [1-9]*)
            if kill -0 "$BG_PID" 2>/dev/null; then
                SEEN=1
                return 0
            fi
            ;;
        esac
        kill -0 "$BG_PID" 2>/dev/null || return 0
        sleep 0.01
    done
}

# checkpoint_then CMD...: step one tick (a checkpoint of every twin starts
# when it ends), start CMD in the background at once, and poll stats: sets
# SEEN to 1 when stats was answered while CMD waited for the writer.
checkpoint_then() {
    expect_ok tmc run --ticks 1
    bg_console "$WORK/bg.out" "$WORK/bg.err" "$@"
    seen_waiting .console.waiting
}

# ---- a change waits, the node answers others --------------------------------
waited=0
for k in $(seq 10); do
    checkpoint_then -t 3 spawn "x$k" --model spring
    wait "$BG_PID" || fail "spawn x$k: $(cat "$WORK/bg.err")"
    grep -q "spawned x$k" "$WORK/bg.out" || fail "spawn x$k: $(cat "$WORK/bg.out")"
    if [ "$SEEN" = 1 ]; then
        waited=$k
        break
    fi
done
[ "$waited" -gt 0 ] ||
    fail "no spawn was seen waiting for a checkpoint in 10 tries (too fast?)"
ok
[ "$(j stats | jget .console.waited)" -ge 1 ] || fail "console.waited not counted"
ok
# answered means durable: kill -9 now, the actor is there after a restart
kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
restart_node w "$ep" --checkpoint 1
eq "$(j inspect "x$waited" | jget .id)" "x$waited" "x$waited survived kill -9"

# ---- changes queue in order -------------------------------------------------
# a spawn waits; a set of it sent after stats saw the spawn waiting must
# find it (it waits behind it even if the writer is free by then)
checkpoint_then spawn q1 --model spring
q1=$BG_PID
if [ "$SEEN" = 1 ]; then
    expect_ok tmc set q1 k=30
    wait "$q1" || fail "spawn q1: $(cat "$WORK/bg.err")"
    eq "$(j inspect q1 | jget .params.k)" 30.0 "the set behind the spawn"
else
    wait "$q1" || fail "spawn q1: $(cat "$WORK/bg.err")"
fi

# ---- stopping while changes wait ----------------------------------------------
stopped=0
for k in $(seq 10); do
    checkpoint_then spawn "y$k" --model spring
    if [ "$SEEN" = 1 ]; then
        kill -TERM "$NODE_PID"
        rc=0
        wait "$BG_PID" || rc=$?
        if [ "$rc" -eq 0 ]; then
            # the checkpoint ended between the poll and the signal: the
            # spawn ran (and is durable); try again on a restarted node
            wait "$NODE_PID" || fail "the node did not stop cleanly"
            restart_node w "$ep" --checkpoint 1
            eq "$(j inspect "y$k" | jget .id)" "y$k" "y$k, answered, is there"
            continue
        fi
        grep -q "node stopping: the change waited for a checkpoint and was not made" \
            "$WORK/bg.err" || fail "stopping: $(cat "$WORK/bg.err")"
        wait "$NODE_PID" || fail "the node did not stop cleanly"
        restart_node w "$ep" --checkpoint 1
        expect_fail 1 "unknown actor 'y$k'" tmc inspect "y$k"
        stopped=1
        break
    fi
    wait "$BG_PID" || fail "spawn y$k: $(cat "$WORK/bg.err")"
done
[ "$stopped" = 1 ] || fail "no spawn was seen waiting before the stop"
ok

# ---- a rollout's decisions wait for the writer too -------------------------
# a stage that ends while the checkpoint of its tick is written switches
# its actors once the checkpoint is durable, with the clock held at that
# tick; the node answers meanwhile
expect_ok tmc models load "$PD/meter1.so"
expect_ok tmc models load "$PD/meter2.so"
expect_ok tmc spawn-many m 4 --model meter@1.0.0
T0=$(j clock | jget .tick)
expect_ok tmc rollout meter@2.0.0 --canary 50 --shadow 3 \
    --budget RMSE=10,MAPE=1000
bg_console "$WORK/bg.out" "$WORK/bg.err" -t 600 run --ticks 8
seen_waiting .rollout.waiting 3000
wait "$BG_PID" || fail "run during the rollout: $(cat "$WORK/bg.err")"
eq "$SEEN" 1 "stats answered while a rollout's decision waited for the writer"
[ "$(j stats | jget .rollout.deferred)" -ge 1 ] || fail "rollout.deferred"
ok
eq "$(j rollout status meter | jget '.[0].stage')" done "the rollout ended"
eq "$(j actors --model meter@2.0.0 | "$IT_BIN" count)" 4 "every meter on 2.0.0"
# the decisions kept their ticks: the canary switched at the shadow's
# end, the others at the canary's, whatever the writer did meanwhile
nc=$(j rollout status meter | jget '.[0].canary')
c=0
for i in 0 1 2 3; do
    a=$(j audit --actor "m$i")
    case "$(jget '.[1].reason' <<<"$a"):$(jget '.[1].tick' <<<"$a")" in
    "canary of the rollout:$((T0 + 3))") c=$((c + 1)) ;;
    "promoted by the rollout:$((T0 + 6))") ;;
    *) fail "m$i switched: $a" ;;
    esac
done
eq "$c" "$nc" "the canary switched at tick $((T0 + 3)), the rest at $((T0 + 6))"

# ---- a change from another node waits too ---------------------------------
# w in a mesh with v (no actors): v's `spawn --node w` comes to w as a
# peer's request, which waits for w's checkpoint without holding w's loop
kill -TERM "$NODE_PID"
wait "$NODE_PID" || fail "the node did not stop cleanly"
mw="tcp://127.0.0.1:$(free_port)"
mv="tcp://127.0.0.1:$(free_port)"
# (a tick of 150,000 twins holds w's loop for a while under the
# sanitizers: v gives w's heartbeats 10 s before it calls w dead)
hb=(--heartbeat 0.25 --suspect 20 --dead 40)
restart_node w "$ep" --checkpoint 1 --mesh "$mw" --peer "$mw" --peer "$mv" \
    "${hb[@]}"
start_node v --mesh "$mv" --peer "$mw" --peer "$mv" "${hb[@]}"
epv=$EP
EP=$ep
for _ in $(seq 100); do
    [ "$(j nodes | "$IT_BIN" count state=alive)" = 1 ] && break
    sleep 0.1
done
eq "$(j nodes | "$IT_BIN" count state=alive)" 1 "v alive for w"
waited=0
for k in $(seq 10); do
    expect_ok tmc run --ticks 1
    EP=$epv
    bg_console "$WORK/bg.out" "$WORK/bg.err" -t 30 spawn "z$k" --model spring \
        --node w
    EP=$ep
    seen_waiting .mesh.waiting
    wait "$BG_PID" || fail "spawn z$k from v: $(cat "$WORK/bg.err")"
    grep -q "spawned z$k" "$WORK/bg.out" || fail "spawn z$k: $(cat "$WORK/bg.out")"
    eq "$(j inspect "z$k" | jget .id)" "z$k" "z$k spawned on w from v"
    if [ "$SEEN" = 1 ]; then
        waited=$k
        break
    fi
done
[ "$waited" -gt 0 ] ||
    fail "no spawn from v was seen waiting for w's checkpoint in 10 tries"
ok
[ "$(j stats | jget .mesh.waited)" -ge 1 ] || fail "mesh.waited not counted"
ok
grep -q "mesh: from v: spawned z$waited" "$WORK/w.log" ||
    fail "w's log: $(grep 'mesh: from v' "$WORK/w.log")"
ok
done_checks
