"""``python evaluate.py`` metric commands, run as subprocesses: --json keys, tables, and bad input.

Every invocation runs the real ``python evaluate.py`` (which imports only the module of the command
asked for).  All of them start together in a module-scoped fixture, and the tests then inspect their
results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sacrebleu

ROOT = Path(__file__).resolve().parents[1]

FILES = {
    "hyp.txt": "The cat sat on the mat.\nA dog, barking loudly!\nHello world\n",
    "ref.txt": "The cat is on the mat.\nThe dog barked loudly!\nHello, world\n",
    "ref2.txt": "A cat sat on a mat.\nA dog was barking.\nhello world\n",
    "short.txt": "one line\n",
    "empty.txt": "",
    "sum_hyp.txt": "the cats sat down\\nthey were happy\nrunning dogs\n",
    "sum_ref.txt": "the cat sat\\nit was happy today\ndogs were running\n",
    "gold.txt": "pos\nneg\npos\nneu\npos\n",
    "pred.txt": "pos\npos\nneg\nneu\npos\n",
    "blank_label.txt": "pos\n\npos\nneu\npos\n",
    "squad.json": json.dumps({"version": "1.1", "data": [{"paragraphs": [{"context": "c", "qas": [
        {"id": "q1", "answers": [{"text": "Denver Broncos"}]},
        {"id": "q2", "answers": [{"text": "308"}, {"text": "308 points"}]},
        {"id": "q3", "answers": [{"text": "Santa Clara"}]}]}]}]}),
    "squad_pred.json": json.dumps({"q1": "the Denver Broncos", "q2": "308 pts"}),
    "squad_noanswers.json": json.dumps({"data": [{"paragraphs": [{"qas": [{"id": "q1", "answers": []}]}]}]}),
    "bad.json": '{"q1": "a",\n "q2": oops}\n',
    "list.json": '["a", "b"]\n',
    "labels.jsonl": '{"sensible": true, "specific": true}\n{"sensible": true, "specific": false}\n'
                    '{"sensible": false}\n{"sensible": true, "specific": true}\n',
    "bad_labels.jsonl": '{"sensible": true, "specific": true}\n{"sensible": tru}\n',
    "nosense.jsonl": '{"specific": true}\n',
    "x.txt": "1\n2\n3\n4\n5\n",
    "y.txt": "2\n1\n4\n3\n5.5\n",
    "const.txt": "7\n7\n7\n7\n7\n",
    "words.txt": "1\n2\nthree\n4\n5\n",
    "one.txt": "1\n",
    "responses.jsonl": '{"context": ["Hi", "Hello!"], "response": "How are you?"}\n'
                       '{"context": "Favourite food?", "response": "ok"}\n',
}  # fmt: skip
FILES_BYTES = {"latin1.txt": "caf\xe9\n".encode("latin-1")}

# name -> (arguments, stdin); every case runs through the real evaluate.py
OK = {
    "bleu_json": ("bleu --hyp hyp.txt --ref ref.txt --ref ref2.txt --json", None),
    "bleu_text": ("bleu --hyp hyp.txt --ref ref.txt --smooth floor --lowercase", None),
    "rouge_json": ("rouge --hyp sum_hyp.txt --ref sum_ref.txt --stem --json", None),
    "rouge_text": ("rouge --hyp sum_hyp.txt --ref sum_ref.txt", None),
    "cls_json": ("classification --gold gold.txt --pred pred.txt --positive pos --json", None),
    "cls_text": ("classification --gold gold.txt --pred pred.txt", None),
    "squad_json": ("squad --data squad.json --pred squad_pred.json --json", None),
    "ssa_json": ("ssa --labels labels.jsonl --json", None),
    "ssa_text": ("ssa --labels labels.jsonl", None),
    "corr_json": ("correlation --x x.txt --y y.txt --json", None),
    "corr_const": ("correlation --x x.txt --y const.txt --json", None),
    "ssa_label": ("ssa-label --input responses.jsonl --output new_labels.jsonl", "y\ny\nn\n"),
}
# name -> (arguments, words the one-line error must contain)
BAD = {
    "line_counts": ("bleu --hyp hyp.txt --ref short.txt", ["hyp.txt has 3 lines", "short.txt has 1"]),
    "missing": ("bleu --hyp nope.txt --ref ref.txt", ["nope.txt", "no such file"]),
    "empty": ("rouge --hyp empty.txt --ref ref.txt", ["empty.txt", "empty"]),
    "not_utf8": ("classification --gold latin1.txt --pred latin1.txt", ["latin1.txt:1", "UTF-8"]),
    "blank_label": (
        "classification --gold blank_label.txt --pred pred.txt",
        ["blank_label.txt:2", "empty label"],
    ),
    "positive": ("classification --gold gold.txt --pred pred.txt --positive cat", ["--positive 'cat'"]),
    "smooth_value": ("bleu --hyp hyp.txt --ref ref.txt --smooth-value 0.2", ["--smooth-value"]),
    "squad_bad_json": ("squad --data squad.json --pred bad.json", ["bad.json:2", "not valid JSON"]),
    "squad_pred_list": ("squad --data squad.json --pred list.json", ["list.json", "question id"]),
    "squad_no_answers": ("squad --data squad_noanswers.json --pred squad_pred.json", ["qas[0]", "answers"]),
    "squad_not_squad": ("squad --data list.json --pred squad_pred.json", ["list.json", "'data'"]),
    "ssa_bad_jsonl": ("ssa --labels bad_labels.jsonl", ["bad_labels.jsonl:2", "not valid JSON"]),
    "ssa_missing_key": ("ssa --labels nosense.jsonl", ["nosense.jsonl:1", "'sensible'"]),
    "corr_words": ("correlation --x words.txt --y x.txt", ["words.txt:3", "number"]),
    "corr_one": ("correlation --x one.txt --y one.txt", ["at least 2"]),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("cli")
    for name, text in FILES.items():
        (work / name).write_text(text, encoding="utf-8")
    for name, data in FILES_BYTES.items():
        (work / name).write_bytes(data)

    def run(item: tuple[str, tuple[str, str | None]]) -> tuple[str, subprocess.CompletedProcess]:
        name, (args, stdin) = item
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return name, subprocess.run(
            [sys.executable, str(ROOT / "evaluate.py"), *args.split()], cwd=work, env=env, input=stdin,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    cases = {**OK, **{name: (args, None) for name, (args, _) in BAD.items()}}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(pool.map(run, cases.items()))
    results["_dir"] = work
    return results


def ok_json(runs, name: str) -> dict:
    result = runs[name]
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().split("\n")
    assert len(lines) == 1, "--json prints exactly one JSON object"
    return json.loads(lines[0])


def test_bleu(runs):
    out = ok_json(runs, "bleu_json")
    assert set(out) == {"score", "precisions", "bp", "sys_len", "ref_len", "signature"}
    hyps, r1, r2 = (FILES[f].split("\n")[:-1] for f in ("hyp.txt", "ref.txt", "ref2.txt"))
    assert (
        abs(out["score"] - sacrebleu.corpus_bleu(hyps, [r1, r2]).score) <= 1e-6
        and len(out["precisions"]) == 4
    )
    assert out["signature"].startswith("nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    text = runs["bleu_text"]
    assert text.returncode == 0 and text.stdout.startswith(
        "BLEU|nrefs:1|case:lc|eff:no|tok:13a|smooth:floor[0.10]|"
    )


def test_rouge(runs):
    from rouge_score import rouge_scorer

    out = ok_json(runs, "rouge_json")
    assert set(out) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    assert all(set(v) == {"precision", "recall", "f1"} for v in out.values())
    scorer = rouge_scorer.RougeScorer(list(out), use_stemmer=True)
    pairs = zip(FILES["sum_ref.txt"].split("\n")[:-1], FILES["sum_hyp.txt"].split("\n")[:-1], strict=True)
    scores = [scorer.score(r.replace("\\n", "\n"), h.replace("\\n", "\n")) for r, h in pairs]
    for kind in out:
        assert abs(out[kind]["f1"] - sum(s[kind].fmeasure for s in scores) / len(scores)) <= 1e-6
    assert runs["rouge_text"].returncode == 0 and "rougeLsum" in runs["rouge_text"].stdout


def test_classification(runs):
    out = ok_json(runs, "cls_json")
    assert set(out) == {"accuracy", "micro", "macro", "weighted", "per_class", "confusion_matrix", "binary"}
    assert out["accuracy"] == pytest.approx(0.6)
    assert out["confusion_matrix"] == {
        "labels": ["neg", "neu", "pos"],
        "matrix": [[0, 0, 1], [0, 1, 0], [1, 0, 2]],
    }
    assert out["per_class"]["pos"] == {"precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3),
                                       "f1": pytest.approx(2 / 3), "support": 3}  # fmt: skip
    assert out["binary"]["label"] == "pos"
    assert runs["cls_text"].returncode == 0 and "weighted avg" in runs["cls_text"].stdout


def test_squad(runs):
    out = ok_json(runs, "squad_json")
    assert set(out) == {"exact_match", "f1"}
    # q1 exact; q2 F1 max("308 pts" vs "308" = 2/3, vs "308 points" = 1/2); q3 unanswered
    assert out["exact_match"] == pytest.approx(100 / 3) and out["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)
    assert "1 of 3 questions have no prediction" in runs["squad_json"].stderr


def test_ssa(runs):
    assert ok_json(runs, "ssa_json") == {"sensibleness": 0.75, "specificity": 0.5, "ssa": 0.625, "n": 4}
    assert runs["ssa_text"].returncode == 0 and "SSA" in runs["ssa_text"].stdout


def test_ssa_label_from_piped_answers(runs):
    assert runs["ssa_label"].returncode == 0, runs["ssa_label"].stderr
    labels = [json.loads(x) for x in (runs["_dir"] / "new_labels.jsonl").read_text().splitlines()]
    assert [(x["item"], x["sensible"], x["specific"]) for x in labels] == [(0, True, True), (1, False, False)]


def test_correlation(runs):
    out = ok_json(runs, "corr_json")
    assert set(out) == {"pearson", "spearman"} and out["spearman"] == pytest.approx(0.8)
    assert ok_json(runs, "corr_const") == {"pearson": None, "spearman": None}  # constant input: undefined


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_one_line_exit_2(runs, name):
    result = runs[name]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in BAD[name][1]:
        assert word in lines[0]
