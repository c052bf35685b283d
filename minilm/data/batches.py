"""Batch sources for the training loop: ``batch(step)`` is a pure function of the step.

Because the data order depends on nothing but ``(seed, step)``, a resumed run needs only the step
number to continue exactly where it stopped, and two runs with the same seed see the same batches.
"""

from __future__ import annotations

import numpy as np

from minilm.data.tokenizer import EOS, PAD, SEP, encode_padded
from minilm.errors import UserError


class LMBatches:
    """Random windows of a token stream for causal language modelling (as nanoGPT's ``get_batch``).

    batch(step) -> {"tokens": (B, T) int32, "targets": (B, T) int32}, targets = tokens shifted by one.
    """

    def __init__(self, stream: np.ndarray, batch_size: int, seq_len: int, seed: int):
        if len(stream) < seq_len + 2:
            raise UserError(
                f"the corpus has {len(stream)} tokens, fewer than one sequence of {seq_len + 1}; "
                "use more text or a smaller --max_len"
            )
        self.stream, self.batch_size, self.seq_len, self.seed = stream, batch_size, seq_len, seed

    def batch(self, step: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, step])
        starts = rng.integers(0, len(self.stream) - self.seq_len - 1, size=self.batch_size)  # (B,)
        idx = starts[:, None] + np.arange(self.seq_len + 1)[None, :]  # (B, T+1)
        window = self.stream[idx]
        return {"tokens": window[:, :-1], "targets": window[:, 1:]}


