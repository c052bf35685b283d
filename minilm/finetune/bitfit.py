"""BitFit: Ben Zaken, Ravfogel & Goldberg 2022, "BitFit: Simple Parameter-efficient Fine-tuning for
Transformer-based Masked Language-models", §3.1.

Only the bias terms train (and the task head).  In a block (their notation, BERT's post-LN order)::

    Q, K, V = x W^{q,k,v} + b^{q,k,v};   h_2 = Drop(h_1 W^o + b^o);   h_3 = g_1 ⊙ LN(h_2 + x) + b_{LN1}
    h_4 = GELU(h_3 W_1 + b_1);           h_5 = Drop(h_4 W_2 + b_2);   out = g_2 ⊙ LN(h_5 + h_3) + b_{LN2}

every b -- of the projections and of the LayerNorms -- trains; the weights and LayerNorm gains g
stay frozen.  Nothing in the model changes: the method is the filter.  Count: 7 D + d_ff per block
(q, k, v, o: 4 D; FFN: d_ff + D; two LayerNorms: 2 D), plus D for BERT's embedding LayerNorm or
GPT's final one, plus the head; a model built with ``bias=False`` has no bias to train.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flax import nnx

from minilm.config import opt, validate
from minilm.finetune.select import backbone_path, base_params, head_params, trainable, under


@dataclass(frozen=True)
class BitFitConfig:
    """The biases (and the head) train."""

    train_head: bool = opt(True, "the task head trains")

    def __post_init__(self) -> None:
        validate(self)


def apply_bitfit(model: nnx.Module, cfg: BitFitConfig, *, rngs: nnx.Rngs) -> Any:
    """Every bias of the backbone (and the head) trains."""
    del rngs  # no new parameters
    in_backbone = under(backbone_path(model))
    biases = base_params(model, lambda path: in_backbone(path) and path[-1] == "bias")
    return trainable(model, paths=biases | (head_params(model) if cfg.train_head else frozenset()))
