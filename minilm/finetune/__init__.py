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

**Several methods on one base** (:mod:`minilm.finetune.slots`): :func:`add` applies a LoRA, adapter or
FL-tuning method under a name -- in its own slot of every place it wraps, with its own task head --
and makes it the active one; ``with use(model, name)`` chooses another for some calls, ``None`` the
base.  ``add`` returns the slot's filter: training it leaves the other methods bit-identical.

LoRA on a GPT or BERT also saves in, and loads from, the Hugging Face ``peft`` format
(:mod:`minilm.finetune.peft_format`), for the model :func:`minilm.models.hf.save_hf` exports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from flax import nnx

from minilm.errors import UserError
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
from minilm.finetune.slots import Slot, activate, check_name, use, wrap
from minilm.models.heads import TaskHead
from minilm.models.layers import Dense
from minilm.models.transformer import backbone_of


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

# methods that wrap modules of the base with their own, so several can share one base under names
NAMED = ("adapter-houlsby", "adapter-pfeiffer", "fl", "lora")


def add(
    model: nnx.Module, name: str, method: str, cfg: Any, *, rngs: nnx.Rngs, n_out: int | None = None
) -> Slot:
    """Apply ``method`` under ``name`` and make it the active one; returns what it trains (its slot).

    On a task head (a classifier) the method gets its own head, ``n_out`` outputs (default: as the
    model's head), if ``cfg.train_head``; otherwise it reads out through the model's (frozen) head."""
    if method not in NAMED:
        raise UserError(f"method={method!r} cannot share a base under a name; these can: {', '.join(NAMED)}")
    check_name(model, name)
    METHODS[method].apply(model, cfg, rngs=rngs, name=name)
    if isinstance(model, TaskHead) and cfg.train_head:
        d, std = backbone_of(model).cfg.d_model, backbone_of(model).cfg.init_std

        def head(base: Dense) -> Dense:
            width = base.kernel.shape[1] if n_out is None else n_out
            return Dense(d, width, bias=True, std=std, dtype="float32", rngs=rngs)

        wrap(model, "head", name, head)
    activate(model, name)
    return Slot(name)


__all__ = ["METHODS", "NAMED", "Method", "add", "trainable_count", "use"]
