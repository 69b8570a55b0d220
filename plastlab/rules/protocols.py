"""Characterisation protocols without networks: spike schedules and closed forms.

A protocol is a set of conditions, each a presynaptic and a postsynaptic spike train (times in seconds):
``frequency`` (n pairings at rho Hz with a fixed Δt; Sjöström et al. 2001), ``triplet`` and ``quadruplet``
(Froemke & Dan 2002, Wang et al. 2005, as in Pfister & Gerstner 2006), ``weight`` (one pairing from several w0).
``rates`` (Poisson trains) has no schedule here; its closed form is the mean drift :func:`mean_drift`.

Closed forms, for trace rules whose traces are event-driven (and window rules): every spike update of the rule
(after its ``[pairing]``, :mod:`plastlab.rules.pairing`) is a SymPy expression, compiled once; between spikes
each trace follows its exact solution (:func:`plastlab.rules.window._decay`). :func:`replay` applies them to a
schedule in NEST's/Brian2's order within a time step. :func:`mean_drift` is the symbolic mean dw/dt under
independent Poisson trains (traces replaced by their stationary means; weight bounds ignored).
"""
import math

import numpy as np
import sympy as sp
from brian2 import second

from ..errors import PlastlabError, RuleError
from . import expressions as ex
from .pairing import delay_seconds, extra_state
from .pairing import pathways as rule_pathways

__all__ = ["SJOSTROM_RHO", "TRIPLETS", "QUADRUPLET_T", "frequency_schedule", "triplet_schedule",
           "quadruplet_schedule", "replay", "has_replay", "mean_drift", "expected_drift"]

SJOSTROM_RHO = (0.1, 10.0, 20.0, 40.0, 50.0)
# (pattern, Δt1, Δt2) in ms: pre-post-pre (Δt1 > 0 > Δt2) and post-pre-post (Δt1 < 0 < Δt2), Pfister & Gerstner
# 2006 Fig. 5 / Wang et al. 2005.
TRIPLETS = (("pre-post-pre", 5, -5), ("pre-post-pre", 10, -10), ("pre-post-pre", 15, -5), ("pre-post-pre", 5, -15),
            ("post-pre-post", -5, 5), ("post-pre-post", -10, 10), ("post-pre-post", -5, 15),
            ("post-pre-post", -15, 5))
QUADRUPLET_T = (-100, -75, -50, -25, -15, 15, 25, 50, 75, 100)  # ms


def _checked(values, name, *, positive=False, nonzero=False):
    values = np.atleast_1d(np.asarray(values, dtype=float))
    if values.size == 0:
        raise PlastlabError(f"{name}: give at least one value")
    if not np.all(np.isfinite(values)):
        raise PlastlabError(f"{name}: values must be finite numbers")
    if positive and np.any(values <= 0):
        raise PlastlabError(f"{name}: values must be positive")
    if nonzero and np.any(values == 0):
        raise PlastlabError(f"{name}: values must not be 0")
    return values


def _count(n, name):
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise PlastlabError(f"{name} must be a whole number >= 1, got {n}")
    return int(n)


def frequency_schedule(rho_hz, delta_t_ms, pairings=60):
    """{(rho, Δt): (pre, post)}: ``pairings`` pairs at rho Hz, post Δt after pre. Δt must fit the period."""
    rho, delta = _checked(rho_hz, "rho", positive=True), _checked(delta_t_ms, "delta_t")
    pairings = _count(pairings, "pairings")
    out = {}
    for r in rho:
        period = 1000.0 / r
        for d in delta:
            if abs(d) >= period:
                raise PlastlabError(f"delta_t {d:g} ms does not fit the period {period:g} ms of {r:g} Hz")
            pre = (10.0 + max(0.0, -d) + period * np.arange(pairings)) * 1e-3
            out[(float(r), float(d))] = (pre, pre + d * 1e-3)
    return out


