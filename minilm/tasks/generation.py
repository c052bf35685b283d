"""Generation tasks: machine translation (Multi30k en->de) and summarisation (SciTLDR abstract -> TLDR),
and their generated twins ``world_translation`` / ``world_summarization``.

Two models, chosen by ``--init``:

- ``--init=seq2seq``: a new **encoder-decoder** (:class:`~minilm.models.seq2seq.Seq2Seq`, Vaswani et
  al. 2017) trained from scratch with ``--method=full``; its size is ``--generate.*``, its joint
  byte-level BPE (``--generate.vocab_size``) is trained on the task's training split (sources and
  targets) when the training arrays are made, and saved as the run's ``tokenizer.json``;
- ``--init=runs/NAME`` (a minilm GPT: ``train.py lm``'s run or ``lm/`` folder): **decoder-only**, the
  source, ``<sep>``, the target and ``<eos>`` as one sequence, the loss on the target tokens only
  (:func:`~minilm.objectives.seq2seq.prefix_lm_loss`); any fine-tuning method applies (LoRA, adapters,
  prefix, ...), as for classification.

Both are trained with label smoothing 0.1 (Vaswani et al. 2017 §5.4) and decode with
:func:`~minilm.models.generate.generate` -- greedy, or beam search with ``--generate.num_beams`` --
from the source (encoder-decoder) or from ``source <sep>`` (decoder-only), up to ``<eos>``.  The source
is cut to ``--max_len`` tokens, the target to ``--generate.max_target_len``.

Metrics, from :mod:`minilm.metrics`: BLEU (sacreBLEU's defaults: 13a, exp smoothing; the signature
printed) for translation, and beside it sacreBLEU's own score and signature on the same output when
``sacrebleu`` is installed; ROUGE-1/2/L F1 (and P/R; rouge-score's tokenisation, no stemming) for
summarisation, against the author's TLDR (SciTLDR's first target).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flax import nnx

from minilm.config import at_least, finite, in_range, opt
from minilm.data.batches import prefix_lm_arrays, seq2seq_arrays, source_prompts
from minilm.data.dataset import Record
from minilm.data.tokenizer import EOS, PAD, SEP, new_bpe, train_bpe
from minilm.errors import UserError
from minilm.finetune import METHODS
from minilm.finetune.saved import Finetuned, build_with
from minilm.metrics.bleu import corpus_bleu
from minilm.metrics.rouge import rouge_mean
from minilm.models.generate import GenerationConfig, generate
from minilm.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minilm.models.transformer import GPT
from minilm.objectives.seq2seq import prefix_lm_loss, seq2seq_loss, target_nll
from minilm.tasks.base import Arrays, Task
from minilm.train.runlog import summary_table

SCRATCH = "seq2seq"  # --init value: a new encoder-decoder trained from scratch
LABEL_SMOOTHING = 0.1  # Vaswani et al. 2017 §5.4
SOURCE_POSITIONS = 512  # a new encoder-decoder's source positions (--max_len cuts the sources)
DECODE_BATCH = 64  # prompts per generate() call (one compiled decoder for every batch)
EXAMPLES_SHOWN = 5  # test outputs quoted in the report


@dataclass(frozen=True)
class GenerateOptions:
    """Settings of the generation tasks: decoding, and the size of a new encoder-decoder."""

    max_target_len: int = opt(
        64, "target tokens kept (with the <eos>; the source: --max_len)", check=at_least(2)
    )
    num_beams: int = opt(4, "beam search with this many beams (1 = greedy)", check=at_least(1))
    length_penalty: float = opt(
        1.0, "beam search: score = sum log p / length ** length_penalty (any number)", check=finite
    )
    vocab_size: int = opt(
        8000, "--init=seq2seq: joint BPE vocabulary, trained on the train split", check=at_least(261)
    )
    layers: int = opt(3, "--init=seq2seq: encoder and decoder blocks (each)", check=at_least(1))
    d_model: int = opt(256, "--init=seq2seq: hidden size", check=at_least(1))
    n_head: int = opt(4, "--init=seq2seq: attention heads", check=at_least(1))
    d_ff: int = opt(1024, "--init=seq2seq: FFN inner width", check=at_least(1))
    dropout: float = opt(0.1, "--init=seq2seq: dropout", check=in_range(0, 1, high_open=True))


def _model_config(options: GenerateOptions) -> Seq2SeqConfig:
    return Seq2SeqConfig(
        vocab_size=options.vocab_size, max_source_len=SOURCE_POSITIONS, max_target_len=options.max_target_len,
        encoder_layers=options.layers, decoder_layers=options.layers, n_head=options.n_head,
        d_model=options.d_model, d_ff=options.d_ff, dropout=options.dropout,
    )  # fmt: skip


@dataclass(frozen=True)
class GenerationTask(Task):
    """A text-to-text task: ``source_field`` -> ``target_field``, scored by BLEU (translation) or ROUGE
    (summarization)."""

    source_field: str = "source"
    target_field: str = "target"

    Options = GenerateOptions
    section = "generate"

    # --- model -----------------------------------------------------------------------------------

    def build(self, init, method, method_cfg, seed, options, labels) -> Finetuned:
        """``init=seq2seq``: a new encoder-decoder (``method`` must be ``full``) and an untrained BPE;
        else the minilm GPT at ``init`` with ``method`` applied (decoder-only)."""
        if init == SCRATCH:
            if method != "full":
                raise UserError(
                    f"--init={SCRATCH} trains a new encoder-decoder from scratch: use --method=full"
                )
            model = Seq2Seq(_model_config(options), rngs=nnx.Rngs(seed))
            trainable = METHODS[method].apply(model, method_cfg, rngs=nnx.Rngs(seed + 1))
            meta = {"init": SCRATCH, "method": method, "config": dataclasses.asdict(method_cfg)}
            tuned = Finetuned(model, new_bpe(), trainable, meta)
        else:
            tuned = build_with(init, method, method_cfg, _decoder_only(init), seed)
        return tuned._replace(meta={**tuned.meta, **self.describe(options)})

    def arrays(self, tuned: Finetuned, splits: Mapping[str, list[Record]], max_len: int) -> dict[str, Arrays]:
        """Teacher forcing's arrays (:func:`~minilm.data.batches.seq2seq_arrays`) or the decoder-only
        sequence's (:func:`~minilm.data.batches.prefix_lm_arrays`), the padding no split uses cut off.
        A new encoder-decoder's BPE is trained here, on the ``train`` split's sources and targets."""
        options = self._options(tuned)
        for split, records in splits.items():
            _check_fields(records, (self.source_field, self.target_field), f"--task={self.name} {split}")
        if tuned.tokenizer.get_vocab_size() == 0:
            if "train" not in splits:
                raise UserError(
                    f"--task={self.name}: a new encoder-decoder's tokenizer needs the train split"
                )
            lines = [r[f] for r in splits["train"] for f in (self.source_field, self.target_field)]
            train_bpe(lines, options.vocab_size, into=tuned.tokenizer)
        limits = self._limits(tuned, max_len, options)
        encoded = {}
        for split, records in splits.items():
            sources = [r[self.source_field] for r in records]
            targets = [r[self.target_field] for r in records]
            if isinstance(tuned.model, Seq2Seq):
                encoded[split] = seq2seq_arrays(
                    tuned.tokenizer, sources, targets, **limits, start_id=tuned.model.cfg.start_id
                )
            else:
                encoded[split] = prefix_lm_arrays(tuned.tokenizer, sources, targets, **limits)
        return _trim(encoded)

    def loss(self, model, batch, rngs):
        if isinstance(model, Seq2Seq):
            return seq2seq_loss(model, batch, rngs, eps=LABEL_SMOOTHING)
        return prefix_lm_loss(model, batch, rngs, eps=LABEL_SMOOTHING)

    # --- scores ----------------------------------------------------------------------------------

    def validator(self, tuned: Finetuned, arrays: Arrays) -> Callable[[nnx.Module], dict[str, float]]:
        """The dev targets' mean token NLL (no smoothing): cheap, unlike decoding."""
        kind = _kind(tuned.model)

        def validate(model: nnx.Module) -> dict[str, float]:
            total, count = target_nll(kind, model, arrays)
            return {"eval_loss": total / count}

        return validate

    def decode(
        self, tuned: Finetuned, records: list[Record], options: GenerateOptions, max_len: int
    ) -> list[str]:
        """The model's output text for each record's source (beam search or greedy, up to ``<eos>``)."""
        seq2seq = isinstance(tuned.model, Seq2Seq)
        limits = self._limits(tuned, max_len, options)
        prompts = source_prompts(
            tuned.tokenizer, [r[self.source_field] for r in records],
            max_source_len=limits["max_source_len"], end=EOS if seq2seq else SEP,
        )  # fmt: skip
        cfg = GenerationConfig(
            max_new_tokens=options.max_target_len - 1 if seq2seq else options.max_target_len,  # + start token
            num_beams=options.num_beams,
            length_penalty=options.length_penalty,
            stop_tokens=(EOS,),
            pad_id=PAD,
        )
        return [tuned.tokenizer.decode(ids).strip() for ids in decode_all(tuned.model, prompts, cfg)]

    def evaluate(
        self, tuned: Finetuned, records: list[Record], arrays: Arrays, options: Any
    ) -> dict[str, Any]:
        """Decode every record and score the outputs against the targets: BLEU (and sacreBLEU's) or
        ROUGE; also the targets' token NLL and a few examples."""
        max_len = tuned.meta.get("max_len", 64)  # the commands' default --max_len
        outputs = self.decode(tuned, records, options, max_len)
        targets = [r[self.target_field] for r in records]
        total, count = target_nll(_kind(tuned.model), tuned.model, arrays)
        metrics = score_outputs(self.kind, outputs, targets)
        metrics |= {
            "target_nll": total / count,
            "decoding": "greedy" if options.num_beams == 1 else f"beam {options.num_beams}",
            "examples": [
                {"source": r[self.source_field], "target": t, "output": o}
                for r, t, o in zip(records[:EXAMPLES_SHOWN], targets, outputs, strict=False)
            ],
        }
        return metrics

    def headline(self, metrics: dict[str, Any]) -> dict[str, float]:
        keys = ("bleu", "sacrebleu") if self.kind == "translation" else ("rouge1", "rouge2", "rougeL")
        return {k: metrics[k] for k in keys if k in metrics}

    def report(self, metrics: dict[str, Any], out_dir: Path) -> str:
        """The headline table, BLEU's signature(s) or ROUGE's P/R/F, and a few outputs."""
        lines = [summary_table(self.headline(metrics), ("metric", "value")), ""]
        if self.kind == "translation":
            lines.append(f"minilm `{metrics['bleu_line']}`  ")
            if "sacrebleu_line" in metrics:
                lines.append(f"sacreBLEU `{metrics['sacrebleu_line']}`")
        else:
            rows = {
                f"{k} {f}": metrics["rouge"][k][f]
                for k in metrics["rouge"]
                for f in ("precision", "recall", "f1")
            }
            lines.append(summary_table(rows, ("ROUGE", "value")))
        lines += ["", f"Decoding: {metrics['decoding']}; target token NLL {metrics['target_nll']:.4f}.", ""]
        for ex in metrics["examples"]:
            lines.append(
                f"- source: {ex['source'][:300]}\n  - target: {ex['target']}\n  - output: {ex['output']}"
            )
        return "\n".join(lines) + "\n"

    # --- helpers ---------------------------------------------------------------------------------

    def _options(self, tuned: Finetuned) -> GenerateOptions:
        return GenerateOptions(**tuned.meta["options"])

    def _limits(self, tuned: Finetuned, max_len: int, options: GenerateOptions) -> dict[str, int]:
        """The source and target caps, checked against what the model holds."""
        if isinstance(tuned.model, Seq2Seq):
            cfg = tuned.model.cfg
            return {"max_source_len": min(max_len, cfg.max_source_len), "max_target_len": cfg.max_target_len}
        context = tuned.model.cfg.max_len
        if max_len + options.max_target_len > context:
            raise UserError(
                f"--max_len={max_len} source tokens + --generate.max_target_len={options.max_target_len} "
                f"exceed the GPT's context of {context} tokens"
            )
        return {"max_source_len": max_len, "max_target_len": options.max_target_len}


