import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from plastlab.learn.encoding import GaussianRFEncoder, PoissonRateEncoder

X = np.array([[0.0, 10.0], [0.5, 20.0], [1.0, 30.0]])


def test_one_spike_per_field_at_most_and_strongest_field_first():
    enc = GaussianRFEncoder(n_fields=5, t_max=20.0, drop_late=None).fit(X)
    times = enc.transform(X)
    assert times.shape == (3, 10)
    assert np.all((times >= 0) & (times <= 20.0))
    # feature 0 of sample 1 is 0.5 (scaled): the middle field (index 2) responds fully and spikes at t = 0
    assert times[1, 2] == pytest.approx(0.0)
    assert np.argmin(times[0, :5]) == 0 and np.argmin(times[2, :5]) == 4
    # further from the centre -> later
    assert times[1, 1] > times[1, 2] and times[1, 0] > times[1, 1]


def test_drop_late_removes_weak_fields_only():
    full = GaussianRFEncoder(n_fields=8, t_max=25.0, drop_late=None).fit(X).transform(X)
    sparse = GaussianRFEncoder(n_fields=8, t_max=25.0, drop_late=0.9).fit(X).transform(X)
    kept = ~np.isnan(sparse)
    assert kept.sum() < kept.size
    assert np.all(full[~kept] >= 0.9 * 25.0)
    np.testing.assert_allclose(sparse[kept], full[kept])


def test_fit_learns_ranges_and_clips_out_of_range_values():
    enc = GaussianRFEncoder(n_fields=4, drop_late=None).fit(X)
    np.testing.assert_allclose(enc.data_min_, [0.0, 10.0])
    np.testing.assert_allclose(enc.data_range_, [1.0, 20.0])
    out = enc.transform(np.array([[-5.0, 100.0]]))
    np.testing.assert_allclose(out, enc.transform(np.array([[0.0, 30.0]])))


def test_fixed_bounds_and_spike_trains_sorted():
    enc = GaussianRFEncoder(n_fields=6, bounds=(-1.0, 1.0)).fit(np.zeros((1, 2)))
    (idx, t), = enc.spike_trains(np.array([[0.2, -0.7]]))
    assert np.all(np.diff(t) >= 0)
    assert set(idx) <= set(range(12))
    assert len(idx) == np.sum(~np.isnan(enc.transform(np.array([[0.2, -0.7]]))))


def test_sklearn_contract():
    enc = GaussianRFEncoder(n_fields=7, sigma=0.1)
    twin = clone(enc)
    assert twin.get_params() == enc.get_params()
    pipe = make_pipeline(StandardScaler(), GaussianRFEncoder(n_fields=3)).fit(X)
    assert pipe.transform(X).shape == (3, 6)
    names = ["x0_rf0", "x0_rf1", "x1_rf0", "x1_rf1"]
    assert list(GaussianRFEncoder(n_fields=2).fit(X).get_feature_names_out()) == names


def test_quantile_scaling_spreads_a_skewed_feature_over_all_fields():
    skewed = np.random.default_rng(0).lognormal(0.0, 1.5, size=(500, 1))
    def strongest_field_counts(scaling):
        enc = GaussianRFEncoder(n_fields=5, drop_late=None, scaling=scaling).fit(skewed)
        return np.bincount(np.argmin(enc.transform(skewed), axis=1), minlength=5)
    minmax, quantile = strongest_field_counts("minmax"), strongest_field_counts("quantile")
    assert minmax[0] > 400  # min-max: almost every sample falls into the first field
    assert quantile.min() >= 60 and quantile.max() <= 140  # ranks: about 100 per field
    # the learned quantiles are reused on new data, which is clipped to [0, 1] like min-max scaling
    enc = GaussianRFEncoder(n_fields=5, drop_late=None, scaling="quantile").fit(skewed)
    assert np.argmin(enc.transform([[1e6]])) == 4 and np.argmin(enc.transform([[-1.0]])) == 0


@pytest.mark.parametrize("kwargs", [dict(n_fields=1), dict(sigma=0.0), dict(t_max=-1.0), dict(drop_late=1.5),
                                    dict(scaling="zscore"), dict(scaling="quantile", bounds=(0.0, 1.0))])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        GaussianRFEncoder(**kwargs).fit(X)


def test_nan_input_is_refused():
    with pytest.raises(ValueError):
        GaussianRFEncoder().fit(np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_poisson_rates_and_reproducible_spikes():
    enc = PoissonRateEncoder(max_rate=400.0, duration=500.0, random_state=3).fit(X)
    np.testing.assert_allclose(enc.transform(X)[:, 0], [0.0, 200.0, 400.0])
    trains = enc.spike_trains(X)
    counts = [np.bincount(idx, minlength=2) for idx, _ in trains]
    # expected 0, 100 and 200 spikes for feature 0 (Poisson, fixed seed): within 4 standard deviations
    for expected, c in zip([0.0, 100.0, 200.0], counts):
        assert abs(c[0] - expected) <= 4 * np.sqrt(expected) + 1e-9
    again = PoissonRateEncoder(max_rate=400.0, duration=500.0, random_state=3).fit(X).spike_trains(X)
    for (i1, t1), (i2, t2) in zip(trains, again):
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(t1, t2)
