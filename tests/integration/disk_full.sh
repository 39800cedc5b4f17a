# disk_full: a node whose data directory's file system fills up. Changes
# are refused with "no space left" and the sizes, nothing is half done;
# kill still works (the store's space reserve), the reserve is made again
# once there is room, and the node never stops. Needs a tmpfs of its own
# (root, mount allowed); skipped with a message otherwise.
. "$(dirname "$0")/lib.sh"

mnt=$WORK/mnt
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=48m tmpfs "$mnt" 2>/dev/null; then
    echo "disk_full: skipped: cannot mount a tmpfs here (needs root and a" \
        "kernel that allows it)"
    exit 77
fi
MOUNTS+=("$mnt")

stat() { tmc --json stats | jget ".store.$1"; }
port=$(free_port)
EP=tcp://127.0.0.1:$port
"$NODE_BIN" --name full --data "$mnt/data" --console "$EP" --clock paused \
    --workers 2 --checkpoint 0 >>"$WORK/full.log" 2>&1 &
NODE_PID=$!
NODE_PIDS+=("$NODE_PID")
watchdog "$NODE_PID"
wait_ready "$NODE_PID" full

eq "$(stat reserve_bytes)" 8388608 "reserve made at start"
[ -f "$mnt/data/reserve.space" ] || fail "no reserve file"
ok
expect_ok tmc spawn-many keep 2000 --model oscillator
expect_ok tmc spawn victim --model pump
expect_ok tmc spawn v2 --model pump
expect_ok tmc link victim.flow v2.speed_cmd

# fill the file system (the filler takes what is left)
dd if=/dev/zero of="$mnt/filler" bs=1M 2>/dev/null || true
n0=$(tmc --json stats | jget .actors)
# spawning fails with the sizes, and nothing changed
rc=0
err=$(tmc spawn-many more 20000 --model oscillator 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "spawn-many on a full disk succeeded"
grep -q "no space left on the data directory's file system (the change needs at least [0-9]* bytes, [0-9]* are free" \
    <<<"$err" || fail "no-space message: $err"
ok
eq "$(tmc --json stats | jget .actors)" "$n0" "nothing spawned"
# small changes use the pages LMDB freed before; go on until none is left
i=0
while [ "$i" -lt 2000 ] && tmc spawn "s$i" --model pump >/dev/null 2>&1; do
    i=$((i + 1))
done
[ "$i" -lt 2000 ] || fail "2000 spawns on a full disk"
ok
echo "disk_full: $i small spawns fit on the full disk"
n0=$(tmc --json stats | jget .actors)
# unlink and kill still work: the reserve is given up for them
expect_ok tmc unlink victim.flow v2.speed_cmd
expect_ok tmc kill victim
eq "$(tmc --json stats | jget .actors)" "$((n0 - 1))" "victim killed"
[ "$(stat reserve_used)" -ge 1 ] || fail "the reserve was not used"
ok
eq "$(stat reserve_bytes)" 0 "reserve given up"
grep -q "WARN" "$WORK/full.log" || fail "refused change not logged"
ok
# the node is still up and runs
expect_ok tmc run --ticks 5
eq "$(tmc --json stats | jget .state)" up "node up on a full disk"

# room again: the next change makes the reserve again
rm -f "$mnt/filler"
expect_ok tmc spawn after --model pump
eq "$(stat reserve_bytes)" 8388608 "reserve made again"

# and everything acknowledged survives a restart
kill -TERM "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
"$NODE_BIN" --name full --data "$mnt/data" --console "$EP" --clock paused \
    --workers 2 --checkpoint 0 >>"$WORK/full.log" 2>&1 &
NODE_PID=$!
NODE_PIDS+=("$NODE_PID")
wait_ready "$NODE_PID" full
eq "$(tmc --json stats | jget .actors)" "$n0" "actors after restart"
expect_fail 1 "unknown actor" tmc inspect victim
expect_ok tmc inspect after
done_checks
