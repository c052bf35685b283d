"""Fine-tune a backbone on any task, and score a fine-tuned run: what ``train.py finetune`` and
``evaluate.py task`` do, as library functions (an experiment calls them without the commands).

    summary, markdown = finetune(FinetuneConfig(init="../shared/models/all-MiniLM-L6-v2", task="glue_rte"))
    task, tuned = load_run("runs/NAME", trains=False)
    result = evaluate_run(EvalTaskConfig(model="runs/NAME", task="sick"))

:func:`finetune` loads the task's data (:meth:`Task.load`), builds the backbone with the task's head
and the method (:meth:`Task.build`), encodes the splits (:meth:`Task.arrays`), trains what the method
leaves trainable with :func:`minilm.train.loop.fit` (the task's loss, its dev score every
``eval_every`` steps), scores the test split (:meth:`Task.evaluate`) and writes the run folder:

- ``method.safetensors`` + ``method.json``: the method's weights and the head, and how to rebuild the
  rest from ``--init`` (:mod:`minilm.finetune.saved`; the task, its options and ``max_len`` too);
- ``tokenizer.json``, ``train_config.json``, ``metrics.jsonl``, ``loss.png``, ``checkpoints/``;
- ``report.md`` / ``report.json``: the test figures (the task's report and its plots, e.g.
  ``confusion.png``) and what the method costs: trainable parameters (count and % of the model),
  optimizer-state bytes, ms per step and peak memory.

:func:`evaluate_run` rebuilds a run (:func:`load_run`), scores a split of its task or of another
task with the same kind of records, and writes ``report.md``, ``report.json``, ``metrics.jsonl`` and
the plots into ``<run>/eval-<task>-<split>/`` (or ``out``), replacing an earlier evaluation there.
"""

from __future__ import annotations

import json
import resource
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import jax
import numpy as np
from flax import nnx

from minilm.config import at_least, config_from_dict, in_range, opt, required, sub
from minilm.data.batches import ExampleBatches
from minilm.data.dataset import Record
from minilm.data.formats import read_json
from minilm.data.registry import DataRoot, load_dataset
from minilm.data.tokenizer import load_tokenizer
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.finetune import METHODS, trainable_count
from minilm.finetune.adapters import HoulsbyConfig, PfeifferConfig
from minilm.finetune.bitfit import BitFitConfig
from minilm.finetune.fl import FLConfig
from minilm.finetune.freeze import FreezeConfig, FullConfig, LinearProbeConfig
from minilm.finetune.lora import LoRAConfig
from minilm.finetune.partial_ffn import PartialFFNConfig
from minilm.finetune.prefix import PrefixConfig
from minilm.finetune.prompt import PromptConfig
from minilm.finetune.saved import Finetuned, read_meta, restore, save_method
from minilm.models.heads import set_dropout
from minilm.models.transformer import count_params
from minilm.tasks import TASKS, Task, file_task, get_task, is_file
from minilm.tasks.classification import ClassifyOptions
from minilm.tasks.generation import GenerateOptions
from minilm.tasks.qa import QAOptions
from minilm.train.distributed import ALIASES as DIST_ALIASES
from minilm.train.distributed import DistributedConfig, is_lead
from minilm.train.loop import TrainConfig, fit
from minilm.train.optim import make_optimizer
from minilm.train.run import SAVED_CONFIG, RunConfig, resume_phase, run_folder, say, start_run, write_file
from minilm.train.runlog import MetricsLog, save_report, summary_table

COMMAND = "finetune"
# the section of each method's settings (a Python name: --linear_probe.train_layer_norms)
SECTIONS = {
    "full": "full", "freeze": "freeze", "linear-probe": "linear_probe", "adapter-houlsby": "houlsby",
    "adapter-pfeiffer": "pfeiffer", "prefix": "prefix", "prompt": "prompt", "partial-ffn": "partial_ffn",
    "fl": "fl", "lora": "lora", "bitfit": "bitfit",
}  # fmt: skip


@dataclass
class FinetuneConfig:
    """Fine-tune a pretrained backbone on a task with one of the methods."""

    init: str = opt(
        "",
        "the backbone: a minilm run/model folder or a Hugging Face BERT/GPT-2 folder; seq2seq: a new "
        "encoder-decoder (generation tasks)",
        check=required,
    )
    task: str = opt("world_sentiment", "a task (docs/tasks.md) or a classification file (.csv/.tsv/.jsonl)")
    method: str = opt(
        "full", "what trains (each method's settings: its section below)", choices=tuple(METHODS)
    )
    max_len: int = opt(64, "tokens per example (at most the backbone's context)", check=at_least(2))
    max_eval: int = opt(2000, "cap on dev examples evaluated during training", check=at_least(1))
    bucket: int = opt(
        0,
        "pad each training batch to its longest row rounded up to a multiple of this (0: all to max_len)",
        check=at_least(0),
    )
    train_size: int = opt(
        0, "train on this many training examples (a sample drawn with --seed; 0 = all)", check=at_least(0)
    )
    dropout: float = opt(
        -1.0,
        "dropout everywhere in the model (< 0: the backbone's own)",
        check=in_range(-1, 1, high_open=True),
    )
    run: RunConfig = sub(RunConfig, flat=True)
    root: DataRoot = sub(DataRoot, flat=True)
    classify: ClassifyOptions = sub(ClassifyOptions, flat=True)
    qa: QAOptions = sub(QAOptions, "extractive QA tasks (xquad, world_qa): windows and answer length")
    generate: GenerateOptions = sub(
        GenerateOptions,
        "generation tasks (multi30k, scitldr, world_*): decoding; a new encoder-decoder's size",
    )
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


