"""The command line as one system: where commands live, which flags the docs promise, and what every
command does with a bad number (exit 2, one line naming the flag, nothing written)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from minilm.cli import evaluate, train
from minilm.config import flag_names, leaf_fields, required
from minilm.errors import run_cli

ROOT = Path(__file__).resolve().parents[1]
ENTRY = {"train.py": train, "evaluate.py": evaluate}


def _config(entry: str, name: str):
    command = ENTRY[entry].COMMANDS[name]
    return getattr(importlib.import_module(command.module), command.config)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (at the top or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return out


def test_commands_live_in_cli_and_import_no_other_command():
    package = ROOT / "minilm"
    commands = {c.module for table in ENTRY.values() for c in table.COMMANDS.values()}
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        imported = {m for m in _imports(path) if m == "minilm.cli" or m.startswith("minilm.cli.")}
        if not module.startswith("minilm.cli"):
            assert not imported, f"{module} imports {sorted(imported)}: only minilm/cli/ may"
        elif module in commands:
            others = {m for m in imported if m in commands and m != module}
            assert not others, f"command {module} imports command(s) {sorted(others)}"
    for table in ENTRY.values():
        for name, command in table.COMMANDS.items():
            assert command.module.startswith("minilm.cli."), (
                f"{name}: {command.module} is outside minilm/cli/"
            )


def _documented_command_lines() -> list[tuple[str, str, list[str]]]:
    """(file, entry point, argv) of every ``python train.py ...`` / ``python evaluate.py ...`` in the
    README and docs/ (inline code and code blocks; ``{a,b}`` and ``[...]`` as written)."""
    out = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        for match in re.finditer(r"python (train\.py|evaluate\.py)([^`\n|]*)", text):
            text = re.sub(r"\"[^\"]*\"?|'[^']*'?", " ", match.group(2))  # quoted values are not flags
            out.append((doc.name, match.group(1), text.replace("[", " ").replace("]", " ").split()))
    return out


def test_every_flag_the_docs_mention_is_accepted():
    lines = _documented_command_lines()
    assert len(lines) > 15
    for doc, entry, words in lines:
        table = ENTRY[entry].COMMANDS
        name = words[0] if words and not words[0].startswith("-") else "pipeline"
        if entry == "evaluate.py" and name == "pipeline":
            continue  # `python evaluate.py --help`
        assert name in table or "{" in name, f"{doc}: unknown command {entry} {name}"
        for command in name.strip("{}").split(",") if "{" in name else [name]:
            known = flag_names(_config(entry, command)) | {"help", "config"}
            for word in words:
                if word.startswith("--"):
                    flag = word[2:].split("=")[0].replace("-", "_")
                    assert flag in known, f"{doc}: {entry} {command} does not accept --{flag}"


def _numeric_cases():
    for entry, module in ENTRY.items():
        for name in module.COMMANDS:
            cls = _config(entry, name)
            for key, (tp, field) in leaf_fields(cls).items():
                if tp not in (int, float, int | None, float | None):
                    continue
                yield pytest.param(entry, name, key, tp, field, id=f"{entry}-{name}-{key}")


@pytest.mark.parametrize("entry, name, key, tp, field", list(_numeric_cases()))
def test_every_numeric_flag_refuses_bad_values(entry, name, key, tp, field, tmp_path, capsys, monkeypatch):
    check = field.metadata.get("check")
    assert check is not None, f"{entry} {name} --{key}: a size, rate or count without a check"
    monkeypatch.chdir(tmp_path)  # anything written would land here
    cls = _config(entry, name)
    needed = [f"--{k}=x" for k, (_, f) in leaf_fields(cls).items() if f.metadata.get("check") is required]
    bad = [*check.bad_examples, "abc"] + (
        ["nan", "inf"] if float in (tp, *getattr(tp, "__args__", ())) else ["1.5"]
    )
    for value in bad:
        argv = ([name] if name != "pipeline" else []) + needed + [f"--out_dir={tmp_path / 'runs'}"]
        argv = [a for a in argv if "out_dir" not in a or "out_dir" in flag_names(cls)]
        with pytest.raises(SystemExit) as exit_:
            run_cli(ENTRY[entry].main, [*argv, f"--{key}={value}"])
        err = capsys.readouterr().err
        assert exit_.value.code == 2, f"--{key}={value}: exit {exit_.value.code}\n{err}"
        assert err.count("\n") == 1 and f"--{key}" in err, f"--{key}={value}: {err!r}"
        assert not any(tmp_path.iterdir()), f"--{key}={value} left {list(tmp_path.iterdir())}"
