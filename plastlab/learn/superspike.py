"""SuperSpike experiments (Zenke & Ganguli 2018): learning precisely timed spikes with a three-factor rule.

The plastic synapses run ``rules/superspike.toml`` compiled by the same path as every rule. The network
(:mod:`plastlab.brian.superspike`) gives the rule what it needs: current-based LIF neurons whose membrane potential
``v`` the rule reads every step, and an error signal ``err`` per neuron — at an output, the target spike train minus
the output spike train filtered by the same alpha kernel as the eligibility trace; at a hidden unit, the output
errors fed back through fixed weights B (symmetric: B = W^T, random, or uniform). This module describes what it
learns: the tasks' sessions, initial weights and B, the training schedule, and the results.

The loss is the van Rossum distance between output and target trains with that kernel, i.e. ∫ err² dt over a
trial, integrated exactly by Brian2 alongside the network.

Seeds (and, for the hidden task, feedback kinds) run as independent *copies* inside one Brian2 network: every
copy has its own inputs, targets, weights and feedback drawn from ``numpy.random.default_rng(seed)`` in the same
order as a network of one copy, and copies share no synapse, so a copy's result does not depend on the others
(tested). Small networks are dominated by Brian2's per-step overhead, so five copies cost little more than one.

Defaults are the reference code's operating point: η = 1e-3 (÷10 after ``anneal_fraction`` of the trials),
weights added in volts to the synaptic current as Auryn does (1000 mV per unit weight: w_max = 0.1 → a 100 mV jump),
initial weights N(0, (w0/√n_pre)²) with w0 = 0.05.
"""
import json
from dataclasses import dataclass

import numpy as np
import xarray as xr
from brian2 import ms

from ..brian.requirements import require
from ..brian.settings import brian_settings
from ..brian.superspike import OFFER, SuperSpikeNetwork
from ..config import Param, validate
from ..errors import ConfigError, PlastlabError
from ..rules.files import load_rule
from ..store import provenance

W_MAX = 0.1  # the reference code's weight bound (rules/superspike.toml's wmax); initial weights are clipped to it
FEEDBACK = ("symmetric", "random", "uniform", "random_positive")
TASK_NAMES = ("spike_times", "hidden", "xor")

_pair = Param(list, length=2, item=Param(float))
#: the [settings] table of a SuperSpike experiment (defaults: the reference code's operating point)
SETTINGS = {
    "n_inputs": Param(int, 100, low=1), "rate_hz": Param(float, 5.0, low=0, strict=True),
    "trial_ms": Param(float, 500.0, low=0, strict=True), "n_target_spikes": Param(int, 5, low=1),
    "n_outputs": Param(int, 1, low=1), "trials": Param(int, 1000, low=1),
    "w_scale_mV": Param(float, 1000.0, low=0, strict=True,
                        doc="synaptic current jump per unit weight (reference: w is added in volts, 1000 mV)"),
    "w0": Param(float, 0.05, low=0, doc="initial weights ~ N(0, (w0/sqrt(n_pre))²), as in the reference code"),
    "w_init": Param(list, None, nullable=True, length=2, item=Param(float),
                    doc="named option: output weights ~ N(mean, sd) instead of the w0 rule"),
    "w_init_hidden": Param(list, None, nullable=True, length=2, item=Param(float),
                           doc="named option: input -> hidden weights ~ N(mean, sd) instead of the w0 rule"),
    "dt_ms": Param(float, 0.1, low=0, strict=True), "codegen": Param(str, "cython", choices=("numpy", "cython")),
    "rule": Param(str, "superspike"), "rule_parameters": Param(dict, {}),
    "n_hidden": Param(int, 0, low=0), "feedback": Param(str, "symmetric", choices=FEEDBACK),
    "feedbacks": Param(list, None, nullable=True, low=1, item=Param(str, choices=FEEDBACK)),
    "feedback_scale": Param(float, 1.0, low=0, strict=True, doc="sd of random B, value of uniform B"),
    "seeds": Param(int, 1, low=1, high=64, doc="copies with seeds seed, seed+1, ..."),
    "tolerance_ms": Param(float, 2.0, low=0, strict=True),
    "anneal_fraction": Param(float, 0.6, low=0, high=1), "anneal_factor": Param(float, 0.1, low=0),
    "test_trials": Param(int, 200, low=1), "early_ms": Param(float, 20.0, low=0), "late_ms": Param(float, 40.0, low=0),
    "reference_ms": Param(float, 5.0, low=0), "jitter_ms": Param(float, 1.0, low=0),
    "target_ms": Param(float, 70.0, low=0), "window_ms": Param(float, 5.0, low=0, strict=True),
}
#: the XOR task's own defaults where they differ
XOR_DEFAULTS = dict(trial_ms=100.0, n_outputs=2, n_hidden=100, trials=2000)
DEFAULTS = {key: p.default for key, p in SETTINGS.items()}


