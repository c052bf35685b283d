"""``minilm.objectives``: the shared padded evaluation loop, BERT masking and the MLM loss, the
classification scores, and the biLM loss and evaluator -- each against a plain recomputation."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from sklearn import metrics as skm

from minilm.data.tokenizer import CLS, MASK, SEP
from minilm.metrics.perplexity import perplexity
from minilm.models.elmo import BiLM, BiLMConfig, bilm_nll
from minilm.objectives.bilm import bilm_evaluator, bilm_loss
from minilm.objectives.classification import classification_scores
from minilm.objectives.evaluate import batched_apply, batched_eval, padded_batches
from minilm.objectives.mlm import MLMBatches, mask_tokens, mlm_loss

# -------------------------------------------------------------------------------- the padded eval loop


def test_padded_batches_fill_the_last_batch_with_the_last_row() -> None:
    x = np.arange(10).reshape(5, 2)
    batches = list(padded_batches({"x": x, "y": np.arange(5)}, 3))
    assert [real for _, _, real in batches] == [3, 2]
    last, valid, _ = batches[1]
    np.testing.assert_array_equal(last["x"], [[6, 7], [8, 9], [8, 9]])
    np.testing.assert_array_equal(last["y"], [3, 4, 4])
    np.testing.assert_array_equal(valid, [1, 1, 0])
    with pytest.raises(ValueError, match="different lengths"):
        next(padded_batches({"x": x, "y": np.arange(4)}, 3))
    with pytest.raises(ValueError, match="no rows"):
        next(padded_batches({"x": x[:0]}, 3))


def test_batched_eval_masks_the_padding_and_compiles_once() -> None:
    """The sum over a ragged set equals the unpadded sum for every set size, through one compilation."""
    traces = []

    @jax.jit
    def sums(batch, valid):  # {"x": (b, 3)}, (b,)
        traces.append(batch["x"].shape)
        row = batch["x"].sum(-1)  # (b,)
        return {"total": jnp.sum(row * valid), "rows": jnp.sum(valid), "per_row": row * valid}

    rng = np.random.default_rng(0)
    for n in (1, 7, 8, 13, 30):
        x = rng.normal(size=(n, 3)).astype(np.float32)
        got = batched_eval(sums, {"x": x}, batch_size=8)
        assert got["rows"] == n
        np.testing.assert_allclose(got["total"], x.astype(np.float64).sum(), rtol=1e-5)
        np.testing.assert_allclose(got["per_row"], x.astype(np.float64).sum(), rtol=1e-5)
    assert traces == [(8, 3)]


def test_batched_apply_drops_the_filler_rows() -> None:
    traces = []

    @jax.jit
    def double(batch):
        traces.append(1)
        return 2 * batch["x"]

    for n in (3, 4, 9):
        x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
        np.testing.assert_array_equal(batched_apply(double, {"x": x}, batch_size=4), 2 * x)
    assert len(traces) == 1


# --------------------------------------------------------------------------------------- masked LM


def test_masking_follows_bert_80_10_10() -> None:
    """Devlin et al. 2019 §3.1: round(15%) of each row's candidates chosen; of those 80% -> [MASK], 10% a
    uniform random token, 10% unchanged (binomial bounds, 5 sigma, on 40,000 chosen positions)."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(10, 1000, size=(2000, 134))
    candidates = np.ones(tokens.shape, bool)
    candidates[:, :4] = False  # e.g. padding: never chosen
    out, chosen = mask_tokens(tokens, candidates, np.random.default_rng(1), vocab_size=1000, mask_id=MASK)
    assert (chosen.sum(1) == round(0.15 * 130)).all() and not chosen[:, :4].any()
    assert (out[~chosen] == tokens[~chosen]).all()
    n = chosen.sum()
    masked = (out[chosen] == MASK).mean()
    kept = (out[chosen] == tokens[chosen]).mean()  # includes random draws that hit the same token (0.1%)
    bound = lambda p: 5 * math.sqrt(p * (1 - p) / n)  # noqa: E731
    assert abs(masked - 0.8) < bound(0.8) and abs(kept - (0.1 + 0.1 / 1000)) < bound(0.1)
    replaced = out[chosen & (out != MASK) & (out != tokens)]
    assert replaced.min() < 10 and replaced.max() >= 990  # uniform over the whole vocabulary
    again, _ = mask_tokens(tokens, candidates, np.random.default_rng(1), vocab_size=1000, mask_id=MASK)
    assert np.array_equal(out, again)


def test_mlm_batches_are_deterministic_and_never_mask_cls_sep() -> None:
    stream = np.arange(5, 45, dtype=np.int32)
    batches = MLMBatches(stream, batch_size=64, seq_len=10, seed=3, vocab_size=45, p=0.25)
    a, b = batches.batch(7), batches.batch(7)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert (a["targets"][:, 0] == CLS).all() and (a["targets"][:, -1] == SEP).all()
    assert (a["weights"][:, [0, -1]] == 0).all() and (a["weights"].sum(1) == 2).all()  # round(0.25 * 8)
    changed = a["tokens"] != a["targets"]
    assert not (changed & (a["weights"] == 0)).any()  # only chosen positions are corrupted
    loss, _ = mlm_loss(lambda tokens, rngs: jnp.zeros((*tokens.shape, 45)), a, None)
    np.testing.assert_allclose(float(loss), math.log(45), rtol=1e-6)  # uniform logits: log V per token


# ---------------------------------------------------------------------------------- classification


def test_classification_scores_match_sklearn_log_loss() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 3)).astype(np.float32) * 3
    labels = rng.integers(0, 3, 50)
    got = classification_scores(logits, labels)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    assert got["eval_loss"] == pytest.approx(skm.log_loss(labels, probs, labels=[0, 1, 2]), rel=1e-5)
    assert got["eval_accuracy"] == pytest.approx(skm.accuracy_score(labels, logits.argmax(-1)))


# ---------------------------------------------------------------------------------------------- biLM

TINY_BILM = BiLMConfig(vocab_size=11, emb_dim=6, hidden=8, proj_dim=6, layers=1)


def test_bilm_evaluator_sums_every_batch_and_loss_is_the_mean_of_the_directions() -> None:
    model = BiLM(TINY_BILM, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    batches = [
        {"tokens": rng.integers(0, 11, (4, 6)).astype(np.int32), "lengths": np.array([6, 6, n, n], np.int32)}
        for n in (6, 6, 3)  # the last window shorter, as held-out text ends
    ]
    got = bilm_evaluator(model)(model, batches)
    sums = np.array([[float(v) for v in bilm_nll(model, b)] for b in batches]).sum(0)  # fwd, bwd, count
    assert got["tokens"] == sums[2] == 4 * 5 + 4 * 5 + (2 * 5 + 2 * 2)  # sum of lengths - 1
    np.testing.assert_allclose([got["nll_fwd"], got["nll_bwd"]], sums[:2] / sums[2], rtol=1e-6)
    assert got["ppl_fwd"] == pytest.approx(perplexity(sums[0], int(sums[2])))
    loss, logged = bilm_loss(model, batches[0])
    fwd, bwd, count = (float(v) for v in bilm_nll(model, batches[0]))
    np.testing.assert_allclose(float(loss), 0.5 * (fwd + bwd) / count, rtol=1e-6)
    np.testing.assert_allclose(float(logged["nll_fwd"]), fwd / count, rtol=1e-6)
