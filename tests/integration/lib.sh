# tests/integration/lib.sh: shared helpers of the integration tests.
#
# A test script is run by ctest as
#   bash TEST.sh NODE_BIN CONSOLE_BIN ITEST_BIN
# and sources this file. Nodes run on free loopback ports with data in a
# temporary directory; everything is driven through the twinmesh console.
# The EXIT trap kills what the test started (by pid: nodes, consoles,
# helpers such as an MQTT broker in HELPER_PIDS) and removes its files,
# whether the test passed or not.
set -euo pipefail
# A command that fails inside $(...) fails the substitution too (bash turns
# errexit off there otherwise: `d=$(scenario)` would pass with every
# command of scenario failing).
shopt -s inherit_errexit

if [ $# -lt 3 ]; then
    echo "usage: bash $0 NODE_BIN CONSOLE_BIN ITEST_BIN" >&2
    exit 2
fi
NODE_BIN=$1
TM_BIN=$2
IT_BIN=$3
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tm-$TEST_NAME.XXXXXX")
NODE_PIDS=()
CONSOLE_PIDS=()
WATCHDOG_PIDS=()
HELPER_PIDS=() # other servers a test started (a broker): killed on exit
TMUX_SOCKET=""
NETNS_LIST=() # network namespaces the test made: deleted on exit
MOUNTS=()     # file systems the test mounted: unmounted on exit
CHECKS=0
# Sanitizer builds are several times slower: timing goals are relaxed.
SANITIZED=${TM_ITEST_SANITIZED:-0}

cleanup() {
    local rc=$?
    set +e
    if [ -n "$TMUX_SOCKET" ]; then
        tmux -S "$TMUX_SOCKET" kill-server 2>/dev/null
    fi
    for pid in "${CONSOLE_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for pid in "${NODE_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    for pid in "${HELPER_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    for pid in "${WATCHDOG_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for ns in "${NETNS_LIST[@]}"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    for mnt in "${MOUNTS[@]}"; do
        umount -l "$mnt" 2>/dev/null
    done
    if [ "$rc" -ne 0 ]; then
        if [ -f "$WORK/deadline.log" ]; then
            echo "---- $TEST_NAME ran past its deadline:" >&2
            cat "$WORK/deadline.log" >&2
        fi
        echo "---- $TEST_NAME failed; node logs:" >&2
        for f in "$WORK"/*.log; do
            [ -f "$f" ] && [ "$f" != "$WORK/deadline.log" ] || continue
            echo "---- $f" >&2
            tail -n 40 "$f" >&2
        done
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 124' TERM # the deadline below: the EXIT trap cleans up

# Every command of the test is traced to $WORK/trace. A test still running
# after TM_ITEST_DEADLINE seconds (default 560, under ctest's 600) says
# where it stands: the deadline writes the last commands and the test's
# processes to $WORK/deadline.log (printed by the EXIT trap with the node
# logs), ends those processes and then the test.
exec {TRACE_FD}>"$WORK/trace"
BASH_XTRACEFD=$TRACE_FD
PS4='+ ${BASH_SOURCE[0]##*/}:${LINENO}: '
set -x
deadline() {
    local script=$$
    (
        set +x
        trap - EXIT TERM
        trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
        sleep "${TM_ITEST_DEADLINE:-560}" &
        sleeper=$!
        wait "$sleeper"
        {
            echo "still running after ${TM_ITEST_DEADLINE:-560} s;" \
                "the last commands:"
            tail -n 30 "$WORK/trace"
            echo "its processes:"
            ps -o pid,etimes,stat,args --ppid "$script"
        } >"$WORK/deadline.log" 2>&1
        for pid in $(ps -o pid= --ppid "$script"); do
            [ "$pid" -eq "$BASHPID" ] || kill -KILL "$pid" 2>/dev/null
        done
        kill -TERM "$script"
    ) </dev/null >/dev/null 2>&1 &
    WATCHDOG_PIDS+=("$!")
}
deadline

fail() {
    echo "FAIL ($TEST_NAME): $*" >&2
    exit 1
}

ok() {
    CHECKS=$((CHECKS + 1))
}

free_port() {
    "$IT_BIN" port
}

# start_node NAME [node flags...]: start a node with data in $WORK/NAME on
# a free port; sets EP (its console endpoint) and NODE_PID. The clock is
# paused unless the flags say otherwise. Waits until the node answers.
start_node() {
    local name=$1 port
    shift
    port=$(free_port)
    restart_node "$name" "tcp://127.0.0.1:$port" "$@"
}

# If this script is killed (e.g. by a ctest timeout) its EXIT trap does
# not run: a watchdog ends its node (or helper) after TM_ITEST_LIFETIME
# seconds, if that pid is still a process of this test (its command line
# names $WORK).
watchdog() {
    local pid=$1
    (
        set +x
        trap - EXIT
        trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
        sleep "${TM_ITEST_LIFETIME:-540}" &
        sleeper=$!
        wait "$sleeper"
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
            grep -qF -- "$WORK"; then
            kill -KILL "$pid" 2>/dev/null
        fi
    ) </dev/null >/dev/null 2>&1 &
    WATCHDOG_PIDS+=("$!")
}

# restart_node NAME EP [flags...]: start again on the same data and port.
restart_node() {
    local name=$1
    EP=$2
    shift 2
    "$NODE_BIN" --name "$name" --data "$WORK/$name" --console "$EP" \
        --clock paused --workers 2 "$@" >>"$WORK/$name.log" 2>&1 &
    NODE_PID=$!
    NODE_PIDS+=("$NODE_PID")
    watchdog "$NODE_PID"
    wait_ready "$NODE_PID" "$name"
}

# start_pair [node flags...]: nodes a and b in a mesh of two, on free
# ports, each seeing the other alive; sets EPA and EPB (their console
# endpoints) and EP to a's.
start_pair() {
    local ma mb
    ma="tcp://127.0.0.1:$(free_port)"
    mb="tcp://127.0.0.1:$(free_port)"
    start_node a --mesh "$ma" --peer "$ma" --peer "$mb" --heartbeat 0.05 "$@"
    EPA=$EP
    start_node b --mesh "$mb" --peer "$ma" --peer "$mb" --heartbeat 0.05 "$@"
    EPB=$EP
    for _ in $(seq 100); do
        [ "$(tmc --json nodes | "$IT_BIN" count state=alive)" = 1 ] &&
            break
        sleep 0.1
    done
    EP=$EPA
}

wait_ready() {
    local pid=$1 name=$2
    for _ in $(seq 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            fail "node $name exited during start-up"
        fi
        if "$TM_BIN" -c "$EP" -t 0.3 nodes >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    fail "node $name did not answer within 30 s"
}

# stop_node PID: SIGTERM, wait, return the exit status.
stop_node() {
    local pid=$1 rc=0
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    return "$rc"
}

tmc() {
    "$TM_BIN" -c "$EP" "$@"
}

# here: the name of the node at $EP (in a mesh, `spawn --node "$(here)"`
# keeps an actor on the node asked rather than placing it by load)
here() {
    "$TM_BIN" -c "$EP" --json nodes | "$IT_BIN" get '.[0].name'
}

# bg_console OUT ERR ARGS...: a console in the background (stdout to OUT,
# stderr to ERR); sets BG_PID, the console's own pid (not a subshell's),
# which the EXIT trap kills if it is still running.
bg_console() {
    local out=$1 err=$2
    shift 2
    "$TM_BIN" -c "$EP" "$@" >"$out" 2>"$err" &
    BG_PID=$!
    CONSOLE_PIDS+=("$BG_PID")
}

# expect_ok CMD...: the console command succeeds.
expect_ok() {
    local out
    if ! out=$("$@" 2>&1); then
        fail "expected success: $* -> $out"
    fi
    ok
}

# expect_fail STATUS SUBSTRING CMD...: exits with STATUS and prints a
# message containing SUBSTRING on stderr.
expect_fail() {
    local want=$1 msg=$2 rc=0 err
    shift 2
    err=$("$@" 2>&1 >/dev/null) || rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "expected exit $want, got $rc: $* -> $err"
    fi
    if ! grep -qF -- "$msg" <<<"$err"; then
        fail "expected message '$msg': $* -> $err"
    fi
    ok
}

# jget PATH: value at PATH of the JSON document on stdin.
jget() {
    "$IT_BIN" get "$1"
}

# jhas PATH:TYPE...: the JSON document on stdin has these fields.
jhas() {
    "$IT_BIN" has "$@" || fail "JSON shape: $*"
    ok
}

eq() { # eq ACTUAL EXPECTED DESCRIPTION
    if [ "$1" != "$2" ]; then
        fail "$3: got '$1', expected '$2'"
    fi
    ok
}

# A sanitizer's report in a log of the test's processes fails the test:
# ThreadSanitizer reports and lets the node go on, LeakSanitizer reports
# when a node stopped with SIGTERM exits, and a node that aborts on an
# ASan or UBSan error may have been killed by the test before it noticed.
S_REPORT='WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer|runtime error:'
sanitizer_reports() {
    local f
    for f in "$WORK"/*.log; do
        [ -f "$f" ] || continue
        if grep -qE "$S_REPORT" "$f"; then
            grep -E -A30 "$S_REPORT" "$f" | head -60 >&2
            fail "a sanitizer report in $(basename "$f")"
        fi
    done
}

done_checks() {
    sanitizer_reports
    echo "$TEST_NAME: $CHECKS checks passed"
}
