"""Every use of Brian2 internals in plastlab, in one place.

Brian2's public API (groups, synapses, networks, ``run_regularly``, ``run_args``) is used freely inside
``plastlab/brian/``; what Brian2 does not document as API — attributes of its code objects, its logger, its Cython
cache — is reached only through the functions below. Each one names the Brian2 releases it is known to work with
and has a test in ``tests/test_adapters.py`` that fails if a release changes what it relies on. Supported:
brian2 2.9 (Python 3.11) to 2.11 (Python ≥ 3.12).
"""
import contextlib
import logging
import os
import re
import sys

__all__ = ["SUPPORTED_BRIAN2", "set_state_update_running", "set_state_update_active", "compiling_module",
           "cython_module_cached", "CYTHON_LOGGER", "console_handler", "quiet_console", "standalone_array",
           "standalone_compile", "one_cython_cache_per_interpreter"]

SUPPORTED_BRIAN2 = ("2.9", "2.10", "2.11")

CYTHON_LOGGER = "brian2.codegen.runtime.cython_rt.extension_manager"
"""The logger on which Brian2 announces each Cython module it loads (2.9–2.11)."""

_USING_MODULE = re.compile(r'using Cython module "([^"]+)"')


def set_state_update_active(group, on):
    """Switch a group's state updater (its ODE integration) on or off for the next run.

    ``group.state_updater`` and its ``active`` flag: public attributes of every Brian2 Group (2.9–2.11); Brian2
    reads ``active`` only when a run starts."""
    group.state_updater.active = on


def set_state_update_running(group, on):
    """Skip or run a group's state update from the next time step on, inside a run.

    Brian2 (2.9–2.11) runs, at every step, each object's list ``code_objects``; the state updater's one code
    object, made when the run starts, is ``codeobj``. Emptying the list skips the update; putting back (a weak
    proxy of, as Brian2 itself keeps) the code object runs it again. A new run rebuilds the list."""
    import weakref

    updater = group.state_updater
    code = [weakref.proxy(updater.codeobj)] if on and updater.codeobj is not None else []
    updater.code_objects[:] = code


def compiling_module(record):
    """The Cython module a Brian2 log record says it is about to use, or None.

    Brian2 2.9–2.11 log '"<owner>" using Cython module "<name>"' (debug level) on ``CYTHON_LOGGER`` before
    loading or compiling each code object's module."""
    match = _USING_MODULE.search(record.getMessage())
    return match.group(1) if match else None


def cython_module_cached(module):
    """True if Brian2's Cython cache already holds the compiled ``module`` (no compilation needed).

    Uses ``cython_extension_manager.so_ext`` and ``get_cython_cache_dir`` (2.9–2.11)."""
    from brian2.codegen.runtime.cython_rt.extension_manager import cython_extension_manager, get_cython_cache_dir

    return os.path.isfile(os.path.join(get_cython_cache_dir(), module + cython_extension_manager.so_ext))


def interpreter_path(path):
    """``path`` with its symbolic links followed while they stay in the same directory: ``bin/python`` and
    ``bin/python3`` name ``bin/python3.11``. A link out of the directory (a virtual environment's ``python`` to
    its base interpreter) is not followed: the environment is a different one."""
    seen = set()
    path = os.path.abspath(path)
    while os.path.islink(path) and path not in seen:
        seen.add(path)
        target = os.path.abspath(os.path.join(os.path.dirname(path), os.readlink(path)))
        if os.path.dirname(target) != os.path.dirname(path):
            break
        path = target
    return path


@contextlib.contextmanager
def one_cython_cache_per_interpreter():
    """Inside, ``sys.executable`` is :func:`interpreter_path` of itself; restored on exit.

    Brian2 (2.9–2.11, ``cython_rt/extension_manager.py``) keys its Cython cache on the code, the Python and
    Cython versions, the compilers -- and ``sys.executable``, the path the interpreter was started by. The
    ``plastlab`` command (its shebang names ``python3.11``) and ``python -m plastlab`` (``python``, a link to
    it) would compile every network twice; with one name for one interpreter they share the cache."""
    saved = sys.executable
    if saved:
        sys.executable = interpreter_path(saved)
    try:
        yield
    finally:
        sys.executable = saved


def console_handler():
    """Brian2's console log handler (``BrianLogger.console_handler``, 2.9–2.11), or None before Brian2 set it up."""
    from brian2.utils.logger import BrianLogger

    return BrianLogger.console_handler


def quiet_console(level=logging.ERROR):
    """Brian2's console shows only messages at ``level`` and above; returns the previous level (or None)."""
    handler = console_handler()
    if handler is None:
        return None
    previous = handler.level
    handler.setLevel(level)
    return previous


def standalone_array(device, group, variable):
    """The C++ name of ``group.variable``'s array in a standalone project (``brian::<name>`` in generated code).

    ``CPPStandaloneDevice.get_array_name`` (2.9–2.11; Brian2CUDA's device derives from it)."""
    return device.get_array_name(group.variables[variable])


def standalone_compile(device, directory):
    """Compile a standalone project that ``device.build(compile=False)`` wrote to ``directory``.

    ``get_compiler_and_args`` and ``CPPStandaloneDevice.compile_source(directory, compiler, debug, clean)``
    (2.9–2.11): what ``device.build(compile=True)`` itself calls."""
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    compiler, _ = get_compiler_and_args()
    device.compile_source(directory, compiler, False, False)



ORDER_WARNING_LOGGER = "brian2.codegen.generators.base"
"""Where Brian2 (2.9–2.11) warns "Came across an abstract code block that may not be well-defined" when a block's
outcome may depend on the order of execution (e.g. random numbers drawn beside ``v_post += w``)."""


class OrderWarningFilter(logging.Filter):
    """Drops Brian2's order-of-execution warning while ``active()`` is true; every other message passes."""

    def __init__(self, active):
        super().__init__()
        self.active = active

    def filter(self, record):
        return not (self.active() and "may not be well-defined" in record.getMessage())


def owned(values, dtype=None):
    """A copy of Brian2 variable values that stays valid after the object is gone.

    Brian2 ≥ 2.10 keeps synapse variables and monitor recordings in C++ dynamic arrays, and ``syn.w[:]``,
    ``monitor.t_`` etc. are numpy views into that memory: freed with the object, or moved when the array grows in a
    later run, leaving the view reading garbage. Brian2 2.9 returned views of numpy-owned arrays, which kept them
    alive. Anything read from a Brian2 object that outlives it (or a later run) goes through this copy."""
    import numpy as np

    return np.array(values, dtype=dtype, copy=True)
