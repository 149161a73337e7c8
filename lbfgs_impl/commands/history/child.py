"""What ``lbfgs-bench history`` runs inside each release's environment (not a public interface).

``python -m lbfgs_impl.commands.history.child OUT.json --solver S --problem P --n N --repeats R``
takes, in the interpreter of that environment, the static HLO figures of one native solve
(kernels per iteration, flops, iterations, evaluations) and then the instruction counts of
the first call's trace+lower+compile and of one steady solve, ``R`` processes under callgrind
(:func:`lbfgs_impl.measure.instructions.measure_instructions` with ``compile=True`` unless
``--no-compile``, one zygote on one CPU), and writes them with the versions that ran them to
``OUT.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from typing import Any


def measure(
    solver: str, problem_name: str, n: int, repeats: int, cpu: int | None, count_compile: bool = True
) -> dict[str, Any]:
    """Static figures and instruction counts of ``solver`` on ``problem_name``-``n`` in this interpreter."""
    from lbfgs_impl.commands.explain.static import solver_static
    from lbfgs_impl.measure.environment import collect_meta
    from lbfgs_impl.measure.instructions import InstructionTask, measure_instructions
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig

    doc: dict[str, Any] = {
        "meta": collect_meta(),
        "case": {"solver": solver, "problem": problem_name, "n": n},
    }
    doc["meta"]["python_executable"] = sys.executable
    try:
        static = solver_static(solver, make_problem(problem_name, n), SolverConfig())
        doc["static"] = {
            k: static[k] for k in ("n_iter", "n_fev", "converged", "kernels_per_iteration_total")
        }
        doc["static"]["kernels_per_iteration"] = static["kernels_per_iteration"]
        hlo = static["hlo"]
        doc["static"]["flops"] = hlo.get("flops")
        doc["static"]["iteration_flops"] = hlo["iteration"].get("flops")
        doc["static"]["flops_missing"] = hlo.get("cost_missing")
        doc["static"]["total_kernels"] = hlo.get("total_kernels")
    except Exception as exc:  # a release that cannot be read statically is recorded, not fatal
        doc["static"] = {"error": f"{type(exc).__name__}: {exc}"}
    cpus = [cpu] if cpu is not None else sorted(os.sched_getaffinity(0))[:1]
    report = measure_instructions(
        [InstructionTask(solver, problem_name, n)], repeats=repeats, compile=count_compile, cpus=cpus
    )
    doc["instructions"] = report.to_dict()
    doc["meta"]["valgrind"] = report.meta.get("valgrind")
    doc["meta"]["machine"] = platform.machine()
    return doc


def main(argv: list[str] | None = None) -> int:
    from lbfgs_impl.outputs import write_json_atomic

    parser = argparse.ArgumentParser(prog="lbfgs_impl.commands.history.child")
    parser.add_argument("out")
    parser.add_argument("--solver", default="optax_while")
    parser.add_argument("--problem", default="rosenbrock")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--no-compile", action="store_true", help="count the steady solve only")
    args = parser.parse_args(argv)
    doc = measure(args.solver, args.problem, args.n, args.repeats, args.cpu, not args.no_compile)
    write_json_atomic(args.out, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
