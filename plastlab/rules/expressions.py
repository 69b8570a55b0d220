"""Maths text -> SymPy through a whitelist, and the few things we do with the resulting trees.

Rule files are data written by people we do not know: their text is parsed by Python's ``ast`` module
(which only *parses*) and every node is checked against a whitelist before a SymPy object is built from it.
Nothing from a file is ever evaluated as Python. The same module prints SymPy trees as Brian2 code,
computes their physical dimensions, and evaluates them numerically with Brian2 quantities.
"""
import ast
import math
import operator
import re

import brian2
import numpy as np
import sympy as sp
from brian2.units.fundamentalunits import DIMENSIONLESS, DimensionMismatchError, Quantity, get_dimensions
from sympy.printing.str import StrPrinter

from ..errors import RuleError

MAX_LENGTH = 2000
MAX_DEPTH = 40
MAX_CALL_DEPTH = 6  # nested function calls a rule may write: Brian2's dimension parser is ~4x slower per level
MAX_CODE_CALL_DEPTH = 8  # ... and generated Brian2 code may hold (codegen wraps a rule's terms in clip, int)
MAX_CODE_LENGTH = 20_000  # characters of one generated Brian2 expression (minimum/maximum print as arithmetic)
MAX_EXPONENT = 64
MAX_DECIMAL_EXPONENT = 300
MAX_MAGNITUDE = 1e300  # a constant larger than this overflows float64 arithmetic at the first step

_UNIT_NAMES = """
second ms msecond us usecond nsecond Hz hertz kHz volt mV mvolt uvolt amp mA uA nA pA namp pamp
siemens mS uS nS psiemens msiemens usiemens nsiemens ohm kohm Mohm Gohm farad uF nF pF ufarad nfarad pfarad
metre meter cm mm um mole mM uM molar
""".split()
UNITS = {name: getattr(brian2, name) for name in _UNIT_NAMES}


class clip(sp.Function):
    """clip(x, lo, hi): x limited to [lo, hi] (Brian2's and NumPy's clip)."""

    nargs = 3

    def _latex(self, printer):
        x, lo, hi = (printer._print(a) for a in self.args)
        return rf"\operatorname{{clip}}\left({x}, {lo}, {hi}\right)"


class Indicator(sp.Function):
    """1 where a condition holds, else 0 (Brian2's ``int(condition)``)."""

    nargs = 1

    @classmethod
    def eval(cls, condition):
        if condition is sp.true:
            return sp.Integer(1)
        if condition is sp.false:
            return sp.Integer(0)

    def _latex(self, printer):
        return rf"\left[{printer._print(self.args[0])}\right]"


def _heaviside(x):
    return sp.Heaviside(x, 0)


FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh,
    "sin": sp.sin, "cos": sp.cos, "abs": sp.Abs, "sign": sp.sign, "clip": clip,
    "minimum": sp.Min, "maximum": sp.Max, "heaviside": _heaviside, "int": Indicator,
}
_ARITY = {"clip": 3, "minimum": 2, "maximum": 2}
CONSTANTS = {"inf": sp.oo, "pi": sp.pi}

_COMPARE = {ast.Lt: sp.StrictLessThan, ast.LtE: sp.LessThan, ast.Gt: sp.StrictGreaterThan,
            ast.GtE: sp.GreaterThan, ast.Eq: sp.Eq, ast.NotEq: sp.Ne}
_ALLOWED_CHARS = re.compile(r"^[A-Za-z0-9_.+\-*/()<>=!,\s]*$")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def check_name(name, *, section=None):
    """Refuse names that are not plain identifiers (dunders, leading underscores, punctuation)."""
    if not isinstance(name, str) or not NAME.match(name) or "__" in name:
        raise RuleError(f"'{name}' is not a valid name (letters, digits and single underscores, "
                        "starting with a letter)", section=section, term=str(name))
    return name


