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


#: glibc's allocator internals (in an object named ``libc``): how much work a ``malloc`` or ``free``
#: does inside depends on the heap's layout, which follows the process's history, not the solve
#: (measured: the residual of the spread between processes once the scheduler is left out). Their
#: self cost is recorded apart and left out of the compared figure; the entry points ``malloc`` and
#: ``free`` stay in it, so a change in the number of allocations still shows.
ALLOCATOR_FUNCTIONS = re.compile(
    r"^(_int_malloc|_int_free|malloc_consolidate|unlink_chunk.*|_int_memalign|sysmalloc|systrim.*"
    r"|alloc_perturb|_int_realloc)$"
)


#: Functions that look like thread-pool code under any name (a renamed or re-templated scheduler
#: would still match), and XLA's own functions (the total "says XLA ran").
POOL_LIKE_FUNCTIONS = re.compile(r"ThreadPool|RunQueue|WorkerLoop|WorkStealing|Steal\b|EventCount")
XLA_FUNCTIONS = re.compile(r"^(?:xla|tsl)::")

#: Thread-pool-like code above this share of a dump, with nothing matched by the filter, means the
#: filter no longer sees XLA's scheduler. Below it is setup, not scheduling: on tiny problems the
#: pool is never entered (optax_loop/optax_while on quadratic-5: 0 instructions in the scheduler,
#: 150 in ``set_intra_op_thread_pool``, while XLA ran 26-59% of the count).
POOL_LIKE_LIMIT = 0.01


class Dump(NamedTuple):
    """One callgrind dump: all instructions, those of :data:`SCHEDULER_FUNCTIONS` and of
    :data:`ALLOCATOR_FUNCTIONS`, and two checks.

    ``pool_like``: self cost of thread-pool-looking functions the filter did not match;
    ``xla``: self cost of XLA's functions (``xla::``, ``tsl::``).
    """

    total: int
    scheduler: int
    pool_like: int = 0
    xla: int = 0
    allocator: int = 0

    @property
    def net(self) -> int:
        """The compared figure: everything but the scheduler and glibc's allocator internals."""
        return self.total - self.scheduler - self.allocator

    @property
    def share(self) -> float:
        """The thread pool's share of everything counted."""
        return self.scheduler / self.total if self.total else 0.0

    @property
    def problem(self) -> str | None:
        """One line when the scheduler filter matched nothing although XLA ran its thread pool."""
        if self.scheduler or not self.xla or not self.total or self.pool_like <= POOL_LIKE_LIMIT * self.total:
            return None
        return (
            f"the thread-pool filter ({SCHEDULER_FUNCTIONS.pattern}) matched no function although XLA ran "
            f"and {self.pool_like / self.total:.1%} of the count is in thread-pool code: XLA's scheduler "
            "symbols changed; update lbfgs_impl.measure.callgrind.SCHEDULER_FUNCTIONS"
        )


def _name(spec: str, table: dict[str, str]) -> str:
    """Resolve callgrind's name compression: ``(id) name`` defines, ``(id)`` refers."""
    if not spec.startswith("("):
        return spec
    ref, _, name = spec.partition(")")
    name = name.strip() or table.get(ref, ref)
    table[ref] = name
    return name


def self_cost_by_object(text: str) -> dict[tuple[str, str], int]:
    """Self cost (first event) per ``(object file, function)`` of one callgrind output file.

    ``ob=`` sets the object of the ``fn=`` lines after it; ``cob=``/``cfn=``
    only name callees (their definitions still feed the compression tables);
    the cost line after ``calls=`` is a callee's inclusive cost and is skipped.
    """
    objects: dict[str, str] = {}
    functions: dict[str, str] = {}
    costs: dict[tuple[str, str], int] = {}
    obj, current, after_calls = "???", None, False
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
        elif line.startswith("ob="):
            obj = _name(line[3:], objects)
        elif line.startswith("cob="):
            _name(line[4:], objects)
        elif line.startswith("fn="):
            current = (obj, _name(line[3:], functions))
        elif line.startswith("cfn="):
            _name(line[4:], functions)
        elif line.startswith("calls="):
            after_calls = True
    return costs


