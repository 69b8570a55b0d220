"""Characterisation protocols: simulate a rule in Brian2 under controlled spike patterns -> xarray Dataset."""
import numpy as np
import sympy as sp
import xarray as xr
from brian2 import Network, NeuronGroup, get_unit, ms, second
from brian2.codegen.runtime.numpy_rt import NumpyCodeObject
from brian2.units.fundamentalunits import DIMENSIONLESS, Quantity

from ..errors import PlastlabError, RuleError
from ..rules.files import load_rule
from ..store import provenance
from . import adapters
from .codegen import synapses


def time_grid(start_ms, stop_ms, step_ms):
    """Δt values from start to stop (inclusive) in steps, as a Brian2 quantity."""
    if step_ms <= 0 or stop_ms < start_ms:
        raise PlastlabError(f"bad Δt range {start_ms}..{stop_ms} step {step_ms} ms")
    count = int(round((stop_ms - start_ms) / step_ms)) + 1
    return np.linspace(start_ms, start_ms + (count - 1) * step_ms, count) * ms


def pair_window(rule, delta_t, w0, *, dt=0.1 * ms, tail=None, inputs=None):
    """Δw after one presynaptic and one postsynaptic spike, Δt = t_post - t_pre apart, for every (Δt, w0).

    Every pair runs on its own synapse between its own two neurons, so pairs never interact; all pairs are
    simulated at once in one Brian2 network (NumPy target: nothing to compile). ``inputs`` gives constant
    values for the rule's inputs (default 0); ``tail`` is how long to keep simulating after the second spike
    (default 0, or 1 s for rules with continuous weight dynamics). Returns a Dataset with ``dw`` over
    ``delta_t`` (ms) and ``w0``, plus ``dw_analytic`` where the rule has a closed-form window.
    """
    rule = load_rule(rule)
    delta_t = _on_grid(delta_t, dt)
    w0 = np.atleast_1d(np.asarray(w0, dtype=float))
    _check_within_bounds(rule, w0)
    tail = (1 * second if rule.dw_dt is not None else 0 * ms) if tail is None else tail
    values = {name: 0 for name in rule.inputs}
    unknown = set(inputs or {}) - set(values)
    if unknown:
        raise RuleError(f"rule '{rule.name}' has no input '{sorted(unknown)[0]}'")
    values.update(inputs or {})

    pairs_dt = np.repeat(np.asarray(delta_t / second), len(w0)) * second
    pairs_w = np.tile(w0, len(delta_t))
    t_pre = 2 * dt + np.maximum(0 * second, -pairs_dt)
    t_post = t_pre + pairs_dt
    pre, post = (_spiking_group(rule, side, times, values, dt) for side, times in (("pre", t_pre), ("post", t_post)))
    syn = synapses(rule, pre, post, transmit="", codeobj_class=NumpyCodeObject, dt=dt)  # spikes are imposed
    syn.connect(j="i")
    syn.w = _in_weight_units(rule, pairs_w)
    for name, i in rule.inputs.items():
        if i.source == "modulator":
            setattr(syn, name, values[name])
    net = Network(pre, post, syn)
    from ..rules.pairing import delay_seconds

    net.run(np.max(np.maximum(t_pre, t_post)) + 2 * dt + tail + delay_seconds(rule) * second, namespace={})
    dw = (adapters.owned(syn.w[:], dtype=float) - np.asarray(_in_weight_units(rule, pairs_w), dtype=float))
    return _dataset(rule, delta_t, w0, dw.reshape(len(delta_t), len(w0)), dt=dt, tail=tail, inputs=values)


def _check_within_bounds(rule, w0):
    """Initial weights outside [w_min, w_max] give a meaningless window: refuse them before simulating."""
    lo, hi = (float(np.asarray(b / (get_unit(rule.weight.unit) if rule.weight.unit != DIMENSIONLESS else 1)))
              for b in (rule.w_min, rule.w_max))
    outside = [w for w in w0 if not (np.isfinite(w) and lo <= w <= hi)]
    if outside:
        raise PlastlabError(f"initial weight w0 = {outside[0]:g} is outside the bounds [{lo:g}, {hi:g}] of rule "
                            f"'{rule.name}' (in its weight unit)")


