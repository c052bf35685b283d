"""Word vectors trained on several devices at once: Hogwild with a delay.

word2vec.c, gensim and glove.c train on several threads that update one shared table without locks
(Hogwild, Recht et al. 2011, "Hogwild!: A Lock-Free Approach to Parallelizing SGD").  JAX arrays are
values, not shared memory, so here each of the n devices of a mesh holds its own copy of the
parameters (a *replica*) and trains on its share of the sub-batches, and every ``sync_every`` calls
the replicas' changes since the last sync are summed (an all-reduce over the mesh's axis)::

    params_i <- base + sum_j (params_j - base)   for every device i;   base <- params_i

A row that one device touched gets exactly that device's updates; a row several touched gets all
their changes, each computed without the others' -- Hogwild's updates, seen up to ``sync_every``
calls late.  Summing (not averaging) keeps every example's update whole, so the learning rate means
what it does on one device.  ``n = 1`` runs the plain jitted call: the same numbers as before.

:class:`Trainer` runs a method's jitted call (a ``fn(params, batches) -> (params, aux)``) either
way: on one device the stack of sub-batches is one call; on n devices the stack holds n
consecutive shares, device i taking the i-th.  On a CPU, ``--cpu_devices=N`` splits the processor
into N JAX devices: XLA runs each device's program on its own core, where one program's sparse
updates would use about one core.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, NamedTuple

import jax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from minilm.errors import UserError
from minilm.train.parallel import DATA, data_mesh

Fn = Callable[[Any, Any], tuple[Any, Any]]  # (params, stack of sub-batches) -> (params, aux)


def device_mesh(devices: int) -> Mesh | None:
    """The mesh of this process's first ``devices`` JAX devices (0 = all), or None for one device."""
    available = jax.local_devices()
    if devices > len(available):
        raise UserError(
            f"--devices={devices}, but JAX sees {len(available)} (on a CPU: add --cpu_devices={devices})"
        )
    n = devices or len(available)
    return data_mesh(available[:n]) if n > 1 else None


@partial(jax.jit, static_argnums=0, donate_argnums=1)
def one_device_call(fn: Fn, params: Any, batches: Any) -> tuple[Any, Any]:
    return fn(params, batches)


@partial(jax.jit, static_argnums=(0, 1), donate_argnums=2)
def replica_call(fn: Fn, mesh: Mesh, replicas: Any, batches: Any) -> tuple[Any, Any]:
    """Every device applies ``fn`` to its replica (leaves (n, ...), device i holding [i]) and its share
    of ``batches`` (leading axis split n ways); no communication.  aux comes back stacked (n, ...)."""

    def local(replica: Any, share: Any) -> tuple[Any, Any]:
        params, aux = fn(jax.tree.map(lambda a: a[0], replica), share)
        return jax.tree.map(lambda a: a[None], (params, aux))

    # check_vma=False: no collective runs inside, and the steps' loops start from constants (zeros) that
    # the checker would otherwise ask to be marked as varying across devices
    spread = jax.shard_map(local, mesh=mesh, in_specs=(P(DATA), P(DATA)), out_specs=P(DATA), check_vma=False)
    return spread(replicas, batches)


class Replicas(NamedTuple):
    params: Any  # every leaf (n, ...): device i trains [i]
    base: Any  # the same shapes: the parameters at the last sync, one copy per device


@partial(jax.jit, static_argnums=0, donate_argnums=1)
def sync(mesh: Mesh, r: Replicas) -> Replicas:
    """``base + sum_j (params_j - base)`` on every device: the new params and base."""

    def local(params: Any, base: Any) -> tuple[Any, Any]:
        new = jax.tree.map(lambda p, b: b + jax.lax.psum(p - b, DATA), params, base)
        return new, new

    spread = jax.shard_map(local, mesh=mesh, in_specs=(P(DATA), P(DATA)), out_specs=(P(DATA), P(DATA)))
    return Replicas(*spread(r.params, r.base))


def replicate(params: Any, mesh: Mesh) -> Replicas:
    """n copies of ``params`` as replicas, each leaf (n, ...) with device i holding [i]."""
    sharding = NamedSharding(mesh, P(DATA))

    def copies(leaf: Any) -> jax.Array:
        pieces = [jax.device_put(leaf[None], d) for d in mesh.devices.flat]
        return jax.make_array_from_single_device_arrays((mesh.size, *leaf.shape), sharding, pieces)

    return Replicas(jax.tree.map(copies, params), jax.tree.map(copies, params))


class Trainer:
    """Runs ``fn`` call by call on ``settings.devices`` devices (0 = all), summing the replicas every
    ``settings.sync_every`` calls.  A call's stack holds :attr:`steps` sub-batches:
    ``settings.steps_per_call`` for each device."""

    def __init__(self, fn: Fn, params: Any, settings: Any):
        self.fn, self.mesh, self.sync_every = fn, device_mesh(settings.devices), settings.sync_every
        self.steps = settings.steps_per_call * (self.mesh.size if self.mesh else 1)
        self.state = params if self.mesh is None else replicate(params, self.mesh)
        self.since_sync = 0  # calls since the last sum

    def compile(self, stacks: list[Any]) -> None:
        """Compile the call for each of these stacks' shapes before training, all at once on every core
        (XLA releases the GIL while compiling) rather than one by one as training meets them.  Ahead of
        time, from the parameters' shapes: nothing runs, no parameter-sized zeros are made, and the
        calls in training find the compiled programs in jit's cache."""
        params = self.state if self.mesh is None else self.state.params
        shapes = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=a.sharding), params)

        def build(batches: Any) -> None:
            if self.mesh is None:
                one_device_call.lower(self.fn, shapes, batches).compile()
            else:
                replica_call.lower(self.fn, self.mesh, shapes, batches).compile()

        with ThreadPoolExecutor(os.cpu_count()) as pool:
            list(pool.map(build, stacks))

    def __call__(self, batches: Any) -> Any:
        """Train on one stack of ``steps`` sub-batches; returns ``fn``'s aux (stacked per device: read
        it on the host, e.g. ``np.asarray``, not with a jitted reduction across the devices)."""
        if self.mesh is None:
            self.state, aux = one_device_call(self.fn, self.state, batches)
            return aux
        params, aux = replica_call(self.fn, self.mesh, self.state.params, batches)
        self.state = Replicas(params, self.state.base)
        self.since_sync += 1
        if self.since_sync == self.sync_every:
            self.sync()
        return aux

    def sync(self) -> None:
        """Sum the replicas' changes now (the training loops also do at the end of every epoch, so that
        on a small corpus the devices never drift apart for longer than an epoch)."""
        if self.mesh is None or self.since_sync == 0:
            return
        # Nothing else runs on the devices during the all-reduce: a device busy with other work (above
        # all another collective, such as a reduction over a sharded aux) holds the core that the
        # other device's half of this all-reduce waits for, and XLA's CPU backend gives up after 40 s.
        jax.block_until_ready(self.state)
        self.state = jax.block_until_ready(sync(self.mesh, self.state))
        self.since_sync = 0

    def params(self) -> Any:
        """The trained parameters (the replicas summed first)."""
        if self.mesh is None:
            return self.state
        self.sync()
        return jax.tree.map(lambda a: a[0], self.state.params)
