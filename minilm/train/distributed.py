"""Joining a multi-process job: several processes (one per host, or one per accelerator) train as one.

JAX's distributed runtime (``jax.distributed``) is multi-controller: every process runs the same
program on its own devices; process 0 also serves a *coordinator* at ``host:port`` that the others
connect to.  Once joined, ``jax.devices()`` lists the devices of every process, so the same data mesh
(:mod:`minilm.train.parallel`) spans them all and XLA's all-reduces cross process boundaries -- over
NCCL on GPUs, ICI/DCN on TPUs and Gloo (TCP) on CPUs, which :func:`join` selects, so that two
processes on one machine form a real job (the tests do exactly that).

A job is described by three numbers; each field falls back to the standard environment variable::

    coordinator_address  $JAX_COORDINATOR_ADDRESS  host:port of process 0
    num_processes        $JAX_NUM_PROCESSES        how many processes
    process_id           $JAX_PROCESS_ID           this process, 0 .. num_processes - 1

Under a launcher JAX knows (SLURM's ``srun``, Open MPI's ``mpirun``) JAX reads them itself
(``cluster="auto"``); ``cluster="jax"`` asks JAX to detect any cluster it supports (Cloud TPU pods,
GKE, Kubernetes JobSets with the ``kubernetes`` package).  See ``docs/scaling.md`` for recipes.

Mistakes are one line, not a traceback: a process id out of range, a missing field, and a coordinator
that does not answer -- XLA aborts the process when joining times out, so :func:`join` keeps its own
timer, which fires first, prints the reason and exits with status 2.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass

import jax

from minilm.config import at_least, opt, validate
from minilm.errors import EXIT_USER_ERROR, UserError
from minilm.train.parallel import use_cpu_devices

FLAGS = "--dist."  # how the command line spells these fields (the config is nested as `dist`)
CLUSTERS = ("auto", "jax", "off")
ENV = {  # field -> the standard environment variable it falls back to
    "coordinator_address": "JAX_COORDINATOR_ADDRESS",
    "num_processes": "JAX_NUM_PROCESSES",
    "process_id": "JAX_PROCESS_ID",
}


@dataclass
class DistributedConfig:
    """Which multi-process job this process belongs to (unset fields: environment, then cluster), and
    how many JAX devices its CPU appears as."""

    coordinator_address: str = opt(
        "", "host:port of process 0's coordinator (default: $JAX_COORDINATOR_ADDRESS)"
    )
    num_processes: int = opt(
        0, "processes in the job (0 = $JAX_NUM_PROCESSES, else from the cluster, else 1)", check=at_least(0)
    )
    process_id: int = opt(
        -1,
        "this process, 0 .. num_processes-1 (-1 = $JAX_PROCESS_ID, else from the cluster)",
        check=at_least(-1),
    )
    cluster: str = opt(
        "auto",
        "auto: join when the fields above ask for it or srun/mpirun started several tasks (JAX reads "
        "the rest); jax: always let JAX detect the cluster (Cloud TPU, GKE, JobSet); off: one process",
        choices=CLUSTERS,
    )
    init_timeout: int = opt(
        300, "seconds to wait for every process to reach the coordinator", check=at_least(1)
    )
    cpu_devices: int = opt(
        1,
        "without an accelerator: split the CPU into this many JAX devices and train data-parallel over "
        "them (XLA runs one device's small matrix products on about one core; try the number of cores)",
        check=at_least(1),
    )

    def __post_init__(self) -> None:
        validate(self)

    def resolve(self) -> tuple[str | None, int | None, int | None] | None:
        """``(coordinator_address, num_processes, process_id)`` of the job, ``None`` for a field JAX
        reads from the cluster; ``None`` altogether when this is a one-process run."""
        address = self.coordinator_address or os.environ.get(ENV["coordinator_address"], "")
        n = self.num_processes or _env_int(ENV["num_processes"], 0, minimum=1)
        pid = self.process_id if self.process_id >= 0 else _env_int(ENV["process_id"], -1, minimum=0)
        detected = self.cluster == "jax" or (self.cluster == "auto" and _launcher_tasks() > 1)
        if self.cluster == "off" or not (address or n > 1 or detected):
            return None
        if n and pid >= n:
            raise UserError(f"process id {pid} is out of range for {n} processes (0..{n - 1})")
        if not detected:
            given = {"coordinator_address": bool(address), "num_processes": n > 0, "process_id": pid >= 0}
            missing = [f"{FLAGS}{k} (${ENV[k]})" for k, ok in given.items() if not ok]
            if missing:
                raise UserError(f"a multi-process job needs {', '.join(missing)}")
        if address:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit():
                raise UserError(f"coordinator address {address!r}: expected host:port")
        return address or None, n or None, pid if pid >= 0 else None


# every training command nests DistributedConfig as `dist`; the README's short flag for its CPU split
ALIASES = {"cpu_devices": "dist.cpu_devices"}


def _env_int(name: str, unset: int, minimum: int) -> int:
    text = os.environ.get(name, "")
    if not text:
        return unset
    if not text.strip().isdigit() or int(text) < minimum:
        raise UserError(f"${name}={text!r}: expected an integer >= {minimum}")
    return int(text)


def _launcher_tasks() -> int:
    """Tasks started by srun (SLURM) or mpirun (Open MPI) around this process; 0 outside them."""
    if "SLURM_PROCID" in os.environ and "SLURM_STEP_ID" in os.environ:
        return int(os.environ.get("SLURM_NTASKS", "1"))
    return int(os.environ.get("OMPI_COMM_WORLD_SIZE", "0"))


def join(cfg: DistributedConfig) -> bool:
    """Join the job ``cfg`` describes (nothing to do for one process; returns whether it joined).

    Call before anything else starts JAX's devices.  Prints one line: which process this is and how
    many devices the mesh spans.  Gloo is chosen for CPU collectives (it only affects the CPU backend).
    """
    use_cpu_devices(cfg.cpu_devices)
    job = cfg.resolve()
    if job is None:
        return False
    address, n, pid = job
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    timer = threading.Timer(cfg.init_timeout, _give_up, (address, n, pid, cfg.init_timeout))
    timer.daemon = True
    timer.start()
    try:  # JAX's own timeout (which aborts the process) only after ours
        jax.distributed.initialize(address, n, pid, initialization_timeout=cfg.init_timeout + 60)
    finally:
        timer.cancel()
    print(
        f"process {jax.process_index()} of {jax.process_count()}: {jax.local_device_count()} local "
        f"{jax.default_backend()} device(s), the mesh spans {jax.device_count()}",
        flush=True,
    )
    return True


def _give_up(address: str | None, n: int | None, pid: int | None, seconds: int) -> None:
    """The job did not form in time: one line and exit 2 (raising cannot reach the blocked main thread)."""
    where = f"the coordinator at {address}" if address else "the coordinator"
    if pid == 0:
        why = f"process 0: not all {n or 'the'} processes reached {where} within {seconds} s (all started?)"
    else:
        why = f"process {pid}: could not reach {where} within {seconds} s (is process 0 running there?)"
    print(f"error: {why}; see {FLAGS}init_timeout", file=sys.stderr, flush=True)
    os._exit(EXIT_USER_ERROR)


def is_lead() -> bool:
    """Process 0 of the job (or the only process): the one that writes the run folder."""
    return jax.process_index() == 0
