# damaged_store: a node refuses to start on a store with a damaged page,
# with exit status 4 and a message naming what is damaged, and never dies
# by a signal; --verify agrees with the node on every copy; --backup of a
# sound store (offline or beside a running node) gives a verified copy the
# node starts from with the same digest, and a backup of a damaged store
# is refused and leaves nothing behind.
. "$(dirname "$0")/lib.sh"

TRIALS=${TM_DAMAGE_TRIALS:-20}
RANDOM=20261130 # fixed seed: the same pages and bytes on every run

j() { tmc --json "$@"; }

# random_page: 4096 bytes from bash's seeded generator, on stdout
random_page() {
    local i s=''
    for ((i = 0; i < 4096; i++)); do
        printf -v s '%s\\x%02x' "$s" $((RANDOM % 256))
    done
    printf '%b' "$s"
}

# damaged_copy NAME PAGE: $WORK/NAME = the base store with PAGE overwritten
damaged_copy() {
    rm -rf "${WORK:?}/$1"
    mkdir -m 0700 "$WORK/$1"
    cp "$WORK/base/data.mdb" "$WORK/$1/"
    random_page >"$WORK/page.bin"
    dd if="$WORK/page.bin" of="$WORK/$1/data.mdb" bs=4096 seek="$2" \
        conv=notrunc status=none
}

# try_start NAME: start a node on $WORK/NAME; sets TRY_RC to its exit
# status if it exits during start-up, or to "up" (EP, NODE_PID set) if it
# answers its console.
try_start() {
    local name=$1 port
    port=$(free_port)
    EP=tcp://127.0.0.1:$port
    "$NODE_BIN" --name "$name" --data "$WORK/$name" --console "$EP" \
        --clock paused --workers 2 >"$WORK/$name.log" 2>&1 &
    NODE_PID=$!
    NODE_PIDS+=("$NODE_PID")
    watchdog "$NODE_PID"
    for _ in $(seq 600); do
        if ! kill -0 "$NODE_PID" 2>/dev/null; then
            TRY_RC=0
            wait "$NODE_PID" || TRY_RC=$?
            return 0
        fi
        if "$TM_BIN" -c "$EP" -t 0.3 nodes >/dev/null 2>&1; then
            TRY_RC=up
            return 0
        fi
        sleep 0.05
    done
    fail "node $name neither answered nor exited within 30 s"
}

# ---- a real store: actors, links, three checkpoints -----------------------
start_node base --checkpoint 10
expect_ok tmc spawn-many o 2000 --model oscillator --param k=25
expect_ok tmc spawn-many t 300 --model tank
expect_ok tmc spawn-many p 300 --model pump
for i in $(seq 0 29); do
    expect_ok tmc link "p$i.flow" "t$i.qin"
    expect_ok tmc link "o$i.x" "o$((i + 1)).fl"
done
expect_ok tmc run --ticks 30
digest=$(j hash | jget .digest)
stop_node "$NODE_PID" || fail "stopping the base node: exit $?"
ok

out=$("$NODE_BIN" --verify --data "$WORK/base") || fail "--verify base: $out"
grep -q "sound (format 2, records checksummed): 2600 actors, 60 links" \
    <<<"$out" || fail "--verify base: $out"
ok
expect_fail 1 "data directory $WORK/nowhere does not exist" \
    "$NODE_BIN" --verify --data "$WORK/nowhere"

