/* tm_cmd_table: the console's command table - one row per command.
 *
 * This file is the only list of commands. A row is
 *
 *   X(KIND, handler, renderer, "name", "aliases", flags, "args", "opts",
 *     "usage", "summary")
 *
 *   KIND      the suffix of the command's tm_cmd_kind_t (TM_CMD_<KIND>);
 *   handler   the node runs tmi_cmd_<handler>() (nodes/console/);
 *   renderer  the console prints the reply with tmi_show_<renderer>()
 *             (tools/render/);
 *   name      what the operator types; aliases: space-separated, or "";
 *   flags     TM_CMD_F_* (tm_cmd.h): mutates, streams, long, parts, ...;
 *   args      the positional arguments, as types from tm_cmd.c's argument
 *             table: "ID", "[PREFIX]", "NAME=VALUE..." ([] optional, ...
 *             repeats);
 *   opts      the options, by name from tm_cmd.c's option table: "model!"
 *             is required, "limit:1000" caps the option's range,
 *             "placed~" is hidden (passed between nodes: not in help or
 *             completion);
 *   usage     the arguments as help prints them; summary: one line.
 *
 * Adding a command is a row here, a handler and a renderer; parsing, help,
 * completion, dispatch and rendering all read this table.
 */
#ifndef TM_CMD_TABLE_H_INCLUDED
#define TM_CMD_TABLE_H_INCLUDED

