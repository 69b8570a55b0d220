"""``kind = "classification"``: data sets x models (SpikingClassifier with a rule) plus classic baselines on the
same folds.

Settings merge from general to specific::

    [classifier]                     # every run
    [classifier.nc_memristor]        # every data set with this model
    [classifier.iris]                # every model on this data set
    [classifier.iris.nc_memristor]   # this pair

A model is a rule name, or any name whose ``[classifier.NAME]`` table says ``rule = "..."`` (e.g. the same rule
under the group's protocol, or an ablation such as ``plasticity = false``).

``protocol = "fixed"`` (default): one stratified k-fold with the settings as written. ``protocol = "nested-cv"``:
the outer stratified k-fold is repeated ``repeats`` times with different shuffles; on each outer training part an
inner stratified CV search (``search = "random"``: scikit-learn's RandomizedSearchCV, or ``"halving"``:
HalvingRandomSearchCV) with ``budget`` candidates picks the settings from ``[search.spiking]`` (spiking models) or
``[search.logistic_regression]`` / ``[search.svc]``; the chosen model is refit on the outer training part and
scored once on the outer test part. Models are compared with the Nadeau--Bengio corrected resampled t-test.
"""
import json
import time

import numpy as np

from ..config import REQUIRED, Param, validate
from ..errors import ConfigError
from .common import fail as _fail

BASELINES = ("logistic_regression", "svc")
TABLES = ("experiment", "classifier", "search")
BASELINE_SPACE = {"logistic_regression": {"C": Param(list, low=1, item=Param(float, low=0, strict=True))},
                  "svc": {"C": Param(list, low=1, item=Param(float, low=0, strict=True)),
                          "gamma": Param(list, low=1, item=Param(float, low=0, strict=True))}}


HEAD = {
    "datasets": Param(list, REQUIRED, low=1, item=Param(str)),
    "rules": Param(list, [], item=Param(str)),
    "baselines": Param(list, [], item=Param(str, choices=BASELINES)),
    "folds": Param(int, 5, low=2, high=100),
    "protocol": Param(str, "fixed", choices=("fixed", "nested-cv")),
    "repeats": Param(int, 1, low=1, high=100),
    "inner_folds": Param(int, 3, low=2, high=20),
    "search": Param(str, "random", choices=("random", "halving")),
    "budget": Param(int, 8, low=1, high=10_000),
    "jobs": Param(int, 1, low=1, high=64),
}


def load(exp, head, data, path):
    """Check data sets, rules, baselines and every classifier setting before anything is simulated."""
    from ..brian.layer import check_rule
    from ..datasets import load_dataset

    head = validate(head, HEAD, file=path, section="experiment")
    exp.folds, exp.datasets = head["folds"], head["datasets"]
    exp.rules, exp.baselines = head["rules"], head["baselines"]
    exp.config.update({k: head[k] for k in ("protocol", "repeats", "inner_folds", "search", "budget", "jobs")})
    if not (exp.rules or exp.baselines):
        raise _fail(path, "needs at least one rule or baseline", "experiment", "rules")
    exp.classifier = validate(data.get("classifier", {}), {}, file=path, section="classifier", allow_extra=True)
    for key, value in exp.classifier.items():
        if isinstance(value, dict) and key not in exp.datasets and key not in exp.rules:
            raise _fail(path, "names neither a data set nor a model of this experiment", "classifier", key)
    exp.config["space"] = load_search(data.get("search", {}), exp, path)
    for ds in exp.datasets:
        X, y, _ = load_dataset(ds, folds=exp.folds)
        if head["protocol"] == "nested-cv":
            try:
                check_inner_folds(y, exp.folds, head["inner_folds"], where=f"data set '{ds}'")
            except ConfigError as err:
                raise _fail(path, err.message, "experiment", "inner_folds") from None
    for model in exp.rules:
        for ds in exp.datasets:
            settings = exp.settings(ds, model)
            rule = check_rule(settings.pop("rule", model), "the spiking classifier")
            make_classifier(rule, settings, file=path, section=f"classifier.{ds}.{model}")


