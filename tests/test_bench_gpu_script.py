"""bench/gpt2_gpu.py keeps working: a CPU dry run at a tiny size trains and reports consistent figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpt2_gpu.py"


def test_gpu_benchmark_dry_run_on_cpu():
    spec = importlib.util.spec_from_file_location("gpt2_gpu", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    tiny = "--n_layer 1 --d_model 32 --n_head 2 --block 16 --vocab 64 --batch 2 --warmup 1 --steps 2"
    out = bench.main([*tiny.split(), "--peak_flops", "1e12"])
    assert out["dtype"] == "bfloat16" and out["batch"] == 2 and out["block"] == 16
    # 6 N + 12 L H Q T: N = 64*32 embedding + one block (4 d^2 + 8 d^2 weights, 13 d biases and LN) + final LN
    d = 32
    n = 64 * d + 12 * d * d + 13 * d + 2 * d
    assert out["params"] == n + 16 * d  # plus the position table, not counted in FLOPs
    assert out["flops_per_token"] == 6 * n + 12 * 1 * 2 * 16 * 16
    assert out["mfu"] == pytest.approx(
        out["tokens_per_s"] * out["flops_per_token"] / 1e12, rel=1e-3, abs=1e-4
    )
    assert 0 < out["final_loss"] < 10
