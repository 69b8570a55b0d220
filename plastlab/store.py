"""Results as xarray Datasets on disk: atomic NetCDF writes with provenance in attrs."""
import datetime
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

from . import interrupts

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


def write_dataset(ds, path, *, complete=True):
    """Write ``ds`` as NetCDF atomically: readers never see a half-written file.

    The file is readable by others as any file the user creates (0666 minus the umask: 0644 under umask 022;
    ``mkstemp`` alone would leave 0600). ``attrs['complete']`` says whether the work it records finished;
    every dimension gets a coordinate (0, 1, ... where the Dataset had none) so that others can select by label.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = with_index_coordinates(ds)
    ds.attrs["complete"] = int(bool(complete))
    return atomic_write(path, ds.to_netcdf)


def atomic_write(path, write):
    """``write(tmp_path)`` into a temporary file beside ``path``, then move it into place: readers never see a
    half-written file, an interrupted write leaves the old file (or none). Mode 0666 minus the umask."""
    interrupts.raise_if_pending()  # nothing is written after Ctrl-C / SIGTERM, even one someone swallowed
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        interrupts.raise_if_pending()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path, text):
    """Text written atomically and flushed to disk (checkpoints must survive a power cut or SIGKILL)."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write(path, write)


def with_index_coordinates(ds):
    """``ds`` with an integer coordinate on every dimension that has none."""
    missing = {dim: np.arange(size) for dim, size in ds.sizes.items() if dim not in ds.coords}
    return ds.assign_coords(missing) if missing else ds


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable_output(path, *, directory=True):
    """Refuse, before any work, an output path that cannot be written (:func:`plastlab.outputs.check_output_path`:
    length, dangling links, a file where a directory is wanted or the reverse, a parent that is not a writable
    directory). Returns the path."""
    from .outputs import check_output_path

    return check_output_path(path, option=None, directory=directory)
