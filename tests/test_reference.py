"""minilm.reference against closed forms, finite differences and the libraries people trust, so that a
wrong reference fails here (the rest of the suite checks minilm's fast paths against these forms)."""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import sacrebleu
from flax import nnx
from rouge_score import rouge_scorer
from scipy import special, stats
from sklearn import metrics as skm

import minilm.reference as ref

FIXTURES = Path(__file__).parent / "fixtures"


def numerical_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function f at x (float64): (f(x + h e_i) - f(x - h e_i)) / 2h."""
    x = np.asarray(x, np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


# ------------------------------------------------------------------------------------------ attention


def test_softmax_matches_scipy_and_is_shift_invariant():
    z = np.random.default_rng(0).normal(size=(3, 7)) * 30
    np.testing.assert_allclose(ref.softmax(z), special.softmax(z, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(ref.softmax(z + 1000.0), ref.softmax(z), rtol=1e-12)


def test_attention_matches_jax_with_boolean_and_additive_masks():
    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(2, 3, 5, 4)) for _ in range(3))  # (B, H, T, d)
    mask = ref.causal_mask(5)[None, None] & (rng.random((2, 1, 1, 5)) > 0.3)  # (B, 1, T, S)
    mask[..., 0] = True
    lib = jax.nn.dot_product_attention(
        *(jnp.asarray(a.transpose(0, 2, 1, 3), jnp.float32) for a in (q, k, v)), mask=jnp.asarray(mask)
    )  # (B, T, H, d)
    np.testing.assert_allclose(ref.attention(q, k, v, mask), np.asarray(lib).transpose(0, 2, 1, 3), atol=1e-5)
    additive = np.where(mask, 0.0, -np.inf)
    np.testing.assert_allclose(ref.attention(q, k, v, additive), ref.attention(q, k, v, mask), rtol=1e-14)


def test_attention_closed_forms():
    rng = np.random.default_rng(2)
    k, v = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    # zero queries score every key 0: the output is the mean of the values
    np.testing.assert_allclose(ref.attention(np.zeros((2, 4)), k, v), np.tile(v.mean(0), (2, 1)), rtol=1e-12)
    # a query that may see one key only returns that key's value
    mask = np.zeros((1, 6), bool)
    mask[0, 4] = True
    np.testing.assert_allclose(ref.attention(rng.normal(size=(1, 4)), k, v, mask), v[4:5], rtol=1e-12)


def test_multi_head_attention_matches_flax():
    d, h, t = 8, 2, 5
    mha = nnx.MultiHeadAttention(h, d, use_bias=False, decode=False, rngs=nnx.Rngs(0))
    x = np.random.default_rng(3).normal(size=(2, t, d)).astype(np.float32)  # (B, T, D)
    mask = ref.causal_mask(t)
    lib = mha(jnp.asarray(x), mask=jnp.asarray(mask)[None, None])
    w_q, w_k, w_v = (np.asarray(p.kernel[...]).reshape(d, d) for p in (mha.query, mha.key, mha.value))
    w_o = np.asarray(mha.out.kernel[...]).reshape(d, d)  # (H, d_k, D) -> (H d_k, D)
    ours = ref.multi_head_attention(x, x, x, w_q, w_k, w_v, w_o, h, mask)
    np.testing.assert_allclose(ours, lib, atol=1e-5)


# --------------------------------------------------------------------------------------------- layers


def test_layer_norm_matches_flax_and_normalises():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 6)) * 3 + 2
    ln = nnx.LayerNorm(6, epsilon=1e-5, rngs=nnx.Rngs(0))
    ln.scale[...] = jnp.asarray(rng.normal(size=6), jnp.float32)
    ln.bias[...] = jnp.asarray(rng.normal(size=6), jnp.float32)
    ours = ref.layer_norm(x, np.asarray(ln.scale[...]), np.asarray(ln.bias[...]), eps=1e-5)
    np.testing.assert_allclose(ours, ln(jnp.asarray(x, jnp.float32)), atol=1e-5)
    plain = ref.layer_norm(x, np.ones(6), eps=0.0)
    np.testing.assert_allclose(plain.mean(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(plain.var(-1), 1.0, rtol=1e-12)


def test_layer_norm_grads_equal_finite_differences():
    rng = np.random.default_rng(5)
    x, dy, gamma, beta = (
        rng.normal(size=(3, 5)) * 2,
        rng.normal(size=(3, 5)),
        rng.normal(size=5),
        rng.normal(size=5),
    )
    dx, dgamma, dbeta = ref.layer_norm_grads(x, gamma, dy, eps=1e-3)
    np.testing.assert_allclose(
        dx, numerical_grad(lambda a: np.sum(ref.layer_norm(a, gamma, beta, 1e-3) * dy), x), atol=1e-8
    )
    np.testing.assert_allclose(
        dgamma, numerical_grad(lambda g: np.sum(ref.layer_norm(x, g, beta, 1e-3) * dy), gamma), atol=1e-8
    )
    np.testing.assert_allclose(
        dbeta, numerical_grad(lambda b: np.sum(ref.layer_norm(x, gamma, b, 1e-3) * dy), beta), atol=1e-8
    )


def test_gelu_matches_scipy_and_jax():
    x = np.linspace(-6, 6, 49)
    np.testing.assert_allclose(ref.gelu(x), x * stats.norm.cdf(x), rtol=1e-12, atol=1e-15)
    lib = jax.nn.gelu(jnp.asarray(x, jnp.float32), approximate=True)
    np.testing.assert_allclose(ref.gelu(x, approximate=True), lib, atol=2e-6)
    assert np.abs(ref.gelu(x, approximate=True) - ref.gelu(x)).max() < 1e-3  # the tanh form approximates


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_grad_equals_finite_differences(approximate):
    x = np.linspace(-5, 5, 23)
    numerical = (ref.gelu(x + 1e-6, approximate) - ref.gelu(x - 1e-6, approximate)) / 2e-6
    np.testing.assert_allclose(ref.gelu_grad(x, approximate), numerical, atol=1e-8)


# ----------------------------------------------------------------------------------------------- LSTM


@pytest.mark.parametrize("name", ["one_layer", "two_layers", "projection"])
def test_lstm_sequence_matches_torch_golden_fixture(name):
    """torch.nn.LSTM's outputs (tests/fixtures/lstm_torch.npz): layer l reads layer l-1's outputs."""
    with np.load(FIXTURES / "lstm_torch.npz", allow_pickle=False) as data:
        case = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith(f"{name}/")}
    y = case["x"]
    for l in range(sum(k.startswith("weight_ih_l") for k in case)):
        bias = case[f"bias_ih_l{l}"] + case[f"bias_hh_l{l}"]
        w_p = case[f"weight_hr_l{l}"].T if f"weight_hr_l{l}" in case else None
        y = ref.lstm_sequence(y, case[f"weight_ih_l{l}"].T, case[f"weight_hh_l{l}"].T, bias, w_p=w_p)
    np.testing.assert_allclose(y, case["y"], rtol=1e-5, atol=1e-6)


def test_lstm_sequence_padding_and_clipping():
    rng = np.random.default_rng(6)
    w_x, w_r, b, w_p = (
        rng.normal(size=(3, 16)),
        rng.normal(size=(2, 16)),
        rng.normal(size=16),
        rng.normal(size=(4, 2)),
    )
    xs = rng.normal(size=(2, 5, 3)) * 5
    kw = dict(w_p=w_p, cell_clip=0.5, proj_clip=0.3)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
    padded = ref.lstm_sequence(xs, w_x, w_r, b, mask, **kw)
    np.testing.assert_allclose(padded[1, :3], ref.lstm_sequence(xs[1:, :3], w_x, w_r, b, **kw)[0], rtol=1e-14)
    np.testing.assert_array_equal(padded[1, 3:], 0.0)
    assert np.abs(padded).max() <= 0.3 and np.isclose(np.abs(padded).max(), 0.3)  # projections clipped
    _, c = ref.lstm_step(xs[:, 0] * 10, np.zeros((2, 2)), np.zeros((2, 4)), w_x, w_r, b, **kw)
    assert np.isclose(np.abs(c).max(), 0.5)  # cells clipped


# ----------------------------------------------------------------------------------------- word2vec


def test_sgns_loss_closed_form_and_grads_equal_finite_differences():
    rng = np.random.default_rng(7)
    v, u, noise = rng.normal(size=4), rng.normal(size=4), rng.normal(size=(3, 4))
    # zero vectors: every sigmoid is 1/2, so L = (1 + w K) log 2
    assert ref.sgns_loss(np.zeros(4), u, noise, 1.5) == pytest.approx((1 + 1.5 * 3) * math.log(2), rel=1e-12)
    dv, du, dnoise = ref.sgns_grads(v, u, noise, 1.5)
    np.testing.assert_allclose(dv, numerical_grad(lambda a: ref.sgns_loss(a, u, noise, 1.5), v), atol=1e-8)
    np.testing.assert_allclose(du, numerical_grad(lambda a: ref.sgns_loss(v, a, noise, 1.5), u), atol=1e-8)
    np.testing.assert_allclose(
        dnoise, numerical_grad(lambda a: ref.sgns_loss(v, u, a, 1.5), noise), atol=1e-8
    )


def test_cbow_grads_equal_finite_differences():
    rng = np.random.default_rng(8)
    ctx, u, noise = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(2, 4))
    dctx, du, dnoise = ref.cbow_grads(ctx, u, noise, 0.7)
    np.testing.assert_allclose(
        dctx, numerical_grad(lambda a: ref.cbow_loss(a, u, noise, 0.7), ctx), atol=1e-8
    )
    np.testing.assert_allclose(du, numerical_grad(lambda a: ref.cbow_loss(ctx, a, noise, 0.7), u), atol=1e-8)
    np.testing.assert_allclose(
        dnoise, numerical_grad(lambda a: ref.cbow_loss(ctx, u, a, 0.7), noise), atol=1e-8
    )


def test_glove_weight_closed_form_and_grads_equal_finite_differences():
    np.testing.assert_allclose(ref.glove_weight([0.0, 50.0, 100.0, 300.0]), [0.0, 0.5**0.75, 1.0, 1.0])
    rng = np.random.default_rng(9)
    x = np.where(rng.random((4, 4)) < 0.6, rng.uniform(0.5, 200, (4, 4)), 0.0)  # some entries never seen
    w, wc, b, bc = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=4)
    cost = sum(
        ref.glove_weight(x[i, j]) * (w[i] @ wc[j] + b[i] + bc[j] - math.log(x[i, j])) ** 2
        for i in range(4)
        for j in range(4)
        if x[i, j] > 0
    )
    assert ref.glove_cost(x, w, wc, b, bc) == pytest.approx(cost, rel=1e-12)
    grads = ref.glove_grads(x, w, wc, b, bc)
    args = [w, wc, b, bc]
    for n, grad in enumerate(grads):

        def cost_of(a, n=n):
            return ref.glove_cost(x, *args[:n], a, *args[n + 1 :])

        np.testing.assert_allclose(grad, numerical_grad(cost_of, args[n]), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------- cross-entropy


def test_cross_entropy_matches_sklearn_and_uniform_perplexity():
    rng = np.random.default_rng(10)
    logits, targets = rng.normal(size=(40, 6)) * 2, rng.integers(0, 6, 40)
    expected = skm.log_loss(targets, ref.softmax(logits), labels=range(6))
    assert ref.cross_entropy(logits, targets) == pytest.approx(expected, rel=1e-10)
    mask = rng.random(40) < 0.5
    assert ref.cross_entropy(logits, targets, mask) == pytest.approx(
        ref.token_nll(logits, targets)[mask].mean()
    )
    assert ref.perplexity(np.zeros((2, 3, 11)), np.zeros((2, 3), int)) == pytest.approx(11.0, rel=1e-12)
    np.testing.assert_allclose(np.exp(ref.log_softmax(logits)), ref.softmax(logits), rtol=1e-12)


# ---------------------------------------------------------------------------------------- optimizer


def test_adamw_steps_match_optax():
    rng = np.random.default_rng(11)
    theta = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(4)]
    tx = optax.adamw(1e-2, b1=0.8, b2=0.95, eps=1e-6, weight_decay=0.1)
    params = jnp.asarray(theta, jnp.float32)
    state = tx.init(params)
    m = v = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        updates, state = tx.update(jnp.asarray(g, jnp.float32), state, params)
        params = optax.apply_updates(params, updates)
        theta, m, v = ref.adamw_step(theta, g, m, v, t, 1e-2, b1=0.8, b2=0.95, eps=1e-6, weight_decay=0.1)
        np.testing.assert_allclose(theta, params, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_by_global_norm_matches_optax(max_norm):
    rng = np.random.default_rng(12)
    grads = [rng.normal(size=(3, 5)), rng.normal(size=7)]
    lib, _ = optax.clip_by_global_norm(max_norm).update([jnp.asarray(g) for g in grads], optax.EmptyState())
    for ours, theirs in zip(ref.clip_by_global_norm(grads, max_norm), lib, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert ref.global_norm(ref.clip_by_global_norm(grads, max_norm)) == pytest.approx(
        min(max_norm, ref.global_norm(grads))
    )
    assert ref.clip_by_global_norm([np.zeros(3)], 1.0)[0].tolist() == [0.0, 0.0, 0.0]


# ------------------------------------------------------------------------------------------ metrics


def _random_tokens(rng: np.random.Generator, n: int, vocab: int = 6) -> list[str]:
    return [f"w{i}" for i in rng.integers(0, vocab, n)]


def test_bleu_paper_example_and_brevity_penalty():
    # Papineni et al. §2.1: "the the the the the the the" against "the cat is on the mat": 2/7
    refs = [["the", "cat", "is", "on", "the", "mat"], ["there", "is", "a", "cat", "on", "the", "mat"]]
    assert ref.modified_precision(["the"] * 7, refs, 1) == (2, 7)
    assert ref.closest_ref_length(["a"] * 6, [["b"] * 5, ["c"] * 7]) == 5  # a tie goes to the shorter
    assert ref.brevity_penalty(4, 8) == pytest.approx(math.exp(-1)) and ref.brevity_penalty(9, 8) == 1.0
    assert ref.corpus_bleu(
        [["a", "b", "c", "d"]], [[["a", "b", "c", "d", "e", "f", "g", "h"]]]
    ) == pytest.approx(math.exp(-1))


def test_corpus_bleu_matches_sacrebleu_on_tokenised_text():
    rng = np.random.default_rng(13)
    for _ in range(20):
        n_segments, n_refs = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        hyps = [_random_tokens(rng, int(rng.integers(0, 12)), vocab=4) for _ in range(n_segments)]
        refs = [[_random_tokens(rng, int(rng.integers(1, 12)), vocab=4) for _ in range(n_refs)] for _ in hyps]
        streams = [[" ".join(rs[k]) for rs in refs] for k in range(n_refs)]
        lib = sacrebleu.corpus_bleu(
            [" ".join(h) for h in hyps], streams, tokenize="none", smooth_method="none"
        )
        assert 100 * ref.corpus_bleu(hyps, refs) == pytest.approx(lib.score, abs=1e-9)


def test_rouge_matches_rouge_score():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    rng = np.random.default_rng(14)
    for _ in range(50):
        target, prediction = (
            _random_tokens(rng, int(rng.integers(0, 15))),
            _random_tokens(rng, int(rng.integers(0, 15))),
        )
        lib = scorer.score(" ".join(target), " ".join(prediction))
        ours = {"rouge1": ref.rouge_n(target, prediction, 1), "rouge2": ref.rouge_n(target, prediction, 2)}
        ours["rougeL"] = ref.rouge_l(target, prediction)
        for kind, score in ours.items():
            np.testing.assert_allclose(score, tuple(lib[kind]), atol=1e-12, err_msg=kind)


def test_classification_matches_sklearn():
    rng = np.random.default_rng(15)
    gold, pred = rng.integers(0, 5, 60).tolist(), rng.integers(0, 6, 60).tolist()  # class 5 never gold
    labels = sorted(set(gold) | set(pred))
    lib = skm.precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)[:3]
    np.testing.assert_allclose(np.array(list(ref.per_class_scores(gold, pred).values())).T, lib, atol=1e-12)
    lib_macro = skm.precision_recall_fscore_support(gold, pred, average="macro", zero_division=0)[:3]
    np.testing.assert_allclose(ref.macro_scores(gold, pred), lib_macro, atol=1e-12)
