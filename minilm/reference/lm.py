"""Cross-entropy and perplexity of a language model's predictions.

Shapes: ``...`` any leading axes (batch, time), V vocabulary.
"""

from __future__ import annotations

import numpy as np


# log softmax(z)_v = z_v - log sum_w exp(z_w), with the max subtracted first against overflow.
def log_softmax(logits: np.ndarray) -> np.ndarray:
    """(..., V) -> (..., V)."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


# The negative log-likelihood of each target token, in nats:  -log p(y_t | context) = -log softmax(z_t)_{y_t}
def token_nll(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """logits (..., V), targets (...) int -> (...)."""
    logp = log_softmax(logits)
    return -np.take_along_axis(logp, np.asarray(targets)[..., None], axis=-1)[..., 0]


# Cross-entropy H = (1/N) sum_t -log p(y_t | context) over the N tokens scored (mask 1), in nats.
def cross_entropy(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None) -> float:
    nll = token_nll(logits, targets)
    return float(nll.mean() if mask is None else nll[np.asarray(mask, bool)].mean())


# Perplexity = exp(H) (Jelinek et al. 1977): the inverse geometric mean of the target probabilities.
def perplexity(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None) -> float:
    return float(np.exp(cross_entropy(logits, targets, mask)))
