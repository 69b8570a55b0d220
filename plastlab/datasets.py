"""Data sets: the ones scikit-learn ships, a CSV file checked at the door, and the procedurally generated
Yin-Yang set — nothing is downloaded.

Every problem is a :class:`~plastlab.errors.DataError` with a one-line message naming the file and, where it
makes sense, the row and column, raised before anything is simulated.
"""


import csv
from pathlib import Path

import numpy as np

from .errors import DataError

BUILTIN = {
    "iris": "load_iris",
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
}


def load_dataset(name_or_path, *, folds=None):
    """``(X, y, name)`` for ``iris``, ``breast_cancer``, ``wine`` or a CSV path.

    CSV: numeric feature columns, the label in the last column, an optional header row. With ``folds``,
    every class must have at least that many samples (stratified cross-validation).
    """
    key = str(name_or_path)
    if key in BUILTIN:
        import sklearn.datasets

        data = getattr(sklearn.datasets, BUILTIN[key])()
        X, y = data.data, np.asarray(data.target_names)[data.target]  # class names, not 0, 1, 2
        name = key
    else:
        path = Path(key)
        if not path.exists():
            raise DataError(
                f"unknown data set '{key}': not one of {', '.join(sorted(BUILTIN))} and no such file"
            )
        X, y = read_csv(path)
        name = path.stem
    check_classes(y, folds=folds, where=key)
    return X, y, name


MAX_CSV_BYTES = 200_000_000
MAX_CSV_COLUMNS = 10_000  # features of one sample: a classifier layer of 10,000 x n_fields inputs is plenty
MAX_ABS_FEATURE = 1e300  # beyond this, scaling a feature (max - min) overflows to inf