def _on_grid(delta_t, dt):
    if not isinstance(delta_t, Quantity) or delta_t.dim != second.dim:
        raise PlastlabError("delta_t needs time units, e.g. np.arange(-100, 101) * ms")
    steps = np.asarray(delta_t / dt, dtype=float)
    if not np.allclose(steps, np.round(steps), atol=1e-6):
        raise PlastlabError(f"Δt values must be multiples of the time step {dt}")
    return np.atleast_1d(np.round(steps)) * dt


def _spiking_group(rule, side, times, values, dt):
    """Neurons that spike once at the given times and carry the rule's inputs from this side as constants."""
    own = {name: i for name, i in rule.inputs.items() if i.source == side}
    model = ["tspike : second (constant)"]
    model += [f"{i.variable} : {_unit_name(i.unit)}" for i in own.values()]
    group = NeuronGroup(len(times), "\n".join(model), threshold="abs(t - tspike) < 0.5*dt", refractory=0 * ms,
                        codeobj_class=NumpyCodeObject, dt=dt, name=f"{side}_neurons*")
    group.tspike = times
    for name, i in own.items():
        setattr(group, i.variable, values[name])
    return group


def _unit_name(dim):
    return "1" if dim is DIMENSIONLESS else repr(get_unit(dim))


def _in_weight_units(rule, values):
    return values if rule.weight.unit is DIMENSIONLESS else Quantity(values, dim=rule.weight.unit)


def _dataset(rule, delta_t, w0, dw, **settings):
    ds = xr.Dataset(
        {"dw": (("delta_t", "w0"), dw, {"long_name": "weight change after one pair",
                                        "units": _unit_name(rule.weight.unit)})},
        coords={"delta_t": ("delta_t", np.asarray(delta_t / ms), {"units": "ms", "long_name": "t_post - t_pre"}),
                "w0": ("w0", w0, {"long_name": "initial weight", "units": _unit_name(rule.weight.unit)})},
        attrs=provenance(rule, protocol="spike pair", **{k: str(v) for k, v in settings.items()}))
    try:
        ds["dw_analytic"] = (("delta_t", "w0"), rule.window_curve(delta_t, w0), {"long_name": "closed-form window"})
    except RuleError:
        pass  # continuous dynamics or inputs: only the simulation is defined
    return ds


# --- arbitrary spike trains, one pair of neurons per synapse ------------------------------------------------------

