"""The checks a parsed rule must pass, as small named functions.

Each check takes the rule's frozen parts (:class:`plastlab.rules.rule.Parts`) and raises a RuleError naming
the section and the offending term, or returns nothing. :data:`CHECKS` runs them in order; the first failure
wins. Names are checked first, so later checks can rely on every symbol being declared once.
"""
import keyword

import numpy as np
import sympy as sp
from brian2.units import second
from brian2.units.fundamentalunits import DIMENSIONLESS, DimensionMismatchError

from ..errors import RuleError
from . import expressions as ex

__all__ = ["CHECKS", "RESERVED", "check_new_name", "check_all"]

MIN_INTERVAL_SECONDS = 1e-6  # a [periodic] interval below a microsecond would run the update every step forever
MAX_TIME_SECONDS = 1e4  # a time constant or interval past ~3 hours of simulated time is a typo, not a model


def _brian_names():
    """Every name Brian2 resolves by itself in a model: units, constants, functions and group variables."""
    from brian2.core.functions import DEFAULT_CONSTANTS, DEFAULT_FUNCTIONS
    from brian2.units import allunits, constants

    units = {n for n in dir(allunits) if not n.startswith("_")}
    physical = {n for n in dir(constants) if not n.startswith("_")}
    variables = {"t", "dt", "i", "j", "N", "N_incoming", "N_outgoing", "N_pre", "N_post", "delay", "lastupdate",
                 "lastspike", "not_refractory", "t_in_timesteps", "xi", "delta_t"}
    return units | physical | set(DEFAULT_FUNCTIONS) | set(DEFAULT_CONSTANTS) | variables


RESERVED = frozenset(_brian_names() | set(ex.FUNCTIONS) | set(ex.UNITS) | set(ex.CONSTANTS)
                     | set(keyword.kwlist) | {"w", "True", "False"})


def check_new_name(name, section):
    """A name the rule declares: an identifier, not Brian2's, not ending in _pre/_post."""
    ex.check_name(name, section=section)
    if name in RESERVED or name.startswith("xi_"):
        raise RuleError(f"'{name}' is a reserved name (a Brian2 unit, constant, function or variable)",
                        section=section, term=name)
    if name.endswith(("_pre", "_post")):
        raise RuleError(f"'{name}' ends in _pre/_post, which Brian2 reserves for neuron variables",
                        section=section, term=name)


def check_names(parts):
    """Every declared name is valid and declared once across parameters, inputs, state and traces.

    Runs on the declarations, before any expression is parsed (:data:`DECLARATION_CHECKS`)."""
    seen = {}
    for section, names in (("parameters", parts.parameters), ("inputs", parts.inputs), ("state", parts.state),
                           ("traces", parts.traces)):
        for name in names:
            check_new_name(name, section)
            if name in seen:
                raise RuleError(f"duplicate name '{name}' (also in [{seen[name]}])", section=section, term=name)
            seen[name] = section
            if section in ("state", "traces") and _sympy_name(name):
                raise RuleError(f"'{name}' is a SymPy name ({_sympy_name(name)}), which Brian2's integration of "
                                "synaptic variables would read as that instead of a variable", section=section,
                                term=name)
    for name, spec in parts.inputs.items():  # the neuron variable an input reads is a name in Brian2's model too
        variable = getattr(spec, "variable", None)
        if variable is not None and spec.source != "modulator" and variable != name:
            try:
                check_new_name(variable, "inputs")
            except RuleError as err:
                raise RuleError(f"input '{name}': variable {err.message}", section="inputs", term=variable) from None


def _sympy_name(name):
    """What SymPy makes of ``name`` when it is not a plain symbol (``Min``, ``beta``, ``S``), else ''. The name is
    looked up in SymPy's namespace (what its parser would resolve it to), never parsed: file text does not go to
    ``sympify``. A SymPy constant (I, E) Brian2 copes with; a class, function or module (Min, beta, S) it does not."""
    if not name.isidentifier():
        return "not a symbol"
    value = getattr(sp, name) if name in sp.__all__ else None  # the names ``from sympy import *`` gives its parser
    return "" if value is None or isinstance(value, sp.Basic) else f"SymPy's '{name}'"


def check_known_symbols(parts):
    """Expressions use declared names, units and constants only."""
    for item in parts.expressions():
        allowed = item.scope | set(ex.UNITS)
        unknown = sorted(s.name for s in item.expr.free_symbols if s.name not in allowed)
        if unknown:
            raise RuleError(f"unknown symbol '{unknown[0]}'", section=item.section, term=unknown[0])


