"""Autoregressive generation: greedy, sampling (temperature, top-k, top-p), beam search.

The model is a causal LM (:class:`~minilm.models.transformer.GPT`, which continues a prompt) or an
encoder-decoder (:class:`~minilm.models.seq2seq.Seq2Seq`, which reads the "prompt" as its source and
writes the target from a start token).  Both implement the :class:`Decoder` interface this module
decodes through: ``start_decoding`` runs the prompt and returns the first next-token logits and a
decoding state (a pytree whose leaves have the batch first: the key/value cache, and for the
encoder-decoder the encoder memory), ``decode_step`` feeds one token per row.  Beam search reorders
the state's rows to follow the beams, whatever the state holds.

A decoder produces one token at a time: ``x_{t+1} ~ p(x_{t+1} | x_1..x_t)``.  With a key/value cache
(:class:`~minilm.models.transformer.KVCache`) every step runs the model on the *one* new token and attends
to the stored keys/values of the earlier ones; without it every step re-runs the whole prefix (the
reference the cache is tested against, and the baseline of the decoding benchmark).

- Sampling (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration"): logits are divided by
  the temperature, then top-k keeps the k most likely tokens and top-p (nucleus) keeps the smallest set
  whose probability mass reaches p; temperature 0 means greedy (argmax).
- Beam search keeps the K best partial sequences by summed log-probability; a finished hypothesis (it
  emitted a stop token, or reached the length limit) is ranked by ``sum log p / length ** length_penalty``
  (as Hugging Face ``transformers``; length = generated tokens incl. the stop token).
- Prompts of different lengths are left-padded, so every row's last prompt token sits in the same
  column; the attention mask hides the padding and position ids count real tokens only.
- Prefix keys/values (prefix-tuning) are state of the model's attention layers
  (:meth:`~minilm.models.transformer.MultiHeadAttention.set_prefix`), so a model that holds them decodes
  with them, with or without the cache.  A soft prompt (prompt tuning) is prefilled into the cache
  (:meth:`~minilm.models.transformer.Transformer.init_cache`): P more slots, positions shifted by P.
- The decode loop is one fixed-shape ``jax.jit``-compiled ``lax.while_loop`` (it stops early when every
  row has finished); shapes depend only on the batch, the padded prompt length and ``max_new_tokens``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.errors import UserError
from minilm.models.transformer import GPT

NEG_INF = -1e30  # a finite "minus infinity" for masked logits (keeps arithmetic NaN-free)


@dataclass(frozen=True)
class GenerationConfig:
    """How to decode. ``temperature=0`` is greedy; ``num_beams>1`` is beam search (deterministic)."""

    max_new_tokens: int = 32  # tokens generated per row (stop tokens end a row earlier)
    temperature: float = 0.0  # 0 = greedy; > 0 = sample from softmax(logits / temperature)
    top_k: int = 0  # sample only among the k most likely tokens (0 = all)
    top_p: float = 1.0  # nucleus: the smallest set of tokens with probability mass >= top_p (1 = all)
    num_beams: int = 1  # > 1: beam search with this many beams
    length_penalty: float = 1.0  # beam search: finished score = sum log p / length ** length_penalty
    stop_tokens: tuple[int, ...] = ()  # a row ends after emitting one of these (it is kept in the output)
    pad_id: int = 0  # fills prompts on the left and outputs after a row has stopped
    use_cache: bool = True  # False: re-run the whole prefix every step (reference / benchmark baseline)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise UserError(f"max_new_tokens={self.max_new_tokens}: must be >= 1")
        if self.temperature < 0:
            raise UserError(f"temperature={self.temperature}: must be >= 0 (0 = greedy)")
        if self.top_k < 0:
            raise UserError(f"top_k={self.top_k}: must be >= 0 (0 = off)")
        if not 0.0 < self.top_p <= 1.0:
            raise UserError(f"top_p={self.top_p}: must be in (0, 1]")
        if self.num_beams < 1:
            raise UserError(f"num_beams={self.num_beams}: must be >= 1")
        if self.num_beams > 1 and self.temperature > 0:
            raise UserError("beam search is deterministic: use temperature=0 with num_beams > 1")


@runtime_checkable
class Decoder(Protocol):
    """What :func:`generate` needs of a model (shapes: B rows, T prompt tokens, N new tokens, V vocab)."""

    def check_decoding(self, prompt_len: int, max_new_tokens: int) -> None:
        """A UserError if the prompt and N new tokens do not fit the model."""

    def start_decoding(
        self, prompt: jax.Array, mask: jax.Array, max_new_tokens: int
    ) -> tuple[jax.Array, Any]:
        """Left-padded prompt (B, T) and mask (B, T) -> first next-token logits (B, V), decoding state."""

    def decode_step(self, tokens: jax.Array, state: Any) -> tuple[jax.Array, Any]:
        """Tokens (B,) -> next-token logits (B, V), the state one token further."""


class Generation(NamedTuple):
    """The output of :func:`generate` (NumPy arrays)."""

    tokens: np.ndarray  # (B, N) generated ids; pad_id after a row's stop token
    lengths: np.ndarray  # (B,) generated tokens per row, including the stop token
    scores: np.ndarray  # (B,) sum of log-probs of the generated tokens (beam search: length-penalised)
    logits: np.ndarray | None  # (B, N, V) logits each token was chosen from (greedy/sampling only)


def left_pad(
    prompts: Sequence[Sequence[int]], pad_id: int = 0, width: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Token lists -> tokens (B, T) int32 and attention mask (B, T) bool, padded on the left to the
    longest prompt, or to ``width`` (at least that)."""
    if not prompts or any(len(p) == 0 for p in prompts):
        raise UserError("every prompt needs at least one token")
    width = max(max(len(p) for p in prompts), width or 0)
    tokens = np.full((len(prompts), width), pad_id, np.int32)
    mask = np.zeros((len(prompts), width), bool)
    for i, p in enumerate(prompts):
        tokens[i, width - len(p) :] = p
        mask[i, width - len(p) :] = True
    return tokens, mask


