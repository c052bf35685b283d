"""Skip-gram and CBOW with negative sampling (Mikolov et al. 2013a "Efficient Estimation of Word
Representations in Vector Space"; 2013b "Distributed Representations of Words and Phrases", eq. 4).

Two matrices: input vectors ``W_in`` (the word vectors you keep) and output vectors ``W_out``.
For input vectors ``h_m`` that share output words ``o_j`` with labels ``y_j`` (1 for the word to
predict, 0 for a noise word drawn from P_noise = unigram^0.75) and weights ``c_mj``, the loss is::

    L = - sum_mj c_mj [ y_j log sigma(h_m . u_j) + (1 - y_j) log sigma(-h_m . u_j) ]   (2013b, eq. 4)

with the closed-form gradients (word2vec.c's ``g = (label - f) * alpha``)::

    dL/du_j = sum_m e_mj h_m,   dL/dh_m = sum_j e_mj u_j,   e_mj = c_mj (sigma(h_m . u_j) - y_j)

- skip-gram, as word2vec.c: each context word's input vector predicts the centre word against K
  noise words.  word2vec.c draws K fresh noise words for every (context, centre) pair; here the K
  noise words are drawn once per centre and shared by the ``2r`` contexts of its window -- every
  (context, noise) pair is still its own term, only the draws are shared ("HogBatch", Ji et al. 2016,
  "Parallelizing Word2Vec in Shared and Distributed Memory").  The output rows touched per word drop
  from 6 per context to 6 per window, which is what the speed on a CPU depends on.  A noise word
  equal to the centre is skipped (c = 0), as in word2vec.c.
- CBOW (M = 1): ``h`` = mean of the input vectors of the context words (gensim's ``cbow_mean=1``);
  outputs are the centre (label 1) and K fresh noise words; like word2vec.c and gensim, every context
  word receives the whole ``dL/dh``.

Training is minibatch SGD with sparse row updates: a jitted ``lax.scan`` over sub-batches of
``batch`` centres gathers the rows it needs, computes the closed-form gradients and scatter-adds
``-lr * grad`` back (duplicate rows in a sub-batch add up, as Hogwild updates would).  The learning
rate decays linearly with the words processed, ``lr = alpha * max(1 - progress, 1e-4)``
(word2vec.c).  Windows and noise words are made in numpy (:mod:`minilm.vectors.windows`) while the
previous call runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from minilm.vectors.vocab import AliasSampler, Corpus, Vocab, keep_probability, noise_distribution
from minilm.vectors.windows import Chunk, iterate_chunks


@dataclass(frozen=True)
class Settings:
    """Training settings shared by skip-gram, CBOW and fastText (defaults: word2vec.c / gensim)."""

    dim: int = 100  # vector size
    window: int = 5  # maximum window radius (the sampled radius is uniform in 1..window)
    negative: int = 5  # noise words per context word (K)
    noise_draws: int = (
        5  # skip-gram: noise words drawn per centre, shared by its contexts (each weighs K/this)
    )
    sample: float = 1e-3  # subsampling threshold t (0 disables)
    epochs: int = 5
    alpha: float = 0.025  # initial learning rate; decays linearly to alpha * 1e-4
    seed: int = 0
    batch: int = 64  # centres per sub-batch (one sparse SGD step)
    steps_per_call: int = 64  # sub-batches per jitted call (a lax.scan)
    chunk_tokens: int = 1_000_000  # corpus tokens turned into windows at a time


class Params(NamedTuple):
    w_in: jax.Array  # (V, D) input vectors: the word vectors
    w_out: jax.Array  # (V, D) output vectors


def init_params(vocab_size: int, dim: int, seed: int) -> Params:
    """word2vec.c's init: ``W_in ~ U(-0.5/D, 0.5/D)``, ``W_out = 0``."""
    rng = np.random.default_rng(seed)
    w_in = (rng.random((vocab_size, dim), dtype=np.float32) - 0.5) / dim
    return Params(jnp.asarray(w_in), jnp.zeros((vocab_size, dim), jnp.float32))


def learning_rate(alpha: float, progress: np.ndarray) -> np.ndarray:
    """word2vec.c: ``alpha * (1 - progress)``, floored at ``alpha * 1e-4``; progress in [0, 1]."""
    return (alpha * np.maximum(1.0 - progress, 1e-4)).astype(np.float32)