def check_inner_folds(y, folds, inner_folds, *, where):
    """Every outer training part must hold ``inner_folds`` samples of each class (ConfigError)."""
    smallest = int(np.unique(y, return_counts=True)[1].min() * (folds - 1) // folds)
    if smallest < inner_folds:
        raise ConfigError(f"{where}: a class has only {smallest} sample(s) in an outer training part, fewer than "
                          f"inner_folds = {inner_folds}")


def _spiking_space(spiking, path, section):
    from ..learn.model_selection import check_space

    return check_space(spiking, file=path, section=section)


def load_search(table, exp, path):
    """The search spaces ([search.spiking], [search.MODEL] for one spiking model, [search.logistic_regression],
    [search.svc]): declared keys only."""
    if exp.config["protocol"] != "nested-cv":
        if table:
            raise _fail(path, "a search space needs protocol = \"nested-cv\"", "search")
        return {}
    known = ("spiking",) + tuple(exp.baselines) + tuple(exp.rules)
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise _fail(path, f"unknown search space (known: {', '.join(known)})", "search", unknown[0])
    space = {}
    for name in ("spiking",) + tuple(m for m in exp.rules if m in table):
        space[name] = _spiking_space(table.get(name, {}), path, f"search.{name}")
    for name in exp.baselines:
        space[name] = validate(table.get(name, {}), {k: Param(list, [], low=0, item=p.item)
                                                     for k, p in BASELINE_SPACE[name].items()},
                               file=path, section=f"search.{name}")
        space[name] = {k: v for k, v in space[name].items() if v}
    return space


def model_classifier(exp, dataset, model):
    """The SpikingClassifier of one model on one data set (settings merged general to specific)."""
    settings = exp.settings(dataset, model)
    return make_classifier(settings.pop("rule", model), settings)


def run(exp, out, *, progress=True):
    if exp.config.get("protocol") == "nested-cv":
        return run_nested(exp, out, progress=progress)
    return run_fixed(exp, out, progress=progress)


def run_fixed(exp, out, *, progress=True):
    import xarray as xr
    from sklearn.model_selection import StratifiedKFold

    from ..datasets import load_dataset
    from ..learn.model_selection import cross_validate, cross_validate_sklearn
    from ..store import package_versions

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
                res = cross_validate(model_classifier(exp, ds_name, method), X, y, seed=exp.seed, progress=progress,
                                     dataset=short, folds_iter=splits)
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
        seed=exp.seed, folds=exp.folds, protocol="fixed", package_versions=json.dumps(package_versions()),
        settings=json.dumps({f"{d}/{r}": exp.settings(d, r) for d in exp.datasets for r in exp.rules}),
        rule_equations=json.dumps({r: runs[(exp.datasets[0], r)].attrs.get("rule_equations", "")
                                   for r in exp.rules}),
    )
    return _write_table(result, out, markdown_table(result))


def _write_table(result, out, table):
    from ..store import write_dataset

    print()
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    write_dataset(result, out / "results.nc")
    (out / "results.md").write_text(table + "\n")
    print(f"wrote {out / 'results.nc'} and {out / 'results.md'}")
    return result


def _search(estimator, space, exp, seed):
    """The inner search of one outer fold: RandomizedSearchCV or HalvingRandomSearchCV over ``space``."""
    from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold

    c = exp.config
    inner = StratifiedKFold(c["inner_folds"], shuffle=True, random_state=seed)
    if not space:
        return estimator
    if c["search"] == "halving":
        from sklearn.experimental import enable_halving_search_cv  # noqa: F401
        from sklearn.model_selection import HalvingRandomSearchCV

        return HalvingRandomSearchCV(estimator, space, n_candidates=c["budget"], cv=inner, scoring="f1_micro",
                                     random_state=seed, n_jobs=c["jobs"], refit=True, error_score="raise")
    return RandomizedSearchCV(estimator, space, n_iter=c["budget"], cv=inner, scoring="f1_micro", random_state=seed,
                              n_jobs=c["jobs"], refit=True, error_score="raise")


def _nested_side_by_side(base, space, X, y, outer, *, budget, inner_folds, seed):
    """One spiking model's nested CV with every fit of a stage side by side (``cross_validate`` with a
    ``Search``): the same candidates, inner folds, seeds, scores and choices as ``RandomizedSearchCV`` with
    ``refit=True`` on each outer training part. Yields (outer F1, silent fraction, chosen settings as JSON)."""
    from ..learn.model_selection import Search, cross_validate

    ds = cross_validate(base, X, y, folds_iter=outer, seed=seed, search=Search(space, budget, inner_folds))
    yield from zip(ds.f1.values, ds.silent_fraction.values, ds.chosen.values)


