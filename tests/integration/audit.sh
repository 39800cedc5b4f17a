# audit: the audit log through the real node and console - every
# acknowledged change leaves exactly one record with the right fields, a
# refused one none; --actor, --since and --limit filter; the records
# survive kill -9; a bad --since is a clear usage error.
. "$(dirname "$0")/lib.sh"

j() { tmc --json "$@"; }

# field N KEY: KEY of the N-th record of the last `j audit`
field() { jget "[$1].$2" <<<"$log"; }
count() { "$IT_BIN" count "$@"; }

# [audit] in a config file: --check shows it, a bad value is refused
cfg=$WORK/audit.ini
printf '[audit]\nretention = 500\nretention_days = 7\n' >"$cfg"
out=$("$NODE_BIN" --config "$cfg" --check)
want=$(printf '[audit]\nretention = 500\nretention_days = 7')
[[ "$out" == *"$want"* ]] || fail "--check: $out"
ok
printf '[audit]\nretention = lots\n' >"$cfg"
rc=0
err=$("$NODE_BIN" --config "$cfg" --check 2>&1) || rc=$?
eq "$rc" 2 "bad retention: exit status"
grep -qF "$cfg:2: [audit] retention: 'lots' is not a number of audit records" \
    <<<"$err" || fail "bad retention: $err"
ok

start_node anode --checkpoint 10
ep=$EP

log=$(j audit)
eq "$(count <<<"$log")" 0 "a new node's log is empty"

expect_ok tmc spawn p1 --model pump
expect_ok tmc spawn t1 --model tank --period 2
expect_fail 1 "already exists" tmc spawn p1 --model pump # refused: no record
expect_fail 1 "unknown actor" tmc set nosuch x=1         # refused: no record
expect_ok tmc set p1 speed_cmd=0.5
expect_ok tmc link p1.flow t1.qin --delay 3
expect_ok tmc run --ticks 4
expect_ok tmc unlink p1.flow t1.qin
expect_ok tmc kill t1
expect_ok tmc spawn-many m 3 --model spring

log=$(j audit)
eq "$(count <<<"$log")" 7 "seven records for seven changes"
kinds=""
for i in 0 1 2 3 4 5 6; do
    kinds="$kinds $(field $i kind)"
    eq "$(field $i seq)" $((i + 1)) "record $i: seq"
    eq "$(field $i who)" console "record $i: who"
done
eq "$kinds" " spawn spawn set link unlink kill spawn-many" "kinds in order"
jhas '[0].wall_ns:integer' '[0].time:string' '[0].tick:integer' \
    '[0].kind:string' '[0].actor:string' '[0].before:null' \
    '[0].after:string' '[0].reason:string' '[0].who:string' <<<"$log"
eq "$(field 0 actor)" p1 "spawn: actor"
eq "$(field 0 after)" "pump@1.0.0/high" "spawn: after"
eq "$(field 1 reason)" "spawned with period 2" "spawn: reason"
eq "$(field 2 before)" "speed_cmd=1" "set: before"
eq "$(field 2 after)" "speed_cmd=0.5" "set: after"
eq "$(field 3 actor)" t1 "link: actor (the destination)"
eq "$(field 3 after)" "p1.flow to t1.qin, delay 3" "link: after"
eq "$(field 3 tick)" 0 "link: tick"
eq "$(field 4 before)" "p1.flow to t1.qin, delay 3" "unlink: before"
eq "$(field 4 after)" null "unlink: after"
eq "$(field 4 tick)" 4 "unlink: tick"
eq "$(field 5 before)" "tank@1.0.0/high" "kill: before"
eq "$(field 6 actor)" null "spawn-many: no actor"
eq "$(field 6 prefix)" m "spawn-many: prefix"
eq "$(field 6 count)" 3 "spawn-many: count"
eq "$(field 6 after)" "spring@1.0.0/high" "spawn-many: model"
# wall times in order, and now-ish
w0=$(field 0 wall_ns)
w6=$(field 6 wall_ns)
now=$(date +%s%N)
[ "$w0" -le "$w6" ] && [ "$w6" -le "$now" ] &&
    [ $((now - w0)) -lt $((600 * 1000000000)) ] ||
    fail "wall times $w0 .. $w6, now $now"
ok

