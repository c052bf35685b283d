"""ROUGE against rouge-score's RougeScorer (tolerance 1e-6) and the textbook forms of minilm.reference
(bit-parallel LCS against the dynamic programme), and the Porter stemmer against NLTK's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.stem.porter import PorterStemmer
from rouge_score import rouge_scorer

import minilm.reference as reference
from minilm.metrics import porter, rouge

TOL = 1e-6
WORDS = [
    "The", "cat", "cats", "sat", "sitting", "on", "the", "mat", "mats.", "a", "dog", "dogs,", "running",
    "runs", "generalization", "generalizes", "happily", "happy", "it's", "naïve", "Über", "42", "x-y",
    "(parenthesis)", "e-mail", "relational", "conditional", "\n", ".\n", "\n\n", "  ", "—", "İ",
]  # fmt: skip


@pytest.fixture(scope="module")
def scorers():
    types = list(rouge.ROUGE_TYPES)
    return {stem: rouge_scorer.RougeScorer(types, use_stemmer=stem) for stem in (False, True)}


def random_text(rng: np.random.Generator, max_len: int = 25) -> str:
    return " ".join(WORDS[i] for i in rng.integers(0, len(WORDS), int(rng.integers(0, max_len + 1))))


def assert_close(ours: dict, ref: dict) -> None:
    for kind in rouge.ROUGE_TYPES:
        got, want = ours[kind], ref[kind]
        assert abs(got.precision - want.precision) <= TOL, kind
        assert abs(got.recall - want.recall) <= TOL, kind
        assert abs(got.f1 - want.fmeasure) <= TOL, kind


@pytest.mark.parametrize("stem", [False, True])
def test_random_pairs_match_rouge_score(scorers, stem):
    rng = np.random.default_rng(int(stem))
    for _ in range(300):
        target, prediction = random_text(rng), random_text(rng)
        if rng.random() < 0.5:  # overlapping pairs, so that LCS / n-gram matches are long
            prediction = " ".join(w for w in target.split(" ") if rng.random() < 0.8) + " " + prediction[:20]
        assert_close(rouge.rouge(target, prediction, stem=stem), scorers[stem].score(target, prediction))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.text(max_size=80), st.text(max_size=80))
def test_arbitrary_unicode_matches_rouge_score(scorers, target, prediction):
    assert_close(rouge.rouge(target, prediction, stem=True), scorers[True].score(target, prediction))


@pytest.mark.parametrize(
    "target, prediction",
    [
        ("", "the cat"),  # empty target
        ("the cat", ""),  # empty prediction
        ("!!! ...", "?? --"),  # punctuation only: no tokens
        ("the cat sat", "the cat sat"),  # identical
        ("a a a a", "a"),  # clipped counts
        ("the cat sat on the mat", "the mat sat on the cat and the dog"),  # prediction longer
        ("first sentence here\nsecond one there", "second one\nfirst sentence"),  # Lsum with two sentences
        ("a b a b\n\nb a", "a b\nb a b a\n"),  # repeated tokens across sentences (double-count guard)
    ],
)
def test_edge_cases(scorers, target, prediction):
    for stem in (False, True):
        assert_close(rouge.rouge(target, prediction, stem=stem), scorers[stem].score(target, prediction))


def test_hand_computed_rouge():
    s = rouge.rouge("the cat sat on the mat", "the cat on the mat", types=("rouge1", "rouge2", "rougeL"))
    assert s["rouge1"].precision == 1 and s["rouge1"].recall == pytest.approx(5 / 6)
    assert s["rouge2"].precision == pytest.approx(3 / 4)  # the cat / on the / the mat of 4 bigrams
    assert s["rougeL"].recall == pytest.approx(5 / 6)


def test_lcs_length_equals_dynamic_programming():
    rng = np.random.default_rng(3)
    for _ in range(300):
        a = [str(x) for x in rng.integers(0, 4, int(rng.integers(0, 30)))]
        b = [str(x) for x in rng.integers(0, 4, int(rng.integers(0, 30)))]
        assert rouge.lcs_length(a, b) == rouge_scorer._lcs_table(a, b)[-1][-1]


def test_rouge_n_and_l_match_reference():
    rng = np.random.default_rng(4)
    for _ in range(200):
        a = [str(x) for x in rng.integers(0, 5, int(rng.integers(0, 25)))]
        b = [str(x) for x in rng.integers(0, 5, int(rng.integers(0, 25)))]
        assert rouge.lcs_length(a, b) == reference.lcs_length(a, b)
        np.testing.assert_allclose(rouge.rouge_l(a, b), reference.rouge_l(a, b), rtol=0, atol=1e-12)
        for n in (1, 2, 3):
            np.testing.assert_allclose(rouge.rouge_n(a, b, n), reference.rouge_n(a, b, n), rtol=0, atol=1e-12)


def test_rouge_mean_averages_pairs(scorers):
    targets, predictions = ["the cat sat", "a dog ran\nfast"], ["the cat", "a dog\nran"]
    mean = rouge.rouge_mean(targets, predictions)
    scores = [scorers[False].score(t, p) for t, p in zip(targets, predictions, strict=True)]
    assert mean["rougeLsum"]["recall"] == pytest.approx(
        np.mean([s["rougeLsum"].recall for s in scores]), abs=TOL
    )
    with pytest.raises(ValueError):
        rouge.rouge_mean(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="unknown ROUGE type"):
        rouge.rouge("a", "a", types=("rougeW",))


# --- Porter -----------------------------------------------------------------------------------------

SUFFIXES = sorted(
    {rule[0] for rule in porter._STEP2 + porter._STEP3 + porter._STEP4}
    | {"s", "ies", "sses", "ss", "ied", "eed", "ed", "ing", "y", "e", "ll", "at", "bl", "iz", "ly", "ness"}
)


def test_porter_matches_nltk_on_generated_words():
    nltk_stem = PorterStemmer().stem
    rng = np.random.default_rng(7)
    words = list(porter._IRREGULAR) + ["a", "is", "yyy", "ties", "died", "happy", "sky", "controll", "agreed"]
    for _ in range(6000):
        stem_letters = rng.choice(list("bcdfghjklmnprstvwxyzaeiouy"), int(rng.integers(1, 7)))
        words.append("".join(stem_letters) + "".join(rng.choice(SUFFIXES, int(rng.integers(0, 3)))))
    mismatches = [(w, porter.stem(w), nltk_stem(w)) for w in words if porter.stem(w) != nltk_stem(w)]
    assert not mismatches, mismatches[:10]


def test_porter_paper_examples():
    examples = {
        "caresses": "caress", "ponies": "poni", "motoring": "motor", "hopping": "hop", "filing": "file",
        "relational": "relat", "generalizations": "gener", "happy": "happi", "controlling": "control",
    }  # fmt: skip
    assert {w: porter.stem(w) for w in examples} == examples


def test_porter_matches_nltk_on_real_words(data_root):
    """Every distinct word of the SciTLDR dev abstracts (real English, ~10k types)."""
    nltk_stem = PorterStemmer().stem
    words = set()
    with open(data_root / "scitldr" / "dev.jsonl", encoding="utf-8") as f:
        for line in f:
            words.update(rouge.tokenize(" ".join(json.loads(line)["source"])))
    mismatches = [w for w in sorted(words) if porter.stem(w) != nltk_stem(w)]
    assert len(words) > 5000 and not mismatches, mismatches[:10]


def test_rouge_on_real_summaries(data_root, scorers):
    """SciTLDR dev: first sentence of each abstract scored against the author TLDR, stemmed."""
    with open(data_root / "scitldr" / "dev.jsonl", encoding="utf-8") as f:
        records = [json.loads(line) for line in f][:150]
    for r in records:
        target, prediction = r["target"][0], "\n".join(r["source"][:2])
        assert_close(rouge.rouge(target, prediction, stem=True), scorers[True].score(target, prediction))
