"""FL-tuning: Liu et al. 2022, "FL-Tuning: Layer Tuning for Feed-Forward Network in Transformer".

The FFN of a block, ``FFN(x) = f(x W_1 + b_1) W_2 + b_2`` with d_ff hidden units, gets k new hidden
units: new columns W_1' (D, k) and b_1' (k) of the first layer and new rows W_2' (k, D) of the second,
and only those train.  Because f acts on each unit alone, the widened FFN is the old one plus the new
units' contribution::

    f(x [W_1 | W_1'] + [b_1 | b_1']) [W_2 ; W_2'] + b_2  =  FFN(x) + f(x W_1' + b_1') W_2'

which is how :class:`FLFeedForward` computes it, wrapping the block's FFN.  W_1' ~ N(0, init_std^2)
like the pretrained columns, b_1' = 0 and W_2' = 0, so the model starts equal to the base model.
Where: the FFNs of the chosen blocks (all of them by default, as in the paper).  What trains: the
new units (:class:`FLParam`) and the head.  Trainable count: (2 D k + k) per block (2 D k without
biases).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
from flax import nnx

from minilm.config import at_least, opt, validate
from minilm.errors import UserError
from minilm.finetune.select import block_indices, check_block_choice, head_params, trainable
from minilm.finetune.slots import Slot, wrap
from minilm.models.layers import Dense, gelu
from minilm.models.transformer import FeedForward, backbone_of


class FLParam(nnx.Param):
    """The new hidden units' weights: ``trainable=FLParam`` trains them alone."""


@dataclass(frozen=True)
class FLConfig:
    """k new hidden units in the FFN of the chosen blocks."""

    units: int = opt(32, "k: new hidden units per FFN", check=at_least(1))
    last: int = opt(
        -1, "the top k blocks get units (-1 = every block, 0 = none besides `blocks`)", check=at_least(-1)
    )
    blocks: tuple[int, ...] = opt((), "these blocks too (0 = the bottom one, -1 = the top one)")
    train_head: bool = opt(True, "the task head trains")

    def __post_init__(self) -> None:
        validate(self)

    def check(self) -> None:
        check_block_choice(self.last, self.blocks)


class FLFeedForward(nnx.Module):
    """A FeedForward with k more hidden units: ``base(x) + f(x W_1' + b_1') W_2'``."""

    def __init__(self, base: FeedForward, k: int, *, std: float, rngs: nnx.Rngs):
        d = base.up.kernel.shape[0]
        bias, dtype = base.up.bias is not None, base.up.dtype
        self.base = base
        self.up = Dense(d, k, bias=bias, std=std, dtype=dtype, rngs=rngs, param=FLParam)  # W_1', b_1'
        self.down = Dense(k, d, bias=False, std=0.0, dtype=dtype, rngs=rngs, param=FLParam)  # W_2' = 0
        self.approximate = base.approximate

    def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        return self.base(x, rngs=rngs) + self.down(gelu(self.up(x), self.approximate))  # (..., D)


def apply_fl(model: nnx.Module, cfg: FLConfig, *, rngs: nnx.Rngs, name: str | None = None) -> Any:
    """Widen the chosen blocks' FFNs by ``cfg.units``; the new units (and the head) train.

    With ``name`` they go in that slot of each FFN (:mod:`minilm.finetune.slots`; use
    :func:`minilm.finetune.add`) and the filter is the slot's."""
    backbone = backbone_of(model)
    std = backbone.cfg.init_std
    for i in block_indices(backbone, cfg.last, cfg.blocks):
        block = backbone.blocks[i]
        if name is None and isinstance(block.ffn, FLFeedForward):
            raise UserError("this model already has FL-tuning units")
        wrap(block, "ffn", name, lambda base: FLFeedForward(base, cfg.units, std=std, rngs=rngs))
    if name is not None:
        return Slot(name)
    return trainable(model, FLParam, head_params(model) if cfg.train_head else ())
