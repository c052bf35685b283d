"""End to end on the embedded world corpus: skip-gram recovers the generator's analogies; every
method trains from the command line and its files load in gensim."""

from __future__ import annotations

import json

import numpy as np
import pytest

from minilm.cli import evaluate, train
from minilm.data.world import analogy_questions, generate_corpus, similarity_pairs
from minilm.errors import UserError
from minilm.vectors import word2vec
from minilm.vectors.keyed_vectors import KeyedVectors
from minilm.vectors.vocab import build_vocab_and_corpus


@pytest.fixture(scope="module")
def world_skipgram():
    vocab, corpus = build_vocab_and_corpus((line.split() for line in generate_corpus(0)), min_count=5)
    settings = word2vec.Settings(dim=50, epochs=5, seed=0)
    params = word2vec.init_params(len(vocab), settings.dim, settings.seed)
    params, stats = word2vec.train(word2vec.skipgram_step, params, corpus, vocab, settings)
    return KeyedVectors(vocab.words, np.asarray(params.w_in)), stats


def test_skipgram_recovers_world_analogies(world_skipgram):
    kv, stats = world_skipgram
    accuracy, sections = kv.evaluate_word_analogies(analogy_questions(0))
    assert len(sections[-1]["correct"]) + len(sections[-1]["incorrect"]) > 1500  # every question answered
    assert accuracy >= 0.90, {s["section"]: len(s["correct"]) for s in sections}
    pairs = "\n".join(f"{a}\t{b}\t{score}" for a, b, score in similarity_pairs(0))
    _, rho, oov = kv.evaluate_word_pairs(pairs)
    assert rho > 0.7 and oov == 0
    assert kv.analogy("man", "king", "woman")[0][0] == "queen"
    assert stats.effective_words < 5 * 608188  # subsampling dropped frequent words


def test_training_is_deterministic():
    vocab, corpus = build_vocab_and_corpus([["a", "b", "c", "a", "b"], ["c", "a", "b"]] * 50, min_count=1)
    settings = word2vec.Settings(dim=8, window=2, epochs=1, batch=4, steps_per_call=2)
    runs = [
        word2vec.train(word2vec.cbow_step, word2vec.init_params(3, 8, 0), corpus, vocab, settings)[0].w_in
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*runs)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "world_small.txt"
    path.write_text("\n".join(generate_corpus(0)[:4000]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("method", "extra"), [("skipgram", []), ("cbow", []), ("fasttext", ["--buckets=5000"]), ("glove", [])]
)
def test_cli_trains_and_evaluates(tmp_path, capsys, small_corpus, method, extra):
    gensim_models = pytest.importorskip("gensim.models")
    tiny = ["--dim=16", "--epochs=1", "--window=2", "--batch=32", "--steps_per_call=8", "--min_count=2"]
    args = ["vectors", f"--method={method}", f"--data={small_corpus}", f"--out_dir={tmp_path}", "--name=run"]
    assert train.main([*args, *tiny, *extra, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["vocab_size"] > 300 and report["train_seconds"] > 0, report
    run = tmp_path / "run"
    kv = gensim_models.KeyedVectors.load_word2vec_format(str(run / "vectors.bin"), binary=True)
    assert len(kv) == report["vocab_size"] and kv.vector_size == 16
    assert evaluate.main(["vectors", f"--vectors={run / 'vectors.safetensors'}", "--world", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["world"]["world_similarity_oov_pct"] < 50
    assert evaluate.main(["vectors", f"--vectors={run / 'vectors.bin'}", "--neighbours", "king"]) == 0
    assert capsys.readouterr().out.startswith("vectors:")
    plot = ["vectors", f"--vectors={run / 'vectors.bin'}", f"--plot={tmp_path / 'w.png'}"]
    assert evaluate.main([*plot, "--plot_words=king,queen,man,woman"]) == 0
    assert (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(UserError, match="--plot_words: 'zzz' not in the vocabulary"):
        evaluate.main([*plot, "--plot_words=king,queen,zzz"])
    with pytest.raises(UserError, match=r"--plot_words=king,queen: goes with --plot=\S+, and needs at least"):
        evaluate.main([*plot, "--plot_words=king,queen"])


def test_cli_rejects_bad_input(tmp_path):
    with pytest.raises(UserError, match="--method"):
        train.main(["vectors", "--method=lsa"])
    with pytest.raises(UserError, match="no such file|cannot read"):
        evaluate.main(["vectors", f"--vectors={tmp_path / 'missing.txt'}"])


def test_diverged_training_is_refused_and_writes_nothing(tmp_path, small_corpus):
    """A learning rate far too high drives the vectors to Inf/NaN: one clear error, no vectors file."""
    tiny = ["--dim=16", "--epochs=1", "--window=2", "--batch=32", "--steps_per_call=8", "--min_count=2"]
    args = ["vectors", "--method=cbow", f"--data={small_corpus}", f"--out_dir={tmp_path}", "--name=run"]
    with pytest.raises(UserError, match=r"cbow diverged: \d+ of \d+ word vectors .* lower --alpha=1e\+06"):
        train.main([*args, *tiny, "--alpha=1e6"])
    assert not (tmp_path / "run").exists()
