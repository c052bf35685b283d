"""Pretrain a language model on a text corpus: a GPT (causal LM) or a BERT (masked LM).

    python train.py lm                                     # GPT on the generated world corpus, BPE
    python train.py lm --arch=bert --name=bert-world       # BERT, masked-LM objective
    python train.py lm --data=tinyshakespeare --tokenizer=char --name=shakespeare   # needs $MINILM_DATA
    python train.py lm --data=my_corpus.txt                # one text per line
    python train.py generate --model=runs/shakespeare --prompt="ROMEO:"

- GPT (Radford et al. 2018/2019): next-token cross-entropy ``-1/(B T) sum_t log p(x_{t+1} | x_<=t)`` on
  random windows of the token stream; reported: held-out perplexity ``exp(NLL / tokens)`` over
  non-overlapping windows (:func:`minilm.pipeline.lm_evaluator`).
- BERT (Devlin et al. 2019, §3.1 "Task #1: Masked LM"): each training row is ``<cls> window <sep>``;
  15% of the window's tokens are chosen, of which 80% become ``<mask>``, 10% a random token and 10%
  stay, and the loss is the cross-entropy of the original tokens at the chosen positions
  (:mod:`minilm.models.masking`).  No next-sentence prediction (as RoBERTa).  Reported: held-out MLM loss
  under a fixed masking, and pseudo-perplexity (Salazar et al. 2020, "Masked Language Model Scoring",
  eq. 2): every token masked in turn, ``PPPL = exp(-1/N sum_t log p(x_t | x_{\\t}))``
  (:func:`minilm.models.masking.pseudo_log_likelihood`, as ``evaluate.py perplexity`` for a BERT).
- Tokenizer: byte-level BPE (:func:`minilm.data.tokenizer.train_bpe`) or one token per character
  (:func:`minilm.data.tokenizer.train_char`); either is saved as ``tokenizer.json``.

The run folder ``<out_dir>/<name>`` has the layout of the default run (:mod:`minilm.pipeline`):
``train_config.json``, ``metrics.jsonl``, ``loss.png``, ``report.md``, ``tokenizer.json``,
``model.safetensors`` + ``config.json`` (``{"model": TransformerConfig, "architecture": "gpt"|"bert"}``),
``checkpoints/``; ``--resume`` continues a killed run exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from minilm.config import ResumableRunSettings, opt
from minilm.data.batches import LMBatches
from minilm.data.registry import Dataset, load_dataset
from minilm.data.tokenizer import CLS, MASK, SEP, encode_stream, load_tokenizer, train_bpe, train_char
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.metrics.perplexity import perplexity
from minilm.models.io import save_model
from minilm.models.masking import mask_tokens, pseudo_log_likelihood
from minilm.models.transformer import BERT, GPT, TransformerConfig, count_params
from minilm.pipeline import (
    EVAL_BATCH,
    lm_evaluator,
    lm_loss,
    lm_text,
    phase_config,
    resume_phase,
)
from minilm.train.loop import fit
from minilm.train.runlog import MetricsLog

ARCHITECTURES = ("gpt", "bert")
TOKENIZERS = ("bpe", "char")
PHASE = "pretrain"


@dataclass
class Config(ResumableRunSettings):
    """Settings of ``train.py lm`` (``python train.py lm --help``)."""

    data: str = opt("world", "training text: a dataset of task lm (see docs/data.md) or a text file")
    seed: int = opt(0, "seed for initialisation, data order, masking and dropout")
    arch: str = opt("gpt", "gpt: causal LM; bert: masked LM", choices=ARCHITECTURES)
    tokenizer: str = opt("bpe", "bpe: byte-level BPE; char: one token per character", choices=TOKENIZERS)
    # model
    vocab_size: int = opt(1024, "BPE vocabulary size (ignored with --tokenizer=char)")
    max_len: int = opt(64, "context length in tokens (BERT: including <cls> and <sep>)")
    n_layer: int = opt(4, "Transformer blocks")
    n_head: int = opt(4, "attention heads")
    d_model: int = opt(128, "hidden size")
    dropout: float = opt(0.1, "dropout on embeddings and residual branches")
    mask_prob: float = opt(0.15, "BERT: fraction of tokens chosen for the masked-LM loss")
    # training
    steps: int = opt(1200, "optimizer steps")
    batch_size: int = opt(32, "sequences per step")
    lr: float = opt(1e-3, "peak learning rate (AdamW)")
    warmup_steps: int = opt(50, "linear warmup steps (at most a quarter of --steps)")
    weight_decay: float = opt(0.1, "AdamW decoupled weight decay (matrices only)")
    clip_norm: float = opt(1.0, "global gradient-norm clipping (0 = off)")
    eval_every: int = opt(200, "steps between held-out evaluations and checkpoints")
    max_eval: int = opt(2000, "cap on held-out windows evaluated during training (the final one uses all)")
    pppl_windows: int = opt(32, "BERT: held-out windows scored by pseudo-perplexity at the end")


# ------------------------------------------------------------------------------------------------ BERT


class MLMBatches:
    """Masked-LM batches: ``<cls> window <sep>`` rows from random windows of the stream, masked with a
    generator seeded by ``(seed, step)`` (so a resumed run sees the same masks).

    batch(step) -> {"tokens": (B, T) masked input, "targets": (B, T) original ids, "weights": (B, T)
    1.0 where the loss is taken}.
    """

    def __init__(
        self, stream: np.ndarray, batch_size: int, seq_len: int, seed: int, vocab_size: int, p: float
    ):
        self.windows = LMBatches(stream, batch_size, seq_len - 2, seed)
        self.seed, self.vocab_size, self.p = seed, vocab_size, p

    def batch(self, step: int) -> dict[str, np.ndarray]:
        rows = with_cls_sep(self.windows.batch(step)["tokens"])
        rng = np.random.default_rng([self.seed, step, 1])  # 1: not the stream LMBatches draws from
        return masked_batch(rows, rng, self.vocab_size, self.p)


def with_cls_sep(windows: np.ndarray) -> np.ndarray:
    """(B, W) -> (B, W + 2): ``<cls> w_1 .. w_W <sep>``."""
    b = len(windows)
    return np.concatenate([np.full((b, 1), CLS), windows, np.full((b, 1), SEP)], axis=1).astype(np.int32)


def masked_batch(
    rows: np.ndarray, rng: np.random.Generator, vocab_size: int, p: float
) -> dict[str, np.ndarray]:
    """Mask ``rows`` (B, T) for the MLM loss; <cls>/<sep> (first and last column) are never chosen."""
    candidates = np.ones(rows.shape, bool)
    candidates[:, [0, -1]] = False
    inputs, chosen = mask_tokens(rows, candidates, rng, vocab_size=vocab_size, mask_id=MASK, p=p)
    return {"tokens": inputs, "targets": rows, "weights": chosen.astype(np.float32)}


def mlm_loss(model: BERT, batch: dict[str, jax.Array], rngs: nnx.Rngs | None):
    """Mean cross-entropy of the original tokens at the chosen positions."""
    logits = model(batch["tokens"], rngs=rngs)  # (B, T, V)
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])  # (B, T)
    w = batch["weights"]
    return jnp.sum(nll * w) / jnp.maximum(jnp.sum(w), 1.0), {}


def mlm_evaluator(model: BERT, seq_len: int, vocab_size: int, p: float, seed: int):
    """``evaluate(model, stream, max_windows) -> (summed NLL at the chosen positions, positions)``.

    The stream is cut into non-overlapping windows of ``seq_len - 2`` tokens, each wrapped in
    ``<cls> .. <sep>`` and masked once with a generator seeded by ``seed`` (the same masks at every
    evaluation); fixed-size jitted batches as :func:`minilm.pipeline.lm_evaluator`.
    """
    graphdef = nnx.graphdef(model)
    width = seq_len - 2

    @jax.jit
    def batch_nll(state, tokens, targets, weights):  # (b, T) x3 -> ()
        logits = nnx.merge(graphdef, state)(tokens)  # (b, T, V)
        return jnp.sum(optax.softmax_cross_entropy_with_integer_labels(logits, targets) * weights)

    def evaluate(m: BERT, stream: np.ndarray, max_windows: int | None = None) -> tuple[float, int]:
        n = len(stream) // width
        if max_windows is not None:
            n = min(n, max_windows)
        if n == 0:
            raise UserError(f"the held-out text has {len(stream)} tokens, fewer than one window of {width}")
        rows = with_cls_sep(stream[: n * width].reshape(n, width))
        batch = masked_batch(rows, np.random.default_rng([seed, 2]), vocab_size, p)
        pad = ((0, -n % EVAL_BATCH), (0, 0))
        arrays = [np.pad(batch[k], pad) for k in ("tokens", "targets", "weights")]  # padding rows: weight 0
        state = nnx.state(m)
        total = sum(
            float(batch_nll(state, *(a[i : i + EVAL_BATCH] for a in arrays)))
            for i in range(0, len(arrays[0]), EVAL_BATCH)
        )
        return total, int(batch["weights"].sum())

    return evaluate


# ------------------------------------------------------------------------------------------------- run


def _corpus(cfg: Config) -> tuple[Dataset, list[str], list[str]]:
    """The dataset and its train / held-out lines (:func:`minilm.pipeline.lm_text`)."""
    dataset = load_dataset(cfg.data, cfg.data_dir or None)
    train, held = lm_text(dataset, flag="--data")
    return dataset, train, held


def _model_config(cfg: Config, vocab_size: int) -> TransformerConfig:
    shape = dict(
        vocab_size=vocab_size,
        max_len=cfg.max_len,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        d_model=cfg.d_model,
        d_ff=4 * cfg.d_model,
        dropout=cfg.dropout,
    )
    return TransformerConfig(**shape) if cfg.arch == "gpt" else TransformerConfig.bert(**shape)


def run(cfg: Config) -> int:
    t_start = time.perf_counter()
    if cfg.arch == "bert" and cfg.max_len < 3:
        raise UserError(f"--max_len={cfg.max_len}: BERT rows need room for <cls>, one token and <sep>")
    if not 0.0 < cfg.mask_prob < 1.0:
        raise UserError(f"--mask_prob={cfg.mask_prob}: must be in (0, 1)")
    run_dir = cfg.run_folder()

    # data and tokenizer: everything that can fail on bad input happens before the run folder is made
    dataset, train_lines, held_lines = _corpus(cfg)
    tok_path = run_dir / "tokenizer.json"
    if cfg.resume:
        tokenizer = load_tokenizer(tok_path)
    elif cfg.tokenizer == "char":
        tokenizer = train_char(train_lines)
    else:
        tokenizer = train_bpe(train_lines, cfg.vocab_size)
    train_stream = encode_stream(tokenizer, train_lines)
    held_stream = encode_stream(tokenizer, held_lines)
    vocab_size = tokenizer.get_vocab_size()
    model_cfg = _model_config(cfg, vocab_size)
    if cfg.arch == "gpt":
        model, loss_fn = GPT(model_cfg, rngs=nnx.Rngs(cfg.seed)), lm_loss
        batches = LMBatches(train_stream, cfg.batch_size, cfg.max_len, cfg.seed)
        evaluate = lm_evaluator(model, cfg.max_len)
    else:
        model, loss_fn = BERT(model_cfg, rngs=nnx.Rngs(cfg.seed)), mlm_loss
        batches = MLMBatches(train_stream, cfg.batch_size, cfg.max_len, cfg.seed, vocab_size, cfg.mask_prob)
        evaluate = mlm_evaluator(model, cfg.max_len, vocab_size, cfg.mask_prob, cfg.seed)
    evaluate(model, held_stream, 1)  # a held-out text too short for one window fails here, not after training
    cfg.start_run(run_dir)
    if not cfg.resume:
        atomic_write_bytes(tok_path, tokenizer.to_str().encode())

    t0 = time.perf_counter()
    fit(
        model,
        loss_fn,
        batches,
        phase_config(cfg, cfg.steps, cfg.batch_size, cfg.lr),
        run_dir,
        eval_fn=lambda m: {"eval_loss": np.divide(*evaluate(m, held_stream, cfg.max_eval))},
        resume=resume_phase(cfg, run_dir, PHASE),
        phase=PHASE,
    )
    train_seconds = time.perf_counter() - t0
    save_model(run_dir, model, {"model": model_cfg.to_dict(), "architecture": cfg.arch})

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
        width = cfg.max_len - 2
        n = min(cfg.pppl_windows, len(held_stream) // width)
        rows = with_cls_sep(held_stream[: n * width].reshape(n, width))  # (n, max_len)
        pll, scored = pseudo_log_likelihood(model, rows, MASK, EVAL_BATCH)
        summary["pseudo_perplexity"] = perplexity(-pll, scored)
        summary["pseudo_perplexity_tokens"] = scored
    summary["train_seconds"] = round(train_seconds, 1)
    summary["total_seconds"] = round(time.perf_counter() - t_start, 1)
    MetricsLog(run_dir / "metrics.jsonl").write({"phase": "test", "step": cfg.steps, **summary})
    text = _report(cfg, run_dir, summary, dataset)
    atomic_write_bytes(run_dir / "report.md", text.encode())
    print(text)
    return 0


def _report(cfg: Config, run_dir: Path, s: dict, dataset: Dataset) -> str:
    what = "GPT (causal LM)" if cfg.arch == "gpt" else "BERT (masked LM)"
    lines = [
        f"# minilm run `{run_dir.name}`",
        "",
        f"Pretrained a {cfg.n_layer}-layer {what} ({s['parameters']:,} parameters, {cfg.tokenizer} tokenizer "
        f"with {s['vocab_size']:,} tokens) on `{dataset.name}` for {cfg.steps} steps of {cfg.batch_size} x "
        f"{cfg.max_len} tokens ({s['train_seconds']} s). Total {s['total_seconds']} s.",
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
