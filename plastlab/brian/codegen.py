"""The code-generation boundary: a Rule becomes Brian2 model / on_pre / on_post strings and a namespace.

Everything here is printing: Brian2 parses the strings again, checks units and generates code, exactly as for
a hand-written Synapses, so a rule costs nothing at run time.
"""
import re
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from brian2 import Synapses, get_unit
from brian2.units.fundamentalunits import DIMENSIONLESS

from ..errors import RuleError
from ..rules import expressions as ex
from . import pairing


class NoTransmissionWarning(UserWarning):
    """Synapses that learn but never affect their target neuron."""


DEFAULT_MAX_INTERVAL = "5000*second"  # Brian2 marks a neuron that never spiked with lastspike = -10000 s


@dataclass
class BrianCode:
    """What a Synapses needs: model, on_pre and on_post code, namespace, and an optional per-step clip."""

    model: str
    on_pre: str
    on_post: str
    namespace: dict = field(default_factory=dict)
    clip_each_step: str = None
    periodic: str = None
    periodic_interval: object = None
    pathways: tuple = ()  # (name, side, code, order) of each pathway where the rule's [pairing] orders them
    post_delay: object = None  # the rule's dendritic delay: post spikes reach the synapse this much later

    def __str__(self):
        parts = [("model", self.model), ("on_pre", self.on_pre), ("on_post", self.on_post)]
        if self.clip_each_step:
            parts.append(("run_regularly (every step)", self.clip_each_step))
        if self.periodic:
            parts.append((f"run_regularly (every {self.periodic_interval})", self.periodic))
        return "\n".join(f"{name}:\n" + "\n".join("    " + line for line in text.splitlines())
                         for name, text in parts if text)


def _unit_name(dim):
    return "1" if dim is DIMENSIONLESS else repr(get_unit(dim))


def _dimensional_zero(rule, expr):
    """``expr`` with zero clip bounds written ``0*UNIT`` when the weight has a unit: SymPy folds "0*nS" into a
    plain 0, which Brian2 refuses next to a bound in nS."""
    if rule.weight.unit is DIMENSIONLESS:
        return expr
    zero = sp.Mul(sp.Integer(0), sp.Symbol(_unit_name(rule.weight.unit)), evaluate=False)
    return expr.replace(lambda e: isinstance(e, ex.clip),
                        lambda e: ex.clip(e.args[0], *(zero if a.is_zero else a for a in e.args[1:])))


def _renames(rule):
    """Rule symbols that Brian2 knows by another name: pre/post inputs become neuron variables."""
    return {name: f"{i.variable}_{i.source}" for name, i in rule.inputs.items() if i.source in ("pre", "post")}


def transmission(rule, transmit=None):
    """The Brian2 statement a presynaptic spike runs first: ``transmit`` if given (``""`` for none), else the
    rule's own ``[weight] transmit``, else none."""
    if transmit is not None:
        return transmit
    t = rule.weight.transmit
    return "" if t is None else f"{t.target} {t.op} {ex.to_code(t.expr)}"


