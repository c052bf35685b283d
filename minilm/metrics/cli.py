"""``evaluate.py`` commands for the metrics: bleu, rouge, classification, squad, ssa, ssa-label, correlation.

Every command reads plain files (one item per line, or JSON / JSON Lines), prints a readable table or,
with ``--json``, exactly one JSON object on stdout.  Bad input is a one-line error and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from minilm.errors import UserError
from minilm.metrics import bleu, classification, rouge, similarity, squad, ssa
from minilm.metrics.textio import read_floats, read_json, read_jsonl, read_lines, require_same_length


def _emit(result: dict, as_json: bool, table: str) -> None:
    """One JSON object (nan -> null, so that the output is strict JSON) or the readable table."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and math.isnan(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    print(json.dumps(clean(result)) if as_json else table)


def _prf_table(rows: dict[str, dict], digits: int = 4) -> str:
    width = max(len(name) for name in rows)
    lines = [f"{'':<{width}} {'precision':>10} {'recall':>10} {'f1':>10}"]
    for name, s in rows.items():
        cells = " ".join(f"{s[k]:>10.{digits}f}" for k in ("precision", "recall", "f1"))
        lines.append(f"{name:<{width}} {cells}")
    return "\n".join(lines)


# --- bleu -------------------------------------------------------------------------------------------


def run_bleu(args: argparse.Namespace) -> int:
    hyps = read_lines(args.hyp)
    refs = []
    for path in args.ref:
        stream = read_lines(path)
        require_same_length(args.hyp, hyps, path, stream)
        refs.append(stream)
    if args.smooth_value is not None and bleu.SMOOTH_DEFAULTS[args.smooth] is None:
        raise UserError(f"--smooth-value applies to --smooth floor or add-k, not {args.smooth}")
    score = bleu.corpus_bleu(
        hyps, refs, args.tokenize, args.lowercase, args.smooth, args.smooth_value, args.effective_order
    )
    result = {
        "score": score.score,
        "precisions": score.precisions,
        "bp": score.bp,
        "sys_len": score.sys_len,
        "ref_len": score.ref_len,
        "signature": score.signature,
    }
    _emit(result, args.json, score.format())
    return 0


# --- rouge ------------------------------------------------------------------------------------------


def run_rouge(args: argparse.Namespace) -> int:
    hyps, refs = read_lines(args.hyp), read_lines(args.ref)
    require_same_length(args.hyp, hyps, args.ref, refs)
    # a literal backslash-n inside a line separates sentences (rougeLsum); to the other types it is a space
    unescape = lambda line: line.replace("\\n", "\n")  # noqa: E731
    result = rouge.rouge_mean([unescape(r) for r in refs], [unescape(h) for h in hyps], stem=args.stem)
    table = (
        _prf_table(result) + f"\n\nmean over {len(hyps)} line pairs; stemming {'on' if args.stem else 'off'}"
    )
    _emit(result, args.json, table)
    return 0


# --- classification ---------------------------------------------------------------------------------


def _read_labels(path: str) -> list[str]:
    labels = [line.strip() for line in read_lines(path)]
    for i, label in enumerate(labels, start=1):
        if not label:
            raise UserError(f"{path}:{i}: empty label (one label per line)")
    return labels


def run_classification(args: argparse.Namespace) -> int:
    gold, pred = _read_labels(args.gold), _read_labels(args.pred)
    require_same_length(args.gold, gold, args.pred, pred)
    if args.positive is not None and args.positive not in set(gold) | set(pred):
        raise UserError(f"--positive {args.positive!r} occurs in neither {args.gold} nor {args.pred}")
    report = classification.classification_report(gold, pred, positive=args.positive)
    _emit(report, args.json, classification.format_report(report))
    return 0


# --- squad ------------------------------------------------------------------------------------------


def _squad_dataset(path: str) -> list:
    """The ``data`` list of a SQuAD v1.1 file, checked down to every answer text."""
    doc = read_json(path)
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a SQuAD file, a JSON object with a 'data' list")
    for a, article in enumerate(data):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise UserError(f"{path}: data[{a}] has no 'paragraphs' list")
        for p, paragraph in enumerate(paragraphs):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
            if not isinstance(qas, list):
                raise UserError(f"{where} has no 'qas' list")
            for q, qa in enumerate(qas):
                answers = qa.get("answers") if isinstance(qa, dict) else None
                if not isinstance(qa, dict) or not isinstance(qa.get("id"), str):
                    raise UserError(f"{where}.qas[{q}] needs a string 'id'")
                if not isinstance(answers, list) or not answers:
                    raise UserError(f"{where}.qas[{q}] needs a non-empty 'answers' list")
                if not all(isinstance(x, dict) and isinstance(x.get("text"), str) for x in answers):
                    raise UserError(f"{where}.qas[{q}].answers: each answer needs a string 'text'")
    return data


