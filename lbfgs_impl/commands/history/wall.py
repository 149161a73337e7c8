"""Wall time of the steady solve in two release environments, side by side in one run.

Each environment runs one worker process (``python -m lbfgs_impl.commands.history.wall``),
pinned with ``taskset`` to the same CPU, that AOT-compiles the solve, warms it up and
then, for each line ``run K`` on its standard input, times ``K`` steady solves
(:func:`lbfgs_impl.measure.timing.timed_run`: ``block_until_ready`` inside the solve,
zero compilations in the timed region or it fails) and answers one JSON line. The parent
alternates rounds between the workers, so a drift of the machine's load hits both alike,
and reports the ratio of the medians with the spread of the per-round ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any


def worker(solver: str, problem_name: str, n: int) -> int:
    """The worker's loop (runs inside a release environment)."""
    from lbfgs_impl.measure.environment import collect_meta
    from lbfgs_impl.measure.timing import prepare_compiled, timed_run
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig, get_solver

    prepared = prepare_compiled(get_solver(solver), make_problem(problem_name, n), SolverConfig())
    result = prepared.result(prepared.run())  # warm-up
    meta = collect_meta()
    meta["cpus_allowed"] = sorted(os.sched_getaffinity(0))
    hello = {"meta": meta, "n_iter": result.n_iter, "n_fev": result.n_fev, "converged": result.converged}
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] != ["run"]:
            break
        times = [timed_run(prepared, f"the steady solve of {solver}")[0] for _ in range(int(words[1]))]
        print(json.dumps({"times_s": times}), flush=True)
    return 0


def _start(python: str, cpu: int, case: dict[str, Any], code_path: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": code_path, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    cmd = ["taskset", "-c", str(cpu), python, "-m", "lbfgs_impl.commands.history.wall"]
    cmd += [case["solver"], case["problem"], str(case["n"])]
    return subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=code_path
    )


def _ask(proc: subprocess.Popen[str], line: str | None) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    if line is not None:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
    answer = proc.stdout.readline()
    if not answer:
        raise RuntimeError(f"a timing worker ended early (exit status {proc.wait()})")
    return json.loads(answer)


def ab_rounds(
    envs: dict[str, str], case: dict[str, Any], *, rounds: int, per_round: int, cpu: int, code_path: str
) -> dict[str, Any]:
    """Alternate ``rounds`` rounds of ``per_round`` timed solves between the two ``{label: python}`` envs."""
    if len(envs) != 2:
        raise ValueError(f"an A/B run takes two environments, got {len(envs)}")
    load_before = os.getloadavg()
    procs = {label: _start(python, cpu, case, code_path) for label, python in envs.items()}
    try:
        hello = {label: _ask(proc, None) for label, proc in procs.items()}
        samples: dict[str, list[list[float]]] = {label: [] for label in envs}
        labels = list(envs)
        for r in range(rounds):
            order = labels if r % 2 == 0 else labels[::-1]  # A B, B A, ...: neither always goes first
            for label in order:
                samples[label].append(_ask(procs[label], f"run {per_round}")["times_s"])
    finally:
        for proc in procs.values():
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=60)
    load_after = os.getloadavg()
    a, b = labels
    medians = {label: statistics.median(t for r in samples[label] for t in r) for label in labels}
    round_ratios = [
        statistics.median(rb) / statistics.median(ra) for ra, rb in zip(samples[a], samples[b], strict=True)
    ]
    return {
        "case": case,
        "labels": labels,
        "rounds": rounds,
        "per_round": per_round,
        "cpu": cpu,
        "load_before": list(load_before),
        "load_after": list(load_after),
        "envs": {label: {**hello[label], "times_s": samples[label]} for label in labels},
        "median_s": medians,
        "ratio_of_medians": medians[b] / medians[a],
        "round_ratios": round_ratios,
    }


if __name__ == "__main__":
    sys.exit(worker(sys.argv[1], sys.argv[2], int(sys.argv[3])))
