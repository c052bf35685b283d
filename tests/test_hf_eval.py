"""``evaluate.py perplexity | embed``: golden values from ``transformers`` / ``sentence-transformers``
(``tests/fixtures/make_hf_fixtures.py``), minilm-format folders, BERT pseudo-perplexity against masking
one token at a time by hand, and clear refusals."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy
from flax import nnx
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from minilm.cli.evaluate import main
from minilm.data.tokenizer import CLS, EOS, MASK, SEP, encode_stream, train_bpe
from minilm.errors import UserError
from minilm.models.hf import load_hf
from minilm.models.transformer import BERT, GPT, TransformerConfig
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
    assert got["kind"] == "causal" and got["tokens"] == expected[mode]["tokens"]
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


# ---------------------------------------------------------------------- BERT: pseudo-perplexity

LINES = [
    "the cat sat on the mat",
    "a dog ran to the park",
    "the bank of the river is under the hill and the king saw the queen ran to the park",
    "the bank",
]


def _pll_by_hand(model: BERT, seqs: list[list[int]], mask_id: int) -> np.ndarray:
    """log p(x_t | x_\\t) of every inner token: one unpadded forward pass per masked copy."""
    forward = jax.jit(lambda tokens: jax.nn.log_softmax(model(tokens), axis=-1))  # (1, L) -> (1, L, V)
    scores = []
    for seq in seqs:
        for t in range(1, len(seq) - 1):
            masked = np.array(seq)
            masked[t] = mask_id
            scores.append(float(forward(jnp.asarray(masked[None]))[0, t, seq[t]]))
    return np.array(scores)


def _check_pseudo(got: dict, by_hand: np.ndarray) -> None:
    assert np.std(by_hand) > 0.3  # the model is far from uniform: a wrong token or position would show
    assert got["kind"] == "pseudo" and got["tokens"] == len(by_hand)
    np.testing.assert_allclose(got["nll_per_token"], -by_hand.mean(), rtol=1e-5)
    np.testing.assert_allclose(got["perplexity"], np.exp(-by_hand.mean()), rtol=1e-5)


@pytest.fixture(scope="module")
def minilm_bert(tmp_path_factory) -> tuple[Path, BERT, Tokenizer]:
    """A tiny BERT run folder, parameters moved far from initialisation (peaked predictions)."""
    tokenizer = train_bpe(LINES * 5, vocab_size=300)
    cfg = TransformerConfig.bert(
        vocab_size=tokenizer.get_vocab_size(), max_len=16, n_layer=1, n_head=2, d_model=16, d_ff=32
    )
    model = BERT(cfg, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    params = nnx.state(model, nnx.Param)
    nnx.update(model, jax.tree.map(lambda p: p + rng.normal(0, 0.5, p.shape).astype(p.dtype), params))
    run = tmp_path_factory.mktemp("bert")
    checkpoint.save_arrays(run / "model.safetensors", checkpoint.flatten(nnx.state(model, nnx.Param)))
    (run / "config.json").write_text(json.dumps({"model": cfg.to_dict(), "architecture": "bert"}))
    tokenizer.save(str(run / "tokenizer.json"))
    return run, model, tokenizer


@pytest.mark.parametrize("mode", ["stream", "per_line"])
def test_pseudo_perplexity_of_minilm_bert(mode: str, minilm_bert, tmp_path: Path, capsys) -> None:
    """<cls> text <sep> with every line followed by <eos>; the long line is cut to 14 text tokens (per
    line) and the stream to windows of 14; --batch-size=5 leaves a partial last batch."""
    run, model, tokenizer = minilm_bert
    data = tmp_path / "lines.txt"
    data.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    flags = ["--per-line"] if mode == "per_line" else []
    got = _run(["perplexity", "--model", str(run), "--data", str(data), "--batch-size=5", *flags], capsys)
    if mode == "per_line":
        texts = [(tokenizer.encode(line).ids + [EOS])[:14] for line in LINES]
    else:
        stream = encode_stream(tokenizer, LINES).tolist()
        texts = [stream[i : i + 14] for i in range(0, len(stream), 14)]
    assert max(map(len, texts)) == 14 and min(map(len, texts)) < 14  # cut and padded rows are both seen
    _check_pseudo(got, _pll_by_hand(model, [[CLS, *t, SEP] for t in texts], MASK))


def _hf_bert_folder(tmp_path: Path) -> Path:
    """The tiny BertForMaskedLM fixture with a word-level tokenizer whose [CLS]/[SEP]/[MASK] ids are not
    minilm's, and which adds [CLS] .. [SEP] itself, as a BERT tokenizer does."""
    folder = tmp_path / "bert"
    shutil.copytree(FIXTURES / "hf_tiny_bert", folder)
    words = sorted({w for line in LINES for w in line.split()})
    vocab = {w: i for i, w in enumerate(["[PAD]", *words, "[UNK]", "[CLS]", "[SEP]", "[MASK]"])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


def test_pseudo_perplexity_of_hf_bert(tmp_path: Path, capsys) -> None:
    folder = _hf_bert_folder(tmp_path)
    data = tmp_path / "lines.txt"
    data.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    got = _run(["perplexity", "--model", str(folder), "--data", str(data), "--per-line"], capsys)
    ckpt = load_hf(folder)
    seqs = [ckpt.tokenizer.encode(line).ids for line in LINES]  # [CLS] .. [SEP] from the tokenizer
    assert seqs[0][0] == ckpt.tokenizer.token_to_id("[CLS]") != CLS
    _check_pseudo(got, _pll_by_hand(ckpt.model, seqs, ckpt.tokenizer.token_to_id("[MASK]")))
    got = _run(["perplexity", "--model", str(folder), "--data", str(data)], capsys)  # one stream
    stream = ckpt.tokenizer.encode("\n".join(LINES) + "\n", add_special_tokens=False).ids
    assert len(stream) <= 38  # one window of the 40-token context
    assert got["tokens"] == len(stream)


@pytest.mark.parametrize("mode", ["stream", "per_line"])
def test_tokenizer_with_its_own_padding_scores_only_real_tokens(mode: str, tmp_path: Path, capsys) -> None:
    """A tokenizer.json that pads every encoding (all-MiniLM-L6-v2's: to 128) and truncates: the
    loader switches both off, so the scores equal those of the same tokenizer without them."""
    plain = _hf_bert_folder(tmp_path / "plain")
    padded = _hf_bert_folder(tmp_path / "padded")
    tokenizer = Tokenizer.from_file(str(padded / "tokenizer.json"))
    tokenizer.enable_padding(length=40, pad_id=0, pad_token="[PAD]")
    tokenizer.enable_truncation(max_length=6)
    tokenizer.save(str(padded / "tokenizer.json"))
    data = tmp_path / "lines.txt"
    data.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    flags = ["--per-line"] if mode == "per_line" else []
    expected = _run(["perplexity", "--model", str(plain), "--data", str(data), *flags], capsys)
    got = _run(["perplexity", "--model", str(padded), "--data", str(data), *flags], capsys)
    assert got == expected


def test_perplexity_refusals(tmp_path: Path) -> None:
    data = tmp_path / "t.txt"
    data.write_text("some text\n", encoding="utf-8")
    folder = tmp_path / "bert-with-gpt2-tokenizer"
    shutil.copytree(FIXTURES / "hf_tiny_bert", folder)
    shutil.copy(GPT2 / "tokenizer.json", folder / "tokenizer.json")
    with pytest.raises(UserError, match=r"no \[CLS\], \[SEP\] or \[MASK\] token"):
        main(["perplexity", "--model", str(folder), "--data", str(data)])
    bare = _hf_bert_folder(tmp_path / "bare")  # BertModel: no cls.predictions head
    weights = safetensors.numpy.load_file(bare / "model.safetensors")
    safetensors.numpy.save_file(
        {k: v for k, v in weights.items() if not k.startswith("cls.")}, bare / "model.safetensors"
    )
    with pytest.raises(UserError, match="bare encoder"):
        main(["perplexity", "--model", str(bare), "--data", str(data)])
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
