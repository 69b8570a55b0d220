""""Can this network drive that rule?" -- one check, used by every network before anything is built.

A network declares what it offers (:class:`Offer`): the neuron variables its pre- and postsynaptic groups have,
the third factors it delivers, and the rule forms it can run. :func:`require` compares a rule with an offer and
raises one RuleError naming the rule, the missing piece and what the network does offer.
"""
from dataclasses import dataclass

from ..errors import RuleError

__all__ = ["Offer", "require"]

FORMS = ("trace", "window", "continuous", "periodic")


@dataclass(frozen=True)
class Offer:
    """What a network provides to the rules that run in it."""

    network: str
    pre: frozenset = frozenset()
    post: frozenset = frozenset()
    modulators: frozenset = frozenset()
    forms: tuple = FORMS
    parameters: tuple = ()  # parameters the network sets itself (e.g. the circuit's learning rate eta)
    state: bool = True  # [state] / [periodic] sections

    def __post_init__(self):
        for name in ("pre", "post", "modulators"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))


def require(rule, offer):
    """Raise RuleError (one line) unless ``offer`` provides everything ``rule`` reads; returns the rule."""
    where = dict(file=str(rule.source) if getattr(rule, "source", None) else None)
    if rule.form not in offer.forms:
        raise RuleError(f"rule '{rule.name}' is a {rule.form} rule; {offer.network} runs "
                        f"{' or '.join(offer.forms)} rules", **where, section="rule")
    if not offer.state and (rule.state or rule.periodic is not None):
        raise RuleError(f"rule '{rule.name}' has [state]/[periodic] updates, which {offer.network} does not drive",
                        **where, section="state" if rule.state else "periodic")
    # third factors first: a missing reward or error signal says more about the rule than a neuron variable
    for name, spec in sorted(rule.inputs.items(), key=lambda item: item[1].source != "modulator"):
        described = getattr(spec, "description", "")
        if spec.source == "modulator":
            if name not in offer.modulators:
                offered = ", ".join(sorted(offer.modulators)) or "none"
                what = f"{described} '{name}' (a third factor)" if described else f"the third factor '{name}'"
                raise RuleError(f"rule '{rule.name}' needs {what}, which {offer.network} does not provide (third "
                                f"factors offered: {offered})", **where, section="inputs", term=name)
            continue
        offered = offer.pre if spec.source == "pre" else offer.post
        if spec.variable not in offered:
            provides = f"{spec.source} {', '.join(sorted(offered))}" if offered else "nothing"
            if described:
                raise RuleError(f"rule '{rule.name}' needs {described} '{name}' ({spec.source}synaptic variable "
                                f"'{spec.variable}'), which {offer.network} does not provide (it offers {provides})",
                                **where, section="inputs", term=name)
            raise RuleError(f"rule '{rule.name}' reads its input '{name}' from the {spec.source}synaptic variable "
                            f"'{spec.variable}', which {offer.network} does not provide (it offers {provides})",
                            **where, section="inputs", term=name)
    for name in offer.parameters:
        if name not in rule.parameters:
            raise RuleError(f"rule '{rule.name}' has no parameter '{name}', which {offer.network} sets",
                            **where, section="parameters", term=name)
    return rule
