"""Several fine-tuning methods on one base, chosen per call (minilm/finetune/slots.py, finetune.add):

- each named method (two LoRAs, a Houlsby adapter sharing attention's output projection with one of
  them, its own head) gives exactly the outputs of the base with that method alone; none active is the
  base model;
- training one leaves the others and the base bit-identical, and its trainable count is the closed form;
- saved methods load under names onto one base (``load_method(..., into=, name=)``) and predict as
  they did alone; a named method saves in the same format as the method alone;
- what cannot work is refused.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from minilm.errors import UserError
from minilm.finetune import METHODS, add, trainable_count, use
from minilm.finetune.adapters import HoulsbyConfig, PfeifferConfig
from minilm.finetune.lora import LoRAConfig, merge
from minilm.finetune.saved import build, load_method, save_method
from minilm.finetune.slots import Slot, activate, plain_key
from minilm.models.heads import SequenceClassifier
from minilm.models.transformer import GPT, TransformerConfig
from minilm.objectives.classification import classification_loss
from minilm.train import checkpoint
from minilm.train.loop import TrainConfig, fit

CFG = TransformerConfig(vocab_size=50, max_len=16, n_layer=2, n_head=2, d_model=16, d_ff=32, dropout=0.1)
GPT2 = Path(__file__).parent / "fixtures" / "hf_tiny_gpt2"  # a Hugging Face GPT-2 folder, V 97
CLASSES = 3
# name -> (method, config, head outputs)
NAMED = {
    "sst2": ("lora", LoRAConfig(r=2), CLASSES),
    "topic": ("adapter-houlsby", HoulsbyConfig(reduction_factor=4), 5),
    "nli": ("lora", LoRAConfig(r=1, targets=("o", "down")), CLASSES),  # shares attn.out with "topic"
}


def _fresh(model: nnx.Module) -> nnx.Module:
    graphdef, state = nnx.split(model)
    return nnx.merge(graphdef, jax.tree.map(jnp.copy, state))


def _classifier(n_out: int = CLASSES) -> SequenceClassifier:
    return SequenceClassifier(GPT(CFG, rngs=nnx.Rngs(0)), n_out, pooling="last", rngs=nnx.Rngs(1))


@nnx.jit
def _run(model: nnx.Module, tokens: jax.Array, mask: jax.Array) -> jax.Array:
    return model(tokens, attention_mask=mask)  # compiled once per model structure and active method


def _batch() -> dict[str, jax.Array]:
    rng = np.random.default_rng(0)
    mask = np.ones((4, 6), bool)
    mask[1, 4:] = False
    return {
        "tokens": jnp.asarray(rng.integers(1, 50, (4, 6)), jnp.int32),
        "attention_mask": jnp.asarray(mask),
        "labels": jnp.asarray(rng.integers(0, CLASSES, 4), jnp.int32),
    }


def _flat(state: nnx.State) -> dict[tuple, np.ndarray]:
    return {tuple(path): np.array(v[...]) for path, v in nnx.to_flat_state(state)}


def _perturb(model: nnx.Module, where, seed: int) -> None:
    """Trained-looking weights (B and W_up start at 0, which would hide a wrong wiring)."""
    state = nnx.state(model, where)
    rng = np.random.default_rng(seed)
    nnx.update(model, jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape) * 0.3, x.dtype), state))


def _alone_arrays(model: nnx.Module, name: str) -> dict[str, np.ndarray]:
    """The named method's weights, named as the method alone has them."""
    return {plain_key(k, name): v for k, v in checkpoint.flatten(nnx.state(model, Slot(name))).items()}


@pytest.fixture(scope="module")
def multi() -> tuple[SequenceClassifier, SequenceClassifier]:
    """The base classifier, and a copy holding the three named methods with perturbed weights."""
    base = _classifier()
    model = _fresh(base)
    for i, (name, (method, cfg, n_out)) in enumerate(NAMED.items()):
        where = add(model, name, method, cfg, rngs=nnx.Rngs(10 + i), n_out=n_out)
        _perturb(model, where, seed=i)
    return base, model


def test_each_named_method_equals_the_base_with_it_alone_and_none_is_the_base(multi):
    base, model = multi
    batch = _batch()
    tokens, mask = batch["tokens"], batch["attention_mask"]
    for name, (method, cfg, n_out) in NAMED.items():
        alone = _classifier(n_out)
        where = METHODS[method].apply(alone, cfg, rngs=nnx.Rngs(0))
        state = nnx.state(alone, where)  # every one of its arrays must come from the slot, by name
        nnx.update(alone, checkpoint.unflatten(state, _alone_arrays(model, name), "", name))
        with use(model, name):
            got = _run(model, tokens, mask)
        assert got.shape == (4, n_out)
        np.testing.assert_allclose(got, _run(alone, tokens, mask), rtol=0, atol=1e-6, err_msg=name)
    with use(model, None):
        np.testing.assert_array_equal(_run(model, tokens, mask), _run(base, tokens, mask))
    assert model.head.active == "nli"  # use() gave back the choice the last add() made


