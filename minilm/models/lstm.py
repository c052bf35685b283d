"""Long short-term memory, written out by hand (Hochreiter & Schmidhuber 1997; Gers et al. 2000), with the
additions ELMo's biLM uses (Peters et al. 2018, "Deep contextualized word representations", §3 and
Józefowicz et al. 2016): a projection of the hidden state, cell and projection clipping, residual
connections between layers.

One time step (gate order i, f, g, o -- the order of ``torch.nn.LSTM`` and AllenNLP)::

    [i; f; g; o] = x_t W_x + r_{t-1} W_r + b                 (4 gates of size H)
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)       clipped to [-cell_clip, cell_clip] if set
    h_t = sigmoid(o) * tanh(c_t)
    r_t = h_t W_p                                           projection to P < H if set, clipped to
                                                            [-proj_clip, proj_clip]; else r_t = h_t

``r_t`` is both the output and the recurrent state.  The forget-gate bias starts at 1 so that, at
initialisation, the cell keeps most of its memory (Gers et al. 2000; Józefowicz et al. 2015).

Time is a ``lax.scan``.  ``x_t W_x + b`` does not depend on the state, so it is computed for all
steps with one matrix product before the scan; only ``r_{t-1} W_r`` stays inside the loop.  This is
the sequential bottleneck of an RNN: T dependent steps, whatever the hardware.

Padding: where ``mask[b, t]`` is False the state is carried over unchanged and the output is 0, so a
padded sequence gives the same outputs on its real positions as the unpadded one.

Correspondence with ``torch.nn.LSTM`` (one layer): ``w_x = weight_ih.T``, ``w_r = weight_hh.T``,
``b = bias_ih + bias_hh``, ``w_p = weight_hr.T`` (``proj_size``).

Initialisation and dropout follow the conventions of :mod:`minilm.models.layers`, as the Transformer's.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.models.layers import dropout, uniform


class LSTMCell(nnx.Module):
    """The parameters of one LSTM layer and its one-step update.

    Weights start uniform in ``[-1/sqrt(H), 1/sqrt(H)]`` (the ``torch.nn.LSTM`` default); biases at 0
    except the forget gate's, at ``forget_bias``.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: int,
        *,
        proj_dim: int | None = None,
        cell_clip: float | None = None,
        proj_clip: float | None = None,
        forget_bias: float = 1.0,
        rngs: nnx.Rngs,
    ):
        out_dim = proj_dim or hidden
        bound = hidden**-0.5
        self.hidden, self.out_dim = hidden, out_dim
        self.cell_clip, self.proj_clip = cell_clip, proj_clip
        self.w_x = nnx.Param(uniform(rngs, (in_dim, 4 * hidden), bound))  # (D, 4H)
        self.w_r = nnx.Param(uniform(rngs, (out_dim, 4 * hidden), bound))  # (P, 4H)
        self.b = nnx.Param(jnp.zeros((4 * hidden,)).at[hidden : 2 * hidden].set(forget_bias))  # (4H,)
        self.w_p = nnx.Param(uniform(rngs, (hidden, proj_dim), bound)) if proj_dim else None  # (H, P)

    def initial_state(self, batch: int) -> tuple[jax.Array, jax.Array]:
        """(r, c) = zeros: (B, P), (B, H)."""
        return jnp.zeros((batch, self.out_dim)), jnp.zeros((batch, self.hidden))

    def input_gates(self, x: jax.Array) -> jax.Array:
        """``x W_x + b`` for any leading shape: (..., D) -> (..., 4H)."""
        gates = x @ self.w_x[...]
        return gates + self.b[...].reshape((1,) * (gates.ndim - 1) + (-1,))

    def step(
        self, state: tuple[jax.Array, jax.Array], gates_x: jax.Array, mask: jax.Array
    ) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        """One time step from precomputed input gates.

        state = (r, c): (B, P), (B, H); gates_x: (B, 4H); mask: (B,) bool.
        Returns the new state and the output (B, P) (0 where masked).
        """
        r, c = state
        z = gates_x + r @ self.w_r[...]  # (B, 4H)
        i, f, g, o = jnp.split(z, 4, axis=-1)  # each (B, H)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        if self.cell_clip is not None:
            c_new = jnp.clip(c_new, -self.cell_clip, self.cell_clip)
        r_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)  # (B, H)
        if self.w_p is not None:
            r_new = r_new @ self.w_p[...]  # (B, P)
            if self.proj_clip is not None:
                r_new = jnp.clip(r_new, -self.proj_clip, self.proj_clip)
        keep = mask[:, None]  # (B, 1)
        r_new, c_new = jnp.where(keep, r_new, r), jnp.where(keep, c_new, c)
        return (r_new, c_new), jnp.where(keep, r_new, 0.0)

    def __call__(
        self, state: tuple[jax.Array, jax.Array], x: jax.Array, mask: jax.Array
    ) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        """One time step from the input x: (B, D)."""
        return self.step(state, self.input_gates(x), mask)


