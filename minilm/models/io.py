"""Saving and loading trained models: one folder layout, one loader per kind, every file checked.

A model folder written by minilm holds

- ``config.json``: a JSON object ``{"architecture": ..., "model": {the model config's fields}, ...}``;
- ``model.safetensors``: the parameters (``nnx.Param``) by their path in the model, e.g.
  ``backbone.blocks.0.attn.qkv.kernel`` (:func:`minilm.train.checkpoint.flatten`);
- and what the kind needs to read text:

  ========================= ============================================ ===============================
  architecture              written by                                   loaded by
  ========================= ============================================ ===============================
  ``gpt`` / ``bert``        ``train.py lm``, the default run's ``lm/``   :func:`load_model`, :func:`load_lm`
  ``gpt-classifier``        the default run (+ ``pooling``, ``labels``)  (its ``lm/`` by :func:`load_model`)
  ``elmo-bilm``             ``train.py elmo``                            :func:`load_bilm`
  ========================= ============================================ ===============================

  a language model reads ``tokenizer.json`` beside it or one folder up (a run's ``lm/``); a biLM reads
  ``vocab.txt`` (one word per line, by id).

:func:`load_model` also reads Hugging Face GPT-2 and BERT folders (``hf:<repo_id>`` too) through
:mod:`minilm.models.hf`.  Every loader checks the folder before building anything: a missing or
malformed ``config.json`` (not JSON, not an object, missing or unknown keys, a value of the wrong
type), a missing or mismatched weights file, a missing or unreadable tokenizer or vocabulary is one
:class:`~minilm.errors.UserError` naming the file and what is wrong.  Tokenizers are read by
:func:`minilm.data.tokenizer.load_tokenizer`, which switches off any padding or truncation a
``tokenizer.json`` carries, so every command tokenises the same way.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from flax import nnx
from tokenizers import Tokenizer

from minilm.data.bilm import Vocab
from minilm.data.formats import read_json, read_lines
from minilm.data.tokenizer import load_tokenizer
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.models.elmo import BiLM, BiLMConfig
from minilm.models.hf import load_hf
from minilm.models.transformer import BERT, GPT, Transformer, TransformerConfig
from minilm.train import checkpoint
from minilm.train.distributed import is_lead

LANGUAGE_MODELS = {"gpt": GPT, "bert": BERT}  # architecture -> class
BILM = "elmo-bilm"
END_OF_TEXT = ("<eos>", "<|endoftext|>")  # minilm's tokenizers, GPT-2's

C = TypeVar("C")

# ------------------------------------------------------------------------------------------- saving


def save_model(folder: Path, model: nnx.Module, config: dict[str, Any]) -> None:
    """``model.safetensors`` (parameters by name) + ``config.json``, both written atomically (by process 0
    of a multi-process job; the others write nothing)."""
    if not is_lead():
        return
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint.save_arrays(folder / "model.safetensors", checkpoint.flatten(nnx.state(model, nnx.Param)))
    atomic_write_bytes(folder / "config.json", json.dumps(config, indent=2).encode())


def save_bilm(folder: Path, model: BiLM, vocab: Vocab) -> None:
    """``model.safetensors`` + ``config.json`` + ``vocab.txt`` (one word per line, by id)."""
    save_model(folder, model, {"architecture": BILM, "model": dataclasses.asdict(model.cfg)})
    if is_lead():
        atomic_write_bytes(folder / "vocab.txt", ("\n".join(vocab.words) + "\n").encode())


# ------------------------------------------------------------------------------------- checked reading


def read_config(path: Path) -> dict[str, Any]:
    """A model folder's ``config.json``: it must exist and hold one JSON object."""
    if not path.is_file():
        raise UserError(f"{path}: no such file (a model folder holds config.json and model.safetensors)")
    config = read_json(path)
    if not isinstance(config, dict):
        raise UserError(f"{path}: expected a JSON object, found {_json_type(config)}")
    return config


def config_from_json(cls: type[C], data: Any, source: str) -> C:
    """A config dataclass from the JSON ``dataclasses.asdict`` made of it: an object with every field,
    no other key, each value of its field's type (JSON lists for tuples).  Ranges are the dataclass's
    own checks; every error names ``source``."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a JSON object, found {_json_type(data)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise UserError(f"{source}: unknown keys {unknown}; allowed: {names}")
    missing = [n for n in names if n not in data]
    if missing:
        raise UserError(f"{source}: missing keys {missing}")
    values = {}
    for name in names:
        try:
            values[name] = _typed(data[name], hints[name])
        except TypeError:
            shown = json.dumps(data[name])
            raise UserError(f"{source}: {name}={shown} is not {_type_name(hints[name])}") from None
    try:
        return cls(**values)
    except UserError as e:
        raise UserError(f"{source}: {e}") from None


def _typed(value: Any, hint: Any) -> Any:
    """``value`` as type ``hint`` (int, float, bool, str, None, unions, tuples from lists); TypeError if
    it is not one (a bool is not a number)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        for arg in args:
            try:
                return _typed(value, arg)
            except TypeError:
                pass
    elif origin is tuple and isinstance(value, list):
        items = args[:1] * len(value) if args[-1:] == (Ellipsis,) else args  # tuple[X, ...] or tuple[X, Y]
        if len(items) == len(value):
            return tuple(_typed(v, a) for v, a in zip(value, items, strict=True))
    elif hint is type(None) and value is None:
        return None
    elif isinstance(value, bool):
        if hint is bool:
            return value
    elif hint is float and isinstance(value, (int, float)):
        return float(value)
    elif hint in (int, str) and isinstance(value, hint):
        return value
    raise TypeError(hint)


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return f"a list like {json.dumps(_example(hint))}"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null"}
    return names.get(hint, str(hint))


