"""The faster ways to reach the circuit's steady states give the same updates as the Brian2 integration."""
import numpy as np
import pytest

from plastlab.errors import ConfigError
from plastlab.learn.circuit_params import CircuitParams
from plastlab.learn.disinhibitory import DisinhibitoryCircuit
from plastlab.learn.steady_state import closed_loop_steady_state

SIZES = [3, 5, 2]


def _batch(seed=3, n=4):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, SIZES[0]))
    T = np.full((n, SIZES[-1]), 0.01)
    T[np.arange(n), rng.integers(0, SIZES[-1], n)] = 0.99
    return X, T


def _one_batch(rule="disinhibitory", schedule="one_run", sizes=SIZES, **params):
    """Raw rule change (optimizer sgd, eta 1) of every layer after one minibatch, and the open-loop outputs."""
    X, T = _batch()
    table = dict(dict(dt=5.0, optimizer="sgd", eta=1.0), **params)
    net = DisinhibitoryCircuit(sizes, rule=rule, copies=len(X), seed=1, params=table)
    start = [(W.copy(), b.copy()) for W, b in net.weights]
    out = net.present(X, T, learn=True, schedule=schedule)
    change = [x - x0 for (W, b), (W0, b0) in zip(net.weights, start) for x, x0 in ((W, W0), (b, b0))]
    return change, out, net.last_steps


def _relative(a, b):
    scale = max(np.abs(x).max() for x in b)
    return max(np.abs(x - y).max() for x, y in zip(a, b)) / scale


def test_one_run_gives_the_same_numbers_as_a_run_per_batch():
    one, out_one, steps_one = _one_batch(schedule="one_run")
    per_batch, out_per_batch, steps_per_batch = _one_batch(schedule="run_per_batch")
    assert max(np.abs(c).max() for c in one) > 1e-6  # the rule did change the weights
    assert all(np.array_equal(a, b) for a, b in zip(one, per_batch))
    assert np.array_equal(out_one, out_per_batch) and steps_one == steps_per_batch


@pytest.mark.parametrize("rule, sizes", [("disinhibitory", SIZES), ("disinhibitory_linear", SIZES),
                                         ("disinhibitory", [3, 4, 4, 2])])
def test_newton_fixed_points_give_the_updates_of_the_integrated_circuit(rule, sizes):
    # Integrated to a tight tolerance, Brian2's Euler dynamics reach the fixed point Newton solves for: the
    # rule's updates (evaluated by Brian2 in both cases) agree to ~1e-6; at the default tolerance they differ by
    # about the tolerance itself.
    newton, out_newton, steps = _one_batch(rule, sizes=sizes, steady_state="newton")
    tight, out_tight, steps_tight = _one_batch(rule, sizes=sizes, rtol=1e-9, atol=1e-12, t_max=20000.0)
    default, _, _ = _one_batch(rule, sizes=sizes)
    assert steps[0]["newton"] <= 10 and "newton_failed" not in steps[0]
    assert steps_tight[0]["closed"] > 100  # the integration really ran to the tight tolerance
    assert _relative(newton, tight) < 1e-6
    assert np.abs(out_newton - out_tight).max() < 1e-6
    assert 1e-7 < _relative(newton, default) < 1e-2


def test_closed_loop_solution_is_a_fixed_point_of_the_equations():
    X, T = _batch()
    params = CircuitParams.from_dict({"dt": 5.0})
    rng = np.random.default_rng(0)
    weights = [(rng.normal(0, 1, (3, 5)), rng.normal(0, 0.1, 5)), (rng.normal(0, 1, (5, 2)), np.zeros(2))]
    Q = [rng.normal(0, 1, (len(X), 2, 5))]
    closed = np.array([True, True, True, False])
    start = np.zeros((len(X), 12))
    (u_E, u_I), y = (state := closed_loop_steady_state(weights, X, T, Q, params, closed, start))[0]
    c_int, c, _, converged = state[1:]
    assert converged.all()
    phi = lambda u: np.log1p(np.exp(u))  # noqa: E731 (beta = 1)
    z = np.exp(y) / np.exp(y).sum(axis=1, keepdims=True)
    error = T - z
    assert np.allclose(c, np.where(closed[:, None], (params.k_p + params.k_i / params.lam) * error, 0), atol=1e-9)
    assert np.allclose(c_int[closed], error[closed] / params.lam, atol=1e-9) and np.all(c_int[~closed] == 0)
    assert np.allclose(u_E, X @ weights[0][0] + weights[0][1] - phi(u_I), atol=1e-9)
    assert np.allclose(u_I, phi(u_E) - np.einsum("bk,bkn->bn", c, Q[0]), atol=1e-9)
    assert np.allclose(y, phi(u_E) @ weights[1][0] + c, atol=1e-9)


@pytest.mark.parametrize("option", [{"readout": "microcircuit"}, {"phases": "fixed"}, {"lam": 0.0}])
def test_newton_is_refused_where_the_fixed_point_equations_do_not_apply(option):
    with pytest.raises(ConfigError, match="newton"):
        CircuitParams.from_dict(dict({"steady_state": "newton"}, **option))


@pytest.mark.parametrize("name", ["yinyang", "yinyang_linear", "digits", "digits_linear"])
def test_classification_files_default_to_the_published_settings_and_keep_the_fast_ones_named(name):
    from pathlib import Path

    from plastlab.experiments.disinhibitory import validate
    from plastlab.experiments.registry import load_experiment
    folder = Path(__file__).parent.parent / "experiments"
    published = validate(load_experiment(folder / f"disinhibitory_{name}.toml").config)
    fast = validate(load_experiment(folder / f"disinhibitory_{name}_fast.toml").config)
    settings = (published["circuit"].lr, published["epochs"], published["batch"], published["bp_lr"])
    assert settings == (1e-3, 50, 100, 1e-3)
    assert published["circuit"].steady_state == "newton" and fast["circuit"].steady_state == "integrate"
    assert (fast["circuit"].lr, fast["epochs"], fast["bp_lr"]) == (0.03, 6, 0.03)
    assert fast["name"] == f"disinhibitory_{name}_fast"
