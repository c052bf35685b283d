#!/usr/bin/env python
"""Benchmark: minilm's metrics against sacreBLEU, scikit-learn and rouge-score on the anchor's inputs.

    python bench/metrics.py [--repeats 5] [--seed 20261126] [--anchors bench/anchors]

Runtime: about a minute on a 2-core laptop (input generation ~5 s, then the timed calls).  The
references (sacreBLEU, scikit-learn, rouge-score) come with ``pip install -e .[anchors]``.

The inputs are built by the anchor's own generator (``make_inputs`` of
``<anchors>/metrics_speed.py``, imported from that file): 10,000 BLEU sentence pairs, 1,000,000
labels over 20 classes, and the first 2,000 pairs for ROUGE-L.  Each workload is timed for ours and
for the reference alternately, ``--repeats`` times each, in this one process; the table shows the
medians and ratio = ours / reference (below 1 means ours is faster), and the scores, which must agree.
The timed reference calls are the anchor's: ``sacrebleu.corpus_bleu(hyps, [refs])``,
``precision_recall_fscore_support(y_true, y_pred, average="macro")``, and
``RougeScorer(["rougeL"]).score(ref, hyp)`` per pair.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from minilm.metrics import bleu, classification, rouge  # noqa: E402


def load_anchor(anchors: Path):
    path = anchors / "metrics_speed.py"
    if not path.is_file():
        raise SystemExit(f"error: {path} not found; pass --anchors DIR (the folder of metrics_speed.py)")
    spec = importlib.util.spec_from_file_location("metrics_speed_anchor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def time_pair(
    ours: Callable, theirs: Callable, repeats: int
) -> tuple[list[float], list[float], object, object]:
    """Alternate the two calls so that both see the same machine load; return all times and results."""
    t_ours, t_theirs, r_ours, r_theirs = [], [], None, None
    for _ in range(repeats):
        for fn, times in ((ours, t_ours), (theirs, t_theirs)):
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
            if fn is ours:
                r_ours = result
            else:
                r_theirs = result
    return t_ours, t_theirs, r_ours, r_theirs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--anchors",
        type=Path,
        default=Path(__file__).resolve().parent / "anchors",
        help="folder of metrics_speed.py",
    )
    ap.add_argument("--seed", type=int, default=20261126, help="the anchor's input seed")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each call (median reported)")
    args = ap.parse_args()

    import rouge_score
    import sacrebleu
    import sklearn
    from rouge_score import rouge_scorer
    from sklearn.metrics import precision_recall_fscore_support

    anchor = load_anchor(args.anchors)
    hyps, refs, y_true, y_pred = anchor.make_inputs(args.seed)
    n_rouge = anchor.N_ROUGE
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rouge_pairs = list(zip(hyps[:n_rouge], refs[:n_rouge], strict=True))

    workloads = [
        (
            f"BLEU, {len(hyps):,} pairs",
            f"sacrebleu {sacrebleu.__version__}",
            lambda: bleu.corpus_bleu(hyps, [refs]).score,
            lambda: sacrebleu.corpus_bleu(hyps, [refs]).score,
        ),
        (
            f"macro P/R/F1, {len(y_true):,} labels",
            f"scikit-learn {sklearn.__version__}",
            lambda: classification.precision_recall_f1(y_true, y_pred, average="macro").f1,
            lambda: precision_recall_fscore_support(y_true, y_pred, average="macro")[2],
        ),
        (
            f"ROUGE-L, {n_rouge:,} pairs",
            f"rouge-score {getattr(rouge_score, '__version__', '0.1.2')}",
            lambda: sum(rouge.rouge(r, h, types=("rougeL",))["rougeL"].f1 for h, r in rouge_pairs),
            lambda: sum(scorer.score(r, h)["rougeL"].fmeasure for h, r in rouge_pairs),
        ),
    ]

    rows = []
    print(f"{'workload':<31} {'ours s':>7} {'ref s':>7} {'ratio':>6}  {'reference':<20} value (ours / ref)")
    for name, ref_name, ours, theirs in workloads:
        t_ours, t_theirs, v_ours, v_theirs = time_pair(ours, theirs, args.repeats)
        m_ours, m_theirs = statistics.median(t_ours), statistics.median(t_theirs)
        ratio = m_ours / m_theirs
        agree = abs(v_ours - v_theirs) <= 1e-6 * max(1.0, abs(v_theirs))
        print(
            f"{name:<31} {m_ours:>7.3f} {m_theirs:>7.3f} {ratio:>6.2f}  {ref_name:<20} "
            f"{v_ours:.6f} / {v_theirs:.6f}{'' if agree else '  MISMATCH'}"
        )
        times = {"ours_s": t_ours, "reference_s": t_theirs, "ratio": ratio}
        values = {"ours_value": v_ours, "reference_value": v_theirs, "agree": agree}
        rows.append({"workload": name, "reference": ref_name, **times, **values})
    print(json.dumps({"bench": "metrics", "seed": args.seed, "repeats": args.repeats, "rows": rows}))


if __name__ == "__main__":
    main()
