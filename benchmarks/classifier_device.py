"""The classifier on Brian2's runtime device vs cpp_standalone, side by side in one run: a five-fold Iris fit
(the five training parts fitted side by side by ``fit_many``, then each test part predicted) with a warm cache
on both devices (a first fit with another seed compiles the Cython code and builds, or copies from the disk cache,
the standalone programs; the timed fits are new data for the same builds). Checks that both devices give the
same predictions.

    PYTHONPATH=. nice python benchmarks/classifier_device.py [--dataset iris] [--repeat 3]

Prints both wall times and, last, ``ratio: X`` (runtime time / standalone time).
"""
import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plastlab import SpikingClassifier  # noqa: E402
from plastlab.datasets import load_dataset  # noqa: E402
from plastlab.learn.classifier import SilentOutputWarning, fit_many, predict_many  # noqa: E402


def five_fold(X, y, splits, rule, device, seed):
    """Predictions on every test part after the five fits side by side, and the wall time of fit + predict."""
    start = time.perf_counter()
    fits = fit_many([SpikingClassifier(rule, device=device, random_state=seed + k) for k in range(len(splits))],
                    [(X[tr], y[tr]) for tr, _ in splits])
    predictions = [p for p, _ in predict_many(fits, [X[te] for _, te in splits])]
    return predictions, time.perf_counter() - start


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="iris")
    ap.add_argument("--rule", default="nc_memristor")
    ap.add_argument("--repeat", type=int, default=3, help="timed five-fold fits per device (best taken)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", SilentOutputWarning)
    X, y, name = load_dataset(args.dataset, folds=5)
    splits = list(StratifiedKFold(5, shuffle=True, random_state=args.seed).split(X, y))
    print(f"five-fold fit of {args.rule} on {name}: 5 fits side by side ({len(splits[0][0])} training samples each),"
          " then predictions on the 5 test parts")
    for device in ("runtime", "cpp_standalone"):
        _, wall = five_fold(X, y, splits, args.rule, device, args.seed + 100)  # warm-up: other initial weights
        print(f"{device} warm-up (compile, build or disk cache): {wall:.1f} s")
    best, predictions = {}, {}
    for r in range(args.repeat):
        for device in ("runtime", "cpp_standalone"):
            predictions[device, r], wall = five_fold(X, y, splits, args.rule, device, args.seed + r)
            best[device] = min(best.get(device, np.inf), wall)
    for device in ("runtime", "cpp_standalone"):
        print(f"{device}: {best[device]:.2f} s (best of {args.repeat})")
    same = all(np.array_equal(a, b) for r in range(args.repeat)
               for a, b in zip(predictions["runtime", r], predictions["cpp_standalone", r]))
    print(f"same predictions on both devices: {'yes' if same else 'NO'}")
    print(f"ratio: {best['runtime'] / best['cpp_standalone']:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
