"""Cost of SuperSpike: simulated seconds per wall second for experiment 2(a), and SuperSpike vs plain STDP.

The same network (100 frozen Poisson inputs -> 1 LIF output with error signal, Cython target) is run with its
plastic synapses driven by rules/superspike.toml and by rules/stdp_additive.toml, alternating, after a warm-up
run of each (which compiles). Prints both rates and, last, `ratio: X` = SuperSpike cost / STDP cost per
simulated second. Usage: python benchmarks/three_factor_cost.py [--trials 20] [--repeats 3]
"""
import argparse
import statistics
import time

import numpy as np
from brian2 import defaultclock, ms, prefs

from plastlab.rule import load_rule
from plastlab.superspike import SuperSpikeNetwork, configure, spike_times_session


def timed_run(rule_name, trials, seed):
    cfg = configure(dict(trials=trials))
    rng = np.random.default_rng(seed)
    session = spike_times_session(cfg, rng, cfg["dt_ms"] / 1000)
    net = SuperSpikeNetwork(cfg, session, rng, load_rule(rule_name))
    start = time.perf_counter()
    net.run()
    return time.perf_counter() - start, trials * session.trial


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="500 ms trials per timed run (default 20)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    prefs.codegen.target = "cython"
    defaultclock.dt = 0.1 * ms
    for rule in ("superspike", "stdp_additive"):
        timed_run(rule, 1, args.seed)  # warm-up: compile
    cost = {"superspike": [], "stdp_additive": []}
    for k in range(args.repeats):
        for rule in ("superspike", "stdp_additive")[:: 1 if k % 2 == 0 else -1]:
            wall, simulated = timed_run(rule, args.trials, args.seed)
            cost[rule].append(wall / simulated)
            print(f"repeat {k}: {rule:14s} {simulated:5.1f} s simulated in {wall:6.2f} s wall "
                  f"({simulated / wall:5.2f} simulated s per wall s)")
    superspike, stdp = statistics.median(cost["superspike"]), statistics.median(cost["stdp_additive"])
    print(f"experiment 2(a) with SuperSpike: {1 / superspike:.2f} simulated seconds per wall second")
    print(f"same network with plain STDP:    {1 / stdp:.2f} simulated seconds per wall second")
    print(f"ratio: {superspike / stdp:.2f}")


if __name__ == "__main__":
    main()
