"""Pretrain a small GPT, fine-tune it on a classification task, evaluate it: the default run.

    python train.py                      # about 3-4 minutes on 2 CPU cores

1. data: the generated "world" corpus and its sentiment task (no download; see docs/data_card.md),
   or any registered dataset / file via --corpus and --task (see docs/data.md);
2. tokenizer: byte-level BPE trained on the corpus (``tokenizer.json``);
3. pretraining: a GPT-2-style causal LM (Radford et al. 2019) on next-token prediction;
4. fine-tuning: the same network plus a linear head on the last token's hidden state, all weights
   trained (GPT, Radford et al. 2018, §3.2) with cross-entropy;
5. evaluation: LM perplexity on held-out text; accuracy, precision, recall, F1 and the confusion
   matrix on the task's test split, next to the majority-class baseline.

Everything lands in ``runs/<name>/``: ``train_config.json``, ``metrics.jsonl``, ``loss.png``,
``report.md``, ``tokenizer.json``, ``model.safetensors`` + ``config.json`` (the fine-tuned
classifier), ``lm/`` (the pretrained LM), ``checkpoints/``.  ``--resume`` continues a killed run.
"""

from __future__ import annotations

import collections
import functools
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from minilm.config import ResumableRunSettings, opt
from minilm.data.batches import ExampleBatches, LMBatches
from minilm.data.registry import Dataset, load_dataset
from minilm.data.tokenizer import encode_padded, encode_stream, load_tokenizer, train_bpe
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes
from minilm.metrics.classification import classification_report, format_report
from minilm.metrics.perplexity import perplexity
from minilm.models.heads import SequenceClassifier
from minilm.models.io import save_model
from minilm.models.transformer import GPT, TransformerConfig, count_params
from minilm.train.loop import TrainConfig, fit
from minilm.train.runlog import MetricsLog


@dataclass
class Config(ResumableRunSettings):
    """Settings of the default run (``python train.py --help``)."""

    corpus: str = opt("world", "pretraining text: a dataset name (see docs/data.md) or a text file")
    task: str = opt("world_sentiment", "classification task to fine-tune on: a dataset name or a file")
    seed: int = opt(0, "seed for initialisation, data order and dropout")
    # model
    vocab_size: int = opt(1024, "BPE vocabulary size")
    max_len: int = opt(64, "context length in tokens")
    n_layer: int = opt(4, "Transformer blocks")
    n_head: int = opt(4, "attention heads")
    d_model: int = opt(128, "hidden size")
    dropout: float = opt(0.1, "dropout on embeddings, residual branches and the classifier")
    # pretraining
    pretrain_steps: int = opt(800, "pretraining steps")
    pretrain_batch: int = opt(16, "sequences per pretraining step")
    pretrain_lr: float = opt(3e-3, "peak pretraining learning rate")
    # fine-tuning
    finetune_steps: int = opt(200, "fine-tuning steps")
    finetune_batch: int = opt(32, "examples per fine-tuning step")
    finetune_lr: float = opt(1e-3, "peak fine-tuning learning rate")
    # both phases
    warmup_steps: int = opt(50, "linear warmup steps of each phase")
    weight_decay: float = opt(0.1, "AdamW decoupled weight decay (matrices only)")
    clip_norm: float = opt(1.0, "global gradient-norm clipping (0 = off)")
    eval_every: int = opt(200, "steps between evaluations in each phase")
    max_eval: int = opt(2000, "cap on held-out examples/windows evaluated during training")


# ------------------------------------------------------------------------------------------- the run


