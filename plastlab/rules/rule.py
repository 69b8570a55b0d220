"""The Rule: a plasticity rule held as SymPy equations with Brian2 units.

A Rule knows its parameters, traces, spike-triggered updates, optional continuous weight dynamics, inputs
from outside the synapse and weight bounds, or, instead of traces and updates, a learning window
Δw = F(Δt, w). It is built by a pipeline -- parse every section into frozen parts, then run the named checks
of :mod:`plastlab.rules.checks` -- and never changes afterwards. It prints itself as text and LaTeX; its
learning window is in :mod:`plastlab.rules.window`; ``plastlab.brian.codegen`` compiles it for Brian2.
Rules come from Python (SymPy objects or maths strings) or from TOML files (:mod:`plastlab.rules.files`).
"""
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
import sympy as sp
from brian2 import second
from brian2.units.fundamentalunits import DIMENSIONLESS, DimensionMismatchError, Quantity, get_dimensions

from ..errors import RuleError
from . import checks
from . import expressions as ex
from .statements import Statement

__all__ = ["Rule", "Trace", "Statement", "Input", "Window", "Periodic", "Weight", "Parts", "build_parts"]

SOURCES = ("pre", "post", "modulator")
FORMS = ("trace", "window", "continuous", "periodic")
OPERATORS = ("=", "+=", "-=", "*=", "/=")
W, T, DELTA_T = sp.Symbol("w"), sp.Symbol("t"), sp.Symbol("delta_t")
MAX_DESCRIPTION = 200  # characters of an input's description (one line, shown in refusals)
_STATEMENT = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(\+=|-=|\*=|/=|=)\s*(.+?)\s*$", re.S)


# --- the frozen parts -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Trace:
    """A synaptic state variable with d(name)/dt = rate; event-driven in Brian2 unless ``clock_driven``."""

    name: str
    rate: sp.Expr
    unit: object = DIMENSIONLESS
    clock_driven: bool = False


@dataclass(frozen=True)
class Input:
    """A quantity read from outside the synapse: a pre/postsynaptic neuron variable or a third factor."""

    name: str
    source: str
    unit: object = DIMENSIONLESS
    variable: str = None
    description: str = ""  # what the input is ("a teacher potential"): named when a network cannot provide it

    @property
    def needs_third_factor(self):
        return self.source == "modulator"


@dataclass(frozen=True)
class Window:
    """Δw = potentiation(Δt, w) for Δt = t_post - t_pre > 0, depression(Δt, w) for Δt < 0."""

    potentiation: sp.Expr
    depression: sp.Expr
    max_interval: object = None


@dataclass(frozen=True)
class Periodic:
    """Statements executed every ``interval`` (Brian2 ``run_regularly``), after the step's other updates."""

    interval: sp.Expr
    statements: tuple = ()


@dataclass(frozen=True)
class Weight:
    """The plastic variable w: its unit, its bounds (SymPy expressions of the parameters) and, optionally, how
    it drives the postsynaptic neuron on each presynaptic spike (``transmit``, e.g. ``ge_post += w``)."""

    unit: object = DIMENSIONLESS
    min: sp.Expr = sp.Integer(0)
    max: sp.Expr = sp.Integer(1)
    transmit: Statement = None
    clip: bool = True  # False: the statements bound w as written; min and max are its nominal range only


