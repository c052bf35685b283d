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
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from flax import nnx

from minilm.config import at_least, opt, sub
from minilm.data.batches import ExampleBatches, LMBatches, classification_arrays, trim_padding
from minilm.data.dataset import Dataset
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


def run(cfg: Config) -> int:
    t_start = time.perf_counter()
    run_dir = run_folder(cfg, COMMAND)

    # 1. data, 2. tokenizer: everything that can fail on bad input happens before the run folder is made
    data_dir = cfg.root.data_dir or None
    say(cfg.run, f"loading {cfg.corpus} and {cfg.task}")
    corpus = load_dataset(cfg.corpus, data_dir)
    task = load_dataset(cfg.task, data_dir)
    train_lines, held_lines = lm_text(corpus)
    train_ex, dev_ex, test_ex, labels = task_splits(task, cfg.finetune.seed)
    tok_path = run_dir / "tokenizer.json"
    if not cfg.run.resume:
        say(cfg.run, f"training a BPE tokenizer of {cfg.model.vocab_size} tokens")
    tokenizer = load_tokenizer(tok_path) if cfg.run.resume else train_bpe(train_lines, cfg.model.vocab_size)
    train_stream = encode_stream(tokenizer, train_lines)
    held_stream = encode_stream(tokenizer, held_lines)
    lm_batches = LMBatches(train_stream, cfg.pretrain.batch_size, cfg.model.max_len, cfg.pretrain.seed)
    label_ids = {label: i for i, label in enumerate(labels)}
    encode = functools.partial(
        classification_arrays, tokenizer, label_ids=label_ids, max_len=cfg.model.max_len
    )
    train_arrays = encode(train_ex, where=f"{cfg.task} train")
    dev_arrays = encode(dev_ex[: cfg.max_eval], where=f"{cfg.task} dev")
    test_arrays = encode(test_ex, where=f"{cfg.task} test")
    train_arrays, dev_arrays, test_arrays = trim_padding(train_arrays, dev_arrays, test_arrays)
    clf_batches = ExampleBatches(train_arrays, cfg.finetune.batch_size, cfg.finetune.seed)
    start_run(cfg, run_dir, COMMAND)
    if not cfg.run.resume:
        write_file(tok_path, tokenizer.to_str().encode())

    # 3. pretraining ------------------------------------------------------------------------------
    model_cfg = dataclasses.replace(cfg.model, vocab_size=tokenizer.get_vocab_size())
    lm = GPT(model_cfg, rngs=nnx.Rngs(cfg.pretrain.seed))
    lm_eval = lm_evaluator(lm, cfg.model.max_len)
    t0 = time.perf_counter()
    fit(
        lm,
        lm_loss,
        lm_batches,
        phase(cfg.pretrain),
        run_dir,
        eval_fn=lambda m: {"eval_loss": np.divide(*lm_eval(m, held_stream, cfg.max_eval))},
        resume=resume_phase(cfg.run, run_dir, "pretrain"),
        phase="pretrain",
        progress=cfg.run.progress,
    )
    pretrain_seconds = time.perf_counter() - t0
    save_model(run_dir / "lm", lm, {"model": model_cfg.to_dict(), "architecture": "gpt"})
    say(cfg.run, f"scoring the LM on all {len(held_stream):,} held-out tokens")
    total_nll, n_tokens = lm_eval(lm, held_stream)
    ppl = perplexity(total_nll, n_tokens)

    # 4. fine-tuning ------------------------------------------------------------------------------
    clf = SequenceClassifier(lm, len(labels), pooling="last", rngs=nnx.Rngs(cfg.finetune.seed + 1))
    predict = classifier_predictor(clf)

    t0 = time.perf_counter()
    fit(
        clf,
        classification_loss,
        clf_batches,
        phase(cfg.finetune),
        run_dir,
        eval_fn=lambda m: classification_scores(predict(m, dev_arrays), dev_arrays["labels"]),
        resume=resume_phase(cfg.run, run_dir, "finetune"),
        phase="finetune",
        progress=cfg.run.progress,
    )
    finetune_seconds = time.perf_counter() - t0
    classifier_config = {"model": model_cfg.to_dict(), "architecture": "gpt-classifier", "pooling": "last"}
    save_model(run_dir, clf, {**classifier_config, "labels": list(labels)})

    # 5. evaluation -------------------------------------------------------------------------------
    say(cfg.run, f"testing the classifier on {len(test_arrays['labels']):,} examples")
    pred_ids = predict(clf, test_arrays).argmax(-1)
    gold = [labels[i] for i in test_arrays["labels"]]
    pred = [labels[i] for i in pred_ids]
    report = classification_report(gold, pred)
    majority = collections.Counter(r["label"] for r in train_ex).most_common(1)[0][0]
    baseline = classification_report(gold, [majority] * len(gold))
    summary = {
        "lm_perplexity": ppl,
        "lm_eval_tokens": n_tokens,
        "test_accuracy": report["accuracy"],
        "test_macro_f1": report["macro"]["f1"],
        "majority_label": majority,
        "majority_accuracy": baseline["accuracy"],
        "majority_macro_f1": baseline["macro"]["f1"],
        "parameters": count_params(lm),
        "pretrain_seconds": round(pretrain_seconds, 1),
        "finetune_seconds": round(finetune_seconds, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
    }
    MetricsLog(run_dir / "metrics.jsonl").write({"phase": "test", "step": cfg.finetune.steps, **summary})
    text = _report(cfg, run_dir, summary, report, corpus, task)
    save_report(run_dir, text, {**summary, "test": report})
    print(text)
    return 0


def _report(cfg: Config, run_dir: Path, s: dict, report: dict, corpus: Dataset, task: Dataset) -> str:
    lines = [
        f"# minilm run `{run_dir.name}`",
        "",
        f"Pretrained a {cfg.model.n_layer}-layer GPT ({s['parameters']:,} parameters) on `{corpus.name}` for "
        f"{cfg.pretrain.steps} steps ({s['pretrain_seconds']} s), fine-tuned it on `{task.name}` for "
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