def lm_text(dataset: Dataset, flag: str = "--corpus") -> tuple[list[str], list[str]]:
    """Train and held-out lines of an LM corpus: its dev/valid/test split, else the last 5% of lines.
    ``flag`` names the option that chose the dataset, for the error messages."""
    if dataset.task != "lm":
        raise UserError(
            f"{flag}={dataset.name} is a {dataset.task} dataset; pretraining needs text (task lm)"
        )
    if "train" not in dataset.splits:
        raise UserError(
            f"{flag}={dataset.name} has no train split (its splits: {', '.join(dataset.splits)}); "
            "train on another corpus or on a text file"
        )
    splits = {k: [r["text"] for r in v] for k, v in dataset.splits.items()}
    train = splits.pop("train")
    held = next((splits[k] for k in ("valid", "dev", "validation", "test") if k in splits), None)
    if held is None:
        cut = max(1, len(train) // 20)
        train, held = train[:-cut], train[-cut:]
    if not train or not held:
        raise UserError(f"{flag}={dataset.name}: too little text to hold out an evaluation part")
    return train, held


def _task_splits(dataset: Dataset, seed: int) -> tuple[list[dict], list[dict], list[dict], tuple[str, ...]]:
    """train, dev, test and the label names.  A dataset with only a train split (a user's file) is
    split 80/10/10 with a seeded permutation; one without a test split is tested on its dev split."""
    if dataset.task != "classification":
        raise UserError(
            f"--task={dataset.name} is a {dataset.task} dataset; fine-tuning here needs classification"
        )
    splits = dict(dataset.splits)
    train = splits["train"]
    dev = next((splits[k] for k in ("dev", "validation", "valid") if k in splits), None)
    test = splits.get("test", dev)
    if dev is None and test is None:
        order = np.random.default_rng(seed).permutation(len(train))
        tenth = len(train) // 10
        if tenth == 0:
            raise UserError(
                f"--task={dataset.name}: {len(train)} examples are too few to split off dev and test"
            )
        dev, test = [train[i] for i in order[:tenth]], [train[i] for i in order[tenth : 2 * tenth]]
        train = [train[i] for i in order[2 * tenth :]]
    labels = dataset.labels or tuple(sorted({r["label"] for r in train}))
    return train, dev or test, test, labels


def run(cfg: Config) -> int:
    t_start = time.perf_counter()
    run_dir = cfg.run_folder()

    # 1. data, 2. tokenizer: everything that can fail on bad input happens before the run folder is made
    data_dir = cfg.data_dir or None
    corpus = load_dataset(cfg.corpus, data_dir)
    task = load_dataset(cfg.task, data_dir)
    train_lines, held_lines = lm_text(corpus)
    train_ex, dev_ex, test_ex, labels = _task_splits(task, cfg.seed)
    tok_path = run_dir / "tokenizer.json"
    tokenizer = load_tokenizer(tok_path) if cfg.resume else train_bpe(train_lines, cfg.vocab_size)
    train_stream = encode_stream(tokenizer, train_lines)
    held_stream = encode_stream(tokenizer, held_lines)
    lm_batches = LMBatches(train_stream, cfg.pretrain_batch, cfg.max_len, cfg.seed)
    label_ids = {label: i for i, label in enumerate(labels)}
    encode = functools.partial(_classification_arrays, tokenizer, label_ids=label_ids, max_len=cfg.max_len)
    train_arrays = encode(train_ex, where=f"{cfg.task} train")
    dev_arrays = encode(dev_ex[: cfg.max_eval], where=f"{cfg.task} dev")
    test_arrays = encode(test_ex, where=f"{cfg.task} test")
    train_arrays, dev_arrays, test_arrays = _trim_padding(train_arrays, dev_arrays, test_arrays)
    clf_batches = ExampleBatches(train_arrays, cfg.finetune_batch, cfg.seed)
    cfg.start_run(run_dir)
    if not cfg.resume:
        atomic_write_bytes(tok_path, tokenizer.to_str().encode())

    # 3. pretraining ------------------------------------------------------------------------------
    model_cfg = TransformerConfig(
        vocab_size=tokenizer.get_vocab_size(),
        max_len=cfg.max_len,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        d_model=cfg.d_model,
        d_ff=4 * cfg.d_model,
        dropout=cfg.dropout,
    )
    lm = GPT(model_cfg, rngs=nnx.Rngs(cfg.seed))
    lm_eval = lm_evaluator(lm, cfg.max_len)
    t0 = time.perf_counter()
    fit(
        lm,
        lm_loss,
        lm_batches,
        phase_config(cfg, cfg.pretrain_steps, cfg.pretrain_batch, cfg.pretrain_lr),
        run_dir,
        eval_fn=lambda m: {"eval_loss": np.divide(*lm_eval(m, held_stream, cfg.max_eval))},
        resume=resume_phase(cfg, run_dir, "pretrain"),
        phase="pretrain",
    )
    pretrain_seconds = time.perf_counter() - t0
    save_model(run_dir / "lm", lm, {"model": model_cfg.to_dict(), "architecture": "gpt"})
    total_nll, n_tokens = lm_eval(lm, held_stream)
    ppl = perplexity(total_nll, n_tokens)

    # 4. fine-tuning ------------------------------------------------------------------------------
    clf = SequenceClassifier(lm, len(labels), pooling="last", rngs=nnx.Rngs(cfg.seed + 1))
    predict = classifier_predictor(clf)

    def dev_eval(model: SequenceClassifier) -> dict[str, float]:
        logits = predict(model, dev_arrays)  # (N, C)
        log_probs = logits - _logsumexp(logits)
        gold = dev_arrays["labels"]
        return {
            "eval_loss": float(-log_probs[np.arange(len(gold)), gold].mean()),
            "eval_accuracy": float(np.mean(logits.argmax(-1) == gold)),
        }

    t0 = time.perf_counter()
    fit(
        clf,
        classification_loss,
        clf_batches,
        phase_config(cfg, cfg.finetune_steps, cfg.finetune_batch, cfg.finetune_lr),
        run_dir,
        eval_fn=dev_eval,
        resume=resume_phase(cfg, run_dir, "finetune"),
        phase="finetune",
    )
    finetune_seconds = time.perf_counter() - t0
    classifier_config = {"model": model_cfg.to_dict(), "architecture": "gpt-classifier", "pooling": "last"}
    save_model(run_dir, clf, {**classifier_config, "labels": list(labels)})

    # 5. evaluation -------------------------------------------------------------------------------
    pred_ids = predict(clf, test_arrays).argmax(-1)
    gold = [labels[i] for i in test_arrays["labels"]]
    pred = [labels[i] for i in pred_ids]
    report = classification_report(gold, pred)
    majority = collections.Counter(r["label"] for r in train_ex).most_common(1)[0][0]
    baseline = classification_report(gold, [majority] * len(gold))
    summary = {
        "lm_perplexity": ppl,
        "lm_eval_tokens": n_tokens,
        "test_accuracy": report["accuracy"],
        "test_macro_f1": report["macro"]["f1"],
        "majority_label": majority,
        "majority_accuracy": baseline["accuracy"],
        "majority_macro_f1": baseline["macro"]["f1"],
        "parameters": count_params(lm),
        "pretrain_seconds": round(pretrain_seconds, 1),
        "finetune_seconds": round(finetune_seconds, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
    }
    MetricsLog(run_dir / "metrics.jsonl").write({"phase": "test", "step": cfg.finetune_steps, **summary})
    text = _report(cfg, run_dir, summary, report, corpus, task)
    atomic_write_bytes(run_dir / "report.md", text.encode())
    print(text)
    return 0


def resume_phase(cfg: ResumableRunSettings, run_dir: Path, phase: str) -> bool:
    """Resume ``phase`` from its checkpoint if it has one; a phase killed before its first checkpoint
    starts over, and the log lines it left are dropped."""
    if not cfg.resume:
        return False
    if (run_dir / "checkpoints" / f"{phase}.safetensors").exists():
        return True
    MetricsLog(run_dir / "metrics.jsonl").truncate_after(phase, 0)
    return False


def _logsumexp(x: np.ndarray) -> np.ndarray:
    """log sum_j exp(x_ij) over the last axis, kept as (N, 1), computed stably."""
    top = x.max(-1, keepdims=True)
    return top + np.log(np.exp(x - top).sum(-1, keepdims=True))


def phase_config(cfg: Config, steps: int, batch: int, lr: float) -> TrainConfig:
    return TrainConfig(
        steps=steps,
        batch_size=batch,
        lr=lr,
        warmup_steps=min(cfg.warmup_steps, steps // 4),
        weight_decay=cfg.weight_decay,
        clip_norm=cfg.clip_norm,
        eval_every=cfg.eval_every,
        ckpt_every=cfg.eval_every,
        log_every=10,
        seed=cfg.seed,
        progress=cfg.progress,
    )


# ------------------------------------------------------------------------------------ losses, evals


def lm_loss(model: GPT, batch: dict[str, jax.Array], rngs: nnx.Rngs | None):
    """Mean next-token cross-entropy: -1/(B T) sum log p(x_{t+1} | x_<=t)."""
    logits = model(batch["tokens"], rngs=rngs)  # (B, T, V)
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"]).mean(), {}


def classification_loss(model: SequenceClassifier, batch: dict[str, jax.Array], rngs: nnx.Rngs | None):
    logits = model(batch["tokens"], attention_mask=batch["attention_mask"], rngs=rngs)  # (B, C)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"]).mean()
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["labels"])}


EVAL_BATCH = 64


def lm_evaluator(model: GPT, seq_len: int):
    """``evaluate(model, stream, max_windows) -> (summed next-token NLL, tokens scored)``.

    The stream is cut into non-overlapping windows; window i scores tokens i*T+1 .. i*T+T given
    their prefix inside the window.  Windows go through in fixed-size batches (the last one masked),
    so one compiled function serves every stream and every cap.
    """
    graphdef = nnx.graphdef(model)

    @jax.jit
    def batch_nll(state, tokens, targets, w):  # (b, T), (b, T), (b,) -> ()
        logits = nnx.merge(graphdef, state)(tokens)  # (b, T, V)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, targets).sum(-1)  # (b,)
        return jnp.sum(nll * w)

    def evaluate(m: GPT, stream: np.ndarray, max_windows: int | None = None) -> tuple[float, int]:
        n = (len(stream) - 1) // seq_len
        if max_windows is not None:
            n = min(n, max_windows)
        if n == 0:
            raise UserError(
                f"the held-out text has {len(stream)} tokens, fewer than one window of {seq_len + 1}"
            )
        pad = -n % EVAL_BATCH
        x = np.pad(stream[: n * seq_len].reshape(n, seq_len), ((0, pad), (0, 0)))
        y = np.pad(stream[1 : n * seq_len + 1].reshape(n, seq_len), ((0, pad), (0, 0)))
        w = np.pad(np.ones(n, np.float32), (0, pad))
        state = nnx.state(m)
        total = sum(
            float(batch_nll(state, x[i : i + EVAL_BATCH], y[i : i + EVAL_BATCH], w[i : i + EVAL_BATCH]))
            for i in range(0, len(x), EVAL_BATCH)
        )
        return total, n * seq_len

    return evaluate


def classifier_predictor(model: SequenceClassifier):
    """``predict(model, arrays) -> logits (N, C)`` in fixed-size jitted batches."""
    graphdef = nnx.graphdef(model)

    @jax.jit
    def logits_of(state, tokens, mask):
        return nnx.merge(graphdef, state)(tokens, attention_mask=mask)

    def predict(m: SequenceClassifier, arrays: dict[str, np.ndarray]) -> np.ndarray:
        state, n = nnx.state(m), len(arrays["tokens"])
        pad = -n % EVAL_BATCH
        tokens = np.pad(arrays["tokens"], ((0, pad), (0, 0)))
        mask = np.pad(arrays["attention_mask"], ((0, pad), (0, 0)), constant_values=1)
        out = [
            np.asarray(logits_of(state, tokens[i : i + EVAL_BATCH], mask[i : i + EVAL_BATCH]))
            for i in range(0, len(tokens), EVAL_BATCH)
        ]
        return np.concatenate(out)[:n]

    return predict


def _classification_arrays(tokenizer, examples, *, label_ids, max_len, where) -> dict[str, np.ndarray]:
    """tokens and attention_mask (N, max_len), labels (N,) as class ids."""
    unknown = [r["label"] for r in examples if r["label"] not in label_ids]
    if unknown:
        raise UserError(f"{where}: unknown label {unknown[0]!r}; the labels are {', '.join(label_ids)}")
    tokens, mask = encode_padded(tokenizer, [r["text"] for r in examples], max_len)
    labels = np.array([label_ids[r["label"]] for r in examples], dtype=np.int32)
    return {"tokens": tokens, "attention_mask": mask, "labels": labels}


def _trim_padding(*parts: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], ...]:
    """Cut the padding columns no example uses: short sentences need not cost ``max_len`` positions.
    One width for every split, so one compiled step and one compiled predictor serve them all."""
    width = max(int(p["attention_mask"].sum(1).max()) for p in parts)
    return tuple({k: v[:, :width] if v.ndim == 2 else v for k, v in p.items()} for p in parts)


