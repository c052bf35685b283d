"""``train.py finetune``: adapt a pretrained backbone to a classification task by training all, some or
none of it, with any method of :mod:`minilm.finetune`.

    python train.py finetune --init=runs/NAME --task=world_sentiment --method=lora --lora.r=8
    python train.py finetune --init=../shared/models/all-MiniLM-L6-v2 --task=sst2 --method=bitfit \\
        --train.lr=1e-3 --pooling=mean
    python train.py finetune --init=runs/NAME --method=adapter-houlsby --houlsby.reduction_factor=16

``--init`` is a minilm run or model folder (a GPT or BERT from ``train.py lm``, the default run's ``lm/``)
or a Hugging Face BERT / GPT-2 folder.  A new linear head reads the pooled hidden states (``--pooling``:
``cls`` for a BERT, ``last`` for a GPT by default, or ``mean`` over real tokens).  Each method's settings
are its own section (``--lora.*``, ``--prefix.*``, ...; ``--help`` lists them).  Learning rates that
work (the anchor's, ``bench/``): full 5e-5, LoRA 5e-4, BitFit and linear probe 1e-3, prefix and prompt
1e-2; the default ``--train.lr`` is 1e-3.

The run folder: ``method.safetensors`` + ``method.json`` (the method's weights and the head, enough to
rebuild the model from ``--init``: :mod:`minilm.finetune.saved`), ``tokenizer.json``,
``train_config.json``, ``metrics.jsonl``, ``loss.png``, ``checkpoints/``, and ``report.md`` /
``report.json`` with the test figures and what the method costs: trainable parameters (count and % of
the model), optimizer-state bytes, ms per step and peak memory.
"""

from __future__ import annotations

import collections
import functools
import json
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import jax
import numpy as np
from flax import nnx

from minilm.config import at_least, opt, required, sub
from minilm.data.batches import ExampleBatches, classification_arrays, trim_padding
from minilm.data.formats import read_json
from minilm.data.registry import DataRoot, load_dataset
from minilm.data.splits import task_splits
from minilm.errors import UserError
from minilm.finetune import METHODS, trainable_count
from minilm.finetune.adapters import HoulsbyConfig, PfeifferConfig
from minilm.finetune.bitfit import BitFitConfig
from minilm.finetune.fl import FLConfig
from minilm.finetune.freeze import FreezeConfig, FullConfig, LinearProbeConfig
from minilm.finetune.lora import LoRAConfig
from minilm.finetune.partial_ffn import PartialFFNConfig
from minilm.finetune.prefix import PrefixConfig
from minilm.finetune.prompt import PromptConfig
from minilm.finetune.saved import Finetuned, build, load_method, save_method
from minilm.metrics.classification import classification_report, format_report
from minilm.models.transformer import count_params
from minilm.objectives.classification import classification_loss, classification_scores, classifier_predictor
from minilm.train.distributed import ALIASES as DIST_ALIASES
from minilm.train.distributed import DistributedConfig
from minilm.train.loop import TrainConfig, fit
from minilm.train.optim import make_optimizer
from minilm.train.run import SAVED_CONFIG, RunConfig, resume_phase, run_folder, say, start_run, write_file
from minilm.train.runlog import MetricsLog, save_report, summary_table

COMMAND = "finetune"
POOLINGS = ("auto", "cls", "last", "mean")
# the section of each method's settings (a Python name: --linear_probe.train_layer_norms)
SECTIONS = {
    "full": "full", "freeze": "freeze", "linear-probe": "linear_probe", "adapter-houlsby": "houlsby",
    "adapter-pfeiffer": "pfeiffer", "prefix": "prefix", "prompt": "prompt", "partial-ffn": "partial_ffn",
    "fl": "fl", "lora": "lora", "bitfit": "bitfit",
}  # fmt: skip


