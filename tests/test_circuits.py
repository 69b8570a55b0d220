"""The dis-inhibitory microcircuit: rule files, Brian2 dynamics, the published protocol, the backprop baseline,
data splits, experiments and bad input."""
import numpy as np
import pytest

from plastlab import DataError, RuleError, load_rule
from plastlab.datasets import load as load_data
from plastlab.datasets import yinyang, yinyang_class
from plastlab.errors import ConfigError
from plastlab.experiments.disinhibitory import run_disinhibitory_experiment, validate
from plastlab.learn.backprop import backprop_gradients
from plastlab.learn.circuit_maths import init_weights, linearised_inverse, softplus, softplus_inverse, softplus_slope
from plastlab.learn.circuit_params import CircuitParams
from plastlab.learn.disinhibitory import DisinhibitoryCircuit, check_rule, plasticity_curves
from plastlab.learn.optim import Adam
from plastlab.learn.steady_state import steady_state_forward

X4 = np.array([[0.2, 0.8, 0.5], [0.9, 0.1, 0.3], [0.5, 0.5, 0.5], [0.0, 1.0, 0.2]])
T4 = np.array([[0.99, 0.01], [0.01, 0.99], [0.01, 0.99], [0.99, 0.01]])


def sigmoid(u):
    return 1 / (1 + np.exp(-u))


def _small(rule="disinhibitory", copies=4, seed=0, sizes=(3, 5, 2), **params):
    return DisinhibitoryCircuit(list(sizes), rule=rule, params=params, copies=copies, seed=seed)


# --- rule files -----------------------------------------------------------------------------------------------

def test_rule_files_are_continuous_rules_reading_the_circuit():
    exact, linear = load_rule("disinhibitory"), load_rule("disinhibitory_linear")
    for rule in (exact, linear):
        assert rule.form == "continuous" and check_rule(rule) is rule
    assert {i.variable for i in linear.inputs.values() if i.source == "post"} >= {"theta_lin", "delta_lin"}
    readout = load_rule("disinhibitory_readout")
    assert {i.variable for i in readout.inputs.values()} == {"plastic", "r", "I_ff"}


@pytest.mark.parametrize("name", ["disinhibitory", "disinhibitory_linear"])
def test_brian2_curves_equal_the_closed_form(name):
    r_E, r_I = np.array([0.1, 0.5, 1.0, 2.0, 4.0]), np.array([0.8, 1.6])
    dw, mE, mI = plasticity_curves(name, r_E, r_I, params=dict(dt=0.1, eta=1.0, tau_E=10.0), t_settle=30.0,
                                   t_window=0.2)
    np.testing.assert_allclose(mE, np.broadcast_to(r_E, mE.shape), rtol=1e-6)  # held at the requested rates
    np.testing.assert_allclose(mI, np.broadcast_to(r_I[:, None], mI.shape), rtol=1e-6)
    threshold = softplus_inverse(r_I)[:, None] if name == "disinhibitory" else 1.5 + 1.5 * r_I[:, None]
    expected = sigmoid(softplus_inverse(r_E))[None, :] * (r_E[None, :] - threshold)
    np.testing.assert_allclose(dw, expected, rtol=1e-3, atol=1e-5)


def test_exact_inverse_threshold_rises_with_inhibition():
    r_E = np.linspace(0.2, 3.0, 15)
    dw, _, _ = plasticity_curves("disinhibitory", r_E, [0.8, 2.0], params=dict(dt=0.2, tau_E=10.0), t_settle=30.0,
                                 t_window=0.4)
    crossings = [r_E[np.argmax(row > 0)] for row in dw]  # first r_E with potentiation
    assert dw[0, 0] < 0 and dw[0, -1] > 0  # BCM-like: depression at low, potentiation at high r_E
    assert crossings[1] > crossings[0]


# --- the published circuit ---------------------------------------------------------------------------------------

def test_defaults_are_the_published_values():
    p = CircuitParams()
    assert (p.tau_E, p.tau_I, p.tau_C, p.k_p, p.k_i, p.lam) == (20.0, 5.0, 100.0, 0.2, 0.4, 1.0)
    assert (p.readout, p.error, p.feedback, p.optimizer, p.lr, p.phases, p.linearise) == \
        ("linear", "softmax", "jacobian", "adam", 1e-3, "steady_state", "batch_mean")
    circuit = _small()
    assert "u_E" not in circuit.network.out.variables and len(circuit.network.b_syn) == 1  # linear readout, no bias


