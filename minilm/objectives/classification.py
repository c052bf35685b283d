"""Sequence classification: the fine-tuning loss, and a classifier's predictions over a labelled set.

GPT (Radford et al. 2018, §3.2) fine-tunes the network plus a linear head on the pooled hidden state
with the cross-entropy of the gold label y given the text x::

    L = -1/B sum_b log softmax(W h_b)_{y_b}

(GPT adds the LM loss as an auxiliary objective; here fine-tuning uses the classification loss alone.)
The per-example term is :func:`minilm.metrics.jax_metrics.token_nll`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.metrics.jax_metrics import token_nll
from minilm.models.heads import SequenceClassifier
from minilm.objectives.evaluate import EVAL_BATCH, batched_apply


def classification_loss(model: SequenceClassifier, batch: dict[str, jax.Array], rngs: nnx.Rngs | None):
    """Mean cross-entropy of the gold labels, and the batch accuracy.  ``batch``: tokens,
    attention_mask (B, T), labels (B,), and token_types (B, T) for sentence pairs on a BERT."""
    logits = model(**_inputs(batch), rngs=rngs)  # (B, C)
    loss = token_nll(logits, batch["labels"]).mean()
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["labels"])}


def classifier_predictor(model: SequenceClassifier):
    """``predict(model, arrays) -> logits (N, C)`` in fixed-size jitted batches; ``arrays`` holds
    "tokens" and "attention_mask" (N, T), and "token_types" (N, T) for sentence pairs on a BERT."""
    graphdef = nnx.graphdef(model)

    @jax.jit
    def logits_of(state, batch):  # {"tokens", "attention_mask"[, "token_types"]: (b, T)} -> (b, C)
        return nnx.merge(graphdef, state)(**_inputs(batch))

    def predict(m: SequenceClassifier, arrays: dict[str, np.ndarray]) -> np.ndarray:
        return batched_apply(functools.partial(logits_of, nnx.state(m)), _inputs(arrays), EVAL_BATCH)

    return predict


def _inputs(batch: dict) -> dict:
    """The model's inputs among a batch's arrays (its labels left out)."""
    return {k: batch[k] for k in ("tokens", "attention_mask", "token_types") if k in batch}


def classification_scores(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``logits`` (N, C) against ``labels`` (N,)."""
    return {
        "eval_loss": float(np.mean(token_nll(logits, labels))),
        "eval_accuracy": float(np.mean(logits.argmax(-1) == labels)),
    }
