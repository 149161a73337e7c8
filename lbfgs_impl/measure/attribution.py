"""Where a solve's instructions run: callgrind's self cost per (object file, function), in stated categories.

Each function callgrind saw is put in the first category whose rule matches
(:data:`CATEGORIES`, in order); the categories therefore add up to callgrind's
total for the dump. The rules look only at the object file (``ob=``) and the
symbol, so they are shown as they are in ``explain``'s output and the README.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from lbfgs_impl.measure.callgrind import SCHEDULER_FUNCTIONS, self_cost_by_object

_TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.M)
_TRIGGER = re.compile(r"^desc: Trigger: Client Request: (\S+)", re.M)


class Category(NamedTuple):
    """One bucket: ``key`` (JSON), ``label`` (tables, figures), ``rule`` (what matches, in words)."""

    key: str
    label: str
    rule: str
    matches: Callable[[str, str], bool]


def _base(obj: str) -> str:
    return obj.rsplit("/", 1)[-1]


_KERNEL_PREFIXES = ("ynn::", "xnn_", "Eigen::internal::", "__xla_cpu_runtime_")


def _in_jaxlib(obj: str) -> bool:
    return "/jaxlib/" in obj or _base(obj).startswith(("libjax", "xla_extension"))


#: The categories, in the order the rules are tried (first match wins).
CATEGORIES: tuple[Category, ...] = (
    Category(
        "scheduler",
        "thread-pool scheduler",
        "symbol starts with `Eigen::ThreadPoolTempl<` or `Eigen::RunQueue<` (idle spinning, work "
        "stealing; the share the regression gate subtracts)",
        lambda obj, fn: bool(SCHEDULER_FUNCTIONS.match(fn)),
    ),
    Category(
        "xla_generated",
        "XLA-generated code",
        "object `???`: code in anonymous executable mappings, i.e. XLA's JIT output (kernels, fusions)",
        lambda obj, fn: obj == "???",
    ),
    Category(
        "xla_kernels",
        "XLA library kernels",
        "object under `jaxlib/` and symbol starting with `ynn::`, `xnn_`, `Eigen::internal::` or "
        "`__xla_cpu_runtime_`: precompiled compute kernels (YNNPACK, XNNPACK, Eigen) XLA calls "
        "instead of generating code",
        lambda obj, fn: _in_jaxlib(obj) and fn.startswith(_KERNEL_PREFIXES),
    ),
    Category(
        "xla_runtime",
        "XLA/PJRT runtime",
        "object under `jaxlib/` (`libjax_common.so`, `_jax*.so`, ...): thunk execution, buffers, dispatch",
        lambda obj, fn: _in_jaxlib(obj),
    ),
    Category(
        "scipy_lbfgsb",
        "SciPy L-BFGS-B (compiled)",
        "object `_lbfgsb*.so` (SciPy's compiled L-BFGS-B)",
        lambda obj, fn: _base(obj).startswith("_lbfgsb"),
    ),
    Category(
        "blas_lapack",
        "BLAS/LAPACK",
        "object name contains `blas`, `lapack` or `mkl` (SciPy's and NumPy's OpenBLAS)",
        lambda obj, fn: bool(re.search(r"blas|lapack|mkl", _base(obj), re.I)),
    ),
    Category(
        "cpython",
        "CPython interpreter",
        "object `libpython*`, the `python*` executable or a standard-library extension (`lib-dynload/`)",
        lambda obj, fn: _base(obj).startswith(("libpython", "python")) or "/lib-dynload/" in obj,
    ),
    Category(
        "numpy",
        "NumPy",
        "object under `numpy/` (array conversion, ufuncs)",
        lambda obj, fn: "/numpy/" in obj,
    ),
    Category(
        "libc_libm",
        "libc/libm",
        "object `libc.so*`, `libm.so*` or the dynamic loader `ld-linux*` (malloc, memcpy, maths)",
        lambda obj, fn: _base(obj).startswith(("libc.so", "libm.so", "ld-linux", "libc-", "libm-")),
    ),
    Category("other", "other", "everything else (libstdc++, libgcc_s, libffi, ...)", lambda obj, fn: True),
)

CATEGORY_KEYS = tuple(c.key for c in CATEGORIES)
LABELS = {c.key: c.label for c in CATEGORIES}


def categorize(obj: str, fn: str) -> str:
    """The key of the first category whose rule matches object file ``obj`` and symbol ``fn``."""
    return next(c.key for c in CATEGORIES if c.matches(obj, fn))


@dataclass
class Attribution:
    """One dump split by category.

    Attributes:
      total: callgrind's total for the dump (every instruction counted).
      by_category: instructions per category key (all keys of :data:`CATEGORIES`); they sum to ``total``.
      top: per category, the ``top`` functions by self cost: ``(function, object file, instructions)``.
    """

    total: int
    by_category: dict[str, int]
    top: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)

    @property
    def shares(self) -> dict[str, float]:
        return {k: v / self.total if self.total else 0.0 for k, v in self.by_category.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_category": self.by_category,
            "top": {
                k: [{"function": f, "object": o, "instructions": c} for f, o, c in v]
                for k, v in self.top.items()
            },
        }


def attribute(text: str, top: int = 5) -> Attribution:
    """Split one callgrind output file (its text) by category, keeping the ``top`` functions of each."""
    totals = _TOTALS.findall(text)
    costs = self_cost_by_object(text)
    by_category = dict.fromkeys(CATEGORY_KEYS, 0)
    members: dict[str, list[tuple[str, str, int]]] = {k: [] for k in CATEGORY_KEYS}
    for (obj, fn), cost in costs.items():
        key = categorize(obj, fn)
        by_category[key] += cost
        members[key].append((fn, obj, cost))
    best = {k: sorted(v, key=lambda m: -m[2])[:top] for k, v in members.items() if v}
    total = int(totals[-1]) if totals else sum(costs.values())
    return Attribution(total, by_category, best)


class KeptDump(NamedTuple):
    """A solve dump kept by ``measure_instructions(keep_dumps=...)`` and what that child reported."""

    task: str
    repeat: int
    path: Path
    result: dict[str, Any]


def kept_dumps(directory: Path, kind: str = "solve") -> list[KeptDump]:
    """Every ``kind`` dump under ``directory`` (a folder per counting worker), with its task."""
    found: list[KeptDump] = []
    for zdir in sorted(p for p in Path(directory).iterdir() if (p / "jobs.json").exists()):
        jobs = {job["id"]: job for job in json.loads((zdir / "jobs.json").read_text())}
        for path in sorted(zdir.glob("callgrind.*")):
            with path.open(encoding="utf-8", errors="replace") as fh:
                head = fh.read(4096)
            trigger = _TRIGGER.search(head)
            if not trigger or not trigger.group(1).endswith(f":{kind}"):
                continue
            job = jobs.get(trigger.group(1).rsplit(":", 1)[0])
            result_path = zdir / f"{job['id']}.json" if job else None
            if job is None or result_path is None or not result_path.exists():
                continue
            found.append(KeptDump(job["task"], job["repeat"], path, json.loads(result_path.read_text())))
    return found
