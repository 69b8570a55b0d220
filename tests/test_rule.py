"""The Rule: construction from SymPy and from files, and every way a rule file can be wrong."""
import math

import numpy as np
import pytest
import sympy as sp
from brian2 import ms, mV

from plastlab import Rule, RuleError, load_rule
from plastlab.rules.files import rule_from_toml

GOOD = """
[rule]
name = "toy"
summary = "toy rule"

[parameters]
tau = "20*ms"
A = 0.01

[traces]
x = "-x/tau"

[on_pre]
statements = ["x += A"]

[on_post]
statements = ["w = clip(w + x, 0, 1)"]
"""


def test_rule_from_python_sympy_objects():
    x, tau, w = sp.symbols("x tau w")
    rule = Rule("toy", parameters={"tau": 20 * ms, "A": 0.01}, traces={"x": -x / tau},
                on_pre=[("x", "+=", sp.Symbol("A"))], on_post=["w = clip(w + x, 0, 1)"])
    assert rule.form == "trace" and not rule.traces["x"].clock_driven
    curve = rule.window_curve(np.array([-5, 5, 30]) * ms, [0.5, 0.995])
    expected = [[0, 0], [0.01 * math.exp(-0.25), 0.005], [0.01 * math.exp(-1.5), 0.01 * math.exp(-1.5)]]
    np.testing.assert_allclose(curve, expected, rtol=1e-12)


def test_rule_file_round_trip_and_display():
    rule = rule_from_toml(GOOD, source="toy.toml")
    assert rule.name == "toy" and rule.parameters["tau"] == 20 * ms
    assert "dx/dt = -x/tau" in rule.equations_text()
    assert r"\frac{dx}{dt}" in rule.latex()
    curve = rule.window_curve(np.array([-10, 10]) * ms, [0.5])
    assert curve[0, 0] == 0 and math.isclose(curve[1, 0], 0.01 * math.exp(-0.5), rel_tol=1e-12)


def test_parameters_may_use_earlier_parameters_and_keep_units():
    rule = rule_from_toml(GOOD.replace('A = 0.01', 'A = "0.5*tau/(10*ms)"\nzero = "0/ms"'))
    assert rule.parameters["A"] == 1.0
    assert rule.parameters["zero"].dim == (1 / ms).dim


@pytest.mark.parametrize("change, message, section", [
    (("x += A", "x += B"), "unknown symbol 'B'", "on_pre"),
    (('"-x/tau"', '"-x/tau + y"'), "unknown symbol 'y'", "traces"),
    (('A = 0.01', 'A = 0.01\nA = 0.02'), "not valid TOML", None),
    (('[traces]\nx = "-x/tau"', '[traces]\nA = "-A/tau"'), "duplicate name 'A'", "traces"),
    (('"-x/tau"', '"-x"'), "dimension mismatch", "traces"),
    (('x += A', 'x += tau'), "dimension mismatch", "on_pre"),
    (('w = clip(w + x, 0, 1)', 'w = clip(w + x, 0, tau)'), "dimension mismatch", "on_post"),
    (('w = clip(w + x, 0, 1)', 'w = exp(tau)'), "dimensionless", "on_post"),
    (('A = 0.01', 'A = nan'), "not valid TOML|finite", None),
    (('A = 0.01', 'A = inf'), "finite", "parameters"),
    (('A = 0.01', 'A = "1e308*1e308"'), "finite", "parameters"),
    (('A = 0.01', 'A = "tau*mV + 1"'), "dimension", "parameters"),
    (('A = 0.01', 'A = "B + 1"'), "unknown symbol 'B'", "parameters"),
    (('tau = "20*ms"', 'tau_pre = "20*ms"'), "_pre/_post", "parameters"),
    (('tau = "20*ms"', 'ms = "20*ms"'), "reserved", "parameters"),
    (('A = 0.01', '__class__ = 1'), "not a valid name", "parameters"),
    (('x += A', 'v += A'), "cannot be updated", "on_pre"),
    (('x += A', 'x ** A'), "expected 'target = expression'", "on_pre"),
    (('[on_pre]', '[on_pree]'), "unknown section 'on_pree'", None),
    (('summary = "toy rule"', 'summary = "toy rule"\ncolour = "red"'), "unknown key 'colour'", "rule"),
    (('x = "-x/tau"', 'x = { rate = "-x/tau", kind = "sometimes" }'), "kind", "traces"),
    (('statements = ["x += A"]', 'statements = "x += A"'), "must be a list", "on_pre"),
    (('x += A', "__import__('os').system('echo pwned')"), "expected 'target = expression'|not allowed", "on_pre"),
    (('x += A', "x += __import__('os').system('echo pwned')"), "not allowed", "on_pre"),
    (('x += A', "x += A.real"), "not allowed", "on_pre"),
])
def test_bad_rule_files_raise_rule_error_naming_file_section_and_term(change, message, section):
    old, new = change
    assert old in GOOD
    with pytest.raises(RuleError, match=message) as info:
        rule_from_toml(GOOD.replace(old, new), source="bad.toml")
    assert str(info.value).startswith("bad.toml")
    if section:
        assert f"[{section}]" in str(info.value)


