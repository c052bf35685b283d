"""Pretrain a small GPT, fine-tune it on a classification task, evaluate it: the default run.

    python train.py                      # about 3-4 minutes on 2 CPU cores

1. data: the generated "world" corpus and its sentiment task (no download; see docs/data_card.md),
   or any registered dataset / file via --corpus and --task (see docs/data.md);
2. tokenizer: byte-level BPE trained on the corpus (``tokenizer.json``);
3. pretraining: a GPT-2-style causal LM (Radford et al. 2019) on next-token prediction;
4. fine-tuning: the same network plus a linear head on the last token's hidden state, all weights
   trained (GPT, Radford et al. 2018, §3.2) with cross-entropy;
5. evaluation: LM perplexity on held-out text; accuracy, precision, recall, F1 and the confusion
   matrix on the task's test split, next to the majority-class baseline.

Everything lands in ``runs/<name>/``: ``train_config.json``, ``metrics.jsonl``, ``loss.png``,
``report.md``, ``tokenizer.json``, ``model.safetensors`` + ``config.json`` (the fine-tuned
classifier), ``lm/`` (the pretrained LM), ``checkpoints/``.  ``--resume`` continues a killed run.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from flax import nnx
from tokenizers import Tokenizer

from minilm.config import at_least, opt, sub
from minilm.data.batches import ExampleBatches, LMBatches, classification_arrays, trim_padding
from minilm.data.registry import DataRoot, load_dataset
from minilm.data.splits import lm_text, task_splits
from minilm.data.tokenizer import encode_stream, load_tokenizer, train_bpe
from minilm.metrics.classification import classification_report, format_report
from minilm.metrics.perplexity import perplexity
from minilm.models.heads import SequenceClassifier
from minilm.models.io import save_model
from minilm.models.transformer import GPT, TransformerConfig, count_params
from minilm.objectives.classification import classification_loss, classification_scores, classifier_predictor
from minilm.objectives.lm import lm_evaluator, lm_loss
from minilm.train.distributed import ALIASES as DIST_ALIASES
from minilm.train.distributed import DistributedConfig
from minilm.train.loop import TrainConfig, fit
from minilm.train.run import RunConfig, resume_phase, run_folder, say, start_run, write_file
from minilm.train.runlog import MetricsLog, save_report

COMMAND = "pipeline"
Predictor = Callable[
    [SequenceClassifier, dict[str, np.ndarray]], np.ndarray
]  # (model, arrays) -> (N, C) logits
BOTH = ("pretrain", "finetune")


@dataclass
class Config:
    """Pretrain a small GPT, fine-tune it on a classification task, evaluate it: the default run."""

    corpus: str = opt("world", "pretraining text: a dataset name (see docs/data.md) or a text file")
    task: str = opt("world_sentiment", "classification task to fine-tune on: a dataset name or a file")
    max_eval: int = opt(2000, "cap on held-out examples/windows evaluated during training", check=at_least(1))
    run: RunConfig = sub(RunConfig, flat=True)
    root: DataRoot = sub(DataRoot, flat=True)
    dist: DistributedConfig = sub(DistributedConfig, "multi-process job and CPU devices (docs/scaling.md)")
    model: TransformerConfig = sub(
        TransformerConfig, "the GPT (vocab_size: the BPE vocabulary asked for)", vocab_size=1024, max_len=64,
        dropout=0.1,
    )  # fmt: skip
    pretrain: TrainConfig = sub(
        TrainConfig, "pretraining: next-token prediction (warmup at most a quarter of the steps)",
        steps=800, batch_size=16, lr=3e-3, warmup_steps=50, eval_every=200, ckpt_every=200,
    )  # fmt: skip
    finetune: TrainConfig = sub(
        TrainConfig, "fine-tuning: all weights and a linear head on the last token",
        steps=200, batch_size=32, lr=1e-3, warmup_steps=50, eval_every=200, ckpt_every=200,
    )  # fmt: skip

    # the short flags of the README and of earlier versions
    ALIASES: ClassVar = {
        **DIST_ALIASES,
        "seed": tuple(f"{p}.seed" for p in BOTH),
        "pretrain_steps": "pretrain.steps",
        "pretrain_batch": "pretrain.batch_size",
        "pretrain_lr": "pretrain.lr",
        "finetune_steps": "finetune.steps",
        "finetune_batch": "finetune.batch_size",
        "finetune_lr": "finetune.lr",
        "eval_every": tuple(f"{p}.{k}" for p in BOTH for k in ("eval_every", "ckpt_every")),
        "warmup_steps": tuple(f"{p}.warmup_steps" for p in BOTH),
        "weight_decay": tuple(f"{p}.weight_decay" for p in BOTH),
        "clip_norm": tuple(f"{p}.clip_norm" for p in BOTH),
        "fsdp": tuple(f"{p}.fsdp" for p in BOTH),
        "vocab_size": "model.vocab_size",
        "max_len": "model.max_len",
        "n_layer": "model.n_layer",
        "n_head": "model.n_head",
        "d_model": "model.d_model",
        "dropout": "model.dropout",
    }


def phase(train: TrainConfig) -> TrainConfig:
    """A phase's settings as run: warmup at most a quarter of its steps."""
    return dataclasses.replace(train, warmup_steps=min(train.warmup_steps, train.steps // 4))


@dataclass
class Prepared:
    """The data of a run, tokenised: what steps 1 and 2 hand to training."""

    tokenizer: Tokenizer
    train_stream: np.ndarray  # (N,) token ids of the pretraining text
    held_stream: np.ndarray  # (M,) of the held-out text
    labels: tuple[str, ...]
    train_examples: list[dict]
    arrays: dict[str, dict[str, np.ndarray]]  # train / dev / test: tokens, attention_mask, labels
    lm_batches: LMBatches  # pretraining windows
    clf_batches: ExampleBatches  # fine-tuning examples


def prepare(cfg: Config, run_dir: Path) -> Prepared:
    """1. data, 2. tokenizer: everything that can fail on bad input, before the run folder is made."""
    data_dir = cfg.root.data_dir or None
    say(cfg.run, f"loading {cfg.corpus} and {cfg.task}")
    corpus = load_dataset(cfg.corpus, data_dir)
    task = load_dataset(cfg.task, data_dir)
    train_lines, held_lines = lm_text(corpus)
    train_ex, dev_ex, test_ex, labels = task_splits(task, cfg.finetune.seed)
    if cfg.run.resume:
        tokenizer = load_tokenizer(run_dir / "tokenizer.json")
    else:
        say(cfg.run, f"training a BPE tokenizer of {cfg.model.vocab_size} tokens")
        tokenizer = train_bpe(train_lines, cfg.model.vocab_size)
    label_ids = {label: i for i, label in enumerate(labels)}
    encode = functools.partial(
        classification_arrays, tokenizer, label_ids=label_ids, max_len=cfg.model.max_len
    )
    parts = [
        encode(train_ex, where=f"{cfg.task} train"),
        encode(dev_ex[: cfg.max_eval], where=f"{cfg.task} dev"),
        encode(test_ex, where=f"{cfg.task} test"),
    ]
    arrays = dict(zip(("train", "dev", "test"), trim_padding(*parts), strict=True))
    train_stream, held_stream = encode_stream(tokenizer, train_lines), encode_stream(tokenizer, held_lines)
    lm_batches = LMBatches(train_stream, cfg.pretrain.batch_size, cfg.model.max_len, cfg.pretrain.seed)
    clf_batches = ExampleBatches(arrays["train"], cfg.finetune.batch_size, cfg.finetune.seed)
    return Prepared(tokenizer, train_stream, held_stream, labels, train_ex, arrays, lm_batches, clf_batches)


def pretrain(cfg: Config, run_dir: Path, data: Prepared) -> tuple[GPT, dict]:
    """3. pretraining: next-token prediction; the LM is saved in ``lm/`` and scored on held-out text."""
    model_cfg = dataclasses.replace(cfg.model, vocab_size=data.tokenizer.get_vocab_size())
    lm = GPT(model_cfg, rngs=nnx.Rngs(cfg.pretrain.seed))
    lm_eval = lm_evaluator(lm, cfg.model.max_len)
    t0 = time.perf_counter()
    fit(
        lm,
        lm_loss,
        data.lm_batches,
        phase(cfg.pretrain),
        run_dir,
        eval_fn=lambda m: {"eval_loss": np.divide(*lm_eval(m, data.held_stream, cfg.max_eval))},
        resume=resume_phase(cfg.run, run_dir, "pretrain"),
        phase="pretrain",
        progress=cfg.run.progress,
    )
    seconds = time.perf_counter() - t0
    save_model(run_dir / "lm", lm, {"model": model_cfg.to_dict(), "architecture": "gpt"})
    say(cfg.run, f"scoring the LM on all {len(data.held_stream):,} held-out tokens")
    total_nll, n_tokens = lm_eval(lm, data.held_stream)
    return lm, {
        "lm_perplexity": perplexity(total_nll, n_tokens),
        "lm_eval_tokens": n_tokens,
        "parameters": count_params(lm),
        "pretrain_seconds": round(seconds, 1),
    }


def finetune(
    cfg: Config, run_dir: Path, data: Prepared, lm: GPT
) -> tuple[SequenceClassifier, Predictor, float]:
    """4. fine-tuning: all weights and a linear head on the last token; the classifier is saved.
    Returns it, its batched predictor and the seconds the phase took."""
    clf = SequenceClassifier(lm, len(data.labels), pooling="last", rngs=nnx.Rngs(cfg.finetune.seed + 1))
    predict = classifier_predictor(clf)
    dev = data.arrays["dev"]
    t0 = time.perf_counter()
    fit(
        clf,
        classification_loss,
        data.clf_batches,
        phase(cfg.finetune),
        run_dir,
        eval_fn=lambda m: classification_scores(predict(m, dev), dev["labels"]),
        resume=resume_phase(cfg.run, run_dir, "finetune"),
        phase="finetune",
        progress=cfg.run.progress,
    )
    seconds = time.perf_counter() - t0
    config = {"model": lm.cfg.to_dict(), "architecture": "gpt-classifier", "pooling": "last"}
    save_model(run_dir, clf, {**config, "labels": list(data.labels)})
    return clf, predict, seconds


def test(cfg: Config, data: Prepared, predict: Predictor, clf: SequenceClassifier) -> tuple[dict, dict]:
    """5. evaluation on the test split, beside the majority-class baseline: (report, figures)."""
    test_arrays = data.arrays["test"]
    say(cfg.run, f"testing the classifier on {len(test_arrays['labels']):,} examples")
    pred_ids = predict(clf, test_arrays).argmax(-1)
    gold = [data.labels[i] for i in test_arrays["labels"]]
    report = classification_report(gold, [data.labels[i] for i in pred_ids])
    majority = collections.Counter(r["label"] for r in data.train_examples).most_common(1)[0][0]
    baseline = classification_report(gold, [majority] * len(gold))
    return report, {
        "test_accuracy": report["accuracy"],
        "test_macro_f1": report["macro"]["f1"],
        "majority_label": majority,
        "majority_accuracy": baseline["accuracy"],
        "majority_macro_f1": baseline["macro"]["f1"],
    }


def run(cfg: Config) -> int:
    t_start = time.perf_counter()
    run_dir = run_folder(cfg, COMMAND)
    data = prepare(cfg, run_dir)
    start_run(cfg, run_dir, COMMAND)
    if not cfg.run.resume:
        write_file(run_dir / "tokenizer.json", data.tokenizer.to_str().encode())
    lm, lm_figures = pretrain(cfg, run_dir, data)
    clf, predict, finetune_seconds = finetune(cfg, run_dir, data, lm)
    report, test_figures = test(cfg, data, predict, clf)
    summary = {
        "lm_perplexity": lm_figures["lm_perplexity"],
        "lm_eval_tokens": lm_figures["lm_eval_tokens"],
        **test_figures,
        "parameters": lm_figures["parameters"],
        "pretrain_seconds": lm_figures["pretrain_seconds"],
        "finetune_seconds": round(finetune_seconds, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
    }
    MetricsLog(run_dir / "metrics.jsonl").write({"phase": "test", "step": cfg.finetune.steps, **summary})
    text = _report(cfg, run_dir, summary, report)
    save_report(run_dir, text, {**summary, "test": report})
    print(text)
    return 0


def _report(cfg: Config, run_dir: Path, s: dict, report: dict) -> str:
    lines = [
        f"# minilm run `{run_dir.name}`",
        "",
        f"Pretrained a {cfg.model.n_layer}-layer GPT ({s['parameters']:,} parameters) on `{cfg.corpus}` for "
        f"{cfg.pretrain.steps} steps ({s['pretrain_seconds']} s), fine-tuned it on `{cfg.task}` for "
        f"{cfg.finetune.steps} steps ({s['finetune_seconds']} s). Total {s['total_seconds']} s.",
        "",
        "| result | value |",
        "|---|---|",
        f"| LM perplexity on held-out text ({s['lm_eval_tokens']:,} tokens) | {s['lm_perplexity']:.3f} |",
        f"| test accuracy | {s['test_accuracy']:.4f} |",
        f"| test macro F1 | {s['test_macro_f1']:.4f} |",
        f"| majority-class baseline (`{s['majority_label']}`): accuracy / macro F1 "
        f"| {s['majority_accuracy']:.4f} / {s['majority_macro_f1']:.4f} |",
        "",
        "## Test set, per class",
        "",
        "```",
        format_report(report),
        "```",
        "",
        "Files: `metrics.jsonl` (every logged step), `loss.png` (curves), `model.safetensors` + `config.json`"
        " (classifier), `lm/` (pretrained LM), `tokenizer.json`, `train_config.json`.",
    ]
    return "\n".join(lines) + "\n"
