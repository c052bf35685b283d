"""fastText skip-gram (Bojanowski et al. 2017, "Enriching Word Vectors with Subword Information").

A word's input vector is the average of its own row and the rows of its hashed character n-grams
(:mod:`minilm.vectors.subwords`)::

    h(w) = (W_in[w] + sum_{g in G(w)} Z[g]) / (1 + |G(w)|)                       (section 3.2)

and skip-gram with negative sampling (:mod:`minilm.vectors.word2vec`: same windows, subsampling,
loss and learning rate) is trained with the centre as input, as gensim's fastText does: ``h(centre)``
predicts each of its ``2r`` context words, so the n-grams are summed once per centre, not once per
pair.  The K' noise words are drawn once per centre and each stands for K/K' draws for every context
it differs from (same expected gradient as K fresh draws per pair).  Like fastText's
``Model::update`` (and gensim), every row that makes up ``h`` receives the whole ``-lr * dL/dh``.
After training a vocabulary word's vector is ``h(w)``; an out-of-vocabulary word gets the mean of its
n-gram rows.

Only the n-gram rows that some vocabulary word uses are trained, so only those live on the device: the
``buckets`` table (2M x 100 floats, 800 MB) is made once in numpy, its used rows (about 6% of them
on a 2M-token corpus) are gathered into a compact table for training and written back at the end.
The numbers are the same as training the whole table (the other rows get no update); memory holds
one copy of the table instead of two or three, and the scatter-adds touch a small table.

The n-grams of the centres in a sub-batch are passed flat: ``ngram_rows (C,)`` with the slot
``ngram_slot (C,)`` of the centre each belongs to, summed with a segment sum.  Centres are packed
into sub-batches of at most ``batch`` centres and ``C`` n-grams.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from minilm.vectors.devices import Trainer
from minilm.vectors.subwords import SubwordHasher
from minilm.vectors.vocab import AliasSampler, Corpus, Vocab, keep_probability, noise_distribution
from minilm.vectors.windows import Chunk, iterate_chunks
from minilm.vectors.word2vec import (
    Batch,
    Settings,
    TrainStats,
    gather,
    learning_rate,
    ns_grads,
    scanned,
    scatter_add,
)


class FastTextParams(NamedTuple):
    w_in: jax.Array  # (V, D) word rows
    w_ngrams: jax.Array  # (buckets, D) n-gram rows (in training: (U, D), the U rows in use)
    w_out: jax.Array  # (V, D) output vectors


class FastTextBatch(NamedTuple):
    words: Batch  # centres (B,), contexts (B, 2r), negatives (B, K'), lr as for skip-gram
    noise_weight: jax.Array  # () float32 K/K': the draws each shared noise word stands for
    ngram_rows: jax.Array  # (C,) int32 rows of Z
    ngram_slot: jax.Array  # (C,) int32 centre slot in 0..B-1 each n-gram belongs to; B = padding
    ngram_count: jax.Array  # (B,) float32 |G(centre)|


def init_params(vocab_size: int, buckets: int, dim: int, seed: int) -> FastTextParams:
    """fastText's init: word and n-gram rows ~ U(-1/D, 1/D), output vectors 0 (numpy arrays; the
    n-gram table is scaled in place: no temporary copy of it)."""
    rng = np.random.default_rng(seed)

    def uniform(rows: int) -> np.ndarray:
        w = rng.random((rows, dim), dtype=np.float32)
        w *= 2
        w -= 1
        w /= dim
        return w

    w_in = uniform(vocab_size)
    return FastTextParams(w_in, uniform(buckets), np.zeros((vocab_size, dim), np.float32))


def input_vectors(w_in: jax.Array, w_ngrams: jax.Array, b: FastTextBatch) -> jax.Array:
    """h = (word row + sum of n-gram rows) / (1 + n) for each centre: (B, D)."""
    slots = b.words.centres.shape[0]
    z = gather(w_ngrams, b.ngram_rows)  # (C, D)
    zsum = jax.ops.segment_sum(z, b.ngram_slot, num_segments=slots + 1)[:slots]  # (B, D)
    return (gather(w_in, b.words.centres) + zsum) / (1.0 + b.ngram_count)[:, None]


def centre_outputs(b: FastTextBatch) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Output words (B, J = 2r + K'): the contexts (label 1), then the shared noise words (label 0),
    with weights: a noise word counts K/K' for each context it differs from."""
    valid = b.words.contexts >= 0  # (B, 2r)
    contexts = jnp.where(valid, b.words.contexts, 0)
    differs = valid[:, :, None] & (contexts[:, :, None] != b.words.negatives[:, None, :])  # (B, 2r, K')
    weights = jnp.concatenate([valid, differs.sum(1) * b.noise_weight], axis=1).astype(jnp.float32)
    labels = jnp.concatenate([jnp.ones(contexts.shape), jnp.zeros(b.words.negatives.shape)], axis=1)
    return jnp.concatenate([contexts, b.words.negatives], axis=1), labels, weights


