"""KeyedVectors: evaluations give gensim's numbers on the same vectors; files round-trip with gensim."""

from __future__ import annotations

import numpy as np
import pytest

from minilm.errors import UserError
from minilm.vectors.keyed_vectors import KeyedVectors, load_vectors, pca_2d
from minilm.vectors.subwords import SubwordHasher

gensim_models = pytest.importorskip("gensim.models")
datapath = pytest.importorskip("gensim.test.utils").datapath


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    """Every 8th question of Google's questions-words.txt (all section headers kept)."""
    lines = open(datapath("questions-words.txt"), encoding="utf-8").read().splitlines()
    kept = [line for i, line in enumerate(lines) if line.startswith(":") or i % 8 == 0]
    path = tmp_path_factory.mktemp("analogies") / "questions.txt"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def vectors(questions):
    """Vectors for the words of the gensim test sets (~10% dropped: OOV, plus case variants), where
    each analogy section shares an offset, so that many analogies are right and some are not."""
    rng = np.random.default_rng(0)
    words: list[str] = []
    for name in ("wordsim353.tsv", "simlex999.txt"):
        for line in open(datapath(name), encoding="utf-8"):
            if not line.startswith("#"):
                words += [w.lower() for w in line.split("\t")[:2]]
    sections = []
    for line in open(questions, encoding="utf-8"):
        if line.startswith(":"):
            sections.append([])
        else:
            a, b, c, d = line.lower().split()
            sections[-1] += [(a, b), (c, d)]
            words += [a, b, c, d]
    vocab = sorted(set(words))
    table = dict(zip(vocab, rng.normal(size=(len(vocab), 24)).astype(np.float32), strict=True))
    for pairs in sections:
        offset = rng.normal(size=24).astype(np.float32)
        for a, b in pairs:
            table[b] = table[a] + offset + 0.8 * rng.normal(size=24).astype(np.float32)
    vocab = [w for w in vocab if rng.random() > 0.1]  # ~10% OOV
    variants = [w.capitalize() for w in vocab[:300:3]]  # case variants (less frequent: later rows)
    rng.shuffle(vocab)
    vectors = np.stack([table[w] for w in vocab] + [table[w.lower()] + rng.normal(size=24) for w in variants])
    return KeyedVectors(vocab + variants, vectors.astype(np.float32))


@pytest.fixture(scope="module")
def gensim_kv(vectors):
    kv = gensim_models.KeyedVectors(vectors.vector_size)
    kv.add_vectors(vectors.index_to_key, vectors.vectors)
    return kv


@pytest.mark.parametrize("name", ["wordsim353.tsv", "simlex999.txt"])
@pytest.mark.parametrize("restrict", [300000, 1500])
def test_word_pairs_equal_gensim(vectors, gensim_kv, name, restrict):
    ours = vectors.evaluate_word_pairs(datapath(name), restrict_vocab=restrict)
    (pearson, _), (rho, _), oov = gensim_kv.evaluate_word_pairs(datapath(name), restrict_vocab=restrict)
    np.testing.assert_allclose(ours, (pearson, rho, oov), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("restrict", [300000, 1000])
def test_word_analogies_equal_gensim(vectors, gensim_kv, questions, restrict):
    accuracy, sections = vectors.evaluate_word_analogies(questions, restrict_vocab=restrict)
    g_accuracy, g_sections = gensim_kv.evaluate_word_analogies(questions, restrict_vocab=restrict)
    assert accuracy == pytest.approx(g_accuracy)
    assert 0.2 < accuracy < 0.95  # not a vacuous comparison
    for ours, theirs in zip(sections, g_sections, strict=True):
        assert ours["section"] == theirs["section"]
        assert ours["correct"] == theirs["correct"]
        assert ours["incorrect"] == theirs["incorrect"]


def test_most_similar_and_cosmul_equal_gensim(vectors, gensim_kv):
    words = vectors.index_to_key
    for positive, negative in [([words[0]], []), ([words[1], words[2]], [words[3]])]:
        ours = vectors.most_similar(positive=positive, negative=negative, topn=5)
        theirs = gensim_kv.most_similar(positive=positive, negative=negative, topn=5)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)
        ours = vectors.most_similar_cosmul(positive=positive, negative=negative, topn=5)
        theirs = gensim_kv.most_similar_cosmul(positive=positive, negative=negative, topn=5)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)
    assert vectors.analogy(words[3], words[1], words[2], topn=5) == vectors.most_similar(
        [words[1], words[2]], [words[3]], topn=5
    )
    assert vectors.similarity(words[0], words[1]) == pytest.approx(
        float(gensim_kv.similarity(words[0], words[1]))
    )