def read_csv(path):
    """Features (float array) and labels (strings, or integers when they all are) from a CSV file.

    Read as UTF-8 (a byte-order mark is allowed) from a regular file of at most MAX_CSV_BYTES. The first row
    is a header only when none of its feature cells is a number, so a data row with a typo is reported as such
    instead of being dropped as a "header"."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise DataError(f"{path}: larger than {MAX_CSV_BYTES // 1_000_000} MB; plastlab reads small tables only")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            sample = fh.read(4096)
            fh.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            rows = []
            for row in csv.reader(fh, dialect):
                if len(row) > MAX_CSV_COLUMNS:
                    raise DataError(f"{path}: line {len(rows) + 1} has {len(row)} columns, more than "
                                    f"{MAX_CSV_COLUMNS}")
                rows.append(row)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    except csv.Error as exc:  # a field over csv.field_size_limit() (128 KB), a NUL, ...
        raise DataError(f"{path}: not a table plastlab can read: {exc}") from None
    rows = [(n, r) for n, r in enumerate(rows, start=1) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: the file is empty")
    header = None
    first = rows[0][1]
    if not any(_is_number(c) for c in first[:-1]):
        header, rows = first, rows[1:]
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    width = len(rows[0][1])
    if width < 2:
        raise DataError(f"{path}: need at least one feature column and a label column, found {width} column")
    X = np.empty((len(rows), width - 1))
    labels = []
    for k, (line, row) in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{path}: line {line} has {len(row)} columns, expected {width}")
        for c, cell in enumerate(row[:-1]):
            col = header[c] if header else f"column {c + 1}"
            cell = cell.strip()
            if cell == "" or cell.lower() in ("na", "nan", "null", "none", "?"):
                raise DataError(f"{path}: missing value at line {line}, {col}")
            if not _is_number(cell):
                raise DataError(f"{path}: non-numeric value '{cell}' at line {line}, {col} (features must be numbers)")
            X[k, c] = float(cell)
        label = row[-1].strip()
        if label == "":
            raise DataError(f"{path}: missing label at line {line}")
        labels.append(label)
    if not np.all(np.isfinite(X)):
        line = rows[int(np.argwhere(~np.isfinite(X))[0, 0])][0]
        raise DataError(f"{path}: infinite value at line {line}")
    if np.any(np.abs(X) > MAX_ABS_FEATURE):
        line = rows[int(np.argwhere(np.abs(X) > MAX_ABS_FEATURE)[0, 0])][0]
        raise DataError(f"{path}: value beyond ±{MAX_ABS_FEATURE:g} at line {line}: features cannot be scaled")
    y = np.array(labels)
    if all(_is_int(v) for v in labels):
        y = y.astype(float).astype(int)
    return X, y


def check_classes(y, *, folds=None, where="data"):
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise DataError(f"{where}: only one class ('{classes[0]}'); classification needs at least two")
    if folds is not None:
        if folds < 2:
            raise DataError(f"--folds must be at least 2, got {folds}")
        k = int(np.argmin(counts))
        if counts[k] < folds:
            raise DataError(f"{where}: class '{classes[k]}' has {counts[k]} sample(s), fewer than the {folds} folds")


def _is_number(text):
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _is_int(text):
    try:
        return float(text) == int(float(text))
    except (TypeError, ValueError, OverflowError):
        return False


# --- rate-coded sets for the dis-inhibitory circuit: inputs in [0, 1], reproducible splits ---------------

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
    yin = ((d_right <= r_small) | ((d_left > r_small) & (d_left <= 0.5 * r_big))
           | ((y > r_big) & (d_right > 0.5 * r_big)))
    dots = (d_right < r_small) | (d_left < r_small)
    return np.where(dots, 2, yin.astype(int))


def digits():
    """scikit-learn's 8x8 digits (1797 samples, 64 inputs scaled to [0, 1], 10 classes)."""
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def split(X, y, fractions, seed):
    """A stratified train/validation/test split, reproducible by seed: ``fractions`` = (validation, test)."""
    from sklearn.model_selection import train_test_split
    validation, test = fractions
    if not (0 < validation < 1 and 0 < test < 1 and validation + test < 1):
        raise DataError(f"validation and test fractions must be in (0, 1) with a sum below 1, got {fractions}")
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test, random_state=seed, stratify=y)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=validation / (1 - test),
                                                      random_state=seed, stratify=y_rest)
    return X_train, y_train, X_val, y_val, X_test, y_test


#: the fixed Yin-Yang splits: generator seeds of the train, validation and test sets (as the reference data set
#: ships three fixed files); the same points for every training seed
YINYANG_SPLIT_SEEDS = (42, 41, 40)


def load(name, *, seed=0, n_train=5000, n_validation=1000, n_test=1000, fractions=(0.1, 0.2)):
    """(X_train, y_train, X_val, y_val, X_test, y_test) for 'yinyang' (fixed generated splits of n_train,
    n_validation, n_test points, independent of ``seed``) or 'digits' (stratified split by ``seed``, fractions
    (validation, test))."""
    if name == "yinyang":
        parts = []
        for n, split_seed in zip((n_train, n_validation, n_test), YINYANG_SPLIT_SEEDS):
            parts += list(yinyang(int(n), seed=split_seed))
        return tuple(parts)
    if name == "digits":
        X, y = digits()
        return split(X, y, fractions, seed)
    raise DataError(f"unknown dataset '{name}' (known: yinyang, digits)")


def sjostrom2001():
    """Sjöström, Turrigiano & Nelson 2001 (Neuron 32:1149), Fig. 1D as tabulated by Pfister & Gerstner 2006: rows
    (pairing frequency rho in Hz, Δt in ms, Δw/w, SEM), from ``data/sjostrom2001.csv`` (shipped with the package)."""
    from importlib.resources import files

    text = files("plastlab.data").joinpath("sjostrom2001.csv").read_text(encoding="utf-8")
    rows = [line.split(",") for line in text.splitlines() if line and not line.startswith("#")][1:]
    return np.array([[float(v) for v in row] for row in rows])
