"""Experiment 2, unstable fine-tuning (Mosbach, Andriushchenko & Klakow 2021, "On the Stability of
Fine-tuning BERT: Misconceptions, Explanations, and Strong Baselines").

    python train.py experiment stability             # quick: world_sentiment, tiny GPT, 2 seeds
    python train.py experiment stability --init=../shared/models/all-MiniLM-L6-v2 \\
        --stability.run.task=rte --stability.seeds=0,1,2,3,4,5,6,7,8,9 --stability.lrs=1e-5,2e-5,3e-5

The same run repeated over seeds (head initialisation, data order, dropout) and a small learning-rate
grid, under four optimiser recipes:

- ``bertadam``: no warmup, Adam without bias correction (BERT's original ``BertAdam``);
- ``bertadam+warmup``: the same with linear warmup (``warmup`` of the steps);
- ``adam+warmup``: bias correction on, warmup (Mosbach et al.'s fix, §6);
- ``adam+warmup+long``: the same, ``long`` times the steps (their "train longer": failed runs are
  runs stopped in a bad place early, §5.2).

A run **fails** when its dev accuracy is at or below the majority class's (Mosbach et al. §4; Dodge et
al. 2020).  Reported per recipe and learning rate: mean, standard deviation, min and max of dev
accuracy and the share of failed runs (``stability.csv``; every run in ``runs.csv``), and the
distribution as a strip plot (``dev_accuracy.png``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minilm.config import above, at_least, config_to_dict, each, in_range, opt, sub
from minilm.experiments.runner import (
    FinetuneRun,
    SweepConfig,
    figure,
    finetune,
    settings,
    sweep,
    write_csv,
    write_report,
)
from minilm.train.runlog import save_figure

RECIPES = ("bertadam", "bertadam+warmup", "adam+warmup", "adam+warmup+long")


@dataclass
class StabilityConfig:
    """Seeds x learning rates x optimiser recipes: the spread of fine-tuning results."""

    seeds: tuple[int, ...] = opt((0, 1), "seeds of each setting", check=each(at_least(0)))
    lrs: tuple[float, ...] = opt((1e-3, 3e-3), "learning rates", check=each(above(0)))
    recipes: tuple[str, ...] = opt(RECIPES, "optimiser recipes (module docstring)", choices=RECIPES)
    warmup: float = opt(0.1, "warmup as a fraction of the steps (the +warmup recipes)", check=in_range(0, 1))
    long: int = opt(3, "the +long recipe trains this many times the steps", check=at_least(1))
    run: FinetuneRun = sub(
        FinetuneRun,
        "each run",
        train=dataclasses.replace(FinetuneRun().train, steps=60, warmup_steps=0, ckpt_every=0),
    )


def recipe(cfg: StabilityConfig, name: str, lr: float, seed: int) -> FinetuneRun:
    """The run settings of recipe ``name`` at ``lr`` and ``seed``."""
    steps = cfg.run.train.steps * (cfg.long if name.endswith("+long") else 1)
    return settings(
        cfg.run,
        {
            "train.lr": lr,
            "train.seed": seed,
            "train.steps": steps,
            "train.bias_correction": name.startswith("adam"),
            "train.warmup_steps": round(cfg.warmup * steps) if "+warmup" in name else 0,
        },
    )


def run(cfg: StabilityConfig, init: str, folder: Path, sweep_cfg: SweepConfig, data_dir: str = "") -> dict:
    grid = [(r, lr, seed) for r in cfg.recipes for lr in cfg.lrs for seed in cfg.seeds]

    def one(s: FinetuneRun):
        return lambda run_dir: finetune(run_dir, init, s, data_dir)

    runs = [(f"{r}-lr{lr:g}-seed{seed}", one(recipe(cfg, r, lr, seed))) for r, lr, seed in grid]
    results = sweep(folder, runs, sweep_cfg, {"init": init, **config_to_dict(cfg)})
    if results is None:
        return {}
    per_run = [
        {
            "recipe": r,
            "lr": lr,
            "seed": seed,
            "dev_accuracy": res["dev_accuracy"],
            "test_accuracy": res["test_accuracy"],
            "majority": res["dev_majority_accuracy"],
            "failed": res["dev_accuracy"] <= res["dev_majority_accuracy"],
        }
        for (r, lr, seed), res in zip(grid, results.values(), strict=True)
    ]
    write_csv(folder / "runs.csv", per_run)
    rows = []
    for r in cfg.recipes:
        for lr in cfg.lrs:
            acc = np.array([x["dev_accuracy"] for x in per_run if x["recipe"] == r and x["lr"] == lr])
            failed = [x["failed"] for x in per_run if x["recipe"] == r and x["lr"] == lr]
            rows.append(
                {
                    "recipe": r,
                    "lr": lr,
                    "runs": len(acc),
                    "mean": float(acc.mean()),
                    "std": float(acc.std()),
                    "min": float(acc.min()),
                    "max": float(acc.max()),
                    "failed_share": float(np.mean(failed)),
                }
            )
    _plot(cfg, per_run, folder / "dev_accuracy.png")
    majority = per_run[0]["majority"]
    worst = max(rows, key=lambda x: x["failed_share"])
    body = (
        f"`{cfg.run.task}`, {cfg.run.train.steps} steps of {cfg.run.train.batch_size} "
        f"({cfg.long}x for +long), seeds {', '.join(map(str, cfg.seeds))}; a run fails at dev accuracy "
        f"<= the majority class's ({majority:.3f}).  Most failures: {worst['recipe']} at lr "
        f"{worst['lr']:g} ({worst['failed_share']:.0%}).  Every run: `runs.csv`.\n\n"
        "![dev accuracy of every run](dev_accuracy.png)"
    )
    write_report(folder, "Experiment 2: unstable fine-tuning", body, rows, "stability.csv")
    return {"rows": rows}


def _plot(cfg: StabilityConfig, per_run: list[dict], path: Path) -> None:
    fig, (ax,) = figure(width=7)
    labels = []
    for i, (r, lr) in enumerate((r, lr) for r in cfg.recipes for lr in cfg.lrs):
        acc = [x["dev_accuracy"] for x in per_run if x["recipe"] == r and x["lr"] == lr]
        jitter = np.linspace(-0.15, 0.15, len(acc)) if len(acc) > 1 else [0.0]
        ax.scatter(i + np.asarray(jitter), acc, s=18)
        labels.append(f"{r}\nlr {lr:g}")
    ax.axhline(per_run[0]["majority"], color="gray", ls="--", lw=1, label="majority class")
    ax.set_xticks(range(len(labels)), labels, fontsize=6, rotation=30, ha="right")
    ax.set(ylabel="dev accuracy", title=f"{cfg.run.task}: every seed")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)