def check_finite_constants(parts):
    """``inf`` bounds a weight, in ``[weight]`` or as a bound of ``clip`` (``clip(x, 0, inf)``: one-sided); anywhere
    else (``w + inf``, a rate) it makes every value infinite, silently."""
    for item in parts.expressions():
        if item.section != "weight" and _without_clip_bounds(item.expr).has(sp.oo, -sp.oo, sp.zoo, sp.nan):
            raise RuleError("inf (or an infinite constant) is allowed in weight bounds only", section=item.section,
                            term=item.what)


def _without_clip_bounds(expr):
    """``expr`` with every infinite bound of a ``clip`` replaced by 0 (its argument is kept)."""
    def finite_bounds(e):
        return ex.clip(e.args[0], *(sp.Integer(0) if b.has(sp.oo, -sp.oo) else b for b in e.args[1:]))

    return expr.replace(lambda e: isinstance(e, ex.clip), finite_bounds)


def check_dimensions(parts):
    """Every expression has the dimension its place demands (a rate: unit/second, a bound: the weight's unit)."""
    dims = parts.dimensions()
    for item in parts.expressions():
        try:
            dim = ex.dimension_of(item.expr, dict(dims, **item.extra_dims))
        except (ex.DimensionError, DimensionMismatchError) as err:
            raise RuleError(f"dimension mismatch: {err}", section=item.section, term=item.what) from None
        if item.expected is not None and dim != item.expected and not item.expr.is_zero:
            raise RuleError(f"dimension mismatch: '{item.what}' has {ex._show(dim)}, "
                            f"expected {ex._show(item.expected)}", section=item.section, term=item.what)


def check_statement_targets(parts):
    """Statements change w, a trace or a state variable, with one of the allowed operators."""
    changeable = {"w", *parts.traces, *parts.state}
    for section, statements in parts.statement_lists():
        for s in statements:
            if s.target not in changeable:
                raise RuleError(f"'{s.target}' cannot be updated: statements change w, a trace or a state variable",
                                section=section, term=s.target)


def check_bounds(parts):
    """Weight bounds are made of parameters, evaluate to numbers (±inf allowed, NaN not) and min < max."""
    values = {}
    for key in ("min", "max"):
        expr = getattr(parts.weight, key)
        if not _only_parameters(expr, parts):
            raise RuleError(f"weight bound '{key}' may use parameters only", section="weight", term=key)
        value = np.asarray(ex.evaluate(expr, parts.parameters) / _unit_of(parts.weight.unit), dtype=float)
        if np.isnan(value):
            raise RuleError(f"weight bound '{key}' is not a number", section="weight", term=key)
        values[key] = float(value)
    if not values["min"] < values["max"]:
        raise RuleError(f"weight bounds must have min < max, got min = {values['min']:g}, max = {values['max']:g}",
                        section="weight", term="min")


def check_no_division_by_zero(parts):
    """No expression divides by a combination of parameters that is 0 (``tau = "0*ms"`` in ``-x/tau``)."""
    for item in parts.expressions():
        for power in item.expr.atoms(sp.Pow):
            if power.exp.is_negative and power.base.free_symbols and _only_parameters(power.base, parts):
                value = np.asarray(ex.evaluate(power.base, parts.parameters), dtype=float)
                if np.any(value == 0):
                    raise RuleError(f"'{power.base}' is 0 with these parameters: division by zero",
                                    section=item.section, term=item.what)


def check_traces_decay(parts):
    """A linear trace decays: dx/dt = a x + b with a > 0 (a negative time constant) grows without bound."""
    for name, trace in parts.traces.items():
        x = sp.Symbol(name)
        slope = sp.diff(trace.rate, x)
        if slope.free_symbols and _only_parameters(slope, parts) and x not in slope.free_symbols:
            if float(np.asarray(ex.evaluate(slope, parts.parameters) * ex.UNITS["second"], dtype=float)) > 0:
                raise RuleError(f"trace '{name}' grows without bound (d{name}/dt = {trace.rate} has a positive "
                                "slope: a negative time constant?)", section="traces", term=name)


def check_time_constants(parts):
    """A parameter that is a time and divides (``-x/tau``, ``exp(-delta_t/tau)``) is a time constant: its size lies
    between 1 microsecond and 1e4 seconds (``tau = "1e-300*ms"`` would otherwise pass and saturate everything),
    and it is positive except in a [window] shape, where a signed scale (``tanh(delta_t/tau)``) is a fit's choice."""
    dims = parts.dimensions()
    uses = [(item.section, item.what, item.expr) for item in parts.expressions()]
    uses += [("parameters", name, expr) for name, expr in parts.parameter_expressions.items()]
    for section, what, expr in uses:
        for power in expr.atoms(sp.Pow):
            if not power.exp.is_negative:
                continue
            for symbol in sorted(power.base.free_symbols, key=lambda s: s.name):
                name = symbol.name
                if name not in parts.parameters or dims.get(name) != second.dim:
                    continue
                seconds = float(np.asarray(parts.parameters[name] / ex.UNITS["second"]))
                size_ok = MIN_INTERVAL_SECONDS <= abs(seconds) <= MAX_TIME_SECONDS
                if not size_ok or (seconds < 0 and section != "window"):
                    raise RuleError(f"time constant '{name}' = {seconds:g} s (divides in [{section}] "
                                    f"'{what}') must be {'a positive time ' if section != 'window' else ''}between "
                                    "1 microsecond and 1e4 seconds in size", section="parameters", term=name)


