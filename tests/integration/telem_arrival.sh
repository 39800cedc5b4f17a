# telem_arrival: with [telemetry] window = 0 a twin steps when its row is
# complete, not when the real-time clock reaches the row's tick. A node
# with a 6 s tick: a complete row is answered within seconds (its step
# runs early), the next tick's row too (2 ticks ahead of the clock at
# most), the one after waits for the clock; a part of a row (7 of 8
# signals) waits for the clock; stats counts the ticks stepped early and
# the node's latency from a row's first sample to its output.
. "$(dirname "$0")/lib.sh"

tport=$(free_port)
oport=$(free_port)
TEL=tcp://127.0.0.1:$tport
OUT=tcp://127.0.0.1:$oport
cfg=$WORK/arrival.ini
printf '[telemetry]\nwindow = 0\n' >"$cfg"
start_node arr --tick 6 --telemetry "$TEL" --outputs "$OUT" --config "$cfg"
. "$(dirname "$0")/telem_lib.sh"
S=6000000000 # rows one tick apart
expect_ok tmc spawn p1 --model pumpmon
expect_ok tmc clock realtime
tick() { tmc --json clock | jget .tick; }
# the start of a 6 s tick: the clock's own step is 5 s away or more
t=$(tick)
for _ in $(seq 120); do
    [ "$(tick)" != "$t" ] && break
    sleep 0.1
done
t0=$(tick)

# ---- a complete row: stepped at once, and the next tick's as well ------------
"$IT_BIN" telem-sub "$OUT" 2 8 >"$WORK/early.jsonl" &
sub=$!
sleep 0.5
rows 0 1 32 | send
wait_received 8
for _ in $(seq 50); do
    [ "$(tick)" -ge $((t0 + 1)) ] && break
    sleep 0.1
done
eq "$(tick)" $((t0 + 1)) "a complete row is stepped before its tick is due"
rows 1 1 32 | send
wait_received 16
wait "$sub" || fail "no outputs of the two rows within 8 s: $(cat "$WORK/early.jsonl")"
eq "$(tick)" $((t0 + 2)) "the next tick's row too"
eq "$(sed -n 1p "$WORK/early.jsonl" | jget .tick)" $((t0 + 1)) \
    "the first output is the first row's step"
eq "$(stat latency.early_ticks)" 2 "two ticks stepped on arrival"
rows_seen=$(stat latency.rows)
[ "$rows_seen" -ge 2 ] || fail "latency rows: $rows_seen"
ok
p50=$(stat latency.p50_us)
awk "BEGIN {exit !($p50 > 0 && $p50 < 1000000)}" ||
    fail "the node's latency p50 $p50 us (a row waited for the clock?)"
ok

# ---- two ticks ahead of the clock: the row waits for the clock --------------
rows 2 1 32 | send
wait_received 24
sleep 1.5
eq "$(tick)" $((t0 + 2)) "a row three ticks ahead of the clock waits for it"
eq "$(stat latency.early_ticks)" 2 "no more ticks stepped early"

# ---- a part of a row waits for the clock -------------------------------------
# let the clock catch up with the early ticks, to the start of a tick
t=$(tick)
for _ in $(seq 400); do
    [ "$(tick)" -ge $((t0 + 4)) ] && break # about 24 s after t0
    sleep 0.1
done
t4=$(tick)
row=$((t4 - t0)) # row r is tick t0 + 1 + r: this one the next tick
rows "$row" 1 32 | grep -v '^p1 flow' | send
wait_received 31
sleep 1.5
eq "$(tick)" "$t4" "seven signals of eight: the step waits for the clock"
echo "p1 flow $((T0 + row * S)) 32 l/min" | { cat; echo --; } | send
wait_received 32
for _ in $(seq 50); do
    [ "$(tick)" -gt "$t4" ] && break
    sleep 0.1
done
eq "$(tick)" $((t4 + 1)) "the eighth signal completes the row: stepped"
eq "$(stat latency.early_ticks)" 3 "three ticks stepped on arrival"
eq "$(stat rejected.late)" 0 "no sample came after its step"
stop_node "$NODE_PID" || fail "SIGTERM exit status"
done_checks
