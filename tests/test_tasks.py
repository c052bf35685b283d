"""The tasks of minilm.tasks: input formats (pair separators, token types, truncation), the registry,
each classification task's metric against minilm.metrics and scikit-learn, CLINC150's out-of-scope
scores, and train.py finetune / evaluate.py task end to end on generated data with a tiny GPT and BERT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from minilm.cli.evaluate import main as evaluate_main
from minilm.cli.train import main as train_main
from minilm.data.dataset import Dataset
from minilm.data.splits import task_splits
from minilm.data.tokenizer import CLS, EOS, SEP, encode_padded, encode_segments, train_bpe
from minilm.data.world import generate_corpus
from minilm.errors import UserError, run_cli
from minilm.finetune.freeze import FullConfig
from minilm.metrics.classification import accuracy, out_of_scope_scores, precision_recall_f1
from minilm.objectives.classification import classifier_predictor
from minilm.tasks import TASKS, get_task
from minilm.tasks.classification import ClassificationTask, ClassifyOptions
from minilm.tasks.run import load_run

TINY = ["--steps=2", "--batch_size=8", "--eval_every=2", "--max_eval=16", "--max_len=24", "--progress=false"]
VOCAB = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "<|endoftext|>": 4}
VOCAB |= {w: i + 5 for i, w in enumerate("a b c d e f g h".split())}


def _word_tokenizer(template: bool) -> Tokenizer:
    """A word-level tokenizer; ``template``: BERT's [CLS] $A [SEP] $B:1 [SEP]:1 post-processor."""
    tok = Tokenizer(models.WordLevel(VOCAB, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if template:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", 1), ("[SEP]", 2)],
        )
    return tok


def _longest_first(a: list, b: list, room: int) -> tuple[list, list]:
    """transformers' truncation="longest_first", one token at a time (the reference)."""
    while len(a) + len(b) > room:
        if len(a) > len(b):
            a = a[:-1]
        else:
            b = b[:-1]
    return a, b


# --- input formats ------------------------------------------------------------------------------------


def test_bert_pair_equals_the_tokenizers_own_pair_template():
    tok = _word_tokenizer(template=True)
    firsts, seconds = ["a b c", "d"], ["e f", "g h a b"]
    out = encode_segments(tok, firsts, 12, causal=False, seconds=seconds)
    for i, (a, b) in enumerate(zip(firsts, seconds, strict=True)):
        ref = tok.encode(a, b)
        n = len(ref.ids)
        np.testing.assert_array_equal(out["tokens"][i, :n], ref.ids)
        np.testing.assert_array_equal(out["token_types"][i, :n], ref.type_ids)
        assert out["attention_mask"][i].sum() == n and (out["tokens"][i, n:] == VOCAB["[PAD]"]).all()
    # [CLS] a b c [SEP] | e f [SEP]
    np.testing.assert_array_equal(out["token_types"][0, :8], [0, 0, 0, 0, 0, 1, 1, 1])


@pytest.mark.parametrize("la, lb, max_len", [(9, 2, 8), (2, 9, 8), (6, 6, 9), (7, 5, 10), (5, 7, 6)])
def test_pair_truncation_is_longest_first_and_keeps_both_texts(la, lb, max_len):
    tok = _word_tokenizer(template=True)
    words = "a b c d e f g h a b c".split()
    a, b = " ".join(words[:la]), " ".join(words[-lb:])
    out = encode_segments(tok, [a], max_len, causal=False, seconds=[b])
    ids_a, ids_b = [VOCAB[w] for w in a.split()], [VOCAB[w] for w in b.split()]
    keep_a, keep_b = _longest_first(ids_a, ids_b, max_len - 3)
    assert keep_a and keep_b
    expected = [1, *keep_a, 2, *keep_b, 2]
    np.testing.assert_array_equal(out["tokens"][0, : len(expected)], expected)
    assert out["attention_mask"][0].sum() == len(expected) <= max_len


def test_gpt_pair_has_a_delimiter_and_ends_with_the_extract_token():
    ours = train_bpe(generate_corpus(seed=0)[:200], vocab_size=300)
    out = encode_segments(ours, ["the cat"], 16, causal=True, seconds=["a dog"])
    a = ours.encode("the cat", add_special_tokens=False).ids
    b = ours.encode("a dog", add_special_tokens=False).ids
    row = [*a, SEP, *b, EOS]
    np.testing.assert_array_equal(out["tokens"][0, : len(row)], row)
    # a minilm BERT: <cls> a <sep> b <sep>, types 0 then 1
    bert = encode_segments(ours, ["the cat"], 16, causal=False, seconds=["a dog"])
    np.testing.assert_array_equal(bert["tokens"][0, : len(row) + 1], [CLS, *a, SEP, *b, SEP])
    np.testing.assert_array_equal(
        bert["token_types"][0, : len(row) + 1], [0] * (len(a) + 2) + [1] * (len(b) + 1)
    )
    # GPT-2: its end-of-text token is the delimiter
    gpt2 = encode_segments(_word_tokenizer(template=False), ["a b"], 8, causal=True, seconds=["c"])
    np.testing.assert_array_equal(gpt2["tokens"][0, :4], [5, 6, 4, 7])
    with pytest.raises(UserError, match="a GPT-2 needs it between the texts"):
        encode_segments(
            Tokenizer(models.WordLevel({"x": 0}, unk_token="x")), ["x"], 8, causal=True, seconds=["x"]
        )


@pytest.mark.parametrize("template", [True, False])
def test_single_sentences_encode_as_before(template):
    """One text: the same rows as encode_padded (what train.py finetune fed before tasks/), for a BERT
    tokenizer's template and for a GPT's (minilm's own appends <eos>)."""
    texts = ["a b c d e f g h a b", "c", "d e"]
    tok = _word_tokenizer(template)
    out = encode_segments(tok, texts, 6, causal=not template)
    tokens, mask = encode_padded(tok, texts, 6)
    np.testing.assert_array_equal(out["tokens"], tokens)
    np.testing.assert_array_equal(out["attention_mask"], mask)
    ours = train_bpe(generate_corpus(seed=0)[:200], vocab_size=300)
    out = encode_segments(ours, ["the cat sat on the mat", "a"], 5, causal=True)
    np.testing.assert_array_equal(out["tokens"], encode_padded(ours, ["the cat sat on the mat", "a"], 5)[0])


# --- registry and data ----------------------------------------------------------------------------------


def test_registry_and_unknown_task():
    for name in ("sst2", "sick", "glue_rte", "clinc150", "snips", "trec", "trec_fine", "ag_news"):
        task = TASKS[name]
        assert task.dataset == name and TASKS[task.twin].kind == task.kind
    assert TASKS["clinc150"].metric == "in_scope_accuracy" and TASKS["sick"].kind == "pair_classification"
    with pytest.raises(UserError, match=r"unknown task 'sick2' \(did you mean 'sick'\?\); known: sst2"):
        get_task("sick2")


def test_a_dataset_with_one_split_is_split_80_10_10():
    records = [{"text": str(i), "label": "x"} for i in range(50)]
    ds = Dataset("ag", "classification", {"test": records}, ("x",), "memory")
    train, dev, test, labels = task_splits(ds, seed=3)
    assert (len(train), len(dev), len(test)) == (40, 5, 5) and labels == ("x",)
    assert sorted(r["text"] for r in train + dev + test) == sorted(r["text"] for r in records)


def test_out_of_scope_scores_by_hand():
    gold = ["a", "b", "oos", "oos", "a", "oos"]
    pred = ["a", "oos", "oos", "b", "a", "oos"]
    # in scope: a->a ok, b->oos wrong, a->a ok: 2/3; oos: 2 of 3 found
    assert out_of_scope_scores(gold, pred, "oos") == {"in_scope_accuracy": 2 / 3, "oos_recall": 2 / 3}
    assert out_of_scope_scores(["a"], ["a"], "oos") == {"in_scope_accuracy": 1.0, "oos_recall": None}


# --- models: a tiny GPT and BERT pretrained by train.py lm ---------------------------------------------


@pytest.fixture(scope="module")
def backbones(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tasks")
    corpus = out / "corpus.txt"
    corpus.write_text("\n".join(generate_corpus(seed=0)[:400]) + "\n")
    for arch in ("gpt", "bert"):
        lm = ["lm", f"--arch={arch}", "--n_layer=1", "--n_head=2", "--d_model=16", "--max_len=32"]
        lm += ["--vocab_size=300", "--steps=2", "--batch_size=4", "--eval_every=2", "--warmup_steps=0"]
        assert (
            train_main([*lm, "--progress=false", f"--data={corpus}", f"--out_dir={out}", f"--name={arch}"])
            == 0
        )
    return out


@pytest.mark.parametrize("name", sorted(n for n, t in TASKS.items() if t.twin != n))
def test_each_tasks_metric_equals_minilm_metrics_and_sklearn(backbones, name):
    """On 40 examples of its generated twin: the task's numbers are those of minilm.metrics (and
    scikit-learn) on its own predictions."""
    task = TASKS[name]
    data = task.load(twin=True)
    labels = data.labels if task.oos_label is None else (*data.labels, task.oos_label)
    tuned = task.build(str(backbones / "bert"), "full", FullConfig(), 0, ClassifyOptions(), labels)
    records = data.test[:40]
    arrays = task.arrays(tuned, {"test": records}, 24)["test"]
    assert ("token_types" in arrays) and arrays["token_types"].any() == (task.kind == "pair_classification")
    metrics = task.evaluate(tuned, records, arrays, ClassifyOptions())
    pred = [labels[i] for i in classifier_predictor(tuned.model)(tuned.model, arrays).argmax(-1)]
    gold = [r["label"] for r in records]
    assert metrics["accuracy"] == accuracy(gold, pred) == pytest.approx(skm.accuracy_score(gold, pred))
    assert metrics["macro_f1"] == precision_recall_f1(gold, pred, "macro").f1
    assert metrics["macro_f1"] == pytest.approx(skm.f1_score(gold, pred, average="macro", zero_division=0))
    assert metrics[task.metric] is not None and set(task.headline(metrics)) >= {"accuracy", "macro_f1"}


def test_oos_threshold_predicts_out_of_scope_below_it(backbones):
    clinc = TASKS["clinc150"]
    records = clinc.load(twin=True).test[:30]
    labels = sorted({r["label"] for r in records}) + ["oos"]
    records = [{**r, "label": "oos"} if i < 10 else r for i, r in enumerate(records)]
    tuned = clinc.build(str(backbones / "gpt"), "full", FullConfig(), 0, ClassifyOptions(), labels)
    arrays = clinc.arrays(tuned, {"test": records}, 24)["test"]
    logits = classifier_predictor(tuned.model)(tuned.model, arrays)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    threshold = float(np.median(probs.max(-1)))
    pred = [
        labels[i] if p.max() >= threshold else "oos" for i, p in zip(logits.argmax(-1), probs, strict=True)
    ]
    got = clinc.evaluate(tuned, records, arrays, ClassifyOptions(oos_threshold=threshold))
    gold = [r["label"] for r in records]
    assert {k: got[k] for k in ("in_scope_accuracy", "oos_recall")} == out_of_scope_scores(gold, pred, "oos")
    assert got["accuracy"] == accuracy(gold, pred)


# --- the commands ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(backbones) -> Path:
    for arch, task, pooling in (("bert", "world_nli", "auto"), ("gpt", "world_nli", "mean")):
        argv = [
            "finetune",
            f"--init={backbones / arch}",
            f"--task={task}",
            f"--pooling={pooling}",
            "--method=lora",
        ]
        assert train_main([*argv, *TINY, f"--out_dir={backbones}", f"--name=ft-{arch}"]) == 0
    return backbones


@pytest.mark.parametrize("arch, pooling", [("bert", "cls"), ("gpt", "mean")])
def test_finetune_on_a_pair_twin_and_evaluate_task_round_trip(runs, arch, pooling, capsys):
    run = runs / f"ft-{arch}"
    report = json.loads((run / "report.json").read_text())
    assert {"test_accuracy", "test_macro_f1", "dev_accuracy", "majority_accuracy"} <= set(report)
    assert (run / "confusion.png").stat().st_size > 0 and "confusion.png" in (run / "report.md").read_text()
    task, tuned = load_run(run, trains=False)
    assert task.name == "world_nli" and tuned.meta["pooling"] == pooling and tuned.meta["max_len"] == 24
    capsys.readouterr()
    assert evaluate_main(["task", str(run), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["task"] == "world_nli" and scored["accuracy"] == report["test_accuracy"]
    out = Path(scored["out"])
    assert out == run / "eval-world_nli-test"
    assert {p.name for p in out.iterdir()} == {"report.md", "report.json", "metrics.jsonl", "confusion.png"}
    assert json.loads((out / "metrics.jsonl").read_text())["accuracy"] == report["test_accuracy"]


def test_a_task_file_trains_and_a_file_of_another_run_is_scored_whole(runs, tmp_path, capsys):
    rows = [("premise", "hypothesis", "label")]
    rows += [(r["premise"], r["hypothesis"], r["label"]) for r in get_task("world_nli").load().test[:60]]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join("\t".join(row) + "\n" for row in rows))
    capsys.readouterr()
    assert evaluate_main(["task", str(runs / "ft-bert"), f"--task={pairs}", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["split"] == "all"
    assert sum(map(sum, scored["confusion_matrix"]["matrix"])) == 60


def _one_line_error(main, argv, capsys, *unwritten: Path) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1, err
    for path in unwritten:
        assert not path.exists(), path
    return err


def test_bad_input_is_one_line_and_writes_nothing(runs, tmp_path, capsys):
    run = runs / "ft-bert"
    single = tmp_path / "single.csv"
    single.write_text("text,label\n" + "a cat,entailment\n" * 12)
    err = _one_line_error(
        evaluate_main, ["task", str(run), f"--task={single}"], capsys, run / "eval-single-all"
    )
    assert "holds single sentences; the model" in err and "reads sentence pairs" in err
    odd = tmp_path / "odd.tsv"
    odd.write_text("premise\thypothesis\tlabel\n" + "a\tb\tentailment\nc\td\tmaybe\n" * 6)
    err = _one_line_error(evaluate_main, ["task", str(run), f"--task={odd}"], capsys, run / "eval-odd-all")
    assert (
        "example 2: label 'maybe' is not one of the task's labels (entailment, neutral, contradiction)" in err
    )
    columns = tmp_path / "columns.csv"
    columns.write_text("sentence,stars\n" + "fine,5\n" * 20)
    init = f"--init={runs / 'gpt'}"
    err = _one_line_error(
        train_main,
        ["finetune", init, f"--task={columns}", f"--out_dir={tmp_path / 'r'}"],
        capsys,
        tmp_path / "r",
    )
    assert "cannot tell the task from the columns sentence, stars" in err
    err = _one_line_error(
        train_main, ["finetune", init, "--task=trek", f"--out_dir={tmp_path / 'r'}"], capsys
    )
    assert "unknown task 'trek' (did you mean 'trec'?)" in err and not (tmp_path / "r").exists()


def test_a_file_task_is_a_classification_task_of_its_kind(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("text,label\ngood,pos\nbad,neg\n")
    task = get_task(str(path))
    assert (
        isinstance(task, ClassificationTask) and task.kind == "classification" and task.metric == "accuracy"
    )
