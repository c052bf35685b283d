"""GloVe (Pennington, Socher & Manning 2014, "GloVe: Global Vectors for Word Representation").

1. Co-occurrence counts (section 3, as ``cooccur.c``): inside each sentence, every pair of words at
   distance ``d <= window`` adds ``1/d`` to ``X[a, b]`` and to ``X[b, a]``.  Counted a chunk of the
   corpus at a time and merged as sorted sparse ``(row * V + col) -> count`` arrays, so memory grows with
   the number of distinct pairs (7.3M on the 2M-token Wikipedia sample, window 10), not with ``V^2``
   or the corpus size.
2. Weighted least squares (eq. 8) over the non-zero entries::

       J = sum_{ij} f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2,
       f(x) = (x / x_max)^alpha if x < x_max else 1          (x_max = 100, alpha = 3/4)

   trained with AdaGrad exactly as ``glove.c`` (its current sources) does it, per entry::

       fdiff = f(X_ij) diff_ij                                  (diff = w_i . w~_j + b_i + b~_j - log X_ij)
       g = eta * clip(fdiff * w~_j, -100, 100)      w_i -= g / sqrt(G(w_i));   G(w_i) += g^2
       b_i -= fdiff / sqrt(G(b_i));                 G(b_i) += fdiff^2

   (and the same for ``w~_j``, ``b~_j``): the squared-gradient sums start at 1, the vector steps are
   ``eta`` (0.05) times the clipped gradient of J / 2, and the *bias* steps are the gradient of J / 2
   with no ``eta`` -- glove.c's biases learn at rate 1.  Its reported cost is the mean of
   ``0.5 f(X) diff^2`` over the entries, summed while the epoch runs (each entry before its update);
   :func:`train` reports the same.  The entries are visited in a new random order every epoch (glove.c:
   one ``shuffle`` before training), here in jitted sub-batches with scatter-add updates.
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
    eta: float = 0.05  # AdaGrad learning rate of the vectors (the biases': 1, as glove.c)
    grad_clip: float = 100.0  # glove.c: each component of f(x) diff w is clipped to [-this, this]
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


def adagrad_step(
    p: GloVeParams, e: Entries, x_max: float, alpha: float, eta: float, grad_clip: float
) -> tuple[GloVeParams, jax.Array]:
    """One sub-batch of glove.c's AdaGrad updates (module docstring); returns the new parameters and
    glove.c's cost of the sub-batch, ``sum 0.5 f(x) diff^2`` before the update."""
    real = e.x > 0
    x = jnp.where(real, e.x, 1.0)
    w, b, g_w, g_b = unpack(gather(p.words, e.rows))  # (E, D), (E,), (E, D), (E,)
    wc, bc, g_wc, g_bc = unpack(gather(p.contexts, e.cols))
    diff = jnp.sum(w * wc, axis=-1) + b + bc - jnp.log(x)  # (E,)
    fdiff = jnp.where(real, weighting(x, x_max, alpha) * diff, 0.0)  # (E,) = d(J/2)/db_i
    grad_w = eta * jnp.clip(fdiff[:, None] * wc, -grad_clip, grad_clip)  # (E, D)
    grad_wc = eta * jnp.clip(fdiff[:, None] * w, -grad_clip, grad_clip)
    step_words = pack(-grad_w / jnp.sqrt(g_w), -fdiff / jnp.sqrt(g_b), grad_w**2, fdiff**2)
    step_contexts = pack(-grad_wc / jnp.sqrt(g_wc), -fdiff / jnp.sqrt(g_bc), grad_wc**2, fdiff**2)
    new = GloVeParams(
        scatter_add(p.words, e.rows, step_words), scatter_add(p.contexts, e.cols, step_contexts)
    )
    return new, 0.5 * jnp.sum(fdiff * diff)


def _train_call(p: GloVeParams, batches: Entries, settings: GloVeSettings) -> tuple[GloVeParams, jax.Array]:
    """The S sub-batches of ``batches`` (leading axis S) in order; returns the parameters and the
    summed cost."""
    s = settings

    def step(q: GloVeParams, e: Entries) -> tuple[GloVeParams, jax.Array]:
        return adagrad_step(q, e, s.x_max, s.alpha, s.eta, s.grad_clip)

    p, costs = jax.lax.scan(step, p, batches)
    return p, jnp.sum(costs)


train_call = jax.jit(_train_call, static_argnums=2, donate_argnums=0)


@dataclass(frozen=True)
class GloVeStats:
    entries: int
    cooccurrence_seconds: float
    seconds: float  # training
    final_cost: float  # glove.c's: mean of 0.5 f(x) diff^2 over the entries during the last epoch


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
        costs = []
        for c in range(len(rows)):
            params, cost = train_call(params, Entries(rows[c], cols[c], x[c]), settings)
            costs.append(cost)
        epoch_cost = float(sum(costs)) / n
        if log:
            log(f"epoch {epoch + 1}/{settings.epochs}: cost {epoch_cost:.4f}")
    seconds = time.perf_counter() - t0
    stats = GloVeStats(n, t_count, seconds, epoch_cost)
    return word_vectors(params), stats
