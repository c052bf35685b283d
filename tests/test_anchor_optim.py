"""The hand-written math behind the experiments: Adam with and without bias correction (against
optax.adamw and the closed form), the diagonal Fisher (closed form of a linear softmax) and the
EWC / L2-SP penalty (value and gradient)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.test_util import check_grads

from minilm.objectives.anchor import fisher_diagonal, quadratic_penalty
from minilm.train.optim import decay_mask, make_optimizer, scale_by_adam


def _tree(seed: int) -> dict[str, jax.Array]:
    rng = np.random.default_rng(seed)
    return {
        "w": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32),
        "b": jnp.asarray(rng.normal(size=4), jnp.float32),
    }


def test_scale_by_adam_with_bias_correction_equals_optax_adamw():
    lr, wd = 1e-2, 0.1
    ours = optax.chain(
        scale_by_adam(0.9, 0.999, 1e-8),
        optax.add_decayed_weights(wd, decay_mask),
        optax.scale_by_learning_rate(lr),
    )
    ref = optax.adamw(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=wd, mask=decay_mask)
    params = _tree(0)
    s_ours, s_ref = ours.init(params), ref.init(params)
    for step in range(5):
        grads = _tree(step + 1)
        u_ours, s_ours = ours.update(grads, s_ours, params)
        u_ref, s_ref = ref.update(grads, s_ref, params)
        for a, b in zip(jax.tree.leaves(u_ours), jax.tree.leaves(u_ref), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
        params = optax.apply_updates(params, u_ref)


def test_adam_without_bias_correction_closed_form():
    """Step 1 without correction: m = (1-b1) g, v = (1-b2) g^2, update = -lr (m / (sqrt(v) + eps) + wd p)."""
    lr, wd, b1, b2, eps = 1e-2, 0.1, 0.9, 0.999, 1e-8
    tx = make_optimizer(
        lambda step: lr, weight_decay=wd, b1=b1, b2=b2, eps=eps, clip_norm=0, bias_correction=False
    )
    params, grads = _tree(0), _tree(1)
    updates, _ = tx.update(grads, tx.init(params), params)
    for key in params:
        g, p = np.asarray(grads[key], np.float64), np.asarray(params[key], np.float64)
        direction = (1 - b1) * g / (np.sqrt((1 - b2) * g**2) + eps)
        expected = -lr * (direction + (wd * p if p.ndim >= 2 else 0))
        np.testing.assert_allclose(updates[key], expected, rtol=1e-5)
    # with the correction the first step is lr * sign(g) (ignoring eps): about 3.2x smaller here
    adam = make_optimizer(lambda step: lr, weight_decay=0, clip_norm=0)
    corrected, _ = adam.update(grads, adam.init(params), params)
    np.testing.assert_allclose(np.abs(corrected["b"]), lr, rtol=1e-4)


class _Linear(nnx.Module):
    def __init__(self, d: int, c: int):
        self.lin = nnx.Linear(d, c, rngs=nnx.Rngs(0))
        self.lin.bias[...] = jnp.asarray(np.random.default_rng(1).normal(size=c), jnp.float32)


def test_fisher_diagonal_of_a_linear_softmax_equals_closed_form():
    """F_W[d, c] = mean_n x_d^2 p_c (1 - p_c), F_b[c] = mean_n p_c (1 - p_c)."""
    model = _Linear(5, 3)
    x = np.random.default_rng(2).normal(size=(10, 5)).astype(np.float32)
    fisher = fisher_diagonal(model, nnx.Param, lambda m, b: m.lin(b["x"]), {"x": x}, chunk=4)
    logits = x @ np.asarray(model.lin.kernel[...]) + np.asarray(model.lin.bias[...])
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    q = p * (1 - p)  # (N, C)
    np.testing.assert_allclose(fisher["lin"]["kernel"][...], (x**2).T @ q / len(x), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(fisher["lin"]["bias"][...], q.mean(0), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("scalar", [True, False])
def test_quadratic_penalty_value_and_gradient(scalar):
    """1/2 sum w (p - a)^2: value, gradient w (p - a) (closed form) and finite differences."""
    params, anchor = _tree(3), _tree(4)
    weights = 0.7 if scalar else jax.tree.map(lambda x: jnp.abs(x) + 0.1, _tree(5))
    w = jax.tree.map(lambda p: jnp.full_like(p, 0.7), params) if scalar else weights
    value = quadratic_penalty(params, anchor, weights)
    expected = sum(
        0.5 * float(jnp.sum(wi * (p - a) ** 2))
        for p, a, wi in zip(jax.tree.leaves(params), jax.tree.leaves(anchor), jax.tree.leaves(w), strict=True)
    )
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    grads = jax.grad(quadratic_penalty)(params, anchor, weights)
    for g, p, a, wi in zip(*(jax.tree.leaves(t) for t in (grads, params, anchor, w)), strict=True):
        np.testing.assert_allclose(g, wi * (p - a), rtol=1e-5)
    check_grads(lambda p: quadratic_penalty(p, anchor, weights), (params,), order=1, modes=["rev"], rtol=1e-2)
