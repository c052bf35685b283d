"""Conditional generation: the training loss of an encoder-decoder and of a decoder-only model, and
their held-out token NLL.

Both maximise ``log p(y | x) = sum_t log p(y_t | y_<t, x)`` over the target tokens only:

- **encoder-decoder** (Vaswani et al. 2017): teacher forcing, the decoder reads ``target_in = [BOS]
  y_1 .. y_m`` and is scored on ``target_out = y_1 .. y_m <eos>`` (:func:`seq2seq_loss`);
- **decoder-only** (source, separator, target as one sequence ``x <sep> y <eos>``; Radford et al. 2019
  §3.7 translate with such a format): a causal LM on the whole sequence, scored only where the next
  token is a target token -- the positions of ``<sep>`` .. ``y_m`` -- so the model is never trained to
  write the source (:func:`prefix_lm_loss`).

The loss is the mean over the scored tokens ``w_{b,t} = 1`` of each batch::

    L = sum_{b,t} w_{b,t} l(z_{b,t}, y_{b,t}) / sum_{b,t} w_{b,t}

with ``l`` the token NLL (:func:`minilm.metrics.jax_metrics.token_nll`), or with label smoothing
(Szegedy et al. 2016 §7; Vaswani et al. 2017 §5.4 use eps = 0.1) the cross-entropy against
``(1 - eps) onehot(y) + eps / V``::

    l_eps(z, y) = (1 - eps) (-log p_y) + eps * mean_v (-log p_v)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from minilm.metrics.jax_metrics import token_nll
from minilm.models.seq2seq import Seq2Seq
from minilm.models.transformer import GPT
from minilm.objectives.evaluate import EVAL_BATCH, batched_eval


def smoothed_nll(logits: jax.Array, targets: jax.Array, eps: float) -> jax.Array:
    """(..., V) logits, (...) targets -> (...) label-smoothed cross-entropy (``token_nll`` at eps = 0)."""
    nll = token_nll(logits, targets)
    if eps == 0.0:
        return nll
    uniform = jax.nn.logsumexp(logits.astype(jnp.float32), axis=-1) - logits.astype(jnp.float32).mean(-1)
    return (1.0 - eps) * nll + eps * uniform


def _seq2seq_logits(model: Seq2Seq, batch: dict[str, jax.Array], rngs: nnx.Rngs | None) -> jax.Array:
    return model(
        batch["source"],
        batch["target_in"],
        source_mask=batch["source_mask"],
        target_mask=batch["target_mask"],
        rngs=rngs,
    )  # (B, T, V)


def _prefix_lm_logits(model: GPT, batch: dict[str, jax.Array], rngs: nnx.Rngs | None) -> jax.Array:
    return model(batch["tokens"], attention_mask=batch["attention_mask"], rngs=rngs)  # (B, T, V)


# which logits each kind of model gives and which positions its loss scores
_KINDS = {
    "encoder-decoder": (_seq2seq_logits, "target_out", "target_mask"),
    "decoder-only": (_prefix_lm_logits, "targets", "loss_mask"),
}


def _weighted(kind: str, model, batch, rngs, eps: float) -> tuple[jax.Array, jax.Array]:
    logits_of, targets, weights = _KINDS[kind]
    w = batch[weights].astype(jnp.float32)  # (B, T)
    return (smoothed_nll(logits_of(model, batch, rngs), batch[targets], eps) * w).sum(), w.sum()


def seq2seq_loss(model: Seq2Seq, batch: dict[str, jax.Array], rngs: nnx.Rngs | None, *, eps: float = 0.0):
    """Mean (label-smoothed) NLL of ``target_out`` under teacher forcing.  batch: "source",
    "source_mask" (B, S); "target_in", "target_out", "target_mask" (B, T)."""
    total, count = _weighted("encoder-decoder", model, batch, rngs, eps)
    return total / jnp.maximum(count, 1.0), {}


def prefix_lm_loss(model: GPT, batch: dict[str, jax.Array], rngs: nnx.Rngs | None, *, eps: float = 0.0):
    """Mean (label-smoothed) NLL of the target tokens of ``x <sep> y <eos>``.  batch: "tokens",
    "attention_mask", "targets" (the tokens shifted by one), "loss_mask" (B, T)."""
    total, count = _weighted("decoder-only", model, batch, rngs, eps)
    return total / jnp.maximum(count, 1.0), {}


@functools.partial(jax.jit, static_argnums=(0, 1))
def _batch_nll(kind: str, graphdef, state, batch, valid) -> tuple[jax.Array, jax.Array]:
    weights = _KINDS[kind][2]
    batch = {**batch, weights: batch[weights] * valid[:, None]}  # filler rows (valid 0) score nothing
    return _weighted(kind, nnx.merge(graphdef, state), batch, None, 0.0)


def target_nll(kind: str, model, arrays: dict, batch_size: int = EVAL_BATCH) -> tuple[float, int]:
    """Summed NLL (nats, no smoothing) of the target tokens of ``arrays`` and how many there are;
    ``kind`` is "encoder-decoder" or "decoder-only" (the arrays of that kind's loss)."""
    graphdef, state = nnx.split(model)
    total, count = batched_eval(functools.partial(_batch_nll, kind, graphdef, state), arrays, batch_size)
    return total, int(count)
