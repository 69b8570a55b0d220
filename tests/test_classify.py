"""SpikingClassifier with real Brian2 and real scikit-learn, on small data and few epochs."""
import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from plastlab import SpikingClassifier
from plastlab.errors import ConfigError, RuleError

# one member: calibration is tested in test_classifier_checks, members below
FAST = dict(epochs=2, dt=0.5, t_gap=5.0, calibrate=False, members=1)


def blobs(n=16, seed=0):
    """Two well-separated classes in 2 features (labels are strings, to exercise classes_)."""
    rng = np.random.RandomState(seed)
    a = rng.normal([0.2, 0.25], 0.06, size=(n, 2))
    b = rng.normal([0.8, 0.7], 0.06, size=(n, 2))
    X = np.vstack([a, b])
    y = np.array(["low"] * n + ["high"] * n)
    return X, y


def test_learns_two_separated_classes_and_beats_chance():
    X, y = blobs()
    tr = np.r_[0:12, 16:28]
    te = np.r_[12:16, 28:32]
    clf = SpikingClassifier(rule="nc_memristor", random_state=0, **dict(FAST, epochs=6)).fit(X[tr], y[tr])
    assert set(clf.classes_) == {"low", "high"}
    assert clf.weights_.shape == (2 * clf.settings_["n_fields"], 2)
    pred, info = clf.predict_details(X[te])
    assert np.mean(pred == y[te]) >= 0.875
    assert info["counts"].shape == (8, 2) and info["silent"] <= 1
    # the taught neuron of each class ends up with more weight on its own class's early fields (those that
    # spike within 5 ms in most of the class's training samples)
    low = list(clf.classes_).index("low")
    for cls, neuron in (("low", low), ("high", 1 - low)):
        early = np.flatnonzero(np.mean(clf.encoder_.transform(X[tr][y[tr] == cls]) < 5.0, axis=0) > 0.5)
        assert len(early) and clf.weights_[early, neuron].mean() > clf.weights_[early, 1 - neuron].mean() + 0.5
    # plasticity is off at test time: predicting does not change the learned weights
    w = clf.weights_.copy()
    clf.predict(X)
    np.testing.assert_allclose(clf._network.layer.fractions().reshape(w.shape), w)


def test_same_seed_same_result_other_seed_other_weights():
    X, y = blobs(8)
    a = SpikingClassifier(rule="nc_memristor", random_state=1, **FAST).fit(X, y)
    b = SpikingClassifier(rule="nc_memristor", random_state=1, **FAST).fit(X, y)
    c = SpikingClassifier(rule="nc_memristor", random_state=2, **FAST).fit(X, y)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert not np.array_equal(a.weights_, c.weights_)
    # with a, b and c alive, c's code is still a's: no object is auto-named after the living ones (Brian2 puts
    # such names, e.g. a group's own clock 'x_clock_2', into the generated code, so each fit would compile anew)
    names = {obj.name for obj in c._network.net.objects} | {obj.clock.name for obj in c._network.net.objects}
    assert not [n for n in names if re.search(r"_\d+$", n)], names


def test_frozen_patterns_side_by_side_spike_as_one_after_another():
    from plastlab.learn.classifier import frozen_responses

    """Predictions run every pattern as its own copy of the frozen layer in one short run (FrozenCopies); with a
    reset at every pattern that is the same network as presenting them in turn: same counts, same spike times."""
    X, y = blobs(8)
    clf = SpikingClassifier(rule="nc_memristor", random_state=3, neurons_per_class=2, **FAST).fit(X, y)
    trains = clf._trains(X)
    with clf._brian():
        side_by_side = frozen_responses([clf], [trains], [5.0])[0]
        in_turn = clf._responses_in_turn(trains, 5.0)  # the fitted network resets at every pattern
    assert side_by_side[1].sum() > len(X)  # most patterns make spikes
    np.testing.assert_array_equal(side_by_side[1], in_turn[1])
    np.testing.assert_allclose(side_by_side[0], in_turn[0], rtol=0, atol=1e-9)  # ms; in turn: t - k*slot


