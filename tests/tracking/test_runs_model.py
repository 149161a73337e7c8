"""The gate's data model on a real saved run: machine keys, versions, the count of benchmarks compared."""

from __future__ import annotations

import json
from pathlib import Path

from lbfgs_impl.tracking.regressions import compare_runs
from lbfgs_impl.tracking.runs import BenchmarkRun, load_run, machine_key_of, this_machine_key

DATA = Path(__file__).resolve().parents[1] / "data" / "quick-run.json"


def test_machine_keys_are_file_name_safe_and_name_model_cpus_and_architecture():
    cpu = {"brand_raw": "Intel(R) Xeon(R) CPU @ 2.20GHz", "count": 2, "arch_string_raw": "x86_64"}
    assert machine_key_of(cpu) == "Intel_R_Xeon_R_CPU_2.20GHz-2cpu-x86_64"
    assert machine_key_of({"arch": "ARM_8"}) == "-_cpu-ARM_8"  # "?-?cpu-ARM_8", made safe
    import cpuinfo

    assert this_machine_key() == machine_key_of(cpuinfo.get_cpu_info())


def test_a_run_reads_its_versions_machine_and_key():
    run = load_run(DATA)
    doc = json.loads(DATA.read_text())
    first = doc["benchmarks"][0]["extra_info"]["versions"]
    assert isinstance(first, dict) and run.versions() == first
    assert run.machine_key() == machine_key_of(doc["machine_info"]["cpu"])
    assert BenchmarkRun("x", {"b": {"extra_info": {}}}, {}, {}, None).versions() == {}


def test_every_benchmark_in_common_is_counted_as_compared():
    run = load_run(DATA)
    cmp = compare_runs(run, load_run(DATA))
    assert cmp.compared == len(run.benchmarks) and cmp.regressions == []


def test_the_librarys_thresholds_are_the_commands_defaults():
    import argparse

    from lbfgs_impl.commands.check_regressions import add_arguments
    from lbfgs_impl.tracking.runs import Thresholds

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["b.json", "c.json"])
    th = Thresholds()
    assert (th.threshold, th.alpha, th.count_tolerance, th.quality_factor) == (
        args.threshold,
        args.alpha,
        args.count_tolerance,
        args.quality_factor,
    )
    assert (th.instructions, th.instructions_cap) == (args.instructions_threshold, args.instructions_cap)
