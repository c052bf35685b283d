"""Prefix-tuning: Li & Liang 2021, "Prefix-Tuning: Optimizing Continuous Prompts for Generation", §4.

Every layer l's attention gets P extra key/value vectors that every query attends to (§4.2)::

    head_i = Attention(x W_i^Q, [P_{l,i}^K; X W_i^K], [P_{l,i}^V; X W_i^V])

Where: the prefix is state of each :class:`MultiHeadAttention` (``set_prefix``), one more key/value
block outside the causal and padding masks -- so it works unchanged for BERT (bidirectional, padded
batches: the mask gains P ones) and for GPT with the key/value cache (every decoding step sees it),
where PEFT's "Model does not support past key values" stops.  The prefix takes no position.

Reparameterisation (§4.3: optimising the prefixes directly is unstable): during training they are
the output of an MLP over a smaller matrix P'_θ (P, D)::

    [P^K_1, P^V_1, ..., P^K_L, P^V_L] = Linear(h, 2 L D)(tanh(Linear(D, h)(P'_θ)))      (P, 2 L D)

(:class:`PrefixMLP`, shared by the layers; each attention holds a :class:`LayerPrefix` that picks its
slice).  After training :func:`fold` computes the prefixes once and keeps them as plain (2, P, H, Q)
parameters of each layer -- what is saved and used for inference -- and drops the MLP.
Initialisation: P'_θ ~ N(0, 1) (PEFT's ``nn.Embedding``), MLP weights N(0, init_std^2) and biases 0;
without the MLP the prefixes themselves ~ N(0, 1).  What trains: :class:`PrefixParam` and the head.
Counts: with the MLP P D + (D h + h) + (h 2 L D + 2 L D); plain or folded 2 L P D.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from minilm.config import at_least, opt, validate
from minilm.errors import UserError
from minilm.finetune.select import head_params, trainable
from minilm.models.layers import Dense, normal
from minilm.models.transformer import MultiHeadAttention, TransformerConfig, backbone_of


class PrefixParam(nnx.Param):
    """Prefixes, or the reparameterisation that computes them: ``trainable=PrefixParam`` trains them."""


@dataclass(frozen=True)
class PrefixConfig:
    """P key/value vectors per layer (the anchor's peft run uses 20)."""

    length: int = opt(20, "P: prefix vectors per layer", check=at_least(1))
    reparam: bool = opt(True, "train through the MLP (Li & Liang 4.3); fold() after training")
    hidden: int = opt(512, "the MLP's hidden width h (Li & Liang: 512)", check=at_least(1))
    train_head: bool = opt(True, "the task head trains")

    def __post_init__(self) -> None:
        validate(self)


class PrefixMLP(nnx.Module):
    """P'_θ (P, D) -> Linear(D, h) -> tanh -> Linear(h, 2 L D): every layer's prefix, (L, 2, P, H, Q)."""

    def __init__(self, model_cfg: TransformerConfig, length: int, hidden: int, *, rngs: nnx.Rngs):
        d, n, std = model_cfg.d_model, model_cfg.n_layer, model_cfg.init_std
        self.embedding = PrefixParam(normal(rngs, (length, d), 1.0))  # P'_θ
        self.hidden = Dense(d, hidden, bias=True, std=std, dtype="float32", rngs=rngs, param=PrefixParam)
        self.out = Dense(hidden, 2 * n * d, bias=True, std=std, dtype="float32", rngs=rngs, param=PrefixParam)
        self.shape = (length, n, 2, model_cfg.n_head, model_cfg.head_dim)

    def __call__(self) -> jax.Array:
        y = self.out(jnp.tanh(self.hidden(self.embedding[...])))  # (P, 2 L D)
        return y.reshape(self.shape).transpose(1, 2, 0, 3, 4)  # (L, 2, P, H, Q)


class LayerPrefix(nnx.Module):
    """Layer ``layer``'s prefix from the shared MLP, (2, P, H, Q): what its attention holds."""

    def __init__(self, mlp: PrefixMLP, layer: int):
        self.mlp = mlp
        self.layer = layer

    def __call__(self) -> jax.Array:
        return self.mlp()[self.layer]


def apply_prefix(model: nnx.Module, cfg: PrefixConfig, *, rngs: nnx.Rngs) -> Any:
    """Give every attention layer a trainable prefix (through the MLP if ``cfg.reparam``)."""
    backbone = backbone_of(model)
    if any(block.attn.prefix is not None for block in backbone.blocks):
        raise UserError("this model already has attention prefixes")
    mcfg = backbone.cfg
    mlp = PrefixMLP(mcfg, cfg.length, cfg.hidden, rngs=rngs) if cfg.reparam else None
    for layer, block in enumerate(backbone.blocks):
        if mlp is not None:
            block.attn.set_prefix(LayerPrefix(mlp, layer))
        else:
            shape = (2, cfg.length, mcfg.n_head, mcfg.head_dim)
            block.attn.set_prefix(PrefixParam(normal(rngs, shape, 1.0)))
    return trainable(model, PrefixParam, head_params(model) if cfg.train_head else ())


def fold(model: nnx.Module) -> None:
    """Replace the MLP by the prefixes it computes: plain (2, P, H, Q) PrefixParams, one per layer.

    The same filter (PrefixParam and the head) then selects what to save; training can continue on
    the plain prefixes.  A model without a reparameterised prefix is left as it is."""
    layers = [node for _, node in nnx.iter_graph(model) if isinstance(node, MultiHeadAttention)]
    views = [attn.prefix for attn in layers if isinstance(attn.prefix, LayerPrefix)]
    if not views:
        return
    prefixes = views[0].mlp()  # (L, 2, P, H, Q), computed once
    for attn in layers:
        if isinstance(attn.prefix, LayerPrefix):
            attn.set_prefix(PrefixParam(prefixes[attn.prefix.layer]))
