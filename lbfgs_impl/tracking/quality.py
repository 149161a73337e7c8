"""The gate's exact figures: iterations, evaluations, convergence, gradient norm and loss.

These are noise-free for a given commit and library versions. A figure the baseline records
must be usable on both sides: a null, NaN or text where a number or a true/false belongs is a
finding (``"quality not measured"``), never a silent skip; a baseline that records none of them
is a finding too (``"quality not compared"``). A loss or gradient norm that became NaN/inf
(stored as null or NaN) is a regression.
"""

from __future__ import annotations

import math
from typing import Any

from lbfgs_impl.tracking.runs import Finding, Thresholds, percent

COUNTS = ("n_iter", "n_fev")
FLAGS = ("solved", "converged")
VALUES = ("grad_inf_norm", "final_loss")
KEYS = COUNTS + FLAGS + VALUES


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _usable(key: str, x: Any) -> bool:
    if key in COUNTS:
        return _number(x) and math.isfinite(x) and x >= 0
    if key in FLAGS:
        return isinstance(x, bool)
    return x is None or _number(x)  # a value: null and NaN/inf are "NaN/inf", a state of their own


def _finite(x: Any) -> bool:
    return _number(x) and math.isfinite(x)


def _unusable(name: str, key: str, b: Any, c: Any, side: str) -> Finding:
    what = "a true/false" if key in FLAGS else "a number"
    value = "absent" if c is _ABSENT else repr(b if side == "baseline" else c)
    rule = f"{key} not measured: the {side} records {value} where {what} belongs"
    return Finding(name, "quality not measured", None if b is _ABSENT else b, None if c is _ABSENT else c,
                   None, rule)  # fmt: skip


_ABSENT = object()


def quality_changes(
    name: str, base: dict[str, Any], cur: dict[str, Any], th: Thresholds
) -> tuple[list[Finding], list[Finding], bool]:
    """(regressions, improvements, compared) of one benchmark's exact figures."""
    bi, ci = base.get("extra_info") or {}, cur.get("extra_info") or {}
    if not any(key in bi for key in KEYS):
        rule = f"quality not compared: the baseline records none of {', '.join(KEYS)}"
        return [Finding(name, "quality not compared", None, None, None, rule)], [], False
    worse: list[Finding] = []
    better: list[Finding] = []
    for key in (k for k in KEYS if k in bi):
        b, c = bi[key], ci.get(key, _ABSENT)
        if not _usable(key, b):
            worse.append(_unusable(name, key, b, c, "baseline"))
        elif c is _ABSENT or not _usable(key, c):
            worse.append(_unusable(name, key, b, c, "current run"))
        elif key in COUNTS:
            _count(name, key, b, c, th, worse, better)
        elif key in FLAGS:
            _flag(name, key, b, c, ci, worse, better)
        else:
            _value(name, key, b, c, th, worse, better)
    return worse, better, True


def _count(name, key, b, c, th, worse, better) -> None:
    if b <= 0:  # no ratio: any rise from zero is more than the tolerance
        if c > 0:
            worse.append(Finding(name, key, b, c, math.inf, "up from 0"))
        return
    ratio = c / b
    if ratio > 1.0 + th.count_tolerance:
        worse.append(Finding(name, key, b, c, ratio, f"up more than {percent(th.count_tolerance)}"))
    elif ratio < 1.0 - th.count_tolerance:
        better.append(Finding(name, key, b, c, ratio, f"down more than {percent(th.count_tolerance)}"))


def _flag(name, key, b, c, ci, worse, better) -> None:
    if b and not c:
        why = "no longer solves the problem (suite's rule)" if key == "solved" else "no longer converges"
        status = f": {ci.get('status', '')}" if key == "converged" else ""
        worse.append(Finding(name, key, True, False, None, why + status))
    elif c and not b:
        better.append(Finding(name, key, False, True, None, "solves the problem now" if key == "solved"
                              else "converges now"))  # fmt: skip


def _value(name, key, b, c, th, worse, better) -> None:
    if _finite(b) and not _finite(c):
        worse.append(Finding(name, key, b, None, None, "became NaN/inf"))
    elif not _finite(b) and _finite(c):
        better.append(Finding(name, key, None, c, None, "no longer NaN/inf"))
    elif _finite(b) and _finite(c):
        ratio = max(abs(c), th.value_floor) / max(abs(b), th.value_floor)
        if ratio > th.quality_factor:
            worse.append(Finding(name, key, b, c, ratio, f"worse by more than {th.quality_factor:g}x"))
        elif ratio < 1.0 / th.quality_factor:
            better.append(Finding(name, key, b, c, ratio, f"better by more than {th.quality_factor:g}x"))
