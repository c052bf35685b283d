"""The training core: clipping and schedules vs optax, clip + AdamW vs the textbook step of
minilm.reference, masked weight decay, determinism, exact resume, gradient accumulation, freezing, NaN
handling and checkpoint errors."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import minilm.reference as reference
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.train import checkpoint
from minilm.train.loop import TrainConfig, fit
from minilm.train.optim import clip_by_global_norm, learning_rate_schedule, make_optimizer


class TinyNet(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(4, 8, rngs=rngs)
        self.norm = nnx.LayerNorm(8, rngs=rngs)
        self.out = nnx.Linear(8, 1, rngs=rngs)
        self.drop = nnx.Dropout(0.2)

    def __call__(self, x, rngs=None):  # (B, 4) -> (B,)
        h = self.drop(jax.nn.gelu(self.norm(self.hidden(x))), deterministic=rngs is None, rngs=rngs)
        return self.out(h)[:, 0]


def mse(model, batch, rngs):
    err = model(batch["x"], rngs) - batch["y"]
    return jnp.mean(err**2), {"mae": jnp.mean(jnp.abs(err))}


class RegressionBatches:
    """y = sum(x) + noise; batch `step` is a pure function of the step."""

    def __init__(self, batch_size=8, nan_at=None, stop_at=None):
        self.batch_size, self.nan_at, self.stop_at = batch_size, nan_at, stop_at

    def batch(self, step):
        if step == self.stop_at:
            raise KeyboardInterrupt  # a killed run
        rng = np.random.default_rng([7, step])
        x = rng.normal(size=(self.batch_size, 4)).astype(np.float32)
        y = (x.sum(1) + 0.1 * rng.normal(size=self.batch_size)).astype(np.float32)
        if step == self.nan_at:
            y[0] = np.nan
        return {"x": x, "y": y}


def small_cfg(**kw):
    base = dict(
        steps=12,
        batch_size=8,
        lr=1e-2,
        warmup_steps=3,
        log_every=2,
        eval_every=4,
        ckpt_every=5,
    )
    return TrainConfig(**{**base, **kw})


def params_of(model):
    return checkpoint.flatten(nnx.state(model, nnx.Param))


def train(tmp_path, name, cfg=None, batches=None, resume=False, **kw):
    model = TinyNet(nnx.Rngs(0))
    fit(model, mse, batches or RegressionBatches(), cfg or small_cfg(), tmp_path / name, resume=resume, **kw)
    return model


# --- optimizer pieces against optax -------------------------------------------------------------


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_by_global_norm_equals_optax(max_norm):
    rng = np.random.default_rng(0)
    grads = {"a": jnp.asarray(rng.normal(size=(3, 5))), "b": [jnp.asarray(rng.normal(size=7))]}
    ours, _ = clip_by_global_norm(max_norm).update(grads, None)
    ref, _ = optax.clip_by_global_norm(max_norm).update(grads, optax.EmptyState())
    for x, y in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(ref), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    total = np.sqrt(sum(float(jnp.sum(x**2)) for x in jax.tree_util.tree_leaves(ours)))
    assert total <= max_norm * (1 + 1e-6)


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_by_global_norm_equals_reference(max_norm):
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(3, 5)), rng.normal(size=7)]
    ours, _ = clip_by_global_norm(max_norm).update([jnp.asarray(g) for g in grads], None)
    for x, y in zip(ours, reference.clip_by_global_norm(grads, max_norm), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6)


def test_make_optimizer_equals_reference_clip_then_adamw():
    """Global-norm clipping over the whole tree, then AdamW with decay on matrices only; the schedule's
    value at count t - 1 is step t's learning rate (warmup starts at 0).  Four steps, the last with a
    gradient below the clipping norm."""
    rng = np.random.default_rng(2)
    theta = {"kernel": rng.normal(size=(3, 4)), "bias": rng.normal(size=4)}
    schedule = learning_rate_schedule(0.1, 10, "linear", warmup_steps=2)
    tx = make_optimizer(schedule, weight_decay=0.3, b1=0.8, b2=0.9, eps=1e-6, clip_norm=0.5)
    params = {k: jnp.asarray(v, jnp.float32) for k, v in theta.items()}
    state = tx.init(params)
    m = {k: np.zeros_like(v) for k, v in theta.items()}
    v = {k: np.zeros_like(x) for k, x in theta.items()}
    for t, scale in enumerate([2.0, 2.0, 2.0, 0.01], start=1):
        grads = {k: scale * rng.normal(size=x.shape) for k, x in theta.items()}
        updates, state = tx.update({k: jnp.asarray(g, jnp.float32) for k, g in grads.items()}, state, params)
        params = optax.apply_updates(params, updates)
        clipped = dict(zip(grads, reference.clip_by_global_norm(list(grads.values()), 0.5), strict=True))
        for k in theta:
            decay = 0.3 if theta[k].ndim >= 2 else 0.0
            theta[k], m[k], v[k] = reference.adamw_step(
                theta[k], clipped[k], m[k], v[k], t, float(schedule(t - 1)), 0.8, 0.9, 1e-6, decay
            )
            np.testing.assert_allclose(params[k], theta[k], rtol=1e-5, atol=1e-6, err_msg=f"{k}, step {t}")


def test_clip_handles_zero_gradient():
    zeros = {"a": jnp.zeros(3)}
    out, _ = clip_by_global_norm(1.0).update(zeros, None)
    assert np.all(np.isfinite(out["a"])) and np.all(out["a"] == 0)


def test_warmup_cosine_schedule_equals_optax():
    ours = learning_rate_schedule(3e-4, 1000, "cosine", warmup_steps=100, min_lr_ratio=0.1)
    ref = optax.warmup_cosine_decay_schedule(0.0, 3e-4, 100, decay_steps=1000, end_value=3e-5)
    for t in [0, 1, 50, 99, 100, 101, 500, 999, 1000, 1500]:
        np.testing.assert_allclose(float(ours(t)), float(ref(t)), rtol=1e-6, atol=1e-12)


def test_linear_and_constant_schedules():
    lin = learning_rate_schedule(1.0, 110, "linear", warmup_steps=10, min_lr_ratio=0.0)
    assert float(lin(5)) == pytest.approx(0.5)
    assert float(lin(10)) == pytest.approx(1.0)
    assert float(lin(60)) == pytest.approx(0.5)
    assert float(lin(110)) == pytest.approx(0.0)
    const = learning_rate_schedule(2.0, 100, "constant", warmup_steps=0)
    assert float(const(0)) == float(const(99)) == 2.0


def test_weight_decay_skips_biases_and_layernorm():
    """With zero gradients AdamW's update is pure decoupled decay: W <- W - lr*wd*W, biases untouched."""
    params = {"kernel": jnp.ones((2, 3)), "bias": jnp.ones(3), "scale": jnp.ones(3)}
    tx = make_optimizer(optax.constant_schedule(0.1), weight_decay=0.5, clip_norm=1.0)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    updates, _ = tx.update(zeros, tx.init(params), params)
    new = optax.apply_updates(params, updates)
    np.testing.assert_allclose(new["kernel"], 1 - 0.1 * 0.5, rtol=1e-6)
    np.testing.assert_array_equal(new["bias"], 1.0)
    np.testing.assert_array_equal(new["scale"], 1.0)


