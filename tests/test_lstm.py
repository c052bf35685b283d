"""The hand-written LSTM against torch.nn.LSTM (golden fixture + live), the textbook step of
:mod:`minilm.reference`, finite differences, masking."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

import minilm.reference as reference
from minilm.models.lstm import LSTM, LSTMCell, LSTMLayer, load_torch_weights

FIXTURES = Path(__file__).parent / "fixtures"
TOL = dict(rtol=1e-5, atol=1e-5)


def _fixture_module():
    spec = importlib.util.spec_from_file_location("make_lstm_fixture", FIXTURES / "make_lstm_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _fixture_module()


def _compare_with_torch(
    case: dict[str, np.ndarray], in_dim: int, hidden: int, layers: int, proj: int
) -> None:
    """Load torch's weights, check outputs and the gradients of sum(y * g) w.r.t. x and every weight."""
    lstm = LSTM(in_dim, hidden, layers, proj_dim=proj or None, forget_bias=0.0, rngs=nnx.Rngs(0))
    load_torch_weights(lstm, case)
    graphdef, params = nnx.split(lstm)
    x, g = jnp.asarray(case["x"]), jnp.asarray(case["g"])
    mask = jnp.ones(x.shape[:2], dtype=bool)

    def objective(params, x):
        y = nnx.merge(graphdef, params)(x, mask)[-1]
        return jnp.sum(y * g), y

    grad_fn = jax.jit(jax.value_and_grad(objective, argnums=(0, 1), has_aux=True))
    (_, y), (grad_params, grad_x) = grad_fn(params, x)
    np.testing.assert_allclose(y, case["y"], **TOL)
    np.testing.assert_allclose(grad_x, case["grad.x"], **TOL)
    for l in range(layers):
        cell = grad_params["layers"][l]["cell"]
        np.testing.assert_allclose(cell["w_x"][...].T, case[f"grad.weight_ih_l{l}"], **TOL)
        np.testing.assert_allclose(cell["w_r"][...].T, case[f"grad.weight_hh_l{l}"], **TOL)
        # torch adds bias_ih and bias_hh: each gets the gradient of their sum, our single bias
        np.testing.assert_allclose(cell["b"][...], case[f"grad.bias_ih_l{l}"], **TOL)
        if proj:
            np.testing.assert_allclose(cell["w_p"][...].T, case[f"grad.weight_hr_l{l}"], **TOL)


@pytest.mark.parametrize("name", list(MAKE.CASES))
def test_matches_torch_golden_fixture(name: str) -> None:
    with np.load(FIXTURES / "lstm_torch.npz", allow_pickle=False) as data:
        case = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith(f"{name}/")}
    _compare_with_torch(case, *MAKE.CASES[name])


@pytest.mark.parametrize("name", list(MAKE.CASES))
def test_matches_torch_live(name: str) -> None:
    pytest.importorskip("torch")
    _compare_with_torch(MAKE.torch_lstm_case(1234, *MAKE.CASES[name]), *MAKE.CASES[name])


def test_init_forget_bias_one_and_torch_uniform_bounds() -> None:
    cell = LSTMCell(3, 8, proj_dim=4, rngs=nnx.Rngs(0))
    expected_bias = np.concatenate([np.zeros(8), np.ones(8), np.zeros(16)])  # gates i, f, g, o
    np.testing.assert_array_equal(cell.b[...], expected_bias)
    for w in (cell.w_x, cell.w_r, cell.w_p):
        assert float(jnp.abs(w[...]).max()) <= 8**-0.5


