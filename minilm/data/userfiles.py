"""Users' own data files as datasets: the format from the extension, the task from the columns.

    load_file("reviews.csv", label_column="stars")    # text + label columns -> classification
    load_file("pairs.tsv", task="similarity", text_column=0, pair_column=1, label_column=2)
    load_file("corpus.txt")                           # one record per non-blank line, task lm

A file is one ``train`` split of a :class:`~minilm.data.dataset.Dataset`;
:func:`minilm.data.registry.load_dataset` hands it any path it is given.  Malformed input stops
with a one-line :class:`~minilm.errors.UserError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from minilm.data.dataset import TASK_FIELDS, TASKS, Dataset, check_label, check_score, nonempty
from minilm.data.formats import read_delimited, read_jsonl, read_lines
from minilm.data.loaders import load_squad_json, squad_records
from minilm.errors import UserError

# extension -> format
FORMATS = {".txt": "text", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "squad"}
# which column option fills each field
_ROLE = {
    "text": "text", "premise": "text", "sentence1": "text", "source": "text", "document": "text",
    "hypothesis": "pair", "sentence2": "pair",
    "label": "label", "score": "label",
    "target": "target", "summary": "target",
}  # fmt: skip
# with no column options, the first of these tasks whose fields are all column names is the task
_BY_FIELD_NAMES = (
    "pair_classification",
    "similarity",
    "classification",
    "translation",
    "summarization",
    "lm",
)


def format_of(path: Path) -> str | None:
    """The format its extension names (looking through ``.gz``), or None."""
    suffixes = path.suffixes[-2:] if path.suffix == ".gz" else path.suffixes[-1:]
    return FORMATS.get(suffixes[0].lower()) if suffixes else None


def _infer_task(path: Path, roles: Mapping[str, Any], names: list[str]) -> str:
    if "target" in roles:
        return "translation"
    if "label" in roles:
        return "pair_classification" if "pair" in roles else "classification"
    if roles:
        return "lm"
    for task in _BY_FIELD_NAMES:
        if set(TASK_FIELDS[task]) <= set(names):
            return task
    raise UserError(
        f"{path}: cannot tell the task from the columns {', '.join(names)}; name them after a task's fields "
        f"({'; '.join(', '.join(TASK_FIELDS[t]) for t in _BY_FIELD_NAMES)}) or give the column options"
    )


def _column(value: str | int) -> str | int:
    """A column option: a 0-based index (an int or a string of digits) or a name."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _table_rows(
    path: Path, fmt: str, columns: list[str | int], header: bool | None, encoding: str
) -> tuple[list[str], list[tuple[int, Callable[[str | int], Any]]]]:
    """(column names, [(line, column -> value)]) of a csv, tsv or jsonl file."""
    if fmt == "jsonl":
        rows = read_jsonl(path, encoding)
        return list(rows[0][1]), [(n, _json_getter(path, n, obj)) for n, obj in rows]
    header = header if header is not None else not (columns and all(isinstance(c, int) for c in columns))
    rows = read_delimited(path, "," if fmt == "csv" else "\t", encoding=encoding)
    if not rows or (header and len(rows) == 1):
        raise UserError(f"{path}: empty file: no examples in it")
    names = rows[0][1] if header else []
    width = len(rows[0][1])

    def index(column: str | int) -> int:
        if isinstance(column, int):
            if column >= width:
                raise UserError(f"{path}: no column {column}: rows have {width} fields (counting from 0)")
            return column
        if column not in names:
            found = (
                f"the header has {', '.join(names)}" if header else "there is no header row (header=False)"
            )
            raise UserError(f"{path}:{rows[0][0]}: no column {column!r}; {found}")
        return names.index(column)

    return names, [(n, lambda c, f=fields: f[index(c)]) for n, fields in rows[1 if header else 0 :]]


def _json_getter(path: Path, number: int, obj: dict[str, Any]) -> Callable[[str | int], Any]:
    def get(key: str | int) -> Any:
        if key not in obj:
            raise UserError(f"{path}:{number}: no field {key!r}; the object has {', '.join(obj)}")
        return obj[key]

    return get


