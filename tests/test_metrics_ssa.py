"""SSA from labels (hand-computed), and the terminal labelling helper."""

from __future__ import annotations

import json
import math

import pytest

from minilm.cli.ssa_label import label_session
from minilm.errors import UserError
from minilm.metrics.ssa import ssa


def test_ssa_hand_computed_and_not_sensible_is_not_specific():
    labels = [
        {"sensible": True, "specific": True},
        {"sensible": True, "specific": False},
        {"sensible": False, "specific": True},  # counted as not specific
        {"sensible": False},
    ]
    out = ssa(labels)
    assert out == {"sensibleness": 0.5, "specificity": 0.25, "ssa": 0.375, "n": 4}


def test_perplexity_proxy_when_every_record_has_nll():
    labels = [{"sensible": True, "specific": True, "nll": 2 * math.log(3), "n_tokens": 2},
              {"sensible": False, "nll": 3 * math.log(3), "n_tokens": 3}]  # fmt: skip
    assert ssa(labels)["perplexity"] == pytest.approx(3.0)
    assert "perplexity" not in ssa(
        [{"sensible": True, "specific": True, "nll": 1.0, "n_tokens": 1}, {"sensible": False}]
    )


@pytest.mark.parametrize(
    "record, message",
    [({"specific": True}, "sensible"), ({"sensible": True}, "specific"), ({"sensible": 1}, "sensible"),
     ({"sensible": False, "nll": -1.0}, "nll"), ({"sensible": False, "nll": 1.0, "n_tokens": 0}, "n_tokens")],
)  # fmt: skip
def test_bad_records(record, message):
    with pytest.raises(ValueError, match=message):
        ssa([record])
    with pytest.raises(ValueError, match="no labelled"):
        ssa([])


def test_label_session_records_and_resumes(tmp_path):
    inp, out = tmp_path / "responses.jsonl", tmp_path / "labels.jsonl"
    rows = [{"context": ["Hi!", "Hello, how are you?"], "response": "Fine, and you?"},
            {"context": "What is your favourite band?", "response": "I don't know."},
            {"context": "Tell me about Paris.", "response": "Purple elephants."}]  # fmt: skip
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    shown = []
    answers = iter(["y", "y", "maybe", "y", "n", "q"])  # "maybe" is asked again; q stops at item 2
    label_session(inp, out, ask=lambda _: next(answers), show=shown.append)
    labelled = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["item"], r["sensible"], r["specific"]) for r in labelled] == [
        (0, True, True),
        (1, True, False),
    ]
    assert any("Purple elephants." in s for s in shown)

    answers = iter(["n"])  # resumes at item 2; not sensible -> specificity not asked
    label_session(inp, out, ask=lambda _: next(answers), show=shown.append)
    labelled = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["item"], r["sensible"], r["specific"]) for r in labelled][-1] == (2, False, False)
    assert labelled[2]["response"] == "Purple elephants."
    assert ssa(labelled)["ssa"] == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_label_session_rejects_bad_input(tmp_path):
    inp = tmp_path / "r.jsonl"
    inp.write_text('{"context": 3, "response": "x"}\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"r.jsonl:1: 'context'"):
        label_session(inp, tmp_path / "l.jsonl", ask=lambda _: "y", show=lambda _: None)
