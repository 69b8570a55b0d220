"""Runtime (Cython) vs cpp_standalone, side by side in one run, on the same candidates: evaluations per second
of a task family at its campaign file's batch (the batch one of ``--workers`` workers gets: new_per_generation /
workers candidates on all training instances), with the standalone build warm (a first batch of other candidates
builds or copies it from the disk cache; the timed batch is new data for the same build). Checks that both
devices give the same fitness to every candidate.

    PYTHONPATH=. nice python benchmarks/device_side_by_side.py [--family error] [--workers 2] [--repeat 2]
        [--family-param rate_per_neuron=true]

Prints both rates and, last, ``ratio: X`` (standalone rate / runtime rate, one process, one core).
"""
import argparse
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plastlab.evolve import campaign  # noqa: E402
from plastlab.evolve.tasks import get_family  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evolve_throughput import distinct_candidates  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="error", choices=("error", "reward", "correlation"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="timed batches per device (best taken)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--family-param", action="append", default=[], metavar="KEY=VALUE",
                    help="a [family] setting over the campaign file's, e.g. rate_per_neuron=true (repeatable)")
    args = ap.parse_args(argv)
    spec = campaign.load_campaign(Path(__file__).resolve().parents[1] / "evolve" / f"{args.family}.toml")
    family = get_family(args.family)
    n = max(1, min(spec["batch_size"], spec["gp"]["new_per_generation"] // args.workers))
    pool = distinct_candidates(family, spec, n * (args.repeat + 1), args.seed)
    warm, timed = pool[:n], [pool[n * (k + 1):n * (k + 2)] for k in range(args.repeat)]
    seeds, params = spec["train_seeds"], dict(spec["family_params"])
    for item in args.family_param:  # TOML values: true, 0.5, "text"
        key, _, value = item.partition("=")
        params[key] = tomllib.loads(f"v = {value}")["v"]
    params = family.params_with_defaults(params)
    print(f"family {args.family}: batch of {n} candidates x {len(seeds)} instances "
          f"(campaign batch_size {spec['batch_size']}, new_per_generation {spec['gp']['new_per_generation']}, "
          f"{args.workers} workers)")
    start = time.perf_counter()
    family.evaluate_batch(warm, seeds, params, device="cpp_standalone")
    print(f"cpp_standalone first batch (build or disk cache, then run): {time.perf_counter() - start:.1f} s")
    family.evaluate_batch(warm, seeds, params)  # Cython cache warm
    rates, results, best = {}, {}, {"runtime": float("inf"), "cpp_standalone": float("inf")}
    for batch in timed:  # the devices in turn, so a change of the machine's load falls on both
        for device in best:
            start = time.perf_counter()
            results[device, id(batch)] = family.evaluate_batch(batch, seeds, params, device=device)
            best[device] = min(best[device], time.perf_counter() - start)
    for device in best:
        rates[device] = n / best[device]
        print(f"{device}: {rates[device]:.2f} evaluations/s (best of {args.repeat} batches, {best[device]:.2f} s)")
    for batch in timed:
        a, b = results["runtime", id(batch)], results["cpp_standalone", id(batch)]
        assert [r["fitness"] for r in a] == [r["fitness"] for r in b], "devices disagree"
    print("same fitness on both devices: yes")
    print(f"ratio: {rates['cpp_standalone'] / rates['runtime']:.2f}")


if __name__ == "__main__":
    main()
