"""Model selection for SpikingClassifier: search spaces, the inner randomised search and (nested) cross-validation.

Kept apart from the estimator (:mod:`plastlab.learn.classifier`) because it is scikit-learn's job shaped to one
fact: every fit of a cross-validation (and of each fold's inner search) can run side by side in one network
(``fit_many`` / ``predict_many``), which is what makes nested CV of a spiking layer affordable. The choices equal
``RandomizedSearchCV``'s with the same seeds; the results come back as one xarray Dataset per run.
"""
import json
import time
import warnings
from dataclasses import dataclass

import numpy as np

from ..config import validate
from ..errors import ConfigError
from .classifier import PARAMS, SILENT_WARNING, SilentOutputWarning, _plain, fit_many, predict_many

__all__ = ["check_space", "Search", "TUNING", "inner_search", "cross_validate", "cross_validate_sklearn"]


def check_space(space, *, file=None, section="search"):
    """A search space over classifier settings: declared keys (not ``protocol``), each a non-empty list of values
    that the key accepts (ConfigError otherwise)."""
    checked = {}
    for key, values in space.items():
        if key not in PARAMS or key == "protocol":
            raise ConfigError("unknown classifier setting in the search space", file=file, section=section, key=key)
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError("must be a non-empty list of values", file=file, section=section, key=key)
        for v in values:
            validate({key: _plain(v)}, {key: PARAMS[key]}, file=file, section=section)
        checked[key] = list(values)
    return checked


@dataclass(frozen=True)
class Search:
    """An inner randomised search: ``budget`` candidates drawn from ``space`` (lists of values) by scikit-learn's
    ``ParameterSampler``, each scored by stratified ``inner_folds``-fold CV (F1-micro) on the outer training part
    only; the first of the best mean scores wins, as in ``RandomizedSearchCV``."""

    space: dict
    budget: int = 8
    inner_folds: int = 3

    def __post_init__(self):
        object.__setattr__(self, "space", check_space(self.space))
        if not (isinstance(self.budget, int) and self.budget >= 1):
            raise ConfigError(f"must be a whole number >= 1, got {self.budget!r}", section="search", key="budget")
        if not (isinstance(self.inner_folds, int) and self.inner_folds >= 2):
            raise ConfigError(f"must be a whole number >= 2, got {self.inner_folds!r}", section="search",
                              key="inner_folds")

    def without(self, keys):
        """The same search with ``keys`` (settings the user fixed) taken out of the space."""
        return Search({k: v for k, v in self.space.items() if k not in keys}, self.budget, self.inner_folds)

    def candidates(self, seed):
        from sklearn.model_selection import ParameterSampler

        return list(ParameterSampler(self.space, self.budget, random_state=seed)) if self.space else [{}]


# The inner search of ``plastlab classify --tune``: the teacher's delay (what a rule's window is timed against; PPX
# potentiates most ~40 ms before a post spike, NC within ~10 ms) and the number of epochs (how far hard-bounded
# rules saturate their weights), the settings whose best value changed rule by rule and data set by data set on
# the development folds (Iris, breast cancer, wine; CV seeds 1-2); the whole grid of 12.
TUNING = Search({"teacher_delay": [6.25, 12.5, 18.75, 25.0], "epochs": [1, 2, 5]}, budget=12, inner_folds=3)


def inner_search(estimator, X, y, splits, search, *, seed, progress=False):
    """The settings an inner search (``Search``) picks on the training part of each outer split, every inner fit of
    every split side by side (``fit_many``). Split k uses seed ``seed + k`` for its candidates, inner folds and
    fits, so the choices equal ``RandomizedSearchCV``'s with those seeds (tested)."""
    from sklearn.base import clone
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    candidates = [search.candidates(seed + k) for k in range(len(splits))]
    inner, estimators, data = [], [], []
    for k, (tr, _) in enumerate(splits):
        if len(candidates[k]) == 1:
            continue  # nothing to choose between
        parts = StratifiedKFold(search.inner_folds, shuffle=True, random_state=seed + k).split(X[tr], y[tr])
        for f, (itr, ite) in enumerate(parts):
            for j, params in enumerate(candidates[k]):
                inner.append((k, j, f, tr[ite]))
                estimators.append(clone(estimator).set_params(random_state=seed + k, **params))
                data.append((X[tr[itr]], y[tr[itr]]))
    scores = [np.zeros((len(cands), search.inner_folds)) for cands in candidates]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SilentOutputWarning)
        fit_many(estimators, data, progress=progress)
        predictions = predict_many(estimators, [X[te] for *_, te in inner], progress=progress)
        for (k, j, f, test), (pred, _) in zip(inner, predictions):
            scores[k][j, f] = f1_score(y[test], pred, average="micro")
    return [cands[int(np.argmax(score.mean(axis=1)))] for cands, score in zip(candidates, scores)]


