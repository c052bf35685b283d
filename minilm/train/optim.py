"""Optimizer pieces: learning-rate schedules, global-norm clipping (written by hand), AdamW.

AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Alg. 2) comes from optax.
Weight decay is *decoupled* (``theta <- theta - lr * (adam_update + wd * theta)``) and masked off
biases and LayerNorm parameters: by convention (GPT-2, BERT) only matrices -- parameters with two or
more dimensions -- are decayed.

Global gradient-norm clipping (Pascanu et al. 2013, "On the difficulty of training RNNs", Alg. 1)::

    g_norm = sqrt(sum_i ||g_i||^2)          over every leaf of the gradient tree
    g_i   <- g_i * min(1, max_norm / g_norm)

written here as an optax ``GradientTransformation`` and tested equal to ``optax.clip_by_global_norm``.
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
) -> optax.GradientTransformation:
    """clip (ours) -> AdamW (optax) with decoupled, masked weight decay."""
    adamw = optax.adamw(lr, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay, mask=decay_mask)
    if clip_norm is None or clip_norm <= 0:
        return adamw
    return optax.chain(clip_by_global_norm(clip_norm), adamw)
