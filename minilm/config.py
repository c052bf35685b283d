"""Configs are dataclasses composed of each component's own config; flags and TOML override them.

Every setting lives once, in the dataclass of the component it belongs to, with a default, a help
string and its allowed range::

    @dataclass
    class TrainConfig:                      # minilm/train/loop.py
        steps: int = opt(1000, "optimizer steps", check=at_least(1))
        lr: float = opt(1e-3, "peak learning rate", check=above(0))

A command's ``Config`` nests the components it uses (big_vision's configs, Flax gemma's dataclasses)::

    @dataclass
    class Config:
        run: RunConfig = sub(RunConfig, flat=True)                    # --name, --out_dir, --resume
        model: TransformerConfig = sub(TransformerConfig, "the GPT", n_layer=4)   # --model.n_layer
        train: TrainConfig = sub(TrainConfig, "optimisation", steps=800)         # --train.lr
        ALIASES: ClassVar = {"steps": "train.steps", "seed": "train.seed"}

``parse_config(Config, argv)`` applies, in this order of precedence (later wins):

1. the dataclass defaults (a ``sub`` may change its component's defaults for this command),
2. ``--config FILE.toml``: top-level keys and ``[section]`` tables (``[train] lr = 3e-4``),
3. ``--key=value`` / ``--key value`` flags: dotted paths (``--train.lr=3e-4``), the fields of ``flat``
   sections by their own name, and the command's documented short ``ALIASES`` (one alias may set
   several fields, e.g. ``--seed`` for both phases).  ``-`` and ``_`` are the same in keys; a bare
   ``--flag`` is ``true``; a tuple field repeated (``--ref a --ref b``) collects its values; a command
   may take one positional argument (``POSITIONAL``, e.g. ``evaluate.py context RUN``).

Then every value is checked where its component declares it (``check=``: type, range, and relations
in the component's ``check()`` method, e.g. ``d_model`` divisible by ``n_head``), before a command does
anything.  Every error is a :class:`~minilm.errors.UserError` that names the flag as the user typed
it and what is allowed; the CLI prints it as one line and exits with code 2.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from minilm.errors import UserError

C = TypeVar("C")

# ------------------------------------------------------------------------------------ declaring fields

Check = Callable[[Any], "str | None"]  # a value -> None if allowed, else what is allowed ("must be >= 1")


def opt(default: Any, help: str, choices: tuple | None = None, check: Check | None = None) -> Any:
    """A dataclass field with a help string, optionally its allowed values or a range ``check``."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for sequence defaults")
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "check": check})


def sub(component: Callable[..., Any], help: str = "", *, flat: bool = False, **defaults: Any) -> Any:
    """A nested component config, with this command's own ``defaults`` for some of its fields.

    ``flat=True`` puts its fields on the command line without the section prefix (``--name``, not
    ``--run.name``): for the few sections every command shares."""
    return dataclasses.field(
        default_factory=lambda: component(**defaults), metadata={"help": help, "flat": flat}
    )


def _check(test: Callable[[Any], bool], problem: str, bad_examples: tuple) -> Check:
    """A check, with values it refuses attached (``bad_examples``: the tests try each one)."""

    def check(value: Any) -> str | None:
        return None if test(value) else problem

    check.bad_examples = bad_examples
    return check


def at_least(low: float) -> Check:
    return _check(lambda v: v >= low, f"must be >= {low}", (low - 1,))


def above(low: float) -> Check:
    return _check(lambda v: v > low, f"must be > {low}", (low,))