# --actor: that actor's records, and the spawn-many that made m1
log=$(j audit --actor t1)
eq "$(count <<<"$log")" 4 "--actor t1"
eq "$(field 0 kind) $(field 3 kind)" "spawn kill" "--actor t1 kinds"
log=$(j audit --actor m1)
eq "$(count <<<"$log")" 1 "--actor m1 finds the spawn-many"
log=$(j audit --actor m3)
eq "$(count <<<"$log")" 0 "--actor m3: not made by spawn-many m 3"
# --limit: the most recent N, oldest first
log=$(j audit --limit 2)
eq "$(field 0 kind) $(field 1 kind)" "kill spawn-many" "--limit 2"
# --since: a time between two records, a duration, the future
sleep 0.3
expect_ok tmc set p1 speed_cmd=0.25
log=$(j audit)
w7=$(field 7 wall_ns)
mid=$(((w6 + w7) / 2))
since="$(date -u -d "@$((mid / 1000000000))" +%Y-%m-%dT%H:%M:%S)"
since="$since.$(printf %09d $((mid % 1000000000)))Z"
log=$(j audit --since "$since")
eq "$(count <<<"$log")" 1 "--since $since"
eq "$(field 0 after)" "speed_cmd=0.25" "--since: the newest record"
log=$(j audit --since 1h)
eq "$(count <<<"$log")" 8 "--since 1h"
log=$(j audit --since 2099-01-01T00:00:00Z)
eq "$(count <<<"$log")" 0 "--since the future"

# text: one line per record, with before -> after and who
txt=$(tmc audit --actor p1)
grep -qE 'set +p1 +speed_cmd=1 -> speed_cmd=0.5 +\(console\)' <<<"$txt" ||
    fail "text line of the set: $txt"
ok

# bad --since and --actor: usage errors, no node needed
expect_fail 2 "is neither an RFC 3339 UTC time" tmc audit --since yesterday
expect_fail 2 "--since '2026-02-30T00:00:00Z'" tmc audit \
    --since 2026-02-30T00:00:00Z
expect_fail 2 "a duration is at most 100 years" tmc audit --since 99999999d
expect_fail 1 "bad actor id 'no/such'" tmc audit --actor 'no/such'

# kill -9: every acknowledged record is still there
before=$(j audit)
kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
restart_node anode "$ep" --checkpoint 10
after=$(j audit)
eq "$after" "$before" "records after kill -9"
eq "$(count <<<"$after")" 8 "eight records after kill -9"

# retention: a node keeping 3 records trims the oldest at its next
# checkpoint (the rest stay, with their numbers)
stop_node "$NODE_PID"
printf '[audit]\nretention = 3\n' >"$cfg"
restart_node anode "$ep" --checkpoint 10 --config "$cfg"
eq "$(count <<<"$(j audit)")" 8 "nothing trimmed before a checkpoint"
expect_ok tmc run --ticks 10
for _ in $(seq 100); do
    [ "$(j stats | jget .audit.trimmed)" = 5 ] && break
    sleep 0.05
done
eq "$(j stats | jget .audit.trimmed)" 5 "stats: audit.trimmed"
log=$(j audit)
eq "$(count <<<"$log")" 3 "three records kept"
eq "$(field 0 seq) $(field 2 seq)" "6 8" "the newest three kept"
eq "$(j stats | jget .audit.dropped)" 0 "stats: audit.dropped"

# apply: one record for the whole plant, naming the file and the counts
src=${TM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
start_node bnode --checkpoint 0
expect_ok tmc apply "$src/config/demo-plant.yaml"
log=$(j audit)
eq "$(count <<<"$log")" 1 "apply: one record"
eq "$(field 0 kind) $(field 0 actor) $(field 0 who)" "apply null console" \
    "apply: kind, actor, who"
[[ "$(field 0 reason)" == "plant "*"demo-plant.yaml: 13 spawns, 24 links"* ]] ||
    fail "apply: reason $(field 0 reason)"
ok

# a mesh: a change passed on by node x is recorded on the node that made
# it, as asked by node x
mx="tcp://127.0.0.1:$(free_port)"
my="tcp://127.0.0.1:$(free_port)"
start_node x --mesh "$mx" --peer "$my" --heartbeat 0.05
ex=$EP
start_node y --mesh "$my" --peer "$mx" --heartbeat 0.05
ey=$EP
for _ in $(seq 100); do
    [ "$("$TM_BIN" -c "$ex" --json nodes | "$IT_BIN" count state=alive)" = 1 ] &&
        break
    sleep 0.1
done
expect_ok "$TM_BIN" -c "$ex" spawn q1 --model pump --node y
expect_ok "$TM_BIN" -c "$ey" set q1 speed_cmd=0.5
log=$("$TM_BIN" -c "$ey" --json audit --node y)
eq "$(field 0 kind) $(field 0 actor) $(field 0 who)" "spawn q1 node x" \
    "passed on by node x"
eq "$(field 1 kind) $(field 1 who)" "set console" "asked on node y"
eq "$("$TM_BIN" -c "$ex" --json audit --node x | count)" 0 "nothing recorded on x"
# audit without --node, on either node: the mesh's, y's two records
log=$("$TM_BIN" -c "$ex" --json audit)
eq "$(field 0 kind) $(field 0 node) $(field 1 kind) $(field 1 node)" \
    "spawn y set y" "the mesh's log, asked on x"

done_checks
