"""The Transformer family: shapes, masks, padding, cache, prefixes, init, counts -- against the textbook
forms in :mod:`minilm.reference`.

Whole-model numerics are checked against Hugging Face ``transformers`` in ``test_hf.py``.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

import minilm.reference as reference
from minilm.errors import UserError
from minilm.models.heads import SequenceClassifier, SpanExtractor, TokenClassifier, pool
from minilm.models.layers import gelu, layer_norm
from minilm.models.transformer import (
    BERT,
    GPT,
    Block,
    KVCache,
    KVPrefix,
    MultiHeadAttention,
    Transformer,
    TransformerConfig,
    attention,
    count_params,
    flops_per_token,
    init_cache,
    scaled_dot_product_attention,
)

GPT_CFG = TransformerConfig(vocab_size=50, max_len=16, n_layer=2, n_head=2, d_model=16, d_ff=32)
BERT_CFG = TransformerConfig.bert(vocab_size=50, max_len=16, n_layer=2, n_head=2, d_model=16, d_ff=32)


@pytest.fixture(scope="module")
def gpt() -> GPT:
    return GPT(GPT_CFG, rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def bert() -> BERT:
    return BERT(BERT_CFG, rngs=nnx.Rngs(0))


@nnx.jit
def _run(model: nnx.Module, tokens: jax.Array, mask: jax.Array | None) -> jax.Array:
    """One compiled forward per (model type, shapes): eager mode would compile every op separately."""
    return model(tokens, attention_mask=mask)


def _tokens(b: int, t: int, seed: int = 0) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).integers(1, 50, (b, t)), jnp.int32)


# ------------------------------------------------------------------------------------------- config


def test_config_bad_values() -> None:
    with pytest.raises(UserError, match="^d_model=10: must be divisible by n_head=4$"):
        TransformerConfig(d_model=10, n_head=4)
    with pytest.raises(UserError, match="gelu"):
        TransformerConfig(gelu="relu")
    with pytest.raises(UserError, match="causal"):
        GPT(BERT_CFG, rngs=nnx.Rngs(0))


# ------------------------------------------------------------------------------------------- shapes


def test_shapes(gpt: GPT, bert: BERT) -> None:
    tokens = _tokens(3, 7)
    assert _run(gpt, tokens, None).shape == (3, 7, 50)
    assert _run(gpt.backbone, tokens, None).shape == (3, 7, 16)
    assert bert(tokens[:1], token_types=jnp.ones_like(tokens[:1])).shape == (1, 7, 50)
    for pooling in ("last", "cls", "mean"):
        clf = SequenceClassifier(gpt, 4, pooling=pooling, rngs=nnx.Rngs(1))
        assert _run(clf, tokens, None).shape == (3, 4)
        assert clf.backbone is gpt.backbone


def test_token_and_span_heads(bert: BERT) -> None:
    tokens = jnp.concatenate(
        [_tokens(1, 9), jnp.concatenate([_tokens(1, 5), jnp.zeros((1, 4), jnp.int32)], 1)]
    )
    mask = tokens != 0
    tagger = TokenClassifier(bert, 5, rngs=nnx.Rngs(1))
    tags = _run(tagger, tokens, mask)
    assert tags.shape == (2, 9, 5)
    hidden = _run(bert.backbone, tokens, mask)  # the head is a linear map of each hidden state
    expected = hidden @ tagger.head.kernel[...] + tagger.head.bias[...][None, None, :]
    np.testing.assert_allclose(tags, expected, atol=1e-5)
    start, end = _run(SpanExtractor(bert, rngs=nnx.Rngs(2)), tokens, mask)
    assert start.shape == end.shape == (2, 9)
    assert (np.asarray(start)[1, 5:] < -1e30).all() and np.isfinite(np.asarray(end)[1, :5]).all()


def test_bfloat16_compute_keeps_float32_params(gpt: GPT) -> None:
    mixed = GPT(dataclasses.replace(GPT_CFG, dtype="bfloat16"), rngs=nnx.Rngs(0))  # same seed: same weights
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(mixed, nnx.Param)))
    tokens = _tokens(3, 7)
    ours, full = _run(mixed, tokens, None), _run(gpt, tokens, None)
    assert ours.dtype == jnp.float32  # logits come back in float32
    np.testing.assert_allclose(ours, full, atol=0.05 * float(np.abs(full).max()))
    assert not np.array_equal(ours, full)  # it really computed in bfloat16


def test_counts_closed_form(gpt: GPT) -> None:
    v, t, l_, d, f = 50, 16, 2, 16, 32
    per_block = (d * 3 * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d) + 4 * d
    n = v * d + t * d + l_ * per_block + 2 * d
    assert count_params(gpt) == n
    assert flops_per_token(gpt, seq_len=16) == 6 * (n - t * d) + 12 * l_ * 2 * 8 * 16


def test_init_statistics() -> None:
    sizes = dict(vocab_size=50, max_len=16, n_layer=4, n_head=4, d_model=128, d_ff=512)
    block = Block(TransformerConfig(**sizes), rngs=nnx.Rngs(0))
    np.testing.assert_allclose(np.std(block.attn.qkv.kernel[...]), 0.02, rtol=0.02)
    np.testing.assert_allclose(np.std(block.ffn.down.kernel[...]), 0.02 / math.sqrt(8), rtol=0.02)
    np.testing.assert_array_equal(block.attn.qkv.bias[...], 0.0)
    bert_block = Block(TransformerConfig.bert(**sizes), rngs=nnx.Rngs(0))
    np.testing.assert_allclose(np.std(bert_block.ffn.down.kernel[...]), 0.02, rtol=0.02)


def test_determinism() -> None:
    tokens = _tokens(2, 9)
    a = GPT(GPT_CFG, rngs=nnx.Rngs(3))(tokens)
    b = GPT(GPT_CFG, rngs=nnx.Rngs(3))(tokens)
    c = GPT(GPT_CFG, rngs=nnx.Rngs(4))(tokens)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# ----------------------------------------------------------------------------- custom-VJP elementwise


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_matches_jax_and_finite_differences(approximate: bool) -> None:
    x = jnp.linspace(-6.0, 6.0, 41)
    np.testing.assert_allclose(gelu(x, approximate), jax.nn.gelu(x, approximate=approximate), atol=2e-6)
    ours = jax.grad(lambda x: jnp.sum(jnp.sin(gelu(x, approximate))))(x)
    ref = jax.grad(lambda x: jnp.sum(jnp.sin(jax.nn.gelu(x, approximate=approximate))))(x)
    np.testing.assert_allclose(ours, ref, atol=2e-6)
    check_grads(lambda x: gelu(x, approximate), (x[::4],), order=1, modes=["rev"], atol=1e-2)


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_vjp_matches_reference(approximate: bool) -> None:
    x = np.linspace(-6.0, 6.0, 41).astype(np.float32)
    g = np.cos(x)  # a cotangent
    out, vjp = jax.vjp(lambda x: gelu(x, approximate), jnp.asarray(x))
    np.testing.assert_allclose(out, reference.gelu(x, approximate), atol=2e-6)
    np.testing.assert_allclose(vjp(jnp.asarray(g))[0], g * reference.gelu_grad(x, approximate), atol=2e-6)


def test_layer_norm_vjp_matches_reference() -> None:
    rng = np.random.default_rng(0)
    x, g = (rng.normal(size=(5, 8)).astype(np.float32) * 3 + 1 for _ in range(2))
    scale = rng.normal(size=(8,)).astype(np.float32)
    out, vjp = jax.vjp(lambda x, s: layer_norm(x, s, 1e-5), jnp.asarray(x), jnp.asarray(scale))
    np.testing.assert_allclose(out, reference.layer_norm(x, scale, eps=1e-5), atol=1e-5)
    dx, dscale = vjp(jnp.asarray(g))
    ref_dx, ref_dscale, _ = reference.layer_norm_grads(x, scale, g, eps=1e-5)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dscale, ref_dscale, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------- masks


def test_attention_matches_reference() -> None:
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 3, 5, 4)).astype(np.float32) for _ in range(3))  # (B, H, T, Q)
    mask = reference.causal_mask(5)[None] & (rng.random((2, 1, 5)) > 0.3)  # (B, T, S)
    mask[:, :, 0] = True  # every query keeps at least one key
    out = scaled_dot_product_attention(*map(jnp.asarray, (q, k, v)), jnp.asarray(mask))
    np.testing.assert_allclose(out, reference.attention(q, k, v, mask[:, None]), atol=1e-5)


def test_blocked_attention_is_one_softmax_over_all_blocks() -> None:
    """The prompt's keys, a cache (with invalid slots) and a prefix (no mask): one softmax over them all."""
    rng = np.random.default_rng(1)
    b, h, t, q_size, sizes = 2, 3, 4, 5, (4, 6, 2)
    q = rng.normal(size=(b, h, t, q_size)).astype(np.float32)
    keys, values = ([rng.normal(size=(b, h, s, q_size)).astype(np.float32) for s in sizes] for _ in range(2))
    own = np.broadcast_to(reference.causal_mask(t)[None], (b, t, t))
    cache = np.broadcast_to((rng.random((b, 1, sizes[1])) > 0.4), (b, t, sizes[1]))  # (B, T, S_cache)
    masks = [own, cache, None]
    blocks = [
        (jnp.asarray(k), jnp.asarray(v), None if m is None else jnp.asarray(m))
        for k, v, m in zip(keys, values, masks, strict=True)
    ]
    full_mask = np.concatenate([own, cache, np.ones((b, t, sizes[2]), bool)], axis=2)  # (B, T, sum S)
    expected = reference.attention(q, np.concatenate(keys, 2), np.concatenate(values, 2), full_mask[:, None])
    np.testing.assert_allclose(jax.jit(attention)(jnp.asarray(q), blocks), expected, atol=1e-5)


