#!/usr/bin/env python
"""Benchmark: fine-tuning all-MiniLM-L6-v2 on SST-2, minilm's methods beside the PyTorch + peft anchor.

    python bench/finetune.py [--methods full,lora,bitfit,prefix,prompt,linear-probe,adapter-houlsby,...]
        [--steps 217] [--seeds 0] [--threads 2] [--lr METHOD=LR,...] [--anchor-python PYTHON]
        [--model ../shared/models/all-MiniLM-L6-v2] [--data_dir $MINILM_DATA] [--out bench/runs/finetune]
    python bench/finetune.py --step-cost [--methods ...] [--widths 64,48] [--without-dropout]

Both sides as ``bench/anchors/torch_finetune.py`` fixes them: the checkpoint and a new 2-class linear
head, SST-2 (``stsa.binary.*``: train 6,920, dev 872, test 1,821), 64 tokens at most, batch 32, one epoch
= 217 steps, AdamW (0.9 / 0.999, eps 1e-8, weight decay 0.01), 10% linear warmup then linear decay to 0,
gradients clipped to norm 1.0, dropout 0.1, the same seed, 2 threads.  Ours is ``python train.py
finetune`` (one process per method, ``--cpu_devices=THREADS``); its run folders go under ``--out``.

Learning rates: the anchor's for the methods it has (full 5e-5, LoRA 5e-4, BitFit and linear probe 1e-3,
prefix and prompt 1e-2); for the others ``OURS_ONLY_LR`` below (not tuned for the run the README reports;
``--lr METHOD=LR`` overrides any, e.g. to choose one on the dev set).  Method settings: the CLI's
defaults, which are the anchor's where the anchor has the method (LoRA r 8, alpha 16, dropout 0.1 on
q and v; 20 prompt or prefix vectors); adapters with reduction factor 16, partial-FFN the top block's
FFN, FL-tuning 32 new units per FFN, every block.

What differs, and stays different (the README table says so): the head -- BertForSequenceClassification
reads the checkpoint's pooler, tanh(W h_[CLS] + b) (trained in full fine-tuning, its bias in BitFit,
frozen otherwise), ours the raw [CLS] state (``--pooling=cls``, minilm has no pooler layer); padding --
the anchor pads each batch to its longest row (``mean_width`` in its line), ours pads every batch to the
longest row of the data (64 here), one shape so one compiled step; weight decay -- the anchor decays
every trained tensor, ours the matrices only; the random draws (head init, data order, dropout).

Reported per method and seed: trainable % (ours: of the classifier's parameters; the anchor's: of its
model's, peft's added ones included), dev and test accuracy after the last step, median ms/step over
steps 6..N (the anchor's own definition; ours from the per-step times of its ``metrics.jsonl``), and
ratio = ours / anchor.  Results are appended to ``OUT/results.jsonl`` as they come, and a method already
there (same steps and seed) is not run again: an interrupted benchmark continues where it stopped
(``--table`` prints the table of what is there and runs nothing).

``--step-cost`` measures what the compiled step of each method does instead, in this process: XLA's
flop count of the whole step (forward, backward, AdamW) and its median ms over 20 steps, at each of
``--widths`` -- whether a frozen-backbone method's backward skips the frozen weights' gradients;
``--without-dropout`` times the same step with dropout off, what its random masks cost.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from minilm.data.registry import data_root  # noqa: E402

BATCH, MAX_LEN, EPOCH_STEPS = 32, 64, 217
ANCHOR_LR = {"full": 5e-5, "lora": 5e-4, "bitfit": 1e-3, "prefix": 1e-2, "prompt": 1e-2, "linear-probe": 1e-3}
# methods the anchor lacks (see the README's table for how these were chosen)
OURS_ONLY_LR = {
    "adapter-houlsby": 1e-3,
    "adapter-pfeiffer": 1e-3,
    "partial-ffn": 1e-4,
    "fl": 1e-3,
    "freeze": 5e-5,
}
ANCHOR_NAME = {m: m for m in ANCHOR_LR} | {"linear-probe": "linear"}  # ours -> the anchor script's name
DEFAULT_METHODS = (
    "full,lora,bitfit,prefix,prompt,linear-probe,adapter-houlsby,adapter-pfeiffer,partial-ffn,fl"
)


def parse_lrs(text: str) -> dict[str, float]:
    out = {}
    for item in filter(None, text.split(",")):
        method, _, value = item.partition("=")
        out[method] = float(value)
    return out


def pinned(threads: int):
    """A preexec_fn keeping a child on the first ``threads`` CPUs (none needed when that is all of them)."""
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    return None if len(cpus) == os.cpu_count() else (lambda: os.sched_setaffinity(0, cpus))


def run_anchor(args, methods: list[str], seed: int) -> list[dict]:
    names = [ANCHOR_NAME[m] for m in methods if m in ANCHOR_NAME]
    if not names or not args.anchor_python:
        return []
    cmd = [
        args.anchor_python,
        str(ROOT / "bench/anchors/torch_finetune.py"),
        args.data_dir,
        args.model,
        "--methods",
        ",".join(names),
        "--steps",
        str(args.steps),
        "--seed",
        str(seed),
        "--threads",
        str(args.threads),
    ]
    print("anchor:", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=pinned(args.threads))
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)
    by_name = {v: k for k, v in ANCHOR_NAME.items()}
    return [{"side": "anchor", **r, "method": by_name[r["method"]]} for r in lines]


def step_times(metrics: Path) -> list[float]:
    """Seconds of each optimizer step, from the ``seconds`` of consecutive per-step log lines."""
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    clock = [r["seconds"] for r in rows if r.get("phase") == "finetune" and "loss" in r]
    return [b - a for a, b in zip([0.0, *clock], clock, strict=False)]


def run_ours(args, method: str, seed: int, lr: float) -> dict:
    name = f"{method}-seed{seed}-steps{args.steps}"
    run_dir = Path(args.out) / "runs" / name
    shutil.rmtree(run_dir, ignore_errors=True)
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "finetune",
        f"--init={args.model}",
        "--task=sst2",
        f"--data_dir={args.data_dir}",
        f"--method={method}",
        f"--train.lr={lr}",
        f"--steps={args.steps}",
        f"--seed={seed}",
        f"--train.warmup_steps={int(0.1 * args.steps)}",
        "--train.log_every=1",
        "--train.eval_every=0",
        "--train.ckpt_every=0",
        f"--cpu_devices={args.threads}",
        f"--max_len={MAX_LEN}",
        f"--batch_size={BATCH}",
        f"--out_dir={run_dir.parent}",
        f"--name={name}",
        "--progress=false",
    ]
    print("ours:", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=pinned(args.threads))
    if done.returncode:
        print(done.stdout[-1000:], done.stderr[-2000:], file=sys.stderr)
        return {
            "side": "ours",
            "method": method,
            "seed": seed,
            "steps": args.steps,
            "failed": done.stderr[-300:],
        }
    report = json.loads((run_dir / "report.json").read_text())
    seconds = step_times(run_dir / "metrics.jsonl")
    return {
        "side": "ours",
        "method": method,
        "steps": args.steps,
        "seed": seed,
        "lr": lr,
        "trainable": report["trainable_parameters"],
        "total": report["parameters"],
        "trainable_pct": report["trainable_percent"],
        "ms_per_step": round(1000 * statistics.median(seconds[5:] or seconds), 1),
        "first_step_seconds": round(seconds[0], 1),
        "train_seconds": report["train_seconds"],
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "mean_width": MAX_LEN,
        "dev_accuracy": report["dev_accuracy"],
        "test_accuracy": report["test_accuracy"],
        "threads": args.threads,
    }


def mean_std(values: list[float]) -> str:
    """Accuracies (fractions) as percent: the value, or mean ± std over seeds."""
    values = [100 * v for v in values]
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def side_by_side(ours: list[dict], anchor: list[dict], key: str, missing: str, show) -> str:
    """``ours / anchor`` of ``key`` over the seeds' rows; ``missing`` where the anchor has none."""
    left = show([r[key] for r in ours]) if ours else "--"
    return f"{left} / {show([r[key] for r in anchor]) if anchor else missing}"


