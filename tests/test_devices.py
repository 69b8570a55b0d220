"""Device non-idealities (plastlab.rules.devices, applied by plastlab.brian.codegen): each semantics on its own."""
import numpy as np
import pytest

from plastlab.errors import RuleError
from plastlab.rules.devices import Device, on_levels, parse_device, split_device_settings
from plastlab.rules.files import load_rule, rule_from_toml

N = 40  # synapses, one pre and one post neuron each


def run_pairs(rule, *, w0=0.5, pairs=((10, 15), (40, 45), (70, 62), (100, 105)), seed=1, runs=1, record=("w",), n=N):
    """N independent synapses, each seeing the same pre/post pairs (times in ms); weights and other variables
    after each run."""
    import brian2 as b2
    from brian2 import ms

    from plastlab.brian.codegen import synapses
    from plastlab.brian.settings import brian_settings

    N = n  # noqa: N806
    pre_t = np.array([p for p, _ in pairs], dtype=float)
    post_t = np.array([q for _, q in pairs], dtype=float)
    with brian_settings(target="numpy", seed=seed):
        pre = b2.SpikeGeneratorGroup(N, np.repeat(np.arange(N), len(pre_t)), np.tile(pre_t, N) * ms)
        post = b2.SpikeGeneratorGroup(N, np.repeat(np.arange(N), len(post_t)), np.tile(post_t, N) * ms)
        syn2 = synapses(rule, pre, post, transmit="")
        syn2.connect(j="i")
        syn2.w = w0
        net = b2.Network(pre, post, syn2)
        out = []
        for _ in range(runs):
            net.run((max(post_t.max(), pre_t.max()) + 5) * ms)
            out.append({k: np.asarray(getattr(syn2, k)[:], dtype=float).copy() for k in record})
            pre.set_spikes(np.repeat(np.arange(N), len(pre_t)), np.tile(pre_t, N) * ms + net.t)
            post.set_spikes(np.repeat(np.arange(N), len(post_t)), np.tile(post_t, N) * ms + net.t)
    return out if runs > 1 else out[0]


@pytest.fixture(scope="module")
def nc():
    return load_rule("nc_memristor")


def test_everything_off_is_the_plain_rule(nc):
    from plastlab.brian.codegen import generate

    for name in ("nc_memristor", "stdp_additive", "ppx_memristor"):
        plain = load_rule(name)
        for ideal in (plain.with_device(), plain.with_device(levels=float("inf"), c2c=0, asymmetry=1)):
            a, b = generate(plain, "v_post += w"), generate(ideal, "v_post += w")
            assert (a.model, a.on_pre, a.on_post, a.namespace) == (b.model, b.on_pre, b.on_post, b.namespace)
    assert np.array_equal(run_pairs(nc)["w"], run_pairs(nc.with_device(d2d=0.0))["w"])


def test_a_quantised_weight_is_always_on_a_level(nc):
    levels = 8
    for rounding in ("nearest", "stochastic"):
        rule = nc.with_device(levels=levels, rounding=rounding, c2c=0.2)
        w = run_pairs(rule, w0=on_levels(0.5, 0, 1, levels))["w"]
        k = w * (levels - 1)
        assert np.allclose(k, np.round(k), atol=1e-9), rounding
        assert np.all((w >= 0) & (w <= 1))
    plain = run_pairs(nc, w0=3 / 7)["w"]
    assert not np.allclose(plain * 7, np.round(plain * 7))  # the plain rule leaves the levels


def test_stochastic_rounding_keeps_the_mean_nearest_does_not():
    # additive STDP, steps of a quarter level: nearest rounding loses every one, stochastic keeps their mean
    rule, levels = load_rule("stdp_additive"), 33  # gmax = 0.01: a level is 0.01/32
    q, w0 = 0.01 / (levels - 1), 16 * 0.01 / (levels - 1)
    pairs = ((10, 15), (300, 305), (600, 605), (900, 905))
    plain = run_pairs(rule, w0=w0, pairs=pairs, n=400)["w"]
    stochastic = run_pairs(rule.with_device(levels=levels, rounding="stochastic"), w0=w0, pairs=pairs, n=400)["w"]
    nearest = run_pairs(rule.with_device(levels=levels), w0=w0, pairs=pairs, n=400)["w"]
    assert 0.5 * q < plain.mean() - w0 < 1.5 * q
    assert np.all(nearest == w0)
    assert len(np.unique(stochastic)) > 1 and abs(stochastic.mean() - plain.mean()) < 0.2 * q


