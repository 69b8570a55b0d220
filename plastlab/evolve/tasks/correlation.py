"""Correlation-driven family: detect a repeated spike pattern without supervision (Jordan et al. 2021, Fig. 5).

One task instance: ``n_inputs`` Poisson inputs at ``input_rate``; every ``period`` a frozen ``pattern`` ms
spike pattern (one Poisson realisation at the same rate, drawn once per instance) replaces the background for
its duration, so every input keeps its rate. One LIF neuron with delta synapses (a spike of input j moves the
potential by ``psp * w_j`` mV; rest and reset 0 mV, threshold ``v_th``, ``tau_m``) starts from weights
N(``w0``, ``w_sd``) clipped to [0, 1].

The rule is a pair of evolved functions in an STDP skeleton with traces k+ (presynaptic) and k- (postsynaptic),
both decaying with ``tau_trace`` and jumping by 1 at their neuron's spikes:

* at each postsynaptic spike: w += lam * f_fac(w, k+)
* at each presynaptic spike:  w -= alpha * lam * f_dep(w, k-)

and w is clipped to [0, 1]. Both functions read the inputs ``w`` and ``trace``. After ``train`` seconds of
plasticity, the weights freeze, the threshold is lifted out of reach and the potential is recorded for
``test`` seconds. Fitness: the minimum over instances of the signal-to-noise ratio (mean over pattern
presentations of the maximal potential during the pattern - mean potential between patterns) / standard
deviation of the potential between patterns.

As in the other families one compiled Brian2 network scores a batch of candidates x instances; a candidate is
the coefficient data of the canonical rational forms of its two functions (``rational.encode``).
"""
import numpy as np
import sympy as sp

from . import InstanceCache, rational, with_defaults

NAME = "correlation"
INPUTS = ("w", "trace")
OUTPUTS = ("f_fac", "f_dep")  # the evolved functions: facilitation at post spikes, depression at pre spikes

DEFAULTS = {
    "n_inputs": 1000,
    "input_rate": 3.0,  # Hz
    "pattern": 100.0,  # ms
    "period": 500.0,  # ms: one pattern presentation per period
    "v_th": 20.0,  # mV
    "tau_m": 18.0,  # ms
    "psp": 0.8,  # mV per unit weight: ~20 Hz output at w0 before learning
    "w0": 0.5,
    "w_sd": 0.1,
    "tau_trace": 20.0,  # ms
    "lam": 0.01,
    "alpha": 1.0,
    "train": 100.0,  # s
    "test": 11.0,  # s
    "dt": 0.5,  # ms
    "degree": 2,
}

WORST = float("-inf")


def symbols():
    return tuple(sp.Symbol(n, real=True) for n in INPUTS)


def baselines():
    """Pairs (f_fac, f_dep). Homeostatic STDP (Masquelier 2017, Jordan et al.'s baseline): additive STDP with a
    constant depression w_out = -0.0015 per postsynaptic spike, i.e. f_fac = trace - 0.0015/lam."""
    _, k = symbols()
    return {"no_plasticity": sp.Tuple(sp.Integer(0), sp.Integer(0)),
            "homeostatic_stdp": sp.Tuple(k - sp.Rational(3, 20), k)}


def params_with_defaults(params=None):
    return with_defaults(NAME, DEFAULTS, params)


def rule_document(expr, name, summary, params=None):
    """A rule file for the pair ``expr`` = (f_fac, f_dep): the STDP skeleton with the two evolved functions."""
    from ...rules.expressions import to_code

    p = params_with_defaults(params)
    f_fac, f_dep = expr
    fac = to_code(f_fac, {"trace": "kplus"})
    dep = to_code(f_dep, {"trace": "kminus"})
    return {
        "rule": {"name": name, "summary": summary,
                 "citation": "evolved with plastlab (correlation family after Jordan, Schmidt, Senn & Petrovici "
                             "2021, eLife 10:e66273)"},
        "parameters": {"lam": repr(p["lam"]), "alpha": repr(p["alpha"]),
                       "tau_plus": f"{p['tau_trace']}*ms", "tau_minus": f"{p['tau_trace']}*ms"},
        "weight": {"unit": "1", "min": "0", "max": "1"},
        "traces": {"kplus": "-kplus/tau_plus", "kminus": "-kminus/tau_minus"},
        "on_pre": {"statements": [f"w = clip(w - alpha*lam*({dep}), 0, 1)", "kplus += 1"]},
        "on_post": {"statements": [f"w = clip(w + lam*({fac}), 0, 1)", "kminus += 1"]},
    }


