#!/usr/bin/env python
"""Anchor: an ELMo-style bidirectional LSTM language model in PyTorch on the CPU.

    python bench/anchors/torch_bilstm_lm.py TRAIN_TXT VALID_TXT [--steps 300] [--seed 0] [--eval-tokens 0]

Model (Peters et al. 2018, without the character CNN and projections): one 128-dim token embedding
shared by a forward and a backward language model, each a 2-layer ``nn.LSTM`` of 256 units (the
forward one reads left to right and predicts the next token, the backward one reads right to left and
predicts the previous one), and one output softmax (``Linear(256, V)`` with bias) shared by both.  No
dropout; PyTorch's default initialisation after ``torch.manual_seed(seed)``.
Loss: (mean forward cross-entropy + mean backward cross-entropy) / 2.

Data: every non-blank line is split on whitespace and ends with an ``<eos>`` token; the lines of a file
make one stream; case is kept.  Vocabulary: the 10,000 most frequent training tokens (ties in order of
first appearance) and ``<unk>`` for the rest (a ``<unk>`` in the text is that token), V = 10,001.  The
training stream is cut into 32 equal rows, side by side (the PyTorch word-language-model "batchify");
step i reads columns [35 i, 35 i + 36) of all rows, going back to column 0 when they run out: the
forward model reads columns 0..34 and predicts 1..35, the backward one reads 35..1 and predicts 34..0.
Every window starts from a zero state (nothing is carried between steps).
Training: Adam (lr 1e-3, betas 0.9 / 0.999), gradients clipped to global norm 1.0, ``--steps`` steps,
``--threads`` threads.
Evaluation: the validation stream (``--eval-tokens N``: its first N tokens; 0 = all) cut into 32 rows
the same way and read in windows of 36 columns with stride 35 (the last may be shorter), so every
position is predicted once per direction; perplexity = exp(mean cross-entropy) per direction.

Timing (``time.perf_counter``): each step, from slicing its window to the end of the update.
positions/s = 32 x 35 positions per step (each predicted by both directions) / the step time.
Prints the loss every 50 steps, then one JSON line.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

EMBED, HIDDEN, LAYERS, VOCAB = 128, 256, 2, 10_000
ROWS, SEQ = 32, 35
UNK, EOS = "<unk>", "<eos>"


def read_stream(path: str) -> list[str]:
    """The file's tokens, each non-blank line followed by <eos>."""
    return [t for line in open(path, encoding="utf-8") if (words := line.split()) for t in (*words, EOS)]


def vocabulary(tokens: list[str]) -> dict[str, int]:
    """The VOCAB most frequent tokens (ties by first appearance), then <unk>."""
    counts = collections.Counter(t for t in tokens if t != UNK)  # most_common keeps first-seen order in ties
    words = [w for w, _ in counts.most_common(VOCAB)] + [UNK]
    return {w: i for i, w in enumerate(words)}


def rows(tokens: list[str], index: dict[str, int]) -> torch.Tensor:
    """The stream as ROWS contiguous rows: (ROWS, len // ROWS) ids, the remainder dropped."""
    ids = torch.tensor([index.get(t, index[UNK]) for t in tokens])
    width = len(ids) // ROWS
    return ids[: ROWS * width].view(ROWS, width)


class BiLM(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, EMBED)
        self.forward_lm = nn.LSTM(EMBED, HIDDEN, num_layers=LAYERS, batch_first=True)
        self.backward_lm = nn.LSTM(EMBED, HIDDEN, num_layers=LAYERS, batch_first=True)
        self.softmax = nn.Linear(HIDDEN, vocab_size)

    def losses(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy of each direction on a (B, T + 1) window of ids."""
        out = []
        for lstm, ids in ((self.forward_lm, window), (self.backward_lm, window.flip(1))):
            states, _ = lstm(self.embed(ids[:, :-1]))  # (B, T, HIDDEN)
            logits = self.softmax(states)  # (B, T, V)
            out.append(F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten()))
        return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("train", help="training text, one sentence or paragraph per line")
    ap.add_argument("valid", help="validation text, the same form")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-tokens", type=int, default=0, help="evaluate the first N valid tokens (0 = all)")
    args = ap.parse_args()
    if args.steps < 1 or args.eval_tokens < 0:
        ap.error("--steps must be >= 1 and --eval-tokens >= 0")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    start = time.perf_counter()
    train_tokens = read_stream(args.train)
    valid_tokens = read_stream(args.valid)
    index = vocabulary(train_tokens)
    train = rows(train_tokens, index)
    valid = rows(valid_tokens[: args.eval_tokens or None], index)
    prep_seconds = time.perf_counter() - start

    model = BiLM(len(index))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))
    step_ms, col = [], 0
    for step in range(1, args.steps + 1):
        start = time.perf_counter()
        if col + SEQ + 1 > train.shape[1]:
            col = 0
        loss_f, loss_b = model.losses(train[:, col : col + SEQ + 1])
        col += SEQ
        optimizer.zero_grad(set_to_none=True)
        ((loss_f + loss_b) / 2).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step_ms.append(1000 * (time.perf_counter() - start))
        if step % 50 == 0 or step == args.steps:
            print(
                json.dumps(
                    {"step": step, "loss_fwd": round(loss_f.item(), 4), "loss_bwd": round(loss_b.item(), 4)}
                ),
                flush=True,
            )

    start = time.perf_counter()
    total_f = total_b = 0.0
    n_targets = 0
    with torch.no_grad():
        for c in range(0, valid.shape[1] - 1, SEQ):
            window = valid[:, c : c + SEQ + 1]
            loss_f, loss_b = model.losses(window)
            n = window.numel() - ROWS  # targets per direction
            total_f, total_b, n_targets = (
                total_f + loss_f.item() * n,
                total_b + loss_b.item() * n,
                n_targets + n,
            )
    eval_seconds = time.perf_counter() - start

    ms = statistics.median(step_ms)
    print(json.dumps({
        "anchor": "torch_bilstm_lm",
        "steps": args.steps,
        "seed": args.seed,
        "threads": args.threads,
        "vocab_size": len(index),
        "train_tokens": len(train_tokens),
        "params": sum(p.numel() for p in model.parameters()),
        "prep_seconds": round(prep_seconds, 2),
        "train_seconds": round(sum(step_ms) / 1000, 2),
        "ms_per_step_median": round(ms, 1),
        "positions_per_second": round(ROWS * SEQ / ms * 1000, 1),
        "eval_seconds": round(eval_seconds, 2),
        "valid_targets": n_targets,
        "valid_ppl_fwd": round(math.exp(total_f / n_targets), 2),
        "valid_ppl_bwd": round(math.exp(total_b / n_targets), 2),
        "torch": torch.__version__,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
