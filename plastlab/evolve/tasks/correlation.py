"""Correlation-driven family: detect a repeated spike pattern without supervision (Jordan et al. 2021, Fig. 5).

The paper's task (authors' code, ``../shared/reference/evolving-rules.md``): one instance has ``n_inputs``
Poisson inputs at ``input_rate``; a frozen ``pattern`` ms spike pattern (one Poisson realisation, drawn once per
instance) replaces the background at the start of every ``period``. The background is cut out of every pattern
window for all inputs, and the inputs that take part in the pattern (one spike in it; the authors draw one
exponential interval per input) keep only ``thinning`` = 1/6 of their background outside the windows (``build_poisson_input``). One LIF neuron with delta
synapses (NEST ``iaf_psc_delta``: rest and reset 0 mV, threshold ``v_th``, ``tau_m``, refractory ``t_ref``
during which input is lost; a spike of input j arriving ``delay`` later moves the potential by ``w_max * w_j`` mV,
w normalised to [0, 1]) starts from one scalar weight per instance, N(``w0_mean``, ``w0_sd``), for all synapses.
As in NEST's STDP synapses the rule pairs each presynaptic spike with postsynaptic spikes shifted by the delay:
here pre spikes reach the rule on arrival and post spikes ``post_delay`` = 2 x delay later.

The rule is a pair of evolved functions in an STDP skeleton with traces k+ (presynaptic) and k- (postsynaptic),
both decaying with ``tau_trace`` and jumping by 1 at their neuron's spikes:

* at each postsynaptic spike: w = min(w + lam * f_fac(w, k+), 1)   (facilitation clips only at W_max)
* at each presynaptic spike:  w = max(w - alpha * lam * f_dep(w, k-), 0)   (depression clips only at 0)

(``clip_both`` = true clips both updates to [0, 1], as the authors' homeostatic synapse does). After ``train``
seconds of plasticity the weights freeze, the threshold is lifted out of reach, the potential restarts at 0 and
the first ``test`` seconds of the training input are replayed, the potential sampled every step. Fitness: the
minimum over instances of the signal-to-noise ratio (mean over pattern presentations of the maximal potential
during the pattern - mean potential between patterns) / sd of the potential between patterns.

Named departure (for speed; its effect is measured by benchmarks/task_baselines.py): ``dt`` = 0.5 ms (paper
0.1 ms); input spikes are Poisson times rounded to the grid, at most one per input and step.

As in the other families one compiled Brian2 network scores a batch of candidates x instances (the candidate is
the postfix programs of the canonical forms of its two functions, ``tasks/programs.py``); ``evaluate_rule`` runs the same
network with the plastic synapses compiled from a rule file.
"""
import sys

import numpy as np
import sympy as sp

from ...config import Param
from . import (InstanceCache, evaluate_expression_naively, evolved_rule_header, programs, score_rule, with_defaults,
               with_nonce)

NAME = "correlation"
INPUTS = ("w", "trace")
OUTPUTS = ("f_fac", "f_dep")  # the evolved functions: facilitation at post spikes, depression at pre spikes