def test_members_are_layers_of_their_own_whose_mean_first_spike_decides():
    """members=3: three layers with their own first weights, pattern orders and readout gains, trained and run side by
    side; the class with the earliest mean first spike over the members wins (a silent member counts the slot's
    end); side by side and in turn, each member at its own gain, they spike alike."""
    from plastlab.learn.classifier import frozen_responses

    X, y = blobs(8)
    clf = SpikingClassifier(rule="nc_memristor", random_state=0, **dict(FAST, members=3, calibrate=True)).fit(X, y)
    assert clf.weights_.shape == (2 * clf.settings_["n_fields"], 6) and clf.readout_scale_.shape == (3,)
    assert list(clf.member_of_) == [0, 0, 1, 1, 2, 2] and list(clf.group_of_) == [0, 1] * 3
    learned = clf._member_weights()
    assert not any(np.array_equal(a, b) for a, b in zip(learned, learned[1:]))  # each member learned its own
    pred, info = clf.predict_details(X)
    slot = clf.settings_["t_encode"] + clf.settings_["t_gap"]
    mean_first = np.minimum(info["first_spike"], slot).reshape(len(X), 3, 2).mean(axis=1)
    clear = (np.sort(mean_first, axis=1)[:, 1] > mean_first.min(axis=1)) & (info["counts"].sum(axis=1) > 0)
    assert clear.sum() >= len(X) // 2
    np.testing.assert_array_equal(pred[clear], clf.classes_[np.argmin(mean_first, axis=1)][clear])
    assert np.mean(pred == y) >= 0.75

    factors = np.array([1.0, 2.25, 5.0])
    trains = clf._trains(X)
    with clf._brian():
        side_by_side = frozen_responses([clf], [trains], [factors])[0]
        clf.settings_ = dict(clf.settings_, reset=False)  # the in-turn path, on the fitted network (it resets)
        in_turn = frozen_responses([clf], [trains], [factors])[0]
    np.testing.assert_array_equal(side_by_side[1], in_turn[1])
    np.testing.assert_allclose(side_by_side[0], in_turn[0], rtol=0, atol=1e-9)
    assert side_by_side[1][:, 4:].sum() > side_by_side[1][:, :2].sum()  # the gain of 5 makes more spikes


@pytest.mark.slow
def test_fits_side_by_side_learn_what_each_learns_alone():
    """fit_many trains several classifiers as copies in one network (one per shared gain here): other encoders,
    teacher delays, seeds and data sizes, and still each copy's weights and predictions are its own."""
    from plastlab.learn.classifier import fit_many

    X, y = blobs(10)
    settings = [dict(n_fields=4, teacher_delay=2.0, random_state=0),
                dict(n_fields=6, teacher_delay=8.0, random_state=1),
                dict(n_fields=4, teacher_delay=2.0, random_state=2, gain=90.0)]
    parts = [np.r_[0:10, 10:20], np.r_[0:9, 11:20], np.r_[1:10, 10:19]]
    together = fit_many([SpikingClassifier("nc_memristor", **FAST, **kw) for kw in settings],
                        [(X[p], y[p]) for p in parts])
    for kw, part, est in zip(settings, parts, together):
        alone = SpikingClassifier("nc_memristor", **FAST, **kw).fit(X[part], y[part])
        np.testing.assert_allclose(est.weights_, alone.weights_, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(est.train_accuracy_, alone.train_accuracy_)
        np.testing.assert_array_equal(est.predict(X), alone.predict(X))
    assert not np.array_equal(together[0].weights_, together[2].weights_)


def test_sklearn_contract_clone_pipeline_cross_val_score():
    clf = SpikingClassifier(rule="nc_memristor", n_fields=6, random_state=0, **dict(FAST, epochs=6))
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "weights_")
    X, y = blobs(16)
    pipe = make_pipeline(StandardScaler(), clf)
    scores = cross_val_score(pipe, X, y, cv=StratifiedKFold(2, shuffle=True, random_state=0), scoring="f1_micro")
    assert scores.shape == (2,) and np.all(scores >= 0.75)


@pytest.mark.slow
def test_grid_search_over_rule_and_encoder_settings():
    X, y = blobs(16)
    base = SpikingClassifier(rule="nc_memristor", random_state=0, **dict(FAST, epochs=3))
    grid = GridSearchCV(base, {"n_fields": [4, 6], "teacher_delay": [3.0, 5.0]},
                        cv=StratifiedKFold(2, shuffle=True, random_state=0), scoring="f1_micro")
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_params_["n_fields"] in (4, 6) and grid.best_score_ >= 0.75
    assert grid.best_estimator_.weights_.shape == (2 * grid.best_params_["n_fields"], 2)
    assert np.mean(grid.predict(X) == y) >= 0.75


