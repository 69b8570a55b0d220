"""Distinct candidate evaluations per second of a task family at its campaign file's specification.

Batched ("compile once, vary by data"): candidates are program data of one compiled Brian2 network, many
candidates x all instances per network, batches spread over a local Dask cluster with --workers processes.
Naive: one Brian2 run per candidate whose rule file (``rule_document``) is compiled through brian/codegen, so every
candidate is compiled (a per-run nonce in a variable name defeats Cython's on-disk cache of earlier benchmark
runs), one after another in this process. Both use the same equations, clocks and sampling; the script checks that
both give the same fitness for the candidates timed both ways. Candidates are distinct random trees over the
family's paper operator set (evolve/FAMILY.toml), including pow for the correlation family.

With --profile, one batch is also run in this process with Brian2's profiler on, and the script prints where the
simulation time goes (per Brian2 code object) next to the time spent outside the simulation (network
construction, compilation look-ups, SymPy).

    PYTHONPATH=. nice python benchmarks/evolve_throughput.py --family error [--candidates N] [--naive 4]
        [--workers 2] [--seed 0] [--device cpp_standalone] [--profile]

By default the timed batch is the campaign file's own generation: ``new_per_generation`` distinct candidates
(``--naive`` of them also timed the naive way), split over the workers as a campaign splits them. A first batch of
as many other candidates warms every worker: Cython's cache, or with ``--device cpp_standalone`` the standalone
build of that batch structure (built once, or copied from the disk cache), so the timed batch is new data for
networks already built, as in every generation of a campaign after the first.

Prints both rates and, last, ``ratio: X``.
"""
import argparse
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plastlab.evolve import campaign, gp  # noqa: E402
from plastlab.evolve.tasks import get_family, programs  # noqa: E402

NAIVE = {"error": 4, "reward": 2, "correlation": 2}  # candidates timed the naive way


def distinct_candidates(family, spec, n, seed):
    """n distinct, finite canonical expressions from random DEAP trees over the campaign's operator set."""
    g = spec["gp"]
    genome = gp.Genome(family.INPUTS, g["constants"], g["operators"], getattr(family, "OUTPUTS", ()))
    toolbox = gp.make_toolbox(genome, init_min=1, init_max=3, max_height=g["max_height"], max_size=g["max_size"])

    pairs = gp.random_candidates(genome, toolbox, seed, lambda tree, e: programs.representable(e, family.symbols()))
    return [expr for _, (_, expr) in zip(range(n), pairs)]


def profile_one_batch(family, exprs, seeds, params):
    """Brian2's profiler on one in-process batch: seconds per code object kind, and the rest."""
    import brian2 as b2

    original, spent = b2.Network.run, defaultdict(float)

    def profiled(self, duration, *args, **kwargs):
        kwargs["profile"] = True
        result = original(self, duration, *args, **kwargs)
        for name, seconds in self.profiling_info:
            spent[name.split("_codeobject")[0]] += float(seconds)
        return result

    b2.Network.run = profiled
    try:
        t0 = time.perf_counter()
        family.evaluate_batch(exprs, seeds, params)
        total = time.perf_counter() - t0
    finally:
        b2.Network.run = original
    simulated = sum(spent.values())
    print(f"profile of one batch of {len(exprs)} candidates in this process: {total:.1f} s, of which "
          f"{simulated:.1f} s inside Brian2's compiled code objects, {total - simulated:.1f} s outside "
          "(network construction, code look-up, SymPy, result handling):")
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {name:40s} {seconds:7.2f} s  {100 * seconds / total:5.1f} %")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", choices=tuple(NAIVE), default="error")
    ap.add_argument("--candidates", type=int,
                    help="distinct candidates for the batched rate besides the naive ones (default: the campaign "
                         "file's new_per_generation minus --naive, so one generation is timed)")
    ap.add_argument("--naive", type=int, help="distinct candidates for the naive rate")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=None, help="default: the campaign file's")
    ap.add_argument("--device", default="runtime", choices=("runtime", "cpp_standalone"),
                    help="Brian2 device of the batched networks (the naive way always runs on runtime)")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args(argv)
    spec = campaign.load_campaign(Path(__file__).resolve().parents[1] / "evolve" / f"{args.family}.toml")
    n_naive = args.naive or NAIVE[args.family]
    n_batched = args.candidates or max(1, spec["gp"]["new_per_generation"] - n_naive)
    family = get_family(args.family)
    params, seeds = spec["family_params"], spec["train_seeds"]
    print(f"{args.family} family: {len(seeds)} instances, parameters {params}, device {args.device}")
    n_timed = n_batched + n_naive
    pool = distinct_candidates(family, spec, 2 * n_timed + 1, args.seed)
    warm, cands, naive = pool[:n_timed], pool[n_timed:n_timed + n_batched], pool[n_timed + n_batched:-1]

    evaluator = campaign.Evaluator(args.family, seeds, params, args.batch_size or spec["batch_size"],
                                   workers=args.workers, device=args.device)
    try:
        start = time.perf_counter()
        evaluator(warm)  # the same batch structure: every worker compiles or loads its network code once
        print(f"warm-up batch of {len(warm)} other candidates: {time.perf_counter() - start:.1f} s")
        t0 = time.perf_counter()
        batched = evaluator(cands + naive)
        t_batched = time.perf_counter() - t0
    finally:
        evaluator.close()
    rate_batched = len(cands + naive) / t_batched
    print(f"batched: {len(cands + naive)} distinct candidates in {t_batched:.1f} s with {args.workers} workers: "
          f"{rate_batched:.3f} evaluations/s")

    nonce = f"{os.getpid()}{time.time_ns() % 10**9}"
    family.evaluate_naive(pool[-1], seeds, params, nonce=nonce + "0")  # untimed: Brian2's first-use compilations
    t0 = time.perf_counter()
    naive_results = [family.evaluate_naive(expr, seeds, params, nonce=nonce) for expr in naive]
    t_naive = time.perf_counter() - t0
    rate_naive = len(naive) / t_naive
    print(f"naive: {len(naive)} distinct candidates in {t_naive:.1f} s, one compiled run each: "
          f"{rate_naive:.4f} evaluations/s")
    for expr, a, b in zip(naive, batched[-len(naive):], naive_results):
        fa, fb = a["fitness"], b["fitness"]
        same = (math.isfinite(fa) == math.isfinite(fb)) and (not math.isfinite(fa) or
                                                             abs(fa - fb) <= 1e-9 * max(1.0, abs(fa)))
        print(f"  check {expr}: batched {fa:.10g} naive {fb:.10g} {'same' if same else 'DIFFERENT'}")
    if args.profile:
        profile_one_batch(family, cands[:spec["batch_size"]], seeds, params)
    print(f"ratio: {rate_batched / rate_naive:.1f}")


if __name__ == "__main__":
    main()
