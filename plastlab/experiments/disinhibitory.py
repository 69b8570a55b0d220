"""Experiments with the dis-inhibitory microcircuit (experiments/disinhibitory_*.toml).

``run_disinhibitory_experiment(config, out_dir, seed)`` runs one experiment file's settings (the parsed TOML as a
dict) and writes ``results.nc`` (xarray, provenance in attrs) and PNGs into ``out_dir``. The files say
``kind = "disinhibitory"`` and ``task = "curves" | "student_teacher" | "classification"``. Every table is one declared
schema checked by :func:`plastlab.config.validate` (ConfigError naming file, table and key) before anything runs.

Classification follows the reference protocol: fixed train / validation / test splits, soft targets, minibatches
of ``batch``; after every epoch the open-loop validation accuracy is measured and the weights of the best epoch are
kept (early stopping on validation only); the test set is evaluated once, with those weights. The backprop baseline
is the same network (the circuit's steady-state transfer function and linear readout, same initial weights) trained
with Adam on the same minibatches, epochs and early stopping. ``seeds`` runs seed, seed+1, ... one after another.
"""
import time
from pathlib import Path

import numpy as np
import xarray as xr

from ..config import Param
from ..config import validate as check_table
from ..errors import ConfigError
from ..learn.backprop import backprop_gradients, predict_steady_state
from ..learn.circuit_maths import init_weights, softplus_inverse
from ..learn.circuit_params import CIRCUIT, CircuitParams
from ..learn.disinhibitory import READOUT_OFFER, DisinhibitoryCircuit, check_rule, plasticity_curves
from ..learn.optim import Adam
from ..store import provenance, write_dataset

TASKS = ("curves", "student_teacher", "classification")
_positive = dict(low=0, strict=True)
#: one declared table per section
SCHEMAS = {
    "rule": {"name": Param(str, "disinhibitory"), "names": Param(list, None, nullable=True, low=1, item=Param(str)),
             "readout": Param(str, "disinhibitory_readout")},
    "circuit": CIRCUIT,
    "curves": {"r_E": Param(list, list(np.round(np.linspace(0.05, 6, 60), 4)), low=1, item=Param(float, **_positive)),
               "r_I": Param(list, [0.5, 1.0, 1.5, 2.0], low=1, item=Param(float, **_positive)),
               "t_settle": Param(float, 100.0, **_positive), "t_window": Param(float, 1.0, **_positive)},
    "student_teacher": {"sizes": Param(list, low=2, item=Param(int, low=1)),
                        "teacher_scale": Param(float, 2.0, **_positive), "f_min": Param(float, 0.2, **_positive),
                        "f_max": Param(float, 1.0, **_positive), "t_baseline": Param(float, 2000.0, **_positive),
                        "t_train": Param(float, 20000.0, **_positive), "sync_every": Param(float, 10.0, **_positive),
                        "record_every": Param(float, 5.0, **_positive),
                        "loss_window": Param(float, 2000.0, **_positive)},
    "data": {"dataset": Param(str, choices=("yinyang", "digits")), "n_train": Param(int, 5000, low=3),
             "n_validation": Param(int, 1000, low=3), "n_test": Param(int, 1000, low=3),
             "validation_fraction": Param(float, 0.1, **_positive, high=0.5),
             "test_fraction": Param(float, 0.2, **_positive, high=0.5)},
    "training": {"sizes": Param(list, low=3, item=Param(int, low=1)), "epochs": Param(int, 20, low=1),
                 "batch": Param(int, 100, low=1), "soft_target": Param(float, 0.99, low=0, high=1),
                 "eta_decay": Param(float, 1.0, **_positive, doc="optimizer = sgd: eta *= eta_decay per epoch"),
                 "seeds": Param(int, 1, low=1, high=100)},
    "backprop": {"enabled": Param(bool, True), "lr": Param(float, 1e-3, **_positive)},
}
TABLES = ("experiment",) + tuple(SCHEMAS)
HEAD = {"task": Param(str, choices=TASKS), "codegen": Param(str, "numpy", choices=("numpy", "cython"))}