def run_nested(exp, out, *, progress=True):
    """Nested CV: outer stratified k-fold x repeats for the numbers, an inner search per outer training part."""
    import warnings

    from sklearn.metrics import f1_score
    from sklearn.model_selection import RepeatedStratifiedKFold

    from ..datasets import load_dataset
    from ..learn.classifier import SilentOutputWarning
    from ..store import write_dataset

    c = exp.config
    methods = list(exp.baselines) + list(exp.rules)  # the cheap baselines first
    shape = (len(methods), len(exp.datasets), c["repeats"], exp.folds)
    f1, silent = np.full(shape, np.nan), np.full(shape, np.nan)
    chosen = np.full(shape, "", dtype=object)
    wall = np.full(shape[:2], np.nan)
    names, sizes = [], []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=int(np.prod(shape)), desc="outer folds", unit="fold")
    for d, ds_name in enumerate(exp.datasets):
        X, y, short = load_dataset(ds_name, folds=exp.folds)
        names.append(short)
        outer = list(RepeatedStratifiedKFold(n_splits=exp.folds, n_repeats=c["repeats"], random_state=exp.seed)
                     .split(X, y))
        sizes.append((len(outer[0][0]), len(outer[0][1])))
        for m, method in enumerate(methods):
            t0 = time.perf_counter()
            if method not in exp.baselines and c["search"] == "random":  # every fit of a stage side by side
                space = c["space"].get(method, c["space"].get("spiking", {}))
                base = model_classifier(exp, ds_name, method)
                folds = _nested_side_by_side(base, space, X, y, outer, budget=c["budget"],
                                             inner_folds=c["inner_folds"], seed=exp.seed)
                for k, (score, quiet, params) in enumerate(folds):
                    r, f = divmod(k, exp.folds)
                    f1[m, d, r, f], silent[m, d, r, f], chosen[m, d, r, f] = score, quiet, params
                if bar is not None:
                    bar.set_postfix(data=short, model=method, f1=f"{np.mean(f1[m, d]):.3f}")
                    bar.update(len(outer))
                outer_folds = []
            else:
                outer_folds = outer
            for k, (tr, te) in enumerate(outer_folds):
                r, f = divmod(k, exp.folds)
                seed = exp.seed + k
                if method in exp.baselines:
                    base = _baseline(method, seed)
                    space = {f"{_step(method)}__{p}": v for p, v in c["space"][method].items()}
                else:
                    base = model_classifier(exp, ds_name, method).set_params(random_state=seed)
                    space = c["space"].get(method, c["space"].get("spiking", {}))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SilentOutputWarning)
                    search = _search(base, space, exp, seed).fit(X[tr], y[tr])
                    best = getattr(search, "best_estimator_", search)
                    if method in exp.baselines:
                        pred = best.predict(X[te])
                    else:
                        pred, info = best.predict_details(X[te])
                        silent[m, d, r, f] = info["silent"] / len(te)
                f1[m, d, r, f] = f1_score(y[te], pred, average="micro")
                chosen[m, d, r, f] = json.dumps(getattr(search, "best_params_", {}), default=float)
                if bar is not None:
                    bar.set_postfix(data=short, model=method, f1=f"{f1[m, d, r, f]:.3f}")
                    bar.update(1)
            wall[m, d] = time.perf_counter() - t0
            v = f1[m, d].ravel()
            print(f"{short:>14s}  {method:<24s} F1-micro {v.mean():.3f} ± {v.std(ddof=1):.3f} over {len(v)} outer "
                  f"folds  ({wall[m, d]:.0f} s)", flush=True)
            # what is finished so far, marked incomplete: a long run that is stopped keeps its finished models
            partial = _nested_dataset(exp, methods, names, f1, silent, chosen, wall, sizes, complete=False)
            write_dataset(partial, out / "partial.nc")
    if bar is not None:
        bar.close()
    result = _nested_dataset(exp, methods, names, f1, silent, chosen, wall, sizes, complete=True)
    (out / "partial.nc").unlink(missing_ok=True)
    return _write_table(result, out, nested_table(result))


def _nested_dataset(exp, methods, names, f1, silent, chosen, wall, sizes, *, complete):
    import xarray as xr

    from ..store import package_versions

    c = exp.config
    n = len(names)
    f1, silent, chosen, wall = f1[:, :n], silent[:, :n], chosen[:, :n], wall[:, :n]
    result = xr.Dataset(
        {
            "f1": (("model", "dataset", "repeat", "fold"), f1, {"long_name": "F1 (micro) on the outer test fold"}),
            "silent_fraction": (("model", "dataset", "repeat", "fold"), silent,
                                {"long_name": "fraction of outer test samples with no output spike"}),
            "chosen": (("model", "dataset", "repeat", "fold"), chosen.astype(str),
                       {"long_name": "settings chosen by the inner search (JSON)"}),
            "wall_seconds": (("model", "dataset"), wall, {"units": "s"}),
            "n_train": (("dataset",), np.array([a for a, _ in sizes])),
            "n_test": (("dataset",), np.array([b for _, b in sizes])),
        },
        coords={"model": methods, "dataset": names, "repeat": np.arange(c["repeats"]), "fold": np.arange(exp.folds)},
    )
    result.attrs.update(
        experiment=exp.name, experiment_file=str(exp.path), experiment_text=exp.path.read_text(),
        seed=exp.seed, folds=exp.folds, repeats=c["repeats"], protocol="nested-cv", inner_folds=c["inner_folds"],
        search=c["search"], budget=c["budget"], search_space=json.dumps(c["space"]), complete=int(complete),
        package_versions=json.dumps(package_versions()),
        settings=json.dumps({f"{ds}/{r}": exp.settings(ds, r) for ds in exp.datasets for r in exp.rules}),
    )
    return result


