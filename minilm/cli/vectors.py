"""``train.py vectors`` and ``evaluate.py vectors``: static word vectors (skip-gram, CBOW, fastText, GloVe).

    python train.py vectors --method=skipgram --data=world
    python train.py vectors --method=glove --data=corpus.txt --min_count=5
    python evaluate.py vectors --vectors=runs/vectors/NAME/vectors.bin --wordsim --simlex --analogies
    python evaluate.py vectors --vectors=runs/vectors/NAME/vectors.safetensors --neighbours=king,paris
    python evaluate.py vectors --vectors=runs/vectors/NAME/vectors.bin --plot=words.png \\
        --plot_words=king,queen,man,woman,paris,france,berlin,germany

Expected on the embedded ``world`` corpus (seed 0): skip-gram with dim 50 and 5 epochs answers 90% or
more of the generator's analogies (3CosAdd) and orders its similarity levels with Spearman > 0.7
(``tests/test_vectors_train.py``).  On ``wiki_en_2m.txt`` with the defaults, gensim and glove.c in the same
run on an idle 2-core machine (``bench/vectors.py``; the README has the table): WordSim353 Spearman
skip-gram 0.416 (gensim 0.391), CBOW 0.288 (0.296), fastText 0.403 (0.380), GloVe 0.236 (glove.c 0.240);
speed skip-gram 0.88x gensim's words/s, CBOW 0.67x, fastText 0.65x, GloVe 0.89x glove.c's.  Against their
two threads, ``--cpu_devices=2 --devices=2``: skip-gram 1.40x, CBOW 1.05x, fastText 0.89x, GloVe 1.01x,
with the same quality for skip-gram and GloVe; CBOW's SimLex-999 drops from 0.163 to 0.133 and
fastText's from 0.219 to 0.204 (gensim 0.209, 0.229).

The run folder ``<out_dir>/<name>``: ``vectors.safetensors`` + ``vectors.vocab.json`` (all methods;
fastText also its n-gram rows, for OOV words), ``vectors.bin`` (word2vec binary, readable by gensim's
``KeyedVectors.load_word2vec_format(..., binary=True)``), ``train_config.json``, ``report.md`` and
``report.json``.  Text is whitespace-tokenised (after lowercasing unless ``--lowercase=false``): give
pre-tokenised text.  There are no checkpoints: a run is short, and ``--resume`` is refused.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import jax
import numpy as np

from minilm.config import ConfigError, at_least, opt, required, sub
from minilm.data.registry import DataRoot
from minilm.errors import UserError
from minilm.train.distributed import ALIASES as DIST_ALIASES
from minilm.train.distributed import DistributedConfig
from minilm.train.run import RunConfig, run_folder, say, start_run
from minilm.train.runlog import pyplot, save_figure, save_report, summary_table
from minilm.vectors.keyed_vectors import load_vectors, pca_2d
from minilm.vectors.train import (
    VectorsConfig,
    gensim_test_file,
    read_sentences,
    train_vectors,
    world_evaluation,
)


@dataclass
class Config:
    """Train static word vectors: skip-gram, CBOW (word2vec), fastText (skip-gram + subwords) or GloVe."""

    data: str = opt("world", "training text: a dataset name (world, wikitext2, ...) or a text file")
    json: bool = opt(False, "print the report as one JSON object on stdout")
    run: RunConfig = sub(RunConfig, flat=True, out_dir="runs/vectors")
    root: DataRoot = sub(DataRoot, flat=True)
    vectors: VectorsConfig = sub(VectorsConfig, flat=True)
    dist: DistributedConfig = sub(DistributedConfig, "CPU devices (one process; docs/scaling.md)")

    ALIASES: ClassVar = DIST_ALIASES

    def check(self) -> None:
        if self.run.resume:
            raise ConfigError("run.resume", "word-vector runs have no checkpoints; start a new run")


def run(cfg: Config) -> int:
    if jax.process_count() > 1:
        raise UserError("word vectors train in one process: use --devices over its devices (--cpu_devices)")
    log = functools.partial(say, cfg.run) if not cfg.json else None
    run_dir = run_folder(cfg, "vectors")
    if log:
        log(f"reading {cfg.data}")
    sentences = read_sentences(cfg.data, cfg.root.data_dir, cfg.vectors.lowercase)
    kv, figures = train_vectors(cfg.vectors, sentences, log)
    report = {"method": cfg.vectors.method, "data": cfg.data, **figures}
    if cfg.data == "world":
        report |= world_evaluation(kv)
    start_run(cfg, run_dir, "vectors")
    kv.save(run_dir / "vectors.safetensors")
    kv.save_word2vec_format(run_dir / "vectors.bin", binary=True)
    report["run_dir"] = str(run_dir)
    text = f"# minilm word vectors `{run_dir.name}` ({cfg.vectors.method})\n\n{summary_table(report)}\n"
    save_report(run_dir, text, report)
    print(json.dumps(report) if cfg.json else text)
    return 0


# --- evaluate.py vectors -----------------------------------------------------------------------------

GENSIM = ("true", "gensim")  # a bare --wordsim / --simlex / --analogies: the copy gensim ships


@dataclass
class EvalConfig:
    """Evaluate word vectors (word2vec text/.bin or .safetensors) with gensim's rules: WordSim353 /
    SimLex-999 Spearman, analogy accuracy, nearest neighbours."""

    vectors: str = opt("", "vectors file: .safetensors, .bin (word2vec binary) or text", check=required)
    wordsim: str = opt("", "WordSim353 (tsv); a bare --wordsim: the copy that ships with gensim")
    simlex: str = opt("", "SimLex-999 (tsv); a bare --simlex: the copy that ships with gensim")
    analogies: str = opt("", "questions-words file; a bare --analogies: the copy that ships with gensim")
    world: bool = opt(False, "the world generator's analogies and similarity pairs")
    method: str = opt("add", "analogy scoring: 3CosAdd or 3CosMul", choices=("add", "mul"))
    restrict_vocab: int = opt(300000, "word pairs: the first N words only", check=at_least(1))
    analogy_restrict: int = opt(30000, "analogies: the first N words only", check=at_least(1))
    neighbours: tuple[str, ...] = opt((), "print the nearest neighbours of these words (comma-separated)")
    topn: int = opt(10, "neighbours per word", check=at_least(1))
    plot: str = opt("", "draw the --plot_words on their first two principal axes into this PNG")
    plot_words: tuple[str, ...] = opt((), "the words of --plot (comma-separated, at least 3)")
    json: bool = opt(False, "print one JSON object")

    def check(self) -> None:
        if bool(self.plot) != bool(self.plot_words) or 0 < len(self.plot_words) < 3:
            raise ConfigError("plot_words", "goes with {plot}, and needs at least 3 words")


def _test_file(value: str, default: str) -> str:
    return gensim_test_file(default) if value in GENSIM else value


def plot_words(kv, words: tuple[str, ...], path: str) -> None:
    """The words' vectors projected on their first two principal axes, labelled, into a PNG."""
    points = pca_2d(np.stack([kv[w] for w in words]).astype(np.float64))  # (N, 2)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.scatter(points[:, 0], points[:, 1], s=12)
    for word, (x, y) in zip(words, points, strict=True):
        ax.annotate(word, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=9)
    ax.set(
        xlabel="principal axis 1",
        ylabel="principal axis 2",
        title=f"{len(words)} words, PCA of {kv.vector_size}-d vectors",
    )
    save_figure(fig, Path(path))


