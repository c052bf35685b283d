#!/usr/bin/env python
"""Anchor: the metric implementations people use, timed on seeded synthetic inputs.

    python bench/anchors/metrics_speed.py [--seed 20261126] [--repeats 3] [--dump DIR]

Workloads (each called ``--repeats`` times; the median time is reported, with the score):
    sacreBLEU   ``corpus_bleu(hyps, [refs])`` over 10,000 pairs (its defaults: 13a tokens, exp smoothing)
    scikit-learn ``precision_recall_fscore_support(y_true, y_pred, average="macro")``,
                1,000,000 labels of 20 classes
    rouge-score ``RougeScorer(["rougeL"], use_stemmer=False).score(ref, hyp)`` for each of the first
                2,000 pairs (the scorer is built once, outside the timing)

Inputs (:func:`make_inputs`), every draw from one ``numpy.random.default_rng(seed)`` in this order:
    - lengths: 10,000 integers in [15, 26);
    - per pair: the hypothesis, ``length`` word ids drawn with p(i) proportional to 1 / (i + 1) over a
      5,000-word vocabulary; then a uniform [0, 1) draw per position, and the positions below 0.3 get
      fresh ids from the same distribution in the reference (the rest copy the hypothesis);
    - labels: y_true, 1,000,000 integers in [0, 20); a uniform draw per label, and the labels below
      0.4 are replaced by fresh integers in [0, 20) in y_pred.
Word i is "w" followed by i + 1 written in bijective base 26 with the letters a-z (wa, wb, .., wz, waa).
``--dump DIR`` writes them (hyp.txt, ref.txt, rouge_hyp.txt, rouge_ref.txt, labels.npz) for other tools.
With seed 20261126: BLEU 42.1713, macro F1 0.620421.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

N_PAIRS, N_VOCAB, N_LABELS, N_CLASSES, N_ROUGE = 10_000, 5_000, 1_000_000, 20, 2_000
LENGTHS, REPLACE, RELABEL = (15, 26), 0.3, 0.4


def word(i: int) -> str:
    """``"w"`` + bijective base-26 spelling of ``i + 1``: 0 -> wa, 25 -> wz, 26 -> waa."""
    letters, n = [], i + 1
    while n:
        n, r = divmod(n - 1, 26)
        letters.append(chr(ord("a") + r))
    return "w" + "".join(reversed(letters))


def make_inputs(seed: int) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(hypotheses, references, y_true, y_pred), as the module docstring describes."""
    rng = np.random.default_rng(seed)
    words = [word(i) for i in range(N_VOCAB)]
    zipf = 1.0 / np.arange(1, N_VOCAB + 1)
    zipf /= zipf.sum()
    hyps, refs = [], []
    for length in rng.integers(*LENGTHS, size=N_PAIRS):
        hyp = rng.choice(N_VOCAB, size=length, p=zipf)
        ref = hyp.copy()
        swap = rng.random(length) < REPLACE
        ref[swap] = rng.choice(N_VOCAB, size=int(swap.sum()), p=zipf)
        hyps.append(" ".join(words[j] for j in hyp))
        refs.append(" ".join(words[j] for j in ref))
    y_true = rng.integers(0, N_CLASSES, size=N_LABELS)
    y_pred = y_true.copy()
    relabel = rng.random(N_LABELS) < RELABEL
    y_pred[relabel] = rng.integers(0, N_CLASSES, size=int(relabel.sum()))
    return hyps, refs, y_true, y_pred


def dump(folder: Path, hyps: list[str], refs: list[str], y_true: np.ndarray, y_pred: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in (
        ("hyp", hyps),
        ("ref", refs),
        ("rouge_hyp", hyps[:N_ROUGE]),
        ("rouge_ref", refs[:N_ROUGE]),
    ):
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    np.savez_compressed(folder / "labels.npz", y_true=y_true, y_pred=y_pred)


def timed(fn, repeats: int) -> tuple[object, list[float]]:
    """The last result of ``fn()`` and the seconds of each of ``repeats`` calls."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return result, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dump", type=Path, default=None, help="also write the inputs to this folder")
    args = ap.parse_args()

    import rouge_score
    import sacrebleu
    import sklearn
    from rouge_score.rouge_scorer import RougeScorer
    from sklearn.metrics import precision_recall_fscore_support

    start = time.perf_counter()
    hyps, refs, y_true, y_pred = make_inputs(args.seed)
    inputs_seconds = time.perf_counter() - start
    if args.dump:
        dump(args.dump, hyps, refs, y_true, y_pred)

    bleu, bleu_s = timed(lambda: sacrebleu.corpus_bleu(hyps, [refs]), args.repeats)
    (p, r, f1, _), prf_s = timed(
        lambda: precision_recall_fscore_support(y_true, y_pred, average="macro"), args.repeats
    )
    scorer = RougeScorer(["rougeL"], use_stemmer=False)
    pairs = list(zip(hyps[:N_ROUGE], refs[:N_ROUGE], strict=True))
    rouge_l, rouge_s = timed(
        lambda: [scorer.score(ref, hyp)["rougeL"].fmeasure for hyp, ref in pairs], args.repeats
    )

    def seconds(times: list[float]) -> dict:
        return {"median": round(statistics.median(times), 4), "all": [round(t, 4) for t in times]}

    print(json.dumps({
        "anchor": "metrics_speed",
        "seed": args.seed,
        "repeats": args.repeats,
        "inputs_seconds": round(inputs_seconds, 3),
        "bleu_pairs": N_PAIRS,
        "bleu_seconds": seconds(bleu_s),
        "bleu_score": round(bleu.score, 4),
        "prf_labels": N_LABELS,
        "prf_seconds": seconds(prf_s),
        "macro_precision": round(float(p), 6),
        "macro_recall": round(float(r), 6),
        "macro_f1": round(float(f1), 6),
        "rougeL_pairs": N_ROUGE,
        "rougeL_seconds": seconds(rouge_s),
        "rougeL_f_mean": round(float(np.mean(rouge_l)), 6),
        "versions": {"sacrebleu": sacrebleu.__version__, "scikit-learn": sklearn.__version__,
                     "rouge-score": getattr(rouge_score, "__version__", "unknown"), "numpy": np.__version__},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
