"""``kind = "device_sweep"``: what a device's flaws cost -- the classifier's cross-validated F1 over a grid of one or
two device non-idealities (:mod:`plastlab.rules.devices`), for each rule and data set, with repeats.

::

    [experiment]
    kind = "device_sweep"
    datasets = ["iris"]
    rules = ["nc_memristor"]
    folds = 5
    repeats = 1                    # CV repeated with seeds seed, seed + 1, ...

    [sweep]                        # one or two keys of [device], each a list of values
    levels = [2, 4, 8, 16, 64, inf]
    c2c = [0.0, 0.1, 0.3]

    [device]                       # optional: non-idealities held fixed at every point (rounding = "stochastic")
    [classifier]                   # optional: classifier settings, as in a classification experiment

Writes ``results.nc`` (``f1`` over dataset, rule, the swept keys, repeat, fold; ``f1_mean`` averaged over folds and
repeats) and ``device_sweep.png`` (lines for one key, heat maps for two) and prints, per data set and rule, the
ideal device's F1 and, along each swept key from the ideal end, the first value at which F1 falls ``drop``
(default 0.02) below it.
"""
import math
import time

import numpy as np

from ..config import REQUIRED, Param, validate
from ..errors import ConfigError, RuleError
from .common import fail

TABLES = ("experiment", "sweep", "device", "classifier")
HEAD = {
    "datasets": Param(list, REQUIRED, low=1, item=Param(str)),
    "rules": Param(list, REQUIRED, low=1, item=Param(str)),
    "folds": Param(int, 5, low=2, high=100),
    "repeats": Param(int, 1, low=1, high=100),
    "drop": Param(float, 0.02, low=0, high=1),
}
IDEAL = {"levels": math.inf, "d2d": 0.0, "c2c": 0.0, "asymmetry": 1.0, "soft_bounds": 0.0, "read_noise": 0.0}


def load(exp, head, data, path):
    """Data sets, rules, every grid point's device and the classifier settings, checked before any simulation."""
    from ..brian.layer import check_rule
    from ..datasets import load_dataset
    from ..rules.devices import merge_device
    from .classification import make_classifier

    head = validate(head, HEAD, file=path, section="experiment")
    exp.folds, exp.datasets, exp.rules = head["folds"], head["datasets"], head["rules"]
    sweep = data.get("sweep")
    if not isinstance(sweep, dict) or not 1 <= len(sweep) <= 2:
        raise fail(path, "needs a [sweep] table of one or two device keys, each a list of values", "sweep")
    for key, values in sweep.items():
        if key not in IDEAL:
            raise fail(path, f"not a swept device key (one of {', '.join(IDEAL)})", "sweep", key)
        if not isinstance(values, list) or not values or len(values) > 50:
            raise fail(path, "must be a list of 1 to 50 values", "sweep", key)
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            raise fail(path, "values must be numbers (inf for continuous levels)", "sweep", key)
        if len(set(values)) != len(values):
            raise fail(path, "repeats a value", "sweep", key)
    fixed = data.get("device", {})
    if not isinstance(fixed, dict) or set(fixed) & set(sweep):
        raise fail(path, "[device] holds the keys that are not swept", "device",
                   sorted(set(fixed) & set(sweep))[0] if isinstance(fixed, dict) else None)
    classifier = validate(data.get("classifier", {}), {}, file=path, section="classifier", allow_extra=True)
    for ds in exp.datasets:
        load_dataset(ds, folds=exp.folds)
    for name in exp.rules:
        rule = check_rule(name, "the spiking classifier")
        for point in grid(sweep):
            try:
                merge_device(rule.device, {**fixed, **point})
                rule.with_device(**fixed, **point)
            except RuleError as err:
                raise fail(path, f"{err.message} (rule {name}, point {point})", "sweep",
                           err.term or next(iter(point))) from None
        make_classifier(rule, dict(classifier), file=path, section="classifier")
    exp.classifier = classifier
    exp.config.update(sweep={k: [float(v) for v in vs] for k, vs in sweep.items()}, device=dict(fixed),
                      repeats=head["repeats"], drop=head["drop"])


