"""What every experiment shares: the backbone, one fine-tuning run, a sweep of runs, the tables.

An experiment is a **sweep**: a list of ordinary fine-tuning runs, each in its own run folder under
the experiment's folder (``<out_dir>/<experiment>/runs/<run>/``: ``train_config.json``,
``metrics.jsonl``, ``loss.png``, ``report.md`` + ``report.json``, ``checkpoints/``).  A run whose
``report.json`` exists is done and is skipped; a run killed half-way continues from its checkpoint.  So
an experiment killed at any point continues where it stopped when started again.

Runs are independent, so a sweep splits over processes with ``--part=i --parts=n`` (run ``k`` belongs
to part ``k mod n``): several processes on one machine (one per device), or a cluster array, one part
per task, with no code change::

    # SLURM: sbatch --array=0-7 --wrap \
    #     'python train.py experiment stability --part=$SLURM_ARRAY_TASK_ID --parts=8'
    # Ray:   ray.get([ray.remote(run_part).remote(i, 8) for i in range(8)])
    python train.py experiment stability         # afterwards (or any part last to finish): the report

The part that finds every run done writes the experiment's ``report.md``, CSV and plots.

**The backbone.**  ``--init`` names a pretrained model folder (a minilm run, a Hugging Face folder);
without it, a tiny GPT is pretrained once on the generated ``world`` corpus into ``<out_dir>/backbone/``
(:func:`pretrained_backbone`, a few tens of seconds) and every experiment in ``out_dir`` shares it.

**One run** (:func:`finetune`) is ``train.py finetune`` itself (:func:`minilm.tasks.run.finetune`) in
the run's folder.  Its settings are a :class:`FinetuneRun`, which an experiment varies field by field
with dotted keys (``{"train.lr": 1e-4}``), the same keys a search takes (:func:`settings`).  The
forgetting experiment needs what that run does not offer -- a model whose backbone another task's
model shares, a penalty added to the loss, replayed batches, another task scored at each evaluation
-- and trains with :func:`train_classifier` (on :func:`task_data`): the same ``fit``, loss and scores.
So do freezing (enciphered tokens) and pretraining (held-out labels, flipped labels, a backbone
drawn afresh, calibration and OOD scores in the report).
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import functools
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from minilm.config import ConfigError, at_least, config_from_dict, config_to_dict, in_range, opt, sub
from minilm.data.batches import ExampleBatches, LMBatches
from minilm.data.registry import DataRoot, load_dataset
from minilm.data.splits import lm_text
from minilm.data.tokenizer import encode_stream, train_bpe
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.finetune import METHODS, trainable_count
from minilm.finetune.saved import Finetuned, build
from minilm.models.heads import set_dropout
from minilm.models.io import save_model
from minilm.models.transformer import GPT, TransformerConfig, count_params
from minilm.objectives.classification import classification_loss, classification_scores, classifier_predictor
from minilm.objectives.lm import lm_loss
from minilm.tasks import get_task
from minilm.tasks.classification import ClassifyOptions
from minilm.tasks.run import SECTIONS, FinetuneConfig, sample
from minilm.tasks.run import finetune as run_task
from minilm.train.loop import TrainConfig, fit
from minilm.train.run import SAVED_CONFIG, RunConfig
from minilm.train.runlog import MetricsLog, pyplot, save_report, summary_table

REPORT = "report.json"  # a run is done when its report exists
PHASE = "finetune"

# ------------------------------------------------------------------------------------------ the backbone


@dataclass
class BackboneConfig:
    """The pretrained model every run starts from: ``init``, else a tiny GPT pretrained here once."""

    init: str = opt("", "a minilm or Hugging Face model folder; empty: a tiny GPT pretrained on `world`")
    data_dir: str = opt("", "root of the real datasets (default $MINILM_DATA)")
    model: TransformerConfig = sub(
        TransformerConfig,
        "the tiny GPT pretrained when --init is empty",
        vocab_size=512,
        max_len=48,
        n_layer=2,
        n_head=4,
        d_model=64,
        d_ff=256,
        dropout=0.1,
    )
    pretrain: TrainConfig = sub(
        TrainConfig,
        "its pretraining on the `world` corpus (next-token prediction)",
        steps=400,
        batch_size=32,
        lr=3e-3,
        warmup_steps=40,
        eval_every=0,
        ckpt_every=100,
    )


def pretrained_backbone(cfg: BackboneConfig, out_dir: Path, progress: bool) -> str:
    """``cfg.init``, or ``<out_dir>/backbone``: the tiny GPT, pretrained there unless it is already."""
    if cfg.init:
        return cfg.init
    folder = out_dir / "backbone"
    if (folder / "model.safetensors").is_file():
        return str(folder)
    train_lines, _ = lm_text(load_dataset("world"))
    tokenizer = train_bpe(train_lines, cfg.model.vocab_size)
    model_cfg = dataclasses.replace(cfg.model, vocab_size=tokenizer.get_vocab_size())
    lm = GPT(model_cfg, rngs=nnx.Rngs(cfg.pretrain.seed))
    stream = encode_stream(tokenizer, train_lines)
    batches = LMBatches(stream, cfg.pretrain.batch_size, model_cfg.max_len, cfg.pretrain.seed)
    resume = (folder / "checkpoints" / "pretrain.safetensors").is_file()
    fit(lm, lm_loss, batches, cfg.pretrain, folder, resume=resume, phase="pretrain", progress=progress)
    atomic_write_bytes(folder / "tokenizer.json", tokenizer.to_str().encode())
    save_model(folder, lm, {"model": model_cfg.to_dict(), "architecture": "gpt"})  # last: marks it done
    return str(folder)


# -------------------------------------------------------------------------------------------- one run


@dataclass
class FinetuneRun:
    """The settings of one fine-tuning run of a sweep (experiments and searches vary them by dotted key)."""

    task: str = opt("world_sentiment", "classification task: a dataset name (docs/data.md) or a file")
    method: str = opt("full", "what trains (minilm.finetune)", choices=tuple(METHODS))
    method_args: tuple[str, ...] = opt((), "the method's settings as key=value (e.g. r=4)")
    pooling: str = opt("auto", "what the head reads", choices=("auto", "cls", "last", "mean"))
    max_len: int = opt(48, "tokens per example (at most the backbone's context)", check=at_least(2))
    train_size: int = opt(0, "train on this many examples (a seeded sample; 0 = all)", check=at_least(0))
    max_eval: int = opt(400, "cap on dev examples", check=at_least(1))
    dropout: float = opt(
        -1.0,
        "dropout everywhere in the model (< 0: the backbone's own)",
        check=in_range(-1, 1, high_open=True),
    )
    train: TrainConfig = sub(
        TrainConfig,
        "optimisation",
        steps=100,
        batch_size=16,
        lr=1e-3,
        schedule="linear",
        warmup_steps=10,
        min_lr_ratio=0.0,
        weight_decay=0.01,
        beta2=0.999,
        eval_every=0,
        ckpt_every=50,
    )

    def method_config(self) -> Any:
        """The method's config dataclass with ``method_args`` applied (checked as flags are)."""
        pairs = [a.split("=", 1) for a in self.method_args]
        if any(len(p) != 2 for p in pairs):
            raise UserError(f"method_args={','.join(self.method_args)}: expected key=value items")
        return config_from_dict(METHODS[self.method].config, dict(pairs), f"--method_args ({self.method})")


