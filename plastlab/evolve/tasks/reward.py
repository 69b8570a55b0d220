"""Reward-driven family: associate frozen input patterns with actions (Jordan et al. 2021, Fig. 3).

The paper's task as the authors' code runs it (``usrl_connection.h``, ``experiments/reward_based/sim.py``;
``../shared/reference/evolving-rules.md``): one instance has ``n_inputs`` inputs, each connected with
probability ``p_connect`` to one NEST ``iaf_psc_exp`` neuron with escape noise (E_L = -70 mV, theta = -55 mV,
tau_m = 10 ms, C_m = 250 pF, tau_syn = 2 ms, refractory ``t_ref``, reset to E_L, hazard
rho*exp((u - theta)/delta) with rho = 0.01 Hz, delta = 0.2 mV), initial weights N(``w_mean``, ``w_sd``) pA of
mixed sign, ``n_patterns`` frozen ``trial`` ms Poisson patterns at ``input_rate``, each labelled +1 or -1.
``n_trials`` trials each present a random pattern; inputs arrive ``delay`` after their pattern time. Every trial
starts from rest (the authors rebuild the network): potential, PSP traces, refractoriness and eligibility are
reset, only w carries over. Action = +1 if the neuron spiked during the trial; R = +1 if action == label, else -1.

Eligibility, as the authors' synapse computes it (its own rho_syn = 0.01, delta_syn = 5 mV; the missing 1e-3
makes the subtracted rate 10 Hz*exp((u - theta)/5 mV); K = 160 with the PSP trace s̄ dimensionless):
dE/dt = -E/tau_M - K*rho_syn*exp((u - theta)/delta_syn)*s̄, and E += K*s̄ at each postsynaptic spike.
At the end of each trial w += eta*f(R, E) (eta = 10, w in pA as in the paper). Fitness: the sum of rewards over
the trials, averaged over instances (maximum n_trials).

Named departure (for speed; its effect is measured by benchmarks/task_baselines.py): ``dt`` = 0.5 ms (paper
0.01 ms). The escape noise is frozen per instance (one uniform number per step and instance, shared by all
candidates on that instance), so a candidate's fitness does not depend on the batch it is simulated in.

As in the other families one compiled Brian2 network scores a batch of candidates x instances (the candidate is
its canonical form as a postfix program, ``tasks/programs.py``); ``evaluate_rule`` runs the same network with the plastic
synapses compiled from a rule file.
"""
import sys

import numpy as np
import sympy as sp

from ...config import Param
from . import (InstanceCache, evaluate_expression_naively, evolved_rule_header, find_contained, programs,
               rule_from_document, score_rule, with_defaults, with_nonce)

NAME = "reward"
INPUTS = ("reward", "eligibility")

SCHEMA = {
    "n_inputs": Param(int, 50, low=1),
    "p_connect": Param(float, 0.8, low=0.0, high=1.0),
    "n_patterns": Param(int, 30, low=1),
    "trial": Param(float, 500.0, low=0.0, strict=True, doc="ms"),
    "input_rate": Param(float, 6.0, low=0.0, doc="Hz"),
    "n_trials": Param(int, 500, low=1),
    "E_L": Param(float, -70.0, doc="mV"),
    "theta": Param(float, -55.0, doc="mV"),
    "rho": Param(float, 0.01, low=0.0, doc="Hz: neuron's escape rate at theta"),
    "delta": Param(float, 0.2, low=0.0, strict=True, doc="mV: neuron's escape noise width"),
    "tau_m": Param(float, 10.0, low=0.0, strict=True, doc="ms"),
    "C_m": Param(float, 250.0, low=0.0, strict=True, doc="pF"),
    "tau_s": Param(float, 2.0, low=0.0, strict=True, doc="ms"),
    "t_ref": Param(float, 2.0, low=0.0, doc="ms"),
    "delay": Param(float, 1.0, low=0.0, doc="ms"),
    "tau_M": Param(float, 500.0, low=0.0, strict=True, doc="ms, eligibility"),
    "rho_syn": Param(float, 10.0, low=0.0, doc="Hz: the synapse's expected-rate scale"),
    "delta_syn": Param(float, 5.0, low=0.0, strict=True, doc="mV: the synapse's escape noise width"),
    "K": Param(float, 160.0, doc="eligibility scale of the authors' synapse (dimensionless s̄)"),
    "w_mean": Param(float, 0.0, doc="pA"),
    "w_sd": Param(float, 1000.0, low=0.0, doc="pA"),
    "eta": Param(float, 10.0, doc="pA per unit f"),
    "dt": Param(float, 0.5, low=0.0, strict=True, doc="ms; paper 0.01 (departure for speed)"),
}
DEFAULTS = {key: param.default for key, param in SCHEMA.items()}
WORST = float("-inf")