@dataclass(frozen=True)
class Checked:
    """One expression of a rule with what the checks need: where it is, its scope and expected dimension."""

    expr: sp.Expr
    section: str
    what: str
    scope: frozenset
    expected: object = None
    extra_dims: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Parts:
    """Everything a rule is, parsed; :mod:`plastlab.rules.checks` validates it, :class:`Rule` wraps it."""

    name: str
    summary: str
    citation: str
    source: object
    parameter_expressions: MappingProxyType
    parameters: MappingProxyType
    inputs: MappingProxyType
    state: MappingProxyType
    weight: Weight
    traces: MappingProxyType
    on_pre: tuple
    on_post: tuple
    dw_dt: object
    periodic: object
    window: object
    declared_event_driven: frozenset = frozenset()
    device: object = None  # plastlab.rules.devices.Device: the device's non-idealities, or None
    pairing: object = None  # plastlab.rules.pairing.Pairing: scheme, coincident spikes, dendritic delay

    def dimensions(self):
        dims = {n: get_dimensions(v) for n, v in self.parameters.items()}
        dims.update({n: i.unit for n, i in self.inputs.items()})
        dims.update(self.state)
        dims.update({n: tr.unit for n, tr in self.traces.items()})
        dims.update(w=self.weight.unit, t=second.dim, delta_t=second.dim)
        return dims

    def statement_lists(self):
        lists = [("on_pre", self.on_pre), ("on_post", self.on_post)]
        return lists + ([("periodic", self.periodic.statements)] if self.periodic else [])

    def expressions(self):
        """Every expression with its section, scope and expected dimension, for the checks."""
        unit = self.weight.unit
        spiking = _scope(self, window=False)
        out = [Checked(getattr(self.weight, k), "weight", k, spiking, unit) for k in ("min", "max")]
        out += [Checked(tr.rate, "traces", f"d{n}/dt", spiking, tr.unit / second.dim) for n, tr in self.traces.items()]
        dims = self.dimensions()
        for section, statements in self.statement_lists():
            for s in statements:
                expected = DIMENSIONLESS if s.op in ("*=", "/=") else dims.get(s.target)
                out.append(Checked(s.expr, section, f"{s.target} {s.op} {s.expr}", spiking, expected))
        if self.dw_dt is not None:
            out.append(Checked(self.dw_dt, "continuous", "dw_dt", spiking, unit / second.dim))
        if self.periodic is not None:
            out.append(Checked(self.periodic.interval, "periodic", "interval", spiking, second.dim))
        if self.window is not None:
            windowed = _scope(self, window=True)
            out += [Checked(self.window.potentiation, "window", "potentiation", windowed, unit),
                    Checked(self.window.depression, "window", "depression", windowed, unit)]
            if self.window.max_interval is not None:
                out.append(Checked(self.window.max_interval, "window", "max_interval", windowed, second.dim))
        return out


def _scope(parts, *, window):
    names = [*parts.parameters, *parts.inputs, "w"]
    names += ["delta_t"] if window else [*parts.state, *parts.traces, "t"]
    return frozenset(names)


# --- parse ------------------------------------------------------------------------------------------------

def build_parts(name, *, summary="", citation="", parameters=None, weight=None, inputs=None, state=None,
                traces=None, on_pre=(), on_post=(), dw_dt=None, periodic=None, window=None, source=None,
                device=None, pairing=None):
    """Parse every section into frozen parts, run the checks, decide which traces Brian2 integrates each step."""
    where = str(source) if source else None
    try:
        checks.check_new_name(str(name).replace("-", "_"), "rule")
        expressions, values = parse_parameters(parameters or {})
        declared = Declared(values, parse_inputs(inputs or {}), parse_state(state or {}),
                            parse_unit((weight or {}).get("unit", "1") if isinstance(weight, dict) else
                                       getattr(weight, "unit", DIMENSIONLESS), "weight", "unit"),
                            *parse_trace_declarations(traces or {}))
        checks.check_declarations(declared)
        parts = Parts(
            name=name, summary=summary, citation=citation, source=source,
            parameter_expressions=MappingProxyType(expressions), parameters=MappingProxyType(values),
            inputs=MappingProxyType(declared.inputs), state=MappingProxyType(declared.state),
            weight=parse_weight(weight, declared), traces=MappingProxyType(parse_traces(traces or {}, declared)),
            on_pre=parse_statements(on_pre, "on_pre", declared), on_post=parse_statements(on_post, "on_post", declared),
            dw_dt=None if dw_dt is None else declared.expression(dw_dt, "continuous"),
            periodic=parse_periodic(periodic, declared), window=parse_window(window, declared),
            declared_event_driven=frozenset(n for n, kind in declared.kinds.items() if kind == "event"))
        parts = replace(parts, traces=MappingProxyType(integration_kinds(parts, declared.kinds)))
        from .devices import check_device, parse_device
        from .pairing import check_pairing, parse_pairing

        parts = replace(parts, device=parse_device(device), pairing=parse_pairing(pairing, declared))
        check_pairing(parts)
        return check_device(checks.check_all(parts))
    except RuleError as err:
        raise err.located(file=where) from None


