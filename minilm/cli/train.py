"""``python train.py [COMMAND] [--key=value ...]``: every training job behind one entry point.

Every command is a config dataclass and a ``run(cfg)`` function in a module of :mod:`minilm.cli`
(see :mod:`minilm.cli.dispatch`).  With no command, ``train.py`` runs the default pretrain ->
fine-tune -> evaluate pipeline.
"""

from __future__ import annotations

from typing import Any

from minilm.cli.dispatch import Command, dispatch

COMMANDS: dict[str, Command] = {
    "pipeline": Command(
        "minilm.cli.pipeline", "pretrain a small GPT, fine-tune it on sentiment, evaluate (default)"
    ),
    "elmo": Command(
        "minilm.cli.elmo", "train an ELMo-style biLM (forward + backward LSTM LMs), word or char input"
    ),
    "lm": Command("minilm.cli.lm", "pretrain a GPT (causal LM) or a BERT (masked LM) on a text corpus"),
    "generate": Command(
        "minilm.cli.generate", "continue prompts with a trained GPT: greedy, sampling, beam search"
    ),
    "finetune": Command(
        "minilm.cli.finetune", "adapt a pretrained backbone to a task: full, freeze, adapters, LoRA, ..."
    ),
    "experiment": Command(
        "minilm.cli.experiment", "a study-note claim as a sweep of fine-tuning runs: report, CSV, plots"
    ),
    "vectors": Command("minilm.cli.vectors", "static word vectors: skip-gram, CBOW, fastText or GloVe"),
}


def _devices(cfg: Any) -> None:
    """Before anything starts JAX: join a multi-process job and split the CPU into devices."""
    if hasattr(cfg, "dist"):
        from minilm.train.distributed import join

        join(cfg.dist)


def main(argv: list[str]) -> int | None:
    return dispatch("train.py", COMMANDS, argv, default="pipeline", before_run=_devices)
