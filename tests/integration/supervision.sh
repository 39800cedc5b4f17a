# supervision: the node's supervisor through the real console - a fault
# that no tier survives is held, one too many within the window
# quarantines (outputs frozen, `stats` counts it, the log says why), the
# quarantine and the tiers survive kill -9 after a checkpoint, `fidelity`
# pins, frees and releases, and [supervisor] settings are checked.
. "$(dirname "$0")/lib.sh"

cat >"$WORK/node.ini" <<'INI'
[node]
checkpoint = 5
[supervisor]
promote_after = 20
max_restarts = 3
restart_window = 100
[supervisor.oscillator]
max_restarts = 2
INI

start_node alpha --config "$WORK/node.ini"
expect_ok tmc spawn o1 --model oscillator --param x0=0.1 --param k=10
expect_ok tmc spawn o2 --model oscillator --param x0=0.1 --param k=10
expect_ok tmc link o2.x o1.fl
expect_ok tmc spawn lo --model oscillator --fidelity low
expect_ok tmc run --ticks 3

# a state no tier can step: every fault is held, the third within 100
# ticks ([supervisor.oscillator] max_restarts = 2) quarantines
expect_ok tmc set o1 x=1e308
expect_ok tmc run --ticks 5
sv=$(tmc --json inspect o1)
eq "$(jget .supervision.quarantined <<<"$sv")" true "quarantined"
eq "$(jget .supervision.degraded <<<"$sv")" true "degraded"
eq "$(jget .health.faults <<<"$sv")" 3 "three faults, then no more steps"
x_frozen=$(jget .outputs.x <<<"$sv")
eq "$x_frozen" 1e308 "outputs held"
tmc inspect o1 | grep -q "QUARANTINED: outputs held" ||
    fail "inspect text lacks the quarantine: $(tmc inspect o1)"
ok
grep -q "supervisor: o1 tick 6: quarantined: more than 2 faults at low within 100 ticks" \
    "$WORK/alpha.log" || fail "log lacks the quarantine: $(tail "$WORK/alpha.log")"
ok
grep -q "supervisor: o1 tick 4: step non-finite at high; stepped again at low" \
    "$WORK/alpha.log" || fail "log lacks the fallback: $(tail "$WORK/alpha.log")"
ok
st=$(tmc --json stats)
eq "$(jget .supervisor.quarantines <<<"$st")" 1 "stats quarantines"
eq "$(jget .supervisor.holds <<<"$st")" 3 "stats holds"
eq "$(jget .supervisor.fallbacks <<<"$st")" 1 "stats fallbacks"
# o2, which o1 reads, steps on
eq "$(tmc --json inspect o2 | jget .supervision.quarantined)" false "o2 free"

# quarantined and at its low tier after kill -9 (a checkpoint was taken)
expect_ok tmc run --ticks 10
tick=$(tmc --json inspect o1 | jget .tick)
# the checkpoint of the run's last tick is written in the background
for _ in $(seq 100); do
    [ "$(tmc --json stats | jget .checkpoint.tick)" = "$tick" ] && break
    sleep 0.1
done
eq "$(tmc --json stats | jget .checkpoint.tick)" "$tick" "checkpoint written"
kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
restart_node alpha "$EP" --config "$WORK/node.ini"
sv=$(tmc --json inspect o1)
eq "$(jget .supervision.quarantined <<<"$sv")" true "quarantine kept"
eq "$(jget .fidelity <<<"$sv")" low "tier kept"
eq "$(jget .supervision.target <<<"$sv")" high "target kept"
eq "$(jget .tick <<<"$sv")" "$tick" "restarted at the checkpoint"
sv=$(tmc --json inspect lo)
eq "$(jget .supervision.target <<<"$sv")" low "lo's target is its own tier"
eq "$(jget .supervision.degraded <<<"$sv")" false "lo is not degraded"

