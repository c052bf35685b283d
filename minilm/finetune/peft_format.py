"""LoRA in the Hugging Face ``peft`` format: minilm's LoRA on a GPT or BERT, written so that ``peft`` loads
it onto the model :func:`minilm.models.hf.save_hf` exports (``GPT2LMHeadModel`` / ``BertForMaskedLM``) and
gives the same logits; and read back.  The base peft loads it onto is the Hugging Face folder minilm
loaded the model from, or ``save_hf``'s export of the model made before ``apply_lora``.

    save_peft(folder, model, cfg)    # adapter_model.safetensors + adapter_config.json
    load_peft(folder, model)         # into the LoRA layers apply_lora(model, cfg) made

LoRA (Hu et al. 2021, eq. (3)) in peft's column-vector form, per adapted module::

    h = W_0 x + (lora_alpha / r) B A x,    A = lora_A.weight (r, d_in),  B = lora_B.weight (d_out, r)

**Format** (peft 0.21 reads it with ``PeftModel.from_pretrained(base, folder)``):

- ``adapter_model.safetensors``: ``base_model.model.<module>.lora_A.weight`` (r, d_in) and
  ``...lora_B.weight`` (d_out, r), float32, metadata ``{"format": "pt"}``; ``<module>`` is the module's
  path in the head model, e.g. ``bert.encoder.layer.0.attention.self.query`` or
  ``transformer.h.0.attn.c_attn``.  These are minilm's ``A^T`` and ``B^T`` (minilm computes ``x A B``
  on row vectors), the same for ``nn.Linear`` and GPT-2's ``Conv1D`` (peft's ``fan_in_fan_out`` only
  changes how it merges).
- ``adapter_config.json``: ``peft_type: "LORA"``, ``r``, ``lora_alpha``, ``lora_dropout``, ``bias:
  "none"``, ``task_type`` (``CAUSAL_LM`` for GPT-2; none for a masked LM, which peft has no task for),
  ``fan_in_fan_out`` (true for GPT-2's Conv1D), ``rank_pattern`` / ``alpha_pattern`` (below) and
  ``target_modules``: the exact module paths.  A list of suffixes would be peft's usual form, but peft
  matches ``output.dense`` (BERT's FFN down projection) also inside ``attention.output.dense``, and
  ``c_proj`` in both ``attn.c_proj`` and ``mlp.c_proj``; exact paths select what minilm adapted.

**Mapping.**  Projections map as the weight tables of :mod:`minilm.models.hf` say: ``o`` is
``attention.output.dense`` / ``attn.c_proj``, ``up`` ``intermediate.dense`` / ``mlp.c_fc``, ``down``
``output.dense`` / ``mlp.c_proj``.  minilm's LoRA on the fused (D, 3D) qkv projection has its own A_i, B_i
per chosen q/k/v slice (:mod:`minilm.finetune.lora`):

- BERT keeps ``query``, ``key``, ``value`` separate: slice i is that module's LoRA, exactly (r, alpha).
- GPT-2's ``c_attn`` is the fused projection, and peft puts *one* LoRA on it.  k chosen slices are
  written as one LoRA of **rank k r** whose A stacks the slices' A's and whose B is block-structured,
  with ``lora_alpha`` k alpha (so its scale is alpha / r again).  For q and v (k = 2)::

      A = [A_q^T; A_v^T]  (2r, D),    B = [[B_q^T, 0], [0, 0], [0, B_v^T]]  (3D, 2r)

      (2 alpha / 2r) B A x = (alpha / r) [B_q^T A_q^T x;  0;  B_v^T A_v^T x]

  -- minilm's update, slice by slice.  The rank and alpha go in ``rank_pattern`` / ``alpha_pattern``
  under the ``c_attn`` paths (other modules keep r, alpha).  A LoRA peft trained on ``c_attn`` shares
  one A among q, k, v and has a dense B: :func:`load_peft` reads it only where B is block-structured.

Inference is equal (the tests compare logits with peft's).  Training differs in one detail: peft draws
a dropout mask per module, minilm one per projection (BERT's query and value LoRAs share it here).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
import safetensors.numpy
from flax import nnx

from minilm.data.formats import read_json
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.finetune.lora import LoRAConfig, LoRADense
from minilm.models.hf import export_layout
from minilm.models.transformer import backbone_of

WEIGHTS, CONFIG = "adapter_model.safetensors", "adapter_config.json"
TASK_TYPES = {"gpt2": "CAUSAL_LM", "bert": None}
PROJECTIONS = (("attn", "qkv"), ("attn", "out"), ("ffn", "up"), ("ffn", "down"))  # what LoRA may wrap


class PeftModule(NamedTuple):
    """One Hugging Face module with a LoRA: which of its minilm layer's slices it holds."""

    name: str  # its path in the head model, e.g. "transformer.h.0.attn.c_attn"
    layer: LoRADense
    slices: tuple[int, ...]  # the layer's output slices the module computes (q, k, v for c_attn; q for query)
    chosen: tuple[int, ...]  # indices into layer.a / layer.b of its LoRA slices, in order; k = len(chosen)


