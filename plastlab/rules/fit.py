"""Fit a rule's parameters to measured weight changes: weighted least squares on its closed-form pair window.

Measurements (a CSV file with a header: ``delta_t`` in ms, post - pre; ``w0``, the weight before, in the rule's
weight unit -- normalised for the memristor rules; ``dw``, the change; optional ``dw_sd``, its sd over repeats;
other columns are ignored) are read without evaluating anything. :func:`fit_rule` minimises
Σ ((F(Δt, w0; θ) - Δw) / sd)² over the chosen parameters θ within bounds (SciPy ``least_squares``, trust-region
reflective) from several starts, with F the rule's closed form (:mod:`plastlab.rules.window`: window rules, and
trace rules with event-driven traces). Reported: estimates with standard errors and correlations from the
Jacobian at the optimum (scaled by the reduced χ², as SciPy's ``curve_fit`` does by default), weighted R², and
AIC = n ln(RSS/n) + 2k, BIC = n ln(RSS/n) + k ln n with k = fitted parameters + 1 (the noise variance), so two
forms can be compared on the same data. Parameters are fitted in display units: ms for times, 1/ms for rates,
the base unit otherwise. :func:`fitted_document` makes a rule file of the result.
"""
import csv
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp

from ..errors import DataError, RuleError
from . import expressions as ex
from .window import closed_form, has_closed_form

__all__ = ["Measurements", "read_measurements", "FitResult", "fit_rule", "fitted_document", "plot_fit",
           "parse_bounds", "free_parameters", "REQUIRED", "MAX_BYTES"]

REQUIRED = ("delta_t", "w0", "dw")
OPTIONAL = ("dw_sd",)
MAX_BYTES = 20_000_000
_MISSING = ("", "na", "nan", "null", "none", "?")


# --- measurements -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measurements:
    """Measured weight changes: Δt (ms), w0, Δw and optionally sd(Δw), with the file's sha256."""

    delta_t: np.ndarray
    w0: np.ndarray
    dw: np.ndarray
    dw_sd: np.ndarray = None
    path: str = None
    sha256: str = None

    @property
    def n(self):
        return len(self.dw)

    @property
    def sigma(self):
        return np.ones(self.n) if self.dw_sd is None else self.dw_sd


