"""Experiment 6, static vs contextual vs fine-tuned: four ways to put pretrained text knowledge into
one classifier, on the same task, splits and training recipe.

    python train.py experiment static_vs_contextual  # quick: world_sentiment, 8 runs, ~2 CPU-min
    python train.py experiment static_vs_contextual --init=../shared/models/all-MiniLM-L6-v2 \\
        --static_vs_contextual.run.task=sst2 --static_vs_contextual.corpus=wikipedia_en \\
        --static_vs_contextual.vectors.dim=100 --static_vs_contextual.vectors.min_count=5 \\
        --static_vs_contextual.bilm.vocab_size=30000 --static_vs_contextual.bilm.hidden=256 \\
        --static_vs_contextual.bilm.emb_dim=256 --static_vs_contextual.bilm_train.steps=3000 \\
        --static_vs_contextual.run.max_len=64 --static_vs_contextual.run.train.steps=1000

=================  =================================================================  =====================
representation     features                                                           what trains
=================  =================================================================  =====================
skip-gram          the mean of the words' skip-gram vectors (Mikolov et al. 2013,      a linear classifier
                   :mod:`minilm.vectors`; ``--vectors.method`` picks CBOW, fastText,
                   GloVe instead), trained here on ``corpus``
ELMo (frozen)      the biLM's L+1 layers averaged over the words, mixed by ELMo's      scalar mix + linear
                   task-specific scalar mix ``gamma sum_j softmax(w)_j h_j``
                   (Peters et al. 2018 §3.2; :mod:`minilm.models.elmo`), a tiny
                   biLM trained here on ``corpus``
frozen backbone    the backbone's hidden states pooled (``run.pooling``; mean by      the head (``method=
                   default), the backbone frozen: a linear probe                       linear-probe``)
fine-tuned         the same, every weight trained (``method=full``)                    everything
=================  =================================================================  =====================

The study note's claim (Peters et al. 2018 §5; Devlin et al. 2019 §5.3; Peters et al. 2019, "To tune
or not to tune?"): contextual vectors beat static ones -- a word's vector depends on its sentence, so
"not good" is not "good" plus "not" -- and fine-tuning the whole network beats a frozen one.

The three frozen representations train the same classifier with the same steps, batches and
learning rate (``probe_lr``); fine-tuning uses ``run.train.lr``.  In the quick setting the word
vectors, the biLM and the backbone are all pretrained on the same generated ``world`` corpus; on real
data the vectors and the biLM train on ``corpus`` (e.g. wikipedia_en) while the backbone (MiniLM) came
pretrained on far more text -- the comparison is then of what is available, not of methods at equal
data.  The vectors and the biLM are trained once into ``<experiment>/vectors/`` and
``<experiment>/bilm/`` and reused (a killed biLM continues from its checkpoint).  Split into parts
(``--parts``), start the others once these two exist, as for the backbone: parts started together
would each train them in the same folder.

Measured (quick setting, seeds 0 and 1, test accuracy; majority class 0.47 on dev): fine-tuned
0.759 ± 0.061 > ELMo 0.643 ± 0.010 > skip-gram 0.534 ± 0.016 > frozen transformer 0.515 ± 0.027.
Skip-gram vectors put a word beside its antonyms (they share contexts: cosine(delicious, bland) =
0.98), so the mean vector hardly tells a review's polarity -- and 25% of the reviews negate it, which
no bag of words can see; the biLM's states carry some of both; the tiny GPT's frozen states, trained to
predict the next token, carry neither linearly, until fine-tuning puts them there.

Results: ``static_vs_contextual.csv`` (representation, trainable parameters, dev and test accuracy:
mean and spread over seeds) and ``accuracy.png`` (a bar per representation).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.config import at_least, config_to_dict, each, in_range, opt, sub
from minilm.data.batches import ExampleBatches
from minilm.data.bilm import TokenStream, Vocab, WindowBatches, line_tokens
from minilm.data.registry import load_dataset
from minilm.data.splits import lm_text
from minilm.errors import UserError
from minilm.experiments.runner import (
    PHASE,
    FinetuneRun,
    SweepConfig,
    figure,
    finetune,
    majority_accuracy,
    settings,
    sweep,
    write_report,
)
from minilm.fileio import atomic_write_bytes
from minilm.finetune import trainable_count
from minilm.metrics.jax_metrics import token_nll
from minilm.models.elmo import BiLM, BiLMConfig, ScalarMix
from minilm.models.io import load_bilm, save_bilm
from minilm.models.layers import Dense
from minilm.models.senses import sentence_layers
from minilm.objectives.bilm import bilm_loss
from minilm.objectives.classification import classification_scores
from minilm.tasks import get_task
from minilm.tasks.run import sample
from minilm.train.loop import TrainConfig, fit
from minilm.train.runlog import save_figure, save_report, summary_table
from minilm.vectors.keyed_vectors import KeyedVectors
from minilm.vectors.train import VectorsConfig, read_sentences, train_vectors

REPRESENTATIONS = ("skipgram", "elmo", "frozen", "finetuned")
LABELS = {
    "skipgram": "static (mean word vector)",
    "elmo": "ELMo scalar mix (frozen)",
    "frozen": "transformer (frozen, linear probe)",
    "finetuned": "transformer (fine-tuned)",
}


@dataclass
class StaticVsContextualConfig:
    """Static word vectors, frozen ELMo, a frozen and a fine-tuned transformer on one task."""

    corpus: str = opt("world", "text the word vectors and the biLM train on (an LM dataset or a .txt file)")
    seeds: tuple[int, ...] = opt((0, 1), "seeds of each classifier", check=each(at_least(0)))
    probe_lr: float = opt(
        1e-2, "learning rate of the three classifiers on frozen features", check=in_range(0, 1, low_open=True)
    )
    vectors: VectorsConfig = sub(VectorsConfig, "the static word vectors", dim=64, epochs=3, min_count=2)
    bilm: BiLMConfig = sub(
        BiLMConfig,
        "the biLM (emb_dim must equal the LSTM output size: ELMo's layer 0 is [x; x])",
        vocab_size=2000,
        emb_dim=64,
        hidden=64,
        layers=2,
        dropout=0.1,
    )
    bilm_train: TrainConfig = sub(
        TrainConfig,
        "the biLM's training",
        steps=300,
        batch_size=32,
        lr=1e-2,
        warmup_steps=20,
        weight_decay=0.0,
        eval_every=0,
        ckpt_every=100,
    )
    seq_len: int = opt(35, "the biLM's training window", check=at_least(1))
    run: FinetuneRun = sub(
        FinetuneRun,
        "each classifier (the frozen features' lr: probe_lr)",
        pooling="mean",
        train=dataclasses.replace(FinetuneRun().train, steps=400, lr=2e-3, warmup_steps=20, ckpt_every=0),
    )


# ------------------------------------------------------------------------------------- the features


def word_vectors(cfg: StaticVsContextualConfig, folder: Path, data_dir: str) -> KeyedVectors:
    """The static vectors of ``cfg.vectors`` trained on ``cfg.corpus`` (once: ``folder/vectors/``)."""
    done = folder / "vectors"
    if not (done / "vectors.safetensors").is_file():
        kv, _ = train_vectors(cfg.vectors, read_sentences(cfg.corpus, data_dir, cfg.vectors.lowercase))
        partial = folder / "vectors.partial"
        partial.mkdir(parents=True, exist_ok=True)
        kv.save(partial / "vectors.safetensors")
        os.replace(partial, done)  # one rename: a folder `done` is complete
    return KeyedVectors.load(done / "vectors.safetensors")


def bilm(cfg: StaticVsContextualConfig, folder: Path, data_dir: str) -> tuple[BiLM, Vocab]:
    """A biLM trained on ``cfg.corpus`` as ``train.py elmo`` trains one (once: ``folder/bilm/``;
    continued from its checkpoint if killed)."""
    done = folder / "bilm"
    if not (done / "model.safetensors").is_file():
        if cfg.bilm.emb_dim != cfg.bilm.out_dim:
            raise UserError(
                f"--static_vs_contextual.bilm.emb_dim={cfg.bilm.emb_dim}: must equal the LSTM output size "
                f"{cfg.bilm.out_dim} (ELMo's layer 0 is [x; x])"
            )
        train_lines, _ = lm_text(load_dataset(cfg.corpus, data_dir or None), "--static_vs_contextual.corpus")
        tokens = line_tokens(train_lines)
        vocab = Vocab.build(tokens, cfg.bilm.vocab_size)
        model_cfg = dataclasses.replace(cfg.bilm, vocab_size=len(vocab.words))
        max_chars = model_cfg.max_chars if model_cfg.encoder == "char" else None
        t = cfg.bilm_train
        batches = WindowBatches(TokenStream.of(tokens, vocab), t.batch_size, cfg.seq_len, max_chars)
        model = BiLM(model_cfg, rngs=nnx.Rngs(t.seed))
        partial = folder / "bilm.partial"
        resume = (partial / "checkpoints" / "elmo.safetensors").is_file()
        fit(model, bilm_loss, batches, t, partial, resume=resume, phase="elmo")
        save_bilm(partial, model, vocab)
        os.replace(partial, done)  # one rename: a folder `done` is complete
    return load_bilm(done)


def mean_word_vectors(kv: KeyedVectors, texts: list[str], lowercase: bool) -> np.ndarray:
    """(N, D): each text's known words' vectors averaged (zeros when it has none)."""
    out = np.zeros((len(texts), kv.vector_size), np.float32)
    for i, text in enumerate(texts):
        rows = [kv.key_to_index[w] for w in (text.lower() if lowercase else text).split() if w in kv]
        if rows:
            out[i] = kv.vectors[rows].mean(0)
    return out


def mean_elmo_layers(model: BiLM, vocab: Vocab, texts: list[str]) -> np.ndarray:
    """(N, L+1, 2P): each text's ELMo layers averaged over its words.  The scalar mix is linear, so
    mixing these averages is averaging the words' mixed vectors."""
    layers = sentence_layers(model, vocab, [text.split() for text in texts])  # each (n_words, L+1, 2P)
    return np.stack([x.mean(0) for x in layers]).astype(np.float32)


