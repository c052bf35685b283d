"""Several fine-tuning methods on one base model, each under a name, chosen per call.

AdapterHub's ``add_adapter(name)`` / ``set_active_adapters`` and PEFT's ``add_adapter`` /
``set_adapter``: one frozen backbone serves several tasks, each with its own LoRA or bottleneck adapter
(and task head), and a call runs the base with one of them -- or with none, the base model itself.

Where: each place a method wraps (a projection, an FFN, the task head) becomes a :class:`Routed`
module: the base module and a dict of named alternatives, each the method's wrapper around that same
base module (shared, not copied)::

    blocks[i].attn.qkv = Routed(base=Dense, slots={"sst2": LoRADense(Dense), "topic": LoRADense(Dense)})
    head               = Routed(base=Dense, slots={"sst2": Dense(D, 2), "topic": Dense(D, 4)})

A call runs ``slots[active]`` where the name has a slot there and ``base`` elsewhere, so with ``active``
the model computes exactly what the base with that one method would; with ``active=None``, the base.
``active`` is static (part of the graph), so each choice compiles once and runs at full speed.

Every variable of a method under ``name`` lives under a path ``.../slots/<name>/...`` and nowhere else
(the shared base module is reached first through ``base``: NNX visits attributes in sorted order), so
:class:`Slot` is the filter of what that method trains and saves, and training one method leaves the
others -- and the base -- bit-identical.

    add(model, "sst2", "lora", LoRAConfig(), rngs=...)   # minilm.finetune.add; the new one is active
    with use(model, "topic"): logits = model(tokens)     # another one for these calls
    activate(model, None)                                # the base model from now on

Methods that train base parameters (full, freeze, BitFit, ...) or hold attention/embedding state
(prefix, prompt) cannot share a base this way; neither can LoRA merging (the base is shared).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flax import nnx

from minilm.errors import UserError


class Routed(nnx.Module):
    """A base module and named alternatives to it (``slots``); a call runs the active one's, or the base."""

    def __init__(self, base: nnx.Module):
        self.base = base
        self.slots = nnx.Dict()
        self.active: str | None = None

    def __call__(self, x: Any, **kwargs: Any) -> Any:
        module = (
            self.slots[self.active] if self.active is not None and self.active in self.slots else self.base
        )
        return module(x, **kwargs)


@dataclass(frozen=True)
class Slot:
    """An NNX filter: the variables of the method named ``name`` (paths through ``slots/<name>``)."""

    name: str

    def __call__(self, path: tuple[Any, ...], variable: Any) -> bool:
        return any(path[i : i + 2] == ("slots", self.name) for i in range(len(path) - 1))


def wrap(parent: nnx.Module, attr: str, name: str | None, make: Callable[[nnx.Module], nnx.Module]) -> None:
    """Put ``make(module)`` in place of ``parent.<attr>`` (``name`` None), or under ``name`` in its slots.

    A method applied without a name wraps the module itself, which then is base for every named
    method added later; a place that already holds named methods is not wrapped without a name."""
    current = getattr(parent, attr)
    if name is None:
        if isinstance(current, Routed):
            raise UserError("this model holds named methods: add this one under a name too")
        setattr(parent, attr, make(current))
        return
    if not isinstance(current, Routed):
        current = Routed(current)
        setattr(parent, attr, current)
    current.slots[name] = make(current.base)


def routed(model: nnx.Module) -> list[Routed]:
    return [m for _, m in nnx.iter_modules(model) if isinstance(m, Routed)]


def slot_names(model: nnx.Module) -> set[str]:
    """The names of the methods the model holds."""
    return {name for r in routed(model) for name in r.slots}


def check_name(model: nnx.Module, name: str) -> None:
    """A new method's name: an identifier the model does not hold yet."""
    if not name.isidentifier():
        raise UserError(f"name={name!r}: use letters, digits and _ (a Python identifier)")
    if name in slot_names(model):
        raise UserError(f"name={name!r}: the model already holds a method of that name")


def activate(model: nnx.Module, name: str | None) -> None:
    """From now on calls run the method ``name`` (None: the base model)."""
    if name is not None and name not in slot_names(model):
        held = ", ".join(sorted(slot_names(model))) or "none"
        raise UserError(f"no method named {name!r} (the model holds: {held})")
    for r in routed(model):
        r.active = name


@contextmanager
def use(model: nnx.Module, name: str | None) -> Iterator[None]:
    """Calls inside the ``with`` run the method ``name`` (None: the base); the previous choice returns."""
    places = routed(model)
    before = [r.active for r in places]
    activate(model, name)
    try:
        yield
    finally:
        for r, active in zip(places, before, strict=True):
            r.active = active


def plain_key(key: str, name: str) -> str:
    """A flattened parameter name in slot ``name`` as the same method alone would have it:
    ``backbone.blocks.0.attn.qkv.slots.sst2.a`` -> ``backbone.blocks.0.attn.qkv.a``."""
    return key.replace(f"slots.{name}.", "")