def drive(rule, pre_trains, post_trains, w0, *, dt=0.1 * ms, record_pre=False, until=None, compress=False):
    """Weights after driving synapse k with presynaptic spikes ``pre_trains[k]`` and postsynaptic spikes
    ``post_trains[k]`` (times in seconds, on the ``dt`` grid; each synapse has its own two neurons).

    Returns the final weights (one per synapse) and, with ``record_pre``, a list with each synapse's weights
    right after each of its presynaptic spikes (every pathway of that step done). The rule's dendritic delay,
    if any, applies to the postsynaptic spikes as it does in any network.

    ``compress`` (rules whose state changes only at spikes, :func:`~plastlab.rules.protocols.has_replay`):
    every silent stretch of a synapse is shortened to a few steps and the time it skipped is subtracted from
    that synapse's time references (``lastupdate`` of the event-driven traces, the window rules' last spike
    times) in the step after its last spike, so every spike sees the true intervals: the same weights with
    far fewer time steps (a 0.1 Hz pairing protocol runs in ~100 steps instead of 10^5).
    """
    from brian2 import SpikeGeneratorGroup, StateMonitor

    rule = load_rule(rule)
    n = len(pre_trains)
    if len(post_trains) != n:
        raise PlastlabError("one postsynaptic train per presynaptic train")
    w0 = np.broadcast_to(np.asarray(w0, dtype=float), (n,))
    _check_within_bounds(rule, np.unique(w0))
    skips = None
    if compress:
        if record_pre or until is not None:
            raise PlastlabError("drive: compress cannot record trajectories or run until a given time")
        pre_trains, post_trains, skips = _compressed(rule, pre_trains, post_trains, float(dt / second))
    groups, last = [], 0.0
    for side, trains in (("pre", pre_trains), ("post", post_trains)):
        index = np.concatenate([np.full(len(tr), k, dtype=int) for k, tr in enumerate(trains)] or [np.zeros(0, int)])
        steps = np.concatenate([np.round(np.asarray(tr, dtype=float) / float(dt)) for tr in trains]
                               or [np.zeros(0)])
        last = max(last, float(steps.max()) * float(dt) if len(steps) else 0.0)
        groups.append(SpikeGeneratorGroup(n, index, steps * dt, dt=dt, codeobj_class=NumpyCodeObject,
                                          name=f"{side}_trains*"))
    pre, post = groups
    syn = synapses(rule, pre, post, transmit="", codeobj_class=NumpyCodeObject, dt=dt)
    syn.connect(j="i")
    syn.w = _in_weight_units(rule, w0)
    objects = [pre, post, syn]
    if record_pre:
        monitor = StateMonitor(syn, "w", record=True, when="end", dt=dt, codeobj_class=NumpyCodeObject)
        objects.append(monitor)
    if skips is not None and skips.any():
        from brian2 import TimedArray

        skipped = TimedArray(np.vstack([skips, np.zeros((1, n))]) * second, dt=dt, name="skipped*")
        references = [v for v in ("lastupdate", "tlast_pre_syn", "tlast_post_syn", *rule.state)
                      if v in syn.variables and syn.variables[v].dim == second.dim]
        if references:
            syn.namespace["skipped"] = skipped
            op = syn.run_regularly("\n".join(f"{v} = {v} - skipped(t, i)" for v in references), dt=dt,
                                   when="start", codeobj_class=NumpyCodeObject)
            objects.append(op)
    from ..rules.pairing import delay_seconds

    stop = (until if until is not None else (last + delay_seconds(rule)) * second + 3 * dt)
    Network(*objects).run(stop, namespace={})
    final = adapters.owned(syn.w[:], dtype=float)
    if not record_pre:
        return final
    trajectory = adapters.owned(monitor.w, dtype=float)
    after = [trajectory[k, np.round(np.asarray(tr, dtype=float) / float(dt)).astype(int)] for k, tr in
             enumerate(pre_trains)]
    return final, after


def _compressed(rule, pre_trains, post_trains, step):
    """(pre, post, skips): the trains with every silent stretch of a synapse longer than ``delay + 2`` steps
    shortened to that, and ``skips[tick, k]`` the seconds synapse k skips at that (new) step."""
    from ..rules.pairing import delay_seconds
    from ..rules.protocols import has_replay

    reads_t = any(sp.Symbol("t") in s.expr.free_symbols for s in (*rule.on_pre, *rule.on_post))
    if not has_replay(rule) or reads_t:
        raise PlastlabError(f"rule '{rule.name}' changes between spikes (or reads t): it cannot be compressed")
    d = int(round(delay_seconds(rule) / step))
    keep = d + 2
    new_pre, new_post, skips = [], [], []
    for pre, post in zip(pre_trains, post_trains):
        p = np.round(np.asarray(pre, dtype=float) / step).astype(np.int64)
        q = np.round(np.asarray(post, dtype=float) / step).astype(np.int64) + d  # arrivals at the synapse
        events = np.unique(np.concatenate([p, q]))
        if len(events) == 0:
            new_pre.append(p * step)
            new_post.append((q - d) * step)
            skips.append({})
            continue
        gaps = np.diff(events)
        cut = np.maximum(gaps - keep, 0)
        new_events = events - np.concatenate([[0], np.cumsum(cut)])
        where = {int(new_events[i]) + 1: int(cut[i]) * step for i in np.flatnonzero(cut)}
        mapping = dict(zip(events.tolist(), new_events.tolist()))
        new_pre.append(np.array([mapping[int(x)] for x in p], dtype=float) * step)
        new_post.append((np.array([mapping[int(x)] for x in q], dtype=float) - d) * step)
        skips.append(where)
    length = max([max(w) for w in skips if w] or [0]) + 1
    table = np.zeros((length, len(skips)))
    for k, where in enumerate(skips):
        for tick, value in where.items():
            table[tick, k] = value
    return new_pre, new_post, table