def generate(rule, transmit=None, *, lastspike=(True, True), transmit_last=False, rewrite=None, learning_rate=None):
    """Brian2 code for ``rule``. ``transmit`` (e.g. ``"ge_post += w"``; default: the rule's ``[weight]
    transmit``) runs first on each presynaptic spike, or after the rule's presynaptic statements with
    ``transmit_last`` (NEST's STDP synapses transmit the weight their presynaptic update has just changed).

    ``lastspike`` says whether the (pre, post) groups have a ``lastspike`` variable (groups created with a
    ``refractory`` argument do); window rules fall back to per-synapse spike times where they do not.
    ``rewrite`` (SymPy -> SymPy) is applied to every expression before printing (``program_code``).
    ``learning_rate`` names a variable that multiplies every change the rule makes to ``w`` (the step before the
    clip to the bounds; ``dw/dt``); None (the default) prints the rule exactly as without it.
    """
    rename = _renames(rule)
    rewrite = rewrite or (lambda expr: expr)
    code = lambda expr: ex.to_code(rewrite(expr), rename)  # noqa: E731
    model = []
    if rule.dw_dt is None:
        model.append(f"w : {_unit_name(rule.weight.unit)}")
    else:
        rate = rule.dw_dt if learning_rate is None else sp.Symbol(learning_rate) * rule.dw_dt
        model.append(f"dw/dt = {code(rate)} : {_unit_name(rule.weight.unit)} (clock-driven)")
    for trace in rule.traces.values():
        kind = "clock-driven" if trace.clock_driven else "event-driven"
        model.append(f"d{trace.name}/dt = {code(trace.rate)} : {_unit_name(trace.unit)} ({kind})")
    model += [f"{name} : {_unit_name(i.unit)}" for name, i in rule.inputs.items() if i.source == "modulator"]
    model += [f"{name} : {_unit_name(unit)}" for name, unit in rule.state.items()]
    transmit = device_transmit(rule, transmission(rule, transmit))
    on_pre = [transmit] if transmit and not transmit_last else []
    on_post = []
    pathways = ()
    if rule.window is not None:
        nest = pairing.coincident(rule) == "nest"  # per-synapse spike times, marked after the post pathway
        extra_model, pre_window, post_window = _window_code(rule, code, rename, (False, False) if nest else lastspike,
                                                        learning_rate)
        model += extra_model
        on_pre += pre_window[:1] if nest else pre_window
        on_post += post_window[:1] if nest else post_window
        pathways = pairing.brian_pathways(rule, on_pre, on_post, pre_window[1:], post_window[1:])
    elif not pairing.is_default(rule):  # plastlab.rules.pairing: scheme and order of the pathways
        blocks = {p.name: [_statement_code(rule, s, code, learning_rate) for s in p.statements]
                  for p in pairing.rule_pathways(rule)}
        model += [f"{name} : {_unit_name(unit)}" for name, unit in pairing.extra_state(rule).items()]
        on_pre += blocks["pre"]
        on_post += blocks["post"]
        pathways = pairing.brian_pathways(rule, on_pre, on_post, blocks.get("pre_after", ()),
                                          blocks.get("post_after", ()))
    else:
        on_pre += [_statement_code(rule, s, code, learning_rate) for s in rule.on_pre]
        on_post += [_statement_code(rule, s, code, learning_rate) for s in rule.on_post]
    if transmit and transmit_last:
        on_pre.append(transmit)
    bounded = rule.weight.min != -sp.oo or rule.weight.max != sp.oo
    clip_each_step = (f"w = {code(_dimensional_zero(rule, ex.clip(sp.Symbol('w'), rule.weight.min, rule.weight.max)))}"
                      if rule.dw_dt is not None and bounded else None)
    periodic = interval = None
    if rule.periodic is not None:
        periodic = "\n".join(_statement_code(rule, s, code, learning_rate) for s in rule.periodic.statements)
        interval = ex.evaluate(rule.periodic.interval, rule.parameters)
    after = dict(p[::2] for p in pathways)
    extra = (pairing.brian_pathways(rule, on_pre, on_post, *(after.get(n, "").splitlines()
                                                             for n in ("pre_after", "post_after")))
             if pathways else ())
    return BrianCode("\n".join(model + device_model(rule)), "\n".join(on_pre), "\n".join(on_post),
                     dict(rule.parameters, **device_namespace(rule)), clip_each_step, periodic, interval,
                     extra, pairing.post_delay(rule))