SCHEMA = {
    "n_inputs": Param(int, 1000, low=1),
    "input_rate": Param(float, 3.0, low=0.0, doc="Hz"),
    "pattern": Param(float, 100.0, low=0.0, strict=True, doc="ms"),
    "period": Param(float, 500.0, low=0.0, strict=True, doc="ms: one pattern presentation per period"),
    "thinning": Param(float, 1 / 6, low=0.0, high=1.0, doc="background kept by pattern inputs (paper 1/6)"),
    "v_th": Param(float, 20.0, doc="mV"),
    "tau_m": Param(float, 18.0, low=0.0, strict=True, doc="ms"),
    "w_max": Param(float, 1.0, low=0.0, strict=True, doc="mV per unit (normalised) weight: W_max"),
    "w0_mean": Param(float, 0.384, doc="initial weight (one scalar per instance), in units of W_max"),
    "w0_sd": Param(float, 0.1, low=0.0),
    "tau_trace": Param(float, 20.0, low=0.0, strict=True, doc="ms"),
    "lam": Param(float, 0.01, low=0.0, strict=True),
    "alpha": Param(float, 1.0),
    "clip_both": Param(bool, False, doc="clip every update to [0, 1] (the authors' homeostatic synapse)"),
    "zero_division": Param(str, "nest", choices=("nest", "fail"),
                           doc="nest: a rule value that divides by zero is what C++ computes (+-inf, NaN) and the "
                               "bounds take it as the authors' stdp_sympy_synapse does (facilitation: not below "
                               "1 gives W_max; depression: not above 0 gives 0); fail: the candidate fails (as "
                               "rule files and the other families do)"),
    "t_ref": Param(float, 2.0, low=0.0, doc="ms: refractory period (NEST iaf_psc_delta default); input arriving "
                                           "meanwhile is lost"),
    "delay": Param(float, 1.0, low=0.0, doc="ms: input delay"),
    "post_delay": Param(float, 2.0, low=0.0, doc="ms: a postsynaptic spike reaches the rule this late (NEST's STDP "
                                                "pairs the pre spike's emission time with post spike + delay)"),
    "train": Param(float, 100.0, low=0.0, strict=True, doc="s of plasticity"),
    "test": Param(float, 11.0, low=0.0, strict=True, doc="s of frozen-weight read-out"),
    "dt": Param(float, 0.5, low=0.0, strict=True, doc="ms; paper 0.1 (departure for speed)"),
    "instance_draw": Param(str, "plastlab", choices=("plastlab", "authors"),
                           doc="authors: seed S = STREAM*1000 + K is trial K of the authors' input stream "
                               "RandomState(STREAM) (``create_frozen_noise``, ``build_poisson_input``; evolution "
                               "11214247 = base_rng + 123, also Fig. 5D; validation of evolved rules 11216123), "
                               "its initial weight the K-th N(w0_mean, w0_sd) of RandomState(11214235), patterns "
                               "at 400.1 + 500 k ms (read-out windows 1 ms earlier: their parrot neurons' delay), "
                               "every spike kept (one input's spikes on one step move to the next free step); "
                               "plastlab: numpy Generator([S, 13]), patterns at 500 k ms"),
    "readout_v0": Param(str, "evolution", choices=("evolution", "trial", "rest"),
                        doc="the potential at the start of training and read-out, as the authors' NEST script sets "
                            "it: evolution = RandomState(17893).normal(0, 10) mV for every instance (main.py); "
                            "trial = read-out from RandomState(K).normal(0, 10), K = seed mod 1000 (compute_SNR: "
                            "Fig. 5D and validation); rest = 0 mV (a departure)"),
}
AUTHORS_WEIGHT_STREAM = 11214124 + 111  # the authors' main.py: RandomState(base_rng + 111) for initial weights
AUTHORS_V0_SEED = 17893  # sim_utils.pattern_detection_experiment: V_m starts at RandomState(17893).normal(0, 10)
DEFAULTS = {key: param.default for key, param in SCHEMA.items()}
WORST = float("-inf")


def symbols():
    return tuple(sp.Symbol(n, real=True) for n in INPUTS)


def baselines():
    """Pairs (f_fac, f_dep). Homeostatic STDP as the authors' synapse computes it (Masquelier 2017): no
    depression, only k+ plus the homeostatic term W_out = -0.0015 = -0.15*lam at postsynaptic spikes."""
    _, k = symbols()
    return {"no_plasticity": sp.Tuple(sp.Integer(0), sp.Integer(0)),
            "homeostatic_stdp": sp.Tuple(k - sp.Rational(3, 20), sp.Integer(0))}


def reference():
    return baselines()["homeostatic_stdp"]


def params_with_defaults(params=None, *, file=None):
    return with_defaults(NAME, SCHEMA, params, file=file)


