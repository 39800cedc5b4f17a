# rollout: versioned rollout and rollback of a plugin family through the
# real console (flaky@1.0.0 -> 2.0.0, tests/plugins). A bad version (its
# state diverges) is tried in shadow on a canary and rolled back
# automatically: no actor changes version and no NaN reaches any actor or
# a coupled neighbour; a version over its error budget is rolled back; a
# good one is promoted stage by stage to every actor, and `rollback` puts
# them back on 1.0.0; a rollout interrupted by kill -9 resumes its stage
# after the restart; the audit log tells each story. With telemetry
# (meter@1.0.0 -> 2.0.0), the measurements judge a measured output: the
# new version is promoted when they side with it and rolled back when they
# side with the live one.
# Needs TM_PLUGIN_DIR (the built tests/plugins).
. "$(dirname "$0")/lib.sh"

PD=${TM_PLUGIN_DIR:?TM_PLUGIN_DIR must name the built test plugins}
j() { tmc --json "$@"; }
stage() { j rollout status flaky | jget '.[0].stage'; }
n_on() { j actors --model "flaky@$1" | "$IT_BIN" count; }
# no NaN or inf in any output of the f and o actors
all_finite() {
    local id v
    for id in $(seq -f 'f%g' 0 9) $(seq -f 'o%g' 0 9); do
        v=$(j inspect "$id" | jget .outputs)
        case $v in *nan* | *inf* | *NaN* | *null*) fail "$1: $id outputs $v" ;; esac
    done
    ok
}

start_node r --checkpoint 5
expect_ok tmc models load "$PD/flaky1.so"
expect_ok tmc models load "$PD/flaky2.so"
# ten flaky actors following u = 1, each read by an oscillator
expect_ok tmc spawn-many f 10 --model flaky@1.0.0 --param diverge_from=8
for i in $(seq 0 9); do
    tmc set "f$i" u=1 >/dev/null || fail "set f$i"
    tmc spawn "o$i" --model oscillator >/dev/null || fail "spawn o$i"
    tmc link "f$i.y" "o$i.fl" >/dev/null || fail "link f$i"
done
ok
expect_fail 2 "--canary takes a percentage" tmc rollout flaky@2.0.0 --canary 0
expect_fail 2 "--budget takes RMSE=R,MAPE=M" tmc rollout flaky@2.0.0 --budget x
expect_fail 1 "no model flaky@9.0.0 in the catalog" tmc rollout flaky@9.0.0
expect_fail 1 "no rollout of flaky on this node" tmc rollback flaky

# ---- a bad version: its trial fails in shadow, rolled back ------------------
expect_ok tmc rollout flaky@2.0.0 --canary 20 --shadow 40
# the canary: the actors whose ids hash into 20 of 100 buckets, at least one
nc=$(j rollout status | jget '.[0].canary')
[ "$nc" -ge 1 ] && [ "$nc" -le 5 ] || fail "canary of $nc actors"
ok
expect_fail 1 "a rollout of flaky to 2.0.0 is in its shadow stage" \
    tmc rollout flaky@2.0.0
expect_ok tmc run --ticks 30
eq "$(stage)" rolled-back "the failed trial rolled the rollout back"
j rollout status | jget '.[0].decision' | grep -q "failed at tick" ||
    fail "decision: $(j rollout status)"
ok
eq "$(n_on 1.0.0)" 10 "every actor still on 1.0.0"
all_finite "after the bad rollout"
eq "$(j audit | "$IT_BIN" count kind=rollout)" 2 "audit: start and rollback"

# ---- over budget: RMSE after 3 ticks of divergence -------------------------
now=$(j inspect f0 | jget .tick)
for i in $(seq 0 9); do
    tmc set "f$i" diverge_from=$((now + 6)) >/dev/null
done
expect_ok tmc rollout flaky@2.0.0 --canary 10 --shadow 8 --budget RMSE=0.5
expect_ok tmc run --ticks 10
eq "$(stage)" rolled-back "over budget: rolled back"
j rollout status | jget '.[0].decision' | grep -q "over budget: RMSE" ||
    fail "decision: $(j rollout status)"
ok
eq "$(n_on 1.0.0)" 10 "still on 1.0.0"

