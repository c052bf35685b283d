"""Experiments 4, 6 and 8 at a tiny size through the CLI (their report, CSV and plots hold the expected
rows), their pieces (the cipher, held-out labels, label noise, training from scratch), and the
calibration metrics against closed forms and scikit-learn."""

from __future__ import annotations

import csv
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score

from minilm.cli.train import main
from minilm.data.registry import load_dataset
from minilm.errors import UserError
from minilm.experiments.freezing import cipher
from minilm.experiments.pretraining import flip_labels, from_scratch, hold_out
from minilm.experiments.runner import FinetuneRun, classifier, task_data
from minilm.metrics.calibration import (
    expected_calibration_error,
    midranks,
    msp_ood_auroc,
    reliability,
    roc_auc,
)
from minilm.models.transformer import Transformer

# ------------------------------------------------------------------------------------------ metrics


def test_roc_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(0)
    for n in (2, 7, 300):
        labels = np.r_[0, 1, rng.integers(0, 2, n)]
        scores = rng.integers(0, 5, len(labels)) / 4  # many ties
        assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert roc_auc([1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5  # all tied: one half
    assert roc_auc([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3]) == 1.0
    assert midranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]
    with pytest.raises(ValueError, match="both"):
        roc_auc([1, 1], [0.2, 0.3])


def test_msp_ood_auroc():
    confident = np.array([[4.0, 0.0], [0.0, 5.0]])  # MSP 0.982, 0.993
    unsure = np.array([[0.1, 0.0], [0.0, 0.2], [6.0, 0.0]])  # MSP 0.525, 0.550, 0.998
    assert msp_ood_auroc(confident, unsure) == pytest.approx(4 / 6)  # each beats two of three
    assert msp_ood_auroc(confident, unsure[:2]) == 1.0


def test_ece_closed_form():
    # 10 bins: (0.9, 1] holds 0.95, 0.95 (1 right): gap |0.5 - 0.95|; (0.5, 0.6] holds 0.55, 0.55
    # (both right): gap 0.45; (0.2, 0.3] holds 0.25 (wrong): gap 0.25
    confidence = np.array([0.95, 0.95, 0.55, 0.55, 0.25])
    correct = np.array([1, 0, 1, 1, 0])
    expected = 2 / 5 * 0.45 + 2 / 5 * 0.45 + 1 / 5 * 0.25
    assert expected_calibration_error(confidence, correct, 10) == pytest.approx(expected)
    bins = reliability(confidence, correct, 10)
    assert bins.count.tolist() == [0, 0, 1, 0, 0, 2, 0, 0, 0, 2]
    assert expected_calibration_error(np.full(4, 0.75), np.array([1, 1, 1, 0]), 15) == pytest.approx(0.0)
    # the bins are (a, b]: a confidence on an edge goes to the bin below, 0 to the first
    assert reliability(np.array([0.0, 0.5, 1.0]), np.ones(3), 2).count.tolist() == [2, 1]


def test_reliability_bins_equal_sklearn_calibration_curve():
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.2, 1.0, 500)
    correct = rng.uniform(size=500) < confidence
    bins = reliability(confidence, correct, 8)
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=8, strategy="uniform")
    filled = bins.count > 0
    np.testing.assert_allclose(bins.accuracy[filled], accuracy)
    np.testing.assert_allclose(bins.confidence[filled], mean_confidence)


# ------------------------------------------------------------------------------------------- pieces


def test_cipher_renames_ordinary_tokens_one_to_one(backbone):
    data = task_data("world_sentiment", backbone, 32, 48)
    tokenizer = classifier(backbone, FinetuneRun(), data.labels).tokenizer
    secret = cipher(data, tokenizer)
    special = set(tokenizer.get_added_tokens_decoder())
    before, after = data.arrays["train"]["tokens"], secret.arrays["train"]["tokens"]
    assert np.array_equal(np.isin(before, list(special)), np.isin(after, list(special)))
    kept = np.isin(before, list(special))
    assert np.array_equal(before[kept], after[kept])
    assert (before[~kept] != after[~kept]).mean() > 0.9
    pairs = set(zip(before.ravel().tolist(), after.ravel().tolist(), strict=True))
    assert len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs})  # a bijection
    assert np.array_equal(secret.arrays["dev"]["labels"], data.arrays["dev"]["labels"])
    assert np.array_equal(cipher(data, tokenizer).arrays["test"]["tokens"], secret.arrays["test"]["tokens"])


def test_hold_out_labels_and_flip_labels(backbone):
    data = task_data("world_intent", backbone, 32, 48)
    inside, ood = hold_out(data, ("book_flight", "set_timer"), "--flag")
    assert inside.labels == tuple(x for x in data.labels if x not in ("book_flight", "set_timer"))
    for split in ("train", "dev", "test"):
        old = np.array(data.labels)[data.arrays[split]["labels"]]
        kept = ~np.isin(old, ["book_flight", "set_timer"])
        assert np.array_equal(np.array(inside.labels)[inside.arrays[split]["labels"]], old[kept])
    test_old = np.array(data.labels)[data.arrays["test"]["labels"]]
    assert len(ood["tokens"]) == np.isin(test_old, ["book_flight", "set_timer"]).sum() > 0
    for held in (("fly",), (), data.labels[1:]):
        with pytest.raises(UserError, match="--flag="):
            hold_out(data, held, "--flag")

    labels = inside.arrays["train"]["labels"]
    noisy = flip_labels(labels, 0.2, len(inside.labels), seed=3)
    assert (noisy != labels).sum() == round(0.2 * len(labels))  # each flipped label changes
    assert noisy.max() < len(inside.labels) and np.array_equal(noisy, flip_labels(labels, 0.2, 8, 3))


