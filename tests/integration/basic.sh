# basic: spawn, inspect, link, run, hash and the other everyday commands,
# through the twinmesh console against a real node.
. "$(dirname "$0")/lib.sh"

start_node alpha --checkpoint 50

# the node's ZeroMQ I/O thread runs under SCHED_BATCH (a send wakes it
# without preempting the loop: docs/performance.md, "Telemetry"), where a
# process may take that policy (elsewhere the node keeps its own)
if chrt -b 0 true 2>/dev/null; then
    eq "$(ps -L -o cls=,comm= -p "$NODE_PID" | awk '$2 == "ZMQbg/IO/0" &&
        $1 == "B"' | wc -l)" 1 "one ZeroMQ I/O thread of the node in SCHED_BATCH"
else
    echo "basic: SCHED_BATCH is refused here: the I/O thread's class is not checked"
fi

expect_ok tmc spawn o1 --model oscillator --param x0=0.5
expect_ok tmc spawn o2 --model oscillator@1.0.0 --fidelity medium
expect_ok tmc spawn s1 --model spring --param k=20
expect_ok tmc spawn t1 --model tank --param area=3 --param h0=1.5
expect_ok tmc link o1.x s1.xa
expect_ok tmc link o2.x s1.xb
expect_ok tmc link s1.fa o1.fr
expect_ok tmc link s1.fb o2.fl

out=$(tmc spawn p1 --model pump --param head_rated=25)
grep -q "spawned p1 (pump@1.0.0, high)" <<<"$out" || fail "spawn: $out"
ok

# actors: sorted table, every actor listed
out=$(tmc actors)
eq "$(sed -n 1p <<<"$out" | awk '{print $1, $2, $3, $4, $5}')" \
    "ID MODEL VERSION FIDELITY NODE" "actors header"
eq "$(sed -n '2,6p' <<<"$out" | awk '{print $1}' | tr '\n' ' ')" \
    "o1 o2 p1 s1 t1 " "actors sorted by id"
grep -q "^o2 *oscillator *1.0.0 *medium *alpha" <<<"$out" ||
    fail "actors row: $out"
ok
eq "$(tmc actors --model spring | sed -n 2p | awk '{print $1}')" s1 \
    "actors --model"
eq "$(tmc actors --limit 2 | tail -n 1)" "2 of 5 actors" "actors --limit"
eq "$(tmc actors --node elsewhere | tail -n 1)" "0 of 0 actors" \
    "actors --node"
eq "$(tmc ls --limit 1 | sed -n 2p | awk '{print $1}')" o1 "alias ls"

# inspect: model, version, tier, node, states, inputs, outputs, units
out=$(tmc inspect p1)
grep -q "^p1  pump@1.0.0 (high)  node alpha  shard [0-9]*  period 1  params@0$" <<<"$out" ||
    fail "inspect header: $out"
for want in "^state" "^inputs" "^outputs" "^params" "^health" \
    "head_rated *25 m" "speed_cmd .* (held 1)" "omega .*rad/s" \
    "supervision target high (auto), ok"; do
    grep -q "$want" <<<"$out" || fail "inspect lacks '$want': $out"
    ok
done
out=$(tmc inspect s1)
grep -q "xa .* <- o1.x" <<<"$out" || fail "inspect link in: $out"
grep -q "fa .* -> o1.fr" <<<"$out" || fail "inspect link out: $out"
ok
# a delayed link: said when linking and by inspect at both ends
out=$(tmc link s1.fb o2.fr --delay 5)
eq "$out" "linked s1.fb -> o2.fr (delay 5 ticks)" "link --delay"
grep -q "fb .* -> o2.fr (delay 5)" <<<"$(tmc inspect s1)" ||
    fail "inspect delayed link out: $(tmc inspect s1)"
grep -q "fr .* <- s1.fb (delay 5)" <<<"$(tmc inspect o2)" ||
    fail "inspect delayed link in: $(tmc inspect o2)"
ok
expect_ok tmc unlink s1.fb o2.fr
eq "$(tmc show o1 | head -n 1 | awk '{print $1}')" o1 "alias show"

# run: exactly N ticks, then paused
t0=$(tmc --json nodes | jget '[0].tick')
out=$(tmc run --ticks 120)
grep -q "^ran 120 ticks" <<<"$out" || fail "run: $out"
ok
eq "$(tmc --json nodes | jget '[0].tick')" "$((t0 + 120))" "tick after run"
eq "$(tmc --json nodes | jget '[0].clock')" paused "clock after run"
expect_ok tmc run 5
eq "$(tmc --json nodes | jget '[0].tick')" "$((t0 + 125))" "run N"

# hash: 64 hex digits, stable while paused, changes when stepping
h1=$(tmc --json hash | jget .digest)
[[ $h1 =~ ^[0-9a-f]{64}$ ]] || fail "digest format: $h1"
ok
eq "$(tmc --json hash | jget .digest)" "$h1" "digest stable while paused"
expect_ok tmc run --ticks 1
[ "$(tmc --json hash | jget .digest)" != "$h1" ] || fail "digest unchanged"
ok
out=$(tmc hash)
grep -q "^digest [0-9a-f]\{64\}$" <<<"$out" || fail "hash text: $out"
ok

