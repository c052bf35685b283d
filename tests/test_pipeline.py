"""The default run end to end on a tiny config: files, report, exact resume of a killed run, and one
clear line + exit code 2 (and nothing lost) for each kind of bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minilm.cli import pipeline
from minilm.cli.train import main as train_main
from minilm.config import parse_config
from minilm.errors import run_cli
from minilm.train import checkpoint

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--n_layer=1", "--n_head=2", "--d_model=32", "--max_len=32", "--vocab_size=300",
    "--pretrain_steps=8", "--finetune_steps=6", "--pretrain_batch=8", "--finetune_batch=8",
    "--eval_every=4", "--max_eval=32", "--progress=false",
]  # fmt: skip


def tiny(tmp_path: Path, name: str, *extra: str) -> pipeline.Config:
    return parse_config(pipeline.Config, [*TINY, f"--out_dir={tmp_path}", f"--name={name}", *extra])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("runs")
    assert pipeline.run(tiny(tmp, "a")) == 0
    return tmp / "a"


def test_default_run_writes_every_file(finished_run):
    for name in ["train_config.json", "metrics.jsonl", "loss.png", "report.md", "tokenizer.json",
                 "model.safetensors", "config.json", "lm/model.safetensors", "lm/config.json"]:  # fmt: skip
        assert (finished_run / name).stat().st_size > 0, name
    records = [json.loads(line) for line in (finished_run / "metrics.jsonl").read_text().splitlines()]
    assert {r["phase"] for r in records} == {"pretrain", "finetune", "test"}
    (test,) = [r for r in records if r["phase"] == "test"]
    assert test["lm_perplexity"] > 1 and 0 <= test["test_accuracy"] <= 1
    report = (finished_run / "report.md").read_text()
    assert "LM perplexity" in report and "majority-class baseline" in report and "confusion matrix" in report
    config = json.loads((finished_run / "config.json").read_text())
    assert config["labels"] == ["negative", "positive"] and config["model"]["d_model"] == 32
    saved = json.loads((finished_run / "train_config.json").read_text())
    assert saved["model"]["d_model"] == 32 and saved["command"] == "pipeline" and saved["run"]["name"] == "a"


def test_killed_run_resumes_to_identical_model(finished_run, tmp_path, monkeypatch):
    """Kill the fine-tuning phase mid-way (after its first checkpoint), resume: same parameters."""
    real_batch = pipeline.ExampleBatches.batch

    def dies_at_step_5(self, step):
        if step == 5:
            raise KeyboardInterrupt
        return real_batch(self, step)

    monkeypatch.setattr(pipeline.ExampleBatches, "batch", dies_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run(tiny(tmp_path, "b"))
    monkeypatch.setattr(pipeline.ExampleBatches, "batch", real_batch)
    assert not (tmp_path / "b" / "model.safetensors").exists()
    assert pipeline.run(tiny(tmp_path, "b", "--resume")) == 0
    ours, _ = checkpoint.load_arrays(tmp_path / "b" / "model.safetensors")
    ref, _ = checkpoint.load_arrays(finished_run / "model.safetensors")
    assert ours.keys() == ref.keys()
    assert all(np.array_equal(ours[k], ref[k]) for k in ref)  # same seed, same numbers, bit for bit


# --- bad input: one line on stderr, exit code 2, no traceback, nothing in the run folder lost ------


def cli(argv: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        run_cli(train_main, argv)
    return exit_.value.code, capsys.readouterr().err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d: ["--corpus", str(write(d / "empty.txt", ""))], "empty.txt"),
        (lambda d: ["--corpus", str(write(d / "small.txt", "one two\nthree\n"))], "fewer than one"),
        (lambda d: ["--corpus", str(write(d / "latin.txt", "caf\xe9\n".encode("latin-1")))], "latin.txt:1"),
        (
            lambda d: ["--task", str(write(d / "bad.tsv", "text\tlabel\na\tpos\nb\tneg\textra\n"))],
            "bad.tsv:3",
        ),
        (lambda d: ["--task=world_sentimnet"], "unknown dataset 'world_sentimnet'"),
        (lambda d: ["--corpus=world_sentiment"], "--corpus=world_sentiment is a classification dataset"),
        (lambda d: ["--task=nosuchdata"], "unknown dataset 'nosuchdata'.*known: .*sst2"),
        (lambda d: ["--n_layer=two"], "--n_layer='two': expected an integer"),
        (lambda d: ["--optimizer=sgd"], "unknown flag --optimizer"),
    ],
)
def test_bad_input_is_one_clear_line(make_args, message, tmp_path, capsys):
    code, err = cli([*TINY, f"--out_dir={tmp_path / 'runs'}", "--name=x", *make_args(tmp_path)], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "runs" / "x").exists()  # no half-made run folder


def test_unknown_command_lists_the_commands(capsys):
    code, err = cli(["nosuchcommand", "--steps=1"], capsys)
    assert code == 2 and "unknown command 'nosuchcommand'; allowed: pipeline" in err


def test_unknown_label_in_test_split_names_it(tmp_path, capsys, monkeypatch):
    from minilm.data.registry import Dataset

    data = Dataset("toy", "classification",
                   {"train": [{"text": f"a{i}", "label": "yes"} for i in range(20)],
                    "test": [{"text": "b", "label": "maybe"}]}, ("yes", "no"), "toy")  # fmt: skip
    real = pipeline.load_dataset
    monkeypatch.setattr(
        pipeline, "load_dataset", lambda name, d=None: data if name == "toy" else real(name, d)
    )
    code, err = cli([*TINY, f"--out_dir={tmp_path}", "--name=x", "--task=toy"], capsys)
    assert code == 2 and "unknown label 'maybe'" in err


def test_existing_run_is_never_overwritten(finished_run, capsys):
    before = snapshot(finished_run)
    code, err = cli([*TINY, f"--out_dir={finished_run.parent}", "--name=a"], capsys)
    assert code == 2 and "already holds a run; pass --resume" in err
    assert snapshot(finished_run) == before


def test_resume_errors(finished_run, tmp_path, capsys):
    code, err = cli([*TINY, f"--out_dir={tmp_path}", "--name=none", "--resume"], capsys)
    assert code == 2 and "--resume: no run at" in err
    code, err = cli(
        [*TINY, f"--out_dir={finished_run.parent}", "--name=a", "--resume", "--d_model=64"], capsys
    )
    assert code == 2 and "--model.d_model=64 differs from the run's 32" in err
    # a corrupt checkpoint: one line, and the corrupt file is left for the user to inspect
    run = tmp_path / "c"
    run.mkdir()
    (run / "train_config.json").write_text(
        json.dumps(
            {
                **json.loads((finished_run / "train_config.json").read_text()),
                "run": {"name": "c", "out_dir": str(tmp_path), "resume": False, "progress": False},
            }
        )  # fmt: skip
    )
    (run / "checkpoints").mkdir()
    (run / "tokenizer.json").write_bytes((finished_run / "tokenizer.json").read_bytes())
    write(run / "checkpoints" / "pretrain.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    before = snapshot(run)
    code, err = cli([*TINY, f"--out_dir={tmp_path}", "--name=c", "--resume"], capsys)
    assert code == 2 and "pretrain.safetensors: not a readable checkpoint" in err, err
    assert {k: v for k, v in snapshot(run).items() if k != "metrics.jsonl"} == {
        k: v for k, v in before.items() if k != "metrics.jsonl"
    }


def test_checkpoint_from_another_config_is_rejected(finished_run, tmp_path, capsys):
    """A checkpoint whose shapes do not match the run's config: the error names the array and shapes."""
    run = tmp_path / "d"
    (run / "checkpoints").mkdir(parents=True)
    saved = json.loads((finished_run / "train_config.json").read_text())
    saved["run"] |= {"name": "d", "out_dir": str(tmp_path)}
    saved["model"]["d_model"] = 16
    (run / "train_config.json").write_text(json.dumps(saved))
    (run / "tokenizer.json").write_bytes((finished_run / "tokenizer.json").read_bytes())
    (run / "checkpoints" / "pretrain.safetensors").write_bytes(
        (finished_run / "checkpoints" / "pretrain.safetensors").read_bytes()
    )
    code, err = cli([*TINY, f"--out_dir={tmp_path}", "--name=d", "--resume", "--d_model=16"], capsys)
    assert code == 2 and "has shape" in err and "does not match this config" in err, err


def test_command_line_prints_no_traceback(tmp_path):
    """The real entry point, in a fresh process: exit code 2 and a single line."""
    out = subprocess.run(
        [sys.executable, "train.py", "--task=nosuchdata", f"--out_dir={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.startswith("error: unknown dataset 'nosuchdata'") and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