def test_phases_run_to_steady_state_and_the_rule_bracket_is_the_control():
    circuit = _small(copies=4, dt=1.0, k_p=2.0, k_i=2.0)
    circuit.present(X4, T4, learn=True)
    steps = circuit.last_steps[0]
    assert 50 < steps["open"] < 2000 and 50 < steps["closed"] < 2000  # stopped by the tolerance, not t_max
    hidden, ctrl = circuit.network.layers[0], circuit.network.ctrl
    np.testing.assert_allclose(np.asarray(hidden.r[:]) - np.asarray(hidden.u_I[:]), np.asarray(hidden.top[:]),
                               atol=1e-3)  # at the closed-loop steady state the exact-inverse bracket is Q c
    y, c = np.asarray(circuit.network.out.r[:]), np.asarray(ctrl.c[:])
    np.testing.assert_allclose(y - np.asarray(circuit.network.out.I_ff[:]), c, atol=1e-3)  # the readout receives c
    p = np.exp(y.reshape(4, 2)) / np.exp(y.reshape(4, 2)).sum(1, keepdims=True)
    np.testing.assert_allclose(np.asarray(ctrl.err[:]).reshape(4, 2), T4 - p, atol=1e-5)  # softmax error
    fixed = _small(copies=4, dt=1.0, phases="fixed", t_open=30.0, t_closed=20.0)
    fixed.present(X4, T4, learn=True)
    assert fixed.last_steps[0] == {"open": 30, "closed": 20}


def test_open_loop_output_is_the_steady_state_network():
    circuit = _small(copies=4, dt=1.0)
    expected, _ = steady_state_forward(circuit.weights, X4)
    np.testing.assert_allclose(circuit.present(X4), expected, atol=2e-3)


def test_the_circuit_update_follows_the_backprop_gradient():
    """Weak control: the rules' minibatch change is close to the negative gradient of the cross-entropy."""
    sizes = [3, 8, 2]
    weights = init_weights(sizes, np.random.default_rng(1), 1.5)
    circuit = DisinhibitoryCircuit(sizes, copies=4, weights=weights, params=dict(dt=1.0, k_p=0.02, k_i=0.04))
    circuit.present(X4, T4, learn=True)
    _, grads = backprop_gradients(weights, X4, T4)
    handed = circuit.optimizer.m  # Adam's first moment after one step: 0.1 * the direction it was given
    for k in range(2):
        cosine = np.sum(handed[2 * k] * grads[k][0]) / np.linalg.norm(handed[2 * k]) / np.linalg.norm(grads[k][0])
        assert cosine > (0.9 if k == 0 else 0.999)


def test_minibatch_direction_is_the_mean_of_single_sample_directions():
    directions = []
    for k in range(2):
        single = _small(copies=1, dt=1.0, phases="fixed", t_open=60.0, t_closed=60.0)
        single.present(X4[k:k + 1], T4[k:k + 1], learn=True)
        directions.append(single.optimizer.m[0])
    batch = _small(copies=3, dt=1.0, phases="fixed", t_open=60.0, t_closed=60.0)  # one copy idle: must not count
    batch.present(X4[:2], T4[:2], learn=True)
    np.testing.assert_allclose(batch.optimizer.m[0], np.mean(directions, axis=0), rtol=1e-6, atol=1e-12)


def test_linear_threshold_is_linearised_around_the_minibatch_inhibition():
    intercept, slope = linearised_inverse(np.array([0.8]))
    for r in (0.8, 0.8001):  # exact at r0, first order around it
        np.testing.assert_allclose(intercept + slope * r, softplus_inverse(r), atol=1e-7)
    circuit = _small("disinhibitory_linear", copies=4, dt=1.0)
    circuit.present(X4, T4, learn=True)
    hidden = circuit.network.layers[0]
    theta, delta = linearised_inverse(circuit.inhibition[0])
    np.testing.assert_allclose(np.asarray(hidden.theta_lin[:5]), theta)
    np.testing.assert_allclose(np.asarray(hidden.delta_lin[:5]), delta)
    assert np.ptp(circuit.inhibition[0]) > 0  # one linearisation point per neuron


