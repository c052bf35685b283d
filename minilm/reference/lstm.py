"""The LSTM step and a sequence, gate order i, f, g, o (torch.nn.LSTM's and minilm.models.lstm's).

Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000; the projection r_t = h_t W_p
(and the clipping) of Sak et al. 2014 / Józefowicz et al. 2016, as ELMo uses it.
Shapes: B batch, D input, H hidden (cell) size, P output size (P = H without a projection).
"""

from __future__ import annotations

import numpy as np

from minilm.reference.layers import sigmoid


#   [i; f; g; o] = x_t W_x + r_{t-1} W_r + b
#   c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)          clipped to [-cell_clip, cell_clip] if given
#   h_t = sigmoid(o) * tanh(c_t)
#   r_t = h_t W_p (clipped to [-proj_clip, proj_clip] if given) with a projection, else r_t = h_t
def lstm_step(
    x: np.ndarray,
    r: np.ndarray,
    c: np.ndarray,
    w_x: np.ndarray,
    w_r: np.ndarray,
    b: np.ndarray,
    w_p: np.ndarray | None = None,
    cell_clip: float | None = None,
    proj_clip: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """x (B, D), r (B, P), c (B, H), w_x (D, 4H), w_r (P, 4H), b (4H,), w_p (H, P).

    Returns (r_t (B, P), c_t (B, H))."""
    x, r, c, w_x, w_r, b = (np.asarray(a, np.float64) for a in (x, r, c, w_x, w_r, b))
    i, f, g, o = np.split(x @ w_x + r @ w_r + b, 4, axis=-1)  # each (B, H)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    if cell_clip is not None:
        c = np.clip(c, -cell_clip, cell_clip)
    h = sigmoid(o) * np.tanh(c)  # (B, H)
    if w_p is None:
        return h, c
    r = h @ np.asarray(w_p, np.float64)  # (B, P)
    return (r if proj_clip is None else np.clip(r, -proj_clip, proj_clip)), c


# The step applied for t = 1..T from r_0 = 0, c_0 = 0.  Where mask[b, t] is False (padding) the state
# is carried over unchanged and the output is 0, so padding never changes the real positions.
def lstm_sequence(
    xs: np.ndarray,
    w_x: np.ndarray,
    w_r: np.ndarray,
    b: np.ndarray,
    mask: np.ndarray | None = None,
    **step_kwargs,
) -> np.ndarray:
    """xs (B, T, D), mask (B, T) bool or None -> outputs r_1..r_T (B, T, P); ``step_kwargs`` as lstm_step."""
    batch, steps = np.shape(xs)[:2]
    hidden = np.shape(w_r)[1] // 4
    r, c = np.zeros((batch, np.shape(w_r)[0])), np.zeros((batch, hidden))  # (B, P), (B, H)
    keep = np.ones((batch, steps), bool) if mask is None else np.asarray(mask, bool)  # (B, T)
    outputs = []
    for t in range(steps):
        r_new, c_new = lstm_step(xs[:, t], r, c, w_x, w_r, b, **step_kwargs)
        r = np.where(keep[:, t, None], r_new, r)
        c = np.where(keep[:, t, None], c_new, c)
        outputs.append(np.where(keep[:, t, None], r, 0.0))
    return np.stack(outputs, axis=1)  # (B, T, P)