def triplet_schedule(triplets=TRIPLETS, repetitions=60, rate_hz=1.0):
    """{(pattern, Δt1, Δt2): (pre, post)}: ``repetitions`` triplets at ``rate_hz``."""
    repetitions, period = _count(repetitions, "repetitions"), 1.0 / float(_checked(rate_hz, "rate", positive=True)[0])
    out = {}
    for pattern, d1, d2 in triplets:
        if pattern == "pre-post-pre" and d1 > 0 > d2:
            one_pre, one_post = np.array([0.0, d1 - d2]), np.array([d1])
        elif pattern == "post-pre-post" and d1 < 0 < d2:
            one_pre, one_post = np.array([-d1]), np.array([0.0, d2 - d1])
        else:
            raise PlastlabError(f"triplet {pattern} ({d1:g}, {d2:g}) ms: pre-post-pre needs Δt1 > 0 > Δt2, "
                                "post-pre-post Δt1 < 0 < Δt2")
        if max(one_pre.max(), one_post.max()) * 1e-3 >= period:
            raise PlastlabError(f"triplet {pattern} ({d1:g}, {d2:g}) ms does not fit the period {period:g} s")
        starts = 5e-3 + period * np.arange(repetitions)
        out[(pattern, float(d1), float(d2))] = ((starts[:, None] + one_pre * 1e-3).ravel(),
                                                (starts[:, None] + one_post * 1e-3).ravel())
    return out


def quadruplet_schedule(T_ms=QUADRUPLET_T, repetitions=60, rate_hz=1.0, delta_ms=5.0):
    """{T: (pre, post)}: a post-pre pair (Δt = -delta) and a pre-post pair (Δt = +delta) whose centres are T
    apart; T > 0: the post-pre pair first (post-pre-pre-post), T < 0: the pre-post pair first."""
    T = _checked(T_ms, "T", nonzero=True)
    repetitions, period = _count(repetitions, "repetitions"), 1.0 / float(_checked(rate_hz, "rate", positive=True)[0])
    out = {}
    for t in T:
        if abs(t) <= delta_ms:
            raise PlastlabError(f"quadruplet T = {t:g} ms: |T| must exceed the pair interval {delta_ms:g} ms")
        first = 0.0
        second_c = abs(t)
        if t > 0:  # post-pre then pre-post
            pre = [first + delta_ms / 2, second_c - delta_ms / 2]
            post = [first - delta_ms / 2, second_c + delta_ms / 2]
        else:  # pre-post then post-pre
            pre = [first - delta_ms / 2, second_c + delta_ms / 2]
            post = [first + delta_ms / 2, second_c - delta_ms / 2]
        shift = delta_ms / 2 + 5.0
        starts = period * np.arange(repetitions)
        out[float(t)] = ((starts[:, None] + (np.array(pre) + shift) * 1e-3).ravel(),
                         (starts[:, None] + (np.array(post) + shift) * 1e-3).ravel())
    return out


# --- closed forms ------------------------------------------------------------------------------------------------

def has_replay(rule):
    """Trace rules with event-driven linear traces (and no inputs or continuous dynamics), and window rules."""
    if rule.window is not None:
        return True
    if rule.dw_dt is not None or rule.periodic is not None or rule.inputs:
        return False
    for name, tr in rule.traces.items():
        x = sp.Symbol(name)
        if tr.clock_driven or x in sp.diff(tr.rate, x).free_symbols:
            return False
    return True


def _si(values):
    """Parameters as SymPy floats in SI units (times in seconds)."""
    return {sp.Symbol(k): sp.Float(float(np.asarray(v))) for k, v in values.items()}


def _compiled(rule):
    """Per pathway: [(target, f(state, w) -> value)], and each trace's (a, b) in x' = a x + b."""
    names = [*rule.traces, *rule.state, *extra_state(rule)]
    symbols = [sp.Symbol(n) for n in names] + [sp.Symbol("w"), sp.Symbol("t")]
    values = dict(rule.parameters)
    blocks = []
    for p in rule_pathways(rule):
        compiled = []
        for s in p.statements:
            expr = s.new_value()
            expr = expr.xreplace(_si(values))
            compiled.append((s.target, sp.lambdify(symbols, expr, modules=[{"clip": np.clip}, "math"])))
        blocks.append((p, compiled))
    decay = {}
    for name, tr in rule.traces.items():
        x = sp.Symbol(name)
        a = float(ex.evaluate(sp.diff(tr.rate, x), values) * second)
        b = float(ex.evaluate(tr.rate.subs(x, 0), values) * second)
        decay[name] = (a, b)
    return names, blocks, decay


