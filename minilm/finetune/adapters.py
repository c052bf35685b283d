"""Bottleneck adapters: Houlsby et al. 2019 and Pfeiffer et al. 2021.

Houlsby et al. 2019, "Parameter-Efficient Transfer Learning for NLP", §2.1 and Fig. 2: a small
residual bottleneck applied to a sublayer's output ``h`` (D), right after the sublayer's output
projection and before the block's residual add::

    A(h) = h + W_up f(W_down h + b_down) + b_up,   W_down (D, m), W_up (m, D),  m = D / reduction_factor

- **Houlsby**: two adapters per block, after attention's output projection W^O and after the FFN's
  down projection W_2;
- **Pfeiffer** (Pfeiffer et al. 2021, "AdapterFusion", §3): one per block, after the FFN only.

In the block (minilm's pre-LN GPT and post-LN BERT; Pfeiffer drops the first ``A``)::

    GPT:   x = x + Drop(A(Attn(LN(x))));    x = x + Drop(A(FFN(LN(x))))
    BERT:  x = LN(x + Drop(A(Attn(x))));    x = LN(x + Drop(A(FFN(x))))

The adapter wraps the projection (``attn.out``, ``ffn.down``), so it runs before the sublayer's
dropout; AdapterHub's runs after it -- the same function at evaluation, and the same parameters.
AdapterHub's Pfeiffer configuration also moves the residual around the block's LayerNorm
(``original_ln_before``); both variants here keep the placement above.

Defaults as AdapterHub (``configuration/adapter_config.py``): reduction factor 16, activation swish
(``x sigmoid(x)``) for Houlsby and relu for Pfeiffer.  Initialisation: W_down ~ N(0, init_std^2),
W_up = 0 and both biases 0, so ``A(h) = h`` and the adapted model starts equal to the base model
(Houlsby's near-identity initialisation, made exact).  What trains: the adapters (:class:`AdapterParam`),
the task head, and the LayerNorms if ``train_layer_norms`` (Houlsby et al. trained them; AdapterHub
does not).  Trainable count: (2 D m + m + D) per adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from minilm.config import at_least, opt, validate
from minilm.errors import UserError
from minilm.finetune.select import head_params, layer_norm_params, trainable
from minilm.finetune.slots import Slot, wrap
from minilm.models.layers import Dense, gelu
from minilm.models.transformer import backbone_of

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "swish": jax.nn.silu,  # x sigmoid(x)
    "relu": jax.nn.relu,
    "gelu": lambda x: gelu(x, False),  # exact
    "tanh": jnp.tanh,
}


class AdapterParam(nnx.Param):
    """The adapters' weights: ``trainable=AdapterParam`` trains them alone."""


@dataclass(frozen=True)
class HoulsbyConfig:
    """Houlsby adapters: after attention's output projection and after the FFN."""

    reduction_factor: int = opt(16, "bottleneck m = d_model / reduction_factor", check=at_least(1))
    activation: str = opt("swish", "f in the bottleneck", choices=tuple(ACTIVATIONS))
    train_layer_norms: bool = opt(False, "the LayerNorms train too (Houlsby et al. did; AdapterHub does not)")
    train_head: bool = opt(True, "the task head trains")
    PLACES: ClassVar[tuple[str, ...]] = ("attn", "ffn")

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class PfeifferConfig(HoulsbyConfig):
    """Pfeiffer adapters: after the FFN only; relu."""

    activation: str = opt("relu", "f in the bottleneck", choices=tuple(ACTIVATIONS))
    PLACES: ClassVar[tuple[str, ...]] = ("ffn",)


class Adapter(nnx.Module):
    """A projection followed by its adapter: ``h = base(x); h + W_up f(W_down h + b_down) + b_up``."""

    def __init__(self, base: Dense, m: int, activation: str, *, std: float, rngs: nnx.Rngs):
        d = base.kernel.shape[1]
        self.base = base
        self.down = Dense(d, m, bias=True, std=std, dtype=base.dtype, rngs=rngs, param=AdapterParam)
        self.up = Dense(m, d, bias=True, std=0.0, dtype=base.dtype, rngs=rngs, param=AdapterParam)  # = 0
        self.activation = activation

    def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        h = self.base(x, rngs=rngs)  # (..., D)
        return h + self.up(ACTIVATIONS[self.activation](self.down(h)))  # (..., D)


def apply_adapters(model: nnx.Module, cfg: HoulsbyConfig, *, rngs: nnx.Rngs, name: str | None = None) -> Any:
    """Insert the adapters ``cfg.PLACES`` names into every block; they (and the head) train.

    With ``name`` they go in that slot of each projection (:mod:`minilm.finetune.slots`; use
    :func:`minilm.finetune.add`) and the filter is the slot's; shared LayerNorms cannot train there."""
    backbone = backbone_of(model)
    d, std = backbone.cfg.d_model, backbone.cfg.init_std
    m = d // cfg.reduction_factor
    if m < 1:
        raise UserError(f"reduction_factor={cfg.reduction_factor}: larger than d_model={d}")
    if name is not None and cfg.train_layer_norms:
        raise UserError("train_layer_norms: the LayerNorms are shared by every named method; not with a name")

    def make(base: Dense) -> Adapter:
        return Adapter(base, m, cfg.activation, std=std, rngs=rngs)

    for block in backbone.blocks:
        if name is None and isinstance(block.ffn.down, Adapter):
            raise UserError("this model already has adapters")
        if "attn" in cfg.PLACES:
            wrap(block.attn, "out", name, make)
        wrap(block.ffn, "down", name, make)
    if name is not None:
        return Slot(name)
    paths = head_params(model) if cfg.train_head else frozenset()
    if cfg.train_layer_norms:
        paths |= layer_norm_params(model)
    return trainable(model, AdapterParam, paths)
