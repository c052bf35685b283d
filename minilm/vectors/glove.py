"""GloVe (Pennington, Socher & Manning 2014, "GloVe: Global Vectors for Word Representation").

1. Co-occurrence counts (section 3, as ``cooccur.c``): inside each sentence, every pair of words at
   distance ``d <= window`` adds ``1/d`` to ``X[a, b]`` and to ``X[b, a]``.  Counted a chunk of the
   corpus at a time and merged as sorted sparse ``(row * V + col) -> count`` arrays, so memory grows with
   the number of distinct pairs, not with ``V^2`` or the corpus size.
2. Weighted least squares (eq. 8) over the non-zero entries::

       J = sum_{ij} f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2,
       f(x) = (x / x_max)^alpha if x < x_max else 1          (x_max = 100, alpha = 3/4)

   trained with AdaGrad as ``glove.c``: per-parameter squared-gradient sums start at 1, the step is
   ``eta * g / sqrt(G)`` (``eta`` = 0.05) with ``g = f(X) * diff * other vector``, and the entries are
   visited in a new random order every epoch -- here in jitted sub-batches with scatter-add updates.
3. The word vectors are ``W + W~`` (``glove.c -model 2``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from minilm.vectors.vocab import Corpus
from minilm.vectors.word2vec import gather, scatter_add


@dataclass(frozen=True)
class GloVeSettings:
    dim: int = 100
    window: int = 10  # co-occurrence window radius
    x_max: float = 100.0
    alpha: float = 0.75  # exponent of the weighting function f
    eta: float = 0.05  # AdaGrad learning rate
    epochs: int = 15
    seed: int = 0
    batch: int = 1024  # co-occurrence entries per sub-batch
    steps_per_call: int = 64  # sub-batches per jitted call
    chunk_tokens: int = 1_000_000  # tokens counted at a time


@dataclass(frozen=True)
class Cooccurrences:
    rows: np.ndarray  # (E,) int32
    cols: np.ndarray  # (E,) int32
    counts: np.ndarray  # (E,) float64 X_ij


def _merge(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``values`` of equal ``keys``; returns sorted unique keys and their sums."""
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique, np.bincount(inverse, weights=values, minlength=len(unique))


