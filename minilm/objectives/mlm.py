"""Masked language modelling (BERT): the corruption, the loss, held-out evaluation, and scoring text.

**Corruption** -- choose 15% of the tokens, then 80% ``[MASK]``, 10% random, 10% unchanged.
Devlin et al. 2019, "BERT", §3.1 (Task #1) and Appendix A.1: "the training data generator chooses 15%
of the token positions at random for prediction. If the i-th token is chosen, we replace the i-th token
with (1) the [MASK] token 80% of the time (2) a random token 10% of the time (3) the unchanged i-th
token 10% of the time."  As the reference ``create_pretraining_data.py``, every row gets exactly
``max(1, round(p * candidates))`` chosen positions (drawn without replacement among the positions that
may be chosen: not padding, not [CLS]/[SEP]) and a random token is uniform over the whole vocabulary.
NumPy, driven by a ``np.random.Generator``: the masks are data, made before the jitted step, so a batch
source seeded by ``(seed, step)`` gives the same masks after a resume.  Each training row is
``<cls> window <sep>``; no next-sentence prediction (as RoBERTa).

**Loss** -- the cross-entropy of the original tokens at the chosen positions M only::

    L = -1/|M| sum_{(b,t) in M} log p(x_{b,t} | corrupted row b)

**Scoring** -- the pseudo-log-likelihood (Salazar et al. 2020, "Masked Language Model Scoring", eq. 1):
``PLL(W) = sum_t log p(w_t | W_\\t)``, each token scored with only itself masked; a sequence of n scored
tokens becomes n copies, copy t with ``[MASK]`` at t.  Pseudo-perplexity (eq. 2) is
``exp(-PLL / N)`` over the N tokens of a corpus.  The copies are scored in fixed-size jitted batches
(:mod:`minilm.objectives.evaluate`; one compilation per width), the padding masked out of attention.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.data.batches import LMBatches
from minilm.data.tokenizer import CLS, MASK, SEP
from minilm.errors import UserError
from minilm.metrics.jax_metrics import token_nll
from minilm.models.transformer import BERT
from minilm.objectives.evaluate import EVAL_BATCH, batched_eval

# ------------------------------------------------------------------------------------------ corruption


def mask_tokens(
    tokens: np.ndarray,
    candidates: np.ndarray,
    rng: np.random.Generator,
    *,
    vocab_size: int,
    mask_id: int,
    p: float = 0.15,
) -> tuple[np.ndarray, np.ndarray]:
    """tokens (B, T) int, candidates (B, T) bool (positions that may be chosen) ->
    (corrupted tokens (B, T) int32, chosen (B, T) bool)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"masking probability must be in (0, 1), got {p}")
    n_candidates = candidates.sum(axis=1)  # (B,)
    k = np.where(n_candidates > 0, np.maximum(1, np.round(p * n_candidates)), 0)  # (B,) chosen per row
    # a uniformly random order of each row's candidates: sort random keys, non-candidates last
    keys = np.where(candidates, rng.random(tokens.shape), 2.0)  # (B, T)
    rank = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")  # rank of each position
    chosen = rank < k[:, None]  # (B, T)
    action = rng.random(tokens.shape)  # < 0.8: [MASK]; < 0.9: random token; else unchanged
    random_tokens = rng.integers(0, vocab_size, size=tokens.shape)
    out = np.where(chosen & (action < 0.8), mask_id, tokens)
    out = np.where(chosen & (action >= 0.8) & (action < 0.9), random_tokens, out)
    return out.astype(np.int32), chosen


def with_cls_sep(windows: np.ndarray) -> np.ndarray:
    """(B, W) -> (B, W + 2): ``<cls> w_1 .. w_W <sep>``."""
    b = len(windows)
    return np.concatenate([np.full((b, 1), CLS), windows, np.full((b, 1), SEP)], axis=1).astype(np.int32)


def masked_batch(
    rows: np.ndarray, rng: np.random.Generator, vocab_size: int, p: float
) -> dict[str, np.ndarray]:
    """Mask ``rows`` (B, T) for the MLM loss; <cls>/<sep> (first and last column) are never chosen."""
    candidates = np.ones(rows.shape, bool)
    candidates[:, [0, -1]] = False
    inputs, chosen = mask_tokens(rows, candidates, rng, vocab_size=vocab_size, mask_id=MASK, p=p)
    return {"tokens": inputs, "targets": rows, "weights": chosen.astype(np.float32)}


class MLMBatches:
    """Masked-LM batches: ``<cls> window <sep>`` rows from random windows of the stream, masked with a
    generator seeded by ``(seed, step)`` (so a resumed run sees the same masks).

    batch(step) -> {"tokens": (B, T) masked input, "targets": (B, T) original ids, "weights": (B, T)
    1.0 where the loss is taken}.
    """

    def __init__(
        self, stream: np.ndarray, batch_size: int, seq_len: int, seed: int, vocab_size: int, p: float
    ):
        self.windows = LMBatches(stream, batch_size, seq_len - 2, seed)
        self.seed, self.vocab_size, self.p = seed, vocab_size, p

    def batch(self, step: int) -> dict[str, np.ndarray]:
        rows = with_cls_sep(self.windows.batch(step)["tokens"])
        rng = np.random.default_rng([self.seed, step, 1])  # 1: not the stream LMBatches draws from
        return masked_batch(rows, rng, self.vocab_size, self.p)


