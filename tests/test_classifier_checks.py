"""scikit-learn's own estimator checks for SpikingClassifier and the encoders; pickling in a fresh process."""
import pickle
import subprocess
import sys

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks

from plastlab import SpikingClassifier
from plastlab.learn.encoding import GaussianRFEncoder, PoissonRateEncoder

# small and quick: the checks fit dozens of times on tiny data
QUICK = dict(epochs=1, n_fields=3, t_encode=10.0, t_gap=2.0, dt=1.0, random_state=0)

# Checks that cannot apply, each with its reason.
CLASSIFIER_XFAIL = {
    "check_classifiers_train": "needs >= 0.83 training accuracy on scikit-learn's synthetic 3-class data after "
                               "one epoch; a spiking layer trained for one epoch on 3 receptive fields does not",
}


def _expected_failed(estimator):
    return CLASSIFIER_XFAIL if isinstance(estimator, SpikingClassifier) else {}


@parametrize_with_checks([SpikingClassifier("nc_memristor", **QUICK), GaussianRFEncoder(n_fields=3),
                          PoissonRateEncoder(n_fields=2, random_state=0)],
                         expected_failed_checks=_expected_failed)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _blobs(n=8, seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.normal([0.2, 0.25], 0.06, size=(n, 2)), rng.normal([0.8, 0.7], 0.06, size=(n, 2))])
    return X, np.array([0] * n + [1] * n)


def test_pickled_classifier_predicts_the_same_in_a_fresh_process(tmp_path):
    X, y = _blobs()
    clf = SpikingClassifier("nc_memristor", epochs=2, t_gap=0.0, random_state=0).fit(X, y)
    expected = clf.predict_details(X)[1]["first_spike"]
    path = tmp_path / "clf.pkl"
    path.write_bytes(pickle.dumps(clf))
    np.save(tmp_path / "X.npy", X)
    code = ("import pickle, sys, numpy as np; clf = pickle.load(open(sys.argv[1], 'rb')); "
            "np.save(sys.argv[3], clf.predict_details(np.load(sys.argv[2]))[1]['first_spike'])")
    subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "X.npy"), str(tmp_path / "out.npy")],
                   check=True, cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)


def test_poisson_predictions_are_repeatable():
    X, y = _blobs()
    clf = SpikingClassifier("nc_memristor", encoding="poisson", n_fields=3, epochs=1, t_gap=0.0,
                            random_state=0).fit(X, y)
    a, b = clf.predict_details(X)[1], clf.predict_details(X)[1]
    np.testing.assert_array_equal(a["first_spike"], b["first_spike"])
    np.testing.assert_array_equal(a["counts"], b["counts"])
