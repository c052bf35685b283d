"""ELMo: a bidirectional LSTM language model whose layers give contextual word vectors.

Peters et al. 2018, "Deep contextualized word representations" (NAACL), §3.  Reading order:

1. **Token encoder** -- context-free vectors ``x_k``: a word embedding, or ELMo's character CNN
   (Kim et al. 2016; Józefowicz et al. 2016): byte embeddings -> 1-D convolutions of several widths ->
   max over positions -> ReLU -> highway layers -> linear projection.  The CNN spells the word, so any
   word, seen or not, gets a vector.
2. **Two LSTM language models** over the same ``x`` (§3.1, eq. 1-2): the forward LM reads left to
   right and predicts the next token, the backward LM reads right to left and predicts the previous one::

       forward:  p(t_1..t_N) = prod_k p(t_k | t_1..t_{k-1})
       backward: p(t_1..t_N) = prod_k p(t_k | t_{k+1}..t_N)

   They have separate LSTM weights but share the token encoder and the softmax (eq. 2).
   :func:`bilm_nll` sums each direction's token negative log-likelihood; the training loss (the mean
   of the two directions' mean) and the held-out evaluation are in :mod:`minilm.objectives.bilm`.
3. **ELMo vectors** (§3.2, eq. 1): for token k the stack of L+1 layers
   ``h_{k,0} = [x_k; x_k]``, ``h_{k,j} = [forward_j(k); backward_j(k)]``, and the task-specific scalar mix::

       ELMo_k = gamma * sum_j softmax(w)_j h_{k,j}        (w starts at 0, gamma at 1)

   Feature-based transfer trains only the mix (its parameters are :class:`MixParam`, so
   ``trainable=MixParam`` freezes the biLM); fine-tuning trains everything (``trainable=nnx.Param``).

Batches: ``tokens`` (B, T+1) int32 word ids, ``lengths`` (B,) int32 (real tokens come first, then
padding), and for the character encoder ``chars`` (B, T+1, C) int32 (see :func:`char_ids`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.config import ConfigError, above, at_least, each, finite, in_range, opt, validate
from minilm.metrics.jax_metrics import token_nll
from minilm.models.layers import dropout, normal, uniform
from minilm.models.lstm import LSTM

# ----------------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------------

CHAR_PAD, BOW, EOW = 0, 257, 258  # character ids: 0 padding, 1..256 the UTF-8 bytes, then begin/end of word
CHAR_VOCAB = 259


@dataclass(frozen=True)
class BiLMConfig:
    vocab_size: int = opt(10000, "softmax (and word-encoder) vocabulary", check=at_least(1))
    encoder: str = opt(
        "word", "token encoder: a word embedding or ELMo's character CNN", choices=("word", "char")
    )
    emb_dim: int = opt(128, "size of the token vectors x_k", check=at_least(1))
    hidden: int = opt(256, "LSTM cell size H", check=at_least(1))
    proj_dim: int | None = opt(
        None, "LSTM projection P (ELMo: 4096 cells projected to 512); none = no projection", check=at_least(1)
    )
    layers: int = opt(2, "LSTM layers per direction", check=at_least(1))
    residual: bool = opt(False, "residual connection between LSTM layers (ELMo: from layer 1 to layer 2)")
    cell_clip: float | None = opt(None, "clip the LSTM cell to [-x, x] (ELMo: 3); none = off", check=above(0))
    proj_clip: float | None = opt(
        None, "clip the LSTM projection to [-x, x] (ELMo: 3); none = off", check=above(0)
    )
    forget_bias: float = opt(1.0, "initial forget-gate bias", check=finite)
    dropout: float = opt(
        0.0,
        "dropout on the token vectors, between LSTM layers and before the softmax",
        check=in_range(0, 1, high_open=True),
    )
    # character CNN (ELMo: 16-dim chars, 50 chars per word, widths 1..7 with 32..1024 filters, 2 highway)
    char_dim: int = opt(16, "char CNN: character embedding size", check=at_least(1))
    max_chars: int = opt(
        16, "char CNN: characters per word, including the begin/end-of-word marks", check=at_least(3)
    )
    filters: tuple[tuple[int, int], ...] = opt(
        ((1, 32), (2, 32), (3, 64), (4, 128), (5, 128)), "char CNN: width:count,... (ELMo: widths 1..7)",
        check=each(lambda f: None if min(f) >= 1 else "must be positive width:count pairs"),
    )  # fmt: skip
    highway: int = opt(2, "char CNN: highway layers", check=at_least(0))

    def __post_init__(self) -> None:
        validate(self)  # also when built from a saved biLM's config.json

    def check(self) -> None:
        if self.encoder == "char" and max(w for w, _ in self.filters) > self.max_chars:
            raise ConfigError("filters", "a filter is wider than {max_chars}")

    @property
    def out_dim(self) -> int:
        return self.proj_dim or self.hidden


def char_ids(words: list[str], max_chars: int) -> np.ndarray:
    """Words -> (N, max_chars) int32: BOW, UTF-8 bytes + 1 (cut to max_chars - 2), EOW, then padding 0."""
    out = np.full((len(words), max_chars), CHAR_PAD, dtype=np.int32)
    for n, word in enumerate(words):
        ids = [BOW, *(b + 1 for b in word.encode("utf-8")[: max_chars - 2]), EOW]
        out[n, : len(ids)] = ids
    return out


def _uniform(rngs: nnx.Rngs, shape: tuple[int, ...], fan_in: int) -> jax.Array:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): the PyTorch default for Linear, Conv1d and LSTM weights."""
    return uniform(rngs, shape, fan_in**-0.5)


