# plugins: model plugins through a real node and console. Each broken
# plugin (wrong ABI version, missing symbol, tiers with other ports, not a
# shared object) is refused with its own reason and changes nothing; the
# good one (flaky@1.0.0) is loaded into the running node, listed with its
# origin and checksum (BLAKE2b-256 of the file), spawned and stepped, its
# high tier failing in its fault window; loading it again changes nothing;
# kill -9 and restart keep the catalog and the actor; a plugin file changed
# in the data directory is refused at restart with a log line, and the
# node runs the rest; loading the plugin again repairs it. In a mesh, a
# plugin loaded on one node is loaded by the others (an actor of it runs
# there, linked across), a node that joins later receives it, and keeps
# it across a restart on its own.
# Needs TM_PLUGIN_DIR (the built tests/plugins) and TM_PLUGIN_NOT_ELF.
. "$(dirname "$0")/lib.sh"

PD=${TM_PLUGIN_DIR:?TM_PLUGIN_DIR must name the built test plugins}
NOT_ELF=${TM_PLUGIN_NOT_ELF:?TM_PLUGIN_NOT_ELF must name a file}
j() { tmc --json "$@"; }
# the catalog as one short line: family@version/tier origin checksum each
catalog() {
    tmc models | awk '/^[a-z]/ {printf "%s@%s/%s %s %s; ", $1, $2, $3, $4, $5}'
}
n_plugin_files() { find "$WORK/pnode/plugins" -type f 2>/dev/null | wc -l; }

start_node pnode --checkpoint 10
ep=$EP
expect_ok tmc spawn o1 --model oscillator
before=$(catalog)

# ---- broken plugins: refused, each with its reason; nothing changes -------
expect_fail 1 "bad_abi.so was built for model ABI version 99" \
    tmc models load "$PD/bad_abi.so"
expect_fail 1 "no_symbol.so does not export tm_plugin_v1() (missing symbol)" \
    tmc models load "$PD/no_symbol.so"
expect_fail 1 "bad_ports.so: broken@1.0.0: tiers high and low have different ports" \
    tmc models load "$PD/bad_ports.so"
expect_fail 1 "not_elf.so is not a loadable shared object" \
    tmc models load "$NOT_ELF"
expect_fail 1 "cannot read $WORK/missing.so" tmc models load "$WORK/missing.so"
eq "$(catalog)" "$before" "models unchanged after refused plugins"
eq "$(n_plugin_files)" 0 "no plugin file left after refusals"
expect_fail 1 "unknown model family 'flaky'" tmc spawn f1 --model flaky

# ---- the good plugin ------------------------------------------------------
sum=$(b2sum -l 256 "$PD/flaky1.so" | cut -d' ' -f1)
out=$(tmc models load "$PD/flaky1.so")
grep -qF "loaded flaky1.so: flaky@1.0.0 (high, low) (checksum ${sum:0:16})" \
    <<<"$out" || fail "models load: $out"
ok
eq "$(j models flaky | jget '[0].version')" 1.0.0 "flaky version"
eq "$(j models flaky | jget '[0].fidelity')" high "flaky first tier"
eq "$(j models flaky | jget '[1].fidelity')" low "flaky second tier"
eq "$(j models flaky | jget '[1].origin')" flaky1.so "origin: the file"
eq "$(j models flaky | jget '[0].checksum')" "$sum" \
    "checksum: BLAKE2b-256 of the file"
eq "$(j models pump | jget '[0].origin')" built-in "a built-in's origin"
tmc models flaky | grep -qE "^flaky +1\.0\.0 +low +flaky1\.so +${sum:0:12} " ||
    fail "models table: $(tmc models flaky)"
ok
eq "$(stat -c %a "$WORK/pnode/plugins/$sum.so")" 600 "plugin file mode"
eq "$(n_plugin_files)" 1 "one plugin file"
# the same bytes again: a success that changes nothing
models_loaded=$(catalog)
out=$(tmc models load "$PD/flaky1.so")
grep -qF "flaky1.so is loaded already" <<<"$out" || fail "again: $out"
ok
eq "$(catalog)" "$models_loaded" "models unchanged by the same plugin"

