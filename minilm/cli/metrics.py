"""``evaluate.py`` metric commands: bleu, rouge, classification, squad, ssa, correlation.

Every command reads plain files (one item per line, or JSON / JSON Lines), prints a readable table or,
with ``--json``, exactly one JSON object on stdout.  Each is a ``...Config`` dataclass and a ``run_...``
function (see :mod:`minilm.config`); bad input is a one-line error and exit code 2.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from typing import Any

from minilm.config import ConfigError, above, opt, required
from minilm.data.formats import read_floats, read_json, read_jsonl, read_lines, require_same_length
from minilm.errors import UserError
from minilm.metrics import bleu, classification, rouge, similarity, squad, ssa

JSON_HELP = "print one JSON object instead of the table"


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


@dataclass
class BleuConfig:
    """Corpus BLEU, sacreBLEU-compatible (one sentence per line)."""

    hyp: str = opt("", "hypotheses, one per line", check=required)
    ref: tuple[str, ...] = opt((), "references, one per line (repeat --ref for more)", check=required)
    tokenize: str = opt("13a", "tokeniser", choices=bleu.TOKENIZERS)
    smooth: str = opt("exp", "smoothing", choices=tuple(bleu.SMOOTH_DEFAULTS))
    smooth_value: float | None = opt(
        None, "value for --smooth=floor (default 0.1) or add-k (default 1)", check=above(0)
    )
    lowercase: bool = opt(False, "case-insensitive BLEU")
    effective_order: bool = opt(False, "drop n-gram orders absent from the hypotheses")
    json: bool = opt(False, JSON_HELP)

    def check(self) -> None:
        if self.smooth_value is not None and bleu.SMOOTH_DEFAULTS[self.smooth] is None:
            raise ConfigError("smooth_value", "applies to {smooth} floor or add-k only")


def run_bleu(cfg: BleuConfig) -> int:
    hyps = read_lines(cfg.hyp)
    refs = []
    for path in cfg.ref:
        stream = read_lines(path)
        require_same_length(cfg.hyp, hyps, path, stream)
        refs.append(stream)
    score = bleu.corpus_bleu(
        hyps, refs, cfg.tokenize, cfg.lowercase, cfg.smooth, cfg.smooth_value, cfg.effective_order
    )
    result = {
        "score": score.score,
        "precisions": score.precisions,
        "bp": score.bp,
        "sys_len": score.sys_len,
        "ref_len": score.ref_len,
        "signature": score.signature,
    }
    _emit(result, cfg.json, score.format())
    return 0


# --- rouge ------------------------------------------------------------------------------------------


@dataclass
class RougeConfig:
    """ROUGE-1/2/L/Lsum as rouge-score, averaged over line pairs."""

    hyp: str = opt("", "predictions, one per line (a literal \\n separates sentences)", check=required)
    ref: str = opt("", "targets, one per line", check=required)
    stem: bool = opt(False, "Porter-stem tokens longer than 3 characters")
    json: bool = opt(False, JSON_HELP)


def run_rouge(cfg: RougeConfig) -> int:
    hyps, refs = read_lines(cfg.hyp), read_lines(cfg.ref)
    require_same_length(cfg.hyp, hyps, cfg.ref, refs)
    # a literal backslash-n inside a line separates sentences (rougeLsum); to the other types it is a space
    unescape = lambda line: line.replace("\\n", "\n")  # noqa: E731
    result = rouge.rouge_mean([unescape(r) for r in refs], [unescape(h) for h in hyps], stem=cfg.stem)
    table = (
        _prf_table(result) + f"\n\nmean over {len(hyps)} line pairs; stemming {'on' if cfg.stem else 'off'}"
    )
    _emit(result, cfg.json, table)
    return 0


# --- classification ---------------------------------------------------------------------------------


@dataclass
class ClassificationConfig:
    """Accuracy, P/R/F1 and the confusion matrix (one label per line)."""

    gold: str = opt("", "gold labels, one per line", check=required)
    pred: str = opt("", "predicted labels, one per line", check=required)
    positive: str | None = opt(None, "also report binary P/R/F1 for this label")
    json: bool = opt(False, JSON_HELP)


def _read_labels(path: str) -> list[str]:
    labels = [line.strip() for line in read_lines(path)]
    for i, label in enumerate(labels, start=1):
        if not label:
            raise UserError(f"{path}:{i}: empty label (one label per line)")
    return labels


def run_classification(cfg: ClassificationConfig) -> int:
    gold, pred = _read_labels(cfg.gold), _read_labels(cfg.pred)
    require_same_length(cfg.gold, gold, cfg.pred, pred)
    if cfg.positive is not None and cfg.positive not in set(gold) | set(pred):
        raise UserError(f"--positive {cfg.positive!r} occurs in neither {cfg.gold} nor {cfg.pred}")
    report = classification.classification_report(gold, pred, positive=cfg.positive)
    _emit(report, cfg.json, classification.format_report(report))
    return 0


# --- squad ------------------------------------------------------------------------------------------


@dataclass
class SquadConfig:
    """SQuAD v1.1 exact match and F1 (the official normalisation)."""

    data: str = opt("", "SQuAD-format dataset JSON", check=required)
    pred: str = opt("", "JSON object {question id: answer}", check=required)
    json: bool = opt(False, JSON_HELP)


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


def run_squad(cfg: SquadConfig) -> int:
    data = _squad_dataset(cfg.data)
    predictions = read_json(cfg.pred)
    if not isinstance(predictions, dict) or not all(isinstance(v, str) for v in predictions.values()):
        raise UserError(f"{cfg.pred}: expected a JSON object mapping question id to answer string")
    qs = squad.questions(data)
    if not qs:
        raise UserError(f"{cfg.data}: the dataset has no questions")
    missing = sum(qid not in predictions for qid, _ in qs)
    if missing:
        print(f"warning: {missing} of {len(qs)} questions have no prediction and score 0", file=sys.stderr)
    result = squad.evaluate(data, predictions)
    table = f"exact match {result['exact_match']:.2f}\nF1          {result['f1']:.2f}\n({len(qs)} questions)"
    _emit(result, cfg.json, table)
    return 0


# --- ssa --------------------------------------------------------------------------------------------


@dataclass
class SsaConfig:
    """Meena's Sensibleness and Specificity Average from human labels (JSON Lines)."""

    labels: str = opt("", "JSONL with boolean 'sensible' and 'specific' per response", check=required)
    json: bool = opt(False, JSON_HELP)


