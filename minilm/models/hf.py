"""Hugging Face checkpoints: read and write BERT and GPT-2 folders (``config.json``, ``model.safetensors``,
``tokenizer.json``) as our :class:`GPT` / :class:`BERT` / :class:`Transformer`.

The math is the same (``test_hf.py`` checks logits and sentence embeddings against ``transformers`` and
``sentence-transformers``); only names and layouts differ, and one table per architecture says how:

- our dense kernels are (in, out); PyTorch ``nn.Linear`` (BERT) stores (out, in) -> transpose;
  GPT-2's ``Conv1D`` already stores (in, out) -> copy;
- our attention has one fused (D, 3D) Q|K|V projection: GPT-2's ``c_attn`` is exactly that, BERT's separate
  ``query``/``key``/``value`` are concatenated (and split again on export);
- post-LN BERT: ``attention.output.LayerNorm`` is our ``ln1``, ``output.LayerNorm`` our ``ln2``,
  ``embeddings.LayerNorm`` our ``emb_ln``; pre-LN GPT-2: ``ln_1``/``ln_2``/``ln_f``.

Loading: a GPT-2 folder becomes a :class:`GPT`; a BERT folder with a masked-LM head (``cls.predictions``)
a :class:`BERT`, one without (``BertModel``, e.g. sentence-transformers models) the bare
:class:`Transformer` backbone.  ``hf:<repo_id>`` downloads through ``huggingface_hub`` first.
Exporting writes ``GPT2LMHeadModel`` / ``BertForMaskedLM`` folders that ``from_pretrained`` loads.
Weights are only read from safetensors files (never pickle).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
import safetensors.flax
import safetensors.numpy
from flax import nnx
from tokenizers import Tokenizer

from minilm.data.formats import read_json
from minilm.data.tokenizer import load_tokenizer
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.models.heads import pool
from minilm.models.transformer import BERT, GPT, Transformer, TransformerConfig

# HF activation names -> our GELU flavour ("gelu_fast" and "gelu_pytorch_tanh" are the tanh formula too)
_ACTIVATIONS = {"gelu": "exact", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh"}
_EXPORT_ACTIVATION = {"exact": "gelu", "tanh": "gelu_new"}

# stored tensors that are buffers or heads we do not model (BERT's pooler and next-sentence head)
_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias", "embeddings.position_ids")
_IGNORED_PREFIXES = ("pooler.", "cls.seq_relationship.")


class HFCheckpoint(NamedTuple):
    model: GPT | BERT | Transformer
    tokenizer: Tokenizer | None  # from tokenizer.json, if the folder has one
    architecture: str  # "gpt2" or "bert"


# ------------------------------------------------------------------------------------------- configs


def config_from_hf(hf: Any, source: str) -> tuple[TransformerConfig, str]:
    """A Hugging Face ``config.json`` (GPT-2 or BERT) -> our config and the architecture name."""
    if not isinstance(hf, dict):
        raise UserError(f"{source}: expected a JSON object, found {type(hf).__name__}")
    try:
        return _config_from_hf(hf, source)
    except KeyError as e:
        raise UserError(f"{source}: missing key {e.args[0]!r}") from None


def _config_from_hf(hf: dict[str, Any], source: str) -> tuple[TransformerConfig, str]:
    kind = hf.get("model_type")
    if kind == "gpt2":
        act = hf.get("activation_function", "gelu_new")
        _require(
            act in _ACTIVATIONS, source, f"activation_function={act!r} (supported: {sorted(_ACTIVATIONS)})"
        )
        _require(hf.get("scale_attn_weights", True), source, "scale_attn_weights=false")
        _require(
            not hf.get("scale_attn_by_inverse_layer_idx", False), source, "scale_attn_by_inverse_layer_idx"
        )
        _require(not hf.get("add_cross_attention", False), source, "add_cross_attention")
        d = hf["n_embd"]
        cfg = TransformerConfig(
            vocab_size=hf["vocab_size"],
            max_len=hf["n_positions"],
            n_layer=hf["n_layer"],
            n_head=hf["n_head"],
            d_model=d,
            d_ff=hf.get("n_inner") or 4 * d,
            dropout=hf.get("resid_pdrop", 0.1),
            attn_dropout=hf.get("attn_pdrop", 0.1),
            gelu=_ACTIVATIONS[act],
            tie_embeddings=hf.get("tie_word_embeddings", True),
            layer_norm_eps=hf.get("layer_norm_epsilon", 1e-5),
            init_std=hf.get("initializer_range", 0.02),
        )
        return cfg, "gpt2"
    if kind == "bert":
        act = hf.get("hidden_act", "gelu")
        _require(act in _ACTIVATIONS, source, f"hidden_act={act!r} (supported: {sorted(_ACTIVATIONS)})")
        pos = hf.get("position_embedding_type", "absolute")
        _require(pos == "absolute", source, f"position_embedding_type={pos!r}")
        _require(not hf.get("is_decoder", False), source, "is_decoder=true")
        cfg = TransformerConfig.bert(
            vocab_size=hf["vocab_size"],
            max_len=hf["max_position_embeddings"],
            n_layer=hf["num_hidden_layers"],
            n_head=hf["num_attention_heads"],
            d_model=hf["hidden_size"],
            d_ff=hf["intermediate_size"],
            dropout=hf.get("hidden_dropout_prob", 0.1),
            attn_dropout=hf.get("attention_probs_dropout_prob", 0.1),
            gelu=_ACTIVATIONS[act],
            type_vocab_size=hf.get("type_vocab_size", 2),
            tie_embeddings=hf.get("tie_word_embeddings", True),
            layer_norm_eps=hf.get("layer_norm_eps", 1e-12),
            init_std=hf.get("initializer_range", 0.02),
        )
        return cfg, "bert"
    raise UserError(f"{source}: model_type={kind!r} is not supported (supported: gpt2, bert)")


def config_to_hf(cfg: TransformerConfig, architecture: str) -> dict[str, Any]:
    """Our config -> a ``config.json`` for ``GPT2LMHeadModel`` or ``BertForMaskedLM``."""
    if architecture == "gpt2":
        return {
            "model_type": "gpt2",
            "architectures": ["GPT2LMHeadModel"],
            "vocab_size": cfg.vocab_size,
            "n_positions": cfg.max_len,
            "n_embd": cfg.d_model,
            "n_layer": cfg.n_layer,
            "n_head": cfg.n_head,
            "n_inner": cfg.d_ff,
            "activation_function": _EXPORT_ACTIVATION[cfg.gelu],
            "resid_pdrop": cfg.dropout,
            "embd_pdrop": cfg.dropout,
            "attn_pdrop": cfg.attn_dropout,
            "layer_norm_epsilon": cfg.layer_norm_eps,
            "initializer_range": cfg.init_std,
            "tie_word_embeddings": cfg.tie_embeddings,
        }
    return {
        "model_type": "bert",
        "architectures": ["BertForMaskedLM"],
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.max_len,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.d_ff,
        "hidden_act": _EXPORT_ACTIVATION[cfg.gelu],
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.attn_dropout,
        "type_vocab_size": max(cfg.type_vocab_size, 1),  # HF BERT always has the table; ours is then zeros
        "layer_norm_eps": cfg.layer_norm_eps,
        "initializer_range": cfg.init_std,
        "tie_word_embeddings": cfg.tie_embeddings,
        "position_embedding_type": "absolute",
    }


def _require(ok: bool, source: str, what: str) -> None:
    if not ok:
        raise UserError(f"{source}: {what} is not supported by minilm's Transformer")


# ------------------------------------------------------------------------------------- weight tables

# One row per parameter: (our path below the model, HF tensor names, transpose).  Several HF names are
# concatenated along our last axis (BERT's query|key|value -> our fused qkv kernel).
Row = tuple[str, tuple[str, ...], bool]


def _gpt2_rows(cfg: TransformerConfig) -> Iterator[Row]:
    yield "backbone/tok_emb/embedding", ("wte.weight",), False
    yield "backbone/pos_emb/embedding", ("wpe.weight",), False
    for i in range(cfg.n_layer):
        ours, hf = f"backbone/blocks/{i}/", f"h.{i}."
        yield ours + "ln1/scale", (hf + "ln_1.weight",), False
        yield ours + "ln1/bias", (hf + "ln_1.bias",), False
        yield ours + "attn/qkv/kernel", (hf + "attn.c_attn.weight",), False  # Conv1D: already (in, out)
        yield ours + "attn/qkv/bias", (hf + "attn.c_attn.bias",), False
        yield ours + "attn/out/kernel", (hf + "attn.c_proj.weight",), False
        yield ours + "attn/out/bias", (hf + "attn.c_proj.bias",), False
        yield ours + "ln2/scale", (hf + "ln_2.weight",), False
        yield ours + "ln2/bias", (hf + "ln_2.bias",), False
        yield ours + "ffn/up/kernel", (hf + "mlp.c_fc.weight",), False
        yield ours + "ffn/up/bias", (hf + "mlp.c_fc.bias",), False
        yield ours + "ffn/down/kernel", (hf + "mlp.c_proj.weight",), False
        yield ours + "ffn/down/bias", (hf + "mlp.c_proj.bias",), False
    yield "backbone/ln_f/scale", ("ln_f.weight",), False
    yield "backbone/ln_f/bias", ("ln_f.bias",), False
    if not cfg.tie_embeddings:
        yield "lm_head/kernel", ("lm_head.weight",), True  # nn.Linear: (out, in)


def _bert_rows(cfg: TransformerConfig, with_mlm_head: bool) -> Iterator[Row]:
    b = "backbone/" if with_mlm_head else ""  # a bare Transformer has no "backbone/" level
    yield b + "tok_emb/embedding", ("embeddings.word_embeddings.weight",), False
    yield b + "pos_emb/embedding", ("embeddings.position_embeddings.weight",), False
    if cfg.type_vocab_size:
        yield b + "type_emb/embedding", ("embeddings.token_type_embeddings.weight",), False
    yield b + "emb_ln/scale", ("embeddings.LayerNorm.weight",), False
    yield b + "emb_ln/bias", ("embeddings.LayerNorm.bias",), False
    for i in range(cfg.n_layer):
        ours, hf = f"{b}blocks/{i}/", f"encoder.layer.{i}."
        qkv = tuple(hf + f"attention.self.{n}" for n in ("query", "key", "value"))
        yield ours + "attn/qkv/kernel", tuple(n + ".weight" for n in qkv), True  # nn.Linear: (out, in)
        yield ours + "attn/qkv/bias", tuple(n + ".bias" for n in qkv), False
        yield ours + "attn/out/kernel", (hf + "attention.output.dense.weight",), True
        yield ours + "attn/out/bias", (hf + "attention.output.dense.bias",), False
        yield ours + "ln1/scale", (hf + "attention.output.LayerNorm.weight",), False
        yield ours + "ln1/bias", (hf + "attention.output.LayerNorm.bias",), False
        yield ours + "ffn/up/kernel", (hf + "intermediate.dense.weight",), True
        yield ours + "ffn/up/bias", (hf + "intermediate.dense.bias",), False
        yield ours + "ffn/down/kernel", (hf + "output.dense.weight",), True
        yield ours + "ffn/down/bias", (hf + "output.dense.bias",), False
        yield ours + "ln2/scale", (hf + "output.LayerNorm.weight",), False
        yield ours + "ln2/bias", (hf + "output.LayerNorm.bias",), False
    if with_mlm_head:
        yield "mlm_dense/kernel", ("cls.predictions.transform.dense.weight",), True
        yield "mlm_dense/bias", ("cls.predictions.transform.dense.bias",), False
        yield "mlm_ln/scale", ("cls.predictions.transform.LayerNorm.weight",), False
        yield "mlm_ln/bias", ("cls.predictions.transform.LayerNorm.bias",), False
        yield "mlm_bias", ("cls.predictions.bias",), False
        if not cfg.tie_embeddings:
            yield "mlm_decoder/kernel", ("cls.predictions.decoder.weight",), True


# Tensors the table does not read but that a folder may hold: tied copies and HF's bias alias.
_TIED_COPIES = ("lm_head.weight", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias")


# ------------------------------------------------------------------------------------------- loading


def resolve(path_or_id: str | Path) -> Path:
    """A local folder, or ``hf:<repo_id>`` downloaded with ``huggingface_hub`` (needs a network)."""
    text = str(path_or_id)
    if not text.startswith("hf:"):
        folder = Path(text)
        if not (folder / "config.json").is_file():
            raise UserError(f"{folder}: not a Hugging Face model folder (no config.json)")
        return folder
    repo_id = text[3:]
    from huggingface_hub import snapshot_download

    try:
        patterns = ["config.json", "*.safetensors", "model.safetensors.index.json", "tokenizer.json"]
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as e:  # offline, unknown repo, or refused: one line, not a traceback
        raise UserError(
            f"hf:{repo_id}: could not download from the Hugging Face Hub ({type(e).__name__}); "
            "without a network, download the folder elsewhere and pass its path"
        ) from None


def _read_weights(folder: Path) -> dict[str, np.ndarray]:
    """All tensors of ``model.safetensors`` (or the shards its index lists), as float32 NumPy arrays."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (folder / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        raise UserError(f"{folder}: no model.safetensors (pickle-based .bin checkpoints are not read)")
    weights: dict[str, np.ndarray] = {}
    for name in files:
        try:
            tensors = safetensors.flax.load_file(str(folder / name))  # handles bf16 too
        except Exception as e:
            raise UserError(f"{folder / name}: not a readable safetensors file ({e})") from None
        for key, value in tensors.items():
            key = key.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
                "LayerNorm.beta", "LayerNorm.bias"
            )
            weights[key] = (
                np.asarray(value.astype(jnp.float32)) if value.dtype != jnp.int64 else np.asarray(value)
            )
    return weights


