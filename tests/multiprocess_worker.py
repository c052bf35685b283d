"""One process of a multi-process training job in the tests (tests/test_multiprocess.py starts it).

    JAX_COORDINATOR_ADDRESS=127.0.0.1:PORT JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 \\
        python tests/multiprocess_worker.py RUN_DIR OUT_DIR [--cpu_devices=2] [--fsdp] [--resume] ...

Joins the job as ``train.py`` does (no JAX_* variables: one process), trains a tiny GPT with
``fit`` and writes ``OUT_DIR/process<i>.json``: the final parameters, and the rows of the first
batches that this process fed (read back from its devices).  ``--kill_at=S``: every process kills
itself (SIGKILL) when about to build batch S, as a scheduler kills a job mid-run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

import numpy as np

from minilm.errors import run_cli
from minilm.train.distributed import DistributedConfig, join
from minilm.train.parallel import use_cpu_devices

BATCH, SEQ, VOCAB = 8, 8, 512  # VOCAB x D = 2**14: FSDP shards the token embedding


class Batches:
    """Random token windows; batch `step` is a pure function of the step (row i: example step*B + i)."""

    def __init__(self, batch_size: int, kill_at: int = -1):
        self.batch_size, self.kill_at = batch_size, kill_at

    def batch(self, step: int) -> dict[str, np.ndarray]:
        if step == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        tokens = np.random.default_rng([11, step]).integers(0, VOCAB, (self.batch_size, SEQ + 1), np.int32)
        return {"tokens": tokens[:, :-1], "targets": tokens[:, 1:]}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--cpu_devices", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=BATCH)
    parser.add_argument("--fsdp", action="store_true")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--kill_at", type=int, default=-1)
    parser.add_argument("--init_timeout", type=int, default=60)
    args = parser.parse_args(argv)
    join(DistributedConfig(init_timeout=args.init_timeout))
    use_cpu_devices(args.cpu_devices)

    import jax
    import optax
    from flax import nnx

    from minilm.models.transformer import GPT, TransformerConfig
    from minilm.train import checkpoint
    from minilm.train.loop import TrainConfig, _placement, fit

    def lm_loss(model, batch, rngs):
        logits = model(batch["tokens"], rngs=rngs)  # (B, T, V)
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"]).mean(), {}

    cfg = TrainConfig(
        steps=6, batch_size=args.batch_size, lr=3e-3, warmup_steps=2, log_every=1, eval_every=3,
        ckpt_every=3, fsdp=args.fsdp,
    )  # fmt: skip
    model_cfg = TransformerConfig(
        vocab_size=VOCAB, max_len=SEQ, n_layer=1, n_head=2, d_model=32, d_ff=64, dropout=0.1
    )
    model = GPT(model_cfg, rngs=nnx.Rngs(0))
    probe = Batches(args.batch_size).batch(999)  # held out
    eval_loss = nnx.jit(lambda m: lm_loss(m, probe, None)[0])
    eval_fn = lambda m: {"eval_loss": eval_loss(m)}  # noqa: E731
    place_batch = _placement(cfg)[1]  # what fit feeds: this process's rows, as one global array
    fed = []  # this process's rows of batches 0 and 1, as its devices hold them
    for step in range(2):
        shards = place_batch(Batches(args.batch_size).batch(step))["tokens"].addressable_shards
        shards = sorted(shards, key=lambda shard: shard.index[0].start or 0)
        fed.append(np.concatenate([np.asarray(shard.data) for shard in shards]))
    result = fit(
        model,
        lm_loss,
        Batches(args.batch_size, args.kill_at),
        cfg,
        Path(args.run_dir),
        eval_fn=eval_fn,
        resume=args.resume,
    )
    out = {
        "process": jax.process_index(),
        "fed": [rows.tolist() for rows in fed],
        "last_eval": result.last_eval,
        "params": {k: v.tolist() for k, v in checkpoint.flatten(nnx.state(model, nnx.Param)).items()},
    }
    Path(args.out_dir, f"process{jax.process_index()}.json").write_text(json.dumps(out))


if __name__ == "__main__":
    run_cli(main)