def replay(rule, pre, post, w0):
    """Weight after the spike trains ``pre`` and ``post`` (seconds), exactly, for a rule :func:`has_replay`."""
    if rule.window is not None:
        return _replay_window(rule, pre, post, w0)
    if not has_replay(rule):
        raise RuleError(f"rule '{rule.name}' has no closed form for spike trains (continuous or clock-driven "
                        "dynamics, or inputs): simulate it")
    names, blocks, decay = _compiled(rule)
    delay = delay_seconds(rule)
    times = sorted({round(float(t) * 1e7) for t in pre} | {round((float(t) + delay) * 1e7) for t in post})
    pre_set = {round(float(t) * 1e7) for t in pre}
    post_set = {round((float(t) + delay) * 1e7) for t in post}
    state = dict.fromkeys(names, 0.0)
    w, last = float(w0), 0.0
    for tick in times:
        t = tick * 1e-7
        for name, (a, b) in decay.items():
            x0, gap = state[name], t - last
            state[name] = x0 + b * gap if a == 0 else (x0 + b / a) * math.exp(a * gap) - b / a
        last = t
        for p, compiled in blocks:
            if tick not in (pre_set if p.side == "pre" else post_set):
                continue
            for target, f in compiled:
                value = float(f(*[state[n] for n in names], w, t))
                if target == "w":
                    w = value
                else:
                    state[target] = value
    return w


def _replay_window(rule, pre, post, w0):
    """Nearest-neighbour window rules: each spike pairs with the latest earlier spike of the other side."""
    values = dict(rule.parameters)
    lo, hi = (float(ex.evaluate(b, values)) for b in (rule.weight.min, rule.weight.max))
    dt = sp.Symbol("delta_t")
    up = sp.lambdify([dt, sp.Symbol("w")], rule.window.potentiation.xreplace(_si(values)), modules="numpy")
    down = sp.lambdify([dt, sp.Symbol("w")], rule.window.depression.xreplace(_si(values)), modules="numpy")
    delay = delay_seconds(rule)
    ev = sorted([(round(float(t) * 1e7), 1, "pre") for t in pre] + [(round((float(t) + delay) * 1e7), 0, "post")
                                                                      for t in post])
    nest = getattr(rule.pairing, "coincident", "pre_first") == "nest"
    if not nest:
        ev = sorted(ev, key=lambda e: (e[0], 0 if e[2] == "pre" else 1))
    reach = (float(ex.evaluate(rule.window.max_interval, values) / second) if rule.window.max_interval is not None
             else 5000.0)  # the simulation's default (plastlab.brian.codegen.DEFAULT_MAX_INTERVAL)
    w, last = float(w0), {"pre": None, "post": None}
    for tick, _, side in ev:
        other = "post" if side == "pre" else "pre"
        ref = last[other]
        if ref is not None and ref < tick and tick - ref < round(reach * 1e7):  # only within max_interval
            gap = (tick - ref) * 1e-7
            w = min(max(w + float(up(gap, w) if side == "post" else down(-gap, w)), lo), hi)
        last[side] = tick
    return w


def _drift_parts(rule):
    """What the drift closed forms need: per side, the weight steps (SymPy, unclipped, minus w) with the names of
    the same-side traces each reads after their own update; per trace its side, kind (``+=``/``=``), amplitude
    and decay rate. RuleError where the mean drift is not a closed form."""
    from .pairing import scheme_statements

    scheme = rule.pairing.scheme
    if rule.window is not None or scheme not in ("all_to_all", "nearest_symmetric") or not has_replay(rule):
        raise RuleError(f"rule '{rule.name}': no mean-drift closed form (trace rules, all-to-all or nearest "
                        "symmetric only)")
    values = dict(rule.parameters)
    traces, steps = {}, {"pre": [], "post": []}
    on_pre, on_post = scheme_statements(rule)
    for side, statements in (("pre", on_pre), ("post", on_post)):
        for s in statements:
            if s.target in rule.traces:
                x = sp.Symbol(s.target)
                if s.op not in ("+=", "=") or s.expr.free_symbols - {sp.Symbol(k) for k in values}:
                    raise RuleError(f"rule '{rule.name}': trace update '{s}' has no stationary mean")
                if sp.diff(rule.traces[s.target].rate, x, 2) != 0 or rule.traces[s.target].rate.subs(x, 0) != 0:
                    raise RuleError(f"rule '{rule.name}': trace '{s.target}' does not simply decay")
                traces[x] = dict(side=side, op=s.op, amplitude=float(ex.evaluate(s.expr, values)),
                                 rate=float(ex.evaluate(sp.diff(rule.traces[s.target].rate, x), values) * second),
                                 tau=-1 / sp.diff(rule.traces[s.target].rate, x), expr=s.expr)
    for side, statements in (("pre", on_pre), ("post", on_post)):
        updated = set()
        for s in statements:
            if s.target in rule.traces:
                updated.add(sp.Symbol(s.target))
            elif s.target == "w":
                step = _unclipped(s.new_value()) - sp.Symbol("w")
                if traces:
                    for monomial in sp.Poly(sp.expand(step), *traces).monoms():
                        sides = [traces[x]["side"] for x, k in zip(traces, monomial) for _ in range(k)]
                        if len(sides) != len(set(sides)):
                            raise RuleError(f"rule '{rule.name}': '{s}' multiplies traces of one side; no mean "
                                            "drift")
                steps[side].append((step, frozenset(updated)))
    return traces, steps, values


