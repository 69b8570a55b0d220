"""SuperSpike experiments (Zenke & Ganguli 2018): learning precisely timed spikes with a three-factor rule.

The plastic synapses run ``rules/superspike.toml`` compiled by the same path as every rule. What the rule
needs from the network, this module provides: current-based LIF neurons whose membrane potential ``v`` the
rule reads every step, and an error signal ``err`` per neuron — at an output, the target spike train minus the
output spike train filtered by the same alpha kernel as the eligibility trace; at a hidden unit, the output
errors fed back through fixed weights B (symmetric: B = W^T, random, or uniform).

The loss is the van Rossum distance between output and target trains with that kernel, i.e. ∫ err² dt over a
trial, integrated exactly by Brian2 alongside the network. Each task builds its network once and runs all
trials in one call: inputs and targets are generated for the whole session up front.
"""
import json
from dataclasses import dataclass

import numpy as np
import xarray as xr
from brian2 import (Hz, Network, NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, Synapses,
                    defaultclock, mV, ms, network_operation, prefs, second)

from ..brian.codegen import synapses
from ..errors import PlastlabError
from ..rules.files import load_rule
from ..store import provenance

NEURON = """
dv/dt = (EL - v + I)/tau_mem : volt (unless refractory)
dI/dt = -I/tau_syn : volt
"""
OUTPUT_ERROR = """
derr1/dt = -err1/tau_rise : 1
derr/dt = (err1 - err)/tau_decay : 1
dloss/dt = err**2 : second
"""
FEEDBACK = ("symmetric", "random", "uniform")


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


class SuperSpikeNetwork:
    """Inputs -> (optional hidden layer) -> outputs, all plastic with the SuperSpike rule; built once."""

    def __init__(self, cfg, session, rng, rule):
        self.cfg, self.session = cfg, session
        names = dict(EL=-60 * mV, tau_mem=10 * ms, tau_syn=5 * ms, tau_rise=5 * ms, tau_decay=10 * ms,
                     theta=-50 * mV, w_scale=cfg["w_scale_mV"] * mV)
        threshold, refractory = "v > theta", 5 * ms
        self.inputs = SpikeGeneratorGroup(cfg["n_inputs"], session.input_indices, session.input_times * second)
        self.outputs = NeuronGroup(cfg["n_outputs"], NEURON + OUTPUT_ERROR, threshold=threshold,
                                   reset="v = EL; err1 -= 1", refractory=refractory, method="euler",
                                   namespace=names, name="outputs")
        self.outputs.v = names["EL"]
        self.target = SpikeGeneratorGroup(cfg["n_outputs"], session.target_indices, session.target_times * second)
        self.teach = Synapses(self.target, self.outputs, on_pre="err1_post += 1")
        self.teach.connect(j="i")
        objects = [self.inputs, self.outputs, self.target, self.teach]
        transmit = "I_post += w*w_scale"
        if cfg.get("n_hidden"):
            self.hidden = NeuronGroup(cfg["n_hidden"], NEURON + "err : 1", threshold=threshold, reset="v = EL",
                                      refractory=refractory, method="exact", namespace=names, name="hidden")
            self.hidden.v = names["EL"]
            self.w_in = synapses(rule, self.inputs, self.hidden, transmit, namespace=names, name="w_in")
            self.w_out = synapses(rule, self.hidden, self.outputs, transmit, namespace=names, name="w_out")
            self.feedback = Synapses(self.outputs, self.hidden, "B : 1\nerr_post = B*err_pre : 1 (summed)",
                                     name="feedback")
            self.w_in.connect()
            self.w_out.connect()
            self.feedback.connect()
            objects += [self.hidden, self.w_in, self.w_out, self.feedback]
            self._initialise(self.w_in, rng, cfg["w_init_hidden"])
            self._initialise(self.w_out, rng, cfg["w_init"])
            objects += self._feedback(cfg["feedback"], rng, rule)
        else:
            self.w_out = synapses(rule, self.inputs, self.outputs, transmit, namespace=names, name="w_out")
            self.w_out.connect()
            objects.append(self.w_out)
            self._initialise(self.w_out, rng, cfg["w_init"])
        self.initial_w = np.array(self.w_out.w[:])
        self.spikes = SpikeMonitor(self.outputs)
        self.loss = StateMonitor(self.outputs, "loss", record=True, dt=session.trial * second)
        self.net = Network(*objects, self.spikes, self.loss)

    @staticmethod
    def _initialise(syn, rng, spec):
        mean, std = spec
        syn.w = np.clip(rng.normal(mean, std, len(syn)), -0.1, 0.1)

    def _feedback(self, kind, rng, rule):
        """B for the hidden layer's error: symmetric tracks W^T at each weight update."""
        if kind not in FEEDBACK:
            raise PlastlabError(f"feedback must be one of {', '.join(FEEDBACK)}, got '{kind}'")
        if kind == "uniform":
            self.feedback.B = 1.0
            return []
        if kind == "random":
            self.feedback.B = rng.normal(0, 1, len(self.feedback))
            return []
        order = self._transpose_order()

        def symmetric_feedback():
            self.feedback.B = np.asarray(self.w_out.w[:])[order]

        symmetric_feedback()
        return [network_operation(symmetric_feedback, dt=rule.parameters["T_update"], when="end")]

    def _transpose_order(self):
        """Index into w_out (hidden i -> output j) for each feedback synapse (output j -> hidden i)."""
        lookup = {(i, j): k for k, (i, j) in enumerate(zip(self.w_out.i[:], self.w_out.j[:]))}
        return np.array([lookup[(i, j)] for j, i in zip(self.feedback.i[:], self.feedback.j[:])])

    def run(self, report=None):
        """All trials; the learning rate drops by ``anneal_factor`` after ``anneal_fraction`` of them."""
        trials = self.session.n_trials
        first = int(round(trials * self.cfg["anneal_fraction"]))
        plastic = [obj for obj in (self.w_out, getattr(self, "w_in", None)) if obj is not None]
        eta = plastic[0].namespace.get("eta")
        if eta is None or first >= trials:
            self.net.run(trials * self.session.trial * second, namespace={}, report=report)
            return self._loss_per_trial()
        for count, rate in ((first, eta), (trials - first, eta * self.cfg["anneal_factor"])):
            for syn in plastic:
                syn.namespace["eta"] = rate
            if count:
                self.net.run(count * self.session.trial * second, namespace={}, report=report)
        for syn in plastic:
            syn.namespace["eta"] = eta
        return self._loss_per_trial()

    def _loss_per_trial(self):
        loss = np.asarray(self.loss.loss / second)  # (outputs, samples at trial starts)
        ends = np.concatenate([loss[:, 1:], np.asarray(self.outputs.loss / second)[:, None]], axis=1)
        per_trial = (ends - loss).sum(axis=0)[: self.session.n_trials]
        return per_trial


