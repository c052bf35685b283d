#!/usr/bin/env python
"""Anchor: a character-level GPT in PyTorch on the CPU, the usual small TinyShakespeare configuration.

    python bench/anchors/torch_gpt_char.py INPUT_TXT [--seed 0] [--max-iters 2000] [--threads 2]

Model (GPT-2 layout, Radford et al. 2019): learned token and position embeddings, 4 pre-LayerNorm
blocks of causal self-attention (4 heads, 128 dims) and a GELU (exact) MLP of 512, a final LayerNorm
and an output layer tied to the token embedding; no biases (dense layers and LayerNorms), no dropout.
Weights ~ N(0, 0.02), the two residual output projections of each block ~ N(0, 0.02 / sqrt(2 * 4)).

Training: 2,000 AdamW steps (lr 1e-3, betas 0.9 / 0.99, eps 1e-8, weight decay 0.1 on the matrices and
embeddings only), learning rate lr (it + 1) / 101 for the first 100 steps, then a cosine from 1e-3 down
to 1e-4 at step 2,000; gradients clipped to global norm 1.0; float32, eager, ``--threads`` threads.
``--max-iters N`` stops after N steps and keeps that schedule.
Data: the vocabulary is the file's sorted characters; the first 90% of the characters train, the last
10% validate; each batch is 12 windows of 64 + 1 characters at uniform random offsets
(``torch.Generator`` seeded with ``--seed``).
Evaluation: every 250 steps and at the end, the mean loss of 20 random batches of each split (their own
generator, seeded ``--seed + 1000``); at the end also 200 validation batches (the figure to compare).

Timing (``time.perf_counter``): each step from drawing its batch to the end of the optimiser update;
train_seconds is their sum (evaluations excluded), ms_per_iter_median their median.
Prints the evaluations as they happen, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

N_LAYER, N_HEAD, D_MODEL, BLOCK, BATCH = 4, 4, 128, 64, 12
LR, MIN_LR, WARMUP, DECAY_ITERS = 1e-3, 1e-4, 100, 2000
BETAS, WEIGHT_DECAY, CLIP = (0.9, 0.99), 0.1, 1.0
EVAL_EVERY, EVAL_BATCHES, FINAL_EVAL_BATCHES = 250, 20, 200


def learning_rate(step: int) -> float:
    """Linear warmup over WARMUP steps, then a cosine from LR to MIN_LR at DECAY_ITERS."""
    if step < WARMUP:
        return LR * (step + 1) / (WARMUP + 1)
    progress = min(1.0, (step - WARMUP) / (DECAY_ITERS - WARMUP))
    return MIN_LR + (LR - MIN_LR) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Block(nn.Module):
    """x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self):
        super().__init__()
        self.ln_attn = nn.LayerNorm(D_MODEL, bias=False)
        self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL, bias=False)
        self.attn_out = nn.Linear(D_MODEL, D_MODEL, bias=False)
        self.ln_mlp = nn.LayerNorm(D_MODEL, bias=False)
        self.mlp_in = nn.Linear(D_MODEL, 4 * D_MODEL, bias=False)
        self.mlp_out = nn.Linear(4 * D_MODEL, D_MODEL, bias=False)

    def forward(self, x):  # x: (B, T, D)
        b, t, d = x.shape
        heads = self.qkv(self.ln_attn(x)).view(b, t, 3, N_HEAD, d // N_HEAD).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(heads[0], heads[1], heads[2], is_causal=True)  # (B, H, T, D/H)
        x = x + self.attn_out(y.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp_out(F.gelu(self.mlp_in(self.ln_mlp(x))))


class CharGPT(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, D_MODEL)
        self.positions = nn.Embedding(BLOCK, D_MODEL)
        self.blocks = nn.Sequential(*(Block() for _ in range(N_LAYER)))
        self.ln_final = nn.LayerNorm(D_MODEL, bias=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                residual = name.endswith(("attn_out.weight", "mlp_out.weight"))
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * N_LAYER) if residual else 0.02)

    def forward(self, ids, targets):  # ids, targets: (B, T)
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        logits = self.ln_final(self.blocks(x)) @ self.tokens.weight.T  # (B, T, V), tied output layer
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="a text file (TinyShakespeare's input.txt)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-iters", type=int, default=DECAY_ITERS)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.max_iters < 1:
        ap.error("--max-iters must be >= 1")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    text = open(args.input, encoding="utf-8").read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text])
    split = int(0.9 * len(ids))
    data = {"train": ids[:split], "val": ids[split:]}

    def batch(name: str, generator: torch.Generator):
        starts = torch.randint(len(data[name]) - BLOCK - 1, (BATCH,), generator=generator)
        windows = torch.stack([data[name][s : s + BLOCK + 1] for s in starts.tolist()])  # (B, T + 1)
        return windows[:, :-1], windows[:, 1:]

    model = CharGPT(len(chars))
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": matrices, "weight_decay": WEIGHT_DECAY}, {"params": vectors, "weight_decay": 0.0}],
        lr=LR, betas=BETAS, eps=1e-8,
    )  # fmt: skip
    train_draws = torch.Generator().manual_seed(args.seed)
    eval_draws = torch.Generator().manual_seed(args.seed + 1000)

    @torch.no_grad()
    def mean_loss(name: str, n_batches: int) -> float:
        return sum(model(*batch(name, eval_draws)).item() for _ in range(n_batches)) / n_batches

    history, step_ms = [], []
    for step in range(args.max_iters + 1):
        if step % EVAL_EVERY == 0 or step == args.max_iters:
            losses = {"iter": step, **{s: round(mean_loss(s, EVAL_BATCHES), 4) for s in ("train", "val")}}
            history.append(losses)
            print(json.dumps(losses), flush=True)
        if step == args.max_iters:
            break
        start = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step)
        loss = model(*batch("train", train_draws))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        step_ms.append(1000 * (time.perf_counter() - start))

    print(json.dumps({
        "anchor": "torch_gpt_char",
        "seed": args.seed,
        "iters": args.max_iters,
        "threads": args.threads,
        "vocab_size": len(chars),
        "params": sum(p.numel() for p in model.parameters()),
        "train_seconds": round(sum(step_ms) / 1000, 2),
        "ms_per_iter_median": round(statistics.median(step_ms), 2),
        "tokens_per_second": round(args.max_iters * BATCH * BLOCK / (sum(step_ms) / 1000), 1),
        "final_train_loss_20b": history[-1]["train"],
        "final_val_loss_20b": history[-1]["val"],
        "final_val_loss_200b": round(mean_loss("val", FINAL_EVAL_BATCHES), 4),
        "history": history,
        "torch": torch.__version__,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
