"""Brian2 pathways for a rule's ``[pairing]`` (:mod:`plastlab.rules.pairing`): the order of the pre and post
pathways within a time step (coincident spikes) and the dendritic delay of the post pathway. Used by
:mod:`plastlab.brian.codegen` only; rules with the default pairing never reach this module."""
from brian2 import Synapses, second

from ..rules.pairing import delay_seconds, extra_state  # noqa: F401 (extra_state: for codegen)
from ..rules.pairing import pathways as rule_pathways

__all__ = ["coincident", "is_default", "rule_pathways", "brian_pathways", "post_delay", "paired_synapses"]


def coincident(rule):
    pairing = getattr(rule, "pairing", None)
    return "pre_first" if pairing is None else pairing.coincident


def is_default(rule):
    """True where Brian2's own two pathways (pre before post, no delay) run the rule as written."""
    pairing = getattr(rule, "pairing", None)
    return pairing is None or pairing.is_default


def brian_pathways(rule, on_pre, on_post, pre_later=(), post_later=()):
    """(name, side, code, order) for every pathway; () where Brian2's own two pathways do (pre before post).
    ``nest``: the weight updates of post, then pre, then the other statements of post, then of pre."""
    kind = coincident(rule)
    if kind == "pre_first":
        return ()
    pre, post = "\n".join(on_pre), "\n".join(on_post)
    if kind == "post_first":
        return (("post", "post", post, 1), ("pre", "pre", pre, 2))
    return (("post", "post", post, -2), ("pre", "pre", pre, -1), ("post_after", "post", "\n".join(post_later), 1),
            ("pre_after", "pre", "\n".join(pre_later), 2))


def post_delay(rule):
    value = delay_seconds(rule)
    return value * second if value else None


def paired_synapses(brian, source, target, model, names, kwargs):
    """Synapses with the rule's pathways in their order within a step and the dendritic delay on ``post``."""
    pathways = brian.pathways or (("pre", "pre", brian.on_pre, -1), ("post", "post", brian.on_post, 1))
    on_pre = {n: c for n, side, c, _ in pathways if side == "pre" and c}
    on_post = {n: c for n, side, c, _ in pathways if side == "post" and c}
    kwargs = dict(kwargs)
    delay = kwargs.pop("delay", None)
    delays = dict(delay) if isinstance(delay, dict) else ({} if delay is None else {"pre": delay})
    if brian.post_delay is not None:
        delays.update({name: brian.post_delay for name in on_post})
    if "pre" in delays:
        delays.update({name: delays["pre"] for name in on_pre})
    if delays:
        kwargs["delay"] = delays
    syn = Synapses(source, target, model=model, on_pre=on_pre or None, on_post=on_post or None, namespace=names,
                   **kwargs)
    for name, _, code, order in pathways:
        if code and hasattr(syn, name):
            getattr(syn, name).order = order
    return syn
