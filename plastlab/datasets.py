"""Small classification data sets that need no download: the Yin-Yang data set and scikit-learn's 8x8 digits.

Returned as (X, y) with inputs in [0, 1] (rates) and integer class labels, and split reproducibly by seed.
"""
import numpy as np

from .errors import DataError


def yinyang(n, *, seed=0, r_small=0.1, r_big=0.5):
    """``n`` points of the Yin-Yang data set (Kriener, Goeltz & Petrovici 2021), classes balanced.

    Points are drawn uniformly in the big circle of radius r_big centred at (r_big, r_big); class 0 is yang,
    1 yin, 2 the two small dots. Inputs are (x, y, 1 - x, 1 - y) so that every sample has the same total
    input. Generated with numpy's Generator(seed): the same seed gives the same points."""
    if int(n) < 3:
        raise DataError(f"yinyang: need at least 3 samples, got {n}")
    rng = np.random.default_rng(seed)
    per_class = [int(n) // 3 + (1 if k < int(n) % 3 else 0) for k in range(3)]
    chosen = [[] for _ in range(3)]
    while any(len(c) < m for c, m in zip(chosen, per_class)):
        xy = rng.uniform(0, 2 * r_big, size=(4 * int(n) + 16, 2))
        inside = np.hypot(xy[:, 0] - r_big, xy[:, 1] - r_big) <= r_big
        xy = xy[inside]
        for point, label in zip(xy, yinyang_class(xy[:, 0], xy[:, 1], r_small, r_big)):
            if len(chosen[label]) < per_class[label]:
                chosen[label].append(point)
    xy = np.concatenate([np.array(c).reshape(-1, 2) for c in chosen])
    labels = np.concatenate([np.full(len(c), k) for k, c in enumerate(chosen)])
    order = rng.permutation(len(labels))
    xy, labels = xy[order], labels[order]
    X = np.column_stack([xy[:, 0], xy[:, 1], 2 * r_big - xy[:, 0], 2 * r_big - xy[:, 1]])
    return X, labels


def yinyang_class(x, y, r_small=0.1, r_big=0.5):
    """Class of points (x, y): 0 yang, 1 yin, 2 dots (vectorised form of the reference implementation)."""
    d_right = np.hypot(x - 1.5 * r_big, y - r_big)
    d_left = np.hypot(x - 0.5 * r_big, y - r_big)
    yin = (d_right <= r_small) | ((d_left > r_small) & (d_left <= 0.5 * r_big)) | ((y > r_big) & (d_right > 0.5 * r_big))
    dots = (d_right < r_small) | (d_left < r_small)
    return np.where(dots, 2, yin.astype(int))


def digits():
    """scikit-learn's 8x8 digits (1797 samples, 64 inputs scaled to [0, 1], 10 classes)."""
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def split(X, y, test_fraction, seed):
    """A stratified train/test split, reproducible by seed."""
    from sklearn.model_selection import train_test_split
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    return train_test_split(X, y, test_size=test_fraction, random_state=seed, stratify=y)


def load(name, *, seed=0, n_train=None, n_test=None, test_fraction=0.2):
    """(X_train, y_train, X_test, y_test) for 'yinyang' or 'digits'."""
    if name == "yinyang":
        n_train, n_test = int(n_train or 5000), int(n_test or 1000)
        X, y = yinyang(n_train, seed=seed)
        Xt, yt = yinyang(n_test, seed=seed + 10_000)
        return X, y, Xt, yt
    if name == "digits":
        X, y = digits()
        Xtr, Xte, ytr, yte = split(X, y, test_fraction, seed)
        return Xtr, ytr, Xte, yte
    raise DataError(f"unknown dataset '{name}' (known: yinyang, digits)")
