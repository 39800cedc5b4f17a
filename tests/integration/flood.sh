# flood: consoles that send thousands of requests and never read do not
# stop the node's clock: the console server handles a bounded amount of
# work per turn of the loop (64 requests or about 5 ms), stepping has the
# top priority among idle work, so a realtime node stays on schedule, still
# answers another console, and stops promptly on SIGTERM.
. "$(dirname "$0")/lib.sh"

jf() { # jf PATH: a number of the JSON document on stdin, as an integer
    "$IT_BIN" get "$1" | cut -d. -f1
}

start_node flood --checkpoint 0
expect_ok tmc -t 60 spawn-many o 20000 --model oscillator
expect_ok tmc clock realtime
# 10 consoles x 1,000 `actors` (20,000 rows each), held for 8 s
"$IT_BIN" flood "$EP" 10 1000 8 actors >"$WORK/flood.out" &
flood_pid=$!
sleep 1.5
t_a=$(tmc -t 10 --json stats | jf .tick) ||
    fail "stats not answered under the flood"
sleep 2
stats=$(tmc -t 10 --json stats) || fail "stats not answered under the flood"
t_b=$(jf .tick <<<"$stats")
lag_ms=$("$IT_BIN" get .lag_s <<<"$stats" | awk '{printf "%d", $1 * 1000}')
requests=$("$IT_BIN" get .console.requests <<<"$stats")
echo "under the flood: ticks $t_a -> $t_b in about 2 s (h = 0.05 s)," \
    "lag ${lag_ms} ms, $requests requests read"
# 2 s of realtime at h = 0.05 s is 40 ticks; a frozen clock steps none
[ $((t_b - t_a)) -ge 20 ] || fail "the clock stood still: $t_a -> $t_b"
ok
# (a frozen clock is seconds behind by now; sanitizer builds on a loaded
# machine are allowed more)
max_lag=400
[ "$SANITIZED" = 1 ] && max_lag=1000
[ "$lag_ms" -lt "$max_lag" ] || fail "the clock fell behind: lag $lag_ms ms"
ok
[ "$requests" -gt 20 ] || fail "the backlog is not being served"
ok
wait "$flood_pid"
eq "$(cat "$WORK/flood.out")" 10000 "requests sent by the flood"
# SIGTERM with whatever is still queued: the node stops within seconds
"$IT_BIN" flood "$EP" 10 1000 3 actors >/dev/null &
flood_pid=$!
sleep 1
t0=$(date +%s%N)
stop_node "$NODE_PID" || fail "SIGTERM exit status under a flood"
t1=$(date +%s%N)
wait "$flood_pid"
ms=$(((t1 - t0) / 1000000))
echo "SIGTERM under a flood: stopped in $ms ms"
[ "$ms" -lt 5000 ] || fail "SIGTERM took $ms ms under a flood"
ok

# a node that is there but busy (a long spawn-many holds its loop) is not
# called "down", and a change sent meanwhile may still be applied
restart_node flood "$EP" --checkpoint 0
tmc -t 300 spawn-many big 800000 --model oscillator >"$WORK/big.out" 2>&1 &
big_pid=$!
sleep 0.3
expect_fail 3 "is up but did not answer within 1 s (it is busy); try again" \
    tmc -t 1 nodes
expect_fail 3 "is up but did not answer within 1 s (it is busy); the \
change may still be applied" tmc -t 1 spawn late --model pump
wait "$big_pid" || fail "spawn-many: $(cat "$WORK/big.out")"
ok
# no final checkpoint of 820,000 actors needed here
kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
done_checks
