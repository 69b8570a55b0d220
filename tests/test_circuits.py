"""The dis-inhibitory microcircuit: rule files, Brian2 dynamics, learning, experiments and bad input."""
import numpy as np
import pytest

from plastlab import DataError, PlastlabError, RuleError, load_rule
from plastlab.learn.disinhibitory import (CircuitParams, DisinhibitoryCircuit, check_rule, init_weights, plasticity_curves,
                               softplus, softplus_inverse)
from plastlab.datasets import yinyang, yinyang_class
from plastlab.experiments.disinhibitory import main, run_disinhibitory_experiment, validate

FAST = dict(tau_E=5.0, tau_I=2.5, tau_C=5.0, dt=1.0, t_open=20.0, t_closed=20.0, t_plast=1.0)


def sigmoid(u):
    return 1 / (1 + np.exp(-u))


# --- rule files -----------------------------------------------------------------------------------------------

def test_rule_files_are_continuous_rules_reading_the_circuit():
    exact, linear = load_rule("disinhibitory"), load_rule("disinhibitory_linear")
    for rule in (exact, linear):
        assert rule.form == "continuous"
        assert check_rule(rule) is rule
        assert {i.variable for i in rule.inputs.values() if i.source == "post"} <= {"r", "u_E", "u_I", "r_I",
                                                                                   "plastic"}
    assert linear.parameters["theta"] == 1.5 and linear.parameters["delta"] == 1.5


# --- the curve family (top-down input removed) -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["disinhibitory", "disinhibitory_linear"])
def test_brian2_curves_equal_the_closed_form(name):
    r_E, r_I = np.array([0.1, 0.5, 1.0, 2.0, 4.0]), np.array([0.8, 1.6])
    dw, mE, mI = plasticity_curves(name, r_E, r_I, params=dict(dt=0.1, eta=1.0), t_settle=30.0, t_window=0.2)
    np.testing.assert_allclose(mE, np.broadcast_to(r_E, mE.shape), rtol=1e-6)  # held at the requested rates
    np.testing.assert_allclose(mI, np.broadcast_to(r_I[:, None], mI.shape), rtol=1e-6)
    threshold = softplus_inverse(r_I)[:, None] if name == "disinhibitory" else 1.5 + 1.5 * r_I[:, None]
    expected = sigmoid(softplus_inverse(r_E))[None, :] * (r_E[None, :] - threshold)
    np.testing.assert_allclose(dw, expected, rtol=1e-3, atol=1e-5)


def test_exact_inverse_threshold_rises_with_inhibition():
    r_E = np.linspace(0.2, 3.0, 15)
    dw, _, _ = plasticity_curves("disinhibitory", r_E, [0.8, 2.0], params=dict(dt=0.2), t_settle=30.0, t_window=0.4)
    crossings = [r_E[np.argmax(row > 0)] for row in dw]  # first r_E with potentiation
    assert dw[0, 0] < 0 and dw[0, -1] > 0  # BCM-like: depression at low, potentiation at high r_E
    assert crossings[1] > crossings[0]


# --- the closed loop ---------------------------------------------------------------------------------------------

def _small(rule="disinhibitory", copies=4, seed=0, **params):
    return DisinhibitoryCircuit([3, 4, 2], rule=rule, params=dict(FAST, **params), copies=copies, seed=seed)


def test_control_dis_inhibits_the_output_towards_the_target():
    circuit = _small(eta=0.0, k_p=5.0, k_i=5.0, t_closed=80.0)
    X = np.array([[0.2, 0.8, 0.5], [0.9, 0.1, 0.3], [0.5, 0.5, 0.5], [0.0, 1.0, 0.2]])
    open_loop = circuit.present(X)
    Y = open_loop + np.array([[0.3, -0.2], [-0.2, 0.3], [0.2, 0.2], [-0.1, -0.3]])
    circuit.present(X, Y, learn=True)
    closed = np.asarray(circuit.out.r[:]).reshape(4, 2)
    assert np.all(np.abs(Y - closed) < 0.6 * np.abs(Y - open_loop))
    hidden = circuit.layers[0]  # at the closed-loop steady state the rule's bracket is the top-down signal
    np.testing.assert_allclose(np.asarray(hidden.r[:]) - np.asarray(hidden.u_I[:]), np.asarray(hidden.top[:]),
                               atol=2e-2)
    assert np.abs(np.asarray(hidden.top[:])).max() > 0.05


