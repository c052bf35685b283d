"""The study note's claims as experiments: each a sweep of ordinary fine-tuning runs that ends with a
table (``report.md`` + CSV) and plots.  ``python train.py experiment NAME``; the shared machinery (the
backbone, one run, a resumable sweep split over processes, tables and plots) is in
:mod:`minilm.experiments.runner`.

====================  =========================  =============================================================
name                  file                       what it shows
====================  =========================  =============================================================
forgetting            forgetting.py  (exp. 1)    A's accuracy over B's training; rehearsal, EWC, L2-SP, LoRA
stability             stability.py   (exp. 2)    seeds x lr x (warmup, bias correction): failed runs
search                search.py      (exp. 2)    grid / random search over any run setting, best by dev
small_data            small_data.py  (exp. 3)    training-set size x epochs, mean and spread over seeds
freezing              freezing.py    (exp. 4)    frozen blocks x training-set size, close and far targets
regularisation        regularisation.py (exp. 5) dropout, weight decay, schedules, clipping vs a baseline
static_vs_contextual  static_vs_contextual.py    (exp. 6) skip-gram, frozen ELMo, frozen and fine-tuned BERT
frontier              frontier.py    (exp. 7)    accuracy against trainable % for every method
pretraining           pretraining.py (exp. 8)    pretrained vs scratch: accuracy, ECE, label noise, OOD AUROC
====================  =========================  =============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from minilm.experiments import (
    forgetting,
    freezing,
    frontier,
    pretraining,
    regularisation,
    search,
    small_data,
    stability,
    static_vs_contextual,
)


class Experiment(NamedTuple):
    config: type  # its config dataclass (a section of the command's config)
    run: Callable[..., dict[str, Any]]  # run(cfg, init, folder, sweep_cfg, data_dir) -> summary
    help: str


EXPERIMENTS: dict[str, Experiment] = {
    "forgetting": Experiment(forgetting.ForgettingConfig, forgetting.run, "1. catastrophic forgetting"),
    "stability": Experiment(stability.StabilityConfig, stability.run, "2. unstable fine-tuning"),
    "search": Experiment(search.SearchConfig, search.run, "2. hyper-parameter search"),
    "small_data": Experiment(small_data.SmallDataConfig, small_data.run, "3. small fine-tuning sets"),
    "regularisation": Experiment(
        regularisation.RegularisationConfig, regularisation.run, "5. regularisation"
    ),
    "frontier": Experiment(frontier.FrontierConfig, frontier.run, "7. parameter-efficiency frontier"),
    "freezing": Experiment(freezing.FreezingConfig, freezing.run, "4. how much to freeze"),
    "static_vs_contextual": Experiment(
        static_vs_contextual.StaticVsContextualConfig, static_vs_contextual.run, "6. static vs contextual"
    ),
    "pretraining": Experiment(pretraining.PretrainingConfig, pretraining.run, "8. what pre-training buys"),
}