@dataclass
class Declared:
    """Names a rule declares before its expressions are read: the scope the parser resolves symbols in."""

    parameters: dict
    inputs: dict
    state: dict
    weight_unit: object
    trace_units: dict
    kinds: dict

    @property
    def traces(self):
        return self.trace_units

    def symbols(self, *, window=False):
        names = [*self.parameters, *self.inputs, "w"]
        names += ["delta_t"] if window else [*self.state, *self.trace_units, "t"]
        return {n: sp.Symbol(n) for n in names}

    def expression(self, value, section, *, window=False, what=None):
        """Text (parsed through the whitelist) or a SymPy expression, as SymPy."""
        if isinstance(value, sp.Expr):
            return value
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return ex.parse_expression(value, self.symbols(window=window), section=section)
        raise RuleError(f"{what or 'expression'} must be text or a SymPy expression, got {type(value).__name__}",
                        section=section, term=str(value)[:80])


def parse_parameters(parameters):
    """Evaluate parameters in order (each may use the ones before it): (expressions, finite quantities)."""
    if not isinstance(parameters, dict):
        raise RuleError("must be a table of name = value", section="parameters")
    expressions, values = {}, {}
    for name, value in parameters.items():
        checks.check_new_name(name, "parameters")
        if isinstance(value, Quantity) or (isinstance(value, (int, float, np.number)) and not isinstance(value, bool)):
            number = value
            expr = sp.Float(float(value)) if not isinstance(value, Quantity) else sp.Symbol(name)
        else:
            try:
                expr = ex.parse_expression(value, {n: sp.Symbol(n) for n in values}, section="parameters",
                                           evaluate=False)
                number = ex.evaluate(expr, values)
            except RuleError as err:
                raise RuleError(err.message, section="parameters", term=name) from None
            except DimensionMismatchError as err:
                raise RuleError(f"dimension mismatch in parameter '{name}': {err}", section="parameters",
                                term=name) from None
            except (TypeError, ValueError, KeyError, OverflowError, ZeroDivisionError) as err:
                raise RuleError(f"cannot evaluate parameter '{name}': {err}", section="parameters", term=name) from None
        quantity = ex.as_quantity(number)
        if np.ndim(quantity) != 0 or not np.all(np.isfinite(np.asarray(quantity))):
            raise RuleError(f"parameter '{name}' is {np.asarray(quantity)}: values must be finite numbers",
                            section="parameters", term=name)
        expressions[name] = expr
        values[name] = quantity if get_dimensions(quantity) != DIMENSIONLESS else float(quantity)
    return expressions, values


def parse_unit(text, section, term):
    """A unit written as text ("nS", "1") or given as a Brian2 unit/dimension, as a dimension."""
    if not isinstance(text, str):
        return get_dimensions(text)
    unit = ex.evaluate_unit(text, section=section, term=term)
    return get_dimensions(unit)


def _table(value, section, allowed, what):
    if not isinstance(value, dict):
        raise RuleError(f"{what} must be a table", section=section, term=what)
    extra = sorted(set(value) - set(allowed))
    if extra:
        raise RuleError(f"unknown key '{extra[0]}' for {what}", section=section, term=what)
    return value


