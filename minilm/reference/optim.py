"""One AdamW step and global-norm gradient clipping, on one parameter array / a list of gradients."""

from __future__ import annotations

import numpy as np


# Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Alg. 2, in optax.adamw's form
# (the learning rate also scales the decay), for step t = 1, 2, ...:
#   m_t = b1 m_{t-1} + (1 - b1) g_t,            v_t = b2 v_{t-1} + (1 - b2) g_t^2
#   m^_t = m_t / (1 - b1^t),                    v^_t = v_t / (1 - b2^t)
#   theta_t = theta_{t-1} - lr_t (m^_t / (sqrt(v^_t) + eps) + weight_decay theta_{t-1})
def adamw_step(
    theta: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.01,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """theta, grad, m, v: same shape (m = v = 0 before step 1) -> (theta_t, m_t, v_t)."""
    theta, grad = np.asarray(theta, np.float64), np.asarray(grad, np.float64)
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad**2
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    return theta - lr * (m_hat / (np.sqrt(v_hat) + eps) + weight_decay * theta), m, v


# ||g|| = sqrt(sum_i ||g_i||^2) over all the gradient arrays, as if they were one vector.
def global_norm(grads: list[np.ndarray]) -> float:
    return float(np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in grads)))


# Pascanu, Mikolov & Bengio 2013, "On the difficulty of training RNNs", Alg. 1:
#   if ||g|| > max_norm:  g <- g max_norm / ||g||
def clip_by_global_norm(grads: list[np.ndarray], max_norm: float) -> list[np.ndarray]:
    norm = global_norm(grads)
    scale = max_norm / norm if norm > max_norm else 1.0
    return [np.asarray(g, np.float64) * scale for g in grads]
