# plant: apply, diff and export of plant files through the console against
# real nodes. Apply then hash; diff and apply again change nothing; a
# killed node comes back with the applied plant; export, apply on a fresh
# node: the same digest and the same export; bad files of several kinds
# change nothing; a changed file kills and unlinks.
. "$(dirname "$0")/lib.sh"

src=${TM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
demo=$src/config/demo-plant.yaml

digest() { tmc --json hash | jget .digest; }
count() { tmc --json nodes | jget '[0].actors'; }

start_node alpha --checkpoint 0
ep_a=$EP
pid_a=$NODE_PID

# ---- apply, then again -----------------------------------------------------
out=$(tmc apply "$demo")
grep -q "^  + spawn   pump2  pump@1.0.0 (medium)" <<<"$out" ||
    fail "apply plan: $out"
grep -q "^  + link    pump1.flow -> tank1.qin" <<<"$out" ||
    fail "apply plan links: $out"
grep -q "^applied .*demo-plant.yaml in [0-9.]* s: 13 spawns, 24 links added$" \
    <<<"$out" || fail "apply message: $out"
ok
eq "$(count)" 13 "actors after apply"
eq "$(tmc --json stats | jget .links)" 24 "links after apply"
h1=$(digest)
out=$(tmc diff "$demo")
eq "$out" "$demo: nothing to change (13 actors, 24 links)" "diff after apply"
out=$(tmc apply "$demo")
eq "$out" "$demo: nothing to change (13 actors, 24 links)" "apply again"
eq "$(digest)" "$h1" "digest after applying twice"
json=$(tmc --json diff "$demo")
jhas .file:string .applied:bool .counts.spawn:number .nodes:array \
    <<<"$json"
eq "$(jget .counts.spawn <<<"$json")$(jget .counts.link <<<"$json")" 00 \
    "diff --json counts"
eq "$(jget .applied <<<"$json")" false "diff applies nothing"
# the same plant as JSON is the same plant
tmc export "$WORK/demo.json" >/dev/null
eq "$(tmc diff "$WORK/demo.json")" \
    "$WORK/demo.json: nothing to change (13 actors, 24 links)" "JSON export"

# durable: one commit before the reply, back after kill -9
kill -KILL "$pid_a"
wait "$pid_a" 2>/dev/null || true
restart_node alpha "$ep_a" --checkpoint 0
pid_a=$NODE_PID
eq "$(digest)" "$h1" "digest after kill -9 and restart"

# ---- export -> apply on a fresh node: the same mesh --------------------------
expect_ok tmc run --ticks 250
expect_ok tmc set tank2 qout=0.002 h=1.25
tmc export "$WORK/e1.yaml" >/dev/null
grep -q "^  - id: tank2$" "$WORK/e1.yaml" || fail "export: $(cat "$WORK/e1.yaml")"
ok
tmc export >"$WORK/e1-stdout.yaml"
cmp -s "$WORK/e1.yaml" "$WORK/e1-stdout.yaml" || fail "export FILE != stdout"
ok
h2=$(digest)
start_node beta
out=$(tmc apply "$WORK/e1.yaml")
grep -q "13 spawns, 24 links added" <<<"$out" || fail "apply export: $out"
ok
eq "$(digest)" "$h2" "digest of the export applied on a fresh node"
tmc export "$WORK/e2.yaml" >/dev/null
cmp -s "$WORK/e1.yaml" "$WORK/e2.yaml" || fail "export of the copy differs"
ok
# both go on alike
expect_ok tmc run --ticks 40
h3=$(digest)
EP=$ep_a
expect_ok tmc run --ticks 40
eq "$(digest)" "$h3" "digests after 40 more ticks"

# ---- bad files change nothing -------------------------------------------------
EP=$ep_a
h=$(digest)
bad() { # NAME TEXT EXPECTED-MESSAGE
    printf '%s' "$2" >"$WORK/$1"
    expect_fail 1 "$3" tmc apply "$WORK/$1"
    eq "$(digest)" "$h" "digest after $1"
    eq "$(count)" 13 "actors after $1"
}
bad syntax.yaml $'actors:\n  - {id: x, model: tank\n' \
    "syntax.yaml:3:1: YAML: did not find expected ',' or '}'"
bad model.yaml $'actors:\n  - {id: x, model: tnak}\n' \
    "model.yaml:2:20: actors[0].model: unknown model family 'tnak'"
bad range.yaml $'actors:\n  - id: x\n    model: tank\n    params: {area: 0}\n' \
    "range.yaml:4:20: actors[0].params.area: 0 is below the minimum 1e-06"
bad port.yaml $'actors:\n  - {id: x, model: tank}\nlinks:\n  - {from: x.lvl, to: x.qin}\n' \
    "port.yaml:4:12: links[0].from: actor x (tank) has no output 'lvl'"
bad delay.yaml $'actors:\n  - {id: x, model: tank}\nlinks:\n  - {from: x.level, to: x.qin, delay: 1001}\n' \
    "delay.yaml:4:39: links[0].delay: expected a whole number in 1..1000, got '1001'"
bad node.yaml $'actors:\n  - {id: x, model: tank, node: far}\n' \
    "node.yaml:2:32: actors[0].node: node 'far' is not part of this mesh"
bad dup.yaml $'actors:\n  - {id: x, model: tank}\n  - {id: x, model: pump}\n' \
    "dup.yaml:3:10: actors[1].id: duplicate id 'x'"
bad missing.yaml $'actors:\n  - {id: x, model: tank}\nlinks:\n  - {from: x.level, to: y.qin}\n' \
    "missing.yaml:4:25: links[0].to: actor 'y' is not in the plant"
bad bad.json '{"actors": [{"id": "x", "model": "tank", "period": "2"}]}' \
    'bad.json:1:52: actors[0].period: expected a whole number'
bad empty.yaml '' "empty.yaml:1:1: expected a mapping with 'actors' and 'links'"
expect_fail 1 "cannot read plant file $WORK/nope.yaml" tmc apply "$WORK/nope.yaml"
expect_fail 2 "apply: --upload is set by the console itself" \
    tmc apply "$demo" --upload 5
eq "$(digest)" "$h" "digest after the bad files"

# ---- a changed file: kills and link removals ---------------------------------
grep -v -e "osc2" -e "spring1" "$demo" >"$WORK/smaller.yaml"
out=$(tmc diff "$WORK/smaller.yaml")
# (tank2's held qout was set by hand: the plant gives none, so the
# model's default comes back)
for want in "^  - kill    osc2$" "^  - kill    spring1$" \
    "^  ~ set     tank2.qout = 0 (input, was 0.002)$" \
    "^  - unlink  spring1.fa -> osc1.fr$" "^  - unlink  osc1.x -> spring1.xa$" \
    "would change: 2 kills, 1 value set, 4 links removed (nothing was changed)$"; do
    grep -q -- "$want" <<<"$out" || fail "diff lacks /$want/: $out"
    ok
done
eq "$(digest)" "$h" "diff changes nothing"
out=$(tmc apply "$WORK/smaller.yaml")
grep -q "2 kills, 1 value set, 4 links removed$" <<<"$out" ||
    fail "apply smaller: $out"
ok
eq "$(count)" 11 "actors after the smaller plant"
eq "$(tmc --json stats | jget .links)" 20 "links after the smaller plant"
out=$(tmc inspect osc1)
grep -q "fr .*(held 0)" <<<"$out" || fail "osc1.fr still linked: $out"
ok
expect_fail 1 "unknown actor 'osc2'" tmc inspect osc2
eq "$(tmc diff "$WORK/smaller.yaml" | tail -n 1)" \
    "$WORK/smaller.yaml: nothing to change (11 actors, 20 links)" \
    "diff after the smaller plant"
# and back: the two actors and four links again
out=$(tmc apply "$demo")
grep -q "2 spawns, 4 links added$" <<<"$out" || fail "apply back: $out"
ok
eq "$(count)" 13 "actors after applying the demo again"
done_checks
