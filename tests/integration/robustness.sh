# robustness: the node stays responsive and correct under awkward but legal
# use.
. "$(dirname "$0")/lib.sh"

# ---- a tick step of 1e-300 s under the realtime clock: every tick is
# due at once; the node steps as fast as it can and keeps answering
start_node tiny --tick 1e-300 --clock realtime --checkpoint 0
expect_ok tmc spawn o1 --model oscillator
sleep 0.5
tick=$(tmc -t 5 --json stats | jget .tick) || fail "node down with h = 1e-300"
[ "$tick" -gt 0 ] || fail "no tick stepped with h = 1e-300"
ok
eq "$(tmc --json stats | jget .clock)" realtime "clock with h = 1e-300"
stop_node "$NODE_PID" || fail "SIGTERM exit status with h = 1e-300"
ok

# ---- a mesh that grows under the fast clock: chunks were sized for one
# actor; the next chunk must not hold the node for thousands of ticks of
# the big mesh
start_node grow --clock fast --checkpoint 0
expect_ok tmc spawn o1 --model oscillator
sleep 1
expect_ok tmc -t 120 spawn-many p 100000 --model pump
t0=$(date +%s.%N)
tmc -t 5 stats >/dev/null || fail "node not answering after the mesh grew"
ok
tmc -t 5 stats >/dev/null || fail "node not answering after the mesh grew"
ok
t1=$(date +%s.%N)
echo "two stats after growing to 100001 actors: $(awk "BEGIN {print $t1 - $t0}") s"
expect_ok tmc clock pause
stop_node "$NODE_PID" || fail "SIGTERM exit status after growing"
ok

done_checks
