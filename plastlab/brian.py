"""The code-generation boundary: a Rule becomes Brian2 model / on_pre / on_post strings and a namespace.

Everything here is printing: Brian2 parses the strings again, checks units and generates code, exactly as for
a hand-written Synapses, so a rule costs nothing at run time.
"""
from dataclasses import dataclass, field

import sympy as sp
from brian2 import Synapses, get_unit
from brian2.units.fundamentalunits import DIMENSIONLESS

from . import expressions as ex
from .errors import RuleError
from .rule import W

NEVER = "10000*second"  # Brian2 marks a neuron that never spiked with lastspike = -10000 s
DEFAULT_MAX_INTERVAL = "5000*second"


@dataclass
class BrianCode:
    """What a Synapses needs: model, on_pre and on_post code, namespace, and an optional per-step clip."""

    model: str
    on_pre: str
    on_post: str
    namespace: dict = field(default_factory=dict)
    clip_each_step: str = None

    def __str__(self):
        parts = [("model", self.model), ("on_pre", self.on_pre), ("on_post", self.on_post)]
        if self.clip_each_step:
            parts.append(("run_regularly", self.clip_each_step))
        return "\n".join(f"{name}:\n" + "\n".join("    " + line for line in text.splitlines())
                         for name, text in parts if text)


def _unit_name(dim):
    return "1" if dim is DIMENSIONLESS else repr(get_unit(dim))


def _renames(rule):
    """Rule symbols that Brian2 knows by another name: pre/post inputs become neuron variables."""
    return {name: f"{i.variable}_{i.source}" for name, i in rule.inputs.items() if i.source in ("pre", "post")}


def generate(rule, transmit="", *, lastspike=(True, True)):
    """Brian2 code for ``rule``. ``transmit`` (e.g. ``"ge_post += w"``) runs first on each presynaptic spike.

    ``lastspike`` says whether the (pre, post) groups have a ``lastspike`` variable (groups created with a
    ``refractory`` argument do); window rules fall back to per-synapse spike times where they do not.
    """
    rename = _renames(rule)
    code = lambda expr: ex.to_code(expr, rename)  # noqa: E731
    model = []
    if rule.dw_dt is None:
        model.append(f"w : {_unit_name(rule.weight.unit)}")
    else:
        model.append(f"dw/dt = {code(rule.dw_dt)} : {_unit_name(rule.weight.unit)} (clock-driven)")
    for trace in rule.traces.values():
        kind = "clock-driven" if trace.clock_driven else "event-driven"
        model.append(f"d{trace.name}/dt = {code(trace.rate)} : {_unit_name(trace.unit)} ({kind})")
    model += [f"{name} : {_unit_name(i.unit)}" for name, i in rule.inputs.items() if i.source == "modulator"]
    on_pre = [transmit] if transmit else []
    on_post = []
    if rule.window is not None:
        extra_model, pre_window, post_window = _window_code(rule, code, rename, lastspike)
        model += extra_model
        on_pre += pre_window
        on_post += post_window
    else:
        on_pre += [_statement_code(rule, s, code) for s in rule.on_pre]
        on_post += [_statement_code(rule, s, code) for s in rule.on_post]
    bounded = rule.weight.min != -sp.oo or rule.weight.max != sp.oo
    clip_each_step = (f"w = clip(w, {code(rule.weight.min)}, {code(rule.weight.max)})"
                      if rule.dw_dt is not None and bounded else None)
    return BrianCode("\n".join(model), "\n".join(on_pre), "\n".join(on_post), dict(rule.parameters), clip_each_step)


def _statement_code(rule, statement, code):
    """One update; a weight update is clipped to the weight bounds unless it already clips to exactly them."""
    if statement.target != "w":
        return f"{statement.target} {statement.op} {code(statement.expr)}"
    value = statement.new_value().xreplace({sp.Symbol("w"): W})
    lo, hi = rule.weight.min, rule.weight.max
    already = isinstance(value, ex.clip) and value.args[1:] == (lo, hi)
    if already or (lo == -sp.oo and hi == sp.oo):
        return f"w = {code(value)}" if statement.op == "=" else f"w {statement.op} {code(statement.expr)}"
    return f"w = {code(ex.clip(value, lo, hi))}"


def _window_code(rule, code, rename, lastspike):
    """Nearest-neighbour pairing: at a post spike Δt = t - last pre spike, at a pre spike Δt = last post - t."""
    model, pre_ref, post_ref, mark_pre, mark_post = [], "lastspike_pre", "lastspike_post", [], []
    if not lastspike[0]:
        model.append("tlast_pre_syn : second")
        pre_ref = f"(tlast_pre_syn - {NEVER})"
        mark_pre = [f"tlast_pre_syn = t + {NEVER}"]
    if not lastspike[1]:
        model.append("tlast_post_syn : second")
        post_ref = f"(tlast_post_syn - {NEVER})"
        mark_post = [f"tlast_post_syn = t + {NEVER}"]
    interval = code(rule.window.max_interval) if rule.window.max_interval is not None else DEFAULT_MAX_INTERVAL
    lo, hi = code(rule.weight.min), code(rule.weight.max)

    def update(branch, delta, since):
        bounded = f"clip({delta}, -{interval}, {interval})"  # keeps F finite where the guard is 0
        change = ex.to_code(branch, dict(rename, delta_t=bounded))
        guard = f"int({since} > 0*second) * int({since} < {interval})"
        return f"w = clip(w + {guard} * ({change}), {lo}, {hi})"

    on_post = [update(rule.window.potentiation, f"t - {pre_ref}", f"(t - {pre_ref})")] + mark_post
    on_pre = [update(rule.window.depression, f"{post_ref} - t", f"(t - {post_ref})")] + mark_pre
    return model, on_pre, on_post


def has_lastspike(group):
    return "lastspike" in getattr(group, "variables", {})


def synapses(rule, source, target, transmit="", *, namespace=None, **kwargs):
    """A ``brian2.Synapses`` from ``source`` to ``target`` running ``rule`` (not yet connected).

    ``transmit`` is the effect of a presynaptic spike on the target (``"ge_post += w"``); other keyword
    arguments go to ``brian2.Synapses``. Pre/postsynaptic inputs of the rule must exist in the groups.
    """
    _check_inputs(rule, source, target)
    brian = generate(rule, transmit, lastspike=(has_lastspike(source), has_lastspike(target)))
    names = dict(brian.namespace, **(namespace or {}))
    syn = Synapses(source, target, model=brian.model, on_pre=brian.on_pre or None,
                   on_post=brian.on_post or None, namespace=names, **kwargs)
    if brian.clip_each_step:
        syn.run_regularly(brian.clip_each_step, when="end", name=f"{syn.name}_clip")
    return syn


def _check_inputs(rule, source, target):
    for name, i in rule.inputs.items():
        group = {"pre": source, "post": target}.get(i.source)
        if group is not None and i.variable not in group.variables:
            raise RuleError(f"rule '{rule.name}' reads its input '{name}' from the {i.source}synaptic variable "
                            f"'{i.variable}', which {group.name} does not have", section="inputs", term=name)
