# mqtt: measurements over MQTT through a real mosquitto broker on a
# loopback port: a node started before its broker connects once the broker
# comes up, logging the wait once; every payload form (a number, an object,
# a batch) reaches the twin through the same path as the PULL socket's
# samples (counters, contract, alignment, outputs, inspect); malformed
# topics and payloads are counted; retained messages are dropped; a broker
# stopped (SIGTERM, then SIGKILL) and started again is reconnected to and
# samples flow again; the node never crashes and stops cleanly.
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    echo "mqtt: SKIP: the mosquitto broker is not installed" \
        "(apt-get install mosquitto)" >&2
    exit 77
fi
if ! command -v mosquitto_pub >/dev/null 2>&1; then
    echo "mqtt: SKIP: mosquitto_pub is not installed" \
        "(apt-get install mosquitto-clients)" >&2
    exit 77
fi
. "$(dirname "$0")/lib.sh"

MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
BPORT=$(free_port)
BROKER=127.0.0.1:$BPORT
# max_queued_messages: the flood below is 3,000 messages; a node slowed
# by sanitizers on a busy machine must not lose some to the broker's
# default queue of 1,000 (that is the broker's policy, not the bridge's).
cat >"$WORK/broker.conf" <<EOF
listener $BPORT 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 10000
EOF

# start_broker: the broker on $BPORT, once it accepts connections.
start_broker() {
    "$MOSQUITTO" -c "$WORK/broker.conf" >>"$WORK/broker.log" 2>&1 &
    BROKER_PID=$!
    HELPER_PIDS+=("$BROKER_PID")
    watchdog "$BROKER_PID"
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$BPORT") 2>/dev/null; then
            return 0
        fi
        kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker exited"
        sleep 0.1
    done
    fail "the broker did not listen on $BPORT within 10 s"
}

# stop_broker SIGNAL
stop_broker() {
    kill "-$1" "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
}

pub() { mosquitto_pub -h 127.0.0.1 -p "$BPORT" -q 1 "$@"; }
stat() { tmc --json stats | jget ".telemetry.$1"; }
# wait_stat KEY N: until telemetry.KEY >= N (or fail after 15 s)
wait_stat() {
    for _ in $(seq 150); do
        [ "$(stat "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "telemetry.$1 is $(stat "$1"), expected at least $2"
}
# wait_connected true|false
wait_connected() {
    for _ in $(seq 200); do
        [ "$(stat mqtt.connected)" = "$1" ] && return 0
        sleep 0.1
    done
    fail "telemetry.mqtt.connected stayed $(stat mqtt.connected), expected $1"
}
# near GOT WANT: |GOT - WANT| <= 1e-9 (1 + |WANT|)
near() {
    awk -v g="$1" -v w="$2" 'BEGIN { d = g - w; if (d < 0) d = -d;
        a = w < 0 ? -w : w; exit !(d <= 1e-9 * (1 + a)) }'
}

# ---- a node started before its broker ---------------------------------------
oport=$(free_port)
OUT=tcp://127.0.0.1:$oport
start_node mq --tick 1 --site plant --outputs "$OUT" --mqtt "mqtt://$BROKER"
NODE=$NODE_PID
eq "$(stat mqtt.broker)" "$BROKER" "broker in stats"
eq "$(stat mqtt.client_id)" "twinmesh-mq" "default client id"
eq "$(stat mqtt.connected)" false "not connected without a broker"
sleep 2 # several attempts (0.25 s, then 0.5 s, 1 s, ...)
n=$(grep -c "mqtt: cannot connect to the broker $BROKER" "$WORK/mq.log" ||
    true)
eq "$n" 1 "the failing attempts logged once"
start_broker
wait_connected true
eq "$(stat mqtt.reconnects)" 0 "first connection is no reconnect"
grep -q "mqtt: connected to $BROKER as twinmesh-mq; subscribing to plant/+/+" \
    "$WORK/mq.log" || fail "no 'connected' line in the log"
ok
out=$(tmc stats)
grep -q "^mqtt  *$BROKER as twinmesh-mq, connected; 0 messages" <<<"$out" ||
    fail "stats text: $out"
ok