# --- the loop ------------------------------------------------------------------------------------


def test_training_reduces_loss_and_writes_logs(tmp_path):
    model = TinyNet(nnx.Rngs(0))
    batches = RegressionBatches()
    before = float(mse(model, batches.batch(999), None)[0])
    result = fit(
        model,
        mse,
        batches,
        small_cfg(steps=40),
        tmp_path / "run",
        eval_fn=lambda m: {"eval_loss": mse(m, batches.batch(999), None)[0]},
    )
    after = float(mse(model, batches.batch(999), None)[0])
    assert after < 0.5 * before
    assert result.step == 40 and result.last_eval["eval_loss"] == pytest.approx(after, rel=1e-5)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train_lines = [r for r in lines if "loss" in r]
    assert [r["step"] for r in train_lines] == list(range(2, 41, 2))
    assert {"phase", "lr", "grad_norm", "mae", "seconds"} <= set(train_lines[0])
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000
    assert (tmp_path / "run" / "checkpoints" / "train.safetensors").exists()


def test_same_seed_same_numbers(tmp_path):
    a, b = params_of(train(tmp_path, "a")), params_of(train(tmp_path, "b"))
    c = params_of(train(tmp_path, "c", small_cfg(seed=1)))  # another dropout stream
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_killed_run_resumes_bit_identical(tmp_path):
    full = params_of(train(tmp_path, "full"))
    with pytest.raises(KeyboardInterrupt):  # killed during step 8; last checkpoint at step 5
        train(tmp_path, "killed", batches=RegressionBatches(stop_at=7))
    assert checkpoint.load_arrays(tmp_path / "killed/checkpoints/train.safetensors")[1]["step"] == 5
    resumed = params_of(train(tmp_path, "killed", resume=True))
    assert all(np.array_equal(full[k], resumed[k]) for k in full)
    full_log = (tmp_path / "full/metrics.jsonl").read_text().splitlines()
    resumed_log = (tmp_path / "killed/metrics.jsonl").read_text().splitlines()
    strip = lambda lines: [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in lines]  # noqa: E731
    assert strip(full_log) == strip(resumed_log)


