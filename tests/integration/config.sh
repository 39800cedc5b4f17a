# config: the node's INI config and flags; a bad config or flag names the
# file, line and key (or the flag) and exits 2.
. "$(dirname "$0")/lib.sh"

node_fail() { # STATUS SUBSTRING ARGS...: the node refuses to start
    local want=$1 msg=$2 rc=0 err
    shift 2
    err=$("$NODE_BIN" "$@" 2>&1 >/dev/null) || rc=$?
    [ "$rc" -eq "$want" ] || fail "expected exit $want, got $rc: $* -> $err"
    grep -qF -- "$msg" <<<"$err" || fail "expected '$msg': $* -> $err"
    ok
}

cfg=$WORK/node.ini
write() { printf '%s\n' "$@" >"$cfg"; }

# unknown key, unknown section, bad values, syntax error: FILE:LINE: key
write "[node]" "name = n1" "colour = blue"
node_fail 2 "$cfg:3: [node] colour: unknown key" --config "$cfg" --check
write "; comment" "[node]" "name = n1" "" "[cluster]" "peers = a,b"
node_fail 2 "$cfg:6: [cluster] peers: unknown section" --config "$cfg" --check
write "[mesh]" "endpoint = tcp://127.0.0.1:7899" "peer = tcp://127.0.0.1:7898" \
    "peer = tcp://127.0.0.1:7897" "peer = tcp://127.0.0.1:7898"
out=$("$NODE_BIN" --config "$cfg" --check)
[ "$(grep -c '^peer = ' <<<"$out")" = 2 ] || fail "peers: $out"
ok
node_fail 2 "peers are given but no mesh endpoint" --data "$WORK/nomesh" \
    --console tcp://127.0.0.1:0 --peer tcp://127.0.0.1:7898
write "[node]" "workers = many"
node_fail 2 "$cfg:2: [node] workers: 'many' is not a worker count" \
    --config "$cfg" --check
write "[node]" "tick = -1"
node_fail 2 "$cfg:2: [node] tick: '-1' is not a tick step" --config "$cfg" \
    --check
write "[node]" "clock = sometimes"
node_fail 2 "$cfg:2: [node] clock: 'sometimes' is not a clock mode" \
    --config "$cfg" --check
write "[node]" "name = bad name"
node_fail 2 "$cfg:2: [node] name: 'bad name' is not a valid name" \
    --config "$cfg" --check
write "[node]" "checkpoint = 1e3"
node_fail 2 "$cfg:2: [node] checkpoint:" --config "$cfg" --check
write "[console]" "endpoint = localhost"
node_fail 2 "$cfg:2: [console] endpoint: 'localhost' is not a ZeroMQ endpoint" \
    --config "$cfg" --check
write "[node]" "name = n1" "this line is wrong"
node_fail 2 "$cfg:3: syntax error" --config "$cfg" --check
write "seed = 4"
node_fail 2 "$cfg:1: seed: key outside a section" --config "$cfg" --check
node_fail 2 "cannot read config file $WORK/missing.ini" \
    --config "$WORK/missing.ini"
node_fail 2 "cannot read config file /dev/zero: not a regular file" \
    --config /dev/zero --check
head -c 2000000 /dev/zero | tr '\0' '#' >"$WORK/huge.ini"
node_fail 2 "cannot read config file $WORK/huge.ini: 2000000 bytes" \
    --config "$WORK/huge.ini" --check

# flags: bad values name the flag; unknown flags and arguments refused
node_fail 2 "--workers: 'x' is not a worker count" --workers x --check
node_fail 2 "--tick: '0' is not a tick step" --tick 0 --check
node_fail 2 "--clock: 'later' is not a clock mode" --clock later --check
node_fail 2 "unknown option --colour" --colour blue
node_fail 2 "unexpected argument 'run'" run
node_fail 2 "--data needs a value" --data
# endpoints: only what another process can reach, with a real port
node_fail 2 "'inproc://x' is not a usable endpoint" --console inproc://x \
    --check
