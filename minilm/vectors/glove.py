"""GloVe (Pennington, Socher & Manning 2014, "GloVe: Global Vectors for Word Representation").

1. Co-occurrence counts (section 3, as ``cooccur.c``): inside each sentence, every pair of words at
   distance ``d <= window`` adds ``1/d`` to ``X[a, b]`` and to ``X[b, a]``.  Counted a chunk of the
   corpus at a time and merged as sorted sparse ``pair key -> count`` arrays, so memory grows with
   the number of distinct pairs (7.3M on the 2M-token Wikipedia sample, window 10), not with ``V^2``
   or the corpus size.  ``X`` is summed over its upper triangle and mirrored at the end, and training
   gathers each jitted call's entries as it goes (no shuffled copy); on that sample counting peaks at
   about 270 MB above the corpus and the whole run (JAX runtime included) at about 490 MB.
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
   one ``shuffle`` before training), here in jitted sub-batches with scatter-add updates -- on
   several devices at once with ``devices`` (glove.c's threads; :mod:`minilm.vectors.devices`).
3. The word vectors are ``W + W~`` (``glove.c -model 2``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from minilm.vectors.devices import Fn, Trainer
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
    steps_per_call: int = 64  # sub-batches per jitted call on each device
    devices: int = 1  # JAX devices training side by side (0 = all; minilm.vectors.devices)
    sync_every: int = 8  # with several devices: calls between sums of their changes
    chunk_tokens: int = 1_000_000  # tokens counted at a time


@dataclass(frozen=True)
class Cooccurrences:
    """The non-zero ``X_ij`` in row-major order (sorted by ``(i, j)``)."""

    rows: np.ndarray  # (E,) int32
    cols: np.ndarray  # (E,) int32
    counts: np.ndarray  # (E,) float32 X_ij, summed in float64 (what training reads)


def _pair_keys(left: np.ndarray, right: np.ndarray, vocab_size: int) -> np.ndarray:
    """Ordered pairs -> int64 keys ``2 (min V + max) + [left > right]``: sorted keys list the unordered
    pairs row-major, each pair's two orientations side by side (the upper triangle of ``X``)."""
    low, high = np.minimum(left, right), np.maximum(left, right)
    return 2 * (low * vocab_size + high) + (left > right)


def _chunk_codes(ids: np.ndarray, sent: np.ndarray, first: int, window: int, vocab_size: int) -> np.ndarray:
    """Sorted codes ``key * (window + 1) + d`` (key: :func:`_pair_keys`) of the ordered pairs (left word at
    ``i - d``, right word at ``i``), ``i >= first``, both words in one sentence: (M,) int64, M <= window N.
    One sort of integers (no argsort) groups each pair's distances in increasing d.  Written into one
    array of the exact size and sorted in place, so the M codes are the chunk's only large array (no
    list of per-distance pieces to concatenate, no sorted copy)."""
    starts = [max(first, d) for d in range(1, window + 1)]
    same = [sent[i:] == sent[i - d : max(len(ids) - d, 0)] for d, i in enumerate(starts, 1)]  # (N - i,) bool
    codes = np.empty(sum(np.count_nonzero(s) for s in same), np.int64)
    filled = 0
    for d, (i, s) in enumerate(zip(starts, same, strict=True), 1):
        right = np.flatnonzero(s) + i  # (M_d,) both words in one sentence
        codes[filled : filled + len(right)] = (
            _pair_keys(ids[right - d], ids[right], vocab_size) * (window + 1) + d
        )
        filled += len(right)
    codes.sort()
    return codes


