"""Configs are dataclasses; the command line and TOML files override their fields.

Every setting of every command lives in a dataclass with a default and a help string::

    @dataclass
    class Config:
        steps: int = opt(1000, "optimizer steps")
        schedule: str = opt("cosine", "learning-rate schedule", choices=("constant", "linear", "cosine"))

``parse_config(Config, argv)`` then accepts, in this order of precedence (later wins):

1. the dataclass defaults,
2. ``--config FILE.toml`` (top-level keys are field names),
3. ``--key=value`` or ``--key value`` flags (``-`` and ``_`` are interchangeable in keys).

``--help`` prints every field with its type, default and help.  An unknown key, an ill-typed value or
a value outside ``choices`` raises :class:`~minilm.errors.UserError` naming the flag and what is
allowed (the CLI turns that into one line and exit code 2).

The settings every training command shares live in :class:`RunSettings` (the run folder, where the
real datasets are) and :class:`ResumableRunSettings` (plus ``--resume`` and ``--progress``, for the
commands that train with checkpoints); a command's ``Config`` inherits one of them, so those flags come
first in ``--help``, and may redeclare a field to change its default or help (e.g. ``out_dir``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes

C = TypeVar("C")


def opt(default: Any, help: str, choices: tuple | None = None) -> Any:
    """A dataclass field with a help string (and optionally the allowed values)."""
    metadata = {"help": help, "choices": choices}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for sequence defaults")
    return dataclasses.field(default=default, metadata=metadata)


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp: Any) -> str:
    if tp is bool:
        return "bool"
    if tp in (int, float, str):
        return tp.__name__
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        return f"{_type_name(args[0])},..."
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return f"{_type_name(args[0])} or none"
    return str(tp)


def _coerce(name: str, text: Any, tp: Any, source: str) -> Any:
    """Convert ``text`` (a CLI string or a TOML value) into ``tp`` or raise a UserError."""

    def bad(expected: str) -> UserError:
        return UserError(f"{source} {name}={text!r}: expected {expected}")

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):  # Optional[X]
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        if text is None or (isinstance(text, str) and text.lower() in ("none", "null", "")):
            return None
        return _coerce(name, text, inner, source)
    if origin is tuple:
        (inner, _) = typing.get_args(tp)
        items = text if isinstance(text, (list, tuple)) else [t for t in str(text).split(",") if t.strip()]
        return tuple(_coerce(name, t.strip() if isinstance(t, str) else t, inner, source) for t in items)
    if tp is bool:
        if isinstance(text, bool):
            return text
        lowered = str(text).lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise bad("a boolean (true/false)")
    if tp is int:
        if isinstance(text, bool) or (isinstance(text, float) and not text.is_integer()):
            raise bad("an integer")
        try:
            return int(text)
        except ValueError:
            raise bad("an integer") from None
    if tp is float:
        if isinstance(text, bool):
            raise bad("a number")
        try:
            return float(text)
        except ValueError:
            raise bad("a number") from None
    if tp is str:
        return str(text)
    raise TypeError(f"unsupported config type {tp!r} for {name}")


def config_help(cls: type, prog: str, description: str = "") -> str:
    """The ``--help`` text: one line per field with type, default and help."""
    types_ = _field_types(cls)
    lines = [f"usage: {prog} [--config FILE.toml] [--key=value ...]", ""]
    if description:
        lines += [description.strip(), ""]
    lines.append("options (default in brackets):")
    for f in dataclasses.fields(cls):
        choices = f.metadata.get("choices")
        allowed = f" one of {{{', '.join(map(str, choices))}}}" if choices else ""
        default = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
        lines.append(f"  --{f.name}={_type_name(types_[f.name])}{allowed}  [{default}]")
        lines.append(f"      {f.metadata.get('help', '')}")
    return "\n".join(lines)


def _apply(cls: type, values: dict[str, Any], source: str) -> dict[str, Any]:
    types_ = _field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for raw_key, raw_value in values.items():
        key = raw_key.replace("-", "_")
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" (did you mean --{close[0]}?)" if close else ""
            raise UserError(
                f"unknown {source} --{raw_key}{hint}; allowed: " + ", ".join(f"--{k}" for k in fields)
            )
        value = _coerce(f"--{key}", raw_value, types_[key], source)
        choices = fields[key].metadata.get("choices")
        if choices is not None and value not in choices:
            allowed = ", ".join(map(str, choices))
            raise UserError(f"{source} --{key}={raw_value!r}: allowed values are {allowed}")
        out[key] = value
    return out


def parse_config(cls: type[C], argv: list[str], prog: str = "train.py", description: str = "") -> C:
    """Build ``cls`` from defaults, an optional ``--config FILE.toml`` and ``--key=value`` flags."""
    flags: dict[str, str] = {}
    toml_path: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            print(config_help(cls, prog, description))
            raise SystemExit(0)
        if not arg.startswith("--") or arg == "--":
            raise UserError(f"unexpected argument {arg!r}: options look like --key=value (see --help)")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                # a bare boolean flag: --resume means --resume=true
                value = "true"
            else:
                i += 1
                value = argv[i]
        if key == "config":
            toml_path = value
        else:
            flags[key] = value
        i += 1
    values: dict[str, Any] = {}
    if toml_path is not None:
        path = Path(toml_path)
        if not path.is_file():
            raise UserError(f"--config: no such file {toml_path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"{toml_path}: not valid TOML ({e})") from None
        nested = [k for k, v in data.items() if isinstance(v, dict)]
        if nested:
            raise UserError(f"{toml_path}: tables are not supported ([{nested[0]}]); use top-level keys")
        values.update(_apply(cls, data, f"key in {toml_path}:"))
    values.update(_apply(cls, flags, "flag"))
    return cls(**values)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def config_from_dict(cls: type[C], data: dict[str, Any], source: str) -> C:
    """Rebuild a config saved by :func:`config_to_dict` (e.g. a run's ``config.json``)."""
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**_apply(cls, {k: v for k, v in data.items() if k in known}, f"key in {source}:"))