# --- the protocol battery: one Dataset per protocol ----------------------------------------------------------------

PROTOCOLS = ("window", "frequency", "triplet", "quadruplet", "rates", "weight")


def default_w0(rule):
    """The middle of the weight bounds (in the weight's unit)."""
    rule = load_rule(rule)
    unit = get_unit(rule.weight.unit) if rule.weight.unit != DIMENSIONLESS else 1
    lo, hi = (float(np.asarray(b / unit)) for b in (rule.w_min, rule.w_max))
    return 0.5 * (lo + hi) if np.isfinite(hi) else lo + 1.0


def _grid_step(trains, finest=0.1e-3):
    """The coarsest time step (a multiple of 0.1 ms, at most 10 ms) on which every spike time lies."""
    ticks = np.round(np.concatenate([np.asarray(t) for pair in trains for t in pair]) / finest).astype(np.int64)
    step = int(np.gcd.reduce(np.concatenate([ticks, [100]])))
    return max(step, 1) * finest


def _simulate(rule, schedule, w0):
    """{condition: dw} for every condition and w0, one network per time step (long silent protocols run on a
    coarse grid: nothing happens between spikes of an event-driven rule)."""
    from ..rules.protocols import has_replay

    keys = list(schedule)
    w0 = np.atleast_1d(np.asarray(w0, dtype=float))
    from ..rules.pairing import delay_seconds

    delay = np.array([delay_seconds(rule)])
    step = _grid_step([*schedule.values(), (delay, delay)]) if has_replay(rule) else 0.1e-3
    pre = [schedule[k][0] for k in keys for _ in w0]
    post = [schedule[k][1] for k in keys for _ in w0]
    weights = np.tile(w0, len(keys))
    final = drive(rule, pre, post, weights, dt=step * second, compress=has_replay(rule))
    return (final - weights).reshape(len(keys), len(w0)), step


def _closed(rule, schedule, w0):
    from ..rules.protocols import has_replay, replay

    if not has_replay(rule):
        return None
    return np.array([[replay(rule, pre, post, w) - w for w in np.atleast_1d(w0)] for pre, post in schedule.values()])


def _protocol_dataset(rule, protocol, dims, coords, dw, closed, **settings):
    w_unit = _unit_name(rule.weight.unit)
    ds = xr.Dataset({"dw": (dims, dw, {"long_name": "weight change", "units": w_unit})}, coords=coords,
                    attrs=provenance(rule, protocol=protocol, rule_pairing=str(rule.pairing),
                                     **{k: str(v) for k, v in settings.items()}))
    if closed is not None:
        ds["dw_closed_form"] = (dims, closed, {"long_name": "weight change, closed form", "units": w_unit})
    return ds


def _w0_coord(rule, w0):
    return ("w0", w0, {"long_name": "initial weight", "units": _unit_name(rule.weight.unit)})