# ------------------------------------------------------------------------------------ logit processing


def process_logits(logits: jax.Array, temperature: float, top_k: int, top_p: float) -> jax.Array:
    """(B, V) logits -> logits to sample from: / temperature, then top-k, then top-p (others -> NEG_INF)."""
    logits = logits / temperature
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = jax.lax.top_k(logits, top_k)[0][:, -1:]  # (B, 1) the k-th largest logit
        logits = jnp.where(logits < kth, NEG_INF, logits)
    if top_p < 1.0:
        sorted_logits = jnp.sort(logits, axis=-1)[:, ::-1]  # (B, V) descending
        probs = jax.nn.softmax(sorted_logits, axis=-1)
        mass_before = jnp.cumsum(probs, axis=-1) - probs  # probability of the tokens ranked above
        keep = mass_before < top_p  # the first token is always kept
        threshold = jnp.min(jnp.where(keep, sorted_logits, jnp.inf), axis=-1, keepdims=True)  # (B, 1)
        logits = jnp.where(logits < threshold, NEG_INF, logits)
    return logits


def _choose(logits: jax.Array, key: jax.Array, cfg: GenerationConfig) -> jax.Array:
    """(B, V) -> (B,) next tokens: argmax when greedy, else a sample from the processed logits."""
    if cfg.temperature == 0.0:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    processed = process_logits(logits, cfg.temperature, cfg.top_k, cfg.top_p)
    return jax.random.categorical(key, processed, axis=-1).astype(jnp.int32)


# ------------------------------------------------------------------------- greedy / sampling decoding


