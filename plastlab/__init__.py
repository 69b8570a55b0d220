"""plastlab: a laboratory for biologically plausible synaptic plasticity rules.

Define rules as equations (``Rule``, ``load_rule``), characterise them (``protocols``), run them in Brian2
networks (``Rule.synapses``), evolve new ones and classify with them.
"""
from .errors import DataError, PlastlabError, RuleError
from .rules.rule import Rule, available_rules, load_rule
from .learn.classifier import SpikingClassifier

__version__ = "0.1.0"
__all__ = ["Rule", "load_rule", "available_rules", "PlastlabError", "RuleError", "DataError", "SpikingClassifier"]
