"""Semantic-similarity metrics: cosine similarity, and Pearson / Spearman correlation.

STS-style evaluation (e.g. STS Benchmark) scores each sentence pair by the cosine of its two
embeddings and reports the correlation of those scores with human judgements, usually Spearman's.

    cosine(a, b) = a . b / (|a| |b|)                        (0 when a or b is the zero vector)
    pearson(x, y) = sum (x - mean x)(y - mean y) / (|x - mean x| |y - mean y|)
    spearman(x, y) = pearson(rank(x), rank(y))              (tied values share their average rank)

Pearson follows SciPy's ``pearsonr`` (centre, scale each vector to unit length, dot, clip to [-1, 1]).
The edge cases are SciPy's too: a constant input has no correlation and gives ``nan``; a ``nan``
anywhere gives ``nan``; an infinite value gives Pearson ``nan`` and is the largest rank for Spearman.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def cosine(a: np.ndarray | Sequence, b: np.ndarray | Sequence) -> np.ndarray | float:
    """Cosine similarity along the last axis: (..., D), (..., D) -> (...); a float for 1-D inputs."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)  # (...)
    dots = np.einsum("...d,...d->...", a, b)  # (...)
    out = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return float(out) if out.ndim == 0 else out


def _paired(x: np.ndarray | Sequence, y: np.ndarray | Sequence) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"need two 1-D sequences of equal length, got shapes {x.shape} and {y.shape}")
    if x.size < 2:
        raise ValueError("need at least 2 pairs for a correlation")
    return x, y


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    with np.errstate(invalid="ignore"):  # inf - inf: a nan, which makes the result nan
        xm, ym = x - x.mean(), y - y.mean()  # (N,), (N,)
        nx, ny = np.linalg.norm(xm), np.linalg.norm(ym)
        if nx == 0 or ny == 0:
            return float("nan")
        return float(np.clip(np.dot(xm / nx, ym / ny), -1.0, 1.0))


def pearson(x: np.ndarray | Sequence, y: np.ndarray | Sequence) -> float:
    """Pearson's r of two equally long 1-D sequences (``nan`` when either is constant)."""
    return _pearson(*_paired(x, y))


def rank_average(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` (N,), where each group of tied values gets the mean of its ranks.

    Sort once; a tie group occupies sorted positions start .. end-1, i.e. ranks start+1 .. end,
    whose mean is (start + 1 + end) / 2.
    """
    order = np.argsort(x, kind="stable")  # (N,)
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])  # (G,) first position of each group
    ends = np.r_[starts[1:], x.size]  # (G,) one past its last position
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    return ranks


def spearman(x: np.ndarray | Sequence, y: np.ndarray | Sequence) -> float:
    """Spearman's rho: Pearson's r of the average ranks (``nan`` when either input is constant or
    holds a ``nan``)."""
    x, y = _paired(x, y)
    if np.isnan(x).any() or np.isnan(y).any():
        return float("nan")
    return _pearson(rank_average(x), rank_average(y))
