"""The ELMo biLM: direction symmetry, no information leak across directions, char CNN, scalar mix."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.models.elmo import (
    BOW,
    EOW,
    BiLM,
    BiLMConfig,
    CharCNN,
    Elmo,
    MixParam,
    ScalarMix,
    bilm_nll,
    char_ids,
    elmo_layers,
    reverse_padded,
)

V = 11
TINY = BiLMConfig(vocab_size=V, emb_dim=6, hidden=8, proj_dim=6, layers=2, residual=True, cell_clip=3.0)


def _batch(lengths: list[int], width: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random tokens with random garbage in the padding."""
    tokens = np.random.default_rng(seed).integers(0, V, size=(len(lengths), width)).astype(np.int32)
    return {"tokens": tokens, "lengths": np.array(lengths, dtype=np.int32)}


def test_char_ids() -> None:
    ids = char_ids(["ab", "é", "abcdefgh"], max_chars=6)
    np.testing.assert_array_equal(ids[0], [BOW, ord("a") + 1, ord("b") + 1, EOW, 0, 0])
    np.testing.assert_array_equal(ids[1], [BOW, 0xC3 + 1, 0xA9 + 1, EOW, 0, 0])  # UTF-8 bytes of é
    np.testing.assert_array_equal(ids[2], [BOW, *(b + 1 for b in b"abcd"), EOW])  # cut to max_chars - 2


def test_reverse_padded() -> None:
    x = jnp.array([[1, 2, 3, 4], [5, 6, 0, 0], [7, 0, 0, 0]])
    np.testing.assert_array_equal(
        reverse_padded(x, jnp.array([4, 2, 1])), [[4, 3, 2, 1], [6, 5, 0, 0], [7, 0, 0, 0]]
    )


def test_backward_lm_equals_forward_lm_on_reversed_rows() -> None:
    """Give the forward LSTMs the backward LSTMs' weights: the backward NLL of each (padded) row must
    be the forward NLL of the row reversed within its length."""
    model = BiLM(TINY, rngs=nnx.Rngs(0))
    nnx.update(model.forward_lm, nnx.state(model.backward_lm))
    batch = _batch([7, 5, 3], 7)
    reversed_batch = dict(
        batch, tokens=np.asarray(reverse_padded(jnp.asarray(batch["tokens"]), batch["lengths"]))
    )
    nll = jax.jit(bilm_nll)
    sum_fwd, sum_bwd, count = nll(model, batch)
    rev_fwd, rev_bwd, rev_count = nll(model, reversed_batch)
    assert int(count) == int(rev_count) == 6 + 4 + 2
    np.testing.assert_allclose(sum_bwd, rev_fwd, rtol=1e-6)
    np.testing.assert_allclose(sum_fwd, rev_bwd, rtol=1e-6)
    assert abs(float(sum_fwd) - float(sum_bwd)) > 1e-3  # the two directions do differ on one row order


def test_directions_only_see_their_side_and_layer0_is_context_free() -> None:
    """Change the token at position 3: the forward halves before it, the backward halves after it and
    layer 0 elsewhere must not move; the rest must."""
    model = BiLM(TINY, rngs=nnx.Rngs(1))
    batch = _batch([7], 7)
    changed = dict(batch, tokens=batch["tokens"].copy())
    changed["tokens"][0, 3] = (changed["tokens"][0, 3] + 1) % V
    layers = jax.jit(elmo_layers)
    a, b = np.asarray(layers(model, batch))[:, 0], np.asarray(layers(model, changed))[:, 0]  # (L+1, T, 2P)
    p = TINY.out_dim
    np.testing.assert_array_equal(a[0, :3], b[0, :3])
    np.testing.assert_array_equal(a[0, 4:], b[0, 4:])
    np.testing.assert_array_equal(a[0, :, :p], a[0, :, p:])  # layer 0 = [x; x]
    np.testing.assert_array_equal(a[1:, :3, :p], b[1:, :3, :p])  # forward: positions before 3
    np.testing.assert_array_equal(a[1:, 4:, p:], b[1:, 4:, p:])  # backward: positions after 3
    assert (np.abs(a[1:, 3:, :p] - b[1:, 3:, :p]).max(axis=-1) > 1e-6).all()  # every later position moves
    assert (np.abs(a[1:, :4, p:] - b[1:, :4, p:]).max(axis=-1) > 1e-6).all()


