"""SQuAD v1.1 exact match and F1 (Rajpurkar et al., EMNLP 2016), as the official ``evaluate-v1.1.py``.

Answers are compared after normalisation::

    normalize(s) = lower-case s, delete ASCII punctuation (string.punctuation), replace the words
                   "a", "an", "the" by a space, collapse whitespace runs to single spaces

    EM(pred, gold) = [normalize(pred) == normalize(gold)]
    F1(pred, gold) = 2 P R / (P + R) over the whitespace tokens of the normalised strings, with
                     common = |tokens(pred) & tokens(gold)| (multiset), P = common / |tokens(pred)|,
                     R = common / |tokens(gold)|; 0 when common = 0 (so two empty answers have F1 0)

Each question scores the maximum over its gold answers; the dataset score is the mean over *all*
questions, times 100 -- a question with no prediction scores 0.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse whitespace (the official order)."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def questions(dataset: Sequence[Mapping]) -> list[tuple[str, list[str]]]:
    """``(id, gold answer texts)`` for every question of a SQuAD-format ``data`` list."""
    return [
        (qa["id"], [answer["text"] for answer in qa["answers"]])
        for article in dataset
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]


def evaluate(dataset: Sequence[Mapping], predictions: Mapping[str, str]) -> dict[str, float]:
    """``{"exact_match", "f1"}`` (0-100) of ``predictions`` (question id -> answer) on ``dataset``."""
    qs = questions(dataset)
    if not qs:
        raise ValueError("the dataset has no questions")
    em = f = 0.0
    for qid, golds in qs:
        if qid in predictions:
            em += max(exact_match(predictions[qid], g) for g in golds)
            f += max(f1(predictions[qid], g) for g in golds)
    return {"exact_match": 100.0 * em / len(qs), "f1": 100.0 * f / len(qs)}
