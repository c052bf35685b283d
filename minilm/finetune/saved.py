"""Saving and loading a fine-tuned model as its method's weights only: what PEFT users lose most often
(the task head left out, so a reloaded model predicts at chance; reloaded weights silently frozen) cannot
happen here.

    tuned = build_with(init, method, method_cfg, head, seed)   # any task head (minilm.tasks)
    tuned = build(init, method, method_cfg, labels, pooling, seed)   # a sequence classifier
    save_method(folder, tuned)                      # method.safetensors + method.json
    loaded = load_method(folder, trains=True)       # the base, the method, its weights, the head
    meta, method_cfg = read_meta(folder); restore(folder, rebuilt, trains=...)   # any task's model

``method.safetensors`` holds ``nnx.state(model, trainable)``: the method's new parameters *and* the base
parameters it trained -- the task head always among them (a prefix trained through its MLP is folded
into plain prefixes first, :func:`minilm.finetune.prefix.fold`).  ``method.json`` says how to rebuild
the rest: the backbone it started from (``init``: a minilm or Hugging Face folder), the method and its
settings, the head (labels, pooling; a task adds its name and options, :mod:`minilm.tasks`).
``load_method`` rebuilds the classifier from ``init``, applies the method, loads the saved weights, and
says in its result what trains: the method's filter with ``trains=True`` (training continues where it
stopped), nothing with ``trains=False`` (inference).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from flax import nnx
from tokenizers import Tokenizer

from minilm.config import config_from_dict
from minilm.data.formats import read_json
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.finetune import METHODS
from minilm.finetune.prefix import fold
from minilm.models.heads import SequenceClassifier
from minilm.models.io import load_model
from minilm.models.transformer import backbone_of
from minilm.train import checkpoint
from minilm.train.distributed import is_lead

WEIGHTS, CONFIG = "method.safetensors", "method.json"


class Finetuned(NamedTuple):
    model: SequenceClassifier
    tokenizer: Tokenizer
    trainable: Any  # the NNX filter of what trains: the method's, or nnx.Nothing (frozen)
    meta: dict[str, Any]  # method.json


def build_with(
    init: str,
    method: str,
    method_cfg: Any,
    head: Callable[[nnx.Module, nnx.Rngs], tuple[nnx.Module, dict[str, Any]]],
    seed: int,
) -> Finetuned:
    """Any task's model: the backbone at ``init`` given to ``head`` (backbone, rngs -> the model with
    its task head, and what to record about the head in ``method.json``), then ``method`` applied."""
    loaded = load_model(init)
    model, head_meta = head(loaded.model, nnx.Rngs(seed))
    extra = {"encode": lambda text: loaded.tokenizer.encode(text, add_special_tokens=False).ids}
    apply = METHODS[method].apply
    trainable = apply(model, method_cfg, rngs=nnx.Rngs(seed + 1), **(extra if method == "prompt" else {}))
    meta = {
        "init": str(Path(init).resolve()) if not init.startswith("hf:") else init,
        "method": method,
        "config": dataclasses.asdict(method_cfg),
        **head_meta,
    }
    return Finetuned(model, loaded.tokenizer, trainable, meta)


def build(init: str, method: str, method_cfg: Any, labels: list[str], pooling: str, seed: int) -> Finetuned:
    """The classifier: the backbone at ``init``, a new head on ``pooling`` for ``labels`` (``auto``: the
    last token for a causal backbone, [CLS] for a BERT), ``method`` applied."""

    def head(backbone: nnx.Module, rngs: nnx.Rngs) -> tuple[SequenceClassifier, dict[str, Any]]:
        how = ("last" if backbone_of(backbone).cfg.causal else "cls") if pooling == "auto" else pooling
        model = SequenceClassifier(backbone, len(labels), pooling=how, rngs=rngs)
        return model, {"labels": list(labels), "pooling": how}

    return build_with(init, method, method_cfg, head, seed)


def save_method(folder: Path, tuned: Finetuned) -> None:
    """``method.safetensors`` (the trained weights, head included) + ``method.json``, written atomically
    by process 0.  A reparameterised prefix is folded first (the model keeps working the same)."""
    fold(tuned.model)
    if not is_lead():
        return
    folder.mkdir(parents=True, exist_ok=True)
    state = nnx.state(tuned.model, tuned.trainable)
    checkpoint.save_arrays(folder / WEIGHTS, checkpoint.flatten(state))
    atomic_write_bytes(folder / CONFIG, json.dumps(tuned.meta, indent=2).encode())


def read_meta(folder: str | Path) -> tuple[dict[str, Any], Any]:
    """``method.json`` of ``folder``, checked, and the method's config as it rebuilds the saved
    weights (a prefix saved folded: plain prefixes, not the MLP)."""
    meta = read_json(Path(folder) / CONFIG)
    where = str(Path(folder) / CONFIG)
    if not isinstance(meta, dict) or meta.get("method") not in METHODS:
        raise UserError(f"{where}: not a fine-tuned model's settings (no known 'method')")
    for key, kind in (("init", str), ("config", dict)):
        if not isinstance(meta.get(key), kind):
            raise UserError(f"{where}: key {key!r} missing or not a {kind.__name__}")
    method_cfg = config_from_dict(METHODS[meta["method"]].config, meta["config"], where)
    if meta["method"] == "prefix":
        method_cfg = dataclasses.replace(method_cfg, reparam=False)
    return meta, method_cfg


def restore(folder: str | Path, tuned: Finetuned, *, trains: bool) -> Finetuned:
    """``tuned`` (rebuilt as it was saved) with the weights saved in ``folder``; ``trains`` says whether
    they train when handed to ``fit`` -- the returned ``trainable`` -- or stay frozen (``nnx.Nothing``)."""
    path = Path(folder) / WEIGHTS
    arrays, _ = checkpoint.load_arrays(path)
    state = nnx.state(tuned.model, tuned.trainable)
    nnx.update(tuned.model, checkpoint.unflatten(state, arrays, "", str(path)))
    return tuned._replace(trainable=tuned.trainable if trains else nnx.Nothing)


def load_method(folder: str | Path, *, trains: bool) -> Finetuned:
    """The classifier saved in ``folder``; ``trains`` as in :func:`restore`."""
    meta, method_cfg = read_meta(folder)
    for key, kind in (("labels", list), ("pooling", str)):
        if not isinstance(meta.get(key), kind):
            raise UserError(f"{Path(folder) / CONFIG}: key {key!r} missing or not a {kind.__name__}")
    tuned = build(meta["init"], meta["method"], method_cfg, meta["labels"], meta["pooling"], seed=0)
    return restore(folder, tuned._replace(meta=meta), trains=trains)
