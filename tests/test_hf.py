"""Hugging Face checkpoints: parity with ``transformers`` / ``sentence-transformers`` (golden fixtures made by
``tests/fixtures/make_hf_fixtures.py``; live tests when torch is installed), export, and bad input.

``MINILM_MODELS`` points at the folder holding ``all-MiniLM-L6-v2`` (CI: ``../shared/models``); unset ->
those tests skip, set -> a missing checkpoint fails.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy
from flax import nnx

from minilm.errors import UserError
from minilm.models.hf import load_hf, save_hf, sentence_embeddings
from minilm.models.transformer import BERT, GPT, Transformer, TransformerConfig

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def minilm_folder() -> Path:
    root = os.environ.get("MINILM_MODELS")
    if not root:
        pytest.skip("MINILM_MODELS is not set (point it at ../shared/models to run the checkpoint tests)")
    folder = Path(root) / "all-MiniLM-L6-v2"
    assert (folder / "model.safetensors").is_file(), f"MINILM_MODELS={root} has no all-MiniLM-L6-v2"
    return folder


@nnx.jit
def _logits(model: nnx.Module, ids: jax.Array, mask: jax.Array, types: jax.Array | None) -> jax.Array:
    if types is None:
        return model(ids, attention_mask=mask)
    return model(ids, attention_mask=mask, token_types=types)


def _golden(name: str) -> tuple[nnx.Module, dict[str, np.ndarray], np.ndarray]:
    """The loaded tiny model, the fixture's arrays, and our logits for its inputs."""
    ckpt = load_hf(FIXTURES / f"hf_tiny_{name}")
    data = dict(np.load(FIXTURES / f"hf_tiny_{name}" / "expected.npz"))
    types = data.get("token_type_ids")
    ours = _logits(
        ckpt.model,
        jnp.asarray(data["input_ids"], jnp.int32),
        jnp.asarray(data["attention_mask"], jnp.int32),
        None if types is None else jnp.asarray(types, jnp.int32),
    )
    return ckpt.model, data, np.asarray(ours)


@pytest.mark.parametrize(("name", "cls"), [("gpt2", GPT), ("bert", BERT)])
def test_tiny_checkpoint_logits_match_transformers(name: str, cls: type) -> None:
    model, data, ours = _golden(name)
    assert isinstance(model, cls)
    real = data["attention_mask"].astype(bool)  # padded positions are undefined in both
    assert np.abs(data["logits"][real]).max() > 1.0  # the fixture is not trivially small
    np.testing.assert_allclose(ours[real], data["logits"][real], atol=1e-4)


def test_minilm_sentence_embeddings_match_sentence_transformers(minilm_folder: Path) -> None:
    ckpt = load_hf(minilm_folder)
    assert isinstance(ckpt.model, Transformer)  # BertModel: no MLM head
    sentences = json.loads((FIXTURES / "hf_minilm" / "sentences.json").read_text(encoding="utf-8"))
    expected = np.load(FIXTURES / "hf_minilm" / "expected.npz")["embeddings"]
    ours = sentence_embeddings(ckpt.model, ckpt.tokenizer, sentences, max_length=256, batch_size=4)
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


# ------------------------------------------------------------------------------------------- export


@pytest.mark.parametrize("name", ["gpt2", "bert"])
def test_reexport_reproduces_the_hf_tensors(name: str, tmp_path: Path) -> None:
    """Load a transformers-written folder and write it back: same tensor names and values."""
    folder = FIXTURES / f"hf_tiny_{name}"
    save_hf(load_hf(folder).model, tmp_path)
    theirs = safetensors.numpy.load_file(str(folder / "model.safetensors"))
    ours = safetensors.numpy.load_file(str(tmp_path / "model.safetensors"))
    tied = {"lm_head.weight", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}
    assert set(ours) <= set(theirs)
    assert set(theirs) - set(ours) <= tied
    for key, value in ours.items():
        np.testing.assert_array_equal(value, theirs[key], err_msg=key)
    hf_config = json.loads((folder / "config.json").read_text())
    exported = json.loads((tmp_path / "config.json").read_text())
    for key, value in exported.items():
        if key in hf_config and key != "architectures":
            assert hf_config[key] == value, key