def test_multi_head_attention_matches_reference() -> None:
    """The fused (D, 3D) projection splits into W^Q, W^K, W^V column blocks, each head a slice of them."""
    cfg = TransformerConfig(vocab_size=50, max_len=16, n_layer=1, n_head=2, d_model=8, d_ff=16, bias=False)
    mha = MultiHeadAttention(cfg, rngs=nnx.Rngs(0))
    x = np.random.default_rng(2).normal(size=(2, 5, 8)).astype(np.float32)  # (B, T, D)
    mask = reference.causal_mask(5)
    out, _ = nnx.jit(lambda m, x, mask: m(x, mask))(mha, jnp.asarray(x), jnp.asarray(mask)[None])
    w = np.asarray(mha.qkv.kernel[...])  # (D, 3D)
    w_q, w_k, w_v = w[:, :8], w[:, 8:16], w[:, 16:]
    expected = reference.multi_head_attention(
        x, x, x, w_q, w_k, w_v, np.asarray(mha.out.kernel[...]), 2, mask
    )
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_causal_future_does_not_change_past(gpt: GPT) -> None:
    a = _tokens(2, 10, seed=1)
    b = a.at[:, 6:].set(_tokens(2, 4, seed=2))
    la, lb = _run(gpt, a, None), _run(gpt, b, None)
    np.testing.assert_allclose(la[:, :6], lb[:, :6], atol=1e-6)
    assert not np.allclose(la[:, 6:], lb[:, 6:], atol=1e-3)


