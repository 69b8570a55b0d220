"""Run-time cost of the rule layer: Brian2's STDP example with rules/stdp_additive.toml vs hand-written code.

Same network, same code-generation target (Cython), same seed, alternating repetitions after one warm-up run
each (which also compiles). Prints per-repetition times, the medians, and last `ratio: X` (plastlab / hand).
Usage: python benchmarks/rule_overhead.py [--seconds 10] [--repeats 5]
"""
import argparse
import statistics
import time

from brian2 import prefs, second

from plastlab.brian.examples import final_weights


def timed(rule, duration, seed):
    start = time.perf_counter()
    weights = final_weights(rule, duration, seed)
    return time.perf_counter() - start, weights


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="simulated seconds per run (default 10)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions of each (default 7)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    prefs.codegen.target = "cython"
    duration = args.seconds * second
    for rule in (None, "stdp_additive"):  # warm-up: compile both
        timed(rule, duration, args.seed)
    times = {"hand-written": [], "plastlab": []}
    for k in range(args.repeats):
        for label, rule in (("hand-written", None), ("plastlab", "stdp_additive"))[:: 1 if k % 2 == 0 else -1]:
            seconds, weights = timed(rule, duration, args.seed)
            times[label].append(seconds)
            print(f"repeat {k}: {label:12s} {seconds:7.3f} s   mean w {weights.mean():.6f}")
    hand, ours = statistics.median(times["hand-written"]), statistics.median(times["plastlab"])
    print(f"median hand-written {hand:.3f} s, plastlab {ours:.3f} s for {args.seconds:g} s simulated")
    print(f"ratio: {ours / hand:.3f}")


if __name__ == "__main__":
    main()