# ---- a good version: canary, then everyone; rollback puts them back -------
for i in $(seq 0 9); do tmc set "f$i" diverge_from=100000 >/dev/null; done
expect_ok tmc rollout flaky@2.0.0 --canary 30 --shadow 5 --budget RMSE=0.5,MAPE=1
expect_ok tmc run --ticks 6
eq "$(stage)" canary "within budget: the canary switched"
nc=$(j rollout status | jget '.[0].canary')
eq "$(n_on 2.0.0)" "$nc" "the canary actors on 2.0.0"
expect_ok tmc run --ticks 5
eq "$(stage)" done "promoted"
eq "$(n_on 2.0.0)" 10 "every actor on 2.0.0"
all_finite "after the promotion"
# an actor killed and spawned again is a new actor: nothing to put back
expect_ok tmc kill f9
expect_ok tmc spawn f9 --model flaky@2.0.0
expect_ok tmc link f9.y o9.fl
expect_ok tmc rollback flaky
eq "$(n_on 1.0.0)" 9 "rollback: every switched actor back on 1.0.0"
eq "$(j inspect f9 | jget .version)" 2.0.0 "the new f9 stays"
eq "$(stage)" rolled-back "rollback recorded"
au=$(tmc audit)
grep -q "rollout .*flaky@1.0.0/high -> flaky@2.0.0/high  canary of the rollout" <<<"$au" ||
    fail "audit lacks a canary switch: $au"
ok
eq "$(j audit | "$IT_BIN" count kind=rollback)" 9 "audit: nine actors put back"
expect_ok tmc rollback flaky --to 2.0.0
eq "$(n_on 2.0.0)" 10 "rollback --to a version moves every actor there"
expect_ok tmc rollback flaky --to 1.0.0

# ---- interrupted by kill -9: the stage starts again -------------------------
expect_ok tmc rollout flaky@2.0.0 --canary 20 --shadow 1000
expect_ok tmc run --ticks 12 # two checkpoints
kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
restart_node r "$EP" --checkpoint 5
eq "$(stage)" shadow "the rollout survived kill -9 in its shadow stage"
grep -q "rollout: flaky 1.0.0 -> 2.0.0: shadow stage started again" \
    "$WORK/r.log" || fail "no resume line in the log"
ok
eq "$(n_on 1.0.0)" 10 "nothing switched"
expect_ok tmc rollback flaky
eq "$(stage)" rolled-back "then rolled back"
eq "$(n_on 1.0.0)" 10 "every actor on 1.0.0"
stop_node "$NODE_PID" || fail "node r did not stop cleanly"

# ---- across two nodes, and the same on one node -------------------------------
# build EP_A EP_B: ten flaky actors, g0..g4 on the first node, h0..h4 on
# the second, each coupled to the next
build() {
    local i
    EP=$1
    expect_ok tmc spawn-many g 5 --model flaky@1.0.0 --node "$(here)"
    EP=$2
    expect_ok tmc spawn-many h 5 --model flaky@1.0.0 --node "$(here)"
    for i in $(seq 0 4); do
        tmc link "g$i.y" "h$i.u" >/dev/null || fail "link g$i"
    done
    ok
    EP=$1
    for i in $(seq 0 4); do
        tmc set "g$i" u=1 >/dev/null || fail "set g$i"
    done
    ok
}
start_pair
epa=$EPA
epb=$EPB
EP=$epa
expect_ok tmc models load "$PD/flaky1.so"
expect_ok tmc models load "$PD/flaky2.so"
for _ in $(seq 100); do # the plugins reach b
    EP=$epb
    [ "$(tmc models flaky | grep -c 'flaky[12].so')" -ge 4 ] && break
    sleep 0.1
done
build "$epa" "$epb"
EP=$epa
expect_ok tmc run --ticks 3
out=$(tmc rollout flaky@2.0.0 --canary 40 --shadow 5 --budget RMSE=1 2>&1) ||
    fail "mesh rollout: $out"
grep -q "from tick 11, and on every other node" <<<"$out" ||
    fail "mesh rollout reply: $out"
ok
expect_ok tmc run --ticks 25
for ep in "$epa" "$epb"; do
    EP=$ep
    eq "$(stage)" done "the rollout is done on every node"
