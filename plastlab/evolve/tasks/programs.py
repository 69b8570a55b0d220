"""Candidate expressions as program data: SymPy expression -> postfix program for ``brian/programs``.

A family compiles one Brian2 network whose plastic synapses call ``rule_program(candidate, inputs...)``; the
candidate's canonical expression (``rules.expressions.canonical``, the same form the naive per-candidate rule
file is generated from) is turned here into a short postfix program over + - * / pow (and abs, which SymPy
introduces) and float constants, so
any expression the GP can build (higher degrees, pow, any constant) is simulated by the same compiled code.

The program follows the expression's tree in the order SymPy's printer writes the rule file's code (products
as numerator / denominator, a negative sign applied last), so both ways compute the same floating-point
operations wherever the C compiler leaves them alone; the benchmarks measure the agreement.
"""
import math

import sympy as sp

from ...brian import programs as prog
from ...rules.expressions import canonical


class OutsideOperators(ValueError):
    """The expression uses something a program cannot compute (a function, an unknown symbol, a non-real
    constant) or needs a deeper stack than the compiled evaluator has."""


def representable(expr, symbols):
    """Whether ``expr`` (canonical SymPy) can be written as a program over ``symbols``."""
    try:
        table([expr], symbols)
    except OutsideOperators:
        return False
    return True


def to_program(expr, symbols):
    """Postfix program [(opcode, value), ...] computing ``expr`` from the inputs ``symbols`` (in order)."""
    index = {s: k for k, s in enumerate(symbols)}
    out = []

    def product(factors):
        if not factors:
            out.append((prog.PUSH_CONSTANT, 1.0))
            return
        emit(factors[0])
        for f in factors[1:]:
            emit(f)
            out.append((prog.MUL, 0))

    def emit(e):
        if e.is_Symbol:
            if e not in index:
                raise OutsideOperators(f"unknown input '{e}'")
            out.append((prog.PUSH_INPUT, index[e]))
        elif e.is_Rational and not e.is_Integer:  # printed as (p.0/q.0)
            out.extend([(prog.PUSH_CONSTANT, float(e.p)), (prog.PUSH_CONSTANT, float(e.q)), (prog.DIV, 0)])
        elif e.is_Number:
            value = complex(e)
            if value.imag != 0 or not math.isfinite(value.real):
                raise OutsideOperators(f"constant {e} is not a finite real number")
            out.append((prog.PUSH_CONSTANT, value.real))
        elif e.is_Add:
            terms = e.as_ordered_terms()
            emit(terms[0])
            for term in terms[1:]:
                emit(term)
                out.append((prog.ADD, 0))
        elif e.is_Mul:  # as SymPy's printer writes it: sign, numerator factors / denominator factors
            coeff, rest = e.as_coeff_Mul()
            if coeff < 0:
                e = sp.Mul(-coeff, rest, evaluate=False) if coeff != -1 else rest
            num, den = [], []
            for item in sp.Mul.make_args(e) if not e.is_Mul else e.as_ordered_factors():
                if item.is_Pow and item.exp.is_Rational and item.exp.is_negative:
                    den.append(item.base if item.exp == -1 else sp.Pow(item.base, -item.exp, evaluate=False))
                elif item.is_Rational:
                    if item.p != 1:
                        num.append(sp.Integer(item.p))
                    if item.q != 1:
                        den.append(sp.Integer(item.q))
                else:
                    num.append(item)
            product(num)
            if den:
                product(den)
                out.append((prog.DIV, 0))
            if coeff < 0:
                out.extend([(prog.PUSH_CONSTANT, -1.0), (prog.MUL, 0)])
        elif e.is_Pow:  # as SymPy's printer writes it: 1/x, 1/sqrt(x), sqrt(x), else x**e (pow, even if e < 0)
            if e.exp == -1 or e.exp == -sp.S.Half:
                out.append((prog.PUSH_CONSTANT, 1.0))
                emit(e.base if e.exp == -1 else sp.sqrt(e.base, evaluate=False))
                out.append((prog.DIV, 0))
            elif e.exp == sp.S.Half:
                emit(e.base)
                out.append((prog.SQRT, 0))
            else:
                emit(e.base)
                emit(e.exp)
                out.append((prog.POW, 0))
        elif isinstance(e, sp.Abs):  # SymPy's form of e.g. (x**2)**w for real x
            emit(e.args[0])
            out.append((prog.ABS, 0))
        else:
            raise OutsideOperators(f"'{e.func.__name__}' is not one of + - * / pow abs")

    emit(expr)
    try:
        prog.check(out, len(symbols))
    except prog.ProgramError as err:
        raise OutsideOperators(str(err)) from None
    return out


def table(exprs, symbols):
    """A ProgramTable for expressions, or for tuples of them (program c*F + f is function f of candidate c)."""
    programs = []
    for expr in exprs:
        parts = expr if isinstance(expr, sp.Tuple) else (expr,)
        programs.extend(to_program(part, symbols) for part in parts)
    return prog.ProgramTable.build(programs, len(symbols))


def values(expr, symbols, samples):
    """numpy values of ``expr`` on ``samples`` (one array per symbol); None outside the program's operators."""
    try:
        t = table([canonical(expr)], symbols)
    except (OutsideOperators, TypeError):
        return None
    return prog.evaluate(t, 0, *samples)


def evaluate_candidates(exprs, symbols, simulate, score):
    """Score a batch of candidate expressions (or tuples of them) that one network simulates as program data.

    Expressions a program cannot compute, or that are not finite, get the worst fitness with the reason; the
    others are run together: ``simulate(table, n)`` returns one ``(values, reason)`` per candidate and
    ``score(values)`` gives ``(fitness, per_instance)``. Returns ``{fitness, reason, per_instance}`` per
    expression, in order.
    """
    worst = lambda reason: {"fitness": -math.inf, "reason": reason, "per_instance": []}  # noqa: E731
    results, runnable = [None] * len(exprs), []
    for pos, expr in enumerate(exprs):
        expr = canonical(expr)
        if expr is sp.nan:
            results[pos] = worst("expression is not finite (division by zero)")
            continue
        try:
            table([expr], symbols)
        except OutsideOperators as exc:
            results[pos] = worst(f"outside the program's operators: {exc}")
            continue
        runnable.append((pos, expr))
    if runnable:
        outcomes = simulate(table([e for _, e in runnable], symbols), len(runnable))
        for (pos, _), (vals, reason) in zip(runnable, outcomes):
            if reason:
                results[pos] = worst(reason)
            else:
                fitness, per_instance = score(vals)
                results[pos] = {"fitness": fitness, "reason": "", "per_instance": per_instance}
    return results
