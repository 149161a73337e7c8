"""``lbfgs-bench report``: when does each solver win?

:mod:`~lbfgs_impl.commands.report.command` (arguments and body),
:mod:`~lbfgs_impl.commands.report.plans` (what each plan measures),
:mod:`~lbfgs_impl.commands.report.data` (the data model),
:mod:`~lbfgs_impl.commands.report.stages` (the measurements),
:mod:`~lbfgs_impl.commands.report.runner` (the stages under progress bars),
:mod:`~lbfgs_impl.commands.report.build` (the driver),
:mod:`~lbfgs_impl.commands.report.figures` (which figure each stage gets),
:mod:`~lbfgs_impl.commands.report.document` (``report.md`` and ``report.json``).
This ``__init__`` imports none of them: importing one submodule never runs another.
"""
