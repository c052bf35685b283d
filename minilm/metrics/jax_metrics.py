"""Metrics inside training: ``jnp`` versions that run under ``jax.jit`` (fixed shapes, no Python loops).

The definitions are those of :mod:`minilm.metrics.classification` and :mod:`minilm.metrics.perplexity`,
with one difference forced by static shapes: the label set is ``0 .. num_classes - 1``, and a class
that occurs in neither gold nor pred has no row or column of counts.  ``f1_from_confusion`` skips such
classes in the macro average, so it equals scikit-learn's macro F1 over the labels actually seen.

``mask`` arguments (same shape as the labels, 1 = real item, 0 = padding) drop padding from every count.
:func:`token_nll` is the one token negative log-likelihood of the package: every language-model loss,
evaluator and perplexity (:mod:`minilm.objectives`, :mod:`minilm.models.elmo`) calls it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _weights(labels: jax.Array, mask: jax.Array | None) -> jax.Array:
    return jnp.ones(labels.shape, jnp.float32) if mask is None else mask.astype(jnp.float32)


def accuracy(gold: jax.Array, pred: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Fraction of (unmasked) items with pred == gold.  gold, pred, mask: (N,) -> ()."""
    w = _weights(gold, mask)  # (N,)
    return jnp.sum((gold == pred) * w) / jnp.maximum(jnp.sum(w), 1.0)


def confusion_matrix(
    gold: jax.Array, pred: jax.Array, num_classes: int, mask: jax.Array | None = None
) -> jax.Array:
    """(K, K) float32 counts C[g, p], rows = gold, by scatter-add (exact below 2**24 per cell).

    gold, pred, mask: (N,).
    """
    return jnp.zeros((num_classes, num_classes), jnp.float32).at[gold, pred].add(_weights(gold, mask))


def f1_from_confusion(cm: jax.Array, average: str = "macro") -> jax.Array:
    """F1 from a (K, K) confusion matrix: ``"macro"`` (over classes seen), ``"micro"`` or ``"weighted"``.

    Per class F1_c = 2 tp_c / (pred_c + true_c), 0 when pred_c + true_c = 0.
    """
    if average not in ("macro", "micro", "weighted"):
        raise ValueError(f"average={average!r}; allowed: macro, micro, weighted")
    tp = jnp.diagonal(cm)  # (K,)
    true, predicted = cm.sum(axis=1), cm.sum(axis=0)  # (K,), (K,)
    denom = true + predicted  # (K,)
    f1 = jnp.where(denom > 0, 2 * tp / jnp.where(denom > 0, denom, 1.0), 0.0)  # (K,)
    if average == "macro":
        seen = (denom > 0).astype(cm.dtype)
        return jnp.sum(f1 * seen) / jnp.maximum(jnp.sum(seen), 1.0)
    if average == "micro":
        return jnp.sum(tp) / jnp.maximum(jnp.sum(cm), 1.0)
    return jnp.sum(f1 * true) / jnp.maximum(jnp.sum(true), 1.0)  # weighted by support


def token_nll(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Negative log-likelihood (nats) of each target under the softmax of its logits: the cross-entropy
    of one token, the term every language-model loss and perplexity sums.

        -log softmax(z)_y = log sum_j exp(z_j) - z_y

    logits (..., V), targets (...) int -> (...) float32.  Written as optax's
    ``softmax_cross_entropy_with_integer_labels`` (log-sum-exp minus the picked logit, so the
    normaliser is not subtracted from all V entries), and equal to it bit for bit in float32.
    """
    logits = logits.astype(jnp.float32)  # (..., V); bfloat16 logits are scored in float32
    picked = jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]  # (...)
    return jax.nn.logsumexp(logits, axis=-1) - picked
