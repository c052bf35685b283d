"""Data-parallel (and FSDP-style) training over the devices of one or several processes (``jax.sharding``).

A 1-D :class:`~jax.sharding.Mesh` names the devices' axis ``"data"``.  Data parallelism (Krizhevsky
2014, "One weird trick"; as in Flax's examples): every batch is split along its leading (example) axis
over the devices, the parameters and optimizer state are replicated, and the *same* ``jax.jit``-compiled
step runs everywhere -- XLA's SPMD partitioner sees that the loss averages over a sharded axis and
inserts the all-reduce of the gradients itself.  So the result equals single-device training on the
same global batch (up to float summation order).

FSDP-style (ZeRO-3, Rajbhandari et al. 2020): :func:`fsdp_sharding` additionally splits each large
parameter (and, placed the same way, its optimizer moments) along one axis over the devices; XLA
gathers them for the forward/backward and reduce-scatters the gradients.

Several processes (:mod:`minilm.train.distributed`, one per host or per accelerator): once joined,
``jax.devices()`` lists every process's devices and the same mesh spans them.  Each process then
feeds only its rows of the global batch (:func:`process_rows`, :func:`shard_batch`), and
:func:`host_local` gives each process a whole copy of a state to evaluate or checkpoint.  On a CPU,
:func:`use_cpu_devices` (``train.py --cpu_devices=N``) splits the processor into N devices: for
tests, and because it is faster (below).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from minilm.errors import UserError

DATA = "data"


def data_mesh(devices: list[jax.Device] | None = None) -> Mesh:
    """A mesh with one axis, ``"data"``, over ``devices`` (default: all devices of all hosts)."""
    return Mesh(np.asarray(jax.devices() if devices is None else devices), (DATA,))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Every array of ``tree`` copied whole onto every device of the mesh (parameters, optimizer state)."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def process_rows(batch_size: int, mesh: Mesh) -> slice:
    """The rows of a global batch of ``batch_size`` examples that this process's devices hold (all of
    them with one process): device ``i`` of the ``"data"`` axis holds rows ``i B/n .. (i+1) B/n``."""
    held = NamedSharding(mesh, PartitionSpec(DATA)).addressable_devices_indices_map((batch_size,))
    spans = sorted(index[0].indices(batch_size)[:2] for index in held.values())
    start, stop = spans[0][0], spans[-1][1]
    if sum(b - a for a, b in spans) != stop - start:
        raise ValueError(f"this process's devices hold rows {spans}, not one block of the batch")
    return slice(start, stop)


def shard_batch(batch: Any, mesh: Mesh) -> Any:
    """The global ``batch`` split along its leading (example) axis over the ``"data"`` devices.

    Every process passes the same global batch and uploads only its :func:`process_rows`; the result
    is one global array per leaf, as if a single process had fed the whole batch.
    """
    n = mesh.shape[DATA]
    for leaf in jax.tree.leaves(batch):
        if np.ndim(leaf) == 0 or leaf.shape[0] % n:
            raise UserError(
                f"batch size {np.shape(leaf)[:1]} is not divisible by the {n} devices: use a multiple of {n}"
            )
    sharding = NamedSharding(mesh, PartitionSpec(DATA))

    def place(leaf):
        rows = process_rows(leaf.shape[0], mesh)
        return jax.make_array_from_process_local_data(sharding, leaf[rows], leaf.shape)

    return jax.tree.map(place, batch)


def host_local(tree: Any) -> Any:
    """Every array of ``tree`` whole on this process: as it is if it already is, one local copy if it is
    replicated across processes, else gathered from every process (``process_allgather``: a
    collective, so every process must call this at the same point)."""

    def local(leaf: Any) -> Any:
        if not isinstance(leaf, jax.Array) or leaf.is_fully_addressable:
            return leaf
        if leaf.is_fully_replicated:
            return leaf.addressable_data(0)
        return jnp.asarray(multihost_utils.process_allgather(leaf, tiled=True))

    return jax.tree.map(local, tree)


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
    if n > 1:
        jax.config.update("jax_num_cpu_devices", n)