def configure(config, *, file=None):
    """The settings of one task (``config["task"]``), checked against SETTINGS with defaults filled in.

    Raises ConfigError naming the key before anything is simulated; the rule is checked against the network."""
    config = dict(config)
    task = config.pop("task", "spike_times")
    if task not in TASK_NAMES:
        raise ConfigError(f"unknown SuperSpike task '{task}' (known: {', '.join(TASK_NAMES)})", file=file,
                          section="experiment", key="task")
    given = validate(config, SETTINGS, file=file, section="settings")
    if task == "xor":
        given.update({k: v for k, v in XOR_DEFAULTS.items() if k not in config})
    if task == "hidden" and not given["n_hidden"]:
        given["n_hidden"] = 4
    given["task"] = task
    if given["trial_ms"] / given["dt_ms"] != round(given["trial_ms"] / given["dt_ms"]):
        raise ConfigError("trial_ms must be a whole number of time steps", file=file, section="settings",
                          key="trial_ms")
    _rule(given)  # RuleError now, not after building
    return given


def _rule(cfg):
    rule = require(load_rule(cfg["rule"]), OFFER)
    return rule.with_parameters(**cfg["rule_parameters"]) if cfg["rule_parameters"] else rule


@dataclass
class Session:
    """Input and target spikes for a whole training session, trial after trial."""

    input_indices: np.ndarray
    input_times: np.ndarray  # seconds
    target_indices: np.ndarray
    target_times: np.ndarray  # seconds
    trial: float  # seconds
    n_trials: int
    labels: np.ndarray = None  # per trial, for classification tasks


def frozen_poisson(n, rate, duration, rng, dt):
    """One frozen Poisson pattern: (indices, times in s), at most one spike per neuron per time step."""
    steps = int(round(duration / dt))
    spikes = rng.random((steps, n)) < rate * dt
    step, index = np.nonzero(spikes)
    return index, step * dt


def repeat(indices, times, period, n_trials):
    offsets = np.repeat(np.arange(n_trials) * period, len(times))
    return np.tile(indices, n_trials), np.tile(times, n_trials) + offsets


def spike_times_session(cfg, rng, dt):
    """Tasks (a) and (b): one frozen input pattern, the same equidistant target spikes every trial."""
    trial = cfg["trial_ms"] / 1000
    inputs = frozen_poisson(cfg["n_inputs"], cfg["rate_hz"], trial, rng, dt)
    targets = (np.arange(cfg["n_target_spikes"]) + 0.5) * trial / cfg["n_target_spikes"]
    n = cfg["trials"]
    return Session(*repeat(*inputs, trial, n), *repeat(np.zeros(len(targets), int), targets, trial, n), trial, n)


