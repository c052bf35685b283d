"""LoRA: Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", §4.1, eq. (3)::

    h = W_0 x + ΔW x = W_0 x + (alpha / r) B A x,    B (d_out, r), A (r, d_in), r << min(d_in, d_out)

written here for row vectors, ``y = x W_0 + (alpha / r) (x A) B`` with A (d_in, r) and B (r, d_out).
W_0 stays frozen; A starts random (PEFT's kaiming-uniform: U(-1/sqrt(d_in), 1/sqrt(d_in))) and B at
0, so ΔW = 0 and the adapted model starts equal to the base model.  Dropout acts on the input of the
LoRA path only (PEFT's ``lora_dropout``): ``(alpha / r) Drop(x) A B``.

Where: :class:`LoRADense` wraps a projection of every block -- ``q``, ``k``, ``v`` (the query, key
and value slices of attention's fused (D, 3D) projection), ``o`` (attention's output), ``up`` and
``down`` (the FFN).  **The fused projection gets one LoRA per chosen slice** (its own A_i, B_i, the
update added to that slice's D output columns), not one LoRA on the whole (D, 3D) matrix: it is what
Hu et al. adapt (W_q and W_v, §7.1) and what PEFT does on BERT's separate query/value layers (the
anchor's LoRA), with the same counts, 2 D r per slice.  (PEFT on GPT-2's fused ``c_attn`` shares one
A among q, k and v; LoRAs on the q and v slices equal a fused LoRA of rank 2 r whose B is block-
shaped: :mod:`minilm.finetune.peft_format` writes them in that form, for peft.)

Merging (§4.1, "no additional inference latency"): ``W = W_0 + (alpha / r) A B``.  :func:`merge` is
idempotent -- a merged layer is not merged again, so the update can never be added twice -- and a
merged layer skips the LoRA path; :func:`unmerge` subtracts the update (W_0 again up to rounding,
about one ulp).  Training a merged layer is refused: A and B would get no gradient.

Trainable count: (d_in r + r d_out') per adapted projection (d_out' = D for a q/k/v slice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from minilm.config import ConfigError, above, at_least, in_range, opt, validate
from minilm.errors import UserError
from minilm.finetune.select import head_params, trainable
from minilm.finetune.slots import Slot, routed, wrap
from minilm.models.layers import Dense, dropout, uniform
from minilm.models.transformer import backbone_of

TARGETS = ("q", "k", "v", "o", "up", "down")


class LoRAParam(nnx.Param):
    """LoRA's A and B: ``trainable=LoRAParam`` trains them alone."""


@dataclass(frozen=True)
class LoRAConfig:
    """LoRA on chosen projections of every block (defaults as the anchor: r 8, alpha 16, dropout 0.1, q v)."""

    r: int = opt(8, "rank of the update", check=at_least(1))
    alpha: float = opt(16.0, "the update is scaled by alpha / r", check=above(0))
    dropout: float = opt(0.1, "dropout on the LoRA path's input", check=in_range(0, 1, high_open=True))
    targets: tuple[str, ...] = opt(
        ("q", "v"), "projections to adapt: q, k, v (slices of the fused qkv), o, up, down", choices=TARGETS
    )
    train_head: bool = opt(True, "the task head trains")

    def __post_init__(self) -> None:
        validate(self)

    def check(self) -> None:
        if not self.targets or len(set(self.targets)) != len(self.targets):
            raise ConfigError("targets", "name each projection once, at least one")


