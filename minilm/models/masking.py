"""Masked language models: BERT's training corruption, and scoring text with a trained one.

**Corruption** -- choose 15% of the tokens, then 80% ``[MASK]``, 10% random, 10% unchanged.
Devlin et al. 2019, "BERT", §3.1 (Task #1) and Appendix A.1: "the training data generator chooses 15%
of the token positions at random for prediction. If the i-th token is chosen, we replace the i-th token
with (1) the [MASK] token 80% of the time (2) a random token 10% of the time (3) the unchanged i-th
token 10% of the time."  As the reference ``create_pretraining_data.py``, every row gets exactly
``max(1, round(p * candidates))`` chosen positions (drawn without replacement among the positions that
may be chosen: not padding, not [CLS]/[SEP]) and a random token is uniform over the whole vocabulary.
The loss is then taken at the chosen positions only, against the original tokens.  NumPy, driven by a
``np.random.Generator``: the masks are data, made before the jitted step, so a batch source seeded by
``(seed, step)`` gives the same masks after a resume.

**Scoring** -- the pseudo-log-likelihood (Salazar et al. 2020, "Masked Language Model Scoring", eq. 1):
``PLL(W) = sum_t log p(w_t | W_\\t)``, each token scored with only itself masked; a sequence of n scored
tokens becomes n copies, copy t with ``[MASK]`` at t.  Pseudo-perplexity (eq. 2) is
``exp(-PLL / N)`` over the N tokens of a corpus.  The copies are built in NumPy and scored in fixed-size
jitted batches (one compilation per width), the padding masked out of attention.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


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


def pseudo_log_likelihood(
    model: nnx.Module, sequences: Sequence[Sequence[int]], mask_id: int, batch_size: int = 64
) -> tuple[float, int]:
    """Summed ``log p(x_t | x_\\t)`` over the inner tokens of every sequence (its first and last token,
    e.g. ``[CLS]``/``[SEP]``, are context only) and the number of tokens scored.

    ``model(tokens (B, W), attention_mask=(B, W)) -> logits (B, W, V)``; ``batch_size`` masked copies go
    through it per call (each costs the memory of one (W, V) row of logits).
    """
    lengths = np.array([len(seq) for seq in sequences])  # (S,)
    if len(lengths) == 0 or lengths.min() < 3:
        raise ValueError("every sequence needs a token between its first and last")
    width = int(lengths.max())
    tokens = np.zeros((len(lengths), width), np.int32)  # (S, W) right-padded
    for i, seq in enumerate(sequences):
        tokens[i, : len(seq)] = seq
    # copy r masks position pos[r] of sequence seq_of[r]: every sequence's positions 1 .. L - 2
    scored = lengths - 2  # (S,)
    seq_of = np.repeat(np.arange(len(lengths)), scored)  # (R,)
    first_copy = np.cumsum(scored) - scored  # (S,)
    pos = np.arange(len(seq_of)) - first_copy[seq_of] + 1  # (R,)
    graphdef, state = nnx.split(model)
    total = 0.0
    for start in range(0, len(seq_of), batch_size):
        s, p = seq_of[start : start + batch_size], pos[start : start + batch_size]
        real = len(s)
        s, p = np.pad(s, (0, batch_size - real)), np.pad(p, (0, batch_size - real), constant_values=1)
        rows = tokens[s]  # (B, W) a fresh copy; the padding copies (of sequence 0) are dropped below
        targets = rows[np.arange(batch_size), p]  # (B,)
        rows[np.arange(batch_size), p] = mask_id
        attention = (np.arange(width)[None, :] < lengths[s][:, None]).astype(np.int32)  # (B, W)
        log_p = _masked_log_p(graphdef, state, rows, attention, p, targets)  # (B,)
        total += float(np.asarray(log_p, np.float64)[:real].sum())
    return total, len(seq_of)


@functools.partial(jax.jit, static_argnums=0)
def _masked_log_p(graphdef, state, rows, attention, positions, targets) -> jax.Array:
    """log p(targets[b] | rows[b]) at position positions[b] of each masked copy: (B,)."""
    logits = nnx.merge(graphdef, state)(rows, attention_mask=attention)  # (B, W, V)
    at_mask = logits[jnp.arange(rows.shape[0]), positions]  # (B, V)
    log_p = jax.nn.log_softmax(at_mask.astype(jnp.float32), axis=-1)
    return jnp.take_along_axis(log_p, targets[:, None], axis=-1)[:, 0]
