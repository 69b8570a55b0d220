"""Reward-driven family: associate frozen input patterns with actions (Jordan et al. 2021, Fig. 3).

One task instance: ``n_inputs`` inputs, each connected with probability ``p_connect`` to one escape-noise LIF
neuron (hazard phi(u) = rho*exp((u - theta)/delta), capped at 1/dt,
reset to E_L after a spike); ``n_patterns`` frozen ``trial`` ms Poisson
patterns at ``input_rate``, each labelled +1 or -1 at random; ``n_trials`` trials, each presenting a random
pattern. Action = +1 if the neuron spiked during the trial, else -1; reward R = +1 if action == label, else -1.
Initial weights are Gaussian (``w_mean``, ``w_sd``). Potentials are plain numbers in mV, weights in mV per
unit PSP trace (u - E_L = sum_j w_j s̄_j, s̄ the presynaptic PSP trace as in the error family).

Eligibility per synapse (Urbanczik & Senn 2009 style): dE/dt = -E/tau_M + (1/delta) s̄ (S(t) - phi(u)),
S the postsynaptic spike train. Once per trial, at its end, w += eta * f(reward, eligibility).
Fitness: the sum of rewards over the trials, averaged over instances (maximum n_trials).

As in the error family, one compiled Brian2 network scores a batch of candidates x instances: the candidate is
the coefficient data of its canonical rational form. The escape noise is frozen per instance (a uniform random
number per time step and instance, shared by all candidates on that instance), so a candidate's fitness does
not depend on the batch it is simulated in.
"""
import numpy as np
import sympy as sp

from . import InstanceCache, rational, with_defaults

NAME = "reward"
INPUTS = ("reward", "eligibility")

DEFAULTS = {
    "n_inputs": 50,
    "p_connect": 0.8,
    "n_patterns": 30,
    "trial": 500.0,  # ms
    "input_rate": 6.0,  # Hz
    "n_trials": 500,
    "E_L": -70.0,  # mV
    "theta": -55.0,  # mV
    "rho": 10.0,  # Hz
    "delta": 1.0,  # mV
    "tau_m": 10.0,  # ms
    "tau_s": 2.0,  # ms
    "tau_M": 500.0,  # ms, eligibility
    "w_mean": 12.0,
    "w_sd": 4.0,
    "eta": 10.0,
    "dt": 1.0,  # ms
    "degree": 3,
}

WORST = float("-inf")


def symbols():
    return tuple(sp.Symbol(n, real=True) for n in INPUTS)


def baselines():
    r, e = symbols()
    return {"no_plasticity": sp.Integer(0), "eligibility_reward_minus_1": e * (r - 1)}


def params_with_defaults(params=None):
    return with_defaults(NAME, DEFAULTS, params)


def rule_document(expr, name, summary, params=None):
    """A rule file for ``expr``: eligibility trace, reward as a modulator, w updated once per trial."""
    from ...rules.expressions import to_code

    p = params_with_defaults(params)
    return {
        "rule": {"name": name, "summary": summary,
                 "citation": "evolved with plastlab (reward family after Jordan, Schmidt, Senn & Petrovici 2021, "
                             "eLife 10:e66273)"},
        "parameters": {"tau_M": f"{p['tau_M']}*ms", "eta": repr(p["eta"]), "delta": repr(p["delta"])},
        "weight": {"unit": "1", "min": "-inf", "max": "inf"},
        "inputs": {
            "pre_trace": {"source": "pre", "variable": "sbar", "unit": "1"},
            "phi": {"source": "post", "variable": "phi", "unit": "Hz"},
            "reward": {"source": "modulator", "unit": "1"},
            "trial_end": {"source": "modulator", "unit": "Hz"},
        },
        "traces": {"eligibility": {"rate": "-eligibility/tau_M - pre_trace*phi/delta", "unit": "1",
                                   "kind": "clock"}},
        "on_post": {"statements": ["eligibility += pre_trace/delta"]},
        # the update eta*f(R, E) once per trial: trial_end is a train of unit impulses (Dirac, in Hz) set by
        # the task at the end of every trial
        "continuous": {"dw_dt": f"eta*({to_code(expr)})*trial_end"},
    }


def sample_instance(p, seed):
    rng = np.random.default_rng([int(seed), 11])
    n_in, n_pat, T, dt = p["n_inputs"], p["n_patterns"], p["trial"], p["dt"]
    steps_per_trial = int(round(T / dt))
    prob = p["input_rate"] * dt * 1e-3
    patterns = [np.nonzero(rng.random((steps_per_trial, n_in)) < prob) for _ in range(n_pat)]
    labels = rng.choice([-1.0, 1.0], size=n_pat)
    order = rng.integers(0, n_pat, size=p["n_trials"])
    connected = rng.random(n_in) < p["p_connect"]
    w_init = rng.normal(p["w_mean"], p["w_sd"], size=n_in)
    steps, idx = [], []
    for trial, pat in enumerate(order):
        s, i = patterns[pat]
        steps.append(s + trial * steps_per_trial)
        idx.append(i)
    n_steps = p["n_trials"] * steps_per_trial + 1
    noise = rng.random(n_steps)
    return {"seed": int(seed), "steps": np.concatenate(steps), "indices": np.concatenate(idx),
            "labels": labels[order], "connected": connected, "w_init": w_init, "noise": noise}


instances = InstanceCache(sample_instance)


def evaluate_batch(exprs, seeds, params=None):
    p = params_with_defaults(params)
    insts = instances(p, seeds)
    return rational.evaluate_encoded(exprs, symbols(), p["degree"],
                                     lambda nums, dens: _simulate(p, nums, dens, insts),
                                     lambda total: (float(np.mean(total)), total.tolist()))