def test_word_pairs_edge_cases_as_gensim(vectors, gensim_kv, tmp_path):
    """A nan score gives nan correlations (SciPy's rule, through gensim); fewer than 2 pairs in the
    vocabulary is an error (gensim: SciPy's ValueError; here a one-line UserError)."""
    a, b, c, d = vectors.index_to_key[:4]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(f"{a}\t{b}\t1.0\n{a}\t{c}\tnan\n{b}\t{d}\t3.0\n", encoding="utf-8")
    ours = vectors.evaluate_word_pairs(pairs)
    (pearson, _), (rho, _), oov = gensim_kv.evaluate_word_pairs(str(pairs))
    assert np.isnan(ours[:2]).all() and np.isnan([pearson, rho]).all() and ours[2] == oov == 0
    pairs.write_text(f"{a}\t{b}\t1.0\n{a}\tnot-a-word\t2.0\n", encoding="utf-8")
    with pytest.raises(ValueError):
        gensim_kv.evaluate_word_pairs(str(pairs))
    with pytest.raises(
        UserError, match="in the vocabulary .and a valid line.: 1; a correlation needs at least 2"
    ):
        vectors.evaluate_word_pairs(pairs)


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_round_trips_with_gensim(vectors, tmp_path, binary):
    path = tmp_path / ("v.bin" if binary else "v.txt")
    vectors.save_word2vec_format(path, binary=binary)
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert theirs.index_to_key == vectors.index_to_key
    np.testing.assert_array_equal(theirs.vectors, vectors.vectors)
    other = tmp_path / ("g.bin" if binary else "g.txt")
    theirs.save_word2vec_format(str(other), binary=binary)
    ours = load_vectors(other) if binary else KeyedVectors.load_word2vec_format(other)
    assert ours.index_to_key == vectors.index_to_key
    np.testing.assert_array_equal(ours.vectors, vectors.vectors)


def test_safetensors_round_trip_keeps_fasttext_ngrams(tmp_path):
    rng = np.random.default_rng(1)
    hasher = SubwordHasher(3, 5, 1000)
    ngrams = rng.normal(size=(1000, 4)).astype(np.float32)
    kv = KeyedVectors(["alpha", "beta"], rng.normal(size=(2, 4)).astype(np.float32), hasher, ngrams)
    kv.save(tmp_path / "v.safetensors")
    back = load_vectors(tmp_path / "v.safetensors")
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    oov = back.get_vector("alphabet")  # an OOV word: the mean of its n-gram rows
    np.testing.assert_allclose(oov, ngrams[hasher.ngram_rows("alphabet")].mean(0))
    with pytest.raises(KeyError):
        KeyedVectors(["a"], np.ones((1, 2))).get_vector("b")


def test_malformed_files_name_the_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\nx 1 2 3\ny 1 2\n")
    with pytest.raises(UserError, match=r"bad.txt:3"):
        KeyedVectors.load_word2vec_format(bad)
    bad.write_text("two three\n")
    with pytest.raises(UserError, match=r"bad.txt:1"):
        KeyedVectors.load_word2vec_format(bad)
    bad.write_bytes(b"2 1\nx 1\ncaf\xe9 2\n")
    with pytest.raises(UserError, match=r"bad.txt:3: not valid UTF-8"):
        KeyedVectors.load_word2vec_format(bad)


def test_pca_2d_equals_scikit_learn_up_to_each_axis_sign():
    decomposition = pytest.importorskip("sklearn.decomposition")
    x = np.random.default_rng(3).normal(size=(12, 7)) * np.arange(1, 8)  # distinct variances per axis
    ours = pca_2d(x)
    theirs = decomposition.PCA(n_components=2, svd_solver="full").fit_transform(x)
    np.testing.assert_allclose(np.abs(ours), np.abs(theirs), atol=1e-10)
    assert (ours[np.abs(ours).argmax(axis=0), [0, 1]] > 0).all()  # the sign rule the docstring states
    np.testing.assert_allclose(
        ours.var(axis=0), np.sort(np.linalg.eigvalsh(np.cov(x.T, bias=True)))[::-1][:2]
    )
