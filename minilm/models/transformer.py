"""The Transformer: GPT (causal LM) and BERT (masked LM) as thin wrappers over one set of blocks.

Reading order: the config, the key/value cache, attention (eq. 1), multi-head attention, the FFN, a
block, the backbone (embeddings + blocks), then GPT and BERT.  The layers they are built from (Dense,
Embedding, GELU, LayerNorm, dropout, initialisation) are in :mod:`minilm.models.layers`; task heads
(classifiers, span extraction) in :mod:`minilm.models.heads`.

Papers and equations implemented here
- Vaswani et al. 2017, "Attention Is All You Need", §3.2, eq. (1), scaled dot-product attention::

      Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

  and multi-head attention ``MultiHead(X) = Concat(head_1, ..., head_h) W^O`` with
  ``head_i = Attention(X W_i^Q, X W_i^K, X W_i^V)``; §3.3 position-wise FFN ``W_2 act(W_1 x + b_1) + b_2``.
- Radford et al. 2018 (GPT) / 2019 (GPT-2, §2.3): decoder-only with a causal mask, *pre*-LayerNorm blocks
  ``x = x + Attn(LN(x)); x = x + FFN(LN(x))`` with a final LayerNorm, tanh-approximate GELU, the LM head
  tied to the token embedding, residual output projections initialised with std 0.02 / sqrt(2 n_layer).
- Devlin et al. 2019 (BERT): a bidirectional encoder with *post*-LayerNorm blocks
  ``x = LN(x + Attn(x)); x = LN(x + FFN(x))``, LayerNorm after the embeddings, token-type (segment)
  embeddings, exact GELU and a masked-LM head (dense -> GELU -> LayerNorm -> tied decoder + bias).
- Li & Liang 2021 (prefix-tuning): an attention layer may hold P extra key/value vectors that every
  query attends to (:meth:`MultiHeadAttention.set_prefix`; none by default).  They are state of the
  layer, not an argument, so every caller -- training, evaluation, cached generation -- sees them.
  The prefix is an array, a Variable, or a module that computes it (prefix-tuning's reparameterisation).
- Lester et al. 2021 (prompt tuning): the backbone may hold P learned vectors that run before the
  tokens (:meth:`Transformer.set_prompt`; none by default); their outputs are dropped, so callers see
  (B, T, D) hidden states of the real tokens only.  Cached decoding starts from a cache that holds the
  prompt's keys and values (:meth:`Transformer.init_cache`).

Conventions
- ``tokens`` (B, T) int32; ``attention_mask`` (B, T) with 1 = real token, 0 = padding (left or right);
  padded keys are never attended to, padded query rows produce finite values that callers ignore.
- Position ids count *real* tokens: ``cumsum(attention_mask) - 1``, so a left-padded row gets the same
  positions as its unpadded version (without a mask: ``0..T-1``).
- Dropout is active iff ``rngs`` (an ``nnx.Rngs``; stream ``dropout``, else ``default``) is passed.

Shapes below: B batch, T query length, S key length, P prefix length, H heads, Q = D / H head size,
V vocabulary.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.config import ConfigError, above, at_least, in_range, opt, validate
from minilm.errors import UserError
from minilm.models.layers import Dense, Embedding, LayerNorm, dropout, gelu

# --------------------------------------------------------------------------------------------- config


# BERT's architecture where it differs from GPT-2's: bidirectional, post-LN, exact GELU, 2 token types
BERT_ARCHITECTURE = dict(
    causal=False,
    pre_ln=False,
    gelu="exact",
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    scale_residual_init=False,
)


@dataclass(frozen=True)
class TransformerConfig:
    """Every hyper-parameter of the backbone. Defaults: a small GPT-2-style causal LM."""

    vocab_size: int = opt(256, "V: token ids are 0..V-1", check=at_least(1))
    max_len: int = opt(
        128, "longest sequence (learned positions), generated tokens included", check=at_least(1)
    )
    n_layer: int = opt(4, "L: Transformer blocks", check=at_least(1))
    n_head: int = opt(4, "H: attention heads (d_model must be divisible by it)", check=at_least(1))
    d_model: int = opt(128, "D: hidden size", check=at_least(1))
    d_ff: int = opt(512, "FFN inner width (4 D in GPT-2 and BERT)", check=at_least(1))
    dropout: float = opt(
        0.0, "dropout on embeddings and on each residual branch", check=in_range(0, 1, high_open=True)
    )
    attn_dropout: float = opt(0.0, "dropout on attention probabilities", check=in_range(0, 1, high_open=True))
    causal: bool = opt(True, "True: GPT (each position sees only the past); False: BERT (sees all)")
    pre_ln: bool = opt(True, "True: GPT-2 pre-LN blocks + final LN; False: BERT post-LN + embedding LN")
    gelu: str = opt("tanh", "GELU: tanh (GPT-2's gelu_new) or exact (BERT's erf)", choices=("tanh", "exact"))
    type_vocab_size: int = opt(
        0, "token-type (segment) embeddings; 0 = none (GPT), 2 for BERT", check=at_least(0)
    )
    tie_embeddings: bool = opt(True, "the LM head reuses the token embedding matrix")
    bias: bool = opt(True, "biases in dense layers and LayerNorms (nanoGPT's CPU config uses False)")
    layer_norm_eps: float = opt(1e-5, "LayerNorm epsilon: GPT-2 1e-5, BERT 1e-12", check=above(0))
    init_std: float = opt(0.02, "N(0, init_std) for all weight matrices and embeddings", check=above(0))
    scale_residual_init: bool = opt(True, "GPT-2: residual output projections get init_std / sqrt(2 L)")
    dtype: str = opt(
        "float32",
        "compute dtype (bfloat16 = mixed precision; parameters stay float32)",
        choices=("float32", "bfloat16"),
    )

    def __post_init__(self) -> None:
        validate(self)  # also when built from a checkpoint's or a Hugging Face config.json

    def check(self) -> None:
        if self.d_model % self.n_head:
            raise ConfigError("d_model", "must be divisible by {n_head}")

    @classmethod
    def bert(cls, **overrides: Any) -> TransformerConfig:
        """BERT's choices (:data:`BERT_ARCHITECTURE`), then overrides."""
        return cls(**{**BERT_ARCHITECTURE, **overrides})

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_dense(
    cfg: TransformerConfig,
    d_in: int,
    d_out: int,
    *,
    rngs: nnx.Rngs,
    residual: bool = False,
    bias: bool | None = None,
) -> Dense:
    """A Dense with the config's bias/dtype; residual output projections get GPT-2's scaled init."""
    std = cfg.init_std / math.sqrt(2 * cfg.n_layer) if residual and cfg.scale_residual_init else cfg.init_std
    return Dense(d_in, d_out, bias=cfg.bias if bias is None else bias, std=std, dtype=cfg.dtype, rngs=rngs)


