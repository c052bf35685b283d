"""Splits of a dataset as training needs them: LM text with a held-out part, a classification task
with train, dev and test (a user's single file is split with a seeded permutation)."""

from __future__ import annotations

import numpy as np

from minilm.data.dataset import TASK_FIELDS, Dataset
from minilm.data.registry import load_dataset
from minilm.errors import UserError


def lm_text(dataset: Dataset, flag: str = "--corpus") -> tuple[list[str], list[str]]:
    """Train and held-out lines of an LM corpus: its dev/valid/test split, else the last 5% of lines.
    ``flag`` names the option that chose the dataset, for the error messages."""
    if dataset.task != "lm":
        raise UserError(
            f"{flag}={dataset.name} is a {dataset.task} dataset; pretraining needs text (task lm)"
        )
    if "train" not in dataset.splits:
        raise UserError(
            f"{flag}={dataset.name} has no train split (its splits: {', '.join(dataset.splits)}); "
            "train on another corpus or on a text file"
        )
    splits = {k: [r["text"] for r in v] for k, v in dataset.splits.items()}
    train = splits.pop("train")
    held = next((splits[k] for k in ("valid", "dev", "validation", "test") if k in splits), None)
    if held is None:
        cut = max(1, len(train) // 20)
        train, held = train[:-cut], train[-cut:]
    if not train or not held:
        raise UserError(f"{flag}={dataset.name}: too little text to hold out an evaluation part")
    return train, held


def task_splits(
    dataset: Dataset, seed: int, flag: str = "--task", kinds: tuple[str, ...] = ("classification",)
) -> tuple[list[dict], list[dict], list[dict], tuple[str, ...] | None]:
    """train, dev, test and the label names (None for records without labels) of a dataset of one of
    ``kinds``.  A dataset with a single split (a user's file; AG News' test file) is split 80/10/10
    with a seeded permutation; one without a test split is tested on its dev split, one without a
    dev split validated on its test split."""
    if dataset.task not in kinds:
        raise UserError(
            f"{flag}={dataset.name} is a {dataset.task} dataset; fine-tuning here needs {' or '.join(kinds)}"
        )
    splits = dict(dataset.splits)
    if len(splits) == 1:
        (only,) = splits.values()
        order = np.random.default_rng(seed).permutation(len(only))
        tenth = len(only) // 10
        if tenth == 0:
            raise UserError(
                f"{flag}={dataset.name}: {len(only)} examples are too few to split off dev and test"
            )
        dev, test = [only[i] for i in order[:tenth]], [only[i] for i in order[tenth : 2 * tenth]]
        train = [only[i] for i in order[2 * tenth :]]
    elif "train" not in splits:
        raise UserError(f"{flag}={dataset.name} has no train split (its splits: {', '.join(splits)})")
    else:
        train = splits["train"]
        dev = next((splits[k] for k in ("dev", "validation", "valid") if k in splits), None)
        test = splits.get("test", dev)
        dev = test if dev is None else dev
    labels = dataset.labels
    if labels is None and "label" in TASK_FIELDS[dataset.task]:
        labels = tuple(sorted({r["label"] for r in train}))
    return train, dev, test, labels


def lm_splits(data: str, train_split: str, valid: str, data_dir: str | None) -> tuple[list[str], list[str]]:
    """Training and held-out texts of an LM dataset: ``train_split`` of ``data``, and ``valid`` -- a split
    of ``data``, another dataset or file, or (empty) its dev, valid or test split."""
    dataset = load_dataset(data, data_dir)
    if dataset.task != "lm":
        raise UserError(f"--data={data} is a {dataset.task} dataset; a language model needs text (task lm)")
    if train_split not in dataset.splits:
        raise UserError(f"--train_split={train_split}: {data} has splits {', '.join(dataset.splits)}")
    train = [r["text"] for r in dataset.splits[train_split]]
    if valid in dataset.splits:
        held_name = valid
    elif valid:
        held = load_dataset(valid, data_dir)
        if held.task != "lm":
            raise UserError(f"--valid={valid} is a {held.task} dataset, not text")
        return train, [r["text"] for split in held.splits.values() for r in split]
    else:
        options = [s for s in ("dev", "valid", "test") if s in dataset.splits and s != train_split]
        if not options:
            raise UserError(f"--data={data} has no held-out split; give --valid=SPLIT_OR_FILE")
        held_name = options[0]
    if held_name == train_split:
        raise UserError(f"--valid={held_name} is the training split; hold out other text")
    return train, [r["text"] for r in dataset.splits[held_name]]