def _splits(X, y, folds, seed, folds_iter):
    from sklearn.model_selection import StratifiedKFold

    if folds_iter is not None:
        return list(folds_iter)
    return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y))


def cross_validate(estimator, X, y, *, folds=5, seed=0, progress=False, dataset="data", folds_iter=None,
                   search=None):
    """Stratified ``folds``-fold cross-validation of a SpikingClassifier (same folds for the same seed).

    Returns an xarray Dataset: ``f1`` (F1-micro) over ``fold``; ``confusion`` over ``fold``, ``true``,
    ``predicted``; mean input / output spikes per test sample, silent test samples, fit and predict wall
    time per fold; ``weights`` of each fold's trained layer over ``fold``, ``input``, ``neuron``; the settings,
    the rule's equations, the seed and package versions in attrs.

    With ``search`` (a ``Search``), this is nested cross-validation: on each fold's training part an inner search
    picks settings (``chosen`` per fold, as JSON), and the fold's model is refit with them on the whole training
    part and scored once on the test part (attrs ``protocol = "nested-cv"``, ``search_space``, ``budget``,
    ``inner_folds``). Folds may then differ in their settings: each fold's resolved settings are ``settings``
    (JSON) over ``fold``, attrs ``hyperparameters`` keeps those all folds share (``n_fields`` and ``transmit`` only
    when shared), per-fold arrays of other shapes are padded with NaN, and when the folds' layers differ
    (``members``, ``neurons_per_class``) the coordinates ``neuron_class`` / ``neuron_member`` run over
    (``fold``, ``neuron``), padded with "" / -1.
    """
    from sklearn.base import clone

    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    splits = _splits(X, y, folds, seed, folds_iter)
    chosen = inner_search(estimator, X, y, splits, search, seed=seed, progress=progress) if search else [{}] * len(
        splits)
    estimators = [clone(estimator).set_params(random_state=seed + k, **params) for k, params in enumerate(chosen)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SilentOutputWarning)  # recorded per fold below instead
        fit_many(estimators, [(X[tr], y[tr]) for tr, _ in splits], progress=progress)  # all folds side by side
        t1 = time.perf_counter()
        predictions = predict_many(estimators, [X[te] for _, te in splits], progress=progress)
        predict_seconds = time.perf_counter() - t1
    rows = [_fold_row(y, np.unique(y), te, est, pred, info, predict_seconds)
            for (_, te), est, (pred, info) in zip(splits, estimators, predictions)]
    ds = _fold_dataset(rows, chosen, estimators, [str(c) for c in np.unique(y)])
    _describe(ds, estimators, splits, search, seed=seed, dataset=dataset, n_features=X.shape[1])
    return ds


def _fold_row(y, classes, te, est, pred, info, predict_seconds):
    from sklearn.metrics import confusion_matrix, f1_score

    return dict(f1=f1_score(y[te], pred, average="micro"), confusion=confusion_matrix(y[te], pred, labels=classes),
                input_spikes=info["input_spikes"].mean(), output_spikes=info["counts"].sum(axis=1).mean(),
                silent=info["silent"], silent_fraction=info["silent"] / len(te), fit_seconds=est.fit_seconds_,
                predict_seconds=predict_seconds, weights=est.weights_, train_accuracy=est.train_accuracy_)


VARIABLES = {  # name: (dimensions, attrs)
    "f1": (("fold",), {"long_name": "F1 (micro) on the test fold"}),
    "confusion": (("fold", "true", "predicted"), {"long_name": "confusion matrix"}),
    "input_spikes": (("fold",), {"long_name": "mean input spikes per test sample"}),
    "output_spikes": (("fold",), {"long_name": "mean output spikes per test sample"}),
    "silent": (("fold",), {"long_name": "test samples with no output spike"}),
    "silent_fraction": (("fold",), {"long_name": "fraction of test samples with no output spike"}),
    "fit_seconds": (("fold",), {"units": "s", "long_name": "wall time of the fit (all folds fitted side by side)"}),
    "predict_seconds": (("fold",), {"units": "s",
                                    "long_name": "wall time of predicting all test folds side by side"}),
    "train_accuracy": (("fold", "epoch"), {"long_name": "accuracy of the taught network during training"}),
    "weights": (("fold", "input", "neuron"), {"long_name": "learned weights as fractions of the rule's range",
                                              "units": "1"}),
}


