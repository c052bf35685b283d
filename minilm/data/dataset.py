"""What every dataset is: named splits of uniform records per task, and the checks of their fields.

    ds.task, ds.labels                  # "classification", ("negative", "positive")
    ds.splits["train"][0]               # {"text": "a stirring , funny and ...", "label": "positive"}

Every dataset -- real (:mod:`minilm.data.loaders`), generated (:mod:`minilm.data.world`) or a
user's file (:mod:`minilm.data.userfiles`) -- comes as a :class:`Dataset`: named splits (``train``,
``dev``, ``test``) of records, dicts with the same fields for every dataset of a task
(:data:`TASK_FIELDS`); a few datasets add a documented extra field.  Labels are strings, the class
names (where a file writes codes, the names they stand for: sst2's 0/1 are "negative"/"positive");
``Dataset.labels`` fixes their order, so ``labels.index(record["label"])`` is the class id.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minilm.errors import UserError

# the fields of every record, per task
TASK_FIELDS: dict[str, tuple[str, ...]] = {
    "lm": ("text",),
    "classification": ("text", "label"),
    "pair_classification": ("premise", "hypothesis", "label"),
    "similarity": ("sentence1", "sentence2", "score"),
    "translation": ("source", "target"),
    "qa": ("id", "context", "question", "answers"),  # answers: [{"text", "answer_start"}]
    "summarization": ("document", "summary"),
}
TASKS = tuple(TASK_FIELDS)

Record = dict[str, Any]
Splits = dict[str, list[Record]]


@dataclass(frozen=True, repr=False)
class Dataset:
    """A dataset as uniform records: ``splits[split]`` is a list of dicts with ``TASK_FIELDS[task]``.

    ``labels``: a (pair_)classification task's class names in class-id order; else None.
    ``source``: the folder or file the records were read from, or the generator.
    ``raw``: for qa, split -> the original SQuAD v1.1 JSON object (SQuAD scoring reads that);
    else None.
    """

    name: str
    task: str
    splits: Splits
    labels: tuple[str, ...] | None
    source: str
    raw: dict[str, Any] | None = None

    def split(self, name: str) -> list[Record]:
        """The records of split ``name``; a UserError listing the splits there are if it is absent."""
        if name not in self.splits:
            raise UserError(
                f"dataset {self.name!r} has no split {name!r}; its splits: {', '.join(self.splits)}"
            )
        return self.splits[name]

    def __repr__(self) -> str:  # sizes, not a dump of every record
        sizes = ", ".join(f"{split}={len(records)}" for split, records in self.splits.items())
        labels = "" if self.labels is None else f", labels={len(self.labels)}"
        return f"Dataset({self.name!r}, task={self.task!r}, splits({sizes}){labels}, source={self.source!r})"


# --- checks of record fields, shared by the dataset loaders and users' files -------------------------


def listing(names: Collection[str], limit: int = 12) -> str:
    """``names`` comma-separated, the first ``limit`` of them and the count beyond."""
    shown = ", ".join(itertools.islice(names, limit))
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


def check_label(value: Any, allowed: Mapping[str, str], where: str) -> str:
    """The label named by ``value`` as written in the file (``allowed``: written form -> label)."""
    if value not in allowed:
        raise UserError(f"{where}: unknown label {value!r}; allowed: {listing(allowed)}")
    return allowed[value]


def check_score(value: str, where: str, bounds: tuple[float, float] | None = None) -> float:
    """A similarity score: a finite number, within ``bounds`` if given."""
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: score {value!r} is not a number") from None
    if not math.isfinite(score) or (bounds is not None and not bounds[0] <= score <= bounds[1]):
        allowed = "a finite number" if bounds is None else f"a number in [{bounds[0]}, {bounds[1]}]"
        raise UserError(f"{where}: score {value!r} is not {allowed}")
    return score


def nonempty(path: Path, records: list[Record]) -> list[Record]:
    """``records``, read from ``path``, unless there are none."""
    if not records:
        raise UserError(f"{path}: empty file: no examples in it")
    return records