def parse_inputs(inputs):
    result = {}
    for name, spec in _table(inputs, "inputs", inputs, "[inputs]").items():
        if isinstance(spec, Input):
            spec = dict(source=spec.source, unit=spec.unit, variable=spec.variable, description=spec.description)
        if not isinstance(spec, dict) or spec.get("source") not in SOURCES:
            raise RuleError(f"input '{name}' needs source = one of {', '.join(SOURCES)}", section="inputs", term=name)
        _table(spec, "inputs", ("source", "unit", "variable", "description"), f"input '{name}'")
        variable = ex.check_name(spec.get("variable") or name, section="inputs")
        if spec["source"] == "modulator" and spec.get("variable") not in (None, name):
            raise RuleError(f"modulator input '{name}' cannot name a neuron variable", section="inputs", term=name)
        description = spec.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION or "\n" in description:
            raise RuleError(f"description of input '{name}' must be one line of text (at most {MAX_DESCRIPTION} "
                            "characters)", section="inputs", term=name)
        result[name] = Input(name, spec["source"], parse_unit(spec.get("unit", "1"), "inputs", name), variable,
                             description.strip())
    return result


def parse_state(state):
    """Synaptic variables without dynamics of their own, changed only by statements."""
    return {name: parse_unit(unit.get("unit", "1") if isinstance(unit, dict) else unit, "state", name)
            for name, unit in _table(state, "state", state, "[state]").items()}


def parse_trace_declarations(traces):
    """(units, kinds) of the declared traces; their rates are read once every name is known."""
    units, kinds = {}, {}
    for name, spec in _table(traces, "traces", traces, "[traces]").items():
        spec = _trace_spec(spec)
        _table(spec, "traces", ("rate", "unit", "kind"), f"trace '{name}'")
        if spec.get("kind") not in (None, "clock", "event"):
            raise RuleError(f"kind of trace '{name}' must be 'clock' or 'event'", section="traces", term=name)
        if "rate" not in spec:
            raise RuleError(f"trace '{name}' needs a rate (d{name}/dt)", section="traces", term=name)
        units[name] = parse_unit(spec.get("unit", "1"), "traces", name)
        kinds[name] = spec.get("kind")
    return units, kinds


def _trace_spec(spec):
    if isinstance(spec, Trace):
        return dict(rate=spec.rate, unit=spec.unit, kind="clock" if spec.clock_driven else None)
    return spec if isinstance(spec, dict) else dict(rate=spec)


def parse_traces(traces, declared):
    return {n: Trace(n, declared.expression(_trace_spec(spec)["rate"], "traces", what=f"d{n}/dt"),
                     declared.trace_units[n]) for n, spec in traces.items()}


def parse_weight(weight, declared):
    if isinstance(weight, Weight):
        weight = dict(unit=weight.unit, min=weight.min, max=weight.max, transmit=weight.transmit, clip=weight.clip)
    weight = {k: v for k, v in _table(dict(weight or {}), "weight", ("unit", "min", "max", "transmit", "clip"),
                                      "[weight]").items() if v is not None}
    clip = weight.get("clip", True)
    if not isinstance(clip, bool):
        raise RuleError("clip must be true (updates are clipped to min and max) or false (the statements bound w "
                        "as written; min and max are its nominal range)", section="weight", term="clip")
    bounds = {}
    for key, default in (("min", 0), ("max", 1)):
        if key not in weight and declared.weight_unit != DIMENSIONLESS:
            raise RuleError(f"a weight with unit {ex._show(declared.weight_unit)} needs an explicit '{key}'",
                            section="weight", term=key)
        bounds[key] = declared.expression(weight.get(key, default), "weight", what=key)
    transmit = parse_transmit(weight["transmit"], declared) if "transmit" in weight else None
    return Weight(declared.weight_unit, bounds["min"], bounds["max"], transmit, clip)


