"""Full fine-tuning, freezing and the linear probe: which of the base model's own parameters train.

- **Full fine-tuning** (GPT, Radford et al. 2018 §3.2; BERT, Devlin et al. 2019 §4): every parameter
  θ of the pretrained model and the new head trains, ``θ <- θ - η AdamW(∇_θ L)``.
- **Freezing**: a subset θ_F keeps its pretrained value: no gradient, no optimizer state, no weight
  decay (``fit`` never hands θ_F to the optimizer).  Here θ_F is the embedding layer and/or the
  bottom blocks -- ``bottom=k`` freezes ``blocks[:k]``, so ``bottom=-k`` freezes every block but the
  top k (lower layers hold the more general features: Yosinski et al. 2014; Howard & Ruder 2018).
- **Linear probe**: only the head trains, on the frozen model's features (Peters et al. 2019, "To
  tune or not to tune?"; the anchor's "[CLS] pooler" row).

Nothing in the model changes: the method is the filter alone.  Two choices are explicit because the
libraries differ: ``train_layer_norms`` keeps the LayerNorm scales and biases of the frozen parts
trainable (Houlsby et al. 2019 §3 trained them with their adapters; AdapterHub does not), and
``train_head`` (on by default: a new head must train).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flax import nnx

from minilm.config import finite, opt, validate
from minilm.errors import UserError
from minilm.finetune.select import (
    base_params,
    block_prefix,
    embedding_prefixes,
    head_params,
    layer_norm_params,
    trainable,
    under,
)
from minilm.models.transformer import backbone_of


@dataclass(frozen=True)
class FullConfig:
    """Full fine-tuning has no setting: everything trains."""

    def __post_init__(self) -> None:
        validate(self)


def apply_full(model: nnx.Module, cfg: FullConfig, *, rngs: nnx.Rngs) -> Any:
    """Every parameter of the model trains."""
    del cfg, rngs  # no new parameters
    return trainable(model, paths=base_params(model))


@dataclass(frozen=True)
class FreezeConfig:
    """Which parts of the pretrained model stay fixed."""

    embeddings: bool = opt(
        True, "freeze the embedding layer (token, position, token-type tables; BERT's embedding LayerNorm)"
    )
    bottom: int = opt(
        0, "freeze blocks[:bottom]: 2 = the bottom two, -2 = all but the top two, 0 = none", check=finite
    )
    train_layer_norms: bool = opt(
        False, "LayerNorms of frozen parts still train (Houlsby et al. 2019 did; AdapterHub does not)"
    )
    train_head: bool = opt(True, "the task head trains")

    def __post_init__(self) -> None:
        validate(self)


def apply_freeze(model: nnx.Module, cfg: FreezeConfig, *, rngs: nnx.Rngs) -> Any:
    """Everything but the embeddings (if ``cfg.embeddings``) and ``blocks[:cfg.bottom]`` trains."""
    del rngs  # no new parameters
    n = backbone_of(model).cfg.n_layer
    if not -n <= cfg.bottom <= n:
        raise UserError(f"bottom={cfg.bottom}: the model has {n} blocks (use -{n}..{n})")
    frozen = embedding_prefixes(model) if cfg.embeddings else ()
    frozen += tuple(block_prefix(model, i) for i in range(n)[: cfg.bottom])
    paths = base_params(model, lambda path: not under(*frozen)(path))
    if not cfg.train_head:
        paths -= head_params(model)
    if cfg.train_layer_norms:
        paths |= layer_norm_params(model)
    return trainable(model, paths=paths)


@dataclass(frozen=True)
class LinearProbeConfig:
    """The head alone trains on the frozen model."""

    train_layer_norms: bool = opt(
        False, "the backbone's LayerNorms train too (Houlsby et al. 2019 did; AdapterHub does not)"
    )

    def __post_init__(self) -> None:
        validate(self)


def apply_linear_probe(model: nnx.Module, cfg: LinearProbeConfig, *, rngs: nnx.Rngs) -> Any:
    """Only the head (and, if asked, the LayerNorms) trains."""
    del rngs  # no new parameters
    paths = head_params(model) | (layer_norm_params(model) if cfg.train_layer_norms else frozenset())
    return trainable(model, paths=paths)