done
# rollout status on any node: every node's part, each naming its node
for ep in "$epa" "$epb"; do
    EP=$ep
    j rollout status flaky >"$WORK/ro.json"
    eq "$("$IT_BIN" count <"$WORK/ro.json")" 2 "rollout status: two parts"
    for n in a b; do
        eq "$("$IT_BIN" count node=$n <"$WORK/ro.json")" 1 "node $n's part"
    done
    eq "$("$IT_BIN" count stage=done <"$WORK/ro.json")" 2 "both done"
done
out=$(tmc rollout status)
grep -q "^b  *flaky  *1.0.0 -> 2.0.0  *done" <<<"$out" || fail "text: $out"
grep -q "^(2 of 2 rows from 2 nodes)$" <<<"$out" || fail "text: $out"
ok
# audit on any node: every node's records, merged by wall time; --node
# NODE: that node's log alone, from any node. 12,000 more records on a
# (sets that change nothing): a's part is over 1 MiB, as is the reply
EP=$epa
for _ in $(seq 12000); do echo "set g0 u=1"; done | tmc >/dev/null ||
    fail "12,000 sets"
j audit --limit 100000 >"$WORK/au.json"
j audit --node a --limit 100000 >"$WORK/au-a.json"
j audit --node b --limit 100000 >"$WORK/au-b.json"
EP=$epb
j audit --node b --limit 100000 >"$WORK/au-bb.json"
na=$("$IT_BIN" count <"$WORK/au-a.json")
nb=$("$IT_BIN" count <"$WORK/au-b.json")
[ "$na" -ge 12003 ] && [ "$nb" -ge 3 ] || fail "audit: $na records of a, $nb of b"
ok
eq "$("$IT_BIN" count node=b <"$WORK/au-b.json")" "$nb" "--node b: b's only"
eq "$("$IT_BIN" count <"$WORK/au-bb.json")" "$nb" "b's log from a and from b"
eq "$("$IT_BIN" count <"$WORK/au.json")" $((na + nb)) "the mesh's: a's and b's"
eq "$("$IT_BIN" count node=b <"$WORK/au.json")" "$nb" "b's in the mesh's"
"$IT_BIN" sorted wall_ns <"$WORK/au.json" || fail "audit not in time order"
ok
# --limit 3: the mesh's newest three, oldest first
j audit --limit 3 >"$WORK/au3.json"
eq "$("$IT_BIN" count <"$WORK/au3.json")" 3 "audit --limit 3"
eq "$(jget '.[2].wall_ns' <"$WORK/au3.json")" \
    "$(jget ".[$((na + nb - 1))].wall_ns" <"$WORK/au.json")" "the newest last"
tmc audit --limit 3 | grep -q "^TIME  *NODE  *TICK" || fail "text: no NODE"
# the text form of the whole (a reply in parts): every set, on node a
[ "$(tmc audit --limit 100000 | grep -c "^[^ ]*  *a  *[0-9]*  set ")" -ge 12000 ] ||
    fail "text of the mesh's audit: $(tmc audit --limit 100000 | tail -3)"
ok
expect_fail 1 "no node 'zz' in the mesh" tmc audit --node zz
EP=$epa
eq "$(j actors --model flaky@2.0.0 | "$IT_BIN" count)" 10 \
    "every actor of the mesh on 2.0.0"
hash2=$(j hash | jget .digest)
tick2=$(j inspect g0 | jget .tick)
expect_ok tmc rollback flaky
EP=$epb
for _ in $(seq 50); do # the rollback reaches b
    [ "$(stage)" = rolled-back ] && break
    sleep 0.1
done
eq "$(stage)" rolled-back "the rollback reached node b"
eq "$(j actors --model flaky@1.0.0 | "$IT_BIN" count)" 10 \
    "every actor of the mesh back on 1.0.0"
# one node, the same actors and the same rollout at the same tick
start_node c
expect_ok tmc models load "$PD/flaky1.so"
expect_ok tmc models load "$PD/flaky2.so"
build "$EP" "$EP"
expect_ok tmc run --ticks 3
expect_ok tmc rollout flaky@2.0.0 --canary 40 --shadow 5 --budget RMSE=1 --at 11
expect_ok tmc run --ticks $((tick2 - 3))
eq "$(stage)" done "the rollout is done on one node"
eq "$(j hash | jget .digest)" "$hash2" "one node and two: the same digest"