def symbols():
    return tuple(sp.Symbol(n, real=True) for n in INPUTS)


def baselines():
    r, e = symbols()
    return {"no_plasticity": sp.Integer(0), "eligibility_reward_minus_1": e * (r - 1), "eligibility_reward": e * r}


def reference():
    return baselines()["eligibility_reward_minus_1"]


def params_with_defaults(params=None, *, file=None):
    return with_defaults(NAME, SCHEMA, params, file=file)


def rule_document(expr, name, summary, params=None, *, nonce=None):
    """A rule file for ``expr`` exactly as this family runs it: the authors' eligibility, reward as a modulator
    the task sets at the end of each trial, and once per trial w += eta*f(R, E), after which E restarts."""
    from ...rules.expressions import to_code

    p = params_with_defaults(params)
    f = to_code(expr)
    parameters = {"tau_M": f"{p['tau_M']!r}*ms", "eta": repr(p["eta"]), "K": repr(p["K"]),
                  "rho_syn": f"{p['rho_syn']!r}*Hz", "delta_syn": repr(p["delta_syn"]), "theta": repr(p["theta"]),
                  "trial": f"{p['trial']!r}*ms"}
    f = with_nonce(parameters, f, nonce)
    return {
        "rule": evolved_rule_header("reward", name, summary),
        "parameters": parameters,
        "weight": {"unit": "1", "min": "-inf", "max": "inf"},
        "inputs": {
            "pre_trace": {"source": "pre", "variable": "sbar", "unit": "1"},
            "v": {"source": "post", "variable": "v", "unit": "1"},
            "reward": {"source": "modulator", "unit": "1"},
        },
        "traces": {"eligibility": {"rate": "-eligibility/tau_M - K*rho_syn*exp((v - theta)/delta_syn)*pre_trace",
                                   "unit": "1", "kind": "clock"}},
        "on_post": {"statements": ["eligibility += K*pre_trace"]},
        "periodic": {"interval": "trial", "statements": [f"w += eta*({f})", "eligibility = 0"]},
    }


def _poisson_times(rng, n_inputs, rate, duration_ms):
    """Poisson spike times (ms, continuous, so an instance is the same for every dt) and their inputs."""
    n = rng.poisson(n_inputs * rate * 1e-3 * duration_ms)
    times, idx = rng.uniform(0.0, duration_ms, size=n), rng.integers(0, n_inputs, size=n)
    return times, idx


