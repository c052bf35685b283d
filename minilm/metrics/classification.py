"""Classification metrics: accuracy, precision / recall / F1, the confusion matrix and a report table.

The definitions are scikit-learn's (``precision_recall_fscore_support`` with ``zero_division=0``), and
the tests check every number against it.  Let ``L = sorted(set(gold) | set(pred))`` be the label set and

    C[i, j] = #{k : gold_k = L_i and pred_k = L_j}          (rows = gold, columns = predicted)

the confusion matrix.  For each label c::

    tp_c = C[c, c]       pred_c = sum_i C[i, c]       true_c = sum_j C[c, j]   (the support)

    precision_c = tp_c / pred_c     recall_c = tp_c / true_c     F1_c = 2 tp_c / (pred_c + true_c)

and a quotient whose denominator is 0 is 0 (a label never predicted has precision 0; F1 is the harmonic
mean of P and R, written without them so that it needs no special case of its own).  Averages:

- ``micro``: pool tp, pred and true over all labels first.  Every item is counted once in sum(pred)
  and once in sum(true), so micro P = micro R = micro F1 = accuracy.
- ``macro``: the unweighted mean over L -- rare classes count as much as frequent ones.
- ``weighted``: the mean over L weighted by support.
- ``binary``: the scores of one chosen positive label (scikit-learn's ``average="binary"``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

AVERAGES = ("micro", "macro", "weighted", "binary")


class PRF(NamedTuple):
    """Precision, recall and F1: floats for an average, arrays (one entry per label) per class."""

    precision: Any
    recall: Any
    f1: Any


def _as_list(labels: Sequence | np.ndarray) -> list:
    return labels.tolist() if isinstance(labels, np.ndarray) else list(labels)


def _small_int_array(labels: Sequence | np.ndarray) -> bool:
    """An integer NumPy array (these take the fast path of :func:`confusion_matrix`)."""
    return isinstance(labels, np.ndarray) and (
        labels.dtype.kind == "i" or (labels.dtype.kind == "u" and labels.dtype.itemsize < 8)
    )


def _check_pair(gold: Sequence | np.ndarray, pred: Sequence | np.ndarray) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} labels but pred has {len(pred)}")
    if len(gold) == 0:
        raise ValueError("no labels to score")


def _confusion_dense_ints(gold: np.ndarray, pred: np.ndarray) -> tuple[list, np.ndarray] | None:
    """Integer labels in a small range: count every (gold, pred) pair with one ``bincount``.

    Label v becomes index v - lo on a grid of ``span`` values; the pair (g, p) becomes the flat index
    g * span + p of a (span, span) matrix.  Rows and columns of values that never occur are dropped.
    Returns None when the grid would be much larger than the input.
    """
    g, p = gold.astype(np.int64, copy=False), pred.astype(np.int64, copy=False)
    lo = min(int(g.min()), int(p.min()))
    span = max(int(g.max()), int(p.max())) - lo + 1
    if span * span > 4 * g.size + (1 << 16):
        return None
    full = np.bincount((g - lo) * span + (p - lo), minlength=span * span).reshape(span, span)
    present = np.flatnonzero(full.sum(axis=0) + full.sum(axis=1))  # (K,) grid indices of L
    return [int(v) + lo for v in present], full[np.ix_(present, present)]


def _encode(gold: list, pred: list) -> tuple[list, np.ndarray, np.ndarray]:
    """Map labels of any hashable, sortable type to indices into ``L = sorted(set(gold) | set(pred))``."""
    index: dict = {}
    codes = np.fromiter(
        (index.setdefault(x, len(index)) for x in itertools.chain(gold, pred)),
        dtype=np.int64,
        count=len(gold) + len(pred),
    )
    seen = list(index)
    try:
        order = sorted(range(len(seen)), key=seen.__getitem__)
    except TypeError:
        raise ValueError(
            "labels mix types that cannot be sorted together (e.g. strings and numbers)"
        ) from None
    rank = np.empty(len(seen), dtype=np.int64)
    rank[order] = np.arange(len(seen))
    codes = rank[codes]
    return [seen[i] for i in order], codes[: len(gold)], codes[len(gold) :]


def confusion_matrix(gold: Sequence | np.ndarray, pred: Sequence | np.ndarray) -> tuple[list, np.ndarray]:
    """``(labels, C)``: the sorted label set and the (K, K) count matrix, rows = gold, columns = pred."""
    _check_pair(gold, pred)
    if _small_int_array(gold) and _small_int_array(pred):
        dense = _confusion_dense_ints(gold, pred)
        if dense is not None:
            return dense
    labels, g, p = _encode(_as_list(gold), _as_list(pred))
    k = len(labels)
    return labels, np.bincount(g * k + p, minlength=k * k).reshape(k, k)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, 0 where den == 0 (scikit-learn's ``zero_division=0``)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def scores_from_confusion(matrix: np.ndarray) -> tuple[PRF, np.ndarray]:
    """Per-class precision, recall, F1 (each (K,)) and support (K,) from a (K, K) confusion matrix."""
    tp = np.diag(matrix)  # (K,)
    pred_sum, true_sum = matrix.sum(axis=0), matrix.sum(axis=1)  # (K,), (K,)
    return PRF(_divide(tp, pred_sum), _divide(tp, true_sum), _divide(2 * tp, pred_sum + true_sum)), true_sum


def _average(matrix: np.ndarray, average: str) -> PRF:
    per_class, support = scores_from_confusion(matrix)
    if average == "micro":
        tp, n = np.trace(matrix), matrix.sum()
        pooled = _divide(tp, n)
        return PRF(float(pooled), float(pooled), float(_divide(2 * tp, 2 * n)))
    weights = support if average == "weighted" else None
    return PRF(*(float(np.average(s, weights=weights)) for s in per_class))


def accuracy(gold: Sequence | np.ndarray, pred: Sequence | np.ndarray) -> float:
    """Fraction of items whose prediction equals the gold label."""
    _check_pair(gold, pred)
    if isinstance(gold, np.ndarray) and isinstance(pred, np.ndarray):
        return float(np.mean(gold == pred))
    return sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)


def precision_recall_f1(
    gold: Sequence | np.ndarray,
    pred: Sequence | np.ndarray,
    average: str | None = "macro",
    positive: Any = None,
) -> PRF:
    """Precision, recall and F1, averaged as ``average`` says (see the module docstring).

    ``average=None`` gives per-class arrays in the order of ``confusion_matrix(gold, pred)[0]``;
    ``average="binary"`` needs ``positive``, the label whose scores are returned.
    """
    if average is not None and average not in AVERAGES:
        raise ValueError(f"average={average!r}; allowed: None, {', '.join(AVERAGES)}")
    labels, matrix = confusion_matrix(gold, pred)
    if average is None:
        return scores_from_confusion(matrix)[0]
    if average != "binary":
        return _average(matrix, average)
    if positive not in labels:
        raise ValueError(f"positive label {positive!r} occurs in neither gold nor pred; labels: {labels}")
    i = labels.index(positive)
    return PRF(*(float(s[i]) for s in scores_from_confusion(matrix)[0]))


def classification_report(
    gold: Sequence | np.ndarray, pred: Sequence | np.ndarray, positive: Any = None
) -> dict:
    """Every number of ``evaluate.py classification --json`` in one dict.

    Keys: ``accuracy``; ``micro``, ``macro``, ``weighted`` (each ``{precision, recall, f1}``);
    ``per_class`` (``{str(label): {precision, recall, f1, support}}``); ``confusion_matrix``
    (``{labels, matrix}``, rows = gold); and ``binary`` (``{label, precision, recall, f1}``) when
    ``positive`` is given.
    """
    labels, matrix = confusion_matrix(gold, pred)
    per_class, support = scores_from_confusion(matrix)
    report: dict = {"accuracy": float(np.trace(matrix) / matrix.sum())}
    for average in ("micro", "macro", "weighted"):
        report[average] = _average(matrix, average)._asdict()
    report["per_class"] = {
        str(label): {
            "precision": float(per_class.precision[i]),
            "recall": float(per_class.recall[i]),
            "f1": float(per_class.f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }
    report["confusion_matrix"] = {"labels": labels, "matrix": matrix.tolist()}
    if positive is not None:
        if positive not in labels:
            raise ValueError(f"positive label {positive!r} occurs in neither gold nor pred; labels: {labels}")
        report["binary"] = {"label": positive, **report["per_class"][str(positive)]}
        del report["binary"]["support"]
    return report


def format_report(report: dict, digits: int = 4) -> str:
    """A readable table of a :func:`classification_report` (scikit-learn's layout, plus the matrix)."""
    binary = [f"binary ({report['binary']['label']})"] if "binary" in report else []
    names = [*report["per_class"], "accuracy", "micro avg", "macro avg", "weighted avg", *binary]
    width = max(12, *(len(n) for n in names))
    head = f"{'':>{width}} {'precision':>10} {'recall':>10} {'f1':>10} {'support':>10}"
    n = sum(row["support"] for row in report["per_class"].values())

    def row(name: str, s: dict, support: int) -> str:
        return (
            f"{name:>{width}} {s['precision']:>10.{digits}f} {s['recall']:>10.{digits}f}"
            f" {s['f1']:>10.{digits}f} {support:>10d}"
        )

    lines = [head, ""]
    lines += [row(label, s, s["support"]) for label, s in report["per_class"].items()]
    lines += ["", f"{'accuracy':>{width}} {'':>10} {'':>10} {report['accuracy']:>10.{digits}f} {n:>10d}"]
    lines += [row(f"{avg} avg", report[avg], n) for avg in ("micro", "macro", "weighted")]
    if binary:
        b = report["binary"]
        lines.append(row(binary[0], b, report["per_class"][str(b["label"])]["support"]))
    labels = [str(label) for label in report["confusion_matrix"]["labels"]]
    cell = max(6, *(len(label) for label in labels), len(str(n)))
    lines += ["", "confusion matrix (rows = gold, columns = predicted)"]
    lines.append(f"{'':>{width}} " + " ".join(f"{label:>{cell}}" for label in labels))
    for label, counts in zip(labels, report["confusion_matrix"]["matrix"], strict=True):
        lines.append(f"{label:>{width}} " + " ".join(f"{c:>{cell}d}" for c in counts))
    return "\n".join(lines)


def out_of_scope_scores(gold: Sequence, pred: Sequence, oos_label: Any) -> dict[str, float | None]:
    """Intent classification with an out-of-scope class, scored as Larson et al. (2019, §4) do:

        in-scope accuracy   = #{k : gold_k != oos, pred_k = gold_k} / #{k : gold_k != oos}
        out-of-scope recall = #{k : gold_k = oos, pred_k = oos} / #{k : gold_k = oos}

    (an in-scope query predicted out-of-scope counts as wrong).  A part with no gold examples
    scores None."""
    _check_pair(gold, pred)
    in_scope = [(g, p) for g, p in zip(gold, pred, strict=True) if g != oos_label]
    oos_pred = [p for g, p in zip(gold, pred, strict=True) if g == oos_label]
    return {
        "in_scope_accuracy": sum(g == p for g, p in in_scope) / len(in_scope) if in_scope else None,
        "oos_recall": sum(p == oos_label for p in oos_pred) / len(oos_pred) if oos_pred else None,
    }
