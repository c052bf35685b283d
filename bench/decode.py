#!/usr/bin/env python
"""Benchmark: decoding speed of a small GPT with and without the key/value cache, at 256 and 1024 context.

    python bench/decode.py [--contexts 256,1024] [--new-tokens 128] [--batch 1] [--repeats 3]

Runtime: about 4 minutes on a busy 2-core machine, most of it the uncached runs at 1024.

The model: the char-GPT shape of ``bench/char_gpt.py`` (4 layers, 4 heads, 128 dims, vocabulary 65) with
``max_len`` = the context, random weights (speed does not depend on them).  For each context C a prompt
of C - N random tokens is continued by N = ``--new-tokens`` tokens, greedily, with
:func:`minilm.models.generate.generate`: the cached decoder runs the model on one new token per step
against the stored keys/values; the uncached one re-runs the whole fixed-length buffer (C tokens) per
step.  Both are one compiled ``lax.while_loop``; compilation is excluded (a first call with the same
shapes).  Reported per context: prefill seconds (the same call with N = 1), decode tokens/s =
B (N - 1) / (t(N) - t(1)) over the median of ``--repeats`` timings, and the cache's speed-up; the two
decoders must produce the same tokens.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

from minilm.models.generate import GenerationConfig, generate  # noqa: E402
from minilm.models.transformer import GPT, TransformerConfig  # noqa: E402

VOCAB = 65


def timed(
    model: GPT, prompts: list[list[int]], n: int, use_cache: bool, repeats: int
) -> tuple[float, np.ndarray]:
    """Median seconds of ``generate`` (after one compiling call) and the tokens it produced."""
    cfg = GenerationConfig(max_new_tokens=n, use_cache=use_cache)
    out = generate(model, prompts, cfg)  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = generate(model, prompts, cfg)  # returns NumPy arrays: the work is done
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out.tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contexts", default="256,1024", help="comma-separated context lengths")
    ap.add_argument("--new-tokens", type=int, default=128, help="tokens generated per prompt")
    ap.add_argument("--batch", type=int, default=1, help="prompts decoded together")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each (median reported)")
    args = ap.parse_args()
    n, b = args.new_tokens, args.batch
    rows = []
    for context in (int(c) for c in args.contexts.split(",")):
        if context <= n:
            raise SystemExit(f"error: --new-tokens={n} leaves no prompt in a context of {context}")
        cfg = TransformerConfig(vocab_size=VOCAB, max_len=context, n_layer=4, n_head=4, d_model=128, d_ff=512)
        model = GPT(cfg, rngs=nnx.Rngs(0))
        prompts = np.random.default_rng(0).integers(0, VOCAB, size=(b, context - n)).tolist()
        row = {"context": context, "prompt_tokens": context - n, "new_tokens": n, "batch": b}
        tokens = {}
        for name, use_cache in (("cached", True), ("uncached", False)):
            t_one, _ = timed(model, prompts, 1, use_cache, args.repeats)
            t_all, tokens[name] = timed(model, prompts, n, use_cache, args.repeats)
            row[f"{name}_prefill_s"] = round(t_one, 4)
            row[f"{name}_tokens_per_s"] = round(b * (n - 1) / (t_all - t_one), 1)
        row["same_tokens"] = bool(np.array_equal(tokens["cached"], tokens["uncached"]))
        row["speedup"] = round(row["cached_tokens_per_s"] / row["uncached_tokens_per_s"], 2)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print(f"decode tokens/s, batch {b}, {n} new tokens, greedy (median of {args.repeats})")
    print(f"{'context':>8} {'cached':>10} {'uncached':>10} {'speed-up':>9} {'same tokens':>12}")
    for r in rows:
        print(
            f"{r['context']:>8} {r['cached_tokens_per_s']:>10} {r['uncached_tokens_per_s']:>10} "
            f"{r['speedup']:>9} {str(r['same_tokens']):>12}"
        )
    print(json.dumps({"decode": rows}))


if __name__ == "__main__":
    main()