def test_d2d_factors_are_drawn_once_per_synapse_and_kept(nc):
    rule = nc.with_device(d2d=0.3)
    first, second = run_pairs(rule, runs=2, record=("w", "device_up", "device_down", "device_drawn"))
    assert np.all(first["device_drawn"] == 1)
    assert np.array_equal(first["device_up"], second["device_up"])
    assert np.array_equal(first["device_down"], second["device_down"])
    assert first["device_up"].std() > 0.1 and not np.allclose(first["device_up"], first["device_down"])
    assert first["w"].std() > 0  # synapses differ only by their device factors


def test_c2c_changes_every_update():
    rule = load_rule("stdp_additive")  # additive: every pair the same step on an ideal device
    pairs = ((10, 15), (60, 65))
    ideal = run_pairs(rule, w0=0.005, pairs=pairs, runs=2)
    noisy = run_pairs(rule.with_device(c2c=0.3), w0=0.005, pairs=pairs, runs=2)
    ideal_steps = [ideal[0]["w"] - 0.005, ideal[1]["w"] - ideal[0]["w"]]
    noisy_steps = [noisy[0]["w"] - 0.005, noisy[1]["w"] - noisy[0]["w"]]
    assert all(np.ptp(step) < 1e-15 for step in ideal_steps)  # the same for every synapse
    ratios = [noisy / ideal for noisy, ideal in zip(noisy_steps, ideal_steps)]
    assert all(r.std() > 0.05 for r in ratios)  # across synapses
    assert np.abs(ratios[0] - ratios[1]).mean() > 0.05  # across updates of one synapse
    assert abs(ratios[0].mean() - 1) < 0.2


def test_asymmetry_scales_depression_only():
    rule = load_rule("stdp_additive")
    up_pairs, down_pairs = ((10, 15),), ((15, 10),)
    for pairs, factor in ((up_pairs, 1.0), (down_pairs, 0.5)):
        plain = run_pairs(rule, w0=0.005, pairs=pairs)["w"] - 0.005
        asym = run_pairs(rule.with_device(asymmetry=0.5), w0=0.005, pairs=pairs)["w"] - 0.005
        assert np.allclose(asym, factor * plain, rtol=1e-9) and np.all(plain != 0)


def test_soft_bounds_shrink_steps_towards_the_bound():
    rule = load_rule("stdp_additive")  # gmax = 0.01
    for w0 in (0.002, 0.008):
        plain = run_pairs(rule, w0=w0, pairs=((10, 15),))["w"] - w0
        soft = run_pairs(rule.with_device(soft_bounds=2.0), w0=w0, pairs=((10, 15),))["w"] - w0
        assert np.allclose(soft, plain * ((0.01 - w0) / 0.01) ** 2, rtol=1e-9)


def test_read_noise_changes_what_is_transmitted_not_the_weight(nc):
    import brian2 as b2
    from brian2 import ms

    from plastlab.brian.codegen import synapses
    from plastlab.brian.settings import brian_settings

    def transmitted(rule):
        with brian_settings(target="numpy", seed=3):
            pre = b2.SpikeGeneratorGroup(N, np.arange(N), np.full(N, 1.0) * ms)
            post = b2.NeuronGroup(N, "v : 1", threshold="v > 1e9")
            syn = synapses(rule, pre, post, transmit="v_post += w")
            syn.connect(j="i")
            syn.w = 0.5
            b2.Network(pre, post, syn).run(3 * ms)
            return np.array(post.v[:]), np.array(syn.w[:])  # copies: Brian2 2.10 views die with the objects

    v, w = transmitted(nc.with_device(read_noise=0.1))
    v0, w0 = transmitted(nc)
    assert np.all(v0 == 0.5) and np.array_equal(w, w0)
    assert 0.02 < np.std(v / 0.5) < 0.2


