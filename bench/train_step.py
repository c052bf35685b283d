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

from minilm import pipeline
from minilm.models.heads import SequenceClassifier
from minilm.models.transformer import GPT, TransformerConfig
from minilm.train.loop import make_train_step
from minilm.train.optim import learning_rate_schedule, make_optimizer


def time_steps(model, loss_fn, batch, cfg: pipeline.Config, steps: int, repeats: int) -> dict:
    graphdef, params, frozen = nnx.split(model, nnx.Param, ...)
    train_cfg = pipeline.phase_config(cfg, 1000, len(batch["tokens"]), 1e-3)
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
    cfg = pipeline.Config()
    model_cfg = TransformerConfig(
        vocab_size=cfg.vocab_size, max_len=cfg.max_len, n_layer=cfg.n_layer, n_head=cfg.n_head,
        d_model=cfg.d_model, d_ff=4 * cfg.d_model, dropout=cfg.dropout,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, cfg.vocab_size, size=(cfg.pretrain_batch, cfg.max_len + 1), dtype=np.int32)
    lm = GPT(model_cfg, rngs=nnx.Rngs(0))
    lm_batch = {"tokens": tokens[:, :-1], "targets": tokens[:, 1:]}
    result = time_steps(lm, pipeline.lm_loss, lm_batch, cfg, args.steps, args.repeats)
    print(json.dumps({"phase": "pretrain", "batch": cfg.pretrain_batch, "seq": cfg.max_len, **result}))
    clf = SequenceClassifier(lm, 2, rngs=nnx.Rngs(1))
    clf_batch = {
        "tokens": tokens[: cfg.finetune_batch, :-1],
        "attention_mask": np.ones((cfg.finetune_batch, cfg.max_len), np.int32),
        "labels": rng.integers(0, 2, size=cfg.finetune_batch, dtype=np.int32),
    }
    result = time_steps(clf, pipeline.classification_loss, clf_batch, cfg, args.steps, args.repeats)
    print(json.dumps({"phase": "finetune", "batch": cfg.finetune_batch, "seq": cfg.max_len, **result}))


if __name__ == "__main__":
    main()
