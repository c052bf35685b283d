"""Penalties that hold fine-tuned weights near an anchor: L2-SP and EWC, against catastrophic forgetting.

Both add a weighted squared distance to the task loss, one function (:func:`quadratic_penalty`)::

    Omega(theta) = 1/2 sum_i w_i (theta_i - theta*_i)^2

- **L2-SP** (Li, Grandvalet & Davoine 2018, "Explicit Inductive Bias for Transfer Learning with
  Convolutional Networks", eq. 3): the anchor is the *pretrained* weights ``w^0`` of the shared part,
  ``w_i = alpha``; the new head gets plain L2, ``beta/2 ||w_head||^2`` (anchor 0)::

      Omega(w) = alpha/2 ||w_S - w_S^0||^2 + beta/2 ||w_head||^2

- **EWC** (Kirkpatrick et al. 2017, "Overcoming catastrophic forgetting in neural networks", eq. 3):
  after task A, the anchor is A's optimum ``theta*_A`` and each weight's stiffness is its diagonal
  Fisher information ``F_i``, scaled by lambda: ``w_i = lambda F_i``::

      L(theta) = L_B(theta) + sum_i lambda/2 F_i (theta_i - theta*_A,i)^2

  :func:`fisher_diagonal` computes the Fisher of the model's own predictive distribution (the "true"
  Fisher of Kirkpatrick et al., not the "empirical" one with gold labels) exactly: the classes are few,
  so the expectation over y is a sum, no sampling::

      F_i = 1/N sum_n sum_y p(y | x_n) (d log p(y | x_n) / d theta_i)^2

  For a linear softmax ``p = softmax(W x + b)`` it is ``F_W[d, c] = 1/N sum_n x_d^2 p_c (1 - p_c)``
  (the test's closed form).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def quadratic_penalty(params: Any, anchor: Any, weights: Any) -> jax.Array:
    """``1/2 sum_i w_i (theta_i - anchor_i)^2`` over matching trees (``weights``: a tree or one number)."""
    if not isinstance(weights, (int, float)):
        terms = jax.tree_util.tree_map(
            lambda p, a, w: jnp.sum(w * jnp.square(p - a)), params, anchor, weights
        )
    else:
        terms = jax.tree_util.tree_map(lambda p, a: weights * jnp.sum(jnp.square(p - a)), params, anchor)
    return 0.5 * sum(jax.tree_util.tree_leaves(terms))


def fisher_diagonal(
    model: nnx.Module,
    where: Any,
    logits_fn: Callable[[nnx.Module, dict[str, jax.Array]], jax.Array],
    arrays: dict[str, np.ndarray],
    chunk: int = 16,
) -> nnx.State:
    """The diagonal Fisher (module docstring) of the parameters ``where`` selects, over the ``arrays``
    examples (dict of (N, ...) arrays); ``logits_fn(model, batch) -> (B, C)``.  An ``nnx.State`` shaped
    as ``nnx.state(model, where)``."""
    graphdef, params, rest = nnx.split(model, where, ...)

    def log_probs(p, example):  # one example -> (C,)
        batch = jax.tree_util.tree_map(lambda x: x[None], example)
        return jax.nn.log_softmax(logits_fn(nnx.merge(graphdef, p, rest), batch)[0])

    def example_fisher(example):  # sum_y p_y (d log p_y)^2, as params
        jac = jax.jacrev(log_probs)(params, example)  # leaves (C, *shape)
        probs = jnp.exp(log_probs(params, example))  # (C,)
        return jax.tree_util.tree_map(lambda j: jnp.einsum("c,c...->...", probs, jnp.square(j)), jac)

    @jax.jit
    def chunk_sum(batch):  # (b, ...) -> sum over the chunk
        per_example = jax.vmap(example_fisher)(batch)
        return jax.tree_util.tree_map(lambda f: f.sum(0), per_example)

    n = len(next(iter(arrays.values())))
    total = jax.tree_util.tree_map(jnp.zeros_like, params)
    for start in range(0, n, chunk):
        batch = {k: v[start : start + chunk] for k, v in arrays.items()}
        total = jax.tree_util.tree_map(jnp.add, total, chunk_sum(batch))
    return jax.tree_util.tree_map(lambda f: f / n, total)