def _report(cfg: Config, run_dir: Path, s: dict, report: dict, corpus: Dataset, task: Dataset) -> str:
    lines = [
        f"# minilm run `{run_dir.name}`",
        "",
        f"Pretrained a {cfg.n_layer}-layer GPT ({s['parameters']:,} parameters) on `{corpus.name}` for "
        f"{cfg.pretrain_steps} steps ({s['pretrain_seconds']} s), fine-tuned it on `{task.name}` for "
        f"{cfg.finetune_steps} steps ({s['finetune_seconds']} s). Total {s['total_seconds']} s.",
        "",
        "| result | value |",
        "|---|---|",
        f"| LM perplexity on held-out text ({s['lm_eval_tokens']:,} tokens) | {s['lm_perplexity']:.3f} |",
        f"| test accuracy | {s['test_accuracy']:.4f} |",
        f"| test macro F1 | {s['test_macro_f1']:.4f} |",
        f"| majority-class baseline (`{s['majority_label']}`): accuracy / macro F1 "
        f"| {s['majority_accuracy']:.4f} / {s['majority_macro_f1']:.4f} |",
        "",
        "## Test set, per class",
        "",
        "```",
        format_report(report),
        "```",
        "",
        "Files: `metrics.jsonl` (every logged step), `loss.png` (curves), `model.safetensors` + `config.json`"
        " (classifier), `lm/` (pretrained LM), `tokenizer.json`, `train_config.json`.",
    ]
    return "\n".join(lines) + "\n"
