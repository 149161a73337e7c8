"""Which instruction count is recorded: net of the thread-pool scheduler, the total beside it.

Read from dump files written in callgrind's format in a counted process's folder, as a real
run leaves them: no valgrind.
"""

from __future__ import annotations

import statistics

import pytest

from lbfgs_impl.measure.engine import read_sample
from lbfgs_impl.measure.instructions import InstructionCounts, InstructionTask
from lbfgs_impl.records import instruction_fields

TASK = InstructionTask("scipy", "quadratic", 5)
POOL = "Eigen::ThreadPoolTempl<tsl::thread::EigenEnvironment>::WorkerLoop(int)"
XLA = "xla::cpu::ThunkExecutor::Execute(xla::cpu::Thunk::ExecuteParams const&)"

#: per repeat: (main, XLA, scheduler) self costs of the solve; the compile dump has its own.
SOLVES = [(500, 300, 200), (520, 300, 100), (480, 310, 250)]
COMPILE = (9000, 800, 200)


def _dump(path, name: str, main: int, xla: int, pool: int) -> None:
    path.write_text(
        "version: 1\ncreator: callgrind-3.19.0\n"
        f"desc: Trigger: Client Request: {name}\nevents: Ir\nsummary: 0\n"
        f"fn=(1) main\n0 {main}\nfn=(2) {XLA}\n0 {xla}\nfn=(3) {POOL}\n0 {pool}\n"
        f"totals: {main + xla + pool}\n"
    )


@pytest.fixture
def counts(tmp_path) -> InstructionCounts:
    for r, costs in enumerate(SOLVES):
        _dump(tmp_path / f"callgrind.out.{2 * r + 1}", f"j{r}:solve", *costs)
        _dump(tmp_path / f"callgrind.out.{2 * r + 2}", f"j{r}:compile", *COMPILE)
    found = InstructionCounts(TASK)
    for r in range(len(SOLVES)):
        result = {"n_iter": 4 + r, "n_fev": 6 + r, "converged": True}
        found.add_sample(read_sample(tmp_path, f"j{r}", result, {"environment": {}}), r)
    assert not list(tmp_path.glob("callgrind.*"))  # each dump read once, then removed
    return found


def test_the_recorded_count_is_net_of_the_scheduler_and_the_total_beside_it(counts):
    assert counts.errors == []
    assert counts.solve == [800, 820, 790]  # main + XLA, scheduler left out
    assert counts.solve_total == [1000, 920, 1040]
    assert counts.compile == [9800, 9800, 9800]
    assert (counts.n_iter, counts.n_fev, counts.converged) == ([4, 5, 6], [6, 7, 8], [True] * 3)
    fields = instruction_fields(counts)
    assert fields["instructions"] == 800  # the median of the net counts
    assert fields["instructions_samples"] == [800, 820, 790]
    assert fields["instructions_total"] == 1000
    assert fields["instructions_total_samples"] == [1000, 920, 1040]
    shares = [0.2, 100 / 920, 250 / 1040]
    assert fields["instructions_thread_pool_share_samples"] == pytest.approx(shares)
    assert fields["instructions_thread_pool_share"] == pytest.approx(statistics.median(shares))
    assert fields["instructions_spread"] == pytest.approx(30 / 800)
    assert fields["instructions_per_iteration"] == pytest.approx(800 / 5)
    assert fields["compile_instructions"] == 9800
    assert fields["instructions_n_iter"] == [4, 5, 6]


def test_a_repeat_without_its_solve_dump_is_an_error_not_a_count(tmp_path):
    _dump(tmp_path / "callgrind.out.1", "other:solve", 1, 1, 1)  # another job's dump is not taken
    c = InstructionCounts(TASK)
    c.add_sample(read_sample(tmp_path, "a", {"n_iter": 1, "n_fev": 1, "converged": True}, {}), 0)
    assert c.solve == [] and not c.ok
    assert c.errors == ["repeat 0: callgrind wrote no dump for the solve"]
    assert instruction_fields(c)["instructions"] is None