def test_from_scratch_is_a_fresh_draw_of_the_init_code(backbone):
    tuned = classifier(backbone, FinetuneRun(), ("a", "b"))

    def weights(module) -> list[np.ndarray]:
        return [np.array(x) for x in jax.tree.leaves(nnx.state(module, nnx.Param))]

    pretrained, head = weights(tuned.model.backbone), weights(tuned.model.head)
    from_scratch(tuned, seed=5)
    fresh = weights(Transformer(tuned.model.backbone.cfg, rngs=nnx.Rngs(5)))
    after = weights(tuned.model.backbone)
    assert all(np.array_equal(a, f) for a, f in zip(after, fresh, strict=True))
    assert not all(np.array_equal(a, p) for a, p in zip(after, pretrained, strict=True))
    assert all(np.array_equal(a, h) for a, h in zip(weights(tuned.model.head), head, strict=True))


# ----------------------------------------------------------------------------------- the experiments

RUN = (
    "--{e}.run.max_len=32",
    "--{e}.run.max_eval=48",
    "--{e}.run.train.batch_size=8",
    "--{e}.run.train.steps=3",
)


def experiment(backbone: str, out: Path, name: str, *flags: str) -> tuple[Path, list[dict[str, str]]]:
    argv = ["experiment", name, f"--init={backbone}", f"--out_dir={out}", "--progress=false"]
    assert main([*argv, *(f.format(e=name) for f in RUN), *flags]) == 0
    folder = out / name
    assert (folder / "report.md").read_text().startswith("# Experiment")
    with (folder / f"{name}.csv").open() as f:
        return folder, list(csv.DictReader(f))


def pngs(folder: Path, *names: str) -> None:
    for png in names:
        assert (folder / png).read_bytes()[:4] == b"\x89PNG"


def test_freezing(backbone, tmp_path):
    flags = ("--freezing.frozen=0,1", "--freezing.sizes=16", "--freezing.seeds=0")
    folder, table = experiment(backbone, tmp_path, "freezing", *flags)
    pngs(folder, "freezing.png")
    assert [(r["target"], r["frozen_blocks"], r["train_examples"]) for r in table] == [
        ("close", "0", "16"),
        ("close", "1", "16"),
        ("far", "0", "16"),
        ("far", "1", "16"),
    ]
    assert table[2]["task"] == "world_intent (enciphered)"
    assert float(table[0]["trainable_percent"]) == 100.0 > float(table[1]["trainable_percent"])


def test_pretraining(backbone, tmp_path):
    flags = ("--pretraining.sizes=16", "--pretraining.seeds=0", "--pretraining.ood_labels=set_timer")
    folder, table = experiment(backbone, tmp_path, "pretraining", *flags)
    pngs(folder, "accuracy.png", "reliability.png", "robustness.png")
    assert [(r["start"], r["setting"], r["train_examples"]) for r in table] == [
        ("pretrained", "clean", "16"),
        ("scratch", "clean", "16"),
        ("pretrained", "20% labels flipped", "16"),
        ("scratch", "20% labels flipped", "16"),
    ]
    assert all(0 <= float(r["ece"]) <= 1 and 0 <= float(r["ood_auroc"]) <= 1 for r in table)


def test_static_vs_contextual(backbone, tmp_path):
    e = "--static_vs_contextual"
    corpus = tmp_path / "corpus.txt"  # a small corpus: the vectors and the biLM train in seconds
    corpus.write_text("\n".join(r["text"] for r in load_dataset("world").splits["train"][:300]))
    flags = (
        f"{e}.corpus={corpus}",
        f"{e}.seeds=0",
        f"{e}.run.train_size=32",
        f"{e}.vectors.dim=8",
        f"{e}.vectors.epochs=1",
        f"{e}.bilm.emb_dim=8",
        f"{e}.bilm.hidden=8",
        f"{e}.bilm.vocab_size=200",
        f"{e}.bilm_train.steps=3",
        f"{e}.bilm_train.batch_size=8",
        f"{e}.seq_len=8",
    )
    folder, table = experiment(backbone, tmp_path, "static_vs_contextual", *flags)
    pngs(folder, "accuracy.png")
    assert [r["representation"] for r in table] == [
        "static (mean word vector)",
        "ELMo scalar mix (frozen)",
        "transformer (frozen, linear probe)",
        "transformer (fine-tuned)",
    ]
    # trainable: 8-dim vectors -> 2 classes; ELMo: 3 layers of [fwd; bwd] 16 dims + the mix (3 + 1)
    assert [int(r["trainable_parameters"]) for r in table[:3]] == [8 * 2 + 2, 16 * 2 + 2 + 4, 32 * 2 + 2]
    assert (folder / "bilm" / "model.safetensors").is_file() and not (folder / "bilm.partial").exists()