# ------------------------------------------------------------------------------------------- attention


class KVCache(NamedTuple):
    """Keys and values of every layer for the positions decoded so far (a pytree; fixed shapes).

    ``keys[l]``/``values[l]`` (B, H, S, Q) for S cache slots (heads first, as attention reads them);
    ``valid`` (B, S) marks slots that hold a real token (left padding leaves invalid slots); ``length``
    () slots written so far; ``next_pos`` (B,) the position id of each row's next real token.
    """

    keys: tuple[jax.Array, ...]
    values: tuple[jax.Array, ...]
    valid: jax.Array
    length: jax.Array
    next_pos: jax.Array


def init_cache(cfg: TransformerConfig, batch: int, size: int | None = None) -> KVCache:
    """An empty cache with ``size`` slots (default ``cfg.max_len``)."""
    size = cfg.max_len if size is None else size
    shape = (batch, cfg.n_head, size, cfg.head_dim)
    zeros = tuple(jnp.zeros(shape, cfg.dtype) for _ in range(cfg.n_layer))
    return KVCache(
        keys=zeros,
        values=zeros,
        valid=jnp.zeros((batch, size), bool),
        length=jnp.zeros((), jnp.int32),
        next_pos=jnp.zeros((batch,), jnp.int32),
    )


# keys/values of one source -- the prompt's own tokens, a cache, a prefix -- and which of them each query
# may see: k, v (B, H, S_i, Q) and a mask broadcastable to (B, T, S_i) (True = may attend), or None
KVBlock = tuple[jax.Array, jax.Array, jax.Array | None]


