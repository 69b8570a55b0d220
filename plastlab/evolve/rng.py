"""The search's own random stream, lent to Python's global ``random`` only while the search draws.

DEAP's operators (``genHalfAndHalf``, ``cxOnePoint``, ``mutUniform``, ``selTournament``, ...) call the
module-level ``random`` functions and take no generator, so a search cannot simply hold a ``random.Random``.
Instead a ``SearchRandom`` keeps the search's state apart and installs it in ``random`` for the duration of a
``with`` block: on exit it takes the state back and gives the caller's state back, so no library call leaves the
caller's ``random`` changed, and draws the caller makes in between do not disturb the search (ARCHITECTURE.md,
conventions: library calls do not change process-wide state).
"""
import random
from contextlib import contextmanager


@contextmanager
def unchanged():
    """Leaves the global ``random`` as it was, whatever the block draws (e.g. Dask's ``sizeof`` sampling)."""
    state = random.getstate()
    try:
        yield
    finally:
        random.setstate(state)


class SearchRandom:
    """A random stream of its own that DEAP's operators draw from inside ``with stream:``.

    Seeded like ``random.seed(seed)``, so a search that used to seed the global ``random`` draws the very same
    numbers. Re-entrant: an inner ``with`` while the stream is lent already changes nothing."""

    def __init__(self, seed=None, *, state=None):
        self._state = state if state is not None else random.Random(seed).getstate()
        self._caller = None
        self._depth = 0

    def __enter__(self):
        if self._depth == 0:
            self._caller = random.getstate()
            random.setstate(self._state)
        self._depth += 1
        return self

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0:
            self._state = random.getstate()
            random.setstate(self._caller)
            self._caller = None
        return False

    def getstate(self):
        """The stream's state now (also while it is lent): what a checkpoint saves to continue exactly."""
        return random.getstate() if self._depth else self._state

    def to_json(self):
        version, internal, gauss = self.getstate()
        return [version, list(internal), gauss]

    @classmethod
    def from_json(cls, data):
        version, internal, gauss = data
        return cls(state=(version, tuple(internal), gauss))
