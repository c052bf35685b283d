"""Config dataclasses: defaults < TOML < flags, typed values, and one clear error for each bad input."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from minilm.config import config_from_dict, config_help, config_to_dict, opt, parse_config
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


def test_round_trip_through_json_dict():
    cfg = Demo(steps=3, widths=(9,))
    assert config_from_dict(Demo, config_to_dict(cfg), "config.json") == cfg
