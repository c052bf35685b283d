"""Experiment 1, catastrophic forgetting: fine-tune on task A, then on task B; A's accuracy over B's
training, and four remedies side by side.

    python train.py experiment forgetting            # quick: world_intent -> world_topic, tiny GPT, ~2 min
    python train.py experiment forgetting --init=../shared/models/all-MiniLM-L6-v2 \\
        --forgetting.task_a=sst2 --forgetting.task_b=trec --forgetting.run.max_len=64   # real data

Fine-tuning all weights on B moves the shared backbone away from where A's head reads it, and A's
accuracy falls (McCloskey & Cohen 1989; French 1999).  Every task keeps its own head (the
"multi-head" setting): after B, A is scored with A's head on the backbone B left.

Remedies (runs ``b-<remedy>``, each continuing from the same A model, ``a-full``):

- **naive**: nothing; the forgetting to beat.
- **rehearsal** (Robins 1995): each step of B also trains on ``fraction x batch`` replayed A examples
  through A's head; loss = the mean cross-entropy over all of the step's examples.
- **EWC** (Kirkpatrick et al. 2017): ``+ lambda/2 sum_i F_i (theta_i - theta*_A,i)^2`` over the
  backbone, ``F`` the diagonal Fisher at A's optimum on ``fisher_examples`` A examples
  (:mod:`minilm.objectives.anchor`), lambda swept.
- **L2-SP** (Li et al. 2018): ``+ alpha/2 ||theta - theta^0||^2`` over the backbone, ``theta^0`` the
  weights B's fine-tuning starts from (A's model: "the pretrained weights" of this fine-tuning), alpha
  swept -- EWC with every ``F_i`` equal.
- **per-task LoRA** (Hu et al. 2021): A and B each train a LoRA and a head on the same frozen
  backbone (runs ``a-lora``, ``b-lora``); A's model is untouched by B's training by construction --
  the run scores A's model along B's training all the same, and checks the backbone stayed bit-identical.

Results: ``forgetting.csv`` (A's dev accuracy before and after B, B's dev accuracy, per remedy),
``a_accuracy.png`` (A's dev accuracy against B's steps) and ``tradeoff.png`` (A after B against B).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.config import at_least, config_to_dict, each, in_range, opt, sub
from minilm.data.batches import ExampleBatches
from minilm.experiments.runner import (
    FinetuneRun,
    SweepConfig,
    classifier,
    curve,
    figure,
    settings,
    sweep,
    task_data,
    train_classifier,
    write_report,
)
from minilm.finetune import METHODS
from minilm.finetune.saved import Finetuned, load_method, save_method
from minilm.models.heads import SequenceClassifier
from minilm.objectives.anchor import fisher_diagonal, quadratic_penalty
from minilm.objectives.classification import classification_loss, classification_scores, classifier_predictor
from minilm.train.runlog import save_figure


@dataclass
class ForgettingConfig:
    """Fine-tune on A, then on B: how much of A is lost, with and without remedies."""

    task_a: str = opt("world_intent", "the first task")
    task_b: str = opt("world_topic", "the second task")
    steps_a: int = opt(100, "fine-tuning steps on A", check=at_least(1))
    rehearsal: tuple[float, ...] = opt(
        (0.25,),
        "rehearsal: replayed A examples per step, as a fraction of the batch",
        check=each(in_range(0, 4, low_open=True)),
    )
    ewc: tuple[float, ...] = opt(
        (1e3, 1e5), "EWC's lambda values", check=each(in_range(0, 1e12, low_open=True))
    )
    l2sp: tuple[float, ...] = opt(
        (1.0, 100.0), "L2-SP's alpha values", check=each(in_range(0, 1e12, low_open=True))
    )
    fisher_examples: int = opt(256, "A's training examples the Fisher averages over", check=at_least(1))
    lora_lr: float = opt(5e-3, "learning rate of the per-task LoRA runs", check=in_range(0, 1, low_open=True))
    run: FinetuneRun = sub(
        FinetuneRun,
        "each run (on B: steps, eval_every = the points of A's curve)",
        train=dataclasses.replace(
            FinetuneRun().train, steps=150, lr=1e-3, warmup_steps=10, eval_every=25, ckpt_every=50
        ),
    )


def _backbone_params(path, variable) -> bool:
    """The backbone's own weights (not a method's parameters, e.g. LoRA's)."""
    return type(variable) is nnx.Param and path[0] == "backbone"


