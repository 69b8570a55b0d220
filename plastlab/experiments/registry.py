"""Experiment files (``experiments/*.toml``): one registry of kinds; load, check everything, run, write results.

Each kind is a module of this package with ``TABLES`` (the top-level tables its files may have), ``HEAD`` (the
keys of ``[experiment]`` beyond the common ones), ``load(exp, head, data, path)`` (checks everything and fills
``exp``) and ``run(exp, out, progress=...)``. :func:`load_experiment` checks a file completely -- tables, keys,
types, ranges, data sets, rules -- before anything is simulated; every problem is one ConfigError naming the
file, the table and the key.
"""
import importlib
import tomllib
from pathlib import Path

from ..config import NAME_PATTERN, Param, parse_toml, validate
from .common import Experiment, fail

__all__ = ["KINDS", "load_experiment", "run_experiment", "Experiment"]

KINDS = {"classification": "classification", "cartpole": "cartpole", "superspike": "superspike",
         "disinhibitory": "disinhibitory", "device_sweep": "device_sweep"}
COMMON_HEAD = {
    "kind": Param(str, choices=tuple(KINDS)),
    "name": Param(str, None, nullable=True, pattern=NAME_PATTERN,
                  doc="a plain name of letters, digits, '_', '.', '-': it names the output folder"),
    "seed": Param(int, 0, low=0, high=2**32 - 1),
    "description": Param(str, ""),
}


def kind_module(kind):
    """The module implementing one experiment kind (imported on first use)."""
    return importlib.import_module(f"{__package__}.{KINDS[kind]}")


def load_experiment(path):
    path = Path(path)
    if not path.is_file():
        raise fail(path, "no such experiment file")
    try:
        data = parse_toml(path.read_text(encoding="utf-8"), file=path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise fail(path, f"not valid TOML: {exc}") from None
    head = data.get("experiment")
    if not isinstance(head, dict):
        raise fail(path, "missing [experiment] table")
    kind = validate({"kind": head.get("kind")}, {"kind": COMMON_HEAD["kind"]}, file=path, section="experiment")["kind"]
    module = kind_module(kind)
    unknown = sorted(set(data) - set(module.TABLES))
    if unknown:
        raise fail(path, f"unknown table (a {kind} experiment has {', '.join(module.TABLES)})", unknown[0])
    schema = dict(COMMON_HEAD, **module.HEAD)
    checked = validate(head, schema, file=path, section="experiment")
    exp = Experiment(name=checked["name"] or path.stem, kind=kind, seed=checked["seed"], path=path,
                     description=checked["description"])
    module.load(exp, {k: head[k] for k in module.HEAD if k in head}, data, path)
    return exp


def run_experiment(exp, out, *, progress=True):
    return kind_module(exp.kind).run(exp, Path(out), progress=progress)
