"""Fine-tuning methods (minilm/finetune): what trains, what stays, and the math of each method.

- training with each method moves only its parameters: every other one is bit-identical after fit()
  (AdamW weight decay on), and only the trained ones have optimizer state;
- adapters, LoRA and FL-tuning start equal to the base model; LoRA merged = unmerged, merging is
  idempotent, unmerging restores; LoRA on fused-qkv slices and FL-tuning's units against hand-written
  forms;
- prefix-tuning through the attention state = keys/values concatenated by hand (minilm.reference),
  for GPT (and through cached decoding) and BERT with a padded batch; folded = reparameterised;
- prompt tuning = the prompt as real tokens with the virtual outputs dropped: positions shift by P,
  pooling and logits see only the real tokens;
- trainable counts = closed forms for each method and setting.

Backbones: our GPT and the Hugging Face BERT fixture loaded by minilm (the classes all-MiniLM uses).
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import minilm.reference as reference
from minilm.config import ConfigError
from minilm.errors import UserError
from minilm.finetune import METHODS, trainable_count
from minilm.finetune.adapters import HoulsbyConfig, PfeifferConfig
from minilm.finetune.bitfit import BitFitConfig
from minilm.finetune.fl import FLConfig, FLFeedForward
from minilm.finetune.freeze import FreezeConfig, FullConfig, LinearProbeConfig
from minilm.finetune.lora import LoRAConfig, LoRADense, lora_layers, merge, unmerge
from minilm.finetune.partial_ffn import PartialFFNConfig
from minilm.finetune.prefix import PrefixConfig, PrefixParam, fold
from minilm.finetune.prompt import PromptConfig
from minilm.models.generate import GenerationConfig, generate
from minilm.models.heads import SequenceClassifier
from minilm.models.hf import load_hf
from minilm.models.layers import Dense
from minilm.models.transformer import BERT, BERT_ARCHITECTURE, GPT, FeedForward, TransformerConfig, init_cache
from minilm.objectives.classification import classification_loss
from minilm.train import checkpoint
from minilm.train.loop import TrainConfig, fit

GPT_CFG = TransformerConfig(vocab_size=50, max_len=24, n_layer=2, n_head=2, d_model=16, d_ff=32)
HF_BERT = Path(__file__).parent / "fixtures" / "hf_tiny_bert"  # d 32, 4 heads, 2 layers, d_ff 40, V 89
CLASSES = 3


@functools.cache
def _prototype(arch: str, head: bool) -> nnx.Module:
    model = GPT(GPT_CFG, rngs=nnx.Rngs(0)) if arch == "gpt" else load_hf(HF_BERT).model
    pooling = "last" if arch == "gpt" else "mean"
    return SequenceClassifier(model, CLASSES, pooling=pooling, rngs=nnx.Rngs(1)) if head else model


def _fresh(model: nnx.Module) -> nnx.Module:
    """A copy with its own buffers (fit() donates the trained ones)."""
    graphdef, state = nnx.split(model)
    return nnx.merge(graphdef, jax.tree.map(jnp.copy, state))


def _base(arch: str) -> nnx.Module:
    """A fresh GPT (ours) or BERT (the Hugging Face fixture as minilm loads it)."""
    return _fresh(_prototype(arch, False))


def _classifier(arch: str) -> SequenceClassifier:
    """A fresh sequence classifier on it (last-token pooling for GPT, mean for BERT)."""
    return _fresh(_prototype(arch, True))


@nnx.jit
def _run(model: nnx.Module, tokens: jax.Array, mask: jax.Array | None) -> jax.Array:
    """One compiled forward per model structure (eager mode compiles every op on its own)."""
    return model(tokens, attention_mask=mask)


@nnx.jit
def _extend(model: GPT, tokens: jax.Array, cache, mask: jax.Array):
    return model.extend(tokens, cache, attention_mask=mask)


def _apply(name: str, model: nnx.Module, cfg=None):
    config, apply = METHODS[name]
    kw = {"encode": lambda text: [5, 7]} if name == "prompt" else {}
    return apply(model, cfg or config(), rngs=nnx.Rngs(2), **kw)


def _batch(b: int = 4, t: int = 6, seed: int = 0) -> dict[str, jax.Array]:
    rng = np.random.default_rng(seed)
    mask = np.ones((b, t), bool)
    mask[1, 4:] = False  # right padding
    mask[2, :2] = False  # left padding
    return {
        "tokens": jnp.asarray(rng.integers(1, 50, (b, t)), jnp.int32),
        "attention_mask": jnp.asarray(mask),
        "labels": jnp.asarray(rng.integers(0, CLASSES, b), jnp.int32),
    }


def _flat(state: nnx.State) -> dict[tuple, np.ndarray]:
    return {tuple(path): np.array(v[...]) for path, v in nnx.to_flat_state(state)}


# ----------------------------------------------------------------------- training moves only the method


class _Fixed:
    def __init__(self, batch):
        self.arrays = batch

    def batch(self, step: int):
        return self.arrays


# every method once (compiling a training step is the slow part), on one-block models with dropout
FIT_CASES = [
    ("full", "gpt"), ("freeze", "bert"), ("linear-probe", "gpt"), ("adapter-houlsby", "bert"),
    ("adapter-pfeiffer", "gpt"), ("prefix", "gpt"), ("prefix", "bert"), ("prompt", "bert"),
    ("partial-ffn", "gpt"), ("fl", "bert"), ("lora", "gpt"), ("bitfit", "bert"),
]  # fmt: skip


@pytest.mark.parametrize("name, arch", FIT_CASES)
def test_training_moves_only_the_method_and_only_it_has_optimizer_state(name, arch, tmp_path):
    sizes = dict(GPT_CFG.to_dict(), n_layer=1, dropout=0.1, max_len=32)  # room for 20 prompt vectors
    base = (
        GPT(TransformerConfig(**sizes), rngs=nnx.Rngs(0))
        if arch == "gpt"
        else BERT(TransformerConfig(**{**sizes, **BERT_ARCHITECTURE}), rngs=nnx.Rngs(0))
    )
    model = SequenceClassifier(base, CLASSES, pooling="mean", rngs=nnx.Rngs(1))
    where = _apply(name, model)
    frozen = _flat(nnx.state(model, nnx.Not(where)))
    trained = _flat(nnx.state(model, where))
    cfg = TrainConfig(
        steps=3, batch_size=4, lr=0.05, schedule="constant", warmup_steps=0, weight_decay=0.5,
        log_every=3, eval_every=0, ckpt_every=0,
    )  # fmt: skip
    fit(model, classification_loss, _Fixed(_batch()), cfg, tmp_path, trainable=where)

    after = _flat(nnx.state(model, nnx.Not(where)))
    assert after.keys() == frozen.keys()
    for path, value in frozen.items():
        np.testing.assert_array_equal(after[path], value, err_msg=str(path))  # bit for bit
    moved = _flat(nnx.state(model, where))
    assert all(not np.array_equal(moved[path], v) for path, v in trained.items()), (
        "a trained leaf did not move"
    )

    arrays, _ = checkpoint.load_arrays(tmp_path / "checkpoints" / "train.safetensors")
    names = set(checkpoint.flatten(nnx.state(model, where)))
    assert {k.removeprefix("params.") for k in arrays if k.startswith("params.")} == names
    for moment in ("mu", "nu"):  # AdamW's moments: exactly one per trained parameter
        held = {k.split(f".{moment}.", 1)[1] for k in arrays if k.startswith("opt.") and f".{moment}." in k}
        assert held == names
    opt_size = sum(v.size for k, v in arrays.items() if k.startswith("opt.") and v.ndim)
    assert opt_size == 2 * trainable_count(model, where)


# ------------------------------------------------------------------------------- start equal to the base


@pytest.mark.parametrize("arch", ["gpt", "bert"])
@pytest.mark.parametrize(
    "name, cfg",
    [
        ("adapter-houlsby", HoulsbyConfig(reduction_factor=4)),
        ("adapter-pfeiffer", None),
        ("lora", LoRAConfig(r=2, targets=("q", "k", "v", "o", "up", "down"))),
        ("fl", None),
    ],
)
def test_at_initialisation_the_model_equals_the_base(name, cfg, arch):
    model, batch = _classifier(arch), _batch()
    before = _run(model, batch["tokens"], batch["attention_mask"])
    _apply(name, model, cfg)
    after = _run(model, batch["tokens"], batch["attention_mask"])
    np.testing.assert_allclose(after, before, atol=1e-6)


# ------------------------------------------------------------------------------------------------- LoRA


def test_lora_on_fused_qkv_slices_matches_the_hand_written_update():
    """q and v slices adapted, k not: y = x W0 + b + (alpha/r) [x A_q B_q | 0 | x A_v B_v]."""
    rng = np.random.default_rng(3)
    d, r = 8, 2
    base = Dense(d, 3 * d, bias=True, std=0.5, dtype="float32", rngs=nnx.Rngs(0))
    layer = LoRADense(base, (0, 2), 3, LoRAConfig(r=r, alpha=3.0, dropout=0.5), rngs=nnx.Rngs(1))
    layer.b[...] = jnp.asarray(rng.normal(size=(2, r, d)), jnp.float32)
    x = rng.normal(size=(2, 5, d)).astype(np.float32)
    a, b = np.asarray(layer.a[...], np.float64), np.asarray(layer.b[...], np.float64)
    s = 3.0 / r
    update = np.concatenate([s * x @ a[0] @ b[0], np.zeros((2, 5, d)), s * x @ a[1] @ b[1]], axis=-1)
    expected = x @ np.asarray(base.kernel[...], np.float64) + np.asarray(base.bias[...]) + update
    np.testing.assert_allclose(layer(jnp.asarray(x)), expected, atol=1e-5)  # no rngs: no dropout
    dropped = layer(jnp.asarray(x), rngs=nnx.Rngs(dropout=0))
    assert not np.allclose(dropped, expected, atol=1e-3)  # dropout acts on the LoRA path when training


def test_lora_merge_equals_unmerged_is_idempotent_and_unmerges():
    model, batch = _classifier("gpt"), _batch()
    _apply("lora", model, LoRAConfig(r=2, targets=("q", "k", "v", "o", "up", "down")))
    rng = np.random.default_rng(4)
    for layer in lora_layers(model):  # a trained-looking B (it starts at 0)
        layer.b[...] = jnp.asarray(rng.normal(size=layer.b.shape) * 0.3, jnp.float32)
    kernels = [np.array(layer.base.kernel[...]) for layer in lora_layers(model)]
    unmerged = _run(model, batch["tokens"], batch["attention_mask"])

    merge(model)
    merged_kernels = [np.array(layer.base.kernel[...]) for layer in lora_layers(model)]
    assert not np.allclose(merged_kernels[0], kernels[0])
    np.testing.assert_allclose(_run(model, batch["tokens"], batch["attention_mask"]), unmerged, atol=1e-5)
    merge(model)  # again: nothing changes
    for layer, k in zip(lora_layers(model), merged_kernels, strict=True):
        np.testing.assert_array_equal(layer.base.kernel[...], k)
    with pytest.raises(UserError, match="unmerge"):
        model(batch["tokens"], attention_mask=batch["attention_mask"], rngs=nnx.Rngs(dropout=0))

    unmerge(model)
    for layer, k in zip(lora_layers(model), kernels, strict=True):
        np.testing.assert_allclose(layer.base.kernel[...], k, rtol=0, atol=1e-6)
    np.testing.assert_allclose(_run(model, batch["tokens"], batch["attention_mask"]), unmerged, atol=1e-5)


# ------------------------------------------------------------------------------------------- FL-tuning


def test_fl_units_equal_a_wider_ffn():
    """FFN(x) + f(x W1' + b1') W2' = the FFN with [W1 | W1'], [b1 | b1'], [W2 ; W2'] (d_ff + k units)."""
    k = 4
    base = FeedForward(GPT_CFG, rngs=nnx.Rngs(0))
    fl = FLFeedForward(base, k, std=0.5, rngs=nnx.Rngs(1))
    fl.down.kernel[...] = jnp.asarray(np.random.default_rng(5).normal(size=(k, 16)), jnp.float32)
    wide = FeedForward(GPT_CFG.__class__(**{**GPT_CFG.to_dict(), "d_ff": 32 + k}), rngs=nnx.Rngs(2))
    wide.up.kernel[...] = jnp.concatenate([base.up.kernel[...], fl.up.kernel[...]], axis=1)
    wide.up.bias[...] = jnp.concatenate([base.up.bias[...], fl.up.bias[...]])
    wide.down.kernel[...] = jnp.concatenate([base.down.kernel[...], fl.down.kernel[...]], axis=0)
    wide.down.bias[...] = base.down.bias[...]
    x = jnp.asarray(np.random.default_rng(6).normal(size=(2, 3, 16)), jnp.float32)
    np.testing.assert_allclose(fl(x), wide(x), atol=1e-5)


# ---------------------------------------------------------------------------------------- prefix-tuning


def _reference_hidden(backbone, tokens, valid: np.ndarray, prefixes: list[np.ndarray]) -> np.ndarray:
    """The backbone in float64 from minilm.reference, each layer's prefix (2, P, H, Q) concatenated by
    hand in front of the tokens' keys and values; the mask gains P ones."""
    cfg = backbone.cfg
    positions = jnp.asarray(np.maximum(np.cumsum(valid, 1) - 1, 0), jnp.int32)
    x = np.asarray(backbone._embed(backbone.tok_emb(tokens), positions, None, None), np.float64)  # (B, T, D)
    b, t, d = x.shape
    h, p = cfg.n_head, prefixes[0].shape[1]
    visible = np.tril(np.ones((t, t), bool)) if cfg.causal else np.ones((t, t), bool)
    mask = np.concatenate(
        [np.ones((b, t, p), bool), visible[None] & valid[:, None, :]], axis=2
    )  # (B, T, P+T)

    def f64(v):
        return np.asarray(v[...], np.float64)

    def dense(y, m):
        return y @ f64(m.kernel) + f64(m.bias)

    def ln(y, m):
        return reference.layer_norm(y, f64(m.scale), f64(m.bias), eps=cfg.layer_norm_eps)

    def heads(a):  # (B, S, H, Q) <-> (B, H, S, Q)
        return a.transpose(0, 2, 1, 3)

    def ffn(y, m):
        return dense(reference.gelu(dense(y, m.up), approximate=cfg.gelu == "tanh"), m.down)

    for block, prefix in zip(backbone.blocks, prefixes, strict=True):
        qkv = dense(ln(x, block.ln1) if cfg.pre_ln else x, block.attn.qkv)  # (B, T, 3D)
        q, k, v = (qkv[..., i * d : (i + 1) * d].reshape(b, t, h, d // h) for i in range(3))
        pk, pv = (np.broadcast_to(np.asarray(z, np.float64)[None], (b, *z.shape)) for z in prefix)
        k, v = np.concatenate([pk, k], axis=1), np.concatenate([pv, v], axis=1)  # (B, P + T, H, Q)
        y = reference.attention(heads(q), heads(k), heads(v), mask[:, None])  # (B, H, T, Q)
        a = dense(heads(y).reshape(b, t, d), block.attn.out)
        if cfg.pre_ln:
            x = x + a
            x = x + ffn(ln(x, block.ln2), block.ffn)
        else:
            x = ln(x + a, block.ln1)
            x = ln(x + ffn(x, block.ffn), block.ln2)
    return ln(x, backbone.ln_f) if cfg.pre_ln else x


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_prefix_equals_keys_values_concatenated_by_hand(arch):
    """GPT: causal over the tokens, every prefix slot visible; BERT: a padded batch."""
    model = _base(arch)
    _apply("prefix", model, PrefixConfig(length=3, reparam=False))
    backbone, batch = model.backbone, _batch()
    valid = np.asarray(batch["attention_mask"])
    prefixes = [np.asarray(block.attn.prefix[...]) for block in backbone.blocks]
    expected = _reference_hidden(backbone, batch["tokens"], valid, prefixes)
    got = _run(backbone, batch["tokens"], batch["attention_mask"])
    real = valid if arch == "gpt" else np.ones_like(valid)  # BERT's padded query rows are defined too
    np.testing.assert_allclose(np.asarray(got)[real], expected[real], atol=1e-5)


def test_prefix_works_through_cached_decoding():
    model = _base("gpt")
    _apply("prefix", model, PrefixConfig(length=3, reparam=False))
    batch = _batch()
    tokens, mask = batch["tokens"][2:], batch["attention_mask"][2:]  # row 0 left-padded
    full = _run(model, tokens, mask)
    cache = init_cache(GPT_CFG, batch=2)
    logits, cache = _extend(model, tokens[:, :4], cache, mask[:, :4])
    steps = [logits]
    for i in range(4, 6):
        logits, cache = _extend(model, tokens[:, i : i + 1], cache, mask[:, i : i + 1])
        steps.append(logits)
    real = np.asarray(mask)
    np.testing.assert_allclose(
        np.asarray(jnp.concatenate(steps, axis=1))[real], np.asarray(full)[real], atol=1e-5
    )


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_folded_prefix_equals_the_reparameterised_one(arch):
    model, batch = _classifier(arch), _batch()
    where = _apply("prefix", model, PrefixConfig(length=3, hidden=8))
    through_mlp = _run(model, batch["tokens"], batch["attention_mask"])
    fold(model)
    assert all(isinstance(block.attn.prefix, PrefixParam) for block in model.backbone.blocks)
    np.testing.assert_allclose(_run(model, batch["tokens"], batch["attention_mask"]), through_mlp, atol=1e-6)
    cfg = model.backbone.cfg
    assert (
        trainable_count(model, where) == cfg.n_layer * 2 * 3 * cfg.d_model + cfg.d_model * CLASSES + CLASSES
    )


# ---------------------------------------------------------------------------------------- prompt tuning


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_prompt_equals_its_vectors_as_tokens_with_their_outputs_dropped(arch):
    """A prompt initialised from tokens u = the base model on [u; x] (positions shifted by P, the mask
    extended), minus the first P outputs; mean pooling and logits see the real tokens only."""
    model, batch = _classifier(arch), _batch()
    p, ids = 3, jnp.asarray([5, 7, 5], jnp.int32)  # text tokens [5, 7] repeated to P
    _apply("prompt", model, PromptConfig(length=p, init="text", text="five seven"))
    backbone = model.backbone
    tokens, mask = batch["tokens"], batch["attention_mask"]
    hidden = _run(backbone, tokens, mask)
    logits = _run(model, tokens, mask)
    model.pooling = "mean"
    mean_logits = _run(model, tokens, mask)

    prompt = backbone.prompt
    backbone.set_prompt(None)
    b = tokens.shape[0]
    longer = jnp.concatenate([jnp.broadcast_to(ids[None], (b, p)), tokens], axis=1)
    full = _run(backbone, longer, jnp.concatenate([jnp.ones((b, p), bool), mask], axis=1))
    assert hidden.shape == tokens.shape + (backbone.cfg.d_model,)
    np.testing.assert_allclose(hidden, full[:, p:], atol=1e-5)
    real = np.asarray(mask, np.float64)[:, :, None]
    pooled = (np.asarray(full[:, p:], np.float64) * real).sum(1) / real.sum(1)  # mean over real tokens
    head = model.head
    np.testing.assert_allclose(
        mean_logits, pooled @ np.asarray(head.kernel[...]) + np.asarray(head.bias[...]), atol=1e-5
    )
    backbone.set_prompt(prompt)
    assert logits.shape == (b, CLASSES)


def test_prompt_shifts_positions_and_refuses_what_it_cannot_do():
    model = _base("gpt")
    _apply("prompt", model, PromptConfig(length=5, init="random"))
    tokens = _batch()["tokens"]
    logits = _run(model, tokens, None)
    assert logits.shape == (*tokens.shape, GPT_CFG.vocab_size)  # LM logits for the real tokens only
    with pytest.raises(ValueError, match=r"\+ 5 prompt vectors"):
        model(jnp.ones((1, GPT_CFG.max_len - 4), jnp.int32))
    with pytest.raises(UserError, match="already"):
        _apply("prompt", model)
    with pytest.raises(UserError, match="5 soft-prompt vectors"):
        generate(model, [[1] * 16], GenerationConfig(max_new_tokens=4))  # 5 + 16 + 4 > max_len 24


def test_prompt_works_through_cached_decoding():
    """The cache from init_cache holds the P virtual tokens; extending it = the uncached forward
    (positions shifted by P, a left-padded row), and cached generation = uncached generation."""
    model = _base("gpt")
    _apply("prompt", model, PromptConfig(length=3, init="random"))
    batch = _batch()
    tokens, mask = batch["tokens"][2:], batch["attention_mask"][2:]  # row 0 left-padded
    full = _run(model, tokens, mask)
    cache = model.init_cache(2, 6)
    assert cache.keys[0].shape[2] == 3 + 6 and int(cache.length) == 3
    logits, cache = _extend(model, tokens[:, :4], cache, mask[:, :4])
    steps = [logits]
    for i in range(4, 6):
        logits, cache = _extend(model, tokens[:, i : i + 1], cache, mask[:, i : i + 1])
        steps.append(logits)
    real = np.asarray(mask)
    np.testing.assert_allclose(
        np.asarray(jnp.concatenate(steps, axis=1))[real], np.asarray(full)[real], atol=1e-5
    )
    prompts = [[3, 4, 5, 6], [7, 8]]
    cached = generate(model, prompts, GenerationConfig(max_new_tokens=5))
    recomputed = generate(model, prompts, GenerationConfig(max_new_tokens=5, use_cache=False))
    np.testing.assert_array_equal(cached.tokens, recomputed.tokens)
    np.testing.assert_allclose(cached.logits, recomputed.logits, atol=1e-5)
    beams = generate(model, prompts, GenerationConfig(max_new_tokens=5, num_beams=2))
    assert beams.tokens.shape == (2, 5)


# ---------------------------------------------------------------------------------- trainable counts


def _counts(cfg: TransformerConfig, arch: str) -> dict[str, int]:
    """Closed forms for a SequenceClassifier on the backbone (V vocab, N positions, L blocks, D, F)."""
    v, n, l_, d, f = cfg.vocab_size, cfg.max_len, cfg.n_layer, cfg.d_model, cfg.d_ff
    block = (3 * d * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d) + 4 * d  # qkv, out, FFN, 2 LNs
    final_ln, emb_ln = (2 * d, 0) if arch == "gpt" else (0, 2 * d)  # GPT's ln_f, BERT's embedding LN
    emb = v * d + n * d + (2 * d if arch == "bert" else 0) + emb_ln  # + BERT's 2 token types
    head = d * CLASSES + CLASSES
    lns = l_ * 4 * d + final_ln + emb_ln  # every LayerNorm
    ffn = d * f + f + f * d + d
    return dict(
        l=l_, d=d, f=f, block=block, emb=emb, final_ln=final_ln, emb_ln=emb_ln, head=head, lns=lns, ffn=ffn
    )


# (method, config, closed form from _counts' names c)
COUNT_CASES = [
    ("full", FullConfig(), lambda c: c["emb"] + c["l"] * c["block"] + c["final_ln"] + c["head"]),
    ("freeze", FreezeConfig(), lambda c: c["l"] * c["block"] + c["final_ln"] + c["head"]),
    (
        "freeze",
        FreezeConfig(embeddings=False, bottom=1, train_head=False),
        lambda c: c["emb"] + (c["l"] - 1) * c["block"] + c["final_ln"],
    ),
    (
        "freeze",  # all but the top block, frozen LayerNorms still train: block 0's 4 D, BERT's emb LN 2 D
        FreezeConfig(bottom=-1, train_layer_norms=True),
        lambda c: c["block"] + c["final_ln"] + c["head"] + (c["l"] - 1) * 4 * c["d"] + c["emb_ln"],
    ),
    ("linear-probe", LinearProbeConfig(), lambda c: c["head"]),
    ("linear-probe", LinearProbeConfig(train_layer_norms=True), lambda c: c["head"] + c["lns"]),
    (  # m = D / 4; two adapters of 2 D m + m + D per block
        "adapter-houlsby",
        HoulsbyConfig(reduction_factor=4),
        lambda c: c["l"] * 2 * (2 * c["d"] * (c["d"] // 4) + c["d"] // 4 + c["d"]) + c["head"],
    ),
    (
        "adapter-pfeiffer",
        PfeifferConfig(reduction_factor=8, train_layer_norms=True),
        lambda c: c["l"] * (2 * c["d"] * (c["d"] // 8) + c["d"] // 8 + c["d"]) + c["lns"] + c["head"],
    ),
    (  # P' (P D), Linear(D, h), Linear(h, 2 L D), h = 8, P = 3
        "prefix",
        PrefixConfig(length=3, hidden=8),
        lambda c: 3 * c["d"] + (c["d"] * 8 + 8) + (8 * 2 * c["l"] * c["d"] + 2 * c["l"] * c["d"]) + c["head"],
    ),
    ("prefix", PrefixConfig(length=3, reparam=False, train_head=False), lambda c: c["l"] * 2 * 3 * c["d"]),
    ("prompt", PromptConfig(length=5), lambda c: 5 * c["d"] + c["head"]),
    ("partial-ffn", PartialFFNConfig(), lambda c: c["ffn"] + c["head"]),
    ("partial-ffn", PartialFFNConfig(last=-1, train_head=False), lambda c: c["l"] * c["ffn"]),
    ("partial-ffn", PartialFFNConfig(last=0, blocks=(0, -2)), lambda c: c["ffn"] + c["head"]),
    ("fl", FLConfig(units=4), lambda c: c["l"] * (2 * c["d"] * 4 + 4) + c["head"]),
    ("fl", FLConfig(units=4, last=0, blocks=(1,)), lambda c: 2 * c["d"] * 4 + 4 + c["head"]),
    ("lora", LoRAConfig(r=2), lambda c: c["l"] * 2 * (c["d"] * 2 + 2 * c["d"]) + c["head"]),
    (  # q, k, v, o: D r + r D each; up: D r + r F; down: F r + r D
        "lora",
        LoRAConfig(r=1, targets=("q", "k", "v", "o", "up", "down"), train_head=False),
        lambda c: c["l"] * (4 * 2 * c["d"] + 2 * (c["d"] + c["f"])),
    ),
    ("bitfit", BitFitConfig(), lambda c: c["l"] * (7 * c["d"] + c["f"]) + c["d"] + c["head"]),
    ("bitfit", BitFitConfig(train_head=False), lambda c: c["l"] * (7 * c["d"] + c["f"]) + c["d"]),
]


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_trainable_counts_equal_closed_forms(arch):
    for name, cfg, closed_form in COUNT_CASES:
        model = _classifier(arch)
        where = _apply(name, model, cfg)
        expected = closed_form(_counts(model.backbone.cfg, arch))
        assert trainable_count(model, where) == expected, (name, cfg)


# ------------------------------------------------------------------------------------ configs, registry


def test_registry_and_settings_that_cannot_work():
    assert set(METHODS) == {
        "full", "freeze", "linear-probe", "adapter-houlsby", "adapter-pfeiffer", "prefix", "prompt",
        "partial-ffn", "fl", "lora", "bitfit",
    }  # fmt: skip
    assert {name for name, _ in FIT_CASES} == set(METHODS)
    for method in METHODS.values():
        method.config()  # every default is valid
    for bad in (
        lambda: LoRAConfig(targets=()),
        lambda: LoRAConfig(targets=("q", "q")),
        lambda: PartialFFNConfig(last=0),
        lambda: PromptConfig(init="text"),
        lambda: PromptConfig(text="great"),
        lambda: HoulsbyConfig(reduction_factor=0),
    ):
        with pytest.raises(ConfigError):
            bad()
    for name, cfg, message in (
        ("partial-ffn", PartialFFNConfig(blocks=(5,)), "no block 5"),
        ("freeze", FreezeConfig(bottom=3), "2 blocks"),
        ("adapter-houlsby", HoulsbyConfig(reduction_factor=64), "larger than d_model"),
        ("linear-probe", LinearProbeConfig(), "trains no parameter"),  # a GPT with a tied head has no head
    ):
        with pytest.raises(UserError, match=message):
            _apply(name, _base("gpt"), cfg)