def finetune(cfg: FinetuneConfig) -> tuple[dict[str, Any], str]:
    """Train, test and save one run (see the module docstring); returns its summary (report.json's
    figures, the test metrics under ``test``) and report.md's text."""
    t_start = time.perf_counter()
    run_dir = run_folder(cfg, COMMAND)
    say(cfg.run, f"loading {cfg.task} and the backbone {cfg.init}")
    task = get_task(cfg.task)
    data = task.load(cfg.root.data_dir or None, cfg.train.seed)
    if cfg.train_size:
        data = data._replace(train=sample(data.train, cfg.train_size, cfg.train.seed))
    options = getattr(cfg, task.section)
    tuned = task.build(cfg.init, cfg.method, cfg.method_config, cfg.train.seed + 1, options, data.labels)
    if cfg.dropout >= 0:
        set_dropout(tuned.model, cfg.dropout)
    tuned = tuned._replace(meta={**tuned.meta, "max_len": cfg.max_len})
    arrays = task.arrays(
        tuned, {"train": data.train, "dev": data.dev[: cfg.max_eval], "test": data.test}, cfg.max_len
    )
    batches = ExampleBatches(arrays["train"], cfg.train.batch_size, cfg.train.seed, cfg.bucket)
    start_run(cfg, run_dir, COMMAND)
    write_file(run_dir / "tokenizer.json", tuned.tokenizer.to_str().encode())

    validate = task.validator(tuned, arrays["dev"])
    t0 = time.perf_counter()
    fit(
        tuned.model,
        task.loss,
        batches,
        cfg.train,
        run_dir,
        eval_fn=validate,
        trainable=tuned.trainable,
        resume=resume_phase(cfg.run, run_dir, COMMAND),
        phase=COMMAND,
        progress=cfg.run.progress,
    )
    train_seconds = time.perf_counter() - t0
    say(cfg.run, f"testing on {len(data.test):,} examples")
    metrics = task.evaluate(tuned, data.test, arrays["test"], options)
    summary = {f"dev_{k.removeprefix('eval_')}": v for k, v in validate(tuned.model).items()}
    summary |= {f"test_{k}": v for k, v in task.headline(metrics).items()}
    summary |= task.baseline(data.train, data.test)
    summary |= {f"dev_{k}": v for k, v in task.baseline(data.train, data.dev[: cfg.max_eval]).items()}
    summary["train_examples"] = len(data.train)
    save_method(run_dir, tuned)  # after testing: a prefix is folded into plain prefixes here
    summary |= _costs(tuned, run_dir)
    summary |= {
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
    }
    MetricsLog(run_dir / "metrics.jsonl").write({"phase": "test", "step": cfg.train.steps, **summary})
    text = (
        f"# minilm fine-tuning `{run_dir.name}`: {cfg.method} on `{cfg.task}`\n\n"
        f"Backbone `{cfg.init}`, {cfg.train.steps} steps of {cfg.train.batch_size} examples "
        f"({summary['train_seconds']} s); data `{data.source}`: {len(data.train):,} train, "
        f"{len(data.dev):,} dev, {len(data.test):,} test.\n\n{summary_table(summary)}\n\n"
        f"## Test set\n\n{task.report(metrics, run_dir) if is_lead() else ''}"
    )
    save_report(run_dir, text, {**summary, "test": metrics})
    return {**summary, "test": metrics}, text


def sample(records: list[Record], size: int, seed: int) -> list[Record]:
    """``size`` of ``records`` drawn without replacement with ``seed``, in their order (all if fewer)."""
    if size >= len(records):
        return records
    keep = np.sort(np.random.default_rng([seed, size]).permutation(len(records))[:size])
    return [records[i] for i in keep]


def _costs(tuned: Finetuned, run_dir: Path) -> dict:
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


# --- a saved run --------------------------------------------------------------------------------------


def _trained_task(folder: Path) -> str:
    saved = read_json(folder / SAVED_CONFIG) if (folder / SAVED_CONFIG).is_file() else None
    if not isinstance(saved, dict) or not isinstance(saved.get("task"), str):
        raise UserError(f"{folder}: no task in its method.json or {SAVED_CONFIG}; pass --task")
    return saved["task"]