# spawn and step; the high tier fails in its window, the low tier never
expect_ok tmc spawn f1 --model flaky --param gain=2
expect_ok tmc spawn f2 --model flaky --param fail_from=5 --param fail_until=8
# pinned at high: a fault is held there instead of falling back to low
# (fallback.sh tests that), so the window shows in its fault count
expect_ok tmc fidelity f2 high
expect_ok tmc spawn f3 --model flaky --fidelity low \
    --param fail_from=5 --param fail_until=8
expect_ok tmc set f1 u=1
expect_ok tmc run --ticks 20
eq "$(j inspect f1 | jget .model)" flaky "f1's model"
eq "$(j inspect f1 | jget .version)" 1.0.0 "f1's version"
eq "$(j inspect f1 | jget .state.steps)" 20.0 "f1 stepped 20 times"
y=$(j inspect f1 | jget .outputs.y)
awk "BEGIN {exit !($y > 0.1 && $y < 2)}" || fail "f1.y = $y, not toward 2"
ok
eq "$(j inspect f2 | jget .health.faults)" 3 "high tier fails at ticks 5-7"
eq "$(j inspect f2 | jget .state.steps)" 17.0 "f2 steps outside the window"
eq "$(j inspect f3 | jget .health.faults)" 0 "the low tier never fails"
# a later version is another file: loaded besides, spawnable by version
expect_ok tmc models load "$PD/flaky2.so"
expect_ok tmc spawn g1 --model flaky@2.0.0 --param diverge_from=25
eq "$(j inspect g1 | jget .version)" 2.0.0 "g1's version"
expect_ok tmc run --ticks 40
faults=$(j inspect g1 | jget .health.faults)
[ "$faults" -gt 0 ] || fail "flaky@2.0.0 did not diverge (faults $faults)"
ok
eq "$(j inspect f1 | jget .health.faults)" 0 "f1 (1.0.0) unaffected"
digest=$(j hash | jget .digest)

# ---- kill -9: catalog and actors come back --------------------------------
# wait for the checkpoint of tick 60 (run ends on it), then crash
for _ in $(seq 200); do
    s=$(j stats)
    [ "$(jget .checkpoint.tick <<<"$s")" = 60 ] &&
        [ "$(jget .checkpoint.pending <<<"$s")" = false ] && break
    sleep 0.05
done
models_all=$(catalog)
kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
restart_node pnode "$ep" --checkpoint 10
eq "$(catalog)" "$models_all" "catalog after kill -9"
eq "$(j hash | jget .digest)" "$digest" "digest after kill -9"
eq "$(j inspect f1 | jget .model)" flaky "f1 after kill -9"
expect_ok tmc run --ticks 5
grep -q "plugins: loaded flaky1.so: flaky@1.0.0 (high, low)" \
    "$WORK/pnode.log" || fail "no log line of the restored plugin"
ok

# ---- a changed plugin file is refused at restart --------------------------
stop_node "$NODE_PID" || fail "SIGTERM: exit status $?"
printf 'X' | dd of="$WORK/pnode/plugins/$sum.so" bs=1 seek=100 conv=notrunc \
    status=none
restart_node pnode "$ep" --checkpoint 10
grep -qF "plugins: flaky1.so ($WORK/pnode/plugins/$sum.so): checksum" \
    "$WORK/pnode.log" || fail "no log line of the changed plugin"
grep -qF "differs from the catalog's ${sum:0:16}...: the file was changed; refused" \
    "$WORK/pnode.log" || fail "log line does not say why"
ok
grep -qF "persist: actor f1: model flaky@1.0.0 (high) is not in the catalog" \
    "$WORK/pnode.log" || fail "no log line of the actor left in the store"
ok
expect_fail 1 "unknown version 1.0.0 of model flaky" \
    tmc spawn f9 --model flaky@1.0.0
expect_fail 1 "unknown actor 'f1'" tmc inspect f1
eq "$(j inspect g1 | jget .version)" 2.0.0 "flaky@2.0.0 still runs"
eq "$(j inspect o1 | jget .model)" oscillator "the rest still runs"
expect_ok tmc run --ticks 3
# loading the plugin again replaces the file; the actor is back at restart
expect_ok tmc models load "$PD/flaky1.so"
eq "$(b2sum -l 256 "$WORK/pnode/plugins/$sum.so" | cut -d' ' -f1)" "$sum" \
    "file repaired"
stop_node "$NODE_PID" || fail "SIGTERM: exit status $?"
restart_node pnode "$ep" --checkpoint 10
eq "$(j inspect f1 | jget .model)" flaky "f1 back after the repair"