def xor_session(cfg, rng, dt, n_trials):
    """Task (c): a reference group and two input groups whose spike times (early/late) code two bits; the
    output for XOR(bit1, bit2) must spike at a fixed time, the other output stay silent."""
    trial, groups = cfg["trial_ms"] / 1000, np.array_split(np.arange(cfg["n_inputs"]), 3)
    early, late, reference = (cfg[k] / 1000 for k in ("early_ms", "late_ms", "reference_ms"))
    jitter = cfg["jitter_ms"] / 1000
    labels = rng.integers(0, 4, n_trials)
    indices, times, target_i, target_t = [], [], [], []
    for k, pattern in enumerate(labels):
        bits = (pattern >> 1, pattern & 1)
        for group, at in zip(groups, (reference, late if bits[0] else early, late if bits[1] else early)):
            indices.append(group)
            times.append(k * trial + at + rng.normal(0, jitter, len(group)))
        target_i.append(bits[0] ^ bits[1])
        target_t.append(k * trial + cfg["target_ms"] / 1000)
    times = np.round(np.clip(np.concatenate(times), 0, None) / dt) * dt
    return Session(np.concatenate(indices), times, np.array(target_i), np.array(target_t), trial, n_trials,
                   labels=np.array([(p >> 1) ^ (p & 1) for p in labels]))


@dataclass
class Copy:
    """One independent network inside the shared Brian2 groups: its seed, feedback kind and session."""

    seed: int
    feedback: str
    session: Session = None
    rng: np.random.Generator = None


def _merge(sessions, n_in, n_out):
    """One SpikeGeneratorGroup's spikes (and one target group's) for all copies, indices offset per copy."""
    cat = lambda parts: np.concatenate(parts) if parts else np.array([])  # noqa: E731
    return (cat([s.input_indices + c * n_in for c, s in enumerate(sessions)]),
            cat([s.input_times for s in sessions]),
            cat([s.target_indices + c * n_out for c, s in enumerate(sessions)]),
            cat([s.target_times for s in sessions]))


def initial_weights(copies, spec, n_pre, n_post, w0):
    """Reference code: w ~ N(0, (w0/sqrt(n_pre))²), clipped to ±w_max; ``spec`` = (mean, sd) overrides it.
    One block per copy from its own rng, ordered (copy, pre, post)."""
    mean, std = spec if spec is not None else (0.0, w0 / np.sqrt(n_pre))
    return np.concatenate([np.clip(c.rng.normal(mean, std, n_pre * n_post), -W_MAX, W_MAX) for c in copies])


def feedback_weights(copies, scale, size):
    """B for the hidden layer's error, per copy (``size`` synapses each): random is N(0, scale²), uniform is
    ``scale``, random_positive is |random| (the same magnitudes, every sign positive: a control for what the signs
    of random B do), symmetric starts at ``scale`` and tracks W^T. Returns (B, symmetric per synapse)."""
    blocks = []
    for c in copies:
        if c.feedback in ("random", "random_positive"):
            B = c.rng.normal(0, scale, size)
            blocks.append(np.abs(B) if c.feedback == "random_positive" else B)
        else:
            blocks.append(np.full(size, scale))
    return np.concatenate(blocks), np.repeat([c.feedback == "symmetric" for c in copies], size)


def build_network(cfg, copies, rule):
    """The Brian2 network of ``copies`` (sessions filled, their rngs already used for them): initial weights and
    B drawn from each copy's rng in the order w_in, w_out, B. Call inside ``brian_settings(dt=...)``."""
    n_in, n_out, n_hid = cfg["n_inputs"], cfg["n_outputs"], cfg["n_hidden"]
    in_i, in_t, tg_i, tg_t = _merge([c.session for c in copies], n_in, n_out)
    layers = {}
    if n_hid:
        layers["w_in"] = initial_weights(copies, cfg["w_init_hidden"], n_in, n_hid, cfg["w0"])
        layers["w_out"] = initial_weights(copies, cfg["w_init"], n_hid, n_out, cfg["w0"])
        layers["feedback"], layers["symmetric"] = feedback_weights(copies, cfg["feedback_scale"], n_out * n_hid)
    else:
        layers["w_out"] = initial_weights(copies, cfg["w_init"], n_in, n_out, cfg["w0"])
    return SuperSpikeNetwork(rule, copies=len(copies), n_inputs=n_in, n_outputs=n_out, n_hidden=n_hid,
                             inputs=(in_i, in_t), targets=(tg_i, tg_t), trial=copies[0].session.trial,
                             w_scale_mV=cfg["w_scale_mV"], **layers)


