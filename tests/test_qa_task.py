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

from minilm.cli import train
from minilm.data.batches import ExampleBatches
from minilm.data.loaders import load_world
from minilm.data.qa_windows import NO_SPAN, answer_text, doc_windows, qa_windows, special_ids
from minilm.data.registry import load_dataset
from minilm.data.tokenizer import train_bpe
from minilm.errors import UserError, run_cli
from minilm.finetune.freeze import FullConfig
from minilm.metrics import squad
from minilm.models.io import save_model
from minilm.models.transformer import BERT, TransformerConfig
from minilm.objectives.qa import best_spans, predict_answers, span_loss, span_predictor, span_scores
from minilm.tasks import get_task
from minilm.tasks.qa import QAOptions
from minilm.train.loop import TrainConfig, fit

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


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    top = x.max(-1, keepdims=True)
    return x - top - np.log(np.exp(x - top).sum(-1, keepdims=True))


def test_loss_is_the_mean_of_start_and_end_cross_entropies() -> None:
    rng = np.random.default_rng(2)
    b, t = 6, 11
    start, end = (rng.normal(size=(b, t)).astype(np.float32) * 3 for _ in range(2))
    starts, ends = rng.integers(0, t, size=b).astype(np.int32), rng.integers(0, t, size=b).astype(np.int32)
    starts[0] = ends[0] = 0  # a window without the answer: [CLS]

    def model(tokens, *, attention_mask, token_types, rngs):  # a span head's outputs, fixed
        assert tokens.shape == attention_mask.shape == token_types.shape == (b, t) and rngs is None
        return jax.numpy.asarray(start), jax.numpy.asarray(end)

    zeros = np.zeros((b, t), np.int32)
    batch = {
        "tokens": zeros,
        "attention_mask": zeros + 1,
        "token_types": zeros,
        "starts": starts,
        "ends": ends,
    }
    loss, aux = span_loss(model, batch, None)
    rows = np.arange(b)
    expected = -0.5 * (_log_softmax(start)[rows, starts].mean() + _log_softmax(end)[rows, ends].mean())
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)
    np.testing.assert_allclose(float(aux["end_accuracy"]), np.mean(end.argmax(-1) == ends))
    scores = span_scores(start, end, {"starts": starts, "ends": ends})
    np.testing.assert_allclose(scores["eval_loss"], expected, rtol=1e-6)


def test_bad_answer_and_missing_field_name_the_record(tmp_path, capsys) -> None:
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
    runs = tmp_path / "runs"  # the command: one line on stderr, exit 2, nothing written
    with pytest.raises(SystemExit) as exit_:
        run_cli(train.main, ["finetune", "--init=unused", f"--task={path}", f"--out_dir={runs}"])
    err = capsys.readouterr().err
    assert (
        exit_.value.code == 2 and err.count("\n") == 1 and "qa.json: question q2" in err and not runs.exists()
    )
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


# --- the task (minilm.tasks.qa) on a tiny BERT saved as a model folder ------------------------------

TASK_LEN = 48


@pytest.fixture(scope="module")
def tiny_bert_folder(tmp_path_factory) -> str:
    tok = wordpiece()
    cfg = TransformerConfig.bert(
        vocab_size=tok.get_vocab_size(),
        max_len=TASK_LEN,
        n_layer=2,
        n_head=2,
        d_model=32,
        d_ff=64,
        dropout=0.0,
    )
    folder = tmp_path_factory.mktemp("tiny_bert")
    save_model(folder, BERT(cfg, rngs=nnx.Rngs(0)), {"model": cfg.to_dict(), "architecture": "bert"})
    (folder / "tokenizer.json").write_text(tok.to_str())
    return str(folder)