expect_ok tmc spawn p1 --model pumpmon
expect_ok tmc spawn p2 --model pumpmon
expect_ok tmc spawn o1 --model oscillator
# the subscription is in place once a message to us comes back counted
for _ in $(seq 50); do
    pub -t plant/nobody/flow -m 1
    [ "$(stat mqtt.messages)" -ge 1 ] && break
    sleep 0.2
done
m0=$(stat mqtt.messages)
r0=$(stat received)
[ "$m0" -ge 1 ] || fail "no message came through the broker"
eq "$(stat rejected.unknown_asset)" "$r0" "probes counted as unknown asset"

# ---- the payload forms, on their arrival time (p1) --------------------------
pub -t plant/p1/flow -m 0.0005                         # m^3/s, the contract's
pub -t plant/p1/current -m '{"value": 1100, "unit": "mA"}'
pub -t plant/p1/voltage -m '[{"value": 230}, {"value": 0.231, "unit": "kV"}]'
wait_stat received $((r0 + 4))
eq "$(stat accepted)" 4 "number, object and batch accepted"
tmc --json inspect p1 >"$WORK/p1.json"
near "$(jget .telemetry.flow.value <"$WORK/p1.json")" 0.0005 ||
    fail "p1 flow: $(cat "$WORK/p1.json")"
near "$(jget .telemetry.current.value <"$WORK/p1.json")" 1.1 ||
    fail "p1 current (mA converted): $(cat "$WORK/p1.json")"
eq "$(jget .telemetry.voltage.samples <"$WORK/p1.json")" 2 "voltage batch"
ok

# ---- rejections, counted per reason -----------------------------------------
r1=$(stat received)
mal=$(stat rejected.malformed)
long=$(printf 'a%.0s' $(seq 70))
head -c 1100000 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
echo 1 >>"$WORK/big.json"
pub -t plant/p1/nosuch -m 1                              # unknown signal
pub -t plant/o1/x -m 1                                   # no data contract
pub -t plant/p1/flow -m '{"value": 3, "unit": "kg"}'     # bad unit
pub -t plant/p1/vib1 -m '{"value": -3, "unit": "g"}'     # out of range
pub -t plant/p1/flow -m garbage                          # malformed: not JSON
pub -t plant/p1/flow -m '[]'                             # an empty batch
pub -t plant/p1/flow -m '"0.0005"'                       # a string
pub -t plant/p1/flow -n                                  # an empty payload
pub -t plant/p1/flow -m '{"value": 1, "value": 2}'       # a key twice
pub -t plant/p1/flow -f "$WORK/big.json"                 # over 1 MiB
pub -t plant//flow -m 1                                  # an empty asset
pub -t "plant/$long/flow" -m 1                           # asset too long
pub -t "plant/p1/$long" -m 1                             # signal too long
pub -t plant/p1/flow -m '[{"value": 0.0004}, {"ts": 1}, {"value": 1, "ts": -5}]'
wait_stat received $((r1 + 16))
eq "$(stat rejected.unknown_signal)" 2 "unknown signal, no contract"
eq "$(stat rejected.bad_unit)" 1 "bad unit"
eq "$(stat rejected.out_of_range)" 1 "out of range"
eq "$(stat rejected.malformed)" $((mal + 11)) "malformed topics and payloads"
eq "$(stat accepted)" 5 "the good sample of a bad batch"
eq "$(tmc --json stats | jget .state)" up "node alive after bad messages"
[ "$(stat mqtt.messages)" -eq $((m0 + 17)) ] ||
    fail "mqtt.messages $(stat mqtt.messages), expected $((m0 + 17))"
ok

# ---- time stamps: aligned, reordered, late, early; twin outputs (p2) --------
T0=1600000000000000000
S=1000000000
"$IT_BIN" telem-sub "$OUT" 24 20 >"$WORK/out.jsonl" &
sub=$!
CONSOLE_PIDS+=("$sub")
sleep 0.5
r2=$(stat received)
pub -t plant/p2/flow -m "{\"value\": 40, \"ts\": $T0, \"unit\": \"l/min\"}"
wait_stat received $((r2 + 1)) # the anchor first
batch=""
for r in 9 8 7 6 5 4 3 2 1; do
    batch="$batch{\"value\": $((40 + r)), \"ts\": $((T0 + r * S)),"
    batch="$batch \"unit\": \"l/min\"},"