def _statement_code(rule, statement, code, learning_rate=None):
    """One update; a weight update is clipped to the weight bounds unless it already clips to exactly them.
    With ``learning_rate`` (a variable name) the weight's step is multiplied by it before the clip."""
    if statement.target != "w":
        if statement.expr.is_zero and statement.op in ("=", "+=", "-="):  # Brian2 wants 0 with the target's unit
            unit = _unit_name({**rule.state, **{n: tr.unit for n, tr in rule.traces.items()}}[statement.target])
            return f"{statement.target} {statement.op} 0" + ("" if unit == "1" else f"*{unit}")
        return f"{statement.target} {statement.op} {code(statement.expr)}"
    value = statement.new_value()
    lo, hi = rule.weight.min, rule.weight.max
    already = isinstance(value, ex.clip) and value.args[1:] == (lo, hi)
    if learning_rate is not None:  # w + factor * (the rule's new value - w), clipped as the rule's own value is
        w = sp.Symbol("w")
        value, statement = w + sp.Symbol(learning_rate) * ((value.args[0] if already else value) - w), None
        already = False
    if _device_updates(rule):  # the device takes the step the rule asks for (its own clip to the bounds removed)
        return device_update(rule, code((value.args[0] if already else value) - sp.Symbol("w")), code)
    if already or not rule.weight.clip or (lo == -sp.oo and hi == sp.oo):  # [weight] clip = false: as written
        return (f"w = {code(_dimensional_zero(rule, value))}" if statement is None or statement.op == "="
                else f"w {statement.op} {code(statement.expr)}")
    return f"w = {code(_dimensional_zero(rule, ex.clip(value, lo, hi)))}"


def _window_code(rule, code, rename, lastspike, learning_rate=None):
    """Nearest-neighbour pairing: at a post spike Δt = t - last pre spike, at a pre spike Δt = last post - t.

    Groups without ``lastspike`` (e.g. SpikeGeneratorGroup) get per-synapse spike times plus a flag that says
    whether that side has spiked yet (Brian2 sets new synaptic variables to 0, which would read as a spike at 0).
    """
    model, refs, seen, marks = [], {}, {}, {}
    for side, has in zip(("pre", "post"), lastspike):
        if has:
            refs[side], seen[side], marks[side] = f"lastspike_{side}", "", []
        else:
            model += [f"tlast_{side}_syn : second", f"seen_{side}_syn : 1"]
            refs[side], seen[side] = f"tlast_{side}_syn", f" * seen_{side}_syn"
            marks[side] = [f"tlast_{side}_syn = t", f"seen_{side}_syn = 1"]
    interval = code(rule.window.max_interval) if rule.window.max_interval is not None else DEFAULT_MAX_INTERVAL
    lo, hi = (code(b) for b in _dimensional_zero(rule, ex.clip(sp.Symbol("w"), rule.weight.min,
                                                                 rule.weight.max)).args[1:])

    def update(branch, delta, other):
        since = f"(t - {refs[other]})"
        bounded = f"clip({delta}, -{interval}, {interval})"  # keeps F finite where the guard is 0
        change = ex.to_code(branch, dict(rename, delta_t=bounded))
        guard = f"int({since} > 0*second) * int({since} < {interval}){seen[other]}"
        if learning_rate is not None:
            guard = f"{learning_rate} * {guard}"
        if _device_updates(rule):
            return device_update(rule, f"{guard} * ({change})", code)
        return f"w = clip(w + {guard} * ({change}), {lo}, {hi})"

    on_post = [update(rule.window.potentiation, f"t - {refs['pre']}", "pre")] + marks["post"]
    on_pre = [update(rule.window.depression, f"{refs['post']} - t", "post")] + marks["pre"]
    return model, on_pre, on_post


# --- device non-idealities (plastlab.rules.devices): printed only when the rule's [device] is not ideal -----------

def _device(rule):
    device = getattr(rule, "device", None)
    return None if device is None or device.off else device


def _device_updates(rule):
    device = _device(rule)
    return bool(device is not None and device.changes_updates)


def draws_random_numbers(rule):
    """True when the rule's device draws random numbers in its updates or its transmission (d2d, c2c,
    stochastic rounding, read noise)."""
    device = _device(rule)
    return bool(device is not None and (device.d2d or device.c2c or device.read_noise
                                        or (device.levels is not None and device.rounding == "stochastic")))


