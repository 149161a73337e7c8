"""The counting engine's executables: built natively for valgrind's CPU, and nothing valgrind cannot run."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lbfgs_impl.measure import native_aot
from lbfgs_impl.measure.engine import FIXED_ENV, counting_env, ignored_env
from lbfgs_impl.measure.instructions import unavailable_reason

REASON = unavailable_reason()
needs_valgrind = pytest.mark.skipif(REASON is not None, reason=f"instruction counts unavailable: {REASON}")
needs_objdump = pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) not installed")

FEATURES = b"+64bit,+adx,+avx,+avx2,+sse2,-avx512f,-amx"


def _blob_with(tmp_path: Path, asm: str, features: bytes = FEATURES) -> bytes:
    """A stand-in for a serialized executable: a target feature list and one compiled object file."""
    src = tmp_path / "k.c"
    src.write_text(f"void kernel(void) {{ __asm__ volatile({json.dumps(asm)}); }}\n")
    subprocess.run(["cc", "-c", "-O1", "-o", str(tmp_path / "k.o"), str(src)], check=True)
    return b"header " + features + b" middle " + (tmp_path / "k.o").read_bytes() + b" trailer"


def test_cpu_features_read_each_cpuid_bit():
    def cpuid(leaf: int, sub: int) -> tuple[int, int, int, int]:
        if (leaf, sub) == (7, 0):
            return (0, 1 << 5 | 1 << 19, 0, 0)  # avx2, adx
        if leaf == 1:
            return (0, 0, 1 << 28, 1 << 26)  # avx, sse2
        return (0, 0, 0, 0)

    assert native_aot.cpu_features(cpuid) == {"avx2", "adx", "avx", "sse2"}


def test_target_features_are_the_plus_entries():
    blob = b"junk " + FEATURES + b" more"
    assert native_aot.target_features(blob) == ["64bit", "adx", "avx", "avx2", "sse2"]
    assert native_aot.excess_features(blob, {"64bit", "avx", "avx2", "sse2"}) == ["adx"]
    with pytest.raises(ValueError, match="no target feature list"):
        native_aot.target_features(b"nothing here")


@needs_objdump
def test_an_instruction_of_a_feature_valgrind_lacks_is_found(tmp_path):
    valgrind = {"64bit", "avx", "avx2", "sse2"}
    found = native_aot.instructions_outside(_blob_with(tmp_path, "adcx %rax, %rbx"), valgrind)
    assert list(found) == ["adx"] and "adcx" in found["adx"][0]
    assert native_aot.instructions_outside(_blob_with(tmp_path, "addq %rax, %rbx"), valgrind) == {}
    # AVX-512 is looked for even where the target list does not name it
    found = native_aot.instructions_outside(
        _blob_with(tmp_path, "vaddpd %zmm1, %zmm2, %zmm3"), valgrind | {"adx"}
    )
    assert list(found) == ["avx512"]


@needs_objdump
def test_an_excess_feature_that_cannot_be_checked_or_unreadable_code_is_reported(tmp_path):
    blob = _blob_with(tmp_path, "addq %rax, %rbx", b"+64bit,+avx2,+newext")
    assert native_aot.instructions_outside(blob, {"64bit", "avx2"}) == {"newext": ["cannot be checked"]}
    broken = b"+64bit,+avx2" + b"\x7fELF\x02\x01" + bytes(58)  # an ELF header and nothing behind it
    assert (
        "objdump could not read kernel 0"
        in native_aot.instructions_outside(broken, {"64bit", "avx2"})["*"][0]
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> list[dict]:
    """Executables built as the engine builds them: the native builder process, valgrind's target ISA."""
    tmp = tmp_path_factory.mktemp("aot")
    config = {"gtol": 1e-5, "maxiter": 1000, "memory_size": 10}
    specs = [
        {"solver": s, "problem": "rosenbrock", "n": 10, "config": config} for s in ("optax_while", "scipy")
    ]
    jobs = "".join(json.dumps({"spec": s, "out": str(tmp / f"t{i}.pkl")}) + "\n" for i, s in enumerate(specs))
    env = counting_env({"XLA_FLAGS": native_aot.NATIVE_XLA_FLAGS})
    proc = subprocess.run(
        [sys.executable, "-m", "lbfgs_impl.measure._builder"],
        input=jobs,
        env=env,
        text=True,
        capture_output=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = []
    for i in range(len(specs)):
        summary = json.loads((tmp / f"t{i}.json").read_text())
        assert "error" not in summary, summary.get("traceback")
        out.append({**pickle.loads((tmp / f"t{i}.pkl").read_bytes()), "summary": summary})
    return out


@needs_valgrind
@needs_objdump
@pytest.mark.slow
def test_the_counted_executables_use_no_instruction_valgrinds_cpu_lacks(built):
    valgrind = native_aot.valgrind_cpu_features()
    assert {"sse2", "avx2"} <= valgrind and not any(f.startswith("avx512") for f in valgrind)
    for doc in built:
        assert "error" not in doc and doc["executables"]
        for serialized, _, _ in doc["executables"]:
            features = native_aot.target_features(serialized)
            assert "avx2" in features and not any(f.startswith("avx512") for f in features)
            assert native_aot.elf_objects(serialized)  # machine code was found and read
            assert native_aot.instructions_outside(serialized, valgrind) == {}
    assert built[0]["result"]["converged"] and built[0]["path"][1] == built[0]["result"]["n_iter"]
    assert built[0]["summary"]["native_run_s"] > 0


def test_the_counting_environment_is_fixed_by_the_suite(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # what Dask's Nanny sets for its workers
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0")
    monkeypatch.setenv("LD_PRELOAD", "libjemalloc.so")
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_use_thunk_runtime=false")
    monkeypatch.setenv("JAX_ENABLE_X64", "0")
    monkeypatch.setenv("DASK_WORKER_SOMETHING", "x")  # any other variable: the environment's size is fixed
    monkeypatch.setenv("LBFGS_BENCH_EXTRA_WORK", "scipy:0.1")  # the suite's own: kept
    env = counting_env()
    assert not {"MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES", "LD_PRELOAD", "DASK_WORKER_SOMETHING"} & set(env)
    assert "JAX_ENABLE_X64" not in env and env["LBFGS_BENCH_EXTRA_WORK"] == "scipy:0.1"
    assert {k: env[k] for k in FIXED_ENV} == FIXED_ENV and env["PATH"] == os.environ["PATH"]
    left_out = ignored_env()  # named in the counts' metadata
    assert {"MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES", "LD_PRELOAD", "XLA_FLAGS", "JAX_ENABLE_X64"} <= set(
        left_out
    )


@needs_objdump
def test_the_builder_refuses_an_executable_with_an_instruction_valgrind_lacks(tmp_path):
    from lbfgs_impl.measure._builder import check_isa

    valgrind = {"64bit", "avx", "avx2", "sse2"}
    features, bad = check_isa([(_blob_with(tmp_path, "adcx %rax, %rbx"), None, None)], valgrind)
    assert "adx" in features
    assert bad.startswith("the executable uses instructions valgrind's CPU lacks (adx: ")
    assert check_isa([(_blob_with(tmp_path, "addq %rax, %rbx"), None, None)], valgrind)[1] is None
    assert check_isa([(b"no machine code here", None, None)], valgrind) == ([], None)


#: One disassembled line (objdump's layout) of each feature the check looks for.
FEATURE_LINE_EXAMPLES = {
    "adx": "  1f:\t66 48 0f 38 f6 d8    \tadcx   %rax,%rbx",
    "clflushopt": "  2a:\t66 0f ae 38          \tclflushopt (%rax)",
    "clwb": "  2a:\t66 0f ae 30          \tclwb   (%rax)",
    "clzero": "  2a:\t0f 01 fc             \tclzero",
    "fsgsbase": "  2a:\tf3 48 0f ae c0       \trdfsbase %rax",
    "gfni": "  2a:\tc4 e3 f5 ce c2 00    \tvgf2p8affineqb $0x0,%ymm2,%ymm1,%ymm0",
    "prfchw": "  2a:\t0f 0d 08             \tprefetchw (%rax)",
    "rdpid": "  2a:\tf3 0f c7 f8          \trdpid  %rax",
    "sha": "  2a:\t0f 38 c8 c1          \tsha1nexte %xmm1,%xmm0",
    "shstk": "  2a:\tf3 48 0f 1e c8       \trdsspq %rax",
    "sse4a": "  2a:\t66 0f 79 c1          \textrq  %xmm1,%xmm0",
    "vaes": "  2a:\tc4 e2 75 dc c2       \tvaesenc %ymm2,%ymm1,%ymm0",
    "vpclmulqdq": "  2a:\tc4 e3 75 44 c2 00    \tvpclmulqdq $0x0,%ymm2,%ymm1,%ymm0",
    "xsavec": "  2a:\t0f c7 20             \txsavec (%rax)",
    "xsaveopt": "  2a:\t0f ae 30             \txsaveopt (%rax)",
    "xsaves": "  2a:\t0f c7 28             \txsaves (%rax)",
    "avx512": "  2a:\t62 f1 f5 48 58 c2    \tvaddpd %zmm2,%zmm1,%zmm0",
}


def test_the_line_filter_keeps_every_features_example_and_drops_plain_code():
    # grep -E picks the lines the Python patterns then read: a pattern grep reads otherwise would
    # pass an executable that uses the feature
    assert set(FEATURE_LINE_EXAMPLES) == set(native_aot.FEATURE_INSTRUCTIONS)
    plain = "  10:\t48 01 c3             \tadd    %rax,%rbx\n  13:\tc3                   \tret"
    for feature, line in FEATURE_LINE_EXAMPLES.items():
        pattern = native_aot.FEATURE_INSTRUCTIONS[feature]
        assert re.search(pattern, line), feature
        kept = native_aot._candidate_lines(
            f"{plain}\n{line}\n{plain}", list(native_aot.FEATURE_INSTRUCTIONS.values())
        )
        assert kept == [line], feature
    assert native_aot._candidate_lines(plain, list(native_aot.FEATURE_INSTRUCTIONS.values())) == []


@pytest.mark.parametrize("solver", ["optax_while", "optax_loop", "scipy"])
def test_ended_without_evaluations_skips_only_the_evaluation_count(solver):
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig, get_solver

    prepared = get_solver(solver).prepare(make_problem("mgh_beale"), SolverConfig())
    raw = prepared.run()
    full, spared = native_aot.ended(prepared, raw), native_aot.ended(prepared, raw, evaluations=False)
    assert isinstance(full["n_fev"], int) and full["n_fev"] >= full["n_iter"] > 0
    assert {k: v for k, v in full.items() if k != "n_fev"} == {
        k: v for k, v in spared.items() if k != "n_fev"
    }
    # a host loop counts its evaluations as it runs (nothing to spare); a compiled solve does not
    assert spared["n_fev"] == (full["n_fev"] if solver == "scipy" else None)


#: Patterns Python's ``re`` reads one way and ``grep -E`` another (or not at all): each would drop
#: the line that uses the feature before the Python pattern could see it.
NOT_ALIKE = {
    r"\bvaddpd\s+%zmm\d": "  2a:\t62 f1 f5 48 58 c2    \tvaddpd %zmm2,%zmm1,%zmm0",  # ERE: \d is 'd'
    r"\bvaddpd\s+%zmm[\d]": "  2a:\t62 f1 f5 48 58 c2    \tvaddpd %zmm2,%zmm1,%zmm0",  # ERE: '\' or 'd'
    r"\b(?:adcx|adox)": "  1f:\t66 48 0f 38 f6 d8    \tadcx   %rax,%rbx",  # ERE: no (?:
    r"(?i)\bADCX": "  1f:\t66 48 0f 38 f6 d8    \tadcx   %rax,%rbx",  # ERE: no inline flags
    r"\badcx(?=\s)": "  1f:\t66 48 0f 38 f6 d8    \tadcx   %rax,%rbx",  # ERE: no look-ahead
    r"\badcx\s+%[[:alpha:]]": "  1f:\t66 48 0f 38 f6 d8    \tadcx   %rax,%rbx",  # re: a nested set
}


@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")
@pytest.mark.parametrize("pattern", list(NOT_ALIKE))
def test_a_pattern_grep_reads_otherwise_keeps_every_line(pattern):
    line = NOT_ALIKE[pattern]
    plain = "  10:\t48 01 c3             \tadd    %rax,%rbx"
    if re.search(pattern, line):  # what the Python pattern finds is never filtered out by grep
        assert line in native_aot._candidate_lines(f"{plain}\n{line}\n", [pattern])
    assert not native_aot.grep_reads_alike(pattern)


def test_every_feature_pattern_is_one_grep_reads_alike():
    # else the filter keeps every line (correct, but the slow path the filter exists to avoid)
    for feature, pattern in native_aot.FEATURE_INSTRUCTIONS.items():
        assert native_aot.grep_reads_alike(pattern), feature


def test_a_nul_byte_in_the_disassembly_does_not_hide_its_lines():
    # GNU grep calls such input binary and prints "binary file matches" instead of the lines
    line = FEATURE_LINE_EXAMPLES["avx512"]
    patterns = list(native_aot.FEATURE_INSTRUCTIONS.values())
    assert line in native_aot._candidate_lines(f"<sym\x00bol>:\n{line}\n", patterns)


def test_a_grep_other_than_gnu_is_not_trusted(tmp_path, monkeypatch):
    # busybox's or musl's grep reads \b, \w and \s otherwise: such a grep keeps nothing here
    fake = tmp_path / "grep"
    version = "echo 'BusyBox v1.36.1 multi-call binary.'"
    fake.write_text(f'#!/bin/sh\n[ "$1" = --version ] && {version}\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    native_aot._gnu_grep.cache_clear()
    try:
        line, patterns = FEATURE_LINE_EXAMPLES["adx"], list(native_aot.FEATURE_INSTRUCTIONS.values())
        assert line in native_aot._candidate_lines(f"{line}\n", patterns)
    finally:
        native_aot._gnu_grep.cache_clear()


def test_a_build_is_reused_only_for_a_task_built_the_same_way():
    from lbfgs_impl.measure.engine import _build_key

    spec = {"solver": "optax_while", "problem": "rosenbrock", "n": 100, "config": {}}
    assert _build_key("t", spec) == _build_key("t", {**spec, "evaluations": True})
    assert _build_key("t", spec) != _build_key("t", {**spec, "evaluations": False})


@pytest.mark.parametrize("solver", ["scipy", "optax_loop", "optax_while", "jaxopt_lbfgs", "optimistix_bfgs"])
def test_every_solvers_raw_output_gives_its_path(solver):
    # the counted process reuses the native result only where it can read the solve's path; a solver
    # whose output it cannot read has its result computed again under valgrind (slow, never wrong)
    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig, get_solver

    prepared = get_solver(solver).prepare(make_problem("mgh_beale"), SolverConfig())
    path = native_aot.solve_path(prepared.run())
    result = native_aot.ended(prepared, prepared.run(), evaluations=False)
    assert path is not None and path[1] == result["n_iter"] and path[0].shape == (2,)


# ----------------------------------------------------------------- the runtime's release left out


def test_collection_is_on_in_the_counted_region_and_off_only_in_the_release():
    from lbfgs_impl.measure.engine import RELEASE_FUNCTION, VALGRIND_FLAGS

    toggles = [i for i, f in enumerate(VALGRIND_FLAGS) if f.startswith("--toggle-collect=")]
    at_start = [i for i, f in enumerate(VALGRIND_FLAGS) if f.startswith("--collect-atstart=")]
    assert [VALGRIND_FLAGS[i] for i in toggles] == [f"--toggle-collect={RELEASE_FUNCTION}"]
    # callgrind turns collection off at start when it reads a --toggle-collect: the last word must be yes
    assert at_start and at_start[-1] > toggles[-1] and VALGRIND_FLAGS[at_start[-1]] == "--collect-atstart=yes"


@pytest.mark.skipif(shutil.which("nm") is None, reason="binutils' nm is not installed")
def test_the_release_left_out_names_a_function_of_this_jaxlib():
    """A renamed or inlined release would silently bring the per-process noise back: the pattern must
    match a function of jaxlib's runtime (read with ``nm -C``, whose names callgrind shows alike)."""
    import fnmatch

    import jaxlib

    from lbfgs_impl.measure.engine import RELEASE_FUNCTION

    root = Path(jaxlib.__file__).parent
    libraries = [*root.rglob("libjax_common.so"), *root.rglob("xla_extension*.so")]
    # a runtime library renamed would otherwise read as "no such class" below: a skip that hides it
    assert libraries, f"no XLA runtime library found under {root}: the release pattern cannot be checked"
    names = "\n".join(
        subprocess.run(["nm", "-C", str(lib)], capture_output=True, text=True, check=True).stdout
        for lib in libraries
    )
    if "CpuPjRtRawLoadedExecutable::Execute" not in names:  # an older runtime: another executable class
        pytest.skip(
            f"jaxlib {jaxlib.__version__} has no CpuPjRtRawLoadedExecutable: its release is not left out"
        )
    needle = RELEASE_FUNCTION.strip("*").split("*")[0]
    matched = [line.split(" ", 2)[-1] for line in names.splitlines() if needle in line]
    assert any(fnmatch.fnmatchcase(name, RELEASE_FUNCTION) for name in matched), RELEASE_FUNCTION