def test_seeded_through_the_network_seed(nc):
    rule = nc.with_device(c2c=0.3, d2d=0.2, levels=32, rounding="stochastic")
    a, b, c = (run_pairs(rule, seed=s)["w"] for s in (5, 5, 6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_device_table_in_a_rule_file_and_its_checks(nc):
    text = open(nc.source).read() + '\n[device]\nlevels = 16\nrounding = "stochastic"\nc2c = 0.1\n'
    rule = rule_from_toml(text)
    assert rule.device == Device(levels=16, rounding="stochastic", c2c=0.1)
    assert rule_from_toml(open(nc.source).read() + "\n[device]\nlevels = inf\n").device.off
    for bad, term in (("levels = 1", "levels"), ("levels = 2.5", "levels"), ('rounding = "up"', "rounding"),
                      ("c2c = -0.1", "c2c"), ("asymmetry = 0", "asymmetry"), ("colour = 1", "colour"),
                      ('d2d = "lots"', "d2d"), ("read_noise = nan", "read_noise")):
        with pytest.raises(RuleError) as err:
            rule_from_toml(open(nc.source).read() + f"\n[device]\n{bad}\n")
        assert err.value.term == term and "device" in str(err.value)
    assert load_rule("nc_memristor", device={"levels": 4}).device.levels == 4
    assert parse_device({"levels": "16"}).levels == 16  # text from --set device.levels=16
    assert split_device_settings({"device.levels": 16, "epochs": 2}) == ({"epochs": 2}, {"levels": 16})


# --- experiment kind device_sweep --------------------------------------------------------------------------------

SWEEP = """[experiment]
kind = "device_sweep"
name = "tiny"
datasets = ["iris"]
rules = ["nc_memristor"]
folds = 2
repeats = 2
{sweep}
[classifier]
members = 1
epochs = 1
"""


def test_device_sweep_runs_the_grid_and_finds_where_f1_drops(tmp_path, monkeypatch):
    import xarray as xr

    from plastlab.experiments import device_sweep
    from plastlab.experiments.registry import load_experiment, run_experiment
    from plastlab.learn import model_selection

    seen = []

    def fake_cv(clf, X, y, *, folds, seed, dataset, **kw):  # F1 from the device: falls with few levels and c2c
        device = clf.rule.device
        seen.append((device.levels, device.c2c, seed))
        f1 = 0.95 - (0.3 if device.levels is not None and device.levels < 8 else 0) - device.c2c / 4
        return xr.Dataset({"f1": ("fold", np.full(folds, f1))})

    monkeypatch.setattr(model_selection, "cross_validate", fake_cv)
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(sweep="[sweep]\nlevels = [4, 16, inf]\nc2c = [0.0, 0.1, 0.3]\n"))
    ds = run_experiment(load_experiment(path), tmp_path / "out", progress=False)
    assert ds.f1.dims == ("dataset", "rule", "levels", "c2c", "repeat", "fold") and ds.f1.shape == (1, 1, 3, 3, 2, 2)
    assert len(seen) == 18 and {s for *_, s in seen} == {0, 1}  # 9 points x 2 repeats, seeds per repeat
    assert (None, 0.0, 0) in seen and (4, 0.3, 1) in seen
    found = device_sweep.thresholds(ds)
    assert found[("iris", "nc_memristor", "levels")] == (pytest.approx(0.95), 4.0)
    assert found[("iris", "nc_memristor", "c2c")] == (pytest.approx(0.95), 0.1)
    assert (tmp_path / "out" / "results.nc").is_file() and (tmp_path / "out" / "device_sweep.png").is_file()
    back = xr.open_dataset(tmp_path / "out" / "results.nc")
    assert np.isinf(back.levels.values).any()
    back.close()


@pytest.mark.parametrize("sweep, words", [
    ("[sweep]\ncolour = [1, 2]\n", "not a swept device key"),
    ("[sweep]\nlevels = [1, 4]\n", "'levels' must be a whole number"),
    ("[sweep]\nlevels = [4]\nc2c = [0.0]\nd2d = [0.1]\n", "one or two device keys"),
    ("", "needs a [sweep] table"),
])
def test_device_sweep_files_are_checked_before_anything_runs(tmp_path, sweep, words):
    from plastlab.errors import ConfigError
    from plastlab.experiments.registry import load_experiment

    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(sweep=sweep))
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    assert words in str(err.value)


