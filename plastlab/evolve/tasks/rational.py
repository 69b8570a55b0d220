"""Candidate expressions as data: a rational function P/Q over a fixed set of monomials.

Every expression built from the family's inputs with + - * / and rational constants is a rational function:
``sympy.cancel`` brings it to a canonical P/Q with expanded, coprime numerator and denominator. If both have
total degree <= ``degree`` the expression is represented *exactly* by two coefficient vectors over the
monomials of degree <= ``degree``. A task family compiles one Brian2 network whose plasticity reads these
coefficients as per-neuron parameters, so a new candidate changes data, never code ("compile once, vary by
data"). Expressions outside the encoding (higher degree) are reported as such, never silently altered.
"""
import itertools
import math

import numpy as np
import sympy as sp

from ...rules.expressions import canonical


class OutsideEncoding(ValueError):
    """The expression cannot be represented (degree too high, non-rational, non-finite constant)."""


def monomials(nvars, degree):
    """Exponent tuples of all monomials of total degree <= degree, ordered by degree then lexicographically."""
    out = []
    for total in range(degree + 1):
        for exps in itertools.product(range(total + 1), repeat=nvars):
            if sum(exps) == total:
                out.append(exps)
    return sorted(out, key=lambda e: (sum(e), tuple(-x for x in e)))




def encode(expr, symbols, degree):
    """(numerator, denominator) coefficient arrays over ``monomials(len(symbols), degree)``.

    Raises OutsideEncoding with a reason when the expression is not representable.
    """
    expr = canonical(expr)
    if expr is sp.nan:
        return None  # caller decides: a non-finite expression is the worst fitness
    num, den = sp.fraction(expr)
    mons = monomials(len(symbols), degree)
    index = {m: k for k, m in enumerate(mons)}
    out = []
    for part, which in ((num, "numerator"), (den, "denominator")):
        try:
            poly = sp.Poly(part, *symbols)
        except sp.PolynomialError as exc:
            raise OutsideEncoding(f"{which} is not a polynomial in {symbols}: {exc}") from None
        if poly.free_symbols - set(symbols):
            raise OutsideEncoding(f"{which} has unknown symbols {poly.free_symbols - set(symbols)}")
        coefs = np.zeros(len(mons))
        for exps, c in poly.terms():
            if sum(exps) > degree:
                raise OutsideEncoding(f"{which} has degree {poly.total_degree()} > {degree}")
            value = float(c)
            if not math.isfinite(value):
                raise OutsideEncoding(f"{which} coefficient {c} is not a finite float")
            coefs[index[exps]] = value
        out.append(coefs)
    return out[0], out[1]


def evaluate(num, den, values, degree):
    """Evaluate encoded P/Q with numpy on arrays ``values`` (one per symbol); float errors give inf/nan."""
    mons = monomials(len(values), degree)
    with np.errstate(all="ignore"):
        p = np.zeros(np.broadcast(*values).shape)
        q = np.zeros_like(p)
        for k, exps in enumerate(mons):
            if num[k] == 0 and den[k] == 0:
                continue
            m = np.ones_like(p)
            for x, e in zip(values, exps):
                if e:
                    m = m * x**e
            p = p + num[k] * m
            q = q + den[k] * m
        return p / q


def encode_parts(expr, symbols, degree):
    """``encode`` for one expression or for a tuple of them (families that evolve several functions):
    a tuple gives stacked arrays, one row per function. None when any part is not finite."""
    if not isinstance(expr, sp.Tuple):
        return encode(expr, symbols, degree)
    parts = [encode(part, symbols, degree) for part in expr]
    if any(part is None for part in parts):
        return None
    return np.stack([num for num, _ in parts]), np.stack([den for _, den in parts])


def evaluate_encoded(exprs, symbols, degree, simulate, score):
    """Score a batch of candidate expressions (or tuples of them) that one network simulates as coefficient data.

    Expressions outside the encoding or not finite get the worst fitness with the reason; the others are run
    together: ``simulate(nums, dens)`` returns one ``(values, reason)`` per candidate and ``score(values)``
    gives ``(fitness, per_instance)``. Returns ``{fitness, reason, per_instance}`` per expression, in order.
    """
    worst = lambda reason: {"fitness": -math.inf, "reason": reason, "per_instance": []}  # noqa: E731
    results, encoded = [None] * len(exprs), []
    for pos, expr in enumerate(exprs):
        try:
            enc = encode_parts(expr, symbols, degree)
        except OutsideEncoding as exc:
            results[pos] = worst(f"outside encoding: {exc}")
            continue
        if enc is None:
            results[pos] = worst("expression is not finite (division by zero)")
            continue
        encoded.append((pos, *enc))
    if encoded:
        outcomes = simulate([e[1] for e in encoded], [e[2] for e in encoded])
        for (pos, _, _), (values, reason) in zip(encoded, outcomes):
            if reason:
                results[pos] = worst(reason)
            else:
                fitness, per_instance = score(values)
                results[pos] = {"fitness": fitness, "reason": "", "per_instance": per_instance}
    return results
