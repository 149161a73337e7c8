"""The gate on the series: tonight against last night **and** against a reference of past nights.

The history is a pytest-benchmark storage folder: ``NNNN_*.json`` files as
``--benchmark-storage`` writes them, directly in the folder or in one machine-id subfolder
(``Linux-CPython-3.11-64bit/``); with several subfolders, the one of tonight's machine is read.
A file the results store wrote carries the nightly's verdict on that night
(:data:`~lbfgs_impl.tracking.runs.GATE_KEY`): only nights it accepted serve as baselines, none
from before the last seed (a first night or a reseed, which starts the series anew); a plain
pytest-benchmark file has no verdict and serves.

Against **last night** every signal is compared as for two files. Against the **reference**
the instruction counts are compared again: for each benchmark, the night with the median count
among the last ``window`` usable nights whose repeat spread was quiet (small enough not to widen
the limit beyond its floor). So a creep of +0.45% a night, under the limit night after night, is
flagged once the sum of nights since the reference passes it; and a noisy night is never the
reference, so it cannot widen the next nights' limit.

Step detection (asv's :mod:`asv.step_detect`, reused as is) runs over each benchmark's count
series and names the first commit of every step; it informs, it does not alert.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from lbfgs_impl.tracking.runs import (
    BenchmarkRun,
    Comparison,
    DataError,
    Thresholds,
    is_count,
    load_run,
    percent,
    short_commit,
)

STORAGE_FILE = re.compile(r"^(\d{4})_.*\.json$")


class NoBaseline(DataError):
    """The history holds no night that may serve as a baseline (exit 2, never a green first night)."""


def machine_id(machine_info: dict[str, Any]) -> str:
    """pytest-benchmark's storage subfolder for a run (``Linux-CPython-3.11-64bit``)."""
    version = ".".join(str(machine_info.get("python_version", "?")).split(".")[:2])
    bits = (machine_info.get("cpu") or {}).get("bits", 64)
    system, impl = machine_info.get("system", "?"), machine_info.get("python_implementation", "?")
    return f"{system}-{impl}-{version}-{bits}bit"


def storage_files(path: str | Path, machine: str | None = None) -> list[Path]:
    """The ``NNNN_*.json`` files of a storage folder, in their order (``DataError`` says why none)."""
    root = Path(path)
    if not root.is_dir():
        raise NoBaseline(f"no baseline: the history {root} is not a folder")
    mine = [p for p in root.iterdir() if p.is_file() and STORAGE_FILE.match(p.name)]
    folders = sorted(
        d for d in root.iterdir() if d.is_dir() and any(STORAGE_FILE.match(p.name) for p in d.iterdir())
    )
    if not mine and len(folders) == 1:
        root, mine = folders[0], [p for p in folders[0].iterdir() if STORAGE_FILE.match(p.name)]
    elif not mine and folders:
        chosen = [d for d in folders if d.name == machine]
        if not chosen:
            names = ", ".join(d.name for d in folders)
            raise DataError(f"{root}: several machine folders ({names}) and none is this run's ({machine})")
        mine = [p for p in chosen[0].iterdir() if STORAGE_FILE.match(p.name)]
    return sorted(mine, key=lambda p: (int(STORAGE_FILE.match(p.name).group(1)), p.name))


def usable(run: BenchmarkRun) -> bool:
    """Whether a stored night may serve as a baseline (the nightly accepted it, or it has no verdict)."""
    return run.gate is None or run.gate.get("baseline") is True


def _quiet(bench: dict[str, Any], th: Thresholds) -> bool:
    """A count whose repeat spread cannot widen the limit beyond its floor."""
    info = bench.get("extra_info") or {}
    spread = info.get("instructions_spread")
    quiet_limit = th.instructions / th.instructions_spread_factor
    return (
        is_count(info.get("instructions")) and isinstance(spread, (int, float)) and 0 <= spread <= quiet_limit
    )


