"""Compile outside, count inside: each task's executables built natively for valgrind's instruction set.

XLA compiles ~5-8x slower under valgrind than natively, and JAX's persistent cache
written natively is never hit there (its key hashes the CPU features, which valgrind's
virtual CPU changes). So the counting engine compiles every task once in a native
process with ``--xla_cpu_max_isa=AVX2`` (:data:`TARGET_ISA`: valgrind 3.x emulates no
AVX-512), serializes each executable (:mod:`jax.experimental.serialize_executable`) and
runs the solve there once to record where it ends (iterations, evaluations, final
``x``). The counted process loads the executables in the order the solver asks for them
(:func:`lbfgs_impl.solvers.base.set_aot_hook`), so it traces, lowers and compiles
nothing, and counts only the solve.

XLA's codegen target is the compile machine's CPU with the vector extensions above
:data:`TARGET_ISA` removed; it may keep extensions valgrind's virtual CPU lacks
(GFNI, VAES, SHA, ADX, ...). :func:`excess_features` names those, and
:func:`instructions_outside` disassembles the executables' machine code for any
instruction of them (tests/measure/test_native_aot.py checks both on every run).

JAX's persistent cache is never used for them: an executable loaded from it serializes
without its machine code (none of its object files), which the counted process would then
have to generate itself, for valgrind's CPU.

The long-lived builder process is :mod:`lbfgs_impl.measure._builder`; the counted process is
:mod:`lbfgs_impl.measure._counter`.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

#: The vector instruction set the counted executables are built for (``--xla_cpu_max_isa``).
TARGET_ISA = "AVX2"
ENGINE = f"native-aot:{TARGET_ISA}"
NATIVE_XLA_FLAGS = f"--xla_cpu_multi_thread_eigen=false --xla_cpu_max_isa={TARGET_ISA}"


_FEATURES = re.compile(rb"\+64bit(?:,[+-][a-z0-9_.]+)+")

# CPUID bit -> LLVM feature name: (leaf, subleaf, register index eax=0 ebx=1 ecx=2 edx=3, bit, feature)
CPUID_FEATURES: tuple[tuple[int, int, int, int, str], ...] = (
    *((1, 0, 2, b, f) for b, f in ((0, "sse3"), (1, "pclmul"), (9, "ssse3"), (12, "fma"), (13, "cx16"),
                                  (19, "sse4.1"), (20, "sse4.2"), (20, "crc32"), (22, "movbe"),
                                  (23, "popcnt"), (25, "aes"), (26, "xsave"), (28, "avx"), (29, "f16c"),
                                  (30, "rdrnd"))),
    *((1, 0, 3, b, f) for b, f in ((8, "cx8"), (15, "cmov"), (23, "mmx"), (24, "fxsr"), (25, "sse"),
                                  (26, "sse2"))),
    *((7, 0, 1, b, f) for b, f in ((0, "fsgsbase"), (3, "bmi"), (5, "avx2"), (8, "bmi2"), (10, "invpcid"),
                                  (16, "avx512f"), (17, "avx512dq"), (18, "rdseed"), (19, "adx"),
                                  (21, "avx512ifma"), (23, "clflushopt"), (24, "clwb"), (28, "avx512cd"),
                                  (29, "sha"), (30, "avx512bw"), (31, "avx512vl"))),
    *((7, 0, 2, b, f) for b, f in ((1, "avx512vbmi"), (6, "avx512vbmi2"), (7, "shstk"), (8, "gfni"),
                                  (9, "vaes"), (10, "vpclmulqdq"), (11, "avx512vnni"), (12, "avx512bitalg"),
                                  (14, "avx512vpopcntdq"), (22, "rdpid"))),
    *((13, 1, 0, b, f) for b, f in ((0, "xsaveopt"), (1, "xsavec"), (3, "xsaves"))),
    *((0x80000001, 0, 2, b, f) for b, f in ((0, "sahf"), (5, "lzcnt"), (6, "sse4a"), (8, "prfchw"),
                                           (11, "xop"), (16, "fma4"), (21, "tbm"), (29, "mwaitx"))),
    (0x80000001, 0, 3, 29, "64bit"),
    (0x80000008, 0, 1, 0, "clzero"),
)  # fmt: skip

#: Instructions of each extension that compiled code could contain (objdump's AT&T mnemonics, as
#: regular expressions on one disassembled line). An excess feature missing here cannot be checked.
FEATURE_INSTRUCTIONS: dict[str, str] = {
    "adx": r"\b(adcx|adox)",
    "clflushopt": r"\bclflushopt\b",
    "clwb": r"\bclwb\b",
    "clzero": r"\bclzero\b",
    "fsgsbase": r"\b(rd|wr)[fg]sbase",
    "gfni": r"\bv?gf2p8",
    "prfchw": r"\bprefetchw\b",
    "rdpid": r"\brdpid\b",
    "sha": r"\bsha(1|256)",
    "shstk": r"\b(incssp|rdssp|saveprevssp|rstorssp|wrss|wruss|setssbsy|clrssbsy)",
    "sse4a": r"\b(extrq|insertq|movntsd|movntss)\b",
    "vaes": r"\bvaes\w*\s.*%[yz]mm",
    "vpclmulqdq": r"\bvpclmulq\w*\s.*%[yz]mm",
    "xsavec": r"\bxsavec",
    "xsaveopt": r"\bxsaveopt",
    "xsaves": r"\b(xsaves|xrstors)",
    "avx512": r"%zmm|%k[0-7]\b|\{evex\}",
}


# ------------------------------------------------------------------ what the executables target


def target_features(serialized: bytes) -> list[str]:
    """The LLVM features an executable was compiled for (``+name``), read from its serialized form."""
    found = _FEATURES.findall(serialized)
    if not found:
        raise ValueError("no target feature list in the serialized executable")
    return sorted({f[1:] for blob in found for f in blob.decode().split(",") if f.startswith("+")})


def cpu_features(cpuid: Any) -> set[str]:
    """LLVM feature names of the CPU that ``cpuid(leaf, subleaf) -> (eax, ebx, ecx, edx)`` describes."""
    out: set[str] = set()
    cache: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for leaf, sub, reg, bit, name in CPUID_FEATURES:
        regs = cache.setdefault((leaf, sub), cpuid(leaf, sub))
        if regs[reg] >> bit & 1:
            out.add(name)
    return out


def shim_cpuid(shim: Any) -> Any:
    """``cpuid(leaf, subleaf) -> (eax, ebx, ecx, edx)`` through the callgrind helper (a ``ctypes.CDLL``)."""
    import ctypes

    def cpuid(leaf: int, subleaf: int) -> tuple[int, int, int, int]:
        out = (ctypes.c_uint * 4)()
        shim.lbfgs_bench_cpuid(ctypes.c_uint(leaf), ctypes.c_uint(subleaf), out)
        return tuple(out)  # type: ignore[return-value]

    return cpuid


_CPUID_PROGRAM = r"""
#include <cpuid.h>
#include <stdio.h>
int main(void) {
    const unsigned leaves[][2] = {{1, 0}, {7, 0}, {13, 1}, {0x80000001u, 0}, {0x80000008u, 0}};
    for (unsigned i = 0; i < sizeof leaves / sizeof leaves[0]; i++) {
        unsigned r[4] = {0, 0, 0, 0}, leaf = leaves[i][0];
        if (__get_cpuid_max(leaf & 0x80000000u, 0) >= leaf)
            __cpuid_count(leaf, leaves[i][1], r[0], r[1], r[2], r[3]);
        printf("%u %u %u %u %u %u\n", leaf, leaves[i][1], r[0], r[1], r[2], r[3]);
    }
    return 0;
}
"""


def valgrind_cpu_features() -> set[str]:
    """The features valgrind's virtual CPU reports: CPUID read by a small C program under
    ``valgrind --tool=none``."""
    cc = os.environ.get("CC") or "cc"
    with tempfile.TemporaryDirectory(prefix="lbfgs-bench-cpuid-") as tmp:
        src, exe = Path(tmp) / "cpuid.c", Path(tmp) / "cpuid"
        src.write_text(_CPUID_PROGRAM)
        subprocess.run([cc, "-O1", "-o", str(exe), str(src)], check=True, capture_output=True)
        out = subprocess.run(["valgrind", "--tool=none", "-q", str(exe)], capture_output=True, text=True)
    table: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for line in out.stdout.splitlines():
        leaf, sub, *regs = (int(v) for v in line.split())
        table[(leaf, sub)] = tuple(regs)  # type: ignore[assignment]
    if out.returncode != 0 or len(table) != 5:
        raise RuntimeError(f"could not read valgrind's CPUID: {out.stderr.strip()[:200]}")
    return cpu_features(lambda leaf, sub: table[(leaf, sub)])


def excess_features(serialized: bytes, valgrind_cpu: set[str]) -> list[str]:
    """Features the executable may use that valgrind's virtual CPU does not report."""
    return sorted(set(target_features(serialized)) - valgrind_cpu)


