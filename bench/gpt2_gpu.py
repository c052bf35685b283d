#!/usr/bin/env python
"""Benchmark: training throughput and MFU of a GPT-2-small-shaped model on one accelerator.

    python bench/gpt2_gpu.py [--batch 16] [--steps 50] [--peak_flops 989e12]

Runtime: compiling (about a minute on a GPU) plus ``--warmup`` + ``--steps`` steps (seconds on an
H100/H200).  Expected result: one JSON line with ``tokens_per_s`` and ``mfu``.  For reference,
measured on an H200 outside this repository: a PyTorch nanoGPT-style step (bf16 autocast, flash
attention, fused AdamW, torch.compile) reaches 42-44% MFU (483k-509k tokens/s at batch 16-32), a
plain JAX step with cuDNN attention 41%.  This script has not been run on a GPU yet (no figure
of ours to quote); the goal is >= 50%.

The model is GPT-2 small's shape (12 layers, 768 dims, 12 heads, context 1024, vocabulary 50304 =
50257 rounded up to a multiple of 64 as in nanoGPT) built with minilm's GPT
(:mod:`minilm.models.transformer`, ``dtype="bfloat16"``: matrix products in bf16, parameters,
LayerNorm, softmax and the optimizer in fp32) and trained with minilm's compiled optimizer step
(:func:`minilm.train.loop.make_train_step`: AdamW, clipping, non-finite guard) on random tokens, so
it needs no data.  Timing: ``--warmup`` steps (the first compiles), then ``--steps`` steps timed
together, waiting for the last; ``tokens_per_s = batch * block * steps / seconds``.

MFU (Chowdhery et al. 2022, PaLM, App. B) = tokens/s x training FLOPs per token / peak FLOP/s, with
FLOPs per token ``6 N + 12 L H Q T`` (:func:`minilm.models.transformer.flops_per_token`) and the peak
you pass: 989e12 for an H100/H200 SXM (dense bf16), 312e12 for an A100.

``--n_layer 1 --d_model 32 --n_head 2 --block 16 --vocab 64 --batch 2 --steps 2`` is a CPU dry run
of a few seconds (tests/test_bench_gpu_script.py), so the script keeps working.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import jax  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

from minilm.models.transformer import GPT, TransformerConfig, count_params, flops_per_token, mfu  # noqa: E402
from minilm.objectives.lm import lm_loss  # noqa: E402
from minilm.train.loop import TrainConfig, make_train_step  # noqa: E402
from minilm.train.optim import learning_rate_schedule, make_optimizer  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--n_layer", type=int, default=12, help="transformer blocks")
    add("--d_model", type=int, default=768, help="model width")
    add("--n_head", type=int, default=12, help="attention heads")
    add("--block", type=int, default=1024, help="context length (tokens per sequence)")
    add("--vocab", type=int, default=50304, help="vocabulary size")
    add("--batch", type=int, default=16, help="sequences per step")
    add("--dtype", default="bfloat16", choices=("bfloat16", "float32"), help="compute dtype")
    add("--warmup", type=int, default=3, help="untimed steps first (the first one compiles)")
    add("--steps", type=int, default=50, help="timed steps")
    add("--peak_flops", type=float, default=989e12, help="the device's peak FLOP/s (H100/H200 dense bf16)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    model_cfg = TransformerConfig(
        vocab_size=args.vocab, max_len=args.block, n_layer=args.n_layer, n_head=args.n_head,
        d_model=args.d_model, d_ff=4 * args.d_model, dtype=args.dtype,
    )  # fmt: skip
    model = GPT(model_cfg, rngs=nnx.Rngs(0))
    total = args.warmup + args.steps
    train_cfg = TrainConfig(steps=total, batch_size=args.batch, lr=6e-4, warmup_steps=1)
    tx = make_optimizer(learning_rate_schedule(6e-4, total, "cosine", 1), weight_decay=0.1, b2=0.95)
    graphdef, params, frozen = nnx.split(model, nnx.Param, ...)
    opt_state = tx.init(params)
    step_fn = make_train_step(graphdef, lm_loss, tx, train_cfg, (params, frozen, opt_state))
    p, f, o = (jax.tree.leaves(tree) for tree in (params, frozen, opt_state))
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, args.vocab, (args.batch, args.block + 1), dtype=np.int32)
    batch = jax.device_put({"tokens": tokens[:, :-1], "targets": tokens[:, 1:]})

    t0 = time.perf_counter()
    for step in range(args.warmup):
        p, o, loss, _, _ = step_fn(p, f, o, batch, step)
    jax.block_until_ready(loss)
    warmup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for step in range(args.warmup, total):
        p, o, loss, _, _ = step_fn(p, f, o, batch, step)
    jax.block_until_ready(loss)
    seconds = time.perf_counter() - t0

    tokens_per_s = args.batch * args.block * args.steps / seconds
    per_token = flops_per_token(model, args.block)
    result = {
        "device": jax.devices()[0].device_kind,
        "params": count_params(model),
        "dtype": args.dtype,
        "batch": args.batch,
        "block": args.block,
        "warmup_s": round(warmup_s, 2),
        "ms_per_step": round(1000 * seconds / args.steps, 2),
        "tokens_per_s": round(tokens_per_s),
        "flops_per_token": per_token,
        "peak_flops": args.peak_flops,
        "mfu": round(mfu(tokens_per_s, per_token, args.peak_flops), 4),
        "final_loss": float(loss),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
