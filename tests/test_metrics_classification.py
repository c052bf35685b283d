"""Classification metrics against scikit-learn (tolerance 1e-9), on random and hand-made inputs, and
against the item-by-item counts of minilm.reference.classification."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

import minilm.reference as reference
from minilm.metrics import classification as C

TOL = 1e-9
FUZZ = settings(max_examples=25, deadline=None, derandomize=True)
pytestmark = pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")


def _check_against_sklearn(gold, pred) -> None:
    labels, matrix = C.confusion_matrix(gold, pred)
    ref_labels = sorted(set(np.asarray(gold).tolist()) | set(np.asarray(pred).tolist()))
    assert labels == ref_labels
    np.testing.assert_array_equal(matrix, skm.confusion_matrix(gold, pred, labels=ref_labels))
    assert C.accuracy(gold, pred) == pytest.approx(skm.accuracy_score(gold, pred), abs=TOL)
    for average in ("micro", "macro", "weighted"):
        ours = C.precision_recall_f1(gold, pred, average=average)
        ref = skm.precision_recall_fscore_support(gold, pred, average=average, zero_division=0)[:3]
        np.testing.assert_allclose(ours, ref, rtol=0, atol=TOL, err_msg=average)
    per_class = C.precision_recall_f1(gold, pred, average=None)
    ref = skm.precision_recall_fscore_support(gold, pred, labels=ref_labels, zero_division=0)
    for ours_scores, ref_scores in zip(per_class, ref[:3], strict=True):
        np.testing.assert_allclose(ours_scores, ref_scores, rtol=0, atol=TOL)
    report = C.classification_report(gold, pred)
    assert [row["support"] for row in report["per_class"].values()] == ref[3].tolist()


labels_st = st.sampled_from(["pos", "neg", "neutral", "ünïcode", "a b", "0", "10", "2"])


@FUZZ
@given(st.lists(st.tuples(labels_st, labels_st), min_size=1, max_size=60))
def test_string_labels_match_sklearn(pairs):
    gold, pred = [g for g, _ in pairs], [p for _, p in pairs]
    _check_against_sklearn(gold, pred)


@FUZZ
@given(st.lists(st.tuples(st.integers(-3, 40), st.integers(-3, 40)), min_size=1, max_size=80))
def test_int_labels_match_sklearn_lists_and_arrays(pairs):
    gold, pred = [g for g, _ in pairs], [p for _, p in pairs]
    _check_against_sklearn(gold, pred)  # Python lists: the general path
    _check_against_sklearn(np.array(gold), np.array(pred))  # int arrays: the bincount path


@FUZZ
@given(st.lists(st.tuples(st.integers(-3, 12), st.integers(-3, 12)), min_size=1, max_size=60))
def test_per_class_and_macro_match_reference(pairs):
    gold, pred = [g for g, _ in pairs], [p for _, p in pairs]
    expected = reference.per_class_scores(gold, pred)
    for g, p in ((gold, pred), (np.array(gold), np.array(pred))):  # the general and the bincount path
        assert C.confusion_matrix(g, p)[0] == list(expected)
        per_class = np.array(C.precision_recall_f1(g, p, average=None)).T  # (K, 3)
        np.testing.assert_allclose(per_class, list(expected.values()), rtol=0, atol=TOL)
        np.testing.assert_allclose(
            C.precision_recall_f1(g, p), reference.macro_scores(gold, pred), rtol=0, atol=TOL
        )


def test_seeded_large_inputs_and_both_paths():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 20, 50_000)
    pred = np.where(rng.random(gold.size) < 0.4, rng.integers(0, 20, gold.size), gold)
    _check_against_sklearn(gold, pred)
    _check_against_sklearn(gold * 10**9, pred * 10**9)  # a span too wide for the dense grid
    _check_against_sklearn(gold.astype(np.uint8), pred.astype(np.uint8))


@pytest.mark.parametrize(
    "gold, pred",
    [
        (["a", "a", "a"], ["a", "a", "a"]),  # one class only
        (["a", "b", "c", "c"], ["a", "a", "a", "c"]),  # a label never predicted
        (["a", "a"], ["b", "c"]),  # labels only ever predicted, never gold
        ([1], [0]),  # all wrong
    ],
)
def test_edge_cases_match_sklearn(gold, pred):
    _check_against_sklearn(gold, pred)


def test_hand_computed_example():
    gold = ["cat", "cat", "dog", "dog", "dog", "bird"]
    pred = ["cat", "dog", "dog", "dog", "cat", "cat"]
    # cat: tp 1, predicted 3, true 2 -> P 1/3, R 1/2, F1 2/5; dog: tp 2, pred 3, true 3 -> 2/3; bird: 0
    prf = C.precision_recall_f1(gold, pred, average=None)
    np.testing.assert_allclose(prf.precision, [0, 1 / 3, 2 / 3])
    np.testing.assert_allclose(prf.f1, [0, 2 / 5, 2 / 3])
    assert C.precision_recall_f1(gold, pred, average="macro").f1 == pytest.approx((2 / 5 + 2 / 3) / 3)


def test_binary_positive_matches_sklearn_binary():
    rng = np.random.default_rng(1)
    gold = rng.choice(["spam", "ham"], 300).tolist()
    pred = rng.choice(["spam", "ham"], 300).tolist()
    ref = skm.precision_recall_fscore_support(gold, pred, average="binary", pos_label="spam")[:3]
    np.testing.assert_allclose(C.precision_recall_f1(gold, pred, "binary", positive="spam"), ref, atol=TOL)
    report = C.classification_report(gold, pred, positive="spam")
    assert report["binary"]["f1"] == pytest.approx(ref[2], abs=TOL) and report["binary"]["label"] == "spam"


def test_report_keys_and_table():
    report = C.classification_report(["x", "y", "y"], ["x", "x", "y"])
    assert set(report) == {"accuracy", "micro", "macro", "weighted", "per_class", "confusion_matrix"}
    assert report["confusion_matrix"] == {"labels": ["x", "y"], "matrix": [[1, 0], [1, 1]]}
    table = C.format_report(report)
    assert "macro avg" in table and "confusion matrix" in table and "0.6667" in table


def test_errors():
    with pytest.raises(ValueError, match="gold has 2"):
        C.accuracy([1, 2], [1])
    with pytest.raises(ValueError, match="no labels"):
        C.confusion_matrix([], [])
    with pytest.raises(ValueError, match="cannot be sorted"):
        C.confusion_matrix([1, "a"], [1, "a"])
    with pytest.raises(ValueError, match="positive label"):
        C.precision_recall_f1(["a"], ["b"], "binary", positive="c")
    with pytest.raises(ValueError, match="average"):
        C.precision_recall_f1(["a"], ["b"], "samples")
