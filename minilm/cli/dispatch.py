"""What ``train.py`` and ``evaluate.py`` share: a table of commands, each a config dataclass and a
``run(cfg)`` function in a module of :mod:`minilm.cli`, parsed and started the same way.

Only the module of the command asked for is imported, so a metric (no JAX needed) starts in a
fraction of a second.  ``--help`` lists the commands; ``COMMAND --help`` lists that command's
settings (see :mod:`minilm.config`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple

from minilm.config import parse_config
from minilm.errors import UserError


class Command(NamedTuple):
    module: str  # e.g. "minilm.cli.lm"
    description: str  # one line for the list of commands
    config: str = "Config"  # the config dataclass in that module
    run: str = "run"  # its run(cfg) -> exit code or None


def commands_help(prog: str, commands: dict[str, Command]) -> str:
    width = max(map(len, commands))
    rows = "\n".join(f"  {name:<{width}}  {c.description}" for name, c in commands.items())
    return f"commands ({prog} COMMAND --help):\n{rows}"


def dispatch(
    prog: str,
    commands: dict[str, Command],
    argv: list[str],
    *,
    default: str | None = None,
    before_run: Callable[[Any], None] | None = None,
) -> int | None:
    """Parse ``argv`` (``[COMMAND] --key=value ...``) and run the command.  ``before_run(cfg)`` runs
    before the command's module does any work (e.g. to choose JAX's devices)."""
    if argv and not argv[0].startswith("-"):
        name, argv = argv[0], argv[1:]
        if name not in commands:
            raise UserError(f"unknown command {name!r}; allowed: {', '.join(commands)}")
    elif default is not None:
        name = default
    else:
        if argv and argv[0] in ("-h", "--help"):
            print(f"usage: {prog} COMMAND [--key=value ...]\n\n{commands_help(prog, commands)}")
            return 0
        raise UserError(f"{prog} needs a command; allowed: {', '.join(commands)} (see {prog} --help)")
    command = commands[name]
    module = importlib.import_module(command.module)
    config_cls = getattr(module, command.config)
    description = (config_cls.__doc__ or module.__doc__ or "").strip().split("\n\n")[0]
    if name == default:
        description += "\n\n" + commands_help(prog, commands)
    shown = prog if name == default else f"{prog} {name}"
    cfg = parse_config(config_cls, argv, prog=shown, description=description)
    if before_run is not None:
        before_run(cfg)
    return getattr(module, command.run)(cfg)