def grid(sweep):
    """Every point of the grid as {key: value}, the first key slowest."""
    keys = list(sweep)
    values = [sweep[k] for k in keys]
    return [dict(zip(keys, combo)) for combo in np.array(np.meshgrid(*values, indexing="ij")).reshape(
        len(keys), -1).T.tolist()]


def _device_values(point):
    return {k: (math.inf if k == "levels" and not math.isfinite(v) else v) for k, v in point.items()}


def run(exp, out, *, progress=True):
    import xarray as xr
    from tqdm.auto import tqdm

    from ..brian.layer import check_rule
    from ..datasets import load_dataset
    from ..learn.model_selection import cross_validate
    from ..store import provenance, write_dataset
    from .classification import make_classifier

    sweep, fixed, repeats = exp.config["sweep"], exp.config["device"], exp.config["repeats"]
    keys = list(sweep)
    shape = [len(sweep[k]) for k in keys]
    f1 = np.full((len(exp.datasets), len(exp.rules), *shape, repeats, exp.folds), np.nan)
    points = grid(sweep)
    total = len(exp.datasets) * len(exp.rules) * len(points) * repeats
    bar = tqdm(total=total, desc="device sweep", disable=not progress)
    names, t0 = [], time.perf_counter()
    for d, ds_name in enumerate(exp.datasets):
        X, y, short = load_dataset(ds_name, folds=exp.folds)
        names.append(short)
        for r, rule_name in enumerate(exp.rules):
            base = check_rule(rule_name, "the spiking classifier")
            for p, point in enumerate(points):
                rule = base.with_device(**fixed, **_device_values(point))
                index = np.unravel_index(p, shape)
                for k in range(repeats):
                    clf = make_classifier(rule, dict(exp.classifier), section="classifier")
                    res = cross_validate(clf, X, y, folds=exp.folds, seed=exp.seed + k, dataset=short)
                    f1[(d, r, *index, k)] = res.f1.values
                    bar.update(1)
    bar.close()
    coords = {"dataset": names, "rule": list(exp.rules), **{k: np.asarray(sweep[k], dtype=float) for k in keys},
              "repeat": np.arange(repeats), "fold": np.arange(exp.folds)}
    dims = ("dataset", "rule", *keys, "repeat", "fold")
    ds = xr.Dataset({"f1": (dims, f1)}, coords=coords)
    ds["f1_mean"] = ds.f1.mean(("repeat", "fold"))
    ds.f1.attrs.update(long_name="F1-micro of the test fold", units="1")
    ds.attrs.update(kind="device_sweep", experiment=exp.name, seed=exp.seed, folds=exp.folds, repeats=repeats,
                    swept=",".join(keys), fixed_device=str(fixed), classifier=str(exp.classifier),
                    drop=exp.config["drop"], wall_seconds=time.perf_counter() - t0, experiment_file=str(exp.path),
                    **provenance())
    for (dataset, rule, key), (ideal, value) in thresholds(ds).items():  # the answer, for readers of the file
        ds.attrs[f"ideal_f1_{dataset}_{rule}"] = ideal
        ds.attrs[f"threshold_{key}_{dataset}_{rule}"] = math.nan if value is None else float(value)
    out.mkdir(parents=True, exist_ok=True)
    write_dataset(ds, out / "results.nc")
    plot_sweep(ds, out / "device_sweep.png")
    print(summary(ds))
    print(f"wrote {out / 'results.nc'}, {out / 'device_sweep.png'}")
    return ds


def _from_ideal(key, values):
    """The key's values ordered from the ideal device outwards."""
    values = np.asarray(values, dtype=float)
    if key == "levels":
        return list(np.sort(values)[::-1])
    if key == "asymmetry":
        return sorted(values, key=lambda v: abs(math.log(v)) if v > 0 else math.inf)
    return sorted(values, key=lambda v: abs(v - IDEAL[key]))


