"""Robustness history (asv): per solver, how it fares on five Moré-Garbow-Hillstrom problems.

``track_problems_failed`` counts the problems the solver does not solve by the
suite's rule (:func:`lbfgs_impl.profiles.solved`); asv flags increases, so a
solver losing a problem shows up as a regression. ``track_iterations`` and
``track_fg_evals`` are the sums over the five (exact, like the seed figures). Five,
not the whole set: every asv environment solves them with every solver in
``setup_cache`` (``lbfgs-bench profile`` covers all 33).
Commits that predate the MGH set or a peer skip with ``NotImplementedError``.
"""

from __future__ import annotations

from . import SMOKE

PROBLEMS = ["mgh_rosenbrock", "mgh_beale", "mgh_freudenstein_roth", "mgh_wood", "mgh_penalty_1"]

SOLVERS = [
    "scipy",
    "optax_loop",
    "optax_while",
    "jaxopt_lbfgs",
    "optimistix_lbfgs",
    "optimistix_bfgs",
    "jax_scipy_bfgs",
]


if SMOKE:  # see benchmarks/__init__.py
    PROBLEMS, SOLVERS = PROBLEMS[:2], ["scipy"]

PARAMS = (SOLVERS,)
PARAM_NAMES = ["solver"]


class Robustness:
    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 1800

    def setup_cache(self):
        try:
            from lbfgs_impl.problems import make_problem
            from lbfgs_impl.profiles import solved
            from lbfgs_impl.solvers import SolverConfig, get_solver
        except ImportError:
            return {"skipped": "this commit has no MGH set"}
        figures = {}
        try:
            problems = [make_problem(name) for name in PROBLEMS]
        except ValueError:
            return {"skipped": "this commit lacks one of the tracked MGH problems"}
        for name in SOLVERS:
            try:
                solver = get_solver(name)
            except ValueError:
                continue
            if solver.unavailable_reason():
                continue
            failed = iterations = evaluations = 0
            for problem in problems:
                result = solver.solve(problem, SolverConfig())
                f0 = float(problem.value(problem.x0))
                failed += not solved(result.value, problem.f_star, f0)
                iterations += result.n_iter
                evaluations += result.n_fev
            figures[name] = {"failed": failed, "iterations": iterations, "fg_evals": evaluations}
        return figures

    def setup(self, figures, solver):
        if "skipped" in figures:
            raise NotImplementedError(figures["skipped"])
        if solver not in figures:
            raise NotImplementedError(f"{solver} is not available in this commit or environment")

    def track_problems_failed(self, figures, solver):
        return figures[solver]["failed"]

    track_problems_failed.unit = "problems"

    def track_iterations(self, figures, solver):
        return figures[solver]["iterations"]

    track_iterations.unit = "iterations"

    def track_fg_evals(self, figures, solver):
        return figures[solver]["fg_evals"]

    track_fg_evals.unit = "evaluations"