def trial_spikes(monitor, trial, k):
    """Output spike times (s, relative to trial start) in trial k, per output neuron."""
    t, i = np.asarray(monitor.t / second), np.asarray(monitor.i)
    inside = (t >= k * trial) & (t < (k + 1) * trial)
    return [np.sort(t[inside & (i == n)] - k * trial) for n in range(int(i.max(initial=0)) + 1)]


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


DEFAULTS = dict(n_inputs=100, rate_hz=5.0, trial_ms=500.0, n_target_spikes=5, n_outputs=1, trials=400,
                w_scale_mV=100.0, w_init=(0.0, 0.01), w_init_hidden=(0.03, 0.02), dt_ms=0.1, codegen="cython",
                rule="superspike", rule_parameters={}, n_hidden=0, feedback="symmetric", tolerance_ms=2.0,
                anneal_fraction=1.0, anneal_factor=0.1)


def configure(config):
    cfg = dict(DEFAULTS, **config)
    unknown = sorted(set(cfg) - set(DEFAULTS) - set(XOR_DEFAULTS) - {"task", "kind", "name", "feedbacks",
                                                                     "test_trials"})
    if unknown:
        raise PlastlabError(f"unknown setting '{unknown[0]}' for a SuperSpike experiment")
    if cfg.get("task") == "xor":
        cfg = dict(XOR_DEFAULTS, **config)
    return cfg


XOR_DEFAULTS = dict(DEFAULTS, trial_ms=100.0, n_outputs=2, n_hidden=100, trials=2000, test_trials=200,
                    early_ms=20.0, late_ms=40.0, reference_ms=5.0, jitter_ms=1.0, target_ms=70.0,
                    window_ms=5.0)


