"""Extractive QA (BERT span head on SQuAD-format data): windows, span labels, loss, decoding, scores.

- span labels round-trip to the gold answer text through the character offsets, for a WordPiece (BERT)
  and a byte-level BPE (minilm) tokenizer, with contexts cut into overlapping stride windows; a window
  is labelled iff the whole answer is inside it (checked on characters, not tokens), answers at the
  windows' first and last context token included;
- the best-span decoder = a brute-force loop over every window, start and end;
- the loss = a hand-written NumPy cross-entropy of the model's own logits;
- bad input (an answer not in its context, a missing field) is a one-line UserError naming the record.
"""

from __future__ import annotations

import functools
import json

import jax
import numpy as np
import pytest
from flax import nnx
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from minilm.data.loaders import load_world
from minilm.data.qa_windows import NO_SPAN, answer_text, doc_windows, qa_windows, special_ids
from minilm.data.registry import load_dataset
from minilm.data.tokenizer import train_bpe
from minilm.errors import UserError
from minilm.models.heads import SpanExtractor
from minilm.models.transformer import BERT, TransformerConfig
from minilm.objectives.qa import best_spans, predict_answers, span_loss, span_predictor

MAX_LEN, STRIDE, QUERY = 32, 6, 12  # small windows: most world contexts need several


@functools.cache
def world_qa():
    return load_world("world_qa")


