# migrate: actors move between the nodes of a mesh of three at a tick
# boundary, with their state, their past outputs and their links, and the
# mesh digest after N more ticks equals that of the same run on one node
# without any move (a chain of oscillators and springs whose force links
# have a delay of 3 ticks, so the moved actors' and their sources' past
# outputs matter). An actor moves back again (epoch 2). `drain` empties a
# node, also while the clock runs in real time; afterwards every actor has
# exactly one owner on every node, also after a node is killed with -9 and
# restarted. Refusals are clear and change nothing; the audit log tells the
# moves on both sides.
. "$(dirname "$0")/lib.sh"

NAMES=(a b c)
declare -A CEP MEP PID

at() { # at NODE ARGS...: a console on NODE's console endpoint
    local n=$1
    shift
    "$TM_BIN" -c "${CEP[$n]}" "$@"
}

node_up() { # node_up NAME [DATA]: start (or restart) node NAME of the mesh
    local n=$1 data=${2:-$WORK/$1} peers=() p
    for p in "${NAMES[@]}"; do
        peers+=(--peer "${MEP[$p]}")
    done
    "$NODE_BIN" --name "$n" --site "site-$n" --data "$data" \
        --console "${CEP[$n]}" --mesh "${MEP[$n]}" "${peers[@]}" \
        --clock paused --workers 2 --heartbeat 0.05 --tick 0.05 \
        >>"$WORK/$n.log" 2>&1 &
    PID[$n]=$!
    NODE_PIDS+=("${PID[$n]}")
    watchdog "${PID[$n]}"
    EP=${CEP[$n]}
    wait_ready "${PID[$n]}" "$n"
}

all_alive() {
    local n all
    for _ in $(seq 200); do
        all=1
        for n in "${NAMES[@]}"; do
            [ "$(at "$n" --json nodes | "$IT_BIN" count state=alive)" = 2 ] ||
                all=0
        done
        [ "$all" = 1 ] && return 0
        sleep 0.1
    done
    fail "the three nodes did not see each other alive within 20 s"
}

