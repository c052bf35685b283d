"""The biLM objective of ELMo: the training loss and held-out perplexity in each direction.

Peters et al. 2018, "Deep contextualized word representations", §3.1, eq. 1: the forward and backward
LMs are trained jointly, maximising

    sum_k ( log p(t_k | t_1..t_{k-1}) + log p(t_k | t_{k+1}..t_N) )

Here the loss is the mean of the two directions' mean token NLL.  Both directions' summed NLL comes from
:func:`minilm.models.elmo.bilm_nll`, which runs the model's parts (shared encoder, the two LSTMs over
shifted inputs, the shared softmax) and so stays with the model.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.metrics.perplexity import perplexity
from minilm.models.elmo import BiLM, bilm_nll
from minilm.objectives.evaluate import batched_eval


def bilm_loss(
    model: BiLM, batch: dict[str, jax.Array], rngs: nnx.Rngs | None = None
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Loss = (mean forward NLL + mean backward NLL) / 2, with each direction's mean NLL logged."""
    sum_fwd, sum_bwd, count = bilm_nll(model, batch, rngs)
    count = jnp.maximum(count, 1)
    nll_fwd, nll_bwd = sum_fwd / count, sum_bwd / count
    return 0.5 * (nll_fwd + nll_bwd), {"nll_fwd": nll_fwd, "nll_bwd": nll_bwd}


def bilm_evaluator(model: BiLM):
    """``evaluate(model, batches) -> {"nll_fwd", "nll_bwd", "ppl_fwd", "ppl_bwd", "tokens"}`` (mean NLL
    in nats per predicted token and perplexity, per direction), one compiled function for all batches.

    ``batches``: equal-shaped dicts of "tokens" (B, T+1), "lengths" (B,) (and "chars"), e.g. the
    held-out windows of ``train.py elmo``; their rows go through B at a time, in order.
    """
    graphdef = nnx.graphdef(model)

    @jax.jit
    def sums(state, batch, valid):  # rows (b, ...), (b,) -> 3 x ()
        lengths = jnp.where(valid > 0, batch["lengths"], 1)  # a filler row of length 1 predicts nothing
        return bilm_nll(nnx.merge(graphdef, state), {**batch, "lengths": lengths})

    def evaluate(m: BiLM, batches: list[dict[str, np.ndarray]]) -> dict[str, float]:
        rows = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}  # (n_batches * B, ...)
        batch_size = len(batches[0]["tokens"])
        sum_fwd, sum_bwd, count = batched_eval(functools.partial(sums, nnx.state(m)), rows, batch_size)
        n = int(count)
        return {
            "nll_fwd": sum_fwd / n,
            "nll_bwd": sum_bwd / n,
            "ppl_fwd": perplexity(sum_fwd, n),
            "ppl_bwd": perplexity(sum_bwd, n),
            "tokens": n,
        }

    return evaluate
