#!/usr/bin/env python
"""Build the word-level corpora of the benchmarks from the ``wikipedia_en`` dataset.

    python bench/corpora.py [--data_dir DIR] [--out bench/corpora]

``--data_dir`` is the root of the real datasets (default ``$MINILM_DATA``), whose ``wikipedia_en/AA/``
holds WikiExtractor's ``wiki_00.gz`` .. ``wiki_49.gz``.  Runtime: about 10 s.

Each line of the files, in name order, becomes one line of space-joined tokens, except blank lines and
the ``<doc ...>`` / ``</doc>`` lines, which are dropped.  A token is a run of letters and digits that
may continue across one ' - or . (``don't``, ``non-hierarchical``, ``U.S``, ``3.5``), or any other
single non-space character; case is kept.  Written to ``--out`` (deterministic, byte-identical on
every rebuild):

    wiki_en_train.txt   wiki_00 .. wiki_48           9,396,775 tokens
    wiki_en_valid.txt   wiki_49                        192,390 tokens
    wiki_en_2m.txt      the first lines of the train file, up to the line where the token count
                        first reaches 2,088,628 (WikiText-2 train's size)    2,088,726 tokens

Prints one JSON line: lines, tokens and SHA-256 of each file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from minilm.data.formats import read_lines  # noqa: E402
from minilm.data.loaders import WIKI_FILES  # noqa: E402
from minilm.data.registry import data_root  # noqa: E402
from minilm.errors import UserError, run_cli  # noqa: E402

TOKEN = re.compile(r"[^\W_]+(?:['\-.][^\W_]+)*|\S")
WIKITEXT2_TRAIN_TOKENS = 2_088_628


def tokenised_lines(paths: Iterable[Path]) -> Iterator[str]:
    """The text lines of WikiExtractor files, tokenised and space-joined."""
    for path in paths:
        for line in read_lines(path):
            line = line.strip()
            if line and not line.startswith("<doc ") and line != "</doc>":
                yield " ".join(TOKEN.findall(line))


def write_lines(path: Path, lines: Iterable[str]) -> dict:
    """Write one line each; returns the file's line and token counts and SHA-256."""
    n_lines = n_tokens = 0
    digest = hashlib.sha256()
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
            digest.update((line + "\n").encode())
            n_lines += 1
            n_tokens += len(line.split(" "))
    return {"lines": n_lines, "tokens": n_tokens, "sha256": digest.hexdigest()}


def leading_lines(lines: Iterable[str], n_tokens: int) -> Iterator[str]:
    """The first lines, up to the one where the token count first reaches ``n_tokens``."""
    total = 0
    for line in lines:
        if total >= n_tokens:
            return
        yield line
        total += len(line.split(" "))


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data_dir", default="", help="root of the real datasets (default: $MINILM_DATA)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "corpora")
    args = ap.parse_args(argv)
    folder = data_root(args.data_dir) / "wikipedia_en"
    files = [folder / name for name in WIKI_FILES]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise UserError(
            f"no {missing[0]}: point --data_dir (or $MINILM_DATA) at the folder that holds wikipedia_en/"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    train, valid, small = (args.out / f"wiki_en_{n}.txt" for n in ("train", "valid", "2m"))
    stats = {
        train.name: write_lines(train, tokenised_lines(files[:-1])),
        valid.name: write_lines(valid, tokenised_lines(files[-1:])),
    }
    with open(train, encoding="utf-8") as f:
        lines = (line.removesuffix("\n") for line in f)
        stats[small.name] = write_lines(small, leading_lines(lines, WIKITEXT2_TRAIN_TOKENS))
    print(json.dumps({"out": str(args.out), **stats}))


if __name__ == "__main__":
    run_cli(main)