# the operator repairs the state and frees the tier: released, the low
# tier runs, the high tier in shadow takes over after 20 healthy steps
expect_ok tmc set o1 x=0.05
expect_ok tmc fidelity o1 auto
sv=$(tmc --json inspect o1)
eq "$(jget .supervision.quarantined <<<"$sv")" false "released"
eq "$(jget .supervision.shadow <<<"$sv")" high "high in shadow"
expect_ok tmc run --ticks 25
sv=$(tmc --json inspect o1)
eq "$(jget .fidelity <<<"$sv")" high "promoted back"
eq "$(jget .supervision.degraded <<<"$sv")" false "no longer degraded"
grep -q "supervisor: o1 tick [0-9]*: high healthy in shadow for 20 steps; promoted low -> high" \
    "$WORK/alpha.log" || fail "log lacks the promotion"
ok

# pinned: no fallback; a bad tier or actor is a clear error
expect_ok tmc fidelity o2 medium
eq "$(tmc --json inspect o2 | jget .supervision.mode)" pinned "pinned"
eq "$(tmc --json inspect o2 | jget .fidelity)" medium "pinned tier"
expect_ok tmc set o2 x=1e308
expect_ok tmc run --ticks 2
eq "$(tmc --json inspect o2 | jget .fidelity)" medium "a pinned tier holds"
expect_fail 2 "unknown tier 'fast'" tmc fidelity o2 fast
expect_fail 1 "unknown actor 'nobody'" tmc fidelity nobody auto
expect_ok tmc spawn sp --model tank
expect_fail 1 "tank@1.0.0, which has no medium tier" tmc fidelity sp medium
stop_node "$NODE_PID" || fail "node did not stop cleanly"

# across nodes: the degraded flag travels with the values. o1 on node a
# is freed from a pinned low tier: it runs low (degraded) with high in
# shadow for 20 steps; r1 on node b reads it and knows, until the
# promotion.
start_pair --config "$WORK/node.ini"
epa=$EPA
epb=$EPB
EP=$epa
expect_ok tmc spawn m1 --model oscillator --param x0=0.1 --node a
EP=$epb
expect_ok tmc spawn r1 --model oscillator --node b
expect_ok tmc link m1.x r1.fl
expect_ok tmc run --ticks 3
eq "$(tmc --json inspect r1 | jget .supervision.degraded_inputs)" "[]" \
    "no degraded input yet"
EP=$epa
expect_ok tmc fidelity m1 low
expect_ok tmc fidelity m1 auto
EP=$epb
expect_ok tmc run --ticks 5
sv=$(tmc --json inspect m1)
eq "$(jget .supervision.degraded <<<"$sv")" true "m1 degraded, seen from b"
eq "$(jget .node <<<"$sv")" a "m1 lives on a"
eq "$(tmc --json inspect r1 | jget .supervision.degraded_inputs)" '["m1"]' \
    "r1 on b knows its input from a is degraded"
tmc inspect r1 | grep -q "degraded inputs from m1" ||
    fail "inspect text lacks the degraded input: $(tmc inspect r1)"
ok
expect_ok tmc run --ticks 25
eq "$(tmc --json inspect m1 | jget .fidelity)" high "m1 promoted"
eq "$(tmc --json inspect r1 | jget .supervision.degraded_inputs)" "[]" \
    "the flag clears on b"

# settings are checked; --check prints the effective ones, a family's
# section with what it takes from [supervisor]
out=$("$NODE_BIN" --config "$WORK/node.ini" --check)
grep -A3 '^\[supervisor.oscillator\]' <<<"$out" |
    grep -q "max_restarts = 2" || fail "--check: $out"
grep -A3 '^\[supervisor.oscillator\]' <<<"$out" |
    grep -q "promote_after = 20" || fail "--check: $out"
ok
printf '[supervisor]\nmax_restarts = 16\n' >"$WORK/bad1.ini"
expect_fail 2 "max_restarts: '16' is not a number of faults (0 to 15)" \
    "$NODE_BIN" --config "$WORK/bad1.ini" --check
printf '[supervisor.p@mp]\npromote_after = 1\n' >"$WORK/bad2.ini"
expect_fail 2 "is not a model family name" \
    "$NODE_BIN" --config "$WORK/bad2.ini" --check
printf '[supervisor]\nwindow = 3\n' >"$WORK/bad3.ini"
expect_fail 2 "unknown key (known: promote_after, max_restarts, restart_window, residual_limit, residual_steps, step_budget, budget_steps, replay)" \
    "$NODE_BIN" --config "$WORK/bad3.ini" --check

done_checks