def test_bert_is_bidirectional(bert: BERT) -> None:
    a = _tokens(1, 8)
    b = a.at[:, 7].set((a[0, 7] + 1) % 50)
    assert not np.allclose(_run(bert, a, None)[:, 0], _run(bert, b, None)[:, 0], atol=1e-4)


@pytest.mark.parametrize("side", ["left", "right"])
def test_gpt_padding_invariance(gpt: GPT, side: str) -> None:
    short, long_ = _tokens(1, 6, seed=3), _tokens(1, 9, seed=4)
    pad = jnp.zeros((1, 3), jnp.int32)
    padded = jnp.concatenate([pad, short] if side == "left" else [short, pad], axis=1)
    mask = jnp.concatenate([padded != 0, jnp.ones((1, 9), bool)])
    # reference without any mask: `short` followed by other tokens, which a causal model cannot see
    reference = _run(gpt, jnp.concatenate([jnp.concatenate([short, long_[:, :3]], axis=1), long_]), None)
    real = slice(3, 9) if side == "left" else slice(0, 6)
    logits = _run(gpt, jnp.concatenate([padded, long_]), mask)
    np.testing.assert_allclose(logits[0, real], reference[0, :6], atol=1e-5)
    np.testing.assert_allclose(logits[1], reference[1], atol=1e-5)
    assert np.isfinite(np.asarray(logits)).all()  # fully masked pad rows stay finite
    clf = SequenceClassifier(gpt, 3, pooling="last", rngs=nnx.Rngs(2))
    pooled_row = _run(clf, jnp.concatenate([padded, long_]), mask)[0]
    np.testing.assert_allclose(pooled_row, _run(clf, short, None)[0], atol=1e-5)


