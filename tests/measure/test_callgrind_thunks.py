"""Kernels executed, from the call counts of a written callgrind file counted by hand."""

from __future__ import annotations

from lbfgs_impl.measure.callgrind import kernel_calls, thunk_calls

PARAMS = "(xla::cpu::Thunk::ExecuteParams const&)"
# ThunkExecutor::Execute calls SmallKernelThunk<2, 1> 7 times, CopyThunk 3 times, a WhileThunk once;
# the WhileThunk calls the executor twice, which calls SmallKernelThunk<1, 1> 4 times (a recursion
# level, named with callgrind's 'N mark). A function that is not a thunk's Execute (a lookalike
# ``Thunk::ExecuteSomething``) is not counted.
TEXT = f"""version: 1
creator: callgrind-3.19.0
events: Ir

ob=(1) /venv/lib/python3.11/site-packages/jaxlib/libjax_common.so
fn=(1) xla::cpu::ThunkExecutor::Execute{PARAMS}
0 10
cfn=(2) xla::cpu::SmallKernelThunk<2l, 1l>::Execute{PARAMS}
calls=7 0
0 700
cfn=(3) xla::cpu::CopyThunk::Execute{PARAMS}
calls=3 0
0 300
cfn=(4) xla::cpu::WhileThunk::Execute{PARAMS}
calls=1 0
0 500
fn=(4)
0 5
cfn=(5) xla::cpu::ThunkExecutor::Execute{PARAMS}'2
calls=2 0
0 450
fn=(5)
0 10
cfn=(6) xla::cpu::SmallKernelThunk<1l, 1l>::Execute{PARAMS}'2
calls=4 0
0 400
cfn=(7) xla::cpu::Thunk::ExecuteSomething{PARAMS}
calls=9 0
0 9
fn=(2)
0 700
fn=(3)
0 300
fn=(6)
0 400

totals: 1935
"""


def test_thunk_calls_count_each_thunk_class_over_every_caller():
    assert thunk_calls(TEXT) == {"SmallKernelThunk": 7 + 4, "CopyThunk": 3, "WhileThunk": 1}


def test_kernels_leave_the_control_thunks_out():
    assert kernel_calls(TEXT) == 7 + 4 + 3
