"""Calibration and out-of-distribution detection: expected calibration error, reliability bins, AUROC.

**Calibration.**  A classifier is calibrated when, among the examples it gives confidence ``p`` (its
largest softmax probability), a share ``p`` is right.  Equal-width bins ``B_m = ((m-1)/M, m/M]``
of the confidence (Naeini et al. 2015, "Obtaining well calibrated probabilities using Bayesian
binning"; Guo et al. 2017, "On calibration of modern neural networks", §2, eq. 3)::

    acc(B_m)  = 1/|B_m| sum_{i in B_m} 1[y_hat_i = y_i]
    conf(B_m) = 1/|B_m| sum_{i in B_m} p_hat_i
    ECE       = sum_m |B_m| / n * |acc(B_m) - conf(B_m)|

The reliability diagram plots ``acc(B_m)`` against ``conf(B_m)``; a calibrated model lies on the
diagonal.  (Confidence 0 goes to the first bin; a softmax's largest probability is at least 1/C.)

**Out-of-distribution detection by maximum softmax probability** (Hendrycks & Gimpel 2017, "A
baseline for detecting misclassified and out-of-distribution examples"): score each example by its
largest softmax probability; in-distribution examples should score higher.  The area under the ROC
curve is the probability that a random positive outscores a random negative, ties counting one half
-- the Mann-Whitney U statistic over ``n_+ n_-`` (Hanley & McNeil 1982)::

    AUROC = (sum_{i positive} rank_i - n_+ (n_+ + 1) / 2) / (n_+ n_-)

with ``rank`` the 1-based rank of the score among all, tied scores sharing their mean rank.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """(N, C) logits -> (N, C) probabilities (max subtracted first: no overflow)."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Reliability(NamedTuple):
    """Per equal-width confidence bin (M,): examples, mean confidence and accuracy (NaN when empty)."""

    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray


def reliability(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> Reliability:
    """Bin ``confidence`` (N,) in [0, 1] into ``n_bins`` equal-width bins ``((m-1)/M, m/M]``; ``correct``
    (N,) says whether each prediction was right."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if confidence.shape != correct.shape or confidence.ndim != 1:
        raise ValueError(f"confidence {confidence.shape} and correct {correct.shape}: expected two (N,)")
    if len(confidence) and (confidence.min() < 0 or confidence.max() > 1):
        raise ValueError("confidences must lie in [0, 1]")
    # bin m (0-based) holds (m/M, (m+1)/M]: ceil(p * M) - 1, with p = 0 in bin 0
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, confidence, minlength=n_bins) / count
        accuracy = np.bincount(bins, correct, minlength=n_bins) / count
    return Reliability(count.astype(np.int64), mean_conf, accuracy)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> float:
    """ECE (Guo et al. 2017, eq. 3) with ``n_bins`` equal-width bins (Guo et al. use 15)."""
    r = reliability(confidence, correct, n_bins)
    filled = r.count > 0
    if not filled.any():
        raise ValueError("ECE of no examples")
    gaps = np.abs(r.accuracy[filled] - r.confidence[filled])
    return float(np.sum(r.count[filled] * gaps) / r.count.sum())


def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` (N,), tied values sharing the mean of their ranks (``scipy.stats.rankdata``)."""
    x = np.asarray(x)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # 0-based rank of each distinct value's first occurrence
    return (first + (counts + 1) / 2)[inverse.reshape(-1)]


def roc_auc(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (N,) separating ``is_positive`` (N,) from the rest,
    ties counted one half (``sklearn.metrics.roc_auc_score``)."""
    positive = np.asarray(is_positive).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    if positive.shape != scores.shape or scores.ndim != 1:
        raise ValueError(f"labels {positive.shape} and scores {scores.shape}: expected two (N,)")
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs both positive and negative examples")
    rank_sum = midranks(scores)[positive].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def msp_ood_auroc(in_logits: np.ndarray, out_logits: np.ndarray) -> float:
    """Out-of-distribution detection by maximum softmax probability (Hendrycks & Gimpel 2017): the
    AUROC of MSP separating in-distribution (N_in, C) from out-of-distribution (N_out, C) logits,
    in-distribution as the positive class."""
    msp = np.concatenate([softmax(in_logits).max(-1), softmax(out_logits).max(-1)])
    is_in = np.concatenate([np.ones(len(in_logits), bool), np.zeros(len(out_logits), bool)])
    return roc_auc(is_in, msp)