def test_bert_right_padding_invariance(bert: BERT) -> None:
    short = _tokens(1, 5, seed=5)
    padded = jnp.concatenate([short, jnp.zeros((1, 4), jnp.int32)], axis=1)
    mask = padded != 0
    np.testing.assert_allclose(_run(bert, padded, mask)[0, :5], _run(bert, short, None)[0], atol=1e-5)
    clf = SequenceClassifier(bert, 2, pooling="mean", rngs=nnx.Rngs(2))
    np.testing.assert_allclose(_run(clf, padded, mask), _run(clf, short, None), atol=1e-5)


def test_pooling_reference() -> None:
    hidden = jnp.arange(2 * 4 * 3, dtype=jnp.float32).reshape(2, 4, 3)
    mask = jnp.array([[0, 1, 1, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(pool(hidden, mask, "last"), hidden[jnp.array([0, 1]), jnp.array([2, 3])])
    np.testing.assert_array_equal(pool(hidden, mask, "cls"), hidden[:, 0])
    np.testing.assert_allclose(pool(hidden, mask, "mean")[0], hidden[0, 1:3].mean(0))


# ---------------------------------------------------------------------------------- dropout and cache


@nnx.jit
def _run_dropout(model: GPT, tokens: jax.Array, rngs: nnx.Rngs) -> jax.Array:
    return model(tokens, rngs=rngs)


def test_dropout_only_with_rngs(gpt: GPT) -> None:
    model = GPT(dataclasses.replace(GPT_CFG, dropout=0.3, attn_dropout=0.3), rngs=nnx.Rngs(0))
    tokens = _tokens(2, 8)
    plain = _run(model, tokens, None)
    np.testing.assert_allclose(plain, _run(gpt, tokens, None), atol=1e-6)  # same weights, no dropout
    a = _run_dropout(model, tokens, nnx.Rngs(dropout=1))
    b = _run_dropout(model, tokens, nnx.Rngs(dropout=1))
    np.testing.assert_array_equal(a, b)  # same key, same mask
    assert not np.allclose(a, plain, atol=1e-4)
    assert not np.allclose(a, _run_dropout(model, tokens, nnx.Rngs(dropout=2)), atol=1e-4)


@nnx.jit
def _extend(model: GPT, tokens: jax.Array, cache: KVCache, mask: jax.Array) -> tuple[jax.Array, KVCache]:
    return model.extend(tokens, cache, attention_mask=mask)


def test_cache_prefill_then_steps_equals_full(gpt: GPT) -> None:
    tokens = jnp.concatenate([jnp.zeros((2, 2), jnp.int32), _tokens(2, 8, seed=6)], axis=1)
    mask = jnp.ones((2, 10), bool).at[1, :2].set(False).at[0, :2].set(True)  # row 1 is left-padded
    tokens = tokens.at[0, :2].set(7)
    full = _run(gpt, tokens, mask)
    cache = init_cache(GPT_CFG, batch=2)
    logits, cache = _extend(gpt, tokens[:, :6], cache, mask[:, :6])
    steps = [logits]
    for i in range(6, 10):
        logits, cache = _extend(gpt, tokens[:, i : i + 1], cache, mask[:, i : i + 1])
        steps.append(logits)
    real = np.asarray(mask)
    np.testing.assert_allclose(
        np.asarray(jnp.concatenate(steps, axis=1))[real], np.asarray(full)[real], atol=1e-5
    )
    np.testing.assert_array_equal(cache.next_pos, [10, 8])


# ------------------------------------------------------------------------------------------ prefixes


def _reference_block(x, block: Block, prefix, mask, cfg: TransformerConfig) -> np.ndarray:
    """One bias-free block from minilm.reference, the prefix keys/values concatenated to the tokens' by hand.

    x (B, T, D); prefix (2, P, H, Q); mask (B, T, P + T) over [prefix; tokens] (True = may attend)."""
    b, t, d = x.shape
    h = cfg.n_head

    def ln(y, mod):
        return reference.layer_norm(y, np.asarray(mod.scale[...]), eps=cfg.layer_norm_eps)

    def weight(dense):
        return np.asarray(dense.kernel[...], np.float64)

    def heads(a):  # (B, S, H, Q) -> (B, H, S, Q)
        return a.transpose(0, 2, 1, 3)

    attn, ffn = block.attn, block.ffn
    qkv = (ln(x, block.ln1) if cfg.pre_ln else x) @ weight(attn.qkv)  # (B, T, 3D)
    q, k, v = (qkv[..., i * d : (i + 1) * d].reshape(b, t, h, d // h) for i in range(3))
    pk, pv = (np.broadcast_to(np.asarray(p, np.float64)[None], (b, *p.shape)) for p in prefix)
    k, v = np.concatenate([pk, k], axis=1), np.concatenate([pv, v], axis=1)  # (B, P + T, H, Q)
    y = reference.attention(heads(q), heads(k), heads(v), mask[:, None])  # (B, H, T, Q)
    a = heads(y).reshape(b, t, d) @ weight(attn.out)

    def act(z):
        return reference.gelu(z, approximate=cfg.gelu == "tanh")

    if cfg.pre_ln:  # x + f(LN(x))
        x = x + a
        return x + act(ln(x, block.ln2) @ weight(ffn.up)) @ weight(ffn.down)
    x = ln(x + a, block.ln1)  # LN(x + f(x))
    return ln(x + act(x @ weight(ffn.up)) @ weight(ffn.down), block.ln2)


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_prefix_state_equals_keys_values_concatenated_by_hand(arch: str) -> None:
    """GPT: causal over the tokens, every prefix slot visible.  BERT with a right-padded batch: the
    attention mask gains P ones in front of the padding mask."""
    sizes = dict(vocab_size=50, max_len=16, n_layer=1, n_head=2, d_model=8, d_ff=16, bias=False)
    cfg = TransformerConfig(**sizes) if arch == "gpt" else TransformerConfig.bert(**sizes)
    model = Transformer(cfg, rngs=nnx.Rngs(0))
    prefix = np.random.default_rng(1).normal(size=(2, 3, 2, 4)).astype(np.float32)  # (2, P, H, Q)
    model.blocks[0].attn.set_prefix(jnp.asarray(prefix))
    tokens = _tokens(2, 5)
    valid = np.ones((2, 5), bool)
    if arch == "bert":
        valid[1, 3:] = False  # row 1: 3 real tokens, 2 padding
    visible = np.tril(np.ones((5, 5), bool))[None] if cfg.causal else np.ones((1, 5, 5), bool)
    mask = np.concatenate([np.ones((2, 5, 3), bool), visible & valid[:, None, :]], axis=2)  # (B, T, P + T)
    positions = jnp.asarray(np.maximum(np.cumsum(valid, 1) - 1, 0), jnp.int32)
    x = np.asarray(model._embed(model.tok_emb(tokens), positions, None, None), np.float64)  # (B, T, D)
    expected = _reference_block(x, model.blocks[0], prefix, mask, cfg)
    if cfg.pre_ln:
        expected = reference.layer_norm(expected, np.asarray(model.ln_f.scale[...]), eps=cfg.layer_norm_eps)
    got = model(tokens, attention_mask=jnp.asarray(valid) if arch == "bert" else None)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    model.blocks[0].attn.set_prefix(None)
    assert not np.allclose(model(tokens, attention_mask=jnp.asarray(valid)), got, atol=1e-3)


def test_prefix_is_state_not_a_parameter() -> None:
    model = GPT(GPT_CFG, rngs=nnx.Rngs(0))
    params = nnx.state(model, nnx.Param)
    for block in model.backbone.blocks:
        block.attn.set_prefix(jnp.zeros((2, 3, 2, 8)))
    assert len(jax.tree.leaves(nnx.state(model, KVPrefix))) == GPT_CFG.n_layer
    assert jax.tree.structure(nnx.state(model, nnx.Param)) == jax.tree.structure(params)
    with pytest.raises(ValueError, match=r"expected \(2, P, 2, 8\)"):
        model.backbone.blocks[0].attn.set_prefix(jnp.zeros((2, 3, 16)))
