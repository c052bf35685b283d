"""The encoder-decoder Transformer (Vaswani et al. 2017), built from the blocks of the GPT and BERT.

Reading order: the config, cross-attention, the decoder block, the model (encode, teacher-forced
forward, cached decoding).  Everything else -- embeddings, self-attention, the FFN, the key/value
cache, the :func:`~minilm.models.transformer.attention` kernel -- is :mod:`minilm.models.transformer`'s.

Vaswani et al. 2017, "Attention Is All You Need", §3.1-3.2:

- The **encoder** is a bidirectional stack (a :class:`~minilm.models.transformer.Transformer` with
  ``causal=False``) mapping the source x_1..x_S to the memory ``M`` (B, S, D).
- Each **decoder** layer (:class:`DecoderBlock`) has three sub-layers: causal self-attention over the
  target so far, *encoder-decoder attention* (§3.2.3: "the queries come from the previous decoder layer,
  and the memory keys and values come from the output of the encoder")::

      CrossAttn(X, M) = Concat(head_1, ..., head_H) W^O,   head_i = Attention(X W_i^Q, M W_i^K, M W_i^V)

  with the source's padding masked, and the position-wise FFN; each a residual branch.
- The model is trained by **teacher forcing**: the decoder reads the target shifted right by one, a start
  token first (``target_in = [BOS] y_1 .. y_m``), and predicts it unshifted (``target_out = y_1 .. y_m
  <eos>``), so position t scores ``p(y_t | y_<t, x)``.  The start token is ``<eos>``, as fairseq's
  translation decoders start from ``</s>``.
- Decoding (:mod:`minilm.models.generate`, greedy or beam search) encodes the source once, projects
  the memory to every layer's cross-attention keys and values once, and then extends the decoder's
  self-attention cache one token at a time.

Where this differs from the paper: learned position embeddings (as GPT and BERT here) instead of
sinusoids, no ``sqrt(d_model)`` scaling of the embeddings, GELU instead of ReLU in the FFN, and pre-LN
blocks by default (``pre_ln=True``; Xiong et al. 2020: they train without the paper's long warmup;
``pre_ln=False`` gives the paper's post-LN).  As in the paper (§3.4) source and target share one
vocabulary and one embedding matrix, which is also the output projection (``tie_embeddings``).

Shapes: B batch, S source length, T target length, H heads, Q = D / H head size, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from minilm.config import ConfigError, above, at_least, in_range, opt, validate
from minilm.data.tokenizer import EOS
from minilm.errors import UserError
from minilm.models.layers import LayerNorm, dropout
from minilm.models.transformer import (
    FeedForward,
    KVBlock,
    KVCache,
    MultiHeadAttention,
    Transformer,
    TransformerConfig,
    attention,
    init_cache,
    make_dense,
)

# --------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class Seq2SeqConfig:
    """An encoder-decoder's hyper-parameters. Defaults: a small model for Multi30k on a CPU."""

    vocab_size: int = opt(8000, "V: one vocabulary (a joint BPE) for source and target", check=at_least(1))
    max_source_len: int = opt(64, "encoder positions: the longest source (with its <eos>)", check=at_least(1))
    max_target_len: int = opt(
        64, "decoder positions: the start token + the longest target (with its <eos>)", check=at_least(2)
    )
    encoder_layers: int = opt(3, "encoder blocks", check=at_least(1))
    decoder_layers: int = opt(3, "decoder blocks", check=at_least(1))
    n_head: int = opt(4, "H: attention heads (d_model must be divisible by it)", check=at_least(1))
    d_model: int = opt(256, "D: hidden size", check=at_least(1))
    d_ff: int = opt(1024, "FFN inner width", check=at_least(1))
    dropout: float = opt(
        0.1, "dropout on embeddings and residual branches", check=in_range(0, 1, high_open=True)
    )
    attn_dropout: float = opt(0.0, "dropout on attention probabilities", check=in_range(0, 1, high_open=True))
    pre_ln: bool = opt(True, "True: pre-LN blocks + final LN; False: the paper's post-LN")
    gelu: str = opt("tanh", "GELU: tanh or exact (erf)", choices=("tanh", "exact"))
    tie_embeddings: bool = opt(True, "one embedding for source, target and the output projection (§3.4)")
    bias: bool = opt(True, "biases in dense layers and LayerNorms")
    layer_norm_eps: float = opt(1e-5, "LayerNorm epsilon", check=above(0))
    init_std: float = opt(0.02, "N(0, init_std) for all weight matrices and embeddings", check=above(0))
    start_id: int = opt(EOS, "the decoder's start token (minilm's <eos>)", check=at_least(0))
    dtype: str = opt("float32", "compute dtype", choices=("float32", "bfloat16"))

    def __post_init__(self) -> None:
        validate(self)

    def check(self) -> None:
        if self.d_model % self.n_head:
            raise ConfigError("d_model", "must be divisible by {n_head}")
        if self.start_id >= self.vocab_size:
            raise ConfigError("start_id", "must be below {vocab_size}")

    def _stack(self, causal: bool, n_layer: int, max_len: int) -> TransformerConfig:
        shared = ("vocab_size", "n_head", "d_model", "d_ff", "dropout", "attn_dropout", "pre_ln", "gelu")
        shared += ("bias", "layer_norm_eps", "init_std", "dtype")
        return TransformerConfig(
            **{name: getattr(self, name) for name in shared},
            causal=causal,
            n_layer=n_layer,
            max_len=max_len,
            type_vocab_size=0,
            tie_embeddings=self.tie_embeddings,
            scale_residual_init=True,
        )

    def encoder(self) -> TransformerConfig:
        """The encoder's stack: bidirectional, ``encoder_layers`` blocks over ``max_source_len``."""
        return self._stack(False, self.encoder_layers, self.max_source_len)

    def decoder(self) -> TransformerConfig:
        """The decoder's stack: causal, ``decoder_layers`` blocks over ``max_target_len``."""
        return self._stack(True, self.decoder_layers, self.max_target_len)


