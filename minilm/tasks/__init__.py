"""Tasks by name: every task ``train.py finetune --task NAME`` trains and ``evaluate.py task`` scores.

    task = get_task("clinc150")         # a Task (minilm.tasks.base): data, input format, head, metric
    get_task("reviews.csv")             # a user's file: the task that reads its kind of records

One module per family of tasks, each a tuple of :class:`~minilm.tasks.base.Task` objects:
``classification.py`` (sentiment, NLI, intent, topic; their ``world_*`` twins), ``qa.py`` (extractive
QA), ``generation.py`` (translation, summarisation).  A user's file is read by the task its records'
kind names in :data:`FILE_TASKS` (kind -> a function of the path that makes the task).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

from minilm.data.registry import load_dataset
from minilm.data.userfiles import format_of
from minilm.errors import UserError
from minilm.tasks.base import NoOptions, Task, TaskData
from minilm.tasks.classification import CLASSIFICATION_TASKS
from minilm.tasks.classification import FILE_KINDS as CLASSIFICATION_FILES

TASKS: dict[str, Task] = {task.name: task for task in (*CLASSIFICATION_TASKS,)}
FILE_TASKS: dict[str, Callable[[str], Task]] = {**CLASSIFICATION_FILES}


def is_file(name: str) -> bool:
    """``--task`` names a file (a path, or a name with a data-file extension), not a registered task."""
    return name not in TASKS and (Path(name).exists() or "/" in name or format_of(Path(name)) is not None)


def file_task(path: str, kind: str) -> Task:
    """The task that reads a user's file of ``kind`` records (without reading the file)."""
    if kind not in FILE_TASKS:
        raise UserError(
            f"--task={path} holds {kind} records; a task file holds one of: {', '.join(FILE_TASKS)}"
        )
    return FILE_TASKS[kind](path)


def get_task(name: str) -> Task:
    """The task called ``name``, or the task of a user's file (read once to learn its kind)."""
    if name in TASKS:
        return TASKS[name]
    if is_file(name):
        return file_task(name, load_dataset(name).task)
    close = difflib.get_close_matches(name, list(TASKS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UserError(f"unknown task {name!r}{hint}; known: {', '.join(TASKS)}; or the path of a task file")


__all__ = ["FILE_TASKS", "TASKS", "NoOptions", "Task", "TaskData", "file_task", "get_task", "is_file"]
