"""Each experiment at a tiny size, through the CLI: its report, CSV and plots exist and hold the
expected rows; a finished run is skipped when the experiment runs again; a sweep split into parts
writes its report once every part is done.  One tiny pretrained backbone serves every test."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from minilm.cli.train import main
from minilm.errors import UserError
from minilm.experiments.runner import FinetuneRun, settings

RUN = ("--{e}.run.max_len=32", "--{e}.run.max_eval=48", "--{e}.run.train.batch_size=8")


def experiment(backbone: str, out: Path, name: str, *flags: str) -> Path:
    run_flags = [f.format(e=name) for f in RUN]
    argv = [
        "experiment",
        name,
        f"--init={backbone}",
        f"--out_dir={out}",
        "--progress=false",
        *run_flags,
        *flags,
    ]
    assert main(argv) == 0
    return out / name


def rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def check_outputs(folder: Path, csv_name: str, pngs: tuple[str, ...]) -> list[dict[str, str]]:
    assert (folder / "report.md").read_text().startswith("# Experiment") or csv_name == "search.csv"
    for png in pngs:
        assert (folder / png).read_bytes()[:4] == b"\x89PNG"
    return rows(folder / csv_name)


def test_forgetting(backbone, tmp_path):
    folder = experiment(
        backbone,
        tmp_path,
        "forgetting",
        "--forgetting.steps_a=6",
        "--forgetting.run.train.steps=6",
        "--forgetting.run.train.eval_every=3",
        "--forgetting.ewc=1000",
        "--forgetting.l2sp=1",
        "--forgetting.rehearsal=0.5",
        "--forgetting.fisher_examples=8",
    )
    table = check_outputs(folder, "forgetting.csv", ("a_accuracy.png", "tradeoff.png"))
    assert [r["remedy"] for r in table] == ["naive", "rehearsal", "ewc", "l2sp", "lora"]
    by = {r["remedy"]: r for r in table}
    # the per-task LoRA leaves A's model and the base weights untouched: nothing forgotten
    assert float(by["lora"]["forgotten"]) == 0.0 and by["lora"]["backbone_changed"] == "False"
    assert by["naive"]["backbone_changed"] == "True"
    assert len(list((folder / "runs").iterdir())) == 7


def test_stability_and_resume_skips_finished_runs(backbone, tmp_path):
    flags = (
        "--stability.run.train.steps=4",
        "--stability.seeds=0,1",
        "--stability.lrs=1e-3",
        "--stability.recipes=bertadam,adam+warmup+long",
        "--stability.long=2",
    )
    folder = experiment(backbone, tmp_path, "stability", *flags)
    table = check_outputs(folder, "stability.csv", ("dev_accuracy.png",))
    assert [(r["recipe"], r["runs"]) for r in table] == [("bertadam", "2"), ("adam+warmup+long", "2")]
    assert len(rows(folder / "runs.csv")) == 4
    reports = sorted((folder / "runs").glob("*/report.json"))
    stamps = [p.stat().st_mtime_ns for p in reports]
    (folder / "report.md").unlink()
    experiment(backbone, tmp_path, "stability", *flags)
    assert [p.stat().st_mtime_ns for p in reports] == stamps  # no run ran again
    assert (folder / "report.md").is_file()


def test_a_sweep_split_in_parts_reports_when_the_last_part_is_done(backbone, tmp_path):
    flags = ("--search.grid=train.lr=1e-3:3e-3", "--search.seeds=0", "--search.run.train.steps=3")
    folder = experiment(backbone, tmp_path, "search", *flags, "--parts=2", "--part=1")
    assert not (folder / "report.md").exists()
    assert [p.name for p in (folder / "runs").iterdir()] == ["lr=3e-3_seed0"]
    experiment(backbone, tmp_path, "search", *flags, "--parts=2", "--part=0")
    table = check_outputs(folder, "search.csv", ("search.png",))
    assert sorted(r["train.lr"] for r in table) == ["1e-3", "3e-3"]
    assert "Best by mean dev accuracy" in (folder / "report.md").read_text()
    with pytest.raises(UserError, match="other settings"):  # a finished run is never reused for others
        experiment(backbone, tmp_path, "search", "--search.grid=train.lr=1e-3", *flags[1:])


def test_small_data(backbone, tmp_path):
    folder = experiment(
        backbone,
        tmp_path,
        "small_data",
        "--small_data.sizes=16,32",
        "--small_data.epochs=2",
        "--small_data.seeds=0,1",
    )
    table = check_outputs(folder, "small_data.csv", ("epochs.png",))
    assert [(r["train_size"], r["epochs"]) for r in table] == [
        ("16", "1"),
        ("16", "2"),
        ("32", "1"),
        ("32", "2"),
    ]


def test_regularisation(backbone, tmp_path):
    folder = experiment(
        backbone,
        tmp_path,
        "regularisation",
        "--regularisation.variants=baseline,dropout,warmup+cosine",
        "--regularisation.seeds=0",
        "--regularisation.run.train.steps=4",
        "--regularisation.run.train.eval_every=2",
        "--regularisation.run.train_size=16",
    )
    table = check_outputs(folder, "regularisation.csv", ("curves.png",))
    assert [r["variant"] for r in table] == ["baseline", "dropout", "warmup+cosine"]


def test_frontier(backbone, tmp_path):
    folder = experiment(
        backbone,
        tmp_path,
        "frontier",
        "--frontier.lrs=full=1e-3,partial-ffn=3e-3,prompt=3e-2",
        "--frontier.lr_scales=1,2",
        "--frontier.run.train.steps=3",
    )
    table = check_outputs(folder, "frontier.csv", ("frontier.png",))
    assert [r["method"] for r in table] == ["full", "partial-ffn", "prompt"]
    percent = {r["method"]: float(r["trainable_percent"]) for r in table}
    assert percent["full"] == 100.0 and percent["prompt"] < percent["partial-ffn"] < 100.0
    assert "partial-FFN tuning beats prompt tuning" in (folder / "report.md").read_text()


def test_settings_refuse_unknown_keys_and_bad_values():
    assert settings(FinetuneRun(), {"train.lr": "3e-4"}).train.lr == 3e-4
    with pytest.raises(UserError, match="no such setting"):
        settings(FinetuneRun(), {"train.learning_rate": 1})
    with pytest.raises(UserError, match="method"):
        settings(FinetuneRun(), {"method": "sparse"})
