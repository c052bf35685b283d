"""Benchmark: minilm's word vectors against gensim, side by side in one run.

    python bench/vectors.py bench/corpora/wiki_en_2m.txt               # skip-gram, the anchor's settings
    python bench/vectors.py bench/corpora/wiki_en_2m.txt --methods skipgram,cbow,fasttext,glove --repeats 3
    python bench/vectors.py bench/corpora/wiki_en_2m.txt --methods cbow --batch 512 --repeats 3  # batching
    python bench/vectors.py bench/corpora/wiki_en_2m.txt --methods skipgram,cbow,fasttext,glove  # the table

Corpora: ``python bench/corpora.py --data_dir DATA_ROOT``; the references need ``pip install -e .[anchors]``.
Settings are those of ``bench/anchors/gensim_vectors.py`` for every method: dim 100, window 5,
negative 5, sample 1e-3, min_count 5, 5 epochs, lowercased whitespace tokens, gensim with 2 worker
threads (``--workers``): skip-gram ``Word2Vec(sg=1)``, CBOW ``Word2Vec(sg=0)``, fastText
``FastText(sg=1)`` (3..6-grams, 2M buckets), each run by that script.  GloVe (window 10, x_max 100,
15 epochs) has no gensim counterpart: it runs beside Stanford's glove.c, built from ``--glove_src``
(default ``../shared/anchors/glove_c``, the sources beside the project; ``--glove_src ''`` runs ours
alone) and run by ``bench/anchors/glove_c.py``.

Each run is a separate process that prints one JSON line; its peak memory is the largest resident
set of that process and of every process it ran (``getrusage``: the anchor scripts and glove.c's
programs); the implementations alternate within each repeat and the table gives medians.  Words/s counts the
*effective* words (kept by subsampling) over the training time only, as gensim reports it; the speed
ratio is minilm's words/s over gensim's, for GloVe glove.c's training seconds over minilm's
("process s" is the whole run: reading, vocabulary, training, evaluation).
Evaluation: WordSim353 and SimLex-999 Spearman (OOV pairs skipped, their share shown) and Google's
analogies restricted to the 30k most frequent words, with minilm's evaluation (equal to gensim's,
tests/test_vectors_keyed.py) on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's minilm, not an installed one
ANCHORS = ROOT / "bench" / "anchors"
GLOVE_SRC = ROOT.parent / "shared" / "anchors" / "glove_c"
SETTINGS = dict(dim=100, window=5, negative=5, sample=1e-3, min_count=5, epochs=5)


def read_corpus(paths: list[str]) -> Iterator[list[str]]:
    """The anchor's preprocessing: lowercased, whitespace-split, empty lines dropped -- streamed: minilm
    reads the text once (gensim iterates a list of the sentences every epoch and holds it)."""
    return (t for p in paths for line in open(p, encoding="utf-8") if (t := line.lower().split()))


def evaluate(kv) -> dict:
    from gensim.test.utils import datapath

    out = {}
    for key, name in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        _, rho, oov = kv.evaluate_word_pairs(datapath(name))
        out |= {f"{key}_spearman": round(rho, 4), f"{key}_oov_pct": round(oov, 2)}
    accuracy, _ = kv.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=30000)
    return out | {"analogy_acc_restrict30k": round(accuracy, 4)}


def worker_minilm(method: str, corpus: list[str], batch: int, steps_per_call: int, devices: int) -> dict:
    from minilm.train.parallel import use_cpu_devices

    use_cpu_devices(devices)  # as train.py --cpu_devices (no effect on an accelerator's devices)
    from minilm.vectors.train import VectorsConfig, train_vectors

    sentences = read_corpus(corpus)
    glove = {"window": 10, "epochs": 15} if method == "glove" else {}
    batching = {"batch": batch, "steps_per_call": steps_per_call, "devices": devices}  # 0: CLI default
    cfg = VectorsConfig(method=method, **(SETTINGS | glove | batching))  # type: ignore[arg-type]
    kv, figures = train_vectors(cfg, sentences)
    return {"impl": "minilm", **figures, **evaluate(kv)}


def worker_reference(method: str, corpus: list[str], workers: int, glove_src: str) -> dict:
    """The method's anchor script: gensim_vectors.py, or glove_c.py for GloVe (its own evaluation is
    gensim's, which ours equals)."""
    with tempfile.TemporaryDirectory() as out:
        if method == "glove":
            cmd = [ANCHORS / "glove_c.py", *corpus, "--out", out, "--src", glove_src, "--threads", workers]
        else:
            cmd = [ANCHORS / "gensim_vectors.py", *corpus, "--method", method, "--workers", workers]
        proc = subprocess.run(
            [sys.executable, *map(str, cmd)], env={**os.environ, "PYTHONHASHSEED": "0"},
            capture_output=True, text=True,
        )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0].name} failed:\n{proc.stderr[-3000:]}")
    impl = "glove.c" if method == "glove" else "gensim"
    return {"impl": impl, **json.loads(proc.stdout.strip().splitlines()[-1])}