def in_range(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Check:
    """``low <= v <= high``; ``low_open`` / ``high_open`` make that end strict."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    return _check(
        lambda v: (low < v if low_open else low <= v) and (v < high if high_open else v <= high),
        f"must be in {left}{low}, {high}{right}",
        (low if low_open else low - 1, high if high_open else high + 1),
    )


def finite(value: float) -> str | None:
    """Any finite number (non-finite floats are refused for every checked field)."""
    return None


finite.bad_examples = ()


def each(check: Check) -> Check:
    """Apply ``check`` to every item of a tuple field."""

    def check_all(values: tuple) -> str | None:
        return next((f"each value {p}" for p in map(check, values) if p), None)

    check_all.bad_examples = tuple((bad,) for bad in getattr(check, "bad_examples", ()))
    return check_all


REQUIRED = "is required"


def required(value: Any) -> str | None:
    """A field the user must give (a file to read, a model to load)."""
    return REQUIRED if value in ("", ()) else None


required.bad_examples = ()


class ConfigError(UserError):
    """A value a component does not allow.  ``problem`` may name other fields as ``{field}``: the
    parser writes them as the flags the user types (``{n_head}`` -> ``--model.n_head=4``)."""

    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem.replace('{', '').replace('}', '')}")

    def with_values(self, cfg: Any) -> ConfigError:
        """The message with the values of ``cfg`` (``d_model=9: must be divisible by n_head=2``), for a
        config built by a program rather than from flags."""

        def named(ref: str) -> str:
            value = cfg
            for part in ref.split("."):
                value = getattr(value, part, None)
            return f"{ref}={_show(value)}"

        problem = re.sub(r"\{([\w.]+)\}", lambda m: named(m.group(1)), self.problem)
        self.args = (f"{named(self.field)}: {problem}",)
        return self


def validate(cfg: Any) -> None:
    """Check every field's ``check`` and the relations in ``cfg.check()``; raise ConfigError.
    (Nested components are validated when they are built.)"""
    try:
        _validate(cfg)
    except ConfigError as e:
        raise e.with_values(cfg) from None


def _validate(cfg: Any) -> None:
    for f in dataclasses.fields(cfg):
        check, choices = f.metadata.get("check"), f.metadata.get("choices")
        value = getattr(cfg, f.name)
        if choices is not None and not all(
            v in choices for v in (value if isinstance(value, tuple) else (value,))
        ):
            raise ConfigError(f.name, f"allowed values are {', '.join(map(str, choices))}")
        if check is not None and value is not None:
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f.name, "must be a finite number")
            problem = check(value)
            if problem:
                raise ConfigError(f.name, problem)
    if hasattr(cfg, "check"):
        cfg.check()


# --------------------------------------------------------------------------------------- the field tree


def _nested(f: dataclasses.Field) -> bool:
    return f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory())


def _leaves(
    cls: type, prefix: str = "", flat_prefix: str = ""
) -> dict[str, tuple[str, dataclasses.Field, Any]]:
    """Every settable field: CLI key -> (dotted path, field, type).  Flat sections add their fields
    without their prefix."""
    types_ = typing.get_type_hints(cls)
    out: dict[str, tuple[str, dataclasses.Field, Any]] = {}
    for f in dataclasses.fields(cls):
        path = f"{prefix}{f.name}"
        if _nested(f):
            inner = types_[f.name]
            key_prefix = flat_prefix if f.metadata.get("flat") else f"{flat_prefix}{f.name}."
            for key, leaf in _leaves(inner, f"{path}.", key_prefix).items():
                out[key] = leaf
        else:
            out[f"{flat_prefix}{f.name}"] = (path, f, types_[f.name])
    return out


def flag_names(cls: type) -> set[str]:
    """Every flag a command accepts (without ``--``): its fields' keys and its aliases."""
    return set(_leaves(cls)) | set(getattr(cls, "ALIASES", {}))


def cli_key(cls: type, path: str) -> str:
    """The flag (without ``--``) of the field at dotted ``path``: ``run.name`` -> ``name`` (flat section)."""
    return next((key for key, (p, _, _) in _leaves(cls).items() if p == path), path)


def leaf_fields(cls: type) -> dict[str, tuple[Any, dataclasses.Field]]:
    """CLI key -> (type, field) of every setting of a command (the tests walk them)."""
    return {key: (tp, f) for key, (_, f, tp) in _leaves(cls).items()}


def _type_name(tp: Any) -> str:
    if tp in (bool, int, float, str):
        return tp.__name__
    origin = typing.get_origin(tp)
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        if typing.get_origin(inner) is tuple:
            return ":".join(_type_name(p) for p in typing.get_args(inner)) + ",..."
        return f"{_type_name(inner)},..."
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return f"{_type_name(args[0])} or none"
    return str(tp)


def _coerce(flag: str, text: Any, tp: Any) -> Any:
    """Convert ``text`` (a CLI string or a TOML value) into ``tp`` or raise a UserError."""

    def bad(expected: str) -> UserError:
        return UserError(f"{flag}={text!r}: expected {expected}")

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):  # Optional[X]
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        if text is None or (isinstance(text, str) and text.lower() in ("none", "null", "")):
            return None
        return _coerce(flag, text, inner)
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        items = text if isinstance(text, (list, tuple)) else [t for t in str(text).split(",") if t.strip()]
        if typing.get_origin(inner) is tuple:  # pairs: "1:32,2:64" or [[1, 32], [2, 64]]
            items = [t.split(":") if isinstance(t, str) else t for t in items]
            parts = typing.get_args(inner)
            if any(len(t) != len(parts) for t in items):
                raise bad(":".join(_type_name(p) for p in parts) + " items, comma-separated")
            return tuple(tuple(_coerce(flag, x, p) for x, p in zip(t, parts, strict=True)) for t in items)
        return tuple(_coerce(flag, t.strip() if isinstance(t, str) else t, inner) for t in items)
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
    raise TypeError(f"unsupported config type {tp!r} for {flag}")


