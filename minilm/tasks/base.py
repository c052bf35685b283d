"""What a task is (issue #12): data + input format + head or decoder + metric, in one definition.

A :class:`Task` knows which dataset it reads (and its generated ``world_*`` twin, which runs offline
and in CI), how records become model inputs, which head or decoding it trains, the loss, and which
metric scores it.  Commands and experiments drive every task the same way (:mod:`minilm.tasks.run`)::

    task = get_task("sick")                                     # minilm.tasks
    data = task.load(data_dir, seed)                            # TaskData: train / dev / test + labels
    tuned = task.build(init, method, method_cfg, seed, options, data.labels)   # Finetuned
    arrays = task.arrays(tuned, {"train": data.train, "dev": data.dev}, max_len)
    fit(tuned.model, task.loss, ExampleBatches(arrays["train"], ...), ...,
        eval_fn=task.validator(tuned, arrays["dev"]), trainable=tuned.trainable)
    metrics = task.evaluate(tuned, data.test, test_arrays, options)      # every number, headline first
    markdown = task.report(metrics, out_dir)                    # a report.md section; writes its PNGs

``options`` is the task's own settings dataclass (``Task.Options``: pooling and an out-of-scope
threshold for classification, a stride for QA, beam settings for generation); ``train.py finetune``
nests one section of them per ``Task.section``.  ``build`` records in ``tuned.meta`` (saved as
``method.json``) everything needed to rebuild the model: ``task``, ``kind``, ``options``, ``labels``,
so :func:`minilm.tasks.run.load_run` can restore any task's run from its folder.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import jax
import numpy as np
from flax import nnx

from minilm.data.dataset import Record
from minilm.data.registry import load_dataset
from minilm.data.splits import task_splits
from minilm.finetune.saved import Finetuned

Arrays = dict[str, np.ndarray]  # one split's model inputs and targets, each (N, ...)


class TaskData(NamedTuple):
    """A task's examples as training needs them.  ``labels``: the class names in class-id order (None
    for a task without classes); ``source``: the dataset actually read (the task's, its twin or a
    file); ``raw``: split -> the original SQuAD JSON (qa), else None."""

    train: list[Record]
    dev: list[Record]
    test: list[Record]
    labels: tuple[str, ...] | None
    source: str
    raw: dict[str, Any] | None = None


@dataclass(frozen=True)
class NoOptions:
    """A task without settings of its own."""


@dataclass(frozen=True)
class Task(abc.ABC):
    """One task: its dataset, input format, head, loss and metric.

    name:     what ``--task`` calls it ("sst2"; a user's file: its path)
    dataset:  the :func:`~minilm.data.registry.load_dataset` name of its real data
    twin:     the generated ``world_*`` dataset of the same shape (offline runs and CI)
    kind:     the record shape it reads, a key of :data:`~minilm.data.dataset.TASK_FIELDS`
              (classification, pair_classification, qa, translation, summarization)
    metric:   the key of the headline number in :meth:`evaluate`'s result
    """

    name: str
    dataset: str
    twin: str
    kind: str
    metric: str
    description: str = ""

    Options: ClassVar[type] = NoOptions  # the task's settings (a config dataclass)
    section: ClassVar[str] = ""  # the field of ``train.py finetune``'s Config that holds them

    # --- data ------------------------------------------------------------------------------------

    def load(self, data_dir: str | Path | None = None, seed: int = 0, *, twin: bool = False) -> TaskData:
        """The task's train / dev / test examples (``twin``: its generated twin's).  A dataset
        without a test split is tested on its dev split; one with a single split (a user's file,
        AG News' test file) is split 80/10/10 by a permutation drawn from ``seed``."""
        dataset = load_dataset(self.twin if twin else self.dataset, data_dir)
        train, dev, test, labels = task_splits(dataset, seed, kinds=(self.kind,))
        return TaskData(train, dev, test, labels, dataset.name, dataset.raw)

    # --- model -----------------------------------------------------------------------------------

    @abc.abstractmethod
    def build(
        self,
        init: str,
        method: str,
        method_cfg: Any,
        seed: int,
        options: Any,
        labels: Sequence[str] | None,
    ) -> Finetuned:
        """The backbone at ``init`` with the task's head, ``method`` applied (its trainable filter),
        the tokenizer, and ``meta`` (:meth:`describe`) to rebuild it."""

    def describe(self, options: Any) -> dict[str, Any]:
        """What ``build`` adds to ``method.json``: the task, its record kind and its options."""
        return {"task": self.name, "kind": self.kind, "options": dataclasses.asdict(options)}

    @abc.abstractmethod
    def arrays(self, tuned: Finetuned, splits: Mapping[str, list[Record]], max_len: int) -> dict[str, Arrays]:
        """Model inputs and targets of each split (split -> name -> (N, ...)); at most ``max_len``
        tokens per row.  Bad records (an unknown label, a pair task given single sentences) are a
        UserError naming the split."""

    @abc.abstractmethod
    def loss(self, model: nnx.Module, batch: dict[str, jax.Array], rngs: nnx.Rngs | None) -> tuple:
        """``(loss, aux)`` for :func:`minilm.train.loop.fit`: a scalar and a dict of scalars."""

    # --- scores ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def validator(self, tuned: Finetuned, arrays: Arrays) -> Callable[[nnx.Module], dict[str, float]]:
        """The quick dev score ``fit`` logs every ``eval_every`` steps: model -> {"eval_...": float}
        (compiled once)."""

    @abc.abstractmethod
    def evaluate(
        self, tuned: Finetuned, records: list[Record], arrays: Arrays, options: Any
    ) -> dict[str, Any]:
        """Every number of the task's metric on ``records`` (encoded as ``arrays``), the headline
        ``metric`` among them, computed by the :mod:`minilm.metrics` functions."""

    @abc.abstractmethod
    def headline(self, metrics: dict[str, Any]) -> dict[str, float]:
        """The few numbers of :meth:`evaluate`'s result that go in a run's summary table."""

    def baseline(self, train: list[Record], test: list[Record]) -> dict[str, float]:
        """A trivial predictor's numbers to stand beside the model's (classification: the majority
        training label's accuracy); none by default."""
        return {}

    @abc.abstractmethod
    def report(self, metrics: dict[str, Any], out_dir: Path) -> str:
        """A Markdown section for ``report.md``; writes its plots (PNG) into ``out_dir``."""
