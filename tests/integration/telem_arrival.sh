# telem_arrival: with [telemetry] window = 0 a twin steps when its row is
# complete, not when the real-time clock reaches the row's tick. On a node
# with a 30 s tick: a part of a row (7 of 8 signals) waits for the clock;
# the eighth signal completes it and the step runs at once; the next
# tick's row too (2 ticks ahead of the clock at most); the one after
# waits for the clock. stats counts the ticks stepped early and the
# node's latency from a row's first sample to its output.
. "$(dirname "$0")/lib.sh"

tport=$(free_port)
oport=$(free_port)
TEL=tcp://127.0.0.1:$tport
OUT=tcp://127.0.0.1:$oport
cfg=$WORK/arrival.ini
printf '[telemetry]\nwindow = 0\n' >"$cfg"
start_node arr --tick 30 --telemetry "$TEL" --outputs "$OUT" --config "$cfg"
. "$(dirname "$0")/telem_lib.sh"
S=30000000000 # rows one tick apart
expect_ok tmc spawn p1 --model pumpmon
tick() { tmc --json clock | jget .tick; }
t0=$(tick)
# from now on tick t0 + k is due k x 30 s later: everything below runs
# before the clock's own first step
expect_ok tmc clock realtime
"$IT_BIN" telem-sub "$OUT" 2 9 >"$WORK/early.jsonl" &
sub=$!
sleep 0.5

# ---- a part of a row waits for the clock -------------------------------------
rows 0 1 32 | grep -v '^p1 flow' | send # anchors p1: row r is tick t0+1+r
wait_received 7
sleep 1.5
eq "$(tick)" "$t0" "seven signals of eight: the step waits for the clock"
eq "$(stat latency.early_ticks)" 0 "nothing stepped early"

# ---- the eighth completes it: stepped at once, and the next tick's row too --
{
    echo "p1 flow $T0 32 l/min"
    echo "--"
} | send
wait_received 8
for _ in $(seq 50); do
    [ "$(tick)" -ge $((t0 + 1)) ] && break
    sleep 0.1
done
eq "$(tick)" $((t0 + 1)) "the complete row is stepped before its tick is due"
rows 1 1 32 | send
wait_received 16
wait "$sub" || fail "no outputs of the two rows within 9 s: $(cat "$WORK/early.jsonl")"
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

# ---- three ticks ahead of the clock: the row waits for it --------------------
rows 2 1 32 | send
wait_received 24
sleep 1.5
eq "$(tick)" $((t0 + 2)) "a row three ticks ahead of the clock waits for it"
eq "$(stat latency.early_ticks)" 2 "no more ticks stepped early"
eq "$(stat rejected.late)" 0 "no sample came after its step"
stop_node "$NODE_PID" || fail "SIGTERM exit status"
done_checks