def _add_bias(y: jax.Array, b: jax.Array) -> jax.Array:
    """y (..., D) + b (D,), broadcasting explicitly."""
    return y + b.reshape((1,) * (y.ndim - 1) + (-1,))


# ----------------------------------------------------------------------------------------------------
# 1. Token encoders: (B, T) word ids or (B, T, C) char ids -> (B, T, E)
# ----------------------------------------------------------------------------------------------------


class WordEncoder(nnx.Module):
    """A lookup table, N(0, 1) initialised as ``torch.nn.Embedding``."""

    def __init__(self, vocab_size: int, dim: int, *, rngs: nnx.Rngs):
        self.table = nnx.Param(normal(rngs, (vocab_size, dim), 1.0))  # (V, E)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        return self.table[...][tokens]  # (B, T, E)


class Highway(nnx.Module):
    """Srivastava et al. 2015, as in AllenNLP's ELMo: ``y = g * x + (1 - g) * relu(x W_h + b_h)``,
    ``g = sigmoid(x W_g + b_g)``; ``b_g`` starts at 1 so the layer starts close to carrying x through."""

    def __init__(self, dim: int, *, rngs: nnx.Rngs):
        self.w = nnx.Param(_uniform(rngs, (dim, 2 * dim), dim))  # (F, 2F): [transform | gate]
        self.b = nnx.Param(jnp.concatenate([jnp.zeros((dim,)), jnp.ones((dim,))]))  # (2F,)

    def __call__(self, x: jax.Array) -> jax.Array:
        transform, gate = jnp.split(_add_bias(x @ self.w[...], self.b[...]), 2, axis=-1)  # (..., F) each
        g = jax.nn.sigmoid(gate)
        return g * x + (1.0 - g) * jax.nn.relu(transform)


class CharCNN(nnx.Module):
    """ELMo's character encoder: (..., C) char ids -> (..., E).

    For each filter width w with n filters: slide over the C positions of the (C, char_dim) character
    embeddings, ``conv_p = [e_p; ...; e_{p+w-1}] W_w + b_w`` (n,), max over positions p, ReLU.  Concatenate
    over widths (F = total filters), apply the highway layers, project to E.
    """

    def __init__(self, cfg: BiLMConfig, *, rngs: nnx.Rngs):
        self.chars = nnx.Param(uniform(rngs, (CHAR_VOCAB, cfg.char_dim), 1.0))
        self.widths = tuple(w for w, _ in cfg.filters)
        self.conv_w = nnx.List(
            [nnx.Param(_uniform(rngs, (w * cfg.char_dim, n), w * cfg.char_dim)) for w, n in cfg.filters]
        )
        self.conv_b = nnx.List([nnx.Param(jnp.zeros((n,))) for _, n in cfg.filters])
        total = sum(n for _, n in cfg.filters)
        self.highway = nnx.List([Highway(total, rngs=rngs) for _ in range(cfg.highway)])
        self.proj_w = nnx.Param(_uniform(rngs, (total, cfg.emb_dim), total))  # (F, E)
        self.proj_b = nnx.Param(jnp.zeros((cfg.emb_dim,)))

    def __call__(self, chars: jax.Array) -> jax.Array:
        e = self.chars[...][chars]  # (..., C, c)
        width = e.shape[-2]
        pooled = []
        for w, kernel, bias in zip(self.widths, self.conv_w, self.conv_b, strict=True):
            # windows of w consecutive characters, flattened: (..., C-w+1, w*c)
            windows = jnp.concatenate([e[..., p : width - w + 1 + p, :] for p in range(w)], axis=-1)
            conv = _add_bias(windows @ kernel[...], bias[...])  # (..., C-w+1, n)
            pooled.append(jax.nn.relu(conv.max(axis=-2)))  # (..., n)
        x = jnp.concatenate(pooled, axis=-1)  # (..., F)
        for layer in self.highway:
            x = layer(x)
        return _add_bias(x @ self.proj_w[...], self.proj_b[...])  # (..., E)


