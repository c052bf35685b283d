"""Generation: cached vs uncached decoding, left padding, stop tokens, sampling filters, exact beam search."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from minilm.errors import UserError
from minilm.models.generate import GenerationConfig, generate, left_pad, process_logits
from minilm.models.transformer import GPT, TransformerConfig

CFG = TransformerConfig(vocab_size=12, max_len=24, n_layer=2, n_head=2, d_model=16, d_ff=32, init_std=0.5)
PROMPTS = [[3, 4, 5, 6, 7], [8, 9], [1, 2, 3]]


@pytest.fixture(scope="module")
def model() -> GPT:
    # a large init std gives peaked, input-dependent distributions (a near-uniform model would hide bugs)
    return GPT(CFG, rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def greedy(model: GPT):
    return generate(model, PROMPTS, GenerationConfig(max_new_tokens=8))


@nnx.jit
def _forward(model: GPT, tokens: jax.Array) -> jax.Array:
    return model(tokens)


def _log_probs(model: GPT, rows: list[list[int]]) -> np.ndarray:
    """log p(next token | row) for equal-length rows, (B, V), from a plain full forward pass."""
    logits = _forward(model, jnp.asarray(rows, jnp.int32))[:, -1]
    return np.asarray(jax.nn.log_softmax(logits, axis=-1), np.float64)


def test_cache_and_no_cache_agree(model: GPT, greedy) -> None:
    uncached = generate(model, PROMPTS, GenerationConfig(max_new_tokens=8, use_cache=False))
    np.testing.assert_array_equal(greedy.tokens, uncached.tokens)
    np.testing.assert_allclose(greedy.logits, uncached.logits, atol=1e-5)
    assert len({tuple(r) for r in greedy.tokens}) > 1  # the rows really differ


def test_prefix_state_decodes_the_same_with_and_without_cache(greedy) -> None:
    """Prefix keys/values held by the attention layers reach the cached decoder unchanged: it agrees with
    re-running the whole sequence (the plain forward pass, checked by hand in test_transformer.py)."""
    model = GPT(CFG, rngs=nnx.Rngs(0))  # the fixture's weights, plus a prefix of 3 slots per layer
    rng = np.random.default_rng(0)
    for block in model.backbone.blocks:
        block.attn.set_prefix(jnp.asarray(rng.normal(size=(2, 3, 2, 8)), jnp.float32))
    cfg = GenerationConfig(max_new_tokens=8)
    cached = generate(model, PROMPTS, cfg)
    uncached = generate(model, PROMPTS, GenerationConfig(max_new_tokens=8, use_cache=False))
    np.testing.assert_array_equal(cached.tokens, uncached.tokens)
    np.testing.assert_allclose(cached.logits, uncached.logits, atol=1e-5)
    assert not np.allclose(cached.logits, greedy.logits, atol=1e-2)  # the prefix changes the predictions


def test_greedy_matches_full_forward_per_prompt(model: GPT, greedy) -> None:
    """Left padding in a batch changes nothing: each row is the argmax continuation of its prompt alone,
    and its logits equal a plain forward pass over prompt + generated tokens (up to a constant)."""
    for row, prompt in enumerate(PROMPTS):
        seq = list(prompt) + [int(t) for t in greedy.tokens[row]]
        logits = np.asarray(_forward(model, jnp.asarray([seq], jnp.int32)))[0, len(prompt) - 1 : -1]  # (8, V)
        np.testing.assert_array_equal(logits.argmax(-1), greedy.tokens[row])
        ours = greedy.logits[row]
        np.testing.assert_allclose(
            ours - ours.max(-1, keepdims=True), logits - logits.max(-1, keepdims=True), atol=1e-5, rtol=1e-5
        )
    np.testing.assert_array_equal(greedy.lengths, 8)


def test_stop_tokens(model: GPT, greedy) -> None:
    stop = int(greedy.tokens[0, 2])
    out = generate(model, PROMPTS, GenerationConfig(max_new_tokens=8, stop_tokens=(stop,), pad_id=0))
    for row in range(len(PROMPTS)):
        hits = np.flatnonzero(greedy.tokens[row] == stop)
        end = hits[0] + 1 if hits.size else 8
        assert out.lengths[row] == end
        np.testing.assert_array_equal(out.tokens[row, :end], greedy.tokens[row, :end])
        np.testing.assert_array_equal(out.tokens[row, end:], 0)


def test_sampling_filters_reduce_to_greedy(model: GPT, greedy) -> None:
    top1 = GenerationConfig(max_new_tokens=8, temperature=0.7, top_k=1)  # top-1 sampling is argmax
    np.testing.assert_array_equal(generate(model, PROMPTS, top1, key=jax.random.key(0)).tokens, greedy.tokens)
    hot = GenerationConfig(max_new_tokens=8, temperature=2.0)
    a, b = (generate(model, PROMPTS, hot, key=jax.random.key(s)).tokens for s in (1, 1))
    np.testing.assert_array_equal(a, b)  # same key, same samples
    assert not np.array_equal(a, generate(model, PROMPTS, hot, key=jax.random.key(2)).tokens)


def test_process_logits_against_reference() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 10)).astype(np.float32) * 2
    out = np.asarray(process_logits(jnp.asarray(logits), 0.5, 3, 1.0))
    for row, kept in zip(logits, out > -1e29, strict=True):
        np.testing.assert_array_equal(np.flatnonzero(kept), np.sort(np.argsort(row)[-3:]))
    out = np.asarray(process_logits(jnp.asarray(logits), 1.0, 0, 0.6))
    for row, kept in zip(logits, out > -1e29, strict=True):  # smallest top set with mass >= 0.6
        order = np.argsort(row)[::-1]
        probs = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
        n_keep = int(np.searchsorted(np.cumsum(probs[order]), 0.6) + 1)
        np.testing.assert_array_equal(np.flatnonzero(kept), np.sort(order[:n_keep]))
    np.testing.assert_allclose(out[out > -1e29], logits[out > -1e29])


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_search_is_exact_with_enough_beams(model: GPT, alpha: float) -> None:
    """With K = V beams and 2 new tokens, beam search must find the best sequence by enumeration."""
    v, stop, prompt = CFG.vocab_size, 5, [3, 4, 1]
    first = _log_probs(model, [prompt])[0]
    second = _log_probs(model, [prompt + [a] for a in range(v)])  # (V, V)
    candidates = {(stop,): first[stop]}  # a hypothesis ends at the stop token...
    for a, b in itertools.product(range(v), range(v)):
        if a != stop:  # ... or after 2 tokens
            candidates[(a, b)] = (first[a] + second[a, b]) / 2**alpha
    best = max(candidates, key=candidates.get)
    cfg = GenerationConfig(max_new_tokens=2, num_beams=v, stop_tokens=(stop,), length_penalty=alpha)
    out = generate(model, [prompt], cfg)
    assert tuple(out.tokens[0, : out.lengths[0]]) == best
    np.testing.assert_allclose(out.scores[0], candidates[best], atol=1e-4)


def test_left_pad_and_user_errors(model: GPT) -> None:
    tokens, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    np.testing.assert_array_equal(tokens, [[5, 6, 7], [0, 0, 8]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [0, 0, 1]])
    with pytest.raises(UserError, match="exceeds the model's max_len"):
        generate(model, PROMPTS, GenerationConfig(max_new_tokens=20))
    with pytest.raises(UserError, match="random key"):
        generate(model, PROMPTS, GenerationConfig(max_new_tokens=4, temperature=1.0))
    with pytest.raises(UserError, match="top_p"):
        GenerationConfig(top_p=0.0)
    with pytest.raises(UserError, match="at least one token"):
        left_pad([[1], []])