node_fail 2 "the port must be in 0..65535" --console tcp://127.0.0.1:99999 \
    --check

# precedence: defaults < file < flags
write "[node]" "name = from-file" "site = s1" "tick = 0.1" "# comment" \
    "[console]" "endpoint = tcp://127.0.0.1:9999"
out=$("$NODE_BIN" --config "$cfg" --site s2 --checkpoint 7 --check)
grep -qx "name = from-file" <<<"$out" || fail "file value: $out"
grep -qx "site = s2" <<<"$out" || fail "flag over file: $out"
grep -qx "tick = 0.1" <<<"$out" || fail "tick: $out"
grep -qx "checkpoint = 7" <<<"$out" || fail "flag: $out"
grep -qx "data = ./twinmesh-data" <<<"$out" || fail "default: $out"
grep -qx "endpoint = tcp://127.0.0.1:9999" <<<"$out" || fail "endpoint: $out"
ok
out=$("$NODE_BIN" --check)
grep -qx "endpoint = tcp://127.0.0.1:7700" <<<"$out" || fail "defaults: $out"
grep -qx "clock = realtime" <<<"$out" || fail "defaults: $out"
ok

# the example configs of the three-site example are valid
src=${TM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
for f in node-a node-b node-c; do
    out=$("$NODE_BIN" --config "$src/config/$f.ini" --check) ||
        fail "config/$f.ini"
    grep -qx "name = $f" <<<"$out" || fail "config/$f.ini name: $out"
    ok
done

# a node started from a config file uses it
port=$(free_port)
EP="tcp://127.0.0.1:$port"
write "[node]" "name = cfg-node" "site = lab" "data = $WORK/cfgdata" \
    "clock = paused" "workers = 1" "[console]" "endpoint = $EP"
"$NODE_BIN" --config "$cfg" >>"$WORK/cfg-node.log" 2>&1 &
NODE_PID=$!
NODE_PIDS+=("$NODE_PID")
watchdog "$NODE_PID"
wait_ready "$NODE_PID" cfg-node
eq "$(tmc --json nodes | jget '[0].name')" cfg-node "name from the file"
eq "$(tmc --json nodes | jget '[0].site')" lab "site from the file"
eq "$(tmc --json nodes | jget '[0].workers')" 1 "workers from the file"

# two nodes cannot share a console endpoint or a data directory
node_fail 1 "console endpoint $EP is already in use" \
    --data "$WORK/other" --console "$EP"
port2=$(free_port)
node_fail 1 "data directory $WORK/cfgdata is in use by another process" \
    --data "$WORK/cfgdata" --console "tcp://127.0.0.1:$port2"
# a directory that is not a twinmesh store is refused, not overwritten
mkdir -p "$WORK/foreign"
echo "precious" >"$WORK/foreign/notes.txt"
node_fail 1 "holds files that are not a twinmesh store" \
    --data "$WORK/foreign" --console "tcp://127.0.0.1:$port2"
eq "$(cat "$WORK/foreign/notes.txt")" precious "foreign data untouched"

# port 0: the system picks a port, and the node says which
"$NODE_BIN" --name eph --data "$WORK/eph" --console tcp://127.0.0.1:0 \
    --clock paused >"$WORK/eph.log" 2>&1 &
eph=$!
NODE_PIDS+=("$eph")
for _ in $(seq 100); do
    grep -q "console tcp://127.0.0.1:" "$WORK/eph.log" && break
    sleep 0.1
done
ep0=$(grep -o "console tcp://127.0.0.1:[0-9]*" "$WORK/eph.log" | head -1 |
    cut -d' ' -f2)
[ -n "$ep0" ] && [ "${ep0##*:}" != 0 ] ||
    fail "the log names the bound port: $(cat "$WORK/eph.log")"
eq "$("$TM_BIN" -c "$ep0" --json nodes | jget '[0].endpoint')" "$ep0" \
    "nodes shows the bound port"
stop_node "$eph" || fail "SIGTERM exit status (port 0)"
ok

stop_node "$NODE_PID" || fail "SIGTERM exit status"
ok
done_checks
