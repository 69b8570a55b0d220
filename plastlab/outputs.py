"""Output paths checked before any work, and one run per output directory.

Every place a result is written (``--out``, ``--plot``, a campaign's directory) passes through here before the
first simulation: :func:`check_output_path` refuses a path that could not be written at the end (too long, a NUL,
a dangling symlink, a file where a directory is wanted, a parent that is not a writable directory -- tried with a
real temporary file, so ``/proc`` and read-only mounts are caught even as root -- or a suffix no writer knows), and
:func:`claim` takes an exclusive lock on an output directory (``fcntl.flock`` on ``DIR/.plastlab.lock``, which
holds the owner's pid): a second run with the same directory is refused while the first is alive; a lock left by
a killed run is released by the kernel with its process, so it never blocks a later run.
"""
import atexit
import fcntl
import os
import tempfile
from pathlib import Path

from .errors import ConfigError

__all__ = ["check_output_path", "claim", "release", "LOCK_NAME", "MAX_PATH", "MAX_NAME", "FIGURE_SUFFIXES"]

LOCK_NAME = ".plastlab.lock"
MAX_PATH = 1024  # characters of an output path (PATH_MAX is 4096; nobody types more than this on purpose)
MAX_NAME = 255  # characters of one path component (NAME_MAX of the usual file systems)
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")
_held = {}  # resolved directory -> open lock file (kept open for the life of the process)


def check_output_path(path, *, option="--out", directory=True, suffixes=None):
    """``path`` as a Path, or ConfigError (one line, naming the option) when it could not be written."""
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("needs a path, got an empty one", key=option)
    if "\x00" in text:
        raise ConfigError("must not contain a NUL character", key=option)
    if len(text) > MAX_PATH:
        raise ConfigError(f"path of {len(text)} characters, longer than {MAX_PATH}", key=option)
    path = Path(text)
    long = [part for part in path.parts if len(part.encode()) > MAX_NAME]
    if long:
        raise ConfigError(f"path component '{long[0][:40]}...' is longer than {MAX_NAME} bytes", key=option)
    if path.is_symlink() and not path.exists():
        raise ConfigError(f"'{path}' is a dangling symbolic link", key=option)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ConfigError(f"'{path}' must end in {' or '.join(suffixes)}", key=option)
    if directory and path.exists() and not path.is_dir():
        raise ConfigError(f"output directory '{path}' is an existing file", key=option)
    if not directory and path.is_dir():
        raise ConfigError(f"output file '{path}' is an existing directory", key=option)
    parent = path if directory and path.is_dir() else path.parent
    while not parent.exists() and parent != parent.parent:
        if parent.is_symlink():
            raise ConfigError(f"'{parent}' is a dangling symbolic link", key=option)
        parent = parent.parent
    if not parent.is_dir() or not _can_create_in(parent):
        raise ConfigError(f"cannot write to '{path}': '{parent}' is not a writable directory", key=option)
    return path


def _can_create_in(folder):
    """Try it: access() says yes to root on /proc and on read-only mounts."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".plastlab-probe-"):
            return True
    except OSError:
        return False


def claim(directory, *, option="--out"):
    """Create ``directory`` if needed and hold its lock until the process ends (or :func:`release`).

    ConfigError when another living process holds it; claiming a directory this process holds already is a no-op.
    """
    directory = check_output_path(directory, option=option, directory=True)
    created = [p for p in (directory, *directory.parents) if not p.exists()]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create '{directory}': {err.strerror}", key=option) from None
    key = str(directory.resolve())
    if key in _held:
        return directory
    lock = directory / LOCK_NAME
    try:
        fh = open(lock, "a+", encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot create the lock file in '{directory}': {err.strerror}", key=option) from None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        owner = fh.read().strip() or "unknown"
        fh.close()
        raise ConfigError(f"'{directory}' is in use by another plastlab run (pid {owner}); wait for it to finish "
                          "or choose another directory", key=option) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    _held[key] = (fh, lock, os.getpid(), created)
    return directory


def release(directory=None):
    """Give up the lock on ``directory`` (every lock this process holds when None) and remove its file."""
    keys = list(_held) if directory is None else [str(Path(directory).resolve())]
    for key in keys:
        held = _held.pop(key, None)
        if held is None:
            continue
        fh, lock, owner, created = held
        if owner == os.getpid():  # never from a forked child: the lock is its parent's
            try:
                lock.unlink()
                for folder in created:  # folders made only for this run and left empty (a refusal) go again
                    folder.rmdir()
            except OSError:
                pass
        fh.close()


atexit.register(release)
