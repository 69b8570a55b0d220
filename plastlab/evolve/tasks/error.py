"""Error-driven family: a student neuron learns to imitate a teacher (Jordan et al. 2021, Fig. 4).

One task instance: ``n_inputs`` Poisson inputs (rates uniform in ``rate_range``) drive, all-to-all, a teacher
with fixed random weights (uniform in ``teacher_weight_range``) and a student whose weights start at ``w0``.
Both neurons are current-based LIF with exponential synaptic currents and no reset (NEST ``iaf_psc_exp``
defaults: E_L = -70 mV, tau_m = 10 ms, C_m = 250 pF, tau_syn = 2 ms). Potentials are plain numbers in mV,
weights plain numbers in pA, as in the paper. The rule reads

* ``v_teacher``: the teacher's membrane potential (mV),
* ``v_student``: the student's membrane potential (mV),
* ``pre_trace``: the presynaptic PSP trace s̄ (x jumps by 1 at each input spike and decays with tau_syn;
  s̄ follows x through the membrane filter tau_m, so v_student = E_L + R * sum_j w_j s̄_j exactly for fixed w),

and every time step Δ = f(v_teacher, v_student, pre_trace) is low-pass filtered, tau_I dI/dt = -I + Δ, and
w += eta * I * dt (dt in ms). Fitness of a rule: -(1/K) sum_k sqrt(sum_t (u_t - v_t)^2), potentials sampled
every ms after dropping the first ``t_drop``.

Batching: one Brian2 network holds all candidates x instances. Inputs and teachers exist once per instance;
each candidate has one student per instance. The candidate expression is *data*: per-student coefficient
vectors of its canonical rational form (``rational.encode``), so the network compiles once per machine and
every batch reuses the compiled code.
"""
import math
import time

import numpy as np
import sympy as sp

from . import InstanceCache, rational, with_defaults

NAME = "error"
INPUTS = ("v_teacher", "v_student", "pre_trace")
# Brian2 names of the rule inputs inside the network's plastic Synapses
_BRIAN_INPUTS = ("v_teacher_post", "v_post", "sbar_pre")

DEFAULTS = {
    "n_inputs": 5,
    "rate_low": 150.0,  # Hz
    "rate_high": 850.0,
    "teacher_w_low": -5.0,  # pA
    "teacher_w_high": 35.0,
    "w0": 5.0,
    "E_L": -70.0,  # mV
    "tau_m": 10.0,  # ms
    "tau_s": 2.0,  # ms
    "C_m": 250.0,  # pF
    "tau_I": 100.0,  # ms
    "eta": 0.017,
    "duration": 10.0,  # s
    "t_drop": 1.0,  # s
    "dt": 0.1,  # ms: neurons, traces and currents
    "rule_dt": 1.0,  # ms: the plasticity rule's Euler step (Delta, I and w vary on the scale of tau_I)
    "degree": 3,  # maximal degree of numerator and denominator in the encoding
}

PROFILE = False
WORST = float("-inf")  # fitness of rules whose simulation produced NaN/inf or that cannot be encoded


def symbols():
    return tuple(sp.Symbol(n, real=True) for n in INPUTS)


def baselines():
    """Hand-designed rules by name, as SymPy expressions in the family's input names."""
    v, u, s = symbols()
    return {"no_plasticity": sp.Integer(0), "delta_rule": s * (v - u)}


def rule_document(expr, name, summary, params=None):
    """A rule file (dict in the format of rules/README.md) for ``expr`` in this family's network.

    Potentials are plain numbers in mV and weights plain numbers in pA, as inside the task network.
    """
    from ...rules.expressions import to_code

    p = params_with_defaults(params)
    return {
        "rule": {"name": name, "summary": summary,
                 "citation": "evolved with plastlab (error family after Jordan, Schmidt, Senn & Petrovici 2021, "
                             "eLife 10:e66273)"},
        "parameters": {"tau_I": f"{p['tau_I']}*ms", "eta": repr(p["eta"])},
        "weight": {"unit": "1", "min": "-inf", "max": "inf"},
        "inputs": {
            "v_teacher": {"source": "post", "variable": "v_teacher", "unit": "1"},
            "v_student": {"source": "post", "variable": "v", "unit": "1"},
            "pre_trace": {"source": "pre", "variable": "sbar", "unit": "1"},
        },
        "traces": {"I": {"rate": f"(-I + ({to_code(expr)}))/tau_I", "unit": "1", "kind": "clock"}},
        "continuous": {"dw_dt": "eta*I/ms"},
    }


