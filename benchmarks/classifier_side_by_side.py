"""Fits side by side (``fit_many``: copies of the layer in one Brian2 network) against the same fits one by one.

    PYTHONPATH=. python benchmarks/classifier_side_by_side.py --dataset iris --fits 12

The fits are those of an inner search (``--fits`` of them: candidates x inner folds on one outer training part),
as the nested cross-validation runs them. Prints both wall times, ``ratio: X`` and whether the weights agree.
Brian2's code is compiled (and cached) by a warm-up fit before either is timed.
"""
import argparse
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterSampler, StratifiedKFold

from plastlab import SpikingClassifier
from plastlab.datasets import load_dataset
from plastlab.learn.classifier import SilentOutputWarning, fit_many


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="iris")
    ap.add_argument("--rule", default="nc_memristor")
    ap.add_argument("--fits", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", SilentOutputWarning)
    X, y, _ = load_dataset(args.dataset, folds=2)
    space = {"teacher_delay": [2.0, 5.0, 10.0], "n_fields": [6, 8, 12]}  # per-copy settings: one network
    candidates = list(ParameterSampler(space, args.fits, random_state=args.seed))
    splits = list(StratifiedKFold(2, shuffle=True, random_state=args.seed).split(X, y))
    base = SpikingClassifier(args.rule, t_gap=0.0, random_state=args.seed)
    fits = [(clone(base).set_params(**candidates[k % len(candidates)]), splits[k % 2][0]) for k in range(args.fits)]
    for n_fields in space["n_fields"]:  # warm-up: compile once for every encoder size
        clone(base).set_params(n_fields=n_fields, epochs=1).fit(X[:20], y[:20])
    fit_many([clone(e).set_params(epochs=1) for e, _ in fits[:2]], [(X[tr], y[tr]) for _, tr in fits[:2]])
    t0 = time.perf_counter()
    alone = [clone(e).fit(X[tr], y[tr]) for e, tr in fits]
    t1 = time.perf_counter()
    together = fit_many([clone(e) for e, _ in fits], [(X[tr], y[tr]) for _, tr in fits])
    t2 = time.perf_counter()
    diff = max(float(np.abs(a.weights_ - b.weights_).max()) for a, b in zip(alone, together))
    print(f"{args.fits} fits of {args.rule} on {args.dataset} ({len(fits[0][1])} training samples each)")
    print(f"one by one:   {t1 - t0:7.1f} s")
    print(f"side by side: {t2 - t1:7.1f} s")
    print(f"max |weight difference|: {diff:.1e}")
    print(f"ratio: {(t1 - t0) / (t2 - t1):.1f}")


if __name__ == "__main__":
    main()
