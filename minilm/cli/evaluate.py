"""``python evaluate.py COMMAND ...``: metrics and model evaluations from the command line.

Each module in :data:`MODULES` has ``register(subparsers)``, which adds its commands with
``parser.set_defaults(run=function)``; ``function(args)`` returns an exit code or None.
Bad input raises :class:`~minilm.errors.UserError`: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib

# modules that contribute evaluate.py commands
MODULES: list[str] = ["minilm.metrics.cli", "minilm.elmo_cli", "minilm.vectors.cli", "minilm.models.cli_eval"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evaluate.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str]) -> int | None:
    args = build_parser().parse_args(argv)
    return args.run(args)