def train(net, cfg, trials, report=None):
    """``trials`` trials; the learning rate drops by ``anneal_factor`` after ``anneal_fraction`` of them.
    Returns the loss per (copy, trial)."""
    first = int(round(trials * cfg["anneal_fraction"]))
    eta = net.eta()
    if eta is None or first >= trials:
        net.run_trials(trials, report)
        return net.loss_per_trial(trials)
    for count, rate in ((first, eta), (trials - first, eta * cfg["anneal_factor"])):
        net.set_eta(rate)
        if count:
            net.run_trials(count, report)
    net.set_eta(eta)
    return net.loss_per_trial(trials)


def match_targets(spikes, targets, tolerance):
    """(targets matched within ±tolerance, extra output spikes) with one-to-one nearest matching."""
    unused, matched = list(spikes), 0
    for t in targets:
        if unused:
            nearest = min(unused, key=lambda s: abs(s - t))
            if abs(nearest - t) <= tolerance:
                matched += 1
                unused.remove(nearest)
    return matched, len(unused)


def _copies(cfg, seed, kinds, make_session):
    copies = []
    for kind in kinds:
        for s in range(seed, seed + cfg["seeds"]):
            rng = np.random.default_rng(s)
            copies.append(Copy(s, kind, make_session(rng), rng))
    return copies


def _build_and_run(cfg, copies, trials, report, test_trials=0):
    """Train for ``trials``; then, if ``test_trials``, test with plasticity off (largest weight change: test)."""
    rule = _rule(cfg)
    with brian_settings(target=cfg["codegen"], dt=cfg["dt_ms"] * ms):
        net = build_network(cfg, copies, rule)
        loss = train(net, cfg, trials, report)
        test = None
        if test_trials:
            net.freeze()
            trained = net.plastic_weights()
            net.run_trials(test_trials)
            test = max(float(np.max(np.abs(w - w0), initial=0)) for w, w0 in zip(net.plastic_weights(), trained))
    return rule, net, loss, test