# ------------------------------------------------------------------------- a classifier on features


class FeatureClassifier(nnx.Module):
    """Softmax regression on fixed features: (B, D) -> (B, C); on a layer stack (B, L+1, D) ELMo's
    scalar mix comes first (its ``w`` and ``gamma`` train with the classifier)."""

    def __init__(self, dim: int, n_classes: int, layers: int | None, *, rngs: nnx.Rngs):
        self.mix = ScalarMix(layers) if layers else None
        self.head = Dense(dim, n_classes, bias=True, std=0.02, dtype="float32", rngs=rngs)

    def __call__(self, features: jax.Array) -> jax.Array:
        x = features if self.mix is None else self.mix(jnp.moveaxis(features, 1, 0))  # (B, D)
        return self.head(x)


def feature_loss(model: FeatureClassifier, batch: dict[str, jax.Array], rngs: nnx.Rngs | None):
    """Mean cross-entropy of the gold labels, and the batch accuracy."""
    del rngs  # no dropout
    logits = model(batch["features"])  # (B, C)
    loss = token_nll(logits, batch["labels"]).mean()
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["labels"])}


def train_on_features(
    run_dir: Path,
    arrays: dict[str, dict[str, np.ndarray]],
    n_classes: int,
    train_cfg: TrainConfig,
    record: dict,
) -> dict:
    """Train a :class:`FeatureClassifier` on ``arrays`` (split -> features, labels) in ``run_dir``
    (``record``, the run's settings, saved beside); its report: dev and test accuracy beside the
    majority class, trainable parameters, seconds.  Each feature is standardised with the training
    set's mean and standard deviation first (for ELMo's stack: each layer's, as the layer
    normalisation Peters et al. 2018 §3.2 apply before the mix)."""
    t0 = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / "train_config.json", json.dumps(record, indent=2).encode())
    mean, std = arrays["train"]["features"].mean(0), arrays["train"]["features"].std(0) + 1e-6
    arrays = {k: {**a, "features": (a["features"] - mean) / std} for k, a in arrays.items()}
    features = arrays["train"]["features"]
    layers = features.shape[1] if features.ndim == 3 else None
    model = FeatureClassifier(features.shape[-1], n_classes, layers, rngs=nnx.Rngs(train_cfg.seed + 1))
    batches = ExampleBatches(arrays["train"], train_cfg.batch_size, train_cfg.seed)
    resume = (run_dir / "checkpoints" / f"{PHASE}.safetensors").is_file()
    fit(model, feature_loss, batches, train_cfg, run_dir, resume=resume, phase=PHASE)
    score = {
        split: classification_scores(np.asarray(model(a["features"])), a["labels"])["eval_accuracy"]
        for split, a in arrays.items()
    }
    summary = {
        "dev_accuracy": score["dev"],
        "test_accuracy": score["test"],
        "dev_majority_accuracy": majority_accuracy(arrays["train"]["labels"], arrays["dev"]["labels"]),
        "train_examples": len(arrays["train"]["labels"]),
        "trainable_parameters": trainable_count(model, nnx.Param),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    save_report(run_dir, f"# run `{run_dir.name}`\n\n{summary_table(summary)}\n", summary)
    return summary


# ------------------------------------------------------------------------------------ the experiment


def run(
    cfg: StaticVsContextualConfig, init: str, folder: Path, sweep_cfg: SweepConfig, data_dir: str = ""
) -> dict:
    task = get_task(cfg.run.task)
    if task.kind != "classification":
        raise UserError(
            f"--static_vs_contextual.run.task={task.name}: needs single sentences (a {task.kind} task)"
        )

    @functools.cache
    def splits(seed: int) -> tuple[dict[str, list[str]], dict[str, np.ndarray], int]:
        """The texts and label ids of each split, as ``train.py finetune`` draws them with ``seed``."""
        data = task.load(data_dir or None, seed)
        records = {
            "train": sample(data.train, cfg.run.train_size, seed) if cfg.run.train_size else data.train,
            "dev": data.dev[: cfg.run.max_eval],
            "test": data.test,
        }
        index = {label: i for i, label in enumerate(data.labels)}
        texts = {k: [r["text"] for r in v] for k, v in records.items()}
        labels = {k: np.array([index[r["label"]] for r in v], np.int32) for k, v in records.items()}
        return texts, labels, len(data.labels)

    def on_features(representation: str, seed: int):
        train_cfg = dataclasses.replace(cfg.run.train, lr=cfg.probe_lr, seed=seed)

        def go(run_dir: Path) -> dict:
            texts, labels, n_classes = splits(seed)
            if representation == "skipgram":
                kv = word_vectors(cfg, folder, data_dir)
                featurise = functools.partial(mean_word_vectors, kv, lowercase=cfg.vectors.lowercase)
            else:
                featurise = functools.partial(mean_elmo_layers, *bilm(cfg, folder, data_dir))
            arrays = {k: {"features": featurise(texts[k]), "labels": labels[k]} for k in texts}
            record = {"representation": representation, "task": task.name, "train": config_to_dict(train_cfg)}
            return train_on_features(run_dir, arrays, n_classes, train_cfg, record)

        return go

    def on_backbone(representation: str, seed: int):
        method, lr = (
            ("linear-probe", cfg.probe_lr) if representation == "frozen" else ("full", cfg.run.train.lr)
        )
        s = settings(cfg.run, {"method": method, "train.lr": lr, "train.seed": seed})
        return lambda run_dir: finetune(run_dir, init, s, data_dir)

    runs = [
        (f"{rep}-seed{seed}", (on_features if rep in ("skipgram", "elmo") else on_backbone)(rep, seed))
        for rep in REPRESENTATIONS
        for seed in cfg.seeds
    ]
    results = sweep(folder, runs, sweep_cfg, {"init": init, **config_to_dict(cfg)})
    if results is None:
        return {}
    rows = []
    for rep in REPRESENTATIONS:
        mine = [results[f"{rep}-seed{seed}"] for seed in cfg.seeds]
        test = np.array([r["test_accuracy"] for r in mine])
        rows.append(
            {
                "representation": LABELS[rep],
                "trainable_parameters": mine[0]["trainable_parameters"],
                "dev_accuracy": float(np.mean([r["dev_accuracy"] for r in mine])),
                "test_accuracy": float(test.mean()),
                "test_std": float(test.std()),
            }
        )
    majority = results[f"skipgram-seed{cfg.seeds[0]}"]["dev_majority_accuracy"]
    fig, (ax,) = figure(width=6.5)
    x = np.arange(len(rows))
    ax.bar(x, [r["test_accuracy"] for r in rows], yerr=[r["test_std"] for r in rows], capsize=3, color="C0")
    for i, r in enumerate(rows):
        ax.annotate(
            f"{r['test_accuracy']:.3f}", (i, r["test_accuracy"]), ha="center", va="bottom", fontsize=8
        )
    ax.axhline(majority, color="gray", ls="--", lw=1, label="majority class (dev)")
    ax.set_xticks(x, [LABELS[rep].replace(" (", "\n(") for rep in REPRESENTATIONS], fontsize=8)
    ax.set(ylabel="test accuracy (mean ± std over seeds)", ylim=(0, 1), title=f"{cfg.run.task}")
    ax.legend(fontsize=7)
    save_figure(fig, folder / "accuracy.png")
    t = cfg.run.train
    ranking = " > ".join(
        f"{r['representation']} {r['test_accuracy']:.3f}"
        for r in sorted(rows, key=lambda r: -r["test_accuracy"])
    )
    body = (
        f"`{cfg.run.task}`; word vectors ({cfg.vectors.method}, {cfg.vectors.dim} dims) and biLM "
        f"({cfg.bilm.layers} layers of {cfg.bilm.hidden}, {cfg.bilm_train.steps} steps) trained on "
        f"`{cfg.corpus}`; backbone `{init}` pooled by `{cfg.run.pooling}`.  Every classifier: {t.steps} "
        f"steps of {t.batch_size}; lr {cfg.probe_lr:g} on frozen features, {t.lr:g} fine-tuning; seeds "
        f"{', '.join(map(str, cfg.seeds))}.\n\nTest accuracy: {ranking}.\n\n![accuracy](accuracy.png)"
    )
    write_report(
        folder, "Experiment 6: static vs contextual vs fine-tuned", body, rows, "static_vs_contextual.csv"
    )
    return {"rows": rows}
