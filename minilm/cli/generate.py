"""Continue prompts with a trained GPT: greedy decoding, sampling (temperature, top-k, top-p) or beam search.

    python train.py generate --model=runs/NAME --prompt="the king"
    python train.py generate --model=runs/NAME --prompt="ROMEO:" --strategy=sample --temperature=0.8 \\
        --top_p=0.95 --max_new_tokens=200 --stop= --seed=1
    python train.py generate --model=runs/NAME --prompts_file=prompts.txt --strategy=beam --num_beams=4 --json

``--model`` is a run folder of ``train.py lm --arch=gpt`` or of the default run (whose LM is in ``lm/``),
such an ``lm/`` folder, a Hugging Face GPT-2 folder or ``hf:<repo_id>``
(:func:`minilm.models.io.load_lm`); the model's own ``tokenizer.json`` encodes and decodes.

Every prompt starts with the end-of-text token (``<eos>``; GPT-2's ``<|endoftext|>``): in training each
line follows one, so this is where a line begins (and an empty prompt samples a line from scratch).
Decoding is :func:`minilm.models.generate.generate` (jit-compiled, KV cache, prompts left-padded to one
batch); a row ends at the end-of-text token (unless ``--stop_at_eos=false``), at a ``--stop`` token, or
after ``--max_new_tokens``.  Sampling is deterministic for a given ``--seed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jax
from tokenizers import Tokenizer

from minilm.config import ConfigError, above, at_least, finite, in_range, opt, required
from minilm.data.formats import read_lines
from minilm.data.tokenizer import PAD
from minilm.errors import UserError
from minilm.models.generate import GenerationConfig, generate
from minilm.models.io import load_lm

STRATEGIES = ("greedy", "sample", "beam")


@dataclass
class Config:
    """Continue prompts with a trained GPT: greedy decoding, sampling or beam search."""

    model: str = opt(
        "",
        "run folder (or its lm/ folder) holding config.json, model.safetensors, tokenizer.json",
        check=required,
    )
    prompt: str = opt("", "the text to continue (empty, with no --prompts_file: start a new line)")
    prompts_file: str = opt("", "a text file of prompts, one per line, generated as one batch")
    max_new_tokens: int = opt(32, "tokens generated per prompt at most", check=at_least(1))
    strategy: str = opt("greedy", "greedy (argmax), sample, or beam (beam search)", choices=STRATEGIES)
    temperature: float = opt(1.0, "sample: divide the logits by this", check=above(0))
    top_k: int = opt(0, "sample: only the k most likely tokens (0 = all)", check=at_least(0))
    top_p: float = opt(
        1.0, "sample: nucleus, the smallest set of tokens with this much probability (1 = all)",
        check=in_range(0, 1, low_open=True),
    )  # fmt: skip
    num_beams: int = opt(4, "beam: beams kept per prompt", check=at_least(2))
    length_penalty: float = opt(
        1.0, "beam: a finished beam scores sum log p / length ** length_penalty", check=finite
    )
    stop_at_eos: bool = opt(True, "end a row at the end-of-text token (<eos>; GPT-2: <|endoftext|>)")
    stop: tuple[str, ...] = opt((), "more tokens that end a row, comma-separated (as in tokenizer.json)")
    seed: int = opt(0, "sample: random seed", check=at_least(0))
    json: bool = opt(False, "print one JSON object (prompts, texts, token ids, scores) instead of the texts")

    def check(self) -> None:
        if self.prompt and self.prompts_file:
            raise ConfigError("prompts_file", "give --prompt or --prompts_file, not both")


def generation_config(cfg: Config, tokenizer: Tokenizer, end_of_text: int | None) -> GenerationConfig:
    """The flags as a :class:`GenerationConfig`; stop tokens must be tokens of the vocabulary."""
    stops = [end_of_text] if cfg.stop_at_eos and end_of_text is not None else []
    for token in cfg.stop:
        token_id = tokenizer.token_to_id(token)
        if token_id is None:
            raise UserError(f"--stop {token!r} is not a token of the tokenizer (e.g. <eos>)")
        stops.append(token_id)
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
        prompts = read_lines(Path(cfg.prompts_file))
        if not prompts:
            raise UserError(f"{cfg.prompts_file}: empty file: no prompts in it")
        return prompts
    return [cfg.prompt]


def run(cfg: Config) -> int:
    prompts = _prompts(cfg)
    model, tokenizer, end_of_text = load_lm(cfg.model)
    gen_cfg = generation_config(cfg, tokenizer, end_of_text)
    start = [] if end_of_text is None else [end_of_text]
    ids = [[*start, *e.ids] for e in tokenizer.encode_batch(prompts)]
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
