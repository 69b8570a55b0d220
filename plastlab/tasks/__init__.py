"""Task families: distributions over task instances on which candidate plasticity rules are scored.

A family module offers ``NAME``, ``INPUTS`` (the rule's input names), ``symbols()``, ``baselines()``,
``params_with_defaults(params)`` and ``evaluate_batch(exprs, seeds, params)`` (SymPy expressions in, one result
dict ``{fitness, reason, per_instance}`` per expression out). Families never know about DEAP.
"""
import importlib

from ..errors import PlastlabError

FAMILIES = ("error", "reward", "correlation")


def get_family(name):
    if name not in FAMILIES:
        raise PlastlabError(f"unknown task family '{name}' (known: {', '.join(FAMILIES)})")
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        raise PlastlabError(f"task family '{name}' is not implemented yet ({exc})") from None
