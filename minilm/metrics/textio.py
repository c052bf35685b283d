"""Reading the metric commands' input files; every problem is a one-line :class:`UserError`.

Text files are UTF-8 with one item per line ("\\n"; a "\\r" before it is kept and is whitespace to
every metric); a final newline is optional.  JSON Lines files have one JSON object per non-blank line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from minilm.errors import UserError


def read_text(path: str | Path) -> str:
    """The whole file as text; a missing, unreadable, non-UTF-8 or empty file is a UserError."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a file") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not valid UTF-8 (byte {e.start})") from None
    if not text:
        raise UserError(f"{path}: file is empty")
    return text


def read_lines(path: str | Path) -> list[str]:
    """The lines of a text file, without their "\\n"."""
    lines = read_text(path).split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def require_same_length(path_a: str | Path, a: list, path_b: str | Path, b: list) -> None:
    if len(a) != len(b):
        raise UserError(
            f"{path_a} has {len(a)} lines but {path_b} has {len(b)}; they must pair up line by line"
        )


def read_floats(path: str | Path) -> list[float]:
    """One finite number per line."""
    values = []
    for i, line in enumerate(read_lines(path), start=1):
        try:
            value = float(line)
        except ValueError:
            raise UserError(f"{path}:{i}: expected a number, got {line.strip()[:40]!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise UserError(f"{path}:{i}: expected a finite number, got {line.strip()!r}")
        values.append(value)
    return values


def read_json(path: str | Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: malformed JSON ({e.msg}, column {e.colno})") from None


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSON Lines file."""
    records = []
    for i, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{i}: malformed JSON ({e.msg}, column {e.colno})") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}:{i}: expected a JSON object, got {type(record).__name__}")
        records.append((i, record))
    if not records:
        raise UserError(f"{path}: no JSON objects (only blank lines)")
    return records
