"""``train.py finetune`` end to end on a tiny Hugging Face GPT-2, and saving / loading a method's weights:
the head comes back with them, predictions are identical, and loaded weights train again when asked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from flax import nnx

from minilm.cli import finetune
from minilm.cli.train import main as train_main
from minilm.config import parse_config
from minilm.data.batches import ExampleBatches, classification_arrays
from minilm.data.registry import load_dataset
from minilm.errors import UserError
from minilm.finetune.saved import load_method
from minilm.objectives.classification import classification_loss, classifier_predictor
from minilm.train.loop import TrainConfig, fit

GPT2 = Path(__file__).parent / "fixtures" / "hf_tiny_gpt2"
TINY = ["--steps=4", "--batch_size=8", "--eval_every=2", "--max_eval=16", "--max_len=16", "--progress=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ft")
    for method in ("lora", "prefix"):
        argv = [
            "finetune",
            f"--init={GPT2}",
            f"--method={method}",
            f"--out_dir={out}",
            f"--name={method}",
            *TINY,
        ]
        assert train_main(argv) == 0
    return out


def _arrays(tokenizer, labels):
    examples = load_dataset("world_sentiment").splits["test"][:24]
    label_ids = {label: i for i, label in enumerate(labels)}
    return classification_arrays(tokenizer, examples, label_ids=label_ids, max_len=16, where="test")


@pytest.mark.parametrize("method", ["lora", "prefix"])
def test_saved_method_reloads_with_its_head_and_predicts_the_same(runs, method):
    run = runs / method
    report = json.loads((run / "report.json").read_text())
    assert 0 < report["trainable_percent"] < 100 and report["optimizer_state_bytes"] > 0
    a, b = load_method(run, trains=False), load_method(run, trains=False)
    arrays = _arrays(a.tokenizer, a.meta["labels"])
    logits = classifier_predictor(a.model)(a.model, arrays)
    np.testing.assert_array_equal(logits, classifier_predictor(b.model)(b.model, arrays))
    assert a.trainable is nnx.Nothing
    # the head came back: its saved weights, not a fresh random head
    saved_head = np.asarray(a.model.head.kernel[...])
    fresh = load_method(run, trains=True)
    np.testing.assert_array_equal(np.asarray(fresh.model.head.kernel[...]), saved_head)


def test_loaded_weights_train_again_and_frozen_ones_stay(runs, tmp_path):
    tuned = load_method(runs / "lora", trains=True)
    before = {path: np.array(v[...]) for path, v in nnx.to_flat_state(nnx.state(tuned.model, nnx.Param))}
    trained_before = nnx.state(tuned.model, tuned.trainable)
    arrays = _arrays(tuned.tokenizer, tuned.meta["labels"])
    cfg = TrainConfig(steps=2, batch_size=8, lr=1e-2, warmup_steps=0, eval_every=0, ckpt_every=0)
    fit(
        tuned.model,
        classification_loss,
        ExampleBatches(arrays, 8, 0),
        cfg,
        tmp_path,
        trainable=tuned.trainable,
    )
    after = nnx.to_flat_state(nnx.state(tuned.model, nnx.Param))
    moved = {path for path, v in after if not np.array_equal(v[...], before[path])}
    trained = {path for path, _ in nnx.to_flat_state(trained_before)}
    assert moved and moved <= trained  # only the method's weights and the head moved
    assert any("head" in path for path in moved)


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "--init is required"),
        ([f"--init={GPT2}", "--method=adapters"], "--method='adapters': allowed values are full"),
        ([f"--init={GPT2}", "--lora.r=0"], "--lora.r=0: must be >= 1"),
        (["--init=/no/such/model"], "/no/such/model: no config.json"),
    ],
)
def test_bad_input_is_one_line(argv, message, tmp_path, capsys):
    from minilm.errors import run_cli

    with pytest.raises(SystemExit) as exit_:
        run_cli(train_main, ["finetune", *argv, f"--out_dir={tmp_path / 'runs'}", "--progress=false"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "runs").exists()


def test_every_method_has_its_section():
    cfg = parse_config(
        finetune.Config, [f"--init={GPT2}", "--method=adapter-pfeiffer", "--pfeiffer.reduction_factor=8"]
    )
    assert cfg.method_config.reduction_factor == 8
    with pytest.raises(UserError, match="unknown flag"):
        parse_config(finetune.Config, [f"--init={GPT2}", "--nosuch.r=1"])


def test_evaluate_classify_scores_the_saved_run(runs, capsys):
    from minilm.cli.evaluate import main as evaluate_main

    assert evaluate_main(["classify", str(runs / "lora"), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    report = json.loads((runs / "lora" / "report.json").read_text())
    assert scored["task"] == "world_sentiment" and scored["accuracy"] == report["test_accuracy"]


def test_bert_style_backbone_from_train_py_lm(tmp_path):
    """A BERT pretrained by `train.py lm --arch=bert`, fine-tuned with adapters ([CLS] pooling)."""
    from minilm.data.world import generate_corpus

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(generate_corpus(seed=0)[:400]) + "\n")
    lm = [
        "lm",
        "--arch=bert",
        "--n_layer=1",
        "--n_head=2",
        "--d_model=16",
        "--max_len=16",
        "--vocab_size=300",
    ]
    lm += ["--steps=2", "--batch_size=4", "--eval_every=2", "--warmup_steps=0", "--progress=false"]
    assert train_main([*lm, f"--data={corpus}", f"--out_dir={tmp_path}", "--name=bert"]) == 0
    ft = [
        "finetune",
        f"--init={tmp_path / 'bert'}",
        "--method=adapter-houlsby",
        "--houlsby.reduction_factor=4",
    ]
    assert train_main([*ft, *TINY, f"--out_dir={tmp_path}", "--name=ft"]) == 0
    tuned = load_method(tmp_path / "ft", trains=True)
    assert tuned.meta["pooling"] == "cls" and tuned.trainable is not nnx.Nothing


def test_hugging_face_tokenizer_keeps_its_special_tokens_and_pad_id():
    """encode_padded with a BERT-style tokenizer: [CLS] .. [SEP] kept when cut, its [PAD] id, a mask
    of the real tokens (minilm's own tokenizers append <eos> instead: tests/test_pipeline.py)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    from minilm.data.tokenizer import encode_padded

    vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "a": 4, "b": 5, "c": 6}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)]
    )
    tokens, mask = encode_padded(tok, ["a b c a b", "c"], max_len=5)
    np.testing.assert_array_equal(tokens, [[1, 4, 5, 6, 2], [1, 6, 2, 3, 3]])
    np.testing.assert_array_equal(mask, [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
