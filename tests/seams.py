#!/usr/bin/env python3
"""The folder graph, as built (issue 13 item 8; docs/design.md draws it).

1. No library source includes a header by a relative path ("../"): every
   include goes through the include paths its library was given, so a
   forbidden one fails to compile.
2. Every symbol a layer's objects need from another layer comes from a layer
   it may use. Calls that go up are registrations (function pointers), which
   nm does not see as calls. lwIP is a layer of its own here so that the
   local socket kind (libsock/local*.c) can be held to needing none of it.
3. Inside a folder, no circle of includes: a file's module is its name
   without .c or .h (sock.c and sock.h are one), and module A uses module B
   when a file of A includes B's header; these uses form no cycle.

Usage: seams.py SOURCE_ROOT layer=LIB.a ...
"""
import os
import re
import subprocess
import sys

MAY_USE = {
    'ucred': set(),
    'drivers': set(),
    'stack': {'drivers', 'lwip'},
    'lwip': {'stack'},  # lwIP and stack/ are one layer: hooks run both ways
    'credlink': {'stack', 'lwip', 'drivers', 'ucred'},
    # The core of libsock names its kinds in one place (kinds.c); the local
    # kind registers through struct sock_ops and calls the core back.
    'libsock': {'credlink', 'stack', 'lwip', 'ucred', 'local'},
    'local': {'libsock', 'credlink', 'stack', 'ucred'},
}
FOLDERS = ['ucred', 'drivers', 'stack', 'libsock', 'credlink', 'include']


def sources(root):
    """Each folder's directories (patches aside), with their C sources and headers."""
    for folder in FOLDERS:
        for dirpath, _, names in os.walk(os.path.join(root, folder)):
            if 'patches' not in dirpath:
                yield dirpath, [n for n in names if n.endswith(('.c', '.h'))]


def relative_includes(root):
    bad = []
    for dirpath, names in sources(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, encoding='utf-8') as f:
                for n, line in enumerate(f, 1):
                    if re.match(r'\s*#\s*include\s*"\.\./', line):
                        bad.append(f'{os.path.relpath(path, root)}:{n}: {line.strip()}')
    return bad


def include_cycles(root):
    """Circles of includes between the modules of each folder."""
    found = []
    for dirpath, names in sources(root):
        headers = {n for n in names if n.endswith('.h')}
        uses = {}
        for name in names:
            mod = name[:-2]
            with open(os.path.join(dirpath, name), encoding='utf-8') as f:
                for line in f:
                    m = re.match(r'\s*#\s*include\s*"([^"/]+\.h)"', line)
                    if m and m.group(1) in headers and m.group(1)[:-2] != mod:
                        uses.setdefault(mod, set()).add(m.group(1)[:-2])
        state = {}

        def visit(mod, path):
            state[mod] = 'open'
            for dep in sorted(uses.get(mod, ())):
                if state.get(dep) == 'open':
                    cycle = path[path.index(dep):] + [dep]
                    found.append(f'{os.path.relpath(dirpath, root)}: include circle ' + ' -> '.join(cycle))
                elif dep not in state:
                    visit(dep, path + [dep])
            state[mod] = 'done'

        for mod in sorted(uses):
            if mod not in state:
                visit(mod, [mod])
    return found


def symbols(lib):
    out = subprocess.run(['nm', '--defined-only', '-g', lib], capture_output=True, text=True, check=True).stdout
    defined = {p[2] for p in (l.split() for l in out.splitlines()) if len(p) == 3}
    out = subprocess.run(['nm', '-u', lib], capture_output=True, text=True, check=True).stdout
    needed = {l.split()[-1] for l in out.splitlines() if l.strip() and not l.endswith(':')}
    return defined, needed


def main():
    root, layers = sys.argv[1], {}
    for arg in sys.argv[2:]:
        layer, lib = arg.split('=', 1)
        layers.setdefault(layer, []).append(lib)
    failures = relative_includes(root) + include_cycles(root)
    owner, needs = {}, {}
    for layer, libs in layers.items():
        for lib in libs:
            defined, needed = symbols(lib)
            for s in defined:
                owner[s] = layer
            needs.setdefault(layer, set()).update(needed)
    for layer, needed in sorted(needs.items()):
        for s in sorted(needed):
            other = owner.get(s)
            if other is None or other == layer or other in MAY_USE[layer]:
                continue
            failures.append(f'{layer} calls {other}: {s}')
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
