"""``kind = "classification"``: data sets x rules (SpikingClassifier) plus classic baselines on the same folds.

Settings merge from general to specific::

    [classifier]                     # every run
    [classifier.nc_memristor]        # every data set with this rule
    [classifier.iris]                # every rule on this data set
    [classifier.iris.nc_memristor]   # this pair
"""
import json
import time

import numpy as np

from ..config import REQUIRED, Param, validate
from ..errors import PlastlabError
from .common import fail as _fail

BASELINES = ("logistic_regression", "svc")
TABLES = ("experiment", "classifier")


HEAD = {
    "datasets": Param(list, REQUIRED, low=1, item=Param(str)),
    "rules": Param(list, [], item=Param(str)),
    "baselines": Param(list, [], item=Param(str, choices=BASELINES)),
    "folds": Param(int, 5, low=2, high=100),
}


def load(exp, head, data, path):
    """Check data sets, rules, baselines and every classifier setting before anything is simulated."""
    from ..brian.layer import check_rule
    from ..datasets import load_dataset

    head = validate(head, HEAD, file=path, section="experiment")
    exp.folds, exp.datasets, exp.rules, exp.baselines = head["folds"], head["datasets"], head["rules"], head["baselines"]
    if not (exp.rules or exp.baselines):
        raise _fail(path, "needs at least one rule or baseline", "experiment", "rules")
    exp.classifier = validate(data.get("classifier", {}), {}, file=path, section="classifier", allow_extra=True)
    for key, value in exp.classifier.items():
        if isinstance(value, dict) and key not in exp.datasets and key not in exp.rules:
            raise _fail(path, "names neither a data set nor a rule of this experiment", "classifier", key)
    for ds in exp.datasets:
        load_dataset(ds, folds=exp.folds)
    for rule_name in exp.rules:
        rule = check_rule(rule_name, "the spiking classifier")
        for ds in exp.datasets:
            make_classifier(rule, exp.settings(ds, rule_name), file=path, section=f"classifier.{ds}.{rule_name}")


def run(exp, out, *, progress=True):
    import xarray as xr
    from sklearn.model_selection import StratifiedKFold

    from ..learn.classifier import cross_validate, cross_validate_sklearn
    from ..datasets import load_dataset
    from ..store import package_versions, write_dataset

    methods = list(exp.rules) + list(exp.baselines)
    f1 = np.full((len(methods), len(exp.datasets), exp.folds), np.nan)
    in_spk = np.full((len(methods), len(exp.datasets)), np.nan)
    out_spk = np.full_like(in_spk, np.nan)
    wall = np.full_like(in_spk, np.nan)
    runs = {}
    names = []
    for d, ds_name in enumerate(exp.datasets):
        X, y, short = load_dataset(ds_name, folds=exp.folds)
        names.append(short)
        splits = list(StratifiedKFold(exp.folds, shuffle=True, random_state=exp.seed).split(X, y))
        for m, method in enumerate(methods):
            t0 = time.perf_counter()
            if method in exp.baselines:
                f1[m, d] = cross_validate_sklearn(_baseline(method, exp.seed), X, y, folds_iter=splits)
            else:
                clf = make_classifier(method, exp.settings(ds_name, method))
                res = cross_validate(clf, X, y, seed=exp.seed, progress=progress, dataset=short,
                                     folds_iter=splits)
                f1[m, d] = res.f1.values
                in_spk[m, d] = float(res.input_spikes.mean())
                out_spk[m, d] = float(res.output_spikes.mean())
                runs[(ds_name, method)] = res
                write_classification_outputs(res, out / f"{short}_{method}")
            wall[m, d] = time.perf_counter() - t0
            print(f"{short:>14s}  {method:<20s} F1-micro {np.mean(f1[m, d]):.3f} ± {np.std(f1[m, d]):.3f}  "
                  f"({wall[m, d]:.1f} s)", flush=True)
    result = xr.Dataset(
        {
            "f1": (("model", "dataset", "fold"), f1, {"long_name": "F1 (micro) on the test fold"}),
            "input_spikes": (("model", "dataset"), in_spk, {"long_name": "mean input spikes per test sample"}),
            "output_spikes": (("model", "dataset"), out_spk, {"long_name": "mean output spikes per test sample"}),
            "wall_seconds": (("model", "dataset"), wall, {"units": "s"}),
        },
        coords={"model": methods, "dataset": names, "fold": np.arange(exp.folds)},
    )
    result.attrs.update(
        experiment=exp.name, experiment_file=str(exp.path), experiment_text=exp.path.read_text(),
        seed=exp.seed, folds=exp.folds, package_versions=json.dumps(package_versions()),
        settings=json.dumps({f"{d}/{r}": exp.settings(d, r) for d in exp.datasets for r in exp.rules}),
        rule_equations=json.dumps({r: runs[(exp.datasets[0], r)].attrs.get("rule_equations", "")
                                   for r in exp.rules}),
    )
    table = markdown_table(result)
    print()
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    write_dataset(result, out / "results.nc")
    (out / "results.md").write_text(table + "\n")
    print(f"wrote {out / 'results.nc'} and {out / 'results.md'}")
    return result


def _baseline(name, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if name == "logistic_regression":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    return make_pipeline(StandardScaler(), SVC(random_state=seed))


def markdown_table(result):
    """Methods x data sets, F1-micro mean ± std over folds."""
    datasets = [str(d) for d in result.dataset.values]
    lines = [f"| model | {' | '.join(datasets)} |", "|---|" + "---|" * len(datasets)]
    for m in result.model.values:
        cells = []
        for d in datasets:
            v = result.f1.sel(model=m, dataset=d).values
            cells.append(f"{np.mean(v):.3f} ± {np.std(v):.3f}")
        lines.append(f"| {m} | {' | '.join(cells)} |")
    lines.append("")
    lines.append(f"F1-micro, stratified {result.sizes['fold']}-fold cross-validation, seed {result.attrs.get('seed')}.")
    return "\n".join(lines)


def make_classifier(rule, settings, *, file=None, section="--set"):
    """A SpikingClassifier with ``settings``, checked against its declared table (ConfigError)."""
    from ..learn.classifier import PARAMS, SpikingClassifier, resolve_settings

    validate(settings, PARAMS, file=file, section=section)
    clf = SpikingClassifier(rule=rule).set_params(**settings)
    resolve_settings(clf.get_params(deep=False), where=section)
    return clf


def prepare_classification(dataset, rule_name, folds, settings, *, section="--set"):
    """Everything checked before any simulation: data, rule, network compatibility, settings."""
    from ..brian.layer import check_rule
    from ..datasets import load_dataset

    X, y, name = load_dataset(dataset, folds=folds)
    rule = check_rule(rule_name, "the spiking classifier")
    clf = make_classifier(rule, settings, section=section)
    return X, y, name, rule, clf


def write_classification_outputs(ds, out):
    from ..plots import plot_confusion, plot_weights
    from ..store import write_dataset

    out.mkdir(parents=True, exist_ok=True)
    write_dataset(ds, out / "results.nc")
    plot_confusion(ds, out / "confusion.png")
    plot_weights(ds, out / "weights.png")
    print(f"wrote {out / 'results.nc'}, {out / 'confusion.png'}, {out / 'weights.png'}")


