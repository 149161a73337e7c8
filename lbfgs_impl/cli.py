"""``lbfgs-bench`` command line (also ``python -m lbfgs_impl``): parser assembly and dispatch only.

Every command lives in :mod:`lbfgs_impl.commands` and adds its own arguments;
this module collects them, prints the help for a bare ``lbfgs-bench`` (exit 0, as
``--help``), turns bad input into one line (exit 2), a
measurement error into one line (exit 1) and an out-of-memory into one line
(exit 1).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from lbfgs_impl.commands import COMMAND_MODULES
from lbfgs_impl.commands.common import PROG, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise UsageError(message)


def _commands() -> dict[str, ModuleType]:
    modules = [importlib.import_module(name) for name in COMMAND_MODULES]
    return {module.NAME: module for module in modules}


def build_parser() -> argparse.ArgumentParser:
    from lbfgs_impl import __version__

    parser = _Parser(prog=PROG, description="L-BFGS in SciPy and Optax, measured correctly.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in _commands().items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    from lbfgs_impl.measure.timing import MeasurementError

    try:
        args = build_parser().parse_args(argv)
        if args.command is None:  # bare ``lbfgs-bench``: the same help and exit code as ``--help``
            build_parser().print_help()
            return 0
        return _commands()[args.command].run(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except MeasurementError as exc:
        print(f"{PROG}: measurement error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from lbfgs_impl.measure.resources import is_out_of_memory

        if not is_out_of_memory(exc):
            raise
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"{PROG}: out of memory: {first_line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
