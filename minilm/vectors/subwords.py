"""fastText's character n-grams and their hashing (Bojanowski et al. 2017, "Enriching Word Vectors with
Subword Information", section 3.2), byte for byte as Facebook's ``dictionary.cc`` and gensim.

- the word is wrapped as ``<word>``; its n-grams are the runs of ``min_n..max_n`` *characters*, taken
  on the UTF-8 bytes without cutting a multi-byte character (``computeSubwords``); the whole ``<word>``
  is one of them when it is short enough;
- each n-gram is hashed with 32-bit FNV-1a (offset 2166136261, prime 16777619), where every byte is
  first sign-extended as a C ``int8_t`` -- a quirk of the reference that changes the hash of
  non-ASCII n-grams, kept so that vectors stay compatible -- and taken modulo ``buckets`` (2,000,000).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619


def char_ngrams(word: str, min_n: int, max_n: int) -> list[bytes]:
    """The UTF-8 n-grams of ``<word>`` in fastText's order (by start byte, then by length)."""
    data = f"<{word}>".encode()
    is_start = [(b & 0xC0) != 0x80 for b in data]  # not a UTF-8 continuation byte
    ngrams = []
    for i in range(len(data)):
        if not is_start[i]:
            continue
        j, n = i, 1
        while j < len(data) and n <= max_n:
            j += 1
            while j < len(data) and not is_start[j]:
                j += 1
            if n >= min_n and not (n == 1 and (i == 0 or j == len(data))):
                ngrams.append(data[i:j])
            n += 1
    return ngrams


def fnv1a(ngrams: Sequence[bytes]) -> np.ndarray:
    """(P,) uint32 fastText hashes of ``ngrams``, vectorised over the n-grams (a loop over byte positions)."""
    lengths = np.array([len(g) for g in ngrams], dtype=np.int64)
    width = int(lengths.max(initial=0))
    padded = np.zeros((len(ngrams), width), np.uint8)
    flat = np.frombuffer(b"".join(ngrams), np.uint8)
    padded[np.arange(width)[None, :] < lengths[:, None]] = flat
    signed = padded.astype(np.int8).astype(np.int64) & 0xFFFFFFFF  # C: (uint32_t)(int8_t)byte
    h = np.full(len(ngrams), FNV_OFFSET, np.int64)
    for j in range(width):
        step = ((h ^ signed[:, j]) * FNV_PRIME) & 0xFFFFFFFF
        h = np.where(j < lengths, step, h)
    return h.astype(np.uint32)


@dataclass(frozen=True)
class SubwordHasher:
    """Maps a word to the rows of its n-grams in a table of ``buckets`` rows."""

    min_n: int = 3
    max_n: int = 6
    buckets: int = 2_000_000

    def ngram_rows(self, word: str) -> list[int]:
        ngrams = char_ngrams(word, self.min_n, self.max_n)
        return (fnv1a(ngrams) % self.buckets).astype(np.int64).tolist() if ngrams else []

    def table(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """All words' n-gram rows at once: (rows (P,) int32, starts (V + 1,) int64) -- CSR layout,
        ``rows[starts[w]:starts[w + 1]]`` are word ``w``'s n-grams."""
        per_word = [char_ngrams(w, self.min_n, self.max_n) for w in words]
        starts = np.concatenate([[0], np.cumsum([len(g) for g in per_word])]).astype(np.int64)
        flat = [g for grams in per_word for g in grams]
        return (fnv1a(flat) % self.buckets).astype(np.int32), starts

    def config(self) -> dict[str, int]:
        return asdict(self)
