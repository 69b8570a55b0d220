"""The competitive (unsupervised winner-take-all) training of SpikingClassifier and the jittered teacher: no
teacher during training, one winner per presentation, labels from the responses, homeostasis, seeds, and the
scikit-learn estimator API. Small data, numpy target (no compilation), a few seconds in all."""
import numpy as np
import pytest
from sklearn.base import clone

from plastlab import SpikingClassifier
from plastlab.brian.taught import TaughtCopies, TeachingSpec
from plastlab.errors import ConfigError
from plastlab.learn.competitive import assign_labels, winners

FAST = dict(training="competitive", epochs=1, dt=0.5, t_gap=5.0, calibrate=False, members=1, target="numpy",
            w_init=0.5, w_spread=0.4, gain=45.0, inhibition=100.0, neurons_per_class=2, n_fields=3, homeostasis=2.0,
            homeostasis_tau=10.0)


def blobs(n=6, seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal([0.2, 0.25], 0.05, size=(n, 2)), rng.normal([0.8, 0.7], 0.05, size=(n, 2))])
    return X, np.array(["low"] * n + ["high"] * n)


def spec(**kw):
    base = dict(dt=0.5, slot=30.0, tau_m=6.0, tau_syn=5.0, t_ref=30.0, v_th=8.0, inhibition=100.0, teacher_amp=30.0,
                teacher_duration=5.0, suppress=100.0, hold=25.0, anti_teach=False, reset=True)
    return TeachingSpec(**{**base, **kw})


def schedule(teach, delays, s=None):
    """The teacher's spikes TaughtCopies would send for two patterns of one copy of 3 neurons (no network)."""
    plan = TaughtCopies.__new__(TaughtCopies)
    plan._plan(s or spec(), [(2, np.array([0, 1, 2]))])
    trains = [(np.array([0, 1]), np.array([1.0, 4.0])), (np.array([0]), np.array([2.0]))]
    return plan._schedule([trains], [np.array([0, 1])], [np.asarray(teach)], [delays], 0.0)[1]


def test_an_untaught_slot_gets_no_teacher_and_nobody_held_down():
    idx, times = schedule([-1, -1], 12.5)
    assert len(idx) == 0 and len(times) == 0
    idx, times = schedule([1, -1], 12.5)  # slot 0 taught (neuron 1; 0 and 2 held down), slot 1 not
    assert sorted(idx.tolist()) == [1, 3, 5] and np.all(np.asarray(times) < 30.0)


def test_a_jittered_teacher_comes_at_each_slots_own_time_inside_the_slot():
    idx, times = schedule([0, 0], np.array([3.0, 40.0]), spec(suppress=0.0))
    assert idx.tolist() == [0, 0]
    np.testing.assert_allclose(times, [1.0 + 3.0, 30.0 + 30.0 - 1.0])  # the second kept inside its slot


def test_winners_and_labels():
    first = np.array([[1.0, 2.0, np.inf], [3.0, 3.0, 5.0], [np.inf] * 3, [np.inf, 4.0, 1.0]])
    np.testing.assert_array_equal(winners(first), [[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 0, 1]])
    counts = np.isfinite(first).astype(int)
    y = np.array([0, 0, 1, 1])
    # neuron 0 wins class 0 only; neuron 1 wins once in class 0; neuron 2 wins class 1
    np.testing.assert_array_equal(assign_labels(first, counts, y, 2, np.zeros(3)), [0, 0, 1])
    # a neuron that never wins takes the class it spikes most on; a silent one the most frequent class
    first = np.array([[1.0, 2.0, np.inf], [np.inf] * 3, [1.0, 3.0, np.inf]])
    np.testing.assert_array_equal(assign_labels(first, np.isfinite(first), np.array([1, 0, 1]), 2, np.zeros(3)),
                                  [1, 1, 1])
    # each member's neurons compete among themselves only
    first = np.array([[1.0, 2.0, 5.0, 4.0], [2.0, 1.0, 4.0, 5.0]])
    np.testing.assert_array_equal(assign_labels(first, np.ones((2, 4)), np.array([0, 1]), 2, [0, 0, 1, 1]),
                                  [0, 1, 1, 0])


@pytest.fixture(scope="module")
def fitted():
    """One small competitive fit with homeostasis (shared by the tests below: Brian2 runs are the cost)."""
    X, y = blobs()
    return X, y, SpikingClassifier("stdp_sboev", random_state=0, **FAST).fit(X, y)


def test_competitive_training_has_no_teacher_one_winner_per_pattern_and_labels_its_neurons(fitted):
    X, y, clf = fitted
    net = clf._network
    assert net.spec.winner_holds and not net.spec.anti_teach
    # the teacher's spike source was given no spike in training: no teacher current, nobody held down
    assert len(net.teacher.spike_time) == 0
    # every neuron inhibits every other one (its own group), while the labels are the classes
    assert clf._copies()[0][1].tolist() == [0, 1, 2, 3]
    assert set(clf.group_of_) <= {0, 1} and len(clf.group_of_) == 4
    # in training the winner holds the others down: only the first spike's time step fires, one winner per
    # presentation (two only when they cross the threshold in the same step)
    with clf._brian():  # its scope: the numpy target
        first, counts = net.present([clf._trains(X)], [np.arange(len(X))], [np.full(len(X), -1)], [0.0])[0]
    assert np.isfinite(first).any(axis=1).mean() > 0.9
    np.testing.assert_array_equal(counts.sum(axis=1), winners(first).sum(axis=1))
    assert winners(first).sum(axis=1).mean() < 1.5
    # homeostasis: the winners' own inhibition (carried as a negative teacher current) has risen
    theta = -np.asarray(net.layer.neurons.teach_amp)
    assert theta.max() > 0.5 and np.all(theta >= 0)
    # the label of the winning neuron names the class
    pred, info = clf.predict_details(X)
    won, names = winners(info["first_spike"]), clf.classes_[clf.group_of_]
    for k in np.flatnonzero(won.sum(axis=1) == 1):
        assert pred[k] == names[np.argmax(won[k])]


def test_homeostasis_needs_a_competitive_layer():
    X, y = blobs()
    with pytest.raises(ConfigError, match="homeostasis"):
        SpikingClassifier(homeostasis=1.0).fit(X, y)


def test_same_seed_same_result_and_the_estimator_api(fitted):
    X, y, a = fitted
    b = clone(a)
    assert b.get_params() == a.get_params() and not hasattr(b, "weights_")
    b.fit(X, y)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    np.testing.assert_array_equal(a.group_of_, b.group_of_)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert set(a.predict(X)) <= set(y) and 0.0 <= a.score(X, y) <= 1.0
    c = clone(a).set_params(random_state=4).fit(X, y)
    assert not np.array_equal(a.weights_, c.weights_)


def test_jittered_teacher_draws_per_pattern_and_keeps_the_seed():
    X, y = blobs(4)
    kw = dict(epochs=1, dt=0.5, t_gap=5.0, calibrate=False, members=1, target="numpy", n_fields=4)
    a = SpikingClassifier("stdp_sboev", random_state=0, teacher_jitter=20.0, **kw).fit(X, y)
    b = SpikingClassifier("stdp_sboev", random_state=0, teacher_jitter=20.0, **kw).fit(X, y)
    c = SpikingClassifier("stdp_sboev", random_state=0, **kw).fit(X, y)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert not np.array_equal(a.weights_, c.weights_)
