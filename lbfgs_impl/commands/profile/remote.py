"""``profile --scheduler ADDRESS``: the timed part on a Dask cluster, one task per problem.

A task holds every solver of one problem (``runner.time_problem``),
so every time ratio of the profile is measured on one machine; each row records
that machine's CPU model and host, and a profile whose timed rows come from
several CPU models draws one time profile per model
(:mod:`lbfgs_impl.commands.profile.document`). Only an explicit address sends
the timing away: the embedded LocalCluster (the default for instruction counts)
would time problems side by side on the cores of this machine, so without an
address the timing stays in this process, pinned, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def timing_address(scheduler: str | None) -> str | None:
    """The scheduler address the timing goes to, or ``None`` to time here (no flag, ``local``, ``none``)."""
    from lbfgs_impl.measure.cluster import LOCAL, NO_DASK, resolve_scheduler

    if scheduler is None:  # the environment variable is for instruction counts only
        return None
    target = resolve_scheduler(scheduler)
    return None if target in (LOCAL, NO_DASK) else target


def time_on_cluster(
    problems: Sequence[str],
    task: Callable[[str], list[Any]],
    failed: Callable[[str, str], list[Any]],
    address: str,
    progress: Callable[[str], None],
    bar: Any,
) -> list[Any]:
    """Submit ``task(problem)`` (picklable: it runs on a worker) for each problem to ``address``.

    Returns the rows in ``problems`` order once all are back; a problem whose task
    fails on every worker it was tried on becomes ``failed(problem, error)``, the rest complete.
    """
    from distributed import Client, as_completed

    by_problem: dict[str, list[Any]] = {}
    with Client(address, timeout="30s") as client:
        futures = {client.submit(task, name, pure=False, retries=1): name for name in problems}
        for future in as_completed(futures):
            name = futures[future]
            try:
                rows = future.result()
            except Exception as exc:
                rows = failed(name, f"{type(exc).__name__}: {exc}".splitlines()[0])
            by_problem[name] = rows
            if bar is not None:
                bar.update(len(rows))
            where = rows[0].cpu if rows and rows[0].cpu else "?"
            solved_by = ", ".join(r.solver for r in rows if r.solved) or "none"
            progress(f"{name}: solved by {solved_by} (timed on {where})")
    return [row for name in problems for row in by_problem[name]]