# ---- damaged copies: the node and --verify agree, never a signal ----------
pages=$(($(stat -c %s "$WORK/base/data.mdb") / 4096))
refused=0
started=0
for trial in $(seq 0 "$TRIALS"); do
    name=d$trial
    if [ "$trial" = 0 ]; then
        page=1 # a meta page: always in use
    else
        page=$(((RANDOM * 32768 + RANDOM) % pages))
    fi
    damaged_copy "$name" "$page"
    vrc=0
    verr=$("$NODE_BIN" --verify --data "$WORK/$name" 2>&1 >/dev/null) ||
        vrc=$?
    try_start "$name"
    if [ "$TRY_RC" = up ]; then
        # only free pages were hit: the store is as it was
        eq "$vrc" 0 "trial $trial (page $page): --verify of a store the node starts on"
        eq "$(j hash | jget .digest)" "$digest" "trial $trial (page $page): digest"
        stop_node "$NODE_PID" || fail "trial $trial: stop: exit $?"
        started=$((started + 1))
        continue
    fi
    [ "$TRY_RC" -lt 128 ] ||
        fail "trial $trial (page $page): node killed by signal $((TRY_RC - 128))"
    eq "$TRY_RC" 4 "trial $trial (page $page): exit status of the node"
    eq "$vrc" 4 "trial $trial (page $page): exit status of --verify"
    what=$(grep -o "data directory $WORK/$name is damaged: [^;]*" \
        "$WORK/$name.log" | tail -n 1 || true)
    [ -n "$what" ] || fail "trial $trial (page $page): no damage message" \
        "in $(cat "$WORK/$name.log")"
    ok
    grep -qF -- "$what" <<<"$verr" ||
        fail "trial $trial (page $page): node said '$what', --verify '$verr'"
    ok
    echo "trial $trial, page $page: ${what#*damaged: }"
    refused=$((refused + 1))
done
echo "damaged_store: $((TRIALS + 1)) damaged copies of $pages pages:" \
    "$refused refused (exit 4), $started started with the same digest"
[ "$refused" -ge 2 ] || fail "only $refused of $((TRIALS + 1)) copies refused"
ok

# A damaged store is not backed up, and nothing is left.
expect_fail 4 "is damaged" "$NODE_BIN" --backup "$WORK/bad-copy" \
    --data "$WORK/d0"
[ ! -e "$WORK/bad-copy" ] || fail "a backup of a damaged store was left"
ok

# ---- backups ----------------------------------------------------------------
out=$("$NODE_BIN" --backup "$WORK/copy" --data "$WORK/base") ||
    fail "--backup: $out"
grep -q "backed up to $WORK/copy and verified: 2600 actors, 60 links" \
    <<<"$out" || fail "--backup: $out"
ok
expect_ok "$NODE_BIN" --verify --data "$WORK/copy"
expect_fail 1 "is not an empty directory" \
    "$NODE_BIN" --backup "$WORK/copy" --data "$WORK/base"

# Restore as docs/operations.md says: move the damaged directory aside,
# copy the backup in, start.
mv "$WORK/d0" "$WORK/d0.damaged"
cp -a "$WORK/copy" "$WORK/d0"
try_start d0
eq "$TRY_RC" up "node on the restored directory"
eq "$(j hash | jget .digest)" "$digest" "digest after the restore"
eq "$(j nodes | jget '[0].actors')" 2600 "actors after the restore"
stop_node "$NODE_PID" || fail "stop after the restore: exit $?"
ok

# A live copy beside a running node, which it keeps serving.
restart_node base "tcp://127.0.0.1:$(free_port)" --checkpoint 10
expect_ok "$NODE_BIN" --backup "$WORK/live" --data "$WORK/base"
eq "$(j hash | jget .digest)" "$digest" "node still serving during the backup"
stop_node "$NODE_PID" || fail "stop base: exit $?"
ok
try_start live
eq "$TRY_RC" up "node on the live copy"
eq "$(j hash | jget .digest)" "$digest" "digest of the live copy"

# The console's backup of a running node: verified, refused into a
# directory that holds files or a relative path, and a node starts from it.
expect_ok tmc backup "$WORK/console-copy"
expect_fail 1 "holds files: a backup goes into a new or empty directory" \
    tmc backup "$WORK/console-copy"
expect_fail 2 "DEST must be an absolute path" tmc backup relative/dir
stop_node "$NODE_PID" || fail "stop live: exit $?"
ok
try_start console-copy
eq "$TRY_RC" up "node on the console's backup"
eq "$(j hash | jget .digest)" "$digest" "digest of the console's backup"
stop_node "$NODE_PID" || fail "stop console-copy: exit $?"
ok
done_checks
