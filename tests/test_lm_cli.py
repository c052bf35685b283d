"""``train.py lm`` (GPT and BERT pretraining) and ``train.py generate`` end to end on tiny configs: the run
folder, exact resume, the reported metrics against independent recomputations, decoding against a plain
argmax loop, determinism per seed, and one clear line + exit code 2 for bad input."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minilm.cli import lm as lm_cli
from minilm.cli.train import main as train_main
from minilm.config import parse_config
from minilm.data.tokenizer import CLS, EOS, MASK, SEP, train_char
from minilm.errors import run_cli
from minilm.models.io import load_lm, load_model
from minilm.objectives.mlm import pseudo_log_likelihood, with_cls_sep
from minilm.train import checkpoint

TINY = [
    "--n_layer=1", "--n_head=2", "--d_model=16", "--max_len=16", "--vocab_size=300",
    "--steps=6", "--batch_size=4", "--eval_every=3", "--warmup_steps=1", "--progress=false",
]  # fmt: skip
WORDS = "the a cat dog king queen sat ran on under mat hill saw ate".split()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """300 short lines of a made-up language (seeded)."""
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) + " ." for _ in range(300)]
    path = tmp_path_factory.mktemp("data") / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        run_cli(train_main, argv)
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def lm_args(out_dir: Path, name: str, corpus: Path, *extra: str) -> list[str]:
    return ["lm", *TINY, f"--out_dir={out_dir}", f"--name={name}", f"--data={corpus}", *extra]


def test_char_tokenizer_round_trip():
    tok = train_char(["ab c", "ba!"])
    assert tok.get_vocab_size() == 6 + 5  # 5 specials + <unk> + " ", "!", "a", "b", "c"
    ids = tok.encode("cab z").ids
    assert ids == [10, 8, 9, 6, 5]  # z was never seen: <unk>
    assert tok.decode(tok.encode("c ab!").ids) == "c ab!"
    assert tok.decode([EOS, *tok.encode("ab").ids]) == "ab"  # special tokens are not printed


# ------------------------------------------------------------------------------------------------ GPT


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory, corpus) -> Path:
    out = tmp_path_factory.mktemp("runs")
    assert lm_cli.run(parse_config(lm_cli.Config, lm_args(out, "gpt", corpus)[1:])) == 0
    return out / "gpt"


def test_gpt_run_folder_and_perplexity(gpt_run, corpus):
    for name in ["train_config.json", "metrics.jsonl", "loss.png", "report.md", "tokenizer.json",
                 "model.safetensors", "config.json", "checkpoints/pretrain.safetensors"]:  # fmt: skip
        assert (gpt_run / name).stat().st_size > 0, name
    config = json.loads((gpt_run / "config.json").read_text())
    assert config["architecture"] == "gpt" and config["model"]["d_model"] == 16
    records = [json.loads(line) for line in (gpt_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "eval_loss" in r and r["phase"] == "pretrain"] == [3, 6]
    (test,) = [r for r in records if r["phase"] == "test"]
    # the reported perplexity is the reloaded model's, recomputed here with a plain loop over windows
    model, tokenizer, _ = load_lm(str(gpt_run))
    lines = corpus.read_text().splitlines()
    held = lines[-(len(lines) // 20) :]  # a text file: its last 5% of lines is held out
    stream = np.array([t for line in held for t in [*tokenizer.encode(line).ids, EOS]])
    n = (len(stream) - 1) // 16
    x, y = stream[: n * 16].reshape(n, 16), stream[1 : n * 16 + 1].reshape(n, 16)
    log_p = jax.nn.log_softmax(model(jnp.asarray(x)), axis=-1)
    nll = -float(jnp.take_along_axis(log_p, jnp.asarray(y)[..., None], axis=-1).sum())
    assert test["eval_tokens"] == n * 16
    np.testing.assert_allclose(test["perplexity"], math.exp(nll / (n * 16)), rtol=1e-5)
    assert "| perplexity |" in (gpt_run / "report.md").read_text()


def test_killed_run_resumes_to_identical_model(gpt_run, corpus, tmp_path, monkeypatch):
    real_batch = lm_cli.LMBatches.batch

    def dies_at_step_4(self, step):
        if step == 4:
            raise KeyboardInterrupt
        return real_batch(self, step)

    monkeypatch.setattr(lm_cli.LMBatches, "batch", dies_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        lm_cli.run(parse_config(lm_cli.Config, lm_args(tmp_path, "r", corpus)[1:]))
    monkeypatch.setattr(lm_cli.LMBatches, "batch", real_batch)
    assert not (tmp_path / "r" / "model.safetensors").exists()
    assert lm_cli.run(parse_config(lm_cli.Config, lm_args(tmp_path, "r", corpus, "--resume")[1:])) == 0
    ours, _ = checkpoint.load_arrays(tmp_path / "r" / "model.safetensors")
    ref, _ = checkpoint.load_arrays(gpt_run / "model.safetensors")
    assert ours.keys() == ref.keys() and all(np.array_equal(ours[k], ref[k]) for k in ref)
    steps = [json.loads(line)["step"] for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [
        json.loads(line)["step"] for line in (gpt_run / "metrics.jsonl").read_text().splitlines()
    ]


# ------------------------------------------------------------------------------------------- generate


def generate_json(capsys, run: Path, *flags: str) -> list[dict]:
    code, out, err = cli(["generate", f"--model={run}", "--json", "--stop_at_eos=false", *flags], capsys)
    assert code == 0, err
    return json.loads(out)["generations"]


def test_greedy_generation_is_argmax_decoding(gpt_run, capsys):
    (row,) = generate_json(capsys, gpt_run, "--prompt=the king", "--max_new_tokens=6")
    model, tokenizer, _ = load_lm(str(gpt_run))
    forward = jax.jit(lambda tokens: model(tokens))  # (1, 16): causal, so padding on the right is never seen
    seq = [EOS, *tokenizer.encode("the king").ids]
    for _ in range(6):  # reference: a full forward pass over the sequence, argmax at its last position
        logits = forward(jnp.asarray([seq + [0] * (16 - len(seq))]))
        seq.append(int(jnp.argmax(logits[0, len(seq) - 1])))
    assert row["tokens"] == seq[-6:]
    assert row["text"] == tokenizer.decode(seq[-6:]) and row["prompt"] == "the king"
    code, out, _ = cli(
        ["generate", f"--model={gpt_run}", "--prompt=the king", "--max_new_tokens=6", "--stop_at_eos=false"],
        capsys,
    )
    assert out.strip() == "the king" + row["text"].rstrip()


def test_sampling_is_deterministic_per_seed_and_batches_prompts(gpt_run, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the cat\na dog sat on\n\n", encoding="utf-8")
    flags = (
        f"--prompts_file={prompts}",
        "--strategy=sample",
        "--top_k=50",
        "--top_p=0.95",
        "--max_new_tokens=8",
    )
    first = generate_json(capsys, gpt_run, *flags, "--seed=1")
    again = generate_json(capsys, gpt_run, *flags, "--seed=1")
    other = generate_json(capsys, gpt_run, *flags, "--seed=2")
    assert [r["prompt"] for r in first] == ["the cat", "a dog sat on", ""]
    assert first == again
    assert [r["tokens"] for r in first] != [r["tokens"] for r in other]
    beam_flags = (f"--prompts_file={prompts}", "--strategy=beam", "--num_beams=3", "--max_new_tokens=8")
    beams = generate_json(capsys, gpt_run, *beam_flags)
    assert len(beams) == 3 and all(len(r["tokens"]) == 8 for r in beams)  # no stop token: full length


# ----------------------------------------------------------------------------------------------- BERT


@pytest.fixture(scope="module")
def bert_run(tmp_path_factory, corpus) -> Path:
    out = tmp_path_factory.mktemp("runs")
    argv = lm_args(out, "bert", corpus, "--arch=bert", "--tokenizer=char", "--pppl_windows=2")[1:]
    assert lm_cli.run(parse_config(lm_cli.Config, argv)) == 0
    return out / "bert"


def test_bert_run_reports_mlm_loss_and_pseudo_perplexity(bert_run):
    config = json.loads((bert_run / "config.json").read_text())
    assert config["architecture"] == "bert" and config["model"]["causal"] is False
    (test,) = [json.loads(r) for r in (bert_run / "metrics.jsonl").read_text().splitlines() if '"test"' in r]
    assert test["eval_loss"] > 0 and test["pseudo_perplexity_tokens"] == 2 * 14
    assert "pseudo-perplexity" in (bert_run / "report.md").read_text()


def test_pseudo_log_likelihood_against_a_loop(bert_run):
    model = load_model(str(bert_run)).model
    rows = with_cls_sep(np.array([[7, 8, 9, 10], [11, 7, 7, 12]]))
    assert rows[0].tolist() == [CLS, 7, 8, 9, 10, SEP]
    total, n = pseudo_log_likelihood(model, rows, MASK, batch_size=3)  # 8 copies: a partial last batch
    forward = jax.jit(lambda tokens: jax.nn.log_softmax(model(tokens), axis=-1))  # (1, 6) -> (1, 6, V)
    expected = 0.0
    for row in rows:  # reference: mask one position at a time
        for t in range(1, 5):
            masked = row.copy()
            masked[t] = MASK
            expected += float(forward(jnp.asarray(masked[None]))[0, t, row[t]])
    assert n == 8
    np.testing.assert_allclose(total, expected, rtol=1e-5)


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "argv, message",
    [
        (["lm", "--arch=t5"], "--arch='t5': allowed values are gpt, bert"),
        (["lm", "--data=world_sentiment"], "--data=world_sentiment is a classification dataset"),
        (["lm", "--data=/no/such/file.txt"], "/no/such/file.txt"),
        (["lm", "--mask_prob=1.5", "--arch=bert"], "--mask_prob=1.5"),
        (["generate"], "--model is required"),
        (["generate", "--model=/no/such/run"], "/no/such/run: no config.json"),
    ],
)
def test_bad_input_is_one_clear_line(argv, message, tmp_path, capsys):
    code, _, err = cli([*argv, f"--out_dir={tmp_path}"] if argv[0] == "lm" else argv, capsys)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert message in err, err
    assert not any(tmp_path.iterdir())  # no half-made run folder


def test_stop_tokens_from_flags(gpt_run):
    from minilm.cli.generate import Config, generation_config

    _, tokenizer, end_of_text = load_lm(str(gpt_run))
    assert end_of_text == EOS
    stops = generation_config(
        parse_config(Config, ["--model=x", "--stop=<sep>,<cls>"]), tokenizer, end_of_text
    ).stop_tokens
    assert stops == (EOS, SEP, CLS)
    off = parse_config(Config, ["--model=x", "--stop_at_eos=false", "--strategy=beam"])
    assert generation_config(off, tokenizer, end_of_text).stop_tokens == ()


def test_generate_refuses_bad_runs_and_flags(gpt_run, bert_run, capsys):
    cases = [
        ([f"--model={bert_run}"], "is a BERT, not a causal LM: generation needs a GPT"),
        ([f"--model={gpt_run}", "--stop=<nope>"], "--stop '<nope>' is not a token"),
        ([f"--model={gpt_run}", "--max_new_tokens=40"], "exceeds the model's max_len 16"),
        ([f"--model={gpt_run}", "--strategy=sample", "--temperature=0"], "--temperature=0.0: must be > 0"),
        ([f"--model={gpt_run}", "--prompts_file=/no/such.txt"], "/no/such.txt: no such file"),
    ]
    for flags, message in cases:
        code, _, err = cli(["generate", *flags], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and re.search(re.escape(message), err), err


def test_resume_without_name_and_with_more_steps_extends_the_run(gpt_run, corpus, tmp_path):
    """The Quick-start case: a run started without --name resumes as the newest run of its command, and a
    larger --steps continues a finished run from its last checkpoint."""
    shutil.copytree(gpt_run, tmp_path / "copied")
    argv = [a for a in lm_args(tmp_path, "", corpus, "--resume", "--steps=9") if not a.startswith("--name")]
    assert lm_cli.run(parse_config(lm_cli.Config, argv[1:])) == 0
    records = [json.loads(line) for line in (tmp_path / "copied" / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in records if r["phase"] == "pretrain") == 9
    saved = json.loads((tmp_path / "copied" / "train_config.json").read_text())
    assert saved["train"]["steps"] == 9 and saved["run"]["name"] == "copied"
