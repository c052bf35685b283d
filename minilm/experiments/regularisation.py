"""Experiment 5, regularisation: dropout, weight decay, learning-rate schedules and gradient clipping,
each switched on alone against a plain baseline, with the dev curves.

    python train.py experiment regularisation        # quick: 256 world_sentiment examples, ~2 min
    python train.py experiment regularisation --init=../shared/models/all-MiniLM-L6-v2 \\
        --regularisation.run.task=sst2 --regularisation.run.train_size=1000

The baseline has none of them: no dropout, no weight decay, a constant learning rate without warmup,
no clipping, on a small training set trained for many epochs, so that it can overfit.  Each variant
changes one thing:

- ``dropout``: dropout ``dropout`` on embeddings, residual branches, attention and the head
  (Srivastava et al. 2014);
- ``weight_decay``: AdamW's decoupled decay ``weight_decay`` (Loshchilov & Hutter 2019);
- ``warmup+linear`` / ``warmup+cosine``: ``warmup`` of the steps of linear warmup, then linear decay
  to 0 (BERT, Devlin et al. 2019) or cosine decay to 0 (Loshchilov & Hutter 2017);
- ``clipping``: the global gradient norm clipped to ``clip_norm`` (Pascanu et al. 2013).

Reported per variant, mean and spread over seeds: final and best dev accuracy, final dev loss
(``regularisation.csv``), and the dev loss and accuracy curves (``curves.png``).
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
    curve,
    figure,
    finetune,
    settings,
    sweep,
    write_report,
)
from minilm.train.runlog import save_figure

VARIANTS = ("baseline", "dropout", "weight_decay", "warmup+linear", "warmup+cosine", "clipping")


@dataclass
class RegularisationConfig:
    """One regulariser at a time against a plain baseline."""

    variants: tuple[str, ...] = opt(VARIANTS, "the runs (module docstring)", choices=VARIANTS)
    seeds: tuple[int, ...] = opt((0,), "seeds of each variant", check=each(at_least(0)))
    dropout: float = opt(
        0.1, "the dropout variant's rate", check=in_range(0, 1, low_open=True, high_open=True)
    )
    weight_decay: float = opt(0.1, "the weight_decay variant's decay", check=above(0))
    warmup: float = opt(0.1, "the schedule variants' warmup, a fraction of the steps", check=in_range(0, 1))
    clip_norm: float = opt(1.0, "the clipping variant's maximum gradient norm", check=above(0))
    run: FinetuneRun = sub(
        FinetuneRun,
        "the baseline run",
        train_size=256,
        dropout=0.0,
        train=dataclasses.replace(
            FinetuneRun().train,
            steps=160,
            schedule="constant",
            warmup_steps=0,
            weight_decay=0.0,
            clip_norm=0.0,
            eval_every=20,
            ckpt_every=0,
        ),
    )


def variant(cfg: RegularisationConfig, name: str, seed: int) -> FinetuneRun:
    """The baseline with regulariser ``name`` switched on."""
    steps = cfg.run.train.steps
    warmup = {"train.warmup_steps": round(cfg.warmup * steps), "train.min_lr_ratio": 0.0}
    changes = {
        "baseline": {},
        "dropout": {"dropout": cfg.dropout},
        "weight_decay": {"train.weight_decay": cfg.weight_decay},
        "warmup+linear": {**warmup, "train.schedule": "linear"},
        "warmup+cosine": {**warmup, "train.schedule": "cosine"},
        "clipping": {"train.clip_norm": cfg.clip_norm},
    }[name]
    return settings(cfg.run, {**changes, "train.seed": seed})


def run(
    cfg: RegularisationConfig, init: str, folder: Path, sweep_cfg: SweepConfig, data_dir: str = ""
) -> dict:
    def one(s: FinetuneRun):
        return lambda run_dir: finetune(run_dir, init, s, data_dir)

    runs = [(f"{v}-seed{seed}", one(variant(cfg, v, seed))) for v in cfg.variants for seed in cfg.seeds]
    results = sweep(folder, runs, sweep_cfg, {"init": init, **config_to_dict(cfg)})
    if results is None:
        return {}
    rows = []
    fig, (ax_loss, ax_acc) = figure(ncols=2)
    for v in cfg.variants:
        names = [f"{v}-seed{seed}" for seed in cfg.seeds]
        steps = [s for s, _ in curve(folder / "runs" / names[0])]
        acc = np.array([[a for _, a in curve(folder / "runs" / n)] for n in names])  # (seeds, evals)
        loss = np.array([[x for _, x in curve(folder / "runs" / n, "eval_loss")] for n in names])
        ax_loss.plot(steps, loss.mean(0), label=v)
        ax_acc.plot(steps, acc.mean(0), label=v)
        final = np.array([results[n]["dev_accuracy"] for n in names])
        rows.append(
            {
                "variant": v,
                "final_dev_accuracy": float(final.mean()),
                "std": float(final.std()),
                "best_dev_accuracy": float(acc.max(1).mean()),
                "final_dev_loss": float(loss[:, -1].mean()),
                "min_dev_loss": float(loss.min(1).mean()),
            }
        )
    for ax, what in ((ax_loss, "dev loss"), (ax_acc, "dev accuracy")):
        ax.set(xlabel="step", ylabel=f"{what} (mean over seeds)", title=what)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, folder / "curves.png")
    t = cfg.run.train
    body = (
        f"`{cfg.run.task}`, {cfg.run.train_size or 'all'} training examples, {t.steps} steps of "
        f"{t.batch_size} (about {t.steps * t.batch_size // max(cfg.run.train_size, 1)} epochs), lr "
        f"{t.lr:g}, seeds {', '.join(map(str, cfg.seeds))}.  Baseline: no dropout, no weight decay, constant "
        f"lr without warmup, no clipping; each variant switches one on.  best = the best evaluation's "
        f"accuracy (what early stopping would keep).\n\n![curves](curves.png)"
    )
    write_report(folder, "Experiment 5: regularisation", body, rows, "regularisation.csv")
    return {"rows": rows}