def test_gradient_accumulation_matches_full_batch(tmp_path):
    cfg = dict(steps=6, lr=1e-2)
    model_a, model_b = TinyNet(nnx.Rngs(0)), TinyNet(nnx.Rngs(0))
    no_dropout = lambda m, b, rngs: mse(m, b, None)  # noqa: E731  (dropout keys differ per micro-batch)
    fit(model_a, no_dropout, RegressionBatches(), TrainConfig(**cfg), tmp_path / "a")
    fit(model_b, no_dropout, RegressionBatches(), TrainConfig(grad_accum=2, **cfg), tmp_path / "b")
    a, b = params_of(model_a), params_of(model_b)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_frozen_parameters_do_not_move_under_weight_decay(tmp_path):
    model = TinyNet(nnx.Rngs(0))
    before = params_of(model)
    only_out = nnx.All(nnx.Param, nnx.PathContains("out"))
    fit(model, mse, RegressionBatches(), small_cfg(weight_decay=0.5), tmp_path / "f", trainable=only_out)
    after = params_of(model)
    for k in before:
        moved = not np.array_equal(before[k], after[k])
        assert moved == k.startswith("out."), k


def test_nan_stops_run_and_keeps_last_good_checkpoint(tmp_path):
    ckpt = tmp_path / "nan/checkpoints/train.safetensors"
    with pytest.raises(UserError, match="non-finite loss .* step 8"):
        train(tmp_path, "nan", batches=RegressionBatches(nan_at=7))
    arrays, meta = checkpoint.load_arrays(ckpt)
    assert meta["step"] == 5
    assert all(np.all(np.isfinite(v)) for v in arrays.values())


def test_early_stopping_returns_best_model(tmp_path):
    model = TinyNet(nnx.Rngs(0))
    scores = iter([3.0, 1.0, 2.0, 2.5, 2.7, 9.0])
    result = fit(
        model,
        mse,
        RegressionBatches(),
        small_cfg(steps=30, eval_every=2, patience=2),
        tmp_path / "es",
        eval_fn=lambda m: {"eval_loss": next(scores)},
    )
    assert result.stopped_early and result.step == 8 and result.best_eval == 1.0


# --- checkpoint errors ---------------------------------------------------------------------------


def test_resume_from_missing_checkpoint_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no checkpoint at"):
        train(tmp_path, "none", resume=True)


def test_resume_from_corrupt_checkpoint_is_a_user_error(tmp_path):
    path = tmp_path / "bad/checkpoints/train.safetensors"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00garbage")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        train(tmp_path, "bad", resume=True)
    assert path.read_bytes().endswith(b"garbage")  # nothing overwritten


def test_checkpoint_shape_mismatch_is_a_user_error(tmp_path):
    model = TinyNet(nnx.Rngs(0))
    state = nnx.state(model, nnx.Param)
    checkpoint.save_arrays(tmp_path / "c.safetensors", checkpoint.flatten(state, "params."))
    arrays, _ = checkpoint.load_arrays(tmp_path / "c.safetensors")
    arrays["params.hidden.kernel"] = np.zeros((5, 8), np.float32)
    with pytest.raises(UserError, match=r"hidden.kernel.*shape \(5, 8\).*\(4, 8\)"):
        checkpoint.unflatten(state, arrays, "params.", "c.safetensors")


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "x.bin"
    atomic_write_bytes(path, b"old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_bucketed_batches_cut_unused_padding_and_predict_the_same():
    """ExampleBatches(bucket=8): each batch as the full-width one, cut to its longest row rounded up to
    a multiple of 8; a BERT classifier's logits on it equal those on the full width."""
    from minilm.data.batches import ExampleBatches
    from minilm.models.heads import SequenceClassifier
    from minilm.models.transformer import BERT, TransformerConfig

    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 30, 64)
    mask = (np.arange(40)[None, :] < lengths[:, None]).astype(np.int32)  # right-padded to 40
    arrays = {"tokens": rng.integers(1, 50, (64, 40)).astype(np.int32) * mask, "attention_mask": mask}
    arrays["labels"] = rng.integers(0, 2, 64).astype(np.int32)
    full, cut = ExampleBatches(arrays, 4, 0), ExampleBatches(arrays, 4, 0, bucket=8)
    cfg = TransformerConfig.bert(vocab_size=50, max_len=40, n_layer=1, n_head=2, d_model=16, d_ff=32)
    model = SequenceClassifier(BERT(cfg, rngs=nnx.Rngs(0)), 2, pooling="mean", rngs=nnx.Rngs(1))
    widths = set()
    for step in range(8):
        a, b = full.batch(step), cut.batch(step)
        width = b["tokens"].shape[1]
        widths.add(width)
        assert width % 8 == 0 and width - 8 < a["attention_mask"].sum(1).max() <= width
        for key in a:
            np.testing.assert_array_equal(b[key], a[key][:, :width] if a[key].ndim == 2 else a[key])
        np.testing.assert_allclose(
            model(b["tokens"], attention_mask=b["attention_mask"]),
            model(a["tokens"], attention_mask=a["attention_mask"]),
            rtol=0,
            atol=1e-6,
        )
    assert len(widths) > 1
