"""Continue prompts with a trained GPT: greedy decoding, sampling (temperature, top-k, top-p) or beam search.

    python train.py generate --model=runs/NAME --prompt="the king"
    python train.py generate --model=runs/NAME --prompt="ROMEO:" --strategy=sample --temperature=0.8 \\
        --top_p=0.95 --max_new_tokens=200 --stop= --seed=1
    python train.py generate --model=runs/NAME --prompts_file=prompts.txt --strategy=beam --num_beams=4 --json

``--model`` is a run folder of ``train.py lm --arch=gpt`` or of the default run (whose LM is in ``lm/``),
or such an ``lm/`` folder: ``config.json`` (``{"model": ..., "architecture": "gpt"}``) and
``model.safetensors``, with ``tokenizer.json`` beside them or in the run folder.

Every prompt starts with ``<eos>``: in training each line follows an ``<eos>``, so this is where a line
begins (and an empty prompt samples a line from scratch).  Decoding is
:func:`minilm.models.generate.generate` (jit-compiled, KV cache, prompts left-padded to one batch);
a row ends at a ``--stop`` token (by default ``<eos>``, the end of a line) or after ``--max_new_tokens``.
Sampling is deterministic for a given ``--seed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jax
from flax import nnx
from tokenizers import Tokenizer

from minilm.config import opt
from minilm.data.formats import read_lines
from minilm.data.tokenizer import EOS, PAD, load_tokenizer
from minilm.errors import UserError
from minilm.models.generate import GenerationConfig, generate
from minilm.models.transformer import GPT, TransformerConfig
from minilm.train import checkpoint

STRATEGIES = ("greedy", "sample", "beam")


@dataclass
class Config:
    """Settings of ``train.py generate`` (``python train.py generate --help``)."""

    model: str = opt(
        "", "run folder (or its lm/ folder) holding config.json, model.safetensors, tokenizer.json"
    )
    prompt: str = opt("", "the text to continue (empty, with no --prompts_file: start a new line)")
    prompts_file: str = opt("", "a text file of prompts, one per line, generated as one batch")
    max_new_tokens: int = opt(32, "tokens generated per prompt at most")
    strategy: str = opt("greedy", "greedy (argmax), sample, or beam (beam search)", choices=STRATEGIES)
    temperature: float = opt(1.0, "sample: divide the logits by this (> 0)")
    top_k: int = opt(0, "sample: only the k most likely tokens (0 = all)")
    top_p: float = opt(
        1.0, "sample: nucleus, the smallest set of tokens with this much probability (1 = all)"
    )
    num_beams: int = opt(4, "beam: beams kept per prompt")
    length_penalty: float = opt(1.0, "beam: a finished beam scores sum log p / length ** length_penalty")
    stop: tuple[str, ...] = opt(("<eos>",), "tokens that end a row, comma-separated (--stop= for none)")
    seed: int = opt(0, "sample: random seed")
    json: bool = opt(False, "print one JSON object (prompts, texts, token ids, scores) instead of the texts")


def _model_folder(path: Path) -> Path:
    """The folder with the LM's config.json: ``path/lm`` (a default run) or ``path`` itself."""
    for folder in (path / "lm", path):
        if (folder / "config.json").is_file():
            return folder
    raise UserError(f"--model={path}: no config.json in it or in {path / 'lm'} (expected a run folder)")


def load_lm(path: str | Path) -> tuple[GPT, Tokenizer]:
    """The GPT saved by ``train.py lm`` / the default run at ``path``, and its tokenizer."""
    path = Path(path)
    folder = _model_folder(path)
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        arch, model_dict = config["architecture"], config["model"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise UserError(f"{config_path}: not a minilm model config ({type(e).__name__}: {e})") from None
    if arch != "gpt":
        raise UserError(f"{config_path}: the model is a {arch!r}; generation needs a GPT (a causal LM)")
    model = GPT(TransformerConfig.from_dict(model_dict, str(config_path)), rngs=nnx.Rngs(0))
    weights = folder / "model.safetensors"
    arrays, _ = checkpoint.load_arrays(weights)
    nnx.update(model, checkpoint.unflatten(nnx.state(model, nnx.Param), arrays, "", str(weights)))
    candidates = [folder / "tokenizer.json", folder.parent / "tokenizer.json"]
    tok_path = next((p for p in candidates if p.is_file()), candidates[0])
    tokenizer = load_tokenizer(tok_path)
    if tokenizer.get_vocab_size() != model.cfg.vocab_size:
        raise UserError(
            f"{tok_path} has {tokenizer.get_vocab_size()} tokens but the model in {folder} has "
            f"vocab_size={model.cfg.vocab_size}: they do not belong together"
        )
    return model, tokenizer


def generation_config(cfg: Config, tokenizer: Tokenizer) -> GenerationConfig:
    """The flags as a :class:`GenerationConfig`; stop tokens must be tokens of the vocabulary."""
    stops = []
    for token in cfg.stop:
        token_id = tokenizer.token_to_id(token)
        if token_id is None:
            raise UserError(f"--stop {token!r} is not a token of the tokenizer (e.g. <eos>)")
        stops.append(token_id)
    if cfg.strategy == "sample" and cfg.temperature <= 0:
        raise UserError(
            f"--temperature={cfg.temperature}: sampling needs a temperature > 0 (or --strategy=greedy)"
        )
    if cfg.strategy == "beam" and cfg.num_beams < 2:
        raise UserError(f"--num_beams={cfg.num_beams}: beam search needs at least 2 beams")
    sample = cfg.strategy == "sample"
    return GenerationConfig(
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature if sample else 0.0,
        top_k=cfg.top_k if sample else 0,
        top_p=cfg.top_p if sample else 1.0,
        num_beams=cfg.num_beams if cfg.strategy == "beam" else 1,
        length_penalty=cfg.length_penalty,
        stop_tokens=tuple(stops),
        pad_id=PAD,
    )


def _prompts(cfg: Config) -> list[str]:
    if cfg.prompts_file:
        if cfg.prompt:
            raise UserError("give --prompt or --prompts_file, not both")
        prompts = read_lines(Path(cfg.prompts_file))
        if not prompts:
            raise UserError(f"{cfg.prompts_file}: empty file: no prompts in it")
        return prompts
    return [cfg.prompt]


def run(cfg: Config) -> int:
    if not cfg.model:
        raise UserError("--model is required: the run folder of a trained GPT")
    prompts = _prompts(cfg)
    model, tokenizer = load_lm(cfg.model)
    gen_cfg = generation_config(cfg, tokenizer)
    ids = [[EOS, *e.ids] for e in tokenizer.encode_batch(prompts)]
    out = generate(model, ids, gen_cfg, key=jax.random.key(cfg.seed))
    continuations = [list(row[:n]) for row, n in zip(out.tokens.tolist(), out.lengths.tolist(), strict=True)]
    texts = [tokenizer.decode(c) for c in continuations]  # special tokens (<eos>) are left out
    if cfg.json:
        rows = [
            {"prompt": p, "text": t, "tokens": c, "score": float(s)}
            for p, t, c, s in zip(prompts, texts, continuations, out.scores.tolist(), strict=True)
        ]
        print(json.dumps({"strategy": cfg.strategy, "generations": rows}))
    else:
        print("\n".join(f"{p}{t}" for p, t in zip(prompts, texts, strict=True)))
    return 0
