"""The ``fit`` family: a learning window F(Δt, w) discovered from measured weight changes (symbolic regression).

The window is a *pair* of shapes f(x, w) of ``dt`` = x = |Δt|/τ (Δt = t_post - t_pre) and ``w`` (the weight
before the pair): ``potentiation`` for Δt > 0 and ``depression`` for Δt < 0 -- a window rule's two branches,
a±·f±(±delta_t/τ±, w). Each branch is its own campaign (family parameter ``branch``: the error is a sum over the
rows of each sign, so the two searches are independent, and each is faster alone than inside a pair). One shape
per sign, not one of Δt and w, because measured windows jump at Δt = 0 (from +A to -A) and the operators the GP
builds from (+ - * / exp, constants) are smooth: one smooth expression would have to spend most of its size on
a switch of sign, the pair spends none, and the pair is exactly what a window rule file holds.

Fitness is computed in closed form with numpy (a walk of the SymPy tree), without Brian2. A shape gets its
weighted least-squares amplitude a (linear scaling, Keijzer 2003) and its time scale τ (the best of a geometric
grid ``TAU_GRID``; the champion's is refined with SciPy): the GP searches dimensionless shapes, the constants a
and τ are fitted. With weights 1/sd² (``dw_sd``, floored at ``sd_floor`` times the median sd; 1 without it),
over the branch's rows,

    fitness = -(Σ wt (Δw - a f(|Δt|/τ, w))²) / (Σ wt (Δw - mean_wt Δw)²) - parsimony · (operations in f),

i.e. -(1 - weighted R²) minus a parsimony pressure. A candidate whose value is not finite on a data point is
the worst fitness. The data are the family's parameter ``data`` (a CSV file, ``rules.fit.read_measurements``),
its sha256 in ``data_sha256`` (checked: a campaign never runs on a changed file); instance seeds are not used
(every instance is the whole data set). Campaigns use the same loop, cache, checkpoints and resume as the other
families (``plastlab rules fit --symbolic`` builds the campaign document).
"""
import math

import numpy as np
import sympy as sp

from ...config import Param
from ...errors import DataError
from .base import TaskFamily, evolved_rule_header

_SCHEMA = {
    "data": Param(str, "", doc="the measurements (CSV: delta_t in ms, w0, dw, optional dw_sd)"),
    "data_sha256": Param(str, "", doc="the data file's sha256 ('' : not checked)"),
    "branch": Param(str, "potentiation", choices=("potentiation", "depression"),
                    doc="the rows fitted: Δt > 0 (potentiation) or Δt < 0 (depression)"),
    "parsimony": Param(float, 0.002, low=0.0, doc="fitness lost per operation of the two expressions"),
    "sd_floor": Param(float, 0.05, low=0.0, doc="dw_sd floored at this times its median (no point weighs all)"),
}

TAU_GRID = np.geomspace(0.5, 500.0, 81)  # ms: the time scales a branch's shape is tried at (ratio 1.09)
_DATA = {}  # (path, sha256) -> (Measurements, weights), read once per process


def measurements(p):
    """(Measurements, weights) of the family parameters ``p``; DataError when the file is not the one named."""
    from ...rules.fit import read_measurements

    key = (p["data"], p["data_sha256"], p["sd_floor"])
    if key not in _DATA:
        if not p["data"]:
            raise DataError("the fit family needs [family] data = \"FILE.csv\"")
        data = read_measurements(p["data"])
        if p["data_sha256"] and data.sha256 != p["data_sha256"]:
            raise DataError(f"{p['data']}: sha256 {data.sha256[:12]}... is not the campaign's "
                            f"{p['data_sha256'][:12]}... (the data file changed)")
        if data.dw_sd is None:
            weights = np.ones(data.n)
        else:
            sd = np.maximum(data.dw_sd, p["sd_floor"] * float(np.median(data.dw_sd)))
            weights = 1.0 / sd ** 2
        _DATA[key] = (data, weights)
    return _DATA[key]


