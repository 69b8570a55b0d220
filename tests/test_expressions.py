"""The whitelist parser: what it accepts, and hostile text it must refuse without side effects."""
import os

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from plastlab import RuleError
from plastlab.rules import expressions as ex

SYMBOLS = {n: sp.Symbol(n) for n in ("w", "x", "y", "tau", "delta_t")}


def parse(text):
    return ex.parse_expression(text, SYMBOLS)


def test_arithmetic_functions_and_conditions_become_sympy():
    expr = parse("clip(w + x, 0, 1) + (delta_t > 0)*exp(-delta_t/tau) + minimum(x, y) + heaviside(x)")
    assert expr.has(ex.clip, ex.Indicator, sp.Min, sp.Heaviside, sp.exp)
    assert parse("2**3") == 8 and parse("x - x") == 0


def test_brian_code_uses_int_for_conditions_and_no_min_max():
    code = ex.to_code(parse("(x > y)*w + minimum(x, y) + heaviside(x) + abs(y)"))
    assert "int(x > y)" in code and "Min" not in code and "Heaviside" not in code and "abs(y)" in code


def test_units_have_dimensions_and_mismatches_are_named():
    from brian2 import ms
    dims = {"x": ms.dim, "y": ms.dim, "w": ex.DIMENSIONLESS}
    assert ex.dimension_of(parse("x/y + w"), dims) == ex.DIMENSIONLESS
    with pytest.raises(ex.DimensionError, match="mixes"):
        ex.dimension_of(parse("x + w"), dims)
    with pytest.raises(ex.DimensionError, match="dimensionless"):
        ex.dimension_of(parse("exp(x)"), dims)


@pytest.mark.parametrize("text, message", [
    ("__import__('os').system('touch /tmp/pwned')", "not allowed"),
    ('__import__("os").system("touch /tmp/pwned")', "not allowed"),
    ("__import__", "not allowed"),
    ("x.__class__", "not allowed"),
    ("w.real", "Attribute"),
    ("x[0]", "not allowed"),
    ("lambda: 1", "not allowed"),
    ("'text'", "not allowed"),
    ("open(x)", "only the functions"),
    ("exp(x=1)", "positional"),
    ("exp(*x)", "positional"),
    ("unknown_name + 1", "unknown symbol 'unknown_name'"),
    ("x if y else w", "IfExp"),
    ("9**9**9", "exponent"),
    ("(" * 60 + "x" + ")" * 60, "nested"),
    ("x + " * 600 + "x", "longer than"),
    ("x +", "cannot parse"),
    ("x; y", "not allowed"),
    ("x @ y", "not allowed"),
    ("x // y", "not allowed"),
    ("[x for x in y]", "not allowed"),
    ("exp", "without arguments"),
    ("clip(x, 1)", "3 argument"),
])
def test_hostile_or_malformed_text_is_refused(text, message, tmp_path):
    with pytest.raises(RuleError, match=message):
        parse(text)
    assert not os.path.exists("/tmp/pwned")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_to_sympy_or_raises_rule_error(text):
    try:
        result = parse(text)
    except RuleError:
        return
    assert isinstance(result, sp.Basic)
    assert result.free_symbols <= set(SYMBOLS.values()) | {sp.Symbol(u) for u in ex.UNITS}


dunder = st.from_regex(r"__[a-z]{1,8}__", fullmatch=True)
python_ish = st.one_of(
    st.builds(lambda d: f"{d}('os')", dunder),
    st.builds(lambda d: f"x.{d}", dunder),
    st.builds(lambda a: f"x.{a}()", st.from_regex(r"[a-z]{1,8}", fullmatch=True)),
    st.builds(lambda n: f"x[{n}]", st.integers()),
    st.builds(lambda s: repr(s), st.text(max_size=10)),
    st.builds(lambda n: "lambda: " + str(n), st.integers()),
    st.builds(lambda n: "(" * n + "x" + ")" * n, st.integers(min_value=41, max_value=400)),
    st.builds(lambda n: "-" * n + "x", st.integers(min_value=2000, max_value=5000)),
)


@settings(max_examples=200, deadline=None)
@given(python_ish)
def test_python_constructs_are_always_refused(text):
    with pytest.raises(RuleError):
        parse(text)
