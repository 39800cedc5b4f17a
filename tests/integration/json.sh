# json: every --json shape documented in docs/console.md.
. "$(dirname "$0")/lib.sh"

start_node jnode

j() { tmc --json "$@"; }

# spawn
j spawn p1 --model pump | jhas .id:string .node:string .model:string \
    .version:string .fidelity:string .period:integer .tick:integer
eq "$(j spawn t1 --model tank | jget .model)" tank "spawn model"
j spawn o1 --model oscillator >/dev/null
j spawn o2 --model oscillator >/dev/null

# spawn-many
j spawn-many m 10 --model spring | jhas .prefix:string .count:integer \
    .first:string .last:string .node:string .model:string .version:string \
    .fidelity:string .tick:integer .elapsed_s:number .commit_s:number \
    .rate:number

# link / unlink
j link p1.flow t1.qin | jhas .src:string .output:string .dst:string \
    .input:string .delay:integer
eq "$(j link o1.x o2.fl | jget .input)" fl "link input"
eq "$(j unlink o1.x o2.fl | jget .src)" o1 "unlink src"
eq "$(j link o1.x o2.fl --delay 4 | jget .delay)" 4 "link delay"

# inspect: {id, node, model, version, fidelity, tick, state:{name:value},
# inputs, outputs, ...}
j inspect p1 | jhas .id:string .node:string .model:string .version:string \
    .fidelity:string .tick:integer .t:number .period:integer .shard:integer \
    .summary:string .state:object .state.omega:number .inputs:object \
    .inputs.speed_cmd:number .outputs:object .outputs.flow:number \
    .params:object .params.head_rated:number .held:object \
    .units:object .units.state.omega:string .units.outputs.flow:string \
    .links:object .links.in:array .links.out:array \
    '.links.out[0].dst:string' .health:object .health.status:string \
    .health.faults:integer .health.step_ns:number .paramset:integer \
    .supervision:object \
    .supervision.target:string .supervision.degraded:bool
eq "$(j inspect p1 | jget .units.outputs.flow)" "m^3/s" "inspect units"
eq "$(j inspect t1 | jget '.links.in[0].src')" p1 "inspect links.in"
eq "$(j inspect t1 | jget '.links.in[0].delay')" 1 "inspect delay 1"
eq "$(j inspect o2 | jget '.links.in[0].delay')" 4 "inspect links.in delay"
eq "$(j inspect o1 | jget '.links.out[0].delay')" 4 "inspect links.out delay"

# actors: [{id, node, model, version, fidelity}], one document
j actors | jhas '.:array' '[0].id:string' '[0].node:string' \
    '[0].model:string' '[0].version:string' '[0].fidelity:string'
eq "$(j actors | jget '[0].id')" m0 "actors sorted"
eq "$(j actors --limit 2 | "$IT_BIN" lines-json)" 1 "actors is one line"

# nodes: [{name, site, state, actors, tick}]
j nodes | jhas '[0].name:string' '[0].site:string' '[0].state:string' \
    '[0].actors:integer' '[0].tick:integer' '[0].clock:string' \
    '[0].endpoint:string' '[0].workers:integer' '[0].h:number'
eq "$(j nodes | jget '[0].name')" jnode "nodes name"
eq "$(j nodes | jget '[0].actors')" 14 "nodes actors"

# hash: {tick, digest}
j hash | jhas .tick:integer .digest:string .actors:integer

# set
j set o1 k=50 x=0.2 | jhas .id:string .values:array '.values[0].name:string' \
    '.values[0].kind:string' '.values[0].old:number' \
    '.values[0].value:number'
eq "$(j set o1 k=60 | jget '.values[0].kind')" param "set kind"

# run (progress items are not printed in JSON mode)
out=$(j run --ticks 10)
eq "$("$IT_BIN" lines-json <<<"$out")" 1 "run prints one document"
jhas .ticks:integer .tick:integer .elapsed_s:number .ticks_per_s:number \
    .actor_steps_per_s:number .actors:integer .clock:string <<<"$out"
eq "$(jget .ticks <<<"$out")" 10 "run ticks"

# clock
j clock | jhas .clock:string .tick:integer .h:number

# stats
j stats | jhas .node:string .tick:integer .clock:string .actors:integer \
    .links:integer .workers:integer .steps:integer .steps_per_s:number \
    .shards:array .checkpoint.every:integer .checkpoint.tick:integer \
    .store.commits:integer .console.requests:integer .uptime_s:number

# models, ids, help
j models | jhas '[0].model:string' '[0].version:string' \
    '[0].fidelity:string' '[0].states:object' '[0].inputs:object' \
    '[0].outputs:object' '[0].params:object'
eq "$(j ids m | jget '[9]')" m9 "ids"
j help | jhas '[0].name:string' '[0].usage:string' '[0].summary:string'

# watch: one document per line
expect_ok tmc clock realtime
out=$(j watch o1 x v --count 3)
eq "$("$IT_BIN" lines-json <<<"$out")" 3 "watch lines"
jhas .id:string .tick:integer .t:number .values.x:number .values.v:number \
    .units.x:string <<<"$(head -n 1 <<<"$out")"

# top: one document per refresh
out=$(j top --count 2 --interval 0.2 --limit 2)
eq "$("$IT_BIN" lines-json <<<"$out")" 2 "top lines"
jhas .node:string .tick:integer .actors:integer .workers:integer \
    .rows:array '.rows[0].id:string' '.rows[0].step_ns:number' \
    '.rows[0].lag:integer' '.rows[0].faults:integer' \
    '.rows[0].status:string' <<<"$(head -n 1 <<<"$out")"
expect_ok tmc clock pause

# kill
j kill m3 | jhas .id:string .links_removed:integer

# errors: a JSON document on stdout too, and a non-zero exit
rc=0
out=$(j inspect nope 2>/dev/null) || rc=$?
eq "$rc" 1 "error exit status"
jhas .error.code:string .error.status:integer .error.message:string <<<"$out"
eq "$(jget .error.code <<<"$out")" UNKNOWN_ACTOR "error code"

done_checks
