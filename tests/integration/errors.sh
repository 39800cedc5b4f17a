# errors: every error case of the console gets its own clear message and
# a non-zero exit; malformed requests never take the node down.
. "$(dirname "$0")/lib.sh"

start_node enode

expect_ok tmc spawn p1 --model pump
expect_ok tmc spawn t1 --model tank
expect_ok tmc spawn o1 --model oscillator
expect_ok tmc link p1.flow t1.qin

# unknown actor
expect_fail 1 "unknown actor 'ghost'" tmc inspect ghost
expect_fail 1 "unknown actor 'ghost'" tmc kill ghost
expect_fail 1 "unknown actor 'ghost'" tmc set ghost k=1
expect_fail 1 "unknown actor 'ghost'" tmc watch ghost
expect_fail 1 "unknown actor 'ghost' (link source)" tmc link ghost.x o1.fl
expect_fail 1 "unknown actor 'ghost' (link destination)" \
    tmc link o1.x ghost.fl

# unknown model, version, fidelity
expect_fail 1 "unknown model family 'pmup' (known: " \
    tmc spawn a1 --model pmup
expect_fail 1 "unknown version 9.9.9 of model pump (known versions: 1.0.0" \
    tmc spawn a1 --model pump@9.9.9
expect_fail 1 "model spring has no medium tier" \
    tmc spawn a1 --model spring --fidelity medium
expect_fail 1 "unknown fidelity 'best'" \
    tmc spawn a1 --model pump --fidelity best

# duplicate id, bad id
expect_fail 1 "actor id 'p1' already exists" tmc spawn p1 --model pump
expect_fail 1 "bad actor id 'a b'" tmc spawn "a b" --model pump
expect_fail 1 "bad actor id 'x.y'" tmc spawn x.y --model pump
long=$(printf 'a%.0s' $(seq 65))
expect_fail 1 "bad actor id '$long'" tmc spawn "$long" --model pump
expect_fail 1 "bad actor id prefix 'q!'" tmc spawn-many 'q!' 3 --model tank
expect_fail 1 "actor id 'p1' already exists; nothing was spawned" \
    tmc spawn-many p 3 --model pump
eq "$(tmc ids p | tr '\n' ' ')" "p1 " "failed spawn-many left nothing"

# unknown port (output, parameter, set name, watch signal)
expect_fail 1 "actor p1 (pump) has no output 'flo' (outputs: speed, flow" \
    tmc link p1.flo t1.qin
expect_fail 1 "has no parameter 'kk' (parameters: m, k, c" \
    tmc spawn o2 --model oscillator --param kk=1
expect_fail 1 "actor o1 (oscillator) has no parameter, state or input 'z'" \
    tmc set o1 z=1
expect_fail 1 "actor o1 (oscillator) has no signal 'zz'" tmc watch o1 zz

# linking an output to a missing input: its own message
expect_fail 1 "cannot link to a missing input: actor t1 (tank) has no input 'qin2' (inputs: qin, qout)" \
    tmc link p1.flow t1.qin2

# bad parameter values
expect_fail 1 "bad parameter value: k = -5 is outside [0, " \
    tmc spawn o2 --model oscillator --param k=-5
expect_fail 1 "bad parameter value 'k=abc': 'abc' is not a finite number" \
    tmc spawn o2 --model oscillator --param k=abc
expect_fail 1 "bad parameter value 'k=nan'" tmc set o1 k=nan
expect_fail 1 "bad parameter value: o1.m = 0 is outside" tmc set o1 m=0
expect_fail 1 "bad parameter value: t1.qin = 10000000 is outside [-1e+06, 1e+06] m^3/s" \
    tmc set t1 qin=1e7
expect_fail 1 "bad parameter value" tmc spawn t2 --model tank --param h0=5 \
    --param hmax=2
eq "$(tmc --json inspect o1 | jget .params.m)" "1.0" "failed set left m"

# links: already linked input, duplicate link, missing link
expect_ok tmc spawn p2 --model pump
expect_ok tmc link t1.level p2.h_suction
expect_fail 1 "input p2.h_suction is already linked (from t1.level); unlink it first" \
    tmc link o1.x p2.h_suction
expect_ok tmc link o1.x o1.fl
expect_ok tmc link o1.v o1.fl # a summing input takes many links
expect_fail 1 "link p1.flow -> t1.qin already exists (delay 1); to change its delay, unlink it first" \
    tmc link p1.flow t1.qin
expect_fail 1 "link p1.flow -> t1.qin already exists (delay 1)" \
    tmc link p1.flow t1.qin --delay 2
expect_fail 1 "no link p2.flow -> t1.qin" tmc unlink p2.flow t1.qin

# delays: in 1 .. 1000 ticks, given to link only
expect_fail 2 "link: --delay takes a whole number of ticks in 1..1000, got '0'" \
    tmc link o1.x p1.speed_cmd --delay 0
expect_fail 2 "link: --delay takes a whole number of ticks in 1..1000, got '1001'" \
    tmc link o1.x p1.speed_cmd --delay 1001
