# place: placement by site and load over a mesh of three nodes on
# loopback, a and b at site east, c at site west. spawn-many without
# --node spreads over the nodes (each placement counts until the node's
# heartbeat shows it); --site lands on that site's nodes only; an unknown
# site is refused and changes nothing; `place` shows each node's load and
# where the next spawn goes, `place ID` the node of an actor and why (the
# reason its audit record gives, from any node); apply of a plant file
# without nodes spreads its actors; a dead node is never chosen.
. "$(dirname "$0")/lib.sh"

NAMES=(a b c)
declare -A CEP MEP PID
declare -A SITE=([a]=east [b]=east [c]=west)
for n in "${NAMES[@]}"; do
    MEP[$n]="tcp://127.0.0.1:$(free_port)"
    CEP[$n]="tcp://127.0.0.1:$(free_port)"
done
PEERS=()
for n in "${NAMES[@]}"; do
    PEERS+=(--peer "${MEP[$n]}")
done

at() { # at NODE ARGS...: a console on NODE
    local n=$1
    shift
    "$TM_BIN" -c "${CEP[$n]}" "$@"
}

# py EXPR: EXPR evaluated with the JSON document on stdin as d
py() {
    python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"
}

for n in "${NAMES[@]}"; do
    "$NODE_BIN" --name "$n" --site "${SITE[$n]}" --data "$WORK/$n" \
        --console "${CEP[$n]}" --mesh "${MEP[$n]}" "${PEERS[@]}" \
        --clock paused --workers 2 --heartbeat 0.5 --suspect 2 --dead 4 \
        --checkpoint 0 >>"$WORK/$n.log" 2>&1 &
    PID[$n]=$!
    NODE_PIDS+=("${PID[$n]}")
    watchdog "${PID[$n]}"
    EP=${CEP[$n]}
    wait_ready "${PID[$n]}" "$n"
done
for n in "${NAMES[@]}"; do
    for _ in $(seq 100); do
        [ "$(at "$n" --json nodes | "$IT_BIN" count state=alive)" = 2 ] &&
            break
        sleep 0.1
    done
    eq "$(at "$n" --json nodes | "$IT_BIN" count state=alive)" 2 \
        "$n sees both peers alive"
done

# node_of ID: the node that runs ID, from a's view of the mesh
node_of() {
    at a --json actors | py "[x['node'] for x in d if x['id'] == '$1'][0]"
}
# count NODE PREFIX: actors of NODE whose id starts with PREFIX
count() {
    at a --json actors |
        py "sum(1 for x in d if x['node'] == '$1' and x['id'].startswith('$2'))"
}
# settled TOTAL [NODE]: wait until NODE's (a's) `place` shows TOTAL actors
# over the mesh (the heartbeats it got show every node's new actors: a
# node sees other nodes' placements only so)
settled() {
    local n=${2:-a}
    for _ in $(seq 100); do
        [ "$(at "$n" --json place |
            py "sum(x['actors'] for x in d['nodes'])")" = "$1" ] && return 0
        sleep 0.1
    done
    fail "node $n's heartbeats did not show $1 actors within 10 s"
}

# ---- spawn-many without --node: one batch on each node ------------------
# The clocks are paused: no node has a step time, so loads are actor
# counts (a tie goes to the smaller name): a, then b, then c. The three
# come from one console within milliseconds, inside one heartbeat
# interval (0.5 s): b's batch is still pending at a (placed, not in a
# heartbeat yet) when the third is placed, or it would go to b again.
out=$(printf '%s\n' "spawn-many g0- 10 --model oscillator" \
    "spawn-many g1- 10 --model oscillator" \
    "spawn-many g2- 10 --model oscillator" "place" | at a --json)
