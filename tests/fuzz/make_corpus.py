#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

A few valid encodings and a few hostile ones per target, packed by hand with
the small encoder below (no MessagePack library needed). Run from anywhere;
the files are committed, so this only needs rerunning when seeds change.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


class Raw(bytes):
    """Bytes inserted as they are (an already-encoded object)."""


def pack(v):
    if isinstance(v, Raw):
        return bytes(v)
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack(">b", v)
        if v >= 0:
            for tag, fmt, top in ((0xCC, ">B", 1 << 8), (0xCD, ">H", 1 << 16),
                                  (0xCE, ">I", 1 << 32), (0xCF, ">Q", 1 << 64)):
                if v < top:
                    return bytes([tag]) + struct.pack(fmt, v)
        for tag, fmt, lo in ((0xD0, ">b", -(1 << 7)), (0xD1, ">h", -(1 << 15)),
                             (0xD2, ">i", -(1 << 31)), (0xD3, ">q", -(1 << 63))):
            if v >= lo:
                return bytes([tag]) + struct.pack(fmt, v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        if len(b) < 256:
            return b"\xd9" + bytes([len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, bytes):
        if len(v) < 256:
            return b"\xc4" + bytes([len(v)]) + v
        return b"\xc5" + struct.pack(">H", len(v)) + v
    if isinstance(v, list):
        head = (bytes([0x90 | len(v)]) if len(v) < 16
                else b"\xdc" + struct.pack(">H", len(v)))
        return head + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        head = (bytes([0x80 | len(v)]) if len(v) < 16
                else b"\xde" + struct.pack(">H", len(v)))
        return head + b"".join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(v)


def pack_items(items):
    """A map from (key, value) pairs, so that a key may come twice."""
    head = (bytes([0x80 | len(items)]) if len(items) < 16
            else b"\xde" + struct.pack(">H", len(items)))
    return head + b"".join(pack(k) + pack(v) for k, v in items)


def envelope(payload, version=1, mtype=1, src="console", dst="node-a",
             tick=7, seq=1):
    return pack([version, mtype, src, dst, tick, seq, Raw(payload)])


def values(*xs):
    return b"".join(struct.pack("<d", x) for x in xs)


HUGE = b"\xdd\xff\x00\x00\x00"
DEEP = b"\x91" * 40 + b"\xc0"

REQ = pack({"argv": ["link", "pump-1.q", "tank-1.q_in"]})
REP = pack({"status": 0, "error": "OK", "message": "",
            "more": False, "body": {"actors": [1, 2], "tick": 9}})
HB = pack({"node": "node-a", "site": "north", "tick": 1000,
           "actors": 250, "state": "running"})
HB_MESH = {"node": "node-a", "site": "north", "tick": 1000, "actors": 250,
           "state": "up", "endpoint": "tcp://10.0.0.1:7801",
           "clock": "realtime x1", "incarnation": 1764547200123456789,
           "dir_seq": 3,
           "members": [["node-b", "tcp://10.0.0.2:7801"],
                       ["node-c", "tcp://10.0.0.3:7801"]]}
HB_REQUIRED = {"node": "n", "site": "s", "tick": 1, "actors": 1,
               "state": "up"}


def hb(**extra):
    """A heartbeat of the required keys and the given optional ones."""
    return pack(dict(HB_REQUIRED, **extra))


def members(n, name="m", ep="tcp://h:"):
    return [[f"{name}{i}", f"{ep}{i}"] for i in range(n)]


DIR_WHOLE = {"inc": 1764547200123456789, "seq": 1, "reset": True,
             "add": [["pump-1", "pump@1", "high"],
                     ["tank-1", "tank@2", "low"],
                     ["valve-1", "valve@1", "medium"]],
             "del": []}


def directory(**change):
    """A delta directory message with the given keys replaced."""
    d = {"inc": 7, "seq": 2, "reset": False,
         "add": [["pump-2", "pump@1", "high"]], "del": ["pump-1"]}
    d.update(change)
    return pack(d)


BATCH = pack({"tick": 41, "ids": [1, 2, 300],
              "values": values(1.5, -2.0, float("nan"))})

# Every MessagePack type in each of its encodings, short ones included
# (a non-negative int8, a uint16 holding 1), so that each branch of the
# checker and the reader starts from a seed.
EVERY_INT = Raw(b"\xdc\x00\x0d" + b"\x05" + b"\xe0" + b"\xcc\xff"
                + b"\xcd\x00\x01" + b"\xce\xff\xff\xff\xff"
                + b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff"
                + b"\xd0\x05" + b"\xd0\x80" + b"\xd1\x80\x00"
                + b"\xd2\x80\x00\x00\x00"
                + b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00"
                + b"\xd3\x7f\xff\xff\xff\xff\xff\xff\xff"
                + b"\xcf\x80\x00\x00\x00\x00\x00\x00\x00")
EVERY_STR = Raw(b"\x96" + b"\xa1a" + b"\xd9\x01b" + b"\xda\x00\x01c"
                + b"\xdb\x00\x00\x00\x01d" + b"\xc5\x00\x01e"
                + b"\xc6\x00\x00\x00\x01f")
EVERY_EXT = Raw(b"\x98" + b"\xd4\x01\x00" + b"\xd5\x01" + b"\x00" * 2
                + b"\xd6\x01" + b"\x00" * 4 + b"\xd7\x01" + b"\x00" * 8
                + b"\xd8\x01" + b"\x00" * 16 + b"\xc7\x01\x01\x00"
                + b"\xc8\x00\x01\x01\x00"
                + b"\xc9\x00\x00\x00\x01\x01\x00")
EVERY_FLOAT = Raw(b"\x93" + b"\xca\x3f\xc0\x00\x00"
                  + b"\xca\x7f\x80\x00\x01" + pack(-0.5))
BIG_CONTAINERS = Raw(b"\x92" + b"\xdd\x00\x00\x00\x01\xc0"
                     + b"\xdf\x00\x00\x00\x01\xa1k\xc2")
# A map whose keys the accessors look up: each type once, an integer too
# big for int64, a negative one, a duplicated key, a non-string key.
ACCESSED = b"\x8e" + b"".join(pack(k) + pack(v) for k, v in (
    ("u", 7), ("i", -7), ("big", 2 ** 64 - 1), ("f", 1.25), ("t", True),
    ("n", None), ("s", "str"), ("b", b"bin"), ("a", [1]), ("m", {"x": 1}),
    ("d", 1), ("d", 2), (3, "int key"), ("", "empty key")))

POS8 = [1, 3, 1, 10, 1, 20, 0, 0]
POS16 = [2, 5, 2, 9, 3, 12, 0, 0, 0, 0, 4, 13, 0, 0, 0, 0]


def actor(aid, model="tank", version=None, fid=None, period=0, sets=None,
          node=None, index=None):
    sets = sets or [[], [], [], []]
    a = [aid, model, version, fid, period, node, None] + sets + [POS16]
    return a + ([index] if index is not None else [])


def link(src, out, dst, inp, delay=1, index=None):
    return [src, out, dst, inp, delay, POS8] + (
        [index] if index is not None else [])


def chunk(actors, links, index=0, final=True, extra=None):
    m = {"upload": 7, "index": index, "final": final, "file": "p.yaml",
         "actors": actors, "links": links}
    m.update(extra or {})
    return pack(m)


PLANT_YAML = (b"plant: 1\nactors:\n  - id: t0\n    model: tank\n"
              b"    params: {area: 20, h0: 2}\n  - {id: p1, model: pump, "
              b"version: 1.0.0, fidelity: medium, period: 2, node: a, "
              b"site: b, inputs: {speed_cmd: 0.5}, state: {q: -0.0}, "
              b"outputs: {flow: 1e-300}}\nlinks:\n"
              b"  - {from: p1.flow, to: t0.qin}\n"
              b"  - {from: t0.level, to: p1.h_suction, delay: 2}\n")
PLANT_JSON = (b'{"plant": 1, "actors": [{"id": "t0", "model": "tank", '
              b'"params": {"area": 20}}, {"id": "p1", "model": "pump"}], '
              b'"links": [{"from": "p1.flow", "to": "t0.qin"}]}')

# The package that moves actors (tm_move_wire.h): actors with their stored
# record (an actor record of tm_persist.h, opaque to the package) and the
# links into them, and the recent outputs of the links' sources.
MOVE_RECORD = pack({"v": 1, "family": "tank", "version": "1.0.0",
                    "fidelity": "high", "period": 1, "tick": 1200,
                    "params": [20.0, 2.0], "held": [0.5], "state": [2.25],
                    "outputs": [2.25], "history": [[2.0], [2.125]],
                    "epoch": 1})


def move_actor(aid, links=(), record=MOVE_RECORD):
    return {"id": aid, "record": record, "links": list(links)}


def move_link(src="pump-1", out="flow", inp="q_in", delay=1,
              model="pump@1", tier="high"):
    return [src, out, inp, delay, model, tier]


def move_source(sid="pump-1", rows=((1.5, -2.0),), first=1197,
                model="pump@1", tier="high"):
    return [sid, model, tier, first, [list(r) for r in rows]]


def move(**change):
    """A package of two actors and two sources with the given keys
    replaced."""
    m = {"v": 1, "from": "node-a", "tick": 1200,
         "actors": [move_actor("tank-1", [move_link(),
                                          move_link("valve-2", "pos", "u", 3,
                                                    "valve@1", "low")]),
                    move_actor("valve-2")],
         "sources": [move_source(rows=((1.5, -2.0),)),
                     move_source("valve-2", ((0.0,), (0.25,), (-0.0,)),
                                 1198, "valve@1", "low")]}
    m.update(change)
    return pack(m)


def move_links(*links):
    """A package of one actor with the given links."""
    return move(actors=[move_actor("tank-1", links)], sources=[])


def move_rows(rows):
    """A package of one source with the given rows (objects as given)."""
    return move(actors=[], sources=[["pump-1", "pump@1", "high", 9, rows]])


# A part of the standby stream (tm_repl_wire.h): a commit's operations on
# the origin's store (meta, actors, links).
def repl(**change):
    r = {"v": 1, "from": "node-a", "inc": 1764547200000000000, "seq": 7,
         "part": 0, "parts": 1, "full": False, "mutation": True,
         "ops": [[1, 0, b"tank-1", MOVE_RECORD], [2, 1, b"p1.flow>t1.qin",
                                                  None],
                 [0, 0, b"tick", b"\x00" * 8]]}
    r.update(change)
    return pack(r)


F32_ROW = Raw(b"\x92\xca\x3f\xc0\x00\x00\xca\xc0\x00\x00\x00")

SEEDS = {
    "wire_reader_fuzz": {
        "every_int": pack(EVERY_INT),
        "every_str": pack(EVERY_STR),
        "every_ext": pack(EVERY_EXT),
        "every_float": pack(EVERY_FLOAT),
        "big_containers": pack(BIG_CONTAINERS),
        "accessed": ACCESSED,
        "nested_maps": pack({"a": {"b": {"c": [1, "x"]}}}),
        "truncated": b"\x93\xcd\x00",
        "reserved": b"\x92\x01\xc1",
        "huge_count": HUGE,
    },
    "wire_check_fuzz": {
        "every_int": pack(EVERY_INT),
        "every_str": pack(EVERY_STR),
        "every_ext": pack(EVERY_EXT),
        "big_containers": pack(BIG_CONTAINERS),
        "depth32": b"\x91" * 31 + b"\x90",
        "depth33": b"\x91" * 32 + b"\x90",
        "scalars": pack([None, True, 1, -1, 300, -300, 1.5, "s", b"b"]),
        "map": pack({"a": [1, {"b": None}], "c": ""}),
        "ext": b"\x92\xd4\x01\x02\xc7\x02\x05ab",
        "float32": b"\xca\x3f\xc0\x00\x00",
        "huge_count": HUGE,
        "huge_map": b"\xdf\xff\xff\xff\xff",
        "deep": DEEP,
        "reserved": b"\x92\x01\xc1",
        "trunc_str16": b"\xda\x00\x10abc",
        "trailing": b"\xc0\xc0",
    },
    "envelope_fuzz": {
        "console_req": envelope(REQ, mtype=1),
        "console_rep": envelope(REP, mtype=2, src="node-a", dst="console"),
        "heartbeat": envelope(HB, mtype=3, src="node-a", dst="node-b"),
        "link_batch": envelope(BATCH, mtype=4, src="node-a", dst="node-b"),
        "directory": envelope(pack(DIR_WHOLE), mtype=5, src="node-a",
                              dst="node-b", seq=0),
        "type6": envelope(pack(DIR_WHOLE), mtype=6),
        "version2": envelope(HB, version=2, mtype=3),
        "type9": envelope(HB, mtype=9),
        "six_fields": pack([1, 3, "a", "b", 1, 2]),
        "huge_payload": envelope(HUGE),
        "nul_source": envelope(HB, src="a\0b"),
        # Names at TM_MSG_NAME_MAX and one byte over: no branch tells a
        # limit that is off by one, only an input at the boundary does.
        "names_max": envelope(HB, mtype=3, src="s" * 64, dst="d" * 64),
        "source_over": envelope(HB, mtype=3, src="s" * 65),
        "destination_over": envelope(HB, mtype=3, dst="d" * 65),
    },
    "console_req_fuzz": {
        "link": REQ,
        "ls": pack({"argv": ["ls"]}),
        "extra_key": pack({"id": 5, "argv": ["get", "pump-1"]}),
        "nul_arg": pack({"argv": ["ls\0rm"]}),
        "int_arg": pack({"argv": ["get", 3]}),
        "empty_argv": pack({"argv": []}),
        "huge_count": pack({"argv": Raw(HUGE)}),
        "long_arg": pack({"argv": ["set", "a" * 4097]}),
        "too_many_args": pack({"argv": ["x"] * 1025}),
    },
    "console_rep_fuzz": {
        "ok_body": REP,
        "error": pack({"status": -60, "error": "UNKNOWN_ACTOR",
                       "message": "no such actor", "more": False,
                       "body": None}),
        "stream": pack({"status": 0, "error": "OK", "message": "tick",
                        "more": True, "body": [1.0, 2.0]}),
        "positive_status": pack({"status": 1, "error": "X", "message": "",
                                 "more": False, "body": None}),
        "dup_key": b"\x86" + pack({"status": 0, "error": "OK", "message": "",
                                  "more": False, "body": None})[1:]
        + pack("status") + pack(-1),
        "deep_body": pack({"status": 0, "error": "OK", "message": "",
                           "more": False, "body": Raw(DEEP)}),
        "error_max": pack({"status": -2, "error": "E" * 64, "message": "",
                           "more": False, "body": None}),
        "error_over": pack({"status": -2, "error": "E" * 65, "message": "",
                            "more": False, "body": None}),
    },
    "heartbeat_fuzz": {
        "running": HB,
        "extra_key": pack({"node": "n", "site": "", "tick": 0, "actors": 0,
                           "state": "", "load": 0.5}),
        "empty_node": pack({"node": "", "site": "s", "tick": 1,
                            "actors": 1, "state": "x"}),
        "long_site": pack({"node": "n", "site": "s" * 65, "tick": 1,
                           "actors": 1, "state": "x"}),
        "names_max": pack({"node": "n" * 64, "site": "s" * 64, "tick": 1,
                           "actors": 1, "state": "x" * 64}),
        "long_node": pack({"node": "n" * 65, "site": "s", "tick": 1,
                           "actors": 1, "state": "x"}),
        "long_state": pack({"node": "n", "site": "s", "tick": 1,
                            "actors": 1, "state": "x" * 65}),
        "negative_tick": pack({"node": "n", "site": "s", "tick": -1,
                               "actors": 1, "state": "x"}),
        # The mesh keys (optional): all of them, each at its limit and one
        # byte or one member past it, and each of the wrong shape.
        "mesh": pack(HB_MESH),
        "mesh_reordered": pack(dict(reversed(list(HB_MESH.items())))),
        "members_empty": hb(members=[]),
        "members_max": hb(members=members(64)),
        "members_over": hb(members=members(65)),
        "member_three": hb(members=[["a", "tcp://a:1", "x"]]),
        "member_one": hb(members=[["a"]]),
        "member_str": hb(members=["a tcp://a:1"]),
        "member_int_name": hb(members=[[1, "tcp://a:1"]]),
        "member_name_max": hb(members=[["n" * 64, "tcp://a:1"]]),
        "member_name_over": hb(members=[["n" * 65, "tcp://a:1"]]),
        "member_endpoint_max": hb(members=[["a", "e" * 256]]),
        "member_endpoint_over": hb(members=[["a", "e" * 257]]),
        "members_map": hb(members={"a": "tcp://a:1"}),
        "huge_members": hb(members=Raw(HUGE)),
        "endpoint_max": hb(endpoint="e" * 256),
        "endpoint_over": hb(endpoint="e" * 257),
        "endpoint_nul": hb(endpoint="tcp://a\0:1"),
        "clock_max": hb(clock="c" * 64),
        "clock_over": hb(clock="c" * 65),
        "incarnation_max": hb(incarnation=2 ** 64 - 1, dir_seq=2 ** 64 - 1),
        "incarnation_negative": hb(incarnation=-1),
        "dir_seq_str": hb(dir_seq="1"),
        "members_twice": pack_items(list(HB_REQUIRED.items()) + [
            ("members", members(1)), ("members", members(2))]),
        # step_us (optional): the node's step time per tick, for placement
        "step_us": pack(dict(HB_MESH, step_us=420)),
        "step_us_max": hb(step_us=3600000000),
        "step_us_over": hb(step_us=3600000001),
        "step_us_float": hb(step_us=0.5),
        "step_us_negative": hb(step_us=-1),
        "step_us_twice": pack_items(list(HB_REQUIRED.items()) + [
            ("step_us", 1), ("step_us", 2)]),
    },
    "directory_fuzz": {
        "whole": pack(DIR_WHOLE),
        "delta": directory(),
        "empty": pack({"inc": 1, "seq": 1, "reset": True, "add": [],
                       "del": []}),
        "reordered": pack(dict(reversed(list(DIR_WHOLE.items())))),
        "extra_key": directory(moved=[{"id": "x"}, None]),
        "names_max": directory(add=[["i" * 64, "m" * 64, "t" * 64]],
                               **{"del": ["d" * 64]}),
        "id_over": directory(add=[["i" * 65, "m", "t"]]),
        "model_over": directory(add=[["i", "m" * 65, "t"]]),
        "tier_over": directory(add=[["i", "m", "t" * 65]]),
        "del_id_over": directory(**{"del": ["d" * 65]}),
        "empty_id": directory(add=[["", "pump@1", "high"]]),
        "empty_del_id": directory(**{"del": [""]}),
        "nul_id": directory(add=[["pu\0mp", "pump@1", "high"]]),
        "entry_two": directory(add=[["pump-2", "pump@1"]]),
        "entry_four": directory(add=[["pump-2", "pump@1", "high", "x"]]),
        # ownership epochs (a 4th element, 1 .. 2^32 - 1; 0 is never sent)
        "epochs": directory(add=[["pump-2", "pump@1", "high", 1],
                                 ["tank-3", "tank@1", "low"],
                                 ["valve-4", "valve@1", "high", 7]]),
        "epoch_max": directory(add=[["pump-2", "pump@1", "high",
                                     2 ** 32 - 1]]),
        "epoch_zero": directory(add=[["pump-2", "pump@1", "high", 0]]),
        "epoch_over": directory(add=[["pump-2", "pump@1", "high", 2 ** 32]]),
        "epoch_negative": directory(add=[["pump-2", "pump@1", "high", -1]]),
        "entry_five": directory(add=[["pump-2", "pump@1", "high", 1, 1]]),
        "entry_str": directory(add=["pump-2"]),
        "entry_int_tier": directory(add=[["pump-2", "pump@1", 3]]),
        "del_entry": directory(**{"del": [["pump-1", "pump@1", "high"]]}),
        "add_map": directory(add={"pump-2": "pump@1"}),
        "reset_int": directory(reset=1),
        "inc_negative": directory(inc=-1),
        "seq_max": directory(inc=2 ** 64 - 1, seq=2 ** 64 - 1),
        "no_reset": pack({"inc": 1, "seq": 1, "add": [], "del": []}),
        "add_twice": pack_items([("inc", 1), ("seq", 1), ("reset", False),
                                 ("add", []), ("del", []), ("add", [])]),
        "huge_add": directory(add=Raw(HUGE)),
        "huge_del": directory(**{"del": Raw(HUGE)}),
        # TM_MSG_DIR_MAX (8192) entries in add and del together, and one
        # more: in add alone, in del alone, and only in the sum.
        "max_entries": directory(add=[], **{"del": ["d"] * 8192}),
        "add_over": directory(add=Raw(b"\xdd" + struct.pack(">I", 8193)
                                      + b"\xc0" * 8193)),
        "del_over": directory(**{"del": Raw(b"\xdd" + struct.pack(">I", 8193)
                                            + b"\xc0" * 8193)}),
        "sum_over": directory(**{"del": ["d"] * 8192}),
    },
    "repl_fuzz": {
        "mutation": repl(),
        "full": repl(full=True, mutation=False, part=1, parts=3,
                     ops=[[1, 2, None, None], [2, 2, None, None],
                          [1, 0, b"a", b""]]),
        "empty": repl(ops=[]),
        "key_max": repl(ops=[[2, 0, b"k" * 511, b"v"]]),
        "key_long": repl(ops=[[2, 0, b"k" * 512, b"v"]]),
        "bad_db": repl(ops=[[3, 0, b"k", b"v"]]),
        "put_nil": repl(ops=[[1, 0, b"k", None]]),
        "del_value": repl(ops=[[1, 1, b"k", b"v"]]),
        "part_past": repl(part=2, parts=2),
        "seq_zero": repl(seq=0),
        "version2": repl(v=2),
        "str_key": repl(ops=[[1, 0, "k", b"v"]]),
    },
    "move_fuzz": {
        # valid packages of different shapes
        "two_actors": move(),
        "empty": move(actors=[], sources=[]),
        "one_actor": move(actors=[move_actor("tank-1")], sources=[]),
        "sources_only": move(actors=[]),
        "reordered": pack(dict(reversed(list(
            {"v": 1, "from": "n", "tick": 0,
             "actors": [move_actor("a", [move_link()])],
             "sources": [move_source()]}.items())))),
        "extra_keys": move(moved=[{"id": "x"}, None],
                           actors=[dict(move_actor("a"), state=[1])]),
        "float32_rows": move_rows([F32_ROW, F32_ROW]),
        "zero_width": move_rows([[], [], []]),
        "tick_max": move(tick=2 ** 64 - 1,
                         sources=[move_source(first=2 ** 64 - 1)]),
        # each limit, and one past it
        "names_max": move(**{"from": "n" * 64}, actors=[move_actor(
            "i" * 64, [move_link("s" * 64, "o" * 31, "p" * 31, 1000,
                                 "m" * 64, "t" * 64)])],
            sources=[move_source("s" * 64, model="m" * 64, tier="t" * 64)]),
        "from_over": move(**{"from": "n" * 65}),
        "id_over": move(actors=[move_actor("i" * 65)]),
        "src_over": move_links(move_link("s" * 65)),
        "port_over": move_links(move_link(out="o" * 32)),
        "input_over": move_links(move_link(inp="p" * 32)),
        "model_over": move_links(move_link(model="m" * 65)),
        "tier_over": move_links(move_link(tier="t" * 65)),
        "source_id_over": move(sources=[move_source("s" * 65)]),
        "delay_zero": move_links(move_link(delay=0)),
        "delay_over": move_links(move_link(delay=1001)),
        "delay_wrap": move_links(move_link(delay=2 ** 32 + 1)),
        "rows_max": move_rows([[] for _ in range(1000)]),
        "rows_over": move_rows([[] for _ in range(1001)]),
        "width_max": move_rows([[float(i) for i in range(32)]]),
        "width_over": move_rows([[float(i) for i in range(33)]]),
        # wrong shapes and values
        "version2": move(v=2),
        "no_sources": pack({"v": 1, "from": "a", "tick": 1, "actors": []}),
        "link_five": move_links(move_link()[:5]),
        "link_seven": move_links(move_link() + [None]),
        "ragged_rows": move_rows([[1.0, 2.0], [3.0]]),
        "nan_value": move_rows([[1.0, float("nan")]]),
        "inf_value": move_rows([[float("-inf")]]),
        "int_value": move_rows([[1]]),
        "id_dot": move(actors=[move_actor("tank.1")]),
        "src_dot": move_links(move_link("pump.1")),
        "record_empty": move(actors=[move_actor("a", record=b"")]),
        "record_str": move(actors=[move_actor("a", record="rec")]),
        "source_four": move(sources=[move_source()[:4]]),
        "actors_twice": pack_items([("v", 1), ("from", "a"), ("tick", 1),
                                    ("actors", []), ("sources", []),
                                    ("actors", [])]),
        "huge_actors": move(actors=Raw(HUGE)),
        "huge_rows": move_rows(Raw(HUGE)),
    },
    "link_batch_fuzz": {
        "three": BATCH,
        "empty": pack({"tick": 0, "ids": [], "values": b""}),
        "reordered": pack({"values": values(0.0), "ids": [2 ** 64 - 1],
                           "tick": 2 ** 40}),
        "short_values": pack({"tick": 1, "ids": [1, 2],
                              "values": values(1.0)}),
        # values one byte short of and one byte over count * 8, last in
        # the buffer, so that a decoder reading past them overruns it.
        "ragged_short": pack({"tick": 1, "ids": [1, 2],
                              "values": values(1.0, 2.0)[:-1]}),
        "ragged_long": pack({"tick": 1, "ids": [1, 2],
                             "values": values(1.0, 2.0) + b"\x00"}),
        "str_id": pack({"tick": 1, "ids": ["1"], "values": values(1.0)}),
        "huge_ids": pack({"tick": 1, "ids": Raw(HUGE), "values": b""}),
        # degraded positions: within count, one over count, beyond 32 bits
        "degraded": pack({"tick": 1, "ids": [1, 2], "values": values(1.0, 2.0),
                          "degraded": [1]}),
        "degraded_many": pack({"tick": 1, "ids": [1],
                               "values": values(1.0), "degraded": [0, 0]}),
        "degraded_wide": pack({"tick": 1, "ids": [1], "values": values(1.0),
                               "degraded": [2 ** 32]}),
        # positional batches (no ids): what nodes send each other
        "positional": pack({"tick": 7, "values": values(1.0, -0.0, 3.5),
                            "degraded": [2]}),
        "positional_ragged": pack({"tick": 7, "values": values(1.0)[:-3]}),
        "positional_no_tick": pack({"values": values(1.0)}),
    },
    "plant_chunk_fuzz": {
        "two_actors": chunk([actor("t0", sets=[[["area", 20.0, 3, 5]], [],
                                               [["h", 1.5, 4, 5]], []]),
                             actor("p1", "pump", "1.0.0", "medium", 2)],
                            [link("p1", "flow", "t0", "qin"),
                             link("t0", "level", "p1", "h_suction", 3)]),
        "empty": chunk([], [], index=3, final=False),
        "extra_key": chunk([], [], extra={"later": [1, 2]}),
        "bad_id": chunk([actor("a b")], []),
        "bad_fidelity": chunk([actor("a", fid="best")], []),
        "nan_value": chunk([actor("a", sets=[[["x", float("nan"), 0, 0]],
                                             [], [], []])], []),
        "dup_value": chunk([actor("a", sets=[[["x", 1.0, 0, 0],
                                              ["x", 2.0, 0, 0]], [], [], []])],
                           []),
        "delay_zero": chunk([], [link("a", "x", "b", "y", 0)]),
        "delay_over": chunk([], [link("a", "x", "b", "y", 1001)]),
        # a node's part of a plant: its actor, a reference to another
        # node's, the link into its own, each with its place in the file
        "part": chunk([actor("t9", node="node-b", index=17),
                       actor("p1", "pump", node="node-a", index=3)],
                      [link("p1", "flow", "t9", "qin", 2, index=40)]),
        "index_over": chunk([actor("t9", index=1000000)], []),
        "long_actor": chunk([actor("t9", index=1) + [0]], []),
        "short_actor": chunk([["a", "tank"]], []),
        "huge_actors": pack({"upload": 1, "index": 0, "final": True,
                             "file": "f", "actors": Raw(HUGE), "links": []}),
        "dup_key": b"\x87" + chunk([], [])[1:] + pack("index") + pack(1),
    },
    "telemetry_fuzz": {
        "one": pack({"asset": "p1", "signal": "flow", "ts": 1600000000000000000,
                     "value": 32.5, "unit": "l/min"}),
        "batch": pack([{"asset": "p1", "signal": "flow", "ts": 1, "value": 1},
                       {"asset": "p1", "signal": "vib1", "ts": 2,
                        "value": -0.5, "unit": "g", "extra": [1, {}]},
                       {"asset": "p2", "signal": "t", "ts": 3}]),
        "int_value": pack({"asset": "a", "signal": "s", "ts": 5, "value": -7}),
        "f32": b"\x84" + pack("asset") + pack("a") + pack("signal") +
               pack("s") + pack("ts") + pack(1) + pack("value") +
               b"\xca\x3f\x80\x00\x00",
        "long_asset": pack({"asset": "x" * 65, "signal": "s", "ts": 1,
                            "value": 1.0}),
        "neg_ts": pack({"asset": "a", "signal": "s", "ts": -1, "value": 1.0}),
        "empty": pack([]),
        "not_map": pack([1, "x", None]),
        "nan": pack({"asset": "a", "signal": "s", "ts": 1,
                     "value": float("nan")}),
    },
    "plant_parse_fuzz": {
        "yaml": b"\x00" + PLANT_YAML,
        "json": b"\x01" + PLANT_JSON,
        "alias": b"\x00a: &x [1]\nactors: *x\n",
        "two_docs": b"\x00actors: []\n---\nactors: []\n",
        "deep": b"\x00actors: " + b"[" * 20 + b"]" * 20 + b"\n",
        "json_trailing_comma": b'\x01{"actors": [],}',
        "dup_link": b"\x00actors: [{id: a, model: t}]\nlinks: [{from: a.x, "
                    b"to: a.y}, {from: a.x, to: a.y}]\n",
    },
}


def main():
    for target, seeds in SEEDS.items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
