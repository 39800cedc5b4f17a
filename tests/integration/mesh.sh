# mesh: three node processes on loopback form a mesh (one shared peer
# list, each skipping its own endpoint); any console sees every node and
# every actor; requests about an actor on another node are answered by its
# owner; links across nodes carry values tick by tick. The same coupled
# scenario placed on one node, on a node outside any mesh, and spread over
# three nodes in several ways, with 1 or 2 workers, gives the same mesh
# digest; the states match an independent computation of the coupling rule
# (tm_itest chain-ref). Links with a delay of 3 ticks give the same digest
# on one node and spread over three.
. "$(dirname "$0")/lib.sh"

NAMES=(a b c)
declare -A CEP MEP PID

# mesh_up ROUND WORKERS: three fresh nodes a, b, c (data $WORK/ROUND-NAME).
mesh_up() {
    local round=$1 workers=$2 peers=() n
    for n in "${NAMES[@]}"; do
        MEP[$n]="tcp://127.0.0.1:$(free_port)"
        CEP[$n]="tcp://127.0.0.1:$(free_port)"
    done
    for n in "${NAMES[@]}"; do
        peers+=(--peer "${MEP[$n]}") # the same list everywhere, self included
    done
    for n in "${NAMES[@]}"; do
        "$NODE_BIN" --name "$n" --site "site-$n" --data "$WORK/$round-$n" \
            --console "${CEP[$n]}" --mesh "${MEP[$n]}" "${peers[@]}" \
            --clock paused --workers "$workers" --heartbeat 0.05 \
            >>"$WORK/$round-$n.log" 2>&1 &
        PID[$n]=$!
        NODE_PIDS+=("${PID[$n]}")
        watchdog "${PID[$n]}"
        EP=${CEP[$n]}
        wait_ready "${PID[$n]}" "$n"
    done
    # every node sees the other two alive
    for _ in $(seq 100); do
        local all=1
        for n in "${NAMES[@]}"; do
            [ "$(at "$n" --json nodes | jcount state=alive)" = 2 ] ||
                all=0
        done
        [ "$all" = 1 ] && return 0
        sleep 0.1
    done
    fail "the three nodes did not see each other alive within 10 s"
}

mesh_down() {
    local n
    for n in "${NAMES[@]}"; do
        stop_node "${PID[$n]}" || fail "node $n did not stop cleanly"
    done
}

jcount() { # jcount [KEY=VALUE]: entries of the JSON array on stdin
    "$IT_BIN" count "$@"
}

at() { # at NODE ARGS...: a console on NODE's console endpoint
    local n=$1
    shift
    "$TM_BIN" -c "${CEP[$n]}" "$@"
}

OSC=8 # oscillators o0..o7, springs s0..s6 between neighbours

