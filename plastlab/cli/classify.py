"""``plastlab classify`` and ``plastlab run``: the classification / control part of the command line.

Kept apart from :mod:`plastlab.cli.commands` (which only registers these commands) so that both grow independently.
Everything that can be checked (data set, rule, settings) is checked before the first simulation; problems
are PlastlabErrors, which the CLI prints as one line with exit code 2.
"""

import time
from pathlib import Path

import numpy as np

from ..errors import PlastlabError


def add_classify_commands(commands):
    cl = commands.add_parser(
        "classify", help="cross-validate a spiking classifier trained with a plasticity rule",
        description="Stratified k-fold cross-validation of plastlab.SpikingClassifier (receptive-field "
                    "latency encoding, one plastic layer in five independently trained copies (--set members=N), "
                    "mean first-spike decoding) on DATASET: iris, "
                    "breast_cancer, wine or a CSV file (numeric features, label in the last column, header "
                    "optional). With --tune each fold's settings are chosen by an inner randomised search on that "
                    "fold's training part only (nested CV; settings given with --set are not searched). Writes "
                    "DIR/results.nc, DIR/confusion.png and DIR/weights.png.")
    cl.add_argument("dataset", metavar="DATASET")
    cl.add_argument("--rule", required=True, metavar="NAME|FILE", help="rule name (rules/NAME.toml) or rule file")
    cl.add_argument("--folds", type=int, default=5, help="stratified folds (default 5)")
    cl.add_argument("--epochs", type=int, default=None, help="training epochs (default: the classifier's)")
    cl.add_argument("--seed", type=int, default=0, help="random seed: folds, initial weights, order (default 0)")
    cl.add_argument("--out", metavar="DIR", default=None, help="write results.nc and figures here")
    cl.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                    help="classifier hyperparameter, e.g. --set n_fields=10, or a device non-ideality of the rule, "
                         "e.g. --set device.levels=16 (keys: plastlab.rules.devices) (repeatable)")
    cl.add_argument("--tune", action="store_true",
                    help="nested CV: choose each fold's settings by an inner randomised search on its training part")
    cl.add_argument("--budget", type=int, default=None, metavar="N",
                    help="with --tune: candidates per fold (default: plastlab.learn.model_selection.TUNING)")
    cl.add_argument("--inner-folds", type=int, default=None, metavar="K",
                    help="with --tune: stratified folds of the inner search "
                         "(default: plastlab.learn.model_selection.TUNING)")
    cl.add_argument("--no-progress", action="store_true", help="no progress bar")
    cl.set_defaults(handler=classify_command)
    cl.help_table = settings_table

    run = commands.add_parser(
        "run", help="run an experiment file (experiments/*.toml)",
        description="Run an experiment file of one of five kinds: classification (rules x data sets x classic "
                    "baselines on the same folds), cartpole (closed-loop control), superspike (spike-timing tasks), "
                    "disinhibitory (the dis-inhibitory microcircuit) or device_sweep (the classifier's F1 over a "
                    "grid of device non-idealities). The whole file is checked before anything runs. Prints a "
                    "summary and writes results.nc and figures into --out.")
    run.add_argument("file", metavar="FILE")
    run.add_argument("--out", metavar="DIR", default=None, help="output directory (default results/NAME)")
    run.add_argument("--seed", type=int, default=None, help="override the file's seed")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(handler=run_command)


DERIVED = ("sigma", "teacher_delay")  # None in a protocol: computed from other settings (n_fields, t_encode)


def settings_table():
    """The ``--set`` keys from the classifier's declared table: type, range or choices, each protocol's default,
    and what the key means (with its unit)."""
    from ..learn.classifier_params import PARAMS, PROTOCOLS

    rows = [("KEY", "TYPE", "plastlab", "sboev", "MEANING")]
    for key, param in PARAMS.items():
        if key == "protocol":
            continue
        rows.append((key, _kind(param), *(_shown(PROTOCOLS[p][key], key) for p in ("plastlab", "sboev")), param.doc))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    return ("--set KEY=VALUE (classifier settings; defaults per --set protocol=plastlab|sboev, "
            "'derived': computed from other settings):\n  " + "\n  ".join(lines))


def _kind(param):
    if param.choices:
        return "|".join(param.choices)
    if param.low is None and param.high is None:
        return param.kind.__name__
    low = "" if param.low is None else f"{'>' if param.strict else '>='}{param.low:g}"
    high = "" if param.high is None else f"<={param.high:g}"
    return f"{param.kind.__name__} {low}{',' if low and high else ''}{high}"