# ---- scored against measurements: meter@2.0.0 predicts y 0.5 above 1.0.0;
# measurements decide, not the distance between the versions --------------
TEL=tcp://127.0.0.1:$(free_port)
start_node mt --tick 1 --checkpoint 0 --telemetry "$TEL"
expect_ok tmc models load "$PD/meter1.so"
expect_ok tmc models load "$PD/meter2.so"
expect_ok tmc spawn-many m 4 --model meter@1.0.0
for i in 0 1 2 3; do tmc set "m$i" u=1 >/dev/null || fail "set m$i"; done
expect_ok tmc run --ticks 20 # y settles at 1.0 (2.0.0 would say 1.5)
mstage() { j rollout status meter | jget '.[0].stage'; }
T0=1600000000000000000
S=1000000000
K=$(j inspect m0 | jget .tick) # row r of every meter is tick K + r
# meas VALUE COUNT: a measured y of VALUE for each meter and each of the
# next COUNT ticks (row 0 anchors each meter's time axis at tick K)
meas() {
    local now from n
    now=$(j inspect m0 | jget .tick)
    from=$((now - K + 1))
    [ "$now" = "$K" ] && from=0
    n=$(tmc --json stats | jget .telemetry.received)
    awk -v v="$1" -v from="$from" -v c="$2" -v t0="$T0" -v s="$S" 'BEGIN {
        for (r = from; r < from + c; r++) {
            for (i = 0; i < 4; i++) {
                printf "m%d y %s %s 1\n", i, sprintf("%.0f", t0 + r * s), v
            }
            print "--"
        }
    }' | "$IT_BIN" telem-send "$TEL"
    for _ in $(seq 100); do
        [ "$(tmc --json stats | jget .telemetry.received)" -ge \
            $((n + 4 * $2)) ] && return 0
        sleep 0.1
    done
    fail "the node did not receive the measurements"
}
# no telemetry: judged against the live version, 0.5 away: rolled back
expect_ok tmc rollout meter@2.0.0 --canary 50 --shadow 10 --budget RMSE=0.2
expect_ok tmc run --ticks 12
eq "$(mstage)" rolled-back "no measurements: 0.5 from the live version"
j rollout status meter | jget '.[0].decision' | grep -q "over budget: RMSE" ||
    fail "decision: $(j rollout status meter)"
ok
# measurements at 1.0 side with 1.0.0: the new version's error exceeds
# the live one's by 0.5, over the budget: rolled back
meas 1.0 40
expect_ok tmc rollout meter@2.0.0 --canary 50 --shadow 30 --budget RMSE=0.2
expect_ok tmc run --ticks 32
eq "$(mstage)" rolled-back "measurements side with the live version"
j rollout status meter | jget '.[0].decision' |
    grep -q "over budget against [0-9]* measurements" ||
    fail "decision: $(j rollout status meter)"
ok
awk -v r="$(j rollout status meter | jget '.[0].rmse')" \
    'BEGIN { exit !(r == 0) }' ||
    fail "a measured output judged against the live version: $(j rollout status meter)"
ok
eq "$(j actors --model meter@1.0.0 | "$IT_BIN" count)" 4 "still on 1.0.0"
# measurements at 1.5 side with 2.0.0: promoted, though 0.5 from 1.0.0
meas 1.5 40
expect_ok tmc rollout meter@2.0.0 --canary 50 --shadow 30 --budget RMSE=0.2
expect_ok tmc run --ticks 32
eq "$(mstage)" canary "measurements side with the new version: the canary"
m=$(j rollout status meter | jget '.[0].measured')
[ "$m" -ge 30 ] || fail "only $m samples scored"
awk -v e="$(j rollout status meter | jget '.[0].meas_rmse')" \
    'BEGIN { exit !(e < -0.3) }' ||
    fail "meas_rmse: $(j rollout status meter)"
ok
expect_ok tmc run --ticks 32
eq "$(mstage)" done "promoted"
eq "$(j actors --model meter@2.0.0 | "$IT_BIN" count)" 4 "every meter on 2.0.0"
tmc audit | grep -q "over budget against [0-9]* measurements" ||
    fail "the audit log does not tell the measured rollback: $(tmc audit)"
ok
done_checks
