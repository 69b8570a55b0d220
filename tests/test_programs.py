"""Candidates as program data: one compiled Brian2 function evaluates any + - * / pow expression, numpy and
Cython agree with the expression, a new batch reuses the compiled code, and the batched family network scores
pow and high-degree candidates exactly as the naive per-candidate rule file (real Brian2, tiny instances)."""
import math

import numpy as np
import pytest
import sympy as sp

from plastlab.brian import programs as prog
from plastlab.evolve import gp
from plastlab.evolve.tasks import error, programs, reward

X, Y = sp.symbols("x y", real=True)
CASES = [X + Y * 3, (X - Y) / (Y + sp.Rational(1, 10)), X**5 * Y - 1, (X * Y)**X - 1, sp.Abs(Y)**(2 * X),
         X / Y]  # at y = 0: division by zero gives NaN; (x*y)**x with x*y < 0 and non-integer x gives NaN


def _expected(expr, xs, ys):
    """Exact values from SymPy, NaN where the real result does not exist."""
    out = []
    for a, b in zip(xs, ys):
        value = complex(expr.subs({X: a, Y: b}).evalf()) if b != 0 or not expr.has(1 / Y) else math.nan
        out.append(value.real if value.imag == 0 and math.isfinite(value.real) else math.nan)
    return np.array(out)


def _grid():
    return np.array([0.5, 1.5, -0.7, 2.0, 0.3]), np.array([2.0, -1.5, 0.25, 0.0, 3.0])


def test_numpy_evaluation_follows_the_expression():
    xs, ys = _grid()
    table = programs.table(CASES, (X, Y))
    for p, expr in enumerate(CASES):
        got = prog.evaluate(table, np.full(xs.size, p), xs, ys)
        np.testing.assert_allclose(got, _expected(expr, xs, ys), rtol=1e-12, atol=1e-12, equal_nan=True)
    with pytest.raises(prog.ProgramError, match="underflow"):
        prog.check([(prog.PUSH_INPUT, 0), (prog.ADD, 0)], 2)


def _cython_values(table, index, xs, ys):
    """Values of rule_program in a compiled NeuronGroup, and how many Cython modules this process has loaded."""
    import brian2 as b2
    from brian2.codegen.runtime.cython_rt.extension_manager import cython_extension_manager

    from plastlab.brian.settings import brian_settings

    with brian_settings(target="cython"):
        group = b2.NeuronGroup(len(xs), "p : integer\nx : 1\ny : 1\nf : 1\nbad : 1",
                               namespace=prog.ProgramCalls(table, {}).namespace(), name="program_probe")
        group.p, group.x, group.y = index, xs, ys
        group.run_regularly("f = rule_program(p, x, y)\nbad = rule_isnan(f)", name="probe")
        net = b2.Network(group)
        net.run(b2.defaultclock.dt, namespace={})
        return np.array(group.f[:]), np.array(group.bad[:]), len(cython_extension_manager._code_cache)


def test_cython_equals_numpy_and_a_new_table_is_data_not_code():
    xs, ys = _grid()
    exprs = [X**5 * Y - 1, (X * Y)**X - 1, X / Y, sp.Abs(Y)**(2 * X)]
    table = programs.table(exprs, (X, Y))
    index = np.arange(len(xs)) % len(exprs)
    f, bad, modules_a = _cython_values(table, index, xs, ys)
    np.testing.assert_array_equal(f, prog.evaluate(table, index, xs, ys))  # bit for bit
    assert bad.tolist() == np.isnan(f).astype(int).tolist() and bad.sum() >= 1  # (x*y)**x at x*y < 0, x/0
    other = programs.table([X + Y, X - Y, Y**3 / (X + 10)], (X, Y))  # different programs, lengths, constants
    g, _, modules_b = _cython_values(other, index % 3, xs, ys)
    assert modules_b == modules_a  # no new compiled module: a new batch of candidates is data, never new code
    np.testing.assert_array_equal(g, prog.evaluate(other, index % 3, xs, ys))


TINY = {"duration": 1.0, "t_drop": 0.2}
REWARD_TINY = {"n_trials": 12, "n_patterns": 4, "n_inputs": 20, "eta": 200.0}


@pytest.mark.parametrize("family, params, makes", [
    (error, TINY, [lambda v, u, s: s**(u / v) * (v - u),          # pow with a variable exponent
                   lambda v, u, s: s * v**4 * (v - u) / u**4]),   # degree 5 / 4: outside the old encoding
    (reward, REWARD_TINY, [lambda r, e: (e / 10)**2 * r - e]),
])
def test_batched_programs_score_exactly_as_the_naive_rule_file(family, params, makes):
    exprs = [make(*family.symbols()) for make in makes]
    batched = family.evaluate_batch(exprs, [11, 12], params)
    for expr, result in zip(exprs, batched):
        naive = family.evaluate_naive(expr, [11, 12], params)
        assert result["reason"] == "" and naive["reason"] == ""
        assert result["fitness"] == pytest.approx(naive["fitness"], abs=1e-9, rel=0)


def test_pow_outside_its_domain_and_huge_exponents_get_the_worst_fitness():
    genome = gp.Genome(error.INPUTS, (1, 10), ("add", "sub", "mul", "div", "pow"))
    v, u, s = error.symbols()
    huge = genome.from_names(["pow", "ARG0", "mul", "c10", "c10"])  # v**100: not simulated
    assert genome.to_sympy(huge) is sp.nan
    negative = genome.from_names(["pow", "sub", "c1", "c10", "div", "c1", "c10"])  # (-9)**(1/10)
    assert genome.to_sympy(negative) is sp.nan
    # the student's potential is about -70: v_student**(1/10) is NaN at the first rule step
    res = error.evaluate_batch([u**sp.Rational(1, 10) * s], [11], TINY)[0]
    assert res["fitness"] == -math.inf and "NaN" in res["reason"]
