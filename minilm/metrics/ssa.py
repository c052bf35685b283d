"""SSA, the Sensibleness and Specificity Average (Adiwardana et al., "Towards a Human-like Open-Domain
Chatbot", 2020, Sec. 2.1) -- Meena's human evaluation of open-domain dialogue.

A human reads the context of a conversation and one response, and gives two binary labels:

- *sensible*: the response makes sense in context (common sense, logic, consistency);
- *specific*: it is specific to this context -- "I don't know" or "that's nice" fit almost anything
  and are not.  A response judged not sensible is counted not specific, whatever its label.

Over n labelled responses::

    sensibleness = #sensible / n
    specificity  = #(sensible and specific) / n
    SSA          = (sensibleness + specificity) / 2

The paper reports SSA 86% for humans and 79% for Meena, and finds SSA strongly correlated with the
model's perplexity on held-out conversations (its Fig. 1) -- the automatic proxy.  Label records may
therefore carry the model's summed response NLL (``nll``, nats) and token count (``n_tokens``); when
every record has both, :func:`ssa` also reports the perplexity over all responses.

``python evaluate.py ssa-label`` (:mod:`minilm.ssa_label`) collects the labels in a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from minilm.metrics.perplexity import perplexity


def record_problem(record: Mapping) -> str | None:
    """What is wrong with one label record, or None.

    Needs a boolean ``sensible``, and a boolean ``specific`` when sensible; ``nll`` (>= 0) and
    ``n_tokens`` (> 0) are optional.
    """
    if not isinstance(record.get("sensible"), bool):
        return "'sensible' must be true or false"
    if record["sensible"] and not isinstance(record.get("specific"), bool):
        return "'specific' must be true or false"
    nll, n_tokens = record.get("nll", 0.0), record.get("n_tokens", 1)
    if isinstance(nll, bool) or not isinstance(nll, (int, float)) or not nll >= 0:
        return "'nll' must be a number >= 0 (the response's summed negative log-likelihood)"
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens <= 0:
        return "'n_tokens' must be a positive integer"
    return None


def ssa(records: Sequence[Mapping]) -> dict:
    """``{sensibleness, specificity, ssa, n}`` (fractions in [0, 1]), plus ``perplexity`` when given NLLs."""
    if not records:
        raise ValueError("no labelled responses")
    for i, record in enumerate(records):
        problem = record_problem(record)
        if problem:
            raise ValueError(f"record {i}: {problem}")
    n = len(records)
    sensible = sum(r["sensible"] for r in records)
    specific = sum(r["sensible"] and r["specific"] for r in records)
    out = {"sensibleness": sensible / n, "specificity": specific / n}
    out["ssa"] = (out["sensibleness"] + out["specificity"]) / 2
    out["n"] = n
    if all("nll" in r and "n_tokens" in r for r in records):
        out["perplexity"] = perplexity(sum(r["nll"] for r in records), sum(r["n_tokens"] for r in records))
    return out
