"""Generation tasks: their metrics equal minilm.metrics (and sacreBLEU / rouge-score), and a tiny
encoder-decoder learns the generated translation task from the command."""

from __future__ import annotations

import json

import pytest

from minilm.cli.evaluate import main as eval_main
from minilm.cli.train import main as train_main
from minilm.metrics.bleu import corpus_bleu
from minilm.metrics.rouge import rouge_mean
from minilm.tasks import TASKS
from minilm.tasks.generation import score_outputs

OUTPUTS = ["ein mann fährt fahrrad .", "zwei hunde spielen im schnee", "eine frau liest"]
TARGETS = ["ein mann fährt ein fahrrad .", "zwei hunde spielen im schnee .", "eine frau liest ein buch ."]


def test_the_four_generation_tasks_are_registered() -> None:
    kinds = {name: (TASKS[name].kind, TASKS[name].twin) for name in ("multi30k", "scitldr")}
    assert kinds == {
        "multi30k": ("translation", "world_translation"),
        "scitldr": ("summarization", "world_summarization"),
    }
    assert TASKS["world_translation"].metric == "bleu" and TASKS["world_summarization"].metric == "rouge1"


def test_translation_metric_is_minilm_bleu_and_sacrebleu() -> None:
    metrics = score_outputs("translation", OUTPUTS, TARGETS)
    ours = corpus_bleu(OUTPUTS, [TARGETS])
    assert metrics["bleu"] == ours.score and metrics["bleu_signature"] == ours.signature
    sacrebleu = pytest.importorskip("sacrebleu")
    assert metrics["sacrebleu"] == pytest.approx(sacrebleu.corpus_bleu(OUTPUTS, [TARGETS]).score, abs=1e-9)
    assert metrics["bleu"] == pytest.approx(metrics["sacrebleu"], abs=1e-9)
    assert metrics["sacrebleu_signature"].split("|version")[0] == ours.signature.split("|version")[0]


def test_summarisation_metric_is_minilm_rouge_and_rouge_score() -> None:
    metrics = score_outputs("summarization", OUTPUTS, TARGETS)
    ours = rouge_mean(TARGETS, OUTPUTS, types=("rouge1", "rouge2", "rougeL"))
    assert {k: metrics[k] for k in ours} == {k: v["f1"] for k, v in ours.items()}
    scorer = pytest.importorskip("rouge_score.rouge_scorer").RougeScorer(["rouge1", "rouge2", "rougeL"])
    for kind in ours:
        expected = sum(scorer.score(t, o)[kind].fmeasure for t, o in zip(TARGETS, OUTPUTS, strict=True)) / 3
        assert metrics[kind] == pytest.approx(expected, abs=1e-12)


def test_a_tiny_encoder_decoder_learns_world_translation(tmp_path) -> None:
    """From the command: a BPE and a 2+2-layer model trained on the generated twin translate far above
    chance; the run folder reloads (its own tokenizer) and scores the same."""
    argv = [
        "finetune", "--init=seq2seq", "--task=world_translation", f"--out_dir={tmp_path}", "--name=wt",
        "--steps=400", "--batch_size=32", "--lr=2e-3", "--max_len=24", "--max_eval=100", "--eval_every=0",
        "--generate.max_target_len=24", "--generate.vocab_size=400", "--generate.d_model=64",
        "--generate.d_ff=256", "--generate.layers=2", "--generate.num_beams=1", "--progress=false",
    ]  # fmt: skip
    assert train_main(argv) == 0
    report = json.loads((tmp_path / "wt" / "report.json").read_text())
    assert report["test"]["bleu"] > 2.0  # untrained: ~0; this run: ~20 (200 steps: ~2)
    assert (tmp_path / "wt" / "tokenizer.json").is_file() and (tmp_path / "wt" / "loss.png").is_file()
    assert eval_main(["task", str(tmp_path / "wt"), "--json"]) == 0
    again = json.loads((tmp_path / "wt" / "eval-world_translation-test" / "report.json").read_text())
    assert again["metrics"]["bleu"] == report["test"]["bleu"]


def test_a_minilm_gpt_fine_tunes_decoder_only_with_a_method_and_scores_again(tmp_path) -> None:
    """--init=<a minilm GPT run>: source <sep> target as one sequence, any method (here LoRA); the run
    reloads and scores the same ROUGE."""
    from minilm.data.world import generate_corpus

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(generate_corpus(seed=0)[:400]) + "\n")
    lm = ["lm", "--arch=gpt", "--n_layer=1", "--n_head=2", "--d_model=16", "--max_len=96", "--vocab_size=300"]
    lm += ["--steps=2", "--batch_size=4", "--eval_every=2", "--warmup_steps=0", "--progress=false"]
    assert train_main([*lm, f"--data={corpus}", f"--out_dir={tmp_path}", "--name=gpt"]) == 0
    argv = [
        "finetune", f"--init={tmp_path / 'gpt'}", "--task=world_summarization", "--method=lora",
        f"--out_dir={tmp_path}", "--name=sum", "--steps=2", "--batch_size=8", "--max_len=64",
        "--max_eval=8", "--eval_every=2", "--generate.max_target_len=16", "--generate.num_beams=2",
        "--progress=false",
    ]  # fmt: skip
    assert train_main(argv) == 0
    report = json.loads((tmp_path / "sum" / "report.json").read_text())
    assert {"rouge1", "rouge2", "rougeL"} <= set(report["test"])
    assert eval_main(["task", str(tmp_path / "sum"), "--json"]) == 0
    again = json.loads((tmp_path / "sum" / "eval-world_summarization-test" / "report.json").read_text())
    assert again["metrics"]["rougeL"] == report["test"]["rougeL"]