def parse_transmit(text, declared):
    """``VAR_post op expression of w and parameters``: what a presynaptic spike does to the target neuron."""
    if isinstance(text, Statement):
        return text
    match = _STATEMENT.match(text) if isinstance(text, str) else None
    if not match or not match.group(1).endswith("_post") or match.group(2) not in ("=", "+=", "-="):
        raise RuleError("transmit must be 'VARIABLE_post += expression' (or -=, =), e.g. 'ge_post += w'",
                        section="weight", term=str(text)[:80])
    target, op, expr = match.groups()
    ex.check_name(target, section="weight")
    symbols = {n: sp.Symbol(n) for n in [*declared.parameters, "w"]}
    return Statement(target, op, ex.parse_expression(expr, symbols, section="weight"))


def parse_window(window, declared):
    if window is None:
        return None
    if isinstance(window, Window):
        window = dict(potentiation=window.potentiation, depression=window.depression, max_interval=window.max_interval)
    window = {k: v for k, v in _table(dict(window), "window", ("potentiation", "depression", "max_interval"),
                                      "[window]").items() if v is not None}
    branches = {}
    for key in ("potentiation", "depression"):
        if key not in window:
            raise RuleError(f"missing '{key}'", section="window", term=key)
        branches[key] = declared.expression(window[key], "window", window=True, what=key)
    interval = window.get("max_interval")
    if interval is not None:
        interval = declared.expression(interval, "window", window=True, what="max_interval")
    return Window(branches["potentiation"], branches["depression"], interval)


def parse_periodic(periodic, declared):
    """Statements run every ``interval`` (e.g. a normalised weight update applied twice a second)."""
    if periodic is None:
        return None
    if isinstance(periodic, Periodic):
        periodic = dict(interval=periodic.interval, statements=periodic.statements)
    if not isinstance(periodic, dict) or set(periodic) - {"interval", "statements"} or "interval" not in periodic:
        extra = sorted(set(periodic) - {"interval", "statements"}) if isinstance(periodic, dict) else []
        raise RuleError("[periodic] takes 'interval' and 'statements'", section="periodic",
                        term=extra[0] if extra else "interval")
    return Periodic(declared.expression(periodic["interval"], "periodic", what="interval"),
                    parse_statements(periodic.get("statements", []), "periodic", declared))


def parse_statements(statements, section, declared):
    if isinstance(statements, dict):
        _table(statements, section, ("statements",), f"[{section}]")
        statements = statements.get("statements", [])
    if isinstance(statements, str) or not isinstance(statements, (list, tuple)):
        raise RuleError("statements must be a list", section=section)
    result = []
    for item in statements:
        if isinstance(item, str):
            match = _STATEMENT.match(item)
            if not match:
                raise RuleError("expected 'target = expression' (or += -= *= /=)", section=section, term=item[:80])
            target, op, text = match.groups()
        elif isinstance(item, Statement):
            target, op, text = item.target, item.op, item.expr
        elif isinstance(item, (list, tuple)) and len(item) == 3:
            target, op, text = item
        else:
            raise RuleError("a statement is text like 'x += A'", section=section, term=str(item)[:80])
        if op not in OPERATORS:
            raise RuleError(f"operator '{op}' is not one of {' '.join(OPERATORS)}", section=section, term=op)
        result.append(Statement(target, op, declared.expression(text, section, what=f"{target} {op} {text}")))
    return tuple(result)


