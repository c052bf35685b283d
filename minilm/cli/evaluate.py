"""``python evaluate.py COMMAND ...``: metrics and model evaluations from the command line.

Each module in :data:`MODULES` has ``register(subparsers)``, which adds its commands with
``parser.set_defaults(run=function)``; ``function(args)`` returns an exit code or None.
Bad input raises :class:`~minilm.errors.UserError`: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib

# module -> the commands it registers.  Only the module of the command asked for is imported, so a
# metric (no JAX needed) starts in a fraction of a second.
MODULES: dict[str, tuple[str, ...]] = {
    "minilm.metrics.cli": ("bleu", "rouge", "classification", "squad", "ssa", "ssa-label", "correlation"),
    "minilm.vectors.cli": ("vectors",),
    "minilm.elmo_cli": ("context",),
    "minilm.models.cli_eval": ("perplexity", "embed", "similarity"),
}


def build_parser(modules: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evaluate.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str]) -> int | None:
    owner = [m for m, commands in MODULES.items() if argv and argv[0] in commands]
    args = build_parser(owner or list(MODULES)).parse_args(argv)
    return args.run(args)