def _logits(model, batch):
    return model(batch["tokens"], attention_mask=batch["attention_mask"])


class _Replay:
    """B's batches with ``n`` replayed A examples under ``replay_*`` keys."""

    def __init__(self, b: ExampleBatches, a: ExampleBatches):
        self.b, self.a = b, a

    def batch(self, step: int) -> dict[str, np.ndarray]:
        return self.b.batch(step) | {f"replay_{k}": v for k, v in self.a.batch(step).items()}


def _rehearsal_loss(model_a: SequenceClassifier):
    """Cross-entropy over B's examples (B's head) and the replayed A examples (A's head, frozen, on the
    shared backbone), averaged over all of them."""

    def loss(model, batch, rngs):
        loss_b, aux = classification_loss(model, batch, rngs)
        tokens, mask = batch["replay_tokens"], batch["replay_attention_mask"]
        hidden = model.backbone(tokens, attention_mask=mask, rngs=rngs).astype(jnp.float32)
        logits_a = model_a.readout(hidden, mask, rngs)  # (n, C_A)
        loss_a = -jnp.take_along_axis(jax.nn.log_softmax(logits_a), batch["replay_labels"][:, None], 1).mean()
        n_b, n_a = len(batch["labels"]), len(batch["replay_labels"])
        return (n_b * loss_b + n_a * loss_a) / (n_b + n_a), {**aux, "replay_loss": loss_a}

    return loss


def run(cfg: ForgettingConfig, init: str, folder: Path, sweep_cfg: SweepConfig, data_dir: str = "") -> dict:
    base_a = settings(cfg.run, {"task": cfg.task_a, "train.steps": cfg.steps_a, "train.eval_every": 0})
    base_b = settings(cfg.run, {"task": cfg.task_b})
    lora = {"method": "lora", "train.lr": cfg.lora_lr}
    data_a = task_data(cfg.task_a, init, cfg.run.max_len, cfg.run.max_eval, data_dir)
    data_b = task_data(cfg.task_b, init, cfg.run.max_len, cfg.run.max_eval, data_dir)

    def train_a(s: FinetuneRun):
        def go(run_dir: Path) -> dict:
            tuned = classifier(init, s, data_a.labels)
            summary = train_classifier(run_dir, tuned, data_a, s.train, record={"init": init, "task": s.task})
            save_method(run_dir, tuned)
            return summary

        return go

    def train_b(a_run: str, remedy: str, value: float | None, s: FinetuneRun):
        def go(run_dir: Path) -> dict:
            a = load_method(folder / "runs" / a_run, trains=False).model
            if s.method == "full":  # B's head on A's backbone (shared: A is scored on it as it moves)
                model = SequenceClassifier(
                    a, len(data_b.labels), pooling=a.pooling, rngs=nnx.Rngs(s.train.seed)
                )
                trainable = METHODS["full"].apply(model, s.method_config(), rngs=None)
                tuned = Finetuned(model, None, trainable, {})
            else:  # per-task LoRA: B's own LoRA and head on the same frozen base weights
                tuned = classifier(init, s, data_b.labels)
            # a copy: fit donates the trained arrays' buffers
            start = jax.tree_util.tree_map(
                jnp.copy, nnx.to_pure_dict(nnx.state(tuned.model, _backbone_params))
            )
            predict_dev_a = classifier_predictor(a)
            dev_a = data_a.arrays["dev"]

            def a_accuracy(_model) -> dict[str, float]:
                return {
                    "a_accuracy": classification_scores(predict_dev_a(a, dev_a), dev_a["labels"])[
                        "eval_accuracy"
                    ]
                }

            penalty, batches, loss_fn = None, None, None
            if remedy == "ewc":
                fisher = fisher_diagonal(
                    a, _backbone_params, _logits, _first(data_a.arrays["train"], cfg.fisher_examples)
                )
                weights = jax.tree_util.tree_map(lambda f: value * f, nnx.to_pure_dict(fisher))
                penalty = _anchored(start, weights)
            elif remedy == "l2sp":
                penalty = _anchored(start, value)
            elif remedy == "rehearsal":
                n = max(1, round(value * s.train.batch_size))
                batches = _Replay(
                    ExampleBatches(data_b.arrays["train"], s.train.batch_size, s.train.seed),
                    ExampleBatches(data_a.arrays["train"], n, s.train.seed + 1),
                )
                loss_fn = _rehearsal_loss(a)

            def changed(model) -> dict[str, bool]:
                end = nnx.to_pure_dict(nnx.state(model, _backbone_params))
                moved = jax.tree_util.tree_map(lambda x, y: bool(jnp.any(x != y)), start, end)
                return {"backbone_changed": any(jax.tree_util.tree_leaves(moved))}

            return train_classifier(
                run_dir,
                tuned,
                data_b,
                s.train,
                penalty=penalty,
                batches=batches,
                loss_fn=loss_fn,
                extra_eval=a_accuracy,
                extra_summary=changed,
                record={"init": init, "remedy": remedy, "value": value},
            )

        return go

    remedies: list[tuple[str, str, float | None, str]] = [("naive", "naive", None, "a-full")]
    remedies += [(f"rehearsal-{v:g}", "rehearsal", v, "a-full") for v in cfg.rehearsal]
    remedies += [(f"ewc-{v:g}", "ewc", v, "a-full") for v in cfg.ewc]
    remedies += [(f"l2sp-{v:g}", "l2sp", v, "a-full") for v in cfg.l2sp]
    remedies += [("lora", "lora", None, "a-lora")]
    runs = [("a-full", train_a(base_a)), ("a-lora", train_a(settings(base_a, lora)))]
    for name, remedy, value, a_run in remedies:
        s = settings(base_b, lora) if remedy == "lora" else base_b
        runs.append((f"b-{name}", train_b(a_run, remedy, value, s)))
    results = sweep(folder, runs, sweep_cfg, {"init": init, **config_to_dict(cfg)})
    if results is None:
        return {}
    return _report(cfg, folder, results, remedies)