# ------------------------------------------------------------------------------------ cross-attention


class CrossAttention(nnx.Module):
    """Encoder-decoder attention (§3.2.3): W^Q (D, D) on the decoder states, a fused W^K, W^V (D, 2D)
    on the encoder's output, W^O (D, D).  The memory's keys and values are computed once per source
    (:meth:`memory`) and read by every decoder position and every decoding step."""

    def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs):
        self.q = make_dense(cfg, cfg.d_model, cfg.d_model, rngs=rngs)
        self.kv = make_dense(cfg, cfg.d_model, 2 * cfg.d_model, rngs=rngs)
        self.out = make_dense(cfg, cfg.d_model, cfg.d_model, residual=True, rngs=rngs)
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.attn_dropout = cfg.attn_dropout

    def memory(self, encoded: jax.Array, source_mask: jax.Array) -> KVBlock:
        """encoded (B, S, D), source_mask (B, S) -> keys, values (B, H, S, Q) and the mask (B, 1, S)."""
        b, s, d = encoded.shape
        kv = self.kv(encoded).reshape(b, s, 2, self.n_head, self.head_dim).transpose(2, 0, 3, 1, 4)
        return kv[0], kv[1], source_mask.astype(bool)[:, None, :]  # (B, H, S, Q) x 2, (B, 1, S)

    def __call__(self, x: jax.Array, memory: KVBlock, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        """x (B, T, D) attends to the memory's keys and values -> (B, T, D)."""
        b, t, d = x.shape
        q = self.q(x, rngs=rngs).reshape(b, t, self.n_head, self.head_dim).transpose(0, 2, 1, 3)  # (B,H,T,Q)
        y = attention(q, [memory], attn_dropout=self.attn_dropout, rngs=rngs)  # (B, H, T, Q)
        return self.out(y.transpose(0, 2, 1, 3).reshape(b, t, d), rngs=rngs)


# ------------------------------------------------------------------------------------- decoder block


class DecoderBlock(nnx.Module):
    """One decoder layer: causal self-attention, cross-attention to the memory, FFN; each a residual
    branch, pre-LN ``x + f(LN(x))`` or post-LN ``LN(x + f(x))`` as :class:`~minilm.models.transformer.Block`.
    The self-attention is the GPT's (:class:`MultiHeadAttention`, with its cache and prefix)."""

    def __init__(self, cfg: TransformerConfig, *, rngs: nnx.Rngs):
        eps, bias = cfg.layer_norm_eps, cfg.bias
        self.ln1 = LayerNorm(cfg.d_model, eps=eps, bias=bias)
        self.attn = MultiHeadAttention(cfg, rngs=rngs)
        self.ln_cross = LayerNorm(cfg.d_model, eps=eps, bias=bias)
        self.cross = CrossAttention(cfg, rngs=rngs)
        self.ln2 = LayerNorm(cfg.d_model, eps=eps, bias=bias)
        self.ffn = FeedForward(cfg, rngs=rngs)
        self.pre_ln = cfg.pre_ln
        self.rate = cfg.dropout

    def _residual(self, x: jax.Array, ln: LayerNorm, f, rngs: nnx.Rngs | None) -> jax.Array:
        if self.pre_ln:
            return x + dropout(f(ln(x)), self.rate, rngs)
        return ln(x + dropout(f(x), self.rate, rngs))

    def __call__(
        self,
        x: jax.Array,
        mask: jax.Array | None,
        *,
        memory: KVBlock,
        past: tuple[jax.Array, jax.Array, jax.Array, jax.Array] | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array] | None]:
        """x (B, T, D) -> (B, T, D), plus the updated self-attention cache pair when ``past`` is given."""
        new_past = None

        def self_attention(h: jax.Array) -> jax.Array:
            nonlocal new_past
            a, new_past = self.attn(h, mask, past=past, rngs=rngs)
            return a

        x = self._residual(x, self.ln1, self_attention, rngs)
        x = self._residual(x, self.ln_cross, lambda h: self.cross(h, memory, rngs=rngs), rngs)
        x = self._residual(x, self.ln2, lambda h: self.ffn(h, rngs=rngs), rngs)
        return x, new_past