def _step(name):
    """The pipeline step name of a baseline's estimator (make_pipeline names steps by class)."""
    return {"logistic_regression": "logisticregression", "svc": "svc"}[name]


def corrected_ttest(a, b, n_train, n_test):
    """Nadeau & Bengio (2003) corrected resampled t-test of paired scores over repeated CV splits.

    The variance of the mean difference is inflated by n_test / n_train because the training sets overlap.
    Returns (mean difference, t, two-sided p).
    """
    from scipy import stats

    d = np.asarray(a, dtype=float).ravel() - np.asarray(b, dtype=float).ravel()
    j = len(d)
    var = d.var(ddof=1)
    if var == 0:
        return float(d.mean()), (0.0 if d.mean() == 0 else np.inf), (1.0 if d.mean() == 0 else 0.0)
    t = d.mean() / np.sqrt((1.0 / j + n_test / n_train) * var)
    return float(d.mean()), float(t), float(2 * stats.t.sf(abs(t), j - 1))


def nested_table(result):
    """Models x data sets (mean ± sd over outer folds x repeats), then corrected t-tests per data set."""
    datasets = [str(d) for d in result.dataset.values]
    models = [str(m) for m in result.model.values]
    n = result.sizes["repeat"] * result.sizes["fold"]
    lines = [f"| model | {' | '.join(datasets)} |", "|---|" + "---|" * len(datasets)]
    for m in models:
        cells = []
        for d in datasets:
            v = result.f1.sel(model=m, dataset=d).values.ravel()
            s = result.silent_fraction.sel(model=m, dataset=d).values
            note = f" (silent {100 * np.nanmean(s):.0f} %)" if np.isfinite(s).any() and np.nanmean(s) > 0.1 else ""
            cells.append(f"{v.mean():.3f} ± {v.std(ddof=1):.3f}{note}")
        lines.append(f"| {m} | {' | '.join(cells)} |")
    lines += ["", f"F1-micro, nested CV: outer stratified {result.sizes['fold']}-fold x {result.sizes['repeat']} "
                  f"repeats (mean ± sd over {n} outer folds), inner {result.attrs['inner_folds']}-fold "
                  f"{result.attrs['search']} search with {result.attrs['budget']} candidates, seed "
                  f"{result.attrs['seed']}."]
    reference = "logistic_regression" if "logistic_regression" in models else None
    spiking = [m for m in models if m not in BASELINES]
    for d in datasets:
        n_train, n_test = int(result.n_train.sel(dataset=d)), int(result.n_test.sel(dataset=d))
        lines += ["", f"Corrected resampled t-test (Nadeau-Bengio), {d}: difference in F1, p (two-sided, "
                      f"{n - 1} df)", "", "| A | B | A - B | p |", "|---|---|---|---|"]
        pairs = [(m, reference) for m in spiking if reference] + [
            (a, b) for i, a in enumerate(spiking) for b in spiking[i + 1:]]
        for a, b in pairs:
            diff, _, p = corrected_ttest(result.f1.sel(model=a, dataset=d).values,
                                         result.f1.sel(model=b, dataset=d).values, n_train, n_test)
            lines.append(f"| {a} | {b} | {diff:+.3f} | {p:.3f} |")
    return "\n".join(lines)


def _baseline(name, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if name == "logistic_regression":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    return make_pipeline(StandardScaler(), SVC(random_state=seed))  # step names: see _step


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
    plot_weights(_one_fold(ds) if "settings" in ds else ds, out / "weights.png")
    print(f"wrote {out / 'results.nc'}, {out / 'confusion.png'}, {out / 'weights.png'}")


def _one_fold(ds, fold=0):
    """Nested CV's fold ``fold`` alone, with its own neurons, inputs and ``n_fields``: folds whose search chose other
    ``members``, ``neurons_per_class`` or ``n_fields`` are padded to a common shape, and the weights figure draws
    one fold over 1-D neuron coordinates."""
    settings = json.loads(str(ds.settings.values[fold]))
    one = ds.isel(fold=[fold])
    if one.neuron_member.ndim == 2:
        members, classes = one.neuron_member.values[0], one.neuron_class.values[0]
        one = one.isel(neuron=members >= 0).assign_coords(neuron_member=("neuron", members[members >= 0]),
                                                          neuron_class=("neuron", classes[members >= 0]))
    one = one.isel(input=slice(0, ds.attrs["n_features"] * settings["n_fields"]))
    one.attrs["n_fields"] = settings["n_fields"]
    return one