def cooccurrences(
    corpus: Corpus, vocab_size: int, window: int, chunk_tokens: int = 1_000_000
) -> Cooccurrences:
    """Symmetric 1/d-weighted co-occurrence counts inside sentences (cooccur.c with symmetric=1)."""
    sentence = corpus.sentence_of
    keys, values = np.zeros(0, np.int64), np.zeros(0)
    for a in range(0, len(corpus.ids), chunk_tokens):
        lo, hi = max(a - window, 0), min(a + chunk_tokens, len(corpus.ids))
        ids, sent = corpus.ids[lo:hi].astype(np.int64), sentence[lo:hi]
        first = a - lo  # pairs are counted where their right word lies in [a, hi)
        chunk_keys, chunk_values = [], []
        for d in range(1, window + 1):
            right = np.arange(max(first, d), len(ids))
            right = right[sent[right] == sent[right - d]]
            left_ids, right_ids = ids[right - d], ids[right]
            chunk_keys += [left_ids * vocab_size + right_ids, right_ids * vocab_size + left_ids]
            chunk_values += [np.full(2 * len(right), 1.0 / d)]
        k, v = _merge(np.concatenate(chunk_keys), np.concatenate(chunk_values))
        keys, values = _merge(np.concatenate([keys, k]), np.concatenate([values, v]))
    return Cooccurrences((keys // vocab_size).astype(np.int32), (keys % vocab_size).astype(np.int32), values)


def weighting(x: jax.Array, x_max: float, alpha: float) -> jax.Array:
    """f(x) = (x / x_max)^alpha, capped at 1."""
    return jnp.minimum((x / x_max) ** alpha, 1.0)


def glove_loss(
    w: jax.Array, w_ctx: jax.Array, b: jax.Array, b_ctx: jax.Array, x: jax.Array, x_max: float, alpha: float
) -> jax.Array:
    """J = sum f(x) (w . w~ + b + b~ - log x)^2 over entries: w, w_ctx (E, D); b, b_ctx, x (E,)."""
    diff = jnp.sum(w * w_ctx, axis=-1) + b + b_ctx - jnp.log(x)
    return jnp.sum(weighting(x, x_max, alpha) * diff**2)


class GloVeParams(NamedTuple):
    w: jax.Array  # (V, D) word vectors
    w_ctx: jax.Array  # (V, D) context vectors
    b: jax.Array  # (V,)
    b_ctx: jax.Array  # (V,)
    # AdaGrad squared-gradient sums, same shapes, starting at 1
    g_w: jax.Array
    g_w_ctx: jax.Array
    g_b: jax.Array
    g_b_ctx: jax.Array


def init_params(vocab_size: int, dim: int, seed: int) -> GloVeParams:
    """glove.c: vectors and biases ~ U(-0.5/D, 0.5/D), squared-gradient sums 1."""
    rng = np.random.default_rng(seed)
    u = lambda *shape: jnp.asarray((rng.random(shape, dtype=np.float32) - 0.5) / dim)  # noqa: E731
    ones = lambda *shape: jnp.ones(shape, jnp.float32)  # noqa: E731
    return GloVeParams(
        u(vocab_size, dim), u(vocab_size, dim), u(vocab_size), u(vocab_size),
        ones(vocab_size, dim), ones(vocab_size, dim), ones(vocab_size), ones(vocab_size),
    )  # fmt: skip


class Entries(NamedTuple):
    rows: jax.Array  # (E,) int32
    cols: jax.Array  # (E,) int32
    x: jax.Array  # (E,) float32 counts; 0 marks padding


def adagrad_step(p: GloVeParams, e: Entries, x_max: float, alpha: float, eta: float) -> GloVeParams:
    """One sub-batch of glove.c's AdaGrad updates (gradients of J/2, as glove.c)."""
    real = e.x > 0
    x = jnp.where(real, e.x, 1.0)
    w, wc = gather(p.w, e.rows), gather(p.w_ctx, e.cols)  # (E, D)
    diff = jnp.sum(w * wc, axis=-1) + gather(p.b, e.rows) + gather(p.b_ctx, e.cols) - jnp.log(x)
    fdiff = jnp.where(real, eta * weighting(x, x_max, alpha) * diff, 0.0)  # (E,)
    grad_w, grad_wc = fdiff[:, None] * wc, fdiff[:, None] * w  # (E, D)
    step_w = grad_w / jnp.sqrt(gather(p.g_w, e.rows))
    step_wc = grad_wc / jnp.sqrt(gather(p.g_w_ctx, e.cols))
    step_b = fdiff / jnp.sqrt(gather(p.g_b, e.rows))
    step_bc = fdiff / jnp.sqrt(gather(p.g_b_ctx, e.cols))
    return GloVeParams(
        scatter_add(p.w, e.rows, -step_w),
        scatter_add(p.w_ctx, e.cols, -step_wc),
        scatter_add(p.b, e.rows, -step_b),
        scatter_add(p.b_ctx, e.cols, -step_bc),
        scatter_add(p.g_w, e.rows, grad_w**2),
        scatter_add(p.g_w_ctx, e.cols, grad_wc**2),
        scatter_add(p.g_b, e.rows, fdiff**2),
        scatter_add(p.g_b_ctx, e.cols, fdiff**2),
    )


@jax.jit
def _cost(p: GloVeParams, e: Entries, x_max: float, alpha: float) -> jax.Array:
    real = e.x > 0  # padding entries have x = 0
    w, wc = gather(p.w, e.rows), gather(p.w_ctx, e.cols)
    x = jnp.where(real, e.x, 1.0)
    per_entry = jnp.where(real, 1.0, 0.0) * weighting(x, x_max, alpha)
    diff = jnp.sum(w * wc, axis=-1) + gather(p.b, e.rows) + gather(p.b_ctx, e.cols) - jnp.log(x)
    return jnp.sum(per_entry * diff**2)


def mean_cost(p: GloVeParams, co: Cooccurrences, settings: GloVeSettings, chunk: int = 1 << 18) -> float:
    """J / (number of entries), in chunks of ``chunk`` entries (memory stays small)."""
    total = 0.0
    for a in range(0, len(co.counts), chunk):
        rows, cols, x = (np.zeros(chunk, np.int32), np.zeros(chunk, np.int32), np.zeros(chunk, np.float32))
        n = min(chunk, len(co.counts) - a)
        rows[:n], cols[:n], x[:n] = co.rows[a : a + n], co.cols[a : a + n], co.counts[a : a + n]
        total += float(_cost(p, Entries(rows, cols, x), settings.x_max, settings.alpha))
    return total / max(len(co.counts), 1)


def _train_call(p: GloVeParams, batches: Entries, x_max: float, alpha: float, eta: float) -> GloVeParams:
    p, _ = jax.lax.scan(lambda q, e: (adagrad_step(q, e, x_max, alpha, eta), None), p, batches)
    return p


train_call = jax.jit(_train_call, donate_argnums=0)


@dataclass(frozen=True)
class GloVeStats:
    entries: int
    cooccurrence_seconds: float
    seconds: float  # training
    final_cost: float  # J / number of entries after the last epoch


def train(
    corpus: Corpus, vocab_size: int, settings: GloVeSettings, log: Callable[[str], None] | None = None
) -> tuple[np.ndarray, GloVeStats]:
    """Count co-occurrences, fit, return (V, D) vectors W + W~ and statistics."""
    t0 = time.perf_counter()
    co = cooccurrences(corpus, vocab_size, settings.window, settings.chunk_tokens)
    t_count = time.perf_counter() - t0
    params = init_params(vocab_size, settings.dim, settings.seed)
    rng = np.random.default_rng(settings.seed)
    per_call = settings.batch * settings.steps_per_call
    n = len(co.counts)
    padded = -(-n // per_call) * per_call
    shape = (-1, settings.steps_per_call, settings.batch)
    t0 = time.perf_counter()
    for epoch in range(settings.epochs):
        order = rng.permutation(n)
        rows, cols, x = (np.zeros(padded, np.int32), np.zeros(padded, np.int32), np.zeros(padded, np.float32))
        rows[:n], cols[:n], x[:n] = co.rows[order], co.cols[order], co.counts[order]
        rows, cols, x = rows.reshape(shape), cols.reshape(shape), x.reshape(shape)
        for c in range(len(rows)):
            params = train_call(
                params, Entries(rows[c], cols[c], x[c]), settings.x_max, settings.alpha, settings.eta
            )
        if log:
            log(f"epoch {epoch + 1}/{settings.epochs}: cost {mean_cost(params, co, settings):.4f}")
    seconds = time.perf_counter() - t0
    stats = GloVeStats(n, t_count, seconds, mean_cost(params, co, settings))
    return np.asarray(params.w + params.w_ctx), stats
