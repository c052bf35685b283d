"""Training windows for word2vec and fastText, made in numpy a chunk of the corpus at a time.

For each chunk of sentences (word2vec.c / gensim order of operations):

1. subsampling: each token survives with :func:`~minilm.vectors.vocab.keep_probability`; the survivors
   close ranks (windows are taken over the kept words, as in word2vec.c);
2. dynamic window: each centre draws ``b`` uniform in ``[0, window)`` and uses the radius
   ``r = window - b``, i.e. contexts ``i - r .. i + r`` (not ``i``) inside its sentence -- nearer words
   are sampled more often;
3. the centres are grouped by radius ``r`` so that every group is a dense ``(n, 2r)`` array of context
   ids (``-1`` where the window leaves the sentence): no slot is wasted on the unused part of the
   largest window.  The order of centres inside a chunk changes; across chunks it does not.

The jitted training steps consume these arrays; nothing here loops in Python over words.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from minilm.vectors.vocab import Corpus


@dataclass(frozen=True)
class WindowGroup:
    """Centres that drew the same radius ``r``."""

    radius: int
    centres: np.ndarray  # (n,) int32 word ids
    contexts: np.ndarray  # (n, 2r) int32 word ids, -1 for slots outside the sentence


@dataclass(frozen=True)
class Chunk:
    """One chunk of the corpus, ready to train on."""

    tokens: int  # in-vocabulary tokens before subsampling (what the learning-rate schedule counts)
    kept: int  # tokens kept by subsampling = the "effective words" trained
    groups: list[WindowGroup]


def chunk_bounds(corpus: Corpus, chunk_tokens: int) -> list[tuple[int, int]]:
    """Token ranges ``[a, b)`` of about ``chunk_tokens`` tokens each that end at sentence ends."""
    ends = corpus.starts[1:]
    total = int(ends[-1])
    targets = np.arange(chunk_tokens, total, chunk_tokens)
    cuts = np.unique(np.append(ends[np.searchsorted(ends, targets)], total))
    return [(int(a), int(b)) for a, b in zip(np.concatenate([[0], cuts[:-1]]), cuts, strict=True) if b > a]


def make_windows(
    ids: np.ndarray, sentence: np.ndarray, keep_prob: np.ndarray, window: int, rng: np.random.Generator
) -> Chunk:
    """Subsample ``ids`` (with their sentence numbers), draw each centre's radius, group by radius."""
    kept = rng.random(len(ids)) < keep_prob[ids]
    words, sent = ids[kept], sentence[kept]
    n = len(words)
    radius = window - rng.integers(0, window, size=n)
    groups = []
    for r in range(1, window + 1):
        centre = np.flatnonzero(radius == r)
        if len(centre) == 0:
            continue
        offsets = np.concatenate([np.arange(-r, 0), np.arange(1, r + 1)])
        pos = centre[:, None] + offsets[None, :]  # (n_r, 2r)
        inside = (pos >= 0) & (pos < n)
        pos = np.clip(pos, 0, n - 1)
        inside &= sent[pos] == sent[centre][:, None]
        groups.append(WindowGroup(r, words[centre], np.where(inside, words[pos], -1).astype(np.int32)))
    return Chunk(tokens=len(ids), kept=n, groups=groups)


def iterate_chunks(
    corpus: Corpus, keep_prob: np.ndarray, window: int, rng: np.random.Generator, chunk_tokens: int
) -> Iterator[Chunk]:
    """One epoch of windows, a chunk at a time."""
    sentence = corpus.sentence_of
    for a, b in chunk_bounds(corpus, chunk_tokens):
        yield make_windows(corpus.ids[a:b], sentence[a:b], keep_prob, window, rng)