def _background(rng, p, n_periods, first_period):
    """Poisson background outside the pattern windows: (times in ms, input indices)."""
    quiet = p["period"] - p["pattern"]
    n = rng.poisson(p["n_inputs"] * p["input_rate"] * 1e-3 * quiet * n_periods)
    t_quiet = rng.uniform(0, quiet * n_periods, size=n)
    period = np.floor(t_quiet / quiet)
    times = (first_period + period) * p["period"] + p["pattern"] + (t_quiet - period * quiet)
    return times, rng.integers(0, p["n_inputs"], size=n)


def sample_instance(p, seed):
    rng = np.random.default_rng([int(seed), 13])
    n_pat = rng.poisson(p["n_inputs"] * p["input_rate"] * 1e-3 * p["pattern"])
    pat_t, pat_i = rng.uniform(0, p["pattern"], size=n_pat), rng.integers(0, p["n_inputs"], size=n_pat)
    n_periods = int(round((p["train"] + p["test"]) * 1000.0 / p["period"]))
    bg_t, bg_i = _background(rng, p, n_periods, 0)
    starts = np.arange(n_periods) * p["period"]
    times = np.concatenate([bg_t, (starts[:, None] + pat_t[None, :]).ravel()])
    idx = np.concatenate([bg_i, np.tile(pat_i, n_periods)])
    steps = np.floor(times / p["dt"]).astype(np.int64)
    # one spike per input and time step (SpikeGeneratorGroup's rule)
    steps, idx = np.unique(np.stack([steps, idx]), axis=1)
    w_init = np.clip(rng.normal(p["w0"], p["w_sd"], size=p["n_inputs"]), 0.0, 1.0)
    return {"seed": int(seed), "steps": steps, "indices": idx, "w_init": w_init}


instances = InstanceCache(sample_instance)


def evaluate_batch(exprs, seeds, params=None):
    """Fitness of every pair (f_fac, f_dep) in ``exprs`` (SymPy Tuples in the names w, trace)."""
    p = params_with_defaults(params)
    insts = instances(p, seeds)

    def score(snr):
        return float(np.min(snr)), snr.tolist()

    return rational.evaluate_encoded(exprs, symbols(), p["degree"],
                                     lambda nums, dens: _simulate(p, nums, dens, insts), score)


def snr(v, t_ms, p):
    """Signal-to-noise ratio of potential traces ``v`` (neurons x samples) sampled at times ``t_ms``."""
    phase = np.mod(t_ms, p["period"])
    in_pattern = phase < p["pattern"]
    presentation = np.floor(t_ms / p["period"]).astype(int)
    between = v[:, ~in_pattern]
    peaks = np.stack([v[:, (presentation == k) & in_pattern].max(axis=1)
                      for k in np.unique(presentation[in_pattern])], axis=1)
    with np.errstate(all="ignore"):
        return (peaks.mean(axis=1) - between.mean(axis=1)) / between.std(axis=1)


def _polynomial(names, var_a, var_b, degree):
    """Brian2 code of sum_k names[k] * var_a**a * var_b**b over the encoding's monomials."""
    terms = []
    for name, (a, b) in zip(names, rational.monomials(2, degree)):
        terms.append("*".join([f"{name}_post"] + [var_a] * a + [var_b] * b))
    return " + ".join(terms)