def test_char_cnn_matches_a_loop_reference() -> None:
    cfg = BiLMConfig(vocab_size=V, emb_dim=3, char_dim=4, max_chars=7, filters=((1, 2), (3, 5)), highway=1)
    cnn = CharCNN(cfg, rngs=nnx.Rngs(0))
    chars = char_ids(["hello", "a", "bank"], cfg.max_chars)
    got = np.asarray(cnn(jnp.asarray(chars)))

    e_table = np.asarray(cnn.chars[...])
    hw_w, hw_b = np.asarray(cnn.highway[0].w[...]), np.asarray(cnn.highway[0].b[...])
    for n, word in enumerate(chars):
        e = e_table[word]  # (C, c)
        features = []
        for (w, count), kernel, bias in zip(cfg.filters, cnn.conv_w, cnn.conv_b, strict=True):
            kernel = np.asarray(kernel[...]).reshape(w, cfg.char_dim, count)
            conv = [
                sum(e[p + j] @ kernel[j] for j in range(w)) + np.asarray(bias[...])
                for p in range(len(e) - w + 1)
            ]
            features.append(np.maximum(np.max(conv, axis=0), 0.0))
        x = np.concatenate(features)
        f = len(x)
        z = x @ hw_w + hw_b
        gate = 1 / (1 + np.exp(-z[f:]))
        x = gate * x + (1 - gate) * np.maximum(z[:f], 0.0)
        want = x @ np.asarray(cnn.proj_w[...]) + np.asarray(cnn.proj_b[...])
        np.testing.assert_allclose(got[n], want, rtol=1e-5, atol=1e-6)


def test_scalar_mix_with_zero_weights_is_gamma_times_average() -> None:
    layers = np.random.default_rng(0).normal(size=(3, 2, 4, 5)).astype(np.float32)
    mix = ScalarMix(3)
    mix.gamma[...] = jnp.array(2.5)
    at_init = np.asarray(jax.jit(lambda m: m(layers))(mix))
    mix.w[...] = jnp.array([0.0, np.log(2.0), 0.0])  # softmax -> 1/4, 1/2, 1/4
    weighted = np.asarray(jax.jit(lambda m: m(layers))(mix))
    np.testing.assert_allclose(at_init, 2.5 * layers.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(
        weighted, 2.5 * (0.25 * layers[0] + 0.5 * layers[1] + 0.25 * layers[2]), rtol=1e-5
    )


def test_feature_based_transfer_trains_only_the_mix() -> None:
    elmo = Elmo(BiLM(TINY, rngs=nnx.Rngs(0)))
    mix_leaves = jax.tree_util.tree_leaves(nnx.state(elmo, MixParam))
    all_leaves = jax.tree_util.tree_leaves(nnx.state(elmo, nnx.Param))
    assert sorted(x.shape for x in mix_leaves) == [(), (TINY.layers + 1,)]
    assert len(all_leaves) > len(mix_leaves)
    out = jax.jit(lambda m, b: m(b))(elmo, _batch([4, 2], 4))
    assert out.shape == (2, 4, 2 * TINY.out_dim)


def test_token_dropout_only_with_rngs_and_deterministic_in_the_key() -> None:
    model = BiLM(BiLMConfig(**{**TINY.__dict__, "dropout": 0.5}), rngs=nnx.Rngs(0))
    batch = _batch([5, 5], 5)
    embed = jax.jit(lambda m, b, key: m.embed(b, nnx.Rngs(dropout=key)))
    a, again, other = (np.asarray(embed(model, batch, jax.random.key(k))) for k in (1, 1, 2))
    clean = np.asarray(model.embed(batch))
    np.testing.assert_array_equal(a, again)
    assert not np.array_equal(a, other)
    dropped = a == 0
    assert 0.3 < dropped.mean() < 0.7
    np.testing.assert_allclose(a[~dropped], 2.0 * clean[~dropped], rtol=1e-6)  # kept units scaled by 1/(1-p)
