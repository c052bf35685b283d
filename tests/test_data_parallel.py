"""Data-parallel training over 4 (simulated CPU) devices -- parameters replicated, or FSDP-sharded --
equals single-device training on the same global batch: loss curves and final parameters agree to 1e-5.

XLA's device count is fixed when JAX starts, so the comparison runs in a fresh process that first
splits the CPU into 4 devices with ``use_cpu_devices`` (what ``train.py --cpu_devices=4`` does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from minilm.errors import UserError
from minilm.train.distributed import DistributedConfig

SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile
    import jax, jax.numpy as jnp, numpy as np
    from flax import nnx
    from minilm.train import checkpoint
    from minilm.train.loop import TrainConfig, fit
    from minilm.train.parallel import use_cpu_devices

    use_cpu_devices(4)

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.a = nnx.Linear(6, 4096, rngs=rngs)  # 24,576 weights: FSDP shards this one
            self.b = nnx.Linear(4096, 3, rngs=rngs)
            self.drop = nnx.Dropout(0.1)

        def __call__(self, x, rngs=None):
            h = self.drop(jax.nn.tanh(self.a(x)), deterministic=rngs is None, rngs=rngs)
            return self.b(h)

    def loss_fn(model, batch, rngs):
        logp = jax.nn.log_softmax(model(batch["x"], rngs))
        return -jnp.mean(jnp.take_along_axis(logp, batch["y"][:, None], axis=1)), {}

    class Batches:
        def batch(self, step):
            rng = np.random.default_rng([3, step])
            x = rng.normal(size=(16, 6)).astype(np.float32)
            return {"x": x, "y": (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 1).astype(np.int32)}

    out = {"devices": jax.device_count()}
    for name, n, fsdp in (("one", 1, False), ("dp", 4, False), ("fsdp", 4, True)):
        model = Net(nnx.Rngs(0))
        cfg = TrainConfig(steps=12, batch_size=16, lr=1e-3, warmup_steps=2, log_every=1, eval_every=0,
                          ckpt_every=0, devices=n, fsdp=fsdp)
        run = tempfile.mkdtemp()
        fit(model, loss_fn, Batches(), cfg, run)
        lines = [json.loads(l) for l in open(run + "/metrics.jsonl")]
        params = checkpoint.flatten(nnx.state(model, nnx.Param))
        kernel = nnx.state(model, nnx.Param)["a"]["kernel"][...]
        out[name] = {"loss": [r["loss"] for r in lines], "params": {k: v.tolist() for k, v in params.items()},
                     "sharded": not kernel.sharding.is_fully_replicated}
    print(json.dumps(out))
    """
)


def test_four_devices_match_one_device():
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4
    assert not out["dp"]["sharded"] and out["fsdp"]["sharded"]  # FSDP really split the big kernel
    one = out["one"]
    assert len(one["loss"]) == 12 and one["loss"][-1] < one["loss"][0]  # it trained
    for four in (out["dp"], out["fsdp"]):
        for a, b in zip(one["loss"], four["loss"], strict=True):
            assert abs(a - b) <= 1e-5 * max(1.0, abs(a))
        for name, value in one["params"].items():
            diff = max(abs(x - y) for x, y in zip(_flat(value), _flat(four["params"][name]), strict=True))
            assert diff <= 1e-5, (name, diff)


def test_cpu_devices_must_be_positive():
    with pytest.raises(UserError, match="^cpu_devices=0: must be >= 1$"):
        DistributedConfig(cpu_devices=0)


def _flat(x):
    return [v for item in x for v in _flat(item)] if isinstance(x, list) else [x]
