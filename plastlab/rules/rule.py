"""The Rule: a plasticity rule held as SymPy equations with Brian2 units.

A Rule knows its parameters, traces, spike-triggered updates, optional continuous weight dynamics, inputs
from outside the synapse and weight bounds, or, instead of traces and updates, a learning window
Δw = F(Δt, w). It validates itself (names, dimensions, values) on construction, prints itself as text and
LaTeX and gives its analytic pair window where one exists. It knows nothing of networks: ``brian.py``
compiles it. Rules come from Python (SymPy objects or maths strings) or from TOML files (``load_rule``).
"""
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp
from brian2 import second
from brian2.units.fundamentalunits import DIMENSIONLESS, DimensionMismatchError, Quantity, get_dimensions

from . import expressions as ex
from ..errors import RuleError

SOURCES = ("pre", "post", "modulator")
FORMS = ("trace", "window", "continuous", "periodic")
OPERATORS = ("=", "+=", "-=", "*=", "/=")
RESERVED = {"t", "dt", "i", "j", "N", "xi", "w", "lastspike", "not_refractory", "delta_t", "inf", "pi", "e",
            "True", "False", "and", "or", "not"} | set(ex.FUNCTIONS) | set(ex.UNITS)
RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
W, T, DELTA_T = sp.Symbol("w"), sp.Symbol("t"), sp.Symbol("delta_t")
_STATEMENT = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(\+=|-=|\*=|/=|=)\s*(.+?)\s*$", re.S)


@dataclass(frozen=True)
class Trace:
    """A synaptic state variable with d(name)/dt = rate; event-driven in Brian2 unless ``clock_driven``."""

    name: str
    rate: sp.Expr
    unit: object = DIMENSIONLESS
    clock_driven: bool = False


@dataclass(frozen=True)
class Statement:
    """One update ``target op expr`` executed on a spike (op is one of = += -= *= /=)."""

    target: str
    op: str
    expr: sp.Expr

    def new_value(self):
        """The target's value after the statement, as an expression of the old one."""
        old = sp.Symbol(self.target)
        return {"=": self.expr, "+=": old + self.expr, "-=": old - self.expr, "*=": old * self.expr,
                "/=": old / self.expr}[self.op]

    def __str__(self):
        return f"{self.target} {self.op} {self.expr}"


@dataclass(frozen=True)
class Input:
    """A quantity read from outside the synapse: a pre/postsynaptic neuron variable or a third factor."""

    name: str
    source: str
    unit: object = DIMENSIONLESS
    variable: str = None

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
    """The plastic variable w: its unit and its bounds (SymPy expressions of the parameters)."""

    unit: object = DIMENSIONLESS
    min: sp.Expr = sp.Integer(0)
    max: sp.Expr = sp.Integer(1)


