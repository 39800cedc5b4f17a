# fallback: a plugin model whose high tier fails in a window of ticks
# (flaky@1.0.0, tests/plugins) falls back to its low tier within the tick
# that failed - its output of that tick is a new value, never NaN and
# never held - while a reader on another node sees the degraded flag; the
# high tier comes back after its healthy shadow steps; a pinned high tier
# that keeps failing is quarantined; the audit log tells the story. The
# same run on one node and spread over two gives the same mesh digest.
# A step over its time budget falls back at the tick the node saw it, and
# a node given that audit log (--replay) applies the same fallbacks at the
# same ticks: the same digest on any machine. Needs TM_PLUGIN_DIR (the
# built tests/plugins).
. "$(dirname "$0")/lib.sh"

PD=${TM_PLUGIN_DIR:?TM_PLUGIN_DIR must name the built test plugins}
j() { tmc --json "$@"; }

cat >"$WORK/node.ini" <<'INI'
[node]
checkpoint = 4
[supervisor.flaky]
promote_after = 10
max_restarts = 3
restart_window = 50
INI

# build NODE_A_EP NODE_B_EP: the scenario, f1 and f2 on the first node,
# r1 (reading f1 through a link) on the second (the same node twice: one
# node)
build() {
    EP=$1
    expect_ok tmc spawn f1 --model flaky --param fail_from=5 \
        --param fail_until=9 --param gain=2 --node "$(here)"
    expect_ok tmc set f1 u=1
    expect_ok tmc spawn f2 --model flaky --param fail_from=3 \
        --param fail_until=40 --param fail_nan=1 --node "$(here)"
    expect_ok tmc fidelity f2 high
    EP=$2
    expect_ok tmc spawn r1 --model flaky --param rate=2 --node "$(here)"
    expect_ok tmc link f1.y r1.u
}

# ---- two nodes --------------------------------------------------------------
start_pair --config "$WORK/node.ini"
epa=$EPA
epb=$EPB
EP=$epa
expect_ok tmc models load "$PD/flaky1.so"
for _ in $(seq 100); do # the plugin reaches b
    EP=$epb
    tmc models flaky | grep -q "flaky1.so" && break
    sleep 0.1
done
build "$epa" "$epb"

EP=$epa
expect_ok tmc run --ticks 4
y4=$(j inspect f1 | jget .outputs.y)
expect_ok tmc run --ticks 1 # tick 5: the high tier fails
sv=$(j inspect f1)
eq "$(jget .fidelity <<<"$sv")" low "f1 fell back at tick 5"
eq "$(jget .health.faults <<<"$sv")" 1 "one fault"
eq "$(jget .supervision.degraded <<<"$sv")" true "f1 degraded"
y5=$(jget .outputs.y <<<"$sv")
[ "$y5" != "$y4" ] || fail "f1's output of tick 5 was held ($y4), not stepped"
ok
case $y5 in *nan* | *inf*) fail "f1's output is $y5" ;; esac
ok
# r1 reads at tick k the values of k - 1: at tick 6 those of tick 5
EP=$epb
eq "$(j inspect r1 | jget .supervision.degraded_inputs)" "[]" \
    "r1 stepped tick 5 on f1's healthy value of tick 4"
expect_ok tmc run --ticks 1
eq "$(j inspect r1 | jget .supervision.degraded_inputs)" '["f1"]' \
    "r1 on node b sees f1 degraded"
expect_ok tmc run --ticks 13 # ticks 7..19: shadow fails to 8, then 10 good
EP=$epa
sv=$(j inspect f1)
eq "$(jget .fidelity <<<"$sv")" high "f1 promoted back"
eq "$(jget .supervision.degraded <<<"$sv")" false "f1 healthy"
eq "$(jget .health.faults <<<"$sv")" 1 "only the fault of tick 5 counted"
EP=$epb
eq "$(j inspect r1 | jget .supervision.degraded_inputs)" "[]" \
    "the flag cleared on node b"
# f2, pinned at high, failing from tick 3: held at 3, 4, 5, quarantined at 6
EP=$epa
sv=$(j inspect f2)
eq "$(jget .supervision.quarantined <<<"$sv")" true "f2 quarantined"
eq "$(jget .fidelity <<<"$sv")" high "f2 stayed at its pinned tier"
eq "$(jget .health.faults <<<"$sv")" 4 "f2: four faults, then no steps"
expect_ok tmc run --ticks 4 # a checkpoint carries the decisions
au=$(j audit --actor f1)
eq "$("$IT_BIN" count kind=fallback <<<"$au")" 1 "audit: one fallback of f1"
eq "$("$IT_BIN" count kind=promote <<<"$au")" 1 "audit: one promotion of f1"
au=$(tmc audit --actor f1)
grep -q " 5  fallback   f1 .*flaky@1.0.0/high -> flaky@1.0.0/low  step failed at high; stepped again at low  (node)" <<<"$au" ||
    fail "audit text: $au"
ok
au=$(j audit --actor f2)
eq "$("$IT_BIN" count kind=quarantine <<<"$au")" 1 "audit: f2 quarantined"
eq "$("$IT_BIN" count kind=fidelity <<<"$au")" 1 "audit: f2 pinned"
hash2=$(j hash | jget .digest)
tick2=$(j inspect f1 | jget .tick)

# ---- the same run on one node ------------------------------------------------
start_node c --config "$WORK/node.ini"
expect_ok tmc models load "$PD/flaky1.so"
build "$EP" "$EP"
expect_ok tmc run --ticks "$tick2"
eq "$(j hash | jget .digest)" "$hash2" "one node and two nodes: same digest"