def mean_drift(rule, pre_rate, post_rate, w0):
    """Mean dw/dt (per second) under independent Poisson trains at ``pre_rate``, ``post_rate`` (Hz), at w0:
    traces replaced by their stationary means (all-to-all: nu*a*tau; nearest: a*nu*tau/(1 + nu*tau)), read before
    their own increment. Needs weight updates linear in the traces of each side; RuleError otherwise. This is the
    mean-field drift of continuous-time trains in the stationary state (Pfister & Gerstner 2006, Eq. 4);
    :func:`expected_drift` is what a simulation of ``duration`` seconds on a ``dt`` grid should give."""
    traces, steps, values = _drift_parts(rule)
    nu = {"pre": sp.Symbol("nu_pre"), "post": sp.Symbol("nu_post")}
    means = {}
    for x, tr in traces.items():
        rate = nu[tr["side"]]
        means[x] = tr["expr"] * rate * tr["tau"] * (1 if tr["op"] == "+=" else 1 / (1 + rate * tr["tau"]))
    drift = sp.Integer(0)
    for side, updates in steps.items():
        for step, _ in updates:
            drift += nu[side] * step.xreplace(means)
    value = ex.evaluate(drift, dict(values, w=w0, nu_pre=pre_rate / second, nu_post=post_rate / second))
    return float(value * second)


def expected_drift(rule, pre_rate, post_rate, w0, *, dt, duration):
    """The expected (w(T) - w0)/T of the ``rates`` protocol, exactly: independent Bernoulli trains on the ``dt``
    grid (probability rate*dt in every step 1 .. N-1, N = duration/dt; postsynaptic spikes arrive ``delay``
    later, until T), traces starting at 0, the rule's ``coincident`` convention for spikes in one step. Exact for
    weight steps that do not depend on w and never reach the bounds (otherwise: at w0, bounds ignored)."""
    from .pairing import delay_seconds

    traces, steps, values = _drift_parts(rule)
    n = int(round(duration / dt))
    d = int(round(delay_seconds(rule) / dt))
    ticks = np.arange(n)
    p = {"pre": np.where(ticks >= 1, pre_rate * dt, 0.0), "post": np.where((ticks >= 1 + d), post_rate * dt, 0.0)}
    means = {}
    for x, tr in traces.items():
        q, a, prob = math.exp(tr["rate"] * dt), tr["amplitude"], p[tr["side"]]
        m = np.zeros(n)
        for k in range(1, n):  # value at step k before that step's updates
            before = m[k - 1] + a * prob[k - 1] if tr["op"] == "+=" else prob[k - 1] * a + (1 - prob[k - 1]) * m[k - 1]
            m[k] = q * before
        means[x] = m
    coincident = rule.pairing.coincident
    first = {"pre_first": "pre", "post_first": "post"}.get(coincident)  # its trace updates are seen by the other
    total = 0.0
    symbols = list(traces)
    for side, updates in steps.items():
        other = "post" if side == "pre" else "pre"
        for step, updated in updates:
            f = sp.lambdify(symbols, step.xreplace(_si(dict(values, w=w0))), modules="numpy")
            args = []
            for x in symbols:
                tr, m = traces[x], means[x]
                if tr["side"] == side and x in updated:  # read after its own update
                    m = m + tr["amplitude"] if tr["op"] == "+=" else np.full(n, tr["amplitude"])
                elif tr["side"] == other and first == other:  # the other side's same-step spike is seen
                    prob = p[other]
                    m = m + prob * tr["amplitude"] if tr["op"] == "+=" else prob * tr["amplitude"] + (1 - prob) * m
                args.append(m)
            total += float(np.sum(p[side] * np.broadcast_to(f(*args), (n,))))
    return total / (n * dt)


def _unclipped(expr):
    return expr.replace(lambda e: isinstance(e, ex.clip), lambda e: e.args[0])

