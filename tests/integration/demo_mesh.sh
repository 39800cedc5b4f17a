# demo_mesh: tools/demo-mesh.sh starts the three nodes of the three-site
# example, applies config/three-site-plant.yaml from one console, shows the
# mesh from the others and stops the nodes cleanly; a second run finds
# the plant on the nodes (diff: nothing to change).
. "$(dirname "$0")/lib.sh"

src=${TM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${TM_BUILD_DIR:?TM_BUILD_DIR (the build directory) is needed}
ports=()
for _ in 1 2 3 4 5 6; do
    ports+=("$(free_port)")
done
export TM_DEMO_PORTS="${ports[*]}"
export TM_DEMO_DATA=$WORK

out=$(bash "$src/tools/demo-mesh.sh" "$build" 2>&1) || fail "demo failed: $out"
for want in "== what config/three-site-plant.yaml would change, asked on node-b" \
    "^node node-c$" "would change: 14 spawns, 28 links added" \
    "^applied config/three-site-plant.yaml in [0-9.]+ s: 14 spawns, 28 links added$" \
    "^node-c +reservoir +up .* 4 " "^basin +tank +1.0.0 +high +node-b$" \
    "14 of 14 actors" "^basin  tank@1.0.0 \(high\)  node node-b" \
    "qin .*<- pump1.flow \(delay 2\), <- pump2.flow \(delay 2\)" \
    "^digest [0-9a-f]{64}$" "^    node: node-b$" \
    "^node-a: .*final checkpoint at tick [0-9]+ \(6 actors\).*stopped$" \
    "^node-c: .*final checkpoint at tick [0-9]+ \(4 actors\).*stopped$"; do
    grep -qE -- "$want" <<<"$out" || fail "demo output lacks /$want/: $out"
    ok
done
eq "$(grep -cE '^ +[0-9]+ +[0-9.]+ +[0-9.e+-]+$' <<<"$out")" 4 \
    "basin watch rows"

out=$(bash "$src/tools/demo-mesh.sh" "$build" 2>&1) || fail "second demo: $out"
grep -q "the plant of an earlier run is on the nodes" <<<"$out" ||
    fail "reuse: $out"
ok
grep -q "three-site-plant.yaml: nothing to change (14 actors, 28 links)" \
    <<<"$out" || fail "reuse diff: $out"
ok
done_checks
