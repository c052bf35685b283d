"""GloVe (Pennington, Socher & Manning 2014, "GloVe: Global Vectors for Word Representation").

1. Co-occurrence counts (section 3, as ``cooccur.c``): inside each sentence, every pair of words at
   distance ``d <= window`` adds ``1/d`` to ``X[a, b]`` and to ``X[b, a]``.  Counted a chunk of the
   corpus at a time and merged as sorted sparse ``(row * V + col) -> count`` arrays, so memory grows with
   the number of distinct pairs (7.3M on the 2M-token Wikipedia sample, window 10), not with ``V^2``
   or the corpus size.
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


def _sum_runs(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the ``values`` of equal ``keys`` in sorted ``keys``: (unique keys, sums)."""
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[starts], np.add.reduceat(values, starts) if len(keys) else values


def _merge(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Add two sparse (sorted unique keys, values) arrays."""
    keys, values = np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]])
    order = np.argsort(keys, kind="stable")  # two sorted runs: a linear merge
    return _sum_runs(keys[order], values[order])


def _chunk_counts(ids: np.ndarray, sent: np.ndarray, first: int, window: int, vocab_size: int):
    """Counts of the ordered pairs (left word at i - d, right word at i) with ``i >= first``, as sorted
    ``(left * V + right)`` keys.  The distance is packed into the key, ``(pair, d) -> pair * (window + 1)
    + d``, so that one ``np.sort`` of integers (not an argsort) groups the pairs; the value is 1/d."""
    codes = []
    for d in range(1, window + 1):
        right = np.arange(max(first, d), len(ids))
        right = right[sent[right] == sent[right - d]]  # both words in one sentence
        codes.append((ids[right - d] * vocab_size + ids[right]) * (window + 1) + d)
    pairs, distance = np.divmod(np.sort(np.concatenate(codes)), window + 1)
    return _sum_runs(pairs, 1.0 / distance)


def cooccurrences(
    corpus: Corpus, vocab_size: int, window: int, chunk_tokens: int = 1_000_000
) -> Cooccurrences:
    """Symmetric 1/d-weighted co-occurrence counts inside sentences (cooccur.c with symmetric=1):
    the ordered (left, right) counts ``C`` a chunk at a time, then ``X = C + C^T``."""
    sentence = corpus.sentence_of
    counts = (np.zeros(0, np.int64), np.zeros(0))
    for a in range(0, len(corpus.ids), chunk_tokens):
        lo, hi = max(a - window, 0), min(a + chunk_tokens, len(corpus.ids))
        ids, sent = corpus.ids[lo:hi].astype(np.int64), sentence[lo:hi]
        counts = _merge(counts, _chunk_counts(ids, sent, a - lo, window, vocab_size))
    keys, values = counts
    transposed = (keys % vocab_size) * vocab_size + keys // vocab_size
    order = np.argsort(transposed)
    keys, values = _merge(counts, (transposed[order], values[order]))
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
    """Per word, one row ``[vector (D) | bias | AdaGrad sums of the vector (D) | of the bias]`` on each
    side, so that a step is one gather and one scatter-add per side.  (Kept as eight separate arrays,
    XLA on a CPU copies whole (V, D) tables inside the training loop to order their reads and writes.)"""

    words: jax.Array  # (V, 2D + 2): w_i, b_i, G(w_i), G(b_i)
    contexts: jax.Array  # (V, 2D + 2): w~_j, b~_j, G(w~_j), G(b~_j)


def unpack(rows: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """(..., 2D + 2) rows -> vector (..., D), bias (...), squared-gradient sums (..., D) and (...)."""
    d = (rows.shape[-1] - 2) // 2
    return rows[..., :d], rows[..., d], rows[..., d + 1 : 2 * d + 1], rows[..., 2 * d + 1]


def pack(vector: jax.Array, bias: jax.Array, g_vector: jax.Array, g_bias: jax.Array) -> jax.Array:
    """The inverse of :func:`unpack`."""
    return jnp.concatenate([vector, bias[..., None], g_vector, g_bias[..., None]], axis=-1)


def init_params(vocab_size: int, dim: int, seed: int) -> GloVeParams:
    """glove.c: vectors and biases ~ U(-0.5/D, 0.5/D), squared-gradient sums 1."""
    rng = np.random.default_rng(seed)

    def side() -> jax.Array:
        vector_and_bias = (rng.random((vocab_size, dim + 1), dtype=np.float32) - 0.5) / dim
        return jnp.asarray(np.concatenate([vector_and_bias, np.ones((vocab_size, dim + 1), np.float32)], 1))

    return GloVeParams(side(), side())


def word_vectors(p: GloVeParams) -> np.ndarray:
    """The output of ``glove.c -model 2``: W + W~, (V, D)."""
    return np.asarray(unpack(p.words)[0] + unpack(p.contexts)[0])


class Entries(NamedTuple):
    rows: jax.Array  # (E,) int32
    cols: jax.Array  # (E,) int32
    x: jax.Array  # (E,) float32 counts; 0 marks padding


def adagrad_step(p: GloVeParams, e: Entries, x_max: float, alpha: float, eta: float) -> GloVeParams:
    """One sub-batch of glove.c's AdaGrad updates (gradients of J/2, as glove.c)."""
    real = e.x > 0
    x = jnp.where(real, e.x, 1.0)
    w, b, g_w, g_b = unpack(gather(p.words, e.rows))  # (E, D), (E,), (E, D), (E,)
    wc, bc, g_wc, g_bc = unpack(gather(p.contexts, e.cols))
    diff = jnp.sum(w * wc, axis=-1) + b + bc - jnp.log(x)  # (E,)
    fdiff = jnp.where(real, eta * weighting(x, x_max, alpha) * diff, 0.0)  # (E,)
    grad_w, grad_wc = fdiff[:, None] * wc, fdiff[:, None] * w  # (E, D)
    step_words = pack(-grad_w / jnp.sqrt(g_w), -fdiff / jnp.sqrt(g_b), grad_w**2, fdiff**2)
    step_contexts = pack(-grad_wc / jnp.sqrt(g_wc), -fdiff / jnp.sqrt(g_bc), grad_wc**2, fdiff**2)
    return GloVeParams(
        scatter_add(p.words, e.rows, step_words), scatter_add(p.contexts, e.cols, step_contexts)
    )


@jax.jit
def _cost(p: GloVeParams, e: Entries, x_max: float, alpha: float) -> jax.Array:
    """:func:`glove_loss` of the real entries (padding has x = 0)."""
    real = e.x > 0
    w, b, _, _ = unpack(gather(p.words, e.rows))
    wc, bc, _, _ = unpack(gather(p.contexts, e.cols))
    weight = jnp.where(real, 1.0, 0.0)[:, None]  # zeroes the padding's vectors and biases
    return glove_loss(
        w * weight, wc, b * weight[:, 0], bc * weight[:, 0], jnp.where(real, e.x, 1.0), x_max, alpha
    )


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
    return word_vectors(params), stats