def _shown(value, key):
    if value is None:
        return "derived" if key in DERIVED else "off"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def parse_settings(items, option="--set"):
    """``KEY=VALUE`` strings as a dict of numbers, booleans (true/false) or text -- never evaluated. The
    estimator's declared parameter table then refuses what does not fit (``normalize=no`` is text, not false)."""
    from ..config import parse_setting

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PlastlabError(f"{option} expects KEY=VALUE, got '{item}'")
        try:
            out[key.strip()] = parse_setting(value.strip())
        except PlastlabError as err:
            raise PlastlabError(f"{option} {key.strip()}: {err}") from None
    return out


def classify_command(args):
    from ..learn.model_selection import cross_validate
    from ..rules.devices import split_device_settings

    settings, device = split_device_settings(parse_settings(args.settings))  # device.KEY: the rule's [device]
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    from ..experiments.classification import prepare_classification, write_classification_outputs

    rule_arg = args.rule
    if device:
        from ..rules.files import load_rule

        rule_arg = load_rule(args.rule, device=device)
    X, y, name, rule, clf = prepare_classification(args.dataset, rule_arg, args.folds, settings)
    search = tuning_search(args, settings, y) if args.tune else None
    print(f"{name}: {X.shape[0]} samples, {X.shape[1]} features, {len(np.unique(y))} classes; rule {rule.name}; "
          f"{args.folds}-fold stratified, seed {args.seed}; " + (
              f"inner search per fold: {search.budget} candidates of {search.space}, {search.inner_folds}-fold"
              if search else "no inner search (defaults)"))
    t0 = time.perf_counter()
    ds = cross_validate(clf, X, y, folds=args.folds, seed=args.seed, progress=not args.no_progress,
                        dataset=name, search=search)
    wall = time.perf_counter() - t0
    ds.attrs["wall_seconds"] = wall
    print(format_fold_table(ds, wall))
    if ds.attrs.get("silent_warning"):
        import sys

        print(f"warning: {100 * ds.attrs['silent_fraction']:.0f} % of the test samples made no output neuron fire "
              "(predicted as the most frequent class)", file=sys.stderr)
    if args.out:
        write_classification_outputs(ds, Path(args.out))
    return 0


def tuning_search(args, settings, y):
    """The default inner search, with the command's budget and inner folds, without the settings the user fixed;
    refused (exit 2) when it cannot run: a budget under 1, or a class too small for the inner folds."""
    from ..errors import ConfigError
    from ..experiments.classification import check_inner_folds
    from ..learn.model_selection import TUNING, Search

    if args.budget is not None and args.budget < 1:
        raise ConfigError(f"must be >= 1, got {args.budget}", key="--budget")
    if args.inner_folds is not None and args.inner_folds < 2:
        raise ConfigError(f"must be >= 2, got {args.inner_folds}", key="--inner-folds")
    search = Search(TUNING.space, args.budget or TUNING.budget, args.inner_folds or TUNING.inner_folds)
    search = search.without(settings)
    check_inner_folds(y, args.folds, search.inner_folds, where="--inner-folds")
    return search if search.space else None


def format_fold_table(ds, wall):
    lines = [f"{'fold':>4}  {'F1-micro':>8}  {'in spk':>7}  {'out spk':>7}  {'silent':>6}  {'fit s':>6}"]
    for k in range(ds.sizes["fold"]):
        lines.append(f"{k:>4}  {float(ds.f1[k]):8.3f}  {float(ds.input_spikes[k]):7.1f}  "
                     f"{float(ds.output_spikes[k]):7.2f}  {int(ds.silent[k]):6d}  {float(ds.fit_seconds[k]):6.1f}"
                     + (f"  chosen {ds.chosen.values[k]}" if ds.attrs.get("protocol") == "nested-cv" else ""))
    f1 = ds.f1.values
    lines.append(f"F1-micro {f1.mean():.3f} ± {f1.std():.3f}; mean spikes per sample: input "
                 f"{float(ds.input_spikes.mean()):.1f}, output {float(ds.output_spikes.mean()):.2f}; "
                 f"wall time {wall:.1f} s")
    return "\n".join(lines)


def run_command(args):
    from ..experiments.registry import load_experiment, run_experiment
    from ..outputs import claim

    exp = load_experiment(args.file)
    if args.seed is not None:
        exp.seed = args.seed
    out = Path(args.out) if args.out else Path("results") / exp.name
    claim(out)
    run_experiment(exp, out, progress=not args.no_progress)
    return 0
