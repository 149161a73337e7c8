"""Attribution's shares, its JSON, the top functions kept, and the kept dumps found in a zygote's folder."""

from __future__ import annotations

import json

from lbfgs_impl.measure.attribution import attribute, kept_dumps

JAXLIB = "/v/jaxlib/libjax_common.so"


def _dump(functions: list[tuple[str, int]], trigger: str = "job0:solve") -> str:
    body = "".join(f"fn=({i + 1}) {name}\n0 {cost}\n" for i, (name, cost) in enumerate(functions))
    total = sum(c for _, c in functions)
    return (
        f"version: 1\ndesc: Trigger: Client Request: {trigger}\nevents: Ir\nsummary: 0\n"
        f"ob=(1) {JAXLIB}\n{body}totals: {total}\n"
    )


def test_shares_and_json_of_an_attribution():
    att = attribute(_dump([("xla::A", 300), ("ynn::k", 100)]))
    assert att.total == 400
    assert att.shares["xla_runtime"] == 0.75 and att.shares["xla_kernels"] == 0.25
    assert att.shares["other"] == 0.0 and sum(att.shares.values()) == 1.0
    doc = att.to_dict()
    assert doc["total"] == 400 and doc["by_category"]["xla_runtime"] == 300
    assert doc["top"]["xla_kernels"] == [{"function": "ynn::k", "object": JAXLIB, "instructions": 100}]


def test_five_top_functions_by_default_most_expensive_first():
    att = attribute(_dump([(f"xla::f{i}", 10 + i) for i in range(7)]))
    assert [f for f, _, _ in att.top["xla_runtime"]] == [
        "xla::f6",
        "xla::f5",
        "xla::f4",
        "xla::f3",
        "xla::f2",
    ]


def test_kept_dumps_pairs_each_solve_dump_with_its_task_and_result(tmp_path):
    z = tmp_path / "zygote-0"
    z.mkdir()
    (tmp_path / "not-a-zygote").mkdir()  # no jobs.json: skipped
    jobs = [
        {"id": "a", "task": "scipy/quadratic-5", "repeat": 0},
        {"id": "b", "task": "scipy/quadratic-5", "repeat": 1},
        {"id": "c", "task": "optax_while/quadratic-5", "repeat": 0},
    ]
    (z / "jobs.json").write_text(json.dumps(jobs))
    (z / "a.json").write_text(json.dumps({"n_iter": 3}))
    (z / "c.json").write_text(json.dumps({"n_iter": 4}))  # b has no result: left out
    (z / "callgrind.out.1").write_text(_dump([("xla::A", 1)], "a:solve"))
    (z / "callgrind.out.2").write_text(_dump([("xla::A", 1)], "a:compile"))  # not a solve
    (z / "callgrind.out.3").write_text(_dump([("xla::A", 1)], "b:solve"))
    (z / "callgrind.out.4").write_text(_dump([("xla::A", 1)], "c:solve"))
    (z / "callgrind.out.5").write_text(_dump([("xla::A", 1)], "zz:solve"))  # no such job
    found = kept_dumps(tmp_path)
    assert [(d.task, d.repeat, d.path.name, d.result) for d in found] == [
        ("scipy/quadratic-5", 0, "callgrind.out.1", {"n_iter": 3}),
        ("optax_while/quadratic-5", 0, "callgrind.out.4", {"n_iter": 4}),
    ]
    assert [d.path.name for d in kept_dumps(tmp_path, "compile")] == ["callgrind.out.2"]


def test_an_empty_dump_has_no_shares():
    att = attribute("events: Ir\n")
    assert att.total == 0 and set(att.shares.values()) == {0.0}