def table(rows: list[dict], methods: list[str], seeds: list[int], steps: int) -> str:
    """Markdown: one line per method, ours beside the anchor's; the anchor's refusals below."""
    out = [
        "| method | lr | trainable % ours / anchor | dev acc ours / anchor | test acc ours / anchor "
        "| ms/step ours / anchor | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    refusals = []
    for method in methods:
        mine = [r for r in rows if r["method"] == method and r["steps"] == steps and r["seed"] in seeds]
        ours = [r for r in mine if r["side"] == "ours" and "dev_accuracy" in r]
        anchor = [r for r in mine if r["side"] == "anchor" and "dev_accuracy" in r]
        refused = [r["unsupported"] for r in mine if r["side"] == "anchor" and "unsupported" in r]
        refusals += [f"anchor {method}: {why}" for why in refused[:1]]
        if not ours and not anchor:
            continue
        missing = "refused" if refused else "--"
        lr = (ours or anchor)[0]["lr"]
        pct = side_by_side(ours[:1], anchor[:1], "trainable_pct", missing, lambda v: f"{v[0]:.3g}")
        accs = [side_by_side(ours, anchor, k, missing, mean_std) for k in ("dev_accuracy", "test_accuracy")]
        ms = side_by_side(ours, anchor, "ms_per_step", missing, lambda v: f"{statistics.median(v):.0f}")
        ratio = "--"
        if ours and anchor:
            median = [statistics.median(r["ms_per_step"] for r in side) for side in (ours, anchor)]
            ratio = f"{median[0] / median[1]:.2f}x"
        out.append(f"| {method} | {lr:g} | {pct} | {accs[0]} | {accs[1]} | {ms} | {ratio} |")
    return "\n".join(out + ([""] + refusals if refusals else []))


def step_cost(args, methods: list[str]) -> None:
    """XLA's flops and the median ms of the compiled train step of each method, at each width."""
    from minilm.train.parallel import use_cpu_devices

    use_cpu_devices(1)  # one program on the whole CPU: the flop count is the step's, not a shard's
    import jax
    import numpy as np
    from flax import nnx

    from minilm.data.batches import classification_arrays
    from minilm.data.registry import load_dataset
    from minilm.data.splits import task_splits
    from minilm.finetune import METHODS
    from minilm.finetune.saved import build
    from minilm.objectives.classification import classification_loss
    from minilm.train.loop import TrainConfig, make_train_step
    from minilm.train.optim import learning_rate_schedule, make_optimizer

    def loss_fn(model, batch, rngs):  # rngs=None: dropout off
        return classification_loss(model, batch, None if args.without_dropout else rngs)

    train_ex, _, _, labels = task_splits(load_dataset("sst2", args.data_dir), 0)
    print(
        "| method | trainable % | width | GFLOP/step (XLA) | vs full | ms/step |\n|---|---|---|---|---|---|"
    )
    full_flops = {}
    for method in methods:
        tuned = build(args.model, method, METHODS[method].config(), list(labels), "cls", 1)
        ids = {label: i for i, label in enumerate(labels)}
        arrays = classification_arrays(
            tuned.tokenizer, train_ex[:BATCH], label_ids=ids, max_len=MAX_LEN, where=""
        )
        cfg = TrainConfig(steps=1000, batch_size=BATCH, weight_decay=0.01, beta2=0.999, seed=0)
        graphdef, params, frozen = nnx.split(tuned.model, tuned.trainable, ...)
        tx = make_optimizer(learning_rate_schedule(1e-4, 1000), weight_decay=0.01, b2=0.999, clip_norm=1.0)
        opt_state = tx.init(params)
        step = make_train_step(graphdef, loss_fn, tx, cfg, (params, frozen, opt_state))
        pct = (
            100
            * sum(x.size for x in jax.tree.leaves(params))
            / sum(x.size for x in jax.tree.leaves(nnx.state(tuned.model, nnx.Param)))
        )
        for width in args.widths:
            batch = {k: np.ascontiguousarray(v[:, :width]) if v.ndim == 2 else v for k, v in arrays.items()}
            p, f, o = (jax.tree.leaves(jax.tree.map(jax.numpy.copy, t)) for t in (params, frozen, opt_state))
            compiled = step.lower(p, f, o, batch, 0).compile()
            cost = compiled.cost_analysis()
            flops = (cost[0] if isinstance(cost, list) else cost)["flops"]
            times = []
            for s in range(21):
                t0 = time.perf_counter()
                p, o, loss, _, _ = compiled(p, f, o, batch, s)
                float(loss)
                times.append(time.perf_counter() - t0)
            if method == "full":
                full_flops[width] = flops
            base = full_flops.get(width)
            versus = f"{flops / base:.2f}" if base else "--"
            print(
                f"| {method} | {pct:.3g} | {width} | {flops / 1e9:.1f} | {versus} "
                f"| {1000 * statistics.median(times[1:]):.0f} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default=DEFAULT_METHODS)
    parser.add_argument("--steps", type=int, default=EPOCH_STEPS)
    parser.add_argument("--seeds", default="0", help="comma-separated")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lr", default="", help="METHOD=LR,... overriding the learning rates above")
    parser.add_argument(
        "--anchor-python", default=sys.executable, help="a Python with torch ('' = ours only)"
    )
    parser.add_argument("--model", default=str(ROOT.parent / "shared/models/all-MiniLM-L6-v2"))
    parser.add_argument("--data_dir", default=str(data_root()), help="the root holding sst2/ ($MINILM_DATA)")
    parser.add_argument("--out", default=str(ROOT / "bench/runs/finetune"))
    parser.add_argument(
        "--table", action="store_true", help="print the table of OUT/results.jsonl, run nothing"
    )
    parser.add_argument("--step-cost", action="store_true", help="the compiled steps' flops and ms instead")
    parser.add_argument("--without-dropout", action="store_true", help="--step-cost: dropout off")
    parser.add_argument("--widths", default=f"{MAX_LEN}", help="--step-cost: padded lengths, comma-separated")
    args = parser.parse_args()
    methods = args.methods.split(",")
    lrs = ANCHOR_LR | OURS_ONLY_LR | parse_lrs(args.lr)
    unknown = [m for m in methods if m not in lrs]
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {', '.join(lrs)}")
    if args.step_cost:
        args.widths = [int(w) for w in args.widths.split(",")]
        step_cost(args, methods)
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    results = Path(args.out) / "results.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []

    def have(side, method, seed):
        return any(
            r["side"] == side
            and r["method"] == method
            and r["seed"] == seed
            and r["steps"] == args.steps
            and r.get("lr", lrs[method]) == lrs[method]
            for r in rows
        )

    def keep(row):
        rows.append(row)
        with results.open("a") as f:
            f.write(json.dumps(row) + "\n")

    for seed in [] if args.table else seeds:
        for row in run_anchor(args, [m for m in methods if not have("anchor", m, seed)], seed):
            keep(row)
            print(json.dumps(row), flush=True)
        for method in methods:
            if not have("ours", method, seed):
                keep(run_ours(args, method, seed, lrs[method]))
                print(json.dumps(rows[-1]), flush=True)
    print(
        f"\n{args.steps} steps, seeds {args.seeds}, {args.threads} threads; load average now "
        f"{os.getloadavg()[0]:.1f}\n"
    )
    print(table(rows, methods, seeds, args.steps))


if __name__ == "__main__":
    main()
