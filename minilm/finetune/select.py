"""What trains: the NNX filter every fine-tuning method returns, built from two kinds of parameters.

- **The method's new parameters**, each method's own ``nnx.Param`` subclass (``LoRAParam``,
  ``AdapterParam``, ...: the pattern of ``nnx.LoRAParam``): selected by type.
- **Some of the base model's parameters** (the task head, LayerNorms, biases, the FFNs of chosen
  blocks): selected by path, the set of paths fixed when the method is applied (:class:`Paths`).

``fit(model, ..., trainable=filter)`` splits the model with that filter: only those parameters get
gradients and AdamW state, every other parameter is passed through the step unchanged (bit for bit,
weight decay included).  The weights to save for a method are ``nnx.state(model, filter)``: its new
parameters *and* the base parameters it trained (the task head among them).

"The head" is every parameter outside the backbone: a task head's linear layer (``head``), BERT's
masked-LM head, an untied LM head; a bare Transformer or a GPT with a tied head has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from flax import nnx

from minilm.config import ConfigError
from minilm.errors import UserError
from minilm.models.layers import LayerNorm
from minilm.models.transformer import Transformer, backbone_of

KeyPath = tuple[Any, ...]  # ("backbone", "blocks", 0, "ffn", "up", "kernel")


@dataclass(frozen=True)
class Paths:
    """An NNX filter: the variables at exactly these paths."""

    paths: frozenset[KeyPath]

    def __call__(self, path: KeyPath, variable: Any) -> bool:
        return tuple(path) in self.paths


def base_params(
    model: nnx.Module, where: Callable[[KeyPath], bool] = lambda path: True
) -> frozenset[KeyPath]:
    """Paths of the model's own ``nnx.Param`` variables (not a method's subclasses) that satisfy ``where``."""
    state = nnx.state(model, lambda path, v: type(v) is nnx.Param)
    return frozenset(tuple(path) for path, _ in nnx.to_flat_state(state) if where(tuple(path)))


def backbone_path(model: nnx.Module) -> KeyPath:
    """Where the backbone sits: () for a bare Transformer, ("backbone",) in a GPT, BERT or task head."""
    backbone = backbone_of(model)
    return () if backbone is model else ("backbone",)


def under(*prefixes: KeyPath) -> Callable[[KeyPath], bool]:
    """``where`` for :func:`base_params`: the path starts with one of ``prefixes``."""
    return lambda path: any(path[: len(p)] == p for p in prefixes)


def head_params(model: nnx.Module) -> frozenset[KeyPath]:
    """Every base parameter outside the backbone (none for a bare Transformer)."""
    root = backbone_path(model)
    return frozenset() if root == () else base_params(model, lambda path: not under(root)(path))


def embedding_prefixes(model: nnx.Module) -> tuple[KeyPath, ...]:
    """The embedding layer: token, position and token-type tables and BERT's embedding LayerNorm."""
    root = backbone_path(model)
    return tuple((*root, name) for name in ("tok_emb", "pos_emb", "type_emb", "emb_ln"))


def block_prefix(model: nnx.Module, i: int, *part: str) -> KeyPath:
    """Block ``i`` (or one of its sublayers, e.g. "ffn")."""
    return (*backbone_path(model), "blocks", i, *part)


def layer_norm_params(model: nnx.Module) -> frozenset[KeyPath]:
    """The scales and biases of the backbone's LayerNorms."""
    root = backbone_path(model)
    prefixes = tuple(
        (*root, *path)
        for path, module in nnx.iter_modules(backbone_of(model))
        if isinstance(module, LayerNorm)
    )
    return base_params(model, under(*prefixes))


def check_block_choice(last: int, blocks: tuple[int, ...]) -> None:
    """A config's ``check()`` for a choice of blocks (``last`` and ``blocks`` as :func:`block_indices`)."""
    if last == 0 and not blocks:
        raise ConfigError("last", "choose blocks: last >= 1, -1 (every block) or a blocks list")


def block_indices(backbone: Transformer, last: int, blocks: Iterable[int]) -> list[int]:
    """The union of the top ``last`` blocks (-1 = every block) and ``blocks`` (0 = the bottom one;
    negative: from the top), sorted; a block the model does not have is a UserError."""
    n = backbone.cfg.n_layer
    if last > n:
        raise UserError(f"last={last}: the model has {n} blocks")
    chosen = set(range(n) if last == -1 else range(n - last, n))
    for i in blocks:
        if not -n <= i < n:
            raise UserError(f"blocks: the model has no block {i} ({n} blocks: 0..{n - 1}, or -{n}..-1)")
        chosen.add(i % n)
    return sorted(chosen)


def trainable(model: nnx.Module, new: type[nnx.Param] | None = None, paths: Iterable[KeyPath] = ()) -> Any:
    """The filter of what trains: variables of type ``new`` and the base parameters at ``paths``.

    Training nothing is a UserError (an optimizer over nothing would run without complaint)."""
    chosen = Paths(frozenset(paths))
    where = chosen if new is None else nnx.Any(new, chosen)
    if trainable_count(model, where) == 0:
        raise UserError("this fine-tuning setting trains no parameter (is there a task head to train?)")
    return where


def trainable_count(model: nnx.Module, where: Any) -> int:
    """Scalars in the variables the filter selects (a shared variable counts once)."""
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(model, where)))
