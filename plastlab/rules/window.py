"""Learning windows in closed form: Δw for one pre/post spike pair, derived symbolically from a rule.

Window rules give their window (clipped to the weight bounds, as compiled rules do); trace rules with
event-driven traces only, no continuous weight dynamics and no inputs give the exact pair integral, found by
applying the spike updates symbolically and letting the traces decay between the two spikes. The spike-pair
*simulation* of any rule is :func:`plastlab.brian.protocols.pair_window`.
"""
import numpy as np
import sympy as sp
from brian2 import second
from brian2.units.fundamentalunits import DIMENSIONLESS, Quantity, get_dimensions

from ..errors import RuleError
from . import expressions as ex

__all__ = ["closed_form", "window_curve", "has_closed_form"]

W, DELTA_T = sp.Symbol("w"), sp.Symbol("delta_t")


def has_closed_form(rule):
    """Window rules, and trace rules whose pair integral the symbolic spike updates give (no state variables:
    they may hold spike times, which the symbolic pair does not track)."""
    return rule.window is not None or not (rule.dw_dt is not None or rule.periodic is not None or rule.inputs
                                           or rule.state or any(tr.clock_driven for tr in rule.traces.values()))


def closed_form(rule):
    """(Δt > 0 expression, Δt < 0 expression) in delta_t and w; RuleError where no closed form exists."""
    if rule.window is not None:
        lo, hi = rule.weight.min, rule.weight.max
        return (ex.clip(W + rule.window.potentiation, lo, hi) - W, ex.clip(W + rule.window.depression, lo, hi) - W)
    if not has_closed_form(rule):
        raise RuleError(f"rule '{rule.name}' has no analytic pair window (continuous dynamics, inputs or state); "
                        "simulate it with plastlab.brian.protocols.pair_window",
                        file=str(rule.source) if rule.source else None)
    gap = sp.Symbol("delta_t", positive=True)
    first_pre = _real(_pair(rule, ("on_pre", "on_post"), gap).subs(gap, DELTA_T))
    first_post = _real(_pair(rule, ("on_post", "on_pre"), gap).subs(gap, -DELTA_T))
    return first_pre, first_post


def _real(expr):
    """``expr`` as the simulation computes it, in real (C double) arithmetic: where the symbolic pair gave a complex
    number (a negative base to a fractional power, e.g. (0 - 1)**0.1 once a trace starts at 0) or an undefined one
    (0/0, zoo), the value is NaN, as Brian2's pow and division give."""
    def complex_power(e):
        return e.is_Pow and e.base.is_number and e.base.is_negative and e.exp.is_number and not e.exp.is_integer

    expr = expr.replace(complex_power, lambda e: sp.nan)
    if expr.has(sp.I, sp.zoo):
        return expr.replace(lambda e: e.is_number and e.is_extended_real is False, lambda e: sp.nan)
    return expr


def _pair(rule, order, gap):
    """Δw after the two spikes of ``order`` separated by ``gap``, traces starting at 0."""
    state = {sp.Symbol(n): sp.Integer(0) for n in rule.traces}
    state[W] = W
    for k, side in enumerate(order):
        if k:
            state = {s: _decay(rule, s.name, v, gap) if s != W else v for s, v in state.items()}
        for statement in getattr(rule, side):
            state[sp.Symbol(statement.target)] = statement.new_value().xreplace(state)
    return state[W] - W


def _decay(rule, name, value, gap):
    """A linear 1-D trace after ``gap``: x' = a x + b has x(gap) = (x0 + b/a) e^(a gap) - b/a."""
    x = sp.Symbol(name)
    rate = rule.traces[name].rate
    a, b = sp.diff(rate, x), rate.subs(x, 0)
    if a == 0:
        return value + b * gap
    return (value + b / a) * sp.exp(a * gap) - b / a


def window_curve(rule, delta_t, w0):
    """Analytic Δw on the grid delta_t (Brian2 times) × w0: a float array of shape (len(delta_t), len(w0)).

    Δt = 0 gives what Brian2 does when both spikes fall in one time step (presynaptic pathway first)."""
    if not isinstance(delta_t, Quantity) or get_dimensions(delta_t) != second.dim:
        raise RuleError("delta_t needs time units, e.g. np.arange(-100, 101) * ms")
    potentiation, depression = closed_form(rule)
    dt_grid = np.atleast_1d(np.asarray(delta_t / second, dtype=float))[:, None] * second
    w_grid = np.atleast_1d(np.asarray(w0, dtype=float))[None, :]
    w_values = w_grid if rule.weight.unit == DIMENSIONLESS else Quantity(w_grid, dim=rule.weight.unit)
    values = dict(rule.parameters, w=w_values)
    with np.errstate(all="ignore"):
        up = _broadcast(ex.evaluate(potentiation, dict(values, delta_t=dt_grid)), dt_grid, w_grid)
        down = _broadcast(ex.evaluate(depression, dict(values, delta_t=dt_grid)), dt_grid, w_grid)
        at_zero = _at_zero(rule, values) if rule.window is None else np.zeros(w_grid.shape)
    result = np.where(dt_grid > 0 * second, up, np.where(dt_grid < 0 * second, down, at_zero))
    return np.asarray(result, dtype=float)


def _at_zero(rule, values):
    if rule.pairing is not None and not rule.pairing.is_default:  # its order within a step (rules/pairing.py)
        from .protocols import replay

        w = np.asarray(values["w"], dtype=float)
        return np.vectorize(lambda w0: replay(rule, [0.01], [0.01], w0) - w0)(w)
    both = _real(_pair(rule, ("on_pre", "on_post"), sp.Integer(0)))
    return np.asarray(ex.evaluate(both, values) if both.free_symbols else float(both)) + 0 * values["w"]


def _broadcast(value, dt_grid, w_grid):
    """A float array (SI units) of the grid's shape."""
    return np.broadcast_to(np.asarray(value, dtype=float), np.broadcast_shapes(dt_grid.shape, w_grid.shape))
