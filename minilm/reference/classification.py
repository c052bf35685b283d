"""Precision, recall and F1 per class and their macro average, counted item by item.

For each class c of the labels seen (in gold or pred), with tp_c = #{gold = c and pred = c}:
  precision_c = tp_c / #{pred = c},   recall_c = tp_c / #{gold = c},   F1_c = 2 P R / (P + R)
and 0 for a quotient with nothing to divide by (scikit-learn's ``zero_division=0``).
Macro average: the unweighted mean over the classes (Sokolova & Lapalme 2009, "A systematic analysis of
performance measures for classification tasks").
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def _divide(num: float, den: float) -> float:
    return num / den if den else 0.0


def per_class_scores(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> dict:
    """``{label: (precision, recall, F1)}`` for every label in gold or pred, in sorted order."""
    scores = {}
    for c in sorted(set(gold) | set(pred)):
        tp = sum(g == c and p == c for g, p in zip(gold, pred, strict=True))
        precision = _divide(tp, sum(p == c for p in pred))
        recall = _divide(tp, sum(g == c for g in gold))
        scores[c] = (precision, recall, _divide(2 * precision * recall, precision + recall))
    return scores


def macro_scores(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> tuple[float, float, float]:
    """(macro precision, macro recall, macro F1): each the mean of the per-class values."""
    per_class = list(per_class_scores(gold, pred).values())
    return tuple(sum(s[i] for s in per_class) / len(per_class) for i in range(3))