def peft_modules(model: nnx.Module) -> tuple[str, list[PeftModule]]:
    """The export's architecture and every Hugging Face module that carries a LoRA of ``model``."""
    arch, rows, prefix = export_layout(model)
    hf_names = {ours: names for ours, names, _ in rows}
    modules = []
    for i, block in enumerate(backbone_of(model).blocks):
        for part, proj in PROJECTIONS:
            layer = getattr(getattr(block, part), proj)
            if not isinstance(layer, LoRADense):
                continue
            names = hf_names[f"backbone/blocks/{i}/{part}/{proj}/kernel"]  # one fused, or one per slice
            width = layer.n_slices // len(names)
            for n, name in enumerate(names):
                slices = tuple(range(n * width, (n + 1) * width))
                chosen = tuple(j for j, s in enumerate(layer.slices) if s in slices)
                if chosen:
                    modules.append(PeftModule(prefix + name.removesuffix(".weight"), layer, slices, chosen))
    if not modules:
        raise UserError("the model has no LoRA layers (apply LoRA first)")
    return arch, modules


def _blocks(m: PeftModule) -> Iterator[tuple[int, slice, slice]]:
    """Each chosen slice j: its rows of the module's A (= its columns of B) and its rows of B."""
    r, w = m.layer.a.shape[-1], m.layer.b.shape[-1]
    for c, j in enumerate(m.chosen):
        p = m.slices.index(m.layer.slices[j])
        yield j, slice(c * r, (c + 1) * r), slice(p * w, (p + 1) * w)


def _keys(m: PeftModule) -> tuple[str, str]:
    return f"base_model.model.{m.name}.lora_A.weight", f"base_model.model.{m.name}.lora_B.weight"


# ------------------------------------------------------------------------------------------- saving


def save_peft(folder: str | Path, model: nnx.Module, cfg: LoRAConfig) -> None:
    """Write the LoRA that ``apply_lora(model, cfg)`` put on a GPT or BERT in peft's format (module doc)."""
    arch, modules = peft_modules(model)
    tensors, wider = {}, {}
    for m in modules:
        a, b = np.asarray(m.layer.a[...]), np.asarray(m.layer.b[...])  # (K, d_in, r), (K, r, w)
        if a.shape[-1] != cfg.r or m.layer.scale != cfg.alpha / cfg.r:
            raise UserError(f"the model's LoRA has r={a.shape[-1]}, scale {m.layer.scale}: not the config's")
        k = len(m.chosen)
        big_a = np.zeros((k * cfg.r, a.shape[1]), np.float32)  # (k r, d_in)
        big_b = np.zeros((len(m.slices) * b.shape[-1], k * cfg.r), np.float32)  # (d_out, k r)
        for j, ranks, rows in _blocks(m):
            big_a[ranks] = a[j].T
            big_b[rows, ranks] = b[j].T
        key_a, key_b = _keys(m)
        tensors[key_a], tensors[key_b] = big_a, big_b
        if k > 1:
            wider[m.name] = k
    config = {
        "peft_type": "LORA",
        "task_type": TASK_TYPES[arch],
        "base_model_name_or_path": None,
        "r": cfg.r,
        "lora_alpha": cfg.alpha,
        "lora_dropout": cfg.dropout,
        "target_modules": [m.name for m in modules],
        "rank_pattern": {name: k * cfg.r for name, k in wider.items()},
        "alpha_pattern": {name: k * cfg.alpha for name, k in wider.items()},
        "fan_in_fan_out": arch == "gpt2",
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
        "init_lora_weights": True,
        "inference_mode": True,
        "modules_to_save": None,
    }
    folder = Path(folder)
    atomic_write_bytes(folder / WEIGHTS, safetensors.numpy.save(tensors, metadata={"format": "pt"}))
    atomic_write_bytes(folder / CONFIG, (json.dumps(config, indent=2) + "\n").encode())


