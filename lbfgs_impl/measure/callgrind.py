"""Reading callgrind's output files: totals, client-request dumps, self cost per function."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

_TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.M)
_TRIGGER = re.compile(r"^desc: Trigger: Client Request: (\S+)", re.M)

#: Functions of XLA's CPU thread pool that run while a worker looks for work: idle
#: spinning and work stealing. How long a worker spins depends on how valgrind
#: interleaves threads, not on the solve (measured: 0.1-0.2 M of a 4.3 M logistic
#: solve, 125 M of optax_loop's 460 M on the seed case), so their self cost is
#: reported apart and left out of the figure that is compared.
SCHEDULER_FUNCTIONS = re.compile(r"^Eigen::(ThreadPoolTempl|RunQueue)<")


class Dump(NamedTuple):
    """One callgrind dump: all instructions, and those of :data:`SCHEDULER_FUNCTIONS`."""

    total: int
    scheduler: int

    @property
    def net(self) -> int:
        return self.total - self.scheduler


def self_cost_by_function(text: str) -> dict[str, int]:
    """Self cost (first event) of every function in a callgrind output file.

    Handles name compression (``fn=(id) name`` or ``cfn=(id) name`` define a
    name, ``fn=(id)`` refers to it); the cost line
    after a ``calls=`` line is the callee's inclusive cost and is not counted.
    """
    names: dict[str, str] = {}
    costs: dict[str, int] = {}
    current = None
    after_calls = False
    for line in text.splitlines():
        if not line:
            continue
        head = line[0]
        if head.isdigit() or head in "+-*":
            if after_calls:
                after_calls = False
            elif current is not None:
                parts = line.split()
                if len(parts) > 1:
                    costs[current] = costs.get(current, 0) + int(parts[1])
        elif line.startswith(("fn=", "cfn=")):
            spec = line.partition("=")[2]
            name = spec
            if spec.startswith("("):  # a compressed name: "(id) name" defines it, "(id)" refers to it
                ref, _, name = spec.partition(")")
                name = name.strip() or names.get(ref, ref)
                names[ref] = name
            if head == "f":
                current = name
        elif line.startswith("calls="):
            after_calls = True
    return costs


def read_dumps(directory: Path) -> dict[str, Dump]:
    """Every client-request dump in ``directory``, by dump name."""
    found: dict[str, Dump] = {}
    for path in directory.glob("callgrind.*"):
        text = path.read_text(encoding="utf-8", errors="replace")
        trigger, totals = _TRIGGER.search(text), _TOTALS.findall(text)
        if trigger and totals:
            costs = self_cost_by_function(text)
            scheduler = sum(c for name, c in costs.items() if SCHEDULER_FUNCTIONS.match(name))
            found[trigger.group(1)] = Dump(int(totals[-1]), scheduler)
    return found
