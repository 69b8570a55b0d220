"""Do the task families reproduce Jordan et al.'s hand-designed baselines? (issue 12, item 3)

Scores each family's baselines on the instances of its campaign file (evolve/FAMILY.toml) with the family's
batched network and prints them next to the paper's numbers and the targets:

- error: the delta rule s̄(v - u), 2 s̄(v - u) and no plasticity; doubling the gain must gain <= 15 % (paper
  9 %), the delta rule must beat no plasticity by > 5x;
- reward: E(R - 1), E R and no plasticity; E(R - 1) within [140, 260] on the training instances (paper 210),
  E R at least 100 below;
- correlation: homeostatic STDP (no depression) and no plasticity; mean SNR over instances within
  18.4 +- 5.7 (paper, n = 20), none at zero.

``--set KEY=VALUE`` changes a family parameter (e.g. ``--set dt=0.25`` for the effect of the time step: a named
departure must move the baselines by less than their spread over instances).

    python benchmarks/task_baselines.py --family error [--instances train|validation] [--set dt=0.05]
"""
import argparse
import time

import numpy as np
import sympy as sp

from plastlab.config import parse_setting
from plastlab.evolve.campaign import load_campaign
from plastlab.evolve.tasks import get_family

PAPER = {
    "error": "paper (training): delta -14.74, 2*delta -13.44 (gain 9 %), no plasticity -301.6",
    "reward": "paper: E(R-1) 210.2 training, 197.2 +- 60.5 validation; E*R does not learn (Brian2 port: -26.2)",
    "correlation": "paper: homeostatic STDP 18.36 +- 5.67 (n = 20, min 0.68)",
}


def candidates(family):
    base = family.baselines()
    if family.NAME == "error":
        return {"no_plasticity": base["no_plasticity"], "delta_rule": base["delta_rule"],
                "delta_rule_x2": 2 * base["delta_rule"]}
    if family.NAME == "reward":
        return {"no_plasticity": base["no_plasticity"], "E(R-1)": base["eligibility_reward_minus_1"],
                "E*R": base["eligibility_reward"]}
    _, k = family.symbols()
    return {"no_plasticity": base["no_plasticity"], "homeostatic_stdp": base["homeostatic_stdp"],
            "with_depression": sp.Tuple(k - sp.Rational(3, 20), k)}


def verdict(name, fit, per):
    if name == "error":
        gain = (fit["delta_rule_x2"] - fit["delta_rule"]) / abs(fit["delta_rule"])
        ratio = fit["no_plasticity"] / fit["delta_rule"]
        return [f"doubling the gain improves fitness by {100 * gain:.1f} % (target <= 15 %)",
                f"delta rule beats no plasticity by {ratio:.1f}x (target > 5x)"]
    if name == "reward":
        return [f"E(R-1) {fit['E(R-1)']:.1f} (target 140..260 on training instances)",
                f"E*R {fit['E*R']:.1f}: {fit['E(R-1)'] - fit['E*R']:.1f} below E(R-1) (target >= 100)"]
    snr = np.asarray(per["homeostatic_stdp"])
    return [f"homeostatic STDP mean SNR {snr.mean():.2f} +- {snr.std(ddof=1):.2f} over {snr.size} instances, "
            f"min {snr.min():.2f} (target 18.4 +- 5.7, none at zero)"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", choices=("error", "reward", "correlation"), required=True)
    parser.add_argument("--instances", choices=("train", "validation"), default="train")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seeds", default=None, metavar="FIRST:COUNT",
                        help="score on instances FIRST ... FIRST+COUNT-1 instead of the campaign file's")
    args = parser.parse_args()
    spec = load_campaign(f"evolve/{args.family}.toml")
    family = get_family(args.family)
    params = dict(spec["family_params"])
    for item in args.set:
        key, _, value = item.partition("=")
        params[key] = parse_setting(value, family.SCHEMA.get(key))
    params = family.params_with_defaults(params)
    seeds = spec["train_seeds"] if args.instances == "train" else spec["validation_seeds"]
    if args.seeds:
        first, _, count = args.seeds.partition(":")
        seeds = list(range(int(first), int(first) + int(count)))
    exprs = candidates(family)
    start = time.perf_counter()
    results = family.evaluate_batch(list(exprs.values()), seeds, params)
    wall = time.perf_counter() - start
    changed = {k: v for k, v in params.items() if v != family.DEFAULTS[k]}
    print(f"family {args.family}, {args.instances} instances {seeds[0]}..{seeds[-1]} ({len(seeds)}), "
          f"parameters changed from the defaults: {changed or 'none'}")
    fit, per = {}, {}
    for name, r in zip(exprs, results):
        fit[name], per[name] = r["fitness"], r["per_instance"]
        spread = (f"instances mean {np.mean(r['per_instance']):.3f} +- {np.std(r['per_instance'], ddof=1):.3f}"
                  if len(r["per_instance"]) > 1 else r["reason"])
        print(f"{name:16s} fitness {r['fitness']:10.3f}   {spread}")
        print(f"{'':16s} per instance: {' '.join(f'{v:.2f}' for v in r['per_instance'])}")
    print(PAPER[args.family])
    for line in verdict(args.family, fit, per):
        print(line)
    print(f"wall time {wall:.1f} s")


if __name__ == "__main__":
    main()