def _decoder_only(init: str):
    def head(backbone: nnx.Module, rngs: nnx.Rngs) -> tuple[GPT, dict[str, Any]]:
        if not isinstance(backbone, GPT):
            raise UserError(
                f"--init={init} is a {type(backbone).__name__}: a generation task needs a minilm GPT "
                f"(decoder-only) or --init={SCRATCH} (a new encoder-decoder)"
            )
        return backbone, {"architecture": "decoder-only"}

    return head


def _kind(model: nnx.Module) -> str:
    return "encoder-decoder" if isinstance(model, Seq2Seq) else "decoder-only"


def _check_fields(records: list[Record], fields: tuple[str, ...], where: str) -> None:
    for i, record in enumerate(records):
        missing = [f for f in fields if not isinstance(record.get(f), str)]
        if missing:
            raise UserError(
                f"{where}: example {i + 1} has no text field {missing[0]!r} (needs {', '.join(fields)})"
            )


def _trim(encoded: dict[str, Arrays]) -> dict[str, Arrays]:
    """Cut the padding columns no split uses, per group of arrays that share a mask (one width for
    every split, so one compiled step and evaluator serve them all)."""
    groups = {
        "source_mask": ("source", "source_mask"),
        "target_mask": ("target_in", "target_out", "target_mask"),
        "attention_mask": ("tokens", "attention_mask", "targets", "loss_mask"),
    }
    out = {split: dict(arrays) for split, arrays in encoded.items()}
    for mask, keys in groups.items():
        present = [a for a in encoded.values() if mask in a]
        if present:
            width = max(int(a[mask].sum(1).max()) for a in present)
            for arrays in out.values():
                arrays.update({k: arrays[k][:, :width] for k in keys})
    return out


