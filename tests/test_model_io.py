"""Model folders: save -> load gives the same model, and every malformed file is one clear line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from minilm.data.bilm import Vocab
from minilm.data.tokenizer import load_tokenizer, train_bpe
from minilm.errors import UserError
from minilm.models.elmo import BiLM, BiLMConfig
from minilm.models.io import config_from_json, load_bilm, load_model, save_bilm, save_model
from minilm.models.transformer import GPT, TransformerConfig

LINES = ["the cat sat on the mat", "a dog ran to the park", "the bank of the river"]


@pytest.fixture(scope="module")
def gpt_folder(tmp_path_factory) -> tuple[Path, GPT]:
    """A run folder as the default run writes it: tokenizer.json, and the LM in lm/."""
    run = tmp_path_factory.mktemp("run")
    tokenizer = train_bpe(LINES * 5, vocab_size=300)
    cfg = TransformerConfig(
        vocab_size=tokenizer.get_vocab_size(), max_len=8, n_layer=1, n_head=2, d_model=8, d_ff=16
    )
    model = GPT(cfg, rngs=nnx.Rngs(3))
    save_model(run / "lm", model, {"model": cfg.to_dict(), "architecture": "gpt"})
    tokenizer.save(str(run / "tokenizer.json"))
    return run, model


def _same_params(a: nnx.Module, b: nnx.Module) -> None:
    for x, y in zip(
        jax.tree.leaves(nnx.state(a, nnx.Param)), jax.tree.leaves(nnx.state(b, nnx.Param)), strict=True
    ):
        np.testing.assert_array_equal(x, y)


def test_save_load_round_trip(gpt_folder) -> None:
    run, model = gpt_folder
    loaded = load_model(str(run))  # the run folder: the LM is found in lm/
    assert loaded.origin == "minilm" and loaded.model.cfg == model.cfg
    _same_params(loaded.model, model)
    bilm = BiLM(BiLMConfig(vocab_size=4, emb_dim=4, hidden=6, proj_dim=4, encoder="char", max_chars=6,
                           filters=((1, 2), (2, 3)), highway=1), rngs=nnx.Rngs(1))  # fmt: skip
    save_bilm(run / "bilm", bilm, Vocab(("a", "b", "c", "<unk>")))
    again, vocab = load_bilm(run / "bilm")
    assert again.cfg == bilm.cfg and vocab.words == ("a", "b", "c", "<unk>")
    _same_params(again, bilm)


def _model_entry(**changes) -> dict:
    cfg = TransformerConfig(vocab_size=300, max_len=8, n_layer=1, n_head=2, d_model=8, d_ff=16).to_dict()
    return {"architecture": "gpt", "model": {**cfg, **changes}}


BAD_CONFIGS = [
    ("{not json", r"config.json:1: not valid JSON"),
    ("[1, 2]", r"config.json: expected a JSON object, found a list"),
    ({"model": {}}, r"config.json: no 'architecture' key"),
    ({"architecture": "gpt"}, r"config.json: missing key 'model'"),
    (
        {"architecture": "gpt", "model": [1]},
        r"config.json, key 'model': expected a JSON object, found a list",
    ),
    (_model_entry(n_layers=2), r"config.json, key 'model': unknown keys \['n_layers'\]"),
    (
        {"architecture": "gpt", "model": {"n_layer": 1}},
        r"config.json, key 'model': missing keys \['vocab_size'",
    ),
    (_model_entry(n_layer="1"), r"config.json, key 'model': n_layer=\"1\" is not an integer"),
    (_model_entry(n_layer=True), r"config.json, key 'model': n_layer=true is not an integer"),
    (_model_entry(dropout=None), r"config.json, key 'model': dropout=null is not a number"),
    (_model_entry(n_layer=0), r"config.json, key 'model': n_layer=0: must be >= 1"),
    (_model_entry(d_model=9), r"config.json, key 'model': d_model=9: must be divisible by n_head=2"),
]


@pytest.mark.parametrize(("content", "message"), BAD_CONFIGS)
def test_malformed_config_json_is_one_line_naming_the_file(gpt_folder, tmp_path, content, message) -> None:
    folder = tmp_path / "lm"
    shutil.copytree(gpt_folder[0] / "lm", folder)
    (folder / "config.json").write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(UserError, match=message) as e:
        load_model(str(folder))
    assert "\n" not in str(e.value) and str(folder / "config.json") in str(e.value)


def test_missing_or_bad_weights_and_tokenizer(gpt_folder, tmp_path) -> None:
    run = tmp_path / "run"
    shutil.copytree(gpt_folder[0], run)
    (run / "tokenizer.json").write_text("{}")
    with pytest.raises(UserError, match=r"tokenizer.json: not a readable tokenizer.json"):
        load_model(str(run))
    (run / "tokenizer.json").unlink()
    with pytest.raises(UserError, match=r"lm/tokenizer.json: no such file, nor .*/run/tokenizer.json"):
        load_model(str(run))
    config = json.loads((run / "lm" / "config.json").read_text())
    config["model"]["n_layer"] = 2  # the weights hold one block
    (run / "lm" / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=r"lm/model.safetensors: no array 'backbone.blocks.1"):
        load_model(str(run))
    (run / "lm" / "model.safetensors").unlink()
    with pytest.raises(UserError, match=r"lm/model.safetensors: no such file \(the model's weights\)"):
        load_model(str(run))


def test_bilm_config_types_and_vocabulary(tmp_path) -> None:
    bilm = BiLM(BiLMConfig(vocab_size=3, emb_dim=4, hidden=6, layers=1), rngs=nnx.Rngs(0))
    save_bilm(tmp_path, bilm, Vocab(("a", "b", "<unk>")))
    config = json.loads((tmp_path / "config.json").read_text())
    for key, value, message in [
        ("filters", [[1, "2"]], r"filters=\[\[1, \"2\"\]\] is not a list like \[\[0, 0\]\]"),
        ("proj_dim", 2.5, r"proj_dim=2.5 is not an integer or null"),
    ]:
        (tmp_path / "config.json").write_text(
            json.dumps({**config, "model": {**config["model"], key: value}})
        )
        with pytest.raises(UserError, match=message):
            load_bilm(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "vocab.txt").write_text("a\nb\n")
    with pytest.raises(UserError, match=r"vocab.txt: 2 words, the model has 3"):
        load_bilm(tmp_path)
    (tmp_path / "vocab.txt").unlink()
    with pytest.raises(UserError, match=r"vocab.txt: no such file"):
        load_bilm(tmp_path)
    assert config_from_json(BiLMConfig, config["model"], "x") == bilm.cfg  # lists back to tuples


def test_tokenizer_padding_and_truncation_are_switched_off(tmp_path) -> None:
    """A tokenizer.json may pad every encoding (all-MiniLM-L6-v2: to 128) or cut it: the loader turns
    both off, so the ids are the text's ids only."""
    tokenizer = train_bpe(LINES * 5, vocab_size=300)
    plain = [e.ids for e in tokenizer.encode_batch(LINES)]
    tokenizer.enable_padding(length=32, pad_id=0)
    tokenizer.enable_truncation(max_length=2)
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    assert json.loads((tmp_path / "tokenizer.json").read_text())["padding"] is not None
    loaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert loaded.padding is None and loaded.truncation is None
    assert [e.ids for e in loaded.encode_batch(LINES)] == plain
