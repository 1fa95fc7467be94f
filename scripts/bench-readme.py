#!/usr/bin/env python3
"""Puts the tables of a ucstack-bench run (build/bench.json) into README.md.

    scripts/bench-readme.py [--readme README.md] [--stdout] [--force] build/bench.json

The tool itself builds the tables (every figure the median of its rounds, with
the spread); this only lays out the rows it wrote into the JSON, between the
markers <!-- bench-table:begin --> and <!-- bench-table:end -->. A quick run,
one of fewer than 3 rounds, or one with a failed scenario is refused unless
--force: the README quotes full, complete runs only. --stdout prints the block
instead of writing the README.
"""
import argparse
import json
import sys

BEGIN = "<!-- bench-table:begin -->"
END = "<!-- bench-table:end -->"
MIN_ROUNDS = 3


def markdown(table):
    rows = [table["header"]] + table["rows"]
    widths = [max(len(r[c]) for r in rows) for c in range(len(table["header"]))]
    line = lambda r: "| " + " | ".join(cell.ljust(w) for cell, w in zip(r, widths)) + " |"
    out = [line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows[1:]]
    return out


def block(run):
    m = run["machine"]
    tables = run["tables"]
    quiet = [n for t in tables.values() for n in t["notes"] if n.startswith("NOT QUIET")]
    load = m.get("load_average_at_start")
    head = (f"Latest run (`make bench`, {run['mode']} mode, {run['rounds']} alternating rounds, {run['date']}"
            + (f", load average {load:.2f} at the start" if load is not None else "")
            + (f"; {len(quiet)} record(s) `NOT QUIET`" if quiet else "; no scenario `NOT QUIET`")
            + f"): {m['cpu_model']}, {m['cores']} cores, {run['dpdk_version']}, lwIP {run['lwip_version']}, "
            + ("hugepages" if run["hugepages"] else "hugepage-free (--no-huge)")
            + ". Each figure is the median of the rounds, the spread (min-max) beside it; ratios are of the medians.")
    out = [BEGIN, head, ""]
    for name in ("table", "local_table"):
        t = tables.get(name)
        if not t:
            continue
        if name != "table":
            out += [t["title"], ""]
        out += markdown(t)
        if t["notes"]:
            out += [""] + [f"- {n}" for n in t["notes"]]
        out.append("")
    out.append(END)
    return "\n".join(out) + "\n"


def refusal(run):
    failed = [f"{r['scenario']} {r['transport']}" for r in run["records"] if r.get("status") == "failed"]
    if run["mode"] != "full":
        return f"a {run['mode']} run"
    if run["rounds"] < MIN_ROUNDS:
        return f"{run['rounds']} round(s), fewer than {MIN_ROUNDS}"
    if failed:
        return "failed: " + ", ".join(failed)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--readme", default="README.md")
    ap.add_argument("--stdout", action="store_true")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    with open(a.json) as f:
        run = json.load(f)
    text = block(run)
    if a.stdout:
        sys.stdout.write(text)
        return 0
    why = refusal(run)
    if why and not a.force:
        print(f"bench-readme: {a.readme} left as it is: {a.json} is {why} (--force to write it anyway)")
        return 0
    with open(a.readme) as f:
        readme = f.read()
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 or readme.index(BEGIN) > readme.index(END):
        print(f"bench-readme: {a.readme} has no single {BEGIN} ... {END} block", file=sys.stderr)
        return 1
    start, end = readme.index(BEGIN), readme.index(END) + len(END) + 1
    with open(a.readme, "w") as f:
        f.write(readme[:start] + text + readme[end:])
    print(f"bench-readme: {a.readme}: the tables of {a.json} ({run['date']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