# set: parameters, states and held inputs; checked and reported
out=$(tmc set t1 qin=0.01 area=4)
grep -q "qin = 0.01 (input" <<<"$out" || fail "set: $out"
ok
eq "$(tmc --json inspect t1 | jget .params.area)" "4.0" "set param"
eq "$(tmc --json inspect t1 | jget .held.qin)" "0.01" "set held input"
expect_ok tmc set o1 x=0.25
eq "$(tmc --json inspect o1 | jget .state.x)" "0.25" "set state"

# clock modes
eq "$(tmc clock)" "clock paused at tick $(tmc --json nodes | jget '[0].tick')" \
    "clock shows the mode"
expect_ok tmc clock fast
sleep 0.5
expect_ok tmc clock pause
ta=$(tmc --json nodes | jget '[0].tick')
[ "$ta" -gt "$((t0 + 126))" ] || fail "fast clock did not step ($ta)"
ok
sleep 0.3
eq "$(tmc --json nodes | jget '[0].tick')" "$ta" "paused clock stays"
expect_ok tmc clock realtime
sleep 1
expect_ok tmc clock paused
tb=$(tmc --json nodes | jget '[0].tick')
# realtime at h = 0.05 s: about 20 ticks per second
[ "$((tb - ta))" -ge 5 ] && [ "$((tb - ta))" -le 60 ] ||
    fail "realtime stepped $((tb - ta)) ticks in about 1 s"
ok

# watch: the current values at once, then a line per tick (none while
# the clock is paused)
out=$(tmc watch o1 x v --count 1)
eq "$(wc -l <<<"$out")" 3 \
    "watch --count 1 prints what produces the values, a header and a line"
grep -q "^o1: oscillator@1.0.0 ([a-z]*) params@0$" <<<"$out" ||
    fail "watch model line: $out"
grep -q "x \[m\]" <<<"$out" || fail "watch header: $out"
ok
expect_ok tmc clock realtime
out=$(tmc watch t1 --count 4)
eq "$(wc -l <<<"$out")" 6 "watch while stepping"
ticks=$(sed -n '3,6p' <<<"$out" | awk '{print $1}' | tr '\n' ' ')
read -r w1 w2 w3 w4 <<<"$ticks"
[ "$w1" -lt "$w2" ] && [ "$w2" -lt "$w3" ] && [ "$w3" -lt "$w4" ] ||
    fail "watch ticks not increasing: $ticks"
ok
expect_ok tmc clock pause

# top: the actors by step cost
out=$(tmc top --count 1 --limit 3)
grep -q "^twinmesh top - node alpha" <<<"$out" || fail "top: $out"
eq "$(grep -c -E '^(o1|o2|p1|s1|t1) ' <<<"$out")" 3 "top --limit 3 rows"

# stats, nodes, models, ids, help
out=$(tmc stats)
grep -q "^actors *5 in" <<<"$out" || fail "stats: $out"
grep -q "^checkpoint *every 50 ticks" <<<"$out" || fail "stats ckpt: $out"
ok
out=$(tmc nodes)
grep -q "^alpha " <<<"$out" || fail "nodes: $out"
ok
grep -q "^pump " <<<"$(tmc models)" || fail "models"
ok
eq "$(tmc ids o | tr '\n' ' ')" "o1 o2 " "ids PREFIX"
grep -q "spawn-many" <<<"$(tmc help)" || fail "help"
ok
grep -q "usage: link SRC.OUTPUT DST.INPUT" <<<"$(tmc help link)" ||
    fail "help link"
ok

# unlink and kill remove links; kill of a linked actor removes its links
expect_ok tmc unlink s1.fb o2.fl
[ "$(tmc --json inspect o2 | jget .links.in)" = "[]" ] || fail "unlink"
ok
out=$(tmc kill s1)
eq "$out" "killed s1 (3 links removed)" "kill reports links"
[ "$(tmc --json inspect o1 | jget .links.in)" = "[]" ] || fail "kill links"
ok
expect_ok tmc rm t1
eq "$(tmc actors | tail -n 1)" "3 of 3 actors" "actors after kill"

# commands from a pipe: one per line, comments skipped
out=$(printf '# a script\nspawn b1 --model valve\nids b\n' | tmc)
grep -q "^b1$" <<<"$out" || fail "batch input: $out"
ok

# spawn-many: PREFIX0 .. PREFIX<N-1>
out=$(tmc spawn-many m 1000 --model oscillator --param k=9)
grep -q "^spawned 1000 actors m0..m999 " <<<"$out" || fail "spawn-many: $out"
ok
eq "$(tmc --json inspect m999 | jget .params.k)" "9.0" "spawn-many params"

# determinism: the same scenario on a node with 1 worker gives the same
# digest as on a node with 2 workers
scenario() {
    tmc spawn-many c 50 --model oscillator --param x0=0.3 >/dev/null
    for i in $(seq 0 48); do
        echo "link c$i.x c$((i + 1)).fl"
    done | tmc >/dev/null
    tmc run --ticks 200 >/dev/null
    tmc --json hash | jget .digest
}
start_node one --workers 1
d1=$(scenario)
start_node two --workers 2
d2=$(scenario)
eq "$d1" "$d2" "digest independent of the worker count"

stop_node "$NODE_PID" || fail "SIGTERM exit status"
ok
done_checks
