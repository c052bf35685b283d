"""Pretrain a language model on a text corpus: a GPT (causal LM) or a BERT (masked LM).

    python train.py lm                                     # GPT on the generated world corpus, BPE
    python train.py lm --arch=bert --name=bert-world       # BERT, masked-LM objective
    python train.py lm --data=tinyshakespeare --tokenizer=char --name=shakespeare   # needs $MINILM_DATA
    python train.py lm --data=my_corpus.txt                # one text per line
    python train.py generate --model=runs/shakespeare --prompt="ROMEO:"

- GPT (Radford et al. 2018/2019): next-token cross-entropy ``-1/(B T) sum_t log p(x_{t+1} | x_<=t)`` on
  random windows of the token stream; reported: held-out perplexity ``exp(NLL / tokens)`` over
  non-overlapping windows (:func:`minilm.objectives.lm.lm_evaluator`).
- BERT (Devlin et al. 2019, §3.1 "Task #1: Masked LM"): each training row is ``<cls> window <sep>``;
  15% of the window's tokens are chosen, of which 80% become ``<mask>``, 10% a random token and 10%
  stay, and the loss is the cross-entropy of the original tokens at the chosen positions
  (:mod:`minilm.objectives.mlm`).  No next-sentence prediction (as RoBERTa).  Reported: held-out MLM loss
  under a fixed masking, and pseudo-perplexity (Salazar et al. 2020, "Masked Language Model Scoring",
  eq. 2): every token masked in turn, ``PPPL = exp(-1/N sum_t log p(x_t | x_{\\t}))``
  (:func:`minilm.objectives.mlm.pseudo_log_likelihood`, as ``evaluate.py perplexity`` for a BERT).
- Tokenizer: byte-level BPE (:func:`minilm.data.tokenizer.train_bpe`) or one token per character
  (:func:`minilm.data.tokenizer.train_char`); either is saved as ``tokenizer.json``.

The run folder ``<out_dir>/<name>`` has the layout of the default run (``train.py``):
``train_config.json``, ``metrics.jsonl``, ``loss.png``, ``report.md``, ``tokenizer.json``,
``model.safetensors`` + ``config.json`` (``{"model": TransformerConfig, "architecture": "gpt"|"bert"}``),
``checkpoints/``; ``--resume`` continues a killed run exactly.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from flax import nnx

from minilm.config import ConfigError, at_least, in_range, opt, sub
from minilm.data.batches import LMBatches
from minilm.data.dataset import Dataset
from minilm.data.registry import DataRoot, load_dataset
from minilm.data.splits import lm_text
from minilm.data.tokenizer import MASK, encode_stream, load_tokenizer, train_bpe, train_char
from minilm.metrics.perplexity import perplexity
from minilm.models.io import save_model
from minilm.models.transformer import BERT, BERT_ARCHITECTURE, GPT, TransformerConfig, count_params
from minilm.objectives.evaluate import EVAL_BATCH
from minilm.objectives.lm import lm_evaluator, lm_loss
from minilm.objectives.mlm import MLMBatches, mlm_evaluator, mlm_loss, pseudo_log_likelihood, with_cls_sep
from minilm.train.distributed import ALIASES as DIST_ALIASES
from minilm.train.distributed import DistributedConfig
from minilm.train.loop import TrainConfig, fit
from minilm.train.run import RunConfig, resume_phase, run_folder, say, start_run, write_file
from minilm.train.runlog import MetricsLog, save_report

ARCHITECTURES = ("gpt", "bert")
TOKENIZERS = ("bpe", "char")
PHASE = "pretrain"
COMMAND = "lm"


@dataclass
class Config:
    """Pretrain a language model on a text corpus: a GPT (causal LM) or a BERT (masked LM)."""

    data: str = opt("world", "training text: a dataset of task lm (see docs/data.md) or a text file")
    arch: str = opt(
        "gpt", "gpt: causal LM; bert: masked LM (sets BERT's architecture choices)", choices=ARCHITECTURES
    )
    tokenizer: str = opt("bpe", "bpe: byte-level BPE; char: one token per character", choices=TOKENIZERS)
    mask_prob: float = opt(
        0.15,
        "BERT: fraction of tokens chosen for the masked-LM loss",
        check=in_range(0, 1, low_open=True, high_open=True),
    )
    max_eval: int = opt(
        2000, "cap on held-out windows evaluated during training (the final one uses all)", check=at_least(1)
    )
    pppl_windows: int = opt(
        32, "BERT: held-out windows scored by pseudo-perplexity at the end", check=at_least(1)
    )
    run: RunConfig = sub(RunConfig, flat=True)
    root: DataRoot = sub(DataRoot, flat=True)
    dist: DistributedConfig = sub(DistributedConfig, "multi-process job and CPU devices (docs/scaling.md)")
    model: TransformerConfig = sub(
        TransformerConfig,
        "the Transformer (vocab_size: the BPE size asked for; BERT's max_len counts <cls>, <sep>)",
        vocab_size=1024, max_len=64, dropout=0.1,
    )  # fmt: skip
    train: TrainConfig = sub(
        TrainConfig, "optimisation (warmup at most a quarter of the steps)",
        steps=1200, batch_size=32, lr=1e-3, warmup_steps=50, eval_every=200, ckpt_every=200,
    )  # fmt: skip

    ALIASES: ClassVar = {
        **DIST_ALIASES,
        **{
            k: f"train.{k}"
            for k in (
                "seed",
                "steps",
                "batch_size",
                "lr",
                "warmup_steps",
                "weight_decay",
                "clip_norm",
                "fsdp",
            )
        },
        "eval_every": ("train.eval_every", "train.ckpt_every"),
        **{k: f"model.{k}" for k in ("vocab_size", "max_len", "n_layer", "n_head", "d_model", "dropout")},
    }

    def check(self) -> None:
        if self.arch == "bert" and self.model.max_len < 3:
            raise ConfigError("model.max_len", "BERT rows need room for <cls>, one token and <sep> (>= 3)")


# ------------------------------------------------------------------------------------------------- run


def _corpus(cfg: Config) -> tuple[Dataset, list[str], list[str]]:
    """The dataset and its train / held-out lines (:func:`minilm.data.splits.lm_text`)."""
    dataset = load_dataset(cfg.data, cfg.root.data_dir or None)
    train, held = lm_text(dataset, flag="--data")
    return dataset, train, held


def _model_config(cfg: Config, vocab_size: int) -> TransformerConfig:
    """``--model.*`` with the tokenizer's vocabulary; BERT's architecture with --arch=bert."""
    model = dataclasses.replace(cfg.model, vocab_size=vocab_size)
    return dataclasses.replace(model, **BERT_ARCHITECTURE) if cfg.arch == "bert" else model


def run(cfg: Config) -> int:
    t_start = time.perf_counter()
    run_dir = run_folder(cfg, COMMAND)

    # data and tokenizer: everything that can fail on bad input happens before the run folder is made
    say(cfg.run, f"loading {cfg.data}")
    dataset, train_lines, held_lines = _corpus(cfg)
    tok_path = run_dir / "tokenizer.json"
    if cfg.run.resume:
        tokenizer = load_tokenizer(tok_path)
    elif cfg.tokenizer == "char":
        tokenizer = train_char(train_lines)
    else:
        say(cfg.run, f"training a BPE tokenizer of {cfg.model.vocab_size} tokens")
        tokenizer = train_bpe(train_lines, cfg.model.vocab_size)
    train_stream = encode_stream(tokenizer, train_lines)
    held_stream = encode_stream(tokenizer, held_lines)
    vocab_size = tokenizer.get_vocab_size()
    model_cfg = _model_config(cfg, vocab_size)
    train = dataclasses.replace(cfg.train, warmup_steps=min(cfg.train.warmup_steps, cfg.train.steps // 4))
    if cfg.arch == "gpt":
        model, loss_fn = GPT(model_cfg, rngs=nnx.Rngs(train.seed)), lm_loss
        batches = LMBatches(train_stream, train.batch_size, model_cfg.max_len, train.seed)
        evaluate = lm_evaluator(model, model_cfg.max_len)
    else:
        model, loss_fn = BERT(model_cfg, rngs=nnx.Rngs(train.seed)), mlm_loss
        batches = MLMBatches(
            train_stream, train.batch_size, model_cfg.max_len, train.seed, vocab_size, cfg.mask_prob
        )
        evaluate = mlm_evaluator(model, model_cfg.max_len, vocab_size, cfg.mask_prob, train.seed)
    evaluate(model, held_stream, 1)  # a held-out text too short for one window fails here, not after training
    start_run(cfg, run_dir, COMMAND)
    if not cfg.run.resume:
        write_file(tok_path, tokenizer.to_str().encode())

    t0 = time.perf_counter()
    fit(
        model,
        loss_fn,
        batches,
        train,
        run_dir,
        eval_fn=lambda m: {"eval_loss": np.divide(*evaluate(m, held_stream, cfg.max_eval))},
        resume=resume_phase(cfg.run, run_dir, PHASE),
        phase=PHASE,
        progress=cfg.run.progress,
    )
    train_seconds = time.perf_counter() - t0
    save_model(run_dir, model, {"model": model_cfg.to_dict(), "architecture": cfg.arch})

    say(cfg.run, f"scoring the model on all {len(held_stream):,} held-out tokens")
    total_nll, n_tokens = evaluate(model, held_stream)
    summary = {
        "architecture": cfg.arch,
        "eval_loss": total_nll / n_tokens,
        "eval_tokens": n_tokens,
        "parameters": count_params(model),
        "vocab_size": vocab_size,
    }
    if cfg.arch == "gpt":
        summary["perplexity"] = perplexity(total_nll, n_tokens)
    else:
        width = model_cfg.max_len - 2
        n = min(cfg.pppl_windows, len(held_stream) // width)
        rows = with_cls_sep(held_stream[: n * width].reshape(n, width))  # (n, max_len)
        pll, scored = pseudo_log_likelihood(model, rows, MASK, EVAL_BATCH)
        summary["pseudo_perplexity"] = perplexity(-pll, scored)
        summary["pseudo_perplexity_tokens"] = scored
    summary["train_seconds"] = round(train_seconds, 1)
    summary["total_seconds"] = round(time.perf_counter() - t_start, 1)
    MetricsLog(run_dir / "metrics.jsonl").write({"phase": "test", "step": cfg.train.steps, **summary})
    text = _report(cfg, run_dir, summary, dataset)
    save_report(run_dir, text, summary)
    print(text)
    return 0


def _report(cfg: Config, run_dir: Path, s: dict, dataset: Dataset) -> str:
    what = "GPT (causal LM)" if cfg.arch == "gpt" else "BERT (masked LM)"
    lines = [
        f"# minilm run `{run_dir.name}`",
        "",
        f"Pretrained a {cfg.model.n_layer}-layer {what} ({s['parameters']:,} parameters, {cfg.tokenizer} "
        f"tokenizer with {s['vocab_size']:,} tokens) on `{dataset.name}` for {cfg.train.steps} steps of "
        f"{cfg.train.batch_size} x {cfg.model.max_len} tokens ({s['train_seconds']} s). "
        f"Total {s['total_seconds']} s.",
        "",
        "| result on the held-out text | value |",
        "|---|---|",
    ]
    if cfg.arch == "gpt":
        lines += [
            f"| next-token loss (nats/token, {s['eval_tokens']:,} tokens) | {s['eval_loss']:.4f} |",
            f"| perplexity | {s['perplexity']:.3f} |",
        ]
    else:
        lines += [
            f"| masked-LM loss (nats/token, {s['eval_tokens']:,} masked tokens) | {s['eval_loss']:.4f} |",
            f"| pseudo-perplexity ({s['pseudo_perplexity_tokens']:,} tokens) "
            f"| {s['pseudo_perplexity']:.3f} |",
        ]
    lines += [
        "",
        "Files: `metrics.jsonl` (every logged step), `loss.png` (curves), `model.safetensors` + `config.json`"
        " (the model), `tokenizer.json`, `train_config.json`.",
    ]
    return "\n".join(lines) + "\n"
