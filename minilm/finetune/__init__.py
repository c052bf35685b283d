"""Fine-tuning methods: adapt a pretrained backbone to a task by training all, some or none of it.

Every method is one file (as PEFT's ``tuners/<method>/``) with the paper, the equation and where it
sits in the block, a config dataclass (nested in a command's config, e.g. ``--lora.r=8``) and

    apply(model, cfg, *, rngs) -> filter

which changes the model in place -- wrapping modules (LoRA wraps a Dense, adapters the attention
output and FFN down projections, FL-tuning the FFN) or setting attention / embedding state (prefix,
prompt) -- and returns the NNX filter of what trains: the method's own ``nnx.Param`` subclass and
the base parameters it trains (the task head, by default).  Then

    fit(model, loss_fn, batches, train_cfg, run_dir, trainable=filter)

trains exactly those (every other parameter stays bit-identical: it gets neither gradient nor AdamW
state), :func:`trainable_count` counts them, and ``nnx.state(model, filter)`` is what to save for the
method: its new weights and the trained base weights, the task head among them.

========================  =========================================  ==================================
method                    file                                       trains
========================  =========================================  ==================================
full                      freeze.py                                  everything
freeze                    freeze.py                                  all but embeddings / bottom blocks
linear-probe              freeze.py                                  the head
adapter-houlsby           adapters.py  (Houlsby et al. 2019)         adapters after attention and FFN
adapter-pfeiffer          adapters.py  (Pfeiffer et al. 2021)        adapters after the FFN
prefix                    prefix.py    (Li & Liang 2021)             per-layer key/value prefixes
prompt                    prompt.py    (Lester et al. 2021)          P input vectors
partial-ffn               partial_ffn.py                             the FFNs of chosen blocks
fl                        fl.py        (Liu et al. 2022)             k new FFN units per block
lora                      lora.py      (Hu et al. 2021)              low-rank updates of projections
bitfit                    bitfit.py    (Ben Zaken et al. 2022)       biases
========================  =========================================  ==================================

(``prompt``'s apply also takes ``encode=`` -- the tokenizer's text -> ids -- for ``init=text``.)

LoRA on a GPT or BERT also saves in, and loads from, the Hugging Face ``peft`` format
(:mod:`minilm.finetune.peft_format`), for the model :func:`minilm.models.hf.save_hf` exports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from minilm.finetune.adapters import HoulsbyConfig, PfeifferConfig, apply_adapters
from minilm.finetune.bitfit import BitFitConfig, apply_bitfit
from minilm.finetune.fl import FLConfig, apply_fl
from minilm.finetune.freeze import (
    FreezeConfig,
    FullConfig,
    LinearProbeConfig,
    apply_freeze,
    apply_full,
    apply_linear_probe,
)
from minilm.finetune.lora import LoRAConfig, apply_lora
from minilm.finetune.partial_ffn import PartialFFNConfig, apply_partial_ffn
from minilm.finetune.prefix import PrefixConfig, apply_prefix
from minilm.finetune.prompt import PromptConfig, apply_prompt
from minilm.finetune.select import trainable_count


class Method(NamedTuple):
    config: type  # the method's config dataclass
    apply: Callable[..., Any]  # apply(model, cfg, *, rngs) -> filter


METHODS: dict[str, Method] = {
    "full": Method(FullConfig, apply_full),
    "freeze": Method(FreezeConfig, apply_freeze),
    "linear-probe": Method(LinearProbeConfig, apply_linear_probe),
    "adapter-houlsby": Method(HoulsbyConfig, apply_adapters),
    "adapter-pfeiffer": Method(PfeifferConfig, apply_adapters),
    "prefix": Method(PrefixConfig, apply_prefix),
    "prompt": Method(PromptConfig, apply_prompt),
    "partial-ffn": Method(PartialFFNConfig, apply_partial_ffn),
    "fl": Method(FLConfig, apply_fl),
    "lora": Method(LoRAConfig, apply_lora),
    "bitfit": Method(BitFitConfig, apply_bitfit),
}

__all__ = ["METHODS", "Method", "trainable_count"]
