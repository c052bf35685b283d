"""The small layers every model in :mod:`minilm.models` is built from, and the conventions they share.

- **Initialisation**: :func:`normal` and :func:`uniform` draw float32 arrays with ``jax.random`` from the
  ``params`` stream of an ``nnx.Rngs`` (one key per parameter, in the order the modules create them),
  so a seed fixes every initial value and no global random state is involved.
- **Dropout** (Srivastava et al. 2014): :func:`dropout`, active iff an ``nnx.Rngs`` is passed (stream
  ``dropout``, else ``default``); evaluation passes none.
- :class:`Dense` and :class:`Embedding`: ``y = x W + b`` and a lookup table whose transpose is the
  tied LM head.
- :func:`gelu` (Hendrycks & Gimpel 2016) and :func:`layer_norm` / :class:`LayerNorm` (Ba et al. 2016),
  with hand-written backward passes (custom VJPs): one elementwise / one row-wise pass each, where
  autodiff of the textbook formulas takes several on a CPU.

Speed on CPU: dense layers flatten (..., D) -> (N, D) and multiply a 2-D matrix, so XLA emits plain GEMMs
for the forward and both backward products (weight gradient = x^T dy over the N rows).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from flax import nnx

# ------------------------------------------------------------------------------- initialisation, dropout


def normal(rngs: nnx.Rngs, shape: tuple[int, ...], std: float) -> jax.Array:
    """N(0, std^2) in float32, from the next ``params`` key."""
    return std * jax.random.normal(rngs.params(), shape, jnp.float32)


def uniform(rngs: nnx.Rngs, shape: tuple[int, ...], bound: float) -> jax.Array:
    """U(-bound, bound) in float32, from the next ``params`` key (PyTorch's default for LSTM, Linear
    and Conv1d weights: bound = 1/sqrt(fan))."""
    return jax.random.uniform(rngs.params(), shape, jnp.float32, -bound, bound)


def dropout(x: jax.Array, rate: float, rngs: nnx.Rngs | None) -> jax.Array:
    """Inverted dropout: zero each element with probability ``rate``, scale the rest by 1/(1-rate).

    The identity when ``rngs`` is None (evaluation) or ``rate`` is 0."""
    if rngs is None or rate == 0.0:
        return x
    keep = jax.random.bernoulli(rngs.dropout(), 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


# ------------------------------------------------------------------------------------ Dense, Embedding


class Dense(nnx.Module):
    """``y = x W + b`` with W (d_in, d_out) ~ N(0, std^2), b = 0. Any leading shape is flattened to one
    GEMM, (N, d_in) @ W, computed in ``dtype`` (the parameters stay float32).

    ``param``: the Variable type of W and b (a fine-tuning method marks its new layers with its own
    ``nnx.Param`` subclass).  ``rngs`` in the call is unused here: the Transformer's projections pass
    their dropout stream, so a module that wraps one of them (LoRA's dropout) receives it."""

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        bias: bool,
        std: float,
        dtype: str,
        rngs: nnx.Rngs,
        param: type[nnx.Param] = nnx.Param,
    ):
        self.kernel = param(normal(rngs, (d_in, d_out), std))
        self.bias = param(jnp.zeros((d_out,), jnp.float32)) if bias else None
        self.dtype = dtype

    def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        lead = x.shape[:-1]
        y = x.reshape(-1, x.shape[-1]).astype(self.dtype) @ self.kernel[...].astype(self.dtype)  # (N, d_out)
        if self.bias is not None:
            y = y + self.bias[...].astype(self.dtype)[None, :]
        return y.reshape(*lead, y.shape[-1])


class Embedding(nnx.Module):
    """A lookup table (n, D) ~ N(0, std^2); ``attend`` multiplies by its transpose (the tied LM head)."""

    def __init__(self, n: int, d: int, *, std: float, rngs: nnx.Rngs):
        self.embedding = nnx.Param(normal(rngs, (n, d), std))

    def __call__(self, ids: jax.Array) -> jax.Array:
        return jnp.take(self.embedding[...], ids, axis=0)  # out-of-range ids give NaN, never a silent row

    def attend(self, h: jax.Array) -> jax.Array:
        """(..., D) -> (..., n): ``h E^T`` as one GEMM over the flattened leading axes."""
        lead = h.shape[:-1]
        e = self.embedding[...].astype(h.dtype)
        y = jax.lax.dot_general(h.reshape(-1, h.shape[-1]), e, (((1,), (1,)), ((), ())))
        return y.reshape(*lead, e.shape[0])