def run_squad(args: argparse.Namespace) -> int:
    data = _squad_dataset(args.data)
    predictions = read_json(args.pred)
    if not isinstance(predictions, dict) or not all(isinstance(v, str) for v in predictions.values()):
        raise UserError(f"{args.pred}: expected a JSON object mapping question id to answer string")
    qs = squad.questions(data)
    if not qs:
        raise UserError(f"{args.data}: the dataset has no questions")
    missing = sum(qid not in predictions for qid, _ in qs)
    if missing:
        print(f"warning: {missing} of {len(qs)} questions have no prediction and score 0", file=sys.stderr)
    result = squad.evaluate(data, predictions)
    table = f"exact match {result['exact_match']:.2f}\nF1          {result['f1']:.2f}\n({len(qs)} questions)"
    _emit(result, args.json, table)
    return 0


# --- ssa --------------------------------------------------------------------------------------------


def run_ssa(args: argparse.Namespace) -> int:
    records = read_jsonl(args.labels)
    for line, record in records:
        problem = ssa.record_problem(record)
        if problem:
            raise UserError(f"{args.labels}:{line}: {problem}")
    result = ssa.ssa([r for _, r in records])
    rows = [(name, f"{result[key]:.4f}") for name, key in
            [("sensibleness", "sensibleness"), ("specificity", "specificity"), ("SSA", "ssa")]]  # fmt: skip
    rows.append(("responses", str(result["n"])))
    if "perplexity" in result:
        rows.append(("perplexity", f"{result['perplexity']:.3f}"))
    table = "\n".join(f"{name:<13} {value}" for name, value in rows)
    _emit(result, args.json, table)
    return 0


def run_ssa_label(args: argparse.Namespace) -> int:
    from minilm.ssa_label import label_session

    return label_session(args.input, args.output)


# --- correlation ------------------------------------------------------------------------------------


def run_correlation(args: argparse.Namespace) -> int:
    x, y = read_floats(args.x), read_floats(args.y)
    require_same_length(args.x, x, args.y, y)
    if len(x) < 2:
        raise UserError(f"{args.x}: need at least 2 values for a correlation, got {len(x)}")
    result = {"pearson": similarity.pearson(x, y), "spearman": similarity.spearman(x, y)}
    table = "\n".join(f"{k:<9} {v:.6f}" if not math.isnan(v) else f"{k:<9} undefined (constant input)"
                      for k, v in result.items()) + f"\n({len(x)} pairs)"  # fmt: skip
    _emit(result, args.json, table)
    return 0


# --- registration -----------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    def command(name: str, help: str, run: Any) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(name, help=help, description=help)
        parser.set_defaults(run=run)
        return parser

    p = command("bleu", "corpus BLEU, sacreBLEU-compatible (one sentence per line)", run_bleu)
    p.add_argument("--hyp", required=True, help="hypotheses, one per line")
    p.add_argument("--ref", required=True, action="append", help="references, one per line (repeat for more)")
    p.add_argument("--tokenize", default="13a", choices=bleu.TOKENIZERS, help="tokeniser (default 13a)")
    p.add_argument(
        "--smooth", default="exp", choices=tuple(bleu.SMOOTH_DEFAULTS), help="smoothing (default exp)"
    )
    p.add_argument("--smooth-value", type=float, default=None, help="value for floor (0.1) / add-k (1)")
    p.add_argument("--lowercase", action="store_true", help="case-insensitive BLEU")
    p.add_argument("--effective-order", action="store_true", help="drop n-gram orders absent from the hyps")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = command("rouge", "ROUGE-1/2/L/Lsum as rouge-score, averaged over line pairs", run_rouge)
    p.add_argument(
        "--hyp", required=True, help="predictions, one per line (a literal \\n separates sentences)"
    )
    p.add_argument("--ref", required=True, help="targets, one per line")
    p.add_argument("--stem", action="store_true", help="Porter-stem tokens longer than 3 characters")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = command(
        "classification", "accuracy, P/R/F1 and confusion matrix (one label per line)", run_classification
    )
    p.add_argument("--gold", required=True, help="gold labels, one per line")
    p.add_argument("--pred", required=True, help="predicted labels, one per line")
    p.add_argument("--positive", default=None, help="also report binary P/R/F1 for this label")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = command("squad", "SQuAD v1.1 exact match and F1 (official normalisation)", run_squad)
    p.add_argument("--data", required=True, help="SQuAD-format dataset JSON")
    p.add_argument("--pred", required=True, help="JSON object {question id: answer}")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = command("ssa", "Meena's sensibleness/specificity average from human labels (JSONL)", run_ssa)
    p.add_argument(
        "--labels", required=True, help="JSONL with boolean 'sensible' and 'specific' per response"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = command(
        "ssa-label", "label responses for SSA in the terminal, appending to a JSONL file", run_ssa_label
    )
    p.add_argument(
        "--input", required=True, help="JSONL with 'context' (string or list of turns) and 'response'"
    )
    p.add_argument(
        "--output", required=True, help="labels JSONL (appended to; labelling resumes where it stopped)"
    )

    p = command("correlation", "Pearson and Spearman correlation of two number columns", run_correlation)
    p.add_argument("--x", required=True, help="numbers, one per line")
    p.add_argument("--y", required=True, help="numbers, one per line")
    p.add_argument("--json", action="store_true", help="print one JSON object")