def spawn(impl: str, method: str, corpus: list[str], options: list[str]) -> dict:
    """Run one worker in a fresh process; returns its JSON result with its wall time and peak memory."""
    cmd = [sys.executable, __file__, *corpus, "--worker", impl, "--methods", method, *options]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{impl} {method} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result | {"process_seconds": round(time.perf_counter() - t0, 1)}


def median_row(rows: list[dict]) -> dict:
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float))]
    return {**rows[0], **{k: statistics.median(r[k] for r in rows) for k in keys}}


def table(results: dict[str, dict[str, dict]]) -> str:
    head = (
        "| method | implementation | effective words/s | train s | process s | peak MB | WordSim353 ρ (OOV) "
        "| SimLex-999 ρ (OOV) | analogy (30k) | speed ratio |"
    )
    lines = [head, "|" + "---|" * 10]
    costs = []
    for method, by_impl in results.items():
        base = by_impl.get("gensim") or by_impl.get("glove.c")
        for impl, r in by_impl.items():
            wps = r.get("words_per_second")
            ratio = ""
            if base and impl == "minilm":
                speed = wps / base["words_per_second"] if wps else base["train_seconds"] / r["train_seconds"]
                ratio = f"**{speed:.2f}×**"
            lines.append(
                f"| {method} | {r['impl']} | {f'{wps:,.0f}' if wps else '–'} | {r['train_seconds']:.1f} "
                f"| {r['process_seconds']:.1f} "
                f"| {r['peak_mb']:,.0f} | {r['wordsim353_spearman']:.3f} ({r['wordsim353_oov_pct']:.0f}%) "
                f"| {r['simlex999_spearman']:.3f} ({r['simlex999_oov_pct']:.0f}%) "
                f"| {100 * r['analogy_acc_restrict30k']:.1f}% | {ratio} |"
            )
            if "final_cost" in r:
                costs.append(f"{impl} {r['final_cost']:.5f}")
    if costs:
        lines.append(
            f"\nGloVe final cost, mean 0.5 f(X) diff^2 over the entries in the last epoch: {', '.join(costs)}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="+", help="text file(s), one sentence per line")
    ap.add_argument("--methods", default="skipgram", help="comma-separated: skipgram,cbow,fasttext,glove")
    ap.add_argument(
        "--repeats", type=int, default=1, help="runs per implementation (the table shows medians)"
    )
    ap.add_argument("--workers", type=int, default=2, help="gensim worker threads")
    ap.add_argument(
        "--devices", type=int, default=1,
        help="minilm: devices side by side (train.py vectors --devices; on a CPU with --cpu_devices)",
    )  # fmt: skip
    ap.add_argument("--batch", type=int, default=0, help="minilm: sub-batch size (0 = the CLI's default)")
    ap.add_argument(
        "--steps_per_call", type=int, default=0, help="minilm: sub-batches per jitted call (0 = CLI default)"
    )
    ap.add_argument(
        "--glove_src", default=str(GLOVE_SRC) if GLOVE_SRC.is_dir() else "",
        help="Stanford GloVe's sources (its Makefile and src/): glove.c runs beside GloVe ('' = ours alone)",
    )  # fmt: skip
    ap.add_argument("--json", default="", help="also write all runs to this JSON file")
    ap.add_argument("--worker", default="", help=argparse.SUPPRESS)  # internal: run one implementation
    args = ap.parse_args()
    methods = args.methods.split(",")
    if args.worker:
        if args.worker == "minilm":
            result = worker_minilm(methods[0], args.corpus, args.batch, args.steps_per_call, args.devices)
        else:
            result = worker_reference(methods[0], args.corpus, args.workers, args.glove_src)
        peak = max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        print(json.dumps(result | {"peak_mb": round(peak / 1024, 1)}))
        return
    options = ["--workers", str(args.workers), "--glove_src", args.glove_src]
    options += ["--batch", str(args.batch), "--steps_per_call", str(args.steps_per_call)]
    options += ["--devices", str(args.devices)]
    runs: dict[str, dict[str, list[dict]]] = {}
    for method in methods:
        reference = "glove.c" if method == "glove" else "gensim"
        impls = ["minilm"] if method == "glove" and not args.glove_src else [reference, "minilm"]
        for repeat in range(args.repeats):
            for impl in impls if repeat % 2 == 0 else impls[::-1]:
                r = spawn(impl, method, args.corpus, options)
                runs.setdefault(method, {}).setdefault(impl, []).append(r)
                print(f"# {method} {impl} run {repeat + 1}: {json.dumps(r)}", file=sys.stderr, flush=True)
    results = {m: {impl: median_row(rs) for impl, rs in by.items()} for m, by in runs.items()}
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(
        f"corpus: {', '.join(args.corpus)}; {machine}; medians of {args.repeats} run(s); "
        f"gensim workers={args.workers}; minilm devices={args.devices}, batch={args.batch or 'CLI default'}, "
        f"steps_per_call={args.steps_per_call or 'CLI default'}\n"
    )
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