def skipgram_step(params: FastTextParams, b: FastTextBatch) -> FastTextParams:
    """fastText skip-gram step: word2vec's skip-gram on the composed input vector."""
    targets, labels, weights = centre_outputs(b)  # (B, J)
    h = input_vectors(params.w_in, params.w_ngrams, b)  # (B, D)
    u = gather(params.w_out, targets)  # (B, J, D)
    dh, du = ns_grads(h[:, None, :], u, labels[:, None, :], weights[:, None, :])
    step = -b.words.lr * dh[:, 0]  # (B, D), the same update for the word row and each of its n-gram rows
    step_per_ngram = jnp.concatenate([step, jnp.zeros((1, step.shape[1]))])[b.ngram_slot]  # (C, D)
    return FastTextParams(
        scatter_add(params.w_in, b.words.centres, step),
        scatter_add(params.w_ngrams, b.ngram_rows, step_per_ngram),
        scatter_add(params.w_out, targets, -b.words.lr * du),
    )


@partial(jax.jit, donate_argnums=0)
def _add_ngrams(total: jax.Array, w_ngrams: jax.Array, rows: jax.Array, owner: jax.Array) -> jax.Array:
    """``total`` (V + 1, D) plus n-gram rows ``rows`` (C,) added to their words ``owner`` (C,); V: padding."""
    return total.at[owner].add(gather(w_ngrams, rows), mode="promise_in_bounds")