def _first(arrays: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    return {k: v[:n] for k, v in arrays.items()}


def _anchored(anchor: Any, weights: Any):
    """penalty(model) = 1/2 sum w (theta - anchor)^2 over the backbone."""
    return lambda model: quadratic_penalty(
        nnx.to_pure_dict(nnx.state(model, _backbone_params)), anchor, weights
    )


def _report(cfg: ForgettingConfig, folder: Path, results: dict, remedies: list) -> dict:
    rows = []
    fig, (ax,) = figure()
    for name, remedy, value, a_run in remedies:
        before = results[a_run]["dev_accuracy"]
        b = results[f"b-{name}"]
        points = [(0, before), *curve(folder / "runs" / f"b-{name}", "a_accuracy")]
        ax.plot(*zip(*points, strict=True), marker="o", ms=3, label=name)
        rows.append(
            {
                "remedy": remedy,
                "setting": "" if value is None else value,
                "a_before": before,
                "a_after": b["a_accuracy"],
                "forgotten": before - b["a_accuracy"],
                "b_accuracy": b["dev_accuracy"],
                "trainable_percent": b["trainable_percent"],
                "backbone_changed": b["backbone_changed"],
            }
        )
    ax.set(
        xlabel=f"steps of fine-tuning on {cfg.task_b}",
        ylabel=f"{cfg.task_a} dev accuracy",
        title="A's accuracy while training on B",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, folder / "a_accuracy.png")
    fig, (ax,) = figure()
    for row, (name, *_rest) in zip(rows, remedies, strict=True):
        ax.scatter(row["b_accuracy"], row["a_after"])
        ax.annotate(name, (row["b_accuracy"], row["a_after"]), fontsize=7)
    ax.set(
        xlabel=f"B ({cfg.task_b}) dev accuracy",
        ylabel=f"A ({cfg.task_a}) dev accuracy after B",
        title="remembering A against learning B",
    )
    ax.grid(alpha=0.3)
    save_figure(fig, folder / "tradeoff.png")
    naive = rows[0]
    body = (
        f"A = `{cfg.task_a}` ({cfg.steps_a} steps), then B = `{cfg.task_b}` ({cfg.run.train.steps} steps, "
        f"lr {cfg.run.train.lr:g}); A is scored with its own head on the backbone B leaves.  Naive "
        f"fine-tuning takes A from {naive['a_before']:.3f} to {naive['a_after']:.3f}.\n\n"
        "![A's accuracy over B's training](a_accuracy.png)\n\n![trade-off](tradeoff.png)"
    )
    write_report(folder, "Experiment 1: catastrophic forgetting", body, rows, "forgetting.csv")
    return {"rows": rows}
