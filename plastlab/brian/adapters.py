"""Every use of Brian2 internals in plastlab, in one place.

Brian2's public API (groups, synapses, networks, ``run_regularly``, ``run_args``) is used freely inside
``plastlab/brian/``; what Brian2 does not document as API — attributes of its code objects, its logger, its Cython
cache — is reached only through the functions below. Each one names the Brian2 releases it is known to work with
and has a test in ``tests/test_adapters.py`` that fails if a release changes what it relies on. Supported:
brian2 2.9 (Python 3.11) to 2.11 (Python ≥ 3.12).
"""
import logging
import os
import re

__all__ = ["SUPPORTED_BRIAN2", "set_state_update_running", "set_state_update_active", "compiling_module",
           "cython_module_cached", "CYTHON_LOGGER", "console_handler", "quiet_console"]

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