# ---- a step over its time budget ---------------------------------------------
# s1's high tier does 2e6 iterations of extra arithmetic per step
# (milliseconds in any build) against a budget of 50 us per actor step:
# over it at two checks in a row, it falls back at the tick the node saw
# it, recorded with that tick; its shadow brings the high tier back after
# five healthy steps, and the budget sends it down again.
cat >"$WORK/slow.ini" <<'INI'
[node]
checkpoint = 4
[supervisor.flaky]
promote_after = 5
step_budget = 50
budget_steps = 2
INI
start_node d --config "$WORK/slow.ini"
expect_ok tmc models load "$PD/flaky1.so"
expect_ok tmc spawn s1 --model flaky --param work=2000000
expect_ok tmc spawn s2 --model flaky
expect_ok tmc set s1 u=1
expect_ok tmc run --ticks 1
eq "$(j inspect s1 | jget .fidelity)" high "one check over the budget: still high"
expect_ok tmc run --ticks 1
sv=$(j inspect s1)
eq "$(jget .fidelity <<<"$sv")" low "two checks over the budget: s1 fell back"
eq "$(jget .supervision.degraded <<<"$sv")" true "s1 degraded"
eq "$(j inspect s2 | jget .fidelity)" low "s2 (the same model) with it"
eq "$(j stats | jget .supervisor.slow_fallbacks)" 2 "stats slow_fallbacks"
expect_ok tmc run --ticks 3 # a checkpoint carries the records
au=$(tmc audit --actor s1)
grep -q " 2  fallback   s1 .*flaky@1.0.0/high -> flaky@1.0.0/low  step slow: .* us per actor at high, over the budget of 50 us in 2 checks in a row; stepped on at low  (node)" <<<"$au" ||
    fail "audit text: $au"
ok
for _ in 1 2 3 4 5 6 7; do expect_ok tmc run --ticks 1; done
au=$(j audit --actor s1)
eq "$("$IT_BIN" count kind=promote <<<"$au")" 1 "the high tier came back"
eq "$("$IT_BIN" count kind=fallback <<<"$au")" 2 "and fell back again"
hash12=$(j hash | jget .digest)
eq "$(j inspect s1 | jget .tick)" 12 "node d at tick 12"
expect_ok tmc run --ticks 4 # the checkpoint of tick 16 writes the records
j audit >"$WORK/d-audit.json"
nfall=$("$IT_BIN" count kind=fallback <"$WORK/d-audit.json")
[ "$nfall" -ge 4 ] || fail "node d recorded $nfall fallbacks, expected 4 or more"
ok

# ---- replaying the recorded step-time fallbacks -------------------------------
# A node with no budget, given node d's audit log, applies d's step-time
# fallbacks at their ticks: the same run in one `run` gives d's digest,
# whatever this machine's step times; without the log it does not.
cat >"$WORK/nobudget.ini" <<'INI'
[node]
checkpoint = 4
[supervisor.flaky]
promote_after = 5
INI
same_plant() {
    expect_ok tmc models load "$PD/flaky1.so"
    expect_ok tmc spawn s1 --model flaky --param work=2000000
    expect_ok tmc spawn s2 --model flaky
    expect_ok tmc set s1 u=1
    expect_ok tmc run --ticks 12
}
start_node e --config "$WORK/nobudget.ini" --replay "$WORK/d-audit.json"
same_plant
eq "$(j hash | jget .digest)" "$hash12" "replayed on node e: node d's digest"
st=$(j stats)
eq "$(jget .supervisor.replay_mismatches <<<"$st")" 0 "every record applied"
eq "$(jget .supervisor.replayed <<<"$st")" 4 "s1 and s2 fell at ticks 2 and 10"
eq "$(jget .supervisor.replay_pending <<<"$st")" $((nfall - 4)) \
    "the records after tick 12 wait"
expect_ok tmc run --ticks 4
au=$(tmc audit --actor s1)
grep -q " 10  fallback   s1 .*flaky@1.0.0/high -> flaky@1.0.0/low  step slow: replayed from record [0-9]* of $WORK/d-audit.json  (node)" <<<"$au" ||
    fail "audit text of the replay: $au"
ok
start_node f --config "$WORK/nobudget.ini"
same_plant
[ "$(j hash | jget .digest)" != "$hash12" ] ||
    fail "without the replay node f gave node d's digest: the check is blind"
ok
# the log of a run that differs: the records that do not fit are named
start_node g --config "$WORK/nobudget.ini" --replay "$WORK/d-audit.json"
expect_ok tmc models load "$PD/flaky1.so"
expect_ok tmc spawn s1 --model flaky --param work=2000000
expect_ok tmc run --ticks 12
st=$(j stats)
eq "$(jget .supervisor.replay_mismatches <<<"$st")" 2 "s2's two records do not fit"
eq "$(jget .supervisor.replayed <<<"$st")" 2 "s1's do"
# a replay file that is not an audit log: the node does not start
echo '{"kind": "fallback"}' >"$WORK/bad.json"
err=$("$NODE_BIN" --data "$WORK/h" --console "tcp://127.0.0.1:$(free_port)" \
    --replay "$WORK/bad.json" 2>&1 >/dev/null) && fail "started on a bad replay file"
grep -qF -- "--replay: $WORK/bad.json: not a list of audit records" <<<"$err" ||
    fail "bad replay file: $err"
ok
err=$("$NODE_BIN" --data "$WORK/h" --console "tcp://127.0.0.1:$(free_port)" \
    --replay "$WORK/missing.json" 2>&1 >/dev/null) && fail "started without its replay file"
grep -qF -- "--replay: $WORK/missing.json: No such file or directory" <<<"$err" ||
    fail "missing replay file: $err"
ok
done_checks
