"""ROUGE-N, ROUGE-L and ROUGE-Lsum (Lin, "ROUGE: A Package for Automatic Evaluation of Summaries", 2004),
equal to Google's ``rouge_score.rouge_scorer.RougeScorer`` (the ROUGE-1.5.5 re-implementation).

Tokens: lower-case, every run of characters other than ``a-z0-9`` becomes a space, split; with
stemming, tokens longer than 3 characters are replaced by their Porter stem (:mod:`.porter`).

For a target (reference) T and a prediction P, every variant is a (precision, recall, F1) triple
with F1 = 2PR / (P + R) (0 when P + R = 0):

- ROUGE-N (Sec. 2):  overlap = sum_g min(count_T(g), count_P(g)) over n-grams g;
  precision = overlap / #n-grams(P), recall = overlap / #n-grams(T) (denominators at least 1).
- ROUGE-L (Sec. 3.1): precision = LCS(T, P) / |P|, recall = LCS(T, P) / |T|, with LCS the length of
  the longest common subsequence of the token lists (0 if either is empty).
- ROUGE-Lsum (Sec. 3.2, summary level): T and P are split into sentences at newlines; for each
  target sentence r_i take the union of the token positions of r_i in one LCS with each prediction
  sentence, and count those tokens as hits -- each token type at most as often as it occurs in both
  summaries overall (ROUGE-1.5.5's guard against double counting).  precision = hits / |P|,
  recall = hits / |T|.  Which LCS is taken matters for the union; ties are broken as rouge-score does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from minilm.metrics.porter import stem as porter_stem

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


class Score(NamedTuple):
    precision: float
    recall: float
    f1: float


def _score(precision: float, recall: float) -> Score:
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return Score(precision, recall, f1)


def tokenize(text: str, stem: bool = False) -> list[str]:
    """rouge-score's default tokeniser: lower-case alphanumeric runs, optionally Porter-stemmed."""
    tokens = _NON_ALNUM.sub(" ", text.lower()).split()
    return [porter_stem(t) if len(t) > 3 else t for t in tokens] if stem else tokens


def rouge_n(target: Sequence[str], prediction: Sequence[str], n: int) -> Score:
    """ROUGE-N of two token lists: clipped n-gram overlap over the prediction's / target's n-grams."""
    t = Counter(tuple(target[i : i + n]) for i in range(len(target) - n + 1))
    p = Counter(tuple(prediction[i : i + n]) for i in range(len(prediction) - n + 1))
    overlap = sum((t & p).values())
    return _score(overlap / max(p.total(), 1), overlap / max(t.total(), 1))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison & Dix 1986; Hyyro 2004).

    Bit i of ``v`` is 1 while a[i] is not yet "used" by the LCS of a and the prefix of b read so far.
    For each token x of b, with ``u = v & match[x]`` (unused positions of a holding x)::

        v <- (v + u) | (v - u)

    turns the lowest such 1 of each run of 1s into a 0 -- one LCS DP row per step, |a| bits at a time.
    The LCS length is the number of 0 bits among the low |a| bits.
    """
    match: dict[str, int] = {}
    for i, token in enumerate(a):
        match[token] = match.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        u = v & match.get(token, 0)
        v = (v + u) | (v - u)
    return len(a) - (v & full).bit_count()


def rouge_l(target: Sequence[str], prediction: Sequence[str]) -> Score:
    """ROUGE-L of two token lists: LCS / |prediction| and LCS / |target|."""
    if not target or not prediction:
        return Score(0.0, 0.0, 0.0)
    lcs = lcs_length(target, prediction)
    return _score(lcs / len(prediction), lcs / len(target))


def _lcs_table(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """The (|a|+1, |b|+1) LCS table L[i, j] = LCS(a[:i], b[:j]), one row at a time.

    L[i, j] = max(L[i-1, j], L[i-1, j-1] + [a_i = b_j], L[i, j-1]); the last term is a running
    maximum along the row, so a row is ``maximum.accumulate(max(previous row, shifted row + match))``.
    """
    table = np.zeros((len(a) + 1, len(b) + 1), dtype=np.int64)
    if not a or not b:
        return table
    matches = np.asarray(a, dtype=object)[:, None] == np.asarray(b, dtype=object)[None, :]  # (|a|, |b|)
    for i in range(1, len(a) + 1):
        table[i, 1:] = np.maximum.accumulate(np.maximum(table[i - 1, 1:], table[i - 1, :-1] + matches[i - 1]))
    return table


def lcs_positions(a: Sequence[str], b: Sequence[str]) -> list[int]:
    """Positions in ``a`` of one LCS of a and b -- the one rouge-score's backtracking finds."""
    table = _lcs_table(a, b)
    i, j, positions = len(a), len(b), []
    while i > 0 and j > 0:
        if a[i - 1] == b[j - 1]:
            positions.append(i - 1)
            i, j = i - 1, j - 1
        elif table[i, j - 1] > table[i - 1, j]:
            j -= 1
        else:
            i -= 1
    return positions[::-1]


def rouge_lsum(target_sents: Sequence[Sequence[str]], prediction_sents: Sequence[Sequence[str]]) -> Score:
    """Summary-level ROUGE-L of two lists of tokenised sentences (the module docstring)."""
    m, n = sum(map(len, target_sents)), sum(map(len, prediction_sents))
    if not m or not n:
        return Score(0.0, 0.0, 0.0)
    budget_t = Counter(t for s in target_sents for t in s)
    budget_p = Counter(t for s in prediction_sents for t in s)
    hits = 0
    for r in target_sents:
        union = sorted(set().union(*(lcs_positions(r, c) for c in prediction_sents)))
        for token in (r[i] for i in union):
            if budget_t[token] > 0 and budget_p[token] > 0:
                hits += 1
                budget_t[token] -= 1
                budget_p[token] -= 1
    return _score(hits / n, hits / m)


def rouge(target: str, prediction: str, stem: bool = False, types: Sequence[str] = ROUGE_TYPES) -> dict:
    """``{type: Score}`` for one pair of texts, as ``RougeScorer(types, stem).score(target, prediction)``.

    For ``rougeLsum``, newlines in the texts separate sentences (empty pieces are dropped).
    """
    scores = {}
    t, p = tokenize(target, stem), tokenize(prediction, stem)
    for kind in types:
        if kind == "rougeL":
            scores[kind] = rouge_l(t, p)
        elif kind == "rougeLsum":
            split = [[tokenize(s, stem) for s in text.split("\n") if s] for text in (target, prediction)]
            scores[kind] = rouge_lsum(*split)
        elif re.fullmatch(r"rouge[1-9]", kind):
            scores[kind] = rouge_n(t, p, int(kind[5:]))
        else:
            raise ValueError(f"unknown ROUGE type {kind!r}; allowed: rouge1 .. rouge9, rougeL, rougeLsum")
    return scores


def rouge_mean(
    targets: Sequence[str], predictions: Sequence[str], stem: bool = False, types: Sequence[str] = ROUGE_TYPES
) -> dict[str, dict[str, float]]:
    """Each type's precision, recall and F1 averaged (mean) over the (target, prediction) pairs."""
    if len(targets) != len(predictions) or not targets:
        raise ValueError(
            f"need equally many targets and predictions, got {len(targets)} and {len(predictions)}"
        )
    per_pair = [rouge(t, p, stem, types) for t, p in zip(targets, predictions, strict=True)]
    return {
        kind: {field: float(np.mean([s[kind][i] for s in per_pair])) for i, field in enumerate(Score._fields)}
        for kind in types
    }
