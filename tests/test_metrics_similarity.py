"""Cosine, Pearson, Spearman against NumPy / scikit-learn / SciPy (tolerance 1e-9)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics.pairwise import cosine_similarity

from minilm.metrics import similarity as S

TOL = 1e-9


def test_correlations_match_scipy_on_random_data_with_ties():
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(2, 60))
        if trial % 2:  # few distinct values: many ties in the rankings
            x, y = rng.integers(0, 4, n).astype(float), rng.integers(0, 4, n).astype(float)
        else:
            x = rng.normal(size=n)
            y = x * rng.normal() + rng.normal(size=n) * rng.random()
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        assert abs(S.pearson(x, y) - stats.pearsonr(x, y).statistic) <= TOL
        assert abs(S.spearman(x, y) - stats.spearmanr(x, y).statistic) <= TOL


def test_rank_average_matches_scipy():
    rng = np.random.default_rng(1)
    for _ in range(50):
        x = rng.integers(0, 5, int(rng.integers(1, 40))).astype(float)
        np.testing.assert_array_equal(S.rank_average(x), stats.rankdata(x, method="average"))


def test_hand_computed():
    assert S.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    # ranks 1 2 3 4 vs 2 3 4 1: sum d^2 = 12, rho = 1 - 6 * 12 / (4 * 15)
    assert S.spearman([1, 2, 3, 4], [10, 100, 1000, 5]) == pytest.approx(-0.2)
    assert S.spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(stats.spearmanr([1, 1, 2], [1, 2, 3]).statistic)
    assert math.isnan(S.pearson([1, 1, 1], [1, 2, 3])) and math.isnan(S.spearman([1, 2, 3], [5, 5, 5]))


def test_cosine_matches_sklearn():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(20, 8)), rng.normal(size=(20, 8))
    a[3] = 0.0  # a zero vector: cosine 0, as scikit-learn
    np.testing.assert_allclose(S.cosine(a, b), np.diag(cosine_similarity(a, b)), rtol=0, atol=TOL)
    assert S.cosine([1.0, 0.0], [1.0, 1.0]) == pytest.approx(1 / math.sqrt(2))
    assert isinstance(S.cosine([1.0, 2.0], [3.0, 4.0]), float)


def test_errors():
    with pytest.raises(ValueError, match="at least 2"):
        S.pearson([1.0], [2.0])
    with pytest.raises(ValueError, match="equal length"):
        S.spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="shapes"):
        S.cosine([1, 2], [1, 2, 3])


def test_non_finite_values_as_scipy():
    """nan anywhere: nan; inf: Pearson nan, and the largest rank for Spearman."""
    y = [1.0, 3.0, 2.0, 5.0]
    for bad in (float("nan"), float("inf"), -float("inf")):
        x = [1.0, 2.0, bad, 4.0]
        for ours, theirs in ((S.pearson, stats.pearsonr), (S.spearman, stats.spearmanr)):
            with np.errstate(invalid="ignore"):
                expected = float(theirs(x, y)[0])
            got = ours(x, y)
            assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected), (ours, bad)
    assert not math.isnan(S.spearman([1.0, 2.0, float("inf"), 4.0], y))  # a case that can fail: ranked


def test_sts_benchmark_scores(data_root):
    """STS-B dev gold scores against a noisy copy (real score distribution, many ties)."""
    import csv

    with open(data_root / "stsbenchmark" / "sts-dev.csv", encoding="utf-8") as f:
        gold = np.array([float(row[4]) for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)])
    noisy = np.round(gold + np.random.default_rng(0).normal(size=gold.size), 1)
    assert abs(S.spearman(gold, noisy) - stats.spearmanr(gold, noisy).statistic) <= TOL
    assert abs(S.pearson(gold, noisy) - stats.pearsonr(gold, noisy).statistic) <= TOL