def read_measurements(path):
    """:class:`Measurements` from a CSV file; DataError (one line: file, line, column) for anything unusable."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    if path.stat().st_size > MAX_BYTES:
        raise DataError(f"{path}: larger than {MAX_BYTES // 1_000_000} MB")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason})") from None
    rows = [(n, r) for n, r in enumerate(csv.reader(text.splitlines()), start=1) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: the file is empty")
    (_, header), rows = rows[0], rows[1:]
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataError(f"{path}: missing column '{missing[0]}' (need a header with {', '.join(REQUIRED)}"
                        f" and optionally {', '.join(OPTIONAL)}; found {', '.join(header) or 'none'})")
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    columns = [c for c in (*REQUIRED, *OPTIONAL) if c in header]
    index = {c: header.index(c) for c in columns}
    values = {c: np.empty(len(rows)) for c in columns}
    for k, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} columns, the header {len(header)}")
        for c in columns:
            cell = row[index[c]].strip()
            if cell.lower() in _MISSING:
                raise DataError(f"{path}: missing value (NaN) at line {line}, column {c}")
            try:
                number = float(cell)
            except ValueError:
                raise DataError(f"{path}: non-numeric value '{cell[:40]}' at line {line}, column {c}") from None
            if not math.isfinite(number):
                raise DataError(f"{path}: value {cell} at line {line}, column {c} is not finite")
            values[c][k] = number
    line_of = [line for line, _ in rows]
    zero = np.flatnonzero(values["delta_t"] == 0)
    if len(zero):
        raise DataError(f"{path}: delta_t = 0 at line {line_of[zero[0]]}: the order of the two spikes is unknown "
                        "(give post - pre > 0 or < 0)")
    if "dw_sd" in values and np.any(values["dw_sd"] <= 0):
        bad = int(np.flatnonzero(values["dw_sd"] <= 0)[0])
        raise DataError(f"{path}: dw_sd must be > 0, got {values['dw_sd'][bad]:g} at line {line_of[bad]}")
    return Measurements(values["delta_t"], values["w0"], values["dw"], values.get("dw_sd"), str(path),
                        hashlib.sha256(raw).hexdigest())


# --- the model --------------------------------------------------------------------------------------------

def _display_unit(value):
    """(factor from SI to display units, unit text for a rule file: '' | '*ms' | '/ms' | '*UNIT')."""
    from brian2 import get_unit, ms, second
    from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

    dim = get_dimensions(value)
    if dim is DIMENSIONLESS:
        return 1.0, ""
    if dim == second.dim:
        return 1.0 / float(ms), "*ms"
    if dim == (1 / second).dim:
        return float(ms), "/ms"
    return 1.0, f"*{get_unit(dim)!r}"


def _si_symbols(expr):
    """``expr`` with unit names (ms, nS, ...) replaced by their values in SI, so it evaluates on plain floats."""
    units = {s: sp.Float(float(ex.UNITS[s.name])) for s in expr.free_symbols if s.name in ex.UNITS}
    return expr.xreplace(units) if units else expr


def _derived(rule):
    """{parameter: SI expression of earlier parameters} for parameters defined from others (followers)."""
    out, names = {}, set()
    for name, expr in rule.parameter_expressions.items():
        used = {s.name for s in expr.free_symbols} & names
        if used:
            out[name] = _si_symbols(expr)
        names.add(name)
    return out


def _bound_parameters(rule):
    symbols = rule.weight.min.free_symbols | rule.weight.max.free_symbols
    names = {s.name for s in symbols}
    derived = _derived(rule)
    for name in list(names):
        if name in derived:
            names |= {s.name for s in derived[name].free_symbols}
    return names


def _branch_parameters(rule, branch):
    derived = _derived(rule)
    names = {s.name for s in branch.free_symbols} & set(rule.parameters)
    while True:
        more = {s.name for n in names & set(derived) for s in derived[n].free_symbols} & set(rule.parameters)
        if more <= names:
            return names
        names |= more


def free_parameters(rule):
    """Parameters a fit may change: used by the closed form, not defined from others, not the weight bounds."""
    up, down = closed_form(rule)
    used = _branch_parameters(rule, up) | _branch_parameters(rule, down)
    derived, bounds = _derived(rule), _bound_parameters(rule)
    return [n for n in rule.parameters if n in used and n not in derived and n not in bounds]


class WindowModel:
    """F(Δt, w0; θ) of a rule on plain floats (SI inside, display units for θ)."""

    def __init__(self, rule, names):
        self.rule, self.names = rule, list(names)
        up, down = closed_form(rule)
        self.up, self.down = _si_symbols(up), _si_symbols(down)
        self.derived = _derived(rule)
        self.base = {n: float(np.asarray(v)) for n, v in rule.parameters.items()}
        self.factor = {n: _display_unit(rule.parameters[n])[0] for n in rule.parameters}

    def display(self, name):
        return self.base[name] * self.factor[name]

    def values(self, theta):
        values = dict(self.base)
        values.update({n: float(t) / self.factor[n] for n, t in zip(self.names, theta)})
        for name, expr in self.derived.items():
            if name not in self.names:
                values[name] = float(np.asarray(ex.evaluate(expr, values)))
        return values

    def __call__(self, theta, delta_t_ms, w0):
        values = self.values(theta)
        dt = np.asarray(delta_t_ms, dtype=float) * 1e-3
        with np.errstate(all="ignore"):
            up = np.broadcast_to(np.asarray(ex.evaluate(self.up, dict(values, delta_t=dt, w=w0)), dtype=float),
                                 dt.shape)
            down = np.broadcast_to(np.asarray(ex.evaluate(self.down, dict(values, delta_t=dt, w=w0)),
                                              dtype=float), dt.shape)
        return np.where(dt > 0, up, down)


# --- the fit ----------------------------------------------------------------------------------------------

@dataclass
class FitResult:
    """What a fit found: estimates (display units), standard errors, correlations and the fit's quality."""

    rule: object
    names: list
    units: list
    estimates: np.ndarray
    errors: np.ndarray
    correlation: np.ndarray
    data: Measurements
    predicted: np.ndarray
    r2: float
    rss: float
    aic: float
    bic: float
    starts: int
    identifiable: bool
    start_costs: list = field(default_factory=list)

    @property
    def residuals(self):
        return self.data.dw - self.predicted

    def table(self):
        lines = [f"{'parameter':<14} {'estimate':>14} {'std error':>12}  unit"]
        for n, u, v, e in zip(self.names, self.units, self.estimates, self.errors):
            lines.append(f"{n:<14} {v:>14.6g} {e:>12.3g}  {u.lstrip('*') or '1'}")
        lines.append("correlations:")
        for i, n in enumerate(self.names):
            lines.append(f"  {n:<12} " + " ".join(f"{c:+.2f}" for c in self.correlation[i, : i + 1]))
        lines.append(f"n = {self.data.n}, R² = {self.r2:.4f}, weighted RSS = {self.rss:.6g}, AIC = {self.aic:.2f}, "
                     f"BIC = {self.bic:.2f}, {self.starts} starts"
                     + ("" if self.data.dw_sd is not None else " (unweighted: no dw_sd column)"))
        if not self.identifiable:
            lines.append("warning: the Jacobian is rank-deficient: some parameters are not identifiable from these "
                         "data (standard errors are inf); fit fewer parameters (--params)")
        return "\n".join(lines)

    def quality(self):
        return {"n_points": int(self.data.n), "r2": float(self.r2), "rss": float(self.rss), "aic": float(self.aic),
                "bic": float(self.bic), "weighted": self.data.dw_sd is not None, "starts": int(self.starts)}


