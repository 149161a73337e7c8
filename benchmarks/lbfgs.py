"""Timings and exact figures of the L-BFGS variants (asv).

* ``SteadyState.time_solve``: a precompiled solve; compilation inside it raises;
* ``FirstCall.time_first_call``: caches cleared in ``setup`` before every sample;
* ``ColdStart.timeraw_cold_start``: a fresh interpreter: import + compile + solve;
* ``Quality.track_*``: iterations, f+g evals, gradient norm, compile seconds
  (all lower-is-better, as asv only flags increases);
* ``Memory.peakmem_solve``: peak resident memory around a solve;
* ``Instructions.track_instructions``: instructions per solve under callgrind (load-independent;
  median of 3 processes, XLA's thread-pool scheduler left out), beside ``track_instructions_total``
  (everything counted) and ``track_thread_pool_share`` (the part left out).
"""

from __future__ import annotations

import textwrap

from . import CASES, SMOKE, make_case, parse_case, solvers

SOLVERS = solvers(["optax_while"] if SMOKE else ["scipy", "optax_loop", "optax_while"])
PARAMS = (SOLVERS, CASES)
PARAM_NAMES = ["solver", "case"]


class SteadyState:
    params = PARAMS
    param_names = PARAM_NAMES
    # 5-20 samples within 4 s a round (asv's default allows 20 s): the load-independent signal is
    # Instructions.track_instructions; this keeps the whole suite for one commit near 10 minutes.
    repeat = (5, 20, 4.0)
    timeout = 300

    def setup(self, solver, case):
        from lbfgs_impl.measure import assert_no_compilations, prepare_compiled

        self.no_compilations = assert_no_compilations
        self.prepared = prepare_compiled(*make_case(solver, case))
        self.prepared.run()

    def time_solve(self, solver, case):
        with self.no_compilations("asv SteadyState.time_solve"):
            self.prepared.run()


#: FirstCall's grid points already solved once in this process: (solver, case) -> make_case(...)
_WARMED: dict = {}


class FirstCall:
    params = PARAMS
    param_names = PARAM_NAMES
    number = 1
    repeat = 3  # x 2 rounds: 6 cold compiles per grid point
    warmup_time = 0
    timeout = 600

    def setup(self, solver, case):
        from lbfgs_impl.measure import clear_jax_caches, cold_solve

        self.cold_solve = cold_solve
        if (solver, case) not in _WARMED:
            # untimed: the suite's own figures of this problem (its final-point evaluation, its
            # evaluation count) are made once, so that no sample's time includes them
            _WARMED[(solver, case)] = make_case(solver, case)
            found, problem, config = _WARMED[(solver, case)]
            found.solve(problem, config)
        self.case = _WARMED[(solver, case)]
        clear_jax_caches()  # asv re-runs setup before every sample

    def time_first_call(self, solver, case):
        self.cold_solve(*self.case)


class ColdStart:
    params = PARAMS
    param_names = PARAM_NAMES
    number = 1
    repeat = 2  # x 2 rounds: 4 fresh interpreters per grid point
    timeout = 600

    def setup(self, solver, case):
        make_case(solver, case)  # skip what this commit cannot run

    def timeraw_cold_start(self, solver, case):
        name, n = parse_case(case)
        return textwrap.dedent(
            f"""
            import jax
            jax.config.update("jax_enable_compilation_cache", False)  # cold, whatever the user set
            from lbfgs_impl.problems import make_problem
            from lbfgs_impl.solvers import SolverConfig, get_solver
            prepared = get_solver({solver!r}).prepare(make_problem({name!r}, {n}), SolverConfig())
            prepared.compile()
            prepared.run()  # the solve, not the suite's own untimed figures of it
            """
        )


class Quality:
    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 900

    def setup_cache(self):
        from lbfgs_impl.measure import clear_jax_caches, cold_solve

        figures = {}
        for solver in SOLVERS:
            for case in CASES:
                try:
                    solver_obj, problem, config = make_case(solver, case)
                except NotImplementedError:
                    continue
                clear_jax_caches()
                sample, result = cold_solve(solver_obj, problem, config)
                figures[solver, case] = {
                    "iterations": result.n_iter,
                    "fg_evals": result.n_fev,
                    "grad_inf_norm": result.grad_inf_norm,
                    "compile_seconds": sample.compile_s,
                }
        return figures

    def setup(self, figures, solver, case):
        if (solver, case) not in figures:
            raise NotImplementedError(f"{solver} on {case} is not available in this commit")

    def track_iterations(self, figures, solver, case):
        return figures[solver, case]["iterations"]

    track_iterations.unit = "iterations"

    def track_fg_evals(self, figures, solver, case):
        return figures[solver, case]["fg_evals"]

    track_fg_evals.unit = "evaluations"

    def track_grad_inf_norm(self, figures, solver, case):
        return figures[solver, case]["grad_inf_norm"]

    track_grad_inf_norm.unit = "inf-norm"

    def track_compile_seconds(self, figures, solver, case):
        return figures[solver, case]["compile_seconds"]

    track_compile_seconds.unit = "seconds"


