"""Word-vector objectives: skip-gram and CBOW with negative sampling, GloVe's weighted least squares.

Shapes: D vector size, K noise words, C context words, V vocabulary.  ``v`` are input vectors (the word
vectors kept), ``u`` output vectors.  Gradients are of the loss as written (SGD subtracts lr times them).
"""

from __future__ import annotations

import numpy as np

from minilm.reference.layers import sigmoid


# Mikolov et al. 2013, "Distributed Representations of Words and Phrases", eq. (4), as a loss:
#   L = -log sigma(u_O . v_I) - w sum_{k=1..K} log sigma(-u_k . v_I)
# for an input word I, the output word O it should predict and K noise words drawn from unigram^0.75.
# w = 1 in the paper; w = K / K' when K' draws stand for K noise words (minilm's CBOW and fastText).
def sgns_loss(v_in: np.ndarray, u_out: np.ndarray, u_noise: np.ndarray, noise_weight: float = 1.0) -> float:
    """v_in (D,), u_out (D,), u_noise (K, D) -> L."""
    v_in, u_out, u_noise = (np.asarray(a, np.float64) for a in (v_in, u_out, u_noise))
    return float(-np.log(sigmoid(u_out @ v_in)) - noise_weight * np.log(sigmoid(-u_noise @ v_in)).sum())


# With sigma' = sigma (1 - sigma):
#   dL/dv_I = (sigma(u_O . v_I) - 1) u_O + w sum_k sigma(u_k . v_I) u_k
#   dL/du_O = (sigma(u_O . v_I) - 1) v_I,      dL/du_k = w sigma(u_k . v_I) v_I
def sgns_grads(
    v_in: np.ndarray, u_out: np.ndarray, u_noise: np.ndarray, noise_weight: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (dL/dv_in (D,), dL/du_out (D,), dL/du_noise (K, D)); a repeated noise word gets one row per draw."""
    v_in, u_out, u_noise = (np.asarray(a, np.float64) for a in (v_in, u_out, u_noise))
    e_out = sigmoid(u_out @ v_in) - 1.0  # ()
    e_noise = noise_weight * sigmoid(u_noise @ v_in)  # (K,)
    return e_out * u_out + e_noise @ u_noise, e_out * v_in, e_noise[:, None] * v_in[None, :]


# CBOW (Mikolov et al. 2013, "Efficient Estimation of Word Representations", §3.1): the mean of the
# context vectors, h = (1/C) sum_c v_c, takes the place of v_I:  L = sgns_loss(h, u_O, u_noise).
def cbow_loss(
    v_context: np.ndarray, u_out: np.ndarray, u_noise: np.ndarray, noise_weight: float = 1.0
) -> float:
    """v_context (C, D) the context words' input vectors, u_out (D,) the centre's, u_noise (K, D) -> L."""
    return sgns_loss(np.asarray(v_context, np.float64).mean(axis=0), u_out, u_noise, noise_weight)


#   dL/dv_c = (1/C) dL/dh for every context word c (word2vec.c and gensim's cbow_mean=1 apply dL/dh itself
#   to each, i.e. C times this gradient);  dL/du_O, dL/du_k as for skip-gram with v_I = h.
def cbow_grads(
    v_context: np.ndarray, u_out: np.ndarray, u_noise: np.ndarray, noise_weight: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (dL/dv_context (C, D), dL/du_out (D,), dL/du_noise (K, D))."""
    v_context = np.asarray(v_context, np.float64)
    n = len(v_context)
    dh, du_out, du_noise = sgns_grads(v_context.mean(axis=0), u_out, u_noise, noise_weight)
    return np.tile(dh / n, (n, 1)), du_out, du_noise


# Pennington, Socher & Manning 2014, "GloVe", eq. (9): f(x) = (x / x_max)^alpha if x < x_max else 1
def glove_weight(x: np.ndarray, x_max: float = 100.0, alpha: float = 0.75) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.where(x < x_max, (x / x_max) ** alpha, 1.0)


# GloVe eq. (8):  J = sum_{i,j: X_ij > 0} f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2
def glove_cost(
    counts: np.ndarray,
    w: np.ndarray,
    w_ctx: np.ndarray,
    b: np.ndarray,
    b_ctx: np.ndarray,
    x_max: float = 100.0,
    alpha: float = 0.75,
) -> float:
    """counts X (V, V), w, w_ctx (V, D), b, b_ctx (V,) -> J."""
    weighted_diff, diff = _glove_residuals(counts, w, w_ctx, b, b_ctx, x_max, alpha)
    return float((weighted_diff * diff).sum())


#   dJ/dw_i = 2 sum_j f(X_ij) diff_ij w~_j,   dJ/dw~_j = 2 sum_i f(X_ij) diff_ij w_i,
#   dJ/db_i = 2 sum_j f(X_ij) diff_ij,        dJ/db~_j = 2 sum_i f(X_ij) diff_ij      (over X_ij > 0)
def glove_grads(
    counts: np.ndarray,
    w: np.ndarray,
    w_ctx: np.ndarray,
    b: np.ndarray,
    b_ctx: np.ndarray,
    x_max: float = 100.0,
    alpha: float = 0.75,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """-> (dJ/dw (V, D), dJ/dw_ctx (V, D), dJ/db (V,), dJ/db_ctx (V,))."""
    weighted_diff, _ = _glove_residuals(counts, w, w_ctx, b, b_ctx, x_max, alpha)
    g = 2.0 * weighted_diff  # (V, V)
    return g @ np.asarray(w_ctx, np.float64), g.T @ np.asarray(w, np.float64), g.sum(axis=1), g.sum(axis=0)


def _glove_residuals(counts, w, w_ctx, b, b_ctx, x_max, alpha) -> tuple[np.ndarray, np.ndarray]:
    """(f(X) diff, diff), both (V, V) and 0 where X_ij = 0, with diff = w_i . w~_j + b_i + b~_j - log X_ij."""
    x, w, w_ctx, b, b_ctx = (np.asarray(a, np.float64) for a in (counts, w, w_ctx, b, b_ctx))
    seen = x > 0  # (V, V)
    log_x = np.log(np.where(seen, x, 1.0))
    diff = np.where(seen, w @ w_ctx.T + b[:, None] + b_ctx[None, :] - log_x, 0.0)  # (V, V)
    return glove_weight(x, x_max, alpha) * diff, diff
