"""Shared test setup.

- Strict numerics (as Equinox's test suite): silent rank broadcasting becomes an error.
- A persistent compilation cache for the session: the many tests that compile the same tiny models
  (in different ``jax.jit`` wrappers) compile each computation once.  The subprocesses the tests
  start (``train.py`` runs, multi-process jobs) share it through the environment.
- ``data_root``: the real datasets (``MINILM_DATA``).  Unset -> data tests are skipped; set -> a missing
  file is a failure, never a skip.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
CACHE = {
    "jax_compilation_cache_dir": tempfile.mkdtemp(prefix="minilm-jax-cache-"),
    "jax_persistent_cache_min_compile_time_secs": 0,
    "jax_persistent_cache_min_entry_size_bytes": 0,
}
for name, value in CACHE.items():
    jax.config.update(name, value)
    os.environ[name.upper()] = str(value)  # read by JAX in the subprocesses


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = os.environ.get("MINILM_DATA")
    if not root:
        pytest.skip("MINILM_DATA is not set (point it at ../shared/data to run the real-data tests)")
    path = Path(root)
    assert path.is_dir(), f"MINILM_DATA={root} is not a directory"
    return path


@pytest.fixture(scope="session")
def backbone(tmp_path_factory) -> str:
    """A tiny GPT pretrained for a few steps on the world corpus, shared by the experiment tests."""
    from minilm.experiments.runner import BackboneConfig, pretrained_backbone
    from minilm.models.transformer import TransformerConfig
    from minilm.train.loop import TrainConfig

    cfg = BackboneConfig(
        model=TransformerConfig(vocab_size=320, max_len=32, n_layer=1, n_head=2, d_model=32, d_ff=64),
        pretrain=TrainConfig(steps=10, batch_size=8, warmup_steps=2, eval_every=0, ckpt_every=0),
    )
    return pretrained_backbone(cfg, tmp_path_factory.mktemp("exp"), progress=False)
