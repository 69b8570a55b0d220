"""Experiments with the dis-inhibitory microcircuit (experiments/disinhibitory_*.toml).

``run_disinhibitory_experiment(config, out_dir, seed)`` runs one experiment file's settings (the parsed TOML as a
dict) and writes ``results.nc`` (xarray, provenance in attrs) and PNGs into ``out_dir``. The experiment files say
``kind = "disinhibitory"`` and ``task = "curves" | "student_teacher" | "classification"``; ``EXPERIMENT_KINDS``
maps the kind to this function for the ``plastlab run`` dispatcher. Every setting is checked before anything runs.
"""
import time
from pathlib import Path

import numpy as np
import xarray as xr

from ..learn.disinhibitory import CircuitParams, DisinhibitoryCircuit, check_rule, init_weights, plasticity_curves
from ..config import Param
from ..errors import DataError
from ..store import provenance, write_dataset

TASKS = ("curves", "student_teacher", "classification")
_SECTIONS = {"experiment", "rule", "circuit", "curves", "student_teacher", "data", "training", "backprop"}
_KEYS = {
    "experiment": {"kind", "task", "name", "description", "seed", "codegen"},
    "rule": {"name", "names"},
    "curves": {"r_E", "r_I", "t_settle", "t_window"},
    "student_teacher": {"sizes", "teacher_scale", "f_min", "f_max", "t_baseline", "t_train", "sync_every",
                        "record_every", "loss_window"},
    "data": {"dataset", "n_train", "n_test", "test_fraction"},
    "training": {"sizes", "epochs", "batch", "eta_decay", "target_on", "target_off"},
    "backprop": {"max_iter", "repeats"},
}


def _section(config, name, where):
    value = config.get(name, {})
    if not isinstance(value, dict):
        raise DataError(f"{where}: [{name}] must be a table")
    unknown = sorted(set(value) - _KEYS.get(name, set(value)))
    if unknown:
        raise DataError(f"{where}: unknown key '{unknown[0]}' in [{name}] (known: {', '.join(sorted(_KEYS[name]))})")
    return value


def _number(section, key, default, where, *, integer=False, positive=True, name=None):
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or \
            (integer and int(value) != value) or (positive and value <= 0):
        kind = "a positive integer" if integer else ("a positive number" if positive else "a number")
        raise DataError(f"{where}: [{name}] {key} must be {kind}, got {value!r}")
    return int(value) if integer else float(value)


def _sizes(section, key, where, name):
    sizes = section.get(key)
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes):
        raise DataError(f"{where}: [{name}] {key} must be a list of at least two positive integers (inputs, "
                        f"..., outputs), got {sizes!r}")
    return sizes


def _numbers(section, key, default, where, name):
    values = section.get(key, default)
    if not isinstance(values, list) or not values or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v > 0 for v in values):
        raise DataError(f"{where}: [{name}] {key} must be a non-empty list of positive numbers, got {values!r}")
    return [float(v) for v in values]


