"""Experiment 7, the parameter-efficiency frontier: accuracy against the share of trainable parameters,
for every fine-tuning method of :mod:`minilm.finetune`, on one plot.

    python train.py experiment frontier              # quick: world_intent, tiny GPT
    python train.py experiment frontier --init=../shared/models/all-MiniLM-L6-v2 \\
        --frontier.run.task=sst2 --frontier.lr_scales=0.3,1,3 --frontier.seeds=0,1,2

The study note claims that tuning part of the FFN beats prompt tuning; here both sit on the same plot
as full fine-tuning, freezing, the linear probe, Houlsby and Pfeiffer adapters, prefix-tuning,
FL-tuning, LoRA and BitFit, each at its default settings (prompt tuning with ``prompt_length`` virtual
tokens, taken out of the text's ``max_len``: they share the context) with the same steps and
batches.  Methods differ in the learning rate they need (the anchor's: full 5e-5, LoRA 5e-4,
BitFit 1e-3, prefix and prompt 1e-2 for a 22M-parameter BERT): each method's base rate
(``--frontier.lrs``) is scaled by each of ``lr_scales``, and the scale with the best mean dev
accuracy is kept -- chosen on dev, reported on test.  Results: ``frontier.csv`` (method,
trainable %, the chosen lr, dev and test accuracy, mean and spread over seeds) and
``frontier.png`` (test accuracy against trainable %, log scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minilm.config import ConfigError, above, at_least, config_to_dict, each, opt, sub, validate
from minilm.experiments.runner import (
    FinetuneRun,
    SweepConfig,
    figure,
    finetune,
    settings,
    sweep,
    write_report,
)
from minilm.finetune import METHODS
from minilm.train.runlog import save_figure

# method -> (base learning rate for the tiny backbone, its settings): the quick setting's choices
DEFAULT_LRS = (
    "full=1e-3",
    "freeze=1e-3",
    "linear-probe=1e-2",
    "adapter-houlsby=3e-3",
    "adapter-pfeiffer=3e-3",
    "prefix=1e-2",
    "prompt=3e-2",
    "partial-ffn=3e-3",
    "fl=3e-3",
    "lora=5e-3",
    "bitfit=1e-2",
)


@dataclass
class FrontierConfig:
    """Every method: trainable parameters against accuracy."""

    lrs: tuple[str, ...] = opt(DEFAULT_LRS, "method=base learning rate, one item per method to run")
    lr_scales: tuple[float, ...] = opt((1.0,), "each method tries base lr x each scale", check=each(above(0)))
    seeds: tuple[int, ...] = opt((0,), "seeds of each method and lr", check=each(at_least(0)))
    prompt_length: int = opt(
        10, "prompt tuning's virtual tokens (taken from the text's max_len)", check=at_least(1)
    )
    run: FinetuneRun = sub(FinetuneRun, "each run", task="world_intent")

    def __post_init__(self) -> None:
        validate(self)

    def check(self) -> None:
        pairs = [item.split("=", 1) for item in self.lrs]
        if not pairs or any(len(p) != 2 or p[0] not in METHODS for p in pairs):
            raise ConfigError("lrs", f"give method=lr items; the methods are {', '.join(METHODS)}")

    def base_lrs(self) -> dict[str, float]:
        return {m: float(lr) for m, lr in (item.split("=", 1) for item in self.lrs)}


def run(cfg: FrontierConfig, init: str, folder: Path, sweep_cfg: SweepConfig, data_dir: str = "") -> dict:
    grid = [
        (m, lr * k, seed) for m, lr in cfg.base_lrs().items() for k in cfg.lr_scales for seed in cfg.seeds
    ]

    def one(method: str, lr: float, seed: int):
        changes = {"method": method, "train.lr": lr, "train.seed": seed}
        if method == "prompt":  # the P virtual tokens share the backbone's context with the text
            changes |= {
                "method_args": (f"length={cfg.prompt_length}",),
                "max_len": cfg.run.max_len - cfg.prompt_length,
            }
        s = settings(cfg.run, changes)
        return lambda run_dir: finetune(run_dir, init, s, data_dir)

    runs = [(f"{m}-lr{lr:g}-seed{seed}", one(m, lr, seed)) for m, lr, seed in grid]
    results = sweep(folder, runs, sweep_cfg, {"init": init, **config_to_dict(cfg)})
    if results is None:
        return {}
    rows = []
    for method, base in cfg.base_lrs().items():
        by_lr = {}
        for k in cfg.lr_scales:
            mine = [results[f"{method}-lr{base * k:g}-seed{seed}"] for seed in cfg.seeds]
            by_lr[base * k] = mine
        lr, chosen = max(by_lr.items(), key=lambda kv: np.mean([r["dev_accuracy"] for r in kv[1]]))
        dev = np.array([r["dev_accuracy"] for r in chosen])
        test = np.array([r["test_accuracy"] for r in chosen])
        rows.append(
            {
                "method": method,
                "trainable_percent": chosen[0]["trainable_percent"],
                "trainable_parameters": chosen[0]["trainable_parameters"],
                "lr": lr,
                "dev_accuracy": float(dev.mean()),
                "test_accuracy": float(test.mean()),
                "test_std": float(test.std()),
            }
        )
    majority = next(iter(results.values()))["dev_majority_accuracy"]
    fig, (ax,) = figure(width=6.5, height=4.5)
    for row in rows:
        highlight = row["method"] in ("partial-ffn", "prompt")
        ax.errorbar(
            row["trainable_percent"],
            row["test_accuracy"],
            yerr=row["test_std"],
            fmt="o",
            color="C3" if highlight else "C0",
            capsize=2,
        )
        ax.annotate(
            row["method"],
            (row["trainable_percent"], row["test_accuracy"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.axhline(majority, color="gray", ls="--", lw=1, label="majority class (dev)")
    ax.set_xscale("log")
    ax.set(
        xlabel="trainable parameters (% of the model, log scale)",
        ylabel="test accuracy",
        title=f"{cfg.run.task}: parameter-efficiency frontier",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    save_figure(fig, folder / "frontier.png")
    by_method = {r["method"]: r for r in rows}
    claim = ""
    if "partial-ffn" in by_method and "prompt" in by_method:
        ffn, prompt = by_method["partial-ffn"], by_method["prompt"]
        verdict = "holds" if ffn["test_accuracy"] > prompt["test_accuracy"] else "does not hold"
        claim = (
            f"The claim that partial-FFN tuning beats prompt tuning {verdict} here: partial-FFN "
            f"{ffn['test_accuracy']:.3f} with {ffn['trainable_percent']:.2f}% trainable, prompt "
            f"{prompt['test_accuracy']:.3f} with {prompt['trainable_percent']:.2f}%.  "
        )
    t = cfg.run.train
    body = (
        f"`{cfg.run.task}`, {t.steps} steps of {t.batch_size}, each method at its default settings "
        f"(prompt tuning: {cfg.prompt_length} virtual tokens); "
        f"lr = base x {', '.join(f'{k:g}' for k in cfg.lr_scales)}, chosen by mean dev accuracy over seeds "
        f"{', '.join(map(str, cfg.seeds))}.  {claim}\n\n![frontier](frontier.png)"
    )
    write_report(folder, "Experiment 7: the parameter-efficiency frontier", body, rows, "frontier.csv")
    return {"rows": rows}
