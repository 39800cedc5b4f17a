# lookahead: a node steps ahead of the batches it reads by the smallest
# delay of the links that read them. b's oscillator feeds a's through a link
# of delay 4; with b frozen (SIGSTOP) at tick 10, a run takes a to tick 14
# and no further (step k reads b's outputs of k - 4), and why-stuck names
# the tick it waits for; thawed, the run ends on one tick, with the digest
# of the same plant on one node. With a delay-1 link added, a waits for
# every tick of b again. b, which reads nothing of a, sends the batches of
# the ticks it steps back to back in bursts (mesh.batch_messages), and the
# mesh still ends 2,000 ticks later on the one node's digest.
. "$(dirname "$0")/lib.sh"

j() { tmc --json "$@"; }
tick_of() { EP=$1 j clock | jget .tick; }

# b must not be called dead while frozen (that would resubscribe)
start_pair --dead 200
b_pid=$NODE_PID
EP=$EPA
expect_ok tmc spawn src --model oscillator --param x0=0.3 --node b
expect_ok tmc spawn dst --model oscillator --node a
expect_ok tmc link src.x dst.fl --delay 4
expect_ok tmc run --ticks 10
eq "$(tick_of "$EPA")" 10 "a at tick 10"

# frozen: run waits in the background while a steps what it may
# froze WANT: b frozen, a run of 20 ticks from a; a reaches WANT and stays
froze() {
    kill -STOP "$b_pid"
    bg_console "$WORK/run.out" "$WORK/run.err" -t 60 run --ticks 20
    for _ in $(seq 50); do
        [ "$(tick_of "$EPA")" -ge "$1" ] && break
        sleep 0.1
    done
    sleep 0.5
}
froze 14
eq "$(tick_of "$EPA")" 14 "a stepped to b's tick + 4 and waits there"
why=$(j why-stuck)
row=$("$IT_BIN" index node a <<<"$why")
eq "$("$IT_BIN" get ".[$row].waiting_for" <<<"$why")" b "why-stuck: a waits for b"
"$IT_BIN" get ".[$row].reason" <<<"$why" | grep -q "values of tick 11" ||
    fail "why-stuck does not name tick 11: $why"
ok
kill -CONT "$b_pid"
wait "$BG_PID" || fail "run: $(cat "$WORK/run.err")"
eq "$(tick_of "$EPA")" 30 "a at the run's end"
eq "$(tick_of "$EPB")" 30 "b at the run's end"
mesh=$(j hash | jget .digest)

# ---- a link of delay 1 from b: no lookahead ----------------------------------
expect_ok tmc link src.v dst.fr
froze 31
eq "$(tick_of "$EPA")" 31 "with a delay-1 link a waits for every tick of b"
kill -CONT "$b_pid"
wait "$BG_PID" || fail "run: $(cat "$WORK/run.err")"
eq "$(tick_of "$EPA")" 50 "a at the second run's end"

# ---- batches of several ticks in one message --------------------------------
stats_b() { EP=$EPB j stats | jget ".mesh.$1"; }
out0=$(stats_b batches_out)
msgs0=$(stats_b batch_messages)
expect_ok tmc run --ticks 2000
eq "$(tick_of "$EPB")" 2050 "b at the third run's end"
out=$(($(stats_b batches_out) - out0))
msgs=$(($(stats_b batch_messages) - msgs0))
[ "$out" -ge 2000 ] || fail "b sent $out batches for 2,000 ticks"
[ "$msgs" -ge 1 ] && [ $((out / msgs)) -ge 2 ] ||
    fail "b sent $out batches in $msgs messages: not batched"
ok
eq "$(stats_b batches_dropped)" 0 "no batch dropped"
mesh2050=$(j hash | jget .digest)

# ---- the same plant on one node: the same digests at ticks 30 and 2050 -----
start_node solo
expect_ok tmc spawn src --model oscillator --param x0=0.3
expect_ok tmc spawn dst --model oscillator
expect_ok tmc link src.x dst.fl --delay 4
expect_ok tmc run --ticks 30
eq "$(j hash | jget .digest)" "$mesh" "one node and two: the same digest"
expect_ok tmc link src.v dst.fr
expect_ok tmc run --ticks 2020
eq "$(j hash | jget .digest)" "$mesh2050" \
    "one node and two, batches sent in bursts: the same digest at tick 2050"
done_checks
