"""One training epoch of the dis-inhibitory circuit: the earlier schedule against the faster ones, side by side.

    python benchmarks/disinhibitory_epoch.py [--dataset yinyang|digits|both] [--samples N]

Three ways to run the same epoch (batch 100, dt 5 ms, Adam lr 1e-3, exact-inverse rule, Cython, seed 0) from the
same initial weights:
  run_per_batch  the earlier schedule: Brian2 stops for every batch's plastic step, so every minibatch costs two
                 runs, and Brian2 prepares (code-generates and binds) every object at the start of each run;
  one_run        the same integration in a single Brian2 run (rules' code skipped outside the plastic step):
                 the same numbers bit for bit;
  newton         steady_state = "newton": both fixed points solved (open loop as for backprop, closed loop by
                 damped Newton), one Brian2 step per batch in which the rules run.
Prints CPU time (this process; the machine is shared, so wall time mostly measures the others) and wall time per
epoch with their ratios to run_per_batch, and how far the weights after the epoch are from
run_per_batch's (max |difference| relative to max |change|): 0 for one_run; for newton the size of the integration's
own steady-state tolerance (rtol 1e-3), since newton lands on the fixed point itself. A warm-up batch per variant
compiles the code first (cached on disk), so compilation is not timed.
"""
import argparse
import time

import numpy as np


def epoch(dataset, samples, variant):
    from plastlab.datasets import load
    from plastlab.learn.disinhibitory import DisinhibitoryCircuit

    if dataset == "yinyang":
        X, y, *_ = load("yinyang")
        sizes = [4, 30, 3]
    else:
        X, y, *_ = load("digits", seed=0)
        sizes = [64, 64, 10]
    X, y = X[:samples], y[:samples]
    T = np.full((len(y), sizes[-1]), 0.01 / (sizes[-1] - 1))
    T[np.arange(len(y)), y] = 0.99
    params = {"dt": 5.0, "steady_state": "newton" if variant == "newton" else "integrate"}
    schedule = "one_run" if variant == "newton" else variant

    def circuit():
        return DisinhibitoryCircuit(sizes, rule="disinhibitory", copies=100, seed=0, params=params,
                                    codegen="cython")

    circuit().present(X[:100], T[:100], learn=True, schedule=schedule)  # warm-up (compilation), not timed
    net = circuit()
    w0 = [W.copy() for W, _ in net.weights]
    start, cpu = time.perf_counter(), time.process_time()
    net.present(X, T, learn=True, schedule=schedule)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return (cpu, wall), [W - W_start for (W, _), W_start in zip(net.weights, w0)], net.last_steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("yinyang", "digits", "both"), default="both")
    parser.add_argument("--samples", type=int, default=None, help="training samples (default: the whole split)")
    args = parser.parse_args()
    datasets = ("yinyang", "digits") if args.dataset == "both" else (args.dataset,)
    for dataset in datasets:
        samples = args.samples or (5000 if dataset == "yinyang" else 1257)
        results = {v: epoch(dataset, samples, v) for v in ("run_per_batch", "one_run", "newton")}
        (base_cpu, base_wall), base_change, steps = results["run_per_batch"]
        closed = np.mean([s["closed"] for s in steps])
        print(f"{dataset}: one epoch, {samples} samples (closed loop {closed:.0f} Euler steps per batch when "
              "integrated)")
        print(f"  {'variant':14s} {'CPU s':>7s} {'speed-up':>9s} {'wall s':>8s} {'speed-up':>9s} "
              f"{'weights vs run_per_batch':>26s}")
        for variant, ((cpu, wall), change, _) in results.items():
            scale = max(np.abs(c).max() for c in base_change)
            diff = max(np.abs(a - b).max() for a, b in zip(change, base_change)) / scale
            print(f"  {variant:14s} {cpu:7.2f} {base_cpu / cpu:8.1f}x {wall:8.2f} {base_wall / wall:8.1f}x "
                  f"{diff:26.2e}", flush=True)


if __name__ == "__main__":
    main()