def validate(config, where=None):
    """The experiment's settings, every table checked and completed with defaults; ConfigError / RuleError."""
    if not isinstance(config, dict):
        raise ConfigError("the experiment must be a table of sections", file=where)
    unknown = sorted(set(config) - set(TABLES))
    if unknown:
        raise ConfigError(f"unknown table (known: {', '.join(TABLES)})", file=where, section=unknown[0])
    head = config.get("experiment", {})
    task, codegen = head.get("task"), head.get("codegen", "numpy")
    check_table({"task": task, "codegen": codegen}, HEAD, file=where, section="experiment")
    tables = {name: check_table(config.get(name, {}), SCHEMAS[name], file=where, section=name)
              for name in SCHEMAS if name in config or name in ("rule", "circuit")}
    rules = [check_rule(n) for n in (tables["rule"]["names"] or [tables["rule"]["name"]])]  # RuleError now
    circuit = CircuitParams.from_dict(config.get("circuit", {}), file=where)
    settings = {"task": task, "name": head.get("name") or f"disinhibitory_{task}", "rules": rules,
                "codegen": codegen, "circuit": circuit, "readout_rule": tables["rule"]["readout"]}
    if task == "curves":
        settings.update(check_table(config.get("curves", {}), SCHEMAS["curves"], file=where, section="curves"))
    elif task == "student_teacher":
        st = check_table(config.get("student_teacher", {}), SCHEMAS["student_teacher"], file=where,
                         section="student_teacher")
        if st["f_max"] < st["f_min"]:
            raise ConfigError("f_max is below f_min", file=where, section="student_teacher", key="f_max")
        if st["loss_window"] > st["t_train"]:
            raise ConfigError("longer than t_train", file=where, section="student_teacher", key="loss_window")
        settings.update(st)
    else:
        data = check_table(config.get("data", {}), SCHEMAS["data"], file=where, section="data")
        training = check_table(config.get("training", {}), SCHEMAS["training"], file=where, section="training")
        backprop = check_table(config.get("backprop", {}), SCHEMAS["backprop"], file=where, section="backprop")
        n_in, n_classes = (4, 3) if data["dataset"] == "yinyang" else (64, 10)
        sizes = training["sizes"]
        if sizes[0] != n_in:
            raise ConfigError(f"sizes start with {sizes[0]} inputs but {data['dataset']} has {n_in}", file=where,
                              section="training", key="sizes")
        if sizes[-1] != n_classes:
            raise ConfigError(f"sizes end with {sizes[-1]} outputs but the targets of {data['dataset']} have shape "
                              f"(n, {n_classes}) ({n_classes} classes, one-hot)", file=where, section="training",
                              key="sizes")
        if len(rules) != 1:
            raise ConfigError(f"classification trains with one rule; names lists {len(rules)}", file=where,
                              section="rule", key="names")
        check_rule(settings["readout_rule"], READOUT_OFFER)
        settings.update(data, **training, backprop=backprop["enabled"], bp_lr=backprop["lr"])
    return settings


def run_disinhibitory_experiment(config, out_dir, seed=None, *, progress=True, where=None):
    """Run one dis-inhibitory experiment; write results.nc and PNGs to out_dir. Returns the Dataset."""
    settings = validate(config, where)
    if seed is None:
        seed = config.get("experiment", {}).get("seed", 0)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runner = {"curves": _curves, "student_teacher": _student_teacher, "classification": _classification}
    start = time.time()
    ds = runner[settings["task"]](settings, seed, out_dir, progress)
    ds.attrs.update(provenance(rule=settings["rules"][0], seed=seed, experiment=settings["name"],
                               task=settings["task"], circuit=settings["circuit"].table(),
                               rules=[r.name for r in settings["rules"]], wall_seconds=round(time.time() - start, 1)))
    write_dataset(ds, out_dir / "results.nc")
    return ds


def load(exp, head, data, path):
    """Every table and setting checked (``validate``) before anything runs."""
    validate(data, where=str(path))
    exp.config = data


def run(exp, out, *, progress=True):
    return run_disinhibitory_experiment(exp.config, out, exp.seed, progress=progress, where=str(exp.path))


# --- (a) curve family ---------------------------------------------------------------------------------------