def sample_instance(p, seed):
    rng = np.random.default_rng([int(seed), 11])
    n_in, n_pat, T, dt = p["n_inputs"], p["n_patterns"], p["trial"], p["dt"]
    patterns = [_poisson_times(rng, n_in, p["input_rate"], T) for _ in range(n_pat)]
    labels = rng.choice([-1.0, 1.0], size=n_pat)
    order = rng.integers(0, n_pat, size=p["n_trials"])
    connected = rng.random(n_in) < p["p_connect"]
    w_init = rng.normal(p["w_mean"], p["w_sd"], size=n_in)
    steps_per_trial = int(round(T / dt))
    steps, idx = [], []
    for trial, pat in enumerate(order):
        times, i = patterns[pat]
        arrive = times + p["delay"]
        keep = arrive < T  # spikes that would arrive after the trial's end are lost (the network is rebuilt)
        # a spike arriving in (k*T, (k+1)*T] belongs to trial k; the trial-end reset runs at the end of step k*T
        s = np.maximum(np.ceil(arrive[keep] / dt).astype(np.int64), 1) + trial * steps_per_trial
        steps.append(s)
        idx.append(i[keep])
    steps, idx = np.unique(np.stack([np.concatenate(steps), np.concatenate(idx)]), axis=1)
    noise = rng.random(p["n_trials"] * steps_per_trial + 2)
    return {"seed": int(seed), "steps": steps, "indices": idx, "labels": labels[order], "connected": connected,
            "w_init": w_init, "noise": noise}


instances = InstanceCache(sample_instance)


def evaluate_batch(exprs, seeds, params=None):
    p = params_with_defaults(params)
    insts = instances(p, seeds)
    return programs.evaluate_candidates(exprs, symbols(),
                                        lambda table, n: _outcomes(run(p, insts, program_plasticity(p, table, n))),
                                     lambda total: (float(np.mean(total)), total.tolist()))


def evaluate_rule(rule, seeds, params=None):
    """The same task with the plastic synapses compiled from ``rule`` (a Rule) through brian/codegen."""
    return score_rule(sys.modules[__name__], rule, seeds, params, 
                      lambda values: (float(np.mean(values)), values.tolist()))


def evaluate_naive(expr, seeds, params=None, nonce=None):
    return evaluate_expression_naively(sys.modules[__name__], expr, seeds, params, nonce)


def _outcomes(result):
    out = []
    for c in range(result["total_R"].shape[0]):
        w, zd = result["w"][c], result["zerodiv"]
        if zd is not None and zd[c].any():
            out.append((None, "division by zero (or NaN) in the rule during the simulation"))
        elif np.isnan(w).any():
            out.append((None, "simulation produced NaN"))
        elif np.isinf(w).any():
            out.append((None, "simulation overflowed to inf"))
        else:
            out.append((result["total_R"][c], ""))
    return out


# --- the plastic synapses ------------------------------------------------------------------------------------

SYNAPSE_MODEL = "dE/dt = -E/tau_M - K*rho_syn*exp((v_post - theta)/delta_syn)*sbar_pre : 1 (clock-driven)"


class program_plasticity:
    """All candidates as program data: every neuron holds its candidate's index, and at each trial's end every
    synapse does w += eta*rule_program(candidate, R, E), then E = 0 (a NaN rule value is counted in
    ``zerodiv``: division by zero, pow outside its domain)."""

    neuron_model = "cand : integer (constant)"

    def __init__(self, p, table, n_candidates):
        self.table, self.n_candidates = table, n_candidates

    def trial_end_code(self):
        return []

    def synapses(self, b2, source, neurons, ns, dt, T, n_instances):
        neurons.cand = np.repeat(np.arange(self.n_candidates), n_instances)  # neuron n = c*M + k
        syn = b2.Synapses(source, neurons, "\n".join(["w : 1", "zerodiv : 1", SYNAPSE_MODEL,
                                                      "Isyn_post = w*x_pre : 1 (summed)"]),
                          on_post="E += K*sbar_pre", method="euler", dt=dt,
                          namespace=dict(ns, **programs.brian_functions(self.table)), name="syn")
        # the same statements as rule_document's [periodic], with f the candidate's program
        update = syn.run_regularly("""f = rule_program(cand_post, R_post, E)
zerodiv += rule_isnan(f)
w += eta*(f)
E = 0""", dt=T, when="end", order=2, name="update")
        return syn, [update]


