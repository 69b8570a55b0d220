"""Brian2 settings for one piece of work, restored afterwards: library calls never change process-wide state.

Brian2 keeps its code-generation target, the default clock and its random state as globals. Every network in
plastlab builds and runs inside ``with brian_settings(...)``, which sets what that network needs and puts the
previous values back on the way out (also on errors and Ctrl-C), so a user's own Brian2 script around a plastlab
call keeps its settings.
"""
import contextlib
import logging

import numpy as np

__all__ = ["brian_settings", "DEFAULT_TARGET"]

DEFAULT_TARGET = "cython"


@contextlib.contextmanager
def brian_settings(*, target=DEFAULT_TARGET, dt=None, seed=None, quiet=True):
    """Run the body with Brian2's codegen ``target``, ``defaultclock.dt = dt`` and ``brian2.seed(seed)``.

    ``None`` leaves a setting as it is. Inside, Ctrl-C raises KeyboardInterrupt (Brian2's default would end the
    current run early and let the program go on with a cut-short simulation). On exit the target, the clock,
    numpy's global random state (which ``brian2.seed`` and Brian2's numpy/Cython random numbers use), Brian2's
    console log level and its Ctrl-C preference are restored.
    """
    import brian2 as b2

    saved_target = b2.prefs.codegen.target
    saved_dt = b2.defaultclock.dt_
    saved_random = np.random.get_state()
    saved_level = b2.prefs.logging.console_log_level
    saved_interrupt = b2.prefs.core.stop_on_keyboard_interrupt
    console = logging.getLogger("brian2")
    saved_console = console.level
    try:
        if target is not None:
            b2.prefs.codegen.target = target
        if dt is not None:
            b2.defaultclock.dt = dt
        if seed is not None:
            b2.seed(int(seed))
        if quiet:
            b2.prefs.logging.console_log_level = "ERROR"
        b2.prefs.core.stop_on_keyboard_interrupt = False  # Ctrl-C must stop the work, not cut a run short
        yield
    finally:
        b2.prefs.codegen.target = saved_target
        b2.defaultclock.dt_ = saved_dt
        np.random.set_state(saved_random)
        b2.prefs.logging.console_log_level = saved_level
        b2.prefs.core.stop_on_keyboard_interrupt = saved_interrupt
        console.setLevel(saved_console)