@functools.cache
def wordpiece() -> Tokenizer:
    """A BERT-style WordPiece tokenizer ([PAD] [UNK] [CLS] [SEP] [MASK]) trained on the world stories."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=400, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], show_progress=False
    )
    records = world_qa().splits["train"]
    tokenizer.train_from_iterator([r["context"] for r in records] + [r["question"] for r in records], trainer)
    return tokenizer


@functools.cache
def byte_bpe() -> Tokenizer:
    return train_bpe([r["context"] for r in world_qa().splits["train"]], vocab_size=1000)


@pytest.mark.parametrize("tokenizer", [wordpiece, byte_bpe], ids=["wordpiece", "byte-bpe"])
def test_span_labels_round_trip_across_windows(tokenizer) -> None:
    tok = tokenizer()
    records = world_qa().splits["train"][:300]
    windows = qa_windows(tok, records, max_len=MAX_LEN, doc_stride=STRIDE, max_query_len=QUERY, where="t")
    cls, sep, pad = special_ids(tok)
    a = windows
    assert len(a["example"]) > 2 * len(records)  # contexts really are cut into several windows
    labelled, at_border = set(), 0
    for w, i in enumerate(a["example"]):
        record, char_start, char_end = records[i], a["char_start"][w], a["char_end"][w]
        gold = record["answers"][0]
        context_pos = np.flatnonzero(char_start != NO_SPAN)  # this window's context tokens
        first, last = context_pos[0], context_pos[-1]
        # the layout: [CLS] question [SEP] context [SEP] [PAD]..; token types 1 on context and last [SEP]
        n = int(a["attention_mask"][w].sum())
        assert a["tokens"][w, 0] == cls and a["tokens"][w, first - 1] == sep and a["tokens"][w, n - 1] == sep
        assert last == n - 2 and (a["tokens"][w, n:] == pad).all() and (a["attention_mask"][w, n:] == 0).all()
        np.testing.assert_array_equal(
            a["token_types"][w], (np.arange(MAX_LEN) >= first) & (np.arange(MAX_LEN) < n)
        )
        # labelled iff the answer's characters lie inside the window's characters
        inside = (
            char_start[first] <= gold["answer_start"]
            and gold["answer_start"] + len(gold["text"]) <= char_end[last]
        )
        s, e = a["starts"][w], a["ends"][w]
        assert (s != 0) == inside and (s == 0) == (e == 0)
        if inside:
            assert first <= s <= e <= last
            assert answer_text(record["context"], a, w, s, e) == gold["text"]
            labelled.add(i)
            at_border += (s == first) + (e == last)
    assert labelled == set(
        range(len(records))
    )  # the overlap is wider than any answer: each is whole somewhere
    assert at_border > 10  # answers starting at a window's first / ending at its last context token


def test_windows_cover_the_context_with_the_stride() -> None:
    for n, room, stride in [(0, 5, 2), (5, 5, 2), (6, 5, 2), (23, 7, 3), (23, 7, 10), (100, 20, 20)]:
        spans = doc_windows(n, room, stride)
        assert spans[0][0] == 0 and spans[-1][1] == n and all(e - s <= room for s, e in spans)
        assert all(b[0] - a[0] == min(room, stride) for a, b in zip(spans, spans[1:], strict=False))
        assert all(a[1] < n for a in spans[:-1])  # only the last window reaches the end
    tok = wordpiece()
    record = world_qa().splits["train"][0]
    windows = qa_windows(tok, [record], max_len=MAX_LEN, doc_stride=STRIDE, max_query_len=QUERY, where="t")
    ids = tok.encode(record["context"], add_special_tokens=False).ids
    context_rows = [
        windows["tokens"][w][windows["char_start"][w] != NO_SPAN] for w in range(len(windows["example"]))
    ]
    room = MAX_LEN - len(tok.encode(record["question"], add_special_tokens=False).ids) - 3
    for row, (s, e) in zip(context_rows, doc_windows(len(ids), room, STRIDE), strict=True):
        np.testing.assert_array_equal(row, ids[s:e])


def _brute_force(start, end, in_context, max_answer_len):
    out = []
    for w in range(start.shape[0]):
        best = (-np.inf, 0, 0)
        for i in range(start.shape[1]):
            for j in range(i, min(i + max_answer_len, start.shape[1])):
                if in_context[w, i] and in_context[w, j] and start[w, i] + end[w, j] > best[0]:
                    best = (float(start[w, i]) + float(end[w, j]), i, j)
        out.append(best)
    return out


def test_best_span_equals_brute_force() -> None:
    rng = np.random.default_rng(0)
    w, t = 40, 17
    start, end = rng.normal(size=(w, t)).astype(np.float32), rng.normal(size=(w, t)).astype(np.float32)
    lo = rng.integers(0, t, size=w)
    hi = np.minimum(lo + rng.integers(0, 12, size=w), t)  # [lo, hi): a window's context; empty when lo == hi
    in_context = (np.arange(t) >= lo[:, None]) & (np.arange(t) < hi[:, None])
    for max_answer_len in (1, 3, 30):
        score, i, j = best_spans(start, end, in_context, max_answer_len)
        expected = _brute_force(start, end, in_context, max_answer_len)
        np.testing.assert_allclose(score, [b[0] for b in expected], rtol=1e-6)
        assert [(int(a), int(b)) for a, b in zip(i, j, strict=True)] == [
            (b[1], b[2]) if np.isfinite(b[0]) else (0, 0) for b in expected
        ]


def test_answers_are_the_best_span_over_all_windows() -> None:
    tok = wordpiece()
    records = world_qa().splits["dev"][:20]
    windows = qa_windows(tok, records, max_len=MAX_LEN, doc_stride=STRIDE, max_query_len=QUERY, where="t")
    rng = np.random.default_rng(1)
    start, end = (rng.normal(size=windows["tokens"].shape).astype(np.float32) for _ in range(2))
    answers = predict_answers(windows, start, end, [r["context"] for r in records], max_answer_len=4)
    per_window = _brute_force(start, end, windows["char_start"] != NO_SPAN, 4)
    for k, record in enumerate(records):
        mine = np.flatnonzero(windows["example"] == k)
        w = max(mine, key=lambda w: per_window[w][0])
        _, i, j = per_window[w]
        assert answers[k] == answer_text(record["context"], windows, w, i, j)
        assert len(tok.encode(answers[k], add_special_tokens=False).ids) <= 4


@functools.cache
def tiny_span_model() -> SpanExtractor:
    cfg = TransformerConfig.bert(
        vocab_size=wordpiece().get_vocab_size(), max_len=MAX_LEN, n_layer=2, n_head=2, d_model=16, d_ff=32
    )
    return SpanExtractor(BERT(cfg, rngs=nnx.Rngs(0)), rngs=nnx.Rngs(1))


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    top = x.max(-1, keepdims=True)
    return x - top - np.log(np.exp(x - top).sum(-1, keepdims=True))


def test_loss_is_the_mean_of_start_and_end_cross_entropies() -> None:
    records = world_qa().splits["train"][:6]
    windows = qa_windows(
        wordpiece(), records, max_len=MAX_LEN, doc_stride=STRIDE, max_query_len=QUERY, where="t"
    )
    batch = {k: jax.numpy.asarray(v) for k, v in windows.items()}
    model = tiny_span_model()
    loss, aux = nnx.jit(lambda m, b: span_loss(m, b, None))(model, batch)  # compiled: eager is slow
    start, end = span_predictor(model)(model, windows)
    rows = np.arange(len(start))
    expected = -0.5 * (
        _log_softmax(start)[rows, windows["starts"]].mean() + _log_softmax(end)[rows, windows["ends"]].mean()
    )
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    np.testing.assert_allclose(float(aux["start_accuracy"]), np.mean(start.argmax(-1) == windows["starts"]))
    assert (start[windows["attention_mask"] == 0] < -1e30).all()  # padding can never be picked


def test_bad_answer_and_missing_field_name_the_record(tmp_path) -> None:
    qas = [
        {"id": "q1", "question": "what does anna have ?", "answers": [{"text": "a dog", "answer_start": 9}]},
        {"id": "q2", "question": "who ?", "answers": [{"text": "cat", "answer_start": 11}]},
    ]
    squad = {
        "version": "1.1",
        "data": [{"title": "t", "paragraphs": [{"context": "anna has a dog .", "qas": qas}]}],
    }
    path = tmp_path / "qa.json"
    path.write_text(json.dumps(squad))
    with pytest.raises(
        UserError, match=r"qa.json: question q2: answer 'cat' is not at answer_start=11 .*qas\[1\]"
    ):
        load_dataset(str(path))
    qas[1]["answers"][0]["text"] = "dog"  # the answer fixed, the question gone
    del qas[1]["question"]
    path.write_text(json.dumps(squad))
    with pytest.raises(
        UserError, match=r"qa.json: data\[0\].paragraphs\[0\].qas\[1\]: not SQuAD.*'question'"
    ):
        load_dataset(str(path))
    blank = [
        {
            "id": "q3",
            "context": "anna has a dog .",
            "question": "?",
            "answers": [{"text": " ", "answer_start": 4}],
        }
    ]
    with pytest.raises(UserError, match="where: question q3: answer ' ' at answer_start=4 covers no token"):
        qa_windows(wordpiece(), blank, max_len=MAX_LEN, doc_stride=STRIDE, max_query_len=QUERY, where="where")
