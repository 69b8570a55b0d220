"""Characterisation protocols: simulate a rule in Brian2 under controlled spike patterns -> xarray Dataset."""
import numpy as np
import xarray as xr
from brian2 import Network, NeuronGroup, get_unit, ms, second
from brian2.codegen.runtime.numpy_rt import NumpyCodeObject
from brian2.units.fundamentalunits import DIMENSIONLESS, Quantity

from ..errors import PlastlabError, RuleError
from ..rules.files import load_rule
from ..store import provenance
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
    net.run(np.max(np.maximum(t_pre, t_post)) + 2 * dt + tail, namespace={})
    dw = (np.asarray(syn.w[:], dtype=float) - np.asarray(_in_weight_units(rule, pairs_w), dtype=float))
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