def _check_time_range(value, section, term, what):
    """An interval between 1 microsecond and 1e4 seconds."""
    seconds = float(np.asarray(value / ex.UNITS["second"])) if np.ndim(value) == 0 else np.nan
    if not MIN_INTERVAL_SECONDS <= seconds <= MAX_TIME_SECONDS:
        raise RuleError(f"{what} must be a positive time between 1 microsecond and 1e4 seconds, got {seconds:g} s",
                        section=section, term=term)


def check_form(parts):
    """A rule is a window rule or a trace/continuous rule, and it changes w somehow."""
    if parts.window is not None and (parts.traces or parts.on_pre or parts.on_post or parts.dw_dt is not None):
        raise RuleError("a rule has either a [window] or traces/statements/[continuous], not both", section="window")
    if parts.window is not None and (parts.state or parts.periodic):
        raise RuleError("a [window] rule has no [state] or [periodic] section", section="window")
    periodic = parts.periodic.statements if parts.periodic else ()
    changes_w = any(s.target == "w" for s in parts.on_pre + parts.on_post + periodic)
    if parts.window is None and not changes_w and parts.dw_dt is None:
        raise RuleError("the rule never changes w: give [on_pre]/[on_post]/[periodic] statements, [continuous] "
                        "dw_dt or a [window]", section="rule")


def check_window_interval(parts):
    """max_interval is a positive time made of parameters (a negative one would silently zero the window)."""
    if parts.window is not None and parts.window.max_interval is not None:
        if not _only_parameters(parts.window.max_interval, parts):
            raise RuleError("max_interval may use parameters only", section="window", term="max_interval")
        value = ex.evaluate(parts.window.max_interval, parts.parameters)
        _check_time_range(value, "window", "max_interval", "max_interval")


def check_periodic_interval(parts):
    """The interval is a positive time of at least a microsecond, made of parameters and units."""
    if parts.periodic is None:
        return
    interval = parts.periodic.interval
    ok = _only_parameters(interval, parts)
    seconds = float(ex.evaluate(interval, parts.parameters) / ex.UNITS["second"]) if ok else np.nan
    if not ok or not MIN_INTERVAL_SECONDS <= seconds <= MAX_TIME_SECONDS:
        raise RuleError("interval must be a positive time of at least 1 microsecond and at most 1e4 seconds, made of "
                        "parameters and units", section="periodic", term="interval")


def check_event_driven_traces(parts):
    """A trace declared event-driven must be one Brian2 can integrate between spikes."""
    for name in parts.declared_event_driven:
        if parts.traces[name].clock_driven:
            raise RuleError(f"trace '{name}' cannot be event-driven: its equation is not linear and one-dimensional "
                            "or a clock-driven equation reads it", section="traces", term=name)


def check_weight_clip(parts):
    """``[weight] clip = false`` (the statements bound w as written, min and max are its nominal range) is for
    rules whose statements change w: a window, continuous dynamics or a device's updates clip to the bounds."""
    if parts.weight.clip:
        return
    if parts.window is not None or parts.dw_dt is not None:
        raise RuleError("clip = false is for rules whose statements change w; a [window] or [continuous] rule is "
                        "clipped to its weight bounds", section="weight", term="clip")
    device = parts.device
    if device is not None and not getattr(device, "off", True) and getattr(device, "changes_updates", False):
        raise RuleError("clip = false cannot go with a [device] that changes the updates (the device clips each "
                        "step to the weight bounds)", section="weight", term="clip")


DECLARATION_CHECKS = (check_names,)
CHECKS = (check_known_symbols, check_finite_constants, check_dimensions, check_statement_targets, check_bounds,
          check_no_division_by_zero, check_traces_decay, check_time_constants, check_form, check_window_interval,
          check_periodic_interval, check_event_driven_traces, check_weight_clip)


def check_declarations(declared):
    for check in DECLARATION_CHECKS:
        check(declared)
    return declared


def check_all(parts):
    for check in CHECKS:
        check(parts)
    return parts


def _only_parameters(expr, parts):
    return all(s.name in parts.parameters or s.name in ex.UNITS for s in expr.free_symbols)


def _unit_of(dim):
    from brian2 import get_unit

    return 1.0 if dim is DIMENSIONLESS else get_unit(dim)