OSC=6
# scenario CONSOLE PLACEMENT...: the chain; actor i on PLACEMENT[i mod len]
scenario() {
    local via=$1 i k=0
    shift
    local pl=("$@") node
    where() {
        node=${pl[$((k % ${#pl[@]}))]}
        k=$((k + 1))
    }
    for i in $(seq 0 $((OSC - 1))); do
        where
        at "$via" spawn "o$i" --model oscillator --param "x0=0.0$((i + 1))" \
            --param "c=0.$i" ${node:+--node "$node"} >/dev/null
    done
    for i in $(seq 0 $((OSC - 2))); do
        where
        at "$via" spawn "s$i" --model spring --param "k=$((20 + i))" \
            ${node:+--node "$node"} >/dev/null
    done
    for i in $(seq 0 $((OSC - 2))); do
        at "$via" link "o$i.x" "s$i.xa" >/dev/null
        at "$via" link "o$((i + 1)).x" "s$i.xb" >/dev/null
        at "$via" link "s$i.fa" "o$i.fr" --delay 3 >/dev/null
        at "$via" link "s$i.fb" "o$((i + 1)).fl" --delay 3 >/dev/null
    done
}

# ---- the reference: one node outside any mesh, no move ------------------
start_node solo --workers 1 --tick 0.05
EP_SOLO=$EP
CEP[solo]=$EP_SOLO
scenario solo ""
ref() { # ref TICK: the solo node's digest at TICK
    local t=$1 now
    now=$(at solo --json clock | jget tick)
    [ "$t" -gt "$now" ] && at solo run --ticks $((t - now)) >/dev/null
    at solo --json hash | jget digest
}

# ---- a mesh of three, actors spread over it ------------------------------
for n in "${NAMES[@]}"; do
    MEP[$n]="tcp://127.0.0.1:$(free_port)"
    CEP[$n]="tcp://127.0.0.1:$(free_port)"
done
for n in "${NAMES[@]}"; do
    node_up "$n"
done
all_alive
scenario a a b c
expect_ok at b run --ticks 40
eq "$(at c --json hash | jget digest)" "$(ref 40)" "spread mesh at tick 40"

owner() { at "$1" --json inspect "$2" | jget node; }
eq "$(owner a o3)" a "o3 starts on a"
expect_ok at a backup "$WORK/a-before" # a's store before any move

# migrate through a console on b: passed on to o3's node, a
out=$(at b migrate o3 c)
case $out in *"moved 1 actor at tick 40"*) ok ;;
*) fail "migrate said: $out" ;; esac
for n in "${NAMES[@]}"; do
    eq "$(owner "$n" o3)" c "node $n sees o3 on c"
done
eq "$(at c --json inspect o3 | jget epoch)" 1 "o3's ownership epoch"
eq "$(at c --json hash | jget digest)" "$(ref 40)" \
    "the move changes nothing at its tick"
expect_ok at a migrate s1 c
expect_ok at c migrate s4 a
expect_ok at a run --ticks 30
eq "$(at b --json hash | jget digest)" "$(ref 70)" \
    "30 ticks after three moves: the digest of the run without them"

# and back again
expect_ok at a migrate o3 a
eq "$(owner b o3)" a "o3 back on a"
eq "$(at a --json inspect o3 | jget epoch)" 2 "o3's epoch after two moves"
eq "$(at b --json hash | jget digest)" "$(ref 70)" "moving back changes nothing"
for i in 1 2 3 4 5 6; do # tick by tick: the sources' past, read 3 ticks late
    at a run --ticks 1 >/dev/null
    eq "$(at b --json hash | jget digest)" "$(ref $((70 + i)))" "tick $((70 + i))"
done
expect_ok at c run --ticks 24
eq "$(at a --json hash | jget digest)" "$(ref 100)" "after moving back"

# ---- refusals change nothing --------------------------------------------
expect_fail 1 "unknown actor 'zz'" at a migrate zz b
expect_fail 1 "unknown node 'zz'" at a migrate o3 zz
expect_fail 1 "already runs on node a" at b migrate o3 a
expect_fail 2 "" at a migrate o3
eq "$(at a --json hash | jget digest)" "$(ref 100)" "refusals changed nothing"

# ---- the audit log tells both sides --------------------------------------
at c --json audit --node c --actor o3 >"$WORK/audit-c.json"
grep -q '"migrate-in"' "$WORK/audit-c.json" || fail "c's audit: no migrate-in"
grep -q '"migrate-out"' "$WORK/audit-c.json" || fail "c's audit: no migrate-out"
ok

# ---- drain in real time ---------------------------------------------------
expect_ok at a clock realtime
sleep 0.5
out=$(at a drain b)
case $out in *"clock realtime again"*) ok ;;
*) fail "drain said: $out" ;; esac
eq "$(at b --json actors --node b | "$IT_BIN" count)" 0 "b runs no actor"
eq "$(at a --json actors | "$IT_BIN" count)" $((2 * OSC - 1)) \
    "every actor is still in the mesh"
eq "$(at a --json clock | jget clock)" realtime "the clock runs again"
sleep 0.5
expect_ok at a clock pause
t=$(at a --json run --ticks 5 | jget tick)
eq "$(at b --json hash | jget digest)" "$(ref "$t")" \
    "drained in real time: the digest of the run without moves at tick $t"

# ---- kill -9 and restart: every actor has one owner ------------------------
expect_ok at b migrate o3 b # an actor on b again
kill -9 "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
node_up a
all_alive
for n in "${NAMES[@]}"; do # once the directories are resent
    for _ in $(seq 100); do
        at "$n" --json actors >"$WORK/actors-$n.json"
        [ "$("$IT_BIN" count <"$WORK/actors-$n.json")" = $((2 * OSC - 1)) ] &&
            break
        sleep 0.1
    done
    eq "$("$IT_BIN" count <"$WORK/actors-$n.json")" $((2 * OSC - 1)) \
        "node $n lists every actor once after the restart"
done
eq "$(owner a o3)" b "the restarted node knows o3 runs on b"
out=$(at a nodes)
case $out in *"claimed by two nodes"*) fail "id conflict: $out" ;; esac
ok

# ---- a stale copy is fenced -----------------------------------------------
# node a restored from its backup of tick 40 brings back o3 at epoch 0
# (o3 runs on b at epoch 3) and s3, s0, o0 as they were: o3 leaves a
# as soon as a hears b's claim; no id conflict, the audit log says so
stop_node "${PID[a]}" || fail "node a did not stop cleanly"
node_up a "$WORK/a-before"
all_alive
for _ in $(seq 100); do
    [ "$(owner a o3)" = b ] && break
    sleep 0.1
done
eq "$(owner a o3)" b "the restored node lets its stale o3 go"
eq "$(at a --json inspect o3 | jget epoch)" 3 "o3 at b's epoch"
at a --json audit --node a --actor o3 | grep -q '"fenced"' || fail "no fenced record"
ok
out=$(at c nodes)
case $out in *"claimed by two nodes"*) fail "id conflict: $out" ;; esac
ok

# ---- no mesh: a clear refusal ---------------------------------------------
expect_fail 1 "needs a mesh" at solo migrate o1 b
expect_fail 1 "needs a mesh" at solo drain solo

done_checks
