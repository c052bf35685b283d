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
numbers equal single-device training on the same global batch.  The devices may belong to several
processes (:mod:`minilm.train.distributed`): each feeds its rows of ``batches.batch(step)``, and
the numbers do not depend on how many processes share the work.

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

from minilm.config import ConfigError, above, at_least, in_range, opt, validate
from minilm.errors import UserError
from minilm.train import checkpoint, distributed, parallel
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
    bias_correction: bool = opt(True, "Adam's bias correction (off: BERT's original BertAdam)")
    clip_norm: float = opt(1.0, "clip the global gradient norm to this (0 = off)", check=at_least(0))
    grad_accum: int = opt(1, "micro-batches per step (batch_size must divide evenly)", check=at_least(1))
    log_every: int = opt(10, "steps between metrics.jsonl lines", check=at_least(1))
    eval_every: int = opt(200, "steps between evaluations (0 = only at the end)", check=at_least(0))
    ckpt_every: int = opt(200, "steps between checkpoints (0 = only at the end)", check=at_least(0))
    patience: int = opt(
        0, "early stopping: evaluations without improvement before stopping (0 = off)", check=at_least(0)
    )
    seed: int = opt(0, "seed for initialisation, data order and dropout", check=at_least(0))
    devices: int = opt(
        0, "data-parallel over this many devices (0 = all; batch_size must divide)", check=at_least(0)
    )
    fsdp: bool = opt(False, "also shard large parameters and their optimizer state over the devices")

    def __post_init__(self) -> None:
        validate(self)  # also when a program builds one

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


def _placement(cfg: TrainConfig):
    """``(place_state, place_batch)`` for ``cfg.devices`` devices (see :mod:`minilm.train.parallel`)."""
    available = jax.devices()  # of every process
    if cfg.devices > len(available):
        raise UserError(f"--devices={cfg.devices}, but only {len(available)} are available")
    if jax.process_count() > 1 and cfg.devices not in (0, len(available)):
        raise UserError(f"--devices={cfg.devices}: with several processes every device trains (use 0)")
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
    progress: bool = False,
) -> FitResult:
    """Train ``model`` in place for ``cfg.steps`` steps; log, evaluate and checkpoint under ``run_dir``.

    The checkpoint is ``run_dir/checkpoints/{phase}.safetensors``.  With ``resume``, training continues
    from it (a missing, corrupt or mismatched checkpoint is a UserError); a checkpoint whose step
    is already ``cfg.steps`` means the phase is done and only restores the parameters.
    """
    graphdef, params, frozen = nnx.split(model, trainable, ...)
    schedule = learning_rate_schedule(cfg.lr, cfg.steps, cfg.schedule, cfg.warmup_steps, cfg.min_lr_ratio)
    tx = make_optimizer(
        schedule,
        weight_decay=cfg.weight_decay,
        b1=cfg.beta1,
        b2=cfg.beta2,
        clip_norm=cfg.clip_norm,
        bias_correction=cfg.bias_correction,
    )
    place_state, place_batch = _placement(cfg)
    loop = _Loop.start(model, cfg, Path(run_dir), phase, schedule, eval_fn, progress)
    opt_state = tx.init(params)
    # a copy: `params` buffers are donated to the step function
    best_params = jax.tree_util.tree_map(jnp.copy, params) if cfg.patience else None
    if resume:
        params, opt_state, best_params = loop.restore(params, opt_state, best_params)
    params, frozen, opt_state = place_state((params, frozen, opt_state))
    step_fn = make_train_step(graphdef, loss_fn, tx, cfg, (params, frozen, opt_state))
    frozen_leaves = jax.tree.leaves(frozen)
    loop.begin(params, opt_state, best_params)

    batch = place_batch(batches.batch(loop.step)) if loop.step < cfg.steps else None
    while loop.step < cfg.steps and not loop.stopped:
        loss, aux, grad_norm = loop.train_step(step_fn, frozen_leaves, batch)
        if loop.step + 1 < cfg.steps:  # made while the step runs (the step only reads it)
            batch = place_batch(batches.batch(loop.step + 1))
        loop.record(float(loss), float(grad_norm), aux)
        evaluating = eval_fn is not None and (
            loop.step == cfg.steps or (cfg.eval_every and loop.step % cfg.eval_every == 0)
        )
        if evaluating:
            loop.evaluate_and_stop()
        if loop.step == cfg.steps or (cfg.ckpt_every and loop.step % cfg.ckpt_every == 0) or loop.stopped:
            loop.save()
    return loop.finish()