def _strip_prefix(weights: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """``transformer.h.0...`` / ``bert.encoder...`` (head models) -> the base model's names."""
    return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in weights.items()}


def load_hf(path_or_id: str | Path) -> HFCheckpoint:
    """Load a GPT-2 or BERT folder (or ``hf:<repo_id>``) into our model; see the module docstring."""
    folder = resolve(path_or_id)
    config_path = folder / "config.json"
    cfg, arch = config_from_hf(read_json(config_path), str(config_path))
    weights = _read_weights(folder)
    if arch == "gpt2":
        weights = _strip_prefix(weights, "transformer.")
        cls: type[GPT | BERT | Transformer] = GPT
        rows = list(_gpt2_rows(cfg))
    else:
        weights = _strip_prefix(weights, "bert.")
        with_head = "cls.predictions.transform.dense.weight" in weights
        cls = BERT if with_head else Transformer
        rows = list(_bert_rows(cfg, with_head))
    model = nnx.eval_shape(lambda: cls(cfg, rngs=nnx.Rngs(0)))  # shapes only: every value is set below
    _load_rows(model, rows, weights, folder)
    tokenizer_path = folder / "tokenizer.json"
    tokenizer = load_tokenizer(tokenizer_path) if tokenizer_path.is_file() else None
    return HFCheckpoint(model, tokenizer, arch)


