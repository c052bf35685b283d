"""The biLM's data: whitespace tokens, a word vocabulary, and the token stream cut into windows.

As ``torch_bilstm_lm.py`` and PyTorch's word_language_model: each non-blank line is split on whitespace
and gets an ``<eos>``; lines form one stream.  Vocabulary: the ``vocab_size`` most frequent training
words (ties by first occurrence) + ``<unk>``.  Training windows: the stream cut into ``batch_size``
rows, step i reads columns ``[i*T, i*T + T + 1)`` of every row (wrapping); each window starts with a
fresh LSTM state.  Evaluation: the held-out stream in the same rows and non-overlapping windows, every
token predicted once per direction.  For the character encoder a batch also carries every token's
character ids (:func:`minilm.models.elmo.char_ids`).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from minilm.errors import UserError
from minilm.models.elmo import char_ids

UNK, EOS = "<unk>", "<eos>"


def line_tokens(texts: Iterable[str]) -> list[str]:
    """Whitespace tokens of every non-blank line, each line followed by <eos>."""
    tokens: list[str] = []
    for text in texts:
        for line in text.splitlines():
            words = line.split()
            if words:
                tokens += words
                tokens.append(EOS)
    return tokens


@dataclass(frozen=True)
class Vocab:
    """Words by id; the last one is <unk>."""

    words: tuple[str, ...]

    @classmethod
    def build(cls, tokens: list[str], size: int) -> Vocab:
        """The ``size`` most frequent tokens (ties: first occurrence first; a literal <unk> is <unk>)."""
        counts = collections.Counter(t for t in tokens if t != UNK)
        return cls(tuple(w for w, _ in counts.most_common(size)) + (UNK,))

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def encode(self, tokens: list[str]) -> np.ndarray:
        index, unk = self.index, len(self.words) - 1
        return np.array([index.get(t, unk) for t in tokens], dtype=np.int32)


@dataclass
class TokenStream:
    """A token stream as word ids, and (for the character encoder) its distinct spellings.

    ``ids`` (N,) softmax ids; ``types`` (N,) index into ``spellings`` (every distinct token, so an
    out-of-vocabulary word keeps its own characters).
    """

    ids: np.ndarray
    types: np.ndarray
    spellings: list[str]

    @classmethod
    def of(cls, tokens: list[str], vocab: Vocab) -> TokenStream:
        spellings = list(dict.fromkeys(tokens))
        position = {w: i for i, w in enumerate(spellings)}
        return cls(vocab.encode(tokens), np.array([position[t] for t in tokens], dtype=np.int32), spellings)


def _rows(a: np.ndarray, batch_size: int) -> np.ndarray:
    """(N,) -> (B, N // B): row b is the b-th contiguous chunk (PyTorch word_language_model's batchify)."""
    n = len(a) // batch_size
    return a[: n * batch_size].reshape(batch_size, n)


class WindowBatches:
    """Training batches: step i reads columns [i*T, i*T + T + 1) of the B rows, wrapping to column 0
    when the next window does not fit (as ``torch_bilstm_lm.py``).

    batch(step) -> {"tokens": (B, T+1) int32, "lengths": (B,) int32, "chars": (B, T+1, C) int32 if
    ``chars`` is on}.
    """

    def __init__(self, stream: TokenStream, batch_size: int, seq_len: int, max_chars: int | None):
        self.ids, self.types = _rows(stream.ids, batch_size), _rows(stream.types, batch_size)
        self.windows = (self.ids.shape[1] - 1) // seq_len
        if self.windows < 1:
            raise UserError(
                f"the training text has {len(stream.ids)} tokens, too few for {batch_size} rows of "
                f"{seq_len + 1}; use more text or a smaller --batch_size / --seq_len"
            )
        self.seq_len = seq_len
        self.table = None if max_chars is None else char_ids(stream.spellings, max_chars)

    def batch(self, step: int) -> dict[str, np.ndarray]:
        start = (step % self.windows) * self.seq_len
        cols = slice(start, start + self.seq_len + 1)
        tokens = self.ids[:, cols]
        out = {"tokens": tokens, "lengths": np.full(len(tokens), tokens.shape[1], dtype=np.int32)}
        if self.table is not None:
            out["chars"] = self.table[self.types[:, cols]]
        return out


def eval_batches(
    stream: TokenStream, batch_size: int, seq_len: int, max_chars: int | None, max_tokens: int = 0
) -> list[dict[str, np.ndarray]]:
    """The held-out stream in B rows and non-overlapping windows of T+1 (stride T): every token is a
    target once per direction.  The last, shorter window is padded (``lengths``), so all batches have
    one shape."""
    if max_tokens:
        stream = TokenStream(stream.ids[:max_tokens], stream.types[:max_tokens], stream.spellings)
    ids, types = _rows(stream.ids, batch_size), _rows(stream.types, batch_size)
    if ids.shape[1] < 2:
        raise UserError(f"the held-out text has {len(stream.ids)} tokens, too few for {batch_size} rows of 2")
    table = None if max_chars is None else char_ids(stream.spellings, max_chars)
    batches = []
    for start in range(0, ids.shape[1] - 1, seq_len):
        n = min(seq_len + 1, ids.shape[1] - start)
        pad = ((0, 0), (0, seq_len + 1 - n))
        batch = {
            "tokens": np.pad(ids[:, start : start + n], pad),
            "lengths": np.full(batch_size, n, dtype=np.int32),
        }
        if table is not None:
            batch["chars"] = np.pad(table[types[:, start : start + n]], (*pad, (0, 0)))
        batches.append(batch)
    return batches
