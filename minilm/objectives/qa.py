"""Extractive QA (Devlin et al. 2019, BERT §4.2, on SQuAD v1.1): the span loss, a span head's scores over
many windows, and the best answer span of each question.

A :class:`~minilm.models.heads.SpanExtractor` scores every token as the start (``s_i = S·h_i``) and the
end (``e_j = E·h_j``) of the answer.  Training maximises the log-likelihood of the gold positions, the
mean of the two cross-entropies (BERT's ``run_squad.py``: ``(start_loss + end_loss) / 2``)::

    L = 1/2 · 1/B sum_b [ -log softmax(s_b)_{start_b}  -log softmax(e_b)_{end_b} ]

A window that does not hold the whole answer has start = end = 0, the [CLS] position.

Prediction (§4.2: "the maximum scoring span where j >= i is used as a prediction"): over every window of a
question, the span ``(i, j)`` of context tokens (not [CLS], the question, [SEP] or padding) with
``i <= j < i + max_answer_len`` that maximises ``s_i + e_j``; its text is the context's characters from
token i's start to token j's end (:mod:`minilm.data.qa_windows`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.data.qa_windows import NO_SPAN, answer_text
from minilm.metrics.jax_metrics import token_nll
from minilm.models.heads import SpanExtractor
from minilm.objectives.evaluate import EVAL_BATCH, batched_apply

INPUTS = ("tokens", "token_types", "attention_mask")


def span_nll(start: jax.Array, end: jax.Array, starts: jax.Array, ends: jax.Array) -> jax.Array:
    """Each window's loss: start, end logits (B, T), gold positions (B,) -> (B,) mean of the start and
    end cross-entropies."""
    return 0.5 * (token_nll(start, starts) + token_nll(end, ends))


def span_loss(model: SpanExtractor, batch: dict[str, jax.Array], rngs: nnx.Rngs | None):
    """Mean of the start and end cross-entropies; the batch's start and end accuracies."""
    start, end = model(
        batch["tokens"], attention_mask=batch["attention_mask"], token_types=batch["token_types"], rngs=rngs
    )  # (B, T) each
    return span_nll(start, end, batch["starts"], batch["ends"]).mean(), {
        "start_accuracy": jnp.mean(jnp.argmax(start, -1) == batch["starts"]),
        "end_accuracy": jnp.mean(jnp.argmax(end, -1) == batch["ends"]),
    }


def span_predictor(model: SpanExtractor):
    """``predict(model, arrays) -> (start, end)`` logits, each (W, T) float32 numpy, in fixed-size jitted
    batches; ``arrays`` holds the windows' tokens, token_types and attention_mask (W, T)."""
    graphdef = nnx.graphdef(model)

    @jax.jit
    def scores_of(state, batch):  # (b, T) inputs -> (b, T, 2)
        start, end = nnx.merge(graphdef, state)(
            batch["tokens"], attention_mask=batch["attention_mask"], token_types=batch["token_types"]
        )
        return jnp.stack([start, end], axis=-1)

    def predict(m: SpanExtractor, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        both = batched_apply(
            functools.partial(scores_of, nnx.state(m)), {k: arrays[k] for k in INPUTS}, EVAL_BATCH
        )
        return both[..., 0], both[..., 1]

    return predict


def span_scores(start: np.ndarray, end: np.ndarray, arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """Windows' mean loss and the share whose start and end are both the gold ones (the quick dev
    score logged during training): start, end (W, T); arrays' "starts", "ends" (W,)."""
    gold_start, gold_end = arrays["starts"], arrays["ends"]
    return {
        "eval_loss": float(np.mean(span_nll(start, end, gold_start, gold_end))),
        "eval_span_accuracy": float(np.mean((start.argmax(-1) == gold_start) & (end.argmax(-1) == gold_end))),
    }


def best_spans(
    start: np.ndarray, end: np.ndarray, in_context: np.ndarray, max_answer_len: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best span of each window: ``(i, j)`` with ``in_context[i]``, ``in_context[j]``,
    ``0 <= j - i < max_answer_len``, maximising ``start[i] + end[j]``.

    start, end (W, T) float; in_context (W, T) bool (a window's context tokens are contiguous, so every
    token between two of them is one too) -> score (W,) float64 (``-inf`` for a window without context),
    i (W,), j (W,) int.  Ties go to the smaller length, then the smaller i.
    """
    w, t = start.shape
    best = np.full(w, -np.inf)
    best_i, best_j = np.zeros(w, np.int64), np.zeros(w, np.int64)
    for length in range(min(max_answer_len, t)):  # j = i + length
        score = start[:, : t - length].astype(np.float64) + end[:, length:]  # (W, T - length)
        score = np.where(in_context[:, : t - length] & in_context[:, length:], score, -np.inf)
        i = score.argmax(1)  # (W,)
        top = score[np.arange(w), i]
        better = top > best
        best = np.where(better, top, best)
        best_i, best_j = np.where(better, i, best_i), np.where(better, i + length, best_j)
    return best, best_i, best_j


def predict_answers(
    arrays: dict[str, np.ndarray],
    start: np.ndarray,
    end: np.ndarray,
    contexts: list[str],
    max_answer_len: int,
) -> list[str]:
    """The answer text of each record: of its windows' best spans (:func:`best_spans`), the one of the
    highest ``start[i] + end[j]``; ties go to the earlier window.  ``arrays``: the windows
    (:func:`~minilm.data.qa_windows.qa_windows`); ``contexts``: each record's context."""
    score, i, j = best_spans(start, end, arrays["char_start"] != NO_SPAN, max_answer_len)
    answers = [""] * len(contexts)
    top = np.full(len(contexts), -np.inf)
    for w, record in enumerate(arrays["example"]):
        if score[w] > top[record]:
            top[record] = score[w]
            answers[record] = answer_text(contexts[record], arrays, w, i[w], j[w])
    return answers
