"""Reproduction pages from result files: ``plastlab report DIR... --out PAGE.md``.

Each DIR (or file) is a result that ``plastlab run``, ``plastlab classify`` or ``plastlab evolve`` wrote:
``results.nc`` or ``campaign.nc``. The page says, for each, what was run (the command), when, with which seed
and package versions, the numbers (F1 per model and data set with the per-fold values, or a campaign's champion
and baselines) and a figure. A ``published.toml`` beside a result puts the published numbers next to the lab's::

    [[number]]
    quantity = "iris/nc_memristor"     # a row of this result (see QUANTITIES below)
    published = "0.96-0.99"            # text, as the source gives it
    source = "Sboev et al. (group's tuned F1 on Iris)"

Every input is read and checked before anything is written: a missing or unreadable file, a result of an unknown
kind, an unfinished one (``complete = 0``) or a ``published.toml`` naming a quantity the result does not have is
a :class:`~plastlab.errors.DataError`, which the command line turns into one line on stderr and exit code 2.
"""
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DataError

__all__ = ["load_result", "report", "render"]

RESULT_FILES = ("results.nc", "campaign.nc")


@dataclass
class Result:
    """One result file, read and summarised: what the page needs, nothing Brian2."""

    path: Path
    kind: str              # "classification", "classify", "campaign" or the experiment kind
    title: str
    command: str
    date: str
    seed: object
    versions: dict
    quantities: dict       # name -> (mean, sd or None, per-item values or None)
    details: list = field(default_factory=list)  # extra Markdown lines
    dataset: object = None
    published: list = field(default_factory=list)


def report(paths, out, *, title="Reproductions"):
    """Read every result in ``paths`` (checked first), then write the Markdown page ``out`` and its figures
    (in a folder beside it, named after the page). Returns the page's path."""
    results = [load_result(p) for p in paths]
    if not results:
        raise DataError("no result given")
    return render(results, out, title=title)


def find_result_file(path):
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        for name in RESULT_FILES:
            if (path / name).is_file():
                return path / name
        raise DataError(f"'{path}' holds no results.nc or campaign.nc")
    raise DataError(f"'{path}' does not exist")


def load_result(path):
    """One result (a directory or a .nc file) as a :class:`Result`; DataError if it cannot be reported."""
    import xarray as xr

    file = find_result_file(path)
    try:
        with xr.open_dataset(file) as opened:
            ds = opened.load()
    except Exception as err:  # netCDF4/h5py raise many kinds of errors for a file that is not NetCDF
        raise DataError(f"'{file}' is not a readable NetCDF result file ({type(err).__name__})") from None
    if int(ds.attrs.get("complete", 1)) != 1:
        raise DataError(f"'{file}' records unfinished work (complete = 0): not reported")
    if "best_fitness" in ds and "champion_expression" in ds.attrs:
        result = _campaign(file, ds)
    elif "experiment" in ds.attrs and "f1" in ds and "model" in ds.dims:
        result = _classification(file, ds)
    elif ds.attrs.get("estimator") == "SpikingClassifier" and "f1" in ds:
        result = _classify(file, ds)
    elif ds.attrs.get("kind") == "device_sweep" and "f1" in ds:
        result = _device_sweep(file, ds)
    elif "experiment" in ds.attrs or "task" in ds.attrs:
        result = _other_experiment(file, ds)
    else:
        raise DataError(f"'{file}' is not a result of plastlab run, classify or evolve (no experiment, estimator "
                        "or campaign attributes)")
    result.published = _published(file.parent / "published.toml", result)
    return result


# --- kinds of result -----------------------------------------------------------------------------------------

