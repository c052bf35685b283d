"""Perplexity and bits per character / byte: closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minilm.metrics.perplexity import bits_per_byte, bits_per_char, perplexity


def test_uniform_model_has_perplexity_vocabulary_size():
    # a model that is uniform over V outcomes has NLL ln V per token, hence PPL V and log2 V bits
    for v in (2, 7, 50257):
        assert perplexity(1000 * math.log(v), 1000) == pytest.approx(v)
        assert bits_per_char(100 * math.log(v), 100) == pytest.approx(math.log2(v))
    assert bits_per_byte(64 * math.log(256), 64) == pytest.approx(8.0)
    assert perplexity(np.float32(2 * math.log(5)), np.int64(2)) == pytest.approx(
        5.0, rel=1e-6
    )  # NumPy scalars


def test_perplexity_is_inverse_geometric_mean_probability():
    p = np.random.default_rng(0).uniform(0.01, 1.0, 500)
    assert perplexity(float(-np.log(p).sum()), p.size) == pytest.approx(float(np.exp(-np.mean(np.log(p)))))


def test_same_nll_different_units():
    # one text, 1000 chars, 200 words: the per-unit figures differ, the total does not
    nll = 1000 * 1.2
    assert perplexity(nll, 200) == pytest.approx(math.exp(6.0)) and perplexity(nll, 1000) == pytest.approx(
        math.exp(1.2)
    )


def test_overflow_and_errors():
    assert perplexity(1e6, 1) == math.inf
    assert perplexity(0.0, 3) == 1.0
    for bad in [(-1.0, 5), (float("nan"), 5), (1.0, 0), (1.0, 2.5), (1.0, True)]:
        with pytest.raises(ValueError):
            perplexity(*bad)
