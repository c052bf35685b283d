"""The vocabulary of a word-vector model: counting, ``min_count``, frequent-word subsampling, noise words.

Everything here follows word2vec.c (Mikolov et al. 2013, "Distributed Representations of Words and
Phrases and their Compositionality", section 2.2-2.3) and gensim, which reproduces it:

- words seen fewer than ``min_count`` times are dropped from the corpus before windows are formed;
- the vocabulary is sorted by descending count (ties: first occurrence first), so the first
  ``restrict_vocab`` rows are the most frequent words;
- subsampling keeps an occurrence of word ``w`` (count ``f``, corpus of ``N`` kept-vocabulary tokens,
  threshold ``t``) with probability::

      P_keep(w) = (sqrt(f / (t N)) + 1) * (t N) / f        (capped at 1)

  which is word2vec.c's formula, not the paper's ``1 - sqrt(t / f)``;
- negative ("noise") words are drawn from the unigram distribution raised to 3/4::

      P_noise(w) = f(w)^0.75 / sum_v f(v)^0.75

  sampled in O(1) per draw with Walker's alias method (exact, unlike word2vec.c's 1e8-entry table).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from minilm.errors import UserError


@dataclass(frozen=True)
class Vocab:
    """Words sorted by descending count; ``index[word]`` is the word's row."""

    words: tuple[str, ...]
    counts: np.ndarray  # (V,) int64, the count of each word in the training corpus

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)


@dataclass(frozen=True)
class Corpus:
    """A tokenised corpus as word ids: OOV words are removed, sentences stay apart.

    ``ids[starts[s]:starts[s + 1]]`` are the in-vocabulary words of sentence ``s``.
    """

    ids: np.ndarray  # (N,) int32
    starts: np.ndarray  # (S + 1,) int64
    raw_words: int  # tokens before dropping out-of-vocabulary words (what the LR schedule counts)

    @property
    def sentence_of(self) -> np.ndarray:
        """(N,) int32: the sentence each token belongs to."""
        return np.repeat(np.arange(len(self.starts) - 1, dtype=np.int32), np.diff(self.starts))


def build_vocab_and_corpus(
    sentences: Iterable[list[str]], min_count: int, max_vocab: int | None = None
) -> tuple[Vocab, Corpus]:
    """Count the words of ``sentences`` (lists of tokens), keep those seen >= ``min_count`` times
    (the ``max_vocab`` most frequent if given), and encode the corpus as ids of kept words.

    One pass of dictionary look-ups over the tokens (the tokenisation step); the rest is numpy.
    """
    first_seen: dict[str, int] = {}
    token_ids = array("i")  # 4 bytes a token (a list of ints: ~36, which Python's allocator then keeps)
    lengths: list[int] = []
    for tokens in sentences:
        token_ids.extend(first_seen.setdefault(w, len(first_seen)) for w in tokens)
        lengths.append(len(tokens))
    if not token_ids:
        raise UserError("the corpus has no words")
    raw = np.frombuffer(token_ids, dtype=np.intc)  # (N,) a view: no copy
    counts = np.bincount(raw, minlength=len(first_seen))
    order = np.argsort(-counts, kind="stable")  # by count, ties by first occurrence
    order = order[counts[order] >= min_count]
    if max_vocab is not None:
        order = order[:max_vocab]
    if len(order) == 0:
        raise UserError(f"no word occurs min_count={min_count} times; lower --min_count")
    words_by_id = np.array(list(first_seen), dtype=object)
    vocab = Vocab(tuple(words_by_id[order].tolist()), counts[order].astype(np.int64))
    new_id = np.full(len(first_seen), -1, dtype=np.int32)
    new_id[order] = np.arange(len(order), dtype=np.int32)
    mapped = new_id[raw]
    keep = mapped >= 0
    sentence = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    kept_lengths = np.bincount(sentence[keep], minlength=len(lengths))
    starts = np.concatenate([[0], np.cumsum(kept_lengths)]).astype(np.int64)
    return vocab, Corpus(mapped[keep], starts, raw_words=len(raw))


def keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec.c's subsampling keep-probability per word (1 everywhere when ``sample`` <= 0)."""
    counts = counts.astype(np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum((np.sqrt(counts / threshold) + 1.0) * threshold / counts, 1.0)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """P_noise(w) = count(w)^power / sum_v count(v)^power, as float64."""
    weights = counts.astype(np.float64) ** power
    return weights / weights.sum()


@dataclass(frozen=True)
class AliasSampler:
    """Walker/Vose alias tables: draw ``i`` uniform, keep it with ``accept[i]`` else take ``alias[i]``.

    Exactly reproduces the distribution it was built from (see :meth:`probabilities`).
    """

    accept: np.ndarray  # (V,) float64 in [0, 1]
    alias: np.ndarray  # (V,) int32

    @classmethod
    def build(cls, probs: np.ndarray) -> AliasSampler:
        """Vose's algorithm: O(V) with one Python step per word (setup only, not per draw)."""
        n = len(probs)
        scaled = probs * n
        accept = np.ones(n)
        alias = np.arange(n, dtype=np.int32)
        small = [i for i in range(n) if scaled[i] < 1.0]
        large = [i for i in range(n) if scaled[i] >= 1.0]
        while small and large:
            s, g = small.pop(), large.pop()
            accept[s], alias[s] = scaled[s], g
            scaled[g] -= 1.0 - scaled[s]
            (small if scaled[g] < 1.0 else large).append(g)
        return cls(accept, alias)  # leftovers keep accept = 1 (their scaled value is 1 up to rounding)

    def probabilities(self) -> np.ndarray:
        """The distribution drawn from: (accept[i] + sum over j aliased to i of (1 - accept[j])) / V."""
        n = len(self.accept)
        return (self.accept + np.bincount(self.alias, weights=1.0 - self.accept, minlength=n)) / n

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """int32 draws of the given shape."""
        i = rng.integers(0, len(self.accept), size=shape, dtype=np.int32)
        return np.where(rng.random(shape) < self.accept[i], i, self.alias[i])
