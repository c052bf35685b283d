"""In-context learning: k-shot classification by a causal LM's likelihood of label words, no training.

Brown et al. 2020 ("Language Models are Few-Shot Learners", GPT-3, §2): a frozen causal LM is given
K labelled demonstrations of the task as text, then the test input, and the answer is read off its
next-token distribution; no parameter changes.  For classification each class c has a label word (or
phrase) ``w_c``, and the prediction is the class whose label word the model finds most likely after
the prompt (GPT-3 §2.4 compares the completions' likelihoods)::

    prompt(x) = d_1 <sep> d_2 <sep> ... d_K <sep> template(x, label=)      d_i = template(x_i, label=w_{y_i})
    score(x, c) = log p(w_c | prompt(x)) = sum_j log p(w_c[j] | prompt(x), w_c[<j])
    y_hat(x) = argmax_c score(x, c)

The total (not per-token) log-probability is used, so label words of several tokens are compared as
whole strings.  K = 0 is zero-shot: the template alone.

Known sensitivities, which this module exposes rather than hides:

- Zhao et al. 2021 ("Calibrate Before Use: Improving Few-Shot Performance of Language Models", §4):
  accuracy swings widely with *which* demonstrations are chosen and in *which order* (near chance to
  near state of the art for the same K), and the model is biased towards label words that are frequent
  in pretraining, that appear often in the prompt (majority label bias) or near its end (recency
  bias).  Hence: demonstrations are drawn per seed (:func:`select_demonstrations`: uniformly at
  random, or class-balanced, in a random order), and accuracy is reported as a mean and standard
  deviation over seeds for each K (:func:`evaluate_shots`).
- Contextual calibration (Zhao et al. 2021, §5): estimate the label bias from content-free inputs
  (``"N/A"``, ``""``, ``"[MASK]"``) put in place of the test input, with the same demonstrations
  (an empty prompt is skipped where the model has no start token to condition on)::

      p_cf = mean over content-free inputs x_cf of softmax_c(score(x_cf, c))
      y_hat_cal(x) = argmax_c softmax_c(score(x, c)) / p_cf(c) = argmax_c score(x, c) - log p_cf(c)

  (their ``W = diag(p_cf)^-1``, ``b = 0``).  It costs 3 C more scored rows per prompt, so every result
  carries both accuracies.

Tokenisation follows the evaluation harnesses (lm-evaluation-harness): the scored continuation is
``encode(prompt + " " + w_c)`` beyond ``len(encode(prompt))``, with the whitespace before the label in
the template moved from the prompt into the continuation (byte-level BPE attaches a space to the word
after it: ``"Sentiment:"`` + ``" positive"``).  A sequence starts with the model's end-of-text token
where its vocabulary has one (``<eos>`` for minilm's models, ``<|endoftext|>`` for GPT-2: a document
boundary, as in pretraining).

Batching: every (test input, class) pair is one row, ``[end-of-text] prompt continuation``, cut from
the *left* to the model's context (the test input and its label are kept; the first demonstrations
go), and left-padded to a common width (the longest row, rounded up to a power of two, at most the
context: few shapes, so few compilations).  One jitted function scores a batch: the backbone runs
over the padded rows (the attention mask hides the padding; positions count real tokens only, so a
padded row scores as it would alone), and the LM head runs only on the last L positions, which predict
the label tokens (L = the longest continuation).  Rows go through in fixed-size batches
(:func:`minilm.objectives.evaluate.batched_apply`); no Python runs per token.

Shapes: N test inputs, C classes, B rows per batch, W row width, L scored positions, V vocabulary.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tokenizers import Tokenizer

from minilm.data.dataset import Record
from minilm.errors import UserError
from minilm.metrics.jax_metrics import token_nll
from minilm.models.transformer import GPT
from minilm.objectives.evaluate import batched_apply

LABEL_FIELD = "label"
SELECTIONS = ("random", "balanced")
CONTENT_FREE = ("N/A", "", "[MASK]")  # Zhao et al. 2021, §5

# ------------------------------------------------------------------------------------------ prompts


@dataclass(frozen=True)
class PromptFormat:
    """How examples become text.

    ``template``: one example, with ``{field}`` for the record's fields, ending with ``{label}``
    (e.g. ``"Review: {text}\\nSentiment: {label}"``); ``separator``: between examples (``"\\n\\n"``);
    ``label_words``: the word or phrase for each class, in class-id order.
    """

    template: str
    separator: str
    label_words: tuple[str, ...]

    def demonstration(self, record: Record, label_word: str) -> str:
        """A labelled example: the template filled with the record and its label word."""
        return self.template.format_map({**record, LABEL_FIELD: label_word})

    def query(self, record: Record) -> str:
        """A test example: the template up to its label, less the whitespace before the label (it
        belongs to the continuation, see :meth:`continuation`)."""
        return self.template.removesuffix("{" + LABEL_FIELD + "}").rstrip().format_map(record)

    def continuation(self, c: int) -> str:
        """What follows :meth:`query` for class ``c``: the template's whitespace before the label, then
        the label word."""
        before = self.template.removesuffix("{" + LABEL_FIELD + "}")
        return before[len(before.rstrip()) :] + self.label_words[c]


def prompt_format(
    template: str,
    separator: str,
    labels: Sequence[str],
    fields: Sequence[str],
    label_words: Mapping[str, str] | None = None,
) -> PromptFormat:
    """A checked :class:`PromptFormat`: ``template`` uses only ``fields`` (the records' fields besides
    the label) and ends with ``{label}``; ``label_words`` maps every class name to a distinct word
    (default: the class names themselves).  Every problem is a UserError."""
    try:
        used = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as e:
        raise UserError(f"--template={template!r}: not a valid template ({e})") from None
    if not template.endswith("{" + LABEL_FIELD + "}") or used.count(LABEL_FIELD) != 1:
        raise UserError(f"--template={template!r}: must end with {{label}}, once, the word to predict")
    unknown = [name for name in used if name != LABEL_FIELD and name not in fields]
    if unknown:
        raise UserError(
            f"--template={template!r}: unknown field {{{unknown[0]}}}; the records have "
            + ", ".join(f"{{{f}}}" for f in fields)
        )
    words = dict(label_words) if label_words else {label: label for label in labels}
    extra = [name for name in words if name not in labels]
    if extra:
        raise UserError(f"--label_words: {extra[0]!r} is not a class; classes: {', '.join(labels)}")
    missing = [label for label in labels if label not in words]
    if missing:
        raise UserError(f"--label_words: no word for class {missing[0]!r}; classes: {', '.join(labels)}")
    ordered = tuple(words[label] for label in labels)
    if any(not w.strip() for w in ordered) or len(set(ordered)) < len(ordered):
        raise UserError(f"--label_words: each class needs its own non-empty word, got {ordered}")
    return PromptFormat(template, separator, ordered)


def build_prompt(fmt: PromptFormat, demonstrations: Sequence[tuple[Record, int]], query: Record) -> str:
    """``d_1 <sep> ... d_K <sep> query``: the demonstrations (record, class id) in the order given."""
    shown = [fmt.demonstration(record, fmt.label_words[c]) for record, c in demonstrations]
    return fmt.separator.join([*shown, fmt.query(query)])


# ----------------------------------------------------------------------------- choosing demonstrations


def select_demonstrations(
    classes: np.ndarray, n_class: int, k: int, selection: str, rng: np.random.Generator
) -> np.ndarray:
    """Indices of ``k`` distinct training examples (``classes``: (N,) class ids in ``[0, n_class)``), in
    a random order.

    ``random``: uniformly without replacement (GPT-3).  ``balanced``: ``k // C`` of each class and one
    more of ``k mod C`` classes drawn at random, so no class outnumbers another by more than one
    (against majority-label bias, Zhao et al. 2021 §4)."""
    n = len(classes)
    if k > n:
        raise UserError(f"--shots: {k} demonstrations asked for, the training split has {n} examples")
    if selection == "random":
        chosen = rng.choice(n, size=k, replace=False)
    elif selection == "balanced":
        per_class = np.full(n_class, k // n_class)
        per_class[rng.choice(n_class, size=k % n_class, replace=False)] += 1
        chosen = []
        for c, count in enumerate(per_class):
            members = np.flatnonzero(classes == c)
            if count > len(members):
                raise UserError(
                    f"--selection=balanced: {k} shots need {count} examples of class {c}, "
                    f"the training split has {len(members)}"
                )
            chosen.extend(rng.choice(members, size=count, replace=False))
        chosen = np.asarray(chosen, dtype=np.int64)
    else:
        raise UserError(f"--selection={selection!r}: allowed values are {', '.join(SELECTIONS)}")
    return rng.permutation(chosen)  # the order is random too (Zhao et al. 2021: order matters)


# ------------------------------------------------------------------------------------------- scoring


@functools.partial(jax.jit, static_argnums=0)
def _continuation_logprob(graphdef, state, tokens, mask, scored) -> jax.Array:
    """tokens (B, W) int left-padded, mask (B, W) bool real tokens, scored (B, L) bool: which of the
    last L tokens are the continuation -> (B,) its total log-probability."""
    model = nnx.merge(graphdef, state)
    hidden = model.backbone(tokens, attention_mask=mask)  # (B, W, D)
    width = scored.shape[1]
    logits = model.logits(hidden[:, -width - 1 : -1])  # (B, L, V): position t predicts token t + 1
    logp = -token_nll(logits, tokens[:, -width:])  # (B, L)
    return jnp.where(scored, logp, 0.0).sum(axis=1)


def _padded_width(longest: int, context: int) -> int:
    """The row width: ``longest`` rounded up to a power of two, at most ``context``."""
    return min(context, 1 << max(longest - 1, 0).bit_length())


def continuation_logprobs(
    model: GPT,
    tokenizer: Tokenizer,
    prompts: Sequence[str],
    continuations: Sequence[str],
    bos: int | None,
    batch_size: int = 16,
) -> np.ndarray:
    """(N, C) float: ``log p(continuation_c | prompt_n)`` for every prompt and continuation (see the
    module docstring for the tokenisation, the truncation and the batching)."""
    context = model.cfg.max_len
    contexts = tokenizer.encode_batch(list(prompts), add_special_tokens=False)
    wholes = tokenizer.encode_batch([p + c for p in prompts for c in continuations], add_special_tokens=False)
    rows, n_scored = [], []
    for i, whole in enumerate(wholes):
        n = len(whole.ids) - len(contexts[i // len(continuations)].ids)  # continuation tokens
        row = ([] if bos is None else [bos]) + whole.ids
        if n < 1 or n >= min(len(row), context):
            c = continuations[i % len(continuations)]
            raise UserError(
                f"label continuation {c!r} is {max(n, 0)} tokens after a prompt of {len(row) - n}: it needs "
                f"at least 1 token, a prompt of at least 1 and, together, at most the context of {context}"
            )
        rows.append(row)
        n_scored.append(n)
    width = _padded_width(max(map(len, rows)), context)
    scored_width = max(n_scored)
    tokens = np.zeros((len(rows), width), np.int32)  # (N C, W) left-padded
    mask = np.zeros((len(rows), width), bool)
    scored = np.zeros((len(rows), scored_width), bool)  # (N C, L)
    for r, (row, n) in enumerate(zip(rows, n_scored, strict=True)):
        kept = row[-width:]  # left truncation
        tokens[r, width - len(kept) :] = kept
        mask[r, width - len(kept) :] = True
        scored[r, scored_width - n :] = True
    graphdef, state = nnx.split(model)
    score = lambda b: _continuation_logprob(graphdef, state, b["tokens"], b["mask"], b["scored"])  # noqa: E731
    out = batched_apply(score, {"tokens": tokens, "mask": mask, "scored": scored}, batch_size)
    return out.reshape(len(prompts), len(continuations)).astype(np.float64)


def calibrated_predictions(scores: np.ndarray, content_free_scores: np.ndarray) -> np.ndarray:
    """Contextual calibration (Zhao et al. 2021, §5): scores (N, C), content-free scores (M, C) ->
    (N,) ``argmax_c score(x, c) - log p_cf(c)``, ``p_cf`` the mean of the content-free softmaxes."""
    z = content_free_scores - content_free_scores.max(axis=-1, keepdims=True)  # (M, C)
    p_cf = (np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)).mean(axis=0)  # (C,)
    return np.argmax(scores - np.log(p_cf), axis=-1)


# ---------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class ShotResult:
    """Accuracies for one K: one per seed, raw and contextually calibrated."""

    k: int
    accuracy: tuple[float, ...]
    calibrated: tuple[float, ...]

    def summary(self) -> dict:
        """Mean and (population) standard deviation over seeds, and the per-seed values."""
        return {
            "k": self.k,
            "accuracy": float(np.mean(self.accuracy)),
            "std": float(np.std(self.accuracy)),
            "calibrated": float(np.mean(self.calibrated)),
            "calibrated_std": float(np.std(self.calibrated)),
            "per_seed": list(self.accuracy),
            "calibrated_per_seed": list(self.calibrated),
        }


def evaluate_shots(
    model: GPT,
    tokenizer: Tokenizer,
    fmt: PromptFormat,
    train: Sequence[tuple[Record, int]],
    test: Sequence[tuple[Record, int]],
    shots: Sequence[int],
    seeds: Sequence[int],
    selection: str = "random",
    bos: int | None = None,
    batch_size: int = 16,
    progress: Callable[[str], None] | None = None,
) -> list[ShotResult]:
    """Accuracy on ``test`` for each K in ``shots`` and each seed: (record, class id) pairs.

    For each (K, seed) one set of demonstrations (``np.random.default_rng((seed, K))``, see
    :func:`select_demonstrations`) prompts every test input, as in Zhao et al. 2021; K = 0 has no
    demonstrations, so it is scored once and its value stands for every seed."""
    train_classes = np.asarray([c for _, c in train], dtype=np.int64)
    gold = np.asarray([c for _, c in test], dtype=np.int64)
    fields = {name for record, _ in test for name in record if name != LABEL_FIELD}
    content_free = [dict.fromkeys(fields, text) for text in CONTENT_FREE]
    continuations = [fmt.continuation(c) for c in range(len(fmt.label_words))]
    results = []
    for k in shots:
        accuracy, calibrated = [], []
        for seed in seeds[:1] if k == 0 else seeds:
            if progress is not None:
                progress(f"k={k} seed={seed}: scoring {len(test):,} x {len(continuations)} continuations")
            rng = np.random.default_rng((seed, k))
            chosen = select_demonstrations(train_classes, len(continuations), k, selection, rng)
            demos = [train[i] for i in chosen]
            prompts = [build_prompt(fmt, demos, record) for record, _ in test]
            neutral = [build_prompt(fmt, demos, record) for record in content_free]
            prompts += [p for p in neutral if p or bos is not None]  # an empty prompt needs a start token
            scores = continuation_logprobs(model, tokenizer, prompts, continuations, bos, batch_size)
            real = scores[: len(test)]  # (N, C); the rest: the content-free inputs
            accuracy.append(float(np.mean(real.argmax(axis=1) == gold)))
            calibrated.append(float(np.mean(calibrated_predictions(real, scores[len(test) :]) == gold)))
        repeat = len(seeds) if k == 0 else 1
        results.append(ShotResult(k, tuple(accuracy * repeat), tuple(calibrated * repeat)))
    return results


def majority_baseline(gold: Sequence[int]) -> float:
    """Accuracy of always predicting the most frequent class of ``gold``."""
    return float(np.bincount(np.asarray(gold, dtype=np.int64)).max() / len(gold))
