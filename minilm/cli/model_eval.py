"""``evaluate.py perplexity | embed | similarity``: evaluate a Transformer from a folder.

``--model`` is a folder written by minilm (``config.json`` = ``{"model": ..., "architecture": "gpt"|"bert"}``
and ``model.safetensors``, ``tokenizer.json`` beside them or one folder up; a default run's ``lm/``), a
Hugging Face GPT-2/BERT folder, or ``hf:<repo_id>`` (:func:`minilm.models.io.load_model`).  Text is
tokenised with the model's own tokenizer.

- ``perplexity``: ``exp(NLL / tokens)`` of a causal LM; for a masked LM (BERT) the pseudo-perplexity
  ``exp(-PLL / tokens)``, every token scored with only itself masked (Salazar et al. 2020; see
  :mod:`minilm.objectives.mlm`).  Without ``--per_line`` the file is one token stream scored in
  non-overlapping windows of the context length; with it every line is one sequence (truncated to the
  context length).  As in ``transformers``, the first token of each window/sequence of a causal LM has
  no context and is not scored; a BERT window/sequence is wrapped in ``[CLS] .. [SEP]`` (minilm:
  ``<cls> .. <sep>``), which are context only.  minilm models see text as trained: each line followed
  by ``<eos>`` (and, per line, a GPT's preceded by one); a Hugging Face model reads the file's text as is.
- ``embed``: sentence embeddings (mean of the last hidden states over real tokens, L2-normalised;
  Reimers & Gurevych 2019) of each input line, saved as a (N, D) float32 ``.npy``.
- ``similarity``: cosine similarity of the two sentences of each STS pair against the gold scores,
  Spearman and Pearson correlation x 100 (the STS benchmark convention).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minilm.config import at_least, opt, required, sub
from minilm.data.formats import read_lines, read_text
from minilm.data.registry import DataRoot, load_dataset
from minilm.data.tokenizer import CLS, EOS, MASK, SEP, encode_stream
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.metrics.similarity import pearson, spearman
from minilm.models.hf import sentence_embeddings
from minilm.models.io import LoadedModel, load_model
from minilm.models.transformer import BERT, GPT
from minilm.objectives.lm import score_sequences
from minilm.objectives.mlm import pseudo_log_likelihood
from minilm.train.run import say

MODEL_HELP = "minilm model/run folder, Hugging Face folder, or hf:<repo_id>"

# ------------------------------------------------------------------------------------------ perplexity


@dataclass
class PerplexityConfig:
    """Perplexity of a causal LM, or pseudo-perplexity of a masked LM (ours, GPT-2, BERT), on a text file."""

    model: str = opt("", MODEL_HELP, check=required)
    data: str = opt("", "UTF-8 text file", check=required)
    per_line: bool = opt(False, "score each line as its own sequence")
    batch_size: int = opt(
        8, "windows/lines (BERT: masked copies, one per token) per forward pass", check=at_least(1)
    )
    json: bool = opt(False, "print one JSON object")
    progress: bool = opt(True, "say what each long step is doing")


def bert_special_ids(loaded: LoadedModel) -> tuple[int, int, int]:
    """The ``[CLS]``, ``[SEP]`` and ``[MASK]`` ids of a BERT's tokenizer (minilm: ``<cls>``, ``<sep>``,
    ``<mask>``)."""
    if loaded.origin == "minilm":
        return CLS, SEP, MASK
    ids = tuple(loaded.tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[MASK]"))
    if None in ids:
        raise UserError(
            "the model's tokenizer.json has no [CLS], [SEP] or [MASK] token: a BERT needs all three"
        )
    return ids


def perplexity_sequences(loaded: LoadedModel, path: Path, per_line: bool) -> list[list[int]]:
    """The token sequences to score (see the module docstring)."""
    tok, context = loaded.tokenizer, loaded.model.cfg.max_len
    ours = loaded.origin == "minilm"
    causal = isinstance(loaded.model, GPT)
    if causal:
        begin, end = ([EOS] if ours and per_line else []), []
    else:
        cls, sep, _ = bert_special_ids(loaded)
        begin, end = [cls], [sep]
    width = context - len(begin) - len(end)  # tokens of text per sequence
    if per_line:
        lines = [line for line in read_lines(path) if line.strip()]
        encoded = [e.ids for e in tok.encode_batch(lines, add_special_tokens=False)] if lines else []
        texts = [(ids + [EOS] if ours else ids)[:width] for ids in encoded]
    else:
        stream = (
            encode_stream(tok, read_lines(path))
            if ours
            else np.asarray(tok.encode(read_text(path), add_special_tokens=False).ids)
        )
        texts = [stream[i : i + width].tolist() for i in range(0, len(stream), width)]
    context_only = 1 if causal else 2  # not scored: a causal LM's first token, a BERT's [CLS] and [SEP]
    seqs = [seq for t in texts if len(seq := begin + t + end) > context_only]
    if not seqs:
        raise UserError(f"{path}: no text to score (no window or line has a token to score)")
    return seqs


def run_perplexity(cfg: PerplexityConfig) -> int:
    loaded = load_model(cfg.model)
    if not isinstance(loaded.model, (GPT, BERT)):
        raise UserError(
            f"--model={cfg.model} is a bare encoder (no language-model head): "
            "perplexity needs a GPT or a BERT with its masked-LM head"
        )
    seqs = perplexity_sequences(loaded, Path(cfg.data), cfg.per_line)
    if isinstance(loaded.model, GPT):
        kind, (nll, tokens) = "causal", score_sequences(loaded.model, seqs, cfg.batch_size)
    else:
        pll, tokens = pseudo_log_likelihood(loaded.model, seqs, bert_special_ids(loaded)[2], cfg.batch_size)
        kind, nll = "pseudo", -pll
    result = {
        "kind": kind,
        "perplexity": math.exp(nll / tokens),
        "nll_per_token": nll / tokens,
        "tokens": tokens,
    }
    if cfg.json:
        print(json.dumps(result))
    else:
        print(
            f"{'pseudo-' if kind == 'pseudo' else ''}perplexity {result['perplexity']:.4f}  "
            f"(NLL {result['nll_per_token']:.4f} nats/token, {tokens:,} tokens)"
        )
    return 0


# ------------------------------------------------------------------------------------ embed, similarity


@dataclass
class EmbedConfig:
    """Sentence embeddings (mean pooling, L2-normalised) of each line of a file, saved as .npy."""

    model: str = opt("", MODEL_HELP, check=required)
    input: str = opt("", "UTF-8 text file, one sentence per line", check=required)
    out: str = opt("", "output .npy file, (sentences, dim) float32", check=required)
    max_length: int = opt(
        256, "truncate to this many tokens (at most the model's context)", check=at_least(1)
    )
    json: bool = opt(False, "print one JSON object")
    progress: bool = opt(True, "say what each long step is doing")


@dataclass
class SimilarityConfig:
    """STS: Spearman and Pearson x 100 of the embeddings' cosine against the gold scores."""

    model: str = opt("", MODEL_HELP, check=required)
    data: str = opt("stsbenchmark", "a similarity dataset name, or a file of sentence pairs with scores")
    split: str = opt("test", "split to score (a file's only split is used whatever this says)")
    max_length: int = opt(
        256, "truncate to this many tokens (at most the model's context)", check=at_least(1)
    )
    json: bool = opt(False, "print one JSON object")
    progress: bool = opt(True, "say what each long step is doing")
    root: DataRoot = sub(DataRoot, flat=True)