def settings(base: FinetuneRun, changes: dict[str, Any]) -> FinetuneRun:
    """``base`` with ``changes`` ({"train.lr": 1e-4, "method": "lora"}) applied and checked."""
    tree = config_to_dict(base)
    for key, value in changes.items():
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise UserError(f"{key}: no such setting of a fine-tuning run (see --help)")
            node = node[part]
        if leaf not in node:
            raise UserError(f"{key}: no such setting of a fine-tuning run (see --help)")
        node[leaf] = list(value) if isinstance(value, tuple) else value
    return config_from_dict(FinetuneRun, tree, "the sweep's settings")


@dataclass
class TaskData:
    """A task tokenised for one backbone: train / dev / test arrays, the labels, the majority class's
    dev accuracy (a failed run scores no better)."""

    arrays: dict[str, dict[str, np.ndarray]]
    labels: tuple[str, ...]
    majority_dev: float


@functools.lru_cache(maxsize=8)
def task_data(task: str, init: str, max_len: int, max_eval: int, data_dir: str = "") -> TaskData:
    """:class:`TaskData` (cached: the runs of a sweep share it), encoded by the task's own
    :meth:`~minilm.tasks.base.Task.arrays` -- the inputs ``train.py finetune`` gives the same backbone."""
    spec = get_task(task)
    data = spec.load(data_dir or None, 0)
    method = METHODS["linear-probe"]
    tuned = spec.build(init, "linear-probe", method.config(), 0, ClassifyOptions(), data.labels)
    splits = {"train": data.train, "dev": data.dev[:max_eval], "test": data.test}
    arrays = spec.arrays(tuned, splits, max_len)
    labels = tuple(tuned.meta["labels"])
    return TaskData(arrays, labels, majority_accuracy(arrays["train"]["labels"], arrays["dev"]["labels"]))


