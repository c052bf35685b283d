"""The losses and update rules of word2vec, fastText and GloVe against the textbook forms of
:mod:`minilm.reference` (the gradients there are checked by finite differences), jax.grad and finite
differences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import minilm.reference as reference
from minilm.vectors import fasttext, glove, word2vec
from minilm.vectors.devices import one_device_call
from minilm.vectors.word2vec import Batch, Params


@pytest.fixture(scope="module")
def ns_case():
    """2 inputs share each row's 5 outputs: the word to predict (label 1, weight 1), then 4 noise words
    whose terms weigh w (one w per input, as K' draws standing for K noise words)."""
    rng = np.random.default_rng(0)
    h = rng.normal(size=(3, 2, 4)).astype(np.float32)  # (B, M, D)
    u = rng.normal(size=(3, 5, 4)).astype(np.float32)  # (B, J, D)
    labels = np.tile(np.array([1, 0, 0, 0, 0], np.float32), (3, 2, 1))
    noise_weight = rng.uniform(0, 2, size=(3, 2, 1))  # (B, M, 1)
    weights = np.concatenate([np.ones((3, 2, 1)), np.tile(noise_weight, 4)], axis=2).astype(np.float32)
    return h, u, labels, weights


def test_ns_loss_and_grads_match_reference(ns_case):
    h, u, labels, weights = ns_case
    loss = sum(
        reference.sgns_loss(h[b, m], u[b, 0], u[b, 1:], weights[b, m, 1]) for b in range(3) for m in range(2)
    )
    np.testing.assert_allclose(float(word2vec.ns_loss(*map(jnp.asarray, ns_case))), loss, rtol=1e-5)
    dh, du = word2vec.ns_grads(*map(jnp.asarray, ns_case))
    exp_dh, exp_du = np.zeros(h.shape), np.zeros(u.shape)
    for b in range(3):
        for m in range(2):
            exp_dh[b, m], d_out, d_noise = reference.sgns_grads(h[b, m], u[b, 0], u[b, 1:], weights[b, m, 1])
            exp_du[b] += np.concatenate([d_out[None], d_noise])  # the M inputs' gradients add up
    np.testing.assert_allclose(dh, exp_dh, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(du, exp_du, rtol=1e-5, atol=1e-6)


def test_ns_grads_equal_autodiff_and_finite_differences(ns_case):
    h, u, labels, weights = map(jnp.asarray, ns_case)
    dh, du = word2vec.ns_grads(h, u, labels, weights)
    ah, au = jax.grad(word2vec.ns_loss, argnums=(0, 1))(h, u, labels, weights)
    np.testing.assert_allclose(dh, ah, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(du, au, rtol=1e-5, atol=1e-6)
    loss = jax.jit(lambda a, b: word2vec.ns_loss(a, b, labels, weights))
    check_grads(loss, (h, u), order=1, modes=["rev"], eps=1e-2)


def _word2vec_case(rng, vocab=7, dim=4, batch=3, radius=2, noise=3):
    params = Params(
        jnp.asarray(rng.normal(size=(vocab, dim)), jnp.float32),
        jnp.asarray(rng.normal(size=(vocab, dim)), jnp.float32),
    )
    contexts = rng.integers(0, vocab, size=(batch, 2 * radius)).astype(np.int32)
    contexts[0, 0] = contexts[1, 3] = -1  # slots outside the sentence
    centres = np.array([1, 1, 4], np.int32)  # a repeated centre: its updates add up
    negatives = rng.integers(0, vocab, size=(batch, noise)).astype(np.int32)
    negatives[2, 0] = centres[2]  # a noise word equal to the centre: skipped
    return params, Batch(centres, contexts, negatives, np.float32(0.1))


def test_skipgram_step_is_sgd_on_the_window_loss():
    """One step = W - lr * grad of word2vec's summed loss over the full matrices (duplicates add up):
    each context word predicts the centre against the window's noise words (those equal to the centre
    skipped), one reference SGNS loss per (context, centre) pair."""
    params, b = _word2vec_case(np.random.default_rng(1))
    w_in, w_out = (np.asarray(p, np.float64) for p in params)
    g_in, g_out = np.zeros_like(w_in), np.zeros_like(w_out)
    for centre, contexts, negatives in zip(b.centres, b.contexts, b.negatives, strict=True):
        noise = negatives[negatives != centre]
        for c in contexts[contexts >= 0]:
            d_in, d_out, d_noise = reference.sgns_grads(w_in[c], w_out[centre], w_out[noise])
            g_in[c] += d_in
            g_out[centre] += d_out
            np.add.at(g_out, noise, d_noise)
    new = jax.jit(word2vec.skipgram_step)(params, jax.tree.map(jnp.asarray, b))
    np.testing.assert_allclose(new.w_in, params.w_in - b.lr * g_in, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new.w_out, params.w_out - b.lr * g_out, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("groups", [1, 2])
def test_cbow_step_follows_word2vec_c(groups):
    """h = mean of the context vectors; output rows get -lr * dL/du; each context row gets all of
    -lr * dL/dh, C times its own gradient (word2vec.c / gensim cbow_mean=1).  Each group of B/G
    centres shares K' noise words, each weighing K/K'; a noise word equal to the centre is skipped; a
    centre without context trains nothing."""
    params, b = _word2vec_case(np.random.default_rng(2), batch=4)
    contexts = np.asarray(b.contexts).copy()
    contexts[3] = -1  # no context word
    # K' = 4 shared draws per group; the first equal to centres 0 and 1, the second's first to centre 2
    noise = np.array([[1, 5, 6, 5], [4, 2, 0, 6]], np.int32)[:groups]
    weight = np.float32(5 / 4)  # K = 5
    centres = np.array([1, 1, 4, 2], np.int32)  # a repeated centre: its updates add up
    b = b._replace(centres=centres, contexts=contexts, negatives=noise)
    padded = np.pad(contexts, ((0, 0), (0, 2)), constant_values=-1)  # 2 slots past the window: unused
    sb = word2vec.SharedNoiseBatch(b._replace(contexts=padded), weight, np.int32(contexts.shape[1]))
    w_in, w_out = (np.asarray(p, np.float64) for p in params)
    exp_in, exp_out = w_in.copy(), w_out.copy()
    for i in range(3):
        own = noise[i // (4 // groups)]
        ctx, kept = contexts[i][contexts[i] >= 0], own[own != centres[i]]
        d_ctx, d_out, d_noise = reference.cbow_grads(w_in[ctx], w_out[centres[i]], w_out[kept], weight)
        np.add.at(exp_in, ctx, -b.lr * len(ctx) * d_ctx)
        exp_out[centres[i]] -= b.lr * d_out
        np.add.at(exp_out, kept, -b.lr * d_noise)
    new = jax.jit(word2vec.cbow_step)(params, jax.tree.map(jnp.asarray, sb))
    np.testing.assert_allclose(new.w_in, exp_in, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new.w_out, exp_out, rtol=1e-4, atol=1e-5)


def test_cbow_shared_noise_batches():
    """CBOW's stacks: K' draws per group of centres (here: per sub-batch, then per pair of centres) from
    the noise distribution, weight K/K', the contexts padded to 2 * window slots, of which the first 2r
    are in use."""
    from minilm.vectors.vocab import AliasSampler
    from minilm.vectors.windows import Chunk, WindowGroup

    group = WindowGroup(1, np.arange(10, dtype=np.int32), np.full((10, 2), 3, np.int32))
    sampler = AliasSampler.build(np.array([0.0, 0.5, 0.5]))
    for noise_group, groups in ((0, 1), (2, 2)):
        settings = word2vec.Settings(batch=4, steps_per_call=2, negative=5, noise_group=noise_group)
        chunk = Chunk(10, 10, [group])
        stacks = list(word2vec.calls_for_chunk(chunk, sampler, settings, np.random.default_rng(0), (0, 1), 8))
        assert len(stacks) == 2  # 10 centres padded to 2 calls of 2 x 4
        assert {sb.words.negatives.shape for sb in stacks} == {(2, groups, 8)}
    for sb in stacks:
        assert sb.words.centres.shape == (2, 4)
        assert set(np.unique(sb.words.negatives)) <= {1, 2}
        np.testing.assert_allclose(sb.noise_weight, [5 / 8, 5 / 8])
        np.testing.assert_array_equal(sb.slots, [2, 2])
        assert sb.words.contexts.shape == (2, 4, 10) and (sb.words.contexts[:, :, 2:] == -1).all()
    assert (stacks[0].words.contexts[:, :, :2] == 3).all()


def test_learning_rate_decays_linearly_to_alpha_1e_4():
    lr = word2vec.learning_rate(0.025, np.array([0.0, 0.5, 1.0, 1.2]))
    np.testing.assert_allclose(lr, [0.025, 0.0125, 0.025e-4, 0.025e-4], rtol=1e-6)


def test_fasttext_input_vector_and_step():
    """h = (word row + n-gram rows) / (1 + n); every one of those rows gets the whole -lr * dL/dh."""
    rng = np.random.default_rng(3)
    params, words = _word2vec_case(rng)
    z = rng.normal(size=(11, 4)).astype(np.float32)
    ft = fasttext.FastTextParams(params.w_in, jnp.asarray(z), params.w_out)
    ngram_rows = np.array(
        [2, 5, 5, 9, 0, 0], np.int32
    )  # centre slot 0: rows 2, 5; slot 1: 5, 9; slot 2: none
    ngram_slot = np.array([0, 0, 1, 1, 3, 3], np.int32)  # 3 = padding
    batch = fasttext.FastTextBatch(
        words, np.float32(5 / 3), ngram_rows, ngram_slot, np.array([2, 2, 0], np.float32)
    )
    batch = jax.tree.map(jnp.asarray, batch)
    w_in = np.asarray(params.w_in)
    expected_h = np.stack([(w_in[1] + z[2] + z[5]) / 3, (w_in[1] + z[5] + z[9]) / 3, w_in[4]])
    np.testing.assert_allclose(fasttext.input_vectors(ft.w_in, ft.w_ngrams, batch), expected_h, rtol=1e-5)
    w_out, step = np.asarray(params.w_out), np.zeros_like(expected_h)
    for slot in range(3):  # dL/dh: h predicts each context word against the noise words other than it
        negatives = np.asarray(words.negatives[slot])
        for c in np.asarray(words.contexts[slot]):
            if c >= 0:
                d_h, _, _ = reference.sgns_grads(
                    expected_h[slot], w_out[c], w_out[negatives[negatives != c]], 5 / 3
                )
                step[slot] -= words.lr * d_h
    new = jax.jit(fasttext.skipgram_step)(ft, batch)
    exp_z = z.copy()
    for row, slot in [(2, 0), (5, 0), (5, 1), (9, 1)]:
        exp_z[row] += step[slot]
    np.testing.assert_allclose(new.w_ngrams, exp_z, rtol=1e-5, atol=1e-6)
    exp_in = w_in.copy()
    for slot, centre in enumerate(np.asarray(words.centres)):
        exp_in[centre] += step[slot]
    np.testing.assert_allclose(new.w_in, exp_in, rtol=1e-5, atol=1e-6)


def test_fasttext_word_vectors_average_the_word_and_ngram_rows():
    """h(w) = (W_in[w] + sum of its n-gram rows) / (1 + n), summed a chunk of n-gram rows at a time
    (chunks of 3 cut words apart; a word without n-grams keeps its own row)."""
    rng = np.random.default_rng(6)
    w_in, z = rng.normal(size=(4, 5)).astype(np.float32), rng.normal(size=(9, 5)).astype(np.float32)
    per_word = [[1, 4, 4], [], [8, 0, 2, 7], [3]]
    rows = np.array(sum(per_word, []), np.int32)
    starts = np.concatenate([[0], np.cumsum([len(r) for r in per_word])])
    params = fasttext.FastTextParams(jnp.asarray(w_in), jnp.asarray(z), jnp.zeros((4, 5)))
    expected = np.stack([(w_in[i] + z[r].sum(0)) / (1 + len(r)) for i, r in enumerate(per_word)])
    np.testing.assert_allclose(fasttext.word_vectors(params, (rows, starts), chunk=3), expected, rtol=1e-5)


def test_fasttext_trains_only_the_ngram_rows_in_use():
    """Training on the compact table of used rows: the rows no vocabulary word hashes to keep their
    initial values, the others move, and the word vectors are h(w) of the returned full table."""
    from minilm.vectors.subwords import SubwordHasher
    from minilm.vectors.vocab import build_vocab_and_corpus

    vocab, corpus = build_vocab_and_corpus([["ab", "abc", "b", "ab"], ["b", "abc", "ab"]] * 20, min_count=1)
    hasher = SubwordHasher(3, 4, 40)
    init = fasttext.init_params(len(vocab), 40, 4, seed=0)
    before = init.w_ngrams.copy()
    settings = word2vec.Settings(dim=4, window=2, epochs=3, sample=0, batch=4, steps_per_call=2)
    params, vectors, _ = fasttext.train(init, corpus, vocab, hasher, settings)
    rows, starts = hasher.table(vocab.words)
    used = np.zeros(40, bool)
    used[rows] = True
    assert 0 < used.sum() < 40
    np.testing.assert_array_equal(params.w_ngrams[~used], before[~used])
    assert (np.abs(params.w_ngrams[used] - before[used]).max(axis=1) > 0).all()
    full = fasttext.FastTextParams(*(jnp.asarray(a) for a in params))
    np.testing.assert_allclose(vectors, fasttext.word_vectors(full, (rows, starts)), rtol=1e-6)


def _glove_case(rows, cols, x, scale=1.0):
    """Parameters of 8 words (word-side AdaGrad sums != 1, vectors times ``scale``) and the entries."""
    rng = np.random.default_rng(5)
    p = glove.init_params(8, 3, seed=0)
    words = np.asarray(p.words).copy()
    words[:, :3] *= scale
    words[:, 4:] += rng.uniform(0, 2, size=(8, 4))
    p = p._replace(words=jnp.asarray(words))
    entries = glove.Entries(np.asarray(rows, np.int32), np.asarray(cols, np.int32), np.asarray(x, np.float32))
    padded = jax.tree.map(
        lambda a: jnp.asarray(np.append(a, 0).astype(a.dtype)), entries
    )  # + a padding entry
    return p, entries, padded


_adagrad_step = jax.jit(glove.adagrad_step, static_argnums=(2, 3, 4, 5))


def test_glove_adagrad_step_is_adagrad_on_the_reference_gradient():
    """On entries with distinct rows: the vectors step by eta times the gradient of J / 2 (reference,
    closed form), the biases by the gradient of J / 2 itself (glove.c: no eta), each over the square
    root of its sum of squared steps; the cost returned is J / 2 before the step."""
    p, e, padded = _glove_case([0, 1, 2], [3, 4, 5], [2.0, 150.0, 0.5])
    (w, b, g_w, g_b), (wc, bc, g_wc, g_bc) = (
        [np.array(a, np.float64) for a in glove.unpack(side)] for side in p
    )
    counts = np.zeros((8, 8))
    counts[e.rows, e.cols] = e.x
    cost = reference.glove_cost(counts, w, wc, b, bc, x_max=100.0, alpha=0.75) / 2
    grads = reference.glove_grads(counts, w, wc, b, bc, x_max=100.0, alpha=0.75)  # of J; rows not in X: 0
    for theta, grad, sums, eta in zip(
        (w, wc, b, bc), grads, (g_w, g_wc, g_b, g_bc), (0.05, 0.05, 1, 1), strict=True
    ):
        step = eta * grad / 2
        theta -= step / np.sqrt(sums)
        sums += step**2
    new, got_cost = _adagrad_step(p, padded, 100.0, 0.75, 0.05, 100.0)
    got = [*glove.unpack(new.words), *glove.unpack(new.contexts)]
    for g, want in zip(got, (w, b, g_w, g_b, wc, bc, g_wc, g_bc), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(got_cost), cost, rtol=1e-5)
    np.testing.assert_allclose(glove.word_vectors(new), w + wc, rtol=1e-6)


def glove_c_updates(W, gradsq, entries, eta=0.05, x_max=100.0, alpha=0.75, clip=100.0):
    """glove.c's ``glove_thread`` loop, line for line, over (word1, word2, val) entries on its (2V, D + 1)
    arrays (context rows after the V word rows, the bias last); returns the summed cost."""
    V, D = W.shape[0] // 2, W.shape[1] - 1
    total = 0.0
    for w1, w2, val in entries:
        l1, l2 = w1, w2 + V
        diff = W[l1, :D] @ W[l2, :D] + W[l1, D] + W[l2, D] - np.log(val)
        fdiff = diff if val > x_max else (val / x_max) ** alpha * diff
        total += 0.5 * fdiff * diff
        temp1 = np.clip(fdiff * W[l2, :D], -clip, clip) * eta
        temp2 = np.clip(fdiff * W[l1, :D], -clip, clip) * eta
        W[l1, :D] -= temp1 / np.sqrt(gradsq[l1, :D])
        W[l2, :D] -= temp2 / np.sqrt(gradsq[l2, :D])
        gradsq[l1, :D] += temp1**2
        gradsq[l2, :D] += temp2**2
        W[l1, D] -= fdiff / np.sqrt(gradsq[l1, D])
        W[l2, D] -= fdiff / np.sqrt(gradsq[l2, D])
        gradsq[l1, D] += fdiff**2
        gradsq[l2, D] += fdiff**2
    return total


def test_glove_adagrad_step_follows_glove_c_with_clipping():
    """Large vectors make f(x) diff w~ exceed the clip value 100 in some components: the step equals
    glove.c's loop over the entries, clipping included (and differs from the unclipped step)."""
    p, e, padded = _glove_case([0, 1, 2, 6], [3, 4, 5, 7], [2.0, 150.0, 0.5, 40.0], scale=4000.0)
    (w, b, g_w, g_b), (wc, bc, g_wc, g_bc) = (
        [np.array(a, np.float64) for a in glove.unpack(side)] for side in p
    )
    W = np.concatenate([np.c_[w, b], np.c_[wc, bc]])  # (2V, D + 1)
    gradsq = np.concatenate([np.c_[g_w, g_b], np.c_[g_wc, g_bc]])
    cost = glove_c_updates(W, gradsq, zip(e.rows, e.cols, e.x.astype(np.float64), strict=True))
    new, got_cost = _adagrad_step(p, padded, 100.0, 0.75, 0.05, 100.0)
    got_w = np.concatenate([np.c_[glove.unpack(side)[0], glove.unpack(side)[1]] for side in new])
    got_sums = np.concatenate([np.c_[glove.unpack(side)[2], glove.unpack(side)[3]] for side in new])
    np.testing.assert_allclose(got_w, W, rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(got_sums, gradsq, rtol=2e-5)
    np.testing.assert_allclose(float(got_cost), cost, rtol=1e-5)
    unclipped, _ = _adagrad_step(p, padded, 100.0, 0.75, 0.05, np.inf)
    assert not np.allclose(np.asarray(unclipped.contexts), np.asarray(new.contexts), rtol=1e-3)


@pytest.mark.parametrize("window", [2, 11])
def test_cooccurrence_counts_match_a_direct_count(window):
    from minilm.vectors.vocab import build_vocab_and_corpus

    sentences = [["a", "b", "c", "a"], ["b", "a"], ["c", "c", "b", "a", "b"], list("abcabcbbaccabcab")]
    vocab, corpus = build_vocab_and_corpus(sentences, min_count=1)
    idx = vocab.index
    expected = np.zeros((3, 3))
    for s in sentences:
        for i in range(len(s)):
            for d in range(1, window + 1):
                if i - d >= 0:
                    expected[idx[s[i - d]], idx[s[i]]] += 1 / d
                    expected[idx[s[i]], idx[s[i - d]]] += 1 / d
    for chunk in (2, 100):  # chunks that cut sentences count the same
        co = glove.cooccurrences(corpus, 3, window=window, chunk_tokens=chunk)
        got = np.zeros((3, 3))
        got[co.rows, co.cols] = co.counts
        np.testing.assert_allclose(got, expected)


def previous_cooccurrences(corpus, vocab_size, window, chunk_tokens):
    """The counting before the memory rework, line for line: per chunk the ordered (left, right) pairs as
    sorted ``(pair, d)`` codes summed by ``reduceat``, merged with the counts so far by concatenation and
    a stable argsort, then ``X = C + C^T`` the same way; (rows, cols, float64 X), row-major."""

    def sum_runs(keys, values):
        starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
        return keys[starts], np.add.reduceat(values, starts) if len(keys) else values

    def merge(a, b):
        keys, values = np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]])
        order = np.argsort(keys, kind="stable")
        return sum_runs(keys[order], values[order])

    sentence, n = corpus.sentence_of, len(corpus.ids)
    counts = (np.zeros(0, np.int64), np.zeros(0))
    for a in range(0, n, chunk_tokens):
        lo, hi = max(a - window, 0), min(a + chunk_tokens, n)
        ids, sent = corpus.ids[lo:hi].astype(np.int64), sentence[lo:hi]
        codes = []
        for d in range(1, window + 1):
            right = np.arange(max(a - lo, d), len(ids))
            right = right[sent[right] == sent[right - d]]
            codes.append((ids[right - d] * vocab_size + ids[right]) * (window + 1) + d)
        pairs, distance = np.divmod(np.sort(np.concatenate(codes)), window + 1)
        counts = merge(counts, sum_runs(pairs, 1.0 / distance))
    keys, values = counts
    transposed = (keys % vocab_size) * vocab_size + keys // vocab_size
    order = np.argsort(transposed)
    keys, values = merge(counts, (transposed[order], values[order]))
    return keys // vocab_size, keys % vocab_size, values


@pytest.fixture(scope="module")
def zipf_corpus():
    """2,000 tokens over 6 words drawn with Zipf-like frequencies, in sentences of 1-15 words: repeated
    words (the diagonal), pairs seen hundreds of times (long runs, where float64 summation order shows),
    and sentences that cross every chunk boundary below."""
    from minilm.vectors.vocab import build_vocab_and_corpus

    rng = np.random.default_rng(0)
    words = rng.choice(list("abcdef"), size=2000, p=np.array([32, 16, 8, 4, 2, 1]) / 63)
    cuts = np.cumsum(rng.integers(1, 16, size=300))
    sentences = [list(s) for s in np.split(words, cuts[cuts < len(words)])]
    return build_vocab_and_corpus(sentences, min_count=1)


@pytest.mark.parametrize(("window", "chunk"), [(1, 7), (3, 5), (3, 10_000), (11, 64), (11, 333)])
def test_cooccurrences_equal_the_previous_counting_exactly(zipf_corpus, window, chunk):
    """The upper triangle's float64 sums are the previous ones bit for bit, and ``X`` (both orientations,
    row-major) is their float32, which is what training always read."""
    vocab, corpus = zipf_corpus
    rows, cols, x = previous_cooccurrences(corpus, len(vocab), window, chunk)
    upper = rows <= cols
    got = glove._upper_triangle(corpus, len(vocab), window, chunk)
    for g, want in zip(got, (rows[upper], cols[upper], x[upper]), strict=True):
        np.testing.assert_array_equal(g, want)
    co = glove.cooccurrences(corpus, len(vocab), window, chunk)
    assert co.counts.dtype == np.float32
    for g, want in zip((co.rows, co.cols, co.counts), (rows, cols, x.astype(np.float32)), strict=True):
        np.testing.assert_array_equal(g, want)


def test_cooccurrence_sums_depend_on_chunking_in_float64(zipf_corpus):
    """What makes the test above strict: the float64 sums change with the chunking (summation order), so
    a counting that added in another order would not pass it."""
    vocab, corpus = zipf_corpus
    one_chunk = previous_cooccurrences(corpus, len(vocab), 11, 10_000)[2]
    chunked = previous_cooccurrences(corpus, len(vocab), 11, 64)[2]
    np.testing.assert_allclose(chunked, one_chunk, rtol=1e-12)
    assert not np.array_equal(chunked, one_chunk)


def test_glove_train_visits_the_entries_as_before(zipf_corpus):
    """``train`` gives the vectors and cost of the previous loop bit for bit: per epoch
    ``rng.permutation(E)``, whole shuffled copies padded with zeros to whole calls, one call at a time."""
    vocab, corpus = zipf_corpus
    settings = glove.GloVeSettings(dim=8, window=3, epochs=2, batch=8, steps_per_call=4, chunk_tokens=500)
    vectors, stats = glove.train(corpus, len(vocab), settings)
    co = glove.cooccurrences(corpus, len(vocab), settings.window, settings.chunk_tokens)
    params, rng = (
        glove.init_params(len(vocab), settings.dim, settings.seed),
        np.random.default_rng(settings.seed),
    )
    n, per_call = len(co.counts), settings.batch * settings.steps_per_call
    assert n > per_call and n % per_call  # several calls, the last one padded
    padded = -(-n // per_call) * per_call
    for _ in range(settings.epochs):
        order = rng.permutation(n)
        rows, cols, x = np.zeros(padded, np.int32), np.zeros(padded, np.int32), np.zeros(padded, np.float32)
        rows[:n], cols[:n], x[:n] = co.rows[order], co.cols[order], co.counts[order]
        shape = (-1, settings.steps_per_call, settings.batch)
        rows, cols, x = rows.reshape(shape), cols.reshape(shape), x.reshape(shape)
        costs = []
        for c in range(len(rows)):
            params, cost = one_device_call(
                glove.scanned(settings), params, glove.Entries(rows[c], cols[c], x[c])
            )
            costs.append(cost)
    np.testing.assert_array_equal(vectors, glove.word_vectors(params))
    assert stats.final_cost == float(sum(costs)) / n
