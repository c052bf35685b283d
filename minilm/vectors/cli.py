"""Train static word vectors: skip-gram, CBOW (word2vec), fastText (skip-gram + subwords) or GloVe.

    python train.py vectors --method=skipgram --data=world
    python train.py vectors --method=glove --data=corpus.txt --min_count=5
    python evaluate.py vectors --vectors runs/vectors/default/vectors.bin --wordsim --simlex --analogies
    python evaluate.py vectors --vectors runs/vectors/default/vectors.safetensors --neighbours king paris

Expected on the embedded ``world`` corpus (seed 0): skip-gram with dim 50 and 5 epochs answers 90% or
more of the generator's analogies (3CosAdd) and orders its similarity levels with Spearman > 0.7
(``tests/test_vectors_train.py``).  On ``wiki_en_2m.txt`` with the defaults (``bench/vectors.py``,
gensim in the same run): skip-gram WordSim353 Spearman 0.416 (gensim 0.395), CBOW 0.288 (0.269),
fastText 0.409 (0.391), each at 1.1-1.3x gensim's words/s on 2 cores; GloVe (window 10, 15 epochs)
0.223 in about 2 minutes -- GloVe needs more text than 2M tokens.

The run folder ``<out_dir>/<name>``: ``vectors.safetensors`` + ``vectors.vocab.json`` (all methods;
fastText also its n-gram rows, for OOV words), ``vectors.bin`` (word2vec binary, readable by gensim's
``KeyedVectors.load_word2vec_format(..., binary=True)``), ``config.json`` and ``report.json``; a folder
that already holds a run is refused (pass another ``--name``).
Text is whitespace-tokenised (after lowercasing unless ``--lowercase=false``): give pre-tokenised text,
e.g. the corpora of ``prep_wikipedia_en.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass

import numpy as np

from minilm.config import RunSettings, config_to_dict, opt
from minilm.data.registry import load_dataset
from minilm.errors import UserError
from minilm.vectors import fasttext, glove, word2vec
from minilm.vectors.keyed_vectors import KeyedVectors, load_vectors
from minilm.vectors.subwords import SubwordHasher
from minilm.vectors.vocab import build_vocab_and_corpus

METHODS = ("skipgram", "cbow", "fasttext", "glove")
# (batch, steps per call) per method: sub-batches small enough that stale rows stay rare, calls long
# enough that dispatch is negligible (CBOW tolerates larger sub-batches, and they run faster)
BATCHING = {"skipgram": (64, 64), "cbow": (512, 16), "fasttext": (64, 64), "glove": (1024, 64)}


@dataclass
class Config(RunSettings):
    """Settings of ``train.py vectors`` (``python train.py vectors --help``)."""

    name: str = opt("", "run name: the run folder is <out_dir>/<name> (default: <method>-<timestamp>)")
    out_dir: str = opt("runs/vectors", "folder that holds the run folders")
    method: str = opt("skipgram", "training method", choices=METHODS)
    data: str = opt("world", "training text: a dataset name (world, wikitext2, ...) or a text file")
    lowercase: bool = opt(True, "lowercase the text before splitting on whitespace")
    min_count: int = opt(5, "drop words seen fewer times")
    max_vocab: int = opt(0, "keep only the most frequent words (0 = no limit)")
    dim: int = opt(100, "vector size")
    window: int = opt(5, "window radius (word2vec/fastText: the maximum of the sampled radius)")
    epochs: int = opt(0, "passes over the corpus (0 = the method's default: 5, GloVe 15)")
    seed: int = opt(0, "seed for initialisation, subsampling, windows and noise words")
    negative: int = opt(5, "word2vec/fastText: noise words per context word")
    noise_draws: int = opt(5, "fastText: noise words drawn per centre and shared by its contexts")
    sample: float = opt(1e-3, "word2vec/fastText: subsampling threshold (0 = off)")
    alpha: float = opt(0.025, "word2vec/fastText: initial learning rate (decays linearly to alpha * 1e-4)")
    batch: int = opt(0, "centres (GloVe: co-occurrence entries) per sparse SGD step (0 = method default)")
    steps_per_call: int = opt(0, "SGD steps per jitted call (0 = method default)")
    min_n: int = opt(3, "fastText: shortest character n-gram")
    max_n: int = opt(6, "fastText: longest character n-gram")
    buckets: int = opt(2_000_000, "fastText: hash buckets for n-grams")
    x_max: float = opt(100.0, "GloVe: count at which the weight f(x) reaches 1")
    glove_alpha: float = opt(0.75, "GloVe: exponent of f(x)")
    eta: float = opt(0.05, "GloVe: AdaGrad learning rate")
    json: bool = opt(False, "print the report as one JSON object on stdout")


def read_sentences(data: str, data_dir: str, lowercase: bool) -> list[list[str]]:
    """The train split of an LM dataset (a registry name or a text file), one token list per line."""
    dataset = load_dataset(data, data_dir or None)
    if dataset.task != "lm":
        raise UserError(
            f"--data={dataset.name} is a {dataset.task} dataset; word vectors need text (task lm)"
        )
    if "train" not in dataset.splits:
        raise UserError(f"--data={dataset.name} has no train split (its splits: {', '.join(dataset.splits)})")
    lines = (line for record in dataset.splits["train"] for line in record["text"].splitlines())
    return [tokens for line in lines if (tokens := (line.lower() if lowercase else line).split())]


def train_vectors(cfg: Config, sentences: list[list[str]], log=None) -> tuple[KeyedVectors, dict]:
    """Train ``cfg.method`` on tokenised sentences; returns the vectors and training figures."""
    t0 = time.perf_counter()
    vocab, corpus = build_vocab_and_corpus(sentences, cfg.min_count, cfg.max_vocab or None)
    batch, steps = cfg.batch or BATCHING[cfg.method][0], cfg.steps_per_call or BATCHING[cfg.method][1]
    figures: dict = {"vocab_size": len(vocab), "corpus_tokens": corpus.raw_words, "vocab_seconds": 0.0}
    figures["vocab_seconds"] = round(time.perf_counter() - t0, 3)
    if cfg.method == "glove":
        settings = glove.GloVeSettings(
            dim=cfg.dim, window=cfg.window, x_max=cfg.x_max, alpha=cfg.glove_alpha, eta=cfg.eta,
            epochs=cfg.epochs or 15, seed=cfg.seed, batch=batch, steps_per_call=steps,
        )  # fmt: skip
        vectors, stats = glove.train(corpus, len(vocab), settings, log)
        figures |= {
            "cooccurrence_entries": stats.entries,
            "cooccurrence_seconds": round(stats.cooccurrence_seconds, 3),
            "train_seconds": round(stats.seconds, 3),
            "final_cost": round(stats.final_cost, 5),
        }
        return KeyedVectors(vocab.words, vectors), figures
    settings = word2vec.Settings(
        dim=cfg.dim, window=cfg.window, negative=cfg.negative, noise_draws=cfg.noise_draws,
        sample=cfg.sample, epochs=cfg.epochs or 5, alpha=cfg.alpha, seed=cfg.seed, batch=batch,
        steps_per_call=steps,
    )  # fmt: skip
    if cfg.method == "fasttext":
        hasher = SubwordHasher(cfg.min_n, cfg.max_n, cfg.buckets)
        params = fasttext.init_params(len(vocab), cfg.buckets, cfg.dim, cfg.seed)
        params, vectors, stats = fasttext.train(params, corpus, vocab, hasher, settings, log)
        kv = KeyedVectors(vocab.words, vectors, hasher, np.asarray(params.w_ngrams))
    else:
        step = word2vec.skipgram_step if cfg.method == "skipgram" else word2vec.cbow_step
        params = word2vec.init_params(len(vocab), cfg.dim, cfg.seed)
        params, stats = word2vec.train(step, params, corpus, vocab, settings, log)
        kv = KeyedVectors(vocab.words, np.asarray(params.w_in))
    figures |= {
        "effective_words": stats.effective_words,
        "train_seconds": round(stats.seconds, 3),
        "words_per_second": round(stats.words_per_second, 1),
    }
    return kv, figures


def world_evaluation(kv: KeyedVectors) -> dict:
    """The generator's analogies (3CosAdd accuracy) and similarity levels (Spearman)."""
    from minilm.data.world import analogy_questions, similarity_pairs

    accuracy, sections = kv.evaluate_word_analogies(analogy_questions())
    pairs = "\n".join(f"{a}\t{b}\t{score}" for a, b, score in similarity_pairs())
    _, rho, oov = kv.evaluate_word_pairs(pairs)
    per_section = {
        s["section"]: round(len(s["correct"]) / max(1, len(s["correct"]) + len(s["incorrect"])), 4)
        for s in sections[:-1]
    }
    return {
        "world_analogy_accuracy": round(accuracy, 4),
        "world_analogy_sections": per_section,
        "world_similarity_spearman": round(rho, 4),
        "world_similarity_oov_pct": round(oov, 2),
    }


