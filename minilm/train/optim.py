"""Optimizer pieces: learning-rate schedules, global-norm clipping (written by hand), AdamW.

AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Alg. 2) comes from optax.
Weight decay is *decoupled* (``theta <- theta - lr * (adam_update + wd * theta)``) and masked off
biases and LayerNorm parameters: by convention (GPT-2, BERT) only matrices -- parameters with two or
more dimensions -- are decayed.

Global gradient-norm clipping (Pascanu et al. 2013, "On the difficulty of training RNNs", Alg. 1)::

    g_norm = sqrt(sum_i ||g_i||^2)          over every leaf of the gradient tree
    g_i   <- g_i * min(1, max_norm / g_norm)

written here as an optax ``GradientTransformation`` and tested equal to ``optax.clip_by_global_norm``.

Adam's bias correction (Kingma & Ba 2015, Alg. 1) divides the moment estimates, which start at 0, by
``1 - beta^t``::

    m_t = b1 m_{t-1} + (1 - b1) g_t        v_t = b2 v_{t-1} + (1 - b2) g_t^2
    m^_t = m_t / (1 - b1^t)                v^_t = v_t / (1 - b2^t)
    update = m^_t / (sqrt(v^_t) + eps)

BERT's original optimizer (``BertAdam``) left the division out: the first updates are then
``(1 - b1^t) / sqrt(1 - b2^t)`` times the corrected ones (3.2x at t = 1 with b2 = 0.999) -- one cause of
failed fine-tuning runs (Mosbach et al. 2021, "On the Stability of Fine-tuning BERT", §5.1).
:func:`scale_by_adam` has the switch (optax's has none); with the correction on it equals optax's, and
:func:`make_optimizer` then uses ``optax.adamw`` itself.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

SCHEDULES = ("constant", "linear", "cosine")


def global_norm(tree) -> jax.Array:
    """sqrt of the sum of squares of every element of every leaf."""
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.sqrt(sum(jnp.sum(jnp.square(x.astype(jnp.float32))) for x in leaves))


class ClipState(NamedTuple):
    """Clipping keeps no state."""


def clip_by_global_norm(max_norm: float) -> optax.GradientTransformation:
    """Scale the whole gradient tree so that its global norm is at most ``max_norm``."""

    def init(params) -> ClipState:
        del params
        return ClipState()

    def update(grads, state, params=None):
        del params
        norm = global_norm(grads)
        # where(norm < max_norm) instead of min(1, max/norm): no division by a zero norm.
        scale = jnp.where(norm < max_norm, 1.0, max_norm / norm)
        return jax.tree_util.tree_map(lambda g: (g * scale).astype(g.dtype), grads), state

    return optax.GradientTransformation(init, update)


class AdamState(NamedTuple):
    count: jax.Array  # steps taken, t
    mu: optax.Updates  # m_t, as the parameters
    nu: optax.Updates  # v_t


def scale_by_adam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, bias_correction: bool = True
) -> optax.GradientTransformation:
    """Adam's direction ``m^_t / (sqrt(v^_t) + eps)`` (module docstring), with or without bias correction."""

    def init(params) -> AdamState:
        def zeros():  # two trees of their own: the training step donates every buffer of the state
            return jax.tree_util.tree_map(jnp.zeros_like, params)

        return AdamState(jnp.zeros([], jnp.int32), zeros(), zeros())

    def update(grads, state, params=None):
        del params
        count = state.count + 1
        mu = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
        nu = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * jnp.square(g), state.nu, grads)
        t = count.astype(jnp.float32)
        c1, c2 = (1 - b1**t, 1 - b2**t) if bias_correction else (1.0, 1.0)
        out = jax.tree_util.tree_map(lambda m, v: (m / c1) / (jnp.sqrt(v / c2) + eps), mu, nu)
        return out, AdamState(count, mu, nu)

    return optax.GradientTransformation(init, update)


def learning_rate_schedule(
    lr: float, steps: int, schedule: str = "cosine", warmup_steps: int = 0, min_lr_ratio: float = 0.1
) -> optax.Schedule:
    """Linear warmup from 0 to ``lr`` over ``warmup_steps``, then constant, linear or cosine decay
    to ``lr * min_lr_ratio`` at ``steps`` (the warmup counts inside ``steps``, as in optax's
    ``warmup_cosine_decay_schedule(decay_steps=steps)``)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    warmup_steps = min(warmup_steps, steps)
    end = lr * min_lr_ratio
    decay_steps = max(steps - warmup_steps, 1)
    if schedule == "constant":
        decay = optax.constant_schedule(lr)
    elif schedule == "linear":
        decay = optax.linear_schedule(lr, end, decay_steps)
    else:
        decay = optax.cosine_decay_schedule(lr, decay_steps, alpha=min_lr_ratio)
    if warmup_steps == 0:
        return decay
    warmup = optax.linear_schedule(0.0, lr, warmup_steps)
    return optax.join_schedules([warmup, decay], [warmup_steps])


def decay_mask(params):
    """True for leaves that get weight decay: matrices (ndim >= 2), not biases or LayerNorm scales."""
    return jax.tree_util.tree_map(lambda p: p.ndim >= 2, params)


def make_optimizer(
    lr: optax.Schedule,
    weight_decay: float = 0.01,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    clip_norm: float | None = 1.0,
    bias_correction: bool = True,
) -> optax.GradientTransformation:
    """clip (ours) -> AdamW (optax; without bias correction, :func:`scale_by_adam`) with decoupled,
    masked weight decay."""
    if bias_correction:
        adamw = optax.adamw(lr, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay, mask=decay_mask)
    else:
        adamw = optax.chain(
            scale_by_adam(b1, b2, eps, bias_correction=False),
            optax.add_decayed_weights(weight_decay, decay_mask),
            optax.scale_by_learning_rate(lr),
        )
    if clip_norm is None or clip_norm <= 0:
        return adamw
    return optax.chain(clip_by_global_norm(clip_norm), adamw)
