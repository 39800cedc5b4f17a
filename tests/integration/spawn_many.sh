# spawn_many: 100,000 actors in one request and one batch commit, listed
# back in parts, and a kill -9 recovery of all of them. The rate is
# printed; the 100,000 actors/s target is checked by the node benchmark
# (tools/bench-node.sh), not by this test on a shared machine.
. "$(dirname "$0")/lib.sh"

start_node bulk --checkpoint 0
ep=$EP
n=100000

t0=$(date +%s.%N)
out=$(tmc --json spawn-many sm "$n" --model oscillator --param k=25)
t1=$(date +%s.%N)
rate=$(awk "BEGIN {printf \"%d\", $n / ($t1 - $t0)}")
node_rate=$(jget .rate <<<"$out" | awk '{printf "%d", $1}')
echo "spawn-many: $n actors in $(awk "BEGIN {print $t1 - $t0}") s" \
    "end to end: $rate actors/s (node: $node_rate actors/s," \
    "commit $(jget .commit_s <<<"$out") s)"
eq "$(jget .count <<<"$out")" "$n" "spawn-many count"
eq "$(jget .last <<<"$out")" "sm$((n - 1))" "spawn-many last id"
eq "$(tmc --json nodes | jget '[0].actors')" "$n" "actors on the node"
# the list comes back in parts and is put together by the console
eq "$(tmc actors | tail -n 1)" "$n of $n actors" "actors lists all"
eq "$(tmc --json actors | "$IT_BIN" get "[$((n - 1))].id")" sm99999 \
    "actors --json is one array of all parts"

# acknowledged = durable: kill -9 with no checkpoint at all, every actor
# comes back with its parameters and spawn state
expect_ok tmc run --ticks 3
kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
t0=$(date +%s.%N)
restart_node bulk "$ep" --checkpoint 0
t1=$(date +%s.%N)
echo "recovery: $n actors back, node answering" \
    "$(awk "BEGIN {print $t1 - $t0}") s after restart"
grep "restored" "$WORK/bulk.log" | tail -n 1
eq "$(tmc --json nodes | jget '[0].actors')" "$n" "actors after kill -9"
eq "$(tmc --json nodes | jget '[0].tick')" 0 "no checkpoint: tick 0"
eq "$(tmc --json inspect sm77777 | jget .params.k)" 25.0 "params back"
eq "$(tmc --json inspect sm77777 | jget .state.x)" 0.10000000000000001 \
    "spawn state back (x0 = 0.1, all 17 digits)"

# a clean stop checkpoints all of them
stop_node "$NODE_PID" || fail "SIGTERM exit status"
ok
grep "final checkpoint" "$WORK/bulk.log" | tail -n 1
done_checks