@pytest.fixture(scope="module")
def tiny_models() -> list[nnx.Module]:
    """Configs that exercise the export's special cases: no biases, untied head, no token types."""
    gpt = TransformerConfig(vocab_size=40, max_len=16, n_layer=2, n_head=2, d_model=16, d_ff=24, bias=False)
    bert = TransformerConfig.bert(vocab_size=40, max_len=16, n_layer=2, n_head=2, d_model=16, d_ff=24)
    return [
        GPT(gpt, rngs=nnx.Rngs(1)),
        GPT(TransformerConfig(**{**gpt.to_dict(), "tie_embeddings": False, "bias": True}), rngs=nnx.Rngs(2)),
        BERT(TransformerConfig.bert(**{**bert.to_dict(), "type_vocab_size": 0}), rngs=nnx.Rngs(4)),
    ]


def test_export_then_load_roundtrip(tiny_models: list[nnx.Module], tmp_path: Path) -> None:
    ids = jnp.asarray(np.random.default_rng(0).integers(0, 40, (2, 9)), jnp.int32)
    mask = jnp.ones_like(ids)
    for i, model in enumerate(tiny_models):
        save_hf(model, tmp_path / str(i))
        loaded = load_hf(tmp_path / str(i)).model
        assert type(loaded) is type(model)
        np.testing.assert_allclose(
            _logits(loaded, ids, mask, None), _logits(model, ids, mask, None), atol=1e-6
        )


def test_live_export_loads_in_transformers(tiny_models: list[nnx.Module], tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    ids = np.random.default_rng(0).integers(0, 40, (2, 9))
    for i, model in enumerate(tiny_models):
        save_hf(model, tmp_path / str(i))
        auto = (
            transformers.AutoModelForCausalLM if isinstance(model, GPT) else transformers.AutoModelForMaskedLM
        )
        theirs = auto.from_pretrained(tmp_path / str(i)).eval()
        with torch.no_grad():
            expected = theirs(torch.tensor(ids)).logits.numpy()
        ours = _logits(model, jnp.asarray(ids, jnp.int32), jnp.ones(ids.shape, jnp.int32), None)
        np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_live_minilm_matches_sentence_transformers(minilm_folder: Path) -> None:
    st = pytest.importorskip("sentence_transformers")
    sentences = ["A live check.", "Mean pooling over real tokens, then L2 normalisation.", "x " * 300]
    expected = st.SentenceTransformer(str(minilm_folder), device="cpu").encode(sentences)
    ckpt = load_hf(minilm_folder)
    np.testing.assert_allclose(
        sentence_embeddings(ckpt.model, ckpt.tokenizer, sentences), expected, atol=1e-4
    )


# -------------------------------------------------------------------------------------------- errors


def _copy_tiny(tmp_path: Path, name: str = "gpt2") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for f in ("config.json", "model.safetensors"):
        (folder / f).write_bytes((FIXTURES / f"hf_tiny_{name}" / f).read_bytes())
    return folder


def test_bad_folders_are_user_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="no config.json"):
        load_hf(tmp_path)
    folder = _copy_tiny(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "t5"}))
    with pytest.raises(UserError, match="model_type='t5' is not supported"):
        load_hf(folder)
    (folder / "config.json").write_text(json.dumps({**config, "n_embd": 48}))
    with pytest.raises(UserError, match="has shape"):
        load_hf(folder)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").unlink()
    with pytest.raises(UserError, match="no model.safetensors"):
        load_hf(folder)

    import huggingface_hub

    def offline(*args, **kwargs):
        raise huggingface_hub.errors.OfflineModeIsEnabled("offline")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(UserError, match="hf:gpt2: could not download"):
        load_hf("hf:gpt2")