def _updates(f_fac, f_dep, clip_both, nest_bounds=False):
    """(depression, facilitation) weight statements with the paper's clipping (``nest_bounds``: with the
    comparisons of the authors' synapse, which also bound NaN: ``nest_bound_functions``)."""
    lo_dep, hi_fac = ("clip({}, 0, 1)", "clip({}, 0, 1)") if clip_both else ("clip({}, 0, inf)", "clip({}, -inf, 1)")
    if nest_bounds and not clip_both:
        lo_dep, hi_fac = "nest_floor({})", "nest_ceiling({})"
    dep = lo_dep.format(f"w - alpha*lam*({f_dep})")
    fac = hi_fac.format(f"w + lam*({f_fac})")
    return f"w = {dep}", f"w = {fac}"


def rule_document(expr, name, summary, params=None, *, nonce=None):
    """A rule file for the pair ``expr`` = (f_fac, f_dep): the STDP skeleton with the two evolved functions and
    the paper's clipping (facilitation only at W_max, depression only at 0)."""
    from ...rules.expressions import to_code

    p = params_with_defaults(params)
    f_fac, f_dep = expr
    fac = to_code(f_fac, {"trace": "kplus"})
    dep = to_code(f_dep, {"trace": "kminus"})
    parameters = {"lam": repr(p["lam"]), "alpha": repr(p["alpha"]),
                  "tau_plus": f"{p['tau_trace']!r}*ms", "tau_minus": f"{p['tau_trace']!r}*ms"}
    fac = with_nonce(parameters, fac, nonce)
    dep_stmt, fac_stmt = _updates(fac, dep, p["clip_both"])
    return {
        "rule": evolved_rule_header("correlation", name, summary),
        "parameters": parameters,
        "weight": {"unit": "1", "min": "-inf", "max": "inf"},
        "traces": {"kplus": "-kplus/tau_plus", "kminus": "-kminus/tau_minus"},
        "on_pre": {"statements": [dep_stmt, "kplus += 1"]},
        "on_post": {"statements": [fac_stmt, "kminus += 1"]},
    }


def sample_instance(p, seed):
    """Training input (steps, indices) of one instance, its pattern inputs and its initial weight."""
    if p["instance_draw"] == "authors":
        times, idx, in_pattern, w_init = _authors_instance(p, int(seed))
    else:
        times, idx, in_pattern, w_init = _plastlab_instance(p, int(seed))
    inside = times < p["train"] * 1000.0
    if p["instance_draw"] == "authors":  # their 0.1 ms grid times stay on their step; no spike is lost
        steps, idx = _keep_every_spike(np.floor(times[inside] / p["dt"] + 1e-6).astype(np.int64), idx[inside])
    else:
        steps = np.floor(times[inside] / p["dt"]).astype(np.int64)
        steps, idx = np.unique(np.stack([steps, idx[inside]]), axis=1)  # one spike per input and time step
    return {"seed": int(seed), "steps": steps, "indices": idx, "w_init": float(np.clip(w_init, 0.0, 1.0)),
            "pattern_inputs": in_pattern, "v0_train": _v0(p, None), "v0_readout": _v0(p, int(seed) % 1000)}


def _v0(p, trial):
    """Initial potential (mV) of training (``trial`` None) or read-out, as ``readout_v0`` says."""
    if p["readout_v0"] == "rest":
        return 0.0
    seed = trial if (p["readout_v0"] == "trial" and trial is not None) else AUTHORS_V0_SEED
    return float(np.random.RandomState(seed).normal(0.0, 10.0, 1)[0])


def _keep_every_spike(steps, idx):
    """(steps, indices) sorted, with spikes of one input on one step moved to the next free step (NEST delivers a
    repeated spike time with multiplicity; Brian2's generator takes one spike per neuron and step)."""
    while True:
        order = np.lexsort((steps, idx))
        steps, idx = steps[order], idx[order]
        repeated = np.zeros(steps.size, dtype=bool)
        repeated[1:] = (steps[1:] == steps[:-1]) & (idx[1:] == idx[:-1])
        if not repeated.any():
            return steps, idx
        steps = steps + repeated


def pattern_onset(p):
    """Start (ms) of the first read-out window; windows repeat every ``period``. The authors' windows start with
    their patterns at 400.1 ms (main.py), but their input passes parrot neurons (1 ms more delay than here), so
    relative to the arriving input their windows start 1 ms earlier than the pattern times."""
    return 400.1 - 1.0 if p["instance_draw"] == "authors" else 0.0