# ----------------------------------------------------------------------------------------------------
# 2. The biLM: shared encoder, forward and backward LSTMs, shared softmax
# ----------------------------------------------------------------------------------------------------


def reverse_padded(x: jax.Array, lengths: jax.Array) -> jax.Array:
    """Reverse each row's first ``lengths[b]`` positions along axis 1; padding stays where it is.

    x: (B, T, ...), lengths: (B,).  Its own inverse.
    """
    t = jnp.arange(x.shape[1])[None, :]  # (1, T)
    lengths = lengths[:, None]  # (B, 1)
    idx = jnp.where(t < lengths, lengths - 1 - t, t)  # (B, T)
    idx = idx.reshape(idx.shape + (1,) * (x.ndim - 2))
    return jnp.take_along_axis(x, idx, axis=1)


def length_mask(lengths: jax.Array, length: int) -> jax.Array:
    """(B,) lengths -> (B, T) bool, True on the real positions."""
    return jnp.arange(length)[None, :] < lengths[:, None]


class BiLM(nnx.Module):
    def __init__(self, cfg: BiLMConfig, *, rngs: nnx.Rngs):
        if cfg.encoder not in ("word", "char"):
            raise ValueError(f"encoder must be 'word' or 'char', got {cfg.encoder!r}")
        self.cfg = cfg
        if cfg.encoder == "word":
            self.encoder: WordEncoder | CharCNN = WordEncoder(cfg.vocab_size, cfg.emb_dim, rngs=rngs)
        else:
            self.encoder = CharCNN(cfg, rngs=rngs)
        lstm_kw = dict(
            proj_dim=cfg.proj_dim, cell_clip=cfg.cell_clip, proj_clip=cfg.proj_clip,
            forget_bias=cfg.forget_bias, residual=cfg.residual, dropout=cfg.dropout, rngs=rngs,
        )  # fmt: skip
        self.forward_lm = LSTM(cfg.emb_dim, cfg.hidden, cfg.layers, **lstm_kw)
        self.backward_lm = LSTM(cfg.emb_dim, cfg.hidden, cfg.layers, **lstm_kw)
        self.softmax_w = nnx.Param(_uniform(rngs, (cfg.out_dim, cfg.vocab_size), cfg.out_dim))  # (P, V)
        self.softmax_b = nnx.Param(_uniform(rngs, (cfg.vocab_size,), cfg.out_dim))  # (V,)

    def embed(self, batch: dict[str, jax.Array], rngs: nnx.Rngs | None = None) -> jax.Array:
        """Context-free token vectors x: (B, T+1, E)."""
        x = self.encoder(batch["tokens"] if self.cfg.encoder == "word" else batch["chars"])
        return dropout(x, self.cfg.dropout, rngs)

    def forward_states(
        self, x: jax.Array, lengths: jax.Array, rngs: nnx.Rngs | None = None
    ) -> list[jax.Array]:
        """Forward LM layers over x (B, T, E); output k has read x_0..x_k.  Each (B, T, P)."""
        return self.forward_lm(x, length_mask(lengths, x.shape[1]), rngs)

    def backward_states(
        self, x: jax.Array, lengths: jax.Array, rngs: nnx.Rngs | None = None
    ) -> list[jax.Array]:
        """Backward LM layers: each row read from its last real token down to position 0, outputs put
        back at their positions, so output k has read x_{n-1}..x_k.  Each (B, T, P)."""
        states = self.backward_lm(reverse_padded(x, lengths), length_mask(lengths, x.shape[1]), rngs)
        return [reverse_padded(h, lengths) for h in states]

    def logits(self, h: jax.Array) -> jax.Array:
        """The shared softmax layer: (..., P) -> (..., V)."""
        return _add_bias(h @ self.softmax_w[...], self.softmax_b[...])