def test_names_written_without_compression_are_read_as_they_are():
    from lbfgs_impl.measure.callgrind import self_cost_by_function

    text = f"events: Ir\nfn=main\n0 5\n+1 2\n+2\nfn={POOL}\n0 3\nfn=(7) {XLA}\n0 1\nfn=(7)\n0 4\ntotals: 15\n"
    assert self_cost_by_function(text) == {"main": 7, POOL: 3, XLA: 5}


def test_only_client_request_dumps_with_a_total_are_read(tmp_path):
    from lbfgs_impl.measure.callgrind import Dump, read_dumps

    _dump(tmp_path / "callgrind.out.1", "j0:solve", 5, 3, 2)
    (tmp_path / "callgrind.out").write_text("desc: Trigger: Program termination\nevents: Ir\ntotals: 99\n")
    cut_off = "desc: Trigger: Client Request: j1:solve\nevents: Ir\nfn=a\n0 1\n"  # no totals line
    (tmp_path / "callgrind.out.2").write_text(cut_off)
    assert read_dumps(tmp_path) == {"j0:solve": Dump(10, 2, 0, 3)}  # the cut-off one is not a count
    assert Dump(0, 0).share == 0.0 and Dump(0, 0).net == 0


def test_thread_pool_code_at_exactly_one_percent_is_setup_not_a_renamed_scheduler():
    from lbfgs_impl.measure.callgrind import Dump

    assert Dump(total=1000, scheduler=0, pool_like=10, xla=5).problem is None
    assert Dump(total=1000, scheduler=0, pool_like=11, xla=5).problem.startswith("the thread-pool filter")


def test_glibcs_allocator_internals_are_left_out_and_recorded_apart(tmp_path):
    from lbfgs_impl.measure.callgrind import read_dump_file

    (tmp_path / "callgrind.out.1").write_text(
        "version: 1\ncreator: callgrind-3.19.0\ndesc: Trigger: Client Request: j0:solve\nevents: Ir\n"
        "ob=(1) /usr/lib/x86_64-linux-gnu/libc.so.6\nfn=(1) malloc\n0 30\nfn=(2) _int_malloc\n0 40\n"
        "fn=(3) _int_free\n0 20\nob=(2) /work/mylib.so\nfn=(4) _int_malloc\n0 7\n"
        f"fn=(5) {POOL}\n0 100\nfn=(6) main\n0 500\ntotals: 697\n"
    )
    name, dump = read_dump_file(tmp_path / "callgrind.out.1")
    # libc's internals (40 + 20) apart; malloc's entry point and a same-named function elsewhere stay
    assert name == "j0:solve" and dump.allocator == 60 and dump.scheduler == 100
    assert dump.net == 697 - 100 - 60
    c = InstructionCounts(TASK)
    c.add_sample(read_sample(tmp_path, "j0", {"n_iter": 1, "n_fev": 1, "converged": True}, {}), 0)
    fields = instruction_fields(c)
    assert fields["instructions"] == 537 and fields["instructions_allocator_samples"] == [60]
    assert fields["instructions_thread_pool_share"] == pytest.approx(100 / 697)


def test_the_gate_reads_the_flags_the_counting_processes_reported_not_the_writers():
    """A resumed run keeps samples counted by earlier code (each task's first environment wins): the
    flags the gate compares are those the counting processes reported, not the writer's constant."""
    from lbfgs_impl.records import counts_environment

    writer, counted = ["--tool=callgrind", "--new"], ["--tool=callgrind", "--old"]
    env = {
        "arch": "x86_64",
        "os_image": "glibc 2.36",
        "valgrind": "valgrind-3.19.0",
        "valgrind_flags": counted,
    }
    meta = {"valgrind": "valgrind-3.22.0", "valgrind_flags": writer, "environment": env}
    recorded = counts_environment(meta, None)
    assert recorded["valgrind_flags"] == counted and recorded["valgrind"] == "valgrind-3.19.0"
    mixed = {**env, "valgrind_flags": f"{writer} / {counted}"}  # report_environment's join
    assert (
        counts_environment({**meta, "environment": mixed}, None)["valgrind_flags"] == f"{writer} / {counted}"
    )