def parse_expression(text, symbols, *, section=None, allow_units=True, evaluate=True):
    """Parse maths ``text`` into SymPy, allowing only ``symbols`` (name -> sympy.Symbol), units and constants.

    ``evaluate=False`` keeps the tree exactly as written (no SymPy simplification such as 0/ms -> 0), which
    parameter values need so that their units and floating-point operation order survive.

    Raises RuleError naming the offending term for anything else: unknown names, attribute access,
    subscripts, strings, lambdas, keyword arguments, too long or too deeply nested input.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise RuleError(f"expected an expression, got {type(text).__name__}", section=section, term=str(text))
    if isinstance(text, (int, float)):
        return _number(text, section, str(text))
    if len(text) > MAX_LENGTH:
        raise RuleError(f"expression longer than {MAX_LENGTH} characters", section=section, term=text[:40] + "...")
    if not _ALLOWED_CHARS.match(text):
        bad = sorted({c for c in text if not _ALLOWED_CHARS.match(c)})
        raise RuleError(f"character(s) {''.join(bad)!r} not allowed in an expression", section=section,
                        term=text[:80])
    if _nesting(text) > MAX_DEPTH:
        raise RuleError(f"expression nested deeper than {MAX_DEPTH} levels", section=section, term=text[:40] + "...")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        raise RuleError(f"cannot parse expression: {getattr(err, 'msg', err)}", section=section,
                        term=text[:80]) from None
    calls = _call_depth(tree.body)
    if calls > MAX_CALL_DEPTH:
        raise RuleError(f"function calls nested {calls} deep, more than {MAX_CALL_DEPTH}", section=section,
                        term=text[:40] + "...")
    try:
        expr = _Builder(symbols, section, text, allow_units, evaluate).build(tree.body)
    except RecursionError:
        raise RuleError("expression nested too deeply", section=section, term=text[:40] + "...") from None
    _check_magnitudes(expr, section, text)
    return expr


def _call_depth(node):
    """How deeply function calls nest in a parsed expression (``clip(clip(x, 0, 1), 0, 1)``: 2)."""
    inner = max((_call_depth(child) for child in ast.iter_child_nodes(node)), default=0)
    return inner + isinstance(node, ast.Call)


def _check_magnitudes(expr, section, text):
    """Constants (as written or as SymPy folded them: ``1e308*1e10``) must be finite in float64."""
    for number in expr.atoms(sp.Number):
        if number.is_finite and abs(float(number)) > MAX_MAGNITUDE:
            raise RuleError(f"constant {sp.N(number, 3)} is larger than {MAX_MAGNITUDE:g} (infinite in the "
                            "simulation)", section=section, term=text[:80])


def evaluate_unit(text, *, section=None, term=None):
    """A unit written as text ("nS", "mV/ms", "1") as a Brian2 quantity: a positive, finite scale of units.

    RuleError for anything else: ``0*ms`` (no unit: every value would be 0), ``exp(ms)``, ``1/0``, ``-1*mV``."""
    try:
        value = evaluate(parse_expression(text, {}, section=section), {})
        magnitude = float(np.asarray(value))
    except RuleError as err:
        raise RuleError(f"unit: {err.message}", section=section, term=term or text) from None
    except (DimensionMismatchError, KeyError, TypeError, ValueError, ZeroDivisionError, OverflowError) as err:
        raise RuleError(f"unit '{text}' is not a unit ({err})", section=section, term=term or text) from None
    if not (math.isfinite(magnitude) and magnitude > 0):
        raise RuleError(f"unit '{text}' is not a unit: it must be a positive finite scale such as nS, mV/ms or 1",
                        section=section, term=term or text)
    return value


def check_code(code, *, section=None):
    """Generated Brian2 code, before Brian2 parses it: Brian2's dimension parser takes time exponential in how
    deeply calls nest, so code past the lab's limits is refused here instead of hanging there."""
    depth = deepest = 0
    stack = []
    for k, char in enumerate(code):
        if char == "(":
            call = k > 0 and (code[k - 1].isalnum() or code[k - 1] == "_")
            stack.append(call)
            depth += call
            deepest = max(deepest, depth)
        elif char == ")" and stack:
            depth -= stack.pop()
    if deepest > MAX_CODE_CALL_DEPTH:
        raise RuleError(f"the generated Brian2 code nests function calls {deepest} deep, more than "
                        f"{MAX_CODE_CALL_DEPTH}", section=section, term=code[:60] + "...")
    if len(code) > MAX_CODE_LENGTH:
        raise RuleError(f"the generated Brian2 code is {len(code)} characters long, more than {MAX_CODE_LENGTH} "
                        "(nested minimum/maximum?)", section=section, term=code[:60] + "...")
    return code


