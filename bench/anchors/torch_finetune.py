#!/usr/bin/env python
"""Anchor: all-MiniLM-L6-v2 fine-tuned on SST-2 on the CPU with PyTorch, transformers and peft, as a user of
those libraries would write it.

    python bench/anchors/torch_finetune.py DATA_DIR MODEL_DIR
        [--methods full,lora,bitfit,prefix,prompt,linear] [--steps 217] [--seed 0] [--threads 2]

DATA_DIR holds ``sst2/stsa.binary.{train,dev,test}`` (lines ``<0|1> <sentence>``: 6,920 / 872 / 1,821);
MODEL_DIR is the checkpoint (6-layer BERT, d 384, 22.7M parameters).

Model: ``AutoModelForSequenceClassification`` (BertForSequenceClassification): the checkpoint's pooler
(dense + tanh on the [CLS] hidden state), dropout, and a new linear head of 2 classes; dropout 0.1 as the
checkpoint's config.  What trains, and the peak learning rate of each method:

    full     every weight                                                        5e-5
    lora     peft LoRA, r 8, alpha 16, dropout 0.1, on query and value; head     5e-4
    bitfit   every parameter whose name ends in "bias", and the head             1e-3
    prefix   peft prefix tuning, 20 virtual tokens; head                         1e-2
    prompt   peft prompt tuning, 20 virtual tokens (peft's random init); head    1e-2
    linear   the head alone (linear probe on the pooled [CLS])                   1e-3

("head" = the ``classifier`` layer; peft's sequence-classification task trains it too.)  A method that
peft refuses for this architecture is reported with the error instead of results.

Training: batch 32, sentences cut to 64 tokens and each batch padded to its longest row; the training
set in a random order drawn with ``--seed`` (numpy), a new order each epoch; AdamW (betas 0.9 / 0.999,
eps 1e-8, weight decay 0.01 on every trained parameter), learning rate warmed up linearly over the first
10% of the steps then decayed linearly to 0; gradients clipped to global norm 1.0; float32, eager,
``torch.set_num_threads(--threads)``; ``--steps`` (default one epoch, 217 steps).
Timing (``time.perf_counter``): each step from tokenizing its batch to the end of the optimizer update;
``ms_per_step`` is the median of the steps after the first five; ``mean_width`` the mean padded length
of the training batches (tokens per row).  Accuracy: dev and test after the last
step, in batches of 64, dropout off.

Prints one JSON line per method.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

BATCH, MAX_LEN, EVAL_BATCH, VIRTUAL_TOKENS = 32, 64, 64, 20
LEARNING_RATES = {"full": 5e-5, "lora": 5e-4, "bitfit": 1e-3, "prefix": 1e-2, "prompt": 1e-2, "linear": 1e-3}
WEIGHT_DECAY, WARMUP_SHARE, CLIP = 0.01, 0.1, 1.0


def read_split(folder: Path, split: str) -> tuple[list[str], np.ndarray]:
    """Sentences and 0/1 labels of ``stsa.binary.<split>``."""
    rows = [
        line.split(" ", 1)
        for line in (folder / f"stsa.binary.{split}").read_text("utf-8").splitlines()
        if line
    ]
    return [text for _, text in rows], np.array([int(code) for code, _ in rows])


def make_model(model_dir: str, method: str, tokenizer):
    """The classifier with ``method`` applied, or the error peft raised for it (a string)."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    if method in ("full", "bitfit", "linear"):
        for name, param in model.named_parameters():
            head = name.startswith("classifier.")
            param.requires_grad = method == "full" or head or (method == "bitfit" and name.endswith("bias"))
        return model
    from peft import LoraConfig, PrefixTuningConfig, PromptTuningConfig, TaskType, get_peft_model

    config = {
        "lora": lambda: LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=8,
            lora_alpha=16,
            lora_dropout=0.1,
            target_modules=["query", "value"],
        ),
        "prefix": lambda: PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=VIRTUAL_TOKENS),
        "prompt": lambda: PromptTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=VIRTUAL_TOKENS),
    }[method]()
    model = get_peft_model(model, config)
    try:  # peft checks what the architecture supports on the first forward pass
        with torch.no_grad():
            model(**tokenizer(["a probe"], return_tensors="pt"))
    except (ValueError, NotImplementedError, TypeError) as e:
        return f"{type(e).__name__}: {e}"
    return model


