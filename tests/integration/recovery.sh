# recovery: kill -9 and restart on the same data directory brings back
# every acknowledged actor and link, states from the last checkpoint (with
# later acknowledged mutations on top), and stepping resumes from the
# checkpoint's tick. SIGTERM writes a final checkpoint and exits 0.
. "$(dirname "$0")/lib.sh"

j() { tmc --json "$@"; }

# the mesh as text: every actor with its model, params, held inputs and
# links (states are compared separately)
snapshot() {
    local a
    for a in $(tmc ids --limit 100000); do
        echo "$a $(j inspect "$a" | "$IT_BIN" get .model)" \
            "$(j inspect "$a" | "$IT_BIN" get .params)" \
            "$(j inspect "$a" | "$IT_BIN" get .held)" \
            "$(j inspect "$a" | "$IT_BIN" get .links)"
    done
}

# wait until the checkpoint of tick $1 is durable
wait_checkpoint() {
    for _ in $(seq 200); do
        local s
        s=$(j stats)
        if [ "$(jget .checkpoint.tick <<<"$s")" = "$1" ] &&
            [ "$(jget .checkpoint.pending <<<"$s")" = false ]; then
            return 0
        fi
        sleep 0.05
    done
    fail "no checkpoint at tick $1"
}

start_node rnode --checkpoint 10
ep=$EP

for i in 0 1 2 3; do
    expect_ok tmc spawn "o$i" --model oscillator --param x0=0.$((i + 1))
done
for i in 0 1 2; do
    expect_ok tmc spawn "s$i" --model spring --param k=3
    expect_ok tmc link "o$i.x" "s$i.xa"
    expect_ok tmc link "o$((i + 1)).x" "s$i.xb"
    expect_ok tmc link "s$i.fa" "o$i.fr"
    expect_ok tmc link "s$i.fb" "o$((i + 1)).fl"
done
expect_ok tmc spawn t0 --model tank
expect_ok tmc spawn p0 --model pump
expect_ok tmc link p0.flow t0.qin
expect_ok tmc link t0.level p0.h_suction
expect_ok tmc set o0 c=0.7

# step to a checkpoint and remember the mesh there
expect_ok tmc run --ticks 100
wait_checkpoint 100
state_o1=$(j inspect o1 | jget .state)
state_o3=$(j inspect o3 | jget .state)
state_p0=$(j inspect p0 | jget .state)

# acknowledged mutations after the checkpoint
expect_ok tmc spawn late --model valve --param tau=3
expect_ok tmc link late.q t0.qout
expect_ok tmc set o2 k=7
expect_ok tmc set o3 x=0.125
expect_ok tmc unlink s2.fb o3.fl
expect_ok tmc kill s1
expect_ok tmc run --ticks 7
eq "$(j nodes | jget '[0].tick')" 107 "tick before the crash"
before=$(snapshot)

kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
t0=$(date +%s.%N)
restart_node rnode "$ep" --checkpoint 10
t1=$(date +%s.%N)
echo "recovery: node answering $(awk "BEGIN {print $t1 - $t0}") s after restart"

eq "$(j nodes | jget '[0].tick')" 100 "resumes from the checkpoint's tick"
after=$(snapshot)
if [ "$before" != "$after" ]; then
    diff <(echo "$before") <(echo "$after") >&2 || true
    fail "actors, parameters or links differ after kill -9"
fi
ok
eq "$(j inspect late | jget .params.tau)" 3.0 "actor spawned after the checkpoint"
eq "$(j inspect o2 | jget .params.k)" 7.0 "set after the checkpoint"
eq "$(tmc ids s | tr '\n' ' ')" "s0 s2 " "killed after the checkpoint"
# states: the checkpoint's, bit for bit (JSON prints 17 digits)
eq "$(j inspect o1 | jget .state)" "$state_o1" "o1 state = checkpoint"
eq "$(j inspect p0 | jget .state)" "$state_p0" "p0 state = checkpoint"
# o3: the checkpoint's state with the acknowledged set of x on top
v_ckpt=$("$IT_BIN" get .v <<<"$state_o3")
eq "$(j inspect o3 | jget .state.x)" 0.125 "o3.x = the set value"
eq "$(j inspect o3 | jget .state.v)" "$v_ckpt" "o3.v = checkpoint"

# stepping resumes from there
expect_ok tmc run --ticks 15
eq "$(j nodes | jget '[0].tick')" 115 "stepping resumes"

# SIGTERM: final checkpoint at the current tick, exit 0, same digest back
expect_ok tmc run --ticks 3
h_stop=$(j hash | jget .digest)
stop_node "$NODE_PID" || fail "SIGTERM: exit status $?"
ok
grep -q "final checkpoint at tick 118" "$WORK/rnode.log" ||
    fail "no final checkpoint in the log"
ok
restart_node rnode "$ep" --checkpoint 10
eq "$(j nodes | jget '[0].tick')" 118 "restart after SIGTERM: tick"
eq "$(j hash | jget .digest)" "$h_stop" "restart after SIGTERM: digest"

# crash while stepping fast: back at a checkpoint tick, every actor there
# with the states the checkpoint holds - the same digest as the mesh of tick
# 118 (a verified backup taken now) stepped on to that tick
expect_ok tmc backup "$WORK/at118"
expect_ok tmc clock fast
sleep 1
ticked=$(j nodes | jget '[0].tick')
kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
restart_node rnode "$ep" --checkpoint 10
tick=$(j nodes | jget '[0].tick')
# Checkpoints fall every 10 ticks unless the writer is still busy with the
# previous one (stepping never waits): then at the next chunk's end.
[ "$tick" -gt 118 ] ||
    fail "tick after a crash while stepping: $tick (was at $ticked)"
ok
eq "$(j nodes | jget '[0].actors')" 9 "all actors after crash while stepping"
h_crash=$(j hash | jget .digest)
crash_pid=$NODE_PID
start_node at118 --checkpoint 0
expect_ok tmc run --ticks $((tick - 118))
eq "$(j hash | jget .digest)" "$h_crash" \
    "states and links after a crash while stepping = the checkpoint's"
stop_node "$NODE_PID" || fail "stop at118"
ok
EP=$ep
NODE_PID=$crash_pid

# SIGINT is a clean stop too
kill -INT "$NODE_PID"
rc=0
wait "$NODE_PID" || rc=$?
eq "$rc" 0 "SIGINT exit status"

# kill -9 while a console waits for a long spawn-many: the console sees
# the connection drop and says so at once, instead of waiting out a
# timeout of minutes and calling the node unreachable
start_node gone --checkpoint 0
tmc -t 600 spawn-many huge 2000000 --model oscillator >/dev/null \
    2>"$WORK/gone.err" &
console_pid=$!
sleep 1
t0=$(date +%s%N)
kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
rc=0
wait "$console_pid" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
echo "console after kill -9 of its node: exit $rc after $ms ms"
eq "$rc" 3 "console exit status when the node dies"
grep -qF "was lost while waiting for the reply; the change may or may not \
have been applied" "$WORK/gone.err" || fail "lost connection: $(cat "$WORK/gone.err")"
ok
[ "$ms" -lt 5000 ] || fail "the console waited $ms ms for a dead node"
ok
done_checks