@dataclass
class Config:
    """Fine-tune a pretrained backbone on a classification task with one of the methods."""

    init: str = opt(
        "", "the backbone: a minilm run/model folder or a Hugging Face BERT/GPT-2 folder", check=required
    )
    task: str = opt("world_sentiment", "classification task: a dataset name (see docs/data.md) or a file")
    method: str = opt(
        "full", "what trains (each method's settings: its section below)", choices=tuple(METHODS)
    )
    pooling: str = opt("auto", "what the head reads: auto = cls for a BERT, last for a GPT", choices=POOLINGS)
    max_len: int = opt(64, "tokens per example (at most the backbone's context)", check=at_least(2))
    max_eval: int = opt(2000, "cap on dev examples evaluated during training", check=at_least(1))
    bucket: int = opt(
        0,
        "pad each training batch to its longest row rounded up to a multiple of this (0: all to max_len)",
        check=at_least(0),
    )
    run: RunConfig = sub(RunConfig, flat=True)
    root: DataRoot = sub(DataRoot, flat=True)
    dist: DistributedConfig = sub(DistributedConfig, "multi-process job and CPU devices (docs/scaling.md)")
    train: TrainConfig = sub(
        TrainConfig, "optimisation: AdamW, 10% warmup, linear decay to 0 (as the anchor)",
        steps=200, batch_size=32, lr=1e-3, schedule="linear", min_lr_ratio=0.0, warmup_steps=20,
        weight_decay=0.01, beta2=0.999, eval_every=100, ckpt_every=100,
    )  # fmt: skip
    full: FullConfig = sub(FullConfig, "--method=full: every weight trains")
    freeze: FreezeConfig = sub(FreezeConfig, "--method=freeze: embeddings and the bottom blocks frozen")
    linear_probe: LinearProbeConfig = sub(LinearProbeConfig, "--method=linear-probe: only the head trains")
    houlsby: HoulsbyConfig = sub(HoulsbyConfig, "--method=adapter-houlsby (Houlsby et al. 2019)")
    pfeiffer: PfeifferConfig = sub(PfeifferConfig, "--method=adapter-pfeiffer (Pfeiffer et al. 2021)")
    prefix: PrefixConfig = sub(PrefixConfig, "--method=prefix (Li & Liang 2021)")
    prompt: PromptConfig = sub(PromptConfig, "--method=prompt (Lester et al. 2021)")
    partial_ffn: PartialFFNConfig = sub(PartialFFNConfig, "--method=partial-ffn: the FFNs of chosen blocks")
    fl: FLConfig = sub(FLConfig, "--method=fl: FL-tuning (Liu et al. 2022)")
    lora: LoRAConfig = sub(LoRAConfig, "--method=lora (Hu et al. 2021)")
    bitfit: BitFitConfig = sub(BitFitConfig, "--method=bitfit (Ben Zaken et al. 2022)")

    ALIASES: ClassVar = {
        **DIST_ALIASES,
        **{k: f"train.{k}" for k in ("seed", "steps", "batch_size", "lr")},
        "eval_every": ("train.eval_every", "train.ckpt_every"),
    }

    @property
    def method_config(self):
        return getattr(self, SECTIONS[self.method])


def run(cfg: Config) -> int:
    t_start = time.perf_counter()
    run_dir = run_folder(cfg, COMMAND)
    say(cfg.run, f"loading {cfg.task} and the backbone {cfg.init}")
    task = load_dataset(cfg.task, cfg.root.data_dir or None)
    train_ex, dev_ex, test_ex, labels = task_splits(task, cfg.train.seed)
    tuned = build(cfg.init, cfg.method, cfg.method_config, list(labels), cfg.pooling, cfg.train.seed + 1)
    width = min(cfg.max_len, tuned.model.backbone.cfg.max_len)
    label_ids = {label: i for i, label in enumerate(labels)}
    encode = functools.partial(classification_arrays, tuned.tokenizer, label_ids=label_ids, max_len=width)
    arrays = dict(zip(("train", "dev", "test"), trim_padding(
        encode(train_ex, where=f"{cfg.task} train"),
        encode(dev_ex[: cfg.max_eval], where=f"{cfg.task} dev"),
        encode(test_ex, where=f"{cfg.task} test"),
    ), strict=True))  # fmt: skip
    batches = ExampleBatches(arrays["train"], cfg.train.batch_size, cfg.train.seed, cfg.bucket)
    start_run(cfg, run_dir, COMMAND)
    write_file(run_dir / "tokenizer.json", tuned.tokenizer.to_str().encode())

    predict = classifier_predictor(tuned.model)
    t0 = time.perf_counter()
    fit(
        tuned.model,
        classification_loss,
        batches,
        cfg.train,
        run_dir,
        eval_fn=lambda m: classification_scores(predict(m, arrays["dev"]), arrays["dev"]["labels"]),
        trainable=tuned.trainable,
        resume=resume_phase(cfg.run, run_dir, COMMAND),
        phase=COMMAND,
        progress=cfg.run.progress,
    )
    train_seconds = time.perf_counter() - t0
    say(cfg.run, f"testing on {len(arrays['test']['labels']):,} examples")
    report, summary = _test(tuned, predict, arrays, labels, train_ex)
    save_method(run_dir, tuned)  # after testing: a prefix is folded into plain prefixes here
    summary |= _costs(cfg, tuned, run_dir)
    summary |= {
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
    }
    MetricsLog(run_dir / "metrics.jsonl").write({"phase": "test", "step": cfg.train.steps, **summary})
    text = (
        f"# minilm fine-tuning `{run_dir.name}`: {cfg.method} on `{cfg.task}`\n\n"
        f"Backbone `{cfg.init}`, {cfg.train.steps} steps of {cfg.train.batch_size} examples "
        f"({summary['train_seconds']} s).\n\n{summary_table(summary)}\n\n## Test set, per class\n\n"
        f"```\n{format_report(report)}\n```\n"
    )
    save_report(run_dir, text, {**summary, "test": report})
    print(text)
    return 0