class Rule:
    """A plasticity rule as equations. Validated on construction; immutable by convention."""

    def __init__(self, name, *, summary="", citation="", parameters=None, weight=None, inputs=None, state=None,
                 traces=None, on_pre=(), on_post=(), dw_dt=None, periodic=None, window=None, source=None):
        self.name, self.summary, self.citation, self.source = name, summary, citation, source
        self._where = str(source) if source else None
        self._spec = dict(summary=summary, citation=citation, parameters=dict(parameters or {}), weight=weight,
                          inputs=inputs, state=state, traces=traces, on_pre=on_pre, on_post=on_post, dw_dt=dw_dt,
                          periodic=periodic, window=window, source=source)
        try:
            ex.check_name(name.replace("-", "_"), section="rule")
            self.parameter_expressions, self.parameters = _parameters(parameters or {}, self._fail)
            self.inputs = self._inputs(inputs or {})
            self.state = self._state(state or {})
            self.weight = self._weight(weight)
            self.window = self._window(window)
            self.traces = self._traces(traces or {})
            self.on_pre = self._statements(on_pre, "on_pre")
            self.on_post = self._statements(on_post, "on_post")
            self.dw_dt = None if dw_dt is None else self._expression(dw_dt, "continuous", self._dims())
            self.periodic = self._periodic(periodic)
            self._validate()
        except RuleError as err:
            raise err.located(file=self._where) from None

    # --- construction helpers -------------------------------------------------------------------------

    def _fail(self, message, *, section=None, term=None):
        raise RuleError(message, file=self._where, section=section, term=term)

    def _located(self, err, section):
        return err.located(file=self._where, section=section)

    def _symbols(self, *, window=False):
        names = list(self.parameters) + list(getattr(self, "inputs", {})) + ["w"]
        names += ["delta_t"] if window else [*getattr(self, "state", {}), *getattr(self, "traces", {}), "t"]
        return {n: sp.Symbol(n) for n in names}

    def _dims(self, *, window=False):
        dims = {n: get_dimensions(v) for n, v in self.parameters.items()}
        dims.update({n: i.unit for n, i in getattr(self, "inputs", {}).items()})
        dims.update(getattr(self, "state", {}))
        dims.update({n: tr.unit for n, tr in getattr(self, "traces", {}).items()})
        dims.update(w=self.weight.unit if hasattr(self, "weight") else DIMENSIONLESS,
                    t=second.dim, delta_t=second.dim)
        return dims

    def _expression(self, value, section, dims, *, expected=None, window=False, what=None):
        """Parse (if text) and check one expression: known symbols only, dimension ``expected``."""
        try:
            expr = ex.parse_expression(value, self._symbols(window=window), section=section) \
                if isinstance(value, (str, int, float)) else value
        except RuleError as err:
            raise self._located(err, section) from None
        if not isinstance(expr, sp.Expr):
            self._fail(f"{what or 'expression'} must be text or a SymPy expression, got {type(expr).__name__}",
                       section=section, term=str(value)[:80])
        allowed = set(self._symbols(window=window)) | set(ex.UNITS)
        unknown = sorted(s.name for s in expr.free_symbols if s.name not in allowed)
        if unknown:
            self._fail(f"unknown symbol '{unknown[0]}'", section=section, term=unknown[0])
        try:
            dim = ex.dimension_of(expr, dims)
        except (ex.DimensionError, DimensionMismatchError) as err:
            self._fail(f"dimension mismatch: {err}", section=section, term=what or str(expr))
        if expected is not None and dim != expected and not expr.is_zero:
            self._fail(f"dimension mismatch: '{what or expr}' has {ex._show(dim)}, expected {ex._show(expected)}",
                       section=section, term=what or str(expr))
        return expr

    def _only_parameters(self, expr):
        return all(s.name in self.parameters or s.name in ex.UNITS for s in expr.free_symbols)

    def _unit(self, text, section, term):
        try:
            unit = ex.evaluate(ex.parse_expression(str(text), {}, section=section), {})
        except RuleError as err:
            raise self._located(err, section) from None
        return get_dimensions(unit)

    def _inputs(self, inputs):
        result = {}
        for name, spec in inputs.items():
            if isinstance(spec, Input):
                spec = dict(source=spec.source, unit=spec.unit, variable=spec.variable)
            self._check_new_name(name, "inputs", result)
            if not isinstance(spec, dict) or spec.get("source") not in SOURCES:
                self._fail(f"input '{name}' needs source = one of {', '.join(SOURCES)}", section="inputs", term=name)
            extra = set(spec) - {"source", "unit", "variable"}
            if extra:
                self._fail(f"unknown key '{sorted(extra)[0]}' for input '{name}'", section="inputs", term=name)
            unit = spec.get("unit", "1")
            unit = self._unit(unit, "inputs", name) if isinstance(unit, str) else get_dimensions(unit)
            variable = ex.check_name(spec.get("variable") or name, section="inputs")
            if spec["source"] == "modulator" and spec.get("variable") not in (None, name):
                self._fail(f"modulator input '{name}' cannot name a neuron variable", section="inputs", term=name)
            result[name] = Input(name, spec["source"], unit, variable)
        return result

    def _weight(self, weight):
        if isinstance(weight, Weight):
            weight = dict(unit=weight.unit, min=weight.min, max=weight.max)
        weight = dict(weight or {})
        extra = set(weight) - {"unit", "min", "max"}
        if extra:
            self._fail(f"unknown key '{sorted(extra)[0]}'", section="weight", term=sorted(extra)[0])
        unit = weight.get("unit", "1")
        unit = self._unit(unit, "weight", "unit") if isinstance(unit, str) else get_dimensions(unit)
        self.weight = Weight(unit)  # bounds are checked against it below
        dims = self._dims()
        bounds = {}
        for key, default in (("min", 0), ("max", 1)):
            if key not in weight and unit != DIMENSIONLESS:
                self._fail(f"a weight with unit {ex._show(unit)} needs an explicit '{key}'", section="weight", term=key)
            bounds[key] = self._expression(weight.get(key, default), "weight", dims, expected=unit, what=key)
            if not self._only_parameters(bounds[key]):
                self._fail(f"weight bound '{key}' may use parameters only", section="weight", term=key)
        return Weight(unit, bounds["min"], bounds["max"])

    def _window(self, window):
        if window is None:
            return None
        if isinstance(window, Window):
            window = dict(potentiation=window.potentiation, depression=window.depression,
                          max_interval=window.max_interval)
        window = {k: v for k, v in dict(window).items() if v is not None}
        extra = set(window) - {"potentiation", "depression", "max_interval"}
        if extra:
            self._fail(f"unknown key '{sorted(extra)[0]}'", section="window", term=sorted(extra)[0])
        dims = self._dims(window=True)
        branches = {}
        for key in ("potentiation", "depression"):
            if key not in window:
                self._fail(f"missing '{key}'", section="window", term=key)
            branches[key] = self._expression(window[key], "window", dims, expected=self.weight.unit,
                                             window=True, what=key)
        interval = window.get("max_interval")
        if interval is not None:
            interval = self._expression(interval, "window", dims, expected=second.dim, window=True,
                                        what="max_interval")
            if not self._only_parameters(interval):
                self._fail("max_interval may use parameters only", section="window", term="max_interval")
        return Window(branches["potentiation"], branches["depression"], interval)

    def _traces(self, traces):
        declared = {}
        for name, spec in traces.items():
            if isinstance(spec, Trace):
                spec = dict(rate=spec.rate, unit=spec.unit, kind="clock" if spec.clock_driven else None)
            elif not isinstance(spec, dict):
                spec = dict(rate=spec)
            extra = set(spec) - {"rate", "unit", "kind"}
            if extra:
                self._fail(f"unknown key '{sorted(extra)[0]}' for trace '{name}'", section="traces", term=name)
            if spec.get("kind") not in (None, "clock", "event"):
                self._fail(f"kind of trace '{name}' must be 'clock' or 'event'", section="traces", term=name)
            if "rate" not in spec:
                self._fail(f"trace '{name}' needs a rate (d{name}/dt)", section="traces", term=name)
            self._check_new_name(name, "traces", declared)
            unit = spec.get("unit", "1")
            unit = self._unit(unit, "traces", name) if isinstance(unit, str) else get_dimensions(unit)
            declared[name] = (spec, unit)
        self.traces = {n: Trace(n, sp.Integer(0), unit) for n, (_, unit) in declared.items()}
        dims = self._dims()
        rates = {n: self._expression(spec["rate"], "traces", dims, expected=unit / second.dim, what=f"d{n}/dt")
                 for n, (spec, unit) in declared.items()}
        forced = {n for n, (spec, _) in declared.items() if spec.get("kind") == "clock"}
        clock = _clock_driven(rates, forced, [], self.inputs)
        for n, (spec, _) in declared.items():
            if spec.get("kind") == "event" and n in clock:
                self._fail(f"trace '{n}' cannot be event-driven: its equation is not linear and one-dimensional "
                           "or a clock-driven equation reads it", section="traces", term=n)
        return {n: Trace(n, rates[n], unit, n in clock) for n, (_, unit) in declared.items()}

    def _state(self, state):
        """Synaptic variables without dynamics of their own, changed only by statements."""
        result = {}
        for name, unit in state.items():
            self._check_new_name(name, "state", result)
            unit = unit.get("unit", "1") if isinstance(unit, dict) else unit
            result[name] = self._unit(unit, "state", name) if isinstance(unit, str) else get_dimensions(unit)
        return result

    def _periodic(self, periodic):
        """Statements run every ``interval`` (e.g. a normalised weight update applied twice a second)."""
        if periodic is None:
            return None
        if isinstance(periodic, Periodic):
            periodic = dict(interval=periodic.interval, statements=periodic.statements)
        extra = set(periodic) - {"interval", "statements"}
        if extra or "interval" not in periodic:
            self._fail("[periodic] takes 'interval' and 'statements'", section="periodic",
                       term=sorted(extra)[0] if extra else "interval")
        interval = self._expression(periodic["interval"], "periodic", self._dims(), expected=second.dim,
                                    what="interval")
        if not self._only_parameters(interval) or not float(ex.evaluate(interval, self.parameters) / second) > 0:
            self._fail("interval must be a positive time made of parameters and units", section="periodic",
                       term="interval")
        return Periodic(interval, self._statements(periodic.get("statements", []), "periodic"))

    def _statements(self, statements, section):
        if isinstance(statements, dict):
            extra = set(statements) - {"statements"}
            if extra:
                self._fail(f"unknown key '{sorted(extra)[0]}'", section=section, term=sorted(extra)[0])
            statements = statements.get("statements", [])
        if isinstance(statements, str) or not isinstance(statements, (list, tuple)):
            self._fail("statements must be a list", section=section)
        dims, result = self._dims(), []
        for item in statements:
            if isinstance(item, str):
                match = _STATEMENT.match(item)
                if not match:
                    self._fail("expected 'target = expression' (or += -= *= /=)", section=section, term=item[:80])
                target, op, text = match.groups()
            elif isinstance(item, Statement):
                target, op, text = item.target, item.op, item.expr
            else:
                target, op, text = item
            if target != "w" and target not in self.traces and target not in self.state:
                self._fail(f"'{target}' cannot be updated: statements change w, a trace or a state variable",
                           section=section, term=target)
            if op not in OPERATORS:
                self._fail(f"operator '{op}' is not one of {' '.join(OPERATORS)}", section=section, term=op)
            target_dim = dims[target]
            expected = DIMENSIONLESS if op in ("*=", "/=") else target_dim
            expr = self._expression(text, section, dims, expected=expected, what=f"{target} {op} {text}")
            result.append(Statement(target, op, expr))
        return tuple(result)

    def _check_new_name(self, name, section, taken):
        ex.check_name(name, section=section)
        if name in RESERVED:
            self._fail(f"'{name}' is a reserved name (unit, function or Brian2 variable)", section=section, term=name)
        if name.endswith(("_pre", "_post")):
            self._fail(f"'{name}' ends in _pre/_post, which Brian2 reserves for neuron variables", section=section,
                       term=name)
        if name in taken or any(name in getattr(self, part, {}) for part in ("parameters", "inputs", "state")):
            self._fail(f"duplicate name '{name}'", section=section, term=name)

    def _validate(self):
        if self.window is not None and (self.traces or self.on_pre or self.on_post or self.dw_dt is not None):
            self._fail("a rule has either a [window] or traces/statements/[continuous], not both", section="window")
        periodic = self.periodic.statements if self.periodic else ()
        changes_w = any(s.target == "w" for s in self.on_pre + self.on_post + periodic)
        if self.window is None and not changes_w and self.dw_dt is None:
            self._fail("the rule never changes w: give [on_pre]/[on_post]/[periodic] statements, [continuous] "
                       "dw_dt or a [window]", section="rule")
        if self.window is not None and (self.state or self.periodic):
            self._fail("a [window] rule has no [state] or [periodic] section", section="window")
        # traces read by the weight dynamics or by periodic updates must be clock-driven: Brian2 only brings
        # event-driven variables up to date at spikes
        readers = ([self.dw_dt] if self.dw_dt is not None else []) + [s.expr for s in periodic]
        rates = {n: tr.rate for n, tr in self.traces.items()}
        forced = {n for n, tr in self.traces.items() if tr.clock_driven}
        clock = _clock_driven(rates, forced, readers, self.inputs)
        self.traces = {n: Trace(n, tr.rate, tr.unit, n in clock) for n, tr in self.traces.items()}
        if self.dw_dt is not None:
            expected = self.weight.unit / second.dim
            dim = ex.dimension_of(self.dw_dt, self._dims())
            if dim != expected and not self.dw_dt.is_zero:
                self._fail(f"dimension mismatch: dw/dt has {ex._show(dim)}, expected {ex._show(expected)}",
                           section="continuous", term="dw_dt")

    # --- what a rule is ----------------------------------------------------------------------------------

    @property
    def form(self):
        """'window' (Δw = F(Δt, w)), 'continuous' (has dw/dt) or 'trace' (spike-triggered updates)."""
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
            raise RuleError(f"rule '{self.name}' has no parameter '{unknown[0]}'", file=self._where,
                            section="parameters", term=unknown[0])
        spec = dict(self._spec, parameters={**self._spec["parameters"], **values})
        return Rule(self.name, **spec)

    def synapses(self, source, target, transmit="", **kwargs):
        """A ready ``brian2.Synapses`` running this rule (see ``plastlab.brian.codegen.synapses``: ``transmit``,
        ``extra_model`` for summed variables, ``namespace``, and any ``brian2.Synapses`` keyword)."""
        from ..brian.codegen import synapses
        return synapses(self, source, target, transmit=transmit, **kwargs)

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

    # --- learning window ---------------------------------------------------------------------------------

    def window_expressions(self):
        """Analytic Δw for one pre/post pair: (Δt > 0 expression, Δt < 0 expression) in delta_t and w.

        Window rules give their window; trace rules with event-driven traces only, no continuous weight
        dynamics and no inputs give the exact pair integral, found by applying the spike updates symbolically
        and letting the traces decay between the two spikes. Otherwise there is no closed form: RuleError.
        """
        if self.window is not None:
            return _window_with_bounds(self)
        if (self.dw_dt is not None or self.periodic is not None or self.inputs
                or any(tr.clock_driven for tr in self.traces.values())):
            raise RuleError(f"rule '{self.name}' has no analytic pair window (continuous dynamics or inputs); "
                            "simulate it with plastlab.brian.protocols.pair_window", file=self._where)
        tau = sp.Symbol("delta_t", positive=True)
        first_pre = self._pair(("on_pre", "on_post"), tau).subs(tau, DELTA_T)
        first_post = self._pair(("on_post", "on_pre"), tau).subs(tau, -DELTA_T)
        return first_pre, first_post

    def _pair(self, order, gap):
        state = {sp.Symbol(n): sp.Integer(0) for n in self.traces}
        state[W] = W
        for k, side in enumerate(order):
            if k:
                state = {s: self._decay(s.name, v, gap) if s != W else v for s, v in state.items()}
            for statement in getattr(self, side):
                state[sp.Symbol(statement.target)] = statement.new_value().xreplace(state)
        return state[W] - W

    def _decay(self, name, value, gap):
        """A linear 1-D trace after ``gap``: x' = a x + b has x(gap) = (x0 + b/a) e^(a gap) - b/a."""
        x = sp.Symbol(name)
        rate = self.traces[name].rate
        a, b = sp.diff(rate, x), rate.subs(x, 0)
        if a == 0:
            return value + b * gap
        return (value + b / a) * sp.exp(a * gap) - b / a

    def window_curve(self, delta_t, w0):
        """Analytic Δw on the grid delta_t (Brian2 times) × w0: a float array of shape (len(delta_t), len(w0)).

        Δt = 0 gives what Brian2 does when both spikes fall in one time step (presynaptic pathway first)."""
        if not isinstance(delta_t, Quantity) or get_dimensions(delta_t) != second.dim:
            raise RuleError("delta_t needs time units, e.g. np.arange(-100, 101) * ms")
        potentiation, depression = self.window_expressions()
        dt_grid = np.atleast_1d(np.asarray(delta_t / second, dtype=float))[:, None] * second
        w_grid = np.atleast_1d(np.asarray(w0, dtype=float))[None, :]
        w_values = w_grid if self.weight.unit == DIMENSIONLESS else Quantity(w_grid, dim=self.weight.unit)
        values = dict(self.parameters, w=w_values)
        with np.errstate(all="ignore"):
            up = _broadcast(ex.evaluate(potentiation, dict(values, delta_t=dt_grid)), dt_grid, w_grid)
            down = _broadcast(ex.evaluate(depression, dict(values, delta_t=dt_grid)), dt_grid, w_grid)
            at_zero = self._at_zero(values) if self.window is None else np.zeros(w_grid.shape)
        result = np.where(dt_grid > 0 * second, up, np.where(dt_grid < 0 * second, down, at_zero))
        return np.asarray(result, dtype=float)

    def _at_zero(self, values):
        both = self._pair(("on_pre", "on_post"), sp.Integer(0))
        return np.asarray(ex.evaluate(both, values) if both.free_symbols else float(both)) + 0 * values["w"]