@pytest.mark.slow
def test_learning_reduces_the_loss_and_is_reproducible():
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, (8, 3))
    labels = (X[:, 0] > X[:, 1]).astype(int)
    T = np.where(np.eye(2)[labels] > 0, 0.99, 0.01)
    results = []
    for _ in range(2):
        circuit = _small(copies=8, seed=5, dt=2.5, lr=0.1)
        loss = lambda y: -(T * np.log(np.exp(y) / np.exp(y).sum(1, keepdims=True))).sum(1).mean()  # noqa: E731
        first = loss(circuit.present(X))
        for _ in range(10):
            circuit.present(X, T, learn=True)
        results.append((first, loss(circuit.present(X)), circuit.weights[0][0].copy()))
    assert results[0][1] < 0.7 * results[0][0]
    np.testing.assert_array_equal(results[0][2], results[1][2])


def test_online_probe_matches_a_teacher_with_the_same_weights():
    sizes = [3, 4, 2]
    params = dict(tau_E=5.0, tau_I=2.5, tau_C=5.0, dt=1.0, k_p=5.0, k_i=2.0, eta=0.0, optimizer="sgd",
                  error="difference")
    f, ph = np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0])
    weights = init_weights(sizes, np.random.default_rng(1), 2.0)
    teacher = DisinhibitoryCircuit(sizes, rule=None, params=params, copies=2, weights=weights, inputs="sinusoid",
                                   frequencies=f, phases=ph, name="teacher")
    student = DisinhibitoryCircuit(sizes, params=params, copies=2, weights=weights, inputs="sinusoid",
                                   frequencies=f, phases=ph, teacher=teacher, name="student")
    times, probe, target, closed = student.run_online(200.0, learn=False, record_every=10.0)
    assert len(times) == 20 and target.std() > 1e-3
    np.testing.assert_allclose(probe, target, atol=1e-9)
    np.testing.assert_allclose(closed, target, atol=1e-3)  # the controller sees the teacher one step late


# --- the backprop baseline: the same steady-state network ----------------------------------------------------------

def test_backprop_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    weights = [(W, rng.normal(0, 0.5, b.shape) * (k < 2)) for k, (W, b) in
               enumerate(init_weights([4, 6, 5, 3], rng, 1.5))]
    X = rng.uniform(0, 1, (7, 4))
    T = np.full((7, 3), 0.005)
    T[np.arange(7), rng.integers(0, 3, 7)] = 0.99
    loss, grads = backprop_gradients(weights, X, T)
    _, cache = steady_state_forward(weights, X)
    r_in, u, _ = cache[0]
    np.testing.assert_allclose(u + softplus(softplus(u)), r_in @ weights[0][0] + weights[0][1], atol=1e-12)
    eps = 1e-6
    for k, which in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]:
        P = weights[k][which]
        for index in list(np.ndindex(P.shape))[:6]:
            old = P[index]
            P[index] = old + eps
            up = backprop_gradients(weights, X, T)[0]
            P[index] = old - eps
            down = backprop_gradients(weights, X, T)[0]
            P[index] = old
            assert abs((up - down) / (2 * eps) - grads[k][which][index]) < 1e-6 * max(1.0, abs(grads[k][which][index]))
    assert softplus_slope(0.0) == 0.5 and loss > 0


def test_adam_matches_the_reference_update():
    adam = Adam(lr=0.1)
    (p,) = adam.step([np.array([1.0, -2.0])], [np.array([0.5, -3.0])])
    np.testing.assert_allclose(p, [0.9, -1.9], atol=1e-6)  # first step: lr * sign(g)


# --- data ----------------------------------------------------------------------------------------------------------

def test_yinyang_is_balanced_reproducible_and_labelled_by_region():
    X, y = yinyang(300, seed=4)
    assert X.shape == (300, 4) and np.bincount(y).tolist() == [100, 100, 100]
    np.testing.assert_array_equal(X, yinyang(300, seed=4)[0])
    assert not np.array_equal(X, yinyang(300, seed=5)[0])
    np.testing.assert_allclose(X[:, 0] + X[:, 2], 1.0)
    assert yinyang_class(np.array([0.25, 0.75, 0.5, 0.5]), np.array([0.5, 0.5, 0.9, 0.1])).tolist() == [2, 2, 1, 0]


