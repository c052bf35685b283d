"""Extractive QA inputs (BERT §4.2, SQuAD v1.1): question + context as windows of tokens, span labels, and
the character offsets that take a predicted token span back to the exact text of the context.

Each window is one row of ``max_len`` tokens (Devlin et al. 2019, fig. 2c)::

    [CLS] q_1 .. q_m [SEP] c_s .. c_{s+n-1} [SEP] [PAD] ..        token types 0 .. 0, 1 .. 1, 0 ..

The question is cut to ``max_query_len`` tokens; a context with more than ``n = max_len - m - 3`` tokens
is split into windows starting every ``doc_stride`` context tokens (BERT's ``run_squad.py``: the next
window starts ``min(n, doc_stride)`` tokens after the last one, the last window ends at the context's
end), so every token is in at least one window and the windows overlap by ``n - doc_stride`` tokens.

Span labels (training, from the first gold answer, as BERT): the token positions of the answer's first
and last token if the whole answer is inside the window, else both 0 -- the [CLS] position, "no answer
here".  The answer's tokens are the context tokens whose character spans overlap
``[answer_start, answer_start + len(text))``; ``char_start`` and ``char_end`` hold each position's span
of context characters (whitespace trimmed; -1 on [CLS], the question, [SEP] and padding), so

    context[char_start[w, start] : char_end[w, end]]

is the text of a span -- the gold answer itself for its labels where the answer's ends fall on token
boundaries (:func:`answer_text`).  Tokenizers: any ``tokenizers.Tokenizer`` with a ``[CLS]``/``[SEP]``
(Hugging Face BERT) or ``<cls>``/``<sep>`` (minilm) token; the special tokens are placed here, not by the
tokenizer's post-processor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tokenizers import Tokenizer

from minilm.data.dataset import Record
from minilm.errors import UserError

NO_SPAN = -1  # offsets of a position that is not a context token


def special_ids(tokenizer: Tokenizer) -> tuple[int, int, int]:
    """The [CLS], [SEP] and padding ids of a BERT tokenizer (Hugging Face names, else minilm's)."""

    def first(*names: str) -> int | None:
        return next((i for name in names if (i := tokenizer.token_to_id(name)) is not None), None)

    cls, sep, pad = first("[CLS]", "<cls>"), first("[SEP]", "<sep>"), first("[PAD]", "<pad>")
    if cls is None or sep is None:
        raise UserError("the tokenizer has no [CLS]/[SEP] (or <cls>/<sep>) token: QA needs a BERT tokenizer")
    return cls, sep, 0 if pad is None else pad


def _trimmed(context: str, offsets: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each token's character span less surrounding whitespace (byte-level BPE puts the space in front
    of a word into its token); a token of whitespace only gets an empty span."""
    spans = []
    for start, end in offsets:
        while start < end and context[start].isspace():
            start += 1
        while end > start and context[end - 1].isspace():
            end -= 1
        spans.append((start, end))
    return spans


def answer_tokens(spans: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """The first and last token (indices into ``spans``, the context's token character spans) that
    overlap the characters ``[start, end)``; None if none does."""
    hit = [i for i, (s, e) in enumerate(spans) if s < e and s < end and e > start]
    return (hit[0], hit[-1]) if hit else None


def doc_windows(n_tokens: int, room: int, doc_stride: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each window over ``n_tokens`` context tokens, ``room`` tokens each, a new one
    every ``min(room, doc_stride)`` tokens until one reaches the end (BERT's ``doc_spans``)."""
    windows, start = [], 0
    while True:
        end = min(start + room, n_tokens)
        windows.append((start, end))
        if end == n_tokens:
            return windows
        start += min(room, doc_stride)


def qa_windows(
    tokenizer: Tokenizer,
    records: Sequence[Record],
    *,
    max_len: int,
    doc_stride: int,
    max_query_len: int,
    where: str,
) -> dict[str, np.ndarray]:
    """Every record's windows (see the module docstring), W rows of T = ``max_len`` positions:

    tokens, token_types, attention_mask (W, T); starts, ends (W,): the span labels; example (W,): the
    record each window comes from; char_start, char_end (W, T): a context token's characters, else
    NO_SPAN (all int32).  ``where`` names the records in errors."""
    cls, sep, pad = special_ids(tokenizer)
    if max_len < max_query_len + 4:
        raise UserError(
            f"max_len={max_len} leaves no room for context after a {max_query_len}-token question"
        )
    questions = tokenizer.encode_batch([r["question"] for r in records], add_special_tokens=False)
    contexts = tokenizer.encode_batch([r["context"] for r in records], add_special_tokens=False)
    rows, starts, ends, example, offsets = [], [], [], [], []
    for i, (record, question, context) in enumerate(zip(records, questions, contexts, strict=True)):
        spans = _trimmed(record["context"], context.offsets)
        answer = record["answers"][0] if record["answers"] else None
        gold = None
        if answer is not None:
            a_start = answer["answer_start"]
            gold = answer_tokens(spans, a_start, a_start + len(answer["text"]))
            if gold is None:
                raise UserError(
                    f"{where}: question {record['id']}: answer {answer['text']!r} at "
                    f"answer_start={a_start} covers no token of its context"
                )
        q_ids = question.ids[:max_query_len]
        head = [cls, *q_ids, sep]
        room = max_len - len(head) - 1
        for w_start, w_end in doc_windows(len(context.ids), room, doc_stride):
            row = head + context.ids[w_start:w_end] + [sep]
            span = np.full((max_len, 2), NO_SPAN, np.int32)
            span[len(head) : len(head) + w_end - w_start] = spans[w_start:w_end]
            s = e = 0  # [CLS]: the answer is not (wholly) in this window
            if gold is not None and w_start <= gold[0] and gold[1] < w_end:
                s, e = (len(head) + g - w_start for g in gold)
            rows.append((row, len(head)))
            starts.append(s)
            ends.append(e)
            example.append(i)
            offsets.append(span)
    tokens = np.full((len(rows), max_len), pad, np.int32)
    types = np.zeros((len(rows), max_len), np.int32)
    mask = np.zeros((len(rows), max_len), np.int32)
    for w, (row, n_head) in enumerate(rows):
        tokens[w, : len(row)] = row
        types[w, n_head : len(row)] = 1
        mask[w, : len(row)] = 1
    offsets = np.stack(offsets)  # (W, T, 2)
    return {
        "tokens": tokens,
        "token_types": types,
        "attention_mask": mask,
        "starts": np.array(starts, np.int32),
        "ends": np.array(ends, np.int32),
        "example": np.array(example, np.int32),
        "char_start": offsets[:, :, 0],
        "char_end": offsets[:, :, 1],
    }


def answer_text(context: str, arrays: dict[str, np.ndarray], window: int, start: int, end: int) -> str:
    """The context's text from token position ``start`` to ``end`` of window ``window``."""
    return context[arrays["char_start"][window, start] : arrays["char_end"][window, end]]