class rule_plasticity:
    """One candidate given as a Rule: its Synapses compiled by brian/codegen (checked with requirements)."""

    n_candidates = 1
    neuron_model = ""

    def __init__(self, rule):
        from ...brian.requirements import Offer, require

        self.rule = require(rule, Offer(network="the reward task", pre={"sbar"}, post={"v"},
                                        modulators={"reward"}, forms=("periodic", "trace", "continuous")))

    def trial_end_code(self):
        return []

    def synapses(self, b2, source, neurons, ns, dt, T, n_instances):
        from ...brian import codegen

        syn = codegen.synapses(self.rule, source, neurons, extra_model="Isyn_post = w*x_pre : 1 (summed)",
                               method="euler", dt=dt, name="syn")
        objects = [syn.run_regularly("reward = R_post", dt=T, when="end", order=1, name="deliver_reward")]
        if self.rule.periodic is not None:
            periodic = find_contained(syn, "_periodic")
            periodic.order = 2
            objects.append(periodic)
        return syn, objects


# --- the network ---------------------------------------------------------------------------------------------

def run(p, insts, plasticity, record_w=None):
    """Simulate all candidates x instances: total reward per candidate and instance, final weights,
    zero-denominator counts, the fraction of trials with action +1 and (``record_w`` ms) weight trajectories."""
    import brian2 as b2
    from brian2 import Hz, ms

    from ...brian.settings import brian_settings

    C, M, n_in = plasticity.n_candidates, len(insts), p["n_inputs"]
    with brian_settings(target="cython"):
        dt, T = p["dt"] * ms, p["trial"] * ms
        idx = np.concatenate([inst["indices"] + k * n_in for k, inst in enumerate(insts)])
        steps = np.concatenate([inst["steps"] for inst in insts])
        gen = b2.SpikeGeneratorGroup(M * n_in, idx, steps * dt, dt=dt, name="inputs")
        noise = b2.TimedArray(np.stack([inst["noise"] for inst in insts], axis=1), dt=dt)
        labels = np.stack([np.concatenate([inst["labels"], [0.0]]) for inst in insts], axis=1)
        ns = {"tau_m": p["tau_m"] * ms, "tau_s": p["tau_s"] * ms, "tau_M": p["tau_M"] * ms, "E_L": p["E_L"],
              "R_m": p["tau_m"] / p["C_m"], "theta": p["theta"], "rho": p["rho"] * Hz, "delta": p["delta"],
              "rho_syn": p["rho_syn"] * Hz, "delta_syn": p["delta_syn"], "K": p["K"], "eta": p["eta"],
              "noise": noise, "label": b2.TimedArray(labels, dt=T), "T": T}
        traces = b2.NeuronGroup(M * n_in, "dx/dt = -x/tau_s : 1\ndsbar/dt = (x - sbar)/tau_m : 1",
                                method="exact", dt=dt, namespace=ns, name="traces")
        feed = b2.Synapses(gen, traces, on_pre="x_post += 1", dt=dt, name="feed")
        feed.connect(j="i")
        eqs = "\n".join(["dv/dt = (E_L - v + R_m*Isyn)/tau_m : 1 (unless refractory)", "Isyn : 1",
                         "inst : integer (constant)", "nspk : 1", "R : 1", "total_R : 1", "n_act : 1",
                         plasticity.neuron_model])
        neurons = b2.NeuronGroup(C * M, eqs, threshold="noise(t, inst) < 1 - exp(-rho*exp((v - theta)/delta)*dt)",
                                 reset="v = E_L\nnspk += 1", refractory=p["t_ref"] * ms, method="exact", dt=dt,
                                 namespace=ns, name="neurons")
        neurons.v = p["E_L"]
        neurons.inst = np.tile(np.arange(M), C)  # neuron n = c*M + k
        trial_end = neurons.run_regularly("\n".join(
            ["R = 2*int((nspk > 0) == (label(t - T/2, inst) > 0)) - 1", "total_R += R", "n_act += int(nspk > 0)"]
            + plasticity.trial_end_code() + ["nspk = 0"]), dt=T, when="end", order=0, name="trial_end")
        syn, updates = plasticity.synapses(b2, traces, neurons, ns, dt, T, M)
        pre, post, w0 = [], [], []
        for c in range(C):
            for k, inst in enumerate(insts):
                ins = np.nonzero(inst["connected"])[0]
                pre.append(k * n_in + ins)
                post.append(np.full(len(ins), c * M + k))
                w0.append(inst["w_init"][ins])
        syn.connect(i=np.concatenate(pre), j=np.concatenate(post))
        syn.w = np.concatenate(w0)
        # every trial starts from rest (after the trial's update): potential, refractoriness, PSP traces
        resets = [neurons.run_regularly("v = E_L\nlastspike = -1e4*second\nnot_refractory = True", dt=T,
                                        when="end", order=3, name="rest"),
                  traces.run_regularly("x = 0\nsbar = 0", dt=T, when="end", order=3, name="rest_traces")]
        objects = [gen, traces, feed, neurons, syn]
        if hasattr(plasticity, "monitors"):  # recording plasticities (equivalence samples, tests)
            objects += plasticity.monitors(b2, syn, T, neurons, traces)
        monitor = None
        if record_w:
            monitor = b2.StateMonitor(syn, "w", record=True, dt=record_w * ms, name="w_monitor")
            objects.append(monitor)
        net = b2.Network(*objects)
        trial_objects = [trial_end, *updates, *resets]
        for obj in trial_objects:  # no trial has ended at t = 0
            obj.active = False
        net.run(dt, namespace={})
        for obj in trial_objects:
            obj.active = True
        net.run(p["n_trials"] * T, namespace={})
        post_all = np.concatenate(post)
        w = np.asarray(syn.w[:])
        zd = np.asarray(syn.zerodiv[:]) if "zerodiv" in syn.variables else None
        by_candidate = [(post_all // M) == c for c in range(C)]
        return {"total_R": np.asarray(neurons.total_R[:]).reshape(C, M),
                "active": np.asarray(neurons.n_act[:]).reshape(C, M) / p["n_trials"],
                "w": [w[mine] for mine in by_candidate],
                "zerodiv": None if zd is None else [zd[mine] for mine in by_candidate],
                "w_trajectory": None if monitor is None else np.asarray(monitor.w[:])}


def equivalence_samples(seeds, params=None, n=2000, seed=0):
    """Rule inputs (R, E) visited while the paper's rule learns: E sampled at trial ends (every synapse), R in
    {-1, +1} (the values it takes)."""
    p = params_with_defaults(params)
    rule = rule_from_document(rule_document(reference(), "reference", "", p))
    plasticity = _EligibilityRecorder(rule_plasticity(rule))
    run(p, instances(p, seeds), plasticity)
    e = plasticity.values()
    rng = np.random.default_rng(seed)
    e = e[rng.integers(0, e.size, size=n)]
    r = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return np.stack([r, e])


class _EligibilityRecorder:
    """A rule plasticity that also records E of every synapse just before each trial's update."""

    def __init__(self, inner):
        self.inner, self.n_candidates, self.neuron_model = inner, inner.n_candidates, inner.neuron_model
        self.trial_end_code = inner.trial_end_code

    def synapses(self, b2, source, neurons, ns, dt, T, n_instances):
        return self.inner.synapses(b2, source, neurons, ns, dt, T, n_instances)

    def monitors(self, b2, syn, T, neurons, traces):
        self.monitor = b2.StateMonitor(syn, "eligibility", record=True, dt=T, when="end", order=1,
                                       name="eligibility_monitor")
        return [self.monitor]

    def values(self):
        return np.asarray(self.monitor.eligibility[:, 1:]).ravel()