def _load_rows(model: nnx.Module, rows: list[Row], weights: dict[str, np.ndarray], folder: Path) -> None:
    """Set every parameter named in ``rows``; every parameter and stored tensor must be accounted for."""
    params = {"/".join(map(str, path)): var for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param))}
    missing_ours = sorted(set(params) - {ours for ours, _, _ in rows})
    if missing_ours:  # a table bug, not a user error
        raise AssertionError(f"weight table misses parameters {missing_ours}")
    used = set()
    for ours, names, transpose in rows:
        absent = [n for n in names if n not in weights]
        if absent:
            raise UserError(f"{folder}/model.safetensors: missing tensor {absent[0]}")
        parts = [weights[n].T if transpose else weights[n] for n in names]
        value = np.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
        expected = params[ours].shape
        if value.shape != expected:
            raise UserError(
                f"{folder}/model.safetensors: {', '.join(names)} has shape {value.shape}, "
                f"config.json implies {expected}"
            )
        params[ours].set_value(jnp.asarray(value, jnp.float32))
        used.update(names)
    unused = [
        k
        for k in weights
        if k not in used
        and k not in _TIED_COPIES
        and not k.endswith(_IGNORED_SUFFIXES)
        and not k.startswith(_IGNORED_PREFIXES)
    ]
    if unused:
        raise UserError(f"{folder}/model.safetensors: tensors minilm does not know how to use: {unused[:5]}")