def thresholds(ds):
    """{(dataset, rule, key): (ideal F1, first value from the ideal end with F1 < ideal - drop, or None)} along
    each swept key, the other key (if any) at its most ideal value."""
    keys = ds.attrs["swept"].split(",")
    drop = float(ds.attrs.get("drop", 0.02))
    out = {}
    for dataset in ds.dataset.values:
        for rule in ds.rule.values:
            mean = ds.f1_mean.sel(dataset=dataset, rule=rule)
            for key in keys:
                line = mean
                for other in keys:
                    if other != key:
                        line = line.sel({other: _from_ideal(other, ds[other].values)[0]})
                order = _from_ideal(key, ds[key].values)
                ideal = float(line.sel({key: order[0]}))
                worse = [v for v in order if float(line.sel({key: v})) < ideal - drop]
                out[(str(dataset), str(rule), key)] = (ideal, worse[0] if worse else None)
    return out


def summary(ds):
    drop = float(ds.attrs.get("drop", 0.02))
    lines = []
    for (dataset, rule, key), (ideal, value) in thresholds(ds).items():
        mean = ds.f1_mean.sel(dataset=dataset, rule=rule)
        row = " ".join(f"{_show(v)}:{float(f):.3f}" for v, f in zip(ds[key].values, mean.mean(
            [k for k in mean.dims if k != key]).values)) if mean.ndim > 1 else " ".join(
            f"{_show(v)}:{float(f):.3f}" for v, f in zip(ds[key].values, mean.values))
        verdict = (f"falls {drop:.2f} below at {key} = {_show(value)}" if value is not None else
                   f"stays within {drop:.2f} over the grid")
        lines.append(f"{dataset} {rule} {key}: F1 at the most ideal point {ideal:.3f}; {verdict}  [{row}]")
    return "\n".join(lines)


def _show(v):
    v = float(v)
    return "inf" if math.isinf(v) else f"{v:g}"


def plot_sweep(ds, path):
    """One panel per data set: F1 over the first key, a line per rule (and per value of the second key)."""
    from matplotlib.figure import Figure

    keys = ds.attrs["swept"].split(",")
    fig = Figure(figsize=(5 * len(ds.dataset), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(ds.dataset), squeeze=False)[0])
    first = keys[0]
    x = np.asarray(ds[first].values, dtype=float)
    finite = np.isfinite(x)
    shown = x.copy()
    if not finite.all():  # levels = inf drawn one step beyond the largest finite value
        shown[~finite] = (x[finite].max() * 2) if finite.any() else 1
    for ax, dataset in zip(axes, ds.dataset.values):
        for r, rule in enumerate(ds.rule.values):
            mean = ds.f1_mean.sel(dataset=dataset, rule=rule)
            sd = ds.f1.sel(dataset=dataset, rule=rule).std(("repeat", "fold"))
            if len(keys) == 1:
                ax.errorbar(shown, mean.values, yerr=sd.values, marker="o", capsize=2, color=f"C{r}", label=rule)
            else:
                for s, value in enumerate(ds[keys[1]].values):
                    ax.plot(shown, mean.sel({keys[1]: value}).values, marker="o", color=f"C{r}",
                            alpha=1 - 0.6 * s / max(1, len(ds[keys[1]]) - 1),
                            label=f"{rule}, {keys[1]} = {_show(value)}")
        if first == "levels":
            ax.set_xscale("log", base=2)
            ax.set_xticks(shown, [_show(v) for v in x])
        ax.set_xlabel(first)
        ax.set_ylabel("cross-validated F1-micro")
        ax.set_title(str(dataset))
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=120)
    return path


__all__ = ["load", "run", "grid", "thresholds", "summary", "plot_sweep", "ConfigError"]