def load_file(
    path: str | Path,
    format: str | None = None,
    *,
    task: str | None = None,
    text_column: str | int | None = None,
    pair_column: str | int | None = None,
    label_column: str | int | None = None,
    target_column: str | int | None = None,
    labels: Collection[str] | None = None,
    header: bool | None = None,
    encoding: str = "utf-8",
) -> Dataset:
    """A user's data file as a Dataset with one split, ``train``.

    ``format`` (default: from the extension, looking through ``.gz``):
    - ``text`` (.txt): one record per non-blank line; task ``lm``.
    - ``csv`` / ``tsv``: ``"..."``-quoted fields allowed; every row as wide as the first.  A
      header row names the columns unless every column option is a 0-based index (``header``
      overrides).
    - ``jsonl``: one JSON object per line.
    - ``squad`` (.json): SQuAD v1.1; task ``qa``.

    Columns fill the task's fields by role: ``text_column`` -> text / premise / sentence1 /
    source / document; ``pair_column`` -> hypothesis / sentence2; ``label_column`` -> label /
    score; ``target_column`` -> target / summary.  A column not given is the field's own name.
    ``task`` (default: label+pair columns -> pair_classification, label -> classification,
    target -> translation, text -> lm; with no column options, the first of
    pair_classification, similarity, classification, translation, summarization, lm whose field
    names are all columns).  ``labels``: the allowed class names in class-id order (default: the
    sorted labels found); any other label is an error naming its line.
    """
    path = Path(path)
    fmt = format or format_of(path)
    if fmt not in FORMATS.values():
        raise UserError(
            f"{path}: unknown format {fmt or path.suffix!r}; use one of {', '.join(FORMATS.values())} "
            f"(extensions {', '.join(FORMATS)})"
        )
    if task is not None and task not in TASKS:
        raise UserError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
    roles = {
        role: _column(column)
        for role, column in (("text", text_column), ("pair", pair_column), ("label", label_column),
                             ("target", target_column))
        if column is not None
    }  # fmt: skip
    if fmt in ("text", "squad"):
        return _load_whole_file(path, fmt, roles, task, encoding)
    if task == "qa":
        raise UserError(f"{path}: qa data must be a SQuAD v1.1 .json file")
    return _load_table(path, fmt, roles, task, labels, header, encoding)


def _load_whole_file(
    path: Path, fmt: str, roles: Mapping[str, Any], task: str | None, encoding: str
) -> Dataset:
    """A text file (task lm) or a SQuAD file (task qa): no columns to choose."""
    implied = "lm" if fmt == "text" else "qa"
    if roles or task not in (None, implied):
        raise UserError(
            f"{path}: a {fmt} file holds task {implied}; use csv, tsv or jsonl for columns and tasks"
        )
    if fmt == "squad":
        squad = load_squad_json(path)
        return Dataset(
            str(path), "qa", {"train": squad_records(squad, str(path))}, None, str(path), {"train": squad}
        )
    records = [{"text": line} for line in read_lines(path, encoding) if line.strip()]
    return Dataset(str(path), "lm", {"train": nonempty(path, records)}, None, str(path))


def _load_table(
    path: Path,
    fmt: str,
    roles: Mapping[str, str | int],
    task: str | None,
    labels: Collection[str] | None,
    header: bool | None,
    encoding: str,
) -> Dataset:
    """A csv, tsv or jsonl file: one record per row, its fields taken from the columns by role."""
    names, rows = _table_rows(path, fmt, list(roles.values()), header, encoding)
    task = task or _infer_task(path, roles, names)
    fields = TASK_FIELDS[task]
    unused = set(roles) - {_ROLE[field] for field in fields}
    if unused:
        raise UserError(
            f"a {' and '.join(sorted(unused))} column has no use in task {task!r} ({', '.join(fields)})"
        )
    allowed = None if labels is None else {str(label): str(label) for label in labels}
    records = [
        {
            field: _field(field, get(roles.get(_ROLE[field], field)), allowed, f"{path}:{number}")
            for field in fields
        }
        for number, get in rows
    ]
    found = None
    if "label" in fields:
        found = tuple(allowed) if allowed is not None else tuple(sorted({r["label"] for r in records}))
    return Dataset(str(path), task, {"train": records}, found, str(path))


def _field(field: str, value: Any, allowed: Mapping[str, str] | None, where: str) -> Any:
    """The value of a record's ``field`` as read from a file: a score is a number, a label a string
    (one of ``allowed`` if given), every other field a string."""
    if field == "score":
        return check_score(value, where)
    if field == "label":
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise UserError(f"{where}: label {value!r} is not a string or an integer")
        return str(value) if allowed is None else check_label(str(value), allowed, where)
    if not isinstance(value, str):
        raise UserError(f"{where}: {field} {value!r} is not a string")
    return value
