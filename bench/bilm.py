#!/usr/bin/env python
"""Benchmark: minilm's ELMo biLM against the PyTorch anchor ``torch_bilstm_lm.py``, same settings, one run.

    python bench/bilm.py [--train bench/corpora/wiki_en_2m.txt] [--valid bench/corpora/wiki_en_valid.txt]
        [--steps 300] [--repeats 1] [--eval-tokens 0] [--anchor-python PYTHON]

Runtime (measured on a 2-core machine shared with other jobs, load average 7-9): 7m45s for
``--steps 30 --eval-tokens 20000``; ours alone took 19 min for 300 steps + the whole valid file.
The corpora come from ``python bench/corpora.py``; the anchor, ``bench/anchors/torch_bilstm_lm.py``, runs
with this Python (``pip install -e .[anchors]`` brings torch) or ``--anchor-python``, one with torch.

Both sides: forward and backward 2-layer LSTM-256 over shared 128-dim word embeddings, 10,000 most
frequent training words + <unk>, one softmax shared by the directions, windows of 35 predictions per
direction from 32 rows of the stream (stateless), Adam 1e-3 (betas 0.9/0.999, no weight decay),
global-norm clipping 1.0, no dropout, and the same data order.  Ours trains with
``minilm.train.loop.fit`` (the loop ``train.py elmo`` uses) and logs every step; the anchor is run as
a subprocess with its own command line.  Differences that remain: initialisation draws (both use
PyTorch's distributions, ours adds forget-gate bias 1), and ours compiles its step first (reported
separately, not in ms/step).

Reported (one JSON line, plus a table): median ms/step of each (ours: the step times logged by
``fit`` after the first, compiled, step), tokens/s = 1120 / median step (32 x 35 positions, each
predicted by both directions), ratio = ours / anchor (>= 1: ours is faster), and held-out
perplexity per direction on ``--valid`` (``--eval-tokens N``: only its first N tokens).  With
``--repeats R`` the two alternate R times (so both see the same machine load); medians are reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import jax  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

from minilm.data.bilm import TokenStream, Vocab, WindowBatches, eval_batches, line_tokens  # noqa: E402
from minilm.data.formats import read_lines  # noqa: E402
from minilm.models.elmo import BiLM, BiLMConfig  # noqa: E402
from minilm.objectives.bilm import bilm_evaluator, bilm_loss  # noqa: E402
from minilm.train.loop import TrainConfig, fit  # noqa: E402

BENCH = Path(__file__).resolve().parent
BATCH, SEQ, VOCAB = 32, 35, 10000


def run_ours(train: Path, valid: Path, steps: int, seed: int, eval_tokens: int) -> dict:
    t0 = time.perf_counter()
    train_tokens = line_tokens(read_lines(train))
    vocab = Vocab.build(train_tokens, VOCAB)
    batches = WindowBatches(TokenStream.of(train_tokens, vocab), BATCH, SEQ, max_chars=None)
    held = eval_batches(TokenStream.of(line_tokens(read_lines(valid)), vocab), BATCH, SEQ, None, eval_tokens)
    prep_s = time.perf_counter() - t0
    cfg = BiLMConfig(vocab_size=len(vocab.words), emb_dim=128, hidden=256, layers=2)
    model = BiLM(cfg, rngs=nnx.Rngs(seed))
    train_cfg = TrainConfig(
        steps=steps, batch_size=BATCH, lr=1e-3, schedule="constant", warmup_steps=0, weight_decay=0.0,
        beta1=0.9, beta2=0.999, clip_norm=1.0, log_every=1, eval_every=0, ckpt_every=0, seed=seed,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as run_dir:
        fit(model, bilm_loss, batches, train_cfg, Path(run_dir), phase="bench")
        log = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    seconds = [r["seconds"] for r in log if r.get("phase") == "bench" and "loss" in r]
    step_ms = 1000 * np.diff(seconds)  # steps 2..N: the first includes compilation
    t0 = time.perf_counter()
    result = bilm_evaluator(model)(model, held)
    eval_s = time.perf_counter() - t0
    return {
        "params": sum(int(p.size) for p in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))),
        "prep_seconds": round(prep_s, 2),
        "first_step_seconds": round(seconds[0], 2),
        "train_seconds": round(seconds[-1], 2),
        "ms_per_step_median": round(float(np.median(step_ms)), 1),
        "eval_seconds": round(eval_s, 2),
        "valid_tokens_evaluated": result["tokens"],
        "valid_ppl_fwd": round(result["ppl_fwd"], 2),
        "valid_ppl_bwd": round(result["ppl_bwd"], 2),
    }


def run_anchor(python: str, anchor: Path, train: Path, valid: Path, steps: int, seed: int, eval_tokens: int):
    cmd = [python, str(anchor), str(train), str(valid), "--steps", str(steps), "--seed", str(seed)]
    cmd += ["--eval-tokens", str(eval_tokens)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=Path, default=BENCH / "corpora" / "wiki_en_2m.txt")
    ap.add_argument("--valid", type=Path, default=BENCH / "corpora" / "wiki_en_valid.txt")
    ap.add_argument("--anchor", type=Path, default=BENCH / "anchors" / "torch_bilstm_lm.py")
    ap.add_argument("--anchor-python", default=sys.executable, help="a Python with torch for the anchor")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1, help="alternating runs of each side")
    ap.add_argument("--eval-tokens", type=int, default=0, help="0 = all of --valid")
    args = ap.parse_args()
    for path in (args.train, args.valid, args.anchor):
        if not path.is_file():
            raise SystemExit(f"error: {path} not found (the corpora: python bench/corpora.py --data_dir ...)")

    ours, theirs = [], []
    for _ in range(args.repeats):
        theirs.append(
            run_anchor(
                args.anchor_python,
                args.anchor,
                args.train,
                args.valid,
                args.steps,
                args.seed,
                args.eval_tokens,
            )
        )
        ours.append(run_ours(args.train, args.valid, args.steps, args.seed, args.eval_tokens))
    ms_ours = statistics.median(r["ms_per_step_median"] for r in ours)
    ms_theirs = statistics.median(r["ms_per_step_median"] for r in theirs)
    tokens_per_step = BATCH * SEQ
    summary = {
        "steps": args.steps,
        "repeats": args.repeats,
        "ours_ms_per_step": ms_ours,
        "anchor_ms_per_step": ms_theirs,
        "ours_tokens_per_sec": round(tokens_per_step / ms_ours * 1000, 1),
        "anchor_tokens_per_sec": round(tokens_per_step / ms_theirs * 1000, 1),
        "tokens_per_sec_ratio": round(ms_theirs / ms_ours, 3),
        "ours_ppl_fwd": ours[0]["valid_ppl_fwd"],
        "ours_ppl_bwd": ours[0]["valid_ppl_bwd"],
        "anchor_ppl_fwd": theirs[0]["valid_ppl_fwd"],
        "anchor_ppl_bwd": theirs[0]["valid_ppl_bwd"],
        "ppl_ratio_fwd": round(ours[0]["valid_ppl_fwd"] / theirs[0]["valid_ppl_fwd"], 3),
        "ppl_ratio_bwd": round(ours[0]["valid_ppl_bwd"] / theirs[0]["valid_ppl_bwd"], 3),
        "ours": ours,
        "anchor": theirs,
    }
    print(f"| | ms/step (median) | tokens/s | valid PPL fwd / bwd ({args.steps} steps) |")
    print("|---|---|---|---|")
    print(
        f"| minilm (JAX) | {ms_ours} | {summary['ours_tokens_per_sec']:,} | "
        f"{summary['ours_ppl_fwd']} / {summary['ours_ppl_bwd']} |"
    )
    print(
        f"| torch anchor | {ms_theirs} | {summary['anchor_tokens_per_sec']:,} | "
        f"{summary['anchor_ppl_fwd']} / {summary['anchor_ppl_bwd']} |"
    )
    print(f"tokens/s ratio (ours / anchor): {summary['tokens_per_sec_ratio']}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
