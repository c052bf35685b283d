"""What a run leaves behind for people: ``metrics.jsonl`` (one JSON object per logged step) and
``loss.png`` (train and eval curves, one panel per phase).

Every line of ``metrics.jsonl`` has ``phase`` and ``step``; training lines add ``loss``, ``lr``,
``grad_norm`` and ``seconds``; evaluation lines add keys starting with ``eval_``.  On ``--resume`` the
lines logged after the checkpoint's step are dropped, so the file reads as one uninterrupted run.
In a multi-process job only process 0 writes (the others hold the same numbers).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from minilm.fileio import atomic_write_bytes
from minilm.train.distributed import is_lead


class MetricsLog:
    """Append-only JSONL log of a run."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def write(self, record: dict) -> None:
        if not is_lead():
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]

    def truncate_after(self, phase: str, step: int) -> None:
        """Drop ``phase``'s lines logged after ``step`` (they are about to be redone)."""
        if not is_lead():
            return
        kept = [r for r in self.read() if not (r.get("phase") == phase and r["step"] > step)]
        atomic_write_bytes(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode())


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, imported when the first plot is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    """Lay ``fig`` out tightly, write it as a PNG at ``path`` (its folder made if missing), close it."""
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    pyplot().close(fig)


def plot_losses(log: MetricsLog, path: Path) -> None:
    """Draw ``loss`` and every ``eval_*loss`` against step, one panel per phase, into a PNG."""
    plt = pyplot()

    records = log.read()
    phases = list(dict.fromkeys(r["phase"] for r in records))
    if not phases:
        return
    fig, axes = plt.subplots(1, len(phases), figsize=(5 * len(phases), 3.6), squeeze=False)
    for ax, phase in zip(axes[0], phases, strict=True):
        rows = [r for r in records if r["phase"] == phase]
        keys = ["loss"] + sorted({k for r in rows for k in r if k.startswith("eval_") and k.endswith("loss")})
        for key in keys:
            points = [(r["step"], r[key]) for r in rows if key in r and math.isfinite(r[key])]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, label="train loss" if key == "loss" else key.replace("_", " "))
        ax.set_title(phase)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(fig, path)


def summary_table(summary: dict, header: tuple[str, str] = ("result", "value")) -> str:
    """A Markdown table of a run's results; nested dicts become ``outer.inner`` rows."""

    def rows(tree: dict, prefix: str = "") -> list[tuple[str, object]]:
        out = []
        for k, v in tree.items():
            out += rows(v, f"{prefix}{k}.") if isinstance(v, dict) else [(f"{prefix}{k}", v)]
        return out

    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {k} | {f'{v:.4f}' if isinstance(v, float) else v} |" for k, v in rows(summary)]
    return "\n".join(lines)


def save_report(run_dir: Path, markdown: str, summary: dict) -> None:
    """``report.md`` for people and ``report.json`` (the same figures) for programs (process 0 only)."""
    if not is_lead():
        return
    atomic_write_bytes(Path(run_dir) / "report.md", markdown.encode())
    atomic_write_bytes(Path(run_dir) / "report.json", (json.dumps(summary, indent=1) + "\n").encode())
