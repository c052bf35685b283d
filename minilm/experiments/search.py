"""Hyper-parameter search: a grid, or random points of it, over any settings of a fine-tuning run; the
best by mean dev accuracy over seeds, and the spread.

    python train.py experiment search --search.grid=train.lr=3e-4:1e-3:3e-3,train.warmup_steps=0:10
    python train.py experiment search --search.grid=method=lora:bitfit,train.lr=1e-3:1e-2 \\
        --search.random=3 --search.seeds=0,1,2

Each ``--search.grid`` item is ``key=v1:v2:...`` with ``key`` a dotted setting of
:class:`~minilm.experiments.runner.FinetuneRun` (``train.lr``, ``method``, ``dropout``,
``train.bias_correction``, ``method_args``...); the points are the product of the items
(``--search.random=N``: N of them drawn without replacement, seeded by ``--search.sample_seed``).
Every point runs once per seed.  Choosing on dev and reporting the spread matters because the spread
over seeds alone is often as large as the gaps between settings (Dodge et al. 2020, "Fine-Tuning
Pretrained Language Models: Weight Initializations, Data Orders, and Early Stopping"): the report
gives each point's mean, standard deviation, min and max, and the best point's test accuracy.
Results: ``search.csv`` (one row a point), ``runs.csv`` (one row a run), ``search.png``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minilm.config import ConfigError, at_least, config_to_dict, each, opt, sub, validate
from minilm.errors import UserError
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


@dataclass
class SearchConfig:
    """A grid (or random) search over the settings of a fine-tuning run."""

    grid: tuple[str, ...] = opt(
        ("train.lr=3e-4:1e-3:3e-3", "train.warmup_steps=0:10"),
        "key=v1:v2:... items (keys: settings of a run, e.g. train.lr, method, dropout)",
    )
    random: int = opt(0, "run N random points of the grid (0 = all of it)", check=at_least(0))
    sample_seed: int = opt(0, "seed of the random draw", check=at_least(0))
    seeds: tuple[int, ...] = opt((0, 1), "seeds each point runs with", check=each(at_least(0)))
    run: FinetuneRun = sub(FinetuneRun, "the settings every point starts from")

    def __post_init__(self) -> None:
        validate(self)

    def check(self) -> None:
        if not self.grid or any("=" not in item for item in self.grid):
            raise ConfigError("grid", "give key=v1:v2:... items")


def points(cfg: SearchConfig) -> list[dict[str, str]]:
    """The settings to try: the grid's product, or ``cfg.random`` of them."""
    axes = [(key, values.split(":")) for key, values in (item.split("=", 1) for item in cfg.grid)]
    grid = [
        dict(zip([k for k, _ in axes], combo, strict=True))
        for combo in itertools.product(*(v for _, v in axes))
    ]
    for point in grid:
        settings(cfg.run, point)  # every value checked before anything runs
    if cfg.random and cfg.random < len(grid):
        keep = np.random.default_rng(cfg.sample_seed).choice(len(grid), cfg.random, replace=False)
        grid = [grid[i] for i in sorted(keep)]
    return grid


def _name(point: dict[str, str]) -> str:
    text = "_".join(f"{k.split('.')[-1]}={v}" for k, v in point.items())
    if "/" in text:
        raise UserError(f"--search.grid: a value with '/' cannot name a run folder ({text})")
    return text


def run(cfg: SearchConfig, init: str, folder: Path, sweep_cfg: SweepConfig, data_dir: str = "") -> dict:
    grid = points(cfg)

    def one(point: dict[str, str], seed: int):
        s = settings(cfg.run, {**point, "train.seed": seed})
        return lambda run_dir: finetune(run_dir, init, s, data_dir)

    runs = [(f"{_name(p)}_seed{seed}", one(p, seed)) for p in grid for seed in cfg.seeds]
    results = sweep(folder, runs, sweep_cfg, {"init": init, **config_to_dict(cfg)})
    if results is None:
        return {}
    per_run = [
        {
            **p,
            "seed": seed,
            "dev_accuracy": results[f"{_name(p)}_seed{seed}"]["dev_accuracy"],
            "test_accuracy": results[f"{_name(p)}_seed{seed}"]["test_accuracy"],
        }
        for p in grid
        for seed in cfg.seeds
    ]
    write_csv(folder / "runs.csv", per_run)
    rows = []
    for p in grid:
        dev = np.array([r["dev_accuracy"] for r in per_run if all(r[k] == v for k, v in p.items())])
        test = np.array([r["test_accuracy"] for r in per_run if all(r[k] == v for k, v in p.items())])
        rows.append(
            {
                **p,
                "dev_mean": float(dev.mean()),
                "dev_std": float(dev.std()),
                "dev_min": float(dev.min()),
                "dev_max": float(dev.max()),
                "test_mean": float(test.mean()),
            }
        )
    rows.sort(key=lambda r: -r["dev_mean"])
    best = rows[0]
    means = np.array([r["dev_mean"] for r in rows])
    fig, (ax,) = figure(width=7)
    ax.errorbar(range(len(rows)), means, yerr=[r["dev_std"] for r in rows], fmt="o", capsize=3)
    ax.set_xticks(
        range(len(rows)),
        [_name({k: r[k] for k in grid[0]}) for r in rows],
        rotation=30,
        ha="right",
        fontsize=6,
    )
    ax.set(ylabel="dev accuracy (mean ± std over seeds)", title=f"search on {cfg.run.task}")
    ax.grid(alpha=0.3)
    save_figure(fig, folder / "search.png")
    body = (
        f"{len(grid)} points x {len(cfg.seeds)} seeds on `{cfg.run.task}`.  Best by mean dev accuracy: "
        f"`{_name({k: best[k] for k in grid[0]})}`, dev {best['dev_mean']:.4f} ± {best['dev_std']:.4f}, "
        f"test {best['test_mean']:.4f}.  Spread of the point means: {means.min():.4f} .. {means.max():.4f}; "
        f"mean spread over seeds (std): {np.mean([r['dev_std'] for r in rows]):.4f}.\n\n![search](search.png)"
    )
    write_report(folder, "Hyper-parameter search", body, rows, "search.csv")
    return {"rows": rows, "best": best}