def _example(hint: Any) -> Any:
    """A JSON value of type ``hint`` for messages: 0, 0.0, false, "", null, lists of those."""
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        return [_example(a) for a in (args[:1] if args[-1:] == (Ellipsis,) else args)]
    return {int: 0, float: 0.0, bool: False, str: ""}.get(hint)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _load_params(model: nnx.Module, path: Path) -> None:
    """Set ``model``'s parameters from ``path`` (written by :func:`save_model`), names and shapes checked."""
    if not path.is_file():
        raise UserError(f"{path}: no such file (the model's weights)")
    arrays, _ = checkpoint.load_arrays(path)
    nnx.update(model, checkpoint.unflatten(nnx.state(model, nnx.Param), arrays, "", str(path)))


# ------------------------------------------------------------------------------ Transformer LMs (GPT, BERT)


class LoadedModel(NamedTuple):
    model: GPT | BERT | Transformer
    tokenizer: Tokenizer
    origin: str  # "minilm" or "hf"


def load_model(path: str) -> LoadedModel:
    """A minilm model folder (or a run folder holding ``lm/``), a Hugging Face folder, or ``hf:<id>``."""
    if path.startswith("hf:"):
        return _from_hf(path)
    for folder in (Path(path), Path(path) / "lm"):
        config_path = folder / "config.json"
        if not config_path.is_file():
            continue
        config = read_config(config_path)
        if "model_type" in config:
            return _from_hf(str(folder))
        if config.get("architecture") in LANGUAGE_MODELS:
            return _from_minilm(folder, config)
        if folder == Path(path) and (Path(path) / "lm" / "config.json").is_file():
            continue  # a fine-tuned classifier run: its language model is in lm/
        if "architecture" not in config:
            raise UserError(
                f"{config_path}: no 'architecture' key (minilm: gpt or bert) and no 'model_type' "
                "(a Hugging Face config)"
            )
        raise UserError(f"{config_path}: architecture {config['architecture']!r} is not a language model")
    raise UserError(f"{path}: no config.json in it or in {Path(path) / 'lm'}")


def _from_hf(path: str) -> LoadedModel:
    ckpt = load_hf(path)
    if ckpt.tokenizer is None:
        raise UserError(f"{path}: the folder has no tokenizer.json")
    return LoadedModel(ckpt.model, ckpt.tokenizer, "hf")


def _from_minilm(folder: Path, config: dict[str, Any]) -> LoadedModel:
    config_path = folder / "config.json"
    if "model" not in config:
        raise UserError(f"{config_path}: missing key 'model' (the model's configuration)")
    model_cfg = config_from_json(TransformerConfig, config["model"], f"{config_path}, key 'model'")
    model = LANGUAGE_MODELS[config["architecture"]](model_cfg, rngs=nnx.Rngs(0))
    _load_params(model, folder / "model.safetensors")
    candidates = [folder / "tokenizer.json", folder.parent / "tokenizer.json"]  # beside it, or a run's lm/
    found = [p for p in candidates if p.is_file()]
    if not found:
        raise UserError(f"{candidates[0]}: no such file, nor {candidates[1]} (the model's tokenizer)")
    tokenizer = load_tokenizer(found[0])
    if tokenizer.get_vocab_size() != model_cfg.vocab_size:
        raise UserError(
            f"{folder}: the tokenizer has {tokenizer.get_vocab_size()} tokens, "
            f"the model vocab_size={model_cfg.vocab_size}"
        )
    return LoadedModel(model, tokenizer, "minilm")


def load_lm(path: str) -> tuple[GPT, Tokenizer, int | None]:
    """The GPT at ``path`` (see :func:`load_model`), its tokenizer and its end-of-text token id (None if
    the vocabulary has none)."""
    loaded = load_model(path)
    if not isinstance(loaded.model, GPT):
        raise UserError(
            f"--model={path} is a {type(loaded.model).__name__}, not a causal LM: generation needs a GPT"
        )
    ids = (loaded.tokenizer.token_to_id(t) for t in END_OF_TEXT)
    return loaded.model, loaded.tokenizer, next((i for i in ids if i is not None), None)


# ------------------------------------------------------------------------------------------------ biLMs


def load_bilm(folder: str | Path) -> tuple[BiLM, Vocab]:
    """A biLM saved by :func:`save_bilm` (a run folder of ``train.py elmo``) and its vocabulary."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise UserError(f"{folder}: no config.json (expected a run folder of `train.py elmo`)")
    config = read_config(config_path)
    if config.get("architecture") != BILM:
        raise UserError(f"{config_path}: architecture {config.get('architecture')!r}, expected {BILM!r}")
    if "model" not in config:
        raise UserError(f"{config_path}: missing key 'model' (the biLM's configuration)")
    bilm_cfg = config_from_json(BiLMConfig, config["model"], f"{config_path}, key 'model'")
    model = BiLM(bilm_cfg, rngs=nnx.Rngs(0))
    _load_params(model, folder / "model.safetensors")
    words = read_lines(folder / "vocab.txt")
    if len(words) != model.cfg.vocab_size:
        raise UserError(f"{folder / 'vocab.txt'}: {len(words)} words, the model has {model.cfg.vocab_size}")
    return model, Vocab(tuple(words))
