#!/usr/bin/env python
"""Anchor: Stanford's GloVe (glove.c), built from its sources and run on one corpus with fixed settings.

    python bench/anchors/glove_c.py CORPUS [CORPUS ...] --out DIR --src GLOVE_DIR [--threads 2] [--seed 1]

``--src`` is a checkout of https://github.com/stanfordnlp/GloVe (Apache-2.0; the folder with its
``Makefile`` and ``src/``); it is built with ``make`` in a temporary copy, and nothing of it is kept.
Settings (Pennington et al. 2014): the corpus files, joined and lowercased (Python's ``str.lower``, as
the other anchors and minilm read it); ``vocab_count -min-count 5``; ``cooccur -window-size 10`` (symmetric,
counts weighted by 1 / distance); ``shuffle``; ``glove -vector-size 100 -iter 15 -x-max 100`` (alpha
0.75, eta 0.05 and the word + context sum as the vectors: its defaults) with ``--threads`` threads,
``--seed`` for shuffle and glove (with more than one thread the updates race, so runs still differ).

Writes ``--out``'s ``vocab.txt`` and ``vectors.txt`` (word2vec text without a header line; gensim:
``KeyedVectors.load_word2vec_format(path, no_header=True)``).  Timed: vocab counting, co-occurrence
counting + shuffling, training, and their total (building and lowercasing are not); the final cost
glove.c prints (the mean of ``0.5 f(X) diff^2`` over the entries during the last iteration).  When
gensim is installed the vectors are scored with its routines as ``gensim_vectors.py`` scores its own.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

MIN_COUNT, WINDOW, DIM, ITERATIONS, X_MAX, MEMORY_GB = 5, 10, 100, 15, 100, 4.0
CREC_BYTES = 16  # one co-occurrence record in glove.c: two int word ids and a double count


def build(src: Path, into: Path) -> Path:
    """``make`` a copy of the sources in ``into``; returns the folder of the four programs."""
    if not (src / "Makefile").is_file() or not (src / "src" / "glove.c").is_file():
        raise SystemExit(f"error: {src} is not a GloVe checkout (no Makefile and src/glove.c)")
    shutil.copytree(src / "src", into / "src")
    shutil.copy(src / "Makefile", into / "Makefile")
    subprocess.run(["make", "-s", "-C", str(into)], check=True, capture_output=True)
    return into / "build"


def stage(cmd: list, stdin: Path, stdout: Path, stderr: Path | None = None) -> float:
    """Run one program from file to file (its messages to ``stderr`` if given); returns its wall seconds."""
    start = time.perf_counter()
    with open(stdin, "rb") as i, open(stdout, "wb") as o, open(stderr or os.devnull, "wb") as e:
        subprocess.run([str(c) for c in cmd], stdin=i, stdout=o, stderr=e, check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path, nargs="+", help="text files, tokens separated by spaces")
    ap.add_argument("--out", type=Path, required=True, help="folder for vocab.txt and vectors.txt")
    ap.add_argument("--src", type=Path, required=True, help="the GloVe sources (its Makefile and src/)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1, help="shuffle's and glove's seed (0: from the clock)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bin_ = build(args.src.resolve(), tmp / "glove")
        corpus = tmp / "corpus.txt"
        corpus.write_text(
            "".join(p.read_text(encoding="utf-8").lower() for p in args.corpus), encoding="utf-8"
        )
        vocab, cooc, shuffled = args.out / "vocab.txt", tmp / "cooc.bin", tmp / "cooc.shuf.bin"
        quiet = ["-verbose", 0]
        vocab_s = stage([bin_ / "vocab_count", "-min-count", MIN_COUNT, *quiet], corpus, vocab)
        cooccur_s = stage(
            [bin_ / "cooccur", "-memory", MEMORY_GB, "-vocab-file", vocab, "-window-size", WINDOW, *quiet],
            corpus, cooc,
        )  # fmt: skip
        entries = cooc.stat().st_size // CREC_BYTES
        shuffle_s = stage(
            [bin_ / "shuffle", "-memory", MEMORY_GB, "-seed", args.seed, *quiet], cooc, shuffled
        )
        train = [
            bin_ / "glove", "-input-file", shuffled, "-vocab-file", vocab, "-save-file", args.out / "vectors",
            "-vector-size", DIM, "-iter", ITERATIONS, "-x-max", X_MAX, "-threads", args.threads,
            "-seed", args.seed, "-binary", 0, "-verbose", 1,
        ]  # fmt: skip
        train_s = stage(train, shuffled, tmp / "glove.log", tmp / "glove.err")
        costs = re.findall(r"cost: ([0-9.]+)", (tmp / "glove.err").read_text())

    result = {
        "anchor": "glove_c",
        "settings": {"min_count": MIN_COUNT, "window": WINDOW, "dim": DIM, "iter": ITERATIONS,
                     "x_max": X_MAX, "threads": args.threads, "seed": args.seed},
        "vocab_size": sum(1 for _ in open(vocab, encoding="utf-8")),
        "cooccurrence_entries": entries,
        "vocab_seconds": round(vocab_s, 2),
        "cooccurrence_seconds": round(cooccur_s + shuffle_s, 2),
        "train_seconds": round(train_s, 2),
        "total_seconds": round(vocab_s + cooccur_s + shuffle_s + train_s, 2),
        "final_cost": float(costs[-1]),
    }  # fmt: skip
    try:
        from gensim.models import KeyedVectors
    except ImportError:
        pass
    else:
        from gensim_vectors import evaluate

        wv = KeyedVectors.load_word2vec_format(args.out / "vectors.txt", no_header=True)
        result |= evaluate(wv)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
