"""The study note's claims as experiments: each a sweep of ordinary fine-tuning runs that ends with a
table (``report.md`` + CSV) and plots.  ``python train.py experiment NAME``; the shared machinery (the
backbone, one run, a resumable sweep split over processes, tables and plots) is in
:mod:`minilm.experiments.runner`.

==============  =========================  =============================================================
name            file                       what it shows
==============  =========================  =============================================================
forgetting      forgetting.py  (exp. 1)    A's accuracy over B's training; rehearsal, EWC, L2-SP, LoRA
stability       stability.py   (exp. 2)    seeds x lr x (warmup, bias correction): failed runs
search          search.py      (exp. 2)    grid / random search over any run setting, best by dev
small_data      small_data.py  (exp. 3)    training-set size x epochs, mean and spread over seeds
regularisation  regularisation.py (exp. 5) dropout, weight decay, schedules, clipping vs a baseline
frontier        frontier.py    (exp. 7)    accuracy against trainable % for every method
==============  =========================  =============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from minilm.experiments import forgetting, frontier, regularisation, search, small_data, stability


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
}