def self_cost_by_function(text: str) -> dict[str, int]:
    """Self cost (first event) of every function in a callgrind output file, summed over object files."""
    costs: dict[str, int] = {}
    for (_, fn), cost in self_cost_by_object(text).items():
        costs[fn] = costs.get(fn, 0) + cost
    return costs


def dump_of(total: int, costs: dict[str, int]) -> Dump:
    """A :class:`Dump` from callgrind's total and the self cost of every function."""
    scheduler = pool_like = xla = 0
    for name, cost in costs.items():
        if SCHEDULER_FUNCTIONS.match(name):
            scheduler += cost
        elif POOL_LIKE_FUNCTIONS.search(name):
            pool_like += cost
        if XLA_FUNCTIONS.match(name):
            xla += cost
    return Dump(total, scheduler, pool_like, xla)


def read_dump_file(path: Path) -> tuple[str, Dump] | None:
    """``(dump name, dump)`` of one callgrind output file, or None when it is no client-request dump."""
    text = path.read_text(encoding="utf-8", errors="replace")
    trigger, totals = _TRIGGER.search(text), _TOTALS.findall(text)
    if not (trigger and totals):
        return None
    by_object = self_cost_by_object(text)
    costs: dict[str, int] = {}
    allocator = 0
    for (obj, fn), cost in by_object.items():
        costs[fn] = costs.get(fn, 0) + cost
        if "libc" in Path(obj).name and ALLOCATOR_FUNCTIONS.match(fn):
            allocator += cost
    return trigger.group(1), dump_of(int(totals[-1]), costs)._replace(allocator=allocator)


def read_dumps(directory: Path) -> dict[str, Dump]:
    """Every client-request dump in ``directory``, by dump name."""
    found: dict[str, Dump] = {}
    for path in directory.glob("callgrind.*"):
        dump = read_dump_file(path)
        if dump is not None:
            found[dump[0]] = dump[1]
    return found


#: ``xla::cpu::<Class>::Execute(`` (a template's arguments and callgrind's ``'N`` recursion mark allowed)
_THUNK_EXECUTE = re.compile(r"^xla::cpu::(\w+Thunk)(?:<[^>]*>)?::Execute\(.*?(?:'\d+)?$")
#: thunks that only run other thunks (loops, branches, calls): not kernels
CONTROL_THUNKS = frozenset({"WhileThunk", "ConditionalThunk", "CallThunk"})


def thunk_calls(text: str) -> dict[str, int]:
    """How many times each XLA:CPU thunk class's ``Execute`` was called in one callgrind output file.

    Summed over every ``calls=`` line whose callee (``cfn=``) is ``xla::cpu::<Class>[<...>]::Execute(...)``:
    one call per thunk executed (``SmallKernelThunk<2, 1>`` and ``KernelThunk`` count as
    ``SmallKernelThunk`` and ``KernelThunk``). Runs where the executable was dispatched inside the
    counted region; ``ThunkExecutor`` is not a thunk and is not counted.
    """
    functions: dict[str, str] = {}
    found: dict[str, int] = {}
    callee: str | None = None
    for line in text.splitlines():
        if line.startswith(("fn=", "cfn=")):
            name = _name(line.split("=", 1)[1], functions)
            if line[0] == "c":
                callee = name
        elif line.startswith("calls=") and callee is not None:
            m = _THUNK_EXECUTE.match(callee)
            if m:
                found[m.group(1)] = found.get(m.group(1), 0) + int(line[6:].split()[0])
    return found


def kernel_calls(text: str) -> int:
    """Kernels XLA:CPU executed in one callgrind output file: :func:`thunk_calls` of every class that is
    not a control thunk (:data:`CONTROL_THUNKS`)."""
    return sum(n for cls, n in thunk_calls(text).items() if cls not in CONTROL_THUNKS)
