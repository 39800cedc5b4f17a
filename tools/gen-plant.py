#!/usr/bin/env python3
"""Write a plant file of a large coupled mesh (for benchmarks and tests).

    tools/gen-plant.py ACTORS [OUT] [--json]

ACTORS actors (even): oscillators and springs alternating in a chain, as in
twinmesh-bench: spring i connects oscillator i and oscillator i + 1 (the
last one the first), four links per spring, so 2 links per actor: 100,000
actors give 200,000 links. Writes YAML (or JSON) to OUT, or stdout.
"""
import sys


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    as_json = "--json" in sys.argv[1:]
    if not args or int(args[0]) < 2 or int(args[0]) % 2:
        sys.exit("usage: tools/gen-plant.py ACTORS [OUT] [--json] "
                 "(ACTORS even, >= 2)")
    n = int(args[0]) // 2
    out = open(args[1], "w") if len(args) > 1 else sys.stdout
    actors = []
    links = []
    for i in range(n):
        k = 4 + (i % 7)
        actors.append(("o%d" % i, "oscillator", "k: %d, x0: %g" % (k, (i % 5) * 0.1)))
        actors.append(("s%d" % i, "spring", "k: %g" % (1 + (i % 3) * 0.5)))
        j = (i + 1) % n
        links += [("o%d.x" % i, "s%d.xa" % i), ("o%d.x" % j, "s%d.xb" % i),
                  ("s%d.fa" % i, "o%d.fr" % i), ("s%d.fb" % i, "o%d.fl" % j)]
    w = out.write
    if as_json:
        w('{"plant": 1, "actors": [\n')
        w(",\n".join('{"id": "%s", "model": "%s", "params": {%s}}' % (
            a, m, ", ".join('"%s": %s' % tuple(kv.split(": "))
                            for kv in p.split(", "))) for a, m, p in actors))
        w('],\n"links": [\n')
        w(",\n".join('{"from": "%s", "to": "%s"}' % l for l in links))
        w("]}\n")
    else:
        w("plant: 1\nactors:\n")
        for a, m, p in actors:
            w("  - {id: %s, model: %s, params: {%s}}\n" % (a, m, p))
        w("links:\n")
        for f, t in links:
            w("  - {from: %s, to: %s}\n" % (f, t))
    out.close()


if __name__ == "__main__":
    main()
