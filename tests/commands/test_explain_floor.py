"""explain's floor from the probes' dumps: arithmetic only, counted by hand in written callgrind files."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbfgs_impl.commands.explain.document import render
from lbfgs_impl.commands.explain.probes import ALGEBRA, EVALUATION, PROBE_REPEATS, probe_name
from lbfgs_impl.commands.explain.runner import floor_of
from lbfgs_impl.measure.attribution import KeptDump
from lbfgs_impl.measure.instructions import InstructionTask
from lbfgs_impl.solvers import SolverConfig

CONFIG = SolverConfig()
JAXLIB = "/venv/lib/python3.11/site-packages/jaxlib/libjax_common.so"


def _dump(path: Path, generated: int, library: int, runtime: int, memcpy: int, scheduler: int) -> Path:
    """A callgrind file with these self costs, written as callgrind writes one (names compressed)."""
    total = generated + library + runtime + memcpy + scheduler
    path.write_text(
        "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\n"
        "desc: Trigger: Client Request: job0:solve\n\n"
        f"ob=(1) ???\nfn=(1) 0x0000000027dda000\n0 {generated // 2}\n"
        f"fn=(2) 0x0000000027df1000\n0 {generated - generated // 2}\n"
        f"ob=(2) {JAXLIB}\nfn=(3) Eigen::internal::general_matrix_vector_product<long>::run\n0 {library}\n"
        "fn=(4) xla::cpu::ThunkExecutor::Execute\n"
        f"0 {runtime}\n"
        "cob=(3) /lib/x86_64-linux-gnu/libc.so.6\ncfn=(5) __memcpy_avx_unaligned_erms\ncalls=3 0\n"
        f"0 {memcpy}\n"  # the callee's inclusive cost: not the caller's self cost
        f"fn=(6) Eigen::ThreadPoolTempl<tsl::thread::EigenEnvironment>::WorkerLoop(int)\n0 {scheduler}\n"
        f"ob=(3)\nfn=(5)\n0 {memcpy}\n\n"
        f"totals: {total}\n"
    )
    return path


def _dumps(tmp_path: Path, per_repetition: dict[str, tuple[int, int, int, int]]) -> dict[str, KeptDump]:
    """Kept dumps of the four probes: a fixed set-up cost plus ``multiple x K`` repetitions of the given
    (generated, library, runtime, memcpy) cost; the scheduler spins a different amount in each."""
    out = {}
    for kind, (gen, lib, run, cpy) in per_repetition.items():
        for multiple, spin in ((1, 7_000), (2, 1_000)):
            reps = multiple * PROBE_REPEATS
            task = InstructionTask(probe_name(kind, multiple), "rosenbrock", 100, CONFIG)
            path = _dump(
                tmp_path / f"{task.solver}.out",
                generated=50_000 + reps * gen,
                library=3_000 + reps * lib,
                runtime=900_000 + reps * run,
                memcpy=10_000 + reps * cpy,
                scheduler=spin,
            )
            out[task.key] = KeptDump(task.key, 0, path, {"n_iter": reps, "n_fev": reps})
    return out


def test_the_floor_is_the_arithmetic_of_one_repetition(tmp_path):
    # evaluation: 2,500 generated + 100 in a library kernel = 2,600 arithmetic per repetition; its
    # runtime (600) and copies (400) are the probe's own. algebra: 4,000 + 400 = 4,400 of 36,400.
    dumps = _dumps(tmp_path, {EVALUATION: (2_500, 100, 600, 400), ALGEBRA: (4_000, 400, 30_000, 2_000)})
    floor = floor_of(dumps, "rosenbrock", 100, CONFIG)
    assert floor["evaluation"] == 2_600
    assert floor["algebra"] == 4_400
    # everything but the scheduler, as the probes ran it
    assert floor["evaluation_whole"] == 2_500 + 100 + 600 + 400
    assert floor["algebra_whole"] == 4_000 + 400 + 30_000 + 2_000
    assert floor["probe_repetitions"] == [PROBE_REPEATS, 2 * PROBE_REPEATS]


def test_a_failed_probe_leaves_its_part_of_the_floor_empty(tmp_path):
    dumps = _dumps(tmp_path, {EVALUATION: (2_500, 100, 600, 400), ALGEBRA: (4_000, 400, 30_000, 2_000)})
    key = InstructionTask(probe_name(ALGEBRA, 2), "rosenbrock", 100, CONFIG).key
    dumps[key] = dumps[key]._replace(result={"error": "RuntimeError: gone"})
    floor = floor_of(dumps, "rosenbrock", 100, CONFIG)
    assert floor["evaluation"] == 2_600 and floor["algebra"] is None and floor["algebra_whole"] is None


def _doc(errors: dict[str, list[str]], static_error: str | None = None) -> dict:
    solvers = {"optax_while": {"error": static_error}} if static_error else {}
    vg = {"iteration": {"kernels": 4}, "flops": None, "cost_missing": "missing: not asked"}
    return {
        "problem": "rosenbrock",
        "n": 100,
        "config": CONFIG._asdict(),
        "solvers": ["optax_while"],
        "top": 1,
        "static": {"solvers": solvers, "value_and_grad": vg},
        "callgrind": {
            "solvers": {},
            "errors": errors,
            "floor": {"evaluation": None, "algebra": None, "probe_repetitions": [200, 400]},
        },
    }


def test_each_error_is_one_line_under_errors():
    md = render(
        _doc(
            {
                "optax_while/rosenbrock-100": [
                    "repeat 0: RuntimeError: boom\nTraceback (most recent call last):"
                ]
            }
        )
    )
    assert "## Errors" in md
    assert "- optax_while/rosenbrock-100 (callgrind): repeat 0: RuntimeError: boom\n" in md
    assert "Traceback" not in md
    assert "**optax_while/rosenbrock-100 (callgrind)** failed: repeat 0: RuntimeError: boom" in md


def test_a_static_failure_is_listed_and_its_row_says_so():
    md = render(_doc({}, static_error="ValueError: no executable"))
    assert "- optax_while (static figures): ValueError: no executable" in md
    assert "| optax_while | failed: ValueError: no executable |" in md


def test_no_errors_no_section():
    assert "## Errors" not in render(_doc({}))


@pytest.mark.parametrize("arithmetic", [True, False])
def test_the_floor_section_says_what_it_counts(tmp_path, arithmetic):
    dumps = _dumps(tmp_path, {EVALUATION: (2_500, 100, 600, 400), ALGEBRA: (4_000, 400, 30_000, 2_000)})
    floor = floor_of(dumps, "rosenbrock", 100, CONFIG)
    if not arithmetic:  # an explain.json written before the floor counted the arithmetic only
        floor = {k: floor[k] for k in ("evaluation", "algebra", "probe_repetitions")}
    doc = _doc({})
    doc["callgrind"]["floor"] = floor
    md = render(doc)
    assert ("2,600 instructions of arithmetic" in md) == arithmetic
    assert ("with them a repetition cost 3,600 and 36,400 instructions" in md) == arithmetic
    assert ("copies included" in md) == (not arithmetic)


SIZES = (2_000, 4_000)


@pytest.fixture(scope="module")
def floors(tmp_path_factory):
    """The floor counted under callgrind at two sizes (the four probes each: one counting run)."""
    from lbfgs_impl.commands.explain.runner import PLUGIN, probe_tasks
    from lbfgs_impl.measure.attribution import kept_dumps
    from lbfgs_impl.measure.instructions import measure_instructions, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"instruction counts unavailable: {reason}")
    out = {}
    for n in SIZES:
        dump_dir = tmp_path_factory.mktemp(f"floor-{n}")
        report = measure_instructions(
            probe_tasks("rosenbrock", n, CONFIG), repeats=1, plugins=[PLUGIN], keep_dumps=dump_dir
        )
        assert report.skipped is None and not any(c.errors for c in report.counts.values())
        out[n] = floor_of({d.task: d for d in kept_dumps(dump_dir)}, "rosenbrock", n, CONFIG)
    return out


@pytest.mark.slow
def test_the_floor_grows_with_the_arithmetic_and_the_probes_dispatch_does_not(floors):
    """Rosenbrock's evaluation and the two-loop recursion are O(n): their arithmetic grows with n, by a
    little less than n does, as each kernel's entry code (and a library kernel's set-up) is a fixed
    part of it (measured from 2,000 to 4,000: 1.90x the evaluation, 1.80x the recursion). The
    recursion's probe runs as many thunks at both sizes: what it costs beyond its arithmetic, the
    runtime's dispatch mostly, grows by less (1.40x measured), and is not in the floor."""
    small, large = (floors[n] for n in SIZES)
    for part in ("evaluation", "algebra"):
        assert 0 < small[part] < small[f"{part}_whole"], (part, small)
        assert 1.6 < large[part] / small[part] < 2.2, (part, small, large)
    assert large["algebra_kernels"] == small["algebra_kernels"], (small, large)
    dispatch = [f["algebra_whole"] - f["algebra"] for f in (small, large)]
    assert dispatch[1] / dispatch[0] < large["algebra"] / small["algebra"], (small, large)
