"""``train.py experiment NAME``: one of the study note's claims as a sweep of fine-tuning runs, ending
with ``report.md``, a CSV and PNG plots in ``<out_dir>/<NAME>/`` (:mod:`minilm.experiments`).

    python train.py experiment forgetting                 # each quick setting: minutes on 2 CPU cores
    python train.py experiment stability --stability.lrs=1e-3,3e-3,1e-2
    python train.py experiment search --search.grid=train.lr=3e-4:1e-3,dropout=0:0.1
    python train.py experiment frontier --init=../shared/models/all-MiniLM-L6-v2 --frontier.run.task=sst2

Without ``--init`` a tiny GPT is pretrained on the generated ``world`` corpus once, into
``<out_dir>/backbone/``, and shared by every experiment there.  Runs already done are skipped, so a
killed experiment continues where it stopped; ``--part=i --parts=n`` splits a sweep over processes or
a cluster array (:mod:`minilm.experiments.runner`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from minilm.config import opt, sub
from minilm.experiments import EXPERIMENTS
from minilm.experiments.forgetting import ForgettingConfig
from minilm.experiments.freezing import FreezingConfig
from minilm.experiments.frontier import FrontierConfig
from minilm.experiments.pretraining import PretrainingConfig
from minilm.experiments.regularisation import RegularisationConfig
from minilm.experiments.runner import BackboneConfig, SweepConfig, pretrained_backbone
from minilm.experiments.search import SearchConfig
from minilm.experiments.small_data import SmallDataConfig
from minilm.experiments.stability import StabilityConfig
from minilm.experiments.static_vs_contextual import StaticVsContextualConfig


@dataclass
class Config:
    """Run one experiment: a sweep of fine-tuning runs, its table and its plots."""

    name: str = opt("forgetting", "the experiment", choices=tuple(EXPERIMENTS))
    sweep: SweepConfig = sub(SweepConfig, flat=True)
    backbone: BackboneConfig = sub(BackboneConfig, flat=True)
    forgetting: ForgettingConfig = sub(ForgettingConfig, "experiment forgetting (1)")
    stability: StabilityConfig = sub(StabilityConfig, "experiment stability (2)")
    search: SearchConfig = sub(SearchConfig, "experiment search (2)")
    small_data: SmallDataConfig = sub(SmallDataConfig, "experiment small_data (3)")
    regularisation: RegularisationConfig = sub(RegularisationConfig, "experiment regularisation (5)")
    frontier: FrontierConfig = sub(FrontierConfig, "experiment frontier (7)")
    freezing: FreezingConfig = sub(FreezingConfig, "experiment freezing (4)")
    static_vs_contextual: StaticVsContextualConfig = sub(
        StaticVsContextualConfig, "experiment static_vs_contextual (6)"
    )
    pretraining: PretrainingConfig = sub(PretrainingConfig, "experiment pretraining (8)")

    POSITIONAL: ClassVar = "name"


def run(cfg: Config) -> int:
    t0 = time.perf_counter()
    out_dir = Path(cfg.sweep.out_dir)
    init = pretrained_backbone(cfg.backbone, out_dir, cfg.sweep.progress)
    folder = out_dir / cfg.name
    experiment = EXPERIMENTS[cfg.name]
    summary = experiment.run(getattr(cfg, cfg.name), init, folder, cfg.sweep, cfg.backbone.data_dir)
    if not summary:
        print(f"{cfg.name}: this part's runs are done; the report comes when every part is ({folder})")
        return 0
    print((folder / "report.md").read_text(encoding="utf-8"))
    print(f"{cfg.name}: {time.perf_counter() - t0:.0f} s, results in {folder}")
    return 0
