"""Task families: distributions over task instances on which candidate plasticity rules are scored.

Each family is one object (the protocol: ``tasks/base.py``), its code one file here; ``tasks.error``,
``tasks.reward`` and ``tasks.correlation`` are the family objects themselves, and ``get_family(name)`` returns
them by name. Families never know about DEAP and build no Brian2 object: they describe their networks as
``brian/tasknets.py`` specs.
"""
from ...errors import PlastlabError
from .base import TaskFamily, rule_from_document
from .correlation import CorrelationFamily
from .error import ErrorFamily
from .fit import FitFamily
from .reward import RewardFamily

__all__ = ["FAMILIES", "TaskFamily", "get_family", "register_family", "rule_from_document", "error", "reward",
           "correlation", "fit"]

# the family objects, under the names of the files that define them
error, reward, correlation = ErrorFamily(), RewardFamily(), CorrelationFamily()
fit = FitFamily()  # symbolic fits of measured windows, scored in closed form (no Brian2 network)
_BY_NAME = {family.NAME: family for family in (error, reward, correlation, fit)}
FAMILIES = tuple(_BY_NAME)  # the families of this floor; families composed on a higher floor register themselves


def register_family(family):
    """Make ``family`` known by its ``NAME``: a family that needs a higher floor (the ``classification`` family
    trains the classifier of ``learn``) is defined there and registers itself when imported
    (``plastlab.experiments`` imports it)."""
    known = _BY_NAME.setdefault(family.NAME, family)
    if known is not family and type(known) is not type(family):
        raise PlastlabError(f"task family '{family.NAME}' is defined twice")


def get_family(name):
    if name not in _BY_NAME:
        raise PlastlabError(f"unknown task family '{name}' (known: {', '.join(_BY_NAME)}; families defined above "
                            "the evolve floor are known once plastlab.experiments is imported)")
    return _BY_NAME[name]
