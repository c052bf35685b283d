"""``evaluate.py perplexity | embed``: golden values from ``transformers`` / ``sentence-transformers``
(``tests/fixtures/make_hf_fixtures.py``), minilm-format folders, and clear refusals."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from minilm.cli.evaluate import main
from minilm.data.tokenizer import EOS, train_bpe
from minilm.errors import UserError
from minilm.models.transformer import GPT, TransformerConfig
from minilm.train import checkpoint

FIXTURES = Path(__file__).parent / "fixtures"
GPT2 = FIXTURES / "hf_tiny_gpt2"


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("mode", ["stream", "per_line"])
def test_perplexity_of_gpt2_folder_matches_transformers(mode: str, tmp_path: Path, capsys) -> None:
    expected = json.loads((GPT2 / "expected_perplexity.json").read_text(encoding="utf-8"))
    data = tmp_path / "text.txt"
    data.write_text(expected["text"], encoding="utf-8")
    flags = ["--per-line"] if mode == "per_line" else []
    got = _run(["perplexity", "--model", str(GPT2), "--data", str(data), *flags], capsys)
    assert got["tokens"] == expected[mode]["tokens"]
    np.testing.assert_allclose(got["nll_per_token"], expected[mode]["nll_per_token"], rtol=1e-5)
    np.testing.assert_allclose(got["perplexity"], expected[mode]["perplexity"], rtol=1e-4)


def test_perplexity_of_minilm_folder(tmp_path: Path, capsys) -> None:
    """A folder as train.py writes it; per line, each line is scored as <eos> line <eos>."""
    lines = ["the cat sat on the mat", "a dog ran to the park", "the bank of the river"]
    tokenizer = train_bpe(lines * 5, vocab_size=300)
    cfg = TransformerConfig(
        vocab_size=tokenizer.get_vocab_size(), max_len=32, n_layer=1, n_head=2, d_model=16, d_ff=32
    )
    model = GPT(cfg, rngs=nnx.Rngs(0))
    folder = tmp_path / "run" / "lm"
    folder.mkdir(parents=True)
    checkpoint.save_arrays(folder / "model.safetensors", checkpoint.flatten(nnx.state(model, nnx.Param)))
    (folder / "config.json").write_text(json.dumps({"model": cfg.to_dict(), "architecture": "gpt"}))
    tokenizer.save(str(tmp_path / "run" / "tokenizer.json"))
    data = tmp_path / "lines.txt"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = _run(["perplexity", "--model", str(tmp_path / "run"), "--data", str(data), "--per-line"], capsys)
    # the reference: one plain forward pass; right padding cannot change a causal model's earlier logits
    seqs = [[EOS, *tokenizer.encode(line).ids, EOS] for line in lines]
    batch = np.zeros((len(seqs), max(map(len, seqs))), np.int32)
    for row, seq in enumerate(seqs):
        batch[row, : len(seq)] = seq
    log_p = np.asarray(jax.nn.log_softmax(nnx.jit(lambda m, x: m(x))(model, batch), axis=-1), np.float64)
    nll = -sum(log_p[r, t - 1, seq[t]] for r, seq in enumerate(seqs) for t in range(1, len(seq)))
    count = sum(len(seq) - 1 for seq in seqs)
    assert got["tokens"] == count
    np.testing.assert_allclose(got["nll_per_token"], nll / count, rtol=1e-5)


def test_perplexity_refuses_a_masked_lm(tmp_path: Path) -> None:
    folder = tmp_path / "bert"
    shutil.copytree(FIXTURES / "hf_tiny_bert", folder)
    shutil.copy(GPT2 / "tokenizer.json", folder / "tokenizer.json")
    data = tmp_path / "t.txt"
    data.write_text("some text\n", encoding="utf-8")
    with pytest.raises(UserError, match="masked LM"):
        main(["perplexity", "--model", str(folder), "--data", str(data)])
    with pytest.raises(UserError, match="no config.json"):
        main(["perplexity", "--model", str(tmp_path / "nowhere"), "--data", str(data)])


def test_embed_matches_sentence_transformers(tmp_path: Path, capsys) -> None:
    root = os.environ.get("MINILM_MODELS")
    if not root:
        pytest.skip("MINILM_MODELS is not set (point it at ../shared/models)")
    sentences = json.loads((FIXTURES / "hf_minilm" / "sentences.json").read_text(encoding="utf-8"))
    data = tmp_path / "sentences.txt"
    data.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    out = tmp_path / "emb.npy"
    got = _run(
        ["embed", "--model", str(Path(root) / "all-MiniLM-L6-v2"), "--input", str(data), "--out", str(out)],
        capsys,
    )
    assert got == {"sentences": len(sentences), "dim": 384, "out": str(out)}
    expected = np.load(FIXTURES / "hf_minilm" / "expected.npz")["embeddings"]
    np.testing.assert_allclose(np.load(out), expected, atol=1e-4)
