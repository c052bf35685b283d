"""``train.py elmo`` end to end on the world corpus, its data pipeline, and ``evaluate.py context``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from minilm.cli import evaluate as evaluate_cli
from minilm.cli import train as train_cli
from minilm.data import world
from minilm.data.bilm import EOS, UNK, TokenStream, Vocab, WindowBatches, eval_batches, line_tokens
from minilm.errors import UserError
from minilm.models.io import load_bilm
from minilm.models.senses import nearest_sense_accuracy, sense_separation
from minilm.vectors.keyed_vectors import KeyedVectors


def test_tokens_and_vocabulary_follow_the_anchor() -> None:
    tokens = line_tokens(["b a c", "", "a <unk> d\nc b"])
    assert tokens == ["b", "a", "c", EOS, "a", UNK, "d", EOS, "c", "b", EOS]
    vocab = Vocab.build(tokens, 3)  # counts: <eos> 3, b 2, a 2, c 2 -> ties by first occurrence
    assert vocab.words == (EOS, "b", "a", UNK)
    np.testing.assert_array_equal(vocab.encode(["a", "c", UNK, EOS]), [2, 3, 3, 0])


def test_window_batches_read_rows_in_order_and_wrap() -> None:
    words = [f"w{i}" for i in range(30)]
    stream = TokenStream(np.arange(30, dtype=np.int32), np.arange(30, dtype=np.int32), words)
    batches = WindowBatches(stream, batch_size=2, seq_len=4, max_chars=8)  # rows 0..14, 15..29
    assert batches.windows == 3  # column starts 0, 4, 8 (8 + 5 <= 15); then back to 0
    first = batches.batch(0)
    np.testing.assert_array_equal(first["tokens"], [[0, 1, 2, 3, 4], [15, 16, 17, 18, 19]])
    np.testing.assert_array_equal(first["lengths"], [5, 5])
    np.testing.assert_array_equal(batches.batch(2)["tokens"][1], [23, 24, 25, 26, 27])
    np.testing.assert_array_equal(batches.batch(3)["tokens"], first["tokens"])
    assert first["chars"].shape == (2, 5, 8)
    assert bytes(int(c) - 1 for c in first["chars"][1, 2, 1:4]) == b"w17"  # each token's own spelling


def test_eval_batches_predict_every_held_out_token_once() -> None:
    stream = TokenStream(np.arange(23, dtype=np.int32), np.zeros(23, dtype=np.int32), ["x"])
    batches = eval_batches(stream, batch_size=2, seq_len=4, max_chars=None)  # rows of 11: 0..10, 11..21
    assert [b["tokens"].shape for b in batches] == [(2, 5)] * 3
    assert [int(b["lengths"][0]) for b in batches] == [5, 5, 3]
    targets = [t for b in batches for row in b["tokens"] for t in row[1 : int(b["lengths"][0])]]
    assert sorted(targets) == sorted(set(range(22)) - {0, 11})  # all but each row's first token


def test_nearest_sense_accuracy_closed_form() -> None:
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert nearest_sense_accuracy(vectors, ["a", "a", "b", "b"]) == 1.0
    assert nearest_sense_accuracy(vectors, ["a", "b", "a", "b"]) == 0.0


TINY_RUN = [
    "--steps=120", "--model.emb_dim=32", "--model.hidden=64", "--model.proj_dim=32", "--batch_size=16",
    "--seq_len=20", "--lr=1e-2", "--train.warmup_steps=10", "--model.dropout=0.0", "--eval_every=120",
    "--max_eval_tokens=2000",
    "--progress=false",
]  # fmt: skip


@pytest.fixture(scope="module")
def world_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    assert train_cli.main(["elmo", "--name=word", f"--out_dir={out}", *TINY_RUN]) == 0
    return out / "word"


def test_train_cli_word_model_separates_senses_where_static_vector_cannot(world_run: Path) -> None:
    report = json.loads((world_run / "report.json").read_text())
    assert 1.0 < report["ppl_fwd"] < 100 and 1.0 < report["ppl_bwd"] < 100  # unigram entropy is ~e^5.5
    senses = report["sense_nn_accuracy"]
    assert senses["chance"] == pytest.approx(0.49, abs=0.02)
    assert senses["contextual"] >= 0.9
    assert senses["static"] <= senses["chance"] + 0.1
    # the saved model reloads into the same numbers
    model, vocab = load_bilm(world_run)
    again = sense_separation(model, vocab, world.sense_examples(seed=0, n=400))
    assert again["contextual"] == pytest.approx(senses["contextual"])


def test_context_command_finds_each_occurrence_itself_first(world_run: Path, tmp_path: Path, capsys) -> None:
    """Two training lines as queries: the nearest occurrence of each is itself (cosine 1), the two
    neighbour lists differ, and the static vector gives one list for both; --vectors (word2vec
    text) adds that file's neighbours."""
    river = "reeds grew along the bank where the river bends ."  # both are among the first 1500 lines
    money = "mary went to the bank to withdraw some money ."
    vectors = tmp_path / "vectors.txt"  # cosines with bank: river 0.8, money 0.6, dog 0
    table = np.array([[0, 1], [1, 0], [0.6, 0.8], [0.8, 0.6]])
    KeyedVectors(["dog", "bank", "money", "river"], table).save_word2vec_format(vectors)
    argv = ["context", str(world_run), "--word=bank", "--sentence", river, "--sentence", money]
    argv += ["--max_sentences=1500", "--neighbours=3", f"--vectors={vectors}", "--json"]
    assert evaluate_cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    near_river, near_money = (ctx["neighbours"] for ctx in result["contexts"])
    for near, sentence in ((near_river, river), (near_money, money)):
        cosines = [hit["cosine"] for hit in near]
        assert len(near) == 3 and cosines == sorted(cosines, reverse=True)
        assert near[0]["cosine"] == pytest.approx(1.0, abs=1e-3)
        assert near[0]["context"] == sentence.replace(" bank ", " [bank] ")
    assert [h["context"] for h in near_river] != [h["context"] for h in near_money]
    assert len(result["static_bilm"]) == 3
    assert result["static_vectors"] == [["river", 0.8], ["money", 0.6], ["dog", 0.0]]


def test_train_cli_char_model_on_text_files(tmp_path: Path) -> None:
    """Character input, training and held-out text from files; an existing run is never overwritten."""
    lines = world.generate_corpus(seed=0)
    (tmp_path / "train.txt").write_text("\n".join(lines[:3000]) + "\n")
    (tmp_path / "valid.txt").write_text("\n".join(lines[-100:]) + "\n")
    run = [
        "elmo", "--name=char", f"--out_dir={tmp_path}", "--encoder=char", f"--data={tmp_path / 'train.txt'}",
        f"--valid={tmp_path / 'valid.txt'}", "--model.filters=1:4,3:8", "--model.highway=0", *TINY_RUN[1:],
        "--model.layers=1", "--steps=4", "--eval_every=2",
    ]  # fmt: skip
    assert train_cli.main(run) == 0
    report = json.loads((tmp_path / "char" / "report.json").read_text())
    assert 1.0 < report["ppl_fwd"] < report["vocab_size"] and 1.0 < report["ppl_bwd"] < report["vocab_size"]
    with pytest.raises(UserError, match="already holds a run"):
        train_cli.main(run)