# -------------------------------------------------------------------------------------------- --help


def config_help(cls: type, prog: str, description: str = "") -> str:
    """The ``--help`` text: every flag with its type, allowed values, default and help, by section."""
    positional = getattr(cls, "POSITIONAL", None)
    usage = f"usage: {prog}" + (f" {positional.upper()}" if positional else "") + " [--key=value ...]"
    lines = [usage + " [--config FILE.toml]", ""]
    if description:
        lines += [description.strip(), ""]
    aliases = getattr(cls, "ALIASES", {})
    by_path = {}
    for alias, targets in aliases.items():
        for t in (targets,) if isinstance(targets, str) else targets:
            by_path.setdefault(t, []).append(alias)
    lines.append("options (default in brackets):")
    _help_lines(cls(), cls, "", "", lines, by_path, positional)
    return "\n".join(lines)


def _help_lines(obj, cls, path, key_prefix, lines, aliases, positional) -> None:
    types_ = typing.get_type_hints(cls)
    for f in sorted(dataclasses.fields(cls), key=lambda f: _nested(f) and not f.metadata.get("flat")):
        value = getattr(obj, f.name)
        if _nested(f):
            flat = f.metadata.get("flat")
            if not flat:
                title = f.metadata.get("help") or f.name
                lines += ["", f"[{key_prefix}{f.name}] {title}"]
            inner_prefix = key_prefix if flat else f"{key_prefix}{f.name}."
            _help_lines(value, types_[f.name], f"{path}{f.name}.", inner_prefix, lines, aliases, positional)
            continue
        choices = f.metadata.get("choices")
        allowed = f" one of {{{', '.join(map(str, choices))}}}" if choices else ""
        shown = _show(value)
        also = aliases.get(f"{path}{f.name}")
        alias_text = f" (also --{', --'.join(also)})" if also else ""
        name = f"{key_prefix}{f.name}"
        flag = f"{name.upper()}" if name == positional else f"--{name}={_type_name(types_[f.name])}"
        lines.append(f"  {flag}{allowed}  [{shown}]{alias_text}")
        lines.append(f"      {f.metadata.get('help', '')}")


# ------------------------------------------------------------------------------------------ parsing


def _split_argv(
    cls: type, argv: list[str], prog: str, description: str
) -> tuple[list[tuple[str, str]], str | None]:
    """``(key, value)`` pairs in command-line order, and the ``--config`` file if any."""
    positional = getattr(cls, "POSITIONAL", None)
    pairs: list[tuple[str, str]] = []
    toml_path = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            print(config_help(cls, prog, description))
            raise SystemExit(0)
        if not arg.startswith("--") or arg == "--":
            if positional and not any(k == positional for k, _ in pairs) and not arg.startswith("-"):
                pairs.append((positional, arg))
                i += 1
                continue
            raise UserError(f"unexpected argument {arg!r}: options look like --key=value (see --help)")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                value = "true"  # a bare flag: --resume means --resume=true
            else:
                i += 1
                value = argv[i]
        if key == "config":
            toml_path = value
        else:
            pairs.append((key, value))
        i += 1
    return pairs, toml_path


def _toml_pairs(path_text: str) -> list[tuple[str, Any]]:
    path = Path(path_text)
    if not path.is_file():
        raise UserError(f"--config: no such file {path_text}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path_text}: not valid TOML ({e})") from None

    def walk(table: dict, prefix: str) -> list[tuple[str, Any]]:
        out = []
        for k, v in table.items():
            out += walk(v, f"{prefix}{k}.") if isinstance(v, dict) else [(f"{prefix}{k}", v)]
        return out

    return walk(data, "")