# --- evaluate.py classify -----------------------------------------------------------------------------


@dataclass
class EvalConfig:
    """Score a fine-tuned classifier (a run folder of `train.py finetune`) on a task's split."""

    run_dir: str = opt(
        "", "a run folder of `train.py finetune` (method.json + method.safetensors)", check=required
    )
    task: str = opt("", "the task to score (default: the one it was trained on)")
    split: str = opt("test", "split to score (a file's only split is used whatever this says)")
    max_len: int = opt(64, "tokens per example (at most the backbone's context)", check=at_least(2))
    json: bool = opt(False, "print one JSON object")
    root: DataRoot = sub(DataRoot, flat=True)

    POSITIONAL: ClassVar = "run_dir"


def run_classify(cfg: EvalConfig) -> int:
    tuned = load_method(cfg.run_dir, trains=False)
    task_name = cfg.task or _trained_task(cfg.run_dir)
    dataset = load_dataset(task_name, cfg.root.data_dir or None)
    split = cfg.split if len(dataset.splits) > 1 else next(iter(dataset.splits))
    labels = tuned.meta["labels"]
    label_ids = {label: i for i, label in enumerate(labels)}
    width = min(cfg.max_len, tuned.model.backbone.cfg.max_len)
    arrays = classification_arrays(
        tuned.tokenizer,
        dataset.split(split),
        label_ids=label_ids,
        max_len=width,
        where=f"{task_name} {split}",
    )
    logits = classifier_predictor(tuned.model)(tuned.model, arrays)
    gold = [labels[i] for i in arrays["labels"]]
    report = classification_report(gold, [labels[i] for i in np.asarray(logits).argmax(-1)])
    print(json.dumps({"task": task_name, "split": split, **report}) if cfg.json else format_report(report))
    return 0


def _trained_task(run_dir: str) -> str:
    saved = read_json(Path(run_dir) / SAVED_CONFIG)
    if not isinstance(saved, dict) or not isinstance(saved.get("task"), str):
        raise UserError(f"{run_dir}: no task in its {SAVED_CONFIG}; pass --task")
    return saved["task"]


def _test(
    tuned: Finetuned, predict, arrays: dict, labels: tuple[str, ...], train_ex: list[dict]
) -> tuple[dict, dict]:
    test = arrays["test"]
    pred_ids = np.asarray(predict(tuned.model, test)).argmax(-1)
    gold = [labels[i] for i in test["labels"]]
    report = classification_report(gold, [labels[i] for i in pred_ids])
    majority = collections.Counter(r["label"] for r in train_ex).most_common(1)[0][0]
    baseline = classification_report(gold, [majority] * len(gold))
    dev = classification_scores(predict(tuned.model, arrays["dev"]), arrays["dev"]["labels"])
    return report, {
        "dev_accuracy": dev["eval_accuracy"],
        "test_accuracy": report["accuracy"],
        "test_macro_f1": report["macro"]["f1"],
        "majority_accuracy": baseline["accuracy"],
    }


def _costs(cfg: Config, tuned: Finetuned, run_dir) -> dict:
    """What the method costs: trainable parameters, AdamW's state, ms per step, peak memory."""
    trained = trainable_count(tuned.model, tuned.trainable)
    total = count_params(tuned.model)
    params = nnx.state(tuned.model, tuned.trainable)
    opt_state = jax.eval_shape(make_optimizer(lambda step: 0.0).init, params)
    opt_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(opt_state))
    logged = [
        r for r in MetricsLog(run_dir / "metrics.jsonl").read() if r.get("phase") == COMMAND and "loss" in r
    ]
    ms = None
    if len(logged) >= 2:  # between the first and the last log line: the compile is not counted
        ms = 1000 * (logged[-1]["seconds"] - logged[0]["seconds"]) / (logged[-1]["step"] - logged[0]["step"])
    return {
        "trainable_parameters": trained,
        "parameters": total,
        "trainable_percent": round(100 * trained / total, 4),
        "optimizer_state_bytes": int(opt_bytes),
        "ms_per_step": None if ms is None else round(ms, 1),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
