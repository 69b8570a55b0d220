"""SuperSpike experiments (Zenke & Ganguli 2018): learning precisely timed spikes with a three-factor rule.

The plastic synapses run ``rules/superspike.toml`` compiled by the same path as every rule. What the rule
needs from the network, this module provides: current-based LIF neurons whose membrane potential ``v`` the
rule reads every step, and an error signal ``err`` per neuron — at an output, the target spike train minus the
output spike train filtered by the same alpha kernel as the eligibility trace; at a hidden unit, the output
errors fed back through fixed weights B (symmetric: B = W^T, random, or uniform).

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
from brian2 import Network, NetworkOperation, NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, \
    Synapses, mV, ms, second

from ..brian.requirements import Offer, require
from ..brian.settings import brian_settings
from ..config import Param, validate
from ..errors import ConfigError, PlastlabError
from ..brian.codegen import synapses
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
W_MAX = 0.1  # the reference code's weight bound (rules/superspike.toml's wmax); initial weights are clipped to it
FEEDBACK = ("symmetric", "random", "uniform", "random_positive")
TASK_NAMES = ("spike_times", "hidden", "xor")
#: what a SuperSpike network offers a rule: the postsynaptic membrane potential and error, nothing from outside
OFFER = Offer(network="the SuperSpike network", pre=(), post=("v", "err"), modulators=())

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


def _within(copies, n_pre, n_post):
    """i, j of all-to-all connections inside each copy, ordered (copy, pre, post)."""
    c, p, q = np.meshgrid(np.arange(copies), np.arange(n_pre), np.arange(n_post), indexing="ij")
    return {"i": (c * n_pre + p).ravel(), "j": (c * n_post + q).ravel()}


def _merge(sessions, n_in, n_out):
    """One SpikeGeneratorGroup's spikes (and one target group's) for all copies, indices offset per copy."""
    cat = lambda parts: np.concatenate(parts) if parts else np.array([])  # noqa: E731
    return (cat([s.input_indices + c * n_in for c, s in enumerate(sessions)]),
            cat([s.input_times for s in sessions]),
            cat([s.target_indices + c * n_out for c, s in enumerate(sessions)]),
            cat([s.target_times for s in sessions]))


class SuperSpikeNetwork:
    """Inputs -> (optional hidden layer) -> outputs, all plastic with the SuperSpike rule, for every copy; built
    once. ``copies`` is a list of :class:`Copy` whose sessions are filled (their rng already used for them)."""

    def __init__(self, cfg, copies, rule):
        self.cfg, self.copies = cfg, copies
        C, n_in, n_out, n_hid = len(copies), cfg["n_inputs"], cfg["n_outputs"], cfg["n_hidden"]
        self.session = copies[0].session
        names = dict(EL=-60 * mV, tau_mem=10 * ms, tau_syn=5 * ms, tau_rise=5 * ms, tau_decay=10 * ms,
                     theta=-50 * mV, w_scale=cfg["w_scale_mV"] * mV)
        threshold, refractory = "v > theta", 5 * ms
        in_i, in_t, tg_i, tg_t = _merge([c.session for c in copies], n_in, n_out)
        self.inputs = SpikeGeneratorGroup(n_in * C, in_i, in_t * second, name="inputs")
        self.outputs = NeuronGroup(n_out * C, NEURON + OUTPUT_ERROR, threshold=threshold,
                                   reset="v = EL; err1 -= 1", refractory=refractory, method="euler",
                                   namespace=names, name="outputs")
        self.outputs.v = names["EL"]
        self.target = SpikeGeneratorGroup(n_out * C, tg_i, tg_t * second, name="targets")
        self.teach = Synapses(self.target, self.outputs, on_pre="err1_post += 1", name="teach")
        self.teach.connect(j="i")
        objects = [self.inputs, self.outputs, self.target, self.teach]
        transmit = "I_post += w*w_scale"
        self.w_in = None
        if n_hid:
            self.hidden = NeuronGroup(n_hid * C, NEURON + "err : 1", threshold=threshold, reset="v = EL",
                                      refractory=refractory, method="exact", namespace=names, name="hidden")
            self.hidden.v = names["EL"]
            self.w_in = synapses(rule, self.inputs, self.hidden, transmit, namespace=names, name="w_in")
            self.w_out = synapses(rule, self.hidden, self.outputs, transmit, namespace=names, name="w_out")
            self.feedback = Synapses(self.outputs, self.hidden, "B : 1\nerr_post = B*err_pre : 1 (summed)",
                                     name="feedback")
            self.w_in.connect(**_within(C, n_in, n_hid))
            self.w_out.connect(**_within(C, n_hid, n_out))
            self.feedback.connect(**_within(C, n_out, n_hid))
            objects += [self.hidden, self.w_in, self.w_out, self.feedback]
            self._initialise(self.w_in, cfg["w_init_hidden"], n_in)
            self._initialise(self.w_out, cfg["w_init"], n_hid)
            objects += self._feedback(rule)
        else:
            self.w_out = synapses(rule, self.inputs, self.outputs, transmit, namespace=names, name="w_out")
            self.w_out.connect(**_within(C, n_in, n_out))
            objects.append(self.w_out)
            self._initialise(self.w_out, cfg["w_init"], n_in)
        self.initial_w = np.array(self.w_out.w[:])
        self.spikes = SpikeMonitor(self.outputs)
        self.loss = StateMonitor(self.outputs, "loss", record=True, dt=self.session.trial * second)
        self.net = Network(*objects, self.spikes, self.loss)

    def _per_copy(self, values):
        """Split a synapse array ordered (copy, pre, post) into one block per copy."""
        return np.split(np.asarray(values), len(self.copies))

    def _initialise(self, syn, spec, n_pre):
        """Reference code: w ~ N(0, (w0/sqrt(n_pre))²), clipped to ±w_max; ``spec`` = (mean, sd) overrides it."""
        mean, std = spec if spec is not None else (0.0, self.cfg["w0"] / np.sqrt(n_pre))
        size = len(syn) // len(self.copies)
        syn.w = np.concatenate([np.clip(c.rng.normal(mean, std, size), -W_MAX, W_MAX) for c in self.copies])

    def _feedback(self, rule):
        """B for the hidden layer's error, per copy: symmetric tracks W^T at each weight update, random is fixed
        N(0, feedback_scale²), uniform is feedback_scale, random_positive is |random| (the same magnitudes, every
        sign positive: a control for what the signs of random B do)."""
        scale, size = self.cfg["feedback_scale"], len(self.feedback) // len(self.copies)
        blocks = []
        for c in self.copies:
            if c.feedback in ("random", "random_positive"):
                B = c.rng.normal(0, scale, size)
                blocks.append(np.abs(B) if c.feedback == "random_positive" else B)
            else:
                blocks.append(np.full(size, scale))
        self.feedback.B = np.concatenate(blocks)
        symmetric = np.repeat([c.feedback == "symmetric" for c in self.copies], size)
        if not symmetric.any():
            return []
        order = self._transpose_order()

        def symmetric_feedback():
            B = np.asarray(self.feedback.B[:])
            B[symmetric] = np.asarray(self.w_out.w[:])[order][symmetric]
            self.feedback.B = B

        symmetric_feedback()
        # after the periodic weight update of the same step (order 1): B is W^T as soon as W changes
        return [NetworkOperation(symmetric_feedback, dt=rule.parameters["T_update"], when="end", order=1,
                                 name="symmetric_feedback")]

    def _transpose_order(self):
        """Index into w_out (hidden i -> output j) for each feedback synapse (output j -> hidden i)."""
        n_out = self.cfg["n_outputs"]
        w_i, w_j = np.asarray(self.w_out.i[:]), np.asarray(self.w_out.j[:])
        flat = w_i * (n_out * len(self.copies)) + w_j
        lookup = np.argsort(flat)
        wanted = np.asarray(self.feedback.j[:]) * (n_out * len(self.copies)) + np.asarray(self.feedback.i[:])
        return lookup[np.searchsorted(flat[lookup], wanted)]

    def plastic(self):
        return [syn for syn in (self.w_in, self.w_out) if syn is not None]

    def run(self, trials, report=None):
        """``trials`` trials; the learning rate drops by ``anneal_factor`` after ``anneal_fraction`` of them."""
        first = int(round(trials * self.cfg["anneal_fraction"]))
        plastic = self.plastic()
        eta = plastic[0].namespace.get("eta")
        if eta is None or first >= trials:
            self.net.run(trials * self.session.trial * second, namespace={}, report=report)
            return self.loss_per_trial(trials)
        for count, rate in ((first, eta), (trials - first, eta * self.cfg["anneal_factor"])):
            for syn in plastic:
                syn.namespace["eta"] = rate
            if count:
                self.net.run(count * self.session.trial * second, namespace={}, report=report)
        for syn in plastic:
            syn.namespace["eta"] = eta
        return self.loss_per_trial(trials)

    def freeze(self):
        """Plasticity off: the periodic weight updates are contained objects of the Synapses (not in the
        Network's own list), so they are switched off there."""
        for syn in self.plastic():
            for obj in syn.contained_objects:
                if obj.name.endswith("_periodic"):
                    obj.active = False

    def loss_per_trial(self, trials):
        """(copies, trials): ∫ err² dt over each trial, summed over each copy's outputs."""
        loss = np.asarray(self.loss.loss / second)  # (outputs, samples at trial starts)
        ends = np.concatenate([loss[:, 1:], np.asarray(self.outputs.loss / second)[:, None]], axis=1)
        per_output = (ends - loss)[:, :trials]
        return per_output.reshape(len(self.copies), self.cfg["n_outputs"], -1).sum(axis=1)

    def copy_spikes(self, k):
        """(spike times in s, output index within the copy) of copy k."""
        n_out = self.cfg["n_outputs"]
        t, i = np.asarray(self.spikes.t / second), np.asarray(self.spikes.i)
        mine = i // n_out == k
        return t[mine], i[mine] % n_out


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
    rule = _rule(cfg)
    with brian_settings(target=cfg["codegen"], dt=cfg["dt_ms"] * ms):
        net = SuperSpikeNetwork(cfg, copies, rule)
        loss = net.run(trials, report)
        test = None
        if test_trials:
            net.freeze()
            trained = [np.array(syn.w[:]) for syn in net.plastic()]
            net.net.run(test_trials * net.session.trial * second, namespace={})
            test = max(float(np.max(np.abs(syn.w[:] - w), initial=0)) for syn, w in zip(net.plastic(), trained))
    return rule, net, loss, test


def run_spike_times(config, seed=0, report=None):
    """Tasks (a) (no hidden layer) and (b) (``n_hidden`` > 0): loss over (feedback, seed, trial), first and last
    trial's output spikes, and the hidden task's weights and feedback at the end (to relate learning to B)."""
    cfg = configure(dict(config, task=config.get("task", "spike_times")))
    kinds = (cfg["feedbacks"] or [cfg["feedback"]]) if cfg["n_hidden"] else ["none"]
    dt = cfg["dt_ms"] / 1000
    copies = _copies(cfg, seed, kinds, lambda rng: spike_times_session(cfg, rng, dt))
    rule, net, loss, _ = _build_and_run(cfg, copies, cfg["trials"], report)
    session, tol = net.session, cfg["tolerance_ms"] / 1000
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
        w_out = np.asarray(net.w_out.w[:]).reshape(shape + (n_hid,))
        B = np.asarray(net.feedback.B[:])[net._transpose_order()].reshape(shape + (n_hid,))
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
    n_out, trial = cfg["n_outputs"], net.session.trial
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
        pick = (lambda v: v.sel(feedback=kind)) if kind is not None else (lambda v: v)  # noqa: E731
        lines.append(f"{kind + ': ' if kind else ''}loss reduced {_mean_sd(pick(ds.loss_reduction))}; targets "
                     f"matched {_mean_sd(pick(ds.matched_targets), '{:.2f}')} of {ds.sizes['target']}, extra "
                     f"{_mean_sd(pick(ds.extra_spikes), '{:.2f}')}")
    return "\n".join(lines)
