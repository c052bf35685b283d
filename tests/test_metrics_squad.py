"""SQuAD v1.1 EM / F1 against the official evaluation script's rules (tolerance 1e-9).

The oracle below is the answer normalisation and scoring of the official ``evaluate-v1.1.py``
(Rajpurkar et al. 2016), restated in its original form so that our implementation is compared with
the published algorithm rather than with itself.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilm.metrics import squad

TOL = 1e-9


# --- the official v1.1 rules -----------------------------------------------------------------------
def official_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def official_f1(prediction, ground_truth):
    prediction_tokens = official_normalize(prediction).split()
    ground_truth_tokens = official_normalize(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def official_evaluate(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    continue
                golds = [x["text"] for x in qa["answers"]]
                pred = predictions[qa["id"]]
                exact_match += max(official_normalize(pred) == official_normalize(g) for g in golds)
                f1 += max(official_f1(pred, g) for g in golds)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


# ---------------------------------------------------------------------------------------------------
PIECES = [
    "The", "the", "a", "An", "an", "theater", "Denver", "Broncos", "1,000", "3.5", "U.S.", "it's",
    "(", ")", "-", "--", ",", ".", "!", "Über", "café", "the_end", "a's", "  ", "\t", "«", "»", "”",
]  # fmt: skip
answer_st = st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=8).map(" ".join)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(answer_st, answer_st)
def test_normalisation_em_f1_match_official(prediction, gold):
    assert squad.normalize_answer(prediction) == official_normalize(prediction)
    assert squad.exact_match(prediction, gold) == float(
        official_normalize(prediction) == official_normalize(gold)
    )
    assert abs(squad.f1(prediction, gold) - official_f1(prediction, gold)) <= TOL


def test_hand_computed():
    assert squad.normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert squad.exact_match("the Broncos", "Broncos.") == 1.0
    assert squad.f1("Denver Broncos team", "the Denver Broncos") == pytest.approx(
        2 * (2 / 3) * 1 / (2 / 3 + 1)
    )
    assert squad.f1("the", "a") == 0.0 and squad.exact_match("the", "a") == 1.0  # both normalise to ""


def make_dataset(rng):
    data, predictions = [], {}
    for a in range(3):
        paragraphs = []
        for p in range(3):
            qas = []
            for q in range(4):
                qid = f"q{a}{p}{q}"
                golds = [
                    " ".join(rng.choice(PIECES, int(rng.integers(1, 5))))
                    for _ in range(int(rng.integers(1, 4)))
                ]
                qas.append(
                    {"id": qid, "question": "?", "answers": [{"text": g, "answer_start": 0} for g in golds]}
                )
                if rng.random() < 0.85:  # some questions stay unanswered and score 0
                    predictions[qid] = golds[0] if rng.random() < 0.4 else " ".join(rng.choice(PIECES, 3))
            paragraphs.append({"context": "...", "qas": qas})
        data.append({"title": str(a), "paragraphs": paragraphs})
    return data, predictions


def test_evaluate_matches_official():
    rng = np.random.default_rng(0)
    for _ in range(30):
        data, predictions = make_dataset(rng)
        ours, ref = squad.evaluate(data, predictions), official_evaluate(data, predictions)
        assert ours.keys() == ref.keys()
        assert all(abs(ours[k] - ref[k]) <= TOL for k in ref)


def test_real_xquad(data_root):
    """XQuAD English (SQuAD v1.1 dev questions): gold-derived predictions, truncated and perturbed."""
    data = json.loads((data_root / "xquad" / "xquad.en.json").read_text(encoding="utf-8"))["data"]
    rng = np.random.default_rng(1)
    predictions = {}
    for qid, golds in squad.questions(data):
        words = golds[0].split()
        predictions[qid] = " ".join(
            words[: int(rng.integers(0, len(words) + 2))] + ["the", "extra"][: rng.integers(0, 3)]
        )
    ours, ref = squad.evaluate(data, predictions), official_evaluate(data, predictions)
    assert len(squad.questions(data)) == 1190
    assert all(abs(ours[k] - ref[k]) <= TOL for k in ref)