def _simulate(p, nums, dens, insts):
    import brian2 as b2
    from brian2 import Hz, ms

    b2.prefs.codegen.target = "cython"
    b2.BrianLogger.log_level_error()
    C, M, n_in, D = len(nums), len(insts), p["n_inputs"], p["degree"]
    dt = p["dt"] * ms
    T = p["trial"] * ms
    idx = np.concatenate([inst["indices"] + k * n_in for k, inst in enumerate(insts)])
    steps = np.concatenate([inst["steps"] for inst in insts])
    gen = b2.SpikeGeneratorGroup(M * n_in, idx, steps * dt, dt=dt)
    noise = b2.TimedArray(np.stack([inst["noise"] for inst in insts], axis=1), dt=dt)
    label_values = np.stack([np.concatenate([inst["labels"], [0.0]]) for inst in insts], axis=1)
    label = b2.TimedArray(label_values, dt=T)
    ns = {"tau_m": p["tau_m"] * ms, "tau_s": p["tau_s"] * ms, "tau_M": p["tau_M"] * ms, "E_L": p["E_L"],
          "theta": p["theta"], "rho": p["rho"] * Hz, "delta": p["delta"], "eta": p["eta"], "noise": noise,
          "label": label, "T": T, "phi_max": 1 / dt}
    traces = b2.NeuronGroup(M * n_in, "dx/dt = -x/tau_s : 1\ndsbar/dt = (x - sbar)/tau_m : 1", method="exact",
                            dt=dt, namespace=ns, name="traces")
    feed = b2.Synapses(gen, traces, on_pre="x_post += 1", dt=dt, name="feed")
    feed.connect(j="i")
    mons = rational.monomials(2, D)
    coef_n = [f"cn{k}" for k in range(len(mons))]
    coef_d = [f"cd{k}" for k in range(len(mons))]
    horner = [f"{x}{k}" for x in ("A", "B") for k in range(D + 1)]
    eqs = "\n".join(["dv/dt = (E_L - v + Isyn)/tau_m : 1", "Isyn : 1", "phi = clip(rho*exp((v - theta)/delta), 0*Hz, phi_max) : Hz",
                     "inst : integer (constant)", "nspk : 1", "R : 1", "total_R : 1", "n_act : 1"]
                    + [f"{c} : 1 (constant)" for c in coef_n + coef_d] + [f"{h} : 1" for h in horner])
    neurons = b2.NeuronGroup(C * M, eqs, threshold="noise(t, inst) < phi*dt", reset="v = E_L\nnspk += 1",
                             method="euler",
                             dt=dt, namespace=ns, name="neurons")
    neurons.v = p["E_L"]
    neurons.inst = np.tile(np.arange(M), C)  # neuron n = c*M + k
    num = np.repeat(np.asarray(nums), M, axis=0)
    den = np.repeat(np.asarray(dens), M, axis=0)
    for k, c in enumerate(coef_n):
        setattr(neurons, c, num[:, k])
    for k, c in enumerate(coef_d):
        setattr(neurons, c, den[:, k])
    stmts = ["R = (2*int((nspk > 0) == (label(t - T/2, inst) > 0)) - 1) * int(t > T/2)",
             "total_R += R", "n_act += int(nspk > 0) * int(t > T/2)"]
    for letter, names in (("A", coef_n), ("B", coef_d)):
        for power in range(D + 1):
            terms = ["*".join([names[k]] + ["R"] * a) for k, (a, e) in enumerate(mons) if e == power]
            stmts.append(f"{letter}{power} = " + " + ".join(terms))
    stmts.append("nspk = 0")
    neurons.run_regularly("\n".join(stmts), dt=T, when="start", order=0, name="trial_end")

    def horner_code(letter):
        code = f"{letter}{D}_post"
        for power in range(D - 1, -1, -1):
            code = f"{letter}{power}_post + E*({code})"
        return code

    syn = b2.Synapses(traces, neurons, """w : 1
        zerodiv : 1
        dE/dt = -E/tau_M - sbar_pre*phi_post/delta : 1 (clock-driven)
        Isyn_post = w*x_pre : 1 (summed)""", on_post="E += sbar_pre/delta", method="euler", dt=dt,
                      namespace=ns, name="syn")
    pre, post, w0 = [], [], []
    for c in range(C):
        for k, inst in enumerate(insts):
            ins = np.nonzero(inst["connected"])[0]
            pre.append(k * n_in + ins)
            post.append(np.full(len(ins), c * M + k))
            w0.append(inst["w_init"][ins])
    syn.connect(i=np.concatenate(pre), j=np.concatenate(post))
    syn.w = np.concatenate(w0)
    syn.run_regularly(f"""Q = {horner_code("B")}
zerodiv += int(Q == 0) * int(t > T/2)
w += eta * ({horner_code("A")}) / (Q + int(Q == 0)) * int(t > T/2)""", dt=T, when="start", order=1,
                      name="update")
    net = b2.Network(gen, traces, feed, neurons, syn)
    net.run(p["n_trials"] * T + dt, namespace={})
    total = np.asarray(neurons.total_R[:]).reshape(C, M)
    active = np.asarray(neurons.n_act[:]).reshape(C, M) / p["n_trials"]
    w = np.asarray(syn.w[:])
    zd = np.asarray(syn.zerodiv[:])
    post_all = np.concatenate(post)
    out = []
    for c in range(C):
        mine = (post_all // M) == c
        if zd[mine].any():
            out.append((None, "division by zero during the simulation"))
        elif np.isnan(w[mine]).any():
            out.append((None, "simulation produced NaN"))
        elif np.isinf(w[mine]).any():
            out.append((None, "simulation overflowed to inf"))
        else:
            out.append((total[c], ""))
    _simulate.last_activity = active  # fraction of trials with action +1, per candidate and instance
    return out
