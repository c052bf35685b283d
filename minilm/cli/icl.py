"""``evaluate.py icl``: k-shot in-context classification with a causal LM, accuracy against K.

    python evaluate.py icl --model=runs/icl-gpt --task=world_sentiment --shots=0,1,4,16 --seeds=0,1,2
    python evaluate.py icl --model=hf:gpt2 --task=sst2 --label_words=negative:terrible,positive:great

No training: each test input is prompted with K labelled training examples and classified by the
label words' log-probability (:mod:`minilm.finetune.icl`, Brown et al. 2020 §2; Zhao et al. 2021 for
the spread over seeds and contextual calibration).  Demonstrations come from the ``train`` split, the
test inputs from ``--split`` (at most ``--max_eval`` of them: a fixed random subset, the same for
every K and seed).  In ``--template`` and ``--separator`` a typed ``\\n`` is a newline and ``\\t`` a
tab.  Printed: for each K the mean accuracy and its standard deviation over seeds, raw and
contextually calibrated, and the majority-class baseline; ``--json``: one object.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import numpy as np

from minilm.config import ConfigError, at_least, each, opt, required, sub
from minilm.data.dataset import TASK_FIELDS
from minilm.data.registry import DataRoot, load_dataset
from minilm.errors import UserError
from minilm.finetune.icl import (
    LABEL_FIELD,
    SELECTIONS,
    evaluate_shots,
    majority_baseline,
    prompt_format,
)
from minilm.models.io import load_lm
from minilm.train.run import say

TASKS = ("classification", "pair_classification")


@dataclass
class Config:
    """In-context k-shot classification with a causal LM (ours or GPT-2): accuracy against K."""

    model: str = opt(
        "", "minilm model/run folder, Hugging Face GPT-2 folder, or hf:<repo_id>", check=required
    )
    task: str = opt("world_sentiment", "a classification dataset (name or file) with a train split")
    split: str = opt("test", "the split to classify")
    shots: tuple[int, ...] = opt(
        (0, 1, 4, 16), "K values: demonstrations per prompt", check=each(at_least(0))
    )
    seeds: tuple[int, ...] = opt((0, 1, 2), "seeds: one draw of demonstrations each", check=each(at_least(0)))
    selection: str = opt("random", "random: uniform; balanced: equal counts per class", choices=SELECTIONS)
    template: str = opt("Review: {text}\\nSentiment: {label}", "one example; ends with {label}")
    separator: str = opt("\\n\\n", "between examples")
    label_words: tuple[tuple[str, str], ...] = opt(
        (), "class:word pairs, e.g. negative:bad,positive:good (default: the class names)"
    )
    max_eval: int = opt(400, "test inputs classified at most", check=at_least(1))
    batch_size: int = opt(16, "rows (input x class) per forward pass", check=at_least(1))
    json: bool = opt(False, "print one JSON object")
    progress: bool = opt(True, "say what each long step is doing")
    root: DataRoot = sub(DataRoot, flat=True)

    def check(self) -> None:
        for name in ("shots", "seeds"):
            if not getattr(self, name):
                raise ConfigError(name, "needs at least one value")


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n").replace("\\t", "\t")


def _eval_subset(n: int, max_eval: int) -> np.ndarray:
    """Indices of at most ``max_eval`` of ``n`` records: a fixed random subset, in file order."""
    return np.arange(n) if n <= max_eval else np.sort(np.random.default_rng(0).permutation(n)[:max_eval])


def run(cfg: Config) -> int:
    dataset = load_dataset(cfg.task, cfg.root.data_dir or None)
    if dataset.task not in TASKS:
        raise UserError(f"--task={cfg.task} is a {dataset.task} dataset; icl needs {' or '.join(TASKS)}")
    fields = [f for f in TASK_FIELDS[dataset.task] if f != LABEL_FIELD]
    fmt = prompt_format(
        _unescape(cfg.template), _unescape(cfg.separator), dataset.labels, fields, dict(cfg.label_words)
    )
    labelled = lambda records: [(r, dataset.labels.index(r[LABEL_FIELD])) for r in records]  # noqa: E731
    train = labelled(dataset.split("train"))
    records = dataset.split(cfg.split)
    test = labelled([records[i] for i in _eval_subset(len(records), cfg.max_eval)])
    say(cfg, f"loading {cfg.model}")
    model, tokenizer, bos = load_lm(cfg.model)
    results = evaluate_shots(
        model,
        tokenizer,
        fmt,
        train,
        test,
        cfg.shots,
        cfg.seeds,
        cfg.selection,
        bos,
        cfg.batch_size,
        functools.partial(say, cfg),
    )
    majority = majority_baseline([c for _, c in test])
    summary = {
        "task": cfg.task,
        "split": cfg.split,
        "examples": len(test),
        "seeds": list(cfg.seeds),
        "selection": cfg.selection,
        "label_words": dict(zip(dataset.labels, fmt.label_words, strict=True)),
        "majority": majority,
        "results": [r.summary() for r in results],
    }
    if cfg.json:
        print(json.dumps(summary))
        return 0
    lines = [
        f"{cfg.task} {cfg.split}: {len(test)} examples, {cfg.selection} demonstrations, "
        f"seeds {','.join(map(str, cfg.seeds))}; accuracy % (mean, std over seeds)",
        f"{'k':>4} {'accuracy':>9} {'std':>6} {'calibrated':>11} {'std':>6}",
    ]
    for r in summary["results"]:
        lines.append(
            f"{r['k']:>4} {100 * r['accuracy']:>9.2f} {100 * r['std']:>6.2f} "
            f"{100 * r['calibrated']:>11.2f} {100 * r['calibrated_std']:>6.2f}"
        )
    lines.append(f"majority-class baseline {100 * majority:.2f}")
    print("\n".join(lines))
    return 0