def _broadcast(value, dt_grid, w_grid):
    """A float array (SI units) of the grid's shape."""
    return np.broadcast_to(np.asarray(value, dtype=float), np.broadcast_shapes(dt_grid.shape, w_grid.shape))


def _window_with_bounds(rule):
    """Window branches with the clip to the weight bounds that compiled rules apply."""
    lo, hi = rule.weight.min, rule.weight.max
    return (ex.clip(W + rule.window.potentiation, lo, hi) - W, ex.clip(W + rule.window.depression, lo, hi) - W)


def _clock_driven(rates, forced, continuous_readers, inputs):
    """Traces that Brian2 must integrate every step: not linear-1-D, or read by a clock-driven equation.

    A trace whose rate reads w, t, another trace or an input (which changes from outside) is not 1-D."""
    names = {sp.Symbol(n) for n in [*rates, *inputs]}
    clock = set(forced)
    for name, rate in rates.items():
        x = sp.Symbol(name)
        reads_state = rate.free_symbols & (names | {W, T}) - {x}
        linear = x not in sp.diff(rate, x).free_symbols
        if reads_state or not linear:
            clock.add(name)
    changed = True
    while changed:
        readers = [rates[n] for n in clock] + list(continuous_readers)
        needed = {s.name for expr in readers for s in expr.free_symbols if s.name in rates} - clock
        clock |= needed
        changed = bool(needed)
    return clock


