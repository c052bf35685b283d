"""Partial-FFN tuning: train only the position-wise FFN sublayers of chosen blocks.

Each block's FFN (Vaswani et al. 2017 §3.3), ``FFN(x) = f(x W_1 + b_1) W_2 + b_2``, holds two
thirds of the block's parameters and acts as a key-value memory (Geva et al. 2021, "Transformer
Feed-Forward Layers Are Key-Value Memories"); here W_1, b_1, W_2, b_2 of the chosen blocks train (the
top ``last`` ones and/or a ``blocks`` list) and everything else -- embeddings, attention, LayerNorms,
the other blocks -- stays frozen.  Nothing in the model changes: the method is the filter.  With
the head, the trainable count is (2 D d_ff + d_ff + D) per chosen block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flax import nnx

from minilm.config import at_least, opt, validate
from minilm.finetune.select import (
    base_params,
    block_indices,
    block_prefix,
    check_block_choice,
    head_params,
    trainable,
    under,
)
from minilm.models.transformer import backbone_of


@dataclass(frozen=True)
class PartialFFNConfig:
    """Which blocks' FFNs train."""

    last: int = opt(
        1, "the FFNs of the top k blocks train (-1 = every block, 0 = only `blocks`)", check=at_least(-1)
    )
    blocks: tuple[int, ...] = opt((), "these blocks' FFNs too (0 = the bottom one, -1 = the top one)")
    train_head: bool = opt(True, "the task head trains")

    def __post_init__(self) -> None:
        validate(self)

    def check(self) -> None:
        check_block_choice(self.last, self.blocks)


def apply_partial_ffn(model: nnx.Module, cfg: PartialFFNConfig, *, rngs: nnx.Rngs) -> Any:
    """The chosen blocks' FFN parameters (and the head) train."""
    del rngs  # no new parameters
    chosen = block_indices(backbone_of(model), cfg.last, cfg.blocks)
    paths = base_params(model, under(*(block_prefix(model, i, "ffn") for i in chosen)))
    return trainable(model, paths=paths | (head_params(model) if cfg.train_head else frozenset()))