def attention(
    q: jax.Array, blocks: list[KVBlock], *, attn_dropout: float = 0.0, rngs: nnx.Rngs | None = None
) -> jax.Array:
    """softmax(q k^T / sqrt(Q)) v for every head (eq. 1), the keys being all blocks' keys together.

    Heads first, q (B, H, T, Q): the layout the batched GEMMs read directly.  One softmax runs over the
    concatenated scores, and each block's values are weighted by its slice of the probabilities, so the
    blocks' keys are never concatenated: decoding reads the cache where it lies (and XLA can update it
    in place) instead of copying it every step.  Masked scores become the most negative finite float
    (not -inf), so a fully masked row stays finite.  Returns (B, H, T, Q).
    """
    q = q * jnp.asarray(1.0 / math.sqrt(q.shape[-1]), q.dtype)
    scores = []
    for k, _, mask in blocks:
        s = jnp.einsum("bhtq,bhsq->bhts", q, k).astype(jnp.float32)  # (B, H, T, S_i)
        scores.append(s if mask is None else jnp.where(mask[:, None, :, :], s, jnp.finfo(jnp.float32).min))
    probs = jax.nn.softmax(jnp.concatenate(scores, axis=-1), axis=-1)  # (B, H, T, sum S_i)
    probs = dropout(probs, attn_dropout, rngs)
    out, start = None, 0
    for k, v, _ in blocks:
        part = probs[..., start : start + k.shape[2]].astype(v.dtype)
        y = jnp.einsum("bhts,bhsq->bhtq", part, v)  # (B, H, T, Q)
        out, start = (y if out is None else out + y), start + k.shape[2]
    return out


def scaled_dot_product_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    mask: jax.Array | None,
    *,
    attn_dropout: float = 0.0,
    rngs: nnx.Rngs | None = None,
) -> jax.Array:
    """Attention over one block: q (B, H, T, Q), k, v (B, H, S, Q), mask (B or 1, T, S) -> (B, H, T, Q)."""
    return attention(q, [(k, v, mask)], attn_dropout=attn_dropout, rngs=rngs)


class KVPrefix(nnx.Variable):
    """Prefix keys and values of one attention layer (prefix-tuning), (2, P, H, Q): a Variable but not
    an ``nnx.Param``, so it is neither trained nor saved with the model's parameters unless a method
    that trains prefixes hands :meth:`MultiHeadAttention.set_prefix` its own Variable type."""