class _Step(NamedTuple):
    """The while_loop carry of greedy/sampling decoding."""

    i: jax.Array  # () tokens generated so far
    logits: jax.Array  # (B, V) logits for the next token
    state: Any  # the model's decoding state (use_cache) ...
    buffer: jax.Array | None  # ... or every token so far (B, T + N) and its mask, for re-running
    buffer_mask: jax.Array | None
    out: jax.Array  # (B, N) generated tokens
    out_logits: jax.Array  # (B, N, V)
    log_prob: jax.Array  # (B,) summed log-probabilities
    done: jax.Array  # (B,) bool
    key: jax.Array


@functools.partial(jax.jit, static_argnums=(0, 4))
def _decode(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    tokens: jax.Array,
    mask: jax.Array,
    cfg: GenerationConfig,
    key: jax.Array,
) -> _Step:
    model = nnx.merge(graphdef, state)
    b, t = tokens.shape
    n = cfg.max_new_tokens
    stops = jnp.asarray(cfg.stop_tokens, jnp.int32).reshape(-1)
    if cfg.use_cache:
        logits, state = model.start_decoding(tokens, mask, n)  # (B, V)
        buffer = buffer_mask = None
    else:
        state = None
        buffer = jnp.concatenate([tokens, jnp.full((b, n), cfg.pad_id, jnp.int32)], axis=1)  # (B, T + N)
        buffer_mask = jnp.concatenate([mask, jnp.zeros((b, n), bool)], axis=1)
        logits = model(buffer, attention_mask=buffer_mask)[:, t - 1]  # left padding: every row's last token
    vocab = logits.shape[-1]
    carry = _Step(
        i=jnp.zeros((), jnp.int32),
        logits=logits,
        state=state,
        buffer=buffer,
        buffer_mask=buffer_mask,
        out=jnp.full((b, n), cfg.pad_id, jnp.int32),
        out_logits=jnp.zeros((b, n, vocab), jnp.float32),
        log_prob=jnp.zeros((b,), jnp.float32),
        done=jnp.zeros((b,), bool),
        key=key,
    )

    def cond(c: _Step) -> jax.Array:
        return (c.i < n) & ~jnp.all(c.done)

    def body(c: _Step) -> _Step:
        key, sub = jax.random.split(c.key)
        chosen = _choose(c.logits, sub, cfg)  # (B,)
        token = jnp.where(c.done, cfg.pad_id, chosen)
        log_p = jnp.take_along_axis(jax.nn.log_softmax(c.logits, axis=-1), chosen[:, None], axis=1)[:, 0]
        out = c.out.at[:, c.i].set(token)
        out_logits = c.out_logits.at[:, c.i].set(c.logits)
        log_prob = c.log_prob + jnp.where(c.done, 0.0, log_p)
        done = c.done | jnp.isin(token, stops)
        if cfg.use_cache:
            next_logits, state = model.decode_step(token, c.state)
            buffer, buffer_mask = None, None
        else:
            state = None
            buffer = c.buffer.at[:, t + c.i].set(token)
            buffer_mask = c.buffer_mask.at[:, t + c.i].set(True)
            all_logits = model(buffer, attention_mask=buffer_mask)  # (B, T + N, V)
            next_logits = jax.lax.dynamic_index_in_dim(all_logits, t + c.i, axis=1, keepdims=False)
        return _Step(c.i + 1, next_logits, state, buffer, buffer_mask, out, out_logits, log_prob, done, key)

    return jax.lax.while_loop(cond, body, carry)


# ------------------------------------------------------------------------------------------ beam search


class _Beams(NamedTuple):
    """The while_loop carry of beam search: K alive and K finished hypotheses per row."""

    i: jax.Array  # () tokens generated so far
    logits: jax.Array  # (B*K, V) next-token logits of the alive beams
    state: Any  # the model's decoding state, rows ordered (batch, beam)
    alive_seq: jax.Array  # (B, K, N)
    alive_log_p: jax.Array  # (B, K) summed log-probabilities (NEG_INF = empty slot)
    done_seq: jax.Array  # (B, K, N)
    done_score: jax.Array  # (B, K) length-penalised scores (NEG_INF = empty slot)
    done_len: jax.Array  # (B, K)
    done_log_p: jax.Array  # (B, K)