def _classification(file, ds):
    """``plastlab run`` of a classification experiment: f1 over (model, dataset, [repeat,] fold)."""
    a = ds.attrs
    f1 = ds["f1"]
    folds = [d for d in f1.dims if d not in ("model", "dataset")]
    quantities = {}
    for dataset in ds["dataset"].values:
        for model in ds["model"].values:
            values = f1.sel(model=model, dataset=dataset).values.ravel()
            quantities[f"{dataset}/{model}"] = _stats(values)
    protocol = a.get("protocol", "fixed")
    how = (f"F1-micro, mean ± sd over {' × '.join(f'{ds.sizes[d]} {d}s' for d in folds)}, protocol {protocol}, "
           f"seed {a.get('seed')}")
    command = f"plastlab run {_repo_path(a.get('experiment_file', '?'))} --out {_short(file.parent)}"
    return Result(file, "classification", f"Experiment `{a['experiment']}`", command, _date(file, ds),
                  a.get("seed"), _versions(a), quantities, [how], dataset=ds)


def _classify(file, ds):
    """``plastlab classify``: f1 over fold for one rule and data set."""
    a = ds.attrs
    name = f"{a.get('dataset')}/{a.get('rule')}"
    command = (f"plastlab classify {a.get('dataset')} --rule {a.get('rule')} --folds {a.get('folds')} "
               f"--seed {a.get('seed')}" + (" --tune" if a.get("protocol") == "nested-cv" else "")
               + f" --out {_short(file.parent)}")
    details = [f"F1-micro, mean ± sd over {ds.sizes['fold']} stratified folds, seed {a.get('seed')}"]
    if "silent_fraction" in a:
        details.append(f"test samples that left every output neuron silent: {100 * float(a['silent_fraction']):.1f} %")
    return Result(file, "classify", f"`plastlab classify` {a.get('rule')} on {a.get('dataset')}", command,
                  _date(file, ds), a.get("seed"), _versions(a), {name: _stats(ds["f1"].values)}, details, dataset=ds)


def _campaign(file, ds):
    """``plastlab evolve``: champion and baselines on training and validation instances."""
    a = ds.attrs
    quantities = {"champion_fitness": (float(a["champion_fitness"]), None, None)}
    for key in sorted(a):
        if key.startswith(("train_fitness_", "validation_fitness_")):  # ± the sd over instances, where recorded
            sd = a.get(key.replace("_fitness_", "_instance_sd_", 1))
            quantities[key] = (_number(a[key]), None if sd is None else _number(sd), None)
        elif key in ("equivalence_c", "equivalence_r2"):
            quantities[key] = (_number(a[key]), None, None)
    generations = int(ds.sizes.get("generation", 0))
    evaluations = int(ds.sizes.get("evaluation", 0))
    gens = f" --generations {generations - 1}" if generations else ""
    command = (f"plastlab evolve {_repo_path(a.get('campaign_file', '?'))} --seed {a.get('seed')}{gens} "
               f"--out {_short(file.parent)}")
    details = [f"champion: `{a['champion_expression']}` (readable: `{a.get('champion_readable', '')}`)",
               f"family `{a.get('family')}`, {generations} generations, {evaluations} distinct candidates simulated"]
    return Result(file, "campaign", f"Campaign `{a.get('campaign', file.parent.name)}`", command, _date(file, ds),
                  a.get("seed"), _versions(a), quantities, details, dataset=ds)