def test_count_decoding_other_rule_and_quantile_scaling():
    """decoding="count": the class whose neurons fire most wins, whichever fired first; a silent sample gets the
    most frequent training class."""
    X, y = blobs(8)
    clf = SpikingClassifier(rule="ppx_memristor", decoding="count", teacher_delay=20.0, scaling="quantile",
                            random_state=0, **dict(FAST, neurons_per_class=2)).fit(X, y)
    assert clf.encoder_.scaling == "quantile" and hasattr(clf.encoder_, "quantiles_")
    assert np.isfinite(clf.weights_).all() and clf.weights_.min() >= 0 and clf.weights_.max() <= 1
    assert list(clf.group_of_) == [0, 0, 1, 1]
    inf = np.inf
    first = np.array([[1.0, inf, 2.0, 3.0],  # class 0 first, class 1 more spikes (1 vs 2)
                      [inf, inf, 1.0, inf],  # class 1 alone
                      [5.0, 6.0, 1.0, inf],  # class 1 first, class 0 more spikes (3 vs 1)
                      [inf, inf, inf, inf]])  # silent
    counts = np.array([[1, 0, 1, 1], [0, 0, 2, 0], [2, 1, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(clf._decode(first, counts), [1, 1, 0, clf.prior_class_])
    pred, info = clf.predict_details(X)  # predict decodes the network's counts so
    by_count = np.stack([info["counts"][:, clf.group_of_ == c].sum(axis=1) for c in range(2)], axis=1)
    expected = np.where(info["counts"].sum(axis=1) > 0, np.argmax(by_count, axis=1), clf.prior_class_)
    np.testing.assert_array_equal(pred, clf.classes_[expected])
    clf.settings_ = dict(clf.settings_, decoding="first_spike")  # the same responses by first spike: other classes
    np.testing.assert_array_equal(clf._decode(first, counts), [0, 1, 1, clf.prior_class_])


def test_rule_with_third_factor_is_refused_before_simulation():
    X, y = blobs(4)
    with pytest.raises(RuleError, match="third factor"):
        SpikingClassifier(rule="rstdp_eligibility").fit(X, y)


def test_unknown_rule_and_bad_settings():
    X, y = blobs(4)
    with pytest.raises(RuleError):
        SpikingClassifier(rule="no_such_rule_xyz").fit(X, y)
    with pytest.raises(ConfigError, match="'decoding': must be one of"):
        SpikingClassifier(decoding="vote").fit(X, y)
    with pytest.raises(ConfigError, match="teacher current never flows"):  # it starts one step after its spike
        SpikingClassifier(teacher_duration=0.5, dt=0.5).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SpikingClassifier(**FAST).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError):
        SpikingClassifier(**FAST).fit(np.where(X > 0.5, np.nan, X), y)


NS_RULE = """
[rule]
name = "stdp_ns"
summary = "additive STDP on a conductance in nS (a rule whose weight has a unit)"

[parameters]
gmax = "2*nS"
lam = 0.03
alpha = 0.65
tau_plus = "6*ms"
tau_minus = "31*ms"

[weight]
unit = "nS"
min = "0*nS"
max = "gmax"

[traces]
Kplus = "-Kplus/tau_plus"
Kminus = "-Kminus/tau_minus"

[on_pre]
statements = ["w = clip(w - alpha*lam*gmax*Kminus, 0*nS, gmax)", "Kplus += 1"]

[on_post]
statements = ["w = clip(w + lam*gmax*Kplus, 0*nS, gmax)", "Kminus += 1"]
"""


def test_rule_with_a_weight_in_nS_learns_like_its_dimensionless_twin(tmp_path):
    path = tmp_path / "stdp_ns.toml"
    path.write_text(NS_RULE)
    twin = tmp_path / "stdp_1.toml"
    twin.write_text(NS_RULE.replace('"2*nS"', "2.0").replace('unit = "nS"', 'unit = "1"')
                    .replace('"0*nS"', '"0"').replace("0*nS", "0").replace('name = "stdp_ns"', 'name = "stdp_1"'))
    X, y = blobs(8)
    ns = SpikingClassifier(rule=str(path), random_state=0, **FAST).fit(X, y)
    one = SpikingClassifier(rule=str(twin), random_state=0, **FAST).fit(X, y)
    assert ns.rule_.weight.unit != one.rule_.weight.unit
    assert 0 <= ns.weights_.min() and ns.weights_.max() <= 1 and not np.allclose(ns.weights_, ns.weights_[0, 0])
    np.testing.assert_allclose(ns.weights_, one.weights_, atol=1e-9)
    np.testing.assert_array_equal(ns.predict(X), one.predict(X))


def test_fit_and_predict_leave_brian2_and_numpy_state_alone():
    import brian2

    X, y = blobs(4)
    target, dt = brian2.prefs.codegen.target, brian2.defaultclock.dt
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    SpikingClassifier(rule="nc_memristor", random_state=0, **FAST).fit(X, y).predict(X)
    assert brian2.prefs.codegen.target == target and brian2.defaultclock.dt == dt
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_default_protocol_scales_with_the_encoding_window_and_the_features_units():
    """The plastlab defaults: the teacher half an encoding window after the earliest input; features
    power-transformed (Yeo-Johnson) in units of their sd, so the input spikes do not depend on a feature's unit,
    and a skewed feature spreads over the fields instead of piling into the first ones."""
    from plastlab.learn.classifier import TEACHER_DELAY_FRACTION, resolve_settings

    s = resolve_settings(SpikingClassifier("nc_memristor").get_params())
    assert s["scaling"] == "power" and s["teacher_delay"] == TEACHER_DELAY_FRACTION * s["t_encode"]
    assert resolve_settings(SpikingClassifier("nc_memristor", t_encode=40.0).get_params())["teacher_delay"] == \
        TEACHER_DELAY_FRACTION * 40.0
    assert resolve_settings(SpikingClassifier("nc_memristor", t_encode=40.0, teacher_delay=3.0).get_params())[
        "teacher_delay"] == 3.0
    assert resolve_settings(SpikingClassifier("nc_memristor", protocol="sboev").get_params())["teacher_delay"] == 0.0

    rng = np.random.RandomState(0)
    X = np.c_[rng.lognormal(0.0, 1.0, 300), rng.normal(5.0, 1.0, 300)]  # skewed, symmetric
    from plastlab.learn.encoding import GaussianRFEncoder

    encoder = lambda: GaussianRFEncoder(8, scaling="power")  # noqa: E731
    times = encoder().fit_transform(X)
    assert np.allclose(encoder().fit_transform(X * [1e3, 1e-3]), times, atol=1e-4, equal_nan=True)  # unit-free
    assert np.isfinite(encoder().fit_transform(np.c_[X[:, 0] * 1e299, X[:, 1]])[~np.isnan(times)]).all()

    def best_field_share(scaling):
        enc = GaussianRFEncoder(8, scaling=scaling).fit(X)
        best = enc.responses(X).reshape(len(X), 2, 8)[:, 0].argmax(axis=1)
        return np.bincount(best, minlength=8) / len(X)

    assert best_field_share("minmax")[:2].sum() > 0.7  # min-max: the skewed feature piles into two fields
    assert best_field_share("power")[:2].sum() < 0.4  # power: spread over the fields


def test_defaults_are_visible_and_none_only_where_the_protocols_differ():
    """get_params shows a setting's value wherever both protocols agree on it; None stays only where the protocol
    decides (or derives it), and the declared table says the same as the constructor."""
    from plastlab.learn.classifier import PARAMS, PROTOCOLS

    params = SpikingClassifier().get_params()
    assert params["epochs"] == 5 and params["decoding"] == "first_spike" and params["members"] is None
    assert PARAMS["protocol"].default == params["protocol"] == "plastlab"
    for key, param in PARAMS.items():
        if key == "protocol":
            continue
        assert params[key] == param.default, key
        agree = len({repr(table[key]) for table in PROTOCOLS.values()}) == 1
        assert (params[key] is None) == (not agree or key in ("sigma", "teacher_delay")), key
        assert params[key] is None or all(table[key] == params[key] for table in PROTOCOLS.values()), key


def test_nested_cv_whose_folds_choose_different_members_records_each_folds_settings(tmp_path):
    """A search over members and neurons per class: at seed 2 fold 0 can only choose 2 members and fold 2 only 1
    (ParameterSampler's candidates), so the folds' layers differ; each fold's settings, neurons and weights are
    its own (padded), and the fold's model is the one refit alone with its choice."""
    import json

    from plastlab.experiments.classification import write_classification_outputs
    from plastlab.learn.model_selection import Search, cross_validate

    X, y = blobs(8)
    base = SpikingClassifier("nc_memristor", **FAST)
    search = Search({"members": [1, 2], "neurons_per_class": [1, 2]}, budget=2, inner_folds=2)
    ds = cross_validate(base, X, y, folds=3, seed=2, search=search)
    chosen = [json.loads(c) for c in ds.chosen.values]
    settings = [json.loads(s) for s in ds.settings.values]
    assert chosen[0]["members"] == 2 and chosen[2]["members"] == 1
    assert all(s["members"] == c["members"] and s["neurons_per_class"] == c["neurons_per_class"]
               for s, c in zip(settings, chosen))
    assert "members" not in json.loads(ds.attrs["hyperparameters"]) and ds.attrs["n_fields"] == 8
    assert ds.neuron_member.dims == ("fold", "neuron")
    for k, c in enumerate(chosen):
        n = 2 * c["members"] * c["neurons_per_class"]
        assert list(ds.neuron_member.values[k] >= 0) == [True] * n + [False] * (ds.sizes["neuron"] - n)
        assert not np.isnan(ds.weights.values[k, :, :n]).any() and np.isnan(ds.weights.values[k, :, n:]).all()
    tr = next(StratifiedKFold(3, shuffle=True, random_state=2).split(X, y))[0]
    alone = clone(base).set_params(random_state=2, **chosen[0]).fit(X[tr], y[tr])
    np.testing.assert_allclose(ds.weights.values[0, :, :alone.weights_.shape[1]], alone.weights_, rtol=0, atol=1e-12)
    write_classification_outputs(ds, tmp_path)
    assert (tmp_path / "weights.png").stat().st_size > 0