class LSTMLayer(nnx.Module):
    """One LSTM layer run over a whole sequence with ``lax.scan``."""

    def __init__(self, in_dim: int, hidden: int, **cell_kwargs):
        self.cell = LSTMCell(in_dim, hidden, **cell_kwargs)

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        """x: (B, T, D), mask: (B, T) bool -> outputs (B, T, P), state starting at zero."""
        gates_x = self.cell.input_gates(x)  # (B, T, 4H): one matmul for all steps

        def body(state, inputs):
            g_t, m_t = inputs  # (B, 4H), (B,)
            return self.cell.step(state, g_t, m_t)

        time_major = (jnp.swapaxes(gates_x, 0, 1), jnp.swapaxes(mask, 0, 1))  # (T, B, 4H), (T, B)
        _, outputs = jax.lax.scan(body, self.cell.initial_state(x.shape[0]), time_major)
        return jnp.swapaxes(outputs, 0, 1)  # (B, T, P)


class LSTM(nnx.Module):
    """A stack of LSTM layers; returns every layer's outputs (ELMo mixes them).

    Layer l > 0 reads layer l-1's output (after dropout, active iff ``rngs`` is given, as in
    ``torch.nn.LSTM(dropout=...)``).  With ``residual`` each layer above the first adds its input to
    its output (ELMo: ``h_l = LSTM_l(h_{l-1}) + h_{l-1}``).
    """

    def __init__(
        self,
        in_dim: int,
        hidden: int,
        num_layers: int,
        *,
        proj_dim: int | None = None,
        cell_clip: float | None = None,
        proj_clip: float | None = None,
        forget_bias: float = 1.0,
        residual: bool = False,
        dropout: float = 0.0,
        rngs: nnx.Rngs,
    ):
        out_dim = proj_dim or hidden
        kw = dict(proj_dim=proj_dim, cell_clip=cell_clip, proj_clip=proj_clip, forget_bias=forget_bias)
        self.layers = nnx.List(
            [LSTMLayer(in_dim if l == 0 else out_dim, hidden, rngs=rngs, **kw) for l in range(num_layers)]
        )
        self.residual = residual
        self.rate = dropout

    def __call__(self, x: jax.Array, mask: jax.Array, rngs: nnx.Rngs | None = None) -> list[jax.Array]:
        """x: (B, T, D), mask: (B, T) bool -> one (B, T, P) array per layer, bottom first."""
        outputs = []
        for l, layer in enumerate(self.layers):
            if l > 0:
                x = dropout(outputs[-1], self.rate, rngs)
            h = layer(x, mask)
            if self.residual and l > 0:
                h = h + x * mask[..., None]  # padded positions stay 0
            outputs.append(h)
        return outputs


def load_torch_weights(lstm: LSTM, state: dict[str, np.ndarray]) -> None:
    """Copy a ``torch.nn.LSTM`` ``state_dict`` (as NumPy arrays, batch_first or not) into ``lstm``.

    Both use gate order i, f, g, o, so the mapping is transposes and the sum of torch's two biases.
    """
    for l, layer in enumerate(lstm.layers):
        cell = layer.cell
        cell.w_x[...] = jnp.asarray(state[f"weight_ih_l{l}"].T)
        cell.w_r[...] = jnp.asarray(state[f"weight_hh_l{l}"].T)
        cell.b[...] = jnp.asarray(state[f"bias_ih_l{l}"] + state[f"bias_hh_l{l}"])
        if cell.w_p is not None:
            cell.w_p[...] = jnp.asarray(state[f"weight_hr_l{l}"].T)