def test_window_and_traces_are_exclusive_and_a_rule_must_change_w():
    with pytest.raises(RuleError, match="either a \\[window\\]"):
        rule_from_toml(GOOD + '\n[window]\npotentiation = "0.1"\ndepression = "-0.1"\n')
    with pytest.raises(RuleError, match="never changes w"):
        rule_from_toml(GOOD.replace('statements = ["w = clip(w + x, 0, 1)"]', "statements = []"))


def test_window_dimensions_and_inputs_are_checked():
    window = '[rule]\nname="win"\n[parameters]\ntau="10*ms"\n[window]\npotentiation = "exp(-delta_t/tau)"\n'
    with pytest.raises(RuleError, match="missing 'depression'"):
        rule_from_toml(window)
    with pytest.raises(RuleError, match="dimension mismatch"):
        rule_from_toml(window + 'depression = "delta_t"\n')
    with pytest.raises(RuleError, match="unknown symbol 'x'"):
        rule_from_toml(window + 'depression = "-x"\n')
    with pytest.raises(RuleError, match="needs source"):
        rule_from_toml(GOOD + '\n[inputs]\nv = { source = "somewhere" }\n')


def test_weight_with_units_needs_explicit_bounds():
    text = GOOD.replace("[traces]", '[weight]\nunit = "nS"\n[traces]')
    with pytest.raises(RuleError, match="explicit 'min'"):
        rule_from_toml(text)