# --- read noise at the frozen readout (FrozenCopies, the layer's static copy, CartPole's decision layer) ----------

def _static_reads(rule, fraction, *, seed=4, n=2000):
    """What each of ``n`` static synapses (a frozen copy of weights at ``fraction`` of the rule's range, gain 1)
    transmits at each of two spikes, and its stored weight afterwards."""
    import brian2 as b2
    from brian2 import ms

    from plastlab.brian.layer import read_noise, static_synapses
    from plastlab.brian.settings import brian_settings

    with brian_settings(target="numpy", seed=seed):
        pre = b2.SpikeGeneratorGroup(n, np.tile(np.arange(n), 2), np.repeat([1.0, 3.0], n) * ms)
        post = b2.NeuronGroup(n, "I : 1")
        syn = static_synapses(pre, post, gain=1.0, name="rn_static", pairs=(np.arange(n), np.arange(n)),
                              read=read_noise(rule))
        syn.w = fraction
        net = b2.Network(pre, post, syn)
        reads = []
        for _ in range(2):
            net.run(2 * ms)
            reads.append(np.array(post.I[:]))
            post.I = 0
        return np.array(reads), np.array(syn.w[:]), syn.pre.code


def test_read_noise_at_a_frozen_copy_reads_the_weight_with_noise_drawn_per_spike(nc):
    reads, w, code = _static_reads(nc, 0.5)  # no device: the noiseless code, exactly
    assert np.all(reads == 0.5) and code == "I_post += transmit_gain * w"
    for rule, fraction, weight in ((nc.with_device(read_noise=0.2), 0.5, 0.5),
                                   # bounds [-1, 1]: the noise is relative to w = -1 + 2*0.75 = 0.5, not to 0.75
                                   (load_rule("ppx_memristor").with_parameters(Wmin=-1.0).with_device(read_noise=0.2),
                                    0.75, 0.5)):
        lo, hi = rule.w_min, rule.w_max
        reads, w, _ = _static_reads(rule, fraction)
        read_w = lo + (hi - lo) * reads  # the transmitted fraction as a weight of the rule
        assert np.all(w == fraction)  # the stored weight is unchanged
        assert abs(read_w.mean() - weight) < 0.02 * weight
        assert abs(np.std(read_w / weight) - 0.2) < 0.02  # relative sd of the transmitted weight
        assert abs(np.corrcoef(reads[0], reads[1])[0, 1]) < 0.1  # a new draw at every spike
    again, _, _ = _static_reads(rule, fraction)
    other, _, _ = _static_reads(rule, fraction, seed=5)
    assert np.array_equal(reads, again) and not np.array_equal(reads, other)  # the network's seed


FAST_CLF = dict(epochs=2, dt=0.5, t_gap=5.0, calibrate=False, members=1, random_state=1)


def _blobs(n=8, seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal([0.2, 0.25], 0.06, size=(n, 2)), rng.normal([0.8, 0.7], 0.06, size=(n, 2))])
    return X, np.array(["low"] * n + ["high"] * n)


@pytest.fixture(scope="module")
def plain_fit(nc):
    """A small classifier trained with the plain NC rule (reset at every pattern: predicting uses FrozenCopies)."""
    import warnings

    from plastlab import SpikingClassifier

    X, y = _blobs(6)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*made no output neuron fire")
        return SpikingClassifier(rule=nc, reset=True, **FAST_CLF).fit(X, y), X