def _penalised(log_p: jax.Array, length: jax.Array | int, alpha: float) -> jax.Array:
    return log_p / (jnp.asarray(length, jnp.float32) ** alpha)


@functools.partial(jax.jit, static_argnums=(0, 4))
def _beam_search(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    tokens: jax.Array,
    mask: jax.Array,
    cfg: GenerationConfig,
) -> _Beams:
    model = nnx.merge(graphdef, state)
    b, t = tokens.shape
    k, n, alpha = cfg.num_beams, cfg.max_new_tokens, cfg.length_penalty
    stops = jnp.asarray(cfg.stop_tokens, jnp.int32).reshape(-1)
    # every beam starts from the prompt: rows (b0k0, b0k1, ..., b1k0, ...)
    logits, state = model.start_decoding(jnp.repeat(tokens, k, axis=0), jnp.repeat(mask, k, axis=0), n)
    first = jnp.full((b, k), NEG_INF).at[:, 0].set(0.0)  # only beam 0 is alive at the start
    carry = _Beams(
        i=jnp.zeros((), jnp.int32),
        logits=logits,
        state=state,
        alive_seq=jnp.full((b, k, n), cfg.pad_id, jnp.int32),
        alive_log_p=first,
        done_seq=jnp.full((b, k, n), cfg.pad_id, jnp.int32),
        done_score=jnp.full((b, k), NEG_INF),
        done_len=jnp.ones((b, k), jnp.int32),
        done_log_p=jnp.full((b, k), NEG_INF),
    )

    def cond(c: _Beams) -> jax.Array:
        # stop when no alive beam can beat the worst kept finished one.  Log-probs only fall as tokens are
        # added, so an alive beam's best possible score is its current sum over the most favourable
        # length: the longest (n) when alpha > 0, the shortest (i + 1) otherwise.
        best_length = n if alpha > 0 else c.i + 1
        best_alive = _penalised(c.alive_log_p.max(axis=1), best_length, alpha)
        can_improve = jnp.any(best_alive > c.done_score.min(axis=1))
        return (c.i < n) & can_improve

    def body(c: _Beams) -> _Beams:
        vocab = c.logits.shape[-1]
        log_p = jax.nn.log_softmax(c.logits, axis=-1).reshape(b, k, vocab)
        cand = (c.alive_log_p[:, :, None] + log_p).reshape(b, k * vocab)  # (B, K*V)
        # 2K candidates: enough to keep K alive ones even if K of them just finished
        top_log_p, top_idx = jax.lax.top_k(cand, 2 * k)  # (B, 2K)
        beam, token = top_idx // vocab, (top_idx % vocab).astype(jnp.int32)
        seq = jnp.take_along_axis(c.alive_seq, beam[:, :, None], axis=1).at[:, :, c.i].set(token)  # (B,2K,N)
        valid = top_log_p > NEG_INF / 2
        finished = (jnp.isin(token, stops) | (c.i + 1 == n)) & valid
        # alive: the best K candidates that did not finish
        alive_key = jnp.where(finished | ~valid, NEG_INF, top_log_p)
        alive_log_p, pick = jax.lax.top_k(alive_key, k)  # (B, K)
        alive_seq = jnp.take_along_axis(seq, pick[:, :, None], axis=1)
        source = jnp.take_along_axis(beam, pick, axis=1)  # (B, K) which old beam each new one extends
        # finished: merge the new finished candidates into the K best finished so far
        score = jnp.where(finished, _penalised(top_log_p, c.i + 1, alpha), NEG_INF)
        all_score = jnp.concatenate([c.done_score, score], axis=1)  # (B, 3K)
        done_score, keep = jax.lax.top_k(all_score, k)
        pick_from = functools.partial(jnp.take_along_axis, indices=keep, axis=1)
        done_seq = jnp.take_along_axis(jnp.concatenate([c.done_seq, seq], axis=1), keep[:, :, None], axis=1)
        done_len = pick_from(jnp.concatenate([c.done_len, jnp.full((b, 2 * k), c.i + 1)], axis=1))
        done_log_p = pick_from(jnp.concatenate([c.done_log_p, top_log_p], axis=1))
        # reorder the state's rows to follow their beams, then feed the chosen tokens
        rows = (jnp.arange(b)[:, None] * k + source).reshape(-1)  # (B*K,)
        state = jax.tree.map(lambda a: a[rows] if a.ndim > 0 else a, c.state)
        logits, state = model.decode_step(alive_seq[:, :, c.i].reshape(b * k), state)
        return _Beams(
            c.i + 1, logits, state, alive_seq, alive_log_p, done_seq, done_score, done_len, done_log_p
        )

    return jax.lax.while_loop(cond, body, carry)


