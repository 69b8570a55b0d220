"""plastlab: a laboratory for biologically plausible synaptic plasticity rules.

Define rules as equations (``Rule``, ``load_rule``), run them in any Brian2 network (``synapses``), characterise
them (``plastlab.brian.protocols.pair_window``), evolve new ones (``plastlab.evolve``) and learn with them
(``SpikingClassifier`` and the networks of ``plastlab.learn``).

The names below are imported on first use, so ``import plastlab`` (and ``plastlab --help``) stays instant.
"""
import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "Rule": "plastlab.rules.rule",
    "load_rule": "plastlab.rules.files",
    "available_rules": "plastlab.rules.files",
    "synapses": "plastlab.brian.codegen",
    "SpikingClassifier": "plastlab.learn.classifier",
    "PlastlabError": "plastlab.errors",
    "RuleError": "plastlab.errors",
    "DataError": "plastlab.errors",
    "ConfigError": "plastlab.errors",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'plastlab' has no attribute '{name}'")


def __dir__():
    return sorted(list(globals()) + __all__)