def parse_bounds(items):
    """``["p=lo:hi", ...]`` (display units; empty side: unbounded) as {p: (lo, hi)}; never evaluated."""
    out = {}
    for item in items or ():
        name, sep, rng = str(item).partition("=")
        lo, sep2, hi = rng.partition(":")
        name = name.strip()
        try:
            low = -math.inf if not lo.strip() else float(lo)
            high = math.inf if not hi.strip() else float(hi)
        except ValueError:
            low = high = None
        if not sep or not sep2 or not name or low is None or math.isnan(low) or math.isnan(high):
            raise RuleError(f"--bounds expects NAME=LOW:HIGH (numbers, display units), got '{item}'", term=str(item))
        if not low < high:
            raise RuleError(f"--bounds {name}: LOW must be below HIGH, got {low:g}:{high:g}", term=name)
        out[name] = (low, high)
    return out


def check_fit(rule, data, names, bounds):
    """Everything refused before any work: rule without closed form, unknown or derived parameters, too few
    points, data of one sign for parameters that act only in the other branch."""
    where = str(rule.source) if rule.source else None
    if not has_closed_form(rule):
        raise RuleError(f"rule '{rule.name}' has no closed-form pair window (continuous dynamics, inputs, state or "
                        "clock-driven traces): it cannot be fitted here", file=where)
    free = free_parameters(rule)
    for name in names:
        if name not in rule.parameters:
            raise RuleError(f"rule '{rule.name}' has no parameter '{name}' (free: {', '.join(free)})", file=where,
                            section="parameters", term=name)
        if name not in free:
            why = ("is defined from other parameters" if name in _derived(rule) else
                   "sets the weight bounds" if name in _bound_parameters(rule) else "does not enter the window")
            raise RuleError(f"parameter '{name}' {why}: it cannot be fitted", file=where, section="parameters",
                            term=name)
    if not names:
        raise RuleError(f"rule '{rule.name}': no parameters to fit", file=where)
    extra = sorted(set(bounds) - set(names))
    if extra:
        raise RuleError(f"--bounds for '{extra[0]}', which is not fitted (--params {','.join(names)})", term=extra[0])
    if data.n <= len(names):
        raise DataError(f"{data.path}: {data.n} points for {len(names)} parameters: a fit needs more points than "
                        "parameters")
    up, down = closed_form(rule)
    for sign, branch, other in (("> 0", up, down), ("< 0", down, up)):
        only = sorted(set(names) & _branch_parameters(rule, branch) - _branch_parameters(rule, other))
        has = np.any(data.delta_t > 0) if sign == "> 0" else np.any(data.delta_t < 0)
        if only and not has:
            raise DataError(f"{data.path}: no point with delta_t {sign}, but {', '.join(only)} act only there: "
                            "give measurements of both signs, or fit the parameters of one branch (--params)")


