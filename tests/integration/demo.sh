# demo: tools/demo.sh starts a node, applies the demo plant file
# (config/demo-plant.yaml) through the console, shows it and stops the node
# cleanly; a second run reuses the plant (diff: nothing to change); a node
# already on the endpoint is reported.
. "$(dirname "$0")/lib.sh"

src=${TM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${TM_BUILD_DIR:?TM_BUILD_DIR (the build directory) is needed}
port=$(free_port)
export TM_DEMO_CONSOLE="tcp://127.0.0.1:$port"
export TM_DEMO_DATA=$WORK/demo-data

out=$(bash "$src/tools/demo.sh" "$build" 2>&1) || fail "demo failed: $out"
for want in "== applying the demo plant" "13 spawns, 24 links added" \
    "^pump1 *pump *1.0.0 *high" \
    "^pump2 *pump *1.0.0 *medium" "^osc2 *oscillator" "13 of 13 actors" \
    "== inspect pump1" "^pump1  pump@1.0.0 \(high\)" \
    "flow .* -> tank0.qout, -> tank1.qin" "speed \[rad/s\]" \
    "^digest [0-9a-f]{64}$" "final checkpoint at tick" "stopped$"; do
    grep -qE -- "$want" <<<"$out" || fail "demo output lacks /$want/: $out"
    ok
done
# watch printed 8 rows for the pump, 4 for the tank
eq "$(grep -cE '^ +[0-9]+ +[0-9.]+ +[0-9.e+-]+ +[0-9.e+-]+ +[0-9.e+-]+ +[0-9.e+-]+$' <<<"$out")" \
    8 "pump watch rows"

# the telemetry part: a twin on recorded pump data, scored (where the
# data is on this machine)
skab=${TWINMESH_SKAB:-$src/../shared/data/skab}
if [ -f "$skab/valve1/3.csv" ]; then
    grep -qE "^pooled over 1 files: F1 [0-9.]+, FAR [0-9.]+ %" <<<"$out" ||
        fail "demo replay: $out"
    grep -q "rows without an output: 0" <<<"$out" || fail "replay rows: $out"
    ok
else
    grep -q "no SKAB data at" <<<"$out" || fail "demo without SKAB: $out"
    ok
fi

out=$(bash "$src/tools/demo.sh" "$build" 2>&1) || fail "second demo: $out"
grep -q "the plant of an earlier run" <<<"$out" || fail "reuse: $out"
ok
grep -q "demo-plant.yaml: nothing to change (13 actors, 24 links)" <<<"$out" ||
    fail "reuse diff: $out"
ok

# a node already answering on the endpoint: the demo says so, exit 1
start_node squatter
rc=0
out=$(TM_DEMO_CONSOLE=$EP bash "$src/tools/demo.sh" "$build" 2>&1) || rc=$?
eq "$rc" 1 "demo exit status with a node on the endpoint"
grep -q "a twinmesh node already answers at $EP" <<<"$out" ||
    fail "demo clash message: $out"
ok
done_checks
