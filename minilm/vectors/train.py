"""Train static word vectors end to end: text -> vocabulary -> skip-gram, CBOW, fastText or GloVe.

:class:`VectorsConfig` holds every setting of the four methods; :func:`train_vectors` builds the
vocabulary and runs the chosen trainer (:mod:`minilm.vectors.word2vec`, :mod:`~minilm.vectors.fasttext`,
:mod:`~minilm.vectors.glove`); :func:`world_evaluation` scores vectors on the generated world's
analogies and similarity levels.  ``python train.py vectors`` is the command around them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from minilm.config import ConfigError, above, at_least, in_range, opt
from minilm.data.registry import load_dataset
from minilm.errors import UserError
from minilm.vectors import fasttext, glove, word2vec
from minilm.vectors.keyed_vectors import KeyedVectors
from minilm.vectors.subwords import SubwordHasher
from minilm.vectors.vocab import build_vocab_and_corpus

METHODS = ("skipgram", "cbow", "fasttext", "glove")

# (centres -- GloVe: co-occurrence entries -- per sparse SGD step, steps per jitted call): measured on
# 2 CPU cores (bench/vectors.py); CBOW's sub-batch shares its noise words, so it takes larger batches.
BATCHING = {"skipgram": (64, 64), "cbow": (512, 16), "fasttext": (64, 64), "glove": (1024, 256)}
# Calls between sums of the devices' changes with --devices > 1 (minilm.vectors.devices): measured on 2 CPU
# devices (bench/vectors.py), enough work between all-reduces for 2 devices to beat one.
SYNC_EVERY = {"skipgram": 16, "cbow": 16, "fasttext": 16, "glove": 2}
# Corpus tokens turned into windows at a time: fastText's per-chunk n-gram index arrays are ~5 times
# the windows', so it takes smaller chunks (peak memory on wiki_en_2m: 1.40 GB instead of 1.55 GB).
CHUNK_TOKENS = {"skipgram": 1_000_000, "cbow": 1_000_000, "fasttext": 250_000}


@dataclass
class VectorsConfig:
    """The settings of the four word-vector methods (word2vec.c / gensim / glove.c defaults)."""

    method: str = opt("skipgram", "training method", choices=METHODS)
    lowercase: bool = opt(True, "lowercase the text before splitting on whitespace")
    min_count: int = opt(5, "drop words seen fewer times", check=at_least(1))
    max_vocab: int = opt(0, "keep only the most frequent words (0 = no limit)", check=at_least(0))
    dim: int = opt(100, "vector size", check=at_least(1))
    window: int = opt(
        5, "window radius (word2vec/fastText: the maximum of the sampled radius)", check=at_least(1)
    )
    epochs: int = opt(0, "passes over the corpus (0 = the method's default: 5, GloVe 15)", check=at_least(0))
    seed: int = opt(0, "seed for initialisation, subsampling, windows and noise words", check=at_least(0))
    negative: int = opt(5, "word2vec/fastText: noise words per context word", check=at_least(1))
    noise_draws: int = opt(
        5,
        "fastText: noise words drawn per centre and shared by its contexts (more draws, more quality and "
        "time: 25 gave SimLex-999 0.223 vs 0.209, WordSim353 0.425 vs 0.409, analogy 47.2% vs 46.1% on "
        "wiki_en_2m, one seed, at 2-4x the training time)",
        check=at_least(1),
    )
    shared_noise: int = opt(
        16,
        "CBOW: noise words drawn per group of centres, each standing for negative/this draws",
        check=at_least(1),
    )
    noise_group: int = opt(
        0,
        "CBOW: centres that share one set of noise draws (0 = the whole sub-batch; 1 with shared_noise = "
        "negative is word2vec.c's sampling: 2-4x the training time for the same quality within seed noise, "
        "wiki_en_2m, 4 seeds: SimLex-999 0.180 vs 0.177, WordSim353 0.290 vs 0.290)",
        check=at_least(0),
    )
    sample: float = opt(1e-3, "word2vec/fastText: subsampling threshold (0 = off)", check=at_least(0))
    alpha: float = opt(
        0.025, "word2vec/fastText: initial learning rate (decays linearly to alpha * 1e-4)", check=above(0)
    )
    batch: int = opt(
        0,
        "centres (GloVe: co-occurrence entries) per sparse SGD step (0 = method default)",
        check=at_least(0),
    )
    steps_per_call: int = opt(
        0, "SGD steps per jitted call and device (0 = method default)", check=at_least(0)
    )
    devices: int = opt(
        1,
        "JAX devices that train side by side, each on its share of the sub-batches, their changes summed "
        "every --sync_every calls (0 = all; on a CPU, split it into devices with --cpu_devices).  2 on 2 "
        "cores, wiki_en_2m: skip-gram 1.5x and GloVe 1.2x one device's speed at the same quality; CBOW "
        "1.6x, fastText 1.3x, but SimLex-999 0.163 -> 0.133 and 0.219 -> 0.204",
        check=at_least(0),
    )
    sync_every: int = opt(
        0,
        "with several --devices: calls between sums of their changes (0 = method default)",
        check=at_least(0),
    )
    min_n: int = opt(3, "fastText: shortest character n-gram", check=at_least(1))
    max_n: int = opt(6, "fastText: longest character n-gram", check=at_least(1))
    buckets: int = opt(2_000_000, "fastText: hash buckets for n-grams", check=at_least(1))
    x_max: float = opt(100.0, "GloVe: count at which the weight f(x) reaches 1", check=above(0))
    glove_alpha: float = opt(0.75, "GloVe: exponent of f(x)", check=in_range(0, 1))
    eta: float = opt(0.05, "GloVe: AdaGrad learning rate", check=above(0))

    def check(self) -> None:
        if self.max_n < self.min_n:
            raise ConfigError("max_n", "must be >= {min_n}")
        if self.noise_group and (self.batch or BATCHING[self.method][0]) % self.noise_group:
            raise ConfigError("noise_group", "must divide the batch size (--batch, default 512 for CBOW)")


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


def train_vectors(cfg: VectorsConfig, sentences: Iterable[list[str]], log=None) -> tuple[KeyedVectors, dict]:
    """Train ``cfg.method`` on tokenised sentences (read once: a generator need not be held in memory);
    returns the vectors and training figures, refused if training diverged (:func:`finite`)."""
    kv, figures = _train(cfg, sentences, log)
    finite(kv.vectors, cfg)
    return kv, figures


def _train(cfg: VectorsConfig, sentences: Iterable[list[str]], log) -> tuple[KeyedVectors, dict]:
    t0 = time.perf_counter()
    vocab, corpus = build_vocab_and_corpus(sentences, cfg.min_count, cfg.max_vocab or None)
    batch, steps = cfg.batch or BATCHING[cfg.method][0], cfg.steps_per_call or BATCHING[cfg.method][1]
    figures: dict = {"vocab_size": len(vocab), "corpus_tokens": corpus.raw_words, "vocab_seconds": 0.0}
    figures["vocab_seconds"] = round(time.perf_counter() - t0, 3)
    if cfg.method == "glove":
        settings = glove.GloVeSettings(
            dim=cfg.dim, window=cfg.window, x_max=cfg.x_max, alpha=cfg.glove_alpha, eta=cfg.eta,
            epochs=cfg.epochs or 15, seed=cfg.seed, batch=batch, steps_per_call=steps, devices=cfg.devices,
            sync_every=cfg.sync_every or SYNC_EVERY["glove"],
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
        shared_noise=cfg.shared_noise, noise_group=cfg.noise_group, sample=cfg.sample,
        epochs=cfg.epochs or 5, alpha=cfg.alpha, seed=cfg.seed, batch=batch, steps_per_call=steps,
        devices=cfg.devices, sync_every=cfg.sync_every or SYNC_EVERY[cfg.method],
        chunk_tokens=CHUNK_TOKENS[cfg.method],
    )  # fmt: skip
    if cfg.method == "fasttext":
        hasher = SubwordHasher(cfg.min_n, cfg.max_n, cfg.buckets)
        params = fasttext.init_params(len(vocab), cfg.buckets, cfg.dim, cfg.seed)
        params, vectors, stats = fasttext.train(params, corpus, vocab, hasher, settings, log)
        kv = KeyedVectors(vocab.words, vectors, hasher, params.w_ngrams)
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


def finite(vectors: np.ndarray, cfg: VectorsConfig) -> None:
    """Refuse ``vectors`` (V, D) if training diverged: a NaN or Inf row is never written as a result."""
    bad = int((~np.isfinite(vectors).all(axis=1)).sum())
    if bad:
        rate = f"--eta={cfg.eta:g}" if cfg.method == "glove" else f"--alpha={cfg.alpha:g}"
        raise UserError(
            f"{cfg.method} diverged: {bad} of {len(vectors)} word vectors hold NaN or Inf; "
            f"lower {rate} or --batch={cfg.batch or BATCHING[cfg.method][0]} (nothing written)"
        )


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


def gensim_test_file(name: str) -> str:
    """A file of gensim's test data (WordSim353, SimLex-999, questions-words), where gensim installed it."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        raise UserError(f"{name}: pass its path, or install gensim (its test data ships {name})") from None
    return datapath(name)
