"""LayerNorm, GELU and the sigmoid, with the gradients a hand-written backward pass must reproduce.

Shapes: N rows, D features.
"""

from __future__ import annotations

import math

import numpy as np


# Ba, Kiros & Hinton 2016, "Layer Normalization", §3, per row x of D features:
#   mu = mean(x),  sigma^2 = mean((x - mu)^2),  x_hat = (x - mu) / sqrt(sigma^2 + eps)
#   y = gamma x_hat + beta
def layer_norm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray | None = None, eps: float = 1e-5
) -> np.ndarray:
    """x (..., D), gamma (D,), beta (D,) or None (no shift) -> (..., D)."""
    x = np.asarray(x, np.float64)
    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)  # (..., 1), the biased variance
    y = (x - mu) / np.sqrt(var + eps) * np.asarray(gamma, np.float64)
    return y if beta is None else y + np.asarray(beta, np.float64)


# The chain rule through the Jacobian of x_hat (row by row), with sigma' = sqrt(sigma^2 + eps):
#   d x_hat_j / d x_i = (delta_ij - 1/D - x_hat_i x_hat_j / D) / sigma'
#   dL/dx_i = sum_j (dL/dy_j) gamma_j  d x_hat_j / d x_i
#   dL/dgamma = sum_rows dL/dy x_hat,  dL/dbeta = sum_rows dL/dy
def layer_norm_grads(
    x: np.ndarray, gamma: np.ndarray, dy: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (N, D), gamma (D,), dy = dL/dy (N, D) -> (dL/dx (N, D), dL/dgamma (D,), dL/dbeta (D,))."""
    x, gamma, dy = (np.asarray(a, np.float64) for a in (x, gamma, dy))
    d = x.shape[-1]
    sigma = np.sqrt(x.var(axis=-1) + eps)  # (N,)
    x_hat = (x - x.mean(axis=-1, keepdims=True)) / sigma[:, None]  # (N, D)
    outer = x_hat[:, :, None] * x_hat[:, None, :]  # (N, D, D)
    jacobian = (np.eye(d) - 1.0 / d - outer / d) / sigma[:, None, None]  # (N, D, D) [n, i, j]
    dx = np.einsum("nj,nij->ni", dy * gamma, jacobian)  # (N, D)
    return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)


# The logistic function sigma(x) = 1 / (1 + exp(-x)).
def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


_erf = np.vectorize(math.erf, otypes=[np.float64])


# Hendrycks & Gimpel 2016, "Gaussian Error Linear Units": GELU(x) = x Phi(x), Phi the standard normal CDF,
#   exact:  Phi(x) = (1 + erf(x / sqrt 2)) / 2                                   (BERT)
#   tanh:   Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2              (GPT-2's gelu_new)
def gelu(x: np.ndarray, approximate: bool = False) -> np.ndarray:
    """Elementwise, any shape."""
    x = np.asarray(x, np.float64)
    if approximate:
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


# d/dx x Phi(x) = Phi(x) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi);
# tanh form, u = sqrt(2/pi) (x + 0.044715 x^3):
#   (1 + tanh u) / 2 + x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 0.044715 x^2) / 2
def gelu_grad(x: np.ndarray, approximate: bool = False) -> np.ndarray:
    """dGELU/dx elementwise, any shape."""
    x = np.asarray(x, np.float64)
    if approximate:
        c = math.sqrt(2.0 / math.pi)
        t = np.tanh(c * (x + 0.044715 * x**3))
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t**2) * c * (1.0 + 3 * 0.044715 * x**2)
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0))) + x * np.exp(-0.5 * x**2) / math.sqrt(2.0 * math.pi)