class _Settings:
    """The values given so far (dotted path -> value) and how the user spelled each key, to build the
    config and name flags in messages as typed."""

    def __init__(self, cls: type):
        self.cls = cls
        self.leaves = _leaves(cls)
        self.aliases = {k.replace("-", "_"): v for k, v in getattr(cls, "ALIASES", {}).items()}
        self.values: dict[str, Any] = {}
        self.spelled: dict[str, str] = {}
        self.repeated: set[str] = set()

    def set(self, raw_key: str, raw_value: Any, source: str) -> None:
        key = raw_key.replace("-", "_")
        if key in self.aliases:
            targets = self.aliases[key]
            paths = [targets] if isinstance(targets, str) else list(targets)
            leaves = {path: leaf for path, leaf in ((p, self._leaf_at(p)) for p in paths)}
        elif key in self.leaves:
            leaves = {self.leaves[key][0]: self.leaves[key]}
        else:
            known = list(self.leaves) + list(self.aliases)
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean --{close[0]}?)" if close else ""
            shown = ", ".join(f"--{k}" for k in known[:40]) + (", ..." if len(known) > 40 else "")
            raise UserError(f"unknown {source} --{raw_key}{hint}; allowed: {shown} (see --help)")
        for path, (_, f, tp) in leaves.items():
            flag = f"--{raw_key}"
            value = _coerce(flag, raw_value, tp)
            if typing.get_origin(tp) is tuple and path in self.repeated and source == "flag":
                value = self.values[path] + value  # --ref a --ref b
            choices = f.metadata.get("choices")
            items = value if isinstance(value, tuple) else (value,)
            if choices is not None and any(v not in choices for v in items):
                raise UserError(f"{flag}={raw_value!r}: allowed values are {', '.join(map(str, choices))}")
            self.values[path] = value
            self.spelled[path] = raw_key
            if source == "flag":
                self.repeated.add(path)

    def _leaf_at(self, path: str) -> tuple[str, dataclasses.Field, Any]:
        return next(leaf for leaf in self.leaves.values() if leaf[0] == path)

    def flag(self, path: str) -> str:
        """How to name the field at ``path`` in a message: as the user typed it, else its CLI key."""
        if path in self.spelled:
            return f"--{self.spelled[path]}"
        return "--" + next(k for k, leaf in self.leaves.items() if leaf[0] == path)

    def build(self, cls: type, path: str = "", default: Any = None) -> Any:
        """Construct (and so validate) the config bottom-up: given values over the defaults, where a
        section's defaults are those its parent's ``sub`` gives it."""
        default = cls() if default is None else default
        types_ = typing.get_type_hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            p = f"{path}.{f.name}" if path else f.name
            if _nested(f):
                kwargs[f.name] = self.build(types_[f.name], p, getattr(default, f.name))
            else:
                kwargs[f.name] = self.values.get(p, getattr(default, f.name))
        return self._construct(cls, path, kwargs)

    def _construct(self, cls: type, path: str, kwargs: dict[str, Any]) -> Any:
        try:
            obj = cls(**kwargs)
            validate(obj)
            return obj
        except ConfigError as e:

            def named(ref: str) -> str:  # "{n_head}" -> "--model.n_head=4"
                parts = ref.split(".")
                value = kwargs.get(parts[0])
                for part in parts[1:]:
                    value = getattr(value, part, None)
                return f"{self.flag(f'{path}.{ref}' if path else ref)}={_show(value)}"

            if e.problem == REQUIRED:
                field_path = f"{path}.{e.field}" if path else e.field
                raise UserError(f"{self.flag(field_path)} is required (see --help)") from None
            problem = re.sub(r"\{([\w.]+)\}", lambda m: named(m.group(1)), e.problem)
            raise UserError(f"{named(e.field)}: {problem}") from None


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(":".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in value)
    return str(value)


def parse_config(cls: type[C], argv: list[str], prog: str = "train.py", description: str = "") -> C:
    """Build ``cls`` from its defaults, an optional ``--config FILE.toml`` and the flags in ``argv``."""
    pairs, toml_path = _split_argv(cls, argv, prog, description)
    settings = _Settings(cls)
    if toml_path is not None:
        for key, value in _toml_pairs(toml_path):
            settings.set(key, value, f"key in {toml_path}:")
    for key, value in pairs:
        settings.set(key, value, "flag")
    return settings.build(cls)


# --------------------------------------------------------------------------------- saving and loading


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (nested sections as dicts, tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def config_from_dict(cls: type[C], data: dict[str, Any], source: str) -> C:
    """Rebuild (and validate) a config saved by :func:`config_to_dict`; keys it does not know are
    ignored (settings added later keep their defaults)."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a JSON object of settings, got {type(data).__name__}")
    settings = _Settings(cls)

    def walk(table: dict, prefix: str) -> None:
        for k, v in table.items():
            path = f"{prefix}{k}"
            if isinstance(v, dict):
                walk(v, f"{path}.")
            elif any(leaf[0] == path for leaf in settings.leaves.values()):
                settings.set(
                    next(key for key, leaf in settings.leaves.items() if leaf[0] == path),
                    v,
                    f"key in {source}:",
                )

    walk(data, "")
    return settings.build(cls)