def _plastlab_instance(p, seed):
    rng = np.random.default_rng([seed, 13])
    n_in, rate = p["n_inputs"], p["input_rate"] * 1e-3  # per ms
    # the frozen pattern as the authors draw it (``create_frozen_noise``): one exponential interval per input, so an
    # input takes part with at most one spike
    first = rng.exponential(1.0 / rate, size=n_in)
    in_pattern = first < p["pattern"]
    pat_i = np.nonzero(in_pattern)[0]
    pat_t = first[in_pattern]
    n_periods = int(np.ceil(p["train"] * 1000.0 / p["period"]))
    quiet = p["period"] - p["pattern"]
    # background outside the pattern windows; pattern inputs keep only a fraction `thinning` of theirs
    n_bg = rng.poisson(n_in * rate * quiet * n_periods)
    bg_i = rng.integers(0, n_in, size=n_bg)
    u = rng.random(n_bg)
    t_quiet = rng.uniform(0, quiet * n_periods, size=n_bg)
    keep = ~in_pattern[bg_i] | (u < p["thinning"])
    bg_i, t_quiet = bg_i[keep], t_quiet[keep]
    period = np.floor(t_quiet / quiet)
    bg_t = period * p["period"] + p["pattern"] + (t_quiet - period * quiet)
    starts = np.arange(n_periods) * p["period"]
    times = np.concatenate([bg_t, (starts[:, None] + pat_t[None, :]).ravel()])
    idx = np.concatenate([bg_i, np.tile(pat_i, n_periods)])
    w_init = rng.normal(p["w0_mean"], p["w0_sd"])
    return times, idx, in_pattern, w_init


_authors_streams = {}


def _authors_instance(p, seed):
    """Trial K of the authors' stream STREAM (seed = STREAM*1000 + K): the trials of a stream are drawn one after
    the other from one RandomState, so trial K needs trials 0..K-1 (kept per stream)."""
    stream, k = divmod(seed, 1000)
    key = (stream, p["n_inputs"], p["input_rate"], p["pattern"], p["period"], p["thinning"], p["train"])
    state = _authors_streams.setdefault(key, {"rng": np.random.RandomState(stream), "trials": []})
    while len(state["trials"]) <= k:
        state["trials"].append(_authors_trial(p, state["rng"]))
    times, idx, in_pattern = state["trials"][k]
    weights = np.random.RandomState(AUTHORS_WEIGHT_STREAM)
    w_init = [weights.normal(loc=p["w0_mean"], scale=p["w0_sd"]) for _ in range(k + 1)][k]
    return times, idx, in_pattern, w_init


def _frozen_noise(n, duration, rate_hz, rng):
    """The authors' ``create_frozen_noise``: cumulated exponential intervals, + 0.1 ms, rounded to 0.1 ms."""
    isi = rng.exponential(scale=1.0 / (rate_hz * 1e-3), size=(n, max(1, int(1.25 * rate_hz * 1e-3 * duration))))
    times = np.round(np.cumsum(isi, axis=1) + 0.1, 1)
    return [row[row < duration] for row in times]