def test_load_rule_by_name_and_unknown_names(tmp_path):
    assert load_rule("stdp_additive").name == "stdp_additive"
    with pytest.raises(RuleError, match="unknown rule 'no_such_rule'"):
        load_rule("no_such_rule")
    path = tmp_path / "toy.toml"
    path.write_text(GOOD)
    assert load_rule(path).name == "toy"
    (tmp_path / "broken.toml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RuleError, match="broken.toml"):
        load_rule(tmp_path / "broken.toml")


def test_clock_driven_when_nonlinear_or_read_by_continuous_dynamics():
    rule = load_rule("rstdp_eligibility")
    assert not rule.traces["Apre"].clock_driven and rule.traces["c"].clock_driven and rule.traces["d"].clock_driven
    assert rule.third_factors == ["reward"] and rule.form == "continuous"
    with pytest.raises(RuleError, match="no analytic pair window"):
        rule.window_expressions()
    with pytest.raises(RuleError, match="cannot be event-driven"):
        rule_from_toml(GOOD.replace('x = "-x/tau"', 'x = { rate = "-x**2/tau", kind = "event" }'))


def test_window_curve_needs_time_units():
    with pytest.raises(RuleError, match="time units"):
        load_rule("nc_memristor").window_curve(np.array([1.0, 2.0]), [0.5])
    assert load_rule("delta_rule").inputs["v_student"].variable == "v"
    assert load_rule("delta_rule").inputs["v_teacher"].unit == mV.dim


PERIODIC = GOOD.replace('statements = ["w = clip(w + x, 0, 1)"]', 'statements = []') + """
[state]
g = "1"

[periodic]
interval = "100*ms"
statements = ["g = x", "w = clip(w + A*g, 0, 1)"]
"""


def test_state_and_periodic_updates():
    rule = rule_from_toml(PERIODIC)
    assert rule.form == "periodic" and rule.traces["x"].clock_driven  # read by a periodic statement
    assert "every 100*ms: w <- clip(A*g + w, 0, 1)" in rule.equations_text()
    with pytest.raises(RuleError, match="positive time"):
        rule_from_toml(PERIODIC.replace('interval = "100*ms"', 'interval = "-100*ms"'))
    with pytest.raises(RuleError, match="dimension mismatch"):
        rule_from_toml(PERIODIC.replace('interval = "100*ms"', 'interval = "100"'))
    with pytest.raises(RuleError, match="'h' cannot be updated"):
        rule_from_toml(PERIODIC.replace('"g = x"', '"h = x"'))
    with pytest.raises(RuleError, match="takes 'interval' and 'statements'"):
        rule_from_toml(PERIODIC.replace('interval = "100*ms"', 'every = "100*ms"'))


def test_with_parameters_recomputes_dependent_values():
    rule = load_rule("superspike").with_parameters(T_update="250*ms")
    assert rule.parameters["gamma"] == pytest.approx(math.exp(-0.25 / 30))
    with pytest.raises(RuleError, match="no parameter 'nope'"):
        rule.with_parameters(nope=1)


@pytest.mark.parametrize("old, new, message", [
    # Brian2's own names would be silently replaced by Brian2's values or break the generated code
    ('A = 0.01', 'A = 0.01\nradian = 0.5', "reserved"),
    ('A = 0.01', 'A = 0.01\nN_incoming = 2', "reserved"),
    ('A = 0.01', 'A = 0.01\nN_outgoing = 2', "reserved"),
    ('A = 0.01', 'A = 0.01\nkelvin = 2', "reserved"),
    ('A = 0.01', 'A = 0.01\nrand = 2', "reserved"),
    ('A = 0.01', 'A = 0.01\nfloor = 2', "reserved"),
    ('A = 0.01', 'A = 0.01\ndelay = "1*ms"', "reserved"),
    ('A = 0.01', 'A = 0.01\nlastupdate = 2', "reserved"),
    ('x = "-x/tau"', 'henry = "-henry/tau"', "reserved"),
    # values that make the rule meaningless
    ('tau = "20*ms"', 'tau = "0*ms"', "division by zero"),
    ('tau = "20*ms"', 'tau = "-20*ms"', "grows without bound"),
    ('A = 0.01', 'A = 0.01\n[weight]\nmin = "0*inf"', "not a number"),
    ('A = 0.01', 'A = 0.01\n[weight]\nmin = 1\nmax = 0', "min < max"),
    ('A = 0.01', 'A = "((2**64)**64)**64"', "larger than|degree"),
    ('x += A', 'x += (x + A)**64**64', "larger than"),
    ('x += A', 'x += ((x + A)**8)**9', "degree"),
])
def test_hostile_rule_files_are_refused_before_anything_runs(old, new, message):
    with pytest.raises(RuleError, match=message):
        rule_from_toml(GOOD.replace(old, new, 1), source="toy.toml")


def test_tiny_periodic_interval_refused():
    with pytest.raises(RuleError, match="at least 1 microsecond"):
        rule_from_toml(PERIODIC.replace('interval = "100*ms"', 'interval = "1e-12*ms"'))


def test_file_name_and_rule_name_must_agree(tmp_path):
    path = tmp_path / "other.toml"
    path.write_text(GOOD)
    with pytest.raises(RuleError, match="differs from the file name 'other'"):
        load_rule(path)


def test_a_rule_is_immutable_and_pickles():
    import pickle

    rule = rule_from_toml(GOOD, source="toy.toml")
    with pytest.raises(AttributeError, match="immutable"):
        rule.summary = "changed"
    again = pickle.loads(pickle.dumps(rule))
    assert again.equations_text() == rule.equations_text() and again.parameters == rule.parameters


def test_weight_clip_false_keeps_the_statements_bounds_and_the_nominal_range():
    """[weight] clip = false: the statements bound w as written (an evolved correlation champion's one-sided
    clipping); min and max stay the nominal range (initial weights, a layer's scaling, the protocols' defaults)."""
    from plastlab.brian.codegen import generate

    text = GOOD.replace('"w = clip(w + x, 0, 1)"', '"w = clip(w + x, -inf, 1)"')
    clipped, as_written = rule_from_toml(text), rule_from_toml(text + '\n[weight]\nclip = false\n')
    assert clipped.weight.clip and not as_written.weight.clip
    assert (as_written.w_min, as_written.w_max) == (0, 1)
    assert "clip(clip(" in generate(clipped).on_post
    assert generate(as_written).on_post == "w = clip(w + x, (-inf), 1)"
    with pytest.raises(RuleError, match="clip must be true"):
        rule_from_toml(text + '\n[weight]\nclip = "no"\n')
    window = "[rule]\nname = 'win'\n[weight]\nclip = false\n[window]\npotentiation = '0.01'\ndepression = '-0.01'\n"
    with pytest.raises(RuleError, match="clip = false is for rules whose statements change w"):
        rule_from_toml(window)


def test_an_input_says_what_it_is_in_one_line():
    head = GOOD + '\n[inputs.v_teacher]\nsource = "post"\nvariable = "v_target"\n'
    rule = rule_from_toml(head + 'description = "a teacher potential"\n')
    assert rule.inputs["v_teacher"].description == "a teacher potential"
    assert rule_from_toml(head).inputs["v_teacher"].description == ""
    for bad in ('description = 3\n', 'description = "two\\nlines"\n', f'description = "{"x" * 201}"\n'):
        with pytest.raises(RuleError, match="must be one line of text"):
            rule_from_toml(head + bad)
