"""Experiment 3, small fine-tuning sets: training-set size x epochs, mean and spread over seeds.

    python train.py experiment small_data            # quick: world_intent, 32/128/512 examples
    python train.py experiment small_data --init=../shared/models/all-MiniLM-L6-v2 \\
        --small_data.run.task=sst2 --small_data.sizes=50,200,1000,0 --small_data.epochs=20

The study note's claim: with little data, fine-tuning needs more epochs (and its results spread
more over seeds; Mosbach et al. 2021 §5.3, Zhang et al. 2021 "Revisiting Few-sample BERT
Fine-tuning" §5).  One run per (size, seed) trains ``epochs`` epochs on a seeded sample of ``size``
training examples (0 = all) at a constant learning rate after a short warmup, and is scored on dev
at the end of every epoch: so one run gives the whole curve, and "k epochs" is the run after k
epochs (no schedule that would depend on the total).  Reported for each size and epoch: mean,
standard deviation, min and max over seeds (``small_data.csv``), and the curves (``epochs.png``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minilm.config import at_least, config_to_dict, each, opt, sub
from minilm.experiments.runner import (
    FinetuneRun,
    SweepConfig,
    curve,
    figure,
    finetune,
    settings,
    sweep,
    write_report,
)
from minilm.tasks import get_task
from minilm.train.runlog import save_figure


@dataclass
class SmallDataConfig:
    """Training-set sizes x epochs x seeds."""

    sizes: tuple[int, ...] = opt((32, 128, 512), "training-set sizes (0 = all)", check=each(at_least(0)))
    epochs: int = opt(6, "epochs of each run (scored after each)", check=at_least(1))
    seeds: tuple[int, ...] = opt((0, 1), "seeds (the sample, head, order, dropout)", check=each(at_least(0)))
    run: FinetuneRun = sub(
        FinetuneRun,
        "each run (train.steps is set by size and epochs)",
        task="world_intent",
        train=dataclasses.replace(
            FinetuneRun().train, schedule="constant", warmup_steps=5, lr=1e-3, ckpt_every=0
        ),
    )


def run(cfg: SmallDataConfig, init: str, folder: Path, sweep_cfg: SweepConfig, data_dir: str = "") -> dict:
    n_train = len(get_task(cfg.run.task).load(data_dir or None, 0).train)
    batch = cfg.run.train.batch_size

    def size_of(size: int) -> int:
        return n_train if size == 0 or size > n_train else size

    def one(size: int, seed: int):
        per_epoch = max(1, math.ceil(size_of(size) / batch))
        s = settings(
            cfg.run,
            {
                "train_size": size,
                "train.seed": seed,
                "train.steps": per_epoch * cfg.epochs,
                "train.eval_every": per_epoch,
            },
        )
        return lambda run_dir: finetune(run_dir, init, s, data_dir)

    runs = [(f"size{size}-seed{seed}", one(size, seed)) for size in cfg.sizes for seed in cfg.seeds]
    results = sweep(folder, runs, sweep_cfg, {"init": init, **config_to_dict(cfg)})
    if results is None:
        return {}
    rows = []
    fig, (ax,) = figure()
    for size in cfg.sizes:
        curves = np.array(
            [
                [v for _, v in curve(folder / "runs" / f"size{size}-seed{seed}")][: cfg.epochs]
                for seed in cfg.seeds
            ]
        )  # (seeds, epochs)
        mean, std = curves.mean(0), curves.std(0)
        epochs = np.arange(1, cfg.epochs + 1)
        ax.plot(epochs, mean, marker="o", ms=3, label=f"{size_of(size)} examples")
        ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
        for e in range(cfg.epochs):
            rows.append(
                {
                    "train_size": size_of(size),
                    "epochs": e + 1,
                    "mean": float(mean[e]),
                    "std": float(std[e]),
                    "min": float(curves[:, e].min()),
                    "max": float(curves[:, e].max()),
                }
            )
    majority = next(iter(results.values()))["dev_majority_accuracy"]
    ax.axhline(majority, color="gray", ls="--", lw=1, label="majority class")
    ax.set(
        xlabel="epochs",
        ylabel="dev accuracy (mean ± std over seeds)",
        title=f"{cfg.run.task}: small training sets",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, folder / "epochs.png")
    lines = []
    for size in cfg.sizes:
        mine = [r for r in rows if r["train_size"] == size_of(size)]
        best = max(mine, key=lambda r: r["mean"])
        lines.append(
            f"- {size_of(size)} examples: after 1 epoch {mine[0]['mean']:.3f} ± {mine[0]['std']:.3f}, "
            f"best {best['mean']:.3f} ± {best['std']:.3f} after {best['epochs']} epochs"
        )
    body = (
        f"`{cfg.run.task}`, batch {batch}, constant lr {cfg.run.train.lr:g} after "
        f"{cfg.run.train.warmup_steps} warmup steps, seeds {', '.join(map(str, cfg.seeds))}.\n\n"
        + "\n".join(lines)
        + "\n\n![curves](epochs.png)"
    )
    write_report(folder, "Experiment 3: small fine-tuning sets", body, rows, "small_data.csv")
    return {"rows": rows}
