"""Classification tasks: one sentence or a sentence pair -> one of a fixed set of labels.

========== ================== ================================= ============================== ==========
task       dataset            labels                            input                          headline
========== ================== ================================= ============================== ==========
sst2       SST-2              negative, positive                a sentence                     accuracy
sick       SICK               entailment, neutral, contradict.  premise | hypothesis           accuracy
glue_rte   GLUE RTE           entailment, not_entailment        premise | hypothesis           accuracy
clinc150   CLINC150 (full)    150 intents + oos                 a query                        in-scope acc.
snips      Snips 2017-06      7 intents                         a query                        accuracy
trec       TREC               6 coarse question classes         a question                     accuracy
trec_fine  TREC               50 fine classes                   a question                     accuracy
ag_news    AG News            World, Sports, Business, Sci/Tech title + description            accuracy
world_*    minilm.data.world  the twins of the above            as their real task             accuracy
========== ================== ================================= ============================== ==========

The model (GPT §3.3, BERT §4.1): the backbone, the hidden states pooled (``--pooling``: ``cls`` =
[CLS], position 0, a BERT's default; ``last`` = the last real token, a GPT's default; ``mean`` over
real tokens), dropout, a linear layer, trained with the cross-entropy of the gold label
(:mod:`minilm.objectives.classification`).  A sentence pair is one sequence with the backbone's
separator (:func:`minilm.data.tokenizer.encode_segments`): ``[CLS] a [SEP] b [SEP]`` with token types
0 / 1 for a BERT, ``a <delim> b <extract>`` for a GPT (Radford et al. 2018, fig. 1).

Scores (:mod:`minilm.metrics.classification`, equal to scikit-learn's): accuracy, per-class and macro
precision / recall / F1, the confusion matrix (a table and ``confusion.png``, a heat map).  CLINC150 is
reported as Larson et al. (2019) do: in-scope accuracy and out-of-scope recall
(:func:`~minilm.metrics.classification.out_of_scope_scores`); ``--oos_threshold=p`` predicts ``oos``
whenever the largest softmax probability is below ``p`` (their threshold baseline, here on top of the
trained ``oos`` class).  A user's file of ``text,label`` or ``premise,hypothesis,label`` columns is a
task too (``--task reviews.csv``), its labels those the file holds.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from minilm.config import in_range, opt
from minilm.data.batches import trim_padding
from minilm.data.dataset import TASK_FIELDS, Record
from minilm.data.tokenizer import encode_segments
from minilm.errors import UserError
from minilm.finetune.saved import Finetuned, build
from minilm.metrics.classification import classification_report, format_report, out_of_scope_scores
from minilm.models.transformer import backbone_of
from minilm.objectives.classification import classification_loss, classification_scores, classifier_predictor
from minilm.tasks.base import Arrays, Task
from minilm.train.runlog import pyplot, save_figure, summary_table

POOLINGS = ("auto", "cls", "last", "mean")
PAIR = "pair_classification"


@dataclass
class ClassifyOptions:
    """What a classification task's head reads, and how CLINC150's out-of-scope class is predicted."""

    pooling: str = opt("auto", "what the head reads: auto = cls for a BERT, last for a GPT", choices=POOLINGS)
    oos_threshold: float = opt(
        0.0,
        "tasks with an out-of-scope class (clinc150): predict it when the largest softmax probability is "
        "below this (Larson et al. 2019); 0 = off",
        check=in_range(0, 1),
    )


@dataclass(frozen=True)
class ClassificationTask(Task):
    """A sentence or sentence-pair classification task (see the module docstring).  ``oos_label``:
    the out-of-scope class of an intent task (CLINC150's ``oos``), scored as Larson et al. (2019)."""

    oos_label: str | None = None

    Options = ClassifyOptions
    section = "classify"

    # --- model -----------------------------------------------------------------------------------

    def build(self, init, method, method_cfg, seed, options, labels) -> Finetuned:
        if not labels:
            raise UserError(f"--task={self.name}: no labels to classify into")
        tuned = build(init, method, method_cfg, list(labels), options.pooling, seed)
        return tuned._replace(meta={**tuned.meta, **self.describe(options)})

    def arrays(self, tuned: Finetuned, splits: Mapping[str, list[Record]], max_len: int) -> dict[str, Arrays]:
        """tokens, attention_mask (N, T), labels (N,) class ids, and token_types (N, T) on a backbone
        with segment embeddings (BERT); one width T <= ``max_len`` for every split (the padding no
        split uses cut off)."""
        backbone = backbone_of(tuned.model).cfg
        width = min(max_len, backbone.max_len)
        pair = tuned.meta.get("kind", self.kind) == PAIR
        label_ids = {label: i for i, label in enumerate(tuned.meta["labels"])}
        encoded = []
        for split, records in splits.items():
            where = f"--task={self.name} {split}"
            _check_fields(records, pair, where)
            arrays = encode_segments(
                tuned.tokenizer,
                [r["premise" if pair else "text"] for r in records],
                width,
                causal=backbone.causal,
                seconds=[r["hypothesis"] for r in records] if pair else None,
            )
            if not backbone.type_vocab_size:
                del arrays["token_types"]
            arrays["labels"] = np.array(
                [_label_id(r, i, label_ids, where) for i, r in enumerate(records)], np.int32
            )
            encoded.append(arrays)
        return dict(zip(splits, trim_padding(*encoded), strict=True))

    def loss(self, model, batch, rngs):
        return classification_loss(model, batch, rngs)

    # --- scores ----------------------------------------------------------------------------------

    def validator(self, tuned: Finetuned, arrays: Arrays) -> Callable[[nnx.Module], dict[str, float]]:
        predict = classifier_predictor(tuned.model)
        return lambda model: classification_scores(predict(model, arrays), arrays["labels"])

    def evaluate(
        self, tuned: Finetuned, records: list[Record], arrays: Arrays, options: Any
    ) -> dict[str, Any]:
        """The classification report of the predictions (labels as names), headline keys on top:
        ``accuracy``, ``macro_f1``, and for an out-of-scope task ``in_scope_accuracy`` and
        ``oos_recall`` (``options.oos_threshold`` applied)."""
        labels = tuned.meta["labels"]
        logits = classifier_predictor(tuned.model)(tuned.model, arrays)  # (N, C)
        pred = [labels[i] for i in logits.argmax(-1)]
        gold = [labels[i] for i in arrays["labels"]]
        metrics: dict[str, Any] = {}
        if self.oos_label is not None:
            if options.oos_threshold > 0:
                confident = np.asarray(jax.nn.softmax(logits, axis=-1)).max(-1) >= options.oos_threshold
                pred = [p if ok else self.oos_label for p, ok in zip(pred, confident, strict=True)]
            metrics |= out_of_scope_scores(gold, pred, self.oos_label)
            metrics["oos_threshold"] = options.oos_threshold
        report = classification_report(gold, pred)
        return {"accuracy": report["accuracy"], "macro_f1": report["macro"]["f1"], **metrics, **report}

    def headline(self, metrics: dict[str, Any]) -> dict[str, float]:
        keys = ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall")
        return {k: metrics[k] for k in keys if k in metrics}

    def baseline(self, train: list[Record], test: list[Record]) -> dict[str, float]:
        """Accuracy of always predicting the most frequent training label."""
        majority = collections.Counter(r["label"] for r in train).most_common(1)[0][0]
        return {"majority_accuracy": sum(r["label"] == majority for r in test) / len(test)}

    def report(self, metrics: dict[str, Any], out_dir: Path) -> str:
        """The headline table, the per-class table with the confusion matrix, and ``confusion.png``."""
        plot_confusion(metrics["confusion_matrix"]["labels"], metrics["confusion_matrix"]["matrix"], out_dir)
        return (
            f"{summary_table(self.headline(metrics), ('metric', 'value'))}\n\n"
            f"Per class (rows of the matrix = gold, columns = predicted):\n\n"
            f"```\n{format_report(metrics)}\n```\n\n![confusion matrix]({CONFUSION_PNG})\n"
        )


CONFUSION_PNG = "confusion.png"


def plot_confusion(labels: Sequence[str], matrix: Sequence[Sequence[int]], out_dir: Path) -> None:
    """The confusion matrix as a heat map, each row normalised by its gold count (so the diagonal is
    each class's recall), counts written in the cells when there are few classes."""
    plt = pyplot()

    counts = np.asarray(matrix, dtype=np.float64)  # (K, K), rows = gold
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    k = len(labels)
    size = min(4 + 0.45 * k, 30)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, label="fraction of the gold class")
    if k <= 60:
        ax.set_xticks(range(k), labels, rotation=90, fontsize=8 if k > 12 else 10)
        ax.set_yticks(range(k), labels, fontsize=8 if k > 12 else 10)
    if k <= 12:
        for (i, j), c in np.ndenumerate(counts):
            ax.text(j, i, int(c), ha="center", va="center", color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    save_figure(fig, out_dir / CONFUSION_PNG)


def _check_fields(records: list[Record], pair: bool, where: str) -> None:
    """Records of the model's input kind: a pair model needs premise and hypothesis, a sentence
    model a text."""
    need = TASK_FIELDS[PAIR if pair else "classification"]
    if records and not set(need) <= set(records[0]):
        what = "sentence pairs (premise, hypothesis, label)" if pair else "single sentences (text, label)"
        raise UserError(f"{where}: the model reads {what}; the records have {', '.join(records[0])}")


def _label_id(record: Record, index: int, label_ids: dict[str, int], where: str) -> int:
    if record["label"] not in label_ids:
        raise UserError(
            f"{where}, example {index + 1}: label {record['label']!r} is not one of the task's labels "
            f"({', '.join(list(label_ids)[:12])}{', ...' if len(label_ids) > 12 else ''})"
        )
    return label_ids[record["label"]]


def file_task(path: str, kind: str = "classification") -> ClassificationTask:
    """The task of a user's file of ``kind`` records (its own labels; world_sentiment / world_nli as
    the offline twin)."""
    twin = "world_nli" if kind == PAIR else "world_sentiment"
    return ClassificationTask(path, path, twin, kind, "accuracy", f"the classification file {path}")


def _task(name: str, twin: str, kind: str, description: str, **more: Any) -> ClassificationTask:
    metric = "in_scope_accuracy" if more.get("oos_label") else "accuracy"
    return ClassificationTask(name, name, twin, kind, metric, description, **more)


SENTENCE = "classification"
_REAL = (
    _task("sst2", "world_sentiment", SENTENCE, "SST-2 sentiment (binary)"),
    _task("sick", "world_nli", PAIR, "SICK 3-way NLI"),
    _task("glue_rte", "world_nli", PAIR, "RTE 2-way entailment (tested on dev: test labels hidden)"),
    _task("clinc150", "world_intent", SENTENCE, "CLINC150 intents with out-of-scope", oos_label="oos"),
    _task("snips", "world_intent", SENTENCE, "Snips 7 intents (tested on dev)"),
    _task("trec", "world_topic", SENTENCE, "TREC question classes, 6 coarse"),
    _task("trec_fine", "world_topic", SENTENCE, "TREC question classes, 50 fine"),
    _task("ag_news", "world_topic", SENTENCE, "AG News topics (its test file split 80/10/10)"),
)
_TWINS = tuple(
    _task(name, name, kind, f"generated {what} (minilm.data.world)")
    for name, kind, what in (
        ("world_sentiment", SENTENCE, "sentiment"),
        ("world_nli", PAIR, "3-way NLI"),
        ("world_intent", SENTENCE, "intents"),
        ("world_topic", SENTENCE, "topics"),
    )
)
CLASSIFICATION_TASKS: tuple[ClassificationTask, ...] = _REAL + _TWINS
FILE_KINDS = {SENTENCE: file_task, PAIR: lambda path: file_task(path, PAIR)}

__all__ = ["CLASSIFICATION_TASKS", "FILE_KINDS", "ClassificationTask", "ClassifyOptions", "plot_confusion"]
