"""The run folder: where a training command writes everything, and how ``--resume`` finds it again.

A run lives in ``<out_dir>/<name>/``.  A new run refuses a folder that already holds files (no earlier
run is ever overwritten), and the folder is created only once the command has checked all its input,
so a rejected command leaves nothing behind.  The run's settings are saved there as
``train_config.json`` (with the run's real name, also when it was made up from the time), and
``--resume`` continues the run only with the same settings -- except ``--resume`` and ``--progress``
themselves, and a larger ``steps``, which extends a finished run.  ``--resume`` without ``--name``
continues the newest run of the same command in ``out_dir``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from minilm.config import cli_key, config_to_dict, opt
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.train.distributed import is_lead
from minilm.train.runlog import MetricsLog

SAVED_CONFIG = "train_config.json"  # a run's settings, in its run folder
COMMAND_KEY = "command"  # which command made the run (``--resume`` without ``--name`` looks for it)


@dataclass
class RunConfig:
    """Where a training command writes its run, and whether it continues one."""

    name: str = opt("", "run name: the run folder is <out_dir>/<name> (default: <command>-<timestamp>)")
    out_dir: str = opt("runs", "folder that holds the run folders")
    resume: bool = opt(False, "continue the run <out_dir>/<name> (without --name: the newest one)")
    progress: bool = opt(True, "show progress bars and what each phase is doing")


def _may_differ(path: str, before: Any, now: Any) -> bool:
    """Settings a resumed run may change: how it is shown, and ``steps`` made larger (extends it)."""
    leaf = path.rsplit(".", 1)[-1]
    if leaf in ("resume", "progress", "name", "out_dir", "data_dir"):  # how it is shown, where things are
        return True
    return leaf == "steps" and isinstance(before, int) and isinstance(now, int) and now >= before


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in tree.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _read_saved(path: Path) -> dict[str, Any]:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(saved, dict):
        raise UserError(f"{path}: expected a JSON object of settings")
    return saved


def _newest_run(out_dir: Path, command: str) -> Path:
    runs = [p.parent for p in out_dir.glob(f"*/{SAVED_CONFIG}") if _read_saved(p).get(COMMAND_KEY) == command]
    if not runs:
        raise UserError(f"--resume: no {command} run in {out_dir} to continue (pass --name)")
    return max(runs, key=lambda p: (p / SAVED_CONFIG).stat().st_mtime)


def run_folder(cfg: Any, command: str) -> Path:
    """The run folder of ``cfg`` (a command config whose ``run`` is a :class:`RunConfig`), checked but
    not created.  A new run without ``--name`` gets ``<command>-<timestamp>``, written into
    ``cfg.run.name`` so that the saved settings name the run."""
    run: RunConfig = cfg.run
    out_dir = Path(run.out_dir)
    if run.resume:
        run_dir = out_dir / run.name if run.name else _newest_run(out_dir, command)
        saved_path = run_dir / SAVED_CONFIG
        if not saved_path.is_file():
            raise UserError(f"--resume: no run at {run_dir} (expected {saved_path})")
        before = _flat(_read_saved(saved_path))
        run.name = run_dir.name
        now = _flat(config_to_dict(cfg))
        for path, value in now.items():
            if path in before and before[path] != value and not _may_differ(path, before[path], value):
                flag = cli_key(type(cfg), path)
                raise UserError(
                    f"--resume: --{flag}={value!r} differs from the run's {before[path]!r} ({saved_path})"
                )
        return run_dir
    if not run.name:
        run.name = f"{command}-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir = out_dir / run.name
    if is_lead() and run_dir.exists() and any(run_dir.iterdir()):  # the others: process 0 may have begun
        raise UserError(f"{run_dir} already holds a run; pass --resume to continue it or another --name")
    return run_dir


def start_run(cfg: Any, run_dir: Path, command: str) -> None:
    """Create the run folder and save the settings; a resumed run rewrites them only when they changed
    (a run extended with larger ``steps``).  Only process 0 of a job writes."""
    if not is_lead():
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = {COMMAND_KEY: command, **config_to_dict(cfg)}
    saved["run"]["resume"] = False
    path = run_dir / SAVED_CONFIG
    if not (path.is_file() and _read_saved(path) == saved):
        atomic_write_bytes(path, json.dumps(saved, indent=2).encode())


def write_file(path: Path, data: bytes) -> None:
    """A file of the run folder, written atomically by process 0 (the only writer of a job)."""
    if is_lead():
        atomic_write_bytes(path, data)


def say(settings: Any, message: str) -> None:
    """Tell the user what a long phase is doing, if ``settings.progress`` (a command's ``--progress``):
    on stdout, so that stderr holds only the progress bars and, on bad input, the one-line error.
    (A command printing ``--json`` on stdout says nothing.)"""
    if settings.progress and not getattr(settings, "json", False) and is_lead():
        print(message, flush=True)


def resume_phase(run: RunConfig, run_dir: Path, phase: str) -> bool:
    """Resume ``phase`` from its checkpoint if it has one; a phase killed before its first checkpoint
    starts over, and the log lines it left are dropped."""
    if not run.resume:
        return False
    if (run_dir / "checkpoints" / f"{phase}.safetensors").exists():
        return True
    MetricsLog(run_dir / "metrics.jsonl").truncate_after(phase, 0)
    return False