def test_softmax_error_is_the_cross_entropy_gradient_with_a_rate_anchor():
    circuit = _small(eta=0.0, error_softmax=2.0, rate_anchor=0.1, rate_level=1.0)
    X = np.array([[0.2, 0.8, 0.5], [0.9, 0.1, 0.3], [0.5, 0.5, 0.5], [0.0, 1.0, 0.2]])
    Y = np.eye(2)[[0, 1, 1, 0]]
    circuit.present(X, Y, learn=True)
    y = np.asarray(circuit.ctrl.y[:]).reshape(4, 2)
    np.testing.assert_allclose(np.asarray(circuit.ctrl.Z[:]).reshape(4, 2), np.exp(2 * y).sum(1, keepdims=True)
                               .repeat(2, 1), rtol=1e-9)
    p = np.exp(2 * y) / np.exp(2 * y).sum(1, keepdims=True)
    expected = Y - p + 0.1 * (1.0 - y.mean(1, keepdims=True))
    np.testing.assert_allclose(np.asarray(circuit.ctrl.err[:]).reshape(4, 2), expected, rtol=1e-9, atol=1e-12)
    assert "Z" not in _small().ctrl.variables  # the default error is target - y, nothing extra built


def test_batch_update_is_the_mean_of_single_sample_updates():
    X = np.array([[0.2, 0.8, 0.5], [0.9, 0.1, 0.3]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    changes = []
    for k in range(2):
        single = _small(copies=1, eta=50.0)
        before = single.weights[0][0].copy()
        single.present(X[k:k + 1], Y[k:k + 1], learn=True)
        changes.append(single.weights[0][0] - before)
    batch = _small(copies=3, eta=50.0)  # one copy left idle: it must not count
    before = batch.weights[0][0].copy()
    batch.present(X, Y, learn=True)
    np.testing.assert_allclose(batch.weights[0][0] - before, np.mean(changes, axis=0), rtol=1e-6, atol=1e-12)
    assert np.abs(changes[0]).max() > 1e-4


def test_learning_reduces_the_open_loop_error_and_is_reproducible():
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, (8, 3))
    Y = softplus(X @ rng.normal(0, 1.5, (3, 2)) - 0.3)
    results = []
    for _ in range(2):
        circuit = _small(copies=8, seed=5, eta=1500.0, k_p=1.0, k_i=1.0)
        first = ((circuit.present(X) - Y) ** 2).mean()
        for _ in range(12):
            circuit.present(X, Y, learn=True)
        last = ((circuit.present(X) - Y) ** 2).mean()
        results.append((first, last, circuit.weights[0][0].copy()))
    assert results[0][1] < 0.5 * results[0][0]
    np.testing.assert_array_equal(results[0][2], results[1][2])


def test_online_probe_matches_a_teacher_with_the_same_weights():
    sizes = [3, 4, 2]
    params = dict(FAST, t_open=0.0, t_closed=0.0, t_plast=0.0, k_p=5.0, k_i=2.0, eta=0.0)
    f, ph = np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0])
    weights = init_weights(sizes, np.random.default_rng(1), 2.0)
    teacher = DisinhibitoryCircuit(sizes, rule=None, params=params, copies=2, weights=weights, inputs="sinusoid",
                                   frequencies=f, phases=ph, name="teacher")
    student = DisinhibitoryCircuit(sizes, params=params, copies=2, weights=weights, inputs="sinusoid",
                                   frequencies=f, phases=ph, teacher=teacher, name="student")
    times, probe, target, closed = student.run_online(200.0, learn=False, record_every=10.0)
    assert len(times) == 20 and target.std() > 1e-3
    np.testing.assert_allclose(probe, target, atol=1e-9)
    np.testing.assert_allclose(closed, target, atol=1e-4)  # the controller sees the teacher one step late


# --- data ----------------------------------------------------------------------------------------------------------

def test_yinyang_is_balanced_reproducible_and_labelled_by_region():
    X, y = yinyang(300, seed=4)
    assert X.shape == (300, 4) and np.bincount(y).tolist() == [100, 100, 100]
    np.testing.assert_array_equal(X, yinyang(300, seed=4)[0])
    assert not np.array_equal(X, yinyang(300, seed=5)[0])
    np.testing.assert_allclose(X[:, 0] + X[:, 2], 1.0)
    assert yinyang_class(np.array([0.25, 0.75, 0.5, 0.5]), np.array([0.5, 0.5, 0.9, 0.1])).tolist() == [2, 2, 1, 0]


# --- bad input: one clear error before anything runs --------------------------------------------------------------