class LoRADense(nnx.Module):
    """A Dense W_0 (d_in, d_out) whose output is ``n_slices`` equal slices, with a LoRA on ``slices``.

    ``a`` (K, d_in, r) and ``b`` (K, r, d_out / n_slices) for the K chosen slices."""

    def __init__(
        self,
        base: Dense,
        slices: tuple[int, ...],
        n_slices: int,
        cfg: LoRAConfig,
        *,
        rngs: nnx.Rngs,
    ):
        d_in, d_out = base.kernel.shape
        self.base = base
        self.a = LoRAParam(uniform(rngs, (len(slices), d_in, cfg.r), 1.0 / math.sqrt(d_in)))
        self.b = LoRAParam(jnp.zeros((len(slices), cfg.r, d_out // n_slices), jnp.float32))
        self.slices, self.n_slices = slices, n_slices
        self.scale = cfg.alpha / cfg.r
        self.rate = cfg.dropout
        self.merged = False

    def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        y = self.base(x, rngs=rngs)  # (..., d_out)
        if self.merged:
            if rngs is not None:
                raise UserError("LoRA is merged into the base weights: unmerge() it before training")
            return y
        lead, d_in = x.shape[:-1], x.shape[-1]
        dtype = self.base.dtype
        h = dropout(x, self.rate, rngs).reshape(-1, d_in).astype(dtype)  # (N, d_in)
        z = jnp.einsum("nd,kdr->knr", h, self.a[...].astype(dtype))  # (K, N, r)
        u = self.scale * jnp.einsum("knr,krw->knw", z, self.b[...].astype(dtype))  # (K, N, w)
        return y + self._spread(u).reshape(*lead, y.shape[-1])

    def delta(self) -> jax.Array:
        """ΔW = (alpha / r) A B laid out as the base kernel, (d_in, d_out) (zero on unchosen slices)."""
        return self._spread(self.scale * jnp.einsum("kdr,krw->kdw", self.a[...], self.b[...]))

    def _spread(self, per_slice: jax.Array) -> jax.Array:
        """(K, M, w) on the chosen slices -> (M, n_slices w), zeros elsewhere."""
        _, m, w = per_slice.shape
        pieces = [jnp.zeros((m, w), per_slice.dtype)] * self.n_slices
        for j, s in enumerate(self.slices):
            pieces[s] = per_slice[j]
        return jnp.concatenate(pieces, axis=1)

    def merge(self) -> None:
        """W_0 <- W_0 + ΔW, once (a merged layer stays as it is)."""
        if not self.merged:
            self.base.kernel[...] = self.base.kernel[...] + self.delta()
            self.merged = True

    def unmerge(self) -> None:
        """W_0 <- W_0 - ΔW, if merged."""
        if self.merged:
            self.base.kernel[...] = self.base.kernel[...] - self.delta()
            self.merged = False


def lora_layers(model: nnx.Module) -> list[LoRADense]:
    return [m for _, m in nnx.iter_modules(model) if isinstance(m, LoRADense)]


def merge(model: nnx.Module) -> None:
    """Fold every LoRA into its base weights (idempotent).  Named LoRAs (:mod:`minilm.finetune.slots`)
    share their base weights with each other and with the base model: merging is refused."""
    if any(isinstance(m, LoRADense) for r in routed(model) for m in r.slots.values()):
        raise UserError("named LoRAs share the base weights: merging one would change the others")
    for layer in lora_layers(model):
        layer.merge()


def unmerge(model: nnx.Module) -> None:
    """Take every merged LoRA back out of its base weights."""
    for layer in lora_layers(model):
        layer.unmerge()


def apply_lora(model: nnx.Module, cfg: LoRAConfig, *, rngs: nnx.Rngs, name: str | None = None) -> Any:
    """Wrap ``cfg.targets`` of every block in LoRA; A, B (and the head) train.

    With ``name`` the LoRAs go in that slot of each projection (:mod:`minilm.finetune.slots`; use
    :func:`minilm.finetune.add`, which also gives the slot its head) and the filter is the slot's."""
    if name is None and lora_layers(model):
        raise UserError("this model already has LoRA layers")
    qkv = tuple(i for i, target in enumerate("qkv") if target in cfg.targets)
    for block in backbone_of(model).blocks:
        if qkv:
            wrap(block.attn, "qkv", name, lambda base: LoRADense(base, qkv, 3, cfg, rngs=rngs))
        if "o" in cfg.targets:
            wrap(block.attn, "out", name, lambda base: LoRADense(base, (0,), 1, cfg, rngs=rngs))
        for proj in ("up", "down"):
            if proj in cfg.targets:
                wrap(block.ffn, proj, name, lambda base: LoRADense(base, (0,), 1, cfg, rngs=rngs))
    if name is not None:
        return Slot(name)
    return trainable(model, LoRAParam, head_params(model) if cfg.train_head else ())