def _parameters(parameters, fail):
    """Evaluate parameters in order: each may use the ones before it. Returns (expressions, quantities)."""
    expressions, values = {}, {}
    for name, value in parameters.items():
        ex.check_name(name, section="parameters")
        if name in RESERVED:
            fail(f"'{name}' is a reserved name (unit, function or Brian2 variable)", section="parameters", term=name)
        if name.endswith(("_pre", "_post")):
            fail(f"'{name}' ends in _pre/_post, which Brian2 reserves for neuron variables",
                 section="parameters", term=name)
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
                fail(f"dimension mismatch in parameter '{name}': {err}", section="parameters", term=name)
            except (TypeError, ValueError, KeyError) as err:
                fail(f"cannot evaluate parameter '{name}': {err}", section="parameters", term=name)
        quantity = ex.as_quantity(number)
        if not np.all(np.isfinite(np.asarray(quantity))) or np.ndim(quantity) != 0:
            fail(f"parameter '{name}' is {np.asarray(quantity)}: values must be finite numbers",
                 section="parameters", term=name)
        expressions[name] = expr
        values[name] = quantity if get_dimensions(quantity) != DIMENSIONLESS else float(quantity)
    return expressions, values


# --- files -----------------------------------------------------------------------------------------------

_SECTIONS = {"rule", "parameters", "weight", "inputs", "state", "traces", "on_pre", "on_post", "continuous",
             "periodic", "window"}


