"""Pairing schemes, coincident spikes and the dendritic delay of trace rules: the ``[pairing]`` table.

A trace rule is written all-to-all (every trace ``+= 1`` at its own spike); ``scheme`` turns it into one of
NEST's nearest-spike schemes (Morrison, Diesmann & Gerstner 2008) by rewriting the trace updates:

- ``all_to_all`` (NEST ``stdp_synapse``): as written.
- ``nearest_symmetric`` (``stdp_nn_symm_synapse``): every trace is *set* at its own spike (``x = 1``), so each
  spike pairs with the nearest earlier spike of the other side.
- ``nearest_pre_centred`` (``stdp_nn_pre_centered_synapse``): presynaptic traces accumulate and are reset to 0
  by the next postsynaptic spike (after it has read them); postsynaptic traces are set.
- ``nearest_restricted`` (``stdp_nn_restr_synapse``): both set; a post spike resets the presynaptic traces after
  reading them, and a pre spike reads the postsynaptic traces only if a post spike has reached the synapse since
  the last pre spike (a per-synapse ``pairing_gate``; as in NEST, a post spike in the same step opens the gate
  while the value read is the nearest earlier post spike's), so only immediate neighbours pair.

``coincident`` names what a pre and a post spike that reach the synapse in the same time step do:

- ``pre_first`` (default; Brian2's order): the presynaptic pathway runs first, so the pair counts as Δt = 0+.
- ``post_first``: the postsynaptic pathway runs first (Δt = 0-).
- ``nest`` (NEST's convention): the pair counts as neither; each spike still pairs with the earlier spikes of
  the other side, the postsynaptic spike's potentiation first (NEST applies pending potentiation before a
  presynaptic spike's depression). So the postsynaptic weight updates run first, then the presynaptic ones,
  then the other statements (trace updates) of each side.

``delay`` is NEST's dendritic delay: a postsynaptic spike reaches the synapse ``delay`` later.
"""
from dataclasses import dataclass

import sympy as sp
from brian2 import second
from brian2.units.fundamentalunits import get_dimensions

from ..errors import RuleError
from . import expressions as ex
from .statements import Statement

__all__ = ["SCHEMES", "COINCIDENT", "Pairing", "Pathway", "parse_pairing", "check_pairing", "pathways",
           "scheme_statements", "delay_seconds"]

SCHEMES = ("all_to_all", "nearest_symmetric", "nearest_pre_centred", "nearest_restricted")
COINCIDENT = ("pre_first", "post_first", "nest")
NEST_SYNAPSES = {"all_to_all": "stdp_synapse", "nearest_symmetric": "stdp_nn_symm_synapse",
                 "nearest_pre_centred": "stdp_nn_pre_centered_synapse",
                 "nearest_restricted": "stdp_nn_restr_synapse"}


@dataclass(frozen=True)
class Pairing:
    """How a rule's spikes pair: scheme, coincidence convention and dendritic delay (None: no delay)."""

    scheme: str = "all_to_all"
    coincident: str = "pre_first"
    delay: sp.Expr = None

    @property
    def is_default(self):
        return self == Pairing()


@dataclass(frozen=True)
class Pathway:
    """Statements that one kind of spike runs, in the order Brian2 schedules them within a time step."""

    name: str
    side: str
    statements: tuple
    order: int


def parse_pairing(spec, declared):
    """The ``[pairing]`` table (or a Pairing) as a Pairing; names are checked here, the delay's value by
    :func:`check_pairing` once parameters are known."""
    if spec is None:
        return Pairing()
    if isinstance(spec, Pairing):
        return spec
    if not isinstance(spec, dict):
        raise RuleError("[pairing] must be a table", section="pairing")
    extra = sorted(set(spec) - {"scheme", "coincident", "delay"})
    if extra:
        raise RuleError(f"unknown key '{extra[0]}' (known: scheme, coincident, delay)", section="pairing",
                        term=extra[0])
    scheme, coincident = spec.get("scheme", "all_to_all"), spec.get("coincident", "pre_first")
    if scheme not in SCHEMES:
        raise RuleError(f"scheme '{scheme}' is not one of {', '.join(SCHEMES)}", section="pairing", term="scheme")
    if coincident not in COINCIDENT:
        raise RuleError(f"coincident '{coincident}' is not one of {', '.join(COINCIDENT)}", section="pairing",
                        term="coincident")
    delay = spec.get("delay")
    if delay is not None:
        delay = declared.expression(delay, "pairing", what="delay")
    return Pairing(scheme, coincident, delay)


