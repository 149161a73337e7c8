"""``lbfgs-bench profile``: every solver on the Moré-Garbow-Hillstrom set, success rates and profiles.

:mod:`~lbfgs_impl.commands.profile.command` (arguments and body),
:mod:`~lbfgs_impl.commands.profile.runner` (the solves and their records),
:mod:`~lbfgs_impl.commands.profile.document` (``results.json``, ``profile.md``, figures).
"""