# ----------------------------------------------------------------------------------------- exporting


def export_layout(model: GPT | BERT) -> tuple[str, list[Row], str]:
    """How ``model`` is exported: the architecture ("gpt2" or "bert"), its weight table, and the prefix of
    the base model's names in the head model (``transformer.`` in ``GPT2LMHeadModel``, ``bert.`` in
    ``BertForMaskedLM``)."""
    cfg = model.cfg
    if isinstance(model, GPT):
        if not cfg.pre_ln:
            raise UserError("GPT-2 format needs pre-LN blocks (pre_ln=true)")
        if cfg.type_vocab_size:
            raise UserError("GPT-2 format has no token-type embeddings (type_vocab_size must be 0)")
        return "gpt2", list(_gpt2_rows(cfg)), "transformer."
    if isinstance(model, BERT):
        if cfg.pre_ln:
            raise UserError("BERT format needs post-LN blocks (pre_ln=false)")
        return "bert", list(_bert_rows(cfg, with_mlm_head=True)), "bert."
    raise UserError(f"cannot export a {type(model).__name__}: pass a GPT or a BERT")


def save_hf(model: GPT | BERT, folder: str | Path, tokenizer: Tokenizer | None = None) -> None:
    """Write ``model`` as a ``GPT2LMHeadModel`` (a GPT) or ``BertForMaskedLM`` (a BERT) folder."""
    cfg = model.cfg
    arch, rows, prefix = export_layout(model)
    params = {
        "/".join(map(str, path)): np.asarray(var[...])
        for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param))
    }
    tensors: dict[str, np.ndarray] = {}
    for ours, names, transpose in rows:
        value = params.get(ours)
        if value is None:  # a parameter our config leaves out (no biases, no token types): HF needs zeros
            value = np.zeros(_absent_shape(ours, cfg), np.float32)
        for name, part in zip(names, np.split(value, len(names), axis=-1), strict=True):
            head = name.startswith(("cls.", "lm_head."))
            tensors[name if head else prefix + name] = np.ascontiguousarray(part.T if transpose else part)
    if arch == "bert" and cfg.type_vocab_size == 0:
        tensors["bert.embeddings.token_type_embeddings.weight"] = np.zeros((1, cfg.d_model), np.float32)
    folder = Path(folder)
    atomic_write_bytes(
        folder / "model.safetensors", safetensors.numpy.save(tensors, metadata={"format": "pt"})
    )
    config = json.dumps(config_to_hf(cfg, arch), indent=2) + "\n"
    atomic_write_bytes(folder / "config.json", config.encode())
    if tokenizer is not None:
        atomic_write_bytes(folder / "tokenizer.json", tokenizer.to_str().encode())


