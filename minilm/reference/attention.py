"""Softmax, scaled dot-product attention and multi-head attention, as the paper writes them.

Vaswani et al. 2017, "Attention Is All You Need", §3.2.  Shapes: T queries, S keys, d_k the key
size, d_v the value size, H heads, D the model width; ``...`` any leading (batch, head) axes.
"""

from __future__ import annotations

import math

import numpy as np


# softmax(z)_i = exp(z_i) / sum_j exp(z_j); subtracting max(z) first changes nothing but avoids overflow.
def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# M[t, s] = 1 where query t may see key s (s <= t): a decoder attends only to the past (§3.2.3).
def causal_mask(t: int) -> np.ndarray:
    return np.tril(np.ones((t, t), bool))  # (T, T)


# §3.2.1, eq. (1):  Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + M) V
# M is additive (0 = may attend, -inf = may not); a boolean mask (True = may attend) is turned into one.
# A query row with no key it may see has no defined output (a softmax over nothing): NaN here.
def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """q (..., T, d_k), k (..., S, d_k), v (..., S, d_v), mask broadcastable to (..., T, S).

    Returns (..., T, d_v)."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])  # (..., T, S)
    if mask is not None:
        mask = np.asarray(mask)
        scores = scores + (np.where(mask, 0.0, -np.inf) if mask.dtype == bool else mask)
    return softmax(scores) @ v  # (..., T, d_v)


# §3.2.2:  MultiHead(Q, K, V) = Concat(head_1, ..., head_H) W^O,
#          head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)
# W_i^Q is columns [i d_k, (i+1) d_k) of w_q (D, H d_k); likewise W_i^K, W_i^V; W^O is (H d_v, D).
# Self-attention: query = key = value = x.  No biases (as in the paper).
def multi_head_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    w_q: np.ndarray,
    w_k: np.ndarray,
    w_v: np.ndarray,
    w_o: np.ndarray,
    n_heads: int,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """query (..., T, D), key/value (..., S, D), mask broadcastable to (..., T, S) -> (..., T, D)."""
    query, key, value, w_q, w_k, w_v, w_o = (
        np.asarray(a, np.float64) for a in (query, key, value, w_q, w_k, w_v, w_o)
    )
    d_k, d_v = w_q.shape[1] // n_heads, w_v.shape[1] // n_heads
    heads = [
        attention(
            query @ w_q[:, i * d_k : (i + 1) * d_k],  # (..., T, d_k)
            key @ w_k[:, i * d_k : (i + 1) * d_k],  # (..., S, d_k)
            value @ w_v[:, i * d_v : (i + 1) * d_v],  # (..., S, d_v)
            mask,
        )
        for i in range(n_heads)
    ]
    return np.concatenate(heads, axis=-1) @ w_o  # (..., T, H d_v) @ (H d_v, D)


# §3.2.3, encoder-decoder attention: "the queries come from the previous decoder layer, and the memory
# keys and values come from the output of the encoder" -- multi-head attention with key = value = the
# encoder output M, each query seeing every real source position (the source padding masked):
#          CrossAttn(X, M) = Concat(head_1, ..., head_H) W^O,  head_i = Attention(X W_i^Q, M W_i^K, M W_i^V)
def cross_attention(
    x: np.ndarray,
    memory: np.ndarray,
    w_q: np.ndarray,
    w_k: np.ndarray,
    w_v: np.ndarray,
    w_o: np.ndarray,
    n_heads: int,
    memory_mask: np.ndarray | None = None,
) -> np.ndarray:
    """x (..., T, D) decoder states, memory (..., S, D) encoder output, memory_mask (..., S) with True
    = a real source token -> (..., T, D)."""
    mask = None if memory_mask is None else np.asarray(memory_mask, bool)[..., None, :]  # (..., 1, S)
    return multi_head_attention(x, memory, memory, w_q, w_k, w_v, w_o, n_heads, mask)
