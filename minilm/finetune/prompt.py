"""Prompt tuning: Lester, Al-Rfou & Constant 2021, "The Power of Scale for Parameter-Efficient Prompt
Tuning", §2.

The embedded input X_e (T, D) gets P learned rows in front, ``[P_e; X_e]`` (P + T, D), and only P_e
(and the task head) trains.  Where: one hook in the embedding, :meth:`Transformer.set_prompt`: the
prompt rows get positions 0..P-1 (and token type 0) like tokens, the real tokens' positions shift by
P, the attention mask gains P ones, and the outputs at the P virtual positions are dropped -- so
pooling (last, [CLS], mean) and losses see the real tokens only, with no change to them.  (PEFT's
BERT classifier pools the first row, a virtual token, as its "[CLS]"; here [CLS] is the real one.)

Initialisation (§3.2): ``random``, U(-0.5, 0.5); ``vocab``, rows of the token embedding sampled
without repetition (Lester et al. sample among the 5,000 most frequent tokens; the vocabulary's
frequencies are not known here, so uniformly); ``text``, the embeddings of a text's tokens (their
class-label init), repeated or cut to P as PEFT's TEXT init does.  Trainable count: P D.
Cached decoding works: the model's ``init_cache`` prefills the P virtual tokens' keys and values, and
the real tokens continue at positions P, P+1, ... as in an uncached call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.config import ConfigError, at_least, opt, validate
from minilm.errors import UserError
from minilm.finetune.select import head_params, trainable
from minilm.models.transformer import backbone_of

INITS = ("vocab", "random", "text")


class PromptParam(nnx.Param):
    """The soft prompt (P, D): ``trainable=PromptParam`` trains it alone."""


@dataclass(frozen=True)
class PromptConfig:
    """P soft-prompt vectors before every input (the anchor uses 20)."""

    length: int = opt(20, "P: virtual tokens", check=at_least(1))
    init: str = opt(
        "vocab", "initial vectors: sampled vocabulary rows, U(-0.5, 0.5), or a text's tokens", choices=INITS
    )
    text: str = opt("", "the text whose token embeddings start the prompt (init=text)")
    train_head: bool = opt(True, "the task head trains")

    def __post_init__(self) -> None:
        validate(self)

    def check(self) -> None:
        if self.init == "text" and not self.text:
            raise ConfigError("text", "is required with {init}")
        if self.init != "text" and self.text:
            raise ConfigError("text", "is read only with init=text, not {init}")


def apply_prompt(
    model: nnx.Module,
    cfg: PromptConfig,
    *,
    rngs: nnx.Rngs,
    encode: Callable[[str], Sequence[int]] | None = None,
) -> Any:
    """Give the backbone a trainable soft prompt; it (and the head) trains.

    ``encode`` (text -> token ids, the model's tokenizer) is needed for ``init=text``."""
    backbone = backbone_of(model)
    if backbone.prompt is not None:
        raise UserError("this model already has a soft prompt")
    p, table = cfg.length, backbone.tok_emb.embedding[...]  # (V, D)
    if cfg.init == "random":
        prompt = jax.random.uniform(rngs.params(), (p, table.shape[1]), jnp.float32, -0.5, 0.5)
    elif cfg.init == "vocab":
        ids = jax.random.choice(rngs.params(), table.shape[0], (p,), replace=p > table.shape[0])
        prompt = table[ids]
    else:
        if encode is None:
            raise UserError("init=text needs the model's tokenizer")
        ids = list(encode(cfg.text))
        if not ids:
            raise UserError(f"text={cfg.text!r} has no tokens")
        prompt = table[np.resize(np.asarray(ids), p)]  # repeated or cut to P
    backbone.set_prompt(PromptParam(prompt))
    return trainable(model, PromptParam, head_params(model) if cfg.train_head else ())