def run_spike_times(config, seed=0, report=None):
    """Tasks (a) (no hidden layer) and (b) (``n_hidden`` > 0): loss over (feedback, seed, trial), first and last
    trial's output spikes, and the hidden task's weights and feedback at the end (to relate learning to B)."""
    cfg = configure(dict(config, task=config.get("task", "spike_times")))
    kinds = (cfg["feedbacks"] or [cfg["feedback"]]) if cfg["n_hidden"] else ["none"]
    dt = cfg["dt_ms"] / 1000
    copies = _copies(cfg, seed, kinds, lambda rng: spike_times_session(cfg, rng, dt))
    rule, net, loss, _ = _build_and_run(cfg, copies, cfg["trials"], report)
    session, tol = copies[0].session, cfg["tolerance_ms"] / 1000
    targets = session.target_times[: cfg["n_target_spikes"]]
    first, last, matched, extra = [], [], [], []
    for k in range(len(copies)):
        t, _ = net.copy_spikes(k)
        first.append(np.sort(t[t < session.trial]))
        last.append(np.sort(t[t >= (cfg["trials"] - 1) * session.trial]) - (cfg["trials"] - 1) * session.trial)
        m, e = match_targets(list(last[-1]), targets, tol)
        matched.append(m)
        extra.append(e)
    shape = (len(kinds), cfg["seeds"])
    n_spk = max([len(a) for a in first + last] + [1])
    pad = lambda a: np.pad(np.asarray(a, float) * 1000, (0, n_spk - len(a)), constant_values=np.nan)  # noqa: E731
    dims = ("feedback", "seed")
    data = {"loss": (dims + ("trial",), loss.reshape(shape + (-1,)),
                     {"long_name": "van Rossum loss (∫ err² dt)", "units": "s"}),
            "target_times": ("target", np.asarray(targets) * 1000, {"units": "ms"}),
            "output_times_first": (dims + ("spike",), np.array([pad(a) for a in first]).reshape(shape + (-1,)),
                                   {"units": "ms", "long_name": "output spikes, first trial"}),
            "output_times_last": (dims + ("spike",), np.array([pad(a) for a in last]).reshape(shape + (-1,)),
                                  {"units": "ms", "long_name": "output spikes, last trial"}),
            "matched_targets": (dims, np.reshape(matched, shape)),
            "extra_spikes": (dims, np.reshape(extra, shape))}
    if cfg["n_hidden"]:
        n_hid = cfg["n_hidden"] * cfg["n_outputs"]
        w_out = net.output_weights().reshape(shape + (n_hid,))
        B = net.feedback_weights().reshape(shape + (n_hid,))
        data.update(w_out_final=(dims + ("hidden",), w_out, {"long_name": "hidden -> output weights, end"}),
                    w_out_initial=(dims + ("hidden",), net.initial_w.reshape(shape + (n_hid,))),
                    feedback_weights=(dims + ("hidden",), B, {"long_name": "B (output -> hidden), end"}))
    ds = xr.Dataset(data, coords={"feedback": kinds, "seed": np.arange(seed, seed + cfg["seeds"]),
                                  "trial": np.arange(cfg["trials"])})
    ds["loss_reduction"] = 1 - ds.loss.isel(trial=-1) / ds.loss.isel(trial=0)
    ds.loss_reduction.attrs["long_name"] = "1 - loss(last trial) / loss(first trial)"
    ds.attrs.update(provenance(rule, seed, task=cfg["task"], settings=cfg, seeds=cfg["seeds"]))
    if not cfg["n_hidden"]:
        ds = ds.squeeze("feedback", drop=True)
    return ds


def run_hidden(config, seed=0, report=None):
    """Task (b): the 5-spike target through ``n_hidden`` (default 4) hidden units, for each of ``feedbacks``."""
    return run_spike_times(dict(config, task="hidden"), seed, report)


def run_xor(config, seed=0, report=None):
    """Task (c): train on random XOR trials, then test with plasticity off.

    A test trial is correct when the output for XOR(bit1, bit2) spikes within ±``window_ms`` of ``target_ms``
    and the other output stays silent (``accuracy``). ``accuracy_count`` is the looser rule "the correct output
    spikes more often than the other" (ties, e.g. both silent, count as wrong)."""
    cfg = configure(dict(config, task="xor"))
    train, test = cfg["trials"], cfg["test_trials"]
    dt = cfg["dt_ms"] / 1000
    copies = _copies(cfg, seed, [cfg["feedback"]], lambda rng: xor_session(cfg, rng, dt, train + test))
    rule, net, loss, change = _build_and_run(cfg, copies, train, report, test_trials=test)
    n_out, trial = cfg["n_outputs"], copies[0].session.trial
    rows, results = np.arange(test), []
    for k, c in enumerate(copies):
        t, i = net.copy_spikes(k)
        counts, first = _test_spikes(t, i, trial, n_out, train, test)
        labels = c.session.labels[train:]
        predicted = np.where(counts[:, 0] == counts[:, 1], -1, np.argmax(counts, axis=1))
        in_window = np.abs(first[rows, labels] - cfg["target_ms"]) <= cfg["window_ms"]
        correct = in_window & (counts.sum(axis=1) == counts[rows, labels])
        results.append((labels, predicted, counts, first, correct))
    stack = lambda k: np.array([r[k] for r in results])  # noqa: E731
    ds = xr.Dataset(
        {"loss": (("seed", "trial"), loss, {"long_name": "van Rossum loss (∫ err² dt)", "units": "s"}),
         "test_label": (("seed", "test_trial"), stack(0)), "test_predicted": (("seed", "test_trial"), stack(1)),
         "test_counts": (("seed", "test_trial", "output"), stack(2)),
         "test_first_spike": (("seed", "test_trial", "output"), stack(3),
                              {"units": "ms", "long_name": "first output spike"}),
         "test_correct": (("seed", "test_trial"), stack(4))},
        coords={"seed": [c.seed for c in copies], "trial": np.arange(train), "test_trial": np.arange(test),
                "output": np.arange(n_out)})
    ds["accuracy"] = ds.test_correct.mean("test_trial")
    ds["accuracy_count"] = (ds.test_predicted == ds.test_label).mean("test_trial")
    ds.attrs.update(provenance(rule, seed, task="xor", settings=cfg, seeds=cfg["seeds"], test_weight_change=change))
    return ds