def device_model(rule):
    """Per-synapse d2d factors (potentiation, depression) and whether they have been drawn yet."""
    device = _device(rule)
    if device is None or not device.d2d:
        return []
    return ["device_up : 1", "device_down : 1", "device_drawn : 1"]


def device_namespace(rule):
    """The device's numbers, in the namespace (another value reuses the compiled code)."""
    device = _device(rule)
    if device is None:
        return {}
    names = {"device_c2c": device.c2c, "device_d2d": device.d2d, "device_asym": device.asymmetry,
             "device_gamma": device.soft_bounds, "device_read_noise": device.read_noise}
    if device.levels is not None:
        names["device_q"] = (rule.w_max - rule.w_min) / (device.levels - 1)
    return names


def device_transmit(rule, transmit):
    """The transmission with read noise: ``w`` read as ``w*(1 + read_noise*N(0,1))``, drawn per transmission."""
    device = _device(rule)
    if not transmit or device is None or not device.read_noise:
        return transmit
    return re.sub(r"\bw\b", "(w*(1 + device_read_noise*randn()))", transmit)


def device_update(rule, step, code):
    """Brian2 lines taking the rule's weight step ``step`` (code) through the device: d2d, asymmetry and soft-bounds
    factors of the step's sign, c2c noise, the bounds, then a level (``plastlab.rules.devices`` has the order)."""
    device = _device(rule)
    lo, hi = (code(b) for b in _dimensional_zero(rule, ex.clip(sp.Symbol("w"), rule.weight.min,
                                                                 rule.weight.max)).args[1:])
    zero = "0" if rule.weight.unit is DIMENSIONLESS else f"0*{_unit_name(rule.weight.unit)}"
    lines = []
    up, down = [], []
    if device.d2d:
        lines += ["device_up = device_drawn*device_up + (1 - device_drawn)*clip(1 + device_d2d*randn(), 0, inf)",
                  "device_down = device_drawn*device_down + (1 - device_drawn)*clip(1 + device_d2d*randn(), 0, inf)",
                  "device_drawn = 1"]
        up.append("device_up")
        down.append("device_down")
    if device.asymmetry != 1:
        down.append("device_asym")
    if device.soft_bounds:
        up.append(f"(({hi} - w)/({hi} - {lo}))**device_gamma")
        down.append(f"((w - {lo})/({hi} - {lo}))**device_gamma")
    lines.append(f"device_step = {step}")
    if up or down:
        lines.append(f"device_step = device_step*(int(device_step > {zero})*{'*'.join(up) or '1'}"
                     f" + int(device_step < {zero})*{'*'.join(down) or '1'})")
    if device.c2c:
        lines.append("device_step = device_step*(1 + device_c2c*randn())")
    lines.append(f"w = clip(w + device_step, {lo}, {hi})")
    if device.levels is not None:
        offset = "0.5" if device.rounding == "nearest" else "rand()"
        lines.append(f"w = clip({lo} + device_q*floor((w - {lo})/device_q + {offset}), {lo}, {hi})")
    return "\n".join(lines)


def has_lastspike(group):
    return "lastspike" in getattr(group, "variables", {})