def _authors_trial(p, rng):
    """One trial as the authors' ``main.py`` draws it: pattern, background, ``build_poisson_input`` (regular
    windows (t, t + pattern] from t = 0.1 + inter; background cut out of the windows for every input; an input with
    a pattern spike keeps int(alpha * n) of its remaining background spikes, chosen with replacement, alpha the
    authors' 1 - nu_stim / nu_inter, which is 1/6 for the paper's rates; ``thinning`` is not used)."""
    n_in, T = p["n_inputs"], p["train"] * 1000.0
    inter = p["period"] - p["pattern"]
    pattern = _frozen_noise(n_in, p["pattern"], p["input_rate"], rng)
    background = _frozen_noise(n_in, T, p["input_rate"], rng)
    starts, t = [], 0.1 + inter
    while t < T:  # the same float additions as the authors' loop
        starts.append(t)
        t += p["pattern"] + inter
    starts = np.asarray(starts)
    ends = starts + p["pattern"]
    # their alpha, computed as they compute it: 1 - 2/2.4 = 0.16666666666666663 keeps one spike fewer than n/6 when
    # 6 divides n, and every count decides how many random numbers the stream gives away
    alpha = 1.0 - (1000.0 / (inter + p["pattern"])) / (p["input_rate"] * inter / (inter + p["pattern"]))
    times, idx, in_pattern = [], [], np.zeros(n_in, dtype=bool)
    for n in range(n_in):
        bg = background[n]
        k = np.searchsorted(starts, bg, side="left") - 1  # the last window starting strictly before the spike
        cut = (k >= 0) & (bg <= ends[np.maximum(k, 0)])
        kept = bg[~cut]
        if pattern[n].size:
            in_pattern[n] = True
            stim = (starts[:, None] + pattern[n][None, :]).ravel()
            kept = np.append(rng.choice(kept, size=int(kept.size * alpha)), stim)
        times.append(kept)
        idx.append(np.full(kept.size, n))
    return np.concatenate(times), np.concatenate(idx), in_pattern


instances = InstanceCache(sample_instance)


def evaluate_batch(exprs, seeds, params=None):
    """Fitness of every pair (f_fac, f_dep) in ``exprs`` (SymPy Tuples in the names w, trace)."""
    p = params_with_defaults(params)
    insts = instances(p, seeds)

    def score(snr_values):
        return float(np.min(snr_values)), snr_values.tolist()

    return programs.evaluate_candidates(exprs, symbols(),
                                        lambda table, n: _outcomes(run(p, insts, program_plasticity(p, table, n))),
                                     score)


def evaluate_rule(rule, seeds, params=None):
    """Training with the plastic synapses compiled from ``rule`` (a Rule) through brian/codegen, then the same
    read-out with frozen weights."""
    return score_rule(sys.modules[__name__], rule, seeds, params, 
                      lambda values: (float(np.min(values)), values.tolist()))


def evaluate_naive(expr, seeds, params=None, nonce=None):
    return evaluate_expression_naively(sys.modules[__name__], expr, seeds, params, nonce)


def _outcomes(result):
    ratio, w, zerodiv = result["snr"], result["w"], result["zerodiv"]
    out = []
    for c in range(ratio.shape[0]):
        if zerodiv is not None and zerodiv[c].any():
            out.append((None, "division by zero (or NaN) in the rule during the simulation"))
        elif not np.isfinite(w[c]).all():
            out.append((None, "simulation produced NaN or an infinite weight"))
        elif not np.isfinite(ratio[c]).all():
            out.append((None, "potential flat between patterns (no signal-to-noise ratio)"))
        else:
            out.append((ratio[c], ""))
    return out


def snr(v, t_ms, p):
    """Signal-to-noise ratio of potential traces ``v`` (neurons x samples) sampled at times ``t_ms``."""
    shifted = np.asarray(t_ms) - pattern_onset(p)
    phase = np.mod(shifted, p["period"])
    in_pattern = (phase < p["pattern"]) & (shifted >= 0)
    presentation = np.floor(shifted / p["period"]).astype(int)
    between = v[:, ~in_pattern]
    peaks = np.stack([v[:, (presentation == k) & in_pattern].max(axis=1)
                      for k in np.unique(presentation[in_pattern])], axis=1)
    with np.errstate(all="ignore"):
        return (peaks.mean(axis=1) - between.mean(axis=1)) / between.std(axis=1)


NEST_BOUNDS_CODE = {"nest_floor": """
cdef double _nest_floor(double x):
    return x if x > 0.0 else 0.0
""", "nest_ceiling": """
cdef double _nest_ceiling(double x):
    return x if x < 1.0 else 1.0
"""}