done
pub -t plant/p2/flow -m "[${batch%,}]"
pub -t plant/p2/flow -m "{\"value\": 1, \"ts\": $((T0 - 1000 * S))}"
pub -t plant/p2/flow -m "{\"value\": 1, \"ts\": $((T0 + 100000 * S))}"
wait_stat received $((r2 + 12))
eq "$(stat rejected.late)" 1 "late"
eq "$(stat rejected.early)" 1 "early"
eq "$(stat accepted)" 15 "p2's ten samples"
expect_ok tmc run --ticks 12
wait "$sub" || fail "outputs: $(cat "$WORK/out.jsonl")"
for r in 1 5 9; do
    line=$(grep "\"asset\":\"p2\"" "$WORK/out.jsonl" |
        grep -F "\"ts\":$((T0 + r * S)),") ||
        fail "no output of p2 for row $r: $(cat "$WORK/out.jsonl")"
    got=$(jget .measured.flow <<<"$line")
    awk -v g="$got" -v w="$((40 + r))" \
        'BEGIN { exit !(g * 60000 > w - 1e-6 && g * 60000 < w + 1e-6) }' ||
        fail "row $r measured $got m^3/s, expected $((40 + r)) l/min"
    ok
done
out=$(tmc inspect p2)
grep -q "^           flow " <<<"$out" || fail "inspect p2 flow row: $out"
ok

# ---- a retained message is an old value: a node that subscribes later drops
# it ---------------------------------------------------------------------------
MQ_EP=$EP
pub -r -t plant/o1/x -m 1
wait_stat received $((r2 + 13)) # live, to the node already subscribed
start_node late --site plant --mqtt "$BROKER"
LATE=$NODE_PID
wait_connected true
for _ in $(seq 100); do
    [ "$(stat mqtt.retained)" -ge 1 ] && break
    sleep 0.1
done
eq "$(stat mqtt.retained)" 1 "the retained message counted"
eq "$(stat mqtt.messages)" 1 "one message"
eq "$(stat received)" 0 "and not taken as a sample"
eq "$(stat mqtt.client_id)" "twinmesh-late" "another node, another id"
stop_node "$LATE" || fail "the late node did not stop cleanly"
ok
pub -r -t plant/o1/x -n # clears the retained message
EP=$MQ_EP

# ---- a flood of QoS 1 messages (p3, one step) --------------------------------
expect_ok tmc spawn p3 --model pumpmon
r3=$(stat received)
m3=$(stat mqtt.messages)
a3=$(stat accepted)
awk -v t="$T0" 'BEGIN { for (i = 0; i < 3000; i++)
    printf "{\"value\": %.6f, \"ts\": %s}\n", 0.0005 + i * 1e-9, t }' |
    pub -t plant/p3/flow -l
wait_stat received $((r3 + 3000))
eq "$(stat mqtt.messages)" $((m3 + 3000)) "3000 messages"
eq "$(stat accepted)" $((a3 + 3000)) "3000 samples accepted"

# ---- the broker goes away and comes back: SIGTERM, then SIGKILL --------------
for sig in TERM KILL; do
    c=$(stat mqtt.reconnects)
    lost=$(grep -c "mqtt: lost the broker $BROKER" "$WORK/mq.log" || true)
    stop_broker "$sig"
    wait_connected false
    sleep 1 # attempts against no broker
    eq "$(tmc --json stats | jget .state)" up "node up without its broker"
    eq "$(grep -c "mqtt: lost the broker $BROKER" "$WORK/mq.log")" \
        $((lost + 1)) "the loss logged once ($sig)"
    start_broker
    wait_connected true
    eq "$(stat mqtt.reconnects)" $((c + 1)) "reconnected after $sig"
    r=$(stat received)
    a=$(stat accepted)
    for _ in $(seq 50); do # until the subscription is back
        pub -t plant/p3/flow -m "{\"value\": 0.0007, \"ts\": $T0}"
        [ "$(stat received)" -gt "$r" ] && break
        sleep 0.2
    done
    wait_stat received $((r + 1))
    [ "$(stat accepted)" -gt "$a" ] || fail "no sample accepted after $sig"
    ok
done
n=$(grep -c "mqtt: cannot connect to the broker $BROKER" "$WORK/mq.log")
[ "$n" -le 3 ] || fail "'cannot connect' logged $n times for 3 outages"
ok
kill -0 "$NODE" || fail "the node died"
stop_node "$NODE" || fail "the node did not stop cleanly"
ok
done_checks
