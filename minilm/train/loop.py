"""The training loop shared by every model in minilm.

The trainer knows nothing about the model (as minGPT's ``trainer.py``): it takes

- ``model``: an NNX module, updated in place,
- ``loss_fn(model, batch, rngs) -> (loss, aux)``: ``rngs`` is an ``nnx.Rngs`` during training
  (dropout on) and ``None`` at evaluation; ``aux`` is a dict of scalars to log,
- ``batches``: anything with ``.batch(step) -> dict[str, np.ndarray]``, deterministic in ``step``, so
  the position in the data is the step number and resuming needs nothing else,
- ``trainable``: an NNX filter.  Only those parameters get gradients *and optimizer state*: zeroed
  gradients would not freeze a weight under AdamW, whose weight decay still moves it.

One optimizer step is one pure function compiled once with ``jax.jit``::

    graphdef, trainable, frozen = nnx.split(model, trainable_filter, ...)
    step(trainable, frozen, opt_state, batch, step) -> (trainable', opt_state', loss, aux, grad_norm)

The compiled step takes and returns the three states as flat lists of arrays: flattening NNX states
(a Python object per variable) on every call costs about 3 ms a step on a CPU, several percent of a
small model's step.  The loop rebuilds the states only to evaluate, checkpoint and finish, and it
prepares the next batch while the device still computes the current step.

Data parallelism (:mod:`minilm.train.parallel`, ``jax.sharding``): with several devices the batch
is split along a ``data`` mesh axis and the parameters and optimizer state are replicated (or, with
``fsdp``, sharded); ``jit`` compiles one SPMD program in which XLA all-reduces the gradients, so the
numbers equal single-device training on the same global batch.  ``train.py`` joins a multi-host job
(``jax.distributed``) when ``JAX_COORDINATOR_ADDRESS`` is set.

Gradient accumulation runs inside it (``lax.scan`` over micro-batches, mean of their gradients).
Dropout keys are ``fold_in(key(seed), step)``: the same seed gives the same numbers, and a resumed
run draws exactly the keys an uninterrupted one would.  A non-finite loss or gradient leaves the
parameters untouched, stops the run with a clear message and keeps the last good checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from minilm.config import ConfigError, above, at_least, in_range, opt
from minilm.errors import UserError
from minilm.train import checkpoint, parallel
from minilm.train.optim import SCHEDULES, global_norm, learning_rate_schedule, make_optimizer
from minilm.train.runlog import MetricsLog, plot_losses


@dataclass
class TrainConfig:
    """Optimisation settings shared by every training command."""

    steps: int = opt(1000, "optimizer steps", check=at_least(1))
    batch_size: int = opt(32, "examples (or sequences) per optimizer step", check=at_least(1))
    lr: float = opt(1e-3, "peak learning rate", check=above(0))
    schedule: str = opt("cosine", "learning-rate decay after warmup", choices=SCHEDULES)
    warmup_steps: int = opt(100, "linear warmup steps (counted inside `steps`)", check=at_least(0))
    min_lr_ratio: float = opt(0.1, "final learning rate as a fraction of `lr`", check=in_range(0, 1))
    weight_decay: float = opt(0.1, "AdamW decoupled weight decay (matrices only)", check=at_least(0))
    beta1: float = opt(0.9, "AdamW beta1", check=in_range(0, 1, high_open=True))
    beta2: float = opt(0.99, "AdamW beta2", check=in_range(0, 1, high_open=True))
    clip_norm: float = opt(1.0, "clip the global gradient norm to this (0 = off)", check=at_least(0))
    grad_accum: int = opt(1, "micro-batches per step (batch_size must divide evenly)", check=at_least(1))
    log_every: int = opt(10, "steps between metrics.jsonl lines", check=at_least(1))
    eval_every: int = opt(200, "steps between evaluations (0 = only at the end)", check=at_least(0))
    ckpt_every: int = opt(200, "steps between checkpoints (0 = only at the end)", check=at_least(0))
    patience: int = opt(
        0, "early stopping: evaluations without improvement before stopping (0 = off)", check=at_least(0)
    )
    seed: int = opt(0, "seed for initialisation, data order and dropout", check=at_least(0))
    progress: bool = opt(True, "show a progress bar")
    devices: int = opt(
        0, "data-parallel over this many devices (0 = all; batch_size must divide)", check=at_least(0)
    )
    fsdp: bool = opt(False, "also shard large parameters and their optimizer state over the devices")

    def check(self) -> None:
        if self.batch_size % self.grad_accum:
            raise ConfigError("batch_size", "must be a multiple of {grad_accum}")


class Batches(Protocol):
    def batch(self, step: int) -> dict[str, np.ndarray]: ...


LossFn = Callable[[nnx.Module, dict[str, jax.Array], nnx.Rngs | None], tuple[jax.Array, dict[str, jax.Array]]]


@dataclass
class FitResult:
    step: int  # the last step trained
    stopped_early: bool
    best_eval: float | None  # best eval_loss seen (early stopping), if evaluated
    last_eval: dict[str, float]


def _check_config(cfg: TrainConfig) -> None:
    if cfg.steps < 1:
        raise UserError(f"--steps must be >= 1, got {cfg.steps}")
    if cfg.batch_size < 1 or cfg.grad_accum < 1 or cfg.batch_size % cfg.grad_accum:
        raise UserError(
            f"--batch_size={cfg.batch_size} must be a positive multiple of --grad_accum={cfg.grad_accum}"
        )


def _placement(cfg: TrainConfig):
    """``(place_state, place_batch)`` for ``cfg.devices`` devices (see :mod:`minilm.train.parallel`)."""
    available = jax.devices()
    if cfg.devices > len(available):
        raise UserError(f"--devices={cfg.devices}, but only {len(available)} are available")
    mesh = parallel.data_mesh(available[: cfg.devices] if cfg.devices else available)
    if cfg.batch_size % mesh.size:
        raise UserError(f"--batch_size={cfg.batch_size} must be a multiple of the {mesh.size} devices")

    def place_state(tree):
        if cfg.fsdp:
            return jax.device_put(tree, parallel.fsdp_sharding(tree, mesh))
        return parallel.replicate(tree, mesh)

    return place_state, lambda batch: parallel.shard_batch(batch, mesh)


def make_train_step(graphdef, loss_fn: LossFn, tx: optax.GradientTransformation, cfg: TrainConfig, trees):
    """The pure, jit-compiled optimizer step over flat lists of arrays (see module docstring).

    ``trees`` = (params, frozen, opt_state) as :func:`fit` holds them (their structure is all that is
    used).  Returns ``step(params_leaves, frozen_leaves, opt_leaves, batch, step) -> (params_leaves',
    opt_leaves', loss, aux, grad_norm)``; rebuild states with ``jax.tree.unflatten``.
    """
    treedefs = [jax.tree.structure(tree) for tree in trees]
    base_key = jax.random.key(cfg.seed)

    def loss_of(params, frozen, batch, key):
        model = nnx.merge(graphdef, params, frozen)
        return loss_fn(model, batch, nnx.Rngs(dropout=key))

    grad_fn = jax.value_and_grad(loss_of, has_aux=True)

    def step_fn(params, frozen, opt_state, batch, step):
        key = jax.random.fold_in(base_key, step)
        if cfg.grad_accum == 1:
            (loss, aux), grads = grad_fn(params, frozen, batch, key)
        else:
            # (B, ...) -> (accum, B/accum, ...): scan over micro-batches, average the gradients.
            micro = jax.tree_util.tree_map(lambda x: x.reshape(cfg.grad_accum, -1, *x.shape[1:]), batch)
            keys = jax.random.split(key, cfg.grad_accum)

            def accumulate(total, xs):
                mb, k = xs
                (loss, aux), grads = grad_fn(params, frozen, mb, k)
                return jax.tree_util.tree_map(jnp.add, total, (loss, aux, grads)), None

            zeros = jax.tree_util.tree_map(
                jnp.zeros_like, jax.eval_shape(lambda: grad_fn(params, frozen, batch, key))
            )
            zero_loss_aux, zero_grads = zeros
            total, _ = jax.lax.scan(accumulate, (*zero_loss_aux, zero_grads), (micro, keys))
            loss, aux, grads = jax.tree_util.tree_map(lambda x: x / cfg.grad_accum, total)
        grad_norm = global_norm(grads)

        def update(_):
            updates, new_opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), new_opt_state

        # A non-finite loss or gradient must not poison the parameters: keep the old ones.  (lax.cond,
        # not a where() over every leaf, which would copy the whole optimizer state each step.)
        ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        new_params, new_opt_state = jax.lax.cond(ok, update, lambda _: (params, opt_state), None)
        return new_params, new_opt_state, loss, aux, grad_norm

    def flat_step(*args):
        states = [jax.tree.unflatten(d, leaves) for d, leaves in zip(treedefs, args[:3], strict=True)]
        new_params, new_opt_state, loss, aux, grad_norm = step_fn(*states, *args[3:])
        return jax.tree.leaves(new_params), jax.tree.leaves(new_opt_state), loss, aux, grad_norm

    return jax.jit(flat_step, donate_argnums=(0, 2))


def fit(
    model: nnx.Module,
    loss_fn: LossFn,
    batches: Batches,
    cfg: TrainConfig,
    run_dir: Path,
    *,
    eval_fn: Callable[[nnx.Module], dict[str, float]] | None = None,
    trainable: Any = nnx.Param,
    resume: bool = False,
    phase: str = "train",
) -> FitResult:
    """Train ``model`` in place for ``cfg.steps`` steps; log, evaluate and checkpoint under ``run_dir``.

    The checkpoint is ``run_dir/checkpoints/{phase}.safetensors``.  With ``resume``, training continues
    from it (a missing, corrupt or mismatched checkpoint is a UserError); a checkpoint whose step
    is already ``cfg.steps`` means the phase is done and only restores the parameters.
    """
    _check_config(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoints" / f"{phase}.safetensors"
    log = MetricsLog(run_dir / "metrics.jsonl")

    graphdef, params, frozen = nnx.split(model, trainable, ...)
    schedule = learning_rate_schedule(cfg.lr, cfg.steps, cfg.schedule, cfg.warmup_steps, cfg.min_lr_ratio)
    tx = make_optimizer(
        schedule, weight_decay=cfg.weight_decay, b1=cfg.beta1, b2=cfg.beta2, clip_norm=cfg.clip_norm
    )
    opt_state = tx.init(params)
    place_state, place_batch = _placement(cfg)
    start, best, bad_evals, stopped = 0, math.inf, 0, False
    window: list[float] = []
    # a copy: `params` buffers are donated to the step function
    best_params = jax.tree_util.tree_map(jnp.copy, params) if cfg.patience else None

    def save(step: int) -> None:
        arrays = {**checkpoint.flatten(params, "params."), **checkpoint.flatten(opt_state, "opt.")}
        if best_params is not None:
            arrays.update(checkpoint.flatten(best_params, "best."))
        meta = {
            "phase": phase,
            "step": step,
            "seed": cfg.seed,
            "best": best if math.isfinite(best) else None,
            "bad_evals": bad_evals,
            "stopped": stopped,
            "loss_window": window,  # losses since the last log line, so the next line averages the same
            "train_config": dataclasses.asdict(cfg),
        }
        checkpoint.save_arrays(ckpt_path, arrays, meta)

    if resume:
        arrays, meta = checkpoint.load_arrays(ckpt_path)
        if meta.get("phase") != phase:
            raise UserError(f"{ckpt_path}: a checkpoint of phase {meta.get('phase')!r}, expected {phase!r}")
        params = checkpoint.unflatten(params, arrays, "params.", str(ckpt_path))
        opt_state = checkpoint.unflatten(opt_state, arrays, "opt.", str(ckpt_path))
        if best_params is not None:
            best_params = checkpoint.unflatten(best_params, arrays, "best.", str(ckpt_path))
        start, bad_evals, stopped = meta["step"], meta["bad_evals"], meta["stopped"]
        window = meta["loss_window"]
        best = math.inf if meta["best"] is None else meta["best"]
        log.truncate_after(phase, start)

    def evaluate(step: int) -> dict[str, float]:
        nnx.update(model, params)
        result = {k: float(v) for k, v in eval_fn(model).items()}
        log.write({"phase": phase, "step": step, **result})
        return result

    trees = place_state((params, frozen, opt_state))
    step_fn = make_train_step(graphdef, loss_fn, tx, cfg, trees)
    (params_def, params_leaves), (_, frozen_leaves), (opt_def, opt_leaves) = (
        (jax.tree.structure(tree), jax.tree.leaves(tree)) for tree in trees
    )

    def sync() -> None:  # the states from the flat lists the step returned
        nonlocal params, opt_state
        params, opt_state = (
            jax.tree.unflatten(params_def, params_leaves),
            jax.tree.unflatten(opt_def, opt_leaves),
        )

    last_eval: dict[str, float] = {}
    bar = tqdm(total=cfg.steps, initial=start, desc=phase, disable=not cfg.progress, dynamic_ncols=True)
    t0 = time.perf_counter()
    step = start
    batch = place_batch(batches.batch(step)) if step < cfg.steps else None
    while step < cfg.steps and not stopped:
        params_leaves, opt_leaves, loss, aux, grad_norm = step_fn(
            params_leaves, frozen_leaves, opt_leaves, batch, step
        )
        if step + 1 < cfg.steps:  # made while the step runs (the step only reads it)
            batch = place_batch(batches.batch(step + 1))
        loss_value = float(loss)
        if not (math.isfinite(loss_value) and math.isfinite(float(grad_norm))):
            sync()
            nnx.update(model, params)
            bar.close()
            kept = f"the last good checkpoint is {ckpt_path}" if ckpt_path.exists() else "no checkpoint yet"
            raise UserError(
                f"{phase}: non-finite loss ({loss_value}) or gradient norm at step {step + 1}; "
                f"stopped, {kept} (try a lower --lr or --clip_norm)"
            )
        step += 1
        window.append(loss_value)
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4f}")
        if step % cfg.log_every == 0 or step == cfg.steps:
            record = {
                "phase": phase,
                "step": step,
                "loss": float(np.mean(window)),
                "lr": float(schedule(step - 1)),
                "grad_norm": float(grad_norm),
                "seconds": round(time.perf_counter() - t0, 3),
                **{k: float(v) for k, v in aux.items()},
            }
            log.write(record)
            window = []
        evaluating = eval_fn is not None and (
            step == cfg.steps or (cfg.eval_every and step % cfg.eval_every == 0)
        )
        saving = step == cfg.steps or (cfg.ckpt_every and step % cfg.ckpt_every == 0)
        if evaluating or saving:
            sync()
        if evaluating:
            last_eval = evaluate(step)
            bar.set_postfix(loss=f"{loss_value:.4f}", **{k: f"{v:.4f}" for k, v in last_eval.items()})
            if cfg.patience and "eval_loss" in last_eval:
                if last_eval["eval_loss"] < best:
                    best, bad_evals = last_eval["eval_loss"], 0
                    best_params = jax.tree_util.tree_map(jnp.copy, params)
                else:
                    bad_evals += 1
                    stopped = bad_evals >= cfg.patience
        if saving or stopped:
            save(step)
    bar.close()
    sync()
    if best_params is not None and math.isfinite(best):
        params = best_params  # early stopping hands back the best model, not the last
    nnx.update(model, params)
    plot_losses(log, run_dir / "loss.png")
    return FitResult(
        step=step, stopped_early=stopped, best_eval=best if math.isfinite(best) else None, last_eval=last_eval
    )