def validate(config, where="experiment"):
    """The experiment's settings, checked and completed with defaults; DataError/RuleError on bad input."""
    if not isinstance(config, dict):
        raise DataError(f"{where}: the experiment must be a table of sections")
    unknown = sorted(set(config) - _SECTIONS)
    if unknown:
        raise DataError(f"{where}: unknown section [{unknown[0]}] (known: {', '.join(sorted(_SECTIONS))})")
    head = _section(config, "experiment", where)
    if head.get("kind", "disinhibitory") != "disinhibitory":
        raise DataError(f"{where}: kind = {head.get('kind')!r} is not a dis-inhibitory experiment")
    task = head.get("task")
    if task not in TASKS:
        raise DataError(f"{where}: [experiment] task must be one of {', '.join(TASKS)}, got {task!r}")
    rule_section = _section(config, "rule", where)
    names = rule_section.get("names", [rule_section.get("name", "disinhibitory")])
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise DataError(f"{where}: [rule] names must be a list of rule names or paths")
    rules = [check_rule(n) for n in names]  # RuleError before anything runs
    circuit = CircuitParams.from_dict(config.get("circuit", {}), where=f"{where}: [circuit]")
    codegen = head.get("codegen", "numpy")
    if codegen not in ("numpy", "cython"):
        raise DataError(f"{where}: [experiment] codegen must be 'numpy' or 'cython', got {codegen!r}")
    settings = {"task": task, "name": head.get("name", f"disinhibitory_{task}"), "rules": rules, "codegen": codegen,
                "circuit": circuit, "circuit_table": dict(config.get("circuit", {}))}
    if task == "curves":
        c = _section(config, "curves", where)
        settings.update(r_E=_numbers(c, "r_E", list(np.round(np.linspace(0.05, 6, 60), 4)), where, "curves"),
                        r_I=_numbers(c, "r_I", [0.5, 1.0, 1.5, 2.0], where, "curves"),
                        t_settle=_number(c, "t_settle", 100.0, where, name="curves"),
                        t_window=_number(c, "t_window", 1.0, where, name="curves"))
    elif task == "student_teacher":
        c = _section(config, "student_teacher", where)
        if circuit.t_open != 0 or circuit.t_closed != 0:
            raise DataError(f"{where}: online student-teacher learning has no phases: set [circuit] t_open = "
                            "t_closed = 0")
        settings.update(sizes=_sizes(c, "sizes", where, "student_teacher"),
                        teacher_scale=_number(c, "teacher_scale", 2.0, where, name="student_teacher"),
                        f_min=_number(c, "f_min", 0.2, where, name="student_teacher"),
                        f_max=_number(c, "f_max", 1.0, where, name="student_teacher"),
                        t_baseline=_number(c, "t_baseline", 2000.0, where, name="student_teacher"),
                        t_train=_number(c, "t_train", 20000.0, where, name="student_teacher"),
                        sync_every=_number(c, "sync_every", 10.0, where, name="student_teacher"),
                        record_every=_number(c, "record_every", 5.0, where, name="student_teacher"),
                        loss_window=_number(c, "loss_window", 2000.0, where, name="student_teacher"))
        if settings["f_max"] < settings["f_min"]:
            raise DataError(f"{where}: [student_teacher] f_max < f_min")
        if settings["loss_window"] > settings["t_train"]:
            raise DataError(f"{where}: [student_teacher] loss_window is longer than t_train")
    else:
        d, t, b = (_section(config, s, where) for s in ("data", "training", "backprop"))
        dataset = d.get("dataset")
        if dataset not in ("yinyang", "digits"):
            raise DataError(f"{where}: [data] dataset must be 'yinyang' or 'digits', got {dataset!r}")
        sizes = _sizes(t, "sizes", where, "training")
        n_in, n_classes = (4, 3) if dataset == "yinyang" else (64, 10)
        if sizes[0] != n_in:
            raise DataError(f"{where}: [training] sizes start with {sizes[0]} inputs but {dataset} has {n_in}")
        if sizes[-1] != n_classes:
            raise DataError(f"{where}: [training] sizes end with {sizes[-1]} outputs but the targets of {dataset} "
                            f"have shape (n, {n_classes}) ({n_classes} classes, one-hot)")
        settings.update(dataset=dataset, sizes=sizes,
                        n_train=_number(d, "n_train", 5000, where, integer=True, name="data"),
                        n_test=_number(d, "n_test", 1000, where, integer=True, name="data"),
                        test_fraction=_number(d, "test_fraction", 0.2, where, name="data"),
                        epochs=_number(t, "epochs", 20, where, integer=True, name="training"),
                        batch=_number(t, "batch", 32, where, integer=True, name="training"),
                        eta_decay=_number(t, "eta_decay", 1.0, where, name="training"),
                        target_on=_number(t, "target_on", 1.0, where, positive=False, name="training"),
                        target_off=_number(t, "target_off", 0.0, where, positive=False, name="training"),
                        bp_max_iter=_number(b, "max_iter", 1000, where, integer=True, name="backprop"),
                        bp_repeats=_number(b, "repeats", 1, where, integer=True, name="backprop"))
        if settings["test_fraction"] >= 1:
            raise DataError(f"{where}: [data] test_fraction must be below 1")
        if len(rules) != 1:
            raise DataError(f"{where}: classification trains with one rule; [rule] names lists {len(rules)}")
    return settings