def fit_rule(rule, data, *, params=None, bounds=None, starts=8, seed=0):
    """Fit ``params`` (default: :func:`free_parameters`) of ``rule`` to ``data`` (Measurements or a CSV path)
    within ``bounds`` ({name: (lo, hi)} in display units) from ``starts`` starts: the rule's values, then random
    points (uniform within finite bounds, otherwise around the rule's values). A :class:`FitResult`."""
    from scipy.optimize import least_squares

    if not isinstance(data, Measurements):
        data = read_measurements(data)
    names = list(params) if params else free_parameters(rule)
    bounds = dict(bounds or {})
    check_fit(rule, data, names, bounds)
    model = WindowModel(rule, names)
    lo = np.array([bounds.get(n, (-np.inf, np.inf))[0] for n in names])
    hi = np.array([bounds.get(n, (-np.inf, np.inf))[1] for n in names])
    x_rule = np.array([model.display(n) for n in names])
    sigma = data.sigma

    # residuals in units of their typical size, so SciPy's tolerances mean the same for Δw of 1e-4 or of 1
    scale = float(np.sqrt(np.mean((data.dw / sigma) ** 2))) or 1.0

    def residuals(theta):
        r = (model(theta, data.delta_t, data.w0) - data.dw) / sigma / scale
        return np.nan_to_num(r, nan=1e6, posinf=1e6, neginf=-1e6)

    rng = np.random.default_rng(seed)
    candidates = [_inside(x_rule, lo, hi)]
    for _ in range(max(0, int(starts) - 1)):
        spread = np.where(x_rule != 0, np.abs(x_rule), 0.01)
        guess = x_rule + 0.5 * spread * rng.standard_normal(len(names))
        box = np.isfinite(lo) & np.isfinite(hi)
        guess[box] = rng.uniform(lo[box], hi[box])
        candidates.append(_inside(guess, lo, hi))
    best, costs = None, []
    for x0 in candidates:
        try:
            res = least_squares(residuals, x0, bounds=(lo, hi), x_scale="jac", method="trf", max_nfev=2000)
        except (ValueError, FloatingPointError):
            costs.append(math.inf)
            continue
        costs.append(float(res.cost))
        if best is None or res.cost < best.cost:
            best = res
    if best is None:
        raise RuleError(f"rule '{rule.name}': least squares failed from every start")
    return _result(rule, model, names, best, data, len(candidates), [c * scale ** 2 for c in costs], scale)


def _inside(x, lo, hi):
    """``x`` strictly inside the bounds (SciPy refuses starts on or outside them)."""
    x = np.array(x, dtype=float)
    for k in range(len(x)):
        a, b = lo[k], hi[k]
        if np.isfinite(a) and np.isfinite(b):
            margin = 1e-6 * (b - a)
            x[k] = min(max(x[k], a + margin), b - margin)
        elif np.isfinite(a) and x[k] <= a:
            x[k] = a + max(1e-6, 1e-3 * abs(a))
        elif np.isfinite(b) and x[k] >= b:
            x[k] = b - max(1e-6, 1e-3 * abs(b))
    return x


def _result(rule, model, names, res, data, starts, costs, scale):
    n, p = data.n, len(names)
    predicted = model(res.x, data.delta_t, data.w0)
    weights = 1.0 / data.sigma ** 2
    rss = float(np.sum(weights * (data.dw - predicted) ** 2))
    mean = np.sum(weights * data.dw) / np.sum(weights)
    tss = float(np.sum(weights * (data.dw - mean) ** 2))
    r2 = 1.0 - rss / tss if tss > 0 else float("nan")
    jac = np.asarray(res.jac, dtype=float) * scale
    jtj = jac.T @ jac
    identifiable = np.linalg.matrix_rank(jtj) == p
    s2 = rss / (n - p)
    if identifiable:
        cov = np.linalg.inv(jtj) * s2
        errors = np.sqrt(np.clip(np.diag(cov), 0, None))
        with np.errstate(all="ignore"):
            corr = cov / np.outer(errors, errors)
        corr = np.nan_to_num(corr)
    else:
        errors, corr = np.full(p, np.inf), np.full((p, p), np.nan)
    k = p + 1
    log_term = n * math.log(rss / n) if rss > 0 else -math.inf
    fitted = rule.with_parameters(**{nm: _as_text(rule, nm, v) for nm, v in zip(names, res.x)})
    units = [_display_unit(rule.parameters[nm])[1] for nm in names]
    return FitResult(fitted, names, units, np.asarray(res.x, dtype=float), errors, corr, data, predicted, r2, rss,
                     log_term + 2 * k, log_term + k * math.log(n), starts, bool(identifiable), costs)


