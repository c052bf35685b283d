"""LoRA in the Hugging Face peft format (minilm/finetune/peft_format.py) against peft itself.

Golden fixtures (``tests/fixtures/make_peft_fixtures.py``, made with peft 0.21): on the tiny GPT-2 and
BERT of ``make_hf_fixtures.py``, a peft LoRA with known per-slice weights (GPT-2: q, v on the fused
``c_attn`` as one rank-2r LoRA, o, up; BERT: q, v, down), the adapter folder peft writes, and its logits.

- minilm's LoRA with the same weights gives peft's logits, and ``save_peft`` writes peft's tensors
  (names, shapes, values) and config;
- ``load_peft`` reads peft's folder back into minilm's LoRA layers; errors are one line;
- live (peft installed): peft loads ``save_peft``'s folder onto ``save_hf``'s export, equal logits.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors
import safetensors.numpy
from flax import nnx

from minilm.errors import UserError
from minilm.finetune.lora import LoRAConfig, apply_lora
from minilm.finetune.peft_format import CONFIG, WEIGHTS, load_peft, save_peft
from minilm.models.hf import load_hf, save_hf
from minilm.models.transformer import backbone_of

FIXTURES = Path(__file__).parent / "fixtures"
TARGETS = {"gpt2": ("q", "v", "o", "up"), "bert": ("q", "v", "down")}  # as make_peft_fixtures.py
NAMES = tuple(TARGETS)


def _cfg(name: str) -> LoRAConfig:
    return LoRAConfig(r=2, alpha=3.0, dropout=0.1, targets=TARGETS[name])


def _golden(name: str) -> dict[str, np.ndarray]:
    return dict(np.load(FIXTURES / f"peft_tiny_{name}" / "expected.npz"))


def _with_lora(name: str, weights: dict[str, np.ndarray] | None = None) -> nnx.Module:
    """The tiny Hugging Face model in minilm with LoRA on the fixture's targets; its A and B set to
    ``weights`` (``a/<block>/<target>`` (d_in, r), ``b/...`` (r, w)) if given."""
    model = load_hf(FIXTURES / f"hf_tiny_{name}").model
    apply_lora(model, _cfg(name), rngs=nnx.Rngs(0))
    for i, block in enumerate(backbone_of(model).blocks if weights else ()):
        for target in TARGETS[name]:
            if target in "qkv":
                layer, j = block.attn.qkv, block.attn.qkv.slices.index("qkv".index(target))
            else:
                layer, j = {"o": block.attn.out, "up": block.ffn.up, "down": block.ffn.down}[target], 0
            layer.a[...] = layer.a[...].at[j].set(weights[f"a/{i}/{target}"])
            layer.b[...] = layer.b[...].at[j].set(weights[f"b/{i}/{target}"])
    return model


def _inputs(name: str) -> dict[str, np.ndarray]:
    return dict(np.load(FIXTURES / f"hf_tiny_{name}" / "expected.npz"))


@nnx.jit
def _forward(model: nnx.Module, ids: jax.Array, mask: jax.Array, types: jax.Array | None) -> jax.Array:
    if types is None:  # a GPT takes no token types
        return model(ids, attention_mask=mask)
    return model(ids, attention_mask=mask, token_types=types)


def _logits(model: nnx.Module, name: str) -> np.ndarray:
    data = _inputs(name)
    types = data.get("token_type_ids")
    return np.asarray(
        _forward(
            model,
            jnp.asarray(data["input_ids"], jnp.int32),
            jnp.asarray(data["attention_mask"], jnp.int32),
            None if types is None else jnp.asarray(types, jnp.int32),
        )
    )


@pytest.mark.parametrize("name", NAMES)
def test_minilm_lora_gives_peft_s_logits(name: str) -> None:
    golden, data = _golden(name), _inputs(name)
    real = data["attention_mask"].astype(bool)  # padded positions are undefined in both
    assert np.abs(golden["logits"][real] - data["logits"][real]).max() > 1.0  # the LoRA changes the logits
    ours = _logits(_with_lora(name, golden), name)
    np.testing.assert_allclose(ours[real], golden["logits"][real], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_save_peft_writes_peft_s_tensors_and_config(name: str, tmp_path: Path) -> None:
    save_peft(tmp_path, _with_lora(name, _golden(name)), _cfg(name))
    theirs = safetensors.numpy.load_file(str(FIXTURES / f"peft_tiny_{name}" / WEIGHTS))
    ours = safetensors.numpy.load_file(str(tmp_path / WEIGHTS))
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        assert ours[key].dtype == value.dtype, key
        np.testing.assert_array_equal(ours[key], value, err_msg=key)
    with safetensors.safe_open(str(tmp_path / WEIGHTS), framework="numpy") as f:
        assert f.metadata() == {"format": "pt"}
    theirs_cfg = json.loads((FIXTURES / f"peft_tiny_{name}" / CONFIG).read_text())
    ours_cfg = json.loads((tmp_path / CONFIG).read_text())
    assert set(ours_cfg["target_modules"]) == set(theirs_cfg["target_modules"])
    same = ("peft_type", "task_type", "r", "lora_alpha", "lora_dropout", "rank_pattern", "alpha_pattern")
    same += ("fan_in_fan_out", "bias", "use_rslora", "use_dora", "modules_to_save", "init_lora_weights")
    assert {k: ours_cfg[k] for k in same} == {k: theirs_cfg[k] for k in same}
    if name == "gpt2":  # q and v on c_attn: one LoRA of rank 2 r, scale 2 alpha / 2 r = alpha / r
        assert set(ours_cfg["rank_pattern"].values()) == {4}
        assert set(ours_cfg["alpha_pattern"].values()) == {6.0}


@pytest.mark.parametrize("name", NAMES)
def test_load_peft_reads_peft_s_folder(name: str, tmp_path: Path) -> None:
    golden = _golden(name)
    model = _with_lora(name)
    load_peft(FIXTURES / f"peft_tiny_{name}", model)
    expected = _with_lora(name, golden)
    for ours, want in zip(
        jax.tree.leaves(nnx.state(model)), jax.tree.leaves(nnx.state(expected)), strict=True
    ):
        np.testing.assert_array_equal(ours, want)
    save_peft(tmp_path, model, _cfg(name))  # and back: save -> load is the identity
    again = _with_lora(name)
    load_peft(tmp_path, again)
    for ours, want in zip(jax.tree.leaves(nnx.state(again)), jax.tree.leaves(nnx.state(model)), strict=True):
        np.testing.assert_array_equal(ours, want)


def _copy(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for f in (WEIGHTS, CONFIG):
        (folder / f).write_bytes((FIXTURES / f"peft_tiny_{name}" / f).read_bytes())
    return folder


def test_errors_are_one_line(tmp_path: Path) -> None:
    gpt2 = _copy("gpt2", tmp_path)
    tensors = safetensors.numpy.load_file(str(gpt2 / WEIGHTS))
    dense = dict(tensors)
    key = "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight"
    dense[key] = dense[key] + 0.1  # peft's own c_attn LoRA: one A for q, k and v, a dense B
    (gpt2 / WEIGHTS).write_bytes(safetensors.numpy.save(dense))
    with pytest.raises(UserError, match="h.1.attn.c_attn's lora_B is not block-structured"):
        load_peft(gpt2, _with_lora("gpt2"))
    (gpt2 / WEIGHTS).write_bytes(safetensors.numpy.save(tensors))

    config = json.loads((gpt2 / CONFIG).read_text())
    (gpt2 / CONFIG).write_text(json.dumps({**config, "alpha_pattern": {}}))
    with pytest.raises(UserError, match="c_attn has rank 4 and scale 0.75; minilm.s 4 and 1.5"):
        load_peft(gpt2, _with_lora("gpt2"))
    (gpt2 / CONFIG).write_text(json.dumps({**config, "peft_type": "IA3"}))
    with pytest.raises(UserError, match="not a peft LoRA adapter"):
        load_peft(gpt2, _with_lora("gpt2"))
    (gpt2 / CONFIG).write_text(json.dumps(config))

    fewer = load_hf(FIXTURES / "hf_tiny_gpt2").model
    with pytest.raises(UserError, match="no LoRA layers"):
        save_peft(tmp_path / "none", fewer, _cfg("gpt2"))
    apply_lora(fewer, LoRAConfig(r=2, alpha=3.0, targets=("q", "v", "o")), rngs=nnx.Rngs(0))
    with pytest.raises(UserError, match=r"h.0.mlp.c_fc.lora_A.weight is not in the model"):
        load_peft(gpt2, fewer)
    with pytest.raises(UserError, match="not the config's"):
        save_peft(tmp_path / "other", fewer, LoRAConfig(r=4, alpha=3.0, targets=("q", "v", "o")))


@pytest.mark.parametrize("name", NAMES)
def test_live_peft_loads_the_export_with_equal_logits(name: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    save_hf(load_hf(FIXTURES / f"hf_tiny_{name}").model, tmp_path / "base")  # the base, before LoRA
    model = _with_lora(name, _golden(name))
    save_peft(tmp_path / "adapter", model, _cfg(name))
    auto = transformers.AutoModelForCausalLM if name == "gpt2" else transformers.AutoModelForMaskedLM
    theirs = peft.PeftModel.from_pretrained(
        auto.from_pretrained(tmp_path / "base"), tmp_path / "adapter"
    ).eval()
    adapted = sorted(n for n, m in theirs.base_model.model.named_modules() if hasattr(m, "lora_A"))
    assert adapted == sorted(json.loads((tmp_path / "adapter" / CONFIG).read_text())["target_modules"])
    data = _inputs(name)
    kwargs = {k: torch.tensor(data[k]) for k in ("attention_mask", "token_type_ids") if k in data}
    with torch.no_grad():
        expected = theirs(input_ids=torch.tensor(data["input_ids"]), **kwargs).logits.numpy()
    real = data["attention_mask"].astype(bool)
    np.testing.assert_allclose(_logits(model, name)[real], expected[real], atol=1e-5, rtol=1e-5)