@pytest.fixture(scope="module")
def world_task(tiny_bert_folder):
    task = get_task("world_qa")
    data = task.load()
    options = QAOptions(doc_stride=TASK_LEN // 2, max_query_len=16, max_answer_len=8)
    tuned = task.build(tiny_bert_folder, "full", FullConfig(), 0, options, None)
    test = data.test[:100]
    arrays = task.arrays(tuned, {"train": data.train, "test": test}, TASK_LEN)
    return task, data, options, tuned, test, arrays


def test_task_scores_are_the_official_squad_scores(world_task) -> None:
    task, data, options, tuned, test, arrays = world_task
    metrics = task.evaluate(tuned, test, arrays["test"], options)
    start, end = span_predictor(tuned.model)(tuned.model, arrays["test"])
    answers = predict_answers(
        arrays["test"], start, end, [r["context"] for r in test], options.max_answer_len
    )
    predictions = {r["id"]: a for r, a in zip(test, answers, strict=True)}
    asked = {r["id"] for r in test}
    official = [  # the generated SQuAD JSON itself, cut to the questions scored
        {
            **article,
            "paragraphs": [
                {**p, "qas": [q for q in p["qas"] if q["id"] in asked]} for p in article["paragraphs"]
            ],
        }
        for article in data.raw["test"]["data"]
    ]
    expected = squad.evaluate(official, predictions)
    assert metrics["exact_match"] == expected["exact_match"] and metrics["f1"] == expected["f1"]
    assert metrics["label_round_trip_percent"] == 100.0 and metrics["questions"] == 100
    assert set(task.headline(metrics)) == {"exact_match", "f1"}


def test_tiny_bert_learns_world_qa(world_task, tmp_path) -> None:
    task, data, options, tuned, test, arrays = world_task
    model = nnx.merge(*nnx.split(tuned.model))  # a copy: the other tests keep the untrained model
    copy = tuned._replace(model=model)
    before = task.evaluate(copy, test, arrays["test"], options)
    train = TrainConfig(steps=120, batch_size=32, lr=5e-3, warmup_steps=12, eval_every=60, ckpt_every=10**6)
    fit(model, task.loss, ExampleBatches(arrays["train"], 32, 0), train, tmp_path, trainable=copy.trainable,
        eval_fn=task.validator(copy, arrays["test"]))  # fmt: skip
    after = task.evaluate(copy, test, arrays["test"], options)
    chance = max(before["exact_match"], task.baseline(data.train, test)["frequent_answer_exact_match"])
    assert after["exact_match"] > chance + 8 and after["f1"] > before["f1"] + 8
    assert (
        "qa_f1_by_length.png" in task.report(after, tmp_path) and (tmp_path / "qa_f1_by_length.png").is_file()
    )


def test_xquad_is_split_by_article(data_root) -> None:
    task = get_task("xquad")
    data = task.load(data_root, seed=0)
    titles = {split: [a["title"] for a in data.raw[split]["data"]] for split in ("train", "dev", "test")}
    assert [len(titles[s]) for s in ("train", "dev", "test")] == [19, 5, 24]
    assert sorted(sum(titles.values(), [])) == sorted(
        a["title"] for a in load_dataset("xquad", data_root).raw["test"]["data"]
    )
    contexts = {s: {r["context"] for r in getattr(data, s)} for s in ("dev", "test")}
    assert (
        not contexts["dev"] & contexts["test"] and not {r["context"] for r in data.train} & contexts["test"]
    )
    world = load_world("world_qa").splits["train"]
    assert data.train[: len(world)] == world and len(data.test) == sum(
        len(p["qas"]) for a in data.raw["test"]["data"] for p in a["paragraphs"]
    )
    again, other = task.load(data_root, seed=0), task.load(data_root, seed=1)
    assert [r["id"] for r in again.test] == [r["id"] for r in data.test]
    assert {r["id"] for r in other.test} != {r["id"] for r in data.test}


def test_qa_run_trains_from_the_cli_and_evaluate_task_scores_it_again(tiny_bert_folder, tmp_path, capsys):
    from minilm.cli import evaluate

    argv = ["finetune", f"--init={tiny_bert_folder}", "--task=world_qa", f"--max_len={TASK_LEN}", "--steps=2"]
    argv += ["--batch_size=8", "--eval_every=2", "--max_eval=40", "--progress=false", f"--out_dir={tmp_path}"]
    assert train.main([*argv, "--name=qa"]) == 0
    report = json.loads((tmp_path / "qa" / "report.json").read_text())
    capsys.readouterr()
    assert evaluate.main(["task", str(tmp_path / "qa"), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["task"] == "world_qa" and scored["exact_match"] == report["test_exact_match"]
    with pytest.raises(SystemExit) as exit_:
        run_cli(evaluate.main, ["task", str(tmp_path / "qa"), "--oos_threshold=0.5"])
    assert exit_.value.code == 2 and "not a classification task" in capsys.readouterr().err
