"""In-context learning (:mod:`minilm.finetune.icl`, ``evaluate.py icl``): the prompt text, label scores
against log-softmax summed one unpadded sequence at a time, padding and left truncation, the choice of
demonstrations, contextual calibration in closed form, seeding, and the command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from flax import nnx

from minilm.cli.evaluate import main
from minilm.data.registry import load_dataset
from minilm.data.tokenizer import EOS, train_bpe
from minilm.errors import UserError, run_cli
from minilm.finetune.icl import (
    build_prompt,
    calibrated_predictions,
    continuation_logprobs,
    evaluate_shots,
    prompt_format,
    select_demonstrations,
)
from minilm.models.io import load_lm
from minilm.models.transformer import GPT, TransformerConfig
from minilm.reference.lm import log_softmax

GPT2 = Path(__file__).parent / "fixtures" / "hf_tiny_gpt2"
LABELS = ("negative", "positive")
TEMPLATE = "Review: {text}\nSentiment: {label}"


@pytest.fixture(scope="module")
def gpt2():
    """The tiny Hugging Face GPT-2 (character tokenizer, context 32, no end-of-text token)."""
    model, tokenizer, bos = load_lm(str(GPT2))
    assert bos is None and model.cfg.max_len == 32
    return model, tokenizer, bos


@pytest.fixture(scope="module")
def ours():
    """A tiny minilm GPT with a BPE tokenizer: label words of several tokens, <eos> starts each row."""
    lines = ["the soup was good .", "the hotel was bad .", "i found the pasta bland ."] * 5
    tokenizer = train_bpe(lines, vocab_size=280)
    cfg = TransformerConfig(
        vocab_size=tokenizer.get_vocab_size(), max_len=24, n_layer=2, n_head=2, d_model=16, d_ff=32
    )
    return GPT(cfg, rngs=nnx.Rngs(1)), tokenizer, EOS


def _by_hand(model, tokenizer, bos, prompts: list[str], continuations: list[str]) -> np.ndarray:
    """(N, C) log p(continuation | prompt), each sequence on its own: no padding before it (right
    padding, after it, cannot change a causal model's logits), no attention mask, log-softmax in
    float64.  The continuation is the tokens of prompt + continuation beyond those of the prompt; the
    sequence is cut from the left to the context."""
    seqs, scored = [], []
    for p in prompts:
        for c in continuations:
            whole = tokenizer.encode(p + c, add_special_tokens=False).ids
            scored.append(len(whole) - len(tokenizer.encode(p, add_special_tokens=False).ids))
            seqs.append((([] if bos is None else [bos]) + whole)[-model.cfg.max_len :])
    batch = np.zeros((len(seqs), max(map(len, seqs))), np.int32)
    for row, seq in enumerate(seqs):
        batch[row, : len(seq)] = seq
    log_p = log_softmax(np.asarray(nnx.jit(lambda m, x: m(x))(model, batch)))  # (S, T, V) float64
    out = [
        sum(log_p[r, t - 1, seq[t]] for t in range(len(seq) - n, len(seq)))
        for r, (seq, n) in enumerate(zip(seqs, scored, strict=True))
    ]
    return np.reshape(out, (len(prompts), len(continuations)))


# ------------------------------------------------------------------------------------------- prompts


def test_prompt_text_for_a_fixed_seed():
    fmt = prompt_format(TEMPLATE, "\n\n", LABELS, ["text"], {"negative": "bad", "positive": "good"})
    train = [({"text": f"text {i}", "label": LABELS[i % 2]}, i % 2) for i in range(6)]
    classes = np.asarray([c for _, c in train])
    chosen = select_demonstrations(classes, 2, 3, "random", np.random.default_rng((0, 3)))
    prompt = build_prompt(fmt, [train[i] for i in chosen], {"text": "the query"})
    assert prompt == (
        "Review: text 4\nSentiment: bad\n\n"
        "Review: text 5\nSentiment: good\n\n"
        "Review: text 2\nSentiment: bad\n\n"
        "Review: the query\nSentiment:"
    )
    assert [fmt.continuation(c) for c in (0, 1)] == [" bad", " good"]  # the space moves to the label


def test_pair_template_and_default_label_words():
    fmt = prompt_format(
        "{premise} Question: {hypothesis}? {label}", " | ", ("yes", "no"), ["premise", "hypothesis"]
    )
    demo = ({"premise": "a cat sleeps", "hypothesis": "an animal rests", "label": "yes"}, 0)
    prompt = build_prompt(fmt, [demo], {"premise": "p", "hypothesis": "h"})
    assert prompt == "a cat sleeps Question: an animal rests? yes | p Question: h?"
    assert fmt.label_words == ("yes", "no")


@pytest.mark.parametrize(
    "template, words, message",
    [
        ("Review: {text}", None, "must end with {label}"),
        ("{label} {text} {label}", None, "must end with {label}"),
        ("{txt} {label}", None, "unknown field {txt}"),
        ("{text {label}", None, "not a valid template"),
        (TEMPLATE, {"negative": "bad"}, "no word for class 'positive'"),
        (TEMPLATE, {"negative": "bad", "positive": "good", "neutral": "ok"}, "'neutral' is not a class"),
        (TEMPLATE, {"negative": "good", "positive": "good"}, "its own non-empty word"),
    ],
)
def test_bad_formats_are_refused(template, words, message):
    with pytest.raises(UserError, match=message.replace("{", r"\{").replace("}", r"\}").replace("(", r"\(")):
        prompt_format(template, "\n", LABELS, ["text"], words)


# ----------------------------------------------------------------------------------------- selection


def test_balanced_selection_is_balanced_and_shuffled():
    classes = np.asarray([0] * 40 + [1] * 8 + [2] * 5)  # imbalanced on purpose
    orders = set()
    for seed in range(20):
        for k in (1, 3, 7, 12):
            chosen = select_demonstrations(classes, 3, k, "balanced", np.random.default_rng((seed, k)))
            assert len(set(chosen.tolist())) == k
            counts = np.bincount(classes[chosen], minlength=3)
            assert counts.max() - counts.min() <= 1, (seed, k, counts)
            orders.add(tuple(classes[chosen]))
    assert len({o for o in orders if len(o) == 7}) > 5  # the class order is random, not grouped
    with pytest.raises(UserError, match="need 6 examples of class 2"):
        select_demonstrations(classes, 3, 18, "balanced", np.random.default_rng(0))


def test_random_selection_draws_distinct_examples_and_follows_the_seed():
    classes = np.asarray([0, 1] * 10)
    a = select_demonstrations(classes, 2, 8, "random", np.random.default_rng((3, 8)))
    b = select_demonstrations(classes, 2, 8, "random", np.random.default_rng((3, 8)))
    c = select_demonstrations(classes, 2, 8, "random", np.random.default_rng((4, 8)))
    assert len(set(a.tolist())) == 8 and (a == b).all() and not (a == c).all()
    with pytest.raises(UserError, match="21 demonstrations"):
        select_demonstrations(classes, 2, 21, "random", np.random.default_rng(0))


# ------------------------------------------------------------------------------------------- scoring


@pytest.mark.parametrize("which", ["gpt2", "ours"])
def test_scores_equal_log_softmax_summed_by_hand(which, request):
    """Prompts of different lengths (so different left padding), some longer than the context (left
    truncation), label words of one and several tokens."""
    model, tokenizer, bos = request.getfixturevalue(which)
    prompts = [
        "the soup was",
        "i found the pasta bland . the hotel was bad . the soup was good . it was",
        "x",
    ]
    continuations = [" good", " very bad", " bland bland"]
    got = continuation_logprobs(model, tokenizer, prompts, continuations, bos, batch_size=4)
    want = _by_hand(model, tokenizer, bos, prompts, continuations)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    assert got.shape == (3, 3) and np.isfinite(got).all()


def test_padding_and_left_truncation_do_not_change_scores(gpt2):
    model, tokenizer, bos = gpt2
    short, continuations = "Sentiment:", [" bad", " good"]
    alone = continuation_logprobs(model, tokenizer, [short], continuations, bos)
    beside_long = continuation_logprobs(
        model, tokenizer, [short, "a much longer prompt. " + short], continuations, bos
    )
    np.testing.assert_allclose(alone[0], beside_long[0], rtol=1e-6, atol=1e-6)
    tail = "y" * 28 + " so"  # with a label word, longer than the context of 32: what comes first is cut
    a = continuation_logprobs(model, tokenizer, ["AAAA" + tail], continuations, bos)
    b = continuation_logprobs(model, tokenizer, ["zzzzzzzz" + tail], continuations, bos)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(UserError, match="at most the context of 32"):
        continuation_logprobs(model, tokenizer, ["p"], [" " + "w" * 40], bos)


def test_contextual_calibration_in_closed_form():
    """Zhao et al. 2021: q = softmax(W p), W = diag(p_cf)^-1.  p(x) = (0.6, 0.4) under a content-free
    bias p_cf = (0.9, 0.1) becomes (0.6/0.9, 0.4/0.1) ∝ (0.14, 0.86): class 1."""
    scores = np.log([[0.6, 0.4], [0.99, 0.01]])
    content_free = np.log([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1]]) + 3.0  # unnormalised: softmax first
    assert calibrated_predictions(scores, content_free).tolist() == [1, 0]
    assert scores.argmax(axis=1).tolist() == [0, 0]


# ---------------------------------------------------------------------------------------- evaluation


def _world(n_train: int, n_test: int):
    ds = load_dataset("world_sentiment")
    labelled = [(r, ds.labels.index(r["label"])) for r in ds.split("train")]
    return labelled[:n_train], [(r, ds.labels.index(r["label"])) for r in ds.split("test")][:n_test]


def test_same_seed_same_numbers(gpt2):
    model, tokenizer, bos = gpt2
    fmt = prompt_format("{text} {label}", " ", LABELS, ["text"], {"negative": "bad", "positive": "good"})
    train, test = _world(30, 12)
    run = lambda seeds: evaluate_shots(model, tokenizer, fmt, train, test, (0, 2), seeds, "balanced", bos)  # noqa: E731
    first, again = run((0, 5)), run((0, 5))
    assert first == again
    zero, two = first
    assert zero.k == 0 and len(zero.accuracy) == 2 and zero.accuracy[0] == zero.accuracy[1]
    assert two.k == 2 and all(0 <= a <= 1 and a * 12 == round(a * 12) for a in two.accuracy)


def test_cli_runs_on_tiny_gpt2(capsys):
    argv = [
        "icl",
        f"--model={GPT2}",
        "--task=world_sentiment",
        "--shots=0,1,2",
        "--seeds=0,1",
        "--max_eval=10",
        "--progress=false",
    ]
    assert main([*argv, "--json", "--label_words=negative:bad,positive:good"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [r["k"] for r in got["results"]] == [0, 1, 2] and got["examples"] == 10
    assert got["label_words"] == {"negative": "bad", "positive": "good"}
    assert got["results"][0]["std"] == 0 and all(len(r["per_seed"]) == 2 for r in got["results"])
    assert 0.5 <= got["majority"] <= 1
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "majority-class baseline" in table and len(table.splitlines()) == 6


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--shots=-1", "--shots"),
        ("--template=Review: {text}", "--template"),
        ("--label_words=negative:bad,neutral:ok", "--label_words"),
        ("--task=world_translation", "icl needs classification"),
        ("--selection=best", "--selection"),
    ],
)
def test_cli_refuses_bad_input_in_one_line(flag, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, ["icl", f"--model={GPT2}", flag])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and message in err, err