def rule_from_toml(text, *, source=None):
    """Build a Rule from the text of a rule file (format: rules/README.md)."""
    where = str(source) if source else None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise RuleError(f"not valid TOML: {err}", file=where) from None
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        raise RuleError(f"unknown section '{unknown[0]}' (known: {', '.join(sorted(_SECTIONS))})", file=where,
                        term=unknown[0])
    for section, value in data.items():
        if not isinstance(value, dict):
            raise RuleError("must be a table", file=where, section=section)
    head = data.get("rule", {})
    extra = sorted(set(head) - {"name", "summary", "citation"})
    if extra:
        raise RuleError(f"unknown key '{extra[0]}'", file=where, section="rule", term=extra[0])
    name = head.get("name") or (Path(source).stem if source else None)
    if not isinstance(name, str):
        raise RuleError("missing name", file=where, section="rule")
    continuous = data.get("continuous", {})
    if set(continuous) - {"dw_dt"}:
        raise RuleError(f"unknown key '{sorted(set(continuous) - {'dw_dt'})[0]}'", file=where, section="continuous")
    return Rule(name, summary=head.get("summary", ""), citation=head.get("citation", ""),
                parameters=data.get("parameters"), weight=data.get("weight"), inputs=data.get("inputs"),
                state=data.get("state"), periodic=data.get("periodic"), traces=data.get("traces"), on_pre=data.get("on_pre", ()), on_post=data.get("on_post", ()),
                dw_dt=continuous.get("dw_dt"), window=data.get("window"), source=source)


