"""Cost of SuperSpike: simulated seconds per wall second for experiment 2(a), and SuperSpike vs plain STDP.

Experiment 2(a) (100 frozen Poisson inputs -> 1 LIF output with error signal, Cython target) is timed with
SuperSpike. For the synapse comparison the same network gets --inputs synapses (default 2000, so that the
synapses, not the neuron and monitors, dominate) driven by rules/superspike.toml and by rules/stdp_additive.toml,
alternating, after a warm-up run of each (which compiles). Prints the rates and, last, `ratio: X` = SuperSpike
cost / STDP cost per simulated second. Usage: python benchmarks/three_factor_cost.py [--trials 10] [--repeats 3]
"""
import argparse
import statistics
import time

import numpy as np
from brian2 import ms

from plastlab.brian.settings import brian_settings
from plastlab.learn.superspike import Copy, build_network, configure, spike_times_session, train
from plastlab.rules.files import load_rule


def timed_run(rule_name, trials, seed, inputs=100):
    cfg = configure(dict(trials=trials, n_inputs=inputs, anneal_fraction=1.0))
    rng = np.random.default_rng(seed)
    copy = Copy(seed, "none", spike_times_session(cfg, rng, cfg["dt_ms"] / 1000), rng)
    with brian_settings(target="cython", dt=cfg["dt_ms"] * ms):
        net = build_network(cfg, [copy], load_rule(rule_name))
        start = time.perf_counter()
        train(net, cfg, trials)
        return time.perf_counter() - start, trials * copy.session.trial


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="500 ms trials per timed run (default 10)")
    parser.add_argument("--inputs", type=int, default=2000, help="synapses for the comparison (default 2000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for rule in ("superspike", "stdp_additive"):
        timed_run(rule, 1, args.seed, args.inputs)  # warm-up: compile
    timed_run("superspike", 1, args.seed)
    rates = []
    for _ in range(args.repeats):
        wall, simulated = timed_run("superspike", args.trials, args.seed)
        rates.append(simulated / wall)
    print(f"experiment 2(a) with SuperSpike (100 inputs): {statistics.median(rates):.2f} simulated seconds per "
          f"wall second")
    cost = {"superspike": [], "stdp_additive": []}
    for k in range(args.repeats):
        for rule in ("superspike", "stdp_additive")[:: 1 if k % 2 == 0 else -1]:
            wall, simulated = timed_run(rule, args.trials, args.seed, args.inputs)
            cost[rule].append(wall / simulated)
            print(f"repeat {k}: {rule:14s} {args.inputs} synapses, {simulated:5.1f} s simulated in {wall:6.2f} s "
                  f"wall ({simulated / wall:5.2f} simulated s per wall s)")
    superspike, stdp = statistics.median(cost["superspike"]), statistics.median(cost["stdp_additive"])
    print(f"{args.inputs} synapses: SuperSpike {superspike:.3f} s, STDP {stdp:.3f} s wall per simulated second")
    print(f"ratio: {superspike / stdp:.2f}")


if __name__ == "__main__":
    main()