def _prepare(cfg):
    rule = load_rule(cfg["rule"])
    if rule.third_factors:
        raise PlastlabError(f"rule '{rule.name}' needs the third factor '{rule.third_factors[0]}', which this "
                            "network does not provide (it gives the postsynaptic neurons v and err)")
    if cfg["rule_parameters"]:
        rule = rule.with_parameters(**cfg["rule_parameters"])
    prefs.codegen.target = cfg["codegen"]
    defaultclock.dt = cfg["dt_ms"] * ms
    return rule


def run_spike_times(config, seed=0, report=None):
    """Tasks (a) (no hidden layer) and (b) (``n_hidden`` > 0, ``feedback``): loss per trial, spikes, targets."""
    cfg = configure(config)
    rule = _prepare(cfg)
    rng = np.random.default_rng(seed)
    session = spike_times_session(cfg, rng, cfg["dt_ms"] / 1000)
    net = SuperSpikeNetwork(cfg, session, rng, rule)
    loss = net.run(report)
    targets = session.target_times[: cfg["n_target_spikes"]]
    last = trial_spikes(net.spikes, session.trial, session.n_trials - 1)[0] if len(net.spikes.t) else np.array([])
    initial = trial_spikes(net.spikes, session.trial, 0)[0] if len(net.spikes.t) else np.array([])
    matched, extra = match_targets(list(last), targets, cfg["tolerance_ms"] / 1000)
    return _spike_times_dataset(cfg, rule, seed, loss, targets, initial, last, matched, extra)


def _spike_times_dataset(cfg, rule, seed, loss, targets, initial, last, matched, extra):
    spikes_dim = max(len(initial), len(last), 1)
    pad = lambda a: np.pad(np.asarray(a, float) * 1000, (0, spikes_dim - len(a)), constant_values=np.nan)  # noqa
    ds = xr.Dataset(
        {"loss": ("trial", loss, {"long_name": "van Rossum loss (∫ err² dt)", "units": "s"}),
         "target_times": ("target", np.asarray(targets) * 1000, {"units": "ms"}),
         "output_times_first": ("spike", pad(initial), {"units": "ms", "long_name": "output spikes, first trial"}),
         "output_times_last": ("spike", pad(last), {"units": "ms", "long_name": "output spikes, last trial"})},
        coords={"trial": np.arange(len(loss))},
        attrs=provenance(rule, seed, task=cfg.get("task", "spike_times"), settings=cfg, matched_targets=matched,
                         extra_spikes=extra, loss_reduction=float(1 - loss[-1] / loss[0]) if loss[0] > 0 else 0.0))
    return ds


def run_hidden(config, seed=0, report=None):
    """Task (b) for each feedback kind in ``feedbacks``: loss over (feedback, trial)."""
    cfg = configure(config)
    results = []
    for kind in cfg.get("feedbacks", [cfg["feedback"]]):
        results.append(run_spike_times(dict(config, feedback=kind, n_hidden=cfg["n_hidden"] or 4), seed, report)
                       .expand_dims(feedback=[kind]))
    combined = xr.concat(results, dim="feedback", data_vars=["loss", "output_times_first", "output_times_last"],
                         combine_attrs="drop_conflicts")
    combined["target_times"] = results[0].target_times.isel(feedback=0, drop=True)  # the same for every kind
    for name in ("matched_targets", "extra_spikes", "loss_reduction"):
        combined[name] = ("feedback", [r.attrs[name] for r in results])
    return combined


