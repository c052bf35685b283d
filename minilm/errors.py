"""User-facing errors.

Anything the *user* got wrong (a missing file, a bad flag, a malformed line) is raised as
:class:`UserError`.  The command-line entry points catch it, print one line to stderr and exit
with status 2 -- no traceback.  Bugs in minilm itself stay ordinary exceptions so that their
traceback is shown.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn

EXIT_USER_ERROR = 2


class UserError(Exception):
    """An error caused by the user's input; its message is shown as-is, on one line."""


def fail(message: str) -> NoReturn:
    """Print ``error: message`` to stderr and exit with status 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USER_ERROR)


def run_cli(main: Callable[[list[str]], int | None], argv: list[str] | None = None) -> NoReturn:
    """Run ``main(argv)`` and turn :class:`UserError` into one line on stderr and exit code 2."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        code = main(argv)
    except UserError as e:
        fail(str(e))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except BrokenPipeError:  # `train.py --help | head`: the reader left; stop quietly (Python's docs, signal)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush is silent
        raise SystemExit(1) from None
    raise SystemExit(code or 0)