class ExampleBatches:
    """Epochs over a fixed set of examples (arrays with the same first dimension N), reshuffled each
    epoch with a permutation drawn from ``(seed, epoch)``.

    batch(step) -> the same keys as ``arrays``, each (B, ...).  Example ``i`` of the whole run is
    ``perm(epoch = i // N)[i % N]``, so a batch may straddle two epochs.

    ``bucket`` > 0 (right-padded token arrays with an ``attention_mask``): every 2-D array of a batch is
    cut to the batch's longest row rounded up to a multiple of ``bucket`` -- the padding a batch does
    not use costs no positions (as padding each batch to its longest row), and the widths stay few
    (at most width / bucket), so a compiled step serves many batches.  0: the arrays' full width.
    """

    def __init__(self, arrays: dict[str, np.ndarray], batch_size: int, seed: int, bucket: int = 0):
        sizes = {len(v) for v in arrays.values()}
        if len(sizes) != 1:
            raise ValueError(f"arrays of different lengths: {sizes}")
        (self.n,) = sizes
        if self.n < batch_size:
            raise UserError(f"only {self.n} training examples, fewer than one batch of {batch_size}")
        if bucket and "attention_mask" not in arrays:
            raise UserError(f"--bucket={bucket}: this task's inputs have no attention mask to cut rows by")
        self.arrays, self.batch_size, self.seed, self.bucket = arrays, batch_size, seed, bucket

    def _perm(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.n)

    def batch(self, step: int) -> dict[str, np.ndarray]:
        i = step * self.batch_size + np.arange(self.batch_size)  # positions in the endless stream
        epochs, offsets = np.divmod(i, self.n)
        idx = np.empty(self.batch_size, dtype=np.int64)
        for epoch in np.unique(epochs):
            sel = epochs == epoch
            idx[sel] = self._perm(int(epoch))[offsets[sel]]
        batch = {k: v[idx] for k, v in self.arrays.items()}
        if not self.bucket:
            return batch
        longest = int(batch["attention_mask"].sum(1).max())  # right padding: the real tokens come first
        width = min(-(-longest // self.bucket) * self.bucket, batch["attention_mask"].shape[1])
        return {k: np.ascontiguousarray(v[:, :width]) if v.ndim == 2 else v for k, v in batch.items()}


def classification_arrays(tokenizer, examples, *, label_ids, max_len, where) -> dict[str, np.ndarray]:
    """tokens and attention_mask (N, max_len), labels (N,) as class ids."""
    unknown = [r["label"] for r in examples if r["label"] not in label_ids]
    if unknown:
        raise UserError(f"{where}: unknown label {unknown[0]!r}; the labels are {', '.join(label_ids)}")
    tokens, mask = encode_padded(tokenizer, [r["text"] for r in examples], max_len)
    labels = np.array([label_ids[r["label"]] for r in examples], dtype=np.int32)
    return {"tokens": tokens, "attention_mask": mask, "labels": labels}


def trim_padding(*parts: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], ...]:
    """Cut the padding columns no example uses: short sentences need not cost ``max_len`` positions.
    One width for every split, so one compiled step and one compiled predictor serve them all."""
    width = max(int(p["attention_mask"].sum(1).max()) for p in parts)
    return tuple({k: v[:, :width] if v.ndim == 2 else v for k, v in p.items()} for p in parts)


# --- conditional generation: an encoder-decoder's and a decoder-only model's arrays ------------------


def _ids(tokenizer, texts, limit: int) -> list[list[int]]:
    """Each text's token ids (no special tokens added), its first ``limit`` kept."""
    return [e.ids[:limit] for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def source_prompts(tokenizer, sources, *, max_source_len: int, end: int) -> list[list[int]]:
    """What generation starts from: each source cut to ``max_source_len - 1`` tokens + ``end`` (the
    encoder's ``<eos>``, or a decoder-only model's ``<sep>``)."""
    return [ids + [end] for ids in _ids(tokenizer, sources, max_source_len - 1)]


def _right_padded(rows: list[list[int]], width: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.full((len(rows), width), PAD, np.int32)
    mask = np.zeros((len(rows), width), np.int32)
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return tokens, mask


def seq2seq_arrays(
    tokenizer, sources, targets, *, max_source_len: int, max_target_len: int, start_id: int = EOS
) -> dict[str, np.ndarray]:
    """Teacher forcing's arrays, right-padded: "source", "source_mask" (N, max_source_len): x <eos>;
    "target_in" (N, max_target_len): [start] y_1 .. y_m; "target_out": y_1 .. y_m <eos>, the input
    shifted by one; "target_mask": 1 on the m + 1 real positions.  Targets are cut to
    ``max_target_len - 1`` tokens."""
    source, source_mask = _right_padded(
        source_prompts(tokenizer, sources, max_source_len=max_source_len, end=EOS), max_source_len
    )
    ys = _ids(tokenizer, targets, max_target_len - 1)
    target_in, target_mask = _right_padded([[start_id, *y] for y in ys], max_target_len)
    target_out, _ = _right_padded([[*y, EOS] for y in ys], max_target_len)
    return {
        "source": source,
        "source_mask": source_mask,
        "target_in": target_in,
        "target_out": target_out,
        "target_mask": target_mask,
    }


def prefix_lm_arrays(
    tokenizer, sources, targets, *, max_source_len: int, max_target_len: int
) -> dict[str, np.ndarray]:
    """A decoder-only model's arrays for ``x <sep> y <eos>`` (source cut to ``max_source_len - 1``
    tokens, target to ``max_target_len - 1``), width ``max_source_len + max_target_len - 1``:
    "tokens" and "attention_mask" (the sequence without its last token), "targets" (the sequence
    shifted by one), "loss_mask" (1 where the target is y_1 .. y_m or <eos>: from <sep> on)."""
    prompts = source_prompts(tokenizer, sources, max_source_len=max_source_len, end=SEP)
    ys = _ids(tokenizer, targets, max_target_len - 1)
    sequences = [p + y + [EOS] for p, y in zip(prompts, ys, strict=True)]
    width = max_source_len + max_target_len - 1
    tokens, mask = _right_padded([s[:-1] for s in sequences], width)
    shifted, _ = _right_padded([s[1:] for s in sequences], width)
    loss_mask = np.zeros_like(mask)
    for i, (p, y) in enumerate(zip(prompts, ys, strict=True)):
        loss_mask[i, len(p) - 1 : len(p) + len(y)] = 1  # positions of <sep>, y_1 .. y_m
    return {"tokens": tokens, "attention_mask": mask, "targets": shifted, "loss_mask": loss_mask}
