#!/usr/bin/env python
"""Benchmark: every task of ``minilm.tasks`` on its real data, at a budget that finishes on 2 CPU cores.

    python bench/tasks.py [--tasks sst2,sick,...] [--data_dir $MINILM_DATA]
        [--model ../shared/models/all-MiniLM-L6-v2] [--out bench/runs/tasks] [--table]

Each task is one ``python train.py finetune`` run with the settings in :data:`RUNS` (the budget: steps,
batch, tokens, learning rate); the classification and QA tasks fine-tune the real backbone
(all-MiniLM-L6-v2, every weight), the generation tasks train a new encoder-decoder from scratch
(``--init=seq2seq``).  After each run its headline test metrics, the training and total wall time and
the exact command are appended to ``OUT/results.jsonl``; a task already there is not run again and an
interrupted run is resumed, so an interrupted benchmark continues where it stopped, and ``--table``
prints the README table of what is there without running anything.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "MODEL"  # replaced by --model

# task -> (metric shown first, settings); every run: seed 0, AdamW, 10% warmup, linear decay, dropout 0.1
CLASSIFY = ["--init=MODEL", "--method=full", "--lr=1e-4", "--batch_size=32", "--max_len=64"]
RUNS: dict[str, tuple[str, list[str]]] = {
    "sst2": ("accuracy", [*CLASSIFY, "--steps=200"]),
    "sick": ("accuracy", [*CLASSIFY, "--steps=120"]),
    "glue_rte": ("accuracy", [*CLASSIFY, "--steps=200", "--max_len=128", "--batch_size=16"]),
    "clinc150": ("in_scope_accuracy", [*CLASSIFY, "--steps=250", "--lr=3e-4"]),
    "snips": ("accuracy", [*CLASSIFY, "--steps=100"]),
    "trec": ("accuracy", [*CLASSIFY, "--steps=120"]),
    "trec_fine": ("accuracy", [*CLASSIFY, "--steps=150", "--lr=3e-4"]),
    "ag_news": ("accuracy", [*CLASSIFY, "--steps=100"]),
    "xquad": ("f1", ["--init=MODEL", "--method=full", "--lr=1e-4", "--batch_size=16", "--max_len=192",
                     "--qa.doc_stride=64", "--steps=150"]),
    "multi30k": ("bleu", ["--init=seq2seq", "--method=full", "--lr=1e-3", "--batch_size=64", "--max_len=40",
                          "--generate.max_target_len=40", "--generate.vocab_size=8000", "--generate.layers=3",
                          "--generate.d_model=256", "--generate.d_ff=1024", "--steps=800",
                          "--generate.num_beams=4"]),
    "scitldr": ("rougeL", ["--init=seq2seq", "--method=full", "--lr=1e-3", "--batch_size=16",
                           "--max_len=256", "--generate.max_target_len=48", "--generate.vocab_size=8000",
                           "--generate.layers=2", "--generate.d_model=256", "--generate.d_ff=1024",
                           "--steps=200", "--generate.num_beams=4"]),
}  # fmt: skip


def _last_wins(flags: list[str]) -> list[str]:
    """One ``--key=value`` per key, the last one given (a task's own setting after the shared ones)."""
    kept = {flag.split("=")[0]: flag for flag in flags}
    return list(kept.values())


def command(task: str, model: str, data_dir: str, out: Path) -> list[str]:
    _, settings = RUNS[task]
    flags = _last_wins([s.replace(MODEL, model) for s in settings])
    return [
        sys.executable, str(ROOT / "train.py"), "finetune", f"--task={task}", *flags, "--eval_every=0",
        "--progress=false", f"--data_dir={data_dir}", f"--out_dir={out / 'runs'}", f"--name={task}",
    ]  # fmt: skip


def run_task(task: str, model: str, data_dir: str, out: Path) -> dict:
    argv = command(task, model, data_dir, out)
    if (out / "runs" / task).is_dir():  # an interrupted run: continue it
        argv.append("--resume")
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    report = json.loads((out / "runs" / task / "report.json").read_text())
    local = ("--out_dir", "--name", "--data_dir", "--resume")  # not part of the command shown
    shown = " ".join(shlex.quote(a) for a in argv[2:] if not a.startswith(local))
    return {
        "task": task,
        "metric": RUNS[task][0],
        "test": {k.removeprefix("test_"): v for k, v in report.items() if k.startswith("test_")},
        "baseline": {k: v for k, v in report.items() if k.startswith(("majority", "frequent"))},
        "train_seconds": report["train_seconds"],
        "wall_seconds": round(wall, 1),
        "command": f"python train.py {shown}",
    }


def _numbers(values: dict) -> str:
    """Accuracies as fractions (0.912), BLEU / ROUGE / SQuAD scores as percentages (35.1)."""
    return ", ".join(f"{k} {v:.3f}" if v <= 1 else f"{k} {v:.1f}" for k, v in values.items() if v is not None)


def table(rows: list[dict]) -> str:
    lines = [
        "| task | model | metric | minilm | trivial baseline | wall time | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        model = "encoder-decoder, new" if "--init=seq2seq" in r["command"] else "all-MiniLM-L6-v2, full"
        shown, base = _numbers(r["test"]), _numbers(r["baseline"]) or "--"
        minutes = f"{r['wall_seconds'] / 60:.1f} min"
        words = _last_wins(r["command"].split())  # rows written before flags were deduplicated
        shown_cmd = " ".join(
            re.sub(r"^--init=\S*/(all-MiniLM-L6-v2)$", r"--init=../shared/models/\1", w) for w in words
        )
        lines.append(
            f"| {r['task']} | {model} | {r['metric']} | {shown} | {base} | {minutes} | `{shown_cmd}` |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(RUNS))
    parser.add_argument("--data_dir", default=os.environ.get("MINILM_DATA", ""))
    parser.add_argument("--model", default=str(ROOT.parent / "shared" / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "runs" / "tasks"))
    parser.add_argument("--table", action="store_true", help="print the table of results.jsonl; run nothing")
    args = parser.parse_args()
    out = Path(args.out)
    results = out / "results.jsonl"
    done = [json.loads(line) for line in results.read_text().splitlines()] if results.is_file() else []
    if not args.table:
        unknown = sorted(set(args.tasks.split(",")) - set(RUNS))
        if unknown:
            parser.error(f"--tasks: unknown {', '.join(unknown)}; known: {', '.join(RUNS)}")
        for task in args.tasks.split(","):
            if any(r["task"] == task for r in done):
                continue
            print(f"{task} ...", flush=True)
            row = run_task(task, args.model, args.data_dir, out)
            done.append(row)
            out.mkdir(parents=True, exist_ok=True)
            with results.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{task}: {row['test']} in {row['wall_seconds']:.0f} s", flush=True)
    print(table(done))


if __name__ == "__main__":
    main()
