"""Experiment files (``experiments/*.toml``): load, check everything, run, write results.

Two kinds:

``kind = "classification"``: data sets x rules (SpikingClassifier) plus classic baselines, all on the same
stratified folds. Settings merge from general to specific::

    [classifier]                     # every run
    [classifier.nc_memristor]        # every data set with this rule
    [classifier.iris]                # every rule on this data set
    [classifier.iris.nc_memristor]   # this pair

``kind = "cartpole"``: closed-loop CartPole with one rule; ``[controller]`` holds the settings of
:func:`plastlab.learn.cartpole.train_cartpole`.

Everything (files, names, settings) is checked in :func:`load_experiment`, before anything is simulated.
"""

import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import PlastlabError

BASELINES = ("logistic_regression", "svc")
KINDS = ("classification", "cartpole", "superspike", "disinhibitory")


@dataclass
class Experiment:
    name: str
    kind: str
    seed: int
    path: Path
    folds: int = 5
    datasets: list = field(default_factory=list)
    rules: list = field(default_factory=list)
    baselines: list = field(default_factory=list)
    classifier: dict = field(default_factory=dict)
    controller: dict = field(default_factory=dict)
    episodes: int = 0
    description: str = ""

    def settings(self, dataset, rule):
        """Classifier settings for one (data set, rule) pair, general to specific."""
        c = self.classifier
        out = {k: v for k, v in c.items() if not isinstance(v, dict)}
        for key in (rule, dataset):
            out.update({k: v for k, v in c.get(key, {}).items() if not isinstance(v, dict)})
        out.update(c.get(dataset, {}).get(rule, {}))
        return out


def _fail(path, message, section=None):
    where = f"{path}: [{section}]" if section else f"{path}"
    return PlastlabError(f"{where}: {message}")


def load_experiment(path):
    path = Path(path)
    if not path.exists():
        raise PlastlabError(f"no such experiment file: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _fail(path, f"not valid TOML: {exc}") from None
    head = data.get("experiment")
    if not isinstance(head, dict):
        raise _fail(path, "missing [experiment] table")
    kind = head.get("kind")
    if kind not in KINDS:
        raise _fail(path, f"kind must be one of {', '.join(KINDS)}, got {kind!r}", "experiment")
    allowed = {"experiment", "classifier", "controller", "settings"}
    for key in data:
        if key not in allowed and kind != "disinhibitory":  # plastlab.experiments.disinhibitory checks its own tables
            raise _fail(path, f"unknown table [{key}] (expected {', '.join(sorted(allowed))})")
    seed = head.get("seed", 0)
    if not isinstance(seed, int):
        raise _fail(path, f"seed must be an integer, got {seed!r}", "experiment")
    exp = Experiment(name=str(head.get("name", path.stem)), kind=kind, seed=seed, path=path,
                     description=str(head.get("description", "")))
    if kind == "classification":
        _load_classification(exp, head, data, path)
    elif kind == "cartpole":
        _load_cartpole(exp, head, data, path)
    elif kind == "disinhibitory":
        from .disinhibitory import validate
        validate(data)  # every table and setting, before anything runs
        exp.config = data
    else:  # superspike: plastlab.learn.superspike checks its own settings
        exp.task = head.get("task")
        exp.settings_table = data.get("settings", {})
    return exp


def _load_classification(exp, head, data, path):
    from ..learn.classifier import check_drivable, resolve_rule
    from ..cli.classify import make_classifier
    from ..datasets import load_dataset

    exp.folds = head.get("folds", 5)
    exp.datasets = list(head.get("datasets", []))
    exp.rules = list(head.get("rules", []))
    exp.baselines = list(head.get("baselines", []))
    if not exp.datasets or not (exp.rules or exp.baselines):
        raise _fail(path, "needs datasets and at least one rule or baseline", "experiment")
    for b in exp.baselines:
        if b not in BASELINES:
            raise _fail(path, f"unknown baseline '{b}' (known: {', '.join(BASELINES)})", "experiment")
    exp.classifier = data.get("classifier", {})
    for key, value in exp.classifier.items():
        if isinstance(value, dict) and key not in exp.datasets and key not in exp.rules:
            raise _fail(path, f"[classifier.{key}] names neither a data set nor a rule of this experiment",
                        "classifier")
    for ds in exp.datasets:
        load_dataset(ds, folds=exp.folds)
    for rule_name in exp.rules:
        rule = resolve_rule(rule_name)
        check_drivable(rule)
        for ds in exp.datasets:
            make_classifier(rule, exp.settings(ds, rule_name), where=f"{path}: [classifier] for {ds}/{rule_name}")


def _load_cartpole(exp, head, data, path):
    from ..learn.classifier import resolve_rule
    from ..learn.cartpole import check_controller_settings

    rules = head.get("rules", [head["rule"]] if "rule" in head else [])
    if not rules:
        raise _fail(path, "needs rule = NAME (or rules = [...])", "experiment")
    exp.rules = list(rules)
    exp.episodes = head.get("episodes", 1000)
    if not isinstance(exp.episodes, int) or exp.episodes < 1:
        raise _fail(path, f"episodes must be a positive integer, got {exp.episodes!r}", "experiment")
    exp.controller = data.get("controller", {})
    for rule_name in exp.rules:
        rule = resolve_rule(rule_name)
        check_controller_settings(rule, exp.controller, where=f"{path}: [controller]")


def run_experiment(exp, out, *, progress=True):
    out = Path(out)
    if exp.kind == "classification":
        return run_classification(exp, out, progress=progress)
    if exp.kind == "superspike":
        from ..learn.superspike import run_experiment as run_superspike, summary

        ds = run_superspike(exp.task, exp.settings_table, out, seed=exp.seed)
        print(summary(ds))
        return ds
    if exp.kind == "disinhibitory":
        from .disinhibitory import run_disinhibitory_experiment

        return run_disinhibitory_experiment(exp.config, out, exp.seed, progress=progress)  # prints its summary
    return run_cartpole(exp, out, progress=progress)


def _baseline(name, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if name == "logistic_regression":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    return make_pipeline(StandardScaler(), SVC(random_state=seed))


def run_classification(exp, out, *, progress=True):
    import xarray as xr
    from sklearn.model_selection import StratifiedKFold

    from ..learn.classifier import cross_validate, cross_validate_sklearn
    from ..cli.classify import make_classifier, write_classification_outputs
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
    import json

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


def run_cartpole(exp, out, *, progress=True):
    from ..learn.cartpole import train_cartpole
    from ..plots import plot_learning_curve
    from ..store import write_dataset

    results = []
    for rule_name in exp.rules:
        ds = train_cartpole(rule_name, episodes=exp.episodes, seed=exp.seed, progress=progress, **exp.controller)
        ds.attrs["experiment_file"] = str(exp.path)
        target = out if len(exp.rules) == 1 else out / rule_name
        target.mkdir(parents=True, exist_ok=True)
        write_dataset(ds, target / "results.nc")
        plot_learning_curve(ds, target / "learning_curve.png")
        last = ds.episode_length.values[-100:]
        print(f"{rule_name}: {exp.episodes} episodes, mean length of the last {len(last)}: {last.mean():.1f}; "
              f"best running mean (100): {float(ds.attrs.get('best_mean_100', np.nan)):.1f}; "
              f"wrote {target / 'results.nc'}, {target / 'learning_curve.png'}")
        results.append(ds)
    return results
