"""Imported by the callgrind children (``plugins=``): registers the floor's probes as solvers."""

from lbfgs_impl.commands.explain.probes import register

register()
