#!/usr/bin/env python3
"""Counts import cycles and upward imports in src/ (issue 18).

Reads every `crate::`, `super::` and `self::` path in src/**/*.rs (use lines and paths
inside code; comments and `#[cfg(test)]` modules are left out, and so are `tests.rs`
files: test code may reach anywhere). Each path is resolved to the deepest source file
it names, which gives two graphs: between files, and between top-level modules
(`src/engine/*` is `engine`). It prints:

  - the cycles (strongly connected components of more than one node) of each graph;
  - the imports from a lower layer up to a higher one, by the LAYERS table below
    (the same table as README's "Layout" section).

A module's file using its own children (`mod.rs` re-exporting or using `child::X`) is
left out unless --strict: that is how Rust declares a module, not a circle.

Usage: python3 contrib/dev/imports.py [--list] [--strict]   (from the repository root)
Exit status 0 always: it measures, it does not judge.
"""
import os
import re
import sys

# Which layer each top-level module sits in; a module may use its own layer and those
# below. Keep in step with README.md ("Layout").
LAYERS = {
    0: ["model", "clock", "duration", "bounded", "secret", "logging", "systemd", "date", "exit",
        "server", "once", "random", "https"],
    1: ["config", "policy", "netlink", "state"],
    2: ["request", "provider", "gateway", "ovh"],
    3: ["engine", "notify"],
    4: ["driver", "verify"],
    5: ["source", "control", "setup"],
    6: ["app", "cli", "main", "lib"],
}
LAYER_OF = {m: n for n, ms in LAYERS.items() for m in ms}

SRC = "src"


def files():
    for root, _, names in os.walk(SRC):
        for n in names:
            if n.endswith(".rs") and n != "tests.rs":
                yield os.path.join(root, n)


def module_path(f):
    """src/engine/slot.rs -> ['engine', 'slot']; src/engine/mod.rs -> ['engine']."""
    parts = os.path.relpath(f, SRC)[:-3].split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts in (["lib"], ["main"]):
        return []
    return parts


def file_of(parts):
    """The deepest existing file for a module path."""
    for n in range(len(parts), 0, -1):
        base = os.path.join(SRC, *parts[:n])
        for cand in (base + ".rs", os.path.join(base, "mod.rs")):
            if os.path.exists(cand):
                return cand
    return None


def code(text):
    """The text without comments and without trailing `#[cfg(test)] mod ... { }`."""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "#[cfg(test)]" and i + 1 < len(lines) and re.match(r"\s*(pub(\(crate\))? )?mod \w+", lines[i + 1]):
            break
        out.append(re.sub(r"//.*", "", line))
        i += 1
    return "\n".join(out)


def expand(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = tree.strip()
    m = re.match(r"^([\w:]*?)::\{(.*)\}$", tree, re.S)
    if not m:
        return [tree]
    prefix, inner = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    items.append(cur)
    out = []
    for it in items:
        if it.strip():
            out += [prefix + "::" + p for p in expand(it)]
    return out


def paths(text):
    text = code(text)
    found = []
    # `use child::X` in a file that declares `mod child;` is `self::child::X`.
    for child in re.findall(r"^\s*(?:pub(?:\([\w:]+\))?\s+)?mod\s+(\w+)\s*;", text, re.M):
        text = re.sub(r"\buse\s+" + child + "::", "use self::" + child + "::", text)
    for m in re.finditer(r"\buse\s+((?:crate|super|self)::[^;]*);", text, re.S):
        found += expand(re.sub(r"\s+", "", m.group(1)))
    body = re.sub(r"\buse\s+[^;]*;", "", text, flags=re.S)
    found += re.findall(r"\b(?:crate|super|self)(?:::\w+)+", body)
    return found


def resolve(f, p):
    here = module_path(f)
    segs = [s for s in p.split("::") if s and s not in ("*",)]
    segs = [s.split(" as ")[0] for s in segs]
    if segs[0] == "crate":
        target = segs[1:]
    else:
        base = list(here) if os.path.basename(f) in ("mod.rs", "lib.rs") else list(here[:-1])
        if segs[0] == "self":
            base = list(here)
            segs = segs[1:]
        while segs and segs[0] == "super":
            # `super` from a file module is its parent module
            base = base[:-1] if base else base
            segs = segs[1:]
        # a non-mod file's `super` is its directory module, already `here[:-1]`
        if os.path.basename(f) not in ("mod.rs", "lib.rs") and p.startswith("super"):
            base = list(here[:-1])
            rest = p.split("::")[1:]
            while rest and rest[0] == "super":
                base = base[:-1]
                rest = rest[1:]
            segs = rest
        target = base + segs
    return file_of(target) if target else None


def sccs(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def is_child(f, t):
    mf, mt = module_path(f), module_path(t)
    return os.path.basename(f) in ("mod.rs", "lib.rs") and mt[:len(mf)] == mf and len(mt) > len(mf)


def top(f):
    mp = module_path(f)
    return mp[0] if mp else os.path.basename(f)[:-3]


def main():
    fgraph, mgraph, upward = {}, {}, set()
    for f in sorted(files()):
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        for p in paths(text):
            t = resolve(f, p)
            if not t or t == f:
                continue
            # A module's own file using its children (`pub use child::X`, `use
            # child::Y`) is how Rust declares a module; counted only with --strict.
            if "--strict" not in sys.argv and is_child(f, t):
                continue
            fgraph.setdefault(f, set()).add(t)
            a, b = top(f), top(t)
            if a != b:
                mgraph.setdefault(a, set()).add(b)
                la, lb = LAYER_OF.get(a), LAYER_OF.get(b)
                if la is None or lb is None:
                    print(f"unlayered module: {a if la is None else b}", file=sys.stderr)
                elif lb > la:
                    upward.add((f, t))
    mc, fc = sccs(mgraph), sccs(fgraph)
    print(f"module cycles: {len(mc)}")
    print(f"file cycles: {len(fc)}")
    print(f"upward imports: {len(upward)}")
    if "--list" in sys.argv:
        for c in mc:
            print("  module cycle:", " ".join(c))
        for c in fc:
            print("  file cycle:", " ".join(c))
        for a, b in sorted(upward):
            print(f"  upward: {a} -> {b}")


main()