def _sum_runs(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the ``values`` of equal ``keys`` in sorted ``keys``: (unique keys, sums)."""
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[starts], np.add.reduceat(values, starts) if len(keys) else values


def _code_sums(codes: np.ndarray, window: int, block: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Sorted codes -> (keys, sum of 1/d over each key's codes): sorted by d, as ``_sum_runs`` adds them.
    A block of about ``block`` codes at a time, cut between keys (a key's sum depends only on its own
    codes), so that the (M,) float64 1/d and the key of every code never exist at once."""
    keys, sums = [], []
    lo = 0
    while lo < len(codes):
        last_key = codes[min(lo + block, len(codes)) - 1] // (window + 1)
        hi = np.searchsorted(codes, (last_key + 1) * (window + 1))  # the end of last_key's run
        k, s = _sum_runs(codes[lo:hi] // (window + 1), 1.0 / (codes[lo:hi] % (window + 1)))
        keys.append(k)
        sums.append(s)
        lo = hi
    return np.concatenate(keys), np.concatenate(sums)


def _add_into(total: list[np.ndarray], keys: np.ndarray, values: np.ndarray) -> None:
    """``total += (keys, values)`` for sparse [sorted unique keys, values] arrays, in place: keys already
    in ``total`` add their values where they are, the others are inserted at their sorted positions (no
    sort of the union), and each of ``total``'s arrays is dropped as soon as its successor exists."""
    at = np.searchsorted(total[0], keys)  # (|keys|,) where each key is or would be in total
    found = total[0][np.minimum(at, len(total[0]) - 1)] == keys if len(total[0]) else np.zeros(len(at), bool)
    total[1][at[found]] += values[found]
    new = np.flatnonzero(~found)  # (|new|,)
    at = at[new]
    total[0] = np.insert(total[0], at, keys[new])
    total[1] = np.insert(total[1], at, values[new])


def _both_orientations(
    rows: np.ndarray, cols: np.ndarray, counts: np.ndarray, vocab_size: int
) -> Cooccurrences:
    """All of the symmetric ``X`` from its upper triangle ``rows <= cols`` (U,), sorted row-major.

    Row ``r`` of ``X`` is its lower part (``X_rc = X_cr``, ``c < r``: column ``r`` of the upper triangle, in
    order of row) followed by its upper part (``c >= r``), so every entry's place follows from per-row
    counts (a counting sort): only the (U,) upper entries' columns are sorted, not the (E,) whole.

    The three (E,) columns share one (3, E) allocation (the counts a float32 view of its int32 storage):
    at 12 E bytes it is mapped on its own by malloc rather than carved from the heap among the
    temporaries, so the memory goes back to the system when the counts are freed after training."""
    off_diagonal = rows != cols  # (U,)
    block = np.empty((3, len(rows) + np.count_nonzero(off_diagonal)), np.int32)  # (3, E)
    entries = [block[0], block[1], block[2].view(np.float32)]
    by_column = np.argsort(cols, kind="stable")  # (U,) by column, then row
    lower = by_column[off_diagonal[by_column]]  # (L,) the entries mirrored below the diagonal, row-major
    del by_column, off_diagonal
    upper_per_row = np.bincount(rows, minlength=vocab_size)  # (V,)
    lower_per_row = np.bincount(cols[lower], minlength=vocab_size)
    at = np.arange(len(rows))  # (U,) upper entry i (row r): after the i upper entries before it
    at += np.cumsum(lower_per_row)[rows]  # and the lower entries of rows <= r
    for x, upper in zip(entries, (rows, cols, counts), strict=True):
        x[at] = upper
    del at
    at = np.arange(len(lower))  # (L,) lower entry j (row c): after the j lower entries before it
    at += (np.cumsum(upper_per_row) - upper_per_row)[cols[lower]]  # and the upper entries of rows < c
    for x, mirrored in zip(entries, (cols, rows, counts), strict=True):
        x[at] = mirrored[lower]
    return Cooccurrences(*entries)


def _upper_triangle(
    corpus: Corpus, vocab_size: int, window: int, chunk_tokens: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The upper triangle ``i <= j`` of ``X = C + C^T`` as row-major (U,) int32 rows, int32 columns and
    float64 counts, ``C`` being the ordered (left, right) counts, accumulated a chunk at a time.

    Every sum is the float64 sum it always was (per chunk, the 1/d of a pair in increasing d by
    ``np.add.reduceat``, then chunk after chunk, then ``C_ij + C_ji``): only the layout changed.  Keys
    that keep a pair's two orientations side by side let ``X`` be summed over the upper triangle alone
    (U ~ E / 2 entries) instead of merging ``C`` with a sorted copy of ``C^T``."""
    sentence = corpus.sentence_of
    c = [np.zeros(0, np.int64), np.zeros(0)]  # C: [sorted _pair_keys, values]
    for a in range(0, len(corpus.ids), chunk_tokens):
        lo, hi = max(a - window, 0), min(a + chunk_tokens, len(corpus.ids))
        ids, sent = corpus.ids[lo:hi].astype(np.int64), sentence[lo:hi]
        _add_into(c, *_code_sums(_chunk_codes(ids, sent, a - lo, window, vocab_size), window))
    keys, x = _sum_runs(c[0] // 2, c[1])  # (U,) X_ij = C_ij + C_ji
    del c  # C is freed before the rows and columns are made
    rows, cols = (keys // vocab_size).astype(np.int32), (keys % vocab_size).astype(np.int32)
    x[rows == cols] *= 2  # X_ii = C_ii + C_ii
    return rows, cols, x


def cooccurrences(
    corpus: Corpus, vocab_size: int, window: int, chunk_tokens: int = 1_000_000
) -> Cooccurrences:
    """Symmetric 1/d-weighted co-occurrence counts inside sentences (cooccur.c with symmetric=1):
    ``X = C + C^T``, ``C`` the ordered (left, right) counts, kept as the float32 that training reads."""
    rows, cols, x = _upper_triangle(corpus, vocab_size, window, chunk_tokens)
    x = x.astype(np.float32)  # (U,) what the float64 sums always became in training
    return _both_orientations(rows, cols, x, vocab_size)


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


@cache
def scanned(settings: GloVeSettings) -> Fn:
    """A jitted call's body: the S sub-batches of a stack (leading axis S) in order; returns the
    parameters and the summed cost (cached: the same function object for the same settings)."""
    s = settings

    def step(q: GloVeParams, e: Entries) -> tuple[GloVeParams, jax.Array]:
        return adagrad_step(q, e, s.x_max, s.alpha, s.eta, s.grad_clip)

    def call(p: GloVeParams, batches: Entries) -> tuple[GloVeParams, jax.Array]:
        p, costs = jax.lax.scan(step, p, batches)
        return p, jnp.sum(costs)

    return call


def _permutation(rng: np.random.Generator, n: int) -> np.ndarray:
    """``rng.permutation(n)`` as (n,) int32: it shuffles ``arange(n)`` in place, and ``Generator.shuffle``
    draws the same swaps whatever the dtype, so this is the same order (and leaves ``rng`` in the same
    state) at half the memory."""
    order = np.arange(n, dtype=np.int32 if n <= np.iinfo(np.int32).max else np.int64)
    rng.shuffle(order)
    return order


def _epoch(co: Cooccurrences, rng: np.random.Generator, batch: int, steps: int) -> Iterator[Entries]:
    """One epoch: the entries in a new random order, one jitted call's (steps, batch) sub-batches at a
    time, the last call padded with zeros.  Gathered call by call, so no shuffled copy of the E entries
    is ever made, and the (E,) order is freed when the epoch ends, before the next one is drawn."""
    order = _permutation(rng, len(co.counts))  # (E,)
    per_call = batch * steps
    for lo in range(0, len(order), per_call):
        take = order[lo : lo + per_call]  # (<= per_call,)
        padded = [np.pad(a[take], (0, per_call - len(take))) for a in (co.rows, co.cols, co.counts)]
        yield Entries(*(a.reshape(steps, batch) for a in padded))  # (S, B) each


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
    trainer = Trainer(scanned(settings), init_params(vocab_size, settings.dim, settings.seed), settings)
    rng = np.random.default_rng(settings.seed)
    n = len(co.counts)
    t0 = time.perf_counter()
    for epoch in range(settings.epochs):
        costs = []
        for entries in _epoch(co, rng, settings.batch, trainer.steps):
            if costs:  # the next call's entries were gathered while this one ran; without this wait the
                costs[-1].block_until_ready()  # queue of dispatched calls would hold every call's entries
            costs.append(trainer(entries))  # () or (devices,)
        trainer.sync()
        epoch_cost = float(sum(np.asarray(c).sum() for c in costs)) / n  # (on the host: no all-reduce)
        if log:
            log(f"epoch {epoch + 1}/{settings.epochs}: cost {epoch_cost:.4f}")
    params = trainer.params()
    seconds = time.perf_counter() - t0
    stats = GloVeStats(n, t_count, seconds, epoch_cost)
    return word_vectors(params), stats
