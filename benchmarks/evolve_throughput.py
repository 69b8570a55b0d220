"""Distinct candidate evaluations per second on the error family at full specification (15 instances x 10 s).

Batched ("compile once, vary by data"): candidates are coefficient data of one compiled Brian2 network, many
candidates x all instances per network, batches spread over a local Dask cluster with --workers processes.
Naive: one Brian2 run per candidate whose rule file (``rule_document``) is compiled through brian/codegen, so every candidate
is compiled (a per-run nonce in a variable name defeats Cython's on-disk cache of earlier benchmark runs),
one after another in this process. Both use the same equations, clocks and sampling; the script checks that
both give the same fitness for the candidates timed both ways.

    PYTHONPATH=. nice python benchmarks/evolve_throughput.py [--candidates 64] [--naive 4] [--workers 2] [--seed 0]

Prints both rates and, last, ``ratio: X``.
"""
import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402

from plastlab.evolve import campaign, gp  # noqa: E402
from plastlab.evolve.tasks import error, rational  # noqa: E402


def distinct_candidates(n, seed, degree):
    """n distinct, finite, encodable canonical expressions from random DEAP trees (seeded)."""
    genome = gp.Genome(error.INPUTS, (1,))
    toolbox = gp.make_toolbox(genome, init_min=1, init_max=3)
    random.seed(seed)
    seen, out = set(), []
    syms = error.symbols()
    while len(out) < n:
        expr = gp.canonical(genome.to_sympy(toolbox.individual()))
        key = sp.srepr(expr)
        if expr is sp.nan or key in seen or not expr.free_symbols:
            continue
        try:
            rational.encode(expr, syms, degree)
        except rational.OutsideEncoding:
            continue
        seen.add(key)
        out.append(expr)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=64, help="distinct candidates for the batched rate")
    ap.add_argument("--naive", type=int, default=4, help="distinct candidates for the naive rate")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args(argv)
    spec = campaign.load_campaign(Path(__file__).resolve().parents[1] / "evolve" / "error.toml")
    params, seeds = spec["family_params"], spec["train_seeds"]
    print(f"error family: {len(seeds)} instances x {params['duration']} s, dt {params['dt']} ms, "
          f"rule dt {params['rule_dt']} ms")
    cands = distinct_candidates(args.candidates + 2 * args.workers + args.naive, args.seed, params["degree"])
    warm, cands, naive = (cands[:2 * args.workers], cands[2 * args.workers:2 * args.workers + args.candidates],
                          cands[-args.naive:])

    evaluator = campaign.Evaluator("error", seeds, params, args.batch_size, workers=args.workers)
    try:
        evaluator(warm)  # every worker loads (or, on a fresh machine, compiles) the network code once
        t0 = time.perf_counter()
        batched = evaluator(cands + naive)
        t_batched = time.perf_counter() - t0
    finally:
        evaluator.close()
    rate_batched = len(cands + naive) / t_batched
    print(f"batched: {len(cands + naive)} distinct candidates in {t_batched:.1f} s with {args.workers} workers: "
          f"{rate_batched:.3f} evaluations/s")

    nonce = f"{os.getpid()}{time.time_ns() % 10**9}"
    t0 = time.perf_counter()
    naive_results = [error.evaluate_naive(expr, seeds, params, nonce=nonce) for expr in naive]
    t_naive = time.perf_counter() - t0
    rate_naive = len(naive) / t_naive
    print(f"naive: {len(naive)} distinct candidates in {t_naive:.1f} s, one compiled run each: "
          f"{rate_naive:.3f} evaluations/s")
    for expr, a, b in zip(naive, batched[-len(naive):], naive_results):
        same = (a["reason"] != "") == (b["reason"] != "") and (a["reason"] or abs(a["fitness"] - b["fitness"]) <=
                                                              1e-6 * max(1.0, abs(a["fitness"])))
        print(f"  check {expr}: batched {a['fitness']:.6g} naive {b['fitness']:.6g} {'same' if same else 'DIFFERENT'}")
    print(f"ratio: {rate_batched / rate_naive:.1f}")


if __name__ == "__main__":
    main()