def run_disinhibitory_experiment(config, out_dir, seed=None, *, progress=True):
    """Run one dis-inhibitory experiment; write results.nc and PNGs to out_dir. Returns the Dataset."""
    settings = validate(config)
    if seed is None:
        seed = config.get("experiment", {}).get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise DataError(f"seed must be an integer, got {seed!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runner = {"curves": _curves, "student_teacher": _student_teacher, "classification": _classification}
    start = time.time()
    ds = runner[settings["task"]](settings, seed, out_dir, progress)
    ds.attrs.update(provenance(rule=settings["rules"][0], seed=seed, experiment=settings["name"],
                               task=settings["task"], circuit=settings["circuit"].__dict__,
                               rules=[r.name for r in settings["rules"]], wall_seconds=round(time.time() - start, 1)))
    write_dataset(ds, out_dir / "results.nc")
    return ds


TABLES = tuple(sorted(_SECTIONS))
HEAD = {"task": Param(str, choices=TASKS), "codegen": Param(str, "numpy", choices=("numpy", "cython"))}


def load(exp, head, data, path):
    """Every table and setting checked (``validate``) before anything runs."""
    validate(data, where=str(path))
    exp.config = data


def run(exp, out, *, progress=True):
    return run_disinhibitory_experiment(exp.config, out, exp.seed, progress=progress)  # prints its summary


# --- (a) curve family ---------------------------------------------------------------------------------------

def _curves(s, seed, out_dir, progress):
    from ..rules import expressions as ex
    from ..learn.disinhibitory import softplus_inverse
    from ..plots import plot_disinhibitory_curves
    rates_E, rates_I = np.array(s["r_E"]), np.array(s["r_I"])
    sim, analytic, mE, mI = [], [], [], []
    params = CircuitParams(**dict(s["circuit"].__dict__, t_open=0.0, t_closed=0.0, t_plast=0.0, k_p=0.0, k_i=0.0,
                                  eta_fan_in=0.0))
    for rule in s["rules"]:
        dw, rE, rI = plasticity_curves(rule, rates_E, rates_I, params=params, t_settle=s["t_settle"],
                                       t_window=s["t_window"], codegen=s["codegen"])
        sim.append(dw)
        mE.append(rE)
        mI.append(rI)
        grid_E, grid_I = np.meshgrid(rates_E, rates_I)
        u_E, u_I = softplus_inverse(grid_E, params.beta), softplus_inverse(grid_I, params.beta)
        values = dict(rule.parameters, eta=params.eta, gate=1.0, x=1.0)
        values.update({name: {"r": grid_E, "u_E": u_E, "u_I": u_I, "r_I": grid_I}[spec.variable]
                       for name, spec in rule.inputs.items() if spec.source == "post" and spec.variable != "plastic"})
        analytic.append(np.broadcast_to(np.asarray(ex.evaluate(rule.dw_dt, values), float), grid_E.shape))
    coords = {"rule": [r.name for r in s["rules"]], "r_I": rates_I, "r_E": rates_E}
    dims = ("rule", "r_I", "r_E")
    ds = xr.Dataset({"dw_dt": (dims, np.array(sim), {"units": "1/second", "long_name": "dw/dt simulated in Brian2"}),
                     "dw_dt_analytic": (dims, np.array(analytic), {"units": "1/second",
                                                                  "long_name": "dw/dt from the rule's equation"}),
                     "r_E_measured": (dims, np.array(mE)), "r_I_measured": (dims, np.array(mI))}, coords=coords)
    ds.attrs["max_abs_error"] = float(np.abs(ds.dw_dt - ds.dw_dt_analytic).max())
    for rule in s["rules"]:
        plot_disinhibitory_curves(ds.sel(rule=rule.name), out_dir / f"curves_{rule.name}.png")
    print(f"Δw curves for {', '.join(coords['rule'])}: max |Brian2 - closed form| = {ds.attrs['max_abs_error']:.3g}")
    return ds


# --- (b) online student-teacher -----------------------------------------------------------------------------

def _student_teacher(s, seed, out_dir, progress):
    from tqdm import tqdm

    from ..plots import plot_student_teacher
    rng = np.random.default_rng(seed)
    sizes, params = s["sizes"], s["circuit"]
    freqs = rng.uniform(s["f_min"], s["f_max"], sizes[0])
    phases = rng.uniform(0, 2 * np.pi, sizes[0])
    teacher_w = init_weights(sizes, rng, s["teacher_scale"])
    student_w = init_weights(sizes, rng, params.init_scale)
    teacher = DisinhibitoryCircuit(sizes, rule=None, params=params, copies=2, weights=teacher_w, inputs="sinusoid",
                                   frequencies=freqs, phases=phases, name="teacher", codegen=s["codegen"])
    student = DisinhibitoryCircuit(sizes, rule=s["rules"][0], params=params, copies=2, weights=student_w,
                                   inputs="sinusoid", frequencies=freqs, phases=phases, teacher=teacher,
                                   name="student", codegen=s["codegen"])
    kw = dict(sync_every=s["sync_every"], record_every=s["record_every"])
    t0, yo0, yt0, yc0 = student.run_online(s["t_baseline"], learn=False, **kw)
    bar = tqdm(total=s["t_train"], unit="ms", desc="online learning", disable=not progress)
    t1, yo1, yt1, yc1 = student.run_online(s["t_train"], learn=True, progress=bar, **kw)
    bar.close()
    # the learnt weights, frozen, on the stream's next stretch (inputs not seen yet): is it a mapping or tracking?
    t2, yo2, yt2, yc2 = student.run_online(s["t_baseline"], learn=False, **kw)
    times = np.concatenate([t0, t1, t2])
    y_open, y_teacher, y_closed = (np.concatenate(p) for p in ((yo0, yo1, yo2), (yt0, yt1, yt2), (yc0, yc1, yc2)))
    phase = np.concatenate([np.zeros(len(t0), np.int8), np.ones(len(t1), np.int8), np.full(len(t2), 2, np.int8)])
    loss = ((y_open - y_teacher) ** 2).mean(axis=1)
    base = float(loss[phase == 0].mean())
    train_end = t1[-1]
    final = float(loss[(phase == 1) & (times >= train_end - s["loss_window"] / 1000 + 1e-9)].mean())
    frozen = float(loss[phase == 2].mean())
    ds = xr.Dataset({"loss": (("time",), loss, {"long_name": "open-loop student vs teacher, squared error",
                                                 "units": "1"}),
                     "y_student": (("time", "output"), y_open, {"long_name": "student output, open loop"}),
                     "y_teacher": (("time", "output"), y_teacher),
                     "y_closed_loop": (("time", "output"), y_closed, {"long_name": "student output under control"}),
                     "phase": (("time",), phase, {"long_name": "0 before learning, 1 learning, 2 weights frozen"})},
                    coords={"time": ("time", times, {"units": "second"}), "output": np.arange(sizes[-1])})
    ds.attrs.update(loss_initial=base, loss_final=final, loss_reduction=1 - final / base, loss_frozen=frozen,
                    loss_reduction_frozen=1 - frozen / base, sizes=str(sizes))
    plot_student_teacher(ds, out_dir / "student_teacher.png")
    print(f"student-teacher {sizes}: loss {base:.4g} (no learning, first {s['t_baseline'] / 1000:g} s) -> "
          f"{final:.4g} (last {s['loss_window'] / 1000:g} s of learning): reduced by {100 * (1 - final / base):.1f} %; "
          f"weights frozen, next {s['t_baseline'] / 1000:g} s: {frozen:.4g} (reduced by {100 * (1 - frozen / base):.1f} %)")
    return ds


# --- (c) classification against backprop --------------------------------------------------------------------

def _classification(s, seed, out_dir, progress):
    from tqdm import tqdm

    from .. import datasets
    from ..plots import plot_classification
    Xtr, ytr, Xte, yte = datasets.load(s["dataset"], seed=seed, n_train=s["n_train"], n_test=s["n_test"],
                                       test_fraction=s["test_fraction"])
    n_classes = s["sizes"][-1]
    Ytr = np.full((len(ytr), n_classes), s["target_off"])
    Ytr[np.arange(len(ytr)), ytr] = s["target_on"]
    rng = np.random.default_rng(seed)
    circuit = DisinhibitoryCircuit(s["sizes"], rule=s["rules"][0], params=s["circuit"], copies=s["batch"],
                                   seed=seed, name="circuit", codegen=s["codegen"])
    eta0 = s["circuit"].eta
    acc, acc_train, mse = [], [], []
    bar = tqdm(total=s["epochs"] * len(ytr), unit="sample", desc=f"{s['dataset']} (dis-inhibitory)",
               disable=not progress)
    for epoch in range(s["epochs"]):
        circuit.set_eta(eta0 * s["eta_decay"] ** epoch)
        order = rng.permutation(len(ytr))
        out = circuit.present(Xtr[order], Ytr[order], learn=True, progress=bar)
        acc_train.append(float((out.argmax(1) == ytr[order]).mean()))
        mse.append(float(((out - Ytr[order]) ** 2).mean()))
        test_out = circuit.present(Xte)
        acc.append(float((test_out.argmax(1) == yte).mean()))
        bar.set_postfix(test_acc=f"{acc[-1]:.3f}")
    bar.close()
    bp = _backprop(s, Xtr, ytr, Xte, yte, seed)
    ds = xr.Dataset({"accuracy_epoch": (("epoch",), acc, {"long_name": "test accuracy after each epoch"}),
                     "accuracy_train": (("epoch",), acc_train, {"long_name": "training accuracy (open loop, "
                                                                             "during the epoch)"}),
                     "mse_train": (("epoch",), mse),
                     "accuracy": ((), acc[-1], {"long_name": "test accuracy, dis-inhibitory circuit"}),
                     "accuracy_bp": ((), float(np.mean(bp)), {"long_name": "test accuracy, same-shape MLP trained "
                                                                          "by backprop (scikit-learn)"}),
                     "accuracy_bp_repeats": (("bp_repeat",), bp)},
                    coords={"epoch": np.arange(1, s["epochs"] + 1), "bp_repeat": np.arange(len(bp))})
    ds.attrs.update(dataset=s["dataset"], sizes=str(s["sizes"]), n_train=len(ytr), n_test=len(yte),
                    gap_points=100 * (float(np.mean(bp)) - acc[-1]))
    plot_classification(ds, out_dir / f"{s['dataset']}_accuracy.png")
    print(f"{s['dataset']} {s['sizes']}: dis-inhibitory circuit {100 * acc[-1]:.2f} %, backprop "
          f"{100 * float(np.mean(bp)):.2f} % (gap {ds.attrs['gap_points']:.2f} points; {len(ytr)} train, "
          f"{len(yte)} test)")
    return ds


def _backprop(s, Xtr, ytr, Xte, yte, seed):
    """Test accuracy of scikit-learn MLPs with the circuit's hidden layer sizes, trained by backprop (Adam)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    scores = []
    for k in range(s["bp_repeats"]):
        mlp = MLPClassifier(hidden_layer_sizes=tuple(s["sizes"][1:-1]), max_iter=s["bp_max_iter"],
                            random_state=seed + k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(Xtr, ytr)
        scores.append(float(mlp.score(Xte, yte)))
    return scores


def main(argv=None):
    """python -m plastlab.experiments.disinhibitory FILE.toml --out DIR [--seed N] (until `plastlab run` dispatches here)."""
    import argparse
    import sys
    import tomllib

    from ..errors import PlastlabError
    parser = argparse.ArgumentParser(prog="python -m plastlab.experiments.disinhibitory")
    parser.add_argument("file")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        try:
            config = tomllib.loads(Path(args.file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise DataError(f"{args.file}: cannot read experiment: {err}") from None
        run_disinhibitory_experiment(config, args.out, args.seed)
    except PlastlabError as err:
        print(f"plastlab: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {Path(args.out) / 'results.nc'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
