"""``python train.py [COMMAND] [--key=value ...]``: every training job behind one entry point.

Each command is a module with a ``Config`` dataclass (see :mod:`minilm.config`) and ``run(cfg)``.
With no command, ``train.py`` runs the default pretrain -> fine-tune -> evaluate pipeline.
"""

from __future__ import annotations

import importlib

from minilm.config import ResumableRunSettings, parse_config
from minilm.errors import UserError

# command name -> (module implementing Config + run, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "pipeline": ("minilm.pipeline", "pretrain a small GPT, fine-tune it on sentiment, evaluate (default)"),
    "elmo": ("minilm.elmo_cli", "train an ELMo-style biLM (forward + backward LSTM LMs), word or char input"),
    "lm": ("minilm.lm_cli", "pretrain a GPT (causal LM) or a BERT (masked LM) on a text corpus"),
    "generate": ("minilm.generate_cli", "continue prompts with a trained GPT: greedy, sampling, beam search"),
    "vectors": ("minilm.vectors.cli", "static word vectors: skip-gram, CBOW, fastText or GloVe"),
}


def _commands_help() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {desc}" for name, (_, desc) in COMMANDS.items())
    return f"commands (python train.py COMMAND --help):\n{rows}"


def main(argv: list[str]) -> int | None:
    name = "pipeline"
    if argv and not argv[0].startswith("-"):
        name, argv = argv[0], argv[1:]
        if name not in COMMANDS:
            raise UserError(f"unknown command {name!r}; allowed: {', '.join(COMMANDS)}")
    # a multi-process job (every process runs the same command; JAX forms one device mesh), from the
    # JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID environment or srun / mpirun
    from minilm.train.distributed import DistributedConfig, join

    join(DistributedConfig())
    module = importlib.import_module(COMMANDS[name][0])
    description = (module.__doc__ or "").strip().split("\n\n")[0]
    if name == "pipeline":
        description += "\n\n" + _commands_help()
    cfg = parse_config(module.Config, argv, prog=f"train.py {name}", description=description)
    if isinstance(cfg, ResumableRunSettings):  # before anything starts JAX's CPU client
        from minilm.train.parallel import use_cpu_devices

        use_cpu_devices(cfg.cpu_devices)
    return module.run(cfg)
