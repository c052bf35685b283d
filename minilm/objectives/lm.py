"""Causal language modelling: the training loss, held-out evaluation, and scoring of sequences.

A causal LM (GPT; Radford et al. 2018, §3.1) models ``p(x_1..x_T) = prod_t p(x_t | x_<t)`` and is
trained to minimise the mean next-token negative log-likelihood::

    L = -1/(B T) sum_b sum_t log p(x_{b,t+1} | x_{b,<=t})

Perplexity (:func:`minilm.metrics.perplexity.perplexity`) is ``exp(NLL / tokens)`` of the summed NLL
that the evaluators here return with their token counts.  The token NLL is
:func:`minilm.metrics.jax_metrics.token_nll`; batches go through :mod:`minilm.objectives.evaluate`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.errors import UserError
from minilm.metrics.jax_metrics import token_nll
from minilm.models.transformer import GPT
from minilm.objectives.evaluate import EVAL_BATCH, batched_eval


def lm_loss(model: GPT, batch: dict[str, jax.Array], rngs: nnx.Rngs | None):
    """Mean next-token cross-entropy: -1/(B T) sum log p(x_{t+1} | x_<=t)."""
    logits = model(batch["tokens"], rngs=rngs)  # (B, T, V)
    return token_nll(logits, batch["targets"]).mean(), {}


def lm_evaluator(model: GPT, seq_len: int):
    """``evaluate(model, stream, max_windows) -> (summed next-token NLL, tokens scored)``.

    The stream is cut into non-overlapping windows; window i scores tokens i*T+1 .. i*T+T given
    their prefix inside the window.  Windows go through in fixed-size batches (the last one masked),
    so one compiled function serves every stream and every cap.
    """
    graphdef = nnx.graphdef(model)

    @jax.jit
    def batch_nll(state, batch, valid):  # {"tokens", "targets": (b, T)}, (b,) -> ()
        logits = nnx.merge(graphdef, state)(batch["tokens"])  # (b, T, V)
        nll = token_nll(logits, batch["targets"]).sum(-1)  # (b,)
        return jnp.sum(nll * valid)

    def evaluate(m: GPT, stream: np.ndarray, max_windows: int | None = None) -> tuple[float, int]:
        n = (len(stream) - 1) // seq_len
        if max_windows is not None:
            n = min(n, max_windows)
        if n == 0:
            raise UserError(
                f"the held-out text has {len(stream)} tokens, fewer than one window of {seq_len + 1}"
            )
        windows = {
            "tokens": stream[: n * seq_len].reshape(n, seq_len),  # (n, T)
            "targets": stream[1 : n * seq_len + 1].reshape(n, seq_len),  # (n, T)
        }
        total = batched_eval(functools.partial(batch_nll, nnx.state(m)), windows, EVAL_BATCH)
        return total, n * seq_len

    return evaluate


@functools.partial(jax.jit, static_argnums=0)
def _sequence_nll(graphdef, state, batch, valid) -> tuple[jax.Array, jax.Array]:
    """Summed -log p(x_t | x_<t) over the real positions t >= 1 of each real row, and how many were
    scored.  batch: "tokens" (B, W) int, "mask" (B, W) bool; valid (B,)."""
    tokens, mask = batch["tokens"], batch["mask"]
    logits = nnx.merge(graphdef, state)(tokens, attention_mask=mask)[:, :-1]  # (B, W-1, V): tokens 1..W-1
    nll = token_nll(logits, tokens[:, 1:])  # (B, W-1)
    scored = mask[:, 1:] & mask[:, :-1] & (valid[:, None] > 0)  # (B, W-1)
    return jnp.where(scored, nll, 0.0).sum(), scored.sum()


def score_sequences(model: GPT, sequences: list[list[int]], batch_size: int = 8) -> tuple[float, int]:
    """Total NLL (nats) and scored-token count of ``sequences`` (each at most the context length); the
    first token of each sequence is context only."""
    width = max(len(s) for s in sequences)
    tokens = np.zeros((len(sequences), width), np.int32)  # (S, W) right-padded
    mask = np.zeros((len(sequences), width), bool)
    for row, seq in enumerate(sequences):
        tokens[row, : len(seq)] = seq
        mask[row, : len(seq)] = True
    graphdef, state = nnx.split(model)
    nll = functools.partial(_sequence_nll, graphdef, state)
    total, count = batched_eval(nll, {"tokens": tokens, "mask": mask}, batch_size)
    return total, int(count)
