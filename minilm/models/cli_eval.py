"""``evaluate.py perplexity | embed | similarity``: evaluate a Transformer from a folder.

``--model`` is a folder written by minilm (``config.json`` = ``{"model": ..., "architecture": "gpt"|"bert"}``
and ``model.safetensors``, ``tokenizer.json`` beside them or one folder up; a default run's ``lm/``), a
Hugging Face GPT-2/BERT folder, or ``hf:<repo_id>`` (:func:`minilm.models.io.load_model`).  Text is
tokenised with the model's own tokenizer.

- ``perplexity``: ``exp(NLL / tokens)`` of a causal LM; for a masked LM (BERT) the pseudo-perplexity
  ``exp(-PLL / tokens)``, every token scored with only itself masked (Salazar et al. 2020; see
  :mod:`minilm.objectives.mlm`).  Without ``--per-line`` the file is one token stream scored in
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

import argparse
import io
import json
import math
from pathlib import Path

import numpy as np

from minilm.data.formats import read_lines, read_text
from minilm.data.registry import load_dataset
from minilm.data.tokenizer import CLS, EOS, MASK, SEP, encode_stream
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.metrics.similarity import pearson, spearman
from minilm.models.hf import sentence_embeddings
from minilm.models.io import LoadedModel, load_model
from minilm.models.transformer import BERT, GPT
from minilm.objectives.lm import score_sequences
from minilm.objectives.mlm import pseudo_log_likelihood

# ------------------------------------------------------------------------------------------ perplexity


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


def run_perplexity(args: argparse.Namespace) -> int:
    loaded = load_model(args.model)
    if not isinstance(loaded.model, (GPT, BERT)):
        raise UserError(
            f"--model={args.model} is a bare encoder (no language-model head): "
            "perplexity needs a GPT or a BERT with its masked-LM head"
        )
    seqs = perplexity_sequences(loaded, Path(args.data), args.per_line)
    if isinstance(loaded.model, GPT):
        kind, (nll, tokens) = "causal", score_sequences(loaded.model, seqs, args.batch_size)
    else:
        pll, tokens = pseudo_log_likelihood(loaded.model, seqs, bert_special_ids(loaded)[2], args.batch_size)
        kind, nll = "pseudo", -pll
    result = {
        "kind": kind,
        "perplexity": math.exp(nll / tokens),
        "nll_per_token": nll / tokens,
        "tokens": tokens,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{'pseudo-' if kind == 'pseudo' else ''}perplexity {result['perplexity']:.4f}  "
            f"(NLL {result['nll_per_token']:.4f} nats/token, {tokens:,} tokens)"
        )
    return 0


# ------------------------------------------------------------------------------------ embed, similarity


def run_embed(args: argparse.Namespace) -> int:
    loaded = load_model(args.model)
    lines = read_lines(Path(args.input))
    if not lines:
        raise UserError(f"{args.input}: empty file: no sentences to embed")
    emb = sentence_embeddings(loaded.model, loaded.tokenizer, lines, max_length=args.max_length)
    buffer = io.BytesIO()
    np.save(buffer, emb.astype(np.float32), allow_pickle=False)
    atomic_write_bytes(Path(args.out), buffer.getvalue())
    result = {"sentences": len(lines), "dim": int(emb.shape[1]), "out": str(args.out)}
    print(
        json.dumps(result)
        if args.json
        else f"wrote {len(lines)} embeddings of size {emb.shape[1]} to {args.out}"
    )
    return 0


def run_similarity(args: argparse.Namespace) -> int:
    loaded = load_model(args.model)
    dataset = load_dataset(args.data, args.data_dir)
    if dataset.task != "similarity":
        raise UserError(
            f"--data={args.data} is a {dataset.task} dataset; similarity needs sentence pairs with scores"
        )
    pairs = dataset.split(args.split)
    left = sentence_embeddings(
        loaded.model, loaded.tokenizer, [p["sentence1"] for p in pairs], max_length=args.max_length
    )
    right = sentence_embeddings(
        loaded.model, loaded.tokenizer, [p["sentence2"] for p in pairs], max_length=args.max_length
    )
    cosine = (left * right).sum(axis=1)  # both L2-normalised
    gold = [p["score"] for p in pairs]
    result = {
        "spearman": 100 * spearman(cosine, gold),
        "pearson": 100 * pearson(cosine, gold),
        "pairs": len(pairs),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.data} {args.split}: Spearman {result['spearman']:.2f}  "
            f"Pearson {result['pearson']:.2f}  ({len(pairs)} pairs)"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    def command(name: str, help: str, run) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(name, help=help, description=help)
        parser.add_argument(
            "--model", required=True, help="minilm model/run folder, Hugging Face folder, or hf:<repo_id>"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.set_defaults(run=run)
        return parser

    p = command(
        "perplexity",
        "perplexity of a causal LM or pseudo-perplexity of a masked LM (ours, GPT-2, BERT) on a text file",
        run_perplexity,
    )
    p.add_argument("--data", required=True, help="UTF-8 text file")
    p.add_argument("--per-line", action="store_true", help="score each line as its own sequence")
    p.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="windows/lines (BERT: masked copies, one per token) per forward pass (default 8)",
    )
    p = command("embed", "sentence embeddings (mean pooling, L2-normalised) of each line, as .npy", run_embed)
    p.add_argument("--input", required=True, help="UTF-8 text file, one sentence per line")
    p.add_argument("--out", required=True, help="output .npy file, (sentences, dim) float32")
    p.add_argument("--max-length", type=int, default=256, help="truncate to this many tokens (default 256)")
    p = command(
        "similarity", "STS: Spearman/Pearson x 100 of embedding cosine vs gold scores", run_similarity
    )
    p.add_argument(
        "--data", default="stsbenchmark", help="a similarity dataset name or file (default stsbenchmark)"
    )
    p.add_argument("--split", default="test", choices=("dev", "test"), help="split to score (default test)")
    p.add_argument(
        "--data-dir", default=None, help="folder holding the dataset folders (default $MINILM_DATA)"
    )
    p.add_argument("--max-length", type=int, default=256, help="truncate to this many tokens (default 256)")