def params_with_defaults(params=None):
    return with_defaults(NAME, DEFAULTS, params)


def sample_instance(p, seed):
    """One task instance from an integer seed: input spike trains (step indices) and teacher weights."""
    rng = np.random.default_rng([int(seed), 7])
    n_steps = int(round(p["duration"] * 1000.0 / p["dt"]))
    rates = rng.uniform(p["rate_low"], p["rate_high"], size=p["n_inputs"])
    prob = rates * p["dt"] * 1e-3
    fired = rng.random((n_steps, p["n_inputs"])) < prob
    steps, idx = np.nonzero(fired)
    teacher_w = rng.uniform(p["teacher_w_low"], p["teacher_w_high"], size=p["n_inputs"])
    return {"seed": int(seed), "rates": rates, "steps": steps, "indices": idx, "teacher_w": teacher_w}


instances = InstanceCache(sample_instance)


def _brian():
    import brian2 as b2

    b2.prefs.codegen.target = "cython"
    b2.prefs.logging.console_log_level = "ERROR" if hasattr(b2.prefs, "logging") else None
    b2.BrianLogger.log_level_error()
    return b2


def evaluate_batch(exprs, seeds, params=None):
    """Fitness of every expression in ``exprs`` (SymPy, in INPUTS names) on the instances ``seeds``.

    Returns a list of dicts ``{fitness, reason, per_instance}``: ``reason`` is "" for a normal evaluation,
    otherwise why the worst fitness was given (non-finite result, outside the encoding, ...).
    """
    p = params_with_defaults(params)
    insts = instances(p, seeds)
    return rational.evaluate_encoded(exprs, symbols(), p["degree"],
                                     lambda nums, dens: _simulate(p, nums, dens, insts),
                                     lambda err: (float(-np.sqrt(err).mean()), np.sqrt(err).tolist()))


