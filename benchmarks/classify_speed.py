"""Full 5-fold Iris run with nc_memristor: wall time with Brian2's default (Cython) target and with numpy.

    python benchmarks/classify_speed.py [--skip-numpy]

Prints wall time, simulated seconds per wall second and F1 for each target; the last line is
``seconds: X`` with the default-target wall time (target: <= 60 s on the 2-core machine). The settings
are SpikingClassifier's defaults with those of experiments/classify_comparison.toml for nc_memristor. The
Cython run is preceded by an untimed warm-up fit so that one-off compilation (cached on disk afterwards) is not
counted; the numpy target has no compilation.
"""
import argparse
import time
from pathlib import Path


def run(target, X, y):
    from plastlab.experiments.classification import model_classifier
    from plastlab.experiments.registry import load_experiment
    from plastlab.learn.model_selection import cross_validate

    exp = load_experiment(Path(__file__).resolve().parents[1] / "experiments" / "classify_comparison.toml")
    clf = model_classifier(exp, "iris", "nc_memristor").set_params(target=target)
    if target != "numpy":
        epochs = clf.epochs
        clf.set_params(epochs=1).fit(X[::10], y[::10])  # warm-up: compile once
        clf.set_params(epochs=epochs)
    t0 = time.perf_counter()
    ds = cross_validate(clf, X, y, folds=5, seed=0, dataset="iris")
    wall = time.perf_counter() - t0
    s = clf._check_params()
    slot = (s["t_encode"] + s["t_gap"]) * 1e-3
    n_train = len(X) * 4 / 5
    simulated = 5 * (n_train * s["epochs"] + len(X) / 5) * slot  # training epochs + test (calibration not counted)
    print(f"{target:7s}: {wall:6.1f} s wall, {simulated:.0f} s simulated, {simulated / wall:.1f} simulated s per "
          f"wall s, F1 {ds.f1.values.mean():.3f}", flush=True)
    return wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-numpy", action="store_true", help="only the default (Cython) target")
    args = parser.parse_args()
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    seconds = run("cython", X, y)
    if not args.skip_numpy:
        numpy_seconds = run("numpy", X, y)
        print(f"numpy / cython wall time: {numpy_seconds / seconds:.2f}")
    print(f"seconds: {seconds:.1f}")


if __name__ == "__main__":
    main()