class MultiHeadAttention(nnx.Module):
    """Fused Q/K/V projection (D, 3D), attention per head, output projection W^O (D, D).

    ``prefix`` (None by default): P key/value pairs per head, (2, P, H, Q), that every query attends
    to in addition to the tokens (and the cache), through no mask: Li & Liang 2021's prefix-tuning,
    ``head_i = Attention(x W_i^Q, [P_i^K; X W_i^K], [P_i^V; X W_i^V])``.

    The projections receive the dropout stream (``rngs``), for modules that wrap them (LoRA).
    """

    def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs):
        self.qkv = make_dense(cfg, cfg.d_model, 3 * cfg.d_model, rngs=rngs)
        self.out = make_dense(cfg, cfg.d_model, cfg.d_model, residual=True, rngs=rngs)
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.attn_dropout = cfg.attn_dropout
        self.prefix: nnx.Variable | nnx.Module | None = nnx.data(None)

    def set_prefix(self, prefix: jax.Array | nnx.Variable | nnx.Module | None) -> None:
        """Give the layer prefix keys and values, (2, P, H, Q) (keys first), or remove them (None).

        An array is held as a :class:`KVPrefix`; a Variable (e.g. a trainable ``nnx.Param`` subclass)
        is held as it is, so the Variable type decides whether training sees it; a Module is called
        with no arguments on every forward pass and returns the prefix (prefix-tuning computes it
        from its own parameters, :mod:`minilm.finetune.prefix`)."""
        if prefix is not None:
            computed = isinstance(prefix, nnx.Module)
            shape = tuple((jax.eval_shape(lambda: prefix()) if computed else prefix).shape)
            heads = (self.n_head, self.head_dim)
            if len(shape) != 4 or shape[0] != 2 or shape[2:] != heads:
                raise ValueError(f"prefix shape {shape}: expected (2, P, {heads[0]}, {heads[1]})")
            if not (computed or isinstance(prefix, nnx.Variable)):
                prefix = KVPrefix(jnp.asarray(prefix))
        self.prefix = prefix

    def __call__(
        self,
        x: jax.Array,
        mask: jax.Array | None,
        *,
        past: tuple[jax.Array, jax.Array, jax.Array, jax.Array] | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array] | None]:
        """x (B, T, D) -> (B, T, D); ``mask`` (B or 1, T, T) says which of these T tokens each may see.

        ``past`` = (cache keys, cache values, write index, valid slots (B, S)): the queries also attend to
        the cache's valid slots, and the new keys/values are written into slots [index, index+T) of the
        returned pair.  A prefix, if the layer holds one, is one more block that every query sees.
        """
        b, t, d = x.shape
        h = self.n_head
        qkv = self.qkv(x, rngs=rngs).reshape(b, t, 3, h, d // h).transpose(2, 0, 3, 1, 4)  # (3, B, H, T, Q)
        q, k, v = qkv[0], qkv[1], qkv[2]  # each (B, H, T, Q)
        blocks: list[KVBlock] = [(k, v, mask)]
        new_past = None
        if past is not None:
            k_cache, v_cache, index, valid = past
            blocks.append((k_cache, v_cache, valid[:, None, :]))
            new_past = tuple(
                jax.lax.dynamic_update_slice(c, n.astype(c.dtype), (0, 0, index, 0))  # (B, H, S, Q)
                for c, n in ((k_cache, k), (v_cache, v))
            )
        if self.prefix is not None:
            prefix = self.prefix() if isinstance(self.prefix, nnx.Module) else self.prefix[...]
            prefix = prefix.transpose(0, 2, 1, 3)  # (2, H, P, Q)
            kv = jnp.broadcast_to(prefix[:, None], (2, b, *prefix.shape[1:]))  # (2, B, H, P, Q)
            pk, pv = kv[0], kv[1]
            blocks.append((pk.astype(k.dtype), pv.astype(v.dtype), None))
        y = attention(q, blocks, attn_dropout=self.attn_dropout, rngs=rngs)  # (B, H, T, Q)
        return self.out(y.transpose(0, 2, 1, 3).reshape(b, t, d), rngs=rngs), new_past  # (B, T, D)


# -------------------------------------------------------------------------------------------- blocks


class FeedForward(nnx.Module):
    """Position-wise FFN (§3.3): ``W_2 GELU(W_1 x + b_1) + b_2``, D -> d_ff -> D."""

    def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs):
        self.up = make_dense(cfg, cfg.d_model, cfg.d_ff, rngs=rngs)
        self.down = make_dense(cfg, cfg.d_ff, cfg.d_model, residual=True, rngs=rngs)
        self.approximate = cfg.gelu == "tanh"

    def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        return self.down(gelu(self.up(x, rngs=rngs), self.approximate), rngs=rngs)


class Block(nnx.Module):
    """One Transformer layer: attention then FFN, each a residual branch, pre-LN or post-LN."""

    def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs):
        self.ln1 = LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps, bias=cfg.bias)
        self.attn = MultiHeadAttention(cfg, rngs=rngs)
        self.ln2 = LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps, bias=cfg.bias)
        self.ffn = FeedForward(cfg, rngs=rngs)
        self.pre_ln = cfg.pre_ln
        self.rate = cfg.dropout

    def __call__(
        self,
        x: jax.Array,
        mask: jax.Array | None,
        *,
        past: tuple[jax.Array, jax.Array, jax.Array, jax.Array] | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array] | None]:
        """x (B, T, D) -> (B, T, D), plus the updated cache pair when ``past`` is given."""
        if self.pre_ln:  # GPT-2: x + f(LN(x))
            a, new_past = self.attn(self.ln1(x), mask, past=past, rngs=rngs)
            x = x + dropout(a, self.rate, rngs)
            x = x + dropout(self.ffn(self.ln2(x), rngs=rngs), self.rate, rngs)
        else:  # BERT: LN(x + f(x))
            a, new_past = self.attn(x, mask, past=past, rngs=rngs)
            x = self.ln1(x + dropout(a, self.rate, rngs))
            x = self.ln2(x + dropout(self.ffn(x, rngs=rngs), self.rate, rngs))
        return x, new_past


