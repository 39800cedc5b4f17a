# restart_exact: a node stopped (SIGTERM) or killed (kill -9 after a
# checkpoint) and restarted continues exactly as an uninterrupted node:
# the same mesh stepped to the same tick has the same digest, bit for bit,
# with a mesh large enough (1,815 actors) to be stepped by worker threads,
# with links of delays 1 to 3 (their past outputs are in the checkpoint),
# and with 1 or 2 workers.
. "$(dirname "$0")/lib.sh"

# build the same coupled mesh on the node at $EP
build_mesh() {
    local i
    for i in 0 1 2 3 4; do
        expect_ok tmc spawn "o$i" --model oscillator --param "x0=0.0$((i + 1))"
    done
    for i in 0 1 2 3; do
        expect_ok tmc spawn "s$i" --model spring --param k=20
        expect_ok tmc link "o$i.x" "s$i.xa"
        expect_ok tmc link "o$((i + 1)).x" "s$i.xb"
        expect_ok tmc link "s$i.fa" "o$i.fr"
        expect_ok tmc link "s$i.fb" "o$((i + 1)).fl"
    done
    expect_ok tmc spawn p0 --model pump
    expect_ok tmc spawn pi0 --model pipe
    expect_ok tmc spawn t0 --model tank
    expect_ok tmc link p0.head pi0.head_in
    expect_ok tmc link pi0.q t0.qin
    expect_ok tmc link t0.level p0.h_suction
    # above the node's inline limit (1,024 actors): steps run on the worker
    # threads, so digests compare worker counts and restarts of a threaded
    # mesh
    expect_ok tmc spawn-many w 1500 --model oscillator --param k=30
    expect_ok tmc spawn-many v 300 --model pump --period 3
    expect_ok tmc link o4.x w7.fl
    # delayed links (delays 2 and 3): a restart must bring back the past
    # outputs they read, also of actors in the large worker-stepped group
    expect_ok tmc spawn d0 --model oscillator --param x0=0.05
    expect_ok tmc spawn d1 --model oscillator --param x0=-0.02
    expect_ok tmc spawn ds --model spring --param k=25
    expect_ok tmc link d0.x ds.xa --delay 3
    expect_ok tmc link d1.x ds.xb --delay 2
    expect_ok tmc link ds.fa d0.fr --delay 3
    expect_ok tmc link ds.fb d1.fl --delay 3
    expect_ok tmc link o2.x w11.fr --delay 3
    expect_ok tmc link w5.x d0.fl --delay 3
    expect_ok tmc link v8.flow t0.qin --delay 3
}

digest() {
    tmc --json hash | jget .digest
}

# reference: 80 ticks without interruption
start_node ref
build_mesh
expect_ok tmc run --ticks 80
ref=$(digest)
eq "$(tmc --json hash | jget .tick)" 80 "reference tick"

# SIGTERM at tick 40, restart, 40 more
start_node term
build_mesh
expect_ok tmc run --ticks 40
ep=$EP
stop_node "$NODE_PID" || fail "SIGTERM exit status $?"
restart_node term "$ep"
eq "$(tmc --json hash | jget .tick)" 40 "tick after SIGTERM restart"
expect_ok tmc run --ticks 40
eq "$(digest)" "$ref" "digest after SIGTERM restart = uninterrupted"

# kill -9 right after the checkpoint of tick 40 is durable, restart, 40 more
start_node crash --checkpoint 40
build_mesh
expect_ok tmc run --ticks 40
ep=$EP
for _ in $(seq 200); do
    s=$(tmc --json stats)
    if [ "$(jget .checkpoint.tick <<<"$s")" = 40 ] &&
        [ "$(jget .checkpoint.pending <<<"$s")" = false ]; then
        break
    fi
    sleep 0.05
done
kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
restart_node crash "$ep" --checkpoint 40
eq "$(tmc --json hash | jget .tick)" 40 "tick after kill -9 restart"
expect_ok tmc run --ticks 40
eq "$(digest)" "$ref" "digest after kill -9 restart = uninterrupted"

# another tick step on restart would not continue the run bit for bit: it
# is refused, unless asked for with --retick
stop_node "$NODE_PID" || fail "SIGTERM exit status"
rc=0
err=$("$NODE_BIN" --name crash --data "$WORK/crash" --console "$ep" \
    --clock paused --tick 0.02 2>&1 >/dev/null) || rc=$?
eq "$rc" 2 "exit status of a restart with another tick step"
grep -qF "was stepped with a tick of 0.050000000000000003 s, not the \
configured 0.02 s" <<<"$err" || fail "retick message: $err"
ok
restart_node crash "$ep" --checkpoint 40 --tick 0.02 --retick
eq "$(tmc --json nodes | jget '[0].h')" 0.02 "--retick steps on with 0.02 s"

# a different worker count gives the same digest too
start_node one --workers 1
build_mesh
expect_ok tmc run --ticks 80
eq "$(digest)" "$ref" "digest with 1 worker"
done_checks