def _simulate(p, nums, dens, insts):
    import brian2 as b2
    from brian2 import ms, second

    b2.prefs.codegen.target = "cython"
    b2.BrianLogger.log_level_error()
    C, M, n_in, D = len(nums), len(insts), p["n_inputs"], p["degree"]
    dt = p["dt"] * ms
    idx = np.concatenate([inst["indices"] + k * n_in for k, inst in enumerate(insts)])
    steps = np.concatenate([inst["steps"] for inst in insts])
    gen = b2.SpikeGeneratorGroup(M * n_in, idx, steps * dt, dt=dt)
    n_mons = len(rational.monomials(2, D))
    coefs = {f"{f}{part}": [f"{f}{part}{k}" for k in range(n_mons)]
             for f in ("fac", "dep") for part in ("n", "d")}
    eqs = "\n".join(["dv/dt = -v/tau_m : 1", "v_th : 1 (shared)", "zerodiv : 1"]
                    + [f"{c} : 1 (constant)" for names in coefs.values() for c in names])
    ns = {"tau_m": p["tau_m"] * ms, "tau_trace": p["tau_trace"] * ms, "lam": p["lam"], "alpha": p["alpha"],
          "psp": p["psp"]}
    neurons = b2.NeuronGroup(C * M, eqs, threshold="v > v_th", reset="v = 0", method="exact", dt=dt, namespace=ns, name="neurons")
    neurons.v_th = p["v_th"]
    for f, k in (("fac", 0), ("dep", 1)):  # neuron n = c*M + k_instance
        for part, arr in (("n", nums), ("d", dens)):
            values = np.repeat(np.asarray([a[k] for a in arr]), M, axis=0)
            for j, c in enumerate(coefs[f"{f}{part}"]):
                setattr(neurons, c, values[:, j])
    fac_p, fac_q = (_polynomial(coefs[n], "w", "kplus", D) for n in ("facn", "facd"))
    dep_p, dep_q = (_polynomial(coefs[n], "w", "kminus", D) for n in ("depn", "depd"))
    # Cython raises on float division by zero: a zero denominator is counted instead (worst fitness)
    on_pre = f"""v_post += psp*w
Q = {dep_q}
zerodiv_post += plastic*int(Q == 0)
w = clip(w - plastic*alpha*lam*({dep_p})/(Q + int(Q == 0)), 0, 1)
kplus += 1"""
    on_post = f"""Q = {fac_q}
zerodiv_post += plastic*int(Q == 0)
w = clip(w + plastic*lam*({fac_p})/(Q + int(Q == 0)), 0, 1)
kminus += 1"""
    syn = b2.Synapses(gen, neurons, """w : 1
        plastic : 1 (shared)
        dkplus/dt = -kplus/tau_trace : 1 (event-driven)
        dkminus/dt = -kminus/tau_trace : 1 (event-driven)""", on_pre=on_pre, on_post=on_post, dt=dt,
                      namespace=ns, name="syn")
    post = np.repeat(np.arange(C * M), n_in)
    syn.connect(i=(post % M) * n_in + np.tile(np.arange(n_in), C * M), j=post)
    syn.w = np.tile(np.concatenate([inst["w_init"] for inst in insts]), C)
    syn.plastic = 1.0
    spikes = b2.SpikeMonitor(neurons, record=False, name="spikes")
    probe = b2.StateMonitor(neurons, "v", record=True, dt=1 * ms, name="probe")
    probe.active = False
    net = b2.Network(gen, neurons, syn, spikes, probe)
    net.run(p["train"] * second, namespace={})
    train_rate = np.asarray(spikes.count[:]).reshape(C, M) / p["train"]
    syn.plastic = 0.0
    neurons.v_th = np.inf
    probe.active = True
    net.run(p["test"] * second, namespace={})
    t_ms = np.asarray(probe.t / ms)
    ratio = snr(np.asarray(probe.v[:]), t_ms, p).reshape(C, M)
    w = np.asarray(syn.w[:]).reshape(C, M * n_in)
    zerodiv = np.asarray(neurons.zerodiv[:]).reshape(C, M)
    _simulate.last_rates = train_rate  # output rate during training (Hz), per candidate and instance
    out = []
    for c in range(C):
        if zerodiv[c].any():
            out.append((None, "division by zero during the simulation"))
        elif np.isnan(w[c]).any():
            out.append((None, "simulation produced NaN"))
        elif not np.isfinite(ratio[c]).all():
            out.append((None, "potential flat between patterns (no signal-to-noise ratio)"))
        else:
            out.append((ratio[c], ""))
    return out
