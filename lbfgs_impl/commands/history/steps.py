"""Steps in a series of figures over releases, each named with its release pair and its cause class.

A series is one figure (solve instructions, compile instructions, kernels per iteration) per
release, in release order. asv's step detection (:func:`asv.step_detect.detect_steps`, as the
nightly gate runs it over the history of nights) cuts the series into segments of a constant
level; every boundary whose level changes by at least ``threshold`` is a step, named by the last
release before it and the first after it. Counts are deterministic, so a change between two
neighbouring releases that the detector folded into a segment (too short a segment to stand out
of its neighbours) is still named when it passes ``threshold``: ``method`` says which rule named it.

The cause class of a step in the solve tells a changed algorithm from a changed cost per
iteration: the solve's instructions are iterations x instructions per iteration, and each
factor's change between the pair is compared with ``threshold``; a change in iterations or
evaluations (the solver took another path) is ``"iterations"``, a change in instructions per
iteration with the same path is ``"cost per iteration"``, both is ``"both"``. The path counts as
changed when iterations or evaluations move by ``threshold`` or more (valgrind's emulated CPU can
shift a solve by an iteration or a few evaluations).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

#: the smallest relative change named as a step
THRESHOLD = 0.02


@dataclass(frozen=True)
class Point:
    """One release's figures on one case."""

    label: str
    solve: float | None
    compile: float | None
    kernels_per_iteration: float | None
    n_iter: int | None
    n_fev: int | None
    #: kernels per iteration outside the line search (iteration body and fixed loops): the part of
    #: ``kernels_per_iteration`` that does not scale with the evaluations per iteration
    kernels_fixed: float | None = None

    @property
    def per_iteration(self) -> float | None:
        return self.solve / self.n_iter if self.solve is not None and self.n_iter else None


@dataclass(frozen=True)
class Step:
    """A change of ``change`` (relative) in ``figure`` between release ``before`` and release ``after``."""

    figure: str
    before: str
    after: str
    value_before: float
    value_after: float
    change: float
    method: str
    cause: str
    iterations: tuple[int | None, int | None]
    evaluations: tuple[int | None, int | None]
    per_iteration_change: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FIGURES = {
    "solve": "instructions of the steady solve",
    "compile": "instructions of the first call's trace+lower+compile",
    "kernels_per_iteration": "kernels per iteration (static HLO)",
}


def _relative(a: float | None, b: float | None) -> float | None:
    return b / a - 1.0 if a and b is not None else None


def cause(before: Point, after: Point, figure: str, threshold: float = THRESHOLD) -> str:
    """The cause class of a change between two neighbouring releases (see the module's docstring)."""
    path_changed = (before.n_iter, before.n_fev) != (after.n_iter, after.n_fev)
    if figure == "compile":
        return "compile"
    if figure == "kernels_per_iteration":
        # the static figure counts the line search at its measured evaluations per iteration
        if before.kernels_fixed is not None and before.kernels_fixed == after.kernels_fixed:
            return "evaluations per iteration" if path_changed else "kernels"
        return "kernels"
    per_it = _relative(before.per_iteration, after.per_iteration)
    iters = _relative(before.n_iter, after.n_iter)
    fevs = _relative(before.n_fev, after.n_fev)
    iters_moved = path_changed and any(r is None or abs(r) >= threshold for r in (iters, fevs))
    cost_moved = per_it is not None and abs(per_it) >= threshold
    if iters_moved and cost_moved:
        return "both"
    if iters_moved:
        return "iterations"
    return "cost per iteration"


def _detected_boundaries(values: list[float]) -> set[int]:
    """Indices ``i`` where asv's detector starts a new segment (between ``i - 1`` and ``i``)."""
    from asv.step_detect import detect_steps

    if len(values) < 3:
        return set(range(1, len(values)))
    segments = detect_steps(values)
    return {after[0] for _, after in itertools.pairwise(segments)}


def find_steps(points: list[Point], figure: str, threshold: float = THRESHOLD) -> list[Step]:
    """Every change of at least ``threshold`` in ``figure`` over ``points`` (release order).

    Releases without the figure are left out of the series (a step then spans the gap).
    """
    usable = [p for p in points if getattr(p, figure) is not None]
    values = [float(getattr(p, figure)) for p in usable]
    detected = _detected_boundaries(values)
    steps = []
    for i in range(1, len(usable)):
        a, b = usable[i - 1], usable[i]
        change = values[i] / values[i - 1] - 1.0
        if abs(change) < threshold:
            continue
        steps.append(
            Step(
                figure=figure,
                before=a.label,
                after=b.label,
                value_before=values[i - 1],
                value_after=values[i],
                change=change,
                method="step_detect" if i in detected else "neighbours",
                cause=cause(a, b, figure, threshold),
                iterations=(a.n_iter, b.n_iter),
                evaluations=(a.n_fev, b.n_fev),
                per_iteration_change=_relative(a.per_iteration, b.per_iteration),
            )
        )
    return steps


def all_steps(points: list[Point], threshold: float = THRESHOLD) -> list[Step]:
    """:func:`find_steps` for every figure in :data:`FIGURES`."""
    return [s for figure in FIGURES for s in find_steps(points, figure, threshold)]