def frequency(rule, rho=(0.1, 10, 20, 40, 50), delta_t=(10, -10), pairings=60, w0=None):
    """Δw after ``pairings`` pre-post pairs at rho Hz with Δt ms (Sjöström et al. 2001) -> dw over (rho, delta_t)."""
    from ..rules.protocols import frequency_schedule

    rule, w0 = _rule_and_w0(rule, w0)
    schedule = frequency_schedule(rho, delta_t, pairings)
    rho_v, dt_v = sorted({k[0] for k in schedule}), list(dict.fromkeys(k[1] for k in schedule))
    shape = (len(rho_v), len(dt_v), len(w0))
    order = [(r, d) for r in rho_v for d in dt_v]
    ordered = {k: schedule[k] for k in order}
    dw, step = _simulate(rule, ordered, w0)
    closed = _closed(rule, ordered, w0)
    coords = {"rho": ("rho", rho_v, {"units": "Hz", "long_name": "pairing frequency"}),
              "delta_t": ("delta_t", dt_v, {"units": "ms", "long_name": "t_post - t_pre"}),
              "w0": _w0_coord(rule, w0)}
    return _protocol_dataset(rule, "frequency", ("rho", "delta_t", "w0"), coords, dw.reshape(shape),
                             None if closed is None else closed.reshape(shape), pairings=pairings,
                             dt=f"{step * 1e3:g} ms")


def _rule_and_w0(rule, w0):
    """The loaded rule and the initial weights of a pairing protocol (default: ``default_w0``), within its bounds."""
    rule = load_rule(rule)
    w0 = np.atleast_1d(default_w0(rule) if w0 is None else w0).astype(float)
    _check_within_bounds(rule, w0)
    return rule, w0


def triplet(rule, triplets=None, repetitions=60, rate=1.0, w0=None):
    """Δw after ``repetitions`` pre-post-pre / post-pre-post triplets at ``rate`` Hz -> dw over ``triplet``."""
    from ..rules.protocols import TRIPLETS, triplet_schedule

    rule, w0 = _rule_and_w0(rule, w0)
    schedule = triplet_schedule(TRIPLETS if triplets is None else triplets, repetitions, rate)
    dw, step = _simulate(rule, schedule, w0)
    keys = list(schedule)
    coords = {"triplet": ("triplet", np.arange(len(keys))),
              "pattern": ("triplet", [k[0] for k in keys]),
              "delta_t1": ("triplet", [k[1] for k in keys], {"units": "ms"}),
              "delta_t2": ("triplet", [k[2] for k in keys], {"units": "ms"}), "w0": _w0_coord(rule, w0)}
    return _protocol_dataset(rule, "triplet", ("triplet", "w0"), coords, dw, _closed(rule, schedule, w0),
                             repetitions=repetitions, rate=f"{rate:g} Hz", dt=f"{step * 1e3:g} ms")


def quadruplet(rule, T=None, repetitions=60, rate=1.0, w0=None):
    """Δw after ``repetitions`` quadruplets (a post-pre and a pre-post pair, ±5 ms, centres T ms apart)."""
    from ..rules.protocols import QUADRUPLET_T, quadruplet_schedule

    rule, w0 = _rule_and_w0(rule, w0)
    schedule = quadruplet_schedule(QUADRUPLET_T if T is None else T, repetitions, rate)
    dw, step = _simulate(rule, schedule, w0)
    coords = {"T": ("T", list(schedule), {"units": "ms", "long_name": "interval between the pairs' centres"}),
              "w0": _w0_coord(rule, w0)}
    return _protocol_dataset(rule, "quadruplet", ("T", "w0"), coords, dw, _closed(rule, schedule, w0),
                             repetitions=repetitions, rate=f"{rate:g} Hz", dt=f"{step * 1e3:g} ms")


def weight_dependence(rule, w0=None, delta_t=(10, -10)):
    """Δw of one pre-post pair at each Δt (ms) from each w0 -> dw over (delta_t, w0)."""
    from ..rules.protocols import _checked

    rule = load_rule(rule)
    if w0 is None:
        lo, hi = (float(np.asarray(b)) for b in (rule.w_min, rule.w_max)) if rule.weight.unit == DIMENSIONLESS \
            else (0.0, 1.0)
        w0 = np.linspace(lo, min(hi, lo + 1.0), 11)
    w0 = np.atleast_1d(np.asarray(w0, dtype=float))
    _check_within_bounds(rule, w0)
    delta = _checked(delta_t, "delta_t")
    schedule = {float(d): (np.array([1e-3 + max(0, -d) * 1e-3]), np.array([1e-3 + max(0, d) * 1e-3]))
                for d in delta}
    dw, step = _simulate(rule, schedule, w0)
    coords = {"delta_t": ("delta_t", list(schedule), {"units": "ms"}), "w0": _w0_coord(rule, w0)}
    return _protocol_dataset(rule, "weight", ("delta_t", "w0"), coords, dw, _closed(rule, schedule, w0),
                             dt=f"{step * 1e3:g} ms")