def synapses(rule, source, target, transmit=None, *, extra_model="", namespace=None, parameters=None,
             transmit_last=False, program=None, clocks=None, learning_rate=None, **kwargs):
    """A ``brian2.Synapses`` from ``source`` to ``target`` running ``rule`` (not yet connected).

    ``transmit`` is the effect of a presynaptic spike on the target (``"ge_post += w"``; default: the rule's
    ``[weight] transmit``; ``""``: none on purpose, otherwise a missing transmission warns); ``extra_model`` adds
    model lines, e.g. ``"I_in_post = w*r_pre : 1 (summed)"`` for rate networks; ``transmit_last`` transmits after
    the rule's presynaptic statements (see ``generate``); ``program`` (a ``programs.ProgramCalls``) computes the
    rule's placeholders with compiled programs (``program_code``); other keyword arguments go to
    ``brian2.Synapses``; ``clocks`` (a callable: time step -> Clock) gives the ``[periodic]`` updates a
    shared clock instead of one of their own. ``parameters`` sets rule parameters on purpose (e.g. a circuit's
    per-layer learning rate); ``namespace`` holds the network's own names, which must not clash with the rule's
    parameters (a silent replacement would change the rule). Pre/postsynaptic inputs of the rule must exist in the
    groups. ``learning_rate`` names a shared synaptic variable (1 at first) that multiplies every change the rule
    makes to ``w``, for a network that scales learning at run time; None (the default): the rule's own code.
    """
    _check_inputs(rule, source, target)
    if learning_rate is not None and learning_rate in {*rule.parameters, *rule.state, *rule.traces, *rule.inputs,
                                                        "w"}:
        raise RuleError(f"rule '{rule.name}' has a name '{learning_rate}', which this network needs for its "
                        "learning rate", term=learning_rate)
    unknown = sorted(set(parameters or {}) - set(rule.parameters))
    if unknown:
        raise RuleError(f"rule '{rule.name}' has no parameter '{unknown[0]}' for this network to set",
                        section="parameters", term=unknown[0])
    clash = sorted(k for k in set(namespace or {}) & set(rule.parameters)
                   if not _same_value(namespace[k], rule.parameters[k]))
    if clash:
        raise RuleError(f"rule '{rule.name}' has a parameter '{clash[0]}', a name this network defines itself; "
                        "rename the parameter", section="parameters", term=clash[0])
    lastspike = (has_lastspike(source), has_lastspike(target))
    brian = (generate(rule, transmit, lastspike=lastspike, transmit_last=transmit_last, learning_rate=learning_rate)
             if program is None else program_code(rule, program, transmit, lastspike=lastspike,
                                                  transmit_last=transmit_last, learning_rate=learning_rate))
    if transmit is None and not transmission(rule) and not extra_model:
        warnings.warn(f"synapses of rule '{rule.name}' have no transmission: w learns but never drives "
                      f"{getattr(target, 'name', 'the target')} (pass transmit=, e.g. 'v_post += w', or declare "
                      "[weight] transmit in the rule)", NoTransmissionWarning, stacklevel=2)
    names = dict(brian.namespace, **(namespace or {}), **(parameters or {}))
    model = brian.model + ("\n" + extra_model if extra_model else "")
    if learning_rate is not None:
        model += f"\n{learning_rate} : 1 (shared)"
    if brian.pathways or brian.post_delay is not None:  # the rule's [pairing]: order of pathways, delay
        syn = pairing.paired_synapses(brian, source, target, model, names, kwargs)
    else:
        syn = Synapses(source, target, model=model, on_pre=brian.on_pre or None,
                       on_post=brian.on_post or None, namespace=names, **kwargs)
    if learning_rate is not None:  # shared: can be set before connect(), not through setattr
        syn.variables[learning_rate].set_value(1.0)
    operations = {}
    if brian.clip_each_step:
        operations["clip"] = syn.run_regularly(brian.clip_each_step, when="end", name=f"{syn.name}_clip")
    if brian.periodic:
        every = {"dt": brian.periodic_interval} if clocks is None else {"clock": clocks(brian.periodic_interval)}
        operations["periodic"] = syn.run_regularly(brian.periodic, when="end", name=f"{syn.name}_periodic", **every)
    _OPERATIONS[syn] = operations
    if draws_random_numbers(rule):
        RANDOM_DEVICE_SYNAPSES.add(syn)
    return syn


# Synapses whose device draws random numbers in the same pathway as the transmission: Brian2 warns that their code
# "may depend on the order of execution" (it does, only through the order of the random draws, which is fixed for
# a seed). While one of them exists, plastlab's networks drop that one warning (``settings.brian_settings``).
RANDOM_DEVICE_SYNAPSES = weakref.WeakSet()