def accuracy(model, tokenizer, texts: list[str], labels: np.ndarray) -> float:
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(texts), EVAL_BATCH):
            enc = tokenizer(
                texts[i : i + EVAL_BATCH],
                padding=True,
                truncation=True,
                max_length=MAX_LEN,
                return_tensors="pt",
            )
            right += int((model(**enc).logits.argmax(-1).numpy() == labels[i : i + EVAL_BATCH]).sum())
    return round(right / len(texts), 4)


def train(model, tokenizer, method: str, texts: list[str], labels: np.ndarray, steps: int, seed: int):
    """``steps`` AdamW steps; returns each step's seconds and padded width (tokens per row)."""
    from transformers import get_linear_schedule_with_warmup

    trained = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        trained, lr=LEARNING_RATES[method], betas=(0.9, 0.999), eps=1e-8, weight_decay=WEIGHT_DECAY
    )
    schedule = get_linear_schedule_with_warmup(opt, int(WARMUP_SHARE * steps), steps)
    rng = np.random.default_rng(seed)
    epochs = -(-steps * BATCH // len(texts))
    order = np.concatenate([rng.permutation(len(texts)) for _ in range(epochs)])
    model.train()
    seconds, widths = [], []
    for step in range(steps):
        start = time.perf_counter()
        rows = order[step * BATCH : (step + 1) * BATCH]
        enc = tokenizer(
            [texts[i] for i in rows], padding=True, truncation=True, max_length=MAX_LEN, return_tensors="pt"
        )
        loss = model(**enc, labels=torch.from_numpy(labels[rows])).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, CLIP)
        opt.step()
        schedule.step()
        opt.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - start)
        widths.append(enc["input_ids"].shape[1])
    return seconds, widths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir")
    parser.add_argument("model_dir")
    parser.add_argument("--methods", default=",".join(LEARNING_RATES))
    parser.add_argument("--steps", type=int, default=0, help="0 = one epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    methods = args.methods.split(",")
    unknown = sorted(set(methods) - set(LEARNING_RATES))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {', '.join(LEARNING_RATES)}")
    torch.set_num_threads(args.threads)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    folder = Path(args.data_dir) / "sst2"
    (train_x, train_y), (dev_x, dev_y), (test_x, test_y) = (
        read_split(folder, s) for s in ("train", "dev", "test")
    )
    steps = args.steps or -(-len(train_x) // BATCH)
    for method in methods:
        torch.manual_seed(args.seed)  # the new head's (and LoRA's, the prompt's) initial weights
        model = make_model(args.model_dir, method, tokenizer)
        line = {"anchor": "torch_finetune", "method": method, "steps": steps, "seed": args.seed}
        if isinstance(model, str):
            print(json.dumps({**line, "unsupported": model}), flush=True)
            continue
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        seconds, widths = train(model, tokenizer, method, train_x, train_y, steps, args.seed)
        line |= {
            "lr": LEARNING_RATES[method],
            "trainable": trainable,
            "total": total,
            "trainable_pct": round(100 * trainable / total, 4),
            "ms_per_step": round(1000 * statistics.median(seconds[5:] or seconds), 1),
            "train_seconds": round(sum(seconds), 1),
            "mean_width": round(float(np.mean(widths)), 1),
            "dev_accuracy": accuracy(model, tokenizer, dev_x, dev_y),
            "test_accuracy": accuracy(model, tokenizer, test_x, test_y),
            "threads": args.threads,
            "torch": torch.__version__,
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