def _curves(s, seed, out_dir, progress):
    from ..plots import plot_disinhibitory_curves
    from ..rules import expressions as ex
    rates_E, rates_I = np.array(s["r_E"]), np.array(s["r_I"])
    sim, analytic, mE, mI = [], [], [], []
    params = CircuitParams(**dict(s["circuit"].table(), k_p=0.0, k_i=0.0, eta_fan_in=0.0))
    for rule in s["rules"]:
        dw, rE, rI = plasticity_curves(rule, rates_E, rates_I, params=params, t_settle=s["t_settle"],
                                       t_window=s["t_window"], codegen=s["codegen"])
        sim.append(dw)
        mE.append(rE)
        mI.append(rI)
        grid_E, grid_I = np.meshgrid(rates_E, rates_I)
        u_E, u_I = softplus_inverse(grid_E, params.beta), softplus_inverse(grid_I, params.beta)
        values = dict(rule.parameters, eta=params.eta, gate=1.0, x=1.0)
        neuron = {"r": grid_E, "u_E": u_E, "u_I": u_I, "r_I": grid_I, "theta_lin": params.theta,
                  "delta_lin": params.delta}
        values.update({name: neuron[spec.variable]
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
    student = DisinhibitoryCircuit(sizes, rule=s["rules"][0], readout_rule=s["readout_rule"], params=params,
                                   copies=2, weights=student_w, inputs="sinusoid", frequencies=freqs, phases=phases,
                                   teacher=teacher, name="student", codegen=s["codegen"])
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
          f"{final:.4g} (last {s['loss_window'] / 1000:g} s of learning): reduced by "
          f"{100 * (1 - final / base):.1f} %; weights frozen, next {s['t_baseline'] / 1000:g} s: {frozen:.4g} "
          f"(reduced by {100 * (1 - frozen / base):.1f} %)")
    return ds


# --- (c) classification against backprop, over seeds, early stopping on validation -------------------------

def _targets(y, n_classes, on):
    T = np.full((len(y), n_classes), (1 - on) / (n_classes - 1))
    T[np.arange(len(y)), y] = on
    return T


def _circuit_seed(s, split, seed, progress):
    """One seed of the circuit: per-epoch train/validation accuracy, test accuracy at the best validation epoch."""
    from tqdm import tqdm
    Xtr, ytr, Xva, yva, Xte, yte = split
    n_classes = s["sizes"][-1]
    Ttr = _targets(ytr, n_classes, s["soft_target"])
    rng = np.random.default_rng(seed)
    circuit = DisinhibitoryCircuit(s["sizes"], rule=s["rules"][0], readout_rule=s["readout_rule"],
                                   params=CircuitParams(**s["circuit"].table()), copies=s["batch"], seed=seed,
                                   name="circuit", codegen=s["codegen"])
    eta0 = s["circuit"].eta
    history, best = [], (-1.0, None, 0)
    bar = tqdm(total=s["epochs"] * len(ytr), unit="sample", desc=f"{s['dataset']} circuit, seed {seed}",
               disable=not progress)
    for epoch in range(s["epochs"]):
        if s["circuit"].optimizer == "sgd":
            circuit.set_eta(eta0 * s["eta_decay"] ** epoch)
        order = rng.permutation(len(ytr))
        out = circuit.present(Xtr[order], Ttr[order], learn=True, progress=bar)
        steps = np.mean([b.get("closed", 0) for b in circuit.last_steps])
        val = float((circuit.present(Xva).argmax(1) == yva).mean())
        history.append((float((out.argmax(1) == ytr[order]).mean()), val, steps))
        if val > best[0]:
            best = (val, [(W.copy(), b.copy()) for W, b in circuit.weights], epoch + 1)
        bar.set_postfix(val_acc=f"{val:.3f}")
    bar.close()
    circuit.set_weights(best[1])
    test = float((circuit.present(Xte).argmax(1) == yte).mean())  # the only look at the test set
    return np.array(history), test, best[2]


def _backprop_seed(s, split, seed):
    """The same network (steady-state transfer function, linear readout, same initial weights) trained by
    backprop with Adam on the same minibatches and epochs; early stopping on validation; test once."""
    Xtr, ytr, Xva, yva, Xte, yte = split
    beta = s["circuit"].beta
    Ttr = _targets(ytr, s["sizes"][-1], s["soft_target"])
    rng = np.random.default_rng(seed)
    weights = init_weights(s["sizes"], np.random.default_rng(seed), s["circuit"].init_scale)
    adam, history, best = Adam(s["bp_lr"]), [], (-1.0, None, 0)
    for epoch in range(s["epochs"]):
        order = rng.permutation(len(ytr))
        correct = 0
        for start in range(0, len(order), s["batch"]):
            idx = order[start:start + s["batch"]]
            correct += int((predict_steady_state(weights, Xtr[idx], beta).argmax(1) == ytr[idx]).sum())
            _, grads = backprop_gradients(weights, Xtr[idx], Ttr[idx], beta)
            flat = adam.step([p for W_b in weights for p in W_b], [g for gW_gb in grads for g in gW_gb])
            weights = [(flat[2 * k], flat[2 * k + 1] * (k < len(weights) - 1)) for k in range(len(weights))]
        val = float((predict_steady_state(weights, Xva, beta).argmax(1) == yva).mean())
        history.append((correct / len(ytr), val))
        if val > best[0]:
            best = (val, [(W.copy(), b.copy()) for W, b in weights], epoch + 1)
    test = float((predict_steady_state(best[1], Xte, beta).argmax(1) == yte).mean())
    return np.array(history), test, best[2]


def _classification(s, seed, out_dir, progress):
    from .. import datasets
    from ..plots import plot_classification
    seeds = list(range(seed, seed + s["seeds"]))
    circuit, bp = [], []
    for k in seeds:
        split = datasets.load(s["dataset"], seed=k, n_train=s["n_train"], n_validation=s["n_validation"],
                              n_test=s["n_test"], fractions=(s["validation_fraction"], s["test_fraction"]))
        circuit.append(_circuit_seed(s, split, k, progress))
        if s["backprop"]:
            bp.append(_backprop_seed(s, split, k))
    epochs = np.arange(1, s["epochs"] + 1)
    stack = lambda runs, col: np.array([r[0][:, col] for r in runs])  # noqa: E731
    data = {"accuracy_train": (("seed", "epoch"), stack(circuit, 0), {"long_name": "circuit, training accuracy "
                                                                                  "(open loop, during the epoch)"}),
            "accuracy_validation": (("seed", "epoch"), stack(circuit, 1), {"long_name": "circuit, validation"}),
            "closed_loop_steps": (("seed", "epoch"), stack(circuit, 2), {"long_name": "mean closed-loop steps"}),
            "accuracy": (("seed",), [r[1] for r in circuit], {"long_name": "circuit, test accuracy at the best "
                                                                           "validation epoch"}),
            "best_epoch": (("seed",), [r[2] for r in circuit])}
    if bp:
        data.update(accuracy_bp_train=(("seed", "epoch"), stack(bp, 0)),
                    accuracy_bp_validation=(("seed", "epoch"), stack(bp, 1)),
                    accuracy_bp=(("seed",), [r[1] for r in bp], {"long_name": "same network trained by backprop "
                                                                               "(Adam), test accuracy"}),
                    best_epoch_bp=(("seed",), [r[2] for r in bp]))
    ds = xr.Dataset(data, coords={"seed": seeds, "epoch": epochs})
    n = len(seeds)
    sd = lambda v: float(np.std(v, ddof=1)) if n > 1 else 0.0  # noqa: E731
    acc = ds.accuracy.values
    ds.attrs.update(dataset=s["dataset"], sizes=str(s["sizes"]), accuracy_mean=float(acc.mean()),
                    accuracy_sd=sd(acc), n_seeds=n)
    line = f"{s['dataset']} {s['sizes']} {s['rules'][0].name}: test {100 * acc.mean():.2f} ± {100 * sd(acc):.2f} %"
    if bp:
        acc_bp = ds.accuracy_bp.values
        ds.attrs.update(accuracy_bp_mean=float(acc_bp.mean()), accuracy_bp_sd=sd(acc_bp),
                        gap_points=100 * float(acc_bp.mean() - acc.mean()))
        line += f", backprop {100 * acc_bp.mean():.2f} ± {100 * sd(acc_bp):.2f} %"
    print(line + f" (n = {n} seeds; best validation epochs {ds.best_epoch.values.tolist()})")
    plot_classification(ds, out_dir / f"{s['dataset']}_accuracy.png")
    return ds
