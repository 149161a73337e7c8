"""Test-only solver plugin: ``failing_child:FailsInChild``, Optax's while_loop solve that fails in the
callgrind child.

Native it is ``optax_while`` (so explain's static part measures it); in a process running under
valgrind its ``prepare`` raises, as a solver that breaks in one measuring child would. With
``LBFGS_BENCH_FAIL_EVERYWHERE`` set it raises in every process.
"""

from __future__ import annotations

import os
from pathlib import Path

from lbfgs_impl.solvers.optax_lbfgs import OptaxWhileLoop

MESSAGE = "made to fail in the measuring child"


def _under_valgrind() -> bool:
    try:
        return "vgpreload" in Path("/proc/self/maps").read_text()
    except OSError:
        return False


class FailsInChild(OptaxWhileLoop):
    name = "failing_child:FailsInChild"
    description = "optax_while, except under valgrind (a test of explain's error handling)"

    def prepare(self, problem, config):
        if os.environ.get("LBFGS_BENCH_FAIL_EVERYWHERE") or _under_valgrind():
            raise RuntimeError(MESSAGE)
        return super().prepare(problem, config)
