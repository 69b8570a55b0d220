"""Results as xarray Datasets on disk: atomic NetCDF writes with provenance in attrs."""
import datetime
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

PACKAGES = ("plastlab", "brian2", "numpy", "sympy", "xarray", "scikit-learn", "deap")


def package_versions():
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def provenance(rule=None, seed=None, **settings):
    """attrs for a result Dataset: rule equations and parameters, seed, settings, versions, time."""
    attrs = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
             "python": platform.python_version(),
             "package_versions": json.dumps(package_versions())}
    if seed is not None:
        attrs["seed"] = int(seed)
    if rule is not None:
        attrs.update(rule=rule.name, rule_form=rule.form, rule_equations=rule.equations_text(),
                     rule_latex=rule.latex(),
                     rule_parameters=json.dumps({k: str(v) for k, v in rule.parameters.items()}))
    for key, value in settings.items():
        attrs[key] = _attr(value)
    return attrs


def _attr(value):
    """NetCDF attrs hold numbers, strings and 1-D arrays; anything else is stored as JSON text."""
    if isinstance(value, (str, int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return value
    if isinstance(value, bool):
        return int(value)
    return json.dumps(value, default=str)


def write_dataset(ds, path):
    """Write ``ds`` as NetCDF atomically: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        ds.to_netcdf(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
