# interactive: the console with no command opens a line editor (libedit):
# help, tab completion of commands, actor ids and ports, history, Ctrl-C
# of a stream, quit. Driven through tmux (send-keys, capture-pane).
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null || fail "tmux is not installed (tools/dev.sh deps)"

start_node inode
expect_ok tmc spawn pump1 --model pump
expect_ok tmc spawn pump2 --model pump
expect_ok tmc spawn tank1 --model tank

TMUX_SOCKET=$WORK/tmux.sock
tmx() { tmux -S "$TMUX_SOCKET" "$@"; }
screen() { tmx capture-pane -p -t itest -S -200; }
# wait_screen REGEX: until the pane shows it (10 s)
wait_screen() {
    for _ in $(seq 100); do
        if grep -qE -- "$1" <<<"$(screen)"; then
            ok
            return 0
        fi
        sleep 0.1
    done
    screen >&2
    fail "the console never showed /$1/"
}
keys() { tmx send-keys -t itest "$@"; }

tmx new-session -d -s itest -x 180 -y 50 \
    "TWINMESH_HISTORY=$WORK/history $TM_BIN -c $EP; echo console-exit-\$?; sleep 30"
wait_screen "twinmesh console: node inode .* 3 actors"
wait_screen "^twinmesh> ?$"

keys "help" Enter
wait_screen "spawn-many +create PREFIX0"
wait_screen "quit +leave the interactive console"

# a command completes from its first letters
keys "insp" Tab
wait_screen "^twinmesh> inspect ?$"
# ids complete from the node: "pu" -> the common prefix "pump", then a
# second Tab lists both
keys "pu" Tab
wait_screen "^twinmesh> inspect pump$"
keys Tab
wait_screen "pump1 +pump2"
keys "1" Enter
wait_screen "^pump1  pump@1.0.0 \(high\)  node inode"
wait_screen "^health +ok"

# ports complete after "ID."
keys "link pump1.fl" Tab
wait_screen "^twinmesh> link pump1.flow ?$"
keys "tank1.q" Tab
wait_screen "qin +tank1.qout|tank1.qin +tank1.qout"
keys "in" Enter
wait_screen "^linked pump1.flow -> tank1.qin"

# errors are shown, the console stays
keys "inspect nobody" Enter
wait_screen "twinmesh: unknown actor 'nobody'"

# a stream runs until Ctrl-C, then the prompt is back
keys "clock realtime" Enter
wait_screen "^clock realtime at tick"
keys "watch tank1 level" Enter
wait_screen "level \[m\]"
sleep 0.5
keys C-c
keys "clock pause" Enter
wait_screen "^clock paused at tick"

# history: Up recalls the last command
keys Up
wait_screen "^twinmesh> clock pause$"
keys C-u "quit" Enter
wait_screen "console-exit-0"
grep -q "^inspect pump1$\|inspect\\\\040pump1" "$WORK/history" ||
    grep -q "pump1" "$WORK/history" || fail "history file not written"
ok

# the console without a node: a clear warning, commands time out cleanly
port=$(free_port)
# (the server exits with its last session; a loaded machine can make the
# client see that as "server exited unexpectedly", exit 1)
tmx kill-session -t itest 2>/dev/null || true
tmx new-session -d -s itest -x 180 -y 50 \
    "$TM_BIN -c tcp://127.0.0.1:$port -t 0.5; echo console-exit-\$?; sleep 30"
wait_screen "node not reachable at tcp://127.0.0.1:$port"
keys "nodes" Enter
wait_screen "twinmesh: node not reachable at tcp://127.0.0.1:$port"
keys C-d
wait_screen "console-exit-3|console-exit-0"

done_checks
