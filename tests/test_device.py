"""The device setting: cpp_standalone runs the same networks as the runtime target, to the bit, with one build
per structure reused for new candidates (run_args), builds cached on disk by content; unknown devices are
ConfigErrors. Standalone tests compile C++ once per structure (cached by content in ~/.cache/plastlab/standalone,
so later runs of the suite copy the binaries)."""
import pytest
import sympy as sp

from plastlab.brian import device as devices
from plastlab.errors import ConfigError
from plastlab.evolve.tasks import correlation, error, reward

TINY = {"duration": 0.5, "t_drop": 0.1}
REWARD_TINY = {"n_trials": 6, "n_patterns": 2, "n_inputs": 10, "eta": 200.0}
CORRELATION_TINY = {"n_inputs": 100, "w_max": 4.0, "train": 0.5, "test": 0.5}


def same(a, b):
    return [(r["fitness"], r["reason"], r["per_instance"]) for r in a] == \
        [(r["fitness"], r["reason"], r["per_instance"]) for r in b]


@pytest.mark.standalone
def test_error_family_on_cpp_standalone_is_identical_and_one_build_serves_new_candidates():
    from brian2.devices.device import get_device, runtime_device

    v, u, s = error.symbols()
    first = [s * (v - u), error.baselines()["delta_rule"], s / (v + 70)]  # the last divides by zero
    # larger programs than the first batch's (more than the next power of two of operations): still one build
    second = [2 * s * (u - v), s * u - v, v * v * s * (u - v) * (s + u) * (v + s * u) * (u * u + s * v) / (v - 3)]
    devices.clear_builds()
    got = [error.evaluate_batch(batch, [11, 12], TINY, device="cpp_standalone") for batch in (first, second)]
    assert len(devices._BUILT) == 1 and next(iter(devices._BUILT.values())).runs == 2  # 3 candidates pad to 4
    assert get_device() is runtime_device  # the device is scoped to the build and the runs
    want = [error.evaluate_batch(batch, [11, 12], TINY) for batch in (first, second)]
    assert same(got[0], want[0]) and same(got[1], want[1])
    assert "division by zero" in got[0][2]["reason"]


@pytest.mark.standalone
@pytest.mark.slow
@pytest.mark.parametrize("family, params", [(reward, REWARD_TINY), (correlation, CORRELATION_TINY)],
                         ids=["reward", "correlation"])
def test_reward_and_correlation_on_cpp_standalone_are_identical(family, params):
    exprs = list(family.baselines().values())[:2]
    got = family.evaluate_batch(exprs, [1], params, device="cpp_standalone")
    assert same(got, family.evaluate_batch(exprs, [1], params))


def test_devices_are_checked_at_the_door(tmp_path):
    from plastlab.evolve.campaign import load_campaign

    assert devices.check_device("cpp_standalone") == "cpp_standalone"
    with pytest.raises(ConfigError, match="unknown device 'gpu'"):
        error.evaluate_batch([sp.Integer(0)], [11], TINY, device="gpu")
    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="Brian2CUDA"):
            devices.check_device("cuda_standalone")
    text = (tmp_path / "c.toml")
    text.write_text('[campaign]\nname = "c"\nfamily = "error"\n[evaluation]\ndevice = "gpu"\n')
    with pytest.raises(ConfigError, match="device"):
        load_campaign(text)
    text.write_text('[campaign]\nname = "c"\nfamily = "error"\n[evaluation]\ndevice = "cpp_standalone"\n')
    assert load_campaign(text)["device"] == "cpp_standalone"


def test_project_hash_ignores_data_and_the_directory(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name / "code_objects").mkdir(parents=True)
        (tmp_path / name / "static_arrays").mkdir()
        (tmp_path / name / "main.cpp").write_text(f"// {tmp_path / name}\nint main() {{}}\n")
        (tmp_path / name / "static_arrays" / "x").write_text(name)
    assert devices._project_hash(tmp_path / "a") == devices._project_hash(tmp_path / "b")
    (tmp_path / "b" / "code_objects" / "c.cpp").write_text("int f();")
    assert devices._project_hash(tmp_path / "a") != devices._project_hash(tmp_path / "b")


@pytest.mark.standalone
def test_classifier_on_cpp_standalone_predicts_as_runtime_and_new_data_reuse_its_builds():
    """Training (every epoch in one program) and the frozen copies (calibration, prediction) on cpp_standalone:
    the same training accuracies, readout gains and predictions as the runtime device; a second fit on other
    data of the same shape reruns the same builds with run_args."""
    import numpy as np
    from brian2.devices.device import get_device, runtime_device
    from sklearn.datasets import load_iris

    from plastlab.experiments.classification import make_classifier
    from plastlab.learn.classifier import SpikingClassifier

    X, y = load_iris(return_X_y=True)
    idx = np.random.RandomState(0).permutation(len(y))[:80]
    X, y = X[idx], y[idx]
    kw = dict(epochs=2, members=2, n_fields=4)
    devices.clear_builds()
    for k, seed in enumerate((3, 4)):
        train = slice(40 * k, 40 * k + 30)  # predicted as calibrated: one frozen build serves both
        got = SpikingClassifier(device="cpp_standalone", random_state=seed, **kw).fit(X[train], y[train])
        want = SpikingClassifier(random_state=seed, **kw).fit(X[train], y[train])
        assert np.array_equal(got.predict(X[train]), want.predict(X[train]))
        got.readout_scale_ = want.readout_scale_ = np.array([1.5, 3.4])  # a readout gain of each member's own
        (p_got, i_got), (p_want, i_want) = got.predict_details(X[train]), want.predict_details(X[train])
        assert np.array_equal(p_got, p_want) and np.array_equal(i_got["counts"], i_want["counts"])
        assert np.array_equal(i_got["first_spike"], i_want["first_spike"])
        assert np.array_equal(got.train_accuracy_, want.train_accuracy_)
        assert np.array_equal(got.readout_scale_, want.readout_scale_)
        np.testing.assert_allclose(got.weights_, want.weights_, rtol=0, atol=1e-12)  # C++ exp: last bits
        assert get_device() is runtime_device
    assert len(devices._BUILT) == 2 and all(b.runs >= 2 for b in devices._BUILT.values())  # taught, frozen
    with pytest.raises(ConfigError, match="reset"):
        SpikingClassifier(device="cpp_standalone", reset=False).fit(X[:10], y[:10])
    with pytest.raises(ConfigError, match="device"):
        make_classifier("nc_memristor", {"device": "gpu"}, file="e.toml", section="classifier")
    assert make_classifier("nc_memristor", {"device": "cpp_standalone"}).device == "cpp_standalone"
