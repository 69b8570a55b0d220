"""Batched program evaluation against the naive per-candidate rule file, on random GP trees with pow.

For each family, N distinct random trees (DEAP, the family's constants, operators + - * / pow; at least half
of them use pow) are scored twice on the same instances: all together as program data in one compiled
network (``family.evaluate_batch``), and one by one with the candidate's rule file compiled into its own
network (``family.evaluate_naive``). Prints every pair, then the number of trees that agree within
1e-9 (relative to the fitness when it exceeds 1 in magnitude), ``max_abs_difference: X`` over the trees both ways
score finitely, and the number of trees where only one way failed (must be 0). A tree that does not agree is
scored again in the batched network with its expression multiplied by (1 + 2**-50): if that alone moves its
fitness by as much, the candidate's dynamics are chaotic (one rounding difference in the rule, e.g. a fused
multiply-add the C compiler makes in the rule file's code, grows without bound), not computed differently.

Shorter instances than a campaign's (the equations, clocks and operators are the campaign's; only durations
and counts are smaller) so that compiling N rule files stays within minutes:

    PYTHONPATH=. nice python benchmarks/program_exactness.py --family error [--trees 20] [--seed 0]
"""
import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402

from plastlab.evolve import gp  # noqa: E402
from plastlab.evolve.tasks import get_family, programs  # noqa: E402

SETTINGS = {  # family parameters and instances for the comparison
    "error": ({"duration": 3.0, "t_drop": 1.0}, [1000, 1001, 1002], (1,)),
    "reward": ({"n_trials": 100}, [1000, 1001], (0.1, 1, 10)),
    # rule files fail on a division by zero, so the batched network is compared in the same mode
    "correlation": ({"train": 10.0, "test": 5.0, "zero_division": "fail"}, [1000, 1001], (0.1, 1, 10)),
}


def _uses_pow(tree):
    return any(node.name == "pow" for node in tree)


def random_trees(family, n, seed, constants):
    """n distinct canonical expressions from random trees; at least n // 2 built with pow."""
    genome = gp.Genome(family.INPUTS, constants, ("add", "sub", "mul", "div", "pow"),
                       getattr(family, "OUTPUTS", ()))
    toolbox = gp.make_toolbox(genome, init_min=1, init_max=3, max_height=5, max_size=21)
    with_pow, without = [], []

    def wanted(tree, expr):  # pow trees always; the others until their half is full; simulable either way
        return ((_uses_pow(tree) or len(without) < n - n // 2)
                and programs.representable(expr, family.symbols()))

    for tree, expr in gp.random_candidates(genome, toolbox, seed, wanted):
        (with_pow if _uses_pow(tree) else without).append(expr)
        if len(with_pow) + len(without) == n:
            break
    return with_pow, without


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", choices=tuple(SETTINGS), required=True)
    ap.add_argument("--trees", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    family = get_family(args.family)
    params, seeds, constants = SETTINGS[args.family]
    params = family.params_with_defaults(params)
    with_pow, without = random_trees(family, args.trees, args.seed, constants)
    exprs = with_pow + without
    print(f"{args.family}: {len(exprs)} random trees ({len(with_pow)} built with pow), "
          f"{len(seeds)} instances, {params}")
    t0 = time.perf_counter()
    batched = family.evaluate_batch(exprs, seeds, params)
    print(f"batched: {len(exprs)} candidates in one network, {time.perf_counter() - t0:.1f} s")
    worst, one_failed, both_failed, disagree = 0.0, 0, 0, []
    t0 = time.perf_counter()
    for expr, a in zip(exprs, batched):
        b = family.evaluate_naive(expr, seeds, params)
        fa, fb = a["fitness"], b["fitness"]
        if math.isfinite(fa) and math.isfinite(fb):
            diff = abs(fa - fb)
            worst = max(worst, diff)
            verdict = f"|diff| {diff:.2e}"
            if diff > 1e-9 * max(1.0, abs(fb)):
                disagree.append((expr, fa))
                verdict += " DIFFERENT"
        elif not math.isfinite(fa) and not math.isfinite(fb):
            both_failed += 1
            verdict = f"both worst ({a['reason'][:40]} | {b['reason'][:40]})"
        else:
            one_failed += 1
            verdict = f"ONE FAILED ({a['reason']} | {b['reason']})"
        print(f"  {str(expr)[:90]:90s} batched {fa:.10g} naive {fb:.10g} {verdict}", flush=True)
    print(f"naive: {len(exprs)} candidates, one compiled network each, {time.perf_counter() - t0:.1f} s")
    print(f"finite both ways: {len(exprs) - both_failed - one_failed}, worst both ways: {both_failed}, "
          f"only one way failed: {one_failed}")
    finite = len(exprs) - both_failed - one_failed
    print(f"agree within 1e-9 (relative above 1): {finite - len(disagree)} of {finite} finite")
    if disagree:
        eps = sp.Rational(1, 2**50)
        perturbed = family.evaluate_batch([_scaled(e, 1 + eps) for e, _ in disagree], seeds, params)
        for (expr, fa), r in zip(disagree, perturbed):
            print(f"  sensitivity of {str(expr)[:70]}: fitness {fa:.10g}, with the rule x (1 + 2**-50) "
                  f"{r['fitness']:.10g} (change {abs(r['fitness'] - fa):.3g})")
    print(f"max_abs_difference: {worst:.3e}")


def _scaled(expr, factor):
    if isinstance(expr, sp.Tuple):
        return sp.Tuple(*[part * factor for part in expr])
    return expr * factor


if __name__ == "__main__":
    main()