def run_ssa(cfg: SsaConfig) -> int:
    records = read_jsonl(cfg.labels)
    for line, record in records:
        problem = ssa.record_problem(record)
        if problem:
            raise UserError(f"{cfg.labels}:{line}: {problem}")
    result = ssa.ssa([r for _, r in records])
    rows = [(name, f"{result[key]:.4f}") for name, key in
            [("sensibleness", "sensibleness"), ("specificity", "specificity"), ("SSA", "ssa")]]  # fmt: skip
    rows.append(("responses", str(result["n"])))
    if "perplexity" in result:
        rows.append(("perplexity", f"{result['perplexity']:.3f}"))
    table = "\n".join(f"{name:<13} {value}" for name, value in rows)
    _emit(result, cfg.json, table)
    return 0


# --- correlation ------------------------------------------------------------------------------------


@dataclass
class CorrelationConfig:
    """Pearson and Spearman correlation of two number columns."""

    x: str = opt("", "numbers, one per line", check=required)
    y: str = opt("", "numbers, one per line", check=required)
    json: bool = opt(False, JSON_HELP)


def run_correlation(cfg: CorrelationConfig) -> int:
    x, y = read_floats(cfg.x), read_floats(cfg.y)
    require_same_length(cfg.x, x, cfg.y, y)
    if len(x) < 2:
        raise UserError(f"{cfg.x}: need at least 2 values for a correlation, got {len(x)}")
    result = {"pearson": similarity.pearson(x, y), "spearman": similarity.spearman(x, y)}
    table = "\n".join(f"{k:<9} {v:.6f}" if not math.isnan(v) else f"{k:<9} undefined (constant input)"
                      for k, v in result.items()) + f"\n({len(x)} pairs)"  # fmt: skip
    _emit(result, cfg.json, table)
    return 0