def _fold_dataset(rows, chosen, estimators, labels):
    import xarray as xr

    data = {name: (dims, _stacked([r[name] for r in rows]), attrs) for name, (dims, attrs) in VARIABLES.items()}
    data["chosen"] = (("fold",), np.array([json.dumps(c, default=float) for c in chosen], dtype=object),
                      {"long_name": "settings the inner search chose on the fold's training part (JSON)"})
    coords = {"fold": np.arange(len(rows)), "true": labels, "predicted": labels, **_neuron_coords(estimators, labels)}
    return xr.Dataset(data, coords=coords)


def _neuron_coords(estimators, labels):
    """Class and member of each output neuron: over ``neuron`` when every fold's layer has the same neurons, else
    over (``fold``, ``neuron``), padded with "" / -1 (folds whose search chose other members or neurons per
    class)."""
    classes = [[labels[g] for g in est.group_of_] for est in estimators]
    members = [list(est.member_of_) for est in estimators]
    if all(c == classes[0] for c in classes) and all(m == members[0] for m in members):
        return {"neuron_class": ("neuron", classes[0]), "neuron_member": ("neuron", estimators[0].member_of_)}
    n = max(len(c) for c in classes)
    return {"neuron_class": (("fold", "neuron"), np.array([c + [""] * (n - len(c)) for c in classes])),
            "neuron_member": (("fold", "neuron"), np.array([m + [-1] * (n - len(m)) for m in members]))}


def _shared(values):
    """The items of the first dict that every dict has with the same value."""
    return {k: v for k, v in values[0].items() if all(k in d and d[k] == v for d in values[1:])}


def _describe(ds, estimators, splits, search, *, seed, dataset, n_features):
    """Provenance and settings in attrs: what every fold shares; with a search, each fold's own settings too."""
    from ..store import provenance

    settings = [est.settings_ for est in estimators]
    shared = _shared(settings)
    transmit = {est.transmit_ for est in estimators}
    per_fold = dict(n_fields=shared["n_fields"]) if "n_fields" in shared else {}
    if len(transmit) == 1:
        per_fold["transmit"] = estimators[0].transmit_
    silent = float(ds.silent.values.sum() / sum(len(te) for _, te in splits))
    ds.attrs.update(provenance(rule=estimators[0].rule_, seed=seed, dataset=dataset, folds=len(splits),
                               estimator="SpikingClassifier", hyperparameters=shared, n_features=n_features,
                               **per_fold, silent_fraction=silent, silent_warning=int(silent > SILENT_WARNING)))
    ds.attrs["protocol"] = "nested-cv" if search else "fixed"
    if search:
        ds["settings"] = (("fold",), np.array([json.dumps(s, default=float) for s in settings], dtype=object),
                          {"long_name": "the fold's resolved classifier settings (JSON)"})
        ds["transmit"] = (("fold",), np.array([est.transmit_ for est in estimators], dtype=object),
                          {"long_name": "the fold's transmit statement with its numbers"})
        ds.attrs.update(search_space=json.dumps(search.space, default=float), budget=search.budget,
                        inner_folds=search.inner_folds)


def _stacked(values):
    """Per-fold values as one array; arrays that differ in shape (folds whose search chose other ``n_fields``,
    ``epochs``, ``members`` or ``neurons_per_class``) padded with NaN."""
    arrays = [np.asarray(v) for v in values]
    shape = np.max([a.shape for a in arrays], axis=0) if arrays[0].ndim else ()
    if all(a.shape == tuple(shape) for a in arrays):
        return np.array(arrays)
    out = np.full((len(arrays), *shape), np.nan)
    for k, a in enumerate(arrays):
        out[(k, *(slice(0, n) for n in a.shape))] = a
    return out


def cross_validate_sklearn(estimator, X, y, *, folds=5, seed=0, folds_iter=None):
    """F1-micro per fold of a classic scikit-learn estimator on the same stratified folds."""
    from sklearn.base import clone
    from sklearn.metrics import f1_score

    scores = []
    for tr, te in _splits(X, y, folds, seed, folds_iter):
        est = clone(estimator)
        if "random_state" in est.get_params():
            est.set_params(random_state=seed)
        scores.append(f1_score(y[te], est.fit(X[tr], y[tr]).predict(X[te]), average="micro"))
    return np.array(scores)
