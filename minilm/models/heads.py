"""Task heads on a Transformer backbone: pooling, sequence and token classification, span extraction.

Each head takes the backbone of a GPT, BERT or bare :class:`~minilm.models.transformer.Transformer`
(sharing its parameters, not copying them) and adds dropout and one linear layer (D -> outputs),
initialised N(0, init_std^2) with zero bias:

- :class:`SequenceClassifier` (GPT §3.3, BERT §4.1): pool the hidden states (:func:`pool`: the last real
  token, [CLS], or the mean over real tokens), then the linear layer: logits (B, n_classes);
- :class:`TokenClassifier` (BERT §4.3): the linear layer on every hidden state: logits (B, T, n_labels);
- :class:`SpanExtractor` (BERT §4.2, SQuAD): start and end scores of every token.

Dropout follows the backbone's convention (:func:`minilm.models.layers.dropout`: on iff ``rngs``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from minilm.errors import UserError
from minilm.models.layers import Dense, dropout
from minilm.models.transformer import Block, backbone_of


def pool(hidden: jax.Array, attention_mask: jax.Array | None, how: str) -> jax.Array:
    """(B, T, D) -> (B, D).

    ``last``: the last real token of each row (GPT: it has seen the whole row; left or right padding);
    ``cls``: position 0 (BERT's [CLS]); ``mean``: average over real tokens (Sentence-BERT).
    """
    b, t, _ = hidden.shape
    real = jnp.ones((b, t), bool) if attention_mask is None else attention_mask.astype(bool)  # (B, T)
    if how == "last":
        last = t - 1 - jnp.argmax(real[:, ::-1], axis=1)  # (B,) index of the last True
        return jnp.take_along_axis(hidden, last[:, None, None], axis=1)[:, 0]
    if how == "cls":
        return hidden[:, 0]
    if how == "mean":
        weights = real.astype(hidden.dtype)[:, :, None]  # (B, T, 1)
        return (hidden * weights).sum(1) / jnp.maximum(weights.sum(1), 1.0)
    raise ValueError(f"unknown pooling {how!r}")


POOLINGS = ("last", "cls", "mean")


class TaskHead(nnx.Module):
    """What the task heads below share: a backbone (taken from a GPT, BERT or bare Transformer; an LM
    head would get no gradient and still be moved by weight decay), dropout and a linear layer
    ``head`` (D -> n_out).  ``__call__`` runs the backbone and hands its float32 hidden states
    (B, T, D) to the subclass's :meth:`readout`."""

    def __init__(self, backbone_model: nnx.Module, n_out: int, *, dropout_rate: float | None, rngs: nnx.Rngs):
        self.backbone = backbone_of(backbone_model)
        cfg = self.backbone.cfg
        self.head = Dense(cfg.d_model, n_out, bias=True, std=cfg.init_std, dtype="float32", rngs=rngs)
        self.rate = cfg.dropout if dropout_rate is None else dropout_rate

    def __call__(
        self,
        tokens: jax.Array,
        *,
        attention_mask: jax.Array | None = None,
        token_types: jax.Array | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> Any:
        hidden = self.backbone(tokens, attention_mask=attention_mask, token_types=token_types, rngs=rngs)
        return self.readout(hidden.astype(jnp.float32), attention_mask, rngs)

    def project(self, x: jax.Array, rngs: nnx.Rngs | None) -> jax.Array:
        """Dropout, then the linear head: (..., D) -> (..., n_out)."""
        return self.head(dropout(x, self.rate, rngs))

    def readout(self, hidden: jax.Array, attention_mask: jax.Array | None, rngs: nnx.Rngs | None) -> Any:
        raise NotImplementedError


def set_dropout(model: nnx.Module, rate: float) -> None:
    """Every dropout of a task head and its backbone at ``rate``: embeddings, residual branches,
    attention probabilities, the head (the backbone's saved config set them at pretraining)."""
    for _, module in nnx.iter_modules(model):
        if isinstance(module, Block):
            module.rate = rate
            module.attn.attn_dropout = rate
        elif isinstance(module, TaskHead):
            module.rate = rate
            module.backbone.cfg = dataclasses.replace(module.backbone.cfg, dropout=rate, attn_dropout=rate)


class SequenceClassifier(TaskHead):
    """Pool the backbone's hidden states, dropout, linear head: logits (B, n_classes) (GPT §3.3, BERT §4)."""

    def __init__(
        self,
        backbone_model: nnx.Module,
        n_classes: int,
        *,
        pooling: str = "last",
        dropout_rate: float | None = None,
        rngs: nnx.Rngs,
    ):
        if pooling not in POOLINGS:
            raise UserError(f"pooling={pooling!r}: allowed values are {', '.join(POOLINGS)}")
        super().__init__(backbone_model, n_classes, dropout_rate=dropout_rate, rngs=rngs)
        self.pooling = pooling

    def readout(
        self, hidden: jax.Array, attention_mask: jax.Array | None, rngs: nnx.Rngs | None
    ) -> jax.Array:
        return self.project(pool(hidden, attention_mask, self.pooling), rngs)  # (B, n_classes)


class TokenClassifier(TaskHead):
    """Per-token labels (BERT §4.3, e.g. NER tags): dropout + linear head on every hidden state.

    Logits (B, T, n_labels); padded positions get logits too -- the loss must skip them.
    """

    def __init__(
        self, backbone_model: nnx.Module, n_labels: int, *, dropout_rate: float | None = None, rngs: nnx.Rngs
    ):
        super().__init__(backbone_model, n_labels, dropout_rate=dropout_rate, rngs=rngs)

    def readout(
        self, hidden: jax.Array, attention_mask: jax.Array | None, rngs: nnx.Rngs | None
    ) -> jax.Array:
        return self.project(hidden, rngs)  # (B, T, n_labels)


class SpanExtractor(TaskHead):
    """Extractive QA (BERT §4.2, SQuAD): a start and an end vector score every token,
    ``P_start(i) = softmax_i(S · h_i)``, ``P_end(j) = softmax_j(E · h_j)``.

    Returns start and end logits, each (B, T), with padded positions set to the most negative float
    (so a softmax over the row never picks them).
    """

    def __init__(self, backbone_model: nnx.Module, *, dropout_rate: float | None = None, rngs: nnx.Rngs):
        super().__init__(backbone_model, 2, dropout_rate=dropout_rate, rngs=rngs)

    def readout(
        self, hidden: jax.Array, attention_mask: jax.Array | None, rngs: nnx.Rngs | None
    ) -> tuple[jax.Array, jax.Array]:
        scores = self.project(hidden, rngs)  # (B, T, 2)
        if attention_mask is not None:
            real = attention_mask.astype(bool)[:, :, None]  # (B, T, 1)
            scores = jnp.where(real, scores, jnp.finfo(jnp.float32).min)
        return scores[:, :, 0], scores[:, :, 1]
