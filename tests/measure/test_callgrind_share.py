"""The thread-pool share of a callgrind dump, and the one-line error when the filter stops matching."""

from __future__ import annotations

from lbfgs_impl.measure.callgrind import read_dumps

HEAD = (
    "version: 1\ncreator: callgrind-3.19.0\ndesc: Trigger: Client Request: job0:solve\n"
    "events: Ir\nsummary: 0\n"
)


def dump(tmp_path, pool_function: str) -> str:
    """A dump in callgrind's format: main -> an XLA thunk (300) and a pool worker (200); main 500."""
    (tmp_path / "callgrind.1.1").write_text(
        HEAD
        + "fn=(1) main\n0 500\n"
        + "fn=(2) xla::cpu::ThunkExecutor::Execute(xla::cpu::Thunk::ExecuteParams const&)\n0 300\n"
        + f"fn=(3) {pool_function}\n0 200\n"
        + "totals: 1000\n"
    )
    return "job0:solve"


def test_the_scheduler_is_left_out_and_its_share_kept(tmp_path):
    name = dump(tmp_path, "Eigen::ThreadPoolTempl<tsl::thread::EigenEnvironment>::WorkerLoop(int)")
    d = read_dumps(tmp_path)[name]
    assert (d.total, d.scheduler, d.net, d.xla) == (1000, 200, 800, 300)
    assert d.share == 0.2 and d.problem is None


def test_a_renamed_scheduler_is_an_error_of_one_line(tmp_path):
    name = dump(tmp_path, "Eigen::ThreadPoolTemplV2<tsl::thread::EigenEnvironment>::WorkerLoop(int)")
    d = read_dumps(tmp_path)[name]
    assert d.scheduler == 0 and d.pool_like == 200
    assert d.problem.startswith(
        "the thread-pool filter (^Eigen::(ThreadPoolTempl|RunQueue)<) matched no function"
    )
    assert "20.0% of the count is in thread-pool code" in d.problem and "\n" not in d.problem


def test_no_pool_work_on_a_tiny_problem_is_not_an_error(tmp_path):
    # As measured on optax_loop/quadratic-5: XLA ran, the pool was only configured (150 of 13.7 M).
    name = dump(
        tmp_path, "xla::ExecutableRunOptions::set_intra_op_thread_pool(Eigen::ThreadPoolDevice const*)"
    )
    text = (
        (tmp_path / "callgrind.1.1")
        .read_text()
        .replace("0 200\n", "0 1\n")
        .replace("totals: 1000", "totals: 801")
    )
    (tmp_path / "callgrind.1.1").write_text(text)
    d = read_dumps(tmp_path)[name]
    assert d.scheduler == 0 and d.xla > 0 and d.problem is None