def load_run(folder: str | Path, *, trains: bool) -> tuple[Task, Finetuned]:
    """The task a run was trained on and its model, rebuilt from ``method.json`` with the saved
    weights (``trains``: whether they train when handed to ``fit``, :func:`minilm.finetune.saved.restore`).
    A run of a user's file rebuilds without the file (its kind and labels are in ``method.json``)."""
    folder = Path(folder)
    meta, method_cfg = read_meta(folder)
    name = meta.get("task") or _trained_task(folder)
    task = TASKS[name] if name in TASKS else file_task(name, meta.get("kind", "classification"))
    saved_options = meta.get("options", {"pooling": meta.get("pooling", "auto")})  # runs before tasks/
    options = config_from_dict(task.Options, saved_options, f"{folder / 'method.json'}, key 'options'")
    tuned = task.build(meta["init"], meta["method"], method_cfg, 0, options, meta.get("labels"))
    if (folder / "tokenizer.json").is_file():  # the run's own (a new encoder-decoder's BPE lives only there)
        tuned = tuned._replace(tokenizer=load_tokenizer(folder / "tokenizer.json"))
    return task, restore(folder, tuned._replace(meta={**tuned.meta, **meta}), trains=trains)


@dataclass
class EvalTaskConfig:
    """Score a fine-tuned run (a folder of `train.py finetune`) on a split of its task or of another
    task with the same kind of records."""

    model: str = opt(
        "", "a run folder of `train.py finetune` (method.json + method.safetensors)", check=required
    )
    task: str = opt("", "the task to score (default: the one it was trained on); a file: all its rows")
    split: str = opt("test", "split to score", choices=("train", "dev", "test"))
    max_len: int = opt(0, "tokens per example (0: as trained)", check=at_least(0))
    oos_threshold: float = opt(
        -1.0,
        "out-of-scope threshold on the largest softmax probability (negative: as trained; clinc150)",
        check=in_range(-1.0, 1.0),
    )
    out: str = opt(
        "", "folder for report.md, report.json, metrics.jsonl, plots (default: <model>/eval-<task>-<split>)"
    )
    json: bool = opt(False, "print one JSON object")
    root: DataRoot = sub(DataRoot, flat=True)

    POSITIONAL: ClassVar = "model"


def evaluate_run(cfg: EvalTaskConfig) -> dict[str, Any]:
    """Score ``cfg.model`` on ``cfg.task``'s ``cfg.split`` (see the module docstring) and write the
    evaluation folder; returns ``{"task", "split", "out", "text", **metrics}``.

    The run's own task is split as in training (a file too: the same seed, so its test part is the
    one held out); another task's file is scored whole, its ``--split`` ignored."""
    folder = Path(cfg.model)
    trained, tuned = load_run(folder, trains=False)
    name = cfg.task or trained.name
    if name == trained.name:
        task, seed = trained, _trained_seed(folder)
    else:
        task, seed = get_task(name), 0
        if task.kind != trained.kind:
            raise UserError(
                f"--task={name} holds {_records(task.kind)}; "
                f"the model {folder} reads {_records(trained.kind)}"
            )
    options = config_from_dict(task.Options, tuned.meta.get("options", {}), f"{folder / 'method.json'}")
    if cfg.oos_threshold >= 0:
        if not hasattr(options, "oos_threshold"):
            raise UserError(f"--oos_threshold={cfg.oos_threshold}: {name} is not a classification task")
        options = replace(options, oos_threshold=cfg.oos_threshold)
    if is_file(name) and name != trained.name:  # held-out data: every row, in the file's order
        split = "all"
        records: list[Record] = [r for part in load_dataset(name).splits.values() for r in part]
    else:
        split, records = cfg.split, getattr(task.load(cfg.root.data_dir or None, seed), cfg.split)
    arrays = task.arrays(tuned, {split: records}, cfg.max_len or tuned.meta.get("max_len", 64))[split]
    metrics = task.evaluate(tuned, records, arrays, options)
    out = Path(cfg.out) if cfg.out else folder / f"eval-{Path(name).stem}-{split}"
    text = (
        f"# `{folder.name}` on `{name}` ({split}, {len(records):,} examples)\n\n"
        f"Model: {tuned.meta['method']} on `{trained.name}`, backbone `{tuned.meta['init']}`.\n\n"
        f"{task.report(metrics, out) if is_lead() else ''}"
    )
    line = {"phase": "eval", "task": name, "split": split, "examples": len(records), **task.headline(metrics)}
    save_report(out, text, {**line, "metrics": metrics})
    if is_lead():
        atomic_write_bytes(out / "metrics.jsonl", (json.dumps(line) + "\n").encode())
    return {"task": name, "split": split, "out": str(out), "text": text, **metrics}


def _trained_seed(folder: Path) -> int:
    saved = read_json(folder / SAVED_CONFIG) if (folder / SAVED_CONFIG).is_file() else {}
    seed = saved.get("train", {}).get("seed", 0) if isinstance(saved, dict) else 0
    return seed if isinstance(seed, int) else 0


def _records(kind: str) -> str:
    return {"classification": "single sentences", "pair_classification": "sentence pairs"}.get(kind, kind)
