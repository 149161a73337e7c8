"""Every category rule of ``explain`` has a case: one example per rule and per alternative in it.

The table is iterated, so a category added without an example, or an alternative dropped
from a rule (a kernel prefix, an object name), fails here instead of silently moving
those functions into another category.
"""

from __future__ import annotations

import pytest

from lbfgs_impl.measure.attribution import _KERNEL_PREFIXES, CATEGORIES, CATEGORY_KEYS, categorize

JAXLIB = "/v/lib/python3.11/site-packages/jaxlib/libjax_common.so"

#: category key -> (object file, symbol) examples, one for each alternative the rule names.
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "scheduler": [
        (JAXLIB, "Eigen::ThreadPoolTempl<tsl::thread::EigenEnvironment>::WorkerLoop(int)"),
        (JAXLIB, "Eigen::RunQueue<Task, 1024u>::PopBack()"),
        ("???", "Eigen::RunQueue<Task, 1024u>::PushFront(Task)"),  # the symbol decides, wherever it is
    ],
    "xla_generated": [("???", "0x0000000026bed000"), ("???", "fusion.3")],
    "xla_kernels": [
        (JAXLIB, "ynn::multiply_fp64_x86_avx(unsigned long)"),
        (JAXLIB, "xnn_f32_gemm_minmax_ukernel_4x8__avx_broadcast"),
        (JAXLIB, "Eigen::internal::gebp_kernel<double, double, long>::operator()"),
        (JAXLIB, "__xla_cpu_runtime_EigenMatMulF64"),
        ("/v/site-packages/jaxlib/xla_extension.so", "xnn_f64_vadd_ukernel"),
    ],
    "xla_runtime": [
        (JAXLIB, "xla::cpu::ThunkExecutor::Execute()"),
        ("/v/site-packages/jaxlib/_jax.so", "PyArray_Resolve"),
        ("/opt/libjax_common.so", "tsl::Env::Default()"),  # by its name outside a jaxlib folder
        ("/opt/xla_extension.so", "xla::PjRtClient::Compile()"),
        (JAXLIB, "Eigen::TensorExecutor<...>::run()"),  # Eigen, but not Eigen::internal::
    ],
    "scipy_lbfgsb": [
        ("/v/scipy/optimize/_lbfgsb.cpython-311-x86_64-linux-gnu.so", "setulb_"),
    ],
    "blas_lapack": [
        ("/v/scipy.libs/libscipy_openblas-6cdc3b4a.so", "ddot_k"),
        ("/usr/lib/liblapack.so.3", "dpotrf_"),
        ("/opt/intel/libMKL_core.so", "mkl_blas_dgemv"),
    ],
    "cpython": [
        ("/py/lib/libpython3.11.so.1.0", "_PyEval_EvalFrameDefault"),
        ("/usr/bin/python3.11", "main"),
        ("/py/lib/python3.11/lib-dynload/_ctypes.cpython-311.so", "PyCData_New"),
    ],
    "numpy": [("/v/numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so", "PyArray_NewFromDescr")],
    "libc_libm": [
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", "_int_malloc"),
        ("/usr/lib/x86_64-linux-gnu/libm.so.6", "exp"),
        ("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "_dl_lookup_symbol_x"),
        ("/lib/libc-2.31.so", "memcpy"),
        ("/lib/libm-2.31.so", "__ieee754_log"),
        ("libc.so.6", "memset"),  # an object named without a folder
    ],
    "other": [
        ("/usr/lib/libstdc++.so.6.0.30", "operator new(unsigned long)"),
        ("/usr/lib/libstdc++.so.6.0.30", "xnn_lookalike"),  # a kernel prefix outside jaxlib is not a kernel
    ],
}


def test_every_rule_in_the_table_has_examples():
    assert list(EXAMPLES) == list(CATEGORY_KEYS)
    for category in CATEGORIES:
        assert EXAMPLES[category.key], f"no example for the rule {category.key!r}"


@pytest.mark.parametrize(("key", "obj", "fn"), [(k, o, f) for k, cases in EXAMPLES.items() for o, f in cases])
def test_each_example_lands_in_its_category(key, obj, fn):
    assert categorize(obj, fn) == key


@pytest.mark.parametrize("prefix", _KERNEL_PREFIXES)
def test_every_kernel_prefix_has_a_case_and_is_named_in_the_rule(prefix):
    kernels = next(c.rule for c in CATEGORIES if c.key == "xla_kernels")
    assert f"`{prefix}`" in kernels
    assert any(fn.startswith(prefix) for _, fn in EXAMPLES["xla_kernels"]), prefix


def test_the_kernel_prefixes_are_the_four_documented():
    assert set(_KERNEL_PREFIXES) == {"ynn::", "xnn_", "Eigen::internal::", "__xla_cpu_runtime_"}
