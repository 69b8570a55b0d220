"""Ctrl-C and SIGTERM that nothing can swallow.

Python raises KeyboardInterrupt wherever the main thread happens to be. When that is a weakref callback or a
``__del__`` run by the garbage collector (Brian2 tracks its objects with weakrefs), Python prints "Exception
ignored" and the program goes on, so a stopped campaign could finish and write results that look complete. The
command line's signal handlers therefore also note the signal here, and every writer of results
(``plastlab.store.atomic_write``) and every generation of a campaign asks first.
"""
import signal

__all__ = ["Terminated", "install", "restore", "pending", "raise_if_pending", "clear"]

_pending = None


class Terminated(BaseException):
    """SIGTERM, raised where the program is, like KeyboardInterrupt for SIGINT."""


def _on_signal(signum, frame):
    global _pending
    _pending = signal.Signals(signum).name
    raise_if_pending()


def install(signals=(signal.SIGINT, signal.SIGTERM)):
    """Handle ``signals`` as above; returns the previous handlers, for ``restore``."""
    return {sig: signal.signal(sig, _on_signal) for sig in signals}


def restore(previous):
    clear()
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def pending():
    """'SIGINT', 'SIGTERM' or None."""
    return _pending


def raise_if_pending():
    if _pending == "SIGINT":
        raise KeyboardInterrupt
    if _pending == "SIGTERM":
        raise Terminated()


def clear():
    global _pending
    _pending = None