def decode_all(
    model, prompts: list[list[int]], cfg: GenerationConfig, batch_size: int = DECODE_BATCH
) -> list[list[int]]:
    """Each prompt's generated ids without the stop token, in batches of ``batch_size`` rows (the last
    one filled up with copies of the first prompt), every batch left-padded to the longest prompt of
    all: one shape, one compilation."""
    width = max(len(p) for p in prompts)
    out = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        result = generate(model, chunk + [prompts[0]] * (batch_size - len(chunk)), cfg, width=width)
        for ids, n in zip(result.tokens[: len(chunk)], result.lengths[: len(chunk)], strict=True):
            ids = ids[:n].tolist()
            out.append(ids[:-1] if ids and ids[-1] in cfg.stop_tokens else ids)
    return out


def score_outputs(kind: str, outputs: list[str], targets: list[str]) -> dict[str, Any]:
    """The task's metric on output texts: translation -> BLEU (minilm's, and sacreBLEU's when
    installed); summarization -> mean ROUGE-1/2/L."""
    if kind == "translation":
        ours = corpus_bleu(outputs, [targets])
        metrics: dict[str, Any] = {
            "bleu": ours.score,
            "bleu_signature": ours.signature,
            "bleu_line": ours.format(),
        }
        try:
            import sacrebleu
        except ImportError:
            return metrics
        theirs = sacrebleu.metrics.BLEU(force=True)  # the world twins are tokenised text: no warning
        score = theirs.corpus_score(outputs, [targets])
        return metrics | {
            "sacrebleu": score.score,
            "sacrebleu_signature": str(theirs.get_signature()),
            "sacrebleu_line": score.format(signature=str(theirs.get_signature())),
        }
    rouge = rouge_mean(targets, outputs, types=("rouge1", "rouge2", "rougeL"))
    return {**{k: v["f1"] for k, v in rouge.items()}, "rouge": rouge}


def _task(name: str, twin: str, kind: str, metric: str, description: str, **fields: str) -> GenerationTask:
    return GenerationTask(
        name=name, dataset=name, twin=twin, kind=kind, metric=metric, description=description, **fields
    )


SUMMARY_FIELDS = {"source_field": "document", "target_field": "summary"}
MT, SUMMARY = "translation", "summarization"
GENERATION_TASKS = (
    _task("multi30k", "world_translation", MT, "bleu", "Multi30k English -> German (Elliott et al. 2016)"),
    _task("world_translation", "world_translation", MT, "bleu", "generated English -> generated language"),
    _task(
        "scitldr", "world_summarization", SUMMARY, "rouge1", "SciTLDR abstract -> TLDR (Cachola et al. 2020)",
        **SUMMARY_FIELDS,
    ),
    _task(
        "world_summarization", "world_summarization", SUMMARY, "rouge1", "generated story -> one sentence",
        **SUMMARY_FIELDS,
    ),
)  # fmt: skip

__all__ = ["GENERATION_TASKS", "GenerateOptions", "GenerationTask", "decode_all", "score_outputs"]