def integration_kinds(parts, declared_kinds):
    """Traces with the flag Brian2 needs: clock-driven unless linear, one-dimensional and read only at spikes.

    A trace whose rate reads w, t, another trace or an input (which changes from outside) is not 1-D; traces
    read by the continuous weight dynamics or by periodic updates must be clock-driven too, because Brian2
    brings event-driven variables up to date at spikes only.
    """
    rates = {n: tr.rate for n, tr in parts.traces.items()}
    names = {sp.Symbol(n) for n in [*rates, *parts.inputs]}
    clock = {n for n, kind in declared_kinds.items() if kind == "clock"}
    for name, rate in rates.items():
        x = sp.Symbol(name)
        reads_state = rate.free_symbols & (names | {W, T}) - {x}
        if reads_state or x in sp.diff(rate, x).free_symbols:
            clock.add(name)
    readers = ([parts.dw_dt] if parts.dw_dt is not None else [])
    readers += [s.expr for s in parts.periodic.statements] if parts.periodic else []
    while True:
        needed = {s.name for e in [rates[n] for n in clock] + readers for s in e.free_symbols if s.name in rates}
        if needed <= clock:
            break
        clock |= needed
    return {n: replace(tr, clock_driven=n in clock) for n, tr in parts.traces.items()}


# --- the Rule -----------------------------------------------------------------------------------------------