def _embed(loaded: LoadedModel, sentences: list[str], max_length: int) -> np.ndarray:
    """(N, D) L2-normalised mean-pooled embeddings, texts truncated to the model's context at most (as
    sentence-transformers does)."""
    width = min(max_length, loaded.model.cfg.max_len)
    return sentence_embeddings(loaded.model, loaded.tokenizer, sentences, max_length=width)


def run_embed(cfg: EmbedConfig) -> int:
    loaded = load_model(cfg.model)
    lines = read_lines(Path(cfg.input))
    if not lines:
        raise UserError(f"{cfg.input}: empty file: no sentences to embed")
    emb = _embed(loaded, lines, cfg.max_length)
    buffer = io.BytesIO()
    np.save(buffer, emb.astype(np.float32), allow_pickle=False)
    atomic_write_bytes(Path(cfg.out), buffer.getvalue())
    result = {"sentences": len(lines), "dim": int(emb.shape[1]), "out": str(cfg.out)}
    print(
        json.dumps(result)
        if cfg.json
        else f"wrote {len(lines)} embeddings of size {emb.shape[1]} to {cfg.out}"
    )
    return 0


def run_similarity(cfg: SimilarityConfig) -> int:
    loaded = load_model(cfg.model)
    dataset = load_dataset(cfg.data, cfg.root.data_dir or None)
    if dataset.task != "similarity":
        raise UserError(
            f"--data={cfg.data} is a {dataset.task} dataset; similarity needs sentence pairs with scores"
        )
    split = cfg.split if len(dataset.splits) > 1 else next(iter(dataset.splits))
    pairs = dataset.split(split)
    say(cfg, f"embedding {len(pairs):,} sentence pairs")
    left = _embed(loaded, [p["sentence1"] for p in pairs], cfg.max_length)
    right = _embed(loaded, [p["sentence2"] for p in pairs], cfg.max_length)
    cosine = (left * right).sum(axis=1)  # both L2-normalised
    gold = [p["score"] for p in pairs]
    result = {
        "spearman": 100 * spearman(cosine, gold),
        "pearson": 100 * pearson(cosine, gold),
        "pairs": len(pairs),
    }
    if cfg.json:
        print(json.dumps(result))
    else:
        print(
            f"{cfg.data} {split}: Spearman {result['spearman']:.2f}  "
            f"Pearson {result['pearson']:.2f}  ({len(pairs)} pairs)"
        )
    return 0