def run_xor(config, seed=0, report=None):
    """Task (c): train on random XOR trials, then test with plasticity off.

    A test trial is correct when the output for XOR(bit1, bit2) spikes within ±``window_ms`` of ``target_ms``
    and the other output stays silent (``accuracy``). ``accuracy_count`` is the looser rule "the correct output
    spikes more often than the other" (ties, e.g. both silent, count as wrong)."""
    cfg = configure(dict(config, task="xor"))
    rule = _prepare(cfg)
    rng = np.random.default_rng(seed)
    train, test = cfg["trials"], cfg["test_trials"]
    session = xor_session(cfg, rng, cfg["dt_ms"] / 1000, train + test)
    net = SuperSpikeNetwork(cfg, session, rng, rule)
    net.session.n_trials = train  # the session holds test trials too: train on the first ones only
    loss = net.run(report)
    plastic = [net.w_in, net.w_out]
    for syn in plastic:  # plasticity off for testing: no more periodic weight updates (the run_regularly
        for obj in syn.contained_objects:  # objects belong to the Synapses, not to the Network's own list)
            if obj.name.endswith("_periodic"):
                obj.active = False
    trained = [np.array(syn.w[:]) for syn in plastic]
    net.net.run(test * session.trial * second, namespace={})
    test_weight_change = max(float(np.max(np.abs(syn.w[:] - w), initial=0)) for syn, w in zip(plastic, trained))
    trials = range(train, train + test)
    counts = spike_counts(net.spikes, session.trial, cfg["n_outputs"], trials)
    predicted = np.where(counts[:, 0] == counts[:, 1], -1, np.argmax(counts, axis=1))
    labels = session.labels[train:]
    first = first_spikes(net.spikes, session.trial, cfg["n_outputs"], trials) * 1000
    rows = np.arange(test)
    in_window = np.abs(first[rows, labels] - cfg["target_ms"]) <= cfg["window_ms"]
    others_silent = counts.sum(axis=1) == counts[rows, labels]
    correct = in_window & others_silent
    return xr.Dataset(
        {"loss": ("trial", loss, {"long_name": "van Rossum loss (∫ err² dt)", "units": "s"}),
         "test_label": ("test_trial", labels), "test_predicted": ("test_trial", predicted),
         "test_counts": (("test_trial", "output"), counts),
         "test_first_spike": (("test_trial", "output"), first, {"units": "ms", "long_name": "first output spike"}),
         "test_correct": ("test_trial", correct)},
        coords={"trial": np.arange(train), "test_trial": np.arange(test), "output": np.arange(cfg["n_outputs"])},
        attrs=provenance(rule, seed, task="xor", settings=cfg, accuracy=float(np.mean(correct)),
                         accuracy_count=float(np.mean(predicted == labels)),
                         test_weight_change=test_weight_change))


def _trial_spikes(monitor, trial, trials):
    """(row, neuron, time within the trial in s) of the spikes in the consecutive ``trials``."""
    t, i = np.asarray(monitor.t / second), np.asarray(monitor.i)
    k = np.floor(t / trial + 1e-9).astype(int)
    inside = (k >= trials[0]) & (k < trials[0] + len(trials))
    return k[inside] - trials[0], i[inside], t[inside] - k[inside] * trial


def first_spikes(monitor, trial, n_outputs, trials):
    """First spike time (s, relative to trial start) per trial and output; NaN when the output is silent."""
    row, neuron, t = _trial_spikes(monitor, trial, trials)
    first = np.full((len(trials), n_outputs), np.inf)
    np.minimum.at(first, (row, neuron), t)
    return np.where(np.isinf(first), np.nan, first)


def spike_counts(monitor, trial, n_outputs, trials):
    row, neuron, _ = _trial_spikes(monitor, trial, trials)
    counts = np.zeros((len(trials), n_outputs), int)
    np.add.at(counts, (row, neuron), 1)
    return counts


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


def summary(ds):
    """One line per result: what the issue's targets ask about."""
    if "accuracy" in ds.attrs:
        settings = json.loads(ds.attrs.get("settings", "{}"))
        return (f"test accuracy {ds.attrs['accuracy']:.3f} on {ds.sizes['test_trial']} trials (correct output spikes "
                f"within ±{settings.get('window_ms', '?')} ms of {settings.get('target_ms', '?')} ms, the other silent);"
                f" {ds.attrs.get('accuracy_count', float('nan')):.3f} by spike count")
    if "feedback" in ds.dims:
        return "; ".join(f"{k}: loss reduced {float(r):.1%}, {int(m)}/{ds.sizes['target']} targets matched, "
                         f"{int(e)} extra" for k, r, m, e in zip(ds.feedback.values, ds.loss_reduction.values,
                                                                 ds.matched_targets.values, ds.extra_spikes.values))
    return (f"loss reduced {ds.attrs['loss_reduction']:.1%}; {ds.attrs['matched_targets']}/{ds.sizes['target']} "
            f"target spikes matched within ±{ds.attrs.get('tolerance_ms', 2)} ms, {ds.attrs['extra_spikes']} extra")
