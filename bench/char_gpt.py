#!/usr/bin/env python
"""Benchmark: a character-level GPT on TinyShakespeare, ours against the PyTorch anchor, one run.

    python bench/char_gpt.py [--iters 2000] [--repeats 1] [--threads 2] [--anchor-python PYTHON]
        [--data $MINILM_DATA/tinyshakespeare/input.txt] [--anchor bench/anchors/torch_gpt_char.py]

Runtime per repeat: the anchor's 2000 iterations (about 80 s on a quiet 2-core machine)
plus ours (the same iterations and 10-15 s of compilation).
``--iters N`` shortens both runs (the anchor's ``--max-iters N``); the learning-rate schedules then
differ (the anchor keeps its 2000-iteration cosine, ours decays over N), so a short run compares speed,
not the final loss.  The anchor runs with this Python (``pip install -e .[anchors]`` brings torch) or
``--anchor-python``, one with torch; ``--anchor-python ''`` runs ours only.  ``--threads N`` pins this
process and the anchor to the first N CPUs (and gives the anchor ``--threads N``): on a machine shared
with other jobs, ``--threads 1`` keeps PyTorch's thread pool from spinning against the other jobs,
which otherwise slows it far more than XLA (seen here: 40x against 6x under a load of 8 on 2 cores).
Ours trains as ``train.py --cpu_devices=N`` does, N = ``--cpu-devices`` (default ``--threads``): the CPU
split into N JAX devices, data-parallel over them (see :func:`minilm.train.parallel.use_cpu_devices`).

Both sides, as ``torch_gpt_char.py``: 4 layers, 4 heads, 128 dims, block 64, batch 12, no biases
(dense layers and LayerNorms), exact GELU, tied embeddings, no dropout, N(0, 0.02) init with residual
projections scaled by 1/sqrt(2 L); AdamW 1e-3 (betas 0.9/0.99, eps 1e-8, weight decay 0.1 on
matrices), global-norm clipping 1.0, linear warmup 100 then cosine to 1e-4; vocabulary = the sorted
characters of the file (65), first 90% of the characters train, last 10% validation; each batch is 12
random windows of 65 characters.  Ours trains with ``minilm.train.loop.fit`` (the loop of every
``train.py`` command) and the model of ``minilm.models.transformer``.  Differences that remain: the
random draws (init and windows come from different generators) and the first warmup step (ours
starts at lr 0, the anchor at lr/101).

Evaluation as the anchor: the mean loss of 20 random validation batches every 250 iterations and at
the end, plus a 200-batch estimate at the end (the figure compared); evaluation time is not training
time.  Reported: train seconds (the anchor's definition, the sum of its step times; ours, from the
first batch to the end of the last step less the evaluations, includes compiling the step, also
shown on its own, and ``fit_seconds`` adds setting up, the final checkpoint and loss.png), median
ms/iteration (ours: after the first, compiled, step), final val loss, and ratio = ours / anchor
(time: < 1 means ours is faster).  With ``--repeats R`` the two alternate R times; medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

from minilm.data.batches import LMBatches  # noqa: E402
from minilm.data.registry import data_root  # noqa: E402
from minilm.models.transformer import GPT, TransformerConfig  # noqa: E402
from minilm.objectives.lm import lm_loss  # noqa: E402
from minilm.train.loop import TrainConfig, fit  # noqa: E402
from minilm.train.parallel import use_cpu_devices  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BATCH, BLOCK = 12, 64
EVAL_EVERY, EVAL_BATCHES, FINAL_EVAL_BATCHES = 250, 20, 200


def model_config(vocab_size: int) -> TransformerConfig:
    return TransformerConfig(
        vocab_size=vocab_size, max_len=BLOCK, n_layer=4, n_head=4, d_model=128, d_ff=512,
        dropout=0.0, bias=False, gelu="exact", layer_norm_eps=1e-5,
    )  # fmt: skip


def train_config(iters: int, seed: int) -> TrainConfig:
    return TrainConfig(
        steps=iters, batch_size=BATCH, lr=1e-3, schedule="cosine", warmup_steps=100, min_lr_ratio=0.1,
        weight_decay=0.1, beta1=0.9, beta2=0.99, clip_norm=1.0, log_every=50, eval_every=EVAL_EVERY,
        ckpt_every=0, seed=seed,
    )  # fmt: skip


class TimedBatches(LMBatches):
    """LMBatches that note when each step asks for its batch: consecutive times are one iteration."""

    def __init__(self, *args):
        super().__init__(*args)
        self.times: list[float] = []

    def batch(self, step: int) -> dict[str, np.ndarray]:
        self.times.append(time.perf_counter())
        return super().batch(step)


def val_loss_estimator(model: GPT, val: np.ndarray, seed: int):
    """``estimate(model, n_batches)``: mean loss over random validation batches, as the anchor's
    ``estimate`` (its own generator, so evaluating never moves the training data order)."""
    graphdef = nnx.graphdef(model)
    rng = np.random.default_rng(seed + 1000)

    @jax.jit
    def loss_of(state, tokens, targets):
        logits = nnx.merge(graphdef, state)(tokens)  # (B, T, V)
        return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()

    def estimate(m: GPT, n_batches: int) -> float:
        state = nnx.state(m)
        losses = []
        for _ in range(n_batches):
            starts = rng.integers(0, len(val) - BLOCK - 1, size=BATCH)
            window = val[starts[:, None] + np.arange(BLOCK + 1)[None, :]]
            losses.append(float(loss_of(state, window[:, :-1], window[:, 1:])))
        return float(np.mean(losses))

    return estimate


def run_ours(text: str, iters: int, seed: int) -> dict:
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int32)
    n = int(0.9 * len(data))
    train, val = data[:n], data[n:]
    model = GPT(model_config(len(chars)), rngs=nnx.Rngs(seed))
    batches = TimedBatches(train, BATCH, BLOCK, seed)
    estimate = val_loss_estimator(model, val, seed)
    eval_starts, eval_seconds = [], []

    def eval_fn(m: GPT) -> dict[str, float]:
        eval_starts.append(time.perf_counter())
        result = {"eval_loss": estimate(m, EVAL_BATCHES)}
        eval_seconds.append(time.perf_counter() - eval_starts[-1])
        return result

    with tempfile.TemporaryDirectory() as run_dir:
        t0 = time.perf_counter()
        fit(model, lm_loss, batches, train_config(iters, seed), Path(run_dir), eval_fn=eval_fn)
        wall = time.perf_counter() - t0
        history = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    steps = np.diff(batches.times)  # iteration i = time from batch i to batch i+1 (includes any eval)
    evals_at = {r["step"] for r in history if "eval_loss" in r}
    step_ms = [1000 * s for i, s in enumerate(steps, start=1) if i > 1 and i not in evals_at]
    final_val = estimate(model, FINAL_EVAL_BATCHES)
    return {
        # as the anchor's sum of step times: first batch to the end of the last step (its final
        # evaluation starts then), less the evaluations in between; includes compiling the step
        "train_seconds": round(eval_starts[-1] - batches.times[0] - sum(eval_seconds[:-1]), 2),
        "fit_seconds": round(wall - sum(eval_seconds), 2),
        "compile_seconds": round(float(steps[0]) if len(steps) else float("nan"), 2),
        "ms_per_iter_median": round(statistics.median(step_ms), 2),
        "final_val_loss_20b": round(history[-1]["eval_loss"], 4),
        "final_val_loss_200b": round(final_val, 4),
    }


def run_anchor(python: str, script: Path, data: Path, iters: int, seed: int, threads: int) -> dict:
    cmd = [
        python,
        str(script),
        str(data),
        "--seed",
        str(seed),
        "--max-iters",
        str(iters),
        "--threads",
        str(threads),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"error: the anchor failed ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    keep = ("train_seconds", "ms_per_iter_median", "final_val_loss_20b", "final_val_loss_200b")
    return {k: res[k] for k in keep}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_data = data_root() / "tinyshakespeare" / "input.txt"
    ap.add_argument("--data", type=Path, default=default_data, help="TinyShakespeare input.txt")
    ap.add_argument("--anchor", type=Path, default=ROOT / "bench" / "anchors" / "torch_gpt_char.py")
    ap.add_argument("--anchor-python", default=sys.executable,
                    help="a Python with torch for the anchor ('' = run ours only)")  # fmt: skip
    ap.add_argument("--iters", type=int, default=2000, help="training iterations of each run")
    ap.add_argument("--repeats", type=int, default=1, help="alternating runs of each (medians reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="CPUs for each side (the anchor's --threads)")
    ap.add_argument("--cpu-devices", type=int, default=None,
                    help="ours: train.py's --cpu_devices, data-parallel over this many CPU devices "
                         "(default: --threads; 1 = one device)")  # fmt: skip
    args = ap.parse_args()
    use_cpu_devices(args.threads if args.cpu_devices is None else args.cpu_devices)
    cpus = sorted(os.sched_getaffinity(0))
    if args.threads < len(cpus):  # before JAX starts its CPU client, so XLA sizes its thread pool to it
        os.sched_setaffinity(0, cpus[: args.threads])
    if not args.data.is_file():
        raise SystemExit(f"error: no {args.data}; pass --data PATH/input.txt or set MINILM_DATA")
    text = args.data.read_text(encoding="utf-8")

    runs: dict[str, list[dict]] = {"ours": [], "anchor": []}
    for r in range(args.repeats):
        runs["ours"].append(run_ours(text, args.iters, args.seed))
        print(json.dumps({"repeat": r, "ours": runs["ours"][-1]}), file=sys.stderr, flush=True)
        if args.anchor_python:
            runs["anchor"].append(
                run_anchor(args.anchor_python, args.anchor, args.data, args.iters, args.seed, args.threads)
            )
            print(json.dumps({"repeat": r, "anchor": runs["anchor"][-1]}), file=sys.stderr, flush=True)

    def median(side: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[side]), 4)

    keys = ("train_seconds", "ms_per_iter_median", "final_val_loss_200b", "final_val_loss_20b")
    summary = {
        "iters": args.iters,
        "repeats": args.repeats,
        "threads": args.threads,
        "cpu_devices": jax.device_count(),
        "jax": jax.__version__,
    }
    summary["ours"] = {k: median("ours", k) for k in (*keys, "compile_seconds", "fit_seconds")}
    rows = [("train seconds", "train_seconds"), ("ms / iteration (median)", "ms_per_iter_median"),
            ("val loss (200 batches)", "final_val_loss_200b")]  # fmt: skip
    print(
        f"char GPT, TinyShakespeare: {args.iters} iters, {args.threads} threads, ours on "
        f"{jax.device_count()} CPU device(s), median of {args.repeats}"
    )
    if runs["anchor"]:
        summary["anchor"] = {k: median("anchor", k) for k in keys}
        summary["ratio_train_seconds"] = round(
            summary["ours"]["train_seconds"] / summary["anchor"]["train_seconds"], 3
        )
        summary["ratio_ms_per_iter"] = round(
            summary["ours"]["ms_per_iter_median"] / summary["anchor"]["ms_per_iter_median"], 3
        )
        print(f"{'':26} {'ours':>10} {'PyTorch':>10} {'ours/PyTorch':>13}")
        for label, key in rows:
            a, b = summary["ours"][key], summary["anchor"][key]
            print(f"{label:26} {a:>10} {b:>10} {a / b:>13.3f}")
    else:
        for label, key in rows:
            print(f"{label:26} {summary['ours'][key]:>10}")
    print(f"{'ours: compile seconds':26} {summary['ours']['compile_seconds']:>10}")
    print(f"{'ours: fit() seconds':26} {summary['ours']['fit_seconds']:>10}  (+ setup, checkpoint, loss.png)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
