"""Step time of the default run's models: the jitted pretraining and fine-tuning steps.

    python bench/train_step.py [--repeats 5] [--steps 30]

Builds the default GPT (``python train.py``'s settings) and times ``minilm.train.loop``'s compiled
step on random batches: compile time once, then the median over ``--repeats`` timings of
``--steps`` steps each.  Prints one JSON line per phase.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import numpy as np
from flax import nnx

from minilm.cli.pipeline import Config, phase
from minilm.models.heads import SequenceClassifier
from minilm.models.transformer import GPT
from minilm.objectives.classification import classification_loss
from minilm.objectives.lm import lm_loss
from minilm.train.loop import make_train_step
from minilm.train.optim import learning_rate_schedule, make_optimizer


def time_steps(model, loss_fn, batch, train_cfg, steps: int, repeats: int) -> dict:
    graphdef, params, frozen = nnx.split(model, nnx.Param, ...)
    tx = make_optimizer(learning_rate_schedule(1e-3, 1000), clip_norm=1.0)
    opt_state = tx.init(params)
    step_fn = make_train_step(graphdef, loss_fn, tx, train_cfg, (params, frozen, opt_state))
    p, f, o = (jax.tree.leaves(tree) for tree in (params, frozen, opt_state))
    t0 = time.perf_counter()
    p, o, loss, _, _ = step_fn(p, f, o, batch, 0)
    jax.block_until_ready(loss)
    compile_s = time.perf_counter() - t0
    timings = []
    for r in range(repeats):
        t0 = time.perf_counter()
        for s in range(steps):
            p, o, loss, _, _ = step_fn(p, f, o, batch, 1 + r * steps + s)
        jax.block_until_ready(loss)
        timings.append((time.perf_counter() - t0) / steps)
    nnx.update(model, jax.tree.unflatten(jax.tree.structure(params), p))  # the step donated the old buffers
    ms = 1000 * statistics.median(timings)
    tokens = batch["tokens"].size
    return {
        "compile_s": round(compile_s, 2),
        "ms_per_step": round(ms, 2),
        "tokens_per_s": round(tokens / ms * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cfg = Config()  # the default run's settings
    model_cfg, seq = cfg.model, cfg.model.max_len
    pretrain, finetune = phase(cfg.pretrain), phase(cfg.finetune)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, model_cfg.vocab_size, size=(pretrain.batch_size, seq + 1), dtype=np.int32)
    lm = GPT(model_cfg, rngs=nnx.Rngs(0))
    lm_batch = {"tokens": tokens[:, :-1], "targets": tokens[:, 1:]}
    result = time_steps(lm, lm_loss, lm_batch, pretrain, args.steps, args.repeats)
    print(json.dumps({"phase": "pretrain", "batch": pretrain.batch_size, "seq": seq, **result}))
    clf = SequenceClassifier(lm, 2, rngs=nnx.Rngs(1))
    clf_batch = {
        "tokens": tokens[: finetune.batch_size, :-1],
        "attention_mask": np.ones((finetune.batch_size, seq), np.int32),
        "labels": rng.integers(0, 2, size=finetune.batch_size, dtype=np.int32),
    }
    result = time_steps(clf, classification_loss, clf_batch, finetune, args.steps, args.repeats)
    print(json.dumps({"phase": "finetune", "batch": finetune.batch_size, "seq": seq, **result}))


if __name__ == "__main__":
    main()