# --------------------------------------------------------------------------------------------- model


class DecodeState(NamedTuple):
    """What cached decoding carries: the decoder's self-attention cache and the encoder memory (one
    :data:`KVBlock` per decoder layer); every leaf has the batch first, so beam search can reorder it."""

    cache: KVCache
    memory: tuple[KVBlock, ...]


class Seq2Seq(nnx.Module):
    """Encoder + decoder (+ an output projection tied to the shared embedding). Logits (B, T, V), fp32."""

    def __init__(self, cfg: Seq2SeqConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        self.encoder = Transformer(cfg.encoder(), rngs=rngs)
        self.decoder = Transformer(cfg.decoder(), rngs=rngs, block=DecoderBlock)
        if cfg.tie_embeddings:
            self.decoder.tok_emb = self.encoder.tok_emb  # one matrix (NNX keeps a shared reference)
        untied = not cfg.tie_embeddings
        self.lm_head = (
            make_dense(cfg.decoder(), cfg.d_model, cfg.vocab_size, bias=False, rngs=rngs) if untied else None
        )

    def encode(
        self, source: jax.Array, source_mask: jax.Array | None = None, *, rngs: nnx.Rngs | None = None
    ) -> tuple[KVBlock, ...]:
        """source (B, S) -> every decoder layer's cross-attention keys/values (B, H, S, Q) and mask."""
        source_mask = jnp.ones(source.shape, bool) if source_mask is None else source_mask
        encoded = self.encoder(source, attention_mask=source_mask, rngs=rngs)  # (B, S, D)
        return tuple(block.cross.memory(encoded, source_mask) for block in self.decoder.blocks)

    def __call__(
        self,
        source: jax.Array,
        target_in: jax.Array,
        *,
        source_mask: jax.Array | None = None,
        target_mask: jax.Array | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> jax.Array:
        """Teacher forcing: source (B, S), decoder input target_in (B, T) -> logits (B, T, V) of the next
        target token at every position.  ``target_mask`` (B, T): 1 = real (right padding)."""
        memory = self.encode(source, source_mask, rngs=rngs)
        hidden = self.decoder(target_in, attention_mask=target_mask, memory=memory, rngs=rngs)
        return self.logits(hidden)

    def logits(self, hidden: jax.Array) -> jax.Array:
        """(B, T, D) -> (B, T, V) in float32."""
        if self.lm_head is None:
            return self.decoder.tok_emb.attend(hidden).astype(jnp.float32)
        return self.lm_head(hidden).astype(jnp.float32)

    # the decoding interface of minilm.models.generate: the "prompt" is the source

    def check_decoding(self, prompt_len: int, max_new_tokens: int) -> None:
        """A UserError if the source or the target (start token + new tokens) does not fit."""
        if prompt_len > self.cfg.max_source_len:
            raise UserError(
                f"longest source ({prompt_len} tokens) exceeds the model's max_source_len "
                f"{self.cfg.max_source_len}"
            )
        if max_new_tokens + 1 > self.cfg.max_target_len:
            raise UserError(
                f"max_new_tokens ({max_new_tokens}) + the start token exceeds the model's max_target_len "
                f"{self.cfg.max_target_len}"
            )

    def start_decoding(
        self, source: jax.Array, mask: jax.Array, max_new_tokens: int
    ) -> tuple[jax.Array, DecodeState]:
        """Encode the source (B, S) once; feed the start token into a cache of N + 1 slots.  Returns the
        first target token's logits (B, V) and the state."""
        state = DecodeState(
            init_cache(self.decoder.cfg, source.shape[0], max_new_tokens + 1), self.encode(source, mask)
        )
        return self.decode_step(jnp.full((source.shape[0],), self.cfg.start_id, jnp.int32), state)

    def decode_step(self, tokens: jax.Array, state: DecodeState) -> tuple[jax.Array, DecodeState]:
        """Feed one target token per row, (B,): the next one's logits (B, V) and the state one further."""
        hidden, cache = self.decoder.extend(tokens[:, None], state.cache, memory=state.memory)
        return self.logits(hidden)[:, 0], DecodeState(cache, state.memory)
