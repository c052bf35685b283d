"""Label chatbot responses for SSA in a terminal (see :mod:`minilm.metrics.ssa` for the metric).

    python evaluate.py ssa-label --input responses.jsonl --output labels.jsonl
    python evaluate.py ssa --labels labels.jsonl

Input: JSON Lines, one response per line, ``{"context": "..." or ["turn 1", "turn 2", ...],
"response": "..."}``; other fields are kept.  For each response not yet labelled the helper shows
the context and the response and asks the two questions of Adiwardana et al. (2020, Sec. 2.1):

- Sensible? -- does the response make sense in context (common sense, logic, consistency)?
- Specific? -- is it specific to this context, rather than a reply that would fit almost anything
  ("I don't know", "ok")?  Only asked when sensible: a response that is not sensible is not specific.

Each answer is appended to the output at once (the input record plus ``item``, its 0-based position in
the input, ``sensible`` and ``specific``), so ``q`` or Ctrl-D loses nothing, and running the same
command again resumes at the first unlabelled response.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from minilm.config import opt, required
from minilm.data.formats import read_jsonl
from minilm.errors import UserError


@dataclass
class Config:
    """Label chatbot responses for SSA in the terminal, appending to a JSON Lines file."""

    input: str = opt("", "JSONL with 'context' (string or list of turns) and 'response'", check=required)
    output: str = opt("", "labels JSONL (appended to; labelling resumes where it stopped)", check=required)


def run(cfg: Config) -> int:
    return label_session(cfg.input, cfg.output)


QUESTIONS = {
    "sensible": "Sensible? Does the response make sense in context?",
    "specific": "Specific? Is it specific to this context (not a reply that fits anything)?",
}


def _turns(record: dict, where: str) -> list[str]:
    context = record.get("context")
    turns = [context] if isinstance(context, str) else context
    if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
        raise UserError(f"{where}: 'context' must be a string or a list of strings")
    if not isinstance(record.get("response"), str):
        raise UserError(f"{where}: 'response' must be a string")
    return turns


def _yes_no(ask: Callable[[str], str], question: str) -> bool | None:
    """True / False for y / n; None to stop (q, or end of input)."""
    while True:
        try:
            answer = ask(f"{question} [y/n/q] ").strip().lower()
        except EOFError:
            return None
        if answer in ("y", "yes", "n", "no", "q", "quit"):
            return None if answer.startswith("q") else answer.startswith("y")


def _labelled_items(output: Path) -> set[int]:
    if not output.exists() or output.stat().st_size == 0:
        return set()
    items = set()
    for line, record in read_jsonl(output):
        if not isinstance(record.get("item"), int):
            raise UserError(
                f"{output}:{line}: no integer 'item'; is this a labels file written by ssa-label?"
            )
        items.add(record["item"])
    return items


def label_session(
    input_path: str | Path,
    output_path: str | Path,
    ask: Callable[[str], str] = input,
    show: Callable[[str], None] = print,
) -> int:
    """Ask for the labels of every unlabelled response of ``input_path``; append them to ``output_path``."""
    records = read_jsonl(input_path)
    contexts = [_turns(record, f"{input_path}:{line}") for line, record in records]
    output = Path(output_path)
    done = _labelled_items(output)
    todo = [i for i in range(len(records)) if i not in done]
    show(f"{len(done)} of {len(records)} responses already labelled in {output}; {len(todo)} to go")
    with output.open("a", encoding="utf-8") as out:
        for k, item in enumerate(todo, start=1):
            record = records[item][1]
            show(f"\n[{k}/{len(todo)}] response {item} -- context:")
            show(
                "\n".join(
                    f"  {'AB'[(len(contexts[item]) - j) % 2]}: {turn}"
                    for j, turn in enumerate(contexts[item])
                )
            )
            show(f"response:\n  > {record['response']}")
            sensible = _yes_no(ask, QUESTIONS["sensible"])
            specific = _yes_no(ask, QUESTIONS["specific"]) if sensible else False
            if sensible is None or specific is None:
                show("stopped; run the same command again to continue")
                break
            out.write(json.dumps({**record, "item": item, "sensible": sensible, "specific": specific}) + "\n")
            out.flush()
    show(f"labels in {output}; score them with: python evaluate.py ssa --labels {output}")
    return 0