# ------------------------------------------------------------------------------------------------ GELU

# GELU (Hendrycks & Gimpel 2016): ``x Φ(x)``.  Exact (BERT, PyTorch's default): Φ(x) = (1 + erf(x/√2))/2;
# tanh approximation (GPT-2's gelu_new): Φ(x) ≈ (1 + tanh(√(2/π) (x + 0.044715 x³)))/2.  The custom VJP
# keeps Φ (or the tanh) from the forward pass so the backward is one elementwise pass,
# d/dx x Φ(x) = Φ(x) + x φ(x); autodiff of jax.nn.gelu recomputes erfc/tanh in three passes on CPU.
_SQRT_HALF = 1.0 / math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_A = 0.044715


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def gelu(x: jax.Array, approximate: bool) -> jax.Array:
    """GELU, exact (``approximate=False``) or tanh-approximate; same shape as x."""
    return _gelu_fwd(x, approximate)[0]


def _gelu_fwd(x: jax.Array, approximate: bool) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    if approximate:
        t = jnp.tanh(_SQRT_2_OVER_PI * (x + _GELU_A * x * x * x))
        return 0.5 * x * (1.0 + t), (x, t)
    cdf = 0.5 * (1.0 + jax.lax.erf(x * _SQRT_HALF))
    return x * cdf, (x, cdf)


def _gelu_bwd(approximate: bool, res: tuple[jax.Array, jax.Array], g: jax.Array) -> tuple[jax.Array]:
    x, u = res
    if approximate:  # u = tanh(z), z = c (x + a x³): (1 + u)/2 + x/2 (1 - u²) c (1 + 3 a x²)
        slope = 0.5 * (1.0 + u) + 0.5 * x * (1.0 - u * u) * _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_A * x * x)
    else:  # u = Φ(x): Φ(x) + x φ(x)
        slope = u + x * jnp.exp(-0.5 * x * x) * _INV_SQRT_2PI
    return (g * slope,)


gelu.defvjp(_gelu_fwd, _gelu_bwd)


# ------------------------------------------------------------------------------------------- LayerNorm


# LayerNorm (Ba et al. 2016) without the shift: ``y = x̂ γ`` with ``x̂ = (x - mean) / sqrt(var + eps)`` per row.
# Closed-form backward (one pass, as in fused kernels), with gγ = g γ:
#   dx = (gγ - mean(gγ) - x̂ mean(gγ x̂)) / sqrt(var + eps),   dγ = Σ_rows g x̂.
@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def layer_norm(x: jax.Array, scale: jax.Array, eps: float) -> jax.Array:
    """x (N, D) float32, scale (D,) -> (N, D)."""
    return _layer_norm_fwd(x, scale, eps)[0]


def _layer_norm_fwd(x: jax.Array, scale: jax.Array, eps: float) -> tuple[jax.Array, tuple]:
    centred = x - x.mean(-1, keepdims=True)  # (N, D)
    inv_std = jax.lax.rsqrt(jnp.square(centred).mean(-1, keepdims=True) + eps)  # (N, 1)
    x_hat = centred * inv_std
    return x_hat * scale[None, :], (x_hat, inv_std, scale)


def _layer_norm_bwd(eps: float, res: tuple, g: jax.Array) -> tuple[jax.Array, jax.Array]:
    x_hat, inv_std, scale = res
    gs = g * scale[None, :]  # (N, D)
    dx = inv_std * (gs - gs.mean(-1, keepdims=True) - x_hat * (gs * x_hat).mean(-1, keepdims=True))
    return dx, (g * x_hat).sum(0)


layer_norm.defvjp(_layer_norm_fwd, _layer_norm_bwd)


class LayerNorm(nnx.Module):
    """``layer_norm(x) γ + β`` over the last axis, computed in float32 whatever the compute dtype."""

    def __init__(self, d: int, *, eps: float, bias: bool):
        self.scale = nnx.Param(jnp.ones((d,), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((d,), jnp.float32)) if bias else None
        self.eps = eps

    def __call__(self, x: jax.Array) -> jax.Array:
        y = layer_norm(x.reshape(-1, x.shape[-1]).astype(jnp.float32), self.scale[...], self.eps)  # (N, D)
        if self.bias is not None:
            y = y + self.bias[...][None, :]
        return y.reshape(x.shape).astype(x.dtype)
