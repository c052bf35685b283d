"""Word vectors on several devices (:mod:`minilm.vectors.devices`): the replicas' changes are summed as
the formula says, they drift apart only between sums, every method trains with ``devices=2`` (the
same numbers for the same seed), and asking for more devices than JAX sees is one clear error.

XLA's device count is fixed when JAX starts, so the two-device checks run in a fresh process that
splits the CPU into 2 devices (what ``train.py vectors --cpu_devices=2`` does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import pytest

from minilm.errors import UserError
from minilm.vectors.devices import device_mesh

SCRIPT = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np
    from minilm.train.parallel import use_cpu_devices

    use_cpu_devices(2)
    from minilm.data.world import generate_corpus
    from minilm.vectors import word2vec
    from minilm.vectors.devices import Trainer, one_device_call
    from minilm.vectors.train import VectorsConfig, train_vectors, world_evaluation

    out = {"devices": jax.device_count()}
    rng = np.random.default_rng(0)
    V, D, S, B, R = 40, 8, 4, 16, 2
    w_in = np.asarray(word2vec.init_params(V, D, 0).w_in)
    params = word2vec.Params(jnp.asarray(w_in), jnp.asarray(w_in[::-1] * 50))  # non-zero output vectors
    batches = word2vec.Batch(
        rng.integers(0, V, (2 * S, B)).astype(np.int32),
        rng.integers(-1, V, (2 * S, B, 2 * R)).astype(np.int32),
        rng.integers(0, V, (2 * S, B, 5)).astype(np.int32),
        np.full(2 * S, 0.5, np.float32),
    )
    fn = word2vec.scanned(word2vec.skipgram_step)
    copy = lambda tree: jax.tree.map(jnp.array, tree)  # one_device_call donates its parameters

    # one call on 2 devices, summed: base + sum_i (share i trained from base - base)
    trainer = Trainer(fn, copy(params), word2vec.Settings(steps_per_call=S, devices=2, sync_every=1))
    trainer(batches)
    got = trainer.params()
    shares = [jax.tree.map(lambda a: a[i * S : (i + 1) * S], batches) for i in range(2)]
    trained = [one_device_call(fn, copy(params), share)[0] for share in shares]
    base = jax.tree.map(np.asarray, params)
    summed = lambda b, q0, q1: b + ((np.asarray(q0) - b) + (np.asarray(q1) - b))
    expected = jax.tree.map(summed, base, *trained)
    out["sum_error"] = max(float(np.abs(g - e).max()) for g, e in zip(got, expected))
    out["change"] = min(float(np.abs(np.asarray(q) - b).max()) for t in trained for q, b in zip(t, base))
    mean = jax.tree.map(lambda b, q0, q1: (np.asarray(q0) + np.asarray(q1)) / 2, base, *trained)
    out["from_mean"] = max(float(np.abs(g - m).max()) for g, m in zip(got, mean))

    # sync_every=2: after one call the replicas differ and the base has not moved; the second call sums
    trainer = Trainer(fn, copy(params), word2vec.Settings(steps_per_call=S, devices=2, sync_every=2))
    trainer(batches)
    replicas = [np.asarray(a) for a in trainer.state.params.w_out]
    out["drift"] = float(np.abs(replicas[0] - replicas[1]).max())
    out["base_moved"] = float(np.abs(np.asarray(trainer.state.base.w_out[0]) - base.w_out).max())
    trainer(batches)
    out["since_sync"] = trainer.since_sync
    replicas = [np.asarray(a) for a in trainer.state.params.w_out]
    out["after_sum"] = float(np.abs(replicas[0] - replicas[1]).max())

    # every method end to end on 2 devices
    lines = [line.split() for line in generate_corpus(0)]
    tiny = dict(dim=16, epochs=1, window=2, batch=32, steps_per_call=8, min_count=2, devices=2, sync_every=2)
    for method, extra in (("cbow", {}), ("fasttext", {"buckets": 5000}), ("glove", {})):
        kv, figures = train_vectors(VectorsConfig(method=method, **tiny, **extra), lines[:4000])
        out[method] = bool(np.isfinite(kv.vectors).all()) and figures["train_seconds"] > 0
    runs = [train_vectors(VectorsConfig(dim=50, devices=2), lines)[0] for _ in range(2)]
    out["same_seed_same_vectors"] = bool(np.array_equal(runs[0].vectors, runs[1].vectors))
    out["skipgram"] = world_evaluation(runs[0])
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def two_devices() -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_replicas_changes_are_summed(two_devices):
    out = two_devices
    assert out["devices"] == 2
    assert out["change"] > 1e-3  # each share moved every table
    assert out["sum_error"] < 1e-6
    assert out["from_mean"] > 1e-3  # summed, not averaged


def test_replicas_drift_only_between_sums(two_devices):
    assert two_devices["drift"] > 1e-3 and two_devices["base_moved"] == 0
    assert two_devices["since_sync"] == 0 and two_devices["after_sum"] == 0


def test_every_method_trains_on_two_devices(two_devices):
    assert two_devices["cbow"] and two_devices["fasttext"] and two_devices["glove"]
    assert two_devices["same_seed_same_vectors"]
    skipgram = two_devices["skipgram"]  # one device: 0.99, 0.74 (test_vectors_train.py: >= 0.9, > 0.7)
    assert skipgram["world_analogy_accuracy"] >= 0.9 and skipgram["world_similarity_spearman"] > 0.7, skipgram


def test_more_devices_than_jax_sees_is_one_clear_error():
    n = jax.local_device_count() + 1
    with pytest.raises(
        UserError, match=rf"^--devices={n}, but JAX sees {n - 1} \(on a CPU: add --cpu_devices={n}\)$"
    ):
        device_mesh(n)
