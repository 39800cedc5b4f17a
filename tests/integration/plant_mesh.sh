# plant_mesh: plant files over a mesh of three nodes on loopback, one per
# site, with config/three-site-plant.yaml (pumps at one site feeding tanks
# at another through pipes, an oscillator chain over the three, links of 2
# ticks between sites). diff and apply from any node cover every node; the
# same plant on one node gives the same digest; apply again changes
# nothing; export writes every node's actors with their node and the
# delays, and applied on a fresh mesh gives the same digest and the same
# export. A file that fails validation on any node - or only on one remote
# node (a value out of range there, an id another node has, a node that is
# down) - changes nothing on any node. A changed file kills and unlinks on
# every node it concerns; a node killed with -9 comes back with its part.
. "$(dirname "$0")/lib.sh"

src=${TM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
plant=$src/config/three-site-plant.yaml

NAMES=(a b c)
declare -A CEP MEP PID
declare -A SITE=([a]=pumping-station [b]=treatment-plant [c]=reservoir)
TICKS=120

at() { # at NODE ARGS...: a console on NODE
    local n=$1
    shift
    "$TM_BIN" -c "${CEP[$n]}" "$@"
}

up() { # up ROUND NAME: start (or restart) node-NAME of the mesh
    local round=$1 n=$2 peers=() m
    for m in "${NAMES[@]}"; do
        peers+=(--peer "${MEP[$m]}")
    done
    "$NODE_BIN" --name "node-$n" --site "${SITE[$n]}" \
        --data "$WORK/$round-$n" --console "${CEP[$n]}" --mesh "${MEP[$n]}" \
        "${peers[@]}" --clock paused --workers 2 --heartbeat 0.05 \
        --checkpoint 0 >>"$WORK/$round-$n.log" 2>&1 &
    PID[$n]=$!
    NODE_PIDS+=("${PID[$n]}")
    watchdog "${PID[$n]}"
    EP=${CEP[$n]}
    wait_ready "${PID[$n]}" "node-$n"
}

alive() { # alive NODE COUNT: wait until NODE sees COUNT peers alive
    for _ in $(seq 100); do
        [ "$(at "$1" --json nodes | "$IT_BIN" count state=alive)" = "$2" ] &&
            return 0
        sleep 0.1
    done
    fail "node-$1 did not see $2 peers alive within 10 s"
}

mesh_up() { # mesh_up ROUND: three fresh nodes
    local n
    for n in "${NAMES[@]}"; do
        MEP[$n]="tcp://127.0.0.1:$(free_port)"
        CEP[$n]="tcp://127.0.0.1:$(free_port)"
    done
    for n in "${NAMES[@]}"; do
        up "$1" "$n"
    done
    for n in "${NAMES[@]}"; do
        alive "$n" 2
    done
}

mesh_down() {
    local n
    for n in "${NAMES[@]}"; do
        stop_node "${PID[$n]}" || fail "node-$n did not stop cleanly"
    done
}

digest() { at "${1:-b}" --json hash | jget .digest; }
# actors NODE: how many actors NODE holds (its own entry of `nodes`)
actors() { at "$1" --json nodes | jget '[0].actors'; }
links() { at "$1" --json stats | jget .links; }
spread() { echo "$(actors a) $(actors b) $(actors c)"; }

# ---- the reference: the same plant on one node ---------------------------
grep -v '^    site:' "$plant" >"$WORK/one-node.yaml"
start_node solo
expect_ok tmc apply "$WORK/one-node.yaml"
expect_ok tmc run --ticks "$TICKS"
REF=$(tmc --json hash | jget .digest)
stop_node "$NODE_PID" || fail "solo node did not stop cleanly"

# ---- diff and apply over three nodes ---------------------------------------
mesh_up r1
out=$(at b diff "$plant")
for want in "^node node-a$" "^node node-b$" "^node node-c$" \
    "^  + spawn   pump1  pump@1.0.0 (high)$" \
    "^  + link    pump1.flow -> basin.qin (delay 2)$" \
    "would change: 14 spawns, 28 links added (nothing was changed)$"; do
    grep -q -- "$want" <<<"$out" || fail "diff lacks /$want/: $out"
    ok
done
# each node's part under its own name: the basin and the link into it on
# node-b, which holds the links into its actors
sed -n '/^node node-b$/,/^node node-c$/p' <<<"$out" >"$WORK/diff-b"
grep -q "+ spawn   basin " "$WORK/diff-b" || fail "basin not on b: $out"
grep -q "+ link    pump1.flow -> basin.qin" "$WORK/diff-b" ||
    fail "link into the basin not on b: $out"
ok
eq "$(spread)" "0 0 0" "diff changes nothing"
json=$(at c --json diff "$plant")
jhas .file:string .applied:bool .counts.spawn:number .nodes:array \
    '.nodes[0].counts.spawn:number' <<<"$json"
eq "$(jget .counts.spawn <<<"$json") $(jget .counts.link <<<"$json")" \
    "14 28" "diff --json counts"
eq "$(jget '.nodes[0].node' <<<"$json") $(jget '.nodes[2].node' <<<"$json")" \
    "node-a node-c" "diff --json nodes by name"
eq "$(jget '.nodes[1].counts.spawn' <<<"$json")" 4 "node-b's spawns"

out=$(at a apply "$plant")
grep -q "^applied .*three-site-plant.yaml in [0-9.]* s: 14 spawns, 28 links added$" \
    <<<"$out" || fail "apply message: $out"
ok
eq "$(spread)" "6 4 4" "actors per node"
eq "$(links a) $(links b) $(links c)" "11 9 8" "links held per node"
eq "$(at c diff "$plant")" "$plant: nothing to change (14 actors, 28 links)" \
    "diff after apply"
eq "$(at b apply "$plant")" "$plant: nothing to change (14 actors, 28 links)" \
    "apply again"
# the links across nodes were acknowledged usable: a run right after
# reads exact values, and placement does not change the result
eq "$(at c --json run --ticks "$TICKS" | jget .tick)" "$TICKS" "run"
h1=$(digest)
eq "$h1" "$REF" "digest over three nodes = digest on one node"

# ---- export: every node, placed, with the delays ---------------------------
at c export "$WORK/e1.yaml" >"$WORK/export.out"
grep -q "^exported 14 actors, 28 links of 3 nodes at tick $TICKS to " \
    "$WORK/export.out" || fail "export: $(cat "$WORK/export.out")"
ok
for want in "^    node: node-a$" "^    node: node-b$" "^    node: node-c$" \
    "^  - {from: pump1.flow, to: basin.qin, delay: 2}$" \
    "^  - {from: sump.level, to: pump1.h_suction}$"; do
    grep -q -- "$want" "$WORK/e1.yaml" || fail "export lacks /$want/"
    ok
done
at a export >"$WORK/e1-a.yaml"
cmp -s "$WORK/e1.yaml" "$WORK/e1-a.yaml" ||
    fail "exports from node-c and node-a differ"
ok
eq "$(at a diff "$WORK/e1.yaml")" \
    "$WORK/e1.yaml: nothing to change (14 actors, 28 links)" \
    "the export is the running mesh"

# ---- bad files change nothing on any node ------------------------------------
bad() { # bad NAME FILE-TEXT EXPECTED-MESSAGE: apply from node-a fails
    printf '%s' "$2" >"$WORK/$1"
    expect_fail 1 "$3" at a apply "$WORK/$1"
    eq "$(digest)" "$h1" "digest after $1"
    eq "$(spread)" "6 4 4" "actors after $1"
}
# only node-c can tell: the reservoir's area is out of range
line=$(grep -n 'area: 8,' "$plant" | cut -d: -f1)
bad range.yaml "$(sed 's/{area: 8, h0: 1, hmax: 4}/{area: 0, h0: 1, hmax: 4}/' \
    "$plant")" \
    "range.yaml:$line:20: actors[10].params.area: 0 is below the minimum 1e-06 m^2 of tank@1.0.0 (node node-c; nothing was changed on any node)"
# node-b can tell: its basin's input takes one link
line=$(grep -n 'from: basin.level, to: pipe1.head_in' "$plant" | cut -d: -f1)
bad linked.yaml "$(cat "$plant")
  - {from: reservoir.level, to: pipe1.head_in}
" "links[28].to: input pipe1.head_in takes one link and is already linked from basin.level (links[8], line $line) (node node-b; nothing was changed on any node)"
bad far.yaml "$(sed 's/    site: reservoir/    node: far/' "$plant")" \
    "actors[10].node: node 'far' is not part of this mesh (its nodes: node-a, node-b, node-c) (nothing was changed)"
bad site.yaml "$(sed 's/site: reservoir/site: moon/' "$plant")" \
    "actors[10].site: site 'moon' is not part of this mesh"
bad delay.yaml "$(sed 's/delay: 2}/delay: 1001}/' "$plant")" \
    "links[1].delay: expected a whole number in 1..1000, got '1001'"
# an id that another node has: node-b refuses to make a second one
expect_ok at a spawn zz --model tank --node node-c
h2=$(digest)
sed 's/^  - id: osc1$/  - id: zz\n    model: tank\n    site: treatment-plant\n  - id: osc1/' \
    "$plant" >"$WORK/conflict.yaml"
expect_fail 1 "actors[8]: actor 'zz' runs on node node-c, and the plant places it on node node-b: apply does not move actors between nodes" \
    at a apply "$WORK/conflict.yaml"
expect_fail 1 "actor 'zz' runs on node node-c, and the plant places it on node node-b" \
    at c diff "$WORK/conflict.yaml"
eq "$(digest)" "$h2" "digest after an id conflict on node-b"
eq "$(spread)" "6 4 5" "actors after an id conflict on node-b"
expect_ok at a kill zz
eq "$(digest)" "$h1" "digest after zz went"

# a node that is down (stopped, with its checkpoint): nothing is tried
stop_node "${PID[c]}" || fail "node-c did not stop cleanly"
for _ in $(seq 100); do
    [ "$(at a --json nodes | "$IT_BIN" count state=dead)" = 1 ] && break
    sleep 0.1
done
# the plant without osc3 (node-a) and spring2 (node-c)
awk '/^  - id: /{skip = ($3 == "osc3" || $3 == "spring2")}
     /^  #|^$|^links:/{skip = 0}
     !skip' "$plant" | grep -v -e 'osc3\.' -e 'spring2\.' >"$WORK/smaller.yaml"
expect_fail 1 "node node-c is dead" at a apply "$WORK/smaller.yaml"
expect_fail 1 "a plant describes every node of the mesh" \
    at b diff "$WORK/smaller.yaml"
expect_fail 1 "an export reads every node of the mesh" at b export
eq "$(actors a) $(actors b)" "6 4" "actors while node-c is down"
eq "$(links a) $(links b)" "11 9" "links while node-c is down"
up r1 c
alive a 2
alive c 2
eq "$(digest)" "$h1" "digest after node-c came back"

# ---- a changed file: kills and link removals on every node concerned -------
out=$(at b diff "$WORK/smaller.yaml")
for want in "^node node-a$" "^  - kill    osc3$" "^node node-c$" \
    "^  - kill    spring2$" "^  - unlink  osc3.x -> spring2.xb (delay 2)$" \
    "^  - unlink  spring2.fb -> osc3.fl (delay 2)$" \
    "would change: 2 kills, 4 links removed (nothing was changed)$"; do
    grep -q -- "$want" <<<"$out" || fail "diff lacks /$want/: $out"
    ok
done
out=$(at c apply "$WORK/smaller.yaml")
grep -q "2 kills, 4 links removed$" <<<"$out" || fail "apply smaller: $out"
ok
eq "$(spread)" "5 4 3" "actors after the smaller plant"
eq "$(links a) $(links b) $(links c)" "10 9 5" "links after the smaller plant"
eq "$(at a diff "$WORK/smaller.yaml" | tail -n 1)" \
    "$WORK/smaller.yaml: nothing to change (12 actors, 24 links)" \
    "diff after the smaller plant"
out=$(at a apply "$plant")
grep -q "2 spawns, 4 links added$" <<<"$out" || fail "apply back: $out"
ok
eq "$(spread)" "6 4 4" "actors after the whole plant again"

# durable on every node: node-a killed with -9 right after the commit has
# its part back, the links from other nodes' actors with it
kill -KILL "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
up r1 a
alive a 2
alive b 2
eq "$(at a diff "$plant")" "$plant: nothing to change (14 actors, 28 links)" \
    "node-a's part after kill -9"
eq "$(actors a) $(links a)" "6 11" "node-a's actors and links after kill -9"
mesh_down

# ---- the export applied on a fresh mesh: the same mesh -----------------------
mesh_up r2
out=$(at b apply "$WORK/e1.yaml")
grep -q "14 spawns, 28 links added$" <<<"$out" || fail "apply export: $out"
ok
eq "$(spread)" "6 4 4" "actors of the copy per node"
eq "$(digest)" "$h1" "digest of the export applied on a fresh mesh"
at a export "$WORK/e2.yaml" >/dev/null
# the same file, but for the tick in the export's message
cmp -s "$WORK/e1.yaml" "$WORK/e2.yaml" || fail "export of the copy differs"
ok
mesh_down
done_checks
