"""Evaluating a model over a set too large for one call: fixed-size batches, the last one padded.

A jitted function compiles once per input shape.  A set of N rows cut into batches of B leaves a last
batch of ``N mod B`` rows: a second shape, a second compilation, and another for every other N.  Here
the last batch is filled up to B rows, so one compiled function serves every set and every size:

    rows [0, B), [B, 2B), ..., [kB, N) + (B - (N - kB)) filler rows        valid = 1 real, 0 filler

The filler rows are copies of the set's last row (always a legal input: in-vocabulary ids, a non-empty
attention mask, so no NaN), and ``valid`` takes them out: :func:`batched_eval` hands it to the summing
function, :func:`batched_apply` drops the filler rows' outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

EVAL_BATCH = 64  # rows per evaluation call, unless a caller says otherwise


def padded_batches(
    arrays: dict[str, np.ndarray], batch_size: int
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray, int]]:
    """``arrays`` (each (N, ...), the same N >= 1) in batches of ``batch_size`` rows, the last one
    filled up with copies of row N - 1.  Yields (batch: each (B, ...), valid (B,) float32, real rows)."""
    n = {len(a) for a in arrays.values()}
    if len(n) != 1:
        raise ValueError(f"arrays of different lengths: { {k: len(a) for k, a in arrays.items()} }")
    (n,) = n
    if n == 0:
        raise ValueError("nothing to evaluate: the arrays have no rows")
    for start in range(0, n, batch_size):
        real = min(batch_size, n - start)
        fill = batch_size - real
        batch = {
            k: np.pad(a[start : start + real], [(0, fill)] + [(0, 0)] * (a.ndim - 1), mode="edge")
            for k, a in arrays.items()
        }
        valid = (np.arange(batch_size) < real).astype(np.float32)  # (B,)
        yield batch, valid, real


def batched_eval(
    fn: Callable[[dict[str, np.ndarray], np.ndarray], Any],
    arrays: dict[str, np.ndarray],
    batch_size: int = EVAL_BATCH,
) -> Any:
    """Sum of ``fn(batch, valid)`` over the batches of ``arrays``.

    ``fn`` (jitted: it sees one shape) returns a pytree of arrays, sums over the batch's rows with each
    row weighted by ``valid`` (B,) -- 0 on filler rows.  Every element of every leaf is added up, in
    float64 on the host, batch after batch; the result has ``fn``'s tree structure with Python floats.
    """
    total = None
    for batch, valid, _ in padded_batches(arrays, batch_size):
        sums = jax.tree.map(lambda x: float(np.asarray(x, np.float64).sum()), fn(batch, valid))
        total = sums if total is None else jax.tree.map(lambda t, s: t + s, total, sums)
    return total


def batched_apply(
    fn: Callable[[dict[str, np.ndarray]], jax.Array],
    arrays: dict[str, np.ndarray],
    batch_size: int = EVAL_BATCH,
) -> np.ndarray:
    """``fn(batch)`` -> (B, ...) per-row outputs, over the batches of ``arrays``: (N, ...), filler rows
    dropped."""
    out = [np.asarray(fn(batch))[:real] for batch, _, real in padded_batches(arrays, batch_size)]
    return np.concatenate(out)
