"""jnp metrics under jax.jit against the NumPy metrics / scikit-learn / minilm.reference (tolerance 1e-6,
float32)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
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


def test_token_nll_is_minus_log_softmax_and_optax_bit_for_bit(jitted):
    _, token_nll = jitted
    rng = np.random.default_rng(1)
    logits = (rng.normal(size=(3, 7, 11)) * 4).astype(np.float32)
    targets = rng.integers(0, 11, (3, 7))
    got = np.asarray(token_nll(logits, targets))  # (3, 7)
    # the textbook -log softmax, in float64
    np.testing.assert_allclose(got, reference.token_nll(logits, targets), rtol=1e-6, atol=1e-6)
    # optax's cross-entropy: the same values and the same gradients, bit for bit (the losses trained with
    # optax before keep their numbers)
    ours = jax.jit(jax.value_and_grad(lambda z: token_nll(z, targets).sum()))
    theirs = jax.jit(
        jax.value_and_grad(lambda z: optax.softmax_cross_entropy_with_integer_labels(z, targets).sum())
    )
    np.testing.assert_array_equal(
        got, np.asarray(optax.softmax_cross_entropy_with_integer_labels(logits, targets))
    )
    for a, b in zip(ours(logits), theirs(logits), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # bfloat16 logits are scored in float32; uniform logits: perplexity equals the vocabulary size
    assert token_nll(jnp.asarray(logits, jnp.bfloat16), targets).dtype == jnp.float32
    nll = token_nll(jnp.zeros((2, 4, 11)), jnp.zeros((2, 4), jnp.int32))
    assert perplexity(float(nll.sum()), nll.size) == pytest.approx(11.0, rel=1e-5)


def test_f1_rejects_unknown_average():
    with pytest.raises(ValueError, match="average"):
        J.f1_from_confusion(jnp.eye(2), "samples")