def check_pairing(parts):
    """A scheme needs a trace rule; a window rule pairs nearest-symmetric by construction; the delay is a
    finite non-negative time given by parameters."""
    pairing = getattr(parts, "pairing", None) or Pairing()
    if pairing.is_default:
        return
    if parts.window is not None and pairing.scheme != "all_to_all":
        raise RuleError("a window rule pairs nearest-neighbour by construction: leave out 'scheme'",
                        section="pairing", term="scheme")
    if pairing.scheme != "all_to_all" and not parts.traces:
        raise RuleError(f"scheme '{pairing.scheme}' rewrites trace updates, and this rule has no traces",
                        section="pairing", term="scheme")
    if pairing.delay is not None:
        if any(s.name not in parts.parameters and s.name not in ex.UNITS for s in pairing.delay.free_symbols):
            raise RuleError("delay must be a constant time (parameters only)", section="pairing", term="delay")
        value = ex.evaluate(pairing.delay, parts.parameters)
        if get_dimensions(value) != second.dim or not float(value / second) >= 0:
            raise RuleError(f"delay must be a non-negative time, got {value}", section="pairing", term="delay")
    if pairing.coincident == "nest" and parts.window is None:
        on_pre, on_post = scheme_statements(parts)
        _deferred_split(on_pre, "presynaptic")  # raises where the statements cannot be split
        _deferred_split(on_post, "postsynaptic")


def delay_seconds(rule):
    """The dendritic delay in seconds (0.0 without one)."""
    pairing = getattr(rule, "pairing", None)
    if pairing is None or pairing.delay is None:
        return 0.0
    return float(ex.evaluate(pairing.delay, rule.parameters) / second)


def _nearest(statements, traces):
    """``x += a`` becomes ``x = a`` for traces: the trace forgets earlier spikes."""
    return tuple(type(s)(s.target, "=", s.expr) if s.target in traces and s.op == "+=" else s for s in statements)


GATE = "pairing_gate"


def extra_state(rule):
    """Synaptic variables the scheme adds: {name: dimension}."""
    from brian2.units.fundamentalunits import DIMENSIONLESS

    pairing = getattr(rule, "pairing", None) or Pairing()
    return {GATE: DIMENSIONLESS} if pairing.scheme == "nearest_restricted" else {}


def _gated(statements, names):
    """Weight updates reading ``names`` times the gate."""
    gate = {sp.Symbol(n): sp.Symbol(n) * sp.Symbol(GATE) for n in names}
    return tuple(Statement(s.target, s.op, s.expr.xreplace(gate)) if s.target == "w" else s for s in statements)


def _resets(names):
    return tuple(Statement(n, "=", sp.Integer(0)) for n in sorted(names))


def scheme_statements(rule):
    """(on_pre, on_post) after the pairing scheme has rewritten the trace updates."""
    pairing = getattr(rule, "pairing", None) or Pairing()
    on_pre, on_post = tuple(rule.on_pre), tuple(rule.on_post)
    traces = set(rule.traces)
    pre_traces = {s.target for s in on_pre if s.target in traces}
    post_traces = {s.target for s in on_post if s.target in traces}
    if pairing.scheme == "nearest_symmetric":
        return _nearest(on_pre, traces), _nearest(on_post, traces)
    if pairing.scheme == "nearest_pre_centred":
        return on_pre, _nearest(on_post, traces) + _resets(pre_traces)
    if pairing.scheme == "nearest_restricted":
        return (_gated(_nearest(on_pre, traces), post_traces) + (Statement(GATE, "*=", sp.Integer(0)),),
                _nearest(on_post, traces) + _resets(pre_traces) + (Statement(GATE, "=", sp.Integer(1)),))
    return on_pre, on_post


def _deferred_split(statements, side):
    """NEST's convention: (weight updates, the rest), refusing a split that would change what the weight
    updates read (a post spike opens the restricted scheme's gate at once)."""
    now, later, moved = [], [], set()
    early = {"w", GATE} if side == "postsynaptic" else {"w"}
    for s in statements:
        if s.target in early:
            read = {x.name for x in s.expr.free_symbols}
            if read & moved:
                raise RuleError(f"coincident = 'nest' runs the {side} weight update before the other "
                                f"{side} statements, but '{s}' reads {sorted(read & moved)[0]}, which an "
                                "earlier statement changes", section="pairing", term="coincident")
            now.append(s)
        else:
            later.append(s)
            moved.add(s.target)
    return tuple(now), tuple(later)


def pathways(rule):
    """The rule's statements as Brian2 pathways, in schedule order within a step (trace rules)."""
    pairing = getattr(rule, "pairing", None) or Pairing()
    on_pre, on_post = scheme_statements(rule)
    if pairing.coincident == "post_first":
        return (Pathway("post", "post", on_post, 1), Pathway("pre", "pre", on_pre, 2))
    if pairing.coincident == "nest":
        pre_now, pre_later = _deferred_split(on_pre, "presynaptic")
        post_now, post_later = _deferred_split(on_post, "postsynaptic")
        return (Pathway("post", "post", post_now, -2), Pathway("pre", "pre", pre_now, -1),
                Pathway("post_after", "post", post_later, 1), Pathway("pre_after", "pre", pre_later, 2))
    return (Pathway("pre", "pre", on_pre, -1), Pathway("post", "post", on_post, 1))