_OPERATIONS = weakref.WeakKeyDictionary()


def rule_operations(syn):
    """The ``run_regularly`` operations ``synapses`` made for ``syn``, by kind: ``"periodic"`` (a ``[periodic]``
    rule's updates) and ``"clip"`` (weight bounds of a continuous rule, every step). A network that needs to order
    them or switch them off (``.order``, ``.active``) gets them here, without searching Brian2's objects."""
    return dict(_OPERATIONS.get(syn, {}))


def _same_value(a, b):
    try:
        return bool(np.all(a == b))
    except Exception:  # values of different dimensions are different values
        return False


def _check_inputs(rule, source, target):
    for name, i in rule.inputs.items():
        group = {"pre": source, "post": target}.get(i.source)
        if group is not None and i.variable not in group.variables:
            raise RuleError(f"rule '{rule.name}' reads its input '{name}' from the {i.source}synaptic variable "
                            f"'{i.variable}', which {group.name} does not have", section="inputs", term=name)


# --- candidates as program data ---------------------------------------------------------------------------------

def _at_least(x, bound):
    return sp.Function("at_least")(x, bound)


def _at_most(x, bound):
    return sp.Function("at_most")(x, bound)


def comparison_bounds(expr):
    """``expr`` with one-sided clips written as comparisons (``at_least``/``at_most``, ``programs.bound_functions``),
    which take NaN to the bound as C++ code does; two-sided clips stay clips."""
    def one_sided(e):
        return isinstance(e, ex.clip) and (e.args[1] == -sp.oo) != (e.args[2] == sp.oo)

    def bound(e):
        x, lo, hi = e.args  # the bound as a float: the functions take doubles
        return _at_most(x, sp.Float(hi)) if lo == -sp.oo else _at_least(x, sp.Float(lo))

    return expr.replace(one_sided, bound)


def program_code(rule, program, transmit=None, *, lastspike=(True, True), transmit_last=False, learning_rate=None):
    """Brian2 code for a rule whose candidate parts are placeholders (state variables of the rule) that compiled
    programs compute (``programs.ProgramCalls``): the rule's own statements, generated as ``generate`` does, each
    block with ``placeholder = rule_program(index, inputs...)`` before its first use. One compiled network then
    runs any batch of candidates, and its statements are the rule document's."""
    from dataclasses import replace

    if rule.window is not None:
        raise RuleError(f"rule '{rule.name}': a window rule cannot take its candidate as program data")
    modulators = program.modulators or {}
    brian = generate(rule, transmit, lastspike=lastspike, transmit_last=transmit_last,
                     rewrite=comparison_bounds if program.comparison_bounds else None, learning_rate=learning_rate)
    dropped = set(program.calls) | set(modulators)
    model = [line for line in brian.model.splitlines() if line.split(":")[0].strip() not in dropped]
    if program.nan_counter and not program.nan_counter.endswith(("_pre", "_post")):  # a synaptic counter
        model.append(f"{program.nan_counter} : 1")
    rename = dict(_renames(rule), **modulators)
    calls = {}
    for name, (index, inputs) in program.calls.items():
        calls[name] = [f"{name} = rule_program({index}, {', '.join(rename.get(i, i) for i in inputs)})"]
        if program.nan_counter:
            calls[name].append(f"{program.nan_counter} += rule_isnan({name})")

    def with_calls(block):
        lines = block.splitlines() if block else []
        used = [name for name in calls if any(re.search(rf"\b{name}\b", line) for line in lines)]
        if not used:
            return block
        first = min(k for k, line in enumerate(lines) if any(re.search(rf"\b{n}\b", line) for n in used))
        return "\n".join(lines[:first] + [c for name in used for c in calls[name]] + lines[first:])

    return replace(brian, model="\n".join(model), on_pre=with_calls(brian.on_pre), on_post=with_calls(brian.on_post),
                   periodic=with_calls(brian.periodic), namespace=dict(brian.namespace, **program.namespace()))