def run(cfg: Config) -> int:
    log = None if cfg.json else (lambda msg: print(msg, file=sys.stderr))
    run_dir = cfg.run_folder(default_prefix=cfg.method)
    sentences = read_sentences(cfg.data, cfg.data_dir, cfg.lowercase)
    kv, figures = train_vectors(cfg, sentences, log)
    report = {"method": cfg.method, "data": cfg.data, **figures}
    if cfg.data == "world":
        report |= world_evaluation(kv)
    run_dir.mkdir(parents=True, exist_ok=True)
    kv.save(run_dir / "vectors.safetensors")
    kv.save_word2vec_format(run_dir / "vectors.bin", binary=True)
    (run_dir / "config.json").write_text(json.dumps(config_to_dict(cfg), indent=1))
    report["run_dir"] = str(run_dir)
    (run_dir / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report) if cfg.json else "\n".join(f"{k}: {v}" for k, v in report.items()))
    return 0


# --- evaluate.py vectors -----------------------------------------------------------------------------


def _gensim_test_file(name: str) -> str:
    """A file of gensim's test data (WordSim353, SimLex-999, questions-words), where gensim installed it."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        raise UserError(f"{name}: pass its path, or install gensim (its test data ships {name})") from None
    return datapath(name)


def evaluate_command(args: argparse.Namespace) -> int:
    kv = load_vectors(args.vectors)
    out: dict = {"vectors": args.vectors, "vocab_size": len(kv), "dim": kv.vector_size}
    for flag, default in (("wordsim", "wordsim353.tsv"), ("simlex", "simlex999.txt")):
        path = getattr(args, flag)
        if path is not None:
            r, rho, oov = kv.evaluate_word_pairs(
                path or _gensim_test_file(default), restrict_vocab=args.restrict_vocab
            )
            out[flag] = {"pearson": round(r, 4), "spearman": round(rho, 4), "oov_pct": round(oov, 2)}
    if args.analogies is not None:
        path = args.analogies or _gensim_test_file("questions-words.txt")
        accuracy, sections = kv.evaluate_word_analogies(
            path, restrict_vocab=args.analogy_restrict, method=args.method
        )
        total = sections[-1]
        out["analogies"] = {
            "accuracy": round(accuracy, 4),
            "questions": len(total["correct"]) + len(total["incorrect"]),
        }
    if args.world:
        out["world"] = world_evaluation(kv)
    if args.neighbours:
        out["neighbours"] = {
            w: [(n, round(s, 4)) for n, s in kv.most_similar(w, topn=args.topn)] for w in args.neighbours
        }
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            if key == "neighbours":
                for word, near in value.items():
                    print(f"{word}: " + ", ".join(f"{n} {s:.3f}" for n, s in near))
            else:
                print(f"{key}: {value}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "vectors",
        help="word vectors: WordSim353/SimLex-999 Spearman, analogy accuracy, nearest neighbours",
        description="Evaluate word vectors (word2vec text/.bin or .safetensors) with gensim's rules. "
        "--wordsim/--simlex/--analogies without a path read the files that ship with gensim.",
    )
    p.add_argument(
        "--vectors", required=True, help="vectors file: .safetensors, .bin (word2vec binary) or text"
    )
    p.add_argument("--wordsim", nargs="?", const="", default=None, metavar="PATH", help="WordSim353 (tsv)")
    p.add_argument("--simlex", nargs="?", const="", default=None, metavar="PATH", help="SimLex-999 (tsv)")
    p.add_argument(
        "--analogies", nargs="?", const="", default=None, metavar="PATH", help="questions-words file"
    )
    p.add_argument(
        "--world", action="store_true", help="the world generator's analogies and similarity pairs"
    )
    p.add_argument(
        "--method", default="add", choices=("add", "mul"), help="analogy scoring: 3CosAdd or 3CosMul"
    )
    p.add_argument("--restrict_vocab", type=int, default=300000, help="word pairs: first N words only")
    p.add_argument("--analogy_restrict", type=int, default=30000, help="analogies: first N words only")
    p.add_argument("--neighbours", nargs="*", default=[], metavar="WORD", help="print nearest neighbours")
    p.add_argument("--topn", type=int, default=10, help="neighbours per word")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=evaluate_command)
