"""Tracking regressions between runs.

* :mod:`~lbfgs_impl.tracking.regressions`: the comparison of two pytest-benchmark
  runs (time, instruction counts, iterations/evaluations, quality) and its report;
* :mod:`~lbfgs_impl.tracking.confirm`: A/B re-runs from git worktrees (and a venv
  with the baseline's library versions) that confirm a flagged time regression.
"""
