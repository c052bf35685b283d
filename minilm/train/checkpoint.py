"""Checkpoints as one safetensors file, written atomically; no pickle anywhere.

A checkpoint holds every array of a training run (parameters, optimizer state, ...) under readable
names, plus JSON metadata (step, RNG key, config) in the safetensors header.  Writing goes to a
temporary file in the same folder, is fsync-ed, then renamed over the old file (``os.replace`` is
atomic on POSIX): a run killed mid-write leaves the previous checkpoint intact.

Loading takes a *template* tree (built from the config, e.g. a freshly initialised model) and fills
its leaves by name, so a checkpoint that does not match the config is a clear error, not a crash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes


def _key_name(key) -> str:
    if isinstance(key, jax.tree_util.DictKey):
        return str(key.key)
    if isinstance(key, jax.tree_util.GetAttrKey):
        return key.name
    if isinstance(key, jax.tree_util.SequenceKey):
        return str(key.idx)
    if isinstance(key, jax.tree_util.FlattenedIndexKey):
        return str(key.key)
    raise TypeError(f"unsupported pytree key {key!r}")


def flatten(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """``{"blocks.0.attn.qkv.kernel": array, ...}``: leaves named by their path (``.value`` dropped)."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        parts = [_key_name(k) for k in path]
        if parts and parts[-1] == "value":  # nnx.Variable's payload
            parts = parts[:-1]
        name = prefix + ".".join(parts)
        if name in out:
            raise ValueError(f"two leaves named {name!r}")
        out[name] = np.asarray(leaf)
    return out


def unflatten(template, arrays: dict[str, np.ndarray], prefix: str, source: str):
    """Fill ``template``'s leaves with ``arrays[prefix + name]``, checking names, shapes and dtypes."""
    names = list(flatten(template, prefix))
    leaves, treedef = jax.tree_util.tree_flatten(template)
    filled = []
    for name, leaf in zip(names, leaves, strict=True):
        if name not in arrays:
            raise UserError(f"{source}: no array {name!r} (checkpoint does not match this model/config)")
        array = arrays[name]
        want = np.shape(leaf)
        if array.shape != want:
            raise UserError(
                f"{source}: {name!r} has shape {array.shape} but the config needs {want} "
                "(checkpoint does not match this config)"
            )
        filled.append(jax.numpy.asarray(array, dtype=np.asarray(leaf).dtype))
    extra = sorted(k for k in arrays if k.startswith(prefix) and k not in set(names))
    if extra:
        raise UserError(f"{source}: unexpected array {extra[0]!r} (checkpoint does not match this config)")
    return jax.tree_util.tree_unflatten(treedef, filled)


def save_arrays(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, Any] | None = None) -> None:
    """Atomically write named arrays (+ JSON metadata in the header) as safetensors."""
    # safetensors stores 0-d arrays as shape (1,): remember which ones were scalars.
    scalars = sorted(k for k, v in arrays.items() if np.ndim(v) == 0)
    header = {"minilm": json.dumps(metadata or {}), "scalars": json.dumps(scalars)}
    contiguous = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    atomic_write_bytes(path, save(contiguous, metadata=header))


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`save_arrays`; a missing or corrupt file is a UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
            header = f.metadata() or {}
        metadata = json.loads(header.get("minilm", "{}"))
        for name in json.loads(header.get("scalars", "[]")):
            arrays[name] = arrays[name].reshape(())
    except (SafetensorError, OSError, ValueError, KeyError) as e:
        raise UserError(f"{path}: not a readable checkpoint ({e})") from None
    return arrays, metadata