expect_fail 2 "unlink: unknown option --delay" \
    tmc unlink p1.flow t1.qin --delay 1
expect_ok tmc link o1.x p1.speed_cmd --delay 1000
expect_fail 1 "link o1.x -> p1.speed_cmd already exists (delay 1000)" \
    tmc link o1.x p1.speed_cmd --delay 3
expect_ok tmc unlink o1.x p1.speed_cmd

# unknown node
expect_fail 1 "unknown node 'far' (this mesh has one node: enode)" \
    tmc spawn a1 --model tank --node far

# usage errors: exit 2
expect_fail 2 "unknown command 'frobnicate' (try help)" tmc frobnicate
expect_fail 2 "unknown command 'frobnicate' (try help)" tmc help frobnicate
expect_fail 1 "unknown model family 'pump@1.0.0' (known: " tmc models pump@1.0.0
expect_fail 2 "spawn: missing --model" tmc spawn a1
expect_fail 2 "link: expected ACTOR.PORT, got 'p1'" tmc link p1 t1.qin
expect_fail 2 "run: missing --ticks N" tmc run
expect_fail 2 "unknown option --bogus" tmc actors --bogus 1
expect_fail 2 "clock: unknown clock mode 'slow'" tmc clock slow
expect_fail 2 "unknown option -x" tmc -x nodes
expect_fail 2 "twinmesh: --timeout" tmc -t zero nodes
expect_fail 2 "cannot use endpoint foo: invalid argument" "$TM_BIN" -c foo nodes
expect_fail 2 "cannot use endpoint : invalid argument" "$TM_BIN" -c "" nodes

# the node checks the same things when a request bypasses the console's
# own parsing (raw requests below): every malformed request gets an error
# reply and the node keeps serving
for kind in garbage bomb deep empty truncated version msgtype msgtype9 \
    twoframes noargv argvtype unknown; do
    out=$("$IT_BIN" bad "$EP" "$kind")
    case $kind in
    garbage) want=WIRE_ ;;
    bomb) want=WIRE_COUNT ;;
    deep) want=WIRE_ ;;
    empty) want=WIRE_TRUNCATED ;;
    truncated) want=WIRE_TRUNCATED ;;
    version) want=WIRE_VERSION ;;
    msgtype | msgtype9) want=WIRE_MSGTYPE ;;
    twoframes) want=WIRE_MALFORMED ;;
    noargv) want=WIRE_FIELD ;;
    argvtype) want=WIRE_TYPE ;;
    unknown) want=UNKNOWN_COMMAND ;;
    esac
    grep -q "^$want" <<<"$out" || fail "malformed '$kind': $out"
    ok
    case $kind in
    msgtype | msgtype9 | unknown) # the envelope was readable: its seq (7)
        grep -q "(seq 7)$" <<<"$out" || fail "seq of the reply: $out" ;;
    esac
    tmc -t 5 nodes >/dev/null || fail "node down after malformed '$kind'"
    ok
done
errors=$(tmc --json stats | jget .console.errors)
[ "$errors" -ge 12 ] || fail "errors counted: $errors"
ok

# a frame over the 1 MiB limit: libzmq drops the peer before any decoder
# sees it (no reply), and the node lives on
out=$("$IT_BIN" bad "$EP" huge)
eq "$out" "no reply" "oversized frame"
tmc -t 5 nodes >/dev/null || fail "node down after an oversized request"
ok

# a request followed by 2,000,000 empty frames (4 MB on the wire): libzmq
# holds the whole message (about 64 bytes a frame) before the node reads
# its first frame; the node drops the rest, answers, logs it and gives the
# memory back (measured where no sanitizer keeps its own heap)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$NODE_PID/status"; }
before=$(rss)
out=$("$IT_BIN" bad "$EP" manyframes)
grep -q "^WIRE_MALFORMED malformed request: expected exactly one frame, got 2000001 (seq 0)$" <<<"$out" ||
    fail "many frames: $out"
ok
after=$(rss)
if [ "$SANITIZED" = 0 ]; then
    [ $((after - before)) -lt 32768 ] ||
        fail "memory of the dropped frames kept: RSS $before kB -> $after kB"
    ok
fi
grep -q "console: a request of 2000001 frames dropped" "$WORK/enode.log" ||
    fail "the dropped request is not logged"
ok
tmc -t 5 nodes >/dev/null || fail "node down after 2,000,000 frames"
ok

# node not reachable: exit 3 with a clear message
port=$(free_port)
expect_fail 3 "node not reachable at tcp://127.0.0.1:$port" \
    "$TM_BIN" -c "tcp://127.0.0.1:$port" -t 0.5 nodes
expect_fail 3 "node not reachable" "$TM_BIN" -c "tcp://127.0.0.1:$port" \
    -t 0.5 run --ticks 5

# the node is still fine and stops cleanly
eq "$(tmc --json nodes | jget '[0].actors')" 4 "actors intact"
stop_node "$NODE_PID" || fail "SIGTERM exit status"
ok
done_checks