def _simulate(p, nums, dens, insts):
    """Run one network for all candidates x instances; per candidate (sum of squared errors, reason)."""
    b2 = _brian()
    from brian2 import ms, second

    C, K, n_in = len(nums), len(insts), p["n_inputs"]
    dt = p["dt"] * ms
    # inputs: one SpikeGeneratorGroup for all instances (instance k owns sources k*n_in ... k*n_in+n_in-1)
    idx = np.concatenate([inst["indices"] + k * n_in for k, inst in enumerate(insts)])
    steps = np.concatenate([inst["steps"] for inst in insts])
    gen = b2.SpikeGeneratorGroup(K * n_in, idx, steps * dt, dt=dt)
    ns = {"tau_m": p["tau_m"] * ms, "tau_s": p["tau_s"] * ms, "E_L": p["E_L"], "R": p["tau_m"] / p["C_m"],
          "tau_I": p["tau_I"] * ms, "eta": p["eta"], "t_drop": p["t_drop"] * second,
          "rule_dt": p["rule_dt"] * ms}
    traces = b2.NeuronGroup(K * n_in, "dx/dt = -x/tau_s : 1\ndsbar/dt = (x - sbar)/tau_m : 1",
                            method="exact", dt=dt, namespace=ns, name="traces")
    feed = b2.Synapses(gen, traces, on_pre="x_post += 1", dt=dt, name="feed")
    feed.connect(j="i")
    neuron_eqs = "dv/dt = (E_L - v + R*Isyn)/tau_m : 1\nIsyn : 1"
    teachers = b2.NeuronGroup(K, neuron_eqs, method="euler", dt=dt, namespace=ns, name="teachers")
    teachers.v = p["E_L"]
    # the candidate as data: coefficient vectors of P and Q on every student; per rule step each student
    # evaluates the coefficients of P and Q as polynomials in the last input (Horner form), so a synapse
    # only does the Horner steps in pre_trace
    D = p["degree"]
    mons = rational.monomials(3, D)
    coef_n = [f"cn{k}" for k in range(len(mons))]
    coef_d = [f"cd{k}" for k in range(len(mons))]
    horner = [f"{x}{k}" for x in ("A", "B") for k in range(D + 1)]
    student_eqs = neuron_eqs + "\nv_teacher : 1\nsqerr : 1\n" + "\n".join(
        f"{c} : 1 (constant)" for c in coef_n + coef_d) + "\n" + "\n".join(f"{h} : 1" for h in horner)
    students = b2.NeuronGroup(C * K, student_eqs, method="euler", dt=dt, namespace=ns, name="students")
    students.v = p["E_L"]
    # the teacher's potential reaches its students through a (summed) copy: linked variables are not
    # visible from Synapses, summed variables are
    copy = b2.Synapses(teachers, students, "v_teacher_post = v_pre : 1 (summed)", dt=dt, name="copy")
    copy.connect(i=np.tile(np.arange(K), C), j=np.arange(C * K))
    num = np.repeat(np.asarray(nums), K, axis=0)  # student n = c*K + k
    den = np.repeat(np.asarray(dens), K, axis=0)
    for k, c in enumerate(coef_n):
        setattr(students, c, num[:, k])
    for k, c in enumerate(coef_d):
        setattr(students, c, den[:, k])
    stmts = []
    for letter, names in (("A", coef_n), ("B", coef_d)):
        for power in range(D + 1):
            terms = []
            for k, (a, b, c) in enumerate(mons):
                if c == power:
                    terms.append("*".join([names[k]] + ["v_teacher"] * a + ["v"] * b))
            stmts.append(f"{letter}{power} = " + " + ".join(terms))
    rule_dt = p["rule_dt"] * ms
    students.run_regularly("\n".join(stmts), dt=rule_dt, when="before_synapses", order=0, name="coefs")
    tsyn = b2.Synapses(traces, teachers, "w : 1\nIsyn_post = w*x_pre : 1 (summed)", dt=dt, name="tsyn")
    pre_i = np.arange(K * n_in)
    tsyn.connect(i=pre_i, j=pre_i // n_in)
    tsyn.w = np.concatenate([inst["teacher_w"] for inst in insts])

    def horner_code(letter):
        code = f"{letter}{D}_post"
        for power in range(D - 1, -1, -1):
            code = f"{letter}{power}_post + sbar_pre*({code})"
        return code

    ssyn = b2.Synapses(traces, students, "w : 1\nI : 1\nzerodiv : 1\nIsyn_post = w*x_pre : 1 (summed)",
                       dt=dt, namespace=ns, name="ssyn")
    # student n = c*K + k receives the inputs of instance k
    post = np.repeat(np.arange(C * K), n_in)
    pre = (post % K) * n_in + np.tile(np.arange(n_in), C * K)
    ssyn.connect(i=pre, j=post)
    ssyn.w = p["w0"]
    # the rule (Euler step of tau_I dI/dt = -I + Delta and w += eta*I*dt, dt in ms) runs on the rule clock
    # Cython raises on float division by zero: count it per synapse instead (worst fitness, reason recorded)
    ssyn.run_regularly(f"""Q = {horner_code("B")}
zerodiv += int(Q == 0)
Delta = ({horner_code("A")}) / (Q + int(Q == 0))
w += eta*I*rule_dt/ms
I += (rule_dt/tau_I)*(Delta - I)""", dt=rule_dt, when="before_synapses", order=1, name="rule")
    students.run_regularly("sqerr += (v - v_teacher)**2 * int(t >= t_drop)", dt=1 * ms, when="end",
                           name="sampler")
    net = b2.Network(gen, traces, feed, teachers, students, copy, tsyn, ssyn)
    net.run(p["duration"] * second, namespace={}, profile=PROFILE)
    if PROFILE:
        print(b2.profiling_summary(net))
    sq = np.asarray(students.sqerr[:]).reshape(C, K)
    w = np.asarray(ssyn.w[:]).reshape(C, K * n_in)
    zerodiv = np.asarray(ssyn.zerodiv[:]).reshape(C, K * n_in)
    out = []
    for c in range(C):
        if zerodiv[c].any():
            out.append((None, "division by zero during the simulation"))
        elif np.isnan(sq[c]).any() or np.isnan(w[c]).any():
            out.append((None, "simulation produced NaN"))
        elif np.isinf(sq[c]).any() or np.isinf(w[c]).any():
            out.append((None, "simulation overflowed to inf"))
        else:
            out.append((sq[c], ""))
    return out


def _post_suffix(code, names):
    import re

    for name in sorted(names, key=len, reverse=True):
        code = re.sub(rf"\b{name}\b", f"{name}_post", code)
    return code


def evaluate_naive(expr, seeds, params=None, nonce=None):
    """The naive approach, for benchmarks: the expression is written into the Brian2 code of its own network.

    One Brian2 run per candidate (all instances of that candidate in one network, same equations, clocks and
    sampling as ``evaluate_batch``); every new expression is new code and gets compiled. Returns the same
    dict as ``evaluate_batch``. ``nonce`` (a string of digits) is written into a variable name of the
    generated code so that a benchmark measures a real compilation even if the same expression was compiled by
    an earlier run (Cython caches code by its text); it multiplies Delta by exactly 1.
    """
    p = params_with_defaults(params)
    b2 = _brian()
    from brian2 import ms, second
    from brian2.parsing.sympytools import sympy_to_str

    insts = instances(p, seeds)
    expr = rational.canonical(expr)
    if expr is sp.nan:
        return {"fitness": WORST, "reason": "expression is not finite (division by zero)", "per_instance": []}
    v, u, s = symbols()
    code = sympy_to_str(expr.subs({v: sp.Symbol("v_teacher_post"), u: sp.Symbol("v_post"),
                                   s: sp.Symbol("sbar_pre")}))
    K, n_in = len(insts), p["n_inputs"]
    dt = p["dt"] * ms
    idx = np.concatenate([inst["indices"] + k * n_in for k, inst in enumerate(insts)])
    steps = np.concatenate([inst["steps"] for inst in insts])
    gen = b2.SpikeGeneratorGroup(K * n_in, idx, steps * dt, dt=dt)
    ns = {"tau_m": p["tau_m"] * ms, "tau_s": p["tau_s"] * ms, "E_L": p["E_L"], "R": p["tau_m"] / p["C_m"],
          "tau_I": p["tau_I"] * ms, "eta": p["eta"], "t_drop": p["t_drop"] * second,
          "rule_dt": p["rule_dt"] * ms}
    traces = b2.NeuronGroup(K * n_in, "dx/dt = -x/tau_s : 1\ndsbar/dt = (x - sbar)/tau_m : 1",
                            method="exact", dt=dt, namespace=ns)
    feed = b2.Synapses(gen, traces, on_pre="x_post += 1", dt=dt)
    feed.connect(j="i")
    neuron_eqs = "dv/dt = (E_L - v + R*Isyn)/tau_m : 1\nIsyn : 1"
    teachers = b2.NeuronGroup(K, neuron_eqs, method="euler", dt=dt, namespace=ns)
    teachers.v = p["E_L"]
    students = b2.NeuronGroup(K, neuron_eqs + "\nv_teacher : 1\nsqerr : 1", method="euler", dt=dt,
                              namespace=ns)
    students.v = p["E_L"]
    copy = b2.Synapses(teachers, students, "v_teacher_post = v_pre : 1 (summed)", dt=dt)
    copy.connect(j="i")
    tsyn = b2.Synapses(traces, teachers, "w : 1\nIsyn_post = w*x_pre : 1 (summed)", dt=dt)
    pre_i = np.arange(K * n_in)
    tsyn.connect(i=pre_i, j=pre_i // n_in)
    tsyn.w = np.concatenate([inst["teacher_w"] for inst in insts])
    one = f"one_{nonce}" if nonce else "1"
    ssyn = b2.Synapses(traces, students, "w : 1\nI : 1\nIsyn_post = w*x_pre : 1 (summed)"
                       + (f"\n{one} : 1 (constant)" if nonce else ""), dt=dt, namespace=ns)
    ssyn.connect(i=pre_i, j=pre_i // n_in)
    ssyn.w = p["w0"]
    if nonce:
        setattr(ssyn, one, 1.0)
    ssyn.run_regularly(f"""Delta = {one}*({code})
w += eta*I*rule_dt/ms
I += (rule_dt/tau_I)*(Delta - I)""", dt=p["rule_dt"] * ms, when="before_synapses", order=1)
    students.run_regularly("sqerr += (v - v_teacher)**2 * int(t >= t_drop)", dt=1 * ms, when="end")
    net = b2.Network(gen, traces, feed, teachers, students, copy, tsyn, ssyn)
    try:
        net.run(p["duration"] * second, namespace={})
    except Exception as exc:  # Cython raises ZeroDivisionError inside the rule
        cause = exc
        while cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, ZeroDivisionError):
            return {"fitness": WORST, "reason": "division by zero during the simulation", "per_instance": []}
        raise
    sq = np.asarray(students.sqerr[:])
    w = np.asarray(ssyn.w[:])
    if np.isnan(sq).any() or np.isnan(w).any():
        return {"fitness": WORST, "reason": "simulation produced NaN", "per_instance": []}
    if np.isinf(sq).any() or np.isinf(w).any():
        return {"fitness": WORST, "reason": "simulation overflowed to inf", "per_instance": []}
    per = np.sqrt(sq)
    return {"fitness": float(-per.mean()), "reason": "", "per_instance": per.tolist()}