def test_fixed_yinyang_splits_and_stratified_digits_splits():
    first = load_data("yinyang", seed=0, n_train=60, n_validation=30, n_test=30)
    again = load_data("yinyang", seed=7, n_train=60, n_validation=30, n_test=30)
    for a, b in zip(first, again):  # the splits are fixed: independent of the training seed
        np.testing.assert_array_equal(a, b)
    points = [tuple(x) for part in first[0::2] for x in part]
    assert len(set(points)) == 120  # train, validation and test do not overlap
    Xtr, ytr, Xva, yva, Xte, yte = load_data("digits", seed=1, fractions=(0.1, 0.2))
    assert len(ytr) + len(yva) + len(yte) == 1797 and abs(len(yte) - 360) <= 1 and abs(len(yva) - 180) <= 1
    assert np.all(np.bincount(yva) >= 17)  # stratified: every class in the validation set


# --- bad input: one clear error before anything runs --------------------------------------------------------------

def test_targets_of_the_wrong_shape_are_refused_before_running():
    circuit = _small(sizes=(3, 4, 2))
    with pytest.raises(DataError, match=r"targets have shape \(4, 3\), expected \(4, 2\)"):
        circuit.present(np.zeros((4, 3)), np.zeros((4, 3)), learn=True)
    with pytest.raises(DataError, match=r"inputs have shape \(4, 5\)"):
        circuit.present(np.zeros((4, 5)))
    assert circuit.network.net is None  # nothing was simulated


def _rule_file(tmp_path, inputs, dw_dt):
    path = tmp_path / "bad_rule.toml"
    path.write_text(f'[rule]\nname = "bad_rule"\n[parameters]\neta = "1/second"\n[weight]\nmin = "-inf"\n'
                    f'max = "inf"\n[inputs]\n{inputs}\n[continuous]\ndw_dt = "{dw_dt}"\n')
    return path


def test_rules_the_circuit_cannot_drive_are_refused(tmp_path):
    path = _rule_file(tmp_path, 'x = { source = "pre", variable = "r" }\nerr = { source = "modulator" }',
                      "eta*x*err")
    with pytest.raises(RuleError, match="needs the third factor 'err', which the dis-inhibitory circuit does not "
                                        "provide") as info:
        DisinhibitoryCircuit([2, 3, 2], rule=path)
    assert "\n" not in str(info.value) and "bad_rule.toml" in str(info.value)
    path = _rule_file(tmp_path, 'x = { source = "pre", variable = "r" }\nv = { source = "post", variable = "v_dend" }',
                      "eta*x*v")
    with pytest.raises(RuleError, match="'v_dend', which the dis-inhibitory circuit does not provide"):
        check_rule(path)
    with pytest.raises(RuleError, match="is a trace rule; the dis-inhibitory circuit runs continuous rules"):
        check_rule("stdp_additive")


def test_experiment_settings_are_checked_before_running(tmp_path):
    base = {"experiment": {"kind": "disinhibitory", "task": "classification"}, "data": {"dataset": "yinyang"},
            "training": {"sizes": [4, 10, 2]}}
    with pytest.raises(ConfigError, match=r"targets of yinyang have shape \(n, 3\)"):
        validate(base)
    with pytest.raises(ConfigError, match=r"\[training\]: 'epoch': unknown key"):
        validate(dict(base, training={"sizes": [4, 10, 3], "epoch": 3}))
    with pytest.raises(ConfigError, match=r"'dt': dt = 6.0 ms is too coarse"):
        validate(dict(base, training={"sizes": [4, 10, 3]}, circuit={"dt": 6.0}))
    with pytest.raises(ConfigError, match=r"'readout': must be one of"):
        validate(dict(base, training={"sizes": [4, 10, 3]}, circuit={"readout": "softmax"}))
    bad_rule = _rule_file(tmp_path, 'x = { source = "pre", variable = "r" }\nm = { source = "modulator" }', "eta*x*m")
    with pytest.raises(RuleError, match="third factor 'm'"):
        run_disinhibitory_experiment(dict(base, rule={"name": str(bad_rule)}), tmp_path / "out", 0)
    assert not (tmp_path / "out").exists()


def test_command_line_prints_one_line_and_exits_2(tmp_path, capsys):
    from plastlab.cli import main
    path = tmp_path / "exp.toml"
    path.write_text('[experiment]\nkind = "disinhibitory"\ntask = "student_teacher"\n[student_teacher]\n'
                    'sizes = [30, 20, 2]\n[circuit]\nwrong = 1\n')
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "[circuit]: 'wrong': unknown key" in err


# --- an experiment end to end (tiny) -------------------------------------------------------------------------------

