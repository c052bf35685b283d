"""``train.py finetune``: adapt a pretrained backbone to a task by training all, some or none of it,
with any method of :mod:`minilm.finetune`; ``evaluate.py task`` (alias ``classify``): score the run.

    python train.py finetune --init=runs/NAME --task=world_sentiment --method=lora --lora.r=8
    python train.py finetune --init=../shared/models/all-MiniLM-L6-v2 --task=glue_rte --method=full \\
        --train.lr=5e-5 --steps=300
    python train.py finetune --init=runs/NAME --task=reviews.csv --method=adapter-houlsby
    python evaluate.py task runs/NAME [--task=sick --split=dev --oos_threshold=0.7 --json]

``--init`` is a minilm run or model folder (a GPT or BERT from ``train.py lm``, the default run's
``lm/``) or a Hugging Face BERT / GPT-2 folder.  ``--task`` is a task of :mod:`minilm.tasks` (sst2,
sick, glue_rte, clinc150, snips, trec, trec_fine, ag_news, their ``world_*`` twins, ...) or a user's
file of ``text,label`` / ``premise,hypothesis,label`` columns.  A classifier's head reads the pooled
hidden states (``--pooling``: ``cls`` for a BERT, ``last`` for a GPT by default, or ``mean`` over
real tokens).  Each method's settings are its own section (``--lora.*``, ``--prefix.*``, ...;
``--help`` lists them).  Learning rates that work (the anchor's, ``bench/``): full 5e-5, LoRA 5e-4,
BitFit and linear probe 1e-3, prefix and prompt 1e-2; the default ``--train.lr`` is 1e-3.

What the run folder holds, and what ``evaluate.py task`` writes (``<run>/eval-<task>-<split>/``
unless ``--out``): :mod:`minilm.tasks.run`, where both commands' work is done.
"""

from __future__ import annotations

import json

from minilm.tasks.run import EvalTaskConfig, FinetuneConfig, evaluate_run, finetune

Config = FinetuneConfig
EvalConfig = EvalTaskConfig


def run(cfg: Config) -> int:
    _, text = finetune(cfg)
    print(text)
    return 0


def run_task(cfg: EvalConfig) -> int:
    result = evaluate_run(cfg)
    text = result.pop("text")
    print(json.dumps(result) if cfg.json else f"{text}\nwritten to {result['out']}")
    return 0