def numeric(expr, values):
    """numpy value of a SymPy expression over + * pow exp, numbers and the symbols in ``values`` (arrays): a
    walk of the tree, much faster than ``lambdify`` for the many small expressions of a campaign."""
    if expr.is_Symbol:
        return values[expr]
    if expr.is_Number:
        return float(expr)
    args = [numeric(a, values) for a in expr.args]
    if expr.is_Add:
        return sum(args[1:], args[0])
    if expr.is_Mul:
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if expr.is_Pow:
        base, exponent = args
        return np.power(np.asarray(base, dtype=float), exponent)
    if isinstance(expr, sp.exp):
        return np.exp(args[0])
    raise TypeError(f"no closed-form evaluation of {type(expr).__name__}")


BRANCHES = ("potentiation", "depression")


class FitFamily(TaskFamily):
    NAME = "fit"
    INPUTS = ("dt", "w")
    SCHEMA = _SCHEMA
    SCORED = "r2"

    def baselines(self):
        return {}

    def reference(self):
        return None

    def sample_instance(self, p, seed):
        return measurements(p)

    def branch(self, part, dt_abs, w0, dw, wt, taus):
        """(sse, amplitude, tau) of one branch's shape f(|Δt|/τ, w) at the best of ``taus`` (ms), its amplitude
        by weighted least squares; (inf, nan, nan) when no τ gives finite values."""
        dt, w = self.symbols()
        with np.errstate(all="ignore"):
            values = np.broadcast_to(numeric(part, {dt: dt_abs[None, :] / taus[:, None], w: w0[None, :]}),
                                     (len(taus), len(dt_abs))).astype(float)
            norm = np.sum(wt * values ** 2, axis=1)
            a = np.sum(wt * values * dw, axis=1) / np.where(norm > 0, norm, 1.0)
            a = np.where(norm > 0, a, 0.0)
            sse = np.sum(wt * (dw - a[:, None] * values) ** 2, axis=1)
        sse = np.where(np.all(np.isfinite(values), axis=1) & np.isfinite(a) & np.isfinite(sse), sse, np.inf)
        k = int(np.argmin(sse))
        if not np.isfinite(sse[k]):
            return math.inf, math.nan, math.nan
        return float(sse[k]), float(a[k]), float(taus[k])

    def scaled(self, expr, p, refine=False):
        """(amplitudes, τs in ms, weighted R², error) of the shape ``expr`` on the rows of ``p["branch"]``, or of
        the pair (f+, f-) on all rows; error is "" or why there is no fit. τ from a geometric grid
        (``refine``: then SciPy's bounded search around the best)."""
        data, weights = measurements(p)
        pair = isinstance(expr, sp.Tuple)
        branches = BRANCHES if pair else (p["branch"],)
        signs = {"potentiation": data.delta_t > 0, "depression": data.delta_t < 0}
        used = signs[branches[0]] | signs[branches[-1]]
        sse_total, amplitudes, taus = 0.0, [], []
        for part, rows in zip(expr if pair else (expr,), (signs[b] for b in branches)):
            args = (np.abs(data.delta_t[rows]), data.w0[rows], data.dw[rows], weights[rows])
            try:
                sse, a, tau = self.branch(part, *args, TAU_GRID)
                if refine and math.isfinite(sse):
                    from scipy.optimize import minimize_scalar

                    step = math.log(TAU_GRID[1] / TAU_GRID[0])
                    best = minimize_scalar(lambda x, f=part, a=args: self.branch(f, *a, np.array([math.exp(x)]))[0],
                                           bounds=(math.log(tau) - step, math.log(tau) + step), method="bounded",
                                           options={"xatol": 1e-6})
                    if best.fun <= sse:
                        sse, a, tau = self.branch(part, *args, np.array([math.exp(best.x)]))
            except (TypeError, ValueError, ZeroDivisionError, OverflowError, KeyError) as exc:
                return None, None, math.nan, f"not computable in closed form ({type(exc).__name__})"
            if not math.isfinite(sse):
                return None, None, math.nan, "the expression is not finite on a data point"
            sse_total += sse
            amplitudes.append(a)
            taus.append(tau)
        wt, dw = weights[used], data.dw[used]
        mean = float(np.sum(wt * dw) / np.sum(wt))
        total = float(np.sum(wt * (dw - mean) ** 2))
        r2 = 1.0 - sse_total / total if total > 0 else math.nan
        return tuple(amplitudes), tuple(taus), r2, ""

    def evaluate_batch(self, exprs, seeds, params=None, device="runtime"):
        """Fitness of each shape in closed form (no network, ``seeds`` and ``device`` are not used)."""
        p = self.params_with_defaults(params)
        out = []
        for expr in exprs:  # canonical already (the campaign's cache keys)
            if expr is sp.nan:
                out.append({"fitness": -math.inf, "reason": "expression is not finite (division by zero)",
                            "per_instance": []})
                continue
            _, _, r2, reason = self.scaled(expr, p)
            if reason or not math.isfinite(r2):
                out.append({"fitness": -math.inf, "reason": reason or "the data have no spread",
                            "per_instance": []})
                continue
            size = sp.count_ops(expr)
            out.append({"fitness": -(1.0 - r2) - p["parsimony"] * size, "reason": "", "per_instance": [r2]})
        return out

    def evaluate_rule(self, rule, seeds, params=None):
        raise NotImplementedError("the fit family scores expressions in closed form; compare a rule file's "
                                  "window with `plastlab rules fit RULE DATA.csv`")

    def simplified(self, expr, p):
        """The champion's two shapes simplified, in x = |Δt|/τ and w; amplitudes, τ (ms, refined) and R²."""
        from ...rules.expressions import canonical

        if not isinstance(expr, sp.Tuple):  # one branch's champion: the other branch is 0
            expr = sp.Tuple(expr, 0) if p["branch"] == "potentiation" else sp.Tuple(0, expr)
        expr = canonical(expr)
        amplitudes, taus, r2, reason = self.scaled(expr, p, refine=True)
        if reason:
            raise DataError(f"the champion has no fit to the data: {reason}")
        parts = [sp.simplify(part) for part in expr]
        return parts, amplitudes, taus, r2

    def rule_document(self, expr, name, summary, params=None, *, nonce=None):
        """For the pair ``expr`` = (f+, f-) (or one branch's f, the other 0), a window rule: potentiation =
        a_plus*f+(delta_t/tau_plus, w), depression = a_minus*f-(-delta_t/tau_minus, w); weight in [0, 1] when
        every measured w0 is, unbounded otherwise; ``[metadata.fit]`` names the data and the fit."""
        from ...rules.expressions import to_code

        p = self.params_with_defaults(params)
        data, _ = measurements(p)
        (f_plus, f_minus), (a_plus, a_minus), (tau_plus, tau_minus), r2 = self.simplified(expr, p)
        dt, _ = self.symbols()
        delta_t = sp.Symbol("delta_t", real=True)
        tp, tm = sp.Symbol("tau_plus", positive=True), sp.Symbol("tau_minus", positive=True)
        unit_interval = bool(np.all((data.w0 >= 0) & (data.w0 <= 1)))
        doc = {
            "rule": evolved_rule_header("fit", name, summary),
            "parameters": {"a_plus": float(a_plus), "a_minus": float(a_minus),
                           "tau_plus": f"{tau_plus!r}*ms", "tau_minus": f"{tau_minus!r}*ms"},
            "weight": {"unit": "1", "min": "0" if unit_interval else "-inf", "max": "1" if unit_interval else "inf"},
            "window": {"potentiation": f"a_plus*({to_code(f_plus.xreplace({dt: delta_t / tp}))})",
                       "depression": f"a_minus*({to_code(f_minus.xreplace({dt: -delta_t / tm}))})"},
            "metadata": {"fit": {"method": "symbolic regression (plastlab GP, fit family)",
                                 "data_file": str(data.path), "data_sha256": data.sha256,
                                 "weighted_r2": float(r2), "shape_potentiation": str(f_plus),
                                 "shape_depression": str(f_minus), "shape_input": "x = |delta_t|/tau",
                                 "parsimony": p["parsimony"]}},
        }
        doc["rule"]["citation"] = "discovered with plastlab rules fit --symbolic (GP on the lab's engine)"
        return doc


def family_params(data, parsimony=None):
    """The family parameters of ``data`` (for ``rule_document`` of the champions' pair)."""
    out = {"data": str(data.path), "data_sha256": data.sha256}
    if parsimony is not None:
        out["parsimony"] = float(parsimony)
    return out
