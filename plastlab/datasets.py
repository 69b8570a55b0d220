"""Data sets for classification: the ones scikit-learn ships, or a CSV file checked at the door.

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

        X, y = getattr(sklearn.datasets, BUILTIN[key])(return_X_y=True)
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


def read_csv(path):
    """Features (float array) and labels (strings, or integers when they all are) from a CSV file."""
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            sample = fh.read(4096)
            fh.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            rows = [r for r in csv.reader(fh, dialect)]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    rows = [(n, r) for n, r in enumerate(rows, start=1) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: the file is empty")
    header = None
    first = rows[0][1]
    if not all(_is_number(c) for c in first[:-1]):
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
