#!/usr/bin/env python3
"""Import cycles between the modules of each crate.

A module is a top-level file or directory of a crate's `src/` (`lib.rs` and
`main.rs` are the root and not counted). Module A depends on B when a file of A
names `crate::B` (in a path, or inside `use crate::{…}`). Prints, per crate, every
strongly connected group of more than one module, and exits 1 if there is any.

    python3 scripts/module_cycles.py            # the whole workspace
    python3 scripts/module_cycles.py orchestrator
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def crates(names):
    for d in sorted(os.listdir(ROOT)):
        src = os.path.join(ROOT, d, "src")
        if os.path.isdir(src) and (not names or d in names):
            yield d, src
    if not names or "cli" in names:
        yield "cli", os.path.join(ROOT, "src")


def modules(src):
    mods = {}
    for e in os.listdir(src):
        p = os.path.join(src, e)
        if e in ("lib.rs", "main.rs"):
            continue
        if e.endswith(".rs"):
            mods.setdefault(e[:-3], []).append(p)
        elif os.path.isdir(p):
            mods.setdefault(e, [])
            for dp, _, fs in os.walk(p):
                mods[e] += [os.path.join(dp, f) for f in fs if f.endswith(".rs")]
    return mods


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] if "//" in line and '"' not in line.split("//")[0] else line for line in text.splitlines())


def deps(files, names):
    out = set()
    for f in files:
        text = strip_comments(open(f, encoding="utf-8").read())
        for m in re.finditer(r"crate::(\{[^}]*\}|\w+)", text):
            grp = m.group(1)
            for n in re.findall(r"(?:^|[{,\s])(\w+)", grp) if grp.startswith("{") else [grp]:
                if n in names:
                    out.add(n)
    return out


def sccs(graph):
    index, low, stack, on, out, i = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = i[0]
        i[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    found = 0
    for crate, src in crates(sys.argv[1:]):
        mods = modules(src)
        graph = {m: deps(fs, mods) - {m} for m, fs in mods.items()}
        cycles = [c for c in sccs(graph) if len(c) > 1]
        for c in sorted(cycles, key=len, reverse=True):
            found += 1
            print(f"{crate}: {len(c)} modules in one cycle: {', '.join(c)}")
    if not found:
        print("no import cycle between modules")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