def elf_objects(serialized: bytes) -> list[bytes]:
    """The ELF object files (the generated machine code) inside a serialized executable."""
    out = []
    for m in re.finditer(rb"\x7fELF\x02\x01", serialized):
        start = m.start()
        head = serialized[start : start + 64]
        if len(head) < 64:
            continue
        shoff = int.from_bytes(head[0x28:0x30], "little")
        shentsize = int.from_bytes(head[0x3A:0x3C], "little")
        shnum = int.from_bytes(head[0x3C:0x3E], "little")
        out.append(serialized[start : start + shoff + shentsize * shnum])
    return out


def instructions_outside(serialized: bytes, valgrind_cpu: set[str]) -> dict[str, list[str]]:
    """Disassembled instructions of the excess features (``objdump -d``), by feature.

    An excess feature with no entry in :data:`FEATURE_INSTRUCTIONS` is reported as
    ``["cannot be checked"]``; AVX-512 instructions are always looked for.
    """
    excess = excess_features(serialized, valgrind_cpu)
    patterns = {f: FEATURE_INSTRUCTIONS.get(f) for f in excess if not f.startswith("avx512")}
    patterns["avx512"] = FEATURE_INSTRUCTIONS["avx512"]
    found: dict[str, list[str]] = {f: ["cannot be checked"] for f, p in patterns.items() if p is None}
    objects = elf_objects(serialized)
    if not objects:
        return {"*": ["no machine code found in the executable"]}
    with tempfile.TemporaryDirectory(prefix="lbfgs-bench-objdump-") as tmp:
        paths = [Path(tmp) / f"kernel{i}.o" for i in range(len(objects))]
        for path, obj in zip(paths, objects, strict=True):
            path.write_bytes(obj)
        # one objdump for every kernel (one process a kernel cost a third of a small task's build);
        # a kernel it cannot read makes it fail, and then each is read alone to name which
        text = subprocess.run(["objdump", "-d", *map(str, paths)], capture_output=True, text=True)
        outputs = [text] if text.returncode == 0 else [
            subprocess.run(["objdump", "-d", str(path)], capture_output=True, text=True) for path in paths
        ]  # fmt: skip
        for i, out in enumerate(outputs):
            if out.returncode != 0:  # machine code that cannot be read is never passed as clean
                found.setdefault("*", []).append(f"objdump could not read kernel {i}: {out.stderr.strip()}")
            for line in _candidate_lines(out.stdout, [p for p in patterns.values() if p]):
                for feature, pattern in patterns.items():
                    if pattern and re.search(pattern, line) and line.strip() not in found.get(feature, []):
                        found.setdefault(feature, []).append(line.strip())
    return found