# --- the loss and its closed-form gradients ----------------------------------------------------------


def ns_loss(h: jax.Array, u: jax.Array, labels: jax.Array, weights: jax.Array) -> jax.Array:
    """Negative-sampling loss summed over the batch: inputs h (B, M, D) share outputs u (B, J, D);
    labels, weights (B, M, J) (or broadcastable)."""
    s = jnp.einsum("bmd,bjd->bmj", h, u)  # (B, M, J)
    return -jnp.sum(weights * (labels * jax.nn.log_sigmoid(s) + (1 - labels) * jax.nn.log_sigmoid(-s)))


def ns_grads(
    h: jax.Array, u: jax.Array, labels: jax.Array, weights: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """(dL/dh (B, M, D), dL/du (B, J, D)) of :func:`ns_loss` in closed form.

    One output word at a time: XLA on a CPU runs these J batched mat-vecs several times faster than
    one batched product of tiny (M, D) x (D, J) matrices."""
    outputs = range(u.shape[1])
    s = jnp.stack([jnp.einsum("bmd,bd->bm", h, u[:, j]) for j in outputs], axis=2)  # (B, M, J)
    e = weights * (jax.nn.sigmoid(s) - labels)  # (B, M, J)
    dh = sum(e[:, :, j, None] * u[:, None, j, :] for j in outputs)  # (B, M, D)
    du = jnp.stack([jnp.einsum("bm,bmd->bd", e[:, :, j], h) for j in outputs], axis=1)  # (B, J, D)
    return dh, du


def gather(w: jax.Array, rows: jax.Array) -> jax.Array:
    return w.at[rows].get(mode="promise_in_bounds")


def scatter_add(w: jax.Array, rows: jax.Array, delta: jax.Array) -> jax.Array:
    return w.at[rows].add(delta, mode="promise_in_bounds")


# --- one sub-batch ------------------------------------------------------------------------------------


class Batch(NamedTuple):
    """One sub-batch of centres with the same window radius r."""

    centres: jax.Array  # (B,) int32
    contexts: jax.Array  # (B, 2r) int32, -1 = no word in that slot
    negatives: jax.Array  # (B, K) int32 noise words
    lr: jax.Array  # () float32


def _centre_and_noise(b: Batch) -> tuple[jax.Array, jax.Array]:
    """Output words (B, 1 + K): the centre, then its noise words; and whether each one counts
    (word2vec.c skips a noise word equal to the centre)."""
    targets = jnp.concatenate([b.centres[:, None], b.negatives], axis=1)
    counts = (targets != b.centres[:, None]).at[:, 0].set(True)
    return targets, counts


def skipgram_step(params: Params, b: Batch) -> Params:
    """Skip-gram: each context word predicts the centre against the window's K noise words."""
    valid = b.contexts >= 0  # (B, 2r)
    contexts = jnp.where(valid, b.contexts, 0)
    targets, counts = _centre_and_noise(b)  # (B, 1+K)
    weights = (valid[:, :, None] & counts[:, None, :]).astype(jnp.float32)  # (B, 2r, 1+K)
    labels = jnp.zeros((1, 1, targets.shape[1])).at[:, :, 0].set(1.0)
    x = gather(params.w_in, contexts)  # (B, 2r, D)
    u = gather(params.w_out, targets)  # (B, 1+K, D)
    dx, du = ns_grads(x, u, labels, weights)  # padded slots have zero weight, hence zero gradient
    return Params(
        scatter_add(params.w_in, contexts, -b.lr * dx), scatter_add(params.w_out, targets, -b.lr * du)
    )


def cbow_step(params: Params, b: Batch) -> Params:
    """CBOW: the mean of the context vectors predicts the centre against K noise words.

    :func:`ns_grads` with M = 1, written with (B, J, D) products and sums: XLA on a CPU runs this form
    about 1.4x faster.  Empty context slots point past the last row, where the gather reads zeros and
    the scatter drops the update."""
    valid = b.contexts >= 0  # (B, 2r)
    contexts = jnp.where(valid, b.contexts, params.w_in.shape[0])
    count = valid.sum(1)  # (B,)
    x = params.w_in.at[contexts].get(mode="fill", fill_value=0.0)  # (B, 2r, D)
    h = x.sum(1) / jnp.maximum(count, 1)[:, None]  # (B, D)
    targets, counts = _centre_and_noise(b)  # (B, J = 1 + K)
    weights = (counts & (count > 0)[:, None]).astype(jnp.float32)  # (B, J)
    labels = (jnp.arange(targets.shape[1]) == 0).astype(jnp.float32)[None, :]  # (1, J): the centre is 1
    u = gather(params.w_out, targets)  # (B, J, D)
    e = weights * (jax.nn.sigmoid(jnp.sum(h[:, None, :] * u, axis=-1)) - labels)  # (B, J)
    dh = jnp.sum(e[:, :, None] * u, axis=1)  # (B, D)
    du = e[:, :, None] * h[:, None, :]  # (B, J, D)
    dx = jnp.broadcast_to(-b.lr * dh[:, None, :], x.shape)  # every context word gets all of dL/dh
    return Params(
        params.w_in.at[contexts].add(dx, mode="drop"), scatter_add(params.w_out, targets, -b.lr * du)
    )


@partial(jax.jit, static_argnums=0, donate_argnums=1)
def train_call(step: Callable[[Params, Batch], Params], params: Params, batches: Batch) -> Params:
    """Apply ``step`` to each of the S sub-batches in ``batches`` (leading axis S), in order."""
    params, _ = jax.lax.scan(lambda p, b: (step(p, b), None), params, batches)
    return params


# --- the training loop --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainStats:
    effective_words: int  # centres trained (tokens kept by subsampling), summed over epochs
    seconds: float

    @property
    def words_per_second(self) -> float:
        return self.effective_words / self.seconds


def calls_for_chunk(
    chunk: Chunk,
    sampler: AliasSampler,
    settings: Settings,
    rng: np.random.Generator,
    progress: tuple[float, float],
):
    """Yield ``Batch`` stacks (S sub-batches each) for a chunk; ``progress`` = (at start, at end) in [0, 1].

    Each radius group is padded to a whole number of calls with centres that have no context
    (their updates are exactly zero).  The learning rate moves linearly through the chunk.
    """
    s, b = settings.steps_per_call, settings.batch
    per_call = s * b
    start, end = progress
    done = 0
    for group in chunk.groups:
        n = len(group.centres)
        padded = -(-n // per_call) * per_call
        centres = np.zeros(padded, np.int32)
        centres[:n] = group.centres
        contexts = np.full((padded, group.contexts.shape[1]), -1, np.int32)
        contexts[:n] = group.contexts
        negatives = sampler.sample(rng, (padded, settings.negative))
        at = done + np.minimum(np.arange(0, padded, b), n)  # position of each sub-batch in the chunk
        lr = learning_rate(settings.alpha, start + (end - start) * at / max(chunk.kept, 1))
        for c in range(padded // per_call):
            rows = slice(c * per_call, (c + 1) * per_call)
            yield Batch(
                centres[rows].reshape(s, b),
                contexts[rows].reshape(s, b, -1),
                negatives[rows].reshape(s, b, -1),
                lr[c * s : (c + 1) * s],
            )
        done += n


def train(
    step: Callable[[Params, Batch], Params],
    params: Params,
    corpus: Corpus,
    vocab: Vocab,
    settings: Settings,
    log: Callable[[str], None] | None = None,
) -> tuple[Params, TrainStats]:
    """Run ``settings.epochs`` epochs of ``step`` (:func:`skipgram_step` or :func:`cbow_step`)."""
    keep = keep_probability(vocab.counts, settings.sample)
    sampler = AliasSampler.build(noise_distribution(vocab.counts))
    rng = np.random.default_rng(settings.seed)
    total = settings.epochs * len(corpus.ids)
    seen = effective = 0
    t0 = time.perf_counter()
    for epoch in range(settings.epochs):
        for chunk in iterate_chunks(corpus, keep, settings.window, rng, settings.chunk_tokens):
            progress = (seen / total, (seen + chunk.tokens) / total)
            for batches in calls_for_chunk(chunk, sampler, settings, rng, progress):
                params = train_call(step, params, batches)
            seen += chunk.tokens
            effective += chunk.kept
        if log:
            jax.block_until_ready(params)
            log(f"epoch {epoch + 1}/{settings.epochs}: {effective / (time.perf_counter() - t0):,.0f} words/s")
    jax.block_until_ready(params)
    return params, TrainStats(effective, time.perf_counter() - t0)