class Rule:
    """A plasticity rule as equations: parsed, checked, immutable.

    ``Rule(name, parameters=..., traces=..., on_pre=..., on_post=..., ...)`` takes maths text or SymPy for
    every expression (format of each section: rules/README.md).
    """

    __slots__ = ("_parts", "_spec")

    def __init__(self, name, *, summary="", citation="", parameters=None, weight=None, inputs=None, state=None,
                 traces=None, on_pre=(), on_post=(), dw_dt=None, periodic=None, window=None, source=None,
                 device=None, pairing=None):
        spec = dict(summary=summary, citation=citation, parameters=dict(parameters or {}), weight=weight,
                    inputs=inputs, state=state, traces=traces, on_pre=on_pre, on_post=on_post, dw_dt=dw_dt,
                    periodic=periodic, window=window, source=source, device=device, pairing=pairing)
        object.__setattr__(self, "_parts", build_parts(name, **spec))
        object.__setattr__(self, "_spec", MappingProxyType(spec))

    def __setattr__(self, name, value):
        raise AttributeError(f"a Rule is immutable; use with_parameters() for a changed copy ('{name}')")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return getattr(object.__getattribute__(self, "_parts"), name)
        except AttributeError:
            hint = " (run a rule in Brian2 with plastlab.synapses(rule, source, target))" if name == "synapses" else ""
            raise AttributeError(f"'Rule' object has no attribute '{name}'{hint}") from None

    def __getstate__(self):
        return {"name": self.name, "spec": dict(self._spec)}

    def __setstate__(self, state):
        object.__setattr__(self, "_parts", build_parts(state["name"], **state["spec"]))
        object.__setattr__(self, "_spec", MappingProxyType(state["spec"]))

    # --- what a rule is ----------------------------------------------------------------------------------

    @property
    def form(self):
        """'window' (Δw = F(Δt, w)), 'continuous' (has dw/dt), 'periodic' or 'trace' (spike-triggered updates)."""
        if self.window is not None:
            return "window"
        if self.dw_dt is not None:
            return "continuous"
        return "periodic" if any(s.target == "w" for s in getattr(self.periodic, "statements", ())) else "trace"

    @property
    def w_min(self):
        return self._bound(self.weight.min)

    @property
    def w_max(self):
        return self._bound(self.weight.max)

    def _bound(self, expr):
        value = ex.evaluate(expr, self.parameters)
        return value if self.weight.unit == DIMENSIONLESS else Quantity(value, dim=self.weight.unit)

    @property
    def third_factors(self):
        """Names of inputs that a network must provide from outside the two neurons (modulator inputs)."""
        return [name for name, i in self.inputs.items() if i.needs_third_factor]

    def with_parameters(self, **values):
        """The same rule with some parameters changed (numbers, Brian2 quantities or expression text);
        parameters defined from them (e.g. gamma = exp(-T_update/tau)) follow."""
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            raise RuleError(f"rule '{self.name}' has no parameter '{unknown[0]}'",
                            file=str(self.source) if self.source else None, section="parameters", term=unknown[0])
        return Rule(self.name, **dict(self._spec, parameters={**self._spec["parameters"], **values}))

    def with_device(self, device=None, **values):
        """The same rule on a non-ideal device (:mod:`plastlab.rules.devices`): ``device`` (a table or a Device)
        replaces the rule's ``[device]``; keyword values change single keys of it (``with_device(levels=16)``)."""
        from .devices import merge_device

        base = self.device if device is None else device
        return Rule(self.name, **dict(self._spec, device=merge_device(base, values)))

    def with_pairing(self, **values):
        """The same rule with keys of its ``[pairing]`` changed (scheme, coincident, delay:
        :mod:`plastlab.rules.pairing`), e.g. ``with_pairing(scheme="nearest_symmetric")``."""
        base = self.pairing
        table = {"scheme": base.scheme, "coincident": base.coincident, "delay": base.delay}
        return Rule(self.name, **dict(self._spec, pairing={k: v for k, v in {**table, **values}.items()
                                                           if v is not None}))

    def __repr__(self):
        return f"<Rule {self.name} ({self.form}): {self.summary}>"

    # --- display -----------------------------------------------------------------------------------------

    def equations(self):
        """(label, lhs, rhs) triples: the rule's equations in order, as SymPy."""
        rows = [("trace", sp.Derivative(sp.Function(n)(T), T), tr.rate) for n, tr in self.traces.items()]
        for side in ("on_pre", "on_post"):
            rows += [(side, sp.Symbol(s.target), s.new_value()) for s in getattr(self, side)]
        if self.dw_dt is not None:
            rows.append(("continuous", sp.Derivative(sp.Function("w")(T), T), self.dw_dt))
        if self.periodic is not None:
            label = f"every {ex.to_code(self.periodic.interval)}"
            rows += [(label, sp.Symbol(s.target), s.new_value()) for s in self.periodic.statements]
        if self.window is not None:
            rows += [("window dt>0", sp.Symbol("Delta_w"), self.window.potentiation),
                     ("window dt<0", sp.Symbol("Delta_w"), self.window.depression)]
        return rows

    def equations_text(self):
        lines = []
        for label, lhs, rhs in self.equations():
            text = ex.to_code(rhs)
            if label == "trace":
                lines.append(f"d{lhs.args[0].func}/dt = {text}")
            elif label.startswith("window"):
                lines.append(f"Δw = {text}   (Δt {label[-2]} 0)")
            elif label == "continuous":
                lines.append(f"dw/dt = {text}")
            else:
                lines.append(f"{label}: {lhs} <- {text}")
        return "\n".join(lines)

    def latex(self):
        lines = []
        for label, lhs, rhs in self.equations():
            if label in ("trace", "continuous"):
                name = sp.latex(sp.Symbol(str(lhs.args[0].func)))
                lines.append(rf"\frac{{d{name}}}{{dt}} = {sp.latex(rhs)}")
            elif label.startswith("window"):
                cond = r"\Delta t > 0" if label.endswith(">0") else r"\Delta t < 0"
                lines.append(rf"\Delta w = {sp.latex(rhs)} \quad ({cond})")
            else:
                lines.append(rf"\text{{{label.replace('_', ' ')}}}:\; {sp.latex(lhs)} \leftarrow {sp.latex(rhs)}")
        return "\n".join(lines)

    # --- learning window (plastlab.rules.window) ---------------------------------------------------------

    def window_expressions(self):
        """Analytic Δw for one pre/post pair: (Δt > 0, Δt < 0) expressions in delta_t and w."""
        from .window import closed_form

        return closed_form(self)

    def window_curve(self, delta_t, w0):
        """Analytic Δw on the grid delta_t (Brian2 times) × w0, shape (len(delta_t), len(w0))."""
        from .window import window_curve

        return window_curve(self, delta_t, w0)