def rule_paths():
    """Folders searched for rule names: $PLASTLAB_RULES (os.pathsep-separated), ./rules, the lab's rules/."""
    extra = [Path(p) for p in os.environ.get("PLASTLAB_RULES", "").split(os.pathsep) if p]
    return [*extra, Path.cwd() / "rules", RULES_DIR]


def find_rule_file(name_or_path):
    path = Path(name_or_path)
    if path.suffix == ".toml" or os.sep in str(name_or_path):
        if not path.is_file():
            raise RuleError(f"no rule file '{name_or_path}'")
        return path
    for folder in rule_paths():
        candidate = folder / f"{name_or_path}.toml"
        if candidate.is_file():
            return candidate
    raise RuleError(f"unknown rule '{name_or_path}' (known: {', '.join(available_rules()) or 'none'})")


def available_rules():
    names = []
    for folder in rule_paths():
        names += [p.stem for p in sorted(folder.glob("*.toml")) if p.stem not in names]
    return names


def load_rule(name_or_path):
    """A Rule from a rule name (looked up in rule_paths()) or a path to a TOML rule file."""
    if isinstance(name_or_path, Rule):
        return name_or_path
    path = find_rule_file(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RuleError(f"cannot read rule file: {err}", file=str(path)) from None
    return rule_from_toml(text, source=path)
