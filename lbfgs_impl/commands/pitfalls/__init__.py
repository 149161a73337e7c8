"""``lbfgs-bench pitfalls``: the ways JAX timings go wrong, each measured beside the correct figure.

:mod:`~lbfgs_impl.commands.pitfalls.command` (arguments and body), :mod:`~.runner` (the
measurements, in one process), :mod:`~.loops`, :mod:`~.closures`, :mod:`~.scipy_variants`
and :mod:`~.floor` (the measured code), :mod:`~.rows` (what each row is),
:mod:`~.document` (pitfalls.md).
"""