def _test_spikes(t, i, trial, n_outputs, train, test):
    """Spike counts and first spike times (ms, NaN when silent) per test trial and output."""
    k = np.floor(t / trial + 1e-9).astype(int)
    inside = (k >= train) & (k < train + test)
    row, neuron, when = k[inside] - train, i[inside], t[inside] - k[inside] * trial
    counts = np.zeros((test, n_outputs), int)
    np.add.at(counts, (row, neuron), 1)
    first = np.full((test, n_outputs), np.inf)
    np.minimum.at(first, (row, neuron), when)
    return counts, np.where(np.isinf(first), np.nan, first) * 1000


TASKS = {"spike_times": run_spike_times, "hidden": run_hidden, "xor": run_xor}


def run_experiment(task, settings, out_dir, seed=0, report=None):
    """Run one SuperSpike task and write DIR/results.nc plus its figures; returns the Dataset."""
    from pathlib import Path

    from ..plots import plot_loss, plot_spike_raster
    from ..store import write_dataset
    if task not in TASKS:
        raise PlastlabError(f"unknown SuperSpike task '{task}' (known: {', '.join(TASKS)})")
    ds = TASKS[task](dict(settings, task=task), seed=seed, report=report)
    out = Path(out_dir)
    write_dataset(ds, out / "results.nc")
    plot_loss(ds, out / "loss.png")
    if "output_times_last" in ds:
        plot_spike_raster(ds, out / "raster.png")
    return ds


def _mean_sd(values, fmt="{:.1%}"):
    values = np.asarray(values, float).ravel()
    sd = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{fmt.format(values.mean())} ± {fmt.format(sd)} (n = {len(values)})"


def summary(ds):
    """One line per result, mean ± sd over seeds: what the issue's targets ask about."""
    if "accuracy" in ds:
        settings = json.loads(ds.attrs.get("settings", "{}"))
        return (f"test accuracy {_mean_sd(ds.accuracy)} (correct output spikes within ±{settings.get('window_ms')} "
                f"ms of {settings.get('target_ms')} ms, the other silent); by spike count "
                f"{_mean_sd(ds.accuracy_count)}")
    kinds = list(ds.feedback.values) if "feedback" in ds.dims else [None]
    lines = []
    for kind in kinds:
        pick = (lambda v, kind=kind: v.sel(feedback=kind)) if kind is not None else (lambda v: v)  # noqa: E731
        lines.append(f"{kind + ': ' if kind else ''}loss reduced {_mean_sd(pick(ds.loss_reduction))}; targets "
                     f"matched {_mean_sd(pick(ds.matched_targets), '{:.2f}')} of {ds.sizes['target']}, extra "
                     f"{_mean_sd(pick(ds.extra_spikes), '{:.2f}')}")
    return "\n".join(lines)
