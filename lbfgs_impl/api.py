"""The Python API: the commands' measurements, callable from a script or a notebook.

>>> import jax.numpy as jnp
>>> import lbfgs_impl
>>> result = lbfgs_impl.compare(lambda x: jnp.sum((x - 1.0) ** 2), n=10, repeats=3)
>>> print(result.to_markdown())

Each function takes what the matching command takes: problems and solvers by registered
name or ``module:attr``, and (here only) a Python function or a :class:`Problem` object.
The figures are measured exactly as the commands measure them (same fairness rule: the
suite evaluates the final point itself, counts evaluations, checks zero compilations in
steady timings, records each solver's origin).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax

from lbfgs_impl.problems import Problem, make_problem
from lbfgs_impl.problems.user import given_start, user_problem
from lbfgs_impl.solvers import SEED_SOLVERS, SolverConfig

__all__ = ["CompareResult", "ProfileResult", "as_problem", "compare", "profile", "report"]

ProblemLike = str | Problem | Callable[[jax.Array], jax.Array]


def as_problem(problem: ProblemLike, x0: Any = None, n: int | None = None) -> Problem:
    """A :class:`Problem` from a registered name or ``module:attr`` (with ``n``), a :class:`Problem`,
    or a function ``f(x) -> scalar``; started at ``x0`` (an array, or ``module:attr`` naming one)
    when given, else at the problem's own start (``zeros(n)`` for a function); checked like the CLI's."""
    if isinstance(problem, str):
        return make_problem(problem, n, x0=x0)
    name = getattr(problem, "__name__", "objective") if not isinstance(problem, Problem) else problem.name
    what = f"problem {name!r}"
    start = None if x0 is None else given_start(x0, n, what)
    return user_problem(problem, name, n, {}, what, start)


@dataclass
class CompareResult:
    """What :func:`compare` measured: the rows of ``lbfgs-bench compare --json``.

    Attributes:
      comparison: the full :class:`~lbfgs_impl.commands.compare.runner.Comparison`.
      rows: one dict per solver (``solver``, ``steady_s``, ``first_call_s``, ``n_iter``, ``n_fev``,
        ``final_loss``, ``grad_inf_norm``, ``converged``, ``status``, ``solver_origin``...).
    """

    comparison: Any
    rows: list[dict[str, Any]]

    def to_json(self) -> str:
        """The same document as ``lbfgs-bench compare --json`` (``{"meta": ..., "results": ...}``)."""
        from lbfgs_impl.commands.compare.table import comparison_to_dict

        return json.dumps(comparison_to_dict(self.comparison), indent=2)

    def to_markdown(self) -> str:
        """A Markdown table: solver, steady and first-call seconds, iterations, evaluations, outcome."""
        head = "| solver | steady (s) | first call (s) | iterations | f+g evals | final loss | converged |"
        lines = [head, "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            cells = [r["solver"], _fmt(r["steady_s"]), _fmt(r["first_call_s"]), str(r["n_iter"])]
            cells += [str(r["n_fev"]), _fmt(r["final_loss"]), "yes" if r["converged"] else r["status"]]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def compare(
    objective: ProblemLike,
    x0: Any = None,
    *,
    n: int | None = None,
    solvers: Sequence[str] = SEED_SOLVERS,
    gtol: float = 1e-5,
    maxiter: int = 1000,
    repeats: int = 20,
    first_call_repeats: int = 3,
) -> CompareResult:
    """``lbfgs-bench compare`` on ``objective`` (a function ``f(x)``, a :class:`Problem`, a registered
    name or ``module:attr``) with ``solvers`` (names or ``module:attr``); not pinned to a CPU."""
    from lbfgs_impl.commands.compare.runner import run_comparison
    from lbfgs_impl.commands.compare.table import row_to_dict
    from lbfgs_impl.solvers import get_solver

    for name in solvers:
        get_solver(name)  # a bad name or plugin raises before anything runs
    problem = as_problem(objective, x0, n)
    config = SolverConfig(gtol=gtol, maxiter=maxiter).validate()
    comparison = run_comparison(
        problem, list(solvers), config, repeats=repeats, first_call_repeats=first_call_repeats
    )
    return CompareResult(comparison, [row_to_dict(r) for r in comparison.rows])


@dataclass
class ProfileResult:
    """What :func:`profile` measured (the document of ``lbfgs-bench profile``'s results.json)."""

    run: Any

    def to_dict(self) -> dict[str, Any]:
        from lbfgs_impl.commands.profile.runner import to_dict

        return to_dict(self.run)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def success(self) -> list[tuple[str, int, int]]:
        """Per solver: problems solved, problems tried."""
        from lbfgs_impl.commands.profile.runner import success_table

        return success_table(self.run)


def profile(
    problems: Sequence[str], solvers: Sequence[str] = SEED_SOLVERS, *, repeats: int = 3, maxiter: int = 1000
) -> ProfileResult:
    """``lbfgs-bench profile`` on ``problems`` (names or ``module:attr`` with a known f*) and ``solvers``."""
    from lbfgs_impl.commands.profile.runner import run_profile

    run = run_profile(list(problems), list(solvers), config=SolverConfig(maxiter=maxiter), repeats=repeats)
    return ProfileResult(run)


def report(outdir: str, *, quick: bool = True, problem: str | None = None, n: int | None = None) -> list[str]:
    """``lbfgs-bench report OUTDIR [--quick] [--problem P --n N]``: every analysis, written into ``outdir``
    (not pinned), ``problem`` (a registered name or ``module:attr``) measured beside the plan's cases in
    the scaling and break-even stages; returns the paths written (``report.md``, ``report.json``, figures)."""
    from pathlib import Path

    from lbfgs_impl.commands.common import problem_n
    from lbfgs_impl.commands.report.build import build_report
    from lbfgs_impl.commands.report.plans import PLANS, with_problem
    from lbfgs_impl.measure.timing import pinned

    plan = PLANS["quick" if quick else "full"]
    if problem is not None:
        plan = with_problem(plan, problem, problem_n(problem, n))
    with pinned(None) as pinning:
        _, written = build_report(Path(outdir), plan, pinning=pinning, progress=lambda m: None)
    return [str(p) for p in written]
