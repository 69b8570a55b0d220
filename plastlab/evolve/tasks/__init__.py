"""Task families: distributions over task instances on which candidate plasticity rules are scored.

A family module offers ``NAME``, ``INPUTS`` (the rule's input names), ``symbols()``, ``baselines()``,
``params_with_defaults(params)`` and ``evaluate_batch(exprs, seeds, params)`` (SymPy expressions in, one result
dict ``{fitness, reason, per_instance}`` per expression out). Families never know about DEAP.
"""
import importlib

from ...errors import PlastlabError

FAMILIES = ("error", "reward", "correlation")


def get_family(name):
    if name not in FAMILIES:
        raise PlastlabError(f"unknown task family '{name}' (known: {', '.join(FAMILIES)})")
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        raise PlastlabError(f"task family '{name}' is not implemented yet ({exc})") from None


def with_defaults(family, defaults, params=None):
    """A family's parameters: its defaults overridden by ``params`` (each cast to its default's type)."""
    out = dict(defaults)
    for key, value in (params or {}).items():
        if key not in defaults:
            raise PlastlabError(f"{family} family: unknown parameter '{key}' (known: {', '.join(defaults)})")
        out[key] = type(defaults[key])(value)
    return out


class InstanceCache:
    """The last set of sampled task instances (sampling is deterministic but not free; a worker scores many
    batches on the same instances)."""

    def __init__(self, sample):
        self.sample, self.key, self.value = sample, None, None

    def __call__(self, p, seeds):
        key = (tuple(sorted(p.items())), tuple(int(s) for s in seeds))
        if key != self.key:
            self.key, self.value = key, [self.sample(p, s) for s in seeds]
        return self.value
