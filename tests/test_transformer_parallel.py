"""4-way data parallel (and FSDP-style) GPT training equals single-device training on the same global batch.

JAX fixes its device count when it starts, so the test runs this file as a script in a fresh process
with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``; the script prints the loss curves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

STEPS = 3


def test_data_parallel_loss_curve_equals_single_device() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    env["PYTHONPATH"] = path
    out = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    curves = json.loads(out.stdout.strip().splitlines()[-1])
    assert curves["devices"] == 4
    assert curves["batch_devices"] == 4  # the batch really was split over 4 devices
    single = np.asarray(curves["single"])
    assert single[-1] < single[0]  # it trains
    np.testing.assert_allclose(curves["data_parallel"], single, atol=1e-5)
    np.testing.assert_allclose(curves["fsdp"], single, atol=1e-5)
    assert "not divisible by the 4 devices" in curves["odd_batch_error"]


def _curves() -> dict:
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from minilm.errors import UserError
    from minilm.models.transformer import GPT, TransformerConfig
    from minilm.train.parallel import data_mesh, fsdp_sharding, replicate, shard_batch

    cfg = TransformerConfig(vocab_size=64, max_len=16, n_layer=1, n_head=2, d_model=32, d_ff=64, dropout=0.1)
    graphdef, params = nnx.split(GPT(cfg, rngs=nnx.Rngs(0)), nnx.Param)
    tx = optax.adamw(3e-3)
    batch = np.random.default_rng(0).integers(0, 64, (8, 17)).astype(np.int32)  # global batch 8, learnt

    def loss_fn(p, tokens, key):
        logits = nnx.merge(graphdef, p)(tokens[:, :-1], rngs=nnx.Rngs(dropout=key))
        return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()

    @jax.jit
    def step(p, s, tokens, key):
        loss, g = jax.value_and_grad(loss_fn)(p, tokens, key)
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s, loss

    def train(place_params, place_batch) -> list[float]:
        p = place_params(params)
        s = place_params(tx.init(params))
        losses = []
        for i in range(STEPS):
            p, s, loss = step(p, s, place_batch(jnp.asarray(batch)), jax.random.key(i))
            losses.append(float(loss))
        return losses

    mesh = data_mesh()
    sharded = shard_batch(jnp.asarray(batch), mesh)

    try:
        shard_batch(jnp.zeros((9, 17)), mesh)
        odd_batch_error = ""
    except UserError as e:
        odd_batch_error = str(e)

    def fsdp(tree):
        return jax.device_put(tree, fsdp_sharding(tree, mesh, min_size=256))

    return {
        "devices": len(jax.devices()),
        "batch_devices": len(sharded.sharding.device_set),
        "single": train(lambda t: t, lambda b: b),
        "data_parallel": train(lambda t: replicate(t, mesh), lambda b: shard_batch(b, mesh)),
        "fsdp": train(fsdp, lambda b: shard_batch(b, mesh)),
        "odd_batch_error": odd_batch_error,
    }


if __name__ == "__main__":
    print(json.dumps(_curves()))