def rates(rule, pre_rate=(10.0,), post_rate=(1, 5, 10, 20, 30, 40, 50), seeds=5, duration=10.0, w0=None,
          seed=0, dt=1 * ms):
    """Mean dw/dt under independent Poisson trains (Bernoulli on the ``dt`` grid) over (pre_rate, post_rate), with
    its standard error over ``seeds`` trains. Where the rule has one, ``dw_dt_closed_form`` is the expected value
    of exactly this simulation (:func:`~plastlab.rules.protocols.expected_drift`: the grid, the coincidence
    convention, traces starting at 0, the finite duration) and ``dw_dt_mean_field`` the stationary continuous-time
    drift (:func:`~plastlab.rules.protocols.mean_drift`; Pfister & Gerstner 2006); they differ by O(dt/tau) and
    O(tau/duration)."""
    from ..rules.protocols import _checked, _count, expected_drift, mean_drift

    rule = load_rule(rule)
    pre_v, post_v = _checked(pre_rate, "pre_rate"), _checked(post_rate, "post_rate")
    if np.any(pre_v < 0) or np.any(post_v < 0):
        raise PlastlabError("rates must be >= 0 Hz")
    seeds = _count(seeds, "seeds")
    duration = float(_checked(duration, "duration", positive=True)[0])
    w0 = float(default_w0(rule) if w0 is None else w0)
    _check_within_bounds(rule, np.array([w0]))
    rng = np.random.default_rng(seed)
    step = float(dt / second)
    n = int(round(duration / step))

    def poisson(rate):  # Bernoulli on the grid: at most one spike per step, none at t = 0
        return (np.flatnonzero(rng.random(n - 1) < rate * step) + 1) * step

    conditions = [(a, b, s) for a in pre_v for b in post_v for s in range(seeds)]
    trains = [(poisson(a), poisson(b)) for a, b, _ in conditions]
    final = drive(rule, [t[0] for t in trains], [t[1] for t in trains], w0, dt=dt,
                  until=duration * second)
    slope = ((final - w0) / duration).reshape(len(pre_v), len(post_v), seeds)
    coords = {"pre_rate": ("pre_rate", pre_v, {"units": "Hz"}), "post_rate": ("post_rate", post_v, {"units": "Hz"})}
    unit = f"{_unit_name(rule.weight.unit)}/s"
    ds = xr.Dataset({"dw_dt": (("pre_rate", "post_rate"), slope.mean(-1), {"long_name": "mean dw/dt", "units": unit}),
                     "dw_dt_sem": (("pre_rate", "post_rate"),
                                   slope.std(-1, ddof=1) / np.sqrt(seeds) if seeds > 1 else np.full(slope.shape[:2],
                                                                                                     np.nan),
                                   {"long_name": "standard error over seeds", "units": unit})},
                    coords=coords, attrs=provenance(rule, seed=seed, protocol="rates", seeds=seeds,
                                                    duration=f"{duration:g} s", w0=w0, dt=str(dt),
                                                    rule_pairing=str(rule.pairing)))
    try:
        ds["dw_dt_closed_form"] = (("pre_rate", "post_rate"),
                                   [[expected_drift(rule, a, b, w0, dt=step, duration=duration) for b in post_v]
                                    for a in pre_v],
                                   {"units": unit, "long_name": "expected dw/dt of these trains (grid, duration)"})
        ds["dw_dt_mean_field"] = (("pre_rate", "post_rate"), [[mean_drift(rule, a, b, w0) for b in post_v]
                                                              for a in pre_v],
                                  {"units": unit, "long_name": "stationary mean-field drift, continuous time"})
    except RuleError:
        pass
    return ds