def bilm_nll(
    model: BiLM, batch: dict[str, jax.Array], rngs: nnx.Rngs | None = None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Summed NLL of each direction and the number of predicted positions (per direction).

    A row of T+1 tokens t_0..t_n (n = length - 1) gives n predictions per direction: the forward LM
    reads t_0..t_{n-1} and predicts t_1..t_n; the backward LM reads t_n..t_1 and predicts t_{n-1}..t_0.
    """
    tokens, lengths = batch["tokens"], batch["lengths"]  # (B, T+1), (B,)
    x = model.embed(batch, rngs)  # (B, T+1, E)
    pairs = lengths - 1  # (B,) predictions per row
    h_fwd = model.forward_states(x[:, :-1], pairs, rngs)[-1]  # (B, T, P): position k predicts t_{k+1}
    h_bwd = model.backward_states(x[:, 1:], pairs, rngs)[-1]  # (B, T, P): position k predicts t_k
    h = jnp.concatenate([h_fwd, h_bwd], axis=0)  # (2B, T, P): one softmax matmul for both directions
    h = dropout(h, model.cfg.dropout, rngs)
    targets = jnp.concatenate([tokens[:, 1:], tokens[:, :-1]], axis=0)  # (2B, T)
    nll = token_nll(model.logits(h), targets)  # (2B, T)
    mask = length_mask(pairs, tokens.shape[1] - 1)  # (B, T)
    nll_fwd, nll_bwd = jnp.split(nll, 2, axis=0)
    return (nll_fwd * mask).sum(), (nll_bwd * mask).sum(), mask.sum()


# ----------------------------------------------------------------------------------------------------
# 3. ELMo vectors: the layer stack and the scalar mix
# ----------------------------------------------------------------------------------------------------


def elmo_layers(model: BiLM, batch: dict[str, jax.Array]) -> jax.Array:
    """The L+1 ELMo layers of every token, both LMs reading the whole row: (L+1, B, T+1, 2P).

    Layer 0 is ``[x; x]``, so it needs the token vectors and the LSTM outputs to have the same size.
    """
    cfg = model.cfg
    if cfg.emb_dim != cfg.out_dim:
        raise ValueError(f"ELMo layers need emb_dim == LSTM output size, got {cfg.emb_dim} and {cfg.out_dim}")
    x = model.embed(batch)  # (B, T+1, E)
    lengths = batch["lengths"]
    mask = length_mask(lengths, x.shape[1])[..., None]  # (B, T+1, 1)
    layers = [jnp.concatenate([x, x], axis=-1) * mask]
    fwd, bwd = model.forward_states(x, lengths), model.backward_states(x, lengths)
    layers += [jnp.concatenate([f, b], axis=-1) for f, b in zip(fwd, bwd, strict=True)]
    return jnp.stack(layers)


class MixParam(nnx.Param):
    """Parameters of a task's scalar mix: ``trainable=MixParam`` trains them with the biLM frozen."""


class ScalarMix(nnx.Module):
    """``gamma * sum_j softmax(w)_j h_j`` over the first axis of a (L+1, ...) layer stack."""

    def __init__(self, num_layers: int):
        self.w = MixParam(jnp.zeros((num_layers,)))  # (L+1,)
        self.gamma = MixParam(jnp.ones(()))

    def __call__(self, layers: jax.Array) -> jax.Array:
        s = jax.nn.softmax(self.w[...])  # (L+1,)
        return self.gamma[...] * jnp.tensordot(s, layers, axes=1)  # (...)


class Elmo(nnx.Module):
    """A biLM and one task's scalar mix: ``Elmo(bilm)(batch) -> (B, T+1, 2P)`` ELMo vectors."""

    def __init__(self, bilm: BiLM):
        self.bilm = bilm
        self.mix = ScalarMix(bilm.cfg.layers + 1)

    def __call__(self, batch: dict[str, jax.Array]) -> jax.Array:
        return self.mix(elmo_layers(self.bilm, batch))