def run_evaluate(cfg: EvalConfig) -> int:
    kv = load_vectors(cfg.vectors)
    for flag, words in (("--neighbours", cfg.neighbours), ("--plot_words", cfg.plot_words)):
        unknown = [w for w in words if w not in kv]
        if unknown:
            raise UserError(f"{flag}: {', '.join(map(repr, unknown))} not in the vocabulary of {cfg.vectors}")
    out: dict = {"vectors": cfg.vectors, "vocab_size": len(kv), "dim": kv.vector_size}
    for flag, default in (("wordsim", "wordsim353.tsv"), ("simlex", "simlex999.txt")):
        if getattr(cfg, flag):
            path = _test_file(getattr(cfg, flag), default)
            r, rho, oov = kv.evaluate_word_pairs(path, restrict_vocab=cfg.restrict_vocab)
            out[flag] = {"pearson": round(r, 4), "spearman": round(rho, 4), "oov_pct": round(oov, 2)}
    if cfg.analogies:
        path = _test_file(cfg.analogies, "questions-words.txt")
        accuracy, sections = kv.evaluate_word_analogies(
            path, restrict_vocab=cfg.analogy_restrict, method=cfg.method
        )
        total = sections[-1]
        out["analogies"] = {
            "accuracy": round(accuracy, 4),
            "questions": len(total["correct"]) + len(total["incorrect"]),
        }
    if cfg.world:
        out["world"] = world_evaluation(kv)
    if cfg.neighbours:
        try:
            near = {w: kv.most_similar(w, topn=cfg.topn) for w in cfg.neighbours}
        except KeyError as e:  # not in the vocabulary, and no subwords to build it from
            raise UserError(f"--neighbours: {e.args[0]} ({cfg.vectors})") from None
        out["neighbours"] = {w: [(n, round(s, 4)) for n, s in pairs] for w, pairs in near.items()}
    if cfg.plot:
        plot_words(kv, cfg.plot_words, cfg.plot)
        out["plot"] = cfg.plot
    if cfg.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            if key == "neighbours":
                for word, near in value.items():
                    print(f"{word}: " + ", ".join(f"{n} {s:.3f}" for n, s in near))
            else:
                print(f"{key}: {value}")
    return 0