/* clang-format off */
#define TM_CMD_TABLE(X)                                                        \
    X(HELP, help, help, "help", "?", TM_CMD_F_LOCAL,                          \
      "[COMMAND]", "", "[COMMAND]",                                            \
      "list the commands, or show how to use one")                             \
    X(NODES, nodes, nodes, "nodes", "", 0, "", "", "",                         \
      "list the nodes of the mesh")                                            \
    X(PLACE, place, place, "place", "", TM_CMD_F_IDS, "[ID]", "", "[ID]",      \
      "where actors run and why: each node's load and where the next spawn "  \
      "goes, or the node of actor ID and why it is there")                     \
    X(WHY_STUCK, why_stuck, why_stuck, "why-stuck", "", 0, "", "", "",         \
      "what holds each node's next tick: which peer's values, and why")       \
    X(ACTORS, actors, actors, "actors", "ls", TM_CMD_F_PARTS,                  \
      "", "node model limit",                                                  \
      "[--node NODE] [--model FAMILY[@VERSION]] [--limit N]",                  \
      "list actors, sorted by id")                                             \
    X(STATS, stats, stats, "stats", "", 0, "", "", "",                         \
      "node statistics: tick, clock, step rate, checkpoints, store")           \
    X(MODELS, models, models, "models", "", 0, "[FAMILY]", "", "[FAMILY]",     \
      "list the model catalog: versions, tiers, origin, checksum and ports")   \
    X(MODELS_LOAD, models_load, message, "models load", "",                    \
      TM_CMD_F_MUTATES | TM_CMD_F_FILE, "FILE", "upload", "FILE",              \
      "load a model plugin (a shared object) into the running node")           \
    X(IDS, ids, ids, "ids", "", TM_CMD_F_PARTS, "[PREFIX]", "limit",           \
      "[PREFIX] [--limit N]", "list actor ids that start with PREFIX")         \
    X(SPAWN, spawn, message, "spawn", "", TM_CMD_F_MUTATES,                    \
      "ID", "model! fidelity node site period param placed~",                  \
      "ID --model FAMILY[@VERSION] [--fidelity high|medium|low] "              \
      "[--node NODE | --site SITE] [--period M] [--param NAME=VALUE]...",      \
      "create an actor (without --node: on the least loaded node)")            \
    X(SPAWN_MANY, spawn_many, message, "spawn-many", "", TM_CMD_F_MUTATES,     \
      "PREFIX COUNT", "model! fidelity node site period param placed~",        \
      "PREFIX COUNT --model FAMILY[@VERSION] [--fidelity high|medium|low] "    \
      "[--node NODE | --site SITE] [--period M] [--param NAME=VALUE]...",      \
      "create PREFIX0 ... PREFIX<COUNT-1> in one batch")                       \
    X(INSPECT, inspect, inspect, "inspect", "show", TM_CMD_F_IDS, "ID", "",    \
      "ID", "model, version, tier, states, inputs, outputs, links and health") \
    X(CALIBRATE, calibrate, message, "calibrate", "",                          \
      TM_CMD_F_MUTATES | TM_CMD_F_IDS, "ID", "window shadow budget",           \
      "ID [--window N] [--shadow TICKS [--budget RMSE=R,MAPE=M]]",             \
      "fit a twin to its last N steps of telemetry (a new params@N), at "     \
      "once or rolled out after a shadow trial")                               \
    X(FIDELITY, fidelity, message, "fidelity", "",                            \
      TM_CMD_F_MUTATES | TM_CMD_F_IDS, "ID TIER", "", "ID high|medium|low|auto", \
      "pin an actor's tier, or let the supervisor choose (auto)")              \
    X(ROLLOUT, rollout, message, "rollout", "", TM_CMD_F_MUTATES, "FAMILY",   \
      "canary shadow budget at",                                               \
      "FAMILY@VERSION [--canary PERCENT] [--shadow TICKS] "                    \
      "[--budget RMSE=R,MAPE=M] [--at TICK]",                                  \
      "try a version in shadow on a canary subset, then promote it or roll "   \
      "it back")                                                               \
    X(ROLLOUT_STATUS, rollout_status, rollout, "rollout status", "", 0,       \
      "[FAMILY]", "", "[FAMILY]",                                              \
      "rollouts on this node: stage, canary, scores, decision")                \
    X(ROLLBACK, rollback, message, "rollback", "", TM_CMD_F_MUTATES, "FAMILY", \
      "to", "FAMILY [--to VERSION]",                                           \
      "put a family's actors back on the version before its last rollout")     \
    X(MIGRATE, migrate, message, "migrate", "",                                \
      TM_CMD_F_MUTATES | TM_CMD_F_LONG | TM_CMD_F_IDS, "ID NODE", "",           \
      "ID NODE", "move an actor, with its state, history and links, to "       \
      "another node at a tick boundary")                                       \
    X(DRAIN, drain, message, "drain", "", TM_CMD_F_MUTATES | TM_CMD_F_LONG,   \
      "NODE", "", "NODE",                                                      \
      "move every actor of a node to the others (before maintenance)")         \
    X(FAILOVER, failover, message, "failover", "",                            \
      TM_CMD_F_MUTATES | TM_CMD_F_LONG, "NODE", "", "NODE",                    \
      "run a dead node's actors on the node that holds its standby copy "      \
      "(replicas = 1)")                                                        \
    X(KILL, kill, message, "kill", "rm", TM_CMD_F_MUTATES | TM_CMD_F_IDS,      \
      "ID", "", "ID", "remove an actor and its links")                         \
    X(LINK, link, message, "link", "", TM_CMD_F_MUTATES | TM_CMD_F_IDS,        \
      "SRC.OUTPUT DST.INPUT", "delay", "SRC.OUTPUT DST.INPUT [--delay D]",     \
      "feed an output into an input, D ticks later (default 1)")               \
    X(UNLINK, link, message, "unlink", "", TM_CMD_F_MUTATES | TM_CMD_F_IDS,    \
      "SRC.OUTPUT DST.INPUT", "", "SRC.OUTPUT DST.INPUT", "remove a link")     \
    X(SET, set, message, "set", "", TM_CMD_F_MUTATES | TM_CMD_F_IDS,           \
      "ID NAME=VALUE...", "", "ID NAME=VALUE...",                              \
      "set parameters, states or held input values")                           \
    X(RUN, run, run, "run", "", TM_CMD_F_LONG, "[N]", "ticks!", "--ticks N",   \
      "step exactly N ticks as fast as possible, then pause the clock")        \
    X(CLOCK, clock, message, "clock", "", 0, "[MODE]", "",                     \
      "[realtime|fast|pause]", "show or change the clock mode")                \
    X(WATCH, watch, watch, "watch", "",                                        \
      TM_CMD_F_STREAM | TM_CMD_F_LONG | TM_CMD_F_IDS, "ID [SIGNAL...]",        \
      "count", "ID [SIGNAL...] [--count N]",                                   \
      "stream an actor's values every tick until interrupted")                 \
    X(TOP, top, top, "top", "", TM_CMD_F_STREAM | TM_CMD_F_LONG, "",           \
      "limit:1000 interval count",                                             \
      "[--limit N] [--interval SECONDS] [--count N]",                          \
      "live table of actors by step time, lag and health")                     \
    X(HASH, hash, hash, "hash", "digest", 0, "", "", "",                       \
      "mesh digest (BLAKE2b over every actor and link) and its tick")          \
    X(BACKUP, backup, message, "backup", "", TM_CMD_F_LONG, "DEST", "",       \
      "DEST", "copy the node's store into the new directory DEST on the "      \
      "node's machine, verified")                                              \
    X(AUDIT, audit, audit, "audit", "", TM_CMD_F_PARTS, "",                   \
      "actor since limit:100000 node",                                        \
      "[--actor ID] [--since TIME] [--limit N] [--node NODE]",                 \
      "the audit log: changes and decisions, oldest first (last N)")          \
    X(APPLY, apply, plan, "apply", "", TM_CMD_F_MUTATES | TM_CMD_F_UPLOAD,    \
      "FILE", "upload limit:2000", "FILE [--limit N]",                         \
      "make the mesh what the plant file FILE describes, in one batch")        \
    X(DIFF, apply, plan, "diff", "", TM_CMD_F_UPLOAD, "FILE",                  \
      "upload limit:2000", "FILE [--limit N]",                                 \
      "show what apply FILE would change, changing nothing")                   \
    X(EXPORT, export, export, "export", "", TM_CMD_F_PARTS, "[FILE]", "",      \
      "[FILE]", "write the mesh as a plant file (YAML; stdout without FILE)")  \
    X(VERSION, version, version, "version", "", 0, "", "", "",                 \
      "versions of the node's protocol, model ABI and store format")           \
    X(CANCEL, cancel, message, "cancel", "", TM_CMD_F_HIDDEN, "", "", "",      \
      "end this console's stream")
/* clang-format on */

#endif