@dataclass
class _Loop:
    """One :func:`fit` call: where the run is, its arrays, and the named things the loop does with them.

    Between steps the trained arrays are the flat leaf lists the compiled step takes and returns
    (``params``, ``opt_state``); :meth:`trees` rebuilds the NNX states when they are needed whole
    (evaluation, checkpoint, the end).  ``step``, ``best``, ``bad_evals``, ``stopped`` and ``window``
    are what a checkpoint stores besides the arrays, so a resumed run continues exactly.

    With several processes every process runs the loop alike (same steps, same numbers); only the
    lead (process 0) writes files: metrics.jsonl, the checkpoint, loss.png.
    """

    model: nnx.Module
    cfg: TrainConfig
    phase: str
    run_dir: Path
    schedule: optax.Schedule
    eval_fn: Callable[[nnx.Module], dict[str, float]] | None
    log: MetricsLog
    lead: bool  # process 0: the one that writes files
    progress: bool  # show a progress bar (on the lead)
    bar: Any = None  # tqdm progress bar
    t0: float = 0.0  # perf_counter() when the steps start, for the `seconds` of each log line
    step: int = 0  # optimizer steps done
    best: float = math.inf  # best eval_loss so far (early stopping)
    bad_evals: int = 0  # evaluations since the best one
    stopped: bool = False  # early stopping fired
    window: list[float] = dataclasses.field(default_factory=list)  # losses since the last log line
    loss: float = math.nan  # the last step's loss (for the progress bar)
    last_eval: dict[str, float] = dataclasses.field(default_factory=dict)
    params: list[jax.Array] = dataclasses.field(default_factory=list)  # trainable leaves
    opt_state: list[jax.Array] = dataclasses.field(default_factory=list)  # optimizer-state leaves
    treedefs: tuple[Any, Any] = (None, None)  # (params, opt_state) structures
    best_params: Any = None  # early stopping: a copy of the best evaluation's parameters (a tree)

    @classmethod
    def start(cls, model, cfg, run_dir, phase, schedule, eval_fn, progress) -> _Loop:
        lead = distributed.is_lead()
        if lead:
            run_dir.mkdir(parents=True, exist_ok=True)
        log = MetricsLog(run_dir / "metrics.jsonl")
        return cls(model, cfg, phase, run_dir, schedule, eval_fn, log, lead, progress)

    @property
    def ckpt_path(self) -> Path:
        return self.run_dir / "checkpoints" / f"{self.phase}.safetensors"

    def restore(self, params, opt_state, best_params):
        """Continue from the checkpoint: its arrays in place of the templates', its position in the run."""
        path = self.ckpt_path
        arrays, meta = checkpoint.load_arrays(path)
        if meta.get("phase") != self.phase:
            raise UserError(f"{path}: a checkpoint of phase {meta.get('phase')!r}, expected {self.phase!r}")
        params = checkpoint.unflatten(params, arrays, "params.", str(path))
        opt_state = checkpoint.unflatten(opt_state, arrays, "opt.", str(path))
        if best_params is not None:
            best_params = checkpoint.unflatten(best_params, arrays, "best.", str(path))
        self.step, self.bad_evals, self.stopped = meta["step"], meta["bad_evals"], meta["stopped"]
        self.window = meta["loss_window"]
        self.best = math.inf if meta["best"] is None else meta["best"]
        self.log.truncate_after(self.phase, self.step)
        return params, opt_state, best_params

    def begin(self, params, opt_state, best_params) -> None:
        """Keep the (placed) states as the flat leaf lists the step takes; start the bar and the clock."""
        self.treedefs = (jax.tree.structure(params), jax.tree.structure(opt_state))
        self.params, self.opt_state = jax.tree.leaves(params), jax.tree.leaves(opt_state)
        self.best_params = best_params
        cfg = self.cfg
        quiet = not (self.progress and self.lead)
        self.bar = tqdm(
            total=cfg.steps, initial=self.step, desc=self.phase, disable=quiet, dynamic_ncols=True
        )
        self.t0 = time.perf_counter()

    def trees(self) -> tuple[Any, Any]:
        """(params, opt_state) as NNX states, rebuilt from the flat leaves."""
        params_def, opt_def = self.treedefs
        return jax.tree.unflatten(params_def, self.params), jax.tree.unflatten(opt_def, self.opt_state)

    def train_step(self, step_fn, frozen_leaves, batch):
        """One optimizer step; returns (loss, aux, grad_norm) as device values (not yet waited for)."""
        self.params, self.opt_state, loss, aux, grad_norm = step_fn(
            self.params, frozen_leaves, self.opt_state, batch, self.step
        )
        return loss, aux, grad_norm

    def record(self, loss: float, grad_norm: float, aux: dict[str, jax.Array]) -> None:
        """Count the step done (a non-finite loss stops the run) and write a log line when one is due."""
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            nnx.update(self.model, parallel.host_local(self.trees()[0]))
            self.bar.close()
            path = self.ckpt_path
            kept = f"the last good checkpoint is {path}" if path.exists() else "no checkpoint yet"
            raise UserError(
                f"{self.phase}: non-finite loss ({loss}) or gradient norm at step {self.step + 1}; "
                f"stopped, {kept} (try a lower --lr or --clip_norm)"
            )
        self.step += 1
        self.loss = loss
        self.window.append(loss)
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss:.4f}")
        if self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps:
            self.log.write(
                {
                    "phase": self.phase,
                    "step": self.step,
                    "loss": float(np.mean(self.window)),
                    "lr": float(self.schedule(self.step - 1)),
                    "grad_norm": grad_norm,
                    "seconds": round(time.perf_counter() - self.t0, 3),
                    **{k: float(v) for k, v in aux.items()},
                }
            )
            self.window = []

    def evaluate_and_stop(self) -> None:
        """Run ``eval_fn`` on the current parameters, log it, and track early stopping on ``eval_loss``."""
        params = self.trees()[0]
        nnx.update(self.model, parallel.host_local(params))  # each process evaluates a whole copy
        self.last_eval = {k: float(v) for k, v in self.eval_fn(self.model).items()}
        self.log.write({"phase": self.phase, "step": self.step, **self.last_eval})
        self.bar.set_postfix(loss=f"{self.loss:.4f}", **{k: f"{v:.4f}" for k, v in self.last_eval.items()})
        if self.cfg.patience and "eval_loss" in self.last_eval:
            if self.last_eval["eval_loss"] < self.best:
                self.best, self.bad_evals = self.last_eval["eval_loss"], 0
                self.best_params = jax.tree_util.tree_map(jnp.copy, params)
            else:
                self.bad_evals += 1
                self.stopped = self.bad_evals >= self.cfg.patience

    def save(self) -> None:
        """Write the checkpoint: every array of the run and where it is (atomically, see checkpoint).

        Every process gathers the arrays (a collective when they are sharded across processes); the
        lead writes them, and every process of a resumed job, however many, reads the same file.
        """
        params, opt_state, best_params = parallel.host_local((*self.trees(), self.best_params))
        arrays = {**checkpoint.flatten(params, "params."), **checkpoint.flatten(opt_state, "opt.")}
        if best_params is not None:
            arrays.update(checkpoint.flatten(best_params, "best."))
        meta = {
            "phase": self.phase,
            "step": self.step,
            "seed": self.cfg.seed,
            "best": self.best if math.isfinite(self.best) else None,
            "bad_evals": self.bad_evals,
            "stopped": self.stopped,
            "loss_window": self.window,  # losses since the last log line, so the next line averages the same
            "train_config": dataclasses.asdict(self.cfg),
        }
        if self.lead:
            checkpoint.save_arrays(self.ckpt_path, arrays, meta)

    def finish(self) -> FitResult:
        """Hand the model its trained (with early stopping: its best) parameters; draw loss.png."""
        self.bar.close()
        params = self.trees()[0]
        if self.best_params is not None and math.isfinite(self.best):
            params = self.best_params  # early stopping hands back the best model, not the last
        nnx.update(self.model, parallel.host_local(params))
        if self.lead:
            plot_losses(self.log, self.run_dir / "loss.png")
        best = self.best if math.isfinite(self.best) else None
        return FitResult(step=self.step, stopped_early=self.stopped, best_eval=best, last_eval=self.last_eval)