class Memory:
    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 300

    def setup(self, solver, case):
        from lbfgs_impl.measure import prepare_compiled

        self.prepared = prepare_compiled(*make_case(solver, case))

    def peakmem_solve(self, solver, case):
        self.prepared.run()


def _instruction_counter():
    """``(InstructionTask, measure_instructions)`` from the measured commit, wherever it keeps them.

    Since the Dask path the entry point is ``lbfgs_impl.measure.cluster.count_instructions``
    (same arguments; an embedded LocalCluster or ``$LBFGS_BENCH_SCHEDULER``); since the
    reorganisation the pool lives in ``lbfgs_impl.measure.instructions``; the
    commits before it (still measured by asv with today's benchmarks) have
    ``lbfgs_impl.instructions``; older ones have neither (ImportError: skipped).
    """
    try:
        from lbfgs_impl.measure.cluster import count_instructions as measure_instructions
        from lbfgs_impl.measure.instructions import InstructionTask
    except ImportError:
        pass
    else:
        return InstructionTask, measure_instructions
    try:
        from lbfgs_impl.measure.instructions import InstructionTask, measure_instructions
    except ImportError:
        from lbfgs_impl.instructions import InstructionTask, measure_instructions
    return InstructionTask, measure_instructions


#: Processes per instruction figure. The figure is their median: one process's count can sit
#: 1.50% from another's (optax_while on logistic-100, the study's 60-process range, counted before XLA's
#: release of an execution was left out), beyond the gate's floor (``Thresholds.instructions``), and the
#: median of 3 is what the nightly compares too.
REPEATS = 3


def _figures(counts):
    """The compared count (median, thread pool left out), the total and the pool's share."""
    import statistics

    totals = list(getattr(counts, "solve_total", []))  # older commits may not keep it
    shares = [(t - n) / t for n, t in zip(counts.solve, totals, strict=False) if t > 0]
    return {
        "instructions": counts.median,
        "total": statistics.median(totals) if totals else counts.median,
        "thread_pool_share": statistics.median(shares) if shares else 0.0,
    }


class Instructions:
    """Instructions per solve under callgrind: a noise-free line per solver and case.

    One ``setup_cache`` counts every (solver, case) in parallel subprocesses
    (see :mod:`lbfgs_impl.measure.instructions`); skipped where the measured commit
    predates the counter or valgrind/a C compiler is missing.
    """

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 1200

    def setup_cache(self):
        try:
            InstructionTask, measure_instructions = _instruction_counter()
        except ImportError:
            return {"skipped": "this commit has no instruction counter"}
        tasks = []
        for solver in SOLVERS:
            for case in CASES:
                try:
                    make_case(solver, case)
                except NotImplementedError:
                    continue
                tasks.append(InstructionTask(solver, *parse_case(case)))
        report = measure_instructions(tasks, repeats=REPEATS)
        if report.skipped:
            return {"skipped": report.skipped}
        return {
            (c.task.solver, f"{c.task.problem}-{c.task.n}"): _figures(c)
            for c in report.counts.values()
            if c.ok
        }

    def setup(self, counts, solver, case):
        if "skipped" in counts:
            raise NotImplementedError(counts["skipped"])
        if (solver, case) not in counts:
            raise NotImplementedError(f"no instruction count for {solver} on {case} in this commit")

    def track_instructions(self, counts, solver, case):
        return counts[solver, case]["instructions"]

    track_instructions.unit = "instructions"

    def track_instructions_total(self, counts, solver, case):
        return counts[solver, case]["total"]

    track_instructions_total.unit = "instructions (thread pool included)"

    def track_thread_pool_share(self, counts, solver, case):
        return counts[solver, case]["thread_pool_share"]

    track_thread_pool_share.unit = "share of the total"
