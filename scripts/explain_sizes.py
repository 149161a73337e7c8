"""Shares of an iteration's instructions by category at several sizes, from ``lbfgs-bench explain`` runs.

``python scripts/explain_sizes.py OUT.png DIR [DIR ...]``: each DIR holds one run's explain.json
(same problem, different n); writes one panel per n and prints the shares as a Markdown table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lbfgs_impl.measure.attribution import CATEGORIES, LABELS
from lbfgs_impl.plots.explain import categories_by_size


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out, dirs = Path(argv[0]), [Path(d) for d in argv[1:]]
    docs = sorted((json.loads((d / "explain.json").read_text()) for d in dirs), key=lambda d: d["n"])
    rows = []
    for doc in docs:
        parts = doc["callgrind"].get("solvers", {})
        rows.append({"n": doc["n"], "shares": {s: p["shares_of_net"] for s, p in parts.items()}})
        print(f"\n{doc['problem']} n={doc['n']} (maxiter {doc['config']['maxiter']})\n")
        print(
            "| solver | instructions per iteration | x floor | "
            + " | ".join(c.label for c in CATEGORIES[1:])
            + " |"
        )
        print("|---|---:|---:|" + "---:|" * (len(CATEGORIES) - 1))
        for solver, p in parts.items():
            floor = p.get("floor", {}).get("times_floor")
            cells = [f"{100 * p['shares_of_net'][c.key]:.1f}%" for c in CATEGORIES[1:]]
            times = f"{floor:.1f}" if floor else "n/a"
            print(f"| {solver} | {p['net_per_iteration']:,.0f} | {times} | " + " | ".join(cells) + " |")
    problem = docs[0]["problem"]
    categories_by_size(rows, LABELS, f"{problem}: where an iteration's instructions go, by n", out)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
