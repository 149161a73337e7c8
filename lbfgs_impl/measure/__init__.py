"""The measurement core: timing, instruction counts, the environment, resource checks.

* :mod:`~lbfgs_impl.measure.timing`: first call (fresh caches) and steady state
  (AOT-compiled, zero compilations in the timed region, checked); pinning.
* :mod:`~lbfgs_impl.measure.instructions`: instruction counts under callgrind
  (with :mod:`~lbfgs_impl.measure.engine` and ``_native/``).
* :mod:`~lbfgs_impl.measure.environment`: versions, CPU, thread settings.
* :mod:`~lbfgs_impl.measure.resources`: will a problem fit in memory.

The timing API is re-exported here, so ``from lbfgs_impl.measure import
prepare_compiled`` (the import path of earlier releases) keeps working.
"""

from lbfgs_impl.measure.timing import (
    BACKEND_COMPILE_EVENT,
    CompilationInTimedRegion,
    CompileLog,
    FirstCallSample,
    MeasurementError,
    SteadyStats,
    assert_no_compilations,
    available_cpus,
    break_even_solves,
    clear_jax_caches,
    cold_solve,
    cold_start,
    count_compilations,
    jax_backend_initialized,
    measure_first_call,
    measure_steady,
    median,
    persistent_cache_disabled,
    pinned,
    prepare_compiled,
    timed_run,
)

__all__ = [
    "BACKEND_COMPILE_EVENT",
    "CompilationInTimedRegion",
    "CompileLog",
    "FirstCallSample",
    "MeasurementError",
    "SteadyStats",
    "assert_no_compilations",
    "available_cpus",
    "break_even_solves",
    "clear_jax_caches",
    "cold_solve",
    "cold_start",
    "count_compilations",
    "jax_backend_initialized",
    "measure_first_call",
    "measure_steady",
    "median",
    "persistent_cache_disabled",
    "pinned",
    "prepare_compiled",
    "timed_run",
]