# scenario CONSOLE_NODE PLACEMENT...: build the chain through the console of
# CONSOLE_NODE, actor i (o0..o7, then s0..s6) on PLACEMENT[i mod len];
# "-" places every actor on the console's own node (--node CONSOLE_NODE:
# without --node a mesh would place them by load).
scenario() {
    local via=$1 i k=0 node
    shift
    local pl=("$@")
    place() {
        node=${pl[$((k % ${#pl[@]}))]}
        k=$((k + 1))
        if [ "$node" = "-" ]; then
            PLACE=(--node "$via")
        else
            PLACE=(--node "$node")
        fi
    }
    for i in $(seq 0 $((OSC - 1))); do
        place
        at "$via" spawn "o$i" --model oscillator --param "x0=0.0$((i + 1))" \
            --param "c=0.$i" "${PLACE[@]}" >/dev/null
    done
    for i in $(seq 0 $((OSC - 2))); do
        place
        at "$via" spawn "s$i" --model spring --param "k=$((20 + i))" \
            "${PLACE[@]}" >/dev/null
    done
    for i in $(seq 0 $((OSC - 2))); do
        at "$via" link "o$i.x" "s$i.xa" >/dev/null
        at "$via" link "o$((i + 1)).x" "s$i.xb" >/dev/null
        at "$via" link "s$i.fa" "o$i.fr" "${DELAY[@]}" >/dev/null
        at "$via" link "s$i.fb" "o$((i + 1)).fl" "${DELAY[@]}" >/dev/null
    done
}
DELAY=()

TICKS=150

# run_and_hash NODE: run the mesh TICKS ticks from NODE's console, print
# the mesh digest asked on another node.
run_and_hash() {
    local via=$1 out
    out=$(at "$via" --json run --ticks "$TICKS")
    eq "$(jget tick <<<"$out")" "$TICKS" "run from $via ends on tick $TICKS"
    for n in "${NAMES[@]}"; do
        eq "$(at "$n" --json clock | jget tick)" "$TICKS" "node $n's tick"
    done
    at c --json hash | jget digest
}

# ---- a node outside any mesh: the reference digest -----------------------
start_node solo --workers 1
for i in $(seq 0 $((OSC - 1))); do
    tmc spawn "o$i" --model oscillator --param "x0=0.0$((i + 1))" \
        --param "c=0.$i" >/dev/null
done
for i in $(seq 0 $((OSC - 2))); do
    tmc spawn "s$i" --model spring --param "k=$((20 + i))" >/dev/null
done
for i in $(seq 0 $((OSC - 2))); do
    tmc link "o$i.x" "s$i.xa" >/dev/null
    tmc link "o$((i + 1)).x" "s$i.xb" >/dev/null
    tmc link "s$i.fa" "o$i.fr" >/dev/null
    tmc link "s$i.fb" "o$((i + 1)).fl" >/dev/null
done
tmc run --ticks "$TICKS" >/dev/null
REF=$(tmc --json hash | jget digest)
# the states against an independent computation of the coupling rule
for i in $(seq 0 $((OSC - 1))); do
    tmc --json inspect "o$i" | jget state.x
done >"$WORK/solo.x"
"$IT_BIN" chain-ref "$OSC" "$TICKS" 0.05 >"$WORK/ref.x"
"$IT_BIN" near "$WORK/solo.x" "$WORK/ref.x" 1e-12 ||
    fail "states differ from the reference computation of the coupling rule"
ok
stop_node "$NODE_PID" || fail "solo node did not stop cleanly"

# ---- membership and location transparency --------------------------------
mesh_up r0 2
out=$(at b --json nodes)
eq "$(jget "[0].name" <<<"$out")" b "nodes lists the asking node first"
eq "$(jcount <<<"$out")" 3 "nodes lists three nodes (own endpoint skipped)"
jhas "[1].name:string" "[1].site:string" "[1].state:string" "[1].actors:integer" \
    "[1].tick:integer" "[1].lag:integer" "[1].mesh:string" "[1].incarnation:integer" \
    <<<"$out"
expect_ok at a spawn p1 --model pump --node c
eq "$(at b --json inspect p1 | jget node)" c "inspect from b shows the owner"
eq "$(at a --json actors | jget "[0].node")" c "actors from a lists c's actor"
expect_fail 1 "already exists on node c" at b spawn p1 --model pump
expect_fail 1 "no node 'zz' in the mesh" at b spawn p2 --model pump --node zz
# a watch of c's actor from a: c serves the stream, a relays it; Ctrl-C
# and a console killed -9 end it at c too
eq "$(at a --json watch p1 --count 1 | jget .id)" p1 "watch from a of c's actor"
expect_ok at a clock fast
out=$(at a --json watch p1 speed --count 3)
eq "$(wc -l <<<"$out")" 3 "three items of a remote watch"
t0=$(head -n 1 <<<"$out" | jget .tick)
t2=$(tail -n 1 <<<"$out" | jget .tick)
[ "$t2" -gt "$t0" ] || fail "remote watch items do not advance: $out"
ok
c_streams() {
    at c --json stats | jget .console.streams
}
rc=0
timeout -k 10 --preserve-status -s INT 2 "$TM_BIN" -c "${CEP[a]}" watch p1 >/dev/null || rc=$?
eq "$rc" 0 "a remote watch ended by Ctrl-C"
for _ in $(seq 50); do
    [ "$(c_streams)" = 0 ] && break
    sleep 0.1
done
eq "$(c_streams)" 0 "Ctrl-C ended the stream at the owner"
"$TM_BIN" -c "${CEP[a]}" watch p1 >/dev/null 2>&1 &
gone=$!
CONSOLE_PIDS+=("$gone")
for _ in $(seq 50); do
    [ "$(c_streams)" = 1 ] && break
    sleep 0.1
done
eq "$(c_streams)" 1 "the owner serves the remote watch"
kill -KILL "$gone"
wait "$gone" 2>/dev/null || true
for _ in $(seq 100); do
    [ "$(c_streams)" = 0 ] && break
    sleep 0.1
done
eq "$(c_streams)" 0 "a console gone: the owner's stream ends"
expect_ok at a clock pause
expect_ok at b set p1 head_rated=35
eq "$(at c --json inspect p1 | jget params.head_rated)" 35.0 "set passed on to c"
expect_ok at a kill p1
eq "$(at c --json actors | jcount)" 0 "kill passed on to c"
mesh_down

# ---- placements: all on one node, and spread in several ways -------------
round=1
# WORKERS CONSOLE PLACEMENT...
for spec in "2 a -" "1 a a b c" "2 b c a b b" "1 c b b a c a" "2 a a b"; do
    read -r workers via placement <<<"$spec"
    mesh_up "r$round" "$workers"
    # shellcheck disable=SC2086
    scenario "$via" $placement
    d=$(run_and_hash b)
    eq "$d" "$REF" "digest with placement '$placement' and $workers workers"
    if [ "$placement" != "-" ]; then
        n_in=$(at a --json stats | jget mesh.batches_in)
        [ "$n_in" -ge "$TICKS" ] || fail "a took $n_in link batches"
        eq "$(at a --json stats | jget mesh.batches_stale)" 0 "stale batches"
    fi
    mesh_down
    round=$((round + 1))
done

# ---- link delays: the same on one node and spread over three -------------
DELAY=(--delay 3)
ref_d=
for spec in "1 a -" "2 a a b c" "1 b c a b b"; do
    read -r workers via placement <<<"$spec"
    mesh_up "r$round" "$workers"
    # shellcheck disable=SC2086
    scenario "$via" $placement
    d=$(run_and_hash b)
    if [ -z "$ref_d" ]; then
        ref_d=$d
        [ "$d" != "$REF" ] || fail "a delay of 3 ticks changed nothing"
        ok
    else
        eq "$d" "$ref_d" "digest with delay 3, placement '$placement'"
    fi
    mesh_down
    round=$((round + 1))
done

done_checks
