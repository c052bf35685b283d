"""Reading comprehension as extractive QA in SQuAD v1.1 format (Devlin et al. 2019, BERT §4.2): a span
head on a BERT, trained on question + context windows, scored by SQuAD exact match and F1.

    python train.py finetune --task=world_qa --init=../shared/models/all-MiniLM-L6-v2 --max_len=128
    python train.py finetune --task=xquad --init=../shared/models/all-MiniLM-L6-v2 --max_len=256

- input: ``[CLS] question [SEP] context window [SEP]`` with token types 0 / 1, a long context cut into
  windows every ``--qa.doc_stride`` context tokens (:mod:`minilm.data.qa_windows`);
- head: :class:`~minilm.models.heads.SpanExtractor`, start and end logits over the window;
- loss: the mean of the start and end cross-entropies (:func:`minilm.objectives.qa.span_loss`);
- answer: the best span ``s_i + e_j`` over all windows of a question, ``i <= j``, at most
  ``--qa.max_answer_len`` tokens, inside the context, mapped back to the context's characters;
- metric: :func:`minilm.metrics.squad.evaluate` (official v1.1 normalisation; max over gold answers).

Tasks: ``world_qa`` (the generated stories: train / dev / test of 1,000 / 250 / 250 questions, different
stories in each) and ``xquad``.  XQuAD English (48 Wikipedia articles, 240 paragraphs, 1,190 questions)
has a single evaluation file; it is split **by article** (:func:`minilm.data.splits.article_split`):
with the run's seed, a permutation of the 48 articles gives 24 test articles, 5 dev articles and 19
train articles, so no article -- no paragraph, no question about it -- is in two splits.  The model
trains on the 19 train articles' questions *and* the generated stories' train split (the twin), is
validated on the dev articles and tested on the 24 held-out articles.  A user's SQuAD ``.json`` file is
split by article the same way, 80/10/10, and trained on alone.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from flax import nnx

from minilm.config import at_least, opt
from minilm.data.batches import trim_padding
from minilm.data.dataset import Record
from minilm.data.loaders import squad_records
from minilm.data.qa_windows import answer_text, qa_windows
from minilm.data.registry import load_dataset
from minilm.data.splits import article_split
from minilm.errors import UserError
from minilm.finetune.saved import Finetuned, build_with
from minilm.metrics import squad
from minilm.models.heads import SpanExtractor
from minilm.models.transformer import backbone_of
from minilm.objectives.qa import predict_answers, span_loss, span_predictor, span_scores
from minilm.tasks.base import Arrays, Task, TaskData
from minilm.train.runlog import pyplot, save_figure, summary_table


@dataclass
class QAOptions:
    """Extractive QA settings (BERT's run_squad.py names; its defaults are 128, 64, 30 at 384 tokens)."""

    doc_stride: int = opt(64, "context tokens from one window's start to the next's", check=at_least(1))
    max_query_len: int = opt(32, "question tokens kept (the rest cut)", check=at_least(1))
    max_answer_len: int = opt(30, "longest answer predicted, in tokens", check=at_least(1))


@dataclass(frozen=True)
class QATask(Task):
    """A SQuAD-format task.  A dataset with train and test splits is used as it is; one with a single
    split is cut by article into ``test_share`` / ``dev_share`` / the rest; ``with_twin``: the twin's
    train split joins the training questions."""

    kind: str = "qa"
    metric: str = "f1"
    test_share: float = 0.1
    dev_share: float = 0.1
    with_twin: bool = False

    Options = QAOptions
    section = "qa"

    # --- data ------------------------------------------------------------------------------------

    def load(self, data_dir: str | Path | None = None, seed: int = 0, *, twin: bool = False) -> TaskData:
        dataset = load_dataset(self.twin if twin else self.dataset, data_dir)
        if dataset.task != "qa":
            raise UserError(
                f"--task={self.name}: {dataset.name} is a {dataset.task} dataset, not SQuAD-format QA"
            )
        if len(dataset.splits) > 1:
            test = dataset.splits["test"]
            dev = next(
                (dataset.splits[k] for k in ("dev", "validation", "valid") if k in dataset.splits), test
            )
            return TaskData(dataset.splits["train"], dev, test, None, dataset.name, dataset.raw)
        (raw,) = dataset.raw.values()
        parts = article_split(raw, self.test_share, self.dev_share, seed, dataset.source)
        splits = {
            split: squad_records(part, f"{dataset.source} ({split} articles)")
            for split, part in parts.items()
        }
        train = splits["train"]
        if self.with_twin and not twin:
            train = load_dataset(self.twin, data_dir).splits["train"] + train
        return TaskData(train, splits["dev"], splits["test"], None, dataset.name, parts)

    # --- model -----------------------------------------------------------------------------------

    def build(
        self,
        init: str,
        method: str,
        method_cfg: Any,
        seed: int,
        options: QAOptions,
        labels: Sequence[str] | None,
    ) -> Finetuned:
        def head(backbone: nnx.Module, rngs: nnx.Rngs) -> tuple[SpanExtractor, dict[str, Any]]:
            if backbone_of(backbone).cfg.type_vocab_size == 0:
                raise UserError(
                    f"--init={init} has no token types (a GPT): the span head reads question and context "
                    "as segments A and B of a BERT"
                )
            return SpanExtractor(backbone, rngs=rngs), self.describe(options)

        return build_with(init, method, method_cfg, head, seed)

    @staticmethod
    def options_of(tuned: Finetuned) -> QAOptions:
        return QAOptions(**tuned.meta["options"])

    def arrays(self, tuned: Finetuned, splits: Mapping[str, list[Record]], max_len: int) -> dict[str, Arrays]:
        """Each split's windows (:func:`minilm.data.qa_windows.qa_windows`)."""
        options = self.options_of(tuned)
        width = min(max_len, tuned.model.backbone.cfg.max_len)
        encoded = [
            qa_windows(
                tuned.tokenizer,
                records,
                max_len=width,
                doc_stride=options.doc_stride,
                max_query_len=options.max_query_len,
                where=f"{self.name} {split}",
            )
            for split, records in splits.items()
        ]
        return dict(zip(splits, trim_padding(*encoded), strict=True))

    def loss(self, model, batch, rngs):
        return span_loss(model, batch, rngs)

    # --- scores ----------------------------------------------------------------------------------

    def validator(self, tuned: Finetuned, arrays: Arrays) -> Callable[[nnx.Module], dict[str, float]]:
        predict = span_predictor(tuned.model)
        return lambda model: span_scores(*predict(model, arrays), arrays)

    def evaluate(
        self, tuned: Finetuned, records: list[Record], arrays: Arrays, options: QAOptions
    ) -> dict[str, Any]:
        """SQuAD EM and F1 of the predicted answers; F1 by gold-answer length; how many gold answers the
        windows' span labels give back exactly (the ceiling tokenisation leaves EM)."""
        start, end = span_predictor(tuned.model)(tuned.model, arrays)
        contexts = [r["context"] for r in records]
        answers = predict_answers(arrays, start, end, contexts, options.max_answer_len)
        predictions = {r["id"]: answer for r, answer in zip(records, answers, strict=True)}
        gold = [{"paragraphs": [{"qas": [{"id": r["id"], "answers": r["answers"]} for r in records]}]}]
        scores = squad.evaluate(gold, predictions)
        by_length = collections.defaultdict(list)  # words of the first gold answer -> F1 of each question
        for r, answer in zip(records, answers, strict=True):
            words = min(len(r["answers"][0]["text"].split()), 5) if r["answers"] else 0
            by_length[words].append(max((squad.f1(answer, a["text"]) for a in r["answers"]), default=0.0))
        labelled = set()
        for w in np.flatnonzero(arrays["starts"] > 0):
            r = records[arrays["example"][w]]
            if (
                answer_text(r["context"], arrays, w, arrays["starts"][w], arrays["ends"][w])
                == r["answers"][0]["text"]
            ):
                labelled.add(int(arrays["example"][w]))
        return {
            "exact_match": scores["exact_match"],
            "f1": scores["f1"],
            "questions": len(records),
            "windows": len(arrays["example"]),
            "label_round_trip_percent": 100.0 * len(labelled) / len(records),
            "f1_by_answer_words": {
                (f"{k}+" if k == 5 else str(k)): 100.0 * float(np.mean(v))
                for k, v in sorted(by_length.items())
            },
            "examples": [
                {
                    "question": r["question"],
                    "gold": r["answers"][0]["text"] if r["answers"] else "",
                    "predicted": a,
                }
                for r, a in list(zip(records, answers, strict=True))[:5]
            ],
        }

    def headline(self, metrics: dict[str, Any]) -> dict[str, float]:
        return {"exact_match": metrics["exact_match"], "f1": metrics["f1"]}

    def baseline(self, train: list[Record], test: list[Record]) -> dict[str, float]:
        """EM and F1 of always answering the most frequent training answer."""
        common = collections.Counter(r["answers"][0]["text"] for r in train if r["answers"]).most_common(1)
        answer = common[0][0] if common else ""
        gold = [{"paragraphs": [{"qas": [{"id": r["id"], "answers": r["answers"]} for r in test]}]}]
        scores = squad.evaluate(gold, {r["id"]: answer for r in test})
        return {"frequent_answer_exact_match": scores["exact_match"], "frequent_answer_f1": scores["f1"]}

    def report(self, metrics: dict[str, Any], out_dir: Path) -> str:
        """The scores, F1 by gold-answer length (a table and ``qa_f1_by_length.png``), five predictions."""
        lengths = metrics["f1_by_answer_words"]
        fig, ax = pyplot().subplots(figsize=(5, 3.2))
        ax.bar(list(lengths), list(lengths.values()))
        ax.set_xlabel("words in the gold answer")
        ax.set_ylabel("F1")
        ax.set_ylim(0, 100)
        ax.set_title(f"{self.name}: F1 by answer length")
        save_figure(fig, Path(out_dir) / LENGTH_PNG)
        rows = "\n".join(f"| {k} | {v:.1f} |" for k, v in lengths.items())
        examples = "\n".join(
            f"| {e['question']} | {e['gold']} | {e['predicted']} |" for e in metrics["examples"]
        )
        counts = {
            "questions": metrics["questions"],
            "windows": metrics["windows"],
            "gold answers the span labels give back exactly (%)": round(
                metrics["label_round_trip_percent"], 2
            ),
        }
        return (
            f"{summary_table(self.headline(metrics) | counts, ('metric', 'value'))}\n\n"
            f"F1 by the words of the gold answer:\n\n| words | F1 |\n|---|---|\n{rows}\n\n"
            f"![F1 by answer length]({LENGTH_PNG})\n\n"
            f"The first questions:\n\n| question | gold | predicted |\n|---|---|---|\n{examples}\n"
        )


LENGTH_PNG = "qa_f1_by_length.png"

QA_TASKS = (
    QATask(
        "world_qa",
        "world_qa",
        "world_qa",
        description="the generated stories: 1,000 / 250 / 250 questions (minilm.data.world)",
    ),
    QATask(
        "xquad",
        "xquad",
        "world_qa",
        description="XQuAD English split by article: 19 train + the stories, 5 dev, 24 test articles",
        test_share=0.5,
        dev_share=0.1,
        with_twin=True,
    ),
)


def file_task(path: str) -> QATask:
    """A user's SQuAD .json file: split by article 80/10/10."""
    return QATask(path, path, "world_qa", description=f"SQuAD file {path}")


FILE_KINDS = {"qa": file_task}

__all__ = ["FILE_KINDS", "QA_TASKS", "QAOptions", "QATask"]