# ------------------------------------------------------------------------------------------- backbone


def _layer_memory(memory: tuple[KVBlock, ...] | None, layer: int) -> dict[str, KVBlock]:
    """The keyword a decoder layer gets its slice of the encoder memory by (none for other stacks)."""
    return {} if memory is None else {"memory": memory[layer]}


class Transformer(nnx.Module):
    """Embeddings + L blocks (+ final LN for pre-LN): tokens (B, T) -> hidden states (B, T, D).

    ``block``: the layer type, :class:`Block` by default; an encoder-decoder's decoder passes its
    :class:`~minilm.models.seq2seq.DecoderBlock` and calls the stack with ``memory``: one
    :data:`KVBlock` per layer (the encoder output's keys and values, and the source mask), handed to
    layer ``l`` as ``memory=memory[l]``.

    ``prompt`` (None by default): P vectors (P, D) that run before the tokens (prompt tuning,
    :meth:`set_prompt`).
    """

    def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs, block: type[nnx.Module] = Block):
        self.cfg = cfg
        std = cfg.init_std
        self.tok_emb = Embedding(cfg.vocab_size, cfg.d_model, std=std, rngs=rngs)
        self.pos_emb = Embedding(cfg.max_len, cfg.d_model, std=std, rngs=rngs)
        types = cfg.type_vocab_size
        self.type_emb = Embedding(types, cfg.d_model, std=std, rngs=rngs) if types else None
        eps, bias = cfg.layer_norm_eps, cfg.bias
        self.emb_ln = None if cfg.pre_ln else LayerNorm(cfg.d_model, eps=eps, bias=bias)
        self.blocks = nnx.List([block(cfg, rngs=rngs) for _ in range(cfg.n_layer)])
        self.ln_f = LayerNorm(cfg.d_model, eps=eps, bias=bias) if cfg.pre_ln else None
        self.prompt: nnx.Variable | None = nnx.data(None)

    def set_prompt(self, prompt: nnx.Variable | None) -> None:
        """Prepend P vectors (P, D) to every sequence, or remove them (None): Lester et al. 2021.

        The embedding sequence becomes ``[p_1 .. p_P; e(x_1) .. e(x_T)]`` (each row then gets its
        position and token-type embedding like a token's): the virtual tokens take positions 0..P-1,
        the real tokens' positions shift by P, and every token may attend to the virtual ones.  The
        Variable's type decides whether training sees it."""
        if prompt is not None and tuple(prompt.shape[1:]) != (self.cfg.d_model,):
            raise ValueError(f"prompt shape {tuple(prompt.shape)}: expected (P, {self.cfg.d_model})")
        self.prompt = prompt

    def __call__(
        self,
        tokens: jax.Array,
        *,
        attention_mask: jax.Array | None = None,
        token_types: jax.Array | None = None,
        memory: tuple[KVBlock, ...] | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> jax.Array:
        """tokens (B, T) int -> hidden (B, T, D).

        With a prompt, the P virtual tokens are real for the mask and their outputs are dropped: the
        result is the real tokens' (B, T, D), so pooling and losses never see the virtual ones."""
        b, t = tokens.shape
        p = self.prompt_length
        if p + t > self.cfg.max_len:
            raise ValueError(f"sequence length {t} (+ {p} prompt vectors) exceeds max_len={self.cfg.max_len}")
        if p:
            real = jnp.ones((b, t), bool) if attention_mask is None else attention_mask.astype(bool)
            attention_mask = jnp.concatenate([jnp.ones((b, p), bool), real], axis=1)  # (B, P + T)
            if token_types is not None:
                token_types = jnp.concatenate([jnp.zeros((b, p), token_types.dtype), token_types], axis=1)
        if attention_mask is None:
            positions = None
            key_valid = None
        else:
            key_valid = attention_mask.astype(bool)  # (B, T)
            positions = jnp.maximum(jnp.cumsum(key_valid, axis=1, dtype=jnp.int32) - 1, 0)
        mask = self._mask(key_valid, p + t)
        x = self.tok_emb(tokens)  # (B, T, D)
        if p:
            prompt = self.prompt[...][None].astype(x.dtype)  # (1, P, D)
            x = jnp.concatenate([jnp.broadcast_to(prompt, (b, p, x.shape[2])), x], axis=1)  # (B, P + T, D)
        x = self._embed(x, positions, token_types, rngs)  # (B, P + T, D)
        for i, block in enumerate(self.blocks):
            x, _ = block(x, mask, rngs=rngs, **_layer_memory(memory, i))
        return self._final(x[:, p:] if p else x)

    @property
    def prompt_length(self) -> int:
        """P, the soft prompt's vectors (0 without one)."""
        return 0 if self.prompt is None else self.prompt.shape[0]

    def init_cache(self, batch: int, size: int) -> KVCache:
        """A cache for ``size`` tokens; with a soft prompt, P more slots already holding the prompt's
        keys and values (positions 0..P-1, as in a call on the whole sequence), so cached decoding
        continues after it.  A model with a prompt decodes with a cache from here, not :func:`init_cache`."""
        p = self.prompt_length
        cache = init_cache(self.cfg, batch, p + size)
        if not p:
            return cache
        prompt = jnp.broadcast_to(self.prompt[...][None], (batch, p, self.cfg.d_model))  # (B, P, D)
        positions = jnp.broadcast_to(jnp.arange(p, dtype=jnp.int32)[None], (batch, p))
        _, cache = self._extend(prompt, jnp.ones((batch, p), bool), positions, cache)
        return cache

    def extend(
        self,
        tokens: jax.Array,
        cache: KVCache,
        *,
        attention_mask: jax.Array | None = None,
        memory: tuple[KVBlock, ...] | None = None,
    ) -> tuple[jax.Array, KVCache]:
        """Run ``tokens`` (B, T) after the cached positions (causal models only; no dropout).

        Returns hidden (B, T, D) and the cache with T more slots written.  Prefilling a prompt and then
        extending one token at a time gives the same hidden states as one call on the whole sequence.
        With a soft prompt the cache comes from :meth:`init_cache`, which holds the prompt.
        """
        if not self.cfg.causal:
            raise ValueError("a key/value cache only makes sense for a causal model")
        b, t = tokens.shape
        real = jnp.ones((b, t), bool) if attention_mask is None else attention_mask.astype(bool)  # (B, T)
        positions = cache.next_pos[:, None] + jnp.cumsum(real, axis=1, dtype=jnp.int32) - 1
        positions = jnp.clip(positions, 0, self.cfg.max_len - 1)  # padding before any real token
        return self._extend(self.tok_emb(tokens), real, positions, cache, memory)

    def _extend(
        self,
        x: jax.Array,
        real: jax.Array,
        positions: jax.Array,
        cache: KVCache,
        memory: tuple[KVBlock, ...] | None = None,
    ) -> tuple[jax.Array, KVCache]:
        """Input vectors x (B, T, D) at ``positions`` (B, T), ``real`` (B, T) marking non-padding, run
        after the cached slots and written into the next T (``memory``: an encoder's, per layer)."""
        start = cache.length
        t = x.shape[1]
        mask = self._mask(real, t)  # the new tokens among themselves; cached slots: cache.valid
        x = self._embed(x, positions, None, None)
        keys, values = [], []
        for i, block in enumerate(self.blocks):
            past = (cache.keys[i], cache.values[i], start, cache.valid)
            x, (k, v) = block(x, mask, past=past, **_layer_memory(memory, i))
            keys.append(k)
            values.append(v)
        new_cache = KVCache(
            keys=tuple(keys),
            values=tuple(values),
            valid=jax.lax.dynamic_update_slice(cache.valid, real, (0, start)),  # (B, S)
            length=start + t,
            next_pos=cache.next_pos + real.sum(axis=1, dtype=jnp.int32),
        )
        return self._final(x), new_cache

    def _embed(
        self,
        x: jax.Array,
        positions: jax.Array | None,
        token_types: jax.Array | None,
        rngs: nnx.Rngs | None,
    ) -> jax.Array:
        """Input vectors x (B, T, D) -- token embeddings, after the prompt's if there is one -- plus
        position (and token-type) embeddings; post-LN models normalise.  ``positions`` / ``token_types``
        (B, T) cover every row (None: positions 0..T-1, type 0)."""
        t = x.shape[1]
        if positions is None:
            x = x + self.pos_emb.embedding[:t][None]  # (1, T, D): positions 0..T-1, a slice, not a gather
        else:
            x = x + self.pos_emb(positions)
        if self.type_emb is not None:
            types = jnp.zeros(x.shape[:2], jnp.int32) if token_types is None else token_types
            x = x + self.type_emb(types)
        elif token_types is not None:
            raise ValueError("token_types given but the model has type_vocab_size=0")
        x = x.astype(self.cfg.dtype)
        if self.emb_ln is not None:
            x = self.emb_ln(x)
        return dropout(x, self.cfg.dropout, rngs)

    def _mask(self, key_valid: jax.Array | None, t: int) -> jax.Array | None:
        """Which of T tokens each of them may attend to, (B or 1, T, T): real keys, causal order."""
        mask = None if key_valid is None else key_valid[:, None, :]  # (B, 1, T)
        if self.cfg.causal:
            causal = jnp.asarray(np.tril(np.ones((t, t), bool)))[None]  # (1, T, T)
            mask = causal if mask is None else mask & causal
        return mask

    def _final(self, x: jax.Array) -> jax.Array:
        return x if self.ln_f is None else self.ln_f(x)


# -------------------------------------------------------------------------------- GPT and BERT


class GPT(nnx.Module):
    """Causal LM: backbone + LM head (tied to the token embedding by default). Logits (B, T, V), fp32."""

    def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs):
        if not cfg.causal:
            raise UserError("GPT needs causal=True (use BERT for a bidirectional encoder)")
        self.cfg = cfg
        self.backbone = Transformer(cfg, rngs=rngs)
        untied = not cfg.tie_embeddings
        self.lm_head = make_dense(cfg, cfg.d_model, cfg.vocab_size, bias=False, rngs=rngs) if untied else None

    def __call__(
        self,
        tokens: jax.Array,
        *,
        attention_mask: jax.Array | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> jax.Array:
        hidden = self.backbone(tokens, attention_mask=attention_mask, rngs=rngs)
        return self.logits(hidden)

    def init_cache(self, batch: int, size: int) -> KVCache:
        """A cache for ``size`` tokens (and the soft prompt's, if any): :meth:`Transformer.init_cache`."""
        return self.backbone.init_cache(batch, size)

    def extend(
        self,
        tokens: jax.Array,
        cache: KVCache,
        *,
        attention_mask: jax.Array | None = None,
    ) -> tuple[jax.Array, KVCache]:
        """Cached decoding: logits (B, T, V) for ``tokens`` after the cached ones, and the new cache."""
        hidden, cache = self.backbone.extend(tokens, cache, attention_mask=attention_mask)
        return self.logits(hidden), cache

    def logits(self, hidden: jax.Array) -> jax.Array:
        """(B, T, D) -> (B, T, V) in float32."""
        if self.lm_head is None:
            return self.backbone.tok_emb.attend(hidden).astype(jnp.float32)
        return self.lm_head(hidden).astype(jnp.float32)

    # the decoding interface of minilm.models.generate (an encoder-decoder has the same three methods)

    def check_decoding(self, prompt_len: int, max_new_tokens: int) -> None:
        """A UserError if a prompt of ``prompt_len`` tokens (after the soft prompt's P vectors, if any)
        and ``max_new_tokens`` more do not fit."""
        soft = self.backbone.prompt_length
        total = soft + prompt_len + max_new_tokens
        if total > self.cfg.max_len:
            vectors = f"{soft} soft-prompt vectors + " if soft else ""
            raise UserError(
                f"{vectors}longest prompt ({prompt_len} tokens) + max_new_tokens ({max_new_tokens}) "
                f"= {total} exceeds the model's max_len {self.cfg.max_len}"
            )

    def start_decoding(
        self, prompt: jax.Array, mask: jax.Array, max_new_tokens: int
    ) -> tuple[jax.Array, KVCache]:
        """Run the left-padded prompt (B, T) (mask (B, T)) into a cache of T + N slots.  Returns the
        logits of the first new token (B, V) and the cache."""
        cache = self.init_cache(prompt.shape[0], prompt.shape[1] + max_new_tokens)
        logits, cache = self.extend(prompt, cache, attention_mask=mask)
        return logits[:, -1], cache  # left padding: the last column is every row's last prompt token

    def decode_step(self, tokens: jax.Array, cache: KVCache) -> tuple[jax.Array, KVCache]:
        """Feed one token per row, (B,): the next token's logits (B, V) and the cache one slot longer."""
        logits, cache = self.extend(tokens[:, None], cache)
        return logits[:, 0], cache


class BERT(nnx.Module):
    """Masked LM: backbone + MLM head ``LN(GELU(dense(h))) E^T + b`` (decoder tied to the embedding)."""

    def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs):
        if cfg.causal:
            raise UserError("BERT needs causal=False (use TransformerConfig.bert(...))")
        self.cfg = cfg
        self.backbone = Transformer(cfg, rngs=rngs)
        d = cfg.d_model
        self.mlm_dense = make_dense(cfg, d, d, rngs=rngs)
        self.mlm_ln = LayerNorm(d, eps=cfg.layer_norm_eps, bias=cfg.bias)
        self.mlm_bias = nnx.Param(jnp.zeros((cfg.vocab_size,), jnp.float32))
        untied = not cfg.tie_embeddings
        self.mlm_decoder = make_dense(cfg, d, cfg.vocab_size, bias=False, rngs=rngs) if untied else None
        self.approximate = cfg.gelu == "tanh"

    def __call__(
        self,
        tokens: jax.Array,
        *,
        attention_mask: jax.Array | None = None,
        token_types: jax.Array | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> jax.Array:
        """MLM logits (B, T, V), float32, for every position (the loss picks the masked ones)."""
        hidden = self.backbone(tokens, attention_mask=attention_mask, token_types=token_types, rngs=rngs)
        h = self.mlm_ln(gelu(self.mlm_dense(hidden), self.approximate))
        if self.mlm_decoder is None:
            logits = self.backbone.tok_emb.attend(h)
        else:
            logits = self.mlm_decoder(h)
        return logits.astype(jnp.float32) + self.mlm_bias[...][None, None, :]


def backbone_of(model: nnx.Module) -> Transformer:
    """The Transformer inside a GPT/BERT (or the Transformer itself)."""
    backbone = getattr(model, "backbone", model)
    if not isinstance(backbone, Transformer):
        raise TypeError(f"expected a Transformer, GPT or BERT, got {type(model).__name__}")
    return backbone


# ------------------------------------------------------------------------------------- counts and FLOPs


def count_params(model: nnx.Module) -> int:
    """Number of scalars in the model's ``nnx.Param`` variables."""
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def flops_per_token(model: nnx.Module, seq_len: int) -> float:
    """Training FLOPs per token, PaLM (Chowdhery et al. 2022) App. B: ``6 N + 12 L H Q T``.

    N counts the parameters used in matrix products: all of them except the position and token-type
    tables (lookups, no FLOPs); the tied token embedding is counted once (it is the LM-head GEMM).
    The second term is attention's q k^T and probs v over a context of T = ``seq_len``.
    """
    backbone = backbone_of(model)
    cfg = backbone.cfg
    lookups = backbone.pos_emb.embedding[...].size
    if backbone.type_emb is not None:
        lookups += backbone.type_emb.embedding[...].size
    n = count_params(model) - lookups
    return 6.0 * n + 12.0 * cfg.n_layer * cfg.n_head * cfg.head_dim * seq_len


def mfu(tokens_per_second: float, flops_per_token_: float, peak_flops: float) -> float:
    """Model FLOPs utilisation: achieved FLOP/s over the device's peak (which the caller supplies)."""
    return tokens_per_second * flops_per_token_ / peak_flops
