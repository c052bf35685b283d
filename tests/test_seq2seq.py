"""The encoder-decoder Transformer: cross-attention against the textbook form, teacher forcing's shifted
targets, cached decoding against a full recompute, beam search with one beam against greedy, losses."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import minilm.reference as ref
from minilm.data.batches import prefix_lm_arrays, seq2seq_arrays, source_prompts
from minilm.data.tokenizer import EOS, PAD, SEP, train_bpe
from minilm.errors import UserError
from minilm.models.generate import GenerationConfig, beam_search, generate, left_pad
from minilm.models.seq2seq import CrossAttention, Seq2Seq, Seq2SeqConfig
from minilm.models.transformer import GPT, TransformerConfig
from minilm.objectives.seq2seq import prefix_lm_loss, seq2seq_loss, smoothed_nll, target_nll
from minilm.train import checkpoint

# a large init std gives peaked, input-dependent distributions (a near-uniform model would hide bugs)
CFG = Seq2SeqConfig(
    vocab_size=13, max_source_len=8, max_target_len=10, encoder_layers=2, decoder_layers=2, n_head=2,
    d_model=16, d_ff=32, dropout=0.0, init_std=0.5,
)  # fmt: skip
SOURCES = [[5, 6, 7, 8, 9], [9, 10], [4, 11, 12]]


@nnx.jit
def teacher_forced(model: Seq2Seq, source, target_in, mask) -> jax.Array:
    """(B, N, V) logits of the whole target at once: one compile, not op by op."""
    return model(source, target_in, source_mask=mask)


@pytest.fixture(scope="module")
def model() -> Seq2Seq:
    return Seq2Seq(CFG, rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def greedy(model: Seq2Seq):
    return generate(model, SOURCES, GenerationConfig(max_new_tokens=7))


def test_cross_attention_equals_the_textbook_form() -> None:
    cfg = TransformerConfig(n_head=4, d_model=16, d_ff=32, bias=False, init_std=0.3)
    layer = CrossAttention(cfg, rngs=nnx.Rngs(1))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 16)).astype(np.float32)  # (B, T, D)
    memory = rng.normal(size=(2, 5, 16)).astype(np.float32)  # (B, S, D)
    source_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool)
    got = layer(jnp.asarray(x), layer.memory(jnp.asarray(memory), jnp.asarray(source_mask)))
    kv = np.asarray(layer.kv.kernel[...])  # (D, 2D): keys first
    expected = ref.cross_attention(
        x, memory, np.asarray(layer.q.kernel[...]), kv[:, :16], kv[:, 16:], np.asarray(layer.out.kernel[...]),
        4, source_mask,
    )  # fmt: skip
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # the padded source positions are not seen: changing them changes nothing
    memory[1, 2:] = 100.0
    moved = layer(jnp.asarray(x), layer.memory(jnp.asarray(memory), jnp.asarray(source_mask)))
    np.testing.assert_allclose(moved, got, rtol=1e-6, atol=1e-6)


def test_cached_decoding_equals_a_full_recompute(model: Seq2Seq, greedy) -> None:
    """Each step's logits (cache + memory computed once) equal teacher forcing's on the generated prefix."""
    source, mask = left_pad(SOURCES)
    target_in = np.concatenate([np.full((3, 1), CFG.start_id, np.int32), greedy.tokens[:, :-1]], axis=1)
    full = teacher_forced(model, source, target_in, mask)  # (B, N, V)
    np.testing.assert_allclose(greedy.logits, full, rtol=1e-4, atol=1e-4)
    assert (greedy.tokens == greedy.logits.argmax(-1)).all()
    assert len({tuple(row) for row in greedy.tokens}) > 1  # the source matters


def test_left_padding_does_not_change_a_row(model: Seq2Seq, greedy) -> None:
    alone = generate(model, [SOURCES[1]], GenerationConfig(max_new_tokens=7))
    np.testing.assert_array_equal(alone.tokens[0], greedy.tokens[1])
    np.testing.assert_allclose(alone.logits[0], greedy.logits[1], rtol=1e-4, atol=1e-4)


def test_one_beam_equals_greedy(model: Seq2Seq, greedy) -> None:
    """Without stop tokens one beam follows the argmax (with them it also keeps a hypothesis that stopped
    on the runner-up token, which may then win: beam search, not greedy)."""
    beam = beam_search(model, *left_pad(SOURCES), GenerationConfig(max_new_tokens=7))
    np.testing.assert_array_equal(beam.tokens, greedy.tokens)
    np.testing.assert_array_equal(beam.lengths, greedy.lengths)
    np.testing.assert_allclose(beam.scores, greedy.scores / 7, rtol=1e-5)  # length_penalty 1: / length


def test_beam_scores_are_the_teacher_forced_log_probabilities(model: Seq2Seq, greedy) -> None:
    """The decoding state (cache and memory) follows its beam when beams are reordered."""
    beams = generate(model, SOURCES, GenerationConfig(max_new_tokens=7, num_beams=4, length_penalty=0.0))
    assert (beams.tokens != greedy.tokens).any()  # the beams took other paths than greedy
    source, mask = left_pad(SOURCES)
    target_in = np.concatenate([np.full((3, 1), CFG.start_id, np.int32), beams.tokens[:, :-1]], axis=1)
    log_p = jax.nn.log_softmax(teacher_forced(model, source, target_in, mask))
    picked = np.take_along_axis(np.asarray(log_p), beams.tokens[:, :, None], axis=2)[..., 0].sum(1)
    np.testing.assert_allclose(beams.scores, picked, rtol=1e-4)


def test_decoding_limits_are_user_errors(model: Seq2Seq) -> None:
    with pytest.raises(UserError, match="max_source_len 8"):
        generate(model, [list(range(4, 13))], GenerationConfig(max_new_tokens=2))
    with pytest.raises(UserError, match="max_target_len 10"):
        generate(model, SOURCES, GenerationConfig(max_new_tokens=10))
    with pytest.raises(UserError, match="decoder-only"):
        generate(model, SOURCES, GenerationConfig(max_new_tokens=2, use_cache=False))


def test_shared_embedding_is_one_matrix(model: Seq2Seq) -> None:
    assert model.decoder.tok_emb is model.encoder.tok_emb
    saved = checkpoint.flatten(nnx.state(model, nnx.Param))  # what a saved model holds
    assert len([name for name in saved if "tok_emb" in name]) == 1


# --- the arrays: decoder targets are the decoder inputs shifted by one ---------------------------------

PAIRS = [("a small dog runs .", "ein kleiner hund rennt ."), ("two men", "zwei männer sitzen hier")]


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe([s for pair in PAIRS for s in pair] * 5, vocab_size=300)


def test_seq2seq_targets_are_the_inputs_shifted_by_one(tokenizer) -> None:
    arrays = seq2seq_arrays(
        tokenizer, [s for s, _ in PAIRS], [t for _, t in PAIRS], max_source_len=12, max_target_len=16
    )
    for i, (source, target) in enumerate(PAIRS):
        n = int(arrays["target_mask"][i].sum())
        target_in, target_out = arrays["target_in"][i, :n], arrays["target_out"][i, :n]
        assert target_in[0] == EOS and target_out[-1] == EOS
        np.testing.assert_array_equal(target_in[1:], target_out[:-1])
        assert tokenizer.decode(target_out[:-1].tolist()).strip() == target
        s = int(arrays["source_mask"][i].sum())
        assert (
            arrays["source"][i, s - 1] == EOS
            and tokenizer.decode(arrays["source"][i, : s - 1].tolist()).strip() == source
        )
        assert (arrays["target_in"][i, n:] == PAD).all() and (arrays["target_out"][i, n:] == PAD).all()
    cut = seq2seq_arrays(tokenizer, ["x"], [PAIRS[0][1]], max_source_len=4, max_target_len=3)
    assert cut["target_mask"].sum() == 3 and cut["target_out"][0, -1] == EOS  # 2 target tokens + <eos>


def test_decoder_only_scores_only_the_target(tokenizer) -> None:
    sources, targets = [s for s, _ in PAIRS], [t for _, t in PAIRS]
    arrays = prefix_lm_arrays(tokenizer, sources, targets, max_source_len=12, max_target_len=16)
    prompts = source_prompts(tokenizer, sources, max_source_len=12, end=SEP)
    assert arrays["tokens"].shape == (2, 27)
    for i, target in enumerate(targets):
        n = int(arrays["attention_mask"][i].sum())
        np.testing.assert_array_equal(
            arrays["tokens"][i, 1:n], arrays["targets"][i, : n - 1]
        )  # shifted by one
        assert (
            arrays["tokens"][i, : len(prompts[i])].tolist() == prompts[i]
        )  # the prompt generation starts from
        scored = arrays["targets"][i][arrays["loss_mask"][i] == 1]
        assert scored[-1] == EOS and tokenizer.decode(scored[:-1].tolist()).strip() == target


# --- losses --------------------------------------------------------------------------------------------


def test_label_smoothing_equals_optax() -> None:
    rng = np.random.default_rng(0)
    logits, targets = rng.normal(size=(3, 4, 7)).astype(np.float32), rng.integers(0, 7, (3, 4))
    smooth = optax.smooth_labels(jax.nn.one_hot(targets, 7), 0.1)
    np.testing.assert_allclose(
        smoothed_nll(logits, targets, 0.1), optax.softmax_cross_entropy(logits, smooth), rtol=1e-5
    )


def test_losses_average_the_scored_tokens(tokenizer) -> None:
    model = Seq2Seq(dataclasses.replace(CFG, vocab_size=300), rngs=nnx.Rngs(0))
    arrays = seq2seq_arrays(tokenizer, ["a", "b c"], ["d", "e f g"], max_source_len=6, max_target_len=8)
    loss, _ = nnx.jit(seq2seq_loss)(model, {k: jnp.asarray(v) for k, v in arrays.items()}, None)
    total, count = target_nll("encoder-decoder", model, arrays, batch_size=3)  # one filler row
    assert count == arrays["target_mask"].sum()
    np.testing.assert_allclose(loss, total / count, rtol=1e-5)
    gpt = GPT(
        TransformerConfig(vocab_size=300, max_len=16, n_layer=1, n_head=2, d_model=8, d_ff=16),
        rngs=nnx.Rngs(0),
    )
    lm = prefix_lm_arrays(tokenizer, ["a"], ["d e"], max_source_len=6, max_target_len=6)
    logits = nnx.jit(lambda m, x, mask: m(x, attention_mask=mask))(gpt, lm["tokens"], lm["attention_mask"])
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(lm["targets"]))
    expected = (nll * lm["loss_mask"]).sum() / lm["loss_mask"].sum()
    np.testing.assert_allclose(
        nnx.jit(prefix_lm_loss)(gpt, {k: jnp.asarray(v) for k, v in lm.items()}, None)[0], expected, rtol=1e-5
    )
