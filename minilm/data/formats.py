"""Strict readers for every file the project reads: text, numbers, CSV/TSV, JSON and JSON Lines.

Datasets, users' data files, the metric commands' inputs, prompts and word-vector files all come
through here.  Every reader takes a path and returns plain Python values.  A file name ending in ``.gz`` is
decompressed on the fly.  Anything wrong with a file raises :class:`~minilm.errors.UserError`
naming the file and, where there is one, the line: ``data/x.tsv:17: expected 4 tab-separated
fields, found 3``.

- Bytes are decoded strictly: a byte that is not valid in the file's encoding is an error at its
  line, never a silently replaced character.
- Lines end in ``\\n`` or ``\\r\\n``; the ``\\r`` is never part of a line.
- A UTF-8 byte-order mark at the start of a file is dropped.
- An empty file (no bytes) is an error: every file read here has to hold something.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
import zlib
from collections.abc import Collection, Sized
from pathlib import Path
from typing import Any

from minilm.errors import UserError

# the encodings ``decode`` knows; "cesu-8" is explained there
ENCODINGS = ("utf-8", "latin-1", "cesu-8")

_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, gunzipped when the name ends in ``.gz``."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a file") from None
    except PermissionError:
        raise UserError(f"{path}: permission denied") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise UserError(f"{path}: not a valid gzip file ({e})") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None


def _join_surrogates(pair: re.Match[str]) -> str:
    high, low = pair[0]
    return chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))


def decode(data: bytes, path: str | Path, encoding: str = "utf-8") -> str:
    """Decode a whole file; a bad byte is a UserError naming its line.

    - ``"utf-8"``: strict UTF-8.
    - ``"latin-1"``: one byte is one character U+0000..U+00FF, so it cannot fail.  For the
      ASCII files with one stray byte (``TREC.train``).
    - ``"cesu-8"``: UTF-8 in which a character beyond U+FFFF may also be written as its two
      UTF-16 surrogates of 3 bytes each (CESU-8, Java's "modified UTF-8").  Valid UTF-8 reads the
      same.  snips' ``train_PlayMusic_full.json`` writes its emoji (e.g. U+1F355) that way.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; known: {', '.join(ENCODINGS)}")
    if encoding == "latin-1":
        return data.decode("latin-1")
    try:
        text = data.decode("utf-8", "surrogatepass" if encoding == "cesu-8" else "strict")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise UserError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{data[e.start]:02x}); save the file as UTF-8"
        ) from None
    if encoding == "cesu-8":
        text = _SURROGATE_PAIR.sub(_join_surrogates, text)
        lone = _SURROGATE.search(text)
        if lone is not None:
            line = text.count("\n", 0, lone.start()) + 1
            raise UserError(
                f"{path}:{line}: a lone UTF-16 surrogate is not a character; save the file as UTF-8"
            )
    return text.removeprefix("\ufeff")


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The whole file as one string; an empty file is a UserError."""
    data = read_bytes(path)
    if not data:
        raise UserError(f"{path}: empty file")
    return decode(data, path, encoding)


def split_lines(text: str) -> list[str]:
    """Lines without their ``\\n`` or ``\\r\\n``; a final line without a newline still counts."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_lines(path: str | Path, encoding: str = "utf-8") -> list[str]:
    """The file's lines (see :func:`split_lines`)."""
    return split_lines(read_text(path, encoding))


def read_floats(path: str | Path) -> list[float]:
    """One finite number per line."""
    values = []
    for number, line in enumerate(read_lines(path), start=1):
        try:
            value = float(line)
        except ValueError:
            raise UserError(f"{path}:{number}: expected a number, got {line.strip()[:40]!r}") from None
        if not math.isfinite(value):
            raise UserError(f"{path}:{number}: expected a finite number, got {line.strip()!r}")
        values.append(value)
    return values


def require_same_length(path_a: str | Path, a: Sized, path_b: str | Path, b: Sized) -> None:
    """Two files read line by line must pair up: ``a`` (read from ``path_a``) as long as ``b``."""
    if len(a) != len(b):
        raise UserError(
            f"{path_a} has {len(a)} lines but {path_b} has {len(b)}; they must pair up line by line"
        )


def read_delimited(
    path: str | Path,
    delimiter: str,
    quoted: bool = True,
    widths: Collection[int] | None = None,
    encoding: str = "utf-8",
) -> list[tuple[int, list[str]]]:
    """Rows of a CSV or TSV file, each with the line number it starts on; blank lines are skipped.

    ``quoted``: a field may be wrapped in ``"..."`` with ``""`` for a quote inside (and may then
    span lines), as spreadsheets write CSV.  ``quoted=False`` takes every character literally, for
    files whose text holds stray quotes.  ``widths``: the allowed numbers of fields per row
    (default: the first row's); any other row is an error naming its line.
    """
    kind = "tab" if delimiter == "\t" else repr(delimiter)
    reader = csv.reader(
        io.StringIO(read_text(path, encoding), newline=""),
        delimiter=delimiter,
        quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
        strict=True,  # an unclosed quote is an error, not a field that swallows the rest of the file
    )
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for fields in reader:
            if fields:
                allowed = widths if widths is not None else (len(rows[0][1]) if rows else len(fields),)
                if len(fields) not in allowed:
                    expected = " or ".join(map(str, sorted(allowed)))
                    raise UserError(
                        f"{path}:{start}: expected {expected} {kind}-separated fields, found {len(fields)}"
                    )
                rows.append((start, fields))
            start = reader.line_num + 1
    except csv.Error as e:
        raise UserError(f"{path}:{start}: not valid {kind}-separated text ({e})") from None
    return rows


def read_json(path: str | Path, encoding: str = "utf-8") -> Any:
    """One JSON document."""
    try:
        return json.loads(read_text(path, encoding))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno})") from None


def read_jsonl(path: str | Path, encoding: str = "utf-8") -> list[tuple[int, dict[str, Any]]]:
    """JSON Lines: one JSON object per line, each with its line number; blank lines are skipped.
    Any other JSON value, or a file of blank lines only, is a UserError."""
    objects = []
    for number, line in enumerate(read_lines(path, encoding), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{number}: not valid JSON ({e.msg}, column {e.colno})") from None
        if not isinstance(value, dict):
            raise UserError(f"{path}:{number}: expected a JSON object {{...}}, found {type(value).__name__}")
        objects.append((number, value))
    if not objects:
        raise UserError(f"{path}: empty file: no JSON objects in it (only blank lines)")
    return objects