# ----------------------------------------------------------------------------------- shared run settings

SAVED_CONFIG = "train_config.json"  # a resumable run's settings, in its run folder


@dataclasses.dataclass
class RunSettings:
    """Where a training command writes its run and reads the real datasets."""

    name: str = opt("", "run name: the run folder is <out_dir>/<name> (default: default-<timestamp>)")
    out_dir: str = opt("runs", "folder that holds the run folders")
    data_dir: str = opt("", "root of the real datasets (default: $MINILM_DATA)")

    _reuse_hint: ClassVar[str] = "pass another --name"

    def run_folder(self, default_prefix: str = "default") -> Path:
        """The run folder ``<out_dir>/<name>`` (without --name: ``<default_prefix>-<timestamp>``), not
        yet created.  A folder that already holds files is refused: no earlier run is ever overwritten."""
        run_dir = Path(self.out_dir) / (self.name or f"{default_prefix}-{datetime.now():%Y%m%d-%H%M%S}")
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UserError(f"{run_dir} already holds a run; {self._reuse_hint}")
        return run_dir


@dataclasses.dataclass
class ResumableRunSettings(RunSettings):
    """:class:`RunSettings` plus continuing a killed run: a new run saves its settings in the run folder
    (``train_config.json``) and ``--resume`` refuses to continue it with other ones."""

    resume: bool = opt(False, "continue the run <out_dir>/<name> from its checkpoints")
    progress: bool = opt(True, "show progress bars")
    cpu_devices: int = opt(
        1,
        "without an accelerator: split the CPU into this many JAX devices and train data-parallel over "
        "them (XLA runs one device's small matrix products on about one core; try the number of cores)",
    )

    _reuse_hint: ClassVar[str] = "pass --resume to continue it or another --name"

    def run_folder(self, default_prefix: str = "default") -> Path:
        if not self.resume:
            return super().run_folder(default_prefix)
        if not self.name:
            raise UserError("--resume needs --name of the run to continue")
        run_dir = Path(self.out_dir) / self.name
        saved = run_dir / SAVED_CONFIG
        if not saved.is_file():
            raise UserError(f"--resume: no run at {run_dir} (expected {saved})")
        try:
            before = json.loads(saved.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"{saved}: not valid JSON ({e})") from None
        now = config_to_dict(self)
        changed = [k for k in now if k not in ("resume", "progress") and before.get(k) != now[k]]
        if changed:
            k = changed[0]
            raise UserError(f"--resume: --{k}={now[k]!r} differs from the run's {before.get(k)!r} ({saved})")
        return run_dir

    def start_run(self, run_dir: Path) -> None:
        """Create the run folder; a new run (not --resume) saves these settings in it."""
        run_dir.mkdir(parents=True, exist_ok=True)
        if not self.resume:
            atomic_write_bytes(run_dir / SAVED_CONFIG, json.dumps(config_to_dict(self), indent=2).encode())
