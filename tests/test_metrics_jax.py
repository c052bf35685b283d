"""jnp metrics under jax.jit against the NumPy metrics / scikit-learn / minilm.reference (tolerance 1e-6,
float32)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import metrics as skm

import minilm.reference as reference
from minilm.metrics import jax_metrics as J
from minilm.metrics.perplexity import perplexity

K = 5


@pytest.fixture(scope="module")
def jitted():
    @jax.jit
    def all_metrics(gold, pred, mask):
        cm = J.confusion_matrix(gold, pred, K, mask)
        scores = {avg: J.f1_from_confusion(cm, avg) for avg in ("macro", "micro", "weighted")}
        return J.accuracy(gold, pred, mask), cm, scores

    return all_metrics, jax.jit(J.token_nll)


def test_classification_metrics_match_sklearn_with_padding(jitted):
    all_metrics, _ = jitted
    rng = np.random.default_rng(0)
    for trial in range(10):
        n = 64
        gold = rng.integers(0, K - trial % 2, n)  # odd trials: class K-1 never gold
        pred = np.where(rng.random(n) < 0.5, gold, rng.integers(0, K - 1, n))
        mask = np.arange(n) < rng.integers(1, n + 1)  # trailing padding
        acc, cm, f1 = all_metrics(gold, pred, mask)
        g, p = gold[mask], pred[mask]
        assert float(acc) == pytest.approx(skm.accuracy_score(g, p), abs=1e-6)
        labels = list(range(K))
        np.testing.assert_array_equal(np.asarray(cm), skm.confusion_matrix(g, p, labels=labels))
        for avg in ("macro", "micro", "weighted"):
            assert float(f1[avg]) == pytest.approx(skm.f1_score(g, p, average=avg, zero_division=0), abs=1e-6)
        assert float(f1["macro"]) == pytest.approx(
            reference.macro_scores(g.tolist(), p.tolist())[2], abs=1e-6
        )


def test_token_nll_matches_reference(jitted):
    _, token_nll = jitted
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 7, 11)).astype(np.float32)
    targets = rng.integers(0, 11, (3, 7))
    mask = rng.random((3, 7)) < 0.7
    total, count = token_nll(logits, targets, mask)
    assert float(total) == pytest.approx(float(reference.token_nll(logits, targets)[mask].sum()), rel=1e-5)
    assert int(count) == int(mask.sum())
    assert perplexity(float(total), int(count)) == pytest.approx(
        reference.perplexity(logits, targets, mask), rel=1e-5
    )
    # uniform logits: perplexity equals the vocabulary size
    total, count = token_nll(jnp.zeros((2, 4, 11)), jnp.zeros((2, 4), jnp.int32))
    assert perplexity(float(total), int(count)) == pytest.approx(11.0, rel=1e-5)


def test_f1_rejects_unknown_average():
    with pytest.raises(ValueError, match="average"):
        J.f1_from_confusion(jnp.eye(2), "samples")