def _device_sweep(file, ds):
    """``plastlab run`` of a device_sweep: F1 per grid point (mean ± sd over repeats of the fold means) and, from
    the file's attrs, where F1 first falls ``drop`` below the ideal device."""
    import numpy as np

    a = ds.attrs
    keys = a["swept"].split(",")
    per_repeat = ds["f1"].mean("fold")
    quantities = {}
    for dataset in ds["dataset"].values:
        for rule in ds["rule"].values:
            line = per_repeat.sel(dataset=dataset, rule=rule).stack(point=keys)
            for point in line["point"].values:
                label = ",".join(f"{k}={_number(v):g}" for k, v in zip(keys, np.atleast_1d(point)))
                quantities[f"{dataset}/{rule}/{label}"] = _stats(line.sel(point=point).values)
    details = [f"F1-micro, mean ± sd over {ds.sizes['repeat']} repeats of {ds.sizes['fold']}-fold means, "
               f"seed {a.get('seed')}; fixed device {a.get('fixed_device')}"]
    for name in sorted(a):
        if name.startswith("threshold_"):
            key = next(k for k in keys if name.startswith(f"threshold_{k}_"))
            where = name[len(f"threshold_{key}_"):]
            value = float(a[name])
            ideal = float(a.get(f"ideal_f1_{where}", math.nan))
            verdict = (f"falls {float(a['drop']):.2f} below the ideal device ({ideal:.3f}) at {key} = {value:g}"
                       if not math.isnan(value) else f"stays within {float(a['drop']):.2f} of the ideal device")
            details.append(f"{where}: {verdict}")
    command = (f"plastlab run {_repo_path(a['experiment_file'])} --out {_short(file.parent)}"
               if "experiment_file" in a else f"plastlab run (experiment `{a.get('experiment')}`)")
    return Result(file, "device_sweep", f"Device sweep `{a.get('experiment')}`", command, _date(file, ds),
                  a.get("seed"), _versions(a), quantities, details, dataset=ds)


def _other_experiment(file, ds):
    """Other experiment kinds (CartPole, SuperSpike, circuit): each data variable's mean over everything."""
    a = ds.attrs
    name = a.get("experiment") or a.get("task")
    quantities = {}
    for var in sorted(ds.data_vars):
        if ds[var].dtype.kind in "fiu" and ds[var].size:
            quantities[var] = _stats(ds[var].values.ravel())
    command = (f"plastlab run {_repo_path(a['experiment_file'])} --out {_short(file.parent)}"
               if "experiment_file" in a else f"plastlab run (experiment `{name}`)")
    return Result(file, str(a.get("kind", "experiment")), f"Experiment `{name}`", command, _date(file, ds),
                  a.get("seed"), _versions(a), quantities, ["mean ± sd of each variable over all its values"],
                  dataset=ds)


def _published(path, result):
    if not path.is_file():
        return []
    import tomllib

    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise DataError(f"'{path}': not a readable TOML file ({err})") from None
    rows = []
    for k, entry in enumerate(doc.get("number", [])):
        where = f"'{path}' [[number]] {k + 1}"
        missing = [key for key in ("quantity", "published", "source") if key not in entry]
        if missing:
            raise DataError(f"{where}: missing key '{missing[0]}'")
        if entry["quantity"] not in result.quantities:
            raise DataError(f"{where}: unknown quantity '{entry['quantity']}' (this result has: "
                            f"{', '.join(result.quantities)})")
        rows.append({key: str(entry[key]) for key in ("quantity", "published", "source")} |
                    {"note": str(entry.get("note", ""))})
    return rows


# --- the page ------------------------------------------------------------------------------------------------

def render(results, out, *, title="Reproductions"):
    """Write the Markdown page for already loaded results, with one figure per result."""
    out = Path(out)
    figures = out.parent / f"{out.stem}_figures"
    figures.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", "",
             "Generated by `plastlab report` from the result files listed in each section; do not edit by hand.", ""]
    for k, result in enumerate(results):
        figure = figures / f"{k:02d}_{_slug(result.title)}.png"
        drawn = _figure(result, figure)
        lines += _section(result, f"{figures.name}/{figure.name}" if drawn else None)
    from .store import atomic_write_text

    atomic_write_text(out, "\n".join(lines).rstrip() + "\n")
    return out


def _section(result, figure):
    lines = [f"## {result.title}", "",
             f"- command: `{result.command}`",
             f"- date: {result.date}; seed: {result.seed}",
             f"- versions: {_format_versions(result.versions)}",
             f"- result file: `{_short(result.path)}`"]
    lines += [f"- {line}" for line in result.details] + [""]
    if result.published:
        lines += ["| quantity | published | here | source |", "|---|---|---|---|"]
        for row in result.published:
            here = _format(result.quantities[row["quantity"]])
            note = f" ({row['note']})" if row["note"] else ""
            lines.append(f"| {row['quantity']} | {row['published']} | **{here}** | {row['source']}{note} |")
        lines.append("")
    lines += ["| quantity | value | per fold / item |", "|---|---|---|"]
    for name, stats in result.quantities.items():
        per = stats[2]
        per_text = ", ".join(f"{v:.3f}" for v in per) if per is not None and len(per) <= 20 else ""
        lines.append(f"| {name} | {_format(stats)} | {per_text} |")
    lines.append("")
    if figure:
        lines += [f"![{result.title}]({figure})", ""]
    return lines


