# failover_auto: automatic failover under etcd leases, with a real
# partition. Three hosts (network namespaces made by this test) run nodes
# a, b, c with [mesh] etcd (an etcd of the test's own on host b), a lease
# TTL of 8 s, failover = auto and standby copies (a's on b). Then a is cut
# off from everything. It stops stepping before its lease can expire (its
# tick freezes and it refuses changes); a manual failover is refused while
# its key lives; once the key is gone b takes a's actors over by itself,
# with what a acknowledged - and only after a stopped (the nodes' logs
# share one clock). Healed, a finds itself taken over, lets its copies go
# and releases the marker; every actor runs once, on b, and the mesh goes
# on. Skipped (77) without namespaces or without /usr/bin/etcd.
. "$(dirname "$0")/lib.sh"

ETCD=${TM_ETCD:-/usr/bin/etcd}
if [ ! -x "$ETCD" ]; then
    echo "SKIPPED: no etcd at $ETCD (tools/dev.sh deps installs etcd-server)"
    exit 77
fi
NETNS_NETEM=""
. "$(dirname "$0")/netns.sh"

NAMES=(a b c)
declare -A PID STANDBY=([a]=b [b]=c [c]=a)
netns_hosts "${NAMES[@]}"
netns_link a b 1
netns_link b c 2
netns_link a c 3
TTL=8
ETCD_URL="http://${HOST[b]}:2379"

in_ns b "$ETCD" --name e --data-dir "$WORK/etcd" \
    --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
    --listen-peer-urls "http://${HOST[b]}:2380" \
    --initial-advertise-peer-urls "http://${HOST[b]}:2380" \
    --initial-cluster "e=http://${HOST[b]}:2380" >"$WORK/etcd.out" 2>&1 &
HELPER_PIDS+=("$!")
watchdog "$!"
for _ in $(seq 100); do
    in_ns b bash -c "exec 3<>/dev/tcp/${HOST[b]}/2379" 2>/dev/null && break
    sleep 0.1
done

at() { # at NODE ARGS...: a console in NODE's namespace
    local n=$1
    shift
    in_ns "$n" "$TM_BIN" -c tcp://127.0.0.1:7700 -t 20 "$@"
}
stat_of() { # stat_of NODE FIELD
    at "$1" --json stats | jget ".$2"
}
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.2
    done
}

PEERS=()
for n in "${NAMES[@]}"; do
    PEERS+=(--peer "tcp://${HOST[$n]}:7800")
done
for n in "${NAMES[@]}"; do
    in_ns "$n" "$NODE_BIN" --name "$n" --data "$WORK/$n" \
        --console tcp://127.0.0.1:7700 --mesh "tcp://${HOST[$n]}:7800" \
        "${PEERS[@]}" --clock paused --workers 1 --heartbeat 0.1 \
        --suspect 3 --dead 20 --replicas 1 --standby "${STANDBY[$n]}" \
        --etcd "$ETCD_URL" --lease-ttl "$TTL" --failover auto \
        >>"$WORK/$n.log" 2>&1 &
    PID[$n]=$!
    NODE_PIDS+=("${PID[$n]}")
    watchdog "${PID[$n]}"
done
all_alive() {
    local n
    for n in "${NAMES[@]}"; do
        [ "$(at "$n" --json nodes 2>/dev/null | "$IT_BIN" count state=alive)" = 2 ] ||
            return 1
    done
}
wait_for 30 all_alive || fail "the three hosts did not see each other"
ok
for n in "${NAMES[@]}"; do
    eq "$(stat_of "$n" lease.safe)" true "$n holds its lease"
done

# a's actors, one change acknowledged (on its standby, b), the mesh in
# real time
N=20
for i in $(seq 0 $((N - 1))); do
    at a spawn "o$i" --model oscillator --node a >/dev/null
done
expect_ok at a set o1 k=7
expect_ok at a clock realtime
sleep 1
expect_fail 1 "node a is alive" at c failover a

# ---- the partition: a reaches nothing
t_cut=$(date -u +%Y-%m-%dT%H:%M:%S.%3N)
ip -n "$TAG-a" link set vab down
ip -n "$TAG-a" link set vac down
# c sees a dead (2 s of heartbeats) before a's key can be gone (at least
# TTL - TTL/3 after the cut): a manual failover is refused while it lives
c_sees_a_dead() {
    at c --json nodes | "$IT_BIN" get ".[$(at c --json nodes |
        "$IT_BIN" index name a)].state" | grep -qx dead
}
wait_for 10 c_sees_a_dead || fail "c does not see a dead"
out=$(at c failover a 2>&1) && fail "failover while a's lease lives: $out"
grep -q "lease in etcd is alive" <<<"$out" ||
    fail "failover refused for another reason: $out"
ok

a_stopped() { [ "$(stat_of a lease.safe)" = false ]; }
wait_for $((TTL + 5)) a_stopped || fail "a still safe after the cut"
ok
t1=$(at a --json clock | jget tick)
sleep 0.5
eq "$(at a --json clock | jget tick)" "$t1" "a does not step without its lease"
expect_fail 1 "lease in etcd is not safe" at a set o1 k=9

# ---- b takes over by itself once a's key is gone
b_runs_o1() {
    [ "$(at c --json inspect o1 2>/dev/null | jget .node)" = b ]
}
wait_for $((TTL + 20)) b_runs_o1 || fail "b did not take a's actors over"
ok
eq "$(at b --json inspect o1 | jget .params.k)" 7.0 \
    "the acknowledged change survives"
eq "$(stat_of b lease.auto_failovers)" 1 "one automatic failover on b"
t_stop=$(grep -m1 "not stepping after tick" "$WORK/a.log" | cut -d' ' -f1)
t_take=$(grep -m1 "mesh: failover: node b runs" "$WORK/b.log" | cut -d' ' -f1)
[ -n "$t_stop" ] && [ -n "$t_take" ] || fail "no stop ($t_stop) or takeover ($t_take) in the logs"
[[ "$t_cut" < "$t_stop" && "$t_stop" < "$t_take" ]] ||
    fail "a stopped at $t_stop, b took over at $t_take (cut $t_cut)"
ok
echo "cut $t_cut, a stopped $t_stop, b took over $t_take"
eq "$(at a --json clock | jget tick)" "$t1" "a still frozen during the takeover"

# ---- healed: a lets its copies go, releases the marker, steps again
ip -n "$TAG-a" link set vab up
ip -n "$TAG-a" link set vac up
ip -n "$TAG-a" route replace "${HOST[b]}/32" via 10.77.1.2
ip -n "$TAG-a" route replace "${HOST[c]}/32" via 10.77.3.2
a_released() {
    [ "$(stat_of a lease.safe)" = true ] &&
        [ "$(stat_of a lease.taken_by)" = "" ]
}
wait_for 40 a_released || fail "a did not release the takeover marker"
ok
grep -q "took this node's actors over" "$WORK/a.log" ||
    fail "a did not see itself taken over"
ok
eq "$(at a --json actors | "$IT_BIN" count)" "$N" "every actor once"
eq "$(at a --json actors | "$IT_BIN" count node=b)" "$N" "all of them on b"
eq "$(stat_of c mesh.id_conflicts)" 0 "no actor claimed twice"
t2=$(at c --json clock | jget tick)
sleep 0.5
[ "$(at a --json clock | jget tick)" -gt "$t2" ] || fail "the mesh does not step"
ok
expect_ok at a set o1 k=8
eq "$(at b --json inspect o1 | jget .params.k)" 8.0 "changes work again"
done_checks
