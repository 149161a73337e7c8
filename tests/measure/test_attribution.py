"""Attribution of callgrind's self cost by object file and symbol: the rules, and sums on a real dump."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from lbfgs_impl.measure.attribution import CATEGORY_KEYS, attribute, categorize, self_cost_by_object

HAS_VALGRIND = shutil.which("valgrind") is not None

WRITTEN = """version: 1
creator: callgrind-3.19.0
desc: Trigger: Client Request: job0:solve
events: Ir
summary: 0
ob=(1) /venv/lib/python3.11/site-packages/jaxlib/libjax_common.so
fn=(1) xla::cpu::ThunkExecutor::Execute
0 100
cob=(2) ???
cfn=(2) 0x0000000026bed000
calls=3 0
0 900
fn=(3) Eigen::ThreadPoolTempl<tsl::thread::EigenEnvironment>::WorkerLoop(int)
0 40
ob=(2)
fn=(2)
0 60
+2 30
ob=(3) /py/lib/libpython3.11.so.1.0
fn=(4) _PyEval_EvalFrameDefault
0 7
ob=(4) /venv/lib/python3.11/site-packages/scipy/optimize/_lbfgsb.cpython-311-x86_64-linux-gnu.so
fn=(5) lbfgsb_setulb
0 5
ob=(5) /venv/lib/python3.11/site-packages/scipy.libs/libscipy_openblas-6cdc3b4a.so
fn=(6) ddot_k
0 3
ob=(6) /usr/lib/x86_64-linux-gnu/libc.so.6
fn=(7) _int_malloc
0 2
ob=(7) /usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30
fn=(8) operator new(unsigned long)
0 1
totals: 248
"""


def test_rules_on_a_written_dump():
    costs = self_cost_by_object(WRITTEN)
    assert costs[("???", "0x0000000026bed000")] == 90  # the inclusive 900 after calls= is not self cost
    att = attribute(WRITTEN, top=1)
    assert att.total == 248 and sum(att.by_category.values()) == 248
    assert att.by_category == {
        "scheduler": 40,
        "xla_generated": 90,
        "xla_kernels": 0,
        "xla_runtime": 100,
        "scipy_lbfgsb": 5,
        "blas_lapack": 3,
        "cpython": 7,
        "numpy": 0,
        "libc_libm": 2,
        "other": 1,
    }
    jaxlib = "/venv/lib/python3.11/site-packages/jaxlib/libjax_common.so"
    assert att.top["xla_runtime"] == [("xla::cpu::ThunkExecutor::Execute", jaxlib, 100)]


@pytest.mark.parametrize(
    ("obj", "fn", "key"),
    [
        ("/x/jaxlib/libjax_common.so", "Eigen::RunQueue<T>::PopBack()", "scheduler"),
        ("/root/.pyenv/versions/3.11.7/lib/python3.11/lib-dynload/_ctypes.cpython-311.so", "f", "cpython"),
        ("/v/numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so", "f", "numpy"),
        ("/v/numpy.libs/libscipy_openblas64_-ff651d7f.so", "dgemv_t", "blas_lapack"),
        ("/usr/lib/x86_64-linux-gnu/libm.so.6", "exp", "libc_libm"),
        ("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "_dl_lookup", "libc_libm"),
        ("/usr/lib/x86_64-linux-gnu/libffi.so.8.1.2", "ffi_call", "other"),
        ("/v/jaxlib/libjax_common.so", "ynn::multiply_fp64_x86_avx(unsigned long)", "xla_kernels"),
        ("/v/jaxlib/libjax_common.so", "xla::cpu::ThunkExecutor::Execute()", "xla_runtime"),
    ],
)
def test_categorize(obj, fn, key):
    assert categorize(obj, fn) == key


@pytest.mark.skipif(not HAS_VALGRIND, reason="valgrind is not installed")
def test_categories_add_up_to_callgrinds_total_on_a_real_dump(tmp_path):
    out = tmp_path / "callgrind.out"
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", shutil.which("true")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    total = int(re.findall(r"^totals: (\d+)", text, re.M)[-1])
    att = attribute(text)
    assert set(att.by_category) == set(CATEGORY_KEYS)
    assert att.total == total == sum(att.by_category.values())
    assert att.by_category["libc_libm"] > 0.5 * total  # `true` is the loader and libc
