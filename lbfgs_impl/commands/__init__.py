"""One module (or package) per ``lbfgs-bench`` command.

Each command module defines ``NAME``, ``HELP``, ``DESCRIPTION``, ``add_arguments(parser)``
and ``run(args) -> int`` (asv's ``asv/commands/`` layout); :mod:`lbfgs_impl.cli`
only collects them. Options that several commands share live in
:mod:`lbfgs_impl.commands.common`.
"""

#: the command modules, in the order ``lbfgs-bench --help`` lists them (imported lazily by the CLI,
#: so that ``--help`` does not start JAX)
COMMAND_MODULES = (
    "lbfgs_impl.commands.compare.command",
    "lbfgs_impl.commands.profile.command",
    "lbfgs_impl.commands.report.command",
    "lbfgs_impl.commands.explain.command",
    "lbfgs_impl.commands.pitfalls.command",
    "lbfgs_impl.commands.history.command",
    "lbfgs_impl.commands.check_regressions",
    "lbfgs_impl.commands.list",
)
