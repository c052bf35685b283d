"""Multi-process training on one machine: two processes (one CPU device each, Gloo collectives) train
as one process with two CPU devices, feed exactly the single-process batches between them, and a
killed job resumes exactly, with two processes or with one.  Plus: a bad setup is one line.

The jobs run tests/multiprocess_worker.py in subprocesses (XLA's device count and the distributed
runtime are fixed when JAX starts): one module-scoped fixture starts them all, in three waves, so that
a job compiles its programs once (the session's compilation cache, tests/conftest.py): the killed job
runs after the job it copies, the resumed jobs after both.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minilm.cli import lm
from minilm.config import parse_config
from minilm.errors import UserError
from minilm.train import checkpoint
from minilm.train.distributed import DistributedConfig

WORKER = Path(__file__).with_name("multiprocess_worker.py")
ROOT = WORKER.parent.parent
TIMEOUT = 300  # seconds for any one subprocess (a few on an idle machine)
ENV_KEYS = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(run_dir: Path, out_dir: Path, *flags: str, processes: int) -> list[subprocess.Popen]:
    """One job: ``processes`` = 2 on localhost with one CPU device each, or 1 with two CPU devices."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    base.update(JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    if processes == 1:
        jobs = [(base, ["--cpu_devices=2"])]
    else:
        job = {"JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{_free_port()}", "JAX_NUM_PROCESSES": str(processes)}
        jobs = [({**base, **job, "JAX_PROCESS_ID": str(i)}, []) for i in range(processes)]
    command = [sys.executable, str(WORKER), str(run_dir), str(out_dir), *flags]
    return [
        subprocess.Popen(command + extra, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for env, extra in jobs
    ]


def _wait(procs: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    """(returncode, stdout, stderr) of each process; all of them are killed past TIMEOUT."""
    try:
        outputs = [p.communicate(timeout=TIMEOUT) for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        raise
    return [(p.returncode, *out) for p, out in zip(procs, outputs, strict=True)]


def _run(*flags: str, processes: int, tmp: Path) -> list[tuple[int, str, str]]:
    return _wait(_start(tmp / "run", tmp / "out", *flags, processes=processes))


def _outputs(out_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out_dir.glob("process*.json"))]


def _log(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """one: 1 process x 2 devices; two: 2 processes (FSDP: the embedding is split across them);
    killed: as two, every process killed before step 5; resumed2 / resumed1: continued by 2 / 1."""
    tmp = tmp_path_factory.mktemp("jobs")
    waves = [
        {"one": ((), 1, "one"), "two": (("--fsdp",), 2, "two")},
        {"killed": (("--fsdp", "--kill_at=4"), 2, "killed")},
        {
            "resumed2": (("--fsdp", "--resume"), 2, "killed"),
            "resumed1": (("--resume",), 1, "killed_copy"),
        },
    ]
    results = {}
    for wave in waves:
        started = {
            name: _start(tmp / run, tmp / name, *flags, processes=n) for name, (flags, n, run) in wave.items()
        }
        results.update({name: _wait(procs) for name, procs in started.items()})
        if "killed" in wave:
            shutil.copytree(tmp / "killed", tmp / "killed_copy")
            killed = checkpoint.load_arrays(tmp / "killed/checkpoints/train.safetensors")
    for name, runs in results.items():
        expected = -9 if name == "killed" else 0  # SIGKILL
        assert [r[0] for r in runs] == [expected] * len(runs), (name, [r[2][-2000:] for r in runs])
    return {"tmp": tmp, "killed_checkpoint": killed, **{name: _outputs(tmp / name) for name in results}}


def _assert_close(a: dict, b: dict, tol: float) -> None:
    assert a.keys() == b.keys()
    for name in a:
        diff = np.max(np.abs(np.asarray(a[name]) - np.asarray(b[name])))
        assert diff <= tol, (name, diff)


def test_two_processes_train_as_one_process_with_two_devices(jobs):
    tmp = jobs["tmp"]
    one, two = _log(tmp / "one"), _log(tmp / "two")
    assert [r["step"] for r in two] == [r["step"] for r in one] == [1, 2, 3, 3, 4, 5, 6, 6]  # no line twice
    for a, b in zip(one, two, strict=True):
        for key in ("loss", "eval_loss", "lr"):
            if key in a:
                assert abs(a[key] - b[key]) <= 1e-5 * max(1.0, abs(a[key])), (a, b)
    (single,), (p0, p1) = jobs["one"], jobs["two"]
    assert p0["params"] == p1["params"] and p0["last_eval"] == p1["last_eval"]  # every process alike
    _assert_close(single["params"], p0["params"], 1e-5)


def test_processes_feed_exactly_the_single_process_batch(jobs):
    (single,), (p0, p1) = jobs["one"], jobs["two"]
    for step, rows in enumerate(single["fed"]):
        assert len(p0["fed"][step]) == len(p1["fed"][step]) == len(rows) // 2
        assert p0["fed"][step] + p1["fed"][step] == rows  # none dropped, none twice, in order
    from multiprocess_worker import Batches  # the batches the worker trains on

    assert single["fed"][1] == Batches(8).batch(1)["tokens"].tolist()


def test_killed_job_resumes_exactly_with_two_processes_or_one(jobs):
    tmp = jobs["tmp"]
    assert jobs["killed"] == []  # killed before writing its results
    arrays, meta = jobs["killed_checkpoint"]
    assert meta["step"] == 3 and "params.backbone.tok_emb.embedding" in arrays
    two = jobs["two"][0]["params"]
    for resumed in jobs["resumed2"]:
        assert resumed["params"] == two  # the same job, continued: bit for bit
    assert _log(tmp / "killed") == _log(tmp / "two")
    _assert_close(jobs["resumed1"][0]["params"], two, 1e-5)  # continued by one process, two devices


def test_unreachable_coordinator_is_one_line(tmp_path):
    env = {
        "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{_free_port()}",
        "JAX_NUM_PROCESSES": "2",
        "JAX_PROCESS_ID": "1",
    }
    script = "from minilm.train.distributed import *; join(DistributedConfig(init_timeout=1))"
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: process 1: could not reach the coordinator at {env['JAX_COORDINATOR_ADDRESS']} within 1 s "
        "(is process 0 running there?); see --dist.init_timeout"
    )
    assert "Traceback" not in proc.stderr


def test_batch_the_devices_do_not_divide_is_one_line(tmp_path):
    for code, _, stderr in _run("--batch_size=3", processes=2, tmp=tmp_path):
        assert code == 2 and stderr.strip().splitlines()[-1] == (
            "error: --batch_size=3 must be a multiple of the 2 devices"
        )


# --- the job's description: flags, environment, launchers -------------------------------------


@pytest.fixture
def env(monkeypatch):
    for key in (*ENV_KEYS, "SLURM_PROCID", "SLURM_STEP_ID", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_one_process_unless_asked(env):
    assert DistributedConfig().resolve() is None
    env.setenv("JAX_NUM_PROCESSES", "1")
    assert DistributedConfig().resolve() is None
    env.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.1:1234")
    env.setenv("JAX_NUM_PROCESSES", "2")
    assert DistributedConfig(cluster="off").resolve() is None


def test_fields_fall_back_to_the_environment(env):
    env.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.1:1234")
    env.setenv("JAX_NUM_PROCESSES", "4")
    env.setenv("JAX_PROCESS_ID", "3")
    assert DistributedConfig().resolve() == ("10.0.0.1:1234", 4, 3)
    assert DistributedConfig(coordinator_address="h:9", process_id=0).resolve() == ("h:9", 4, 0)


def test_launchers_leave_the_fields_to_jax(env):
    env.setenv("SLURM_PROCID", "1")
    env.setenv("SLURM_STEP_ID", "0")
    env.setenv("SLURM_NTASKS", "8")
    assert DistributedConfig().resolve() == (None, None, None)  # jax.distributed reads SLURM's variables
    env.setenv("SLURM_NTASKS", "1")
    assert DistributedConfig().resolve() is None
    assert DistributedConfig(cluster="jax").resolve() == (None, None, None)


N2 = {"JAX_NUM_PROCESSES": "2"}


@pytest.mark.parametrize(
    "variables, flags, message",
    [
        ({**N2, "JAX_PROCESS_ID": "2"}, {}, r"process id 2 is out of range for 2 processes \(0\.\.1\)"),
        (N2, {"process_id": 5}, "process id 5 is out of range"),
        ({"JAX_NUM_PROCESSES": "0"}, {}, r"\$JAX_NUM_PROCESSES='0': expected an integer >= 1"),
        ({"JAX_PROCESS_ID": "one"}, {}, r"\$JAX_PROCESS_ID='one'"),
        ({**N2, "JAX_PROCESS_ID": "0"}, {}, r"needs --dist.coordinator_address \(\$JAX_COORDINATOR"),
        ({"JAX_COORDINATOR_ADDRESS": "h:1"}, {}, "needs --dist.num_processes .*, --dist.process_id"),
        (N2, {"coordinator_address": "localhost", "process_id": 0}, "'localhost': expected host:port"),
    ],
)
def test_bad_setups_are_user_errors(env, variables, flags, message):
    for key, value in variables.items():
        env.setenv(key, value)
    with pytest.raises(UserError, match=message):
        DistributedConfig(**flags).resolve()


@pytest.mark.parametrize(
    "field, value", [("num_processes", -1), ("process_id", -2), ("init_timeout", 0), ("cluster", "mpi")]
)
def test_bad_fields_are_user_errors(field, value):
    with pytest.raises(UserError, match=f"^{field}={value}: "):
        DistributedConfig(**{field: value})
    with pytest.raises(UserError, match=f"^--dist.{field}='?{value}'?: "):  # on the command line
        parse_config(lm.Config, [f"--dist.{field}={value}"])