def _figure(result, path):
    """A small figure for the result; False if there is nothing to draw."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    ds = result.dataset
    if result.kind == "campaign":
        gen = ds["generation"].values
        ax.plot(gen, ds["best_fitness"].values, "o-", label="best")
        if "mean_fitness" in ds:
            ax.plot(gen, ds["mean_fitness"].values, ".--", alpha=0.7, label="population mean (finite)")
        for j, (name, stats) in enumerate(result.quantities.items()):
            if name.startswith("train_fitness_") and name != "train_fitness_champion" and math.isfinite(stats[0]):
                ax.axhline(stats[0], color=f"C{j + 2}", lw=1, ls=":", label=name[len("train_fitness_"):])
        ax.set_xlabel("generation")
        ax.set_ylabel("training fitness")
        ax.legend(fontsize=7)
    elif result.kind in ("classification", "classify"):
        names = [n for n, s in result.quantities.items() if s[2] is not None]
        for j, name in enumerate(names):
            values = result.quantities[name][2]
            ax.plot([j] * len(values), values, "o", color="0.6", ms=4)
            ax.errorbar([j], [result.quantities[name][0]], yerr=[result.quantities[name][1] or 0], fmt="D",
                        color="C0", capsize=4)
        ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("F1-micro (grey: folds)")
    else:
        return False
    ax.set_title(result.title.replace("`", ""), fontsize=9)
    fig.tight_layout()
    from .store import atomic_write

    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    return True


# --- small helpers -------------------------------------------------------------------------------------------

def _stats(values):
    import numpy as np

    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if not finite.size:
        return (float("nan"), None, [float(v) for v in values])
    return (float(finite.mean()), float(finite.std()), [float(v) for v in values])


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _format(stats):
    mean, sd, _ = stats
    if not math.isfinite(mean):
        return str(mean)
    digits = 3 if abs(mean) < 10 else 2
    return f"{mean:.{digits}f}" + (f" ± {sd:.{digits}f}" if sd is not None else "")


def _versions(attrs):
    try:
        versions = json.loads(attrs.get("package_versions", "{}"))
    except (TypeError, ValueError):
        versions = {}
    if not versions:  # results that carry each package's version as an attr of its own
        versions = {k: attrs[k] for k in ("plastlab", "brian2", "numpy") if k in attrs}
    if "python" in attrs:
        versions = {"python": attrs["python"], **versions}
    return versions


def _format_versions(versions):
    keep = ("python", "plastlab", "brian2", "numpy")
    text = ", ".join(f"{k} {versions[k]}" for k in keep if k in versions)
    return text or "not recorded"


def _date(file, ds):
    """The result's creation date; for an experiment (which has none itself) that of its per-run results."""
    created = ds.attrs.get("created")
    if not created:
        import xarray as xr

        for sub in sorted(file.parent.glob("*/results.nc")):
            try:
                with xr.open_dataset(sub) as inner:
                    created = inner.attrs.get("created")
            except Exception:
                continue
            if created:
                break
    return str(created)[:10] if created else "not recorded"


def _repo_path(path):
    """A file named as a user would type it from the repository (``evolve/error.toml``), never a machine's
    absolute path."""
    parts = Path(str(path)).parts
    for anchor in ("experiments", "evolve", "rules"):
        if anchor in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(anchor):])
    return Path(str(path)).name if Path(str(path)).is_absolute() else str(path)


def _short(path):
    """A result's folder as shown on the page: relative to the current directory when below it, else its last
    two components (no machine paths on a published page)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return "/".join(path.parts[-2:])


def _slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()[:40]
