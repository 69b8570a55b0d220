"""Brian2 settings for one piece of work, restored afterwards: library calls never change process-wide state.

Brian2 keeps its code-generation target, the default clock and its random state as globals. Every network in
plastlab builds and runs inside ``with brian_settings(...)``, which sets what that network needs and puts the
previous values back on the way out (also on errors and Ctrl-C), so a user's own Brian2 script around a plastlab
call keeps its settings.
"""
import contextlib
import gc
import logging
import sys

import numpy as np

from . import adapters
from .codegen import RANDOM_DEVICE_SYNAPSES

__all__ = ["brian_settings", "DEFAULT_TARGET"]

DEFAULT_TARGET = "cython"


class CompilationNotice(logging.Handler):
    """Says once, on stderr, when Brian2 is about to compile Cython code that is not in its cache yet, so that
    a first run that sits still for a minute does not look frozen (Brian2's log and cache: ``adapters``)."""

    shown = False

    def __init__(self):
        super().__init__(level=1)

    def emit(self, record):
        if CompilationNotice.shown:
            return
        module = adapters.compiling_module(record)
        if module and not adapters.cython_module_cached(module):
            CompilationNotice.shown = True
            from tqdm.auto import tqdm

            tqdm.write("compiling Brian2 code for this network (first run only; cached afterwards) ...",
                       file=sys.stderr)


@contextlib.contextmanager
def brian_settings(*, target=DEFAULT_TARGET, dt=None, seed=None, quiet=True):
    """Run the body with Brian2's codegen ``target``, ``defaultclock.dt = dt`` and ``brian2.seed(seed)``.

    ``None`` leaves a setting as it is. Inside, Ctrl-C raises KeyboardInterrupt (Brian2's default would end the
    current run early and let the program go on with a cut-short simulation). On exit the target, the clock,
    numpy's global random state (which ``brian2.seed`` and Brian2's numpy/Cython random numbers use), Brian2's
    console log level (``quiet``: warnings and errors only) and its Ctrl-C preference are restored. The first
    compilation of new Cython code prints one line on stderr. While a synapse whose device draws random numbers
    exists, Brian2's warning that its code "may depend on the order of execution" is dropped (the order only
    decides which random number each synapse draws; ``codegen.RANDOM_DEVICE_SYNAPSES``).

    Brian2 runs a full ``gc.collect()`` before every ``Network.run``; in a large process (SymPy's caches, a test
    session, a notebook) that costs 0.1–0.5 s a run, more than a short run itself. So garbage is collected once
    on entry, and the objects that are left are set aside for the collector (``gc.freeze``) and handed back on
    exit (``gc.unfreeze``) — only if no one else has frozen objects, so an outer freeze is left alone (Python
    3.12's interpreter starts with objects frozen: there the saving is not taken). Collecting first matters:
    Brian2 numbers auto-named objects such as a group's clock after the ones still alive, the number ends up in
    the generated code, and dead networks kept alive would mean new code to compile. Inside, ``sys.executable``
    names the interpreter by one path (``adapters.one_cython_cache_per_interpreter``), so ``plastlab`` and
    ``python -m plastlab`` share Brian2's Cython cache.
    """
    import brian2 as b2

    saved_target = b2.prefs.codegen.target
    saved_dt = b2.defaultclock.dt_
    saved_random = np.random.get_state()
    handler = adapters.console_handler()
    saved_level = handler.level if handler is not None else None
    saved_interrupt = b2.prefs.core.stop_on_keyboard_interrupt
    notice = CompilationNotice()
    cython_log = logging.getLogger(adapters.CYTHON_LOGGER)
    cython_log.addHandler(notice)
    order_log, order_filter = logging.getLogger(adapters.ORDER_WARNING_LOGGER), adapters.OrderWarningFilter(
        lambda: len(RANDOM_DEVICE_SYNAPSES) > 0)
    order_log.addFilter(order_filter)
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.collect()
        gc.freeze()
    try:
        if target is not None:
            b2.prefs.codegen.target = target
        if dt is not None:
            b2.defaultclock.dt = dt
        if seed is not None:
            b2.seed(int(seed))
        if quiet and handler is not None:
            handler.setLevel(logging.WARNING)  # Brian2's INFO lines (method choice, ...) are noise to our users
        b2.prefs.core.stop_on_keyboard_interrupt = False  # Ctrl-C must stop the work, not cut a run short
        with adapters.one_cython_cache_per_interpreter():
            yield
    finally:
        b2.prefs.codegen.target = saved_target
        b2.defaultclock.dt_ = saved_dt
        np.random.set_state(saved_random)
        if handler is not None:
            handler.setLevel(saved_level)
        b2.prefs.core.stop_on_keyboard_interrupt = saved_interrupt
        cython_log.removeHandler(notice)
        order_log.removeFilter(order_filter)
        if freeze:
            gc.unfreeze()