def _candidate_lines(text: str, patterns: list[str]) -> list[str]:
    """The lines of ``text`` that may match one of ``patterns``: GNU grep's one pass over every
    pattern at once (10,000 lines of a kernel's disassembly in ~10 ms, where a search per line
    and pattern in Python took ~0.5 s); every line when grep is missing, is not GNU grep, fails, or
    a pattern is not one both read alike (:func:`grep_reads_alike`): never a line Python would match."""
    if patterns and _gnu_grep() and all(grep_reads_alike(p) for p in patterns):
        # -a: a NUL byte makes GNU grep print "binary file matches" instead of the lines
        out = subprocess.run(["grep", "-a", "-E", "|".join(f"({p})" for p in patterns)], input=text,
                             capture_output=True, text=True)  # fmt: skip
        if out.returncode in (0, 1) and not out.stderr:  # 1: no line matched; a warning: not trusted
            return out.stdout.splitlines()
    return text.splitlines()


@functools.cache
def _gnu_grep() -> bool:
    """Whether ``grep`` is GNU grep (others, busybox's or one on musl's regex, read ``\\b``, ``\\w``
    and ``\\s`` otherwise or not at all)."""
    if shutil.which("grep") is None:
        return False
    try:
        out = subprocess.run(["grep", "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GNU grep" in out.stdout


#: One token of the syntax GNU ``grep -E`` and Python's ``re`` read alike (ASCII text): a word-class or
#: boundary escape, an escaped punctuation mark, a bracket expression without escapes or POSIX classes,
#: an interval, a group that is not an extension ``(?``, or a character with the same meaning to both.
_ALIKE_TOKEN = re.compile(
    r"""\\[bBwWsS]|\\[.^$|()\[\]{}*+?\\/%#-]|\[\^?\]?[^\]\\\[]*\]|\{\d+(?:,\d*)?\}|\((?!\?)|[^\\\[{(]"""
)


def grep_reads_alike(pattern: str) -> bool:
    """Whether ``grep -E`` reads ``pattern`` as Python's ``re`` does (the syntax of :data:`_ALIKE_TOKEN`,
    no possessive quantifier): ``\\d``, ``(?:``, ``[\\d]`` or ``[[:alpha:]]`` are read otherwise."""
    pos = 0
    while pos < len(pattern):
        m = _ALIKE_TOKEN.match(pattern, pos)
        if m is None:
            return False
        pos = m.end()
    return re.search(r"[*+?}]\+", pattern.replace("\\\\", "").replace("\\+", "")) is None


# ------------------------------------------------------------------ building (native) and loading


def capture(spec: dict[str, Any]) -> dict[str, Any]:
    import jax
    import numpy as np
    from jax.experimental import serialize_executable

    from lbfgs_impl.problems import make_problem
    from lbfgs_impl.solvers import SolverConfig, get_solver
    from lbfgs_impl.solvers.base import plain_aot_compile, set_aot_hook

    executables: list[tuple[bytes, Any, Any]] = []

    def record(fn: Any, args: tuple[Any, ...]) -> Any:
        compiled, stages = plain_aot_compile(fn, *args)
        executables.append(serialize_executable.serialize(compiled))
        return compiled, stages

    problem = make_problem(spec["problem"], spec["n"])
    prepared = get_solver(spec["solver"]).prepare(problem, SolverConfig(**spec["config"]))
    set_aot_hook(record)
    try:
        prepared.compile()
        prepared.run()
        t0 = time.perf_counter()
        raw = prepared.run()
        jax.block_until_ready(raw)
        run_s = time.perf_counter() - t0
    finally:
        set_aot_hook(None)
    path = solve_path(raw)
    return {
        "executables": executables,
        "result": ended(prepared, raw, spec.get("evaluations", True)),
        "path": None if path is None else (np.asarray(path[0]), int(path[1])),
        "jax": jax.__version__,
        "native_run_s": run_s,
    }  # fmt: skip


def ended(prepared: Any, raw: Any, evaluations: bool = True) -> dict[str, Any]:
    """Where a solve ended: ``n_iter``, ``n_fev``, ``converged``, ``status``.

    ``evaluations=False`` skips the suite's evaluation count where it costs a solve of its own (a
    jitted solve's counting solve: a second compile), for a caller that has the count already (the
    profile's timing phase); ``n_fev`` is then None.
    """
    outcome = getattr(prepared, "outcome", None)
    result = prepared.result(raw) if evaluations or outcome is None else outcome(raw)
    n_fev = result.n_fev if result.n_fev >= 0 else None
    return {"n_iter": result.n_iter, "n_fev": n_fev, "converged": result.converged, "status": result.status}


def solve_path(raw: Any) -> tuple[Any, int] | None:
    """``(final x, iterations)`` of a JAX solve's raw output, or None when it carries neither."""
    import jax
    import numpy as np

    # a JAX solve's output itself, or a protocol solver's (state, calls): without the latter, every
    # such count computed its own result in the counted process (a counting solve compiled under
    # valgrind, ~30 s a task)
    first = raw[0] if isinstance(raw, tuple) and raw else None
    for state in (raw, first):
        if hasattr(state, "x") and hasattr(state, "n_iter"):
            x, n_iter = jax.device_get((state.x, state.n_iter))
            return np.asarray(x), int(np.asarray(n_iter))
    if hasattr(first, "x") and hasattr(first, "nit"):  # SciPy's
        return np.asarray(first.x), int(first.nit)
    return None


def same_path(a: tuple[Any, int], b: tuple[Any, int]) -> bool:
    import numpy as np

    return a[1] == b[1] and np.array_equal(np.asarray(a[0]), np.asarray(b[0]), equal_nan=True)


class Loader:
    """The :func:`lbfgs_impl.solvers.base.set_aot_hook` hook of the counted process: serves a task's
    executables in order; a solver asking for more than were built compiles in-process (counted in
    :attr:`compiled_here`)."""

    def __init__(self, executables: list[tuple[bytes, Any, Any]]):
        self._left = list(executables)
        self.loaded = 0
        self.compiled_here = 0

    def __call__(self, fn: Any, args: tuple[Any, ...]) -> Any:
        from jax.experimental import serialize_executable

        from lbfgs_impl.solvers.base import StageTimes, plain_aot_compile

        if not self._left:
            self.compiled_here += 1
            return plain_aot_compile(fn, *args)
        self.loaded += 1
        return serialize_executable.deserialize_and_load(*self._left.pop(0)), StageTimes(0.0, 0.0)
