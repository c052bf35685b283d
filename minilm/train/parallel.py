"""Data-parallel (and FSDP-style) training over all local devices with ``jax.sharding`` -- no launcher.

A 1-D :class:`~jax.sharding.Mesh` names the devices' axis ``"data"``.  Data parallelism (Krizhevsky
2014, "One weird trick"; as in Flax's examples): every batch is split along its leading (example) axis
over the devices, the parameters and optimizer state are replicated, and the *same* ``jax.jit``-compiled
step runs everywhere -- XLA's SPMD partitioner sees that the loss averages over a sharded axis and
inserts the all-reduce of the gradients itself.  So the result equals single-device training on the
same global batch (up to float summation order).

FSDP-style (ZeRO-3, Rajbhandari et al. 2020): :func:`fsdp_sharding` additionally splits each large
parameter (and, placed the same way, its optimizer moments) along one axis over the devices; XLA
gathers them for the forward/backward and reduce-scatters the gradients.

Multi-host: call :func:`initialize_distributed` first on every host (``jax.distributed.initialize``
reads the coordinator from the cluster environment or its arguments); ``jax.devices()`` then lists all
hosts' devices and the same mesh code spans them.  On a CPU, :func:`use_cpu_devices` (``train.py
--cpu_devices=N``) splits the processor into N devices: for tests, and because it is faster (below).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from minilm.errors import UserError

DATA = "data"


def data_mesh(devices: list[jax.Device] | None = None) -> Mesh:
    """A mesh with one axis, ``"data"``, over ``devices`` (default: all devices of all hosts)."""
    return Mesh(np.asarray(jax.devices() if devices is None else devices), (DATA,))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Every array of ``tree`` copied whole onto every device of the mesh (parameters, optimizer state)."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def shard_batch(batch: Any, mesh: Mesh) -> Any:
    """Split every array of ``batch`` along its leading (example) axis over the ``"data"`` devices."""
    n = mesh.shape[DATA]
    for leaf in jax.tree.leaves(batch):
        if np.ndim(leaf) == 0 or leaf.shape[0] % n:
            raise UserError(
                f"batch size {np.shape(leaf)[:1]} is not divisible by the {n} devices: use a multiple of {n}"
            )
    return jax.device_put(batch, NamedSharding(mesh, PartitionSpec(DATA)))


def fsdp_sharding(tree: Any, mesh: Mesh, min_size: int = 2**14) -> Any:
    """Shardings for ``tree``: arrays with >= ``min_size`` elements are split over ``"data"`` along
    their largest axis that the device count divides; the rest are replicated.  Use with
    ``jax.device_put(tree, fsdp_sharding(tree, mesh))`` for parameters and optimizer state alike."""
    n = mesh.shape[DATA]

    def spec(leaf: Any) -> NamedSharding:
        shape = np.shape(leaf)
        axes = [a for a in np.argsort(shape)[::-1] if shape[a] % n == 0]
        if np.size(leaf) < min_size or not axes:
            return NamedSharding(mesh, PartitionSpec())
        parts: list[str | None] = [None] * len(shape)
        parts[int(axes[0])] = DATA
        return NamedSharding(mesh, PartitionSpec(*parts))

    return jax.tree.map(spec, tree)


def use_cpu_devices(n: int) -> None:
    """Make the host CPU appear as ``n`` JAX devices (``jax_num_cpu_devices``); call before JAX starts.

    XLA's CPU backend runs one program's small matrix products on about one core, so a small model
    leaves the other cores idle.  With ``n`` CPU devices, data-parallel training (the mesh above) runs
    ``n`` copies of the step side by side, each on its slice of the batch -- the same code path as
    several GPUs.  Measured on 2 cores, char GPT of ``bench/char_gpt.py``: 2 devices take ~0.75x the
    time per step of 1.  No effect on the devices of an accelerator backend.
    """
    if n < 1:
        raise UserError(f"--cpu_devices={n}: must be >= 1")
    if n > 1:
        jax.config.update("jax_num_cpu_devices", n)


def initialize_distributed(**kwargs: Any) -> None:
    """Join a multi-host job (``jax.distributed.initialize``); call before any other JAX call."""
    jax.distributed.initialize(**kwargs)
