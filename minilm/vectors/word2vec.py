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
  outputs are the centre (label 1) and noise words; like word2vec.c and gensim, every context word
  receives the whole ``dL/dh``.  word2vec.c draws K noise words per centre; here the ``B`` centres of a
  sub-batch fall in groups of ``noise_group`` consecutive centres, and each group shares ``K'`` draws
  (``shared_noise``), each weighing ``K / K'``: the expected gradient is word2vec.c's, every (centre,
  noise) pair is still its own term, and the output rows touched per centre drop from ``1 + K`` to
  ``1 + K'/noise_group`` -- the CBOW counterpart of the skip-gram sharing above (Ji et al. 2016 share
  noise words across a minibatch).  ``h . u`` for a group's centres and noise words is one
  (B/G, D) x (D, K') product.  ``noise_group`` = 1 with ``K'`` = K is word2vec.c's own sampling.

Training is minibatch SGD with sparse row updates: a jitted ``lax.scan`` over sub-batches of
``batch`` centres gathers the rows it needs, computes the closed-form gradients and scatter-adds
``-lr * grad`` back (duplicate rows in a sub-batch add up, as Hogwild updates would).  The learning
rate decays linearly with the words processed, ``lr = alpha * max(1 - progress, 1e-4)``
(word2vec.c).  Windows and noise words are made in numpy (:mod:`minilm.vectors.windows`) in a
background thread while the jitted calls run.  With ``devices`` > 1 the calls run on several devices
at once, as word2vec.c's threads do (:mod:`minilm.vectors.devices`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from minilm.vectors.devices import Fn, Trainer
from minilm.vectors.vocab import AliasSampler, Corpus, Vocab, keep_probability, noise_distribution
from minilm.vectors.windows import Chunk, WindowGroup, iterate_chunks


@dataclass(frozen=True)
class Settings:
    """Training settings shared by skip-gram, CBOW and fastText (defaults: word2vec.c / gensim)."""

    dim: int = 100  # vector size
    window: int = 5  # maximum window radius (the sampled radius is uniform in 1..window)
    negative: int = 5  # noise words per context word (K)
    noise_draws: int = (
        5  # fastText: noise words drawn per centre, shared by its contexts (each weighs K/this)
    )
    shared_noise: int = 16  # CBOW: noise words drawn per group of centres, shared by them (each: K/this)
    noise_group: int = 0  # CBOW: centres that share one set of noise draws (0 = the whole sub-batch)
    sample: float = 1e-3  # subsampling threshold t (0 disables)
    epochs: int = 5
    alpha: float = 0.025  # initial learning rate; decays linearly to alpha * 1e-4
    seed: int = 0
    batch: int = 64  # centres per sub-batch (one sparse SGD step)
    steps_per_call: int = 64  # sub-batches per jitted call (a lax.scan) on each device
    devices: int = 1  # JAX devices training side by side (0 = all; minilm.vectors.devices)
    sync_every: int = 16  # with several devices: calls between sums of their changes
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


class SharedNoiseBatch(NamedTuple):
    """CBOW's sub-batch of B centres in G groups of B/G consecutive centres: group g shares the noise
    words ``words.negatives[g]`` (G, K'), and every radius
    has the same shape (one compilation): the contexts are padded to ``2 * window`` slots, of which
    the first ``slots`` = 2r are the window's."""

    words: Batch  # centres (B,), contexts (B, 2 window), negatives (G, K'), lr
    noise_weight: jax.Array  # () float32 K/K': the draws each shared noise word stands for
    slots: jax.Array  # () int32 2r: the context slots in use


def cbow_step(params: Params, sb: SharedNoiseBatch) -> Params:
    """CBOW: the mean of the context vectors predicts the centre against its group's K' noise words.

    The context rows are gathered and updated one slot at a time (a loop over the ``slots`` in use):
    no (B, 2r, D) array is made.  Empty slots point past the last row, where the gather reads zeros
    and the scatter drops the update.  A centre without context words trains nothing (word2vec.c)."""
    b, noise = sb.words, sb.words.negatives  # noise: (G, K')
    (n,), (groups, k) = b.centres.shape, noise.shape
    valid = b.contexts >= 0  # (B, 2 window)
    contexts = jnp.where(valid, b.contexts, params.w_in.shape[0])
    count = valid.sum(1)  # (B,)

    def add_slot(slot: jax.Array, total: jax.Array) -> jax.Array:
        return total + params.w_in.at[contexts[:, slot]].get(mode="fill", fill_value=0.0)

    d = params.w_in.shape[1]
    h = jax.lax.fori_loop(0, sb.slots, add_slot, jnp.zeros((n, d))) / jnp.maximum(count, 1)[:, None]  # (B, D)
    targets = jnp.concatenate([b.centres, noise.reshape(-1)])  # (B + G K',)
    u = gather(params.w_out, targets)  # (B + G K', D)
    u_centre, u_noise = u[:n], u[n:].reshape(groups, k, d)  # (B, D), (G, K', D)
    h_groups = h.reshape(groups, n // groups, d)  # (G, B/G, D)
    live = count > 0  # (B,)
    # e = c (sigma(h . u) - y): label 1 for the centre, 0 for a noise word (skipped if equal to the centre)
    e_centre = jnp.where(live, jax.nn.sigmoid(jnp.sum(h * u_centre, axis=1)) - 1.0, 0.0)  # (B,)
    own_noise = jnp.repeat(noise, n // groups, axis=0)  # (B, K') the noise words of each centre's group
    counts = live[:, None] & (own_noise != b.centres[:, None])  # (B, K')
    s = jnp.einsum("gcd,gkd->gck", h_groups, u_noise).reshape(n, k)  # (B, K')
    e_noise = jnp.where(counts, sb.noise_weight * jax.nn.sigmoid(s), 0.0).reshape(groups, n // groups, k)
    dh = e_centre[:, None] * u_centre + jnp.einsum("gck,gkd->gcd", e_noise, u_noise).reshape(n, d)  # (B, D)
    du_noise = jnp.einsum("gck,gcd->gkd", e_noise, h_groups).reshape(groups * k, d)  # (G K', D)
    du = jnp.concatenate([e_centre[:, None] * h, du_noise])  # (B + G K', D)

    def update_slot(slot: jax.Array, w_in: jax.Array) -> jax.Array:  # every context word gets all of dL/dh
        return w_in.at[contexts[:, slot]].add(-b.lr * dh, mode="drop")

    w_in = jax.lax.fori_loop(0, sb.slots, update_slot, params.w_in)
    return Params(w_in, scatter_add(params.w_out, targets, -b.lr * du))


@cache
def scanned(step: Callable[[Any, Any], Any]) -> Fn:
    """A jitted call's body: ``step`` applied to each of the S sub-batches of a stack (leading axis S),
    in order (cached: the same function object, so the same compiled call, for the same step)."""

    def call(params: Any, batches: Any) -> tuple[Any, None]:
        params, _ = jax.lax.scan(lambda p, b: (step(p, b), None), params, batches)
        return params, None

    return call


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
    shared_noise: int = 0,
):
    """Yield ``Batch`` stacks (S sub-batches each) for a chunk; ``progress`` = (at start, at end) in [0, 1].

    K noise words per centre, or with ``shared_noise`` = K' > 0 ``SharedNoiseBatch`` stacks in whose
    sub-batches each group of ``settings.noise_group`` centres (0: all) shares K' noise words (and
    whose contexts are padded to ``2 * window`` slots).  Each
    radius group is padded to a whole number of calls with centres that have no context (their
    updates are exactly zero).  The learning rate moves linearly through the chunk.
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
        width = 2 * settings.window if shared_noise else 2 * group.radius
        contexts = np.full((padded, width), -1, np.int32)
        contexts[:n, : 2 * group.radius] = group.contexts
        groups = b // (settings.noise_group or b)
        noise_shape = (padded // b, groups, shared_noise) if shared_noise else (padded, settings.negative)
        negatives = sampler.sample(rng, noise_shape)
        at = done + np.minimum(np.arange(0, padded, b), n)  # position of each sub-batch in the chunk
        lr = learning_rate(settings.alpha, start + (end - start) * at / max(chunk.kept, 1))
        for c in range(padded // per_call):
            rows, subs = slice(c * per_call, (c + 1) * per_call), slice(c * s, (c + 1) * s)
            noise = negatives[subs] if shared_noise else negatives[rows].reshape(s, b, -1)
            words = Batch(centres[rows].reshape(s, b), contexts[rows].reshape(s, b, -1), noise, lr[subs])
            if shared_noise:
                weight = np.full(s, settings.negative / shared_noise, np.float32)
                yield SharedNoiseBatch(words, weight, np.full(s, 2 * group.radius, np.int32))
            else:
                yield words
        done += n


def shapes_of_calls(settings: Settings, shared_noise: int) -> list[Batch | SharedNoiseBatch]:
    """One stack of every shape training will meet (one per window radius; one for CBOW), for
    :meth:`Trainer.compile`: centres without context words."""
    groups = [
        WindowGroup(r, np.zeros(1, np.int32), np.full((1, 2 * r), -1, np.int32))
        for r in range(1, settings.window + 1)
    ]
    sampler = AliasSampler.build(np.ones(1))
    stacks = calls_for_chunk(
        Chunk(1, 1, groups), sampler, settings, np.random.default_rng(0), (0, 1), shared_noise
    )
    return list({str(jax.tree.map(np.shape, batches)): batches for batches in stacks}.values())


class EpochEnd(NamedTuple):
    epoch: int  # epochs done
    effective_words: int  # centres trained so far


def prefetch(items: Iterator, depth: int = 8) -> Iterator:
    """Iterate ``items`` in a background thread, up to ``depth`` items ahead: the numpy work for the
    next calls (windows, noise words; numpy releases the GIL) runs on the second core while the
    jitted call runs.  The order, hence every random draw, is unchanged."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    end = object()

    def produce() -> None:
        try:
            for item in items:
                ready.put(item)
            ready.put(end)
        except BaseException as error:  # handed to the consumer, raised there
            ready.put(error)

    threading.Thread(target=produce, daemon=True).start()
    while (item := ready.get()) is not end:
        if isinstance(item, BaseException):
            raise item
        yield item


def train(
    step: Callable[[Params, Batch], Params],
    params: Params,
    corpus: Corpus,
    vocab: Vocab,
    settings: Settings,
    log: Callable[[str], None] | None = None,
) -> tuple[Params, TrainStats]:
    """Run ``settings.epochs`` epochs of ``step`` (:func:`skipgram_step` or :func:`cbow_step`, which
    takes sub-batches with shared noise words)."""
    shared_noise = settings.shared_noise if step is cbow_step else 0
    keep = keep_probability(vocab.counts, settings.sample)
    sampler = AliasSampler.build(noise_distribution(vocab.counts))
    rng = np.random.default_rng(settings.seed)
    total = settings.epochs * len(corpus.ids)
    trainer = Trainer(scanned(step), params, settings)
    settings = replace(settings, steps_per_call=trainer.steps)  # a call's stack: every device's sub-batches

    def work() -> Iterator:  # the stacks of sub-batches in order, and an EpochEnd after each epoch
        seen = effective = 0
        for epoch in range(settings.epochs):
            for chunk in iterate_chunks(corpus, keep, settings.window, rng, settings.chunk_tokens):
                progress = (seen / total, (seen + chunk.tokens) / total)
                yield from calls_for_chunk(chunk, sampler, settings, rng, progress, shared_noise)
                seen += chunk.tokens
                effective += chunk.kept
            yield EpochEnd(epoch + 1, effective)

    t0 = time.perf_counter()
    trainer.compile(shapes_of_calls(settings, shared_noise))
    effective = 0
    for item in prefetch(work()):
        if isinstance(item, EpochEnd):
            trainer.sync()
            effective = item.effective_words
            if log:
                jax.block_until_ready(trainer.state)
                words_per_second = effective / (time.perf_counter() - t0)
                log(f"epoch {item.epoch}/{settings.epochs}: {words_per_second:,.0f} words/s")
        else:
            trainer(item)
    params = jax.block_until_ready(trainer.params())
    return params, TrainStats(effective, time.perf_counter() - t0)