# ---- a mesh: a plugin loaded on one node runs on the others ---------------
stop_node "$NODE_PID" || fail "SIGTERM: exit status $?"
declare -A CEP MEP PID
mesh_node() { # mesh_node NAME PEER...: start a node of the mesh
    local n=$1 peer peers=()
    shift
    for peer in "$@"; do peers+=(--peer "$peer"); done
    "$NODE_BIN" --name "$n" --data "$WORK/m-$n" --console "${CEP[$n]}" \
        --mesh "${MEP[$n]}" "${peers[@]}" --clock paused --workers 2 \
        --heartbeat "${HB:-0.05}" >>"$WORK/m-$n.log" 2>&1 &
    PID[$n]=$!
    NODE_PIDS+=("${PID[$n]}")
    watchdog "${PID[$n]}"
    EP=${CEP[$n]}
    wait_ready "${PID[$n]}" "$n"
}
at() { local n=$1; shift; "$TM_BIN" -c "${CEP[$n]}" "$@"; }
# wait_catalog NODE: NODE lists flaky@1.0.0 from flaky1.so with its checksum
wait_catalog() {
    for _ in $(seq 100); do
        if [ "$(at "$1" --json models flaky 2>/dev/null |
            jget '[0].checksum' 2>/dev/null)" = "$sum" ]; then
            ok
            return 0
        fi
        sleep 0.1
    done
    fail "node $1 did not receive flaky1.so: $(tail -5 "$WORK/m-$1.log")"
}
for n in a b c; do
    MEP[$n]="tcp://127.0.0.1:$(free_port)"
    CEP[$n]="tcp://127.0.0.1:$(free_port)"
done
mesh_node a "${MEP[a]}" "${MEP[b]}"
mesh_node b "${MEP[a]}" "${MEP[b]}"
for _ in $(seq 100); do
    [ "$(at a --json nodes | "$IT_BIN" count state=alive)" = 1 ] && break
    sleep 0.1
done
expect_fail 1 "unknown model family 'flaky'" at b spawn fb --model flaky
out=$(at a models load "$PD/flaky1.so")
grep -qF "; sent to 1 other nodes" <<<"$out" || fail "load on a: $out"
ok
wait_catalog b
eq "$(at b --json models flaky | jget '[0].origin')" flaky1.so "origin on b"
expect_ok at b spawn fb --model flaky --node b
expect_ok at a spawn fa --model flaky --node a
expect_ok at a link fa.y fb.u
expect_ok at a run --ticks 5
eq "$(at b --json inspect fb | jget .state.steps)" 5.0 "fb stepped on b"
grep -qF "mesh: loaded plugin flaky1.so from a: flaky@1.0.0 (high, low)" \
    "$WORK/m-b.log" || fail "no log line on b"
ok
# a node that joins later receives the catalog
mesh_node c "${MEP[a]}"
wait_catalog c
expect_ok at c spawn fc --model flaky --node c
# a node drops what a peer sends before it has heard the peer's heartbeat
# (heartbeats travel apart from the data): d, whose heartbeats are slow,
# sends its plugins to e as soon as it hears e, before e hears d; e's
# answers say the files did not arrive, and d sends them again
for n in d e; do
    MEP[$n]="tcp://127.0.0.1:$(free_port)"
    CEP[$n]="tcp://127.0.0.1:$(free_port)"
done
HB=1.5 mesh_node d "${MEP[d]}"
expect_ok at d models load "$PD/flaky1.so"
mesh_node e "${MEP[d]}"
wait_catalog e
grep -qF "mesh: e did not load every plugin sent to it" "$WORK/m-d.log" ||
    fail "d did not send its plugins again (was the first round lost?)"
ok
# and keeps it across a restart of its own
stop_node "${PID[c]}" || fail "c: SIGTERM: exit status $?"
"$NODE_BIN" --name c --data "$WORK/m-c" --console "${CEP[c]}" \
    --clock paused --workers 2 >>"$WORK/m-c-alone.log" 2>&1 &
PID[c]=$!
NODE_PIDS+=("${PID[c]}")
watchdog "${PID[c]}"
EP=${CEP[c]}
wait_ready "${PID[c]}" c
eq "$(at c --json inspect fc | jget .model)" flaky "c alone still runs fc"

done_checks