def _absent_shape(ours: str, cfg: TransformerConfig) -> tuple[int, ...]:
    """Shape of a bias (or LayerNorm shift) that a bias-free config does not have: its layer's width."""
    if not ours.endswith("/bias"):
        raise AssertionError(f"no parameter {ours}")
    if ours.endswith("qkv/bias"):
        return (3 * cfg.d_model,)
    if ours.endswith("up/bias"):
        return (cfg.d_ff,)
    return (cfg.d_model,)


# ------------------------------------------------------------------------------- sentence embeddings


def sentence_embeddings(
    backbone: Transformer | BERT,
    tokenizer: Tokenizer,
    sentences: list[str],
    *,
    max_length: int = 256,
    batch_size: int = 64,
) -> np.ndarray:
    """Sentence-BERT (Reimers & Gurevych 2019) embeddings: mean of the final hidden states over real
    tokens, L2-normalised -- what sentence-transformers computes for all-MiniLM-L6-v2. (N, D) float32.

    Sentences are tokenised with the model's own tokenizer ([CLS] ... [SEP]), truncated to
    ``max_length`` tokens, and padded per batch.
    """
    backbone = getattr(backbone, "backbone", backbone)
    tokenizer = Tokenizer.from_str(tokenizer.to_str())  # a copy: padding/truncation settings are ours
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=tokenizer.padding["pad_id"] if tokenizer.padding else 0)
    forward = nnx.jit(_mean_pooled)
    out = []
    for start in range(0, len(sentences), batch_size):
        batch = tokenizer.encode_batch(sentences[start : start + batch_size])
        ids = np.asarray([e.ids for e in batch], np.int32)
        mask = np.asarray([e.attention_mask for e in batch], np.int32)
        types = np.asarray([e.type_ids for e in batch], np.int32)
        out.append(np.asarray(forward(backbone, ids, mask, types)))
    return np.concatenate(out) if out else np.zeros((0, backbone.cfg.d_model), np.float32)


def _mean_pooled(
    backbone: Transformer, ids: jnp.ndarray, mask: jnp.ndarray, types: jnp.ndarray
) -> jnp.ndarray:
    types = types if backbone.cfg.type_vocab_size else None
    hidden = backbone(ids, attention_mask=mask, token_types=types)  # (B, T, D)
    pooled = pool(hidden, mask, "mean")  # (B, D)
    return pooled / jnp.maximum(jnp.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