def nest_bound_functions():
    """``nest_floor(x)`` = x if x > 0 else 0 and ``nest_ceiling(x)`` = x if x < 1 else 1, as the authors'
    stdp_sympy_synapse bounds a depressed and a facilitated weight (NaN gives 0 and W_max; Brian2's clip keeps
    NaN)."""
    from brian2 import Function

    functions = {}
    for name, keep in (("nest_floor", lambda x: x > 0.0), ("nest_ceiling", lambda x: x < 1.0)):
        bound = 0.0 if name == "nest_floor" else 1.0
        fn = Function(lambda x, keep=keep, bound=bound: np.where(keep(x), x, bound), arg_units=[1], return_unit=1,
                      arg_types=["float"], return_type="float", stateless=True)
        fn.implementations.add_implementation("cython", NEST_BOUNDS_CODE[name], name=f"_{name}")
        functions[name] = fn
    return functions


TRANSMIT = "v_post += w_max*w*int(not_refractory_post)"  # NEST iaf_psc_delta drops input while refractory
SYNAPSE_MODEL = """w : 1
dkplus/dt = -kplus/tau_plus : 1 (event-driven)
dkminus/dt = -kminus/tau_minus : 1 (event-driven)"""


class program_plasticity:
    """All candidates as program data: every neuron holds its candidate's index; program 2c is candidate c's
    f_fac, 2c + 1 its f_dep. With ``zero_division = "fail"`` a NaN rule value (division by zero, pow outside its
    domain) is counted in the neuron's ``zerodiv`` (Cython would raise on a division); with ``"nest"`` (default)
    the rule computes as the authors' C++ synapse does and its bounds take inf and NaN as theirs do."""

    neuron_model = "zerodiv : 1\ncand : integer (constant)"

    def __init__(self, p, table, n_candidates):
        self.p, self.table, self.n_candidates = p, table, n_candidates

    def synapses(self, b2, gen, neurons, ns, n_instances):
        neurons.cand = np.repeat(np.arange(self.n_candidates), n_instances)  # neuron n = c*M + k
        nest = self.p["zero_division"] == "nest"
        dep, fac = _updates("f_fac", "f_dep", self.p["clip_both"], nest_bounds=nest)
        count = "" if nest else "zerodiv_post += rule_isnan({})\n"
        on_pre = f"""f_dep = rule_program(2*cand_post + 1, w, kminus)
{count.format("f_dep")}{dep}
{TRANSMIT}
kplus += 1"""
        on_post = f"""f_fac = rule_program(2*cand_post, w, kplus)
{count.format("f_fac")}{fac}
kminus += 1"""
        functions = dict(programs.brian_functions(self.table, ieee_division=nest), **nest_bound_functions())
        return b2.Synapses(gen, neurons, SYNAPSE_MODEL, on_pre=on_pre, on_post=on_post, dt=ns["dt"],
                           delay={"pre": ns["delay"], "post": ns["post_delay"]},
                           namespace=dict(ns, **functions), name="syn")


class rule_plasticity:
    """One candidate given as a Rule: its Synapses compiled by brian/codegen (checked with requirements)."""

    n_candidates = 1
    neuron_model = ""

    def __init__(self, rule):
        from ...brian.requirements import Offer, require

        self.rule = require(rule, Offer(network="the correlation task", forms=("trace", "window")))

    def synapses(self, b2, gen, neurons, ns, n_instances):
        from ...brian import codegen

        return codegen.synapses(self.rule, gen, neurons, transmit=TRANSMIT, transmit_last=True, namespace=ns,
                                dt=ns["dt"],
                                delay={"pre": ns["delay"], "post": ns["post_delay"]}, name="syn")


