"""The Brian2 device of one network, scoped, and standalone builds cached by content.

``"runtime"`` (the default) runs a network from Python, one call per code object per time step (Brian2's Cython
target). ``"cpp_standalone"`` writes the whole network as one C++ program: built once per network *structure*
(groups, connections, code, instance data), then run again with ``run_args`` for every new batch of run-time data
(candidates' program tables, weights), without Python in the time-step loop. ``"cuda_standalone"`` is the same
model on a GPU, accepted where Brian2CUDA imports.

* Scoped: the device is set only while a network is built (:func:`standalone_scope`); afterwards Brian2's
  previous device is back, so a user's own script around a plastlab call keeps its device.
* One project directory per process and structure, under a per-process temporary directory removed at exit.
* Compiled programs cached on disk by content: the SHA-256 of the generated project's sources (its directory
  name taken out) names a cached ``main`` binary; another process, or the next session, that generates the same
  project copies it instead of compiling (``PLASTLAB_STANDALONE_CACHE``, default ``~/.cache/plastlab/standalone``).
* In memory, the last few built structures of this process stay ready to run (:class:`Built`).
"""
import atexit
import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections import OrderedDict

from ..errors import ConfigError

__all__ = ["DEVICES", "DEFAULT_DEVICE", "check_device", "standalone_scope", "Built", "built", "ready", "cache_dir",
           "clear_builds"]

DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")
DEFAULT_DEVICE = "runtime"
KEEP_BUILT = 4  # structures kept ready per process (each holds a project directory and its Brian2 objects)


def check_device(name, *, file=None, section=None, key="device"):
    """``name`` if it is a device plastlab can run on here, otherwise ConfigError naming the setting."""
    if name not in DEVICES:
        raise ConfigError(f"unknown device '{name}' (one of {', '.join(DEVICES)})", file=file, section=section,
                          key=key)
    if name == "cuda_standalone":
        try:
            import brian2cuda  # noqa: F401
        except ImportError as exc:
            raise ConfigError("device 'cuda_standalone' needs Brian2CUDA (pip install brian2cuda, a CUDA toolkit "
                              f"and a GPU); it does not import here: {exc}", file=file, section=section,
                              key=key) from None
    return name


def cache_dir():
    """Where compiled standalone programs are kept by content hash."""
    root = os.environ.get("PLASTLAB_STANDALONE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                        "plastlab", "standalone")
    os.makedirs(root, exist_ok=True)
    return root


_PROCESS_DIR = None


def _process_dir():
    """This process's own directory for standalone projects (one per worker process), removed at exit."""
    global _PROCESS_DIR
    if _PROCESS_DIR is None or not os.path.isdir(_PROCESS_DIR):
        _PROCESS_DIR = tempfile.mkdtemp(prefix=f"plastlab_standalone_{os.getpid()}_")
        atexit.register(shutil.rmtree, _PROCESS_DIR, True)
    return _PROCESS_DIR


def _new_device(name):
    if name == "cuda_standalone":
        import brian2cuda  # noqa: F401 - registers the device
        from brian2.devices.device import all_devices

        return type(all_devices["cuda_standalone"])()
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

    return CPPStandaloneDevice()


@contextlib.contextmanager
def standalone_scope(name):
    """A fresh standalone device of kind ``name`` active for the body (objects created inside belong to it); the
    previous device is active again afterwards, also on errors. Yields the device."""
    from brian2.devices.device import reset_device, set_device

    dev = _new_device(name)
    set_device(dev, build_on_run=False)
    try:
        yield dev
    finally:
        reset_device()


def _project_hash(directory):
    """SHA-256 of a generated project's sources (code, headers, makefile; not data, results or objects), with its
    own directory's name removed, so equal networks give equal hashes in any process."""
    digest = hashlib.sha256()
    marker = os.path.abspath(directory).encode()
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in ("static_arrays", "results"))
        for name in sorted(files):
            if name.endswith((".o", ".log", ".lock", ".txt")) or name == "main":
                continue
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, directory).encode())
            with open(path, "rb") as f:
                digest.update(_clock_resets_sorted(f.read().replace(marker, b"<project>")))
    return digest.hexdigest()


_CLOCK_RESET = re.compile(rb"^\s*_array_\w+_(timestep|t)\[0\] = ")


def _clock_resets_sorted(text):
    """Brian2 writes the resets of a run's clocks (``_array_<clock>_t[0] = 0.0;``) in the order of a Python set,
    which changes from process to process; sorted, equal networks give equal text."""
    lines, out, block = text.split(b"\n"), [], []
    for line in lines + [b""]:
        if _CLOCK_RESET.match(line):
            block.append(line)
            continue
        out.extend(sorted(block))
        block = []
        out.append(line)
    return b"\n".join(out[:-1])


def compile_cached(dev, directory):
    """Compile the project ``dev`` wrote to ``directory``, or copy its ``main`` from the content cache; returns
    (hash, True if it was compiled now)."""
    from . import adapters

    key = _project_hash(directory)
    cached = os.path.join(cache_dir(), key, "main")
    target = os.path.join(directory, "main")
    if os.path.isfile(cached):
        shutil.copy2(cached, target)
        return key, False
    adapters.standalone_compile(dev, directory)
    os.makedirs(os.path.dirname(cached), exist_ok=True)
    partial = f"{cached}.{os.getpid()}.partial"
    shutil.copy2(target, partial)
    os.replace(partial, cached)  # atomic: a concurrent process sees no binary or a whole one
    return key, True


class Built:
    """One network built on a standalone device: its objects (by name), the device, its project directory;
    ``run(run_args)`` runs the compiled program on new run-time data."""

    def __init__(self, dev, directory, objects, extra=None):
        self.dev, self.directory, self.objects, self.extra = dev, directory, objects, extra or {}
        self.hash = self.compiled = None
        self.runs = 0

    def run(self, run_args=None):
        from brian2.devices.device import reset_device, set_device

        set_device(self.dev, build_on_run=False)  # reading results and run_args go through the active device
        try:
            self.dev.run(self.directory, with_output=False, run_args=run_args or {})
        finally:
            reset_device()
        self.runs += 1

    def close(self):
        shutil.rmtree(self.directory, ignore_errors=True)


_BUILT = OrderedDict()


def ready(key):
    """The :class:`Built` network of structure ``key`` if this process has it ready to run, else None."""
    if key in _BUILT:
        _BUILT.move_to_end(key)
        return _BUILT[key]
    return None


def built(key, build, name="cpp_standalone"):
    """The :class:`Built` network of structure ``key`` in this process, made by ``build(directory)`` inside a
    standalone scope (it creates the objects and calls ``net.run``; returns (objects, extra)) if it is not ready.
    """
    if key in _BUILT:
        _BUILT.move_to_end(key)
        return _BUILT[key]
    directory = tempfile.mkdtemp(prefix="net_", dir=_process_dir())
    with standalone_scope(name) as dev:
        objects, extra = build(dev)
        dev.build(directory=directory, compile=False, run=False, with_output=False)
        entry = Built(dev, directory, objects, extra)
        entry.hash, entry.compiled = compile_cached(dev, directory)
    _BUILT[key] = entry
    while len(_BUILT) > KEEP_BUILT:
        _BUILT.popitem(last=False)[1].close()
    return entry


def clear_builds():
    """Forget this process's built networks and remove their project directories (the disk cache stays)."""
    while _BUILT:
        _BUILT.popitem()[1].close()