def _first_steps_and_counts(clf, X):
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*made no output neuron fire")
        _, info = clf.predict_details(X)
    first = np.where(np.isfinite(info["first_spike"]), np.round(info["first_spike"] / 0.5), -1)
    return int(info["counts"].sum()), int(first.sum())


def test_without_read_noise_the_classifier_is_what_it_was(nc, plain_fit):
    """Spike counts, first-spike time steps and learned weights as they were before the readout could be noisy
    (measured with the code before the change): predicting with FrozenCopies, and (no reset) with the layer's own
    static copy after a training whose device draws random numbers (c2c, stochastic rounding) but reads exactly."""
    import warnings

    from plastlab import SpikingClassifier

    clf, X = plain_fit
    assert _first_steps_and_counts(clf, X) == (5, 86)
    assert clf.weights_.sum() == pytest.approx(3.115267070468768, rel=1e-12)
    X, y = _blobs(6)
    rule = nc.with_device(c2c=0.2, levels=32, rounding="stochastic")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*made no output neuron fire")
        other = SpikingClassifier(rule=rule, reset=False, **dict(FAST_CLF, calibrate=True)).fit(X, y)
    assert _first_steps_and_counts(other, X) == (7, 110)
    assert other.weights_.sum() == pytest.approx(2.193548387096774, rel=1e-12)


@pytest.mark.filterwarnings("ignore:.*made no output neuron fire")
def test_read_noise_reaches_the_classifiers_frozen_readout_seeded_by_the_fit(nc, plain_fit):
    import copy

    clf, X = plain_fit
    noisy_clf = copy.copy(clf)
    noisy_clf.rule_ = nc.with_device(read_noise=0.3)  # the same learned weights, read through a noisy device
    weights = clf.weights_.copy()
    same = X[[0] * 6 + [7] * 6]  # one sample presented six times: each presentation reads anew
    noisy = noisy_clf.predict_details(same)[1]["first_spike"]
    assert np.array_equal(noisy, noisy_clf.predict_details(same)[1]["first_spike"])  # predicting again: the same
    assert np.array_equal(noisy_clf.weights_, weights)  # reading does not change the weights
    assert len(np.unique(noisy[:6], axis=0)) > 1 or len(np.unique(noisy[6:], axis=0)) > 1
    plain = clf.predict_details(same)[1]["first_spike"]  # without noise: every presentation alike
    assert len(np.unique(plain[:6], axis=0)) == 1 and len(np.unique(plain[6:], axis=0)) == 1
    assert not np.array_equal(plain, noisy)
    reseeded = copy.copy(noisy_clf)
    reseeded.seed_ = clf.seed_ + 1  # another network seed: other draws
    assert not np.array_equal(reseeded.predict_details(same)[1]["first_spike"], noisy)


def test_read_noise_at_cartpoles_decision_layer(nc):
    """CartPole's decision layer reads the plastic weights' copy with the device's read noise, seeded."""
    from plastlab.brian.control import ControlNetwork
    from plastlab.brian.taught import scope

    def decision_current(rule, seed=2):
        with scope(target="numpy", dt=0.5, seed=seed):
            net = ControlNetwork(rule, n_in=200, dt=0.5, slot=10.0, gain=0.01, inhibition=0.0, plasticity=False,
                                 initial=np.full(400, 0.5), on_slot=lambda t0: None,
                                 neuron=dict(tau_m=6.0, tau_syn=5.0, t_ref=100.0, v_th=1e9, teacher_amp=0.0,
                                             suppress_amp=0.0))
            net.copy_weights()
            net.set_spike_times("decision", np.full(200, 1.0))
            net.silence("teaching")
            net.run(2.0)
            return np.array(net.out_dec.I[:])

    plain, noisy = decision_current(nc), decision_current(nc.with_device(read_noise=0.3))
    assert np.ptp(plain) == 0 and not np.allclose(noisy, plain)
    assert np.allclose(noisy, plain, rtol=0.15)  # 200 reads of sd 0.3 each: ~2 % on their sum
    assert np.array_equal(noisy, decision_current(nc.with_device(read_noise=0.3)))