def run(p, insts, plasticity, record_w=None):
    """Train all candidates x instances, then read out with the trained weights frozen (``_static_readout``): SNR per candidate and instance,
    final weights, zero-denominator counts, output rates in training and (``record_w`` ms) weight trajectories."""
    import brian2 as b2
    from brian2 import ms, second

    from ...brian.settings import brian_settings

    C, M, n_in = plasticity.n_candidates, len(insts), p["n_inputs"]
    with brian_settings(target="cython"):
        dt = p["dt"] * ms
        idx = np.concatenate([inst["indices"] + k * n_in for k, inst in enumerate(insts)])
        steps = np.concatenate([inst["steps"] for inst in insts])
        gen = b2.SpikeGeneratorGroup(M * n_in, idx, steps * dt, dt=dt, name="inputs")
        ns = {"tau_m": p["tau_m"] * ms, "tau_plus": p["tau_trace"] * ms, "tau_minus": p["tau_trace"] * ms,
              "lam": p["lam"], "alpha": p["alpha"], "w_max": p["w_max"], "dt": dt, "delay": p["delay"] * ms,
              "post_delay": p["post_delay"] * ms, "v_th": p["v_th"]}
        eqs = "\n".join(["dv/dt = -v/tau_m : 1 (unless refractory)", plasticity.neuron_model])
        neurons = b2.NeuronGroup(C * M, eqs, threshold="v > v_th", reset="v = 0", refractory=p["t_ref"] * ms,
                                 method="exact", dt=dt, namespace=ns, name="neurons")
        syn = plasticity.synapses(b2, gen, neurons, ns, M)
        post = np.repeat(np.arange(C * M), n_in)
        syn.connect(i=(post % M) * n_in + np.tile(np.arange(n_in), C * M), j=post)
        syn.w = np.tile(np.repeat([inst["w_init"] for inst in insts], n_in), C)
        neurons.v = np.tile([inst["v0_train"] for inst in insts], C)
        spikes = b2.SpikeMonitor(neurons, record=False, name="spikes")
        objects = [gen, neurons, syn, spikes]
        monitor = None
        if record_w:
            monitor = b2.StateMonitor(syn, "w", record=True, dt=record_w * ms, name="w_monitor")
            objects.append(monitor)
        b2.Network(*objects).run(p["train"] * second, namespace={})
        w = np.asarray(syn.w[:]).reshape(C, M * n_in)
        zerodiv = np.asarray(neurons.zerodiv[:]).reshape(C, M) if "zerodiv" in neurons.variables else None
        finite = np.where(np.isfinite(w), w, 0.0)  # a candidate with NaN weights fails anyway
        return {"snr": _static_readout(p, insts, finite, b2), "w": w, "zerodiv": zerodiv,
                "rate": np.asarray(spikes.count[:]).reshape(C, M) / p["train"],
                "w_trajectory": None if monitor is None else np.asarray(monitor.w[:])}


def _static_readout(p, insts, w, b2):
    """The read-out for weights ``w`` (candidates x synapses): the first `test` s of the training input, no
    plasticity, no threshold."""
    from brian2 import ms, second

    C, M, n_in = w.shape[0], len(insts), p["n_inputs"]
    dt = p["dt"] * ms
    test_steps = int(round(p["test"] * 1000.0 / p["dt"]))
    idx, steps = [], []
    for k, inst in enumerate(insts):
        replay = inst["steps"] < test_steps
        steps.append(inst["steps"][replay])
        idx.append(inst["indices"][replay] + k * n_in)
    gen = b2.SpikeGeneratorGroup(M * n_in, np.concatenate(idx), np.concatenate(steps) * dt, dt=dt,
                                 name="replay")
    ns = {"tau_m": p["tau_m"] * ms, "w_max": p["w_max"]}
    neurons = b2.NeuronGroup(C * M, "dv/dt = -v/tau_m : 1", method="exact", dt=dt, namespace=ns,
                             name="readout")
    syn = b2.Synapses(gen, neurons, "w : 1", on_pre="v_post += w_max*w", delay=p["delay"] * ms, dt=dt,
                      namespace=ns, name="frozen")
    post = np.repeat(np.arange(C * M), n_in)
    syn.connect(i=(post % M) * n_in + np.tile(np.arange(n_in), C * M), j=post)
    syn.w = w.ravel()
    neurons.v = np.tile([inst["v0_readout"] for inst in insts], C)
    probe = b2.StateMonitor(neurons, "v", record=True, dt=dt, name="readout_probe")
    net = b2.Network(gen, neurons, syn, probe)
    net.run(p["test"] * second, namespace={})
    return snr(np.asarray(probe.v[:]), np.asarray(probe.t / ms), p).reshape(C, M)