# ------------------------------------------------------------------------------------------ loading


def load_peft(folder: str | Path, model: nnx.Module) -> None:
    """Set the A and B of ``model``'s LoRA layers (``apply_lora`` with the adapter's targets, r and
    alpha) from a peft LoRA folder; every module and tensor must match one to one."""
    folder = Path(folder)
    where, weights = folder / CONFIG, folder / WEIGHTS
    config = read_json(where)
    if not isinstance(config, dict) or config.get("peft_type") != "LORA":
        raise UserError(f"{where}: not a peft LoRA adapter (peft_type must be LORA)")
    if config.get("bias", "none") != "none" or config.get("use_dora") or config.get("modules_to_save"):
        raise UserError(f"{where}: trained biases, DoRA and modules_to_save have no place in minilm's LoRA")
    try:
        tensors = safetensors.numpy.load_file(str(weights))
    except Exception as e:
        raise UserError(f"{weights}: not a readable safetensors file ({e})") from None
    _, modules = peft_modules(model)
    wanted = {key for m in modules for key in _keys(m)}
    if set(tensors) != wanted:
        odd = sorted(set(tensors) ^ wanted)[0]
        raise UserError(f"{weights}: {odd} is {'missing' if odd in wanted else 'not in the model'}")
    for m in modules:
        if m.layer.merged:
            raise UserError("the model's LoRA is merged: unmerge() it before loading")
        big_a, big_b = (tensors[key].astype(np.float32) for key in _keys(m))  # (k r, d_in), (d_out, k r)
        a, b = np.array(m.layer.a[...]), np.array(m.layer.b[...])  # (K, d_in, r), (K, r, w)
        rank = len(m.chosen) * a.shape[-1]
        shapes = ((rank, a.shape[1]), (len(m.slices) * b.shape[-1], rank))
        if (big_a.shape, big_b.shape) != shapes:
            raise UserError(f"{weights}: {m.name} has A, B {big_a.shape}, {big_b.shape}; minilm's {shapes}")
        r = _pattern(config, "rank_pattern", "r", m.name, where)
        alpha = _pattern(config, "alpha_pattern", "lora_alpha", m.name, where)
        scale = alpha / (math.sqrt(r) if config.get("use_rslora") else r)
        if r != rank or not math.isclose(scale, m.layer.scale, rel_tol=1e-6):
            raise UserError(
                f"{where}: {m.name} has rank {r} and scale {scale}; minilm's {rank} and {m.layer.scale}"
            )
        block = np.zeros(big_b.shape, bool)
        for j, ranks, rows in _blocks(m):
            a[j], b[j] = big_a[ranks].T, big_b[rows, ranks].T
            block[rows, ranks] = True
        if np.any(big_b[~block]):
            raise UserError(
                f"{weights}: {m.name}'s lora_B is not block-structured (one A shared by q, k and v): "
                "minilm's LoRA has an A and a B per slice and cannot hold it"
            )
        m.layer.a[...], m.layer.b[...] = jnp.asarray(a), jnp.asarray(b)


def _pattern(config: dict[str, Any], patterns: str, default: str, name: str, where: Path) -> float:
    """peft's per-module value: the first key of ``config[patterns]`` that ends ``name`` at a dot, else
    ``config[default]`` (peft's ``get_pattern_key``)."""
    for key, value in (config.get(patterns) or {}).items():
        if re.match(rf"(.*\.)?({key})$", name):
            return value
    if not isinstance(config.get(default), int | float):
        raise UserError(f"{where}: key {default!r} missing or not a number")
    return config[default]
