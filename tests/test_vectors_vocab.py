"""Vocabulary, subsampling, noise distribution, windows and fastText n-gram hashing against gensim
(which reproduces word2vec.c and Facebook's fastText) and against their formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilm.vectors.subwords import SubwordHasher, char_ngrams, fnv1a
from minilm.vectors.vocab import AliasSampler, build_vocab_and_corpus, keep_probability, noise_distribution
from minilm.vectors.windows import make_windows

gensim_models = pytest.importorskip("gensim.models")


@pytest.fixture(scope="module")
def zipf_sentences():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    lengths = rng.integers(1, 30, size=400)
    return [[words[min(int(z), 299)] for z in rng.zipf(1.3, size=n)] for n in lengths]


@pytest.fixture(scope="module")
def gensim_vocab(zipf_sentences):
    model = gensim_models.Word2Vec(vector_size=4, min_count=3, sample=1e-3, seed=0, workers=1)
    model.build_vocab(zipf_sentences)
    return model


def test_vocab_counts_order_and_corpus(zipf_sentences, gensim_vocab):
    vocab, corpus = build_vocab_and_corpus(zipf_sentences, min_count=3)
    assert set(vocab.words) == set(gensim_vocab.wv.index_to_key)
    assert all(vocab.counts[i] == gensim_vocab.wv.get_vecattr(w, "count") for i, w in enumerate(vocab.words))
    assert np.all(np.diff(vocab.counts) <= 0)  # most frequent first
    index = vocab.index
    kept = [[index[w] for w in s if w in index] for s in zipf_sentences]
    assert corpus.ids.tolist() == [i for s in kept for i in s]
    assert np.diff(corpus.starts).tolist() == [len(s) for s in kept]
    assert corpus.raw_words == sum(map(len, zipf_sentences))


def test_keep_probability_is_word2vec_c_formula_as_gensim(zipf_sentences, gensim_vocab):
    vocab, _ = build_vocab_and_corpus(zipf_sentences, min_count=3)
    keep = keep_probability(vocab.counts, 1e-3)
    t_n = 1e-3 * vocab.counts.sum()
    f = vocab.counts.astype(float)
    np.testing.assert_allclose(keep, np.minimum((np.sqrt(f / t_n) + 1) * t_n / f, 1))
    gensim_keep = [gensim_vocab.wv.get_vecattr(w, "sample_int") / 2**32 for w in vocab.words]
    np.testing.assert_allclose(keep, gensim_keep, atol=1e-9)
    assert keep[0] < 0.5 and keep[-1] == 1.0  # frequent words are dropped, rare ones kept
    np.testing.assert_array_equal(keep_probability(vocab.counts, 0.0), 1.0)


def test_noise_distribution_and_alias_tables(zipf_sentences, gensim_vocab):
    vocab, _ = build_vocab_and_corpus(zipf_sentences, min_count=3)
    probs = noise_distribution(vocab.counts)
    np.testing.assert_allclose(probs, vocab.counts**0.75 / np.sum(vocab.counts**0.75))
    # gensim's cumulative table (domain 2^31 - 1) encodes the same distribution
    order = [gensim_vocab.wv.get_index(w) for w in vocab.words]
    gensim_probs = np.diff(np.concatenate([[0], gensim_vocab.cum_table.astype(np.float64)])) / (2**31 - 1)
    np.testing.assert_allclose(probs, gensim_probs[order], atol=2e-9)
    sampler = AliasSampler.build(probs)
    np.testing.assert_allclose(sampler.probabilities(), probs, atol=1e-12)
    draws = sampler.sample(np.random.default_rng(0), (400_000,))
    freq = np.bincount(draws, minlength=len(probs)) / len(draws)
    np.testing.assert_allclose(freq, probs, atol=4 * np.sqrt(probs.max() / len(draws)))


def test_windows_stay_in_sentences_and_radius_is_uniform():
    rng = np.random.default_rng(0)
    ids = np.arange(2000, dtype=np.int32)  # every token distinct: positions can be read back
    sentence = np.repeat(np.arange(100), 20).astype(np.int32)
    chunk = make_windows(ids, sentence, np.ones(2000), window=4, rng=rng)
    assert chunk.kept == 2000 and sum(len(g.centres) for g in chunk.groups) == 2000
    for g in chunk.groups:
        offsets = np.concatenate([np.arange(-g.radius, 0), np.arange(1, g.radius + 1)])
        want = g.centres[:, None] + offsets
        want = np.where(sentence[np.clip(want, 0, 1999)] == sentence[g.centres][:, None], want, -1)
        want[(g.centres[:, None] + offsets < 0) | (g.centres[:, None] + offsets > 1999)] = -1
        np.testing.assert_array_equal(g.contexts, want)
        assert abs(len(g.centres) / 2000 - 1 / 4) < 0.04  # radius uniform in 1..window
    halved = make_windows(ids, sentence, np.full(2000, 0.5), window=4, rng=rng)
    assert abs(halved.kept - 1000) < 100


UNICODE_WORDS = ["hello", "naïve", "東京都", "straße", "a", "😀x", "word-pieces", "ab", "", "ÅÄÖåäö"]


def test_fasttext_ngrams_and_hashes_equal_gensim():
    from gensim.models.fasttext import ft_ngram_hashes
    from gensim.models.fasttext_inner import compute_ngrams_bytes, ft_hash_bytes

    hasher = SubwordHasher(3, 6, 2_000_000)
    for word in UNICODE_WORDS:
        ngrams = char_ngrams(word, 3, 6)
        assert ngrams == compute_ngrams_bytes(word, 3, 6)
        assert fnv1a(ngrams).tolist() == [ft_hash_bytes(g) for g in ngrams]
        assert hasher.ngram_rows(word) == ft_ngram_hashes(word, 3, 6, 2_000_000)
    rows, starts = hasher.table(UNICODE_WORDS)
    for i, word in enumerate(UNICODE_WORDS):
        assert rows[starts[i] : starts[i + 1]].tolist() == ft_ngram_hashes(word, 3, 6, 2_000_000)


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=12), st.integers(1, 3), st.integers(3, 7))
def test_fasttext_ngrams_equal_gensim_on_any_unicode(word, min_n, max_n):
    from gensim.models.fasttext_inner import compute_ngrams_bytes, ft_hash_bytes

    ngrams = char_ngrams(word, min_n, max_n)
    assert ngrams == compute_ngrams_bytes(word, min_n, max_n)
    assert fnv1a(ngrams).tolist() == [ft_hash_bytes(g) for g in ngrams]


def test_fnv1a_reference_values():
    """32-bit FNV-1a of ASCII (no sign extension involved) -- published test vectors."""
    assert fnv1a([b"a", b"foobar", b""]).tolist() == [0xE40C292C, 0xBF9CF968, 0x811C9DC5]
