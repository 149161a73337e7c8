"""``lbfgs-bench compare``: every solver on one problem, first call and steady state.

:mod:`~lbfgs_impl.commands.compare.command` (arguments and body),
:mod:`~lbfgs_impl.commands.compare.runner` (the measurements),
:mod:`~lbfgs_impl.commands.compare.table` (the table and its JSON form).
"""
