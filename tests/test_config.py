"""Config dataclasses: defaults < TOML < flags, typed values, and one clear error for each bad input;
the shared run settings and their run folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from minilm.config import (
    ConfigError,
    above,
    at_least,
    config_from_dict,
    config_help,
    config_to_dict,
    in_range,
    opt,
    parse_config,
    required,
    sub,
)
from minilm.errors import UserError
from minilm.train.run import RunConfig, run_folder, start_run


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
        (["--steps=ten"], r"^--steps='ten': expected an integer$"),
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


# ------------------------------------------------------------------------------ composed configs


@dataclass
class Model:
    n_head: int = opt(4, "heads", check=at_least(1))
    d_model: int = opt(32, "hidden size", check=at_least(1))
    dropout: float = opt(0.1, "dropout", check=in_range(0, 1, high_open=True))

    def check(self) -> None:
        if self.d_model % self.n_head:
            raise ConfigError("d_model", "must be divisible by {n_head}")


@dataclass
class Train:
    steps: int = opt(10, "optimizer steps", check=at_least(1))
    lr: float = opt(1e-3, "peak learning rate", check=above(0))
    seed: int = opt(0, "seed")


@dataclass
class Command:
    run: RunConfig = sub(RunConfig, flat=True)
    model: Model = sub(Model, "the model", d_model=64)
    pretrain: Train = sub(Train, "pretraining", steps=80)
    finetune: Train = sub(Train, "fine-tuning", steps=20)
    data: str = opt("", "a file", check=required)
    refs: tuple[str, ...] = opt((), "references")
    ALIASES: ClassVar = {"pretrain_steps": "pretrain.steps", "seed": ("pretrain.seed", "finetune.seed")}
    POSITIONAL: ClassVar = "data"


def test_sections_take_dotted_flags_aliases_toml_tables_and_their_own_defaults(tmp_path):
    cfg = parse_config(Command, ["--data=x"])
    assert (cfg.model.d_model, cfg.pretrain.steps, cfg.finetune.steps, cfg.run.out_dir) == (
        64,
        80,
        20,
        "runs",
    )
    toml = tmp_path / "c.toml"
    toml.write_text('name = "t"\n[finetune]\nlr = 0.5\n[model]\nn_head = 8\n')
    cfg = parse_config(
        Command, ["file.txt", "--config", str(toml), "--pretrain_steps=5", "--seed=3", "--model.dropout=0"]
    )
    assert cfg.data == "file.txt" and cfg.run.name == "t"
    assert cfg.model == Model(n_head=8, d_model=64, dropout=0.0)
    assert cfg.pretrain == Train(steps=5, seed=3) and cfg.finetune == Train(steps=20, lr=0.5, seed=3)
    repeated = parse_config(Command, ["--data=x", "--refs", "a", "--refs=b,c"])
    assert repeated.refs == ("a", "b", "c")
    assert config_from_dict(Command, config_to_dict(cfg), "saved.json") == cfg


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model.d_model=30"], r"^--model.d_model=30: must be divisible by --model.n_head=4$"),
        (["--model.n_head=0"], r"^--model.n_head=0: must be >= 1$"),
        (["--pretrain_steps=0"], r"^--pretrain_steps=0: must be >= 1$"),
        (["--finetune.lr=-1"], r"^--finetune.lr=-1.0: must be > 0$"),
        (["--finetune.lr=inf"], r"^--finetune.lr=inf: must be a finite number$"),
        (["--model.dropout=1"], r"^--model.dropout=1.0: must be in \[0, 1\)$"),
        (["--modle.n_head=2"], r"unknown flag --modle.n_head \(did you mean --model.n_head\?\)"),
        ([], r"^--data is required \(see --help\)$"),
        (["a", "b"], r"unexpected argument 'b'"),
    ],
)
def test_bad_values_name_the_flag_as_typed(argv, message):
    with pytest.raises(UserError, match=message):
        parse_config(
            Command, argv if not argv or argv[0] in ("a",) or "data" in argv[0] else ["--data=x", *argv]
        )


def test_help_shows_sections_aliases_and_the_positional_argument():
    text = config_help(Command, "train.py demo")
    assert "usage: train.py demo DATA [--key=value ...]" in text
    assert "[model] the model" in text and "  --model.d_model=int  [64]" in text
    assert "  --pretrain.seed=int  [0] (also --seed)" in text
    assert "  --name=str  []" in text  # a flat section: no prefix
    assert text.index("--refs") < text.index("[model]")  # the command's own fields before the sections


# ------------------------------------------------------------------------------------- run folders


def test_run_folder_is_named_and_never_reused(tmp_path):
    named = parse_config(Command, ["x", f"--out_dir={tmp_path}", "--name=a"])
    assert run_folder(named, "demo") == tmp_path / "a"
    unnamed = parse_config(Command, ["x", f"--out_dir={tmp_path}"])
    folder = run_folder(unnamed, "demo")
    assert re.fullmatch(r"demo-\d{8}-\d{6}", folder.name) and unnamed.run.name == folder.name
    assert not folder.exists()  # checked, not created: a rejected command leaves nothing behind
    (tmp_path / "a").mkdir()
    assert run_folder(named, "demo") == tmp_path / "a"  # empty: fine
    (tmp_path / "a" / "x.bin").write_bytes(b"")
    with pytest.raises(UserError, match="already holds a run; pass --resume to continue it or another"):
        run_folder(named, "demo")


def test_resume_needs_the_same_settings_but_may_extend_steps(tmp_path):
    cfg = parse_config(Command, ["x", f"--out_dir={tmp_path}"])  # no --name: the Quick-start case
    run_dir = run_folder(cfg, "demo")
    start_run(cfg, run_dir, "demo")
    saved = json.loads((run_dir / "train_config.json").read_text())
    assert saved["command"] == "demo" and saved["run"]["name"] == run_dir.name

    def resumed(*flags):
        return run_folder(parse_config(Command, ["x", f"--out_dir={tmp_path}", "--resume", *flags]), "demo")

    assert resumed() == run_dir  # the newest run of this command
    assert resumed(f"--name={run_dir.name}", "--progress=false", "--finetune.steps=40") == run_dir
    with pytest.raises(UserError, match=r"--resume: --finetune.steps=10 differs from the run's 20"):
        resumed("--finetune.steps=10")
    with pytest.raises(UserError, match=r"--resume: --model.d_model=32 differs from the run's 64"):
        resumed("--model.d_model=32")
    with pytest.raises(UserError, match="--resume: no demo run in"):
        run_folder(parse_config(Command, ["x", f"--out_dir={tmp_path / 'none'}", "--resume"]), "demo")
    with pytest.raises(UserError, match="--resume: no run at"):
        resumed("--name=other")
    (run_dir / "train_config.json").write_text("{")
    with pytest.raises(UserError, match=r"train_config.json: not valid JSON"):
        resumed(f"--name={run_dir.name}")


def test_resume_without_name_takes_the_newest_run_of_the_command(tmp_path):
    folders = []
    for name in ("old", "new"):
        cfg = parse_config(Command, ["x", f"--out_dir={tmp_path}", f"--name={name}"])
        folders.append(run_folder(cfg, "demo"))
        start_run(cfg, folders[-1], "demo")
    os.utime(folders[0] / "train_config.json", (time.time() - 60,) * 2)
    other = parse_config(Command, ["x", f"--out_dir={tmp_path}", "--name=lm"])
    start_run(other, run_folder(other, "lm"), "lm")  # another command's run is never picked
    cfg = parse_config(Command, ["x", f"--out_dir={tmp_path}", "--resume"])
    assert run_folder(cfg, "demo") == folders[1] and cfg.run.name == "new"
