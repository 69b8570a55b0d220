"""Task families: distributions over task instances on which candidate plasticity rules are scored.

A family module offers ``NAME``, ``INPUTS`` (the rule's input names), ``SCHEMA`` (its parameters, declared with
:class:`plastlab.config.Param`; the defaults are the paper's task), ``symbols()``, ``baselines()``,
``params_with_defaults(params)``, ``evaluate_batch(exprs, seeds, params)`` (SymPy expressions in, one result
dict ``{fitness, reason, per_instance}`` per expression out; all candidates in one compiled network, the
candidate as program data, ``tasks/programs.py``), ``rule_document(expr, ...)`` (the candidate as a rule file) and
``evaluate_rule(rule, seeds, params)`` (the same task network with the plastic synapses compiled from a rule
file through :mod:`plastlab.brian.codegen`: the naive one-compile-per-candidate way, and the check that the
batched network computes what the rule file says). Families never know about DEAP.
"""
import importlib

import sympy as sp
import tomli_w

from ...config import validate
from ...errors import PlastlabError

FAMILIES = ("error", "reward", "correlation")


def get_family(name):
    if name not in FAMILIES:
        raise PlastlabError(f"unknown task family '{name}' (known: {', '.join(FAMILIES)})")
    return importlib.import_module(f"{__name__}.{name}")


def with_defaults(family, schema, params=None, *, file=None):
    """A family's parameters: ``params`` checked against its declared ``schema``, defaults filled in
    (ConfigError naming the key otherwise)."""
    return validate(dict(params or {}), schema, file=file, section="family")


def rule_from_document(doc):
    """A Rule from a rule-file document (the dict ``rule_document`` returns), read as a file would be."""
    from ...rules.files import rule_from_toml

    return rule_from_toml(tomli_w.dumps(doc))


def evolved_rule_header(family, name, summary):
    """The [rule] table of an evolved candidate's rule file."""
    return {"name": name, "summary": summary,
            "citation": f"evolved with plastlab ({family} family after Jordan, Schmidt, Senn & Petrovici 2021, "
                        "eLife 10:e66273)"}


def with_nonce(parameters, code, nonce):
    """``code`` times a parameter equal to 1 named after ``nonce`` (added to ``parameters``): the same rule, but
    new generated code, so nothing comes from the Cython cache (benchmarks of compilation)."""
    if nonce is None:
        return code
    parameters[f"one_{nonce}"] = "1"
    return f"one_{nonce}*({code})"


def failure(reason):
    return {"fitness": float("-inf"), "reason": reason, "per_instance": []}


def zero_division(exc):
    """True when a Brian2 run failed because the rule divided by zero (Cython raises ZeroDivisionError)."""
    while exc is not None:
        if isinstance(exc, ZeroDivisionError):
            return True
        exc = exc.__cause__
    return False


def score_rule(family, rule, seeds, params, score):
    """``family``'s task network with the plastic synapses compiled from ``rule`` through brian/codegen (the
    naive path, and the check that a champion's rule file does what the batched network did). ``score(values)``
    gives (fitness, per_instance values) from the per-instance outcomes."""
    p = family.params_with_defaults(params)
    try:
        result = family.run(p, family.instances(p, seeds), family.rule_plasticity(rule))
    except Exception as exc:  # noqa: BLE001 - only a division by zero inside the rule is a result
        if zero_division(exc):
            return failure("division by zero during the simulation")
        raise
    values, reason = family._outcomes(result)[0]
    if reason:
        return failure(reason)
    fitness, per_instance = score(values)
    return {"fitness": fitness, "reason": "", "per_instance": per_instance}


def evaluate_expression_naively(family, expr, seeds, params=None, nonce=None):
    """The naive way (benchmarks): the expression's rule file compiled into its own network, one per candidate."""
    from ...rules.expressions import canonical

    expr = canonical(expr)
    if expr is sp.nan:
        return failure("expression is not finite (division by zero)")
    document = family.rule_document(expr, "candidate", "", params, nonce=nonce)
    return family.evaluate_rule(rule_from_document(document), seeds, params)


def find_contained(group, suffix):
    """A Brian2 object that ``group`` created for itself (e.g. codegen's ``<syn>_periodic`` run_regularly)."""
    for obj in group.contained_objects:
        if obj.name.endswith(suffix):
            return obj
    raise LookupError(f"{group.name} has no object *{suffix}")


class InstanceCache:
    """Sampled task instances of the current parameters, by seed (sampling is deterministic but not free; a
    worker scores many batches on the same instances, with hurdles on a subset of them and on all)."""

    def __init__(self, sample):
        self.sample, self.key, self.by_seed = sample, None, {}

    def __call__(self, p, seeds):
        key = tuple(sorted(p.items()))
        if key != self.key:
            self.key, self.by_seed = key, {}
        for s in seeds:
            if int(s) not in self.by_seed:
                self.by_seed[int(s)] = self.sample(p, int(s))
        return [self.by_seed[int(s)] for s in seeds]
