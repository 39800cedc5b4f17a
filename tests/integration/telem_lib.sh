# telem_lib.sh: telemetry helpers of the integration tests (sourced after
# lib.sh, with TEL the node's telemetry endpoint): the node's counters,
# samples sent through the real PUSH path, rows of a pump, and rows sent
# and stepped over.

stat() { tmc --json stats | jget ".telemetry.$1"; }
# wait_received N: until the node has taken N samples (or fail after 10 s)
wait_received() {
    local i
    for i in $(seq 100); do
        [ "$(stat received)" -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "the node received $(stat received) samples, expected $1"
}
send() { "$IT_BIN" telem-send "$TEL"; }

T0=1600000000000000000 # ns since the epoch
S=1000000000           # one second

# rows FROM COUNT FLOW: COUNT rows of a pump at 1 Hz (all eight signals,
# in the testbed's units), deterministic noise; flow in l/min
rows() {
    awk -v from="$1" -v n="$2" -v flow="$3" -v t0="$T0" -v s="$S" 'BEGIN {
        srand(from + 7)
        for (r = from; r < from + n; r++) {
            ts = sprintf("%.0f", t0 + r * s)
            printf "p1 vib1 %s %.6f g\n", ts, 0.026 + 0.0003 * (rand() - 0.5)
            printf "p1 vib2 %s %.6f g\n", ts, 0.040 + 0.0008 * (rand() - 0.5)
            printf "p1 current %s %.5f A\n", ts, 1.1 + 0.8 * (rand() - 0.5)
            printf "p1 pressure %s %.5f bar\n", ts, 0.05 + 0.8 * (rand() - 0.5)
            printf "p1 t_motor %s %.4f degC\n", ts, 79 + 0.4 * (rand() - 0.5)
            printf "p1 t_fluid %s %.4f degC\n", ts, 26 + 0.04 * (rand() - 0.5)
            printf "p1 voltage %s %.3f V\n", ts, 232 + 30 * (rand() - 0.5)
            printf "p1 flow %s %.4f l/min\n", ts, flow + 1.2 * (rand() - 0.5)
            print "--"
        }
    }'
}

# step FROM COUNT FLOW: send rows (in chunks within the horizon of 64
# steps) and step the node over them.
step() {
    local r=$1 end=$(($1 + $2)) n c
    while [ "$r" -lt "$end" ]; do
        c=$((end - r < 40 ? end - r : 40))
        n=$(stat received)
        rows "$r" "$c" "$3" | send
        wait_received $((n + 8 * c))
        expect_ok tmc run --ticks "$c"
        r=$((r + c))
    done
}