def beam_search(model: Decoder, tokens: np.ndarray, mask: np.ndarray, cfg: GenerationConfig) -> Generation:
    """Beam search with ``cfg.num_beams`` beams over left-padded prompts, tokens and mask (B, T): the
    best finished hypothesis of each row.  One beam equals greedy decoding when there are no stop
    tokens; with them it also keeps a hypothesis that stopped on the runner-up token, which may win."""
    graphdef, state = nnx.split(model)
    r = _beam_search(graphdef, state, jnp.asarray(tokens), jnp.asarray(mask), cfg)
    best = jnp.argmax(r.done_score, axis=1)  # (B,): the last step finishes every beam, so one exists
    seq = jnp.take_along_axis(r.done_seq, best[:, None, None], axis=1)[:, 0]
    length = jnp.take_along_axis(r.done_len, best[:, None], axis=1)[:, 0]
    score = jnp.take_along_axis(r.done_score, best[:, None], axis=1)[:, 0]
    positions = jnp.arange(cfg.max_new_tokens)[None, :]
    seq = jnp.where(positions < length[:, None], seq, cfg.pad_id)
    return Generation(np.asarray(seq), np.asarray(length), np.asarray(score), None)


# ---------------------------------------------------------------------------------------------- entry


def generate(
    model: Decoder,
    prompts: Sequence[Sequence[int]],
    cfg: GenerationConfig,
    *,
    key: jax.Array | None = None,
    width: int | None = None,
) -> Generation:
    """Continue each prompt (a list of token ids) by up to ``cfg.max_new_tokens`` tokens; for an
    encoder-decoder the prompts are the sources and the output is each one's target.

    ``key`` is required for sampling (``temperature > 0``); greedy and beam search ignore it.
    ``width``: left-pad the prompts to at least this many tokens (batches of one shape share one
    compiled decoder).
    """
    if not isinstance(model, Decoder):
        raise UserError(
            f"generation needs a causal LM (a GPT) or an encoder-decoder; a {type(model).__name__} "
            "is neither (a BERT is bidirectional)"
        )
    if cfg.num_beams == 1 and not cfg.use_cache and not isinstance(model, GPT):
        raise UserError("use_cache=False (re-running the whole prefix) is for decoder-only models")
    tokens, mask = left_pad(prompts, cfg.pad_id, width)
    model.check_decoding(tokens.shape[1], cfg.max_new_tokens)
    if cfg.temperature > 0 and key is None:
        raise UserError("sampling (temperature > 0) needs a random key")
    if cfg.num_beams > 1:
        return beam_search(model, tokens, mask, dataclasses.replace(cfg, use_cache=True))
    graphdef, state = nnx.split(model)
    key = jax.random.key(0) if key is None else key
    r = _decode(graphdef, state, jnp.asarray(tokens), jnp.asarray(mask), cfg, key)
    out = np.asarray(r.out)
    stopped = np.isin(out, cfg.stop_tokens)
    first_stop = np.where(stopped.any(1), stopped.argmax(1) + 1, int(r.i))
    return Generation(out, first_stop.astype(np.int32), np.asarray(r.log_prob), np.asarray(r.out_logits))