def majority_accuracy(train_labels: np.ndarray, dev_labels: np.ndarray) -> float:
    """The dev accuracy of always predicting the most frequent training label."""
    majority = collections.Counter(train_labels.tolist()).most_common(1)[0][0]
    return float(np.mean(dev_labels == majority))


def with_train_size(data: TaskData, size: int, seed: int) -> TaskData:
    """``data`` with ``size`` of its training examples (0 = all): the sample ``train.py finetune
    --train_size`` draws with the same seed (:func:`minilm.tasks.run.sample`)."""
    if size == 0:
        return data
    train = data.arrays["train"]
    keep = np.array(sample(list(range(len(train["labels"]))), size, seed))
    return dataclasses.replace(data, arrays={**data.arrays, "train": {k: v[keep] for k, v in train.items()}})


def classifier(init: str, s: FinetuneRun, labels: tuple[str, ...]) -> Finetuned:
    """The classifier of run ``s``: backbone, new head, the method applied, the dropout set."""
    tuned = build(init, s.method, s.method_config(), list(labels), s.pooling, s.train.seed + 1)
    if s.dropout >= 0:
        set_dropout(tuned.model, s.dropout)
    return tuned


Penalty = Callable[[nnx.Module], Any]  # model -> a scalar added to the loss


def train_classifier(
    run_dir: Path,
    tuned: Finetuned,
    data: TaskData,
    train_cfg: TrainConfig,
    *,
    penalty: Penalty | None = None,
    batches: Any = None,
    loss_fn: Any = None,
    extra_eval: Callable[[nnx.Module], dict[str, float]] | None = None,
    extra_summary: Callable[[nnx.Module], dict[str, Any]] | None = None,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``tuned`` on ``data`` in ``run_dir`` (continuing from its checkpoint), then write its
    report: dev and test accuracy, the majority class, trainable %, seconds.  ``penalty(model)`` is
    added to the classification loss; ``batches``/``loss_fn`` replace the task's own (rehearsal);
    ``extra_eval`` adds figures at each evaluation, ``extra_summary`` to the report; ``record`` (the
    run's settings) is saved beside.  The report is written last: a run with a report is complete."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if record is not None:
        atomic_write_bytes(run_dir / "train_config.json", json.dumps(record, indent=2).encode())
    arrays = data.arrays
    train = arrays["train"]
    batches = batches or ExampleBatches(train, train_cfg.batch_size, train_cfg.seed)
    base_loss = loss_fn or classification_loss

    def loss(model, batch, rngs):
        value, aux = base_loss(model, batch, rngs)
        if penalty is None:
            return value, aux
        extra = penalty(model)
        return value + extra, {**aux, "penalty": extra}

    predict = classifier_predictor(tuned.model)

    def evaluate(model) -> dict[str, float]:
        scores = classification_scores(predict(model, arrays["dev"]), arrays["dev"]["labels"])
        return scores | (extra_eval(model) if extra_eval else {})

    t0 = time.perf_counter()
    resume = (run_dir / "checkpoints" / f"{PHASE}.safetensors").is_file()
    fit(
        tuned.model,
        loss,
        batches,
        train_cfg,
        run_dir,
        eval_fn=evaluate,
        trainable=tuned.trainable,
        resume=resume,
        phase=PHASE,
    )
    dev = evaluate(tuned.model)
    test = classification_scores(predict(tuned.model, arrays["test"]), arrays["test"]["labels"])
    trained = trainable_count(tuned.model, tuned.trainable)
    summary = {
        "dev_accuracy": dev["eval_accuracy"],
        "dev_loss": dev["eval_loss"],
        "test_accuracy": test["eval_accuracy"],
        "dev_majority_accuracy": data.majority_dev,
        "train_examples": len(train["labels"]),
        "trainable_parameters": trained,
        "trainable_percent": 100 * trained / count_params(tuned.model),
        "seconds": round(time.perf_counter() - t0, 1),
        **{k: v for k, v in dev.items() if not k.startswith("eval_")},
        **(extra_summary(tuned.model) if extra_summary else {}),
    }
    text = f"# run `{run_dir.name}`\n\n{summary_table(summary)}\n"
    save_report(run_dir, text, summary)
    return summary


def finetune(run_dir: Path, init: str, s: FinetuneRun, data_dir: str = "") -> dict[str, Any]:
    """One ordinary fine-tuning run with settings ``s``: ``train.py finetune``'s own
    (:func:`minilm.tasks.run.finetune`) in ``run_dir``, continued if it was started before."""
    started = (run_dir / SAVED_CONFIG).is_file()
    cfg = FinetuneConfig(
        init=init,
        task=s.task,
        method=s.method,
        max_len=s.max_len,
        max_eval=s.max_eval,
        train_size=s.train_size,
        dropout=s.dropout,
        train=s.train,
        classify=ClassifyOptions(pooling=s.pooling),
        run=RunConfig(name=run_dir.name, out_dir=str(run_dir.parent), resume=started, progress=False),
        root=DataRoot(data_dir=data_dir),
        **{SECTIONS[s.method]: s.method_config()},
    )
    summary, _ = run_task(cfg)
    return summary


def curve(run_dir: Path, key: str = "eval_accuracy") -> list[tuple[int, float]]:
    """``(step, value)`` of ``key`` in a run's metrics.jsonl (its evaluations)."""
    return [(r["step"], r[key]) for r in MetricsLog(run_dir / "metrics.jsonl").read() if key in r]


# ------------------------------------------------------------------------------------------- a sweep


@dataclass
class SweepConfig:
    """Where an experiment's runs go and which of them this process runs."""

    out_dir: str = opt("runs/experiments", "the experiment's folder is <out_dir>/<experiment>")
    part: int = opt(0, "run only the runs k with k mod parts == part (several processes)", check=at_least(0))
    parts: int = opt(1, "how many parts the sweep is split into", check=at_least(1))
    progress: bool = opt(True, "show a progress bar over the runs")

    def check(self) -> None:
        if self.part >= self.parts:
            raise ConfigError("part", "must be < {parts}")


Run = tuple[str, Callable[[Path], dict[str, Any]]]  # (run name, run(run_dir) -> its summary)


def sweep(
    folder: Path, runs: list[Run], cfg: SweepConfig, experiment: dict[str, Any]
) -> dict[str, dict[str, Any]] | None:
    """Run this process's share of ``runs`` in ``folder/runs/<name>``, skipping those already done.
    Returns every run's summary by name once all are done, else None (other parts still running).

    ``experiment`` (the experiment's settings, JSON-ready) is kept in ``folder/sweep.json``: a folder
    that holds a sweep of other settings is refused, so a finished run is never taken for a run of
    other settings that has the same name."""
    names = [name for name, _ in runs]
    if len(set(names)) != len(names):
        raise ValueError("run names must be unique")
    saved = folder / "sweep.json"
    wanted = json.loads(json.dumps(experiment))
    if saved.is_file() and json.loads(saved.read_text(encoding="utf-8")) != wanted:
        raise UserError(
            f"{folder} holds this experiment run with other settings ({saved}); "
            "pass another --out_dir or remove the folder"
        )
    folder.mkdir(parents=True, exist_ok=True)
    if not saved.is_file():
        atomic_write_bytes(saved, json.dumps(wanted, indent=1).encode())
    mine = [(name, fn) for k, (name, fn) in enumerate(runs) if k % cfg.parts == cfg.part]
    todo = [(name, fn) for name, fn in mine if not (folder / "runs" / name / REPORT).is_file()]
    bar = tqdm(total=len(mine), initial=len(mine) - len(todo), desc=folder.name, disable=not cfg.progress)
    for name, fn in todo:
        bar.set_postfix_str(name)
        fn(folder / "runs" / name)
        bar.update(1)
    bar.close()
    done = {name: folder / "runs" / name / REPORT for name in names}
    if not all(path.is_file() for path in done.values()):
        return None
    return {name: json.loads(path.read_text()) for name, path in done.items()}


# ------------------------------------------------------------------------------------ tables and plots


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows (dicts with the same keys) as a CSV file."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, out.getvalue().encode())


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows as a Markdown table; floats with 4 digits."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(ncols: int = 1, width: float = 5.5, height: float = 3.8):
    """A matplotlib figure (Agg: no display) with ``ncols`` axes; save it with ``save_figure``."""
    fig, axes = pyplot().subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


def write_report(folder: Path, title: str, body: str, rows: list[dict[str, Any]], csv_name: str) -> None:
    """``report.md`` (title, body, the table) and the rows as ``csv_name``."""
    write_csv(folder / csv_name, rows)
    text = f"# {title}\n\n{body.strip()}\n\n{markdown_table(rows)}\n\nData: `{csv_name}`.\n"
    atomic_write_bytes(folder / "report.md", text.encode())