def test_layer_matches_reference_with_projection_clipping_and_padding() -> None:
    """The scan with precomputed input gates = the textbook step applied T times (lstm_sequence)."""
    kw = dict(proj_dim=3, cell_clip=0.8, proj_clip=0.25)
    layer = LSTMLayer(4, 5, rngs=nnx.Rngs(3), **kw)
    cell = layer.cell
    x = 3.0 * np.random.default_rng(4).normal(size=(3, 6, 4)).astype(np.float32)  # large: the clips bind
    mask = np.arange(6)[None, :] < np.array([6, 4, 1])[:, None]  # (B, T)
    got = nnx.jit(lambda m, x, mask: m(x, mask))(layer, jnp.asarray(x), jnp.asarray(mask))
    w_x, w_r, b, w_p = (np.asarray(p[...]) for p in (cell.w_x, cell.w_r, cell.b, cell.w_p))
    expected = reference.lstm_sequence(x, w_x, w_r, b, mask, w_p=w_p, cell_clip=0.8, proj_clip=0.25)
    unclipped = reference.lstm_sequence(x, w_x, w_r, b, mask, w_p=w_p)
    assert np.abs(unclipped).max() > 0.25 and not np.allclose(
        reference.lstm_sequence(x, w_x, w_r, b, mask, w_p=w_p, proj_clip=0.25), expected
    )  # both clips change the outputs
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_cell_gradients_match_finite_differences() -> None:
    """Every path of the cell: gates, cell state, projection (without projection: the torch tests)."""
    proj_dim = 3
    cell = LSTMCell(4, 5, proj_dim=proj_dim, rngs=nnx.Rngs(1))
    graphdef, params = nnx.split(cell)
    k1, k2, k3 = jax.random.split(jax.random.key(2), 3)
    r = jax.random.normal(k1, (2, proj_dim))
    c = jax.random.normal(k2, (2, 5))
    x = jax.random.normal(k3, (2, 4))
    mask = jnp.array([True, True])

    @jax.jit
    def step(params, r, c, x):
        (r_new, c_new), out = nnx.merge(graphdef, params)((r, c), x, mask)
        return jnp.sum(jnp.sin(r_new)) + jnp.sum(c_new**2) + jnp.sum(out)

    check_grads(step, (params, r, c, x), order=1, modes=["rev"], eps=1e-3, atol=2e-2, rtol=2e-2)


def test_clipping_bounds_cell_and_projection() -> None:
    cell = LSTMCell(4, 6, proj_dim=3, cell_clip=0.05, proj_clip=0.01, rngs=nnx.Rngs(0))
    x = 10.0 * jax.random.normal(jax.random.key(0), (5, 4))
    (r, c), out = cell(cell.initial_state(5), x, jnp.ones((5,), dtype=bool))
    assert float(jnp.abs(c).max()) == pytest.approx(0.05)  # large inputs: the clip is reached
    assert float(jnp.abs(r).max()) <= 0.01 + 1e-7
    np.testing.assert_array_equal(out, r)


def test_padding_does_not_change_real_positions() -> None:
    """Rows unpadded (grouped by length) == the same rows inside a padded batch (garbage in the pads)."""
    lstm = LSTM(4, 6, 2, proj_dim=5, cell_clip=3.0, proj_clip=3.0, residual=True, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(lstm)
    run = jax.jit(lambda x, mask: nnx.merge(graphdef, params)(x, mask))
    lengths = [6, 2, 2]
    x = jax.random.normal(jax.random.key(1), (3, 6, 4))
    padded = run(x, jnp.arange(6)[None, :] < jnp.array(lengths)[:, None])
    for rows, n in ((slice(0, 1), 6), (slice(1, 3), 2)):
        alone = run(x[rows, :n], jnp.ones((2 if n == 2 else 1, n), dtype=bool))
        for layer_padded, layer_alone in zip(padded, alone, strict=True):
            np.testing.assert_allclose(layer_padded[rows, :n], layer_alone, rtol=1e-6, atol=1e-6)
            np.testing.assert_array_equal(layer_padded[rows, n:], 0.0)


def test_residual_adds_layer_input() -> None:
    """With residual, layer 2 = LSTM_2(layer 1) + layer 1, with the same weights as without."""
    plain = LSTM(3, 4, 2, rngs=nnx.Rngs(0))
    res = LSTM(3, 4, 2, residual=True, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (2, 5, 3))
    mask = jnp.ones((2, 5), dtype=bool)
    (p1, p2), (r1, r2) = jax.jit(lambda x: (plain(x, mask), res(x, mask)))(x)
    np.testing.assert_allclose(r1, p1, rtol=1e-6)
    np.testing.assert_allclose(r2, p2 + p1, rtol=1e-6, atol=1e-6)


def test_dropout_between_layers_only_with_rngs() -> None:
    lstm = LSTM(3, 4, 2, dropout=0.5, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (2, 5, 3))
    mask = jnp.ones((2, 5), dtype=bool)
    run = jax.jit(lambda m, key: m(x, mask, nnx.Rngs(dropout=key)))
    (a1, a2), (b1, b2), (c1, c2) = (run(lstm, jax.random.key(k)) for k in (1, 1, 2))
    clean1, clean2 = jax.jit(lambda m: m(x, mask))(lstm)
    np.testing.assert_array_equal(a1, clean1)  # the first layer reads its input undropped
    np.testing.assert_array_equal(a2, b2)  # same key, same mask
    assert not np.allclose(a2, c2) and not np.allclose(a2, clean2)