def reference_run(nights: list[BenchmarkRun], th: Thresholds) -> tuple[BenchmarkRun, dict[str, list[str]]]:
    """Per benchmark, the quiet night with the (lower) median count; and the commits each median came from."""
    benchmarks: dict[str, dict[str, Any]] = {}
    used: dict[str, list[str]] = {}
    names = dict.fromkeys(n for night in nights for n in night.benchmarks)
    for name in names:
        quiet = [night for night in nights if name in night.benchmarks and _quiet(night.benchmarks[name], th)]
        if not quiet:
            continue
        quiet.sort(key=lambda night: night.benchmarks[name]["extra_info"]["instructions"])
        chosen = quiet[(len(quiet) - 1) // 2]
        bench = copy.deepcopy(chosen.benchmarks[name])
        bench.setdefault("extra_info", {})["reference_from"] = chosen.path
        benchmarks[name] = bench
        used[name] = [_short(night) for night in quiet]
    last = nights[-1]
    run = BenchmarkRun(f"reference of {len(nights)} night(s)", benchmarks, last.machine_info, {}, None)
    return run, used


def _counted(bench: dict[str, Any]) -> bool:
    return is_count((bench.get("extra_info") or {}).get("instructions"))


def _short(run: BenchmarkRun) -> str:
    commit = run.commit_info.get("id")
    return short_commit(commit, Path(run.path).name)


def _same_run(a: BenchmarkRun, b: BenchmarkRun) -> bool:
    """Two files of one run: same time stamp, commit, machine and results (raw samples included)."""
    return (a.datetime, a.commit_info, a.machine_info, a.benchmarks) == (
        b.datetime,
        b.commit_info,
        b.machine_info,
        b.benchmarks,
    )


def load_history(path: str | Path, current: BenchmarkRun | None) -> tuple[list[BenchmarkRun], BenchmarkRun]:
    """The past nights (oldest first) and tonight: ``current``, or the newest file of the history."""
    machine = machine_id(current.machine_info) if current is not None else None
    files = storage_files(path, machine)
    if current is not None:
        here = Path(current.path).resolve()
        files = [f for f in files if f.resolve() != here]
    runs = [load_run(f) for f in files]
    if current is not None:  # tonight saved in the history too (--benchmark-autosave) is not a night
        runs = [run for run in runs if not _same_run(run, current)]
    if current is None:
        if not runs:
            raise NoBaseline(f"no baseline: the history {path} holds no night")
        current = runs.pop()
    return runs, current


def steps(nights: list[BenchmarkRun], current: BenchmarkRun) -> list[str]:
    """asv's step detection over each benchmark's count series: one line per step, naming its first commit."""
    from asv.step_detect import detect_steps

    series = [*nights, current]
    lines = []
    for name in current.benchmarks:
        points = [
            (run, run.benchmarks[name]["extra_info"]["instructions"])
            for run in series
            if name in run.benchmarks and _counted(run.benchmarks[name])
        ]
        if len(points) < 3:
            continue
        segments = detect_steps([float(v) for _, v in points])
        for before, after in itertools.pairwise(segments):
            first = points[after[0]][0]
            change = after[2] / before[2] - 1.0
            lines.append(
                f"- `{name}`: {change:+.1%} ({before[2] / 1e6:.3f} M -> {after[2] / 1e6:.3f} M), first at "
                f"commit {_short(first)} (`{Path(first.path).name}`)"
            )
    return lines


def series_findings(cmp: Comparison, reference: BenchmarkRun, used: dict[str, list[str]]) -> None:
    """Add the findings against the reference to ``cmp`` (last night's comparison) and its section."""
    from lbfgs_impl.tracking.regressions import compare_runs

    against = compare_runs(cmp.baseline, cmp.current, cmp.thresholds, instruction_baseline=reference)
    flagged = {f.benchmark for f in cmp.regressions if f.kind == "instructions"}
    added = 0
    for f in against.regressions:
        if f.kind == "instructions" and f.benchmark not in flagged:
            source = reference.benchmarks[f.benchmark]["extra_info"]["reference_from"]
            nights = len(used[f.benchmark])
            rule = f"against the reference (`{Path(source).name}`, median of {nights} quiet night(s)): "
            cmp.regressions.append(replace(f, kind="instructions vs reference", rule=rule + f.rule))
            added += 1
    lacking = [
        n
        for n in cmp.current.benchmarks
        if n in cmp.baseline.benchmarks and n not in used and _counted(cmp.current.benchmarks[n])
    ]
    th = cmp.thresholds
    quiet = th.instructions / th.instructions_spread_factor
    body = [  # the limit with every digit: 0.5% / 3 once read "0.17%", and a 0.17% night was not quiet
        f"Reference: for each benchmark, the quiet night (repeat spread at most "
        f"{percent(th.instructions)} / {th.instructions_spread_factor:g} = {percent(quiet)}) with the median "
        f"count among the window; {len(used)} benchmark(s) have one; {added} finding(s) against it.",
    ]
    if lacking:
        body.append(
            "No quiet night in the window, so not compared with a reference: "
            + ", ".join(f"`{n}`" for n in lacking)
            + "."
        )
    cmp.sections.append(("Series: tonight against the reference", body))


def _when(run: BenchmarkRun) -> datetime.datetime | None:
    """When the run started (pytest-benchmark's ISO time stamp), None when absent or unreadable."""
    try:
        when = datetime.datetime.fromisoformat(str(run.datetime))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


def check_series(
    history: str | Path,
    current_path: str | None,
    thresholds: Thresholds,
    *,
    window: int = 7,
    time_baseline: BenchmarkRun | None = None,
    allow_missing: bool = False,
) -> tuple[BenchmarkRun, BenchmarkRun, BenchmarkRun | None, Comparison]:
    """Tonight against the last usable night and the reference.

    Returns (last night, tonight, the wall-time baseline, the comparison); :class:`NoBaseline` when
    no night of the history may serve as a baseline.
    """
    from lbfgs_impl.tracking.regressions import compare_runs

    current = load_run(current_path) if current_path else None
    past, current = load_history(history, current)
    seeds = [i for i, run in enumerate(past) if run.gate is not None and run.gate.get("seed") is True]
    good = [run for run in past[seeds[-1] if seeds else 0 :] if usable(run)]
    if not good:
        raise NoBaseline(
            f"no baseline: the history {history} holds {len(past)} earlier night(s), "
            "none accepted as a baseline"
        )
    last = good[-1]
    if _when(current) and _when(last) and _when(current) < _when(last):
        raise DataError(
            f"tonight's run ({current.datetime}) is older than the history's last night "
            f"{Path(last.path).name} ({last.datetime}): every change would read backwards"
        )
    if time_baseline is None:
        same = [run for run in good if run.machine() == current.machine()]
        time_baseline = same[-1] if same else None
    cmp = compare_runs(last, current, thresholds, time_baseline=time_baseline, allow_missing=allow_missing)
    reference, used = reference_run(good[-window:], thresholds)
    series_findings(cmp, reference, used)
    found = steps(good, current)
    cmp.sections.append(("Steps in the count series (asv step detection)", found or ["None."]))
    return last, current, time_baseline, cmp