def _nesting(text):
    depth = deepest = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    return deepest


def _number(value, section, term):
    if isinstance(value, bool):
        raise RuleError("booleans are not numbers here", section=section, term=term)
    if isinstance(value, int):
        if abs(value) > MAX_MAGNITUDE:
            raise RuleError(f"integer of {len(str(abs(value)))} digits is larger than {MAX_MAGNITUDE:g}",
                            section=section, term=term[:40])
        return sp.Integer(value)
    if not math.isfinite(value):
        raise RuleError("NaN or infinite number", section=section, term=term)
    return sp.Float(value)


def _is_condition(expr):
    return isinstance(expr, (sp.core.relational.Relational, sp.And, sp.Or, sp.Not)) or expr in (sp.true, sp.false)


class _Builder:
    """Walks a Python AST, building SymPy only from whitelisted nodes."""

    def __init__(self, symbols, section, text, allow_units, evaluate):
        self.symbols, self.section, self.text, self.allow_units = symbols, section, text, allow_units
        ev = self.evaluate = evaluate
        self.operators = {
            ast.Add: lambda a, b: sp.Add(a, b, evaluate=ev),
            ast.Sub: lambda a, b: sp.Add(a, sp.Mul(-1, b, evaluate=ev), evaluate=ev),
            ast.Mult: lambda a, b: sp.Mul(a, b, evaluate=ev),
            ast.Div: lambda a, b: sp.Mul(a, sp.Pow(b, -1, evaluate=ev), evaluate=ev),
            ast.Pow: lambda a, b: sp.Pow(a, b, evaluate=ev),
        }

    def fail(self, message, term=None):
        raise RuleError(message, section=self.section, term=term or self.text[:80])

    def build(self, node, *, condition=False):
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            self.fail(f"{type(node).__name__} is not allowed in an expression", ast.get_source_segment(self.text, node))
        result = method(node)
        if _is_condition(result) and not condition:
            return Indicator(result)
        return result

    def _Constant(self, node):
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return _number(node.value, self.section, repr(node.value))
        self.fail(f"constant {node.value!r} is not a number", repr(node.value)[:40])

    def _Name(self, node):
        name = node.id
        if name.startswith("_") or "__" in name:
            self.fail(f"name '{name}' is not allowed", name)
        if name in self.symbols:
            return self.symbols[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if self.allow_units and name in UNITS:
            return sp.Symbol(name)
        if name in FUNCTIONS:
            self.fail(f"function '{name}' used without arguments", name)
        self.fail(f"unknown symbol '{name}'", name)

    def _BinOp(self, node):
        op = self.operators.get(type(node.op))
        if op is None:
            self.fail(f"operator {type(node.op).__name__} is not allowed")
        left, right = self.build(node.left), self.build(node.right)
        if isinstance(node.op, ast.Pow):
            self._check_power(left, right, ast.get_source_segment(self.text, node))
        return op(left, right)

    def _check_power(self, base, exponent, term):
        """Refuse powers whose value or expanded degree explodes before SymPy computes them."""
        if not exponent.is_Number:
            return
        if abs(exponent) > MAX_EXPONENT:
            self.fail(f"exponent {exponent} is larger than {MAX_EXPONENT}", term)
        if base.is_Number:
            magnitude = abs(float(base))
            if magnitude > 1 and abs(float(exponent)) * math.log10(magnitude) > MAX_DECIMAL_EXPONENT:
                self.fail(f"number larger than 1e{MAX_DECIMAL_EXPONENT}", term)
            return
        nested = max([abs(float(p.exp)) for p in base.atoms(sp.Pow) if p.exp.is_Number] + [1.0])
        if nested * abs(float(exponent)) > MAX_EXPONENT:
            self.fail(f"nested powers reach degree {nested * abs(float(exponent)):g}, more than {MAX_EXPONENT}", term)

    def _UnaryOp(self, node):
        if isinstance(node.op, ast.USub):
            return sp.Mul(-1, self.build(node.operand), evaluate=self.evaluate)
        if isinstance(node.op, ast.UAdd):
            return self.build(node.operand)
        if isinstance(node.op, ast.Not):
            return sp.Not(self.build(node.operand, condition=True))
        self.fail(f"operator {type(node.op).__name__} is not allowed")

    def _Compare(self, node):
        left, parts = self.build(node.left), []
        for op, right_node in zip(node.ops, node.comparators):
            right = self.build(right_node)
            relation = _COMPARE.get(type(op))
            if relation is None:
                self.fail(f"comparison {type(op).__name__} is not allowed")
            parts.append(relation(left, right))
            left = right
        return sp.And(*parts)

    def _BoolOp(self, node):
        combine = sp.And if isinstance(node.op, ast.And) else sp.Or
        return combine(*(self.build(value, condition=True) for value in node.values))

    def _Call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            self.fail("only the functions " + ", ".join(sorted(FUNCTIONS)) + " may be called",
                      ast.get_source_segment(self.text, node.func))
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            self.fail(f"{name}() takes plain positional arguments", name)
        if len(node.args) != _ARITY.get(name, 1):
            self.fail(f"{name}() takes {_ARITY.get(name, 1)} argument(s), got {len(node.args)}", name)
        args = [self.build(a, condition=name == "int") for a in node.args]
        return FUNCTIONS[name](*args)


# --- dimensions ------------------------------------------------------------------------------------

class DimensionError(Exception):
    """Internal: a dimension clash, turned into RuleError by the caller that knows the context."""


_ANY = "any"  # the literal 0, compatible with every dimension (as in clip(w, 0, gmax) for w in siemens)


def dimension_of(expr, dims):
    """Physical dimension of a SymPy expression; ``dims`` maps symbol names to Brian2 dimensions."""
    result = _dim(expr, dims)
    return DIMENSIONLESS if result is _ANY else result


def _same(a, b, expr):
    if a is _ANY:
        return b
    if b is _ANY or a == b:
        return a
    raise DimensionError(f"'{expr}' mixes {_show(a)} and {_show(b)}")


def _show(dim):
    return "a dimensionless quantity" if dim is DIMENSIONLESS else f"[{brian2.get_unit(dim)}]"


def _require_dimensionless(dim, expr, what):
    if dim not in (_ANY, DIMENSIONLESS):
        raise DimensionError(f"{what} of '{expr}' must be dimensionless, got {_show(dim)}")


def _dim(expr, dims):
    if expr.is_Number or expr in (sp.oo, -sp.oo, sp.pi, sp.E):
        return _ANY if expr == 0 else DIMENSIONLESS
    if expr.is_Symbol:
        if expr.name in dims:
            return dims[expr.name]
        if expr.name in UNITS:
            return get_dimensions(UNITS[expr.name])
        raise DimensionError(f"no dimension known for '{expr.name}'")
    if isinstance(expr, sp.Add):
        result = _ANY
        for term in expr.args:
            result = _same(result, _dim(term, dims), expr)
        return result
    if isinstance(expr, sp.Mul):
        result = DIMENSIONLESS
        for factor in expr.args:
            d = _dim(factor, dims)
            if d is _ANY:
                return _ANY
            result = result * d
        return result
    if isinstance(expr, sp.Pow):
        base = _dim(expr.base, dims)
        _require_dimensionless(_dim(expr.exp, dims), expr, "the exponent")
        if base in (_ANY, DIMENSIONLESS):
            return base
        if not expr.exp.is_Number:
            raise DimensionError(f"'{expr}' raises a dimensional quantity to a non-constant power")
        return base ** float(expr.exp)
    if isinstance(expr, (clip, sp.Min, sp.Max)):
        result = _ANY
        for arg in expr.args:
            result = _same(result, _dim(arg, dims), expr)
        return result
    if isinstance(expr, sp.Abs):
        return _dim(expr.args[0], dims)
    if isinstance(expr, (Indicator, sp.Heaviside, sp.sign)):
        _dim(expr.args[0], dims)
        return DIMENSIONLESS
    if isinstance(expr, sp.core.relational.Relational):
        _same(_dim(expr.lhs, dims), _dim(expr.rhs, dims), expr)
        return DIMENSIONLESS
    if isinstance(expr, (sp.And, sp.Or, sp.Not)):
        for arg in expr.args:
            _dim(arg, dims)
        return DIMENSIONLESS
    if isinstance(expr, sp.Function):  # exp, log, tanh, ...: dimensionless in, dimensionless out
        for arg in expr.args:
            _require_dimensionless(_dim(arg, dims), expr, f"the argument of {expr.func}")
        return DIMENSIONLESS
    raise DimensionError(f"cannot determine the dimension of '{expr}'")


# --- numeric evaluation ------------------------------------------------------------------------------

_NUMERIC = {sp.exp: np.exp, sp.log: np.log, sp.tanh: np.tanh, sp.sinh: np.sinh, sp.cosh: np.cosh,
            sp.sin: np.sin, sp.cos: np.cos, sp.Abs: np.abs, sp.sign: np.sign}


def evaluate(expr, values):
    """Evaluate a SymPy tree with numbers, NumPy arrays or Brian2 quantities bound to its symbols.

    Operations are applied in the tree's own order, so results match Brian2's generated code closely.
    """
    if expr.is_Symbol:
        if expr.name in values:
            return values[expr.name]
        if expr.name in UNITS:
            return UNITS[expr.name]
        raise KeyError(expr.name)
    if expr.is_Integer:
        return int(expr)
    if expr.is_Number:
        return float(expr)
    if expr in (sp.oo, -sp.oo):
        return float(expr)
    if expr is sp.pi:
        return math.pi
    if expr is sp.true or expr is sp.false:
        return bool(expr)
    args = [evaluate(a, values) for a in expr.args]
    if isinstance(expr, sp.Add):
        return _fold(operator.add, args)
    if isinstance(expr, sp.Mul):
        return _fold(operator.mul, args)
    if isinstance(expr, sp.Pow):
        base, exponent = args
        if np.ndim(exponent) == 0 and exponent == -1:  # an exponent may be an array (10**trace on a window's grid)
            return 1.0 / base
        if np.ndim(exponent) == 0 and exponent == 0.5:
            return np.sqrt(base)
        return base ** exponent
    if isinstance(expr, clip):
        x, lo, hi = args
        return np.clip(x, lo, hi)
    if isinstance(expr, sp.Min):
        return _fold(np.minimum, args)
    if isinstance(expr, sp.Max):
        return _fold(np.maximum, args)
    if isinstance(expr, sp.Heaviside):
        return 1.0 * (np.asarray(args[0]) > 0)
    if isinstance(expr, Indicator):
        return 1.0 * np.asarray(args[0])
    if isinstance(expr, sp.core.relational.Relational):
        return _RELATIONS[type(expr)](*args)
    if isinstance(expr, sp.And):
        return _fold(np.logical_and, args)
    if isinstance(expr, sp.Or):
        return _fold(np.logical_or, args)
    if isinstance(expr, sp.Not):
        return np.logical_not(args[0])
    if expr.func in _NUMERIC:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # inf / NaN: refused by the caller
            return _NUMERIC[expr.func](*args)
    raise KeyError(f"cannot evaluate {expr.func}")


_RELATIONS = {sp.StrictLessThan: operator.lt, sp.LessThan: operator.le, sp.StrictGreaterThan: operator.gt,
              sp.GreaterThan: operator.ge, sp.Equality: operator.eq, sp.Unequality: operator.ne}


def _fold(op, args):
    result = args[0]
    for arg in args[1:]:
        result = op(result, arg)
    return result


def as_quantity(value):
    """A Brian2 Quantity (dimensionless values stay Quantity too, for uniform handling)."""
    return value if isinstance(value, Quantity) else Quantity(value)


# --- printing ------------------------------------------------------------------------------------------

class BrianPrinter(StrPrinter):
    """Prints SymPy as Brian2 code: int() for conditions, full-precision floats, Min/Max without min/max."""

    def __init__(self, rename=None):
        super().__init__({"full_prec": True})
        self.rename = rename or {}

    def _print_Symbol(self, expr):
        return self.rename.get(expr.name, expr.name)

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return f"({expr.p}.0/{expr.q}.0)"

    def _print_Infinity(self, expr):
        return "inf"

    def _print_NegativeInfinity(self, expr):
        return "(-inf)"

    def _print_Exp1(self, expr):
        return "exp(1)"

    def _print_Indicator(self, expr):
        return f"int({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr):
        return f"int(({self._print(expr.args[0])}) > 0)"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Equality(self, expr):
        return f"({self._print(expr.lhs)} == {self._print(expr.rhs)})"

    def _print_Unequality(self, expr):
        return f"({self._print(expr.lhs)} != {self._print(expr.rhs)})"

    def _print_And(self, expr):
        return "(" + " and ".join(self._print(a) for a in expr.args) + ")"

    def _print_Or(self, expr):
        return "(" + " or ".join(self._print(a) for a in expr.args) + ")"

    def _print_Not(self, expr):
        return f"(not {self._print(expr.args[0])})"

    def _print_Min(self, expr):
        return self._min_max(expr.args, "<")

    def _print_Max(self, expr):
        return self._min_max(expr.args, ">")

    def _min_max(self, args, relation):
        a = self._print(args[0])
        if len(args) == 1:
            return a
        b = self._min_max(args[1:], relation)
        return f"({b} + (({a}) - ({b}))*int(({a}) {relation} ({b})))"


def to_code(expr, rename=None):
    """Brian2 code for a SymPy expression, with symbols renamed (e.g. an input 'v_student' -> 'v_post'); refused
    (RuleError) past the limits Brian2 can parse in reasonable time (:func:`check_code`)."""
    return check_code(BrianPrinter(rename).doprint(expr))


def to_latex(expr):
    return sp.latex(expr)


def canonical(expr):
    """Canonical rational form P/Q (expanded, coprime) of a SymPy expression (or of each element of a Tuple);
    NaN when it is not finite.

    Equivalent expressions get the same form, which is what the evolution cache keys on."""
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"canonical() takes a SymPy expression, got {type(expr).__name__}")
    if isinstance(expr, sp.Tuple):  # several evolved functions: canonical part by part, NaN if any part is
        parts = [canonical(part) for part in expr]
        return sp.nan if any(part is sp.nan for part in parts) else sp.Tuple(*parts)
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return sp.nan
    out = sp.cancel(sp.together(expr))
    return sp.nan if out.has(sp.zoo, sp.nan, sp.oo, -sp.oo) else out
