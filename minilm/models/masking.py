"""BERT's masked-LM corruption: choose 15% of the tokens, then 80% ``[MASK]``, 10% random, 10% unchanged.

Devlin et al. 2019, "BERT", §3.1 (Task #1) and Appendix A.1: "the training data generator chooses 15%
of the token positions at random for prediction. If the i-th token is chosen, we replace the i-th token
with (1) the [MASK] token 80% of the time (2) a random token 10% of the time (3) the unchanged i-th
token 10% of the time."  As the reference ``create_pretraining_data.py``, every row gets exactly
``max(1, round(p * candidates))`` chosen positions (drawn without replacement among the positions that
may be chosen: not padding, not [CLS]/[SEP]) and a random token is uniform over the whole vocabulary.
The loss is then taken at the chosen positions only, against the original tokens.

NumPy, driven by a ``np.random.Generator``: the masks are data, made before the jitted step, so a
batch source seeded by ``(seed, step)`` gives the same masks after a resume.
"""

from __future__ import annotations

import numpy as np


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