def word_vectors(
    params: FastTextParams, table: tuple[np.ndarray, np.ndarray], chunk: int = 1 << 16
) -> np.ndarray:
    """(V, D) ``h(w)`` of every vocabulary word (gensim's ``adjust_vectors``).  The n-gram rows are
    added ``chunk`` at a time: no (n-grams in the vocabulary, D) array (200 MB on a 2M-token corpus)."""
    rows, starts = table
    v, n = len(starts) - 1, len(rows)
    padded = -(-n // chunk) * chunk
    rows_p, owner_p = np.zeros(padded, np.int32), np.full(padded, v, np.int32)
    rows_p[:n], owner_p[:n] = rows, np.repeat(np.arange(v, dtype=np.int32), np.diff(starts))
    total = jnp.zeros((v + 1, params.w_in.shape[1]))
    for a in range(0, padded, chunk):
        total = _add_ngrams(total, params.w_ngrams, rows_p[a : a + chunk], owner_p[a : a + chunk])
    return (np.asarray(params.w_in) + np.asarray(total[:v])) / (1 + np.diff(starts)).astype(np.float32)[
        :, None
    ]


def pack(sizes: np.ndarray, max_items: int, capacity: int) -> np.ndarray:
    """Greedy bounds ``[0, b1, ..., n]`` of runs with at most ``max_items`` items and ``capacity`` total size
    (one Python step per run, not per item)."""
    cum = np.concatenate([[0], np.cumsum(sizes)])
    bounds = [0]
    while bounds[-1] < len(sizes):
        a = bounds[-1]
        fits = int(np.searchsorted(cum, cum[a] + capacity, side="right")) - 1
        bounds.append(max(a + 1, min(a + max_items, fits, len(sizes))))
    return np.asarray(bounds)


def calls_for_chunk(
    chunk: Chunk,
    table: tuple[np.ndarray, np.ndarray],
    capacity: int,
    sampler: AliasSampler,
    settings: Settings,
    rng: np.random.Generator,
    progress: tuple[float, float],
) -> Iterator[FastTextBatch]:
    """Stacks of S sub-batches (leading axis S) for a chunk; empty slots are inert padding."""
    rows, starts = table
    s, b = settings.steps_per_call, settings.batch
    start, end = progress
    done = 0
    for group in chunk.groups:
        n = len(group.centres)
        sizes = (starts[group.centres + 1] - starts[group.centres]).astype(np.int64)
        bounds = pack(sizes, b, capacity)
        subs = -(-(len(bounds) - 1) // s) * s  # sub-batches, padded to whole calls
        sub = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))  # (n,) sub-batch of each centre
        slot = np.arange(n) - bounds[sub]
        centres = np.zeros((subs, b), np.int32)
        contexts = np.full((subs, b, group.contexts.shape[1]), -1, np.int32)
        counts = np.zeros((subs, b), np.float32)
        centres[sub, slot], contexts[sub, slot], counts[sub, slot] = group.centres, group.contexts, sizes
        # n-grams: the k-th n-gram of centre i goes to position (offset of i in its sub-batch) + k
        owner = np.repeat(np.arange(n), sizes)
        first = np.concatenate([[0], np.cumsum(sizes)])
        k = np.arange(first[-1]) - first[owner]
        pos = first[owner] - first[bounds[sub[owner]]] + k
        ngram_rows = np.zeros((subs, capacity), np.int32)
        ngram_slot = np.full((subs, capacity), b, np.int32)
        ngram_rows[sub[owner], pos] = rows[starts[group.centres[owner]] + k]
        ngram_slot[sub[owner], pos] = slot[owner]
        negatives = sampler.sample(rng, (subs, b, settings.noise_draws))
        at = done + np.append(bounds[:-1], np.full(subs - len(bounds) + 1, n))  # first centre of each
        lr = learning_rate(settings.alpha, start + (end - start) * at / max(chunk.kept, 1))
        weight = np.full(subs, settings.negative / settings.noise_draws, np.float32)
        for c in range(subs // s):
            i = slice(c * s, (c + 1) * s)
            words = Batch(centres[i], contexts[i], negatives[i], lr[i])
            yield FastTextBatch(words, weight[i], ngram_rows[i], ngram_slot[i], counts[i])
        done += n


def train(
    params: FastTextParams,
    corpus: Corpus,
    vocab: Vocab,
    hasher: SubwordHasher,
    settings: Settings,
    log: Callable[[str], None] | None = None,
) -> tuple[FastTextParams, np.ndarray, TrainStats]:
    """Train ``params`` (numpy, from :func:`init_params`; its n-gram table is updated in place);
    returns (params as numpy arrays, (V, D) word vectors h(w), stats)."""
    bucket_rows, starts = hasher.table(vocab.words)
    used, compact_rows = np.unique(bucket_rows, return_inverse=True)  # (U,), rows of the compact table
    table = (compact_rows.astype(np.int32), starts)
    ngrams = params.w_ngrams
    params = FastTextParams(jnp.asarray(params.w_in), jnp.asarray(ngrams[used]), jnp.asarray(params.w_out))
    sizes = np.diff(starts)
    keep = keep_probability(vocab.counts, settings.sample)
    # n-gram slots per sub-batch: the mean per kept token, with room to spare, and at least the longest word
    mean = float(np.average(sizes, weights=vocab.counts * keep))
    capacity = int(max(sizes.max(initial=1), np.ceil(1.25 * mean * settings.batch)))
    sampler = AliasSampler.build(noise_distribution(vocab.counts))
    rng = np.random.default_rng(settings.seed)
    total = settings.epochs * len(corpus.ids)
    trainer = Trainer(scanned(skipgram_step), params, settings)
    settings = replace(settings, steps_per_call=trainer.steps)  # a call's stack: every device's sub-batches
    seen = effective = 0
    t0 = time.perf_counter()
    for epoch in range(settings.epochs):
        for chunk in iterate_chunks(corpus, keep, settings.window, rng, settings.chunk_tokens):
            progress = (seen / total, (seen + chunk.tokens) / total)
            for batches in calls_for_chunk(chunk, table, capacity, sampler, settings, rng, progress):
                trainer(batches)
            seen += chunk.tokens
            effective += chunk.kept
        trainer.sync()
        if log:
            jax.block_until_ready(trainer.state)
            log(f"epoch {epoch + 1}/{settings.epochs}: {effective / (time.perf_counter() - t0):,.0f} words/s")
    params = trainer.params()
    vectors = word_vectors(params, table)
    ngrams[used] = np.asarray(params.w_ngrams)
    trained = FastTextParams(np.asarray(params.w_in), ngrams, np.asarray(params.w_out))
    return trained, vectors, TrainStats(effective, time.perf_counter() - t0)