def test_training_one_named_method_leaves_the_others_and_the_base_bit_identical(multi, tmp_path):
    _, shared = multi
    model = _fresh(shared)
    activate(model, "sst2")
    where = Slot("sst2")
    d, r, l_ = CFG.d_model, 2, CFG.n_layer
    assert trainable_count(model, where) == l_ * 2 * (d * r + r * d) + d * CLASSES + CLASSES  # q, v; head
    kept = _flat(nnx.state(model, nnx.Not(where)))
    trained = _flat(nnx.state(model, where))
    cfg = TrainConfig(
        steps=2, batch_size=4, lr=0.05, schedule="constant", warmup_steps=0, weight_decay=0.5,
        log_every=2, eval_every=0, ckpt_every=0,
    )  # fmt: skip

    class Fixed:
        def batch(self, step: int):
            return _batch()

    fit(model, classification_loss, Fixed(), cfg, tmp_path, trainable=where)
    after = _flat(nnx.state(model, nnx.Not(where)))
    assert after.keys() == kept.keys()
    for path, value in kept.items():
        np.testing.assert_array_equal(after[path], value, err_msg=str(path))
    moved = _flat(nnx.state(model, where))
    assert all(not np.array_equal(moved[path], v) for path, v in trained.items())


def test_saved_methods_load_under_names_onto_one_base(tmp_path):
    batch = _batch()
    tokens, mask = batch["tokens"], batch["attention_mask"]
    alone = {}
    for name, method, cfg, labels in (
        ("sst2", "lora", LoRAConfig(r=2), ["neg", "pos"]),
        ("topic", "adapter-pfeiffer", PfeifferConfig(reduction_factor=4), ["a", "b", "c"]),
    ):
        tuned = build(str(GPT2), method, cfg, labels, "last", seed=len(labels))
        _perturb(tuned.model, tuned.trainable, seed=len(labels))
        save_method(tmp_path / name, tuned)
        alone[name] = _run(tuned.model, tokens, mask)

    a = load_method(tmp_path / "sst2", trains=False, name="sst2")
    b = load_method(tmp_path / "topic", trains=True, into=a, name="topic")
    assert b.model is a.model and a.trainable is nnx.Nothing and b.trainable == Slot("topic")
    for name, expected in alone.items():
        with use(a.model, name):
            np.testing.assert_allclose(_run(a.model, tokens, mask), expected, rtol=0, atol=1e-6)

    save_method(tmp_path / "again", b)  # a named method saves as the method alone
    again = load_method(tmp_path / "again", trains=False)
    np.testing.assert_allclose(_run(again.model, tokens, mask), alone["topic"], rtol=0, atol=1e-6)

    with pytest.raises(UserError, match="needs a name"):
        load_method(tmp_path / "topic", trains=False, into=a)
    meta = a.meta
    with pytest.raises(UserError, match="pooling"):
        load_method(
            tmp_path / "topic", trains=False, into=a._replace(meta={**meta, "pooling": "mean"}), name="x"
        )


def test_what_cannot_share_a_base_is_refused():
    model = _classifier()
    add(model, "a", "lora", LoRAConfig(r=1), rngs=nnx.Rngs(0))
    add(model, "b", "fl", METHODS["fl"].config(units=2), rngs=nnx.Rngs(0))
    for call, message in (
        (lambda: add(model, "a", "fl", METHODS["fl"].config(), rngs=nnx.Rngs(0)), "already holds"),
        (lambda: add(model, "p", "prefix", METHODS["prefix"].config(), rngs=nnx.Rngs(0)), "cannot share"),
        (lambda: add(model, "not a name", "lora", LoRAConfig(), rngs=nnx.Rngs(0)), "identifier"),
        (
            lambda: add(
                model, "h", "adapter-houlsby", HoulsbyConfig(train_layer_norms=True), rngs=nnx.Rngs(0)
            ),
            "LayerNorms",
        ),
        (lambda: METHODS["lora"].apply(model, LoRAConfig(r=1), rngs=nnx.Rngs(0)), "already has LoRA"),
        (lambda: METHODS["fl"].apply(model, METHODS["fl"].config(), rngs=nnx.Rngs(0)), "under a name"),
        (lambda: merge(model), "share the base"),
        (lambda: activate(model, "c"), "holds: a, b"),
    ):
        with pytest.raises(UserError, match=message):
            call()
