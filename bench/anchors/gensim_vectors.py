#!/usr/bin/env python
"""Anchor: gensim's word2vec skip-gram / CBOW and fastText, trained and evaluated with fixed settings.

    PYTHONHASHSEED=0 python bench/anchors/gensim_vectors.py CORPUS [CORPUS ...] [--method skipgram]
        [--workers 2] [--save-vectors PATH]

Settings (all methods): 100 dimensions, window 5, negative sampling with 5 noise words (no
hierarchical softmax), subsampling 1e-3, min count 5, 5 epochs, learning rate 0.025 falling linearly
to 0.0001 (gensim's defaults), seed 0, ``--workers`` threads.  ``skipgram`` is ``Word2Vec(sg=1)``,
``cbow`` ``Word2Vec(sg=0)`` (mean of the context vectors), ``fasttext`` ``FastText(sg=1)`` with
character 3- to 6-grams hashed into 2,000,000 buckets.
Text: every line of the files, in order, is one sentence, lowercased and split on whitespace; empty
lines are dropped.  With more than one worker gensim's updates race, so runs differ slightly; one
worker and ``PYTHONHASHSEED=0`` (gensim seeds each word's vector from its hash) repeat exactly.

Timed with ``time.perf_counter``: ``build_vocab`` (vocab_seconds) and ``train`` (train_seconds) apart.
words/s counts the *effective* words, those left after min-count trimming and subsampling, as gensim's
``train`` returns them.  Evaluated with gensim's own routines and the files it ships: WordSim353 and
SimLex-999 Spearman (out-of-vocabulary pairs skipped; their share reported) and the Google analogies
among the 30,000 most frequent words.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

SETTINGS = dict(vector_size=100, window=5, negative=5, hs=0, sample=1e-3, min_count=5, epochs=5, seed=0)
FASTTEXT = dict(min_n=3, max_n=6, bucket=2_000_000)


def read_sentences(paths: list[str]) -> list[list[str]]:
    return [
        words for path in paths for line in open(path, encoding="utf-8") if (words := line.lower().split())
    ]


def evaluate(wv) -> dict:
    """gensim's similarity and analogy scores of the vectors ``wv``."""
    from gensim.test.utils import datapath

    scores = {}
    for key, name in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        _, (rho, _), oov = wv.evaluate_word_pairs(datapath(name))
        scores |= {f"{key}_spearman": round(float(rho), 4), f"{key}_oov_pct": round(float(oov), 2)}
    accuracy, _ = wv.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=30_000)
    return scores | {"analogy_acc_restrict30k": round(float(accuracy), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="+", help="text files, one sentence per line")
    ap.add_argument("--method", choices=("skipgram", "cbow", "fasttext"), default="skipgram")
    ap.add_argument("--workers", type=int, default=2, help="gensim's worker threads")
    ap.add_argument("--save-vectors", default="", help="also write the vectors here (word2vec text format)")
    args = ap.parse_args()

    import gensim
    from gensim.models import FastText, Word2Vec

    start = time.perf_counter()
    sentences = read_sentences(args.corpus)
    read_seconds = time.perf_counter() - start
    if args.method == "fasttext":
        model = FastText(sg=1, workers=args.workers, **SETTINGS, **FASTTEXT)
    else:
        model = Word2Vec(sg=int(args.method == "skipgram"), workers=args.workers, **SETTINGS)
    start = time.perf_counter()
    model.build_vocab(sentences)
    vocab_seconds = time.perf_counter() - start
    start = time.perf_counter()
    effective, raw = model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    train_seconds = time.perf_counter() - start
    if args.save_vectors:
        model.wv.save_word2vec_format(args.save_vectors)

    print(json.dumps({
        "anchor": "gensim_vectors",
        "method": args.method,
        "settings": SETTINGS | (FASTTEXT if args.method == "fasttext" else {}) | {"workers": args.workers},
        "corpus_words": sum(map(len, sentences)),
        "vocab_size": len(model.wv),
        "read_seconds": round(read_seconds, 3),
        "vocab_seconds": round(vocab_seconds, 3),
        "train_seconds": round(train_seconds, 3),
        "raw_words": int(raw),
        "effective_words": int(effective),
        "words_per_second": round(effective / train_seconds, 1),
        **evaluate(model.wv),
        "gensim": gensim.__version__,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