# ------------------------------------------------------------------------------------ loss, evaluation


def mlm_loss(model: BERT, batch: dict[str, jax.Array], rngs: nnx.Rngs | None):
    """Mean cross-entropy of the original tokens at the chosen positions."""
    logits = model(batch["tokens"], rngs=rngs)  # (B, T, V)
    nll = token_nll(logits, batch["targets"])  # (B, T)
    w = batch["weights"]
    return jnp.sum(nll * w) / jnp.maximum(jnp.sum(w), 1.0), {}


def mlm_evaluator(model: BERT, seq_len: int, vocab_size: int, p: float, seed: int):
    """``evaluate(model, stream, max_windows) -> (summed NLL at the chosen positions, positions)``.

    The stream is cut into non-overlapping windows of ``seq_len - 2`` tokens, each wrapped in
    ``<cls> .. <sep>`` and masked once with a generator seeded by ``seed`` (the same masks at every
    evaluation); fixed-size jitted batches as :func:`minilm.objectives.lm.lm_evaluator`.
    """
    graphdef = nnx.graphdef(model)
    width = seq_len - 2

    @jax.jit
    def batch_nll(state, batch, valid):  # {"tokens", "targets", "weights": (b, T)}, (b,) -> ()
        logits = nnx.merge(graphdef, state)(batch["tokens"])  # (b, T, V)
        return jnp.sum(token_nll(logits, batch["targets"]) * batch["weights"] * valid[:, None])

    def evaluate(m: BERT, stream: np.ndarray, max_windows: int | None = None) -> tuple[float, int]:
        n = len(stream) // width
        if max_windows is not None:
            n = min(n, max_windows)
        if n == 0:
            raise UserError(f"the held-out text has {len(stream)} tokens, fewer than one window of {width}")
        rows = with_cls_sep(stream[: n * width].reshape(n, width))
        batch = masked_batch(rows, np.random.default_rng([seed, 2]), vocab_size, p)
        total = batched_eval(functools.partial(batch_nll, nnx.state(m)), batch, EVAL_BATCH)
        return total, int(batch["weights"].sum())

    return evaluate


# --------------------------------------------------------------------------------- pseudo-likelihood


def pseudo_log_likelihood(
    model: nnx.Module, sequences: Sequence[Sequence[int]], mask_id: int, batch_size: int = EVAL_BATCH
) -> tuple[float, int]:
    """Summed ``log p(x_t | x_\\t)`` over the inner tokens of every sequence (its first and last token,
    e.g. ``[CLS]``/``[SEP]``, are context only) and the number of tokens scored.

    ``model(tokens (B, W), attention_mask=(B, W)) -> logits (B, W, V)``; ``batch_size`` masked copies go
    through it per call (each costs the memory of one (W, V) row of logits).
    """
    lengths = np.array([len(seq) for seq in sequences])  # (S,)
    if len(lengths) == 0 or lengths.min() < 3:
        raise ValueError("every sequence needs a token between its first and last")
    tokens = np.zeros((len(lengths), int(lengths.max())), np.int32)  # (S, W) right-padded
    for i, seq in enumerate(sequences):
        tokens[i, : len(seq)] = seq
    # copy r masks position pos[r] of sequence seq_of[r]: every sequence's positions 1 .. L - 2
    scored = lengths - 2  # (S,)
    seq_of = np.repeat(np.arange(len(lengths)), scored)  # (R,)
    first_copy = np.cumsum(scored) - scored  # (S,)
    pos = np.arange(len(seq_of)) - first_copy[seq_of] + 1  # (R,)
    graphdef, state = nnx.split(model)
    log_p = functools.partial(_masked_log_p, graphdef, state, tokens, lengths, mask_id)
    total = batched_eval(log_p, {"seq": seq_of, "pos": pos}, batch_size)
    return total, len(seq_of)


@functools.partial(jax.jit, static_argnums=0)
def _masked_log_p(graphdef, state, tokens, lengths, mask_id, copies, valid) -> jax.Array:
    """log p(x_t | x_\\t) of each masked copy, 0 on filler rows: (B,).

    tokens (S, W), lengths (S,); copies: "seq" (B,) which sequence, "pos" (B,) which position t."""
    seq, pos = copies["seq"], copies["pos"]
    rows = tokens[seq]  # (B, W)
    targets = rows[jnp.arange(len(seq)), pos]  # (B,)
    rows = rows.at[jnp.arange(len(seq)), pos].set(mask_id)
    attention = (jnp.arange(tokens.shape[1])[None, :] < lengths[seq][:, None]).astype(jnp.int32)  # (B, W)
    logits = nnx.merge(graphdef, state)(rows, attention_mask=attention)  # (B, W, V)
    at_mask = logits[jnp.arange(len(seq)), pos]  # (B, V)
    return -token_nll(at_mask, targets) * valid
