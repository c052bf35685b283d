"""Config dataclasses: defaults < TOML < flags, typed values, and one clear error for each bad input;
the shared run settings and their run folder."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from minilm.config import (
    ResumableRunSettings,
    RunSettings,
    config_from_dict,
    config_help,
    config_to_dict,
    opt,
    parse_config,
)
from minilm.errors import UserError


@dataclass
class Demo:
    steps: int = opt(10, "optimizer steps")
    lr: float = opt(1e-3, "learning rate")
    schedule: str = opt("cosine", "decay", choices=("constant", "cosine"))
    resume: bool = opt(False, "continue a run")
    widths: tuple[int, ...] = opt((3, 4), "filter widths")
    name: str = opt("", "run name")


def test_defaults_toml_and_flags_in_order(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('steps = 50\nlr = 0.5\nwidths = [1, 2]\nschedule = "constant"\n')
    cfg = parse_config(Demo, ["--config", str(toml), "--lr=0.25", "--resume", "--name", "x"])
    assert cfg == Demo(steps=50, lr=0.25, schedule="constant", resume=True, widths=(1, 2), name="x")
    assert parse_config(Demo, []) == Demo()
    assert parse_config(Demo, ["--widths=5,6,7", "--resume=false"]).widths == (5, 6, 7)


def test_dash_and_underscore_are_the_same_key():
    @dataclass
    class C:
        max_len: int = opt(8, "length")

    assert parse_config(C, ["--max-len=16"]).max_len == 16


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--stpes=3"], r"unknown flag --stpes \(did you mean --steps\?\); allowed: --steps, --lr"),
        (["--steps=ten"], r"flag --steps='ten': expected an integer"),
        (["--steps=1.5"], r"expected an integer"),
        (["--lr=fast"], r"expected a number"),
        (["--resume=maybe"], r"expected a boolean"),
        (["--schedule=exp"], r"--schedule='exp': allowed values are constant, cosine"),
        (["steps=3"], r"unexpected argument 'steps=3'"),
        (["--config", "/no/such.toml"], r"--config: no such file /no/such.toml"),
    ],
)
def test_bad_flags_name_the_flag_and_what_is_allowed(argv, message):
    with pytest.raises(UserError, match=message):
        parse_config(Demo, argv)


def test_bad_toml_names_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = \n")
    with pytest.raises(UserError, match=r"bad.toml: not valid TOML"):
        parse_config(Demo, ["--config", str(bad)])
    typo = tmp_path / "typo.toml"
    typo.write_text("stepz = 3\n")
    with pytest.raises(UserError, match=r"unknown key in .*typo.toml: --stepz"):
        parse_config(Demo, ["--config", str(typo)])


def test_help_lists_every_field_with_default(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_config(Demo, ["--help"], prog="train.py demo")
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out == config_help(Demo, "train.py demo") + "\n"
    for line in [
        "--steps=int  [10]",
        "--schedule=str one of {constant, cosine}  [cosine]",
        "--widths=int,...  [3,4]",
    ]:
        assert line in out


def test_help_into_a_closed_pipe_is_quiet():
    """`train.py --help | head -1`: the reader leaves before the help is written -> no traceback."""
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, str(root / "train.py"), "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 1
    assert err == ""


def test_round_trip_through_json_dict():
    cfg = Demo(steps=3, widths=(9,))
    assert config_from_dict(Demo, config_to_dict(cfg), "config.json") == cfg


# ------------------------------------------------------------------------------------ run settings


@dataclass
class Vectors(RunSettings):
    out_dir: str = opt("runs/vectors", "folder that holds the run folders")
    dim: int = opt(100, "vector size")


@dataclass
class Trainer(ResumableRunSettings):
    d_model: int = opt(32, "hidden size")


def test_run_settings_come_first_and_a_subclass_may_change_a_default():
    assert [f.name for f in dataclasses.fields(Trainer)] == [
        "name", "out_dir", "data_dir", "resume", "progress", "cpu_devices", "d_model",
    ]  # fmt: skip
    assert [f.name for f in dataclasses.fields(Vectors)] == ["name", "out_dir", "data_dir", "dim"]
    assert "--out_dir=str  [runs/vectors]" in config_help(Vectors, "train.py vectors")
    assert parse_config(Trainer, ["--resume", "--progress=false"]) == Trainer(resume=True, progress=False)
    with pytest.raises(UserError, match="unknown flag --resume"):
        parse_config(Vectors, ["--resume"])  # a command without checkpoints has no --resume


def test_run_folder_is_named_and_never_reused(tmp_path):
    assert Vectors(out_dir=str(tmp_path), name="a").run_folder() == tmp_path / "a"
    unnamed = Vectors(out_dir=str(tmp_path)).run_folder(default_prefix="cbow")
    assert re.fullmatch(r"cbow-\d{8}-\d{6}", unnamed.name) and unnamed.parent == tmp_path
    (tmp_path / "a").mkdir()
    assert Vectors(out_dir=str(tmp_path), name="a").run_folder() == tmp_path / "a"  # empty: fine
    (tmp_path / "a" / "vectors.bin").write_bytes(b"")
    with pytest.raises(UserError, match="already holds a run; pass another --name$"):
        Vectors(out_dir=str(tmp_path), name="a").run_folder()
    with pytest.raises(UserError, match="already holds a run; pass --resume to continue it or another"):
        Trainer(out_dir=str(tmp_path), name="a").run_folder()


def test_resume_needs_the_same_settings(tmp_path):
    cfg = Trainer(out_dir=str(tmp_path), name="r")
    run_dir = cfg.run_folder()
    cfg.start_run(run_dir)
    assert json.loads((run_dir / "train_config.json").read_text()) == config_to_dict(cfg)
    again = dataclasses.replace(cfg, resume=True, progress=False)  # resume and progress may change
    assert again.run_folder() == run_dir
    (run_dir / "train_config.json").write_text("{}")
    again.start_run(run_dir)  # a resumed run keeps the saved settings
    assert (run_dir / "train_config.json").read_text() == "{}"
    (run_dir / "train_config.json").write_text(json.dumps(config_to_dict(cfg)))
    with pytest.raises(UserError, match=r"--resume: --d_model=64 differs from the run's 32"):
        dataclasses.replace(again, d_model=64).run_folder()
    (run_dir / "train_config.json").write_text("{")
    with pytest.raises(UserError, match=r"train_config.json: not valid JSON"):
        again.run_folder()
    with pytest.raises(UserError, match="--resume needs --name"):
        Trainer(out_dir=str(tmp_path), resume=True).run_folder()
    with pytest.raises(UserError, match="--resume: no run at"):
        Trainer(out_dir=str(tmp_path), name="other", resume=True).run_folder()