def _as_text(rule, name, display_value):
    """A fitted value as a rule file writes it: a number, or text with its unit ("26.7*ms")."""
    unit = _display_unit(rule.parameters[name])[1]
    value = float(display_value)
    return value if not unit else f"{value!r}{unit}"


def fitted_document(result, name, command=None, *, source_text=None):
    """The rule file (a TOML document as a dict) of a fit: the original file with the fitted values, the new
    name, and ``[metadata.fit]``: data file and sha256, estimates and errors, quality, the command."""
    import tomllib

    rule = result.rule
    if source_text is None:
        if not rule.source:
            raise RuleError(f"rule '{rule.name}' has no file to start the fitted rule's file from")
        source_text = Path(rule.source).read_text(encoding="utf-8")
    doc = tomllib.loads(source_text)
    head = doc.setdefault("rule", {})
    original = head.get("name", rule.name)
    head["name"] = name
    head["summary"] = (f"{head.get('summary', original)}; parameters {', '.join(result.names)} fitted to "
                       f"{Path(result.data.path).name} (R² {result.r2:.3f})")
    for nm in result.names:
        doc.setdefault("parameters", {})[nm] = _as_text(rule, nm, result.estimates[result.names.index(nm)])
    metadata = doc.setdefault("metadata", {})
    metadata["fit"] = {
        "fitted_from": original, "data_file": str(result.data.path), "data_sha256": result.data.sha256,
        "parameters": list(result.names),
        "estimates": {nm: float(v) for nm, v in zip(result.names, result.estimates)},
        "standard_errors": {nm: (float(e) if math.isfinite(e) else "inf") for nm, e in
                            zip(result.names, result.errors)},
        "units": {nm: (u.lstrip("*") or "1") for nm, u in zip(result.names, result.units)},
        **result.quality(),
    }
    if command:
        metadata["fit"]["command"] = command
    return doc


def plot_fit(result, path):
    """Data and fitted window (one curve per distinct w0, up to 6) above, residuals below; written to ``path``."""
    from matplotlib.figure import Figure

    data = result.data
    fig = Figure(figsize=(7, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    levels = np.unique(data.w0)
    shown = levels if len(levels) <= 6 else np.quantile(levels, np.linspace(0, 1, 6))
    model = WindowModel(result.rule, result.names)
    grid = np.linspace(data.delta_t.min(), data.delta_t.max(), 400)
    grid = grid[grid != 0]
    colours = [f"C{k}" for k in range(len(shown))]
    for w, colour in zip(shown, colours):
        near = np.isclose(data.w0, w) if len(levels) <= 6 else np.abs(data.w0 - w) <= np.ptp(levels) / 12
        if data.dw_sd is not None:
            top.errorbar(data.delta_t[near], data.dw[near], yerr=data.dw_sd[near], fmt="o", ms=3, color=colour,
                         alpha=0.6)
        else:
            top.plot(data.delta_t[near], data.dw[near], "o", ms=3, color=colour, alpha=0.6)
        top.plot(grid, model(result.estimates, grid, np.full(grid.shape, w)), "-", color=colour, label=f"w0 = {w:.2g}")
    top.axhline(0, color="0.7", lw=0.8)
    top.set_ylabel("Δw")
    top.set_title(f"{result.rule.name}: R² = {result.r2:.3f}, AIC = {result.aic:.1f}, BIC = {result.bic:.1f}")
    top.legend(fontsize="small")
    bottom.plot(data.delta_t, result.residuals / data.sigma, "o", ms=3, color="0.3")
    bottom.axhline(0, color="0.7", lw=0.8)
    bottom.set_xlabel("Δt = t_post - t_pre (ms)")
    bottom.set_ylabel("residual" + (" / sd" if data.dw_sd is not None else ""))
    fig.savefig(path, dpi=120)
    return path