# one JSON document per line: the four replies as one array
docs=$(python3 -c '
import json, sys
print(json.dumps([json.loads(l) for l in sys.stdin if l.strip()]))' <<<"$out")
eq "$(py "[x['node'] for x in d[:3]]" <<<"$docs")" "['a', 'b', 'c']" \
    "three spawn-many in a row go to a, b and c"
py "d[1]['placed']" <<<"$docs" |
    grep -qF "least loaded by actor count of b (0 actors), c (0 actors), a (10 actors)" ||
    fail "spawn-many g1- says why it went to b: $docs"
ok
py "d[2]['placed']" <<<"$docs" |
    grep -qF "least loaded by actor count of c (0 actors), a (10 actors), b (0 actors, +10 placed)" ||
    fail "spawn-many g2- counts what is pending on b: $docs"
ok
eq "$(py "{x['name']: x['actors'] + x['pending'] for x in d[3]['nodes']}" \
    <<<"$docs")" "{'a': 10, 'b': 10, 'c': 10}" \
    "place counts each batch once, pending or shown"
for n in a b c; do
    eq "$(count "$n" g)" 10 "node $n runs 10 of the g actors"
done
settled 30

# ---- --site: only that site's nodes ------------------------------------
at a --json spawn-many e- 4 --model oscillator --site east >/dev/null
settled 34 c
at c --json spawn-many f- 4 --model oscillator --site east >/dev/null
eq "$(node_of e-0)" a "--site east from a: a (a tie with b)"
eq "$(node_of f-0)" b "--site east from c: b, a has 4 more"
eq "$(count c e)$(count c f)" 00 "nothing of site east on c"
out=$(at b --json spawn w1 --model oscillator --site west)
eq "$(jget .node <<<"$out")" c "--site west from b: c"
settled 39

# an unknown site is refused and changes nothing
before=$(at a --json place | py "sum(x['actors'] for x in d['nodes'])")
expect_fail 1 "no alive node at site 'north' (known sites: 'east', 'west')" \
    at a spawn x1 --model oscillator --site north
expect_fail 1 "no alive node at site 'north'" \
    at b spawn-many x 5 --model oscillator --site north
expect_fail 1 "node a is at site 'east', not 'west'" \
    at a spawn x2 --model oscillator --node a --site west
expect_fail 1 "--placed is passed between nodes only" \
    at a spawn x3 --model oscillator --placed "anything"
sleep 0.6 # a heartbeat interval or more
eq "$(at a --json place | py "sum(x['actors'] for x in d['nodes'])")" \
    "$before" "refused spawns changed nothing"
eq "$(at a --json actors | py "sum(1 for x in d if x['id'].startswith('x'))")" \
    0 "no x actor anywhere"

# ---- place: loads and the next spawn -----------------------------------
# a 14, b 14, c 11 actors, as b's heartbeats show them
settled 39 b
p=$(at b --json place)
eq "$(py "d['score']" <<<"$p")" actors "loads are actor counts"
eq "$(py "[x['name'] for x in d['nodes']]" <<<"$p")" "['b', 'a', 'c']" \
    "place lists this node first"
eq "$(py "{x['name']: x['actors'] for x in d['nodes']}" <<<"$p")" \
    "{'b': 14, 'a': 14, 'c': 11}" "place shows each node's actors"
eq "$(py "{x['name']: x['load'] for x in d['nodes']}" <<<"$p")" \
    "{'b': 14.0, 'a': 14.0, 'c': 11.0}" "place shows each node's load"
eq "$(py "{x['name']: (x['site'], x['state']) for x in d['nodes']}" <<<"$p")" \
    "{'b': ('east', 'up'), 'a': ('east', 'alive'), 'c': ('west', 'alive')}" \
    "place shows sites and states"
eq "$(py "{x['site']: x['node'] for x in d['next']}" <<<"$p")" \
    "{None: 'c', 'east': 'a', 'west': 'c'}" \
    "the next spawn: c overall, a at east (a tie with b), c at west"
py "[x['why'] for x in d['next'] if x['site'] == 'east'][0]" <<<"$p" |
    grep -qF "site east: least loaded by actor count of a (14 actors), b (14 actors)" ||
    fail "place says why a is next at east: $p"
ok
at a place | grep -q "next spawn without --node" || fail "place as text"
ok

# place ID: the node and the reason from its owner's audit record, asked
# from any node
for n in a c; do
    r=$(at "$n" --json place g1-3)
    eq "$(jget .node <<<"$r")" b "place g1-3 from $n: on b"
    eq "$(jget .source <<<"$r")" spawn "place g1-3: a spawn's record"
    jget .reason <<<"$r" | grep -qF "spawned g1-0 .. g1-9 (10 actors); placed: least loaded by actor count of b" ||
        fail "place g1-3 says why: $r"
    ok
done
r=$(at c --json place e-2)
eq "$(jget .node <<<"$r")" a "place e-2: on a"
jget .reason <<<"$r" | grep -qF "placed: site east: least loaded" ||
    fail "place e-2 names the site: $r"
ok
at b spawn n1 --model oscillator --node a >/dev/null
r=$(at b --json place n1)
eq "$(jget .reason <<<"$r")" "spawned with period 1" \
    "an actor spawned with --node was not placed by load"
expect_fail 1 "unknown actor 'nosuch'" at c place nosuch
settled 40

# ---- apply: the file's actors spread over the least loaded nodes --------
# a 15, b 14, c 11 (counts): c takes three, then the least score
# (count + 1) goes b, c, a, b, c - ties to the smaller name
plant=$WORK/spread.yaml
{
    echo "plant: 1"
    echo "actors:"
    for i in 0 1 2 3 4 5 6 7; do
        echo "  - {id: p$i, model: oscillator}"
    done
} >"$plant"
# apply keeps the file's actors only: export what runs, add the new ones
at a export "$WORK/now.yaml" >/dev/null
python3 - "$WORK/now.yaml" "$plant" <<'EOF'
import sys
now, new = open(sys.argv[1]).read(), open(sys.argv[2]).read()
extra = new.split("actors:\n", 1)[1]
head, rest = now.split("actors:\n", 1)
open(sys.argv[2], "w").write(head + "actors:\n" + extra + rest)
EOF
at a apply "$plant" >/dev/null
eq "$(count c p)$(count b p)$(count a p)" 521 \
    "apply puts 5 on c (the least loaded), 2 on b and 1 on a"
r=$(at b --json place p0)
eq "$(jget .node <<<"$r")" c "place p0: on c"
eq "$(jget .source <<<"$r")" apply "place p0: the apply that made it"
jget .reason <<<"$r" | grep -qF "placed: 5 new actors by load, least loaded first (actors before: a 15, b 14, c 11)" ||
    fail "place p0 says how the apply placed it: $r"
ok
r=$(at b --json place p5) # the one on a
jget .reason <<<"$r" | grep -qF "placed: 1 new actor by load" ||
    fail "a's apply record counts its one new actor: $r"
ok
# applied again, nothing moves
at b apply "$plant" >/dev/null
eq "$(count c p)$(count b p)$(count a p)" 521 "apply again moves nothing"
settled 48

# ---- a dead node is never chosen ---------------------------------------
kill -KILL "${PID[c]}"
wait "${PID[c]}" 2>/dev/null || true
for _ in $(seq 100); do
    [ "$(at a --json nodes | "$IT_BIN" count state=dead)" = 1 ] && break
    sleep 0.1
done
eq "$(at a --json nodes | "$IT_BIN" count state=dead)" 1 "a sees c dead"
for g in 0 1 2; do
    out=$(at a --json spawn-many "h$g-" 3 --model oscillator)
    [ "$(jget .node <<<"$out")" != c ] || fail "h$g- placed on dead c"
    ok
done
expect_fail 1 "no alive node at site 'west' (known sites: 'east')" \
    at a spawn y1 --model oscillator --site west
p=$(at a --json place)
eq "$(py "{x['name']: (x['state'], x['load']) for x in d['nodes']}['c']" \
    <<<"$p")" "('dead', None)" "place shows c dead, without a load"
eq "$(py "sorted(str(x['site']) for x in d['next'])" <<<"$p")" \
    "['None', 'east']" "no next spawn at west"

done_checks