class _RecordingCircuit(DisinhibitoryCircuit):
    """A circuit that logs every open-loop presentation (weights, inputs, outputs) and spoils the validation
    outputs of chosen epochs (every class wrong), so that the best validation epoch is known in advance."""

    log, spoil, validation = [], set(), None

    def present(self, X, Y=None, *, learn=False, **kw):
        out = super().present(X, Y, learn=learn, **kw)
        if learn:
            return out
        X_val, y_val = self.validation
        if np.array_equal(X, X_val):
            epoch = sum(1 for entry in self.log if entry[0] == "validation" and entry[1] is self) + 1
            if epoch in self.spoil:
                out = np.eye(out.shape[1])[(y_val + 1) % out.shape[1]]
            self.log.append(("validation", self, [W.copy() for W, _ in self.weights], out))
        else:
            self.log.append(("test", self, [W.copy() for W, _ in self.weights], out))
        return out


@pytest.mark.slow
def test_classification_over_seeds_with_early_stopping_writes_results(tmp_path, monkeypatch):
    import xarray as xr

    import plastlab.experiments.disinhibitory as experiment
    config = {"experiment": {"kind": "disinhibitory", "task": "classification", "seed": 1},
              "circuit": {"dt": 2.5, "t_max": 200.0, "lr": 0.01},
              "data": {"dataset": "yinyang", "n_train": 40, "n_validation": 20, "n_test": 20},
              "training": {"sizes": [4, 6, 3], "epochs": 3, "batch": 20, "seeds": 2}}
    _, _, X_val, y_val, _, y_test = load_data("yinyang", seed=1, n_train=40, n_validation=20, n_test=20)
    monkeypatch.setattr(_RecordingCircuit, "log", [])
    monkeypatch.setattr(_RecordingCircuit, "spoil", {1, 3})  # the best validation epoch must be 2
    monkeypatch.setattr(_RecordingCircuit, "validation", (X_val, y_val))
    monkeypatch.setattr(experiment, "DisinhibitoryCircuit", _RecordingCircuit)
    ds = run_disinhibitory_experiment(config, tmp_path, progress=False)
    on_disk = xr.open_dataset(tmp_path / "results.nc")
    assert {"accuracy", "accuracy_bp", "accuracy_validation", "best_epoch"} <= set(on_disk.data_vars)
    assert on_disk.accuracy.dims == ("seed",) and list(on_disk.seed.values) == [1, 2]
    assert on_disk.accuracy_validation.dims == ("seed", "epoch")
    assert on_disk.attrs["seed"] == 1 and on_disk.attrs["rule"] == "disinhibitory"
    assert 0 <= float(ds.accuracy.min()) <= 1 and (tmp_path / "yinyang_accuracy.png").stat().st_size > 1000
    # early stopping: the epoch of best validation accuracy is chosen, and the test accuracy is that epoch's
    circuits = list(dict.fromkeys(entry[1] for entry in _RecordingCircuit.log))
    assert len(circuits) == 2
    for k, circuit in enumerate(circuits):
        mine = [entry for entry in _RecordingCircuit.log if entry[1] is circuit]
        validation, (test,) = mine[:-1], [entry for entry in mine if entry[0] == "test"]
        assert [entry[0] for entry in mine] == ["validation"] * 3 + ["test"]
        accuracy = [float((out.argmax(1) == y_val).mean()) for *_, out in validation]
        np.testing.assert_array_equal(on_disk.accuracy_validation[k], accuracy)
        assert accuracy[0] == accuracy[2] == 0 < accuracy[1]
        assert int(on_disk.best_epoch[k]) == 2
        for W_test, W_best in zip(test[2], validation[1][2]):  # tested with the weights of epoch 2
            np.testing.assert_array_equal(W_test, W_best)
        assert float(on_disk.accuracy[k]) == float((test[3].argmax(1) == y_test).mean())
        best_bp = int(np.argmax(on_disk.accuracy_bp_validation[k].values)) + 1
        assert int(on_disk.best_epoch_bp[k]) == best_bp
    on_disk.close()


@pytest.mark.parametrize("name", ["disinhibitory_yinyang", "disinhibitory_yinyang_linear", "disinhibitory_digits",
                                  "disinhibitory_digits_linear", "disinhibitory_curves",
                                  "disinhibitory_student_teacher"])
def test_repository_experiment_files_load(name):
    from pathlib import Path

    from plastlab.experiments.registry import load_experiment
    exp = load_experiment(Path(__file__).parent.parent / "experiments" / f"{name}.toml")
    assert exp.kind == "disinhibitory"