def test_targets_of_the_wrong_shape_are_refused_before_running():
    circuit = _small()
    with pytest.raises(DataError, match=r"targets have shape \(4, 3\), expected \(4, 2\)"):
        circuit.present(np.zeros((4, 3)), np.zeros((4, 3)), learn=True)
    with pytest.raises(DataError, match=r"inputs have shape \(4, 5\)"):
        circuit.present(np.zeros((4, 5)))
    assert circuit.net is None  # nothing was simulated


def _rule_file(tmp_path, inputs, dw_dt):
    path = tmp_path / "bad_rule.toml"
    path.write_text(f'[rule]\nname = "bad_rule"\n[parameters]\neta = "1/second"\n[weight]\nmin = "-inf"\n'
                    f'max = "inf"\n[inputs]\n{inputs}\n[continuous]\ndw_dt = "{dw_dt}"\n')
    return path


def test_a_rule_needing_a_modulator_the_circuit_lacks_is_refused(tmp_path):
    path = _rule_file(tmp_path, 'x = { source = "pre", variable = "r" }\nerr = { source = "modulator" }',
                      "eta*x*err")
    with pytest.raises(RuleError, match="needs the modulator input 'err', which the dis-inhibitory circuit does "
                                        "not provide") as info:
        DisinhibitoryCircuit([2, 2], rule=path, params=FAST)
    assert "\n" not in str(info.value) and "bad_rule.toml" in str(info.value)


def test_a_rule_reading_a_missing_neuron_variable_or_spikes_is_refused(tmp_path):
    path = _rule_file(tmp_path, 'x = { source = "pre", variable = "r" }\nv = { source = "post", variable = "v_dend" }',
                      "eta*x*v")
    with pytest.raises(RuleError, match="'v_dend', which the dis-inhibitory circuit does not provide"):
        check_rule(path)
    with pytest.raises(RuleError, match="not a continuous"):
        check_rule("stdp_additive")


def test_experiment_settings_are_checked_before_running(tmp_path):
    base = {"experiment": {"kind": "disinhibitory", "task": "classification"}, "data": {"dataset": "yinyang"},
            "training": {"sizes": [4, 10, 2]}, "circuit": FAST}
    with pytest.raises(DataError, match=r"targets of yinyang have shape \(n, 3\)"):
        validate(base)
    with pytest.raises(DataError, match="unknown key 'epoch'"):
        validate(dict(base, training={"sizes": [4, 10, 3], "epoch": 3}))
    with pytest.raises(DataError, match="dt = 4.0 ms is too coarse"):
        validate(dict(base, training={"sizes": [4, 10, 3]}, circuit=dict(FAST, dt=4.0, t_plast=4.0)))
    bad_rule = _rule_file(tmp_path, 'x = { source = "pre", variable = "r" }\nm = { source = "modulator" }', "eta*x*m")
    with pytest.raises(RuleError, match="modulator input 'm'"):
        run_disinhibitory_experiment(dict(base, rule={"name": str(bad_rule)}), tmp_path / "out", 0)
    assert not (tmp_path / "out").exists()


def test_command_line_prints_one_line_and_exits_2(tmp_path, capsys):
    path = tmp_path / "exp.toml"
    path.write_text('[experiment]\nkind = "disinhibitory"\ntask = "student_teacher"\n[student_teacher]\n'
                    'sizes = [30, 20, 2]\n[circuit]\nt_open = 0.0\nt_closed = 0.0\nt_plast = 0.0\nwrong = 1\n')
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown circuit setting 'wrong'" in err


# --- an experiment end to end (tiny) -------------------------------------------------------------------------------

def test_classification_experiment_writes_results_with_provenance(tmp_path):
    import xarray as xr
    config = {"experiment": {"kind": "disinhibitory", "task": "classification", "seed": 1},
              "circuit": dict(FAST, eta=100.0), "data": {"dataset": "yinyang", "n_train": 60, "n_test": 30},
              "training": {"sizes": [4, 6, 3], "epochs": 2, "batch": 30}, "backprop": {"max_iter": 50}}
    ds = run_disinhibitory_experiment(config, tmp_path, progress=False)
    on_disk = xr.open_dataset(tmp_path / "results.nc")
    assert {"accuracy", "accuracy_bp", "accuracy_epoch"} <= set(on_disk.data_vars)
    assert on_disk.attrs["seed"] == 1 and on_disk.attrs["rule"] == "disinhibitory"
    assert 0 <= float(ds.accuracy) <= 1 and (tmp_path / "yinyang_accuracy.png").stat().st_size > 1000
    on_disk.close()
