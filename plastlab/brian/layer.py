"""The shared spiking layer: LIF output neurons with teacher and suppression currents, lateral inhibition,
plastic synapses running a rule and a static copy of their weights, and the weight bookkeeping around them.

The classifier (:mod:`plastlab.learn.classifier`, trained in :mod:`plastlab.brian.taught`) and the CartPole
controller (:mod:`plastlab.learn.cartpole`, its network in :mod:`plastlab.brian.control`) are both "encoded
inputs -> one plastic all-to-all layer -> LIF neurons, first spike wins"; this module is that layer, written once.
Weights of any rule (dimensionless or with a unit such as nS) are handled here as floats in the weight's own unit
and as fractions of the rule's range ``[w_min, w_max]``, so every rule drives the layer alike: a presynaptic spike
adds ``gain * (w - w_min) / (w_max - w_min)`` to the synaptic current.
"""
from dataclasses import dataclass, field

import numpy as np

from ..errors import PlastlabError, RuleError
from ..rules.rule import Rule
from . import adapters
from .requirements import Offer, require

__all__ = ["NEURON_MODEL", "POST_VARIABLES", "layer_offer", "check_rule", "resolve_rule", "output_neurons",
           "plastic_synapses", "static_synapses", "lateral_inhibition", "weight_bounds", "get_weights",
           "set_weights", "initial_fractions", "block_pairs", "inhibition_pairs", "FrozenCopies", "synapse_state_names",
           "reset_statement", "Layer", "build_layer", "scheduled_group", "schedule_values",
           "schedule_columns", "weight_values", "transmit_code", "read_noise"]

# LIF neuron in units of the threshold scale (rest and reset at 0). The teacher current flows in
# [teach_from, teach_until), the suppression current until suppress_until; refractory after a spike for t_ref
# (t_ref at least one slot: one spike per slot).
NEURON_MODEL = """
dv/dt = int(t - t_last >= t_ref) * (I - v + teach_amp * int(t >= teach_from) * int(t < teach_until)
        - suppress_amp * int(t < suppress_until)) / tau_m : 1
dI/dt = -I / tau_syn : 1
t_last : second
teach_from : second
teach_until : second
suppress_until : second
teach_amp : 1
suppress_amp : 1
"""
NEURON_RESET = "v = 0\nI = 0\nteach_from = -1*second\nteach_until = -1*second\nsuppress_until = -1*second\n" \
               "t_last = -10000*second"
# Post-synaptic variables a rule may read from the output neurons ([inputs] source = "post").
POST_VARIABLES = ("v", "I")


def layer_offer(network):
    """What the layer offers a rule: two-factor rules (no third factor) that may read v or I of the neurons."""
    return Offer(network=network, post=frozenset(POST_VARIABLES))


def resolve_rule(rule):
    """A Rule from a name, a path or a Rule; RuleError (one line) when it cannot be found or parsed."""
    if isinstance(rule, str):
        from ..rules.files import load_rule

        return load_rule(rule)
    if isinstance(rule, Rule):
        return rule
    raise RuleError(f"expected a rule name, a rule file or a Rule, got {type(rule).__name__}")


def check_rule(rule, network):
    """The rule resolved and checked against what the layer offers (before anything is simulated)."""
    return require(resolve_rule(rule), layer_offer(network))


# ---------------------------------------------------------------------- weights as floats and fractions
def _weight_unit(rule):
    """The weight's Brian2 unit (1 when dimensionless)."""
    from brian2 import get_unit
    from brian2.units.fundamentalunits import DIMENSIONLESS

    dim = rule.weight.unit
    return 1.0 if dim is DIMENSIONLESS else get_unit(dim)


def _as_float(value):
    """A bound (number or Brian2 quantity) as a float in its base unit."""
    import brian2

    if isinstance(value, brian2.Quantity):
        return float(np.asarray(value / brian2.get_unit(value.dim)))
    return float(value)


def weight_bounds(rule):
    """(w_min, w_max) as floats in the weight's base unit; infinite bounds become a unit range for scaling."""
    lo, hi = _as_float(rule.w_min), _as_float(rule.w_max)
    if not np.isfinite(lo):
        lo = 0.0
    if not np.isfinite(hi) or hi <= lo:
        hi = lo + 1.0
    return lo, hi


def get_weights(rule, synapses):
    """Plastic weights as floats in the weight's base unit."""
    return np.asarray(synapses.variables["w"].get_value(), dtype=float).copy()


def weight_values(rule, values):
    """Plastic weights as ``set_weights`` sets them (floats in the weight's base unit): on a device with levels,
    each on its nearest level."""
    device = getattr(rule, "device", None)
    if device is not None and device.levels is not None:
        from ..rules.devices import on_levels

        values = on_levels(values, *weight_bounds(rule), device.levels)
    return np.asarray(values, dtype=float)


def set_weights(rule, synapses, values):
    """Set plastic weights (floats in the weight's base unit); on a device with levels, each on its nearest level."""
    synapses.variables["w"].set_value(weight_values(rule, values))


def initial_fractions(n, w_init, w_spread, rng):
    """Initial weights as fractions of the range: ``w_init`` plus uniform noise of width ``w_spread``."""
    return np.clip(w_init + w_spread * (rng.random_sample(n) - 0.5), 0.0, 1.0)


def synapse_state_names(syn):
    """The rule's own per-synapse state (traces, last-spike times, ...): everything but the weight and the device's
    per-synapse factors (``device_*``: drawn once, kept over the run)."""
    skip = {"w", "lastupdate", "i", "j", "N", "N_incoming", "N_outgoing", "delay"}
    return [k for k, v in syn.variables.items()
            if not k.startswith(("_", "device_")) and k not in skip
            and getattr(getattr(v, "owner", None), "name", None) == syn.name
            and not getattr(v, "read_only", False) and not getattr(v, "constant", False)
            and hasattr(v, "get_value")]


def reset_statement(names):
    """Brian2 code setting each variable back to 0 (``x = 0*x`` keeps its unit)."""
    return "\n".join(f"{n} = 0*{n}" for n in names)


# ---------------------------------------------------------------------- the Brian2 pieces
def output_neurons(n, *, tau_m, tau_syn, t_ref, v_th, teacher_amp, suppress_amp, name, **where):
    """``n`` LIF neurons (times in ms); ``where`` is ``dt=`` or ``clock=`` for Brian2."""
    import brian2 as b2
    from brian2 import ms, second

    out = b2.NeuronGroup(n, NEURON_MODEL, threshold="v > v_th and t - t_last >= t_ref", reset="v = 0\nt_last = t",
                         method="euler", name=name, **where,
                         namespace={"tau_m": tau_m * ms, "tau_syn": tau_syn * ms, "v_th": v_th, "t_ref": t_ref * ms})
    out.t_last = -1e4 * second
    out.teach_from = out.teach_until = out.suppress_until = -1 * second
    out.teach_amp, out.suppress_amp = teacher_amp, suppress_amp
    return out


def transmit_statement(rule, gain):
    """``I_post += gain * (w - w_min) / (w_max - w_min)`` for a weight of any unit, and its namespace.

    The numbers live in the namespace, not in the code, so another gain, data set or rule parameter reuses the
    compiled code; dividing by ``w_unit`` (the weight's base unit, e.g. siemens) makes any weight a plain number.
    """
    lo, hi = weight_bounds(rule)
    return ("I_post += transmit_gain * (w / w_unit - transmit_w_min)",
            {"transmit_gain": gain / (hi - lo), "transmit_w_min": lo, "w_unit": _weight_unit(rule)})


def transmit_code(rule, gain):
    """The transmit code with its numbers (as :attr:`Layer.transmit` gives it for a layer of this gain)."""
    code, ns = transmit_statement(rule, gain)
    return code.replace("transmit_gain", repr(ns["transmit_gain"])).replace("transmit_w_min",
                                                                            repr(ns["transmit_w_min"]))


def plastic_synapses(rule, source, target, *, gain, name, pairs=None, **where):
    """Synapses running ``rule`` (all-to-all, or ``pairs``); a rule Brian2 refuses becomes one-line RuleError."""
    from .codegen import synapses

    transmit, namespace = transmit_statement(rule, gain)
    try:
        syn = synapses(rule, source, target, transmit=transmit, namespace=namespace, name=name, **where)
    except PlastlabError:
        raise
    except Exception as exc:  # Brian2 refusing the compiled rule: name the rule, keep it one line
        raise RuleError(f"rule '{rule.name}' cannot drive this network: {str(exc).splitlines()[0]}") from exc
    if pairs is None:
        syn.connect()
    else:
        syn.connect(i=pairs[0], j=pairs[1])
    return syn


def block_pairs(blocks):
    """(i, j) of the synapses of independent copies side by side, copy after copy.

    ``blocks`` lists each copy's ``(n_pre, n_post, pairs)``; ``pairs`` = (i, j) inside the copy, or None for
    all-to-all in Brian2's ``connect()`` order (i-major), which the weight arrays of this module assume.
    """
    pre, post, a, b = [np.array([], dtype=int)], [np.array([], dtype=int)], 0, 0
    for n_pre, n_post, pairs in blocks:
        i, j = np.divmod(np.arange(n_pre * n_post), n_post) if pairs is None else pairs
        pre.append(np.asarray(i, dtype=int) + a)
        post.append(np.asarray(j, dtype=int) + b)
        a, b = a + n_pre, b + n_post
    return np.concatenate(pre), np.concatenate(post)


def inhibition_pairs(group_of):
    """(i, j) of the lateral inhibition: from every neuron to the neurons of the other groups."""
    group_of = np.asarray(group_of)
    return np.nonzero(group_of[:, None] != group_of[None, :])


def read_noise(rule):
    """(sd, offset) of the read noise of ``rule``'s device at a frozen copy of its weights: ``sd`` is the device's
    ``read_noise`` (0.0 without one), ``offset`` = w_min / (w_max - w_min), so that a fraction f of the range read
    as ``f + sd*(f + offset)*N(0, 1)`` is the weight w = w_min + (w_max - w_min) f read as ``w*(1 + sd*N(0, 1))``,
    what the rule's own synapses transmit (:func:`plastlab.brian.codegen.device_transmit`)."""
    device = getattr(rule, "device", None)
    sd = float(device.read_noise) if device is not None else 0.0
    if not sd:
        return 0.0, 0.0
    lo, hi = weight_bounds(rule)
    return sd, lo / (hi - lo)


def static_synapses(source, target, *, gain, name, pairs=None, read=(0.0, 0.0), **where):
    """Synapses with fixed weights ``w`` (fractions of the rule's range): plasticity off. All-to-all, or ``pairs``.

    ``read`` = (sd, offset) of :func:`read_noise`: with sd > 0 every transmission reads
    ``w + sd*(w + read_base)*N(0, 1)``, drawn anew for each transmitted spike (Brian2's ``randn``, so the network's
    seed), ``read_base`` per synapse (``offset`` times the synapse's gain factor; the stored ``w`` is unchanged).
    With sd = 0 the synapses are exactly the noiseless ones."""
    import brian2 as b2

    sd, offset = read
    if sd:
        syn = b2.Synapses(source, target, "w : 1\nread_base : 1",
                          on_pre="I_post += transmit_gain * (w + device_read_noise * (w + read_base) * randn())",
                          namespace={"transmit_gain": gain, "device_read_noise": float(sd)}, name=name, **where)
    else:
        syn = b2.Synapses(source, target, "w : 1", on_pre="I_post += transmit_gain * w",
                          namespace={"transmit_gain": gain}, name=name, **where)
    i, j = block_pairs([(len(source), len(target), None)]) if pairs is None else pairs
    syn.connect(i=i, j=j)
    if sd:
        syn.read_base = float(offset)
    return syn


def lateral_inhibition(neurons, group_of, strength, *, name, pairs=None, **where):
    """Each spike lowers the potential of the neurons of the other groups (classes, actions) by ``strength``;
    ``pairs`` (e.g. several copies' pairs from :func:`block_pairs`) replaces those of ``group_of``."""
    import brian2 as b2

    pre_i, post_j = inhibition_pairs(group_of) if pairs is None else pairs
    syn = b2.Synapses(neurons, neurons, on_pre="v_post -= inhibition", namespace={"inhibition": float(strength)},
                      name=name, **where)
    if len(pre_i):
        syn.connect(i=pre_i, j=post_j)
    else:
        syn.connect(False)
    return syn


def schedule_columns(indices, rows, n):
    """Columns per source a :func:`scheduled_group` needs for these spikes: the most spikes of one source in one
    row, rounded up to a power of two (so most new data fits the same standalone build)."""
    if not len(indices):
        return 1
    most = int(np.bincount(np.asarray(rows, dtype=np.int64) * n + np.asarray(indices, dtype=np.int64)).max())
    return 1 << (most - 1).bit_length()


def schedule_values(indices, steps, n, n_rows, row_steps, columns):
    """The table of a :func:`scheduled_group`: (n_rows, n * columns), source k's spikes of row r (time steps
    ``r*row_steps ... (r+1)*row_steps - 1``) in columns ``k*columns ...``, as absolute time steps, -1 where none."""
    indices, steps = np.asarray(indices, dtype=np.int64), np.asarray(steps, dtype=np.int64)
    table = np.full((n_rows, n * columns), -1.0)
    order = np.lexsort((steps, indices))
    indices, steps = indices[order], steps[order]
    rows = steps // row_steps
    key = rows * n + indices
    first = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    rank = np.arange(len(key)) - np.repeat(first, np.diff(np.r_[first, len(key)]))
    table[rows, indices * columns + rank] = steps
    return table


def scheduled_group(n, n_rows, row_steps, columns, *, name, clock):
    """``n`` spike sources firing at time steps held in a TimedArray (``<name>_steps``, :func:`schedule_values`):
    on a standalone device ``run_args`` give a build new spikes (a SpikeGeneratorGroup's spikes are frozen into
    the build). Each source fires in the steps its columns of the current row name: the spikes of a
    SpikeGeneratorGroup with the same schedule, in the same time steps. Returns (group, timed array)."""
    import brian2 as b2

    table = b2.TimedArray(np.full((n_rows, n * columns), -1.0), dt=row_steps * clock.dt, name=f"{name}_steps")
    fires = " or ".join(f"{name}_steps(t, i * {columns} + {c}) == timestep(t, dt)" for c in range(columns))
    group = b2.NeuronGroup(n, "", threshold=fires, reset="", clock=clock, name=name,
                           namespace={f"{name}_steps": table})
    return group, table


@dataclass
class Layer:
    """Inputs -> plastic (learning) and static (frozen copy) synapses -> LIF neurons with lateral inhibition."""

    rule: object
    inputs: object
    neurons: object
    plastic: object
    static: object
    inhibition: object
    monitor: object
    state: list = field(default_factory=list)

    @property
    def bounds(self):
        return weight_bounds(self.rule)

    def objects(self):
        return [self.inputs, self.neurons, self.plastic, self.static, self.inhibition, self.monitor]

    def weights(self):
        return get_weights(self.rule, self.plastic)

    def fractions(self):
        """The plastic weights as fractions of the rule's range."""
        lo, hi = self.bounds
        return (self.weights() - lo) / (hi - lo)

    def set_fractions(self, frac):
        lo, hi = self.bounds
        set_weights(self.rule, self.plastic, lo + (hi - lo) * np.asarray(frac, dtype=float))
        self.static.variables["w"].set_value(np.asarray(frac, dtype=float))

    def freeze(self, frozen):
        """Plasticity off (the static copy carries the current weights) or on."""
        if frozen:
            self.static.variables["w"].set_value(self.fractions())
        self.plastic.active = not frozen
        self.static.active = frozen

    @property
    def transmit(self):
        """The transmit code with its numbers, as recorded in results' attrs."""
        code, ns = transmit_statement(self.rule, 1.0)
        gain = self.plastic.namespace["transmit_gain"]
        return code.replace("transmit_gain", repr(gain)).replace("transmit_w_min", repr(ns["transmit_w_min"]))


def build_layer(rule, n_in, n_out, *, tau_m, tau_syn, t_ref, v_th, gain, inhibition, group_of, prefix,
                teacher_amp=0.0, suppress_amp=0.0, inputs=None, copies=None, **where):
    """The layer's Brian2 objects (not yet in a Network); ``inputs`` defaults to a SpikeGeneratorGroup.

    ``group_of[k]`` is the class (or action) of output neuron k; inhibition acts between different groups.
    ``copies``: a list of (n_in, group_of) of independent layers side by side in the same objects (``n_in`` and
    ``n_out`` are then their totals; copy c's weights follow copy c-1's).
    """
    import brian2 as b2
    from brian2 import ms

    copies = [(n_in, group_of)] if copies is None else copies
    if inputs is None:
        inputs = b2.SpikeGeneratorGroup(n_in, np.array([], dtype=int), np.array([]) * ms, name=f"{prefix}_in",
                                        **where)
    neurons = output_neurons(n_out, tau_m=tau_m, tau_syn=tau_syn, t_ref=t_ref, v_th=v_th, teacher_amp=teacher_amp,
                             suppress_amp=suppress_amp, name=f"{prefix}_out", **where)
    pairs = block_pairs([(a, len(g), None) for a, g in copies])
    plastic = plastic_synapses(rule, inputs, neurons, gain=gain, name=f"{prefix}_plastic", pairs=pairs, **where)
    static = static_synapses(inputs, neurons, gain=gain, name=f"{prefix}_static", pairs=pairs, read=read_noise(rule),
                             **where)
    static.active = False
    inhib = lateral_inhibition(neurons, None, inhibition, name=f"{prefix}_inhib", **where,
                               pairs=block_pairs([(len(g), len(g), inhibition_pairs(g)) for _, g in copies]))
    monitor = b2.SpikeMonitor(neurons, name=f"{prefix}_outmon")
    return Layer(rule, inputs, neurons, plastic, static, inhib, monitor, synapse_state_names(plastic))


class FrozenCopies:
    """Frozen layers' responses to many patterns at once, one copy of a layer per pattern, all in one run.

    Patterns shown one after another to a frozen layer that is reset at every pattern do not interact, so they
    can be shown side by side instead: one run of one slot in place of one slot per pattern, which removes
    Brian2's per-time-step overhead, and one network for the patterns of several layers (e.g. the classifiers of
    a cross-validation), which removes its per-run set-up. The spikes are those of one pattern after another
    (tested). Build and run inside :func:`plastlab.brian.settings.brian_settings`.

    ``read`` = (sd, offset) of the layers' rule (:func:`read_noise`): with sd > 0 every transmitted spike reads its
    weight with noise (:func:`static_synapses`), drawn anew per spike, so per pattern and per presentation, from
    Brian2's random numbers (the seed of the enclosing ``brian_settings``). Noisy reads run on the runtime device
    (a standalone build would replay the same random numbers at every run).
    """

    MAX_SYNAPSES = 2_000_000  # per run: more patterns run in chunks

    def __init__(self, *, slot, dt, neuron, gain, inhibition, prefix, device="runtime", read=(0.0, 0.0)):
        self.slot, self.dt, self.neuron, self.gain = float(slot), float(dt), dict(neuron), float(gain)
        self.inhibition, self.prefix, self.device = inhibition, prefix, device
        self.read = (float(read[0]), float(read[1]))

    def responses(self, requests, done=None):
        """``requests``: (fractions (n_in, n_out), group_of, trains, gain factor) per layer, ``trains`` a list of
        (input indices, times in ms from the pattern's start). Per request: first-spike times (ms from the
        pattern's start, inf when silent) and spike counts, both (n_patterns, n_out). ``done(n)``, if given, is
        called after each run with the number of patterns it showed (a progress bar)."""
        patterns = [(r, k) for r, req in enumerate(requests) for k in range(len(req[2]))]
        size = [np.size(requests[r][0]) for r, _ in patterns]
        chunks, start, total = [], 0, 0
        for p, n_syn in enumerate(size):
            if total and total + n_syn > self.MAX_SYNAPSES:
                chunks.append(patterns[start:p])
                start, total = p, 0
            total += n_syn
        chunks.append(patterns[start:])
        out = [(np.full((len(t), f.shape[1]), np.inf), np.zeros((len(t), f.shape[1]), dtype=int))
               for f, _, t, _ in requests]
        for chunk in chunks:
            if chunk:
                self._run(requests, chunk, out)
                if done is not None:
                    done(len(chunk))
        return out

    def _run(self, requests, chunk, out):
        import brian2 as b2
        from brian2 import ms

        dt, p, last = self.dt, self.prefix, round(self.slot / self.dt) - 1
        shapes = np.array([requests[r][0].shape for r, _ in chunk])
        in_offset, out_offset = np.r_[0, np.cumsum(shapes[:, 0])], np.r_[0, np.cumsum(shapes[:, 1])]
        idx, times = [np.array([], dtype=int)], [np.array([])]
        for c, (r, k) in enumerate(chunk):
            ix, tt = requests[r][2][k]
            idx.append(np.asarray(ix, dtype=int) + in_offset[c])
            times.append(np.minimum(np.round(np.asarray(tt) / dt), last) * dt)
        if self.device != "runtime" and not self.read[0]:
            return self._run_standalone(requests, chunk, out, shapes, np.concatenate(idx), np.concatenate(times))
        clock = b2.Clock(dt * ms, name=f"{p}_clock")  # named: an auto-named clock would change the generated code
        inputs = b2.SpikeGeneratorGroup(int(in_offset[-1]), np.concatenate(idx), np.concatenate(times) * ms,
                                        clock=clock, name=f"{p}_in")
        neurons = output_neurons(int(out_offset[-1]), teacher_amp=0.0, suppress_amp=0.0, name=f"{p}_out",
                                 clock=clock, **self.neuron)
        syn = static_synapses(inputs, neurons, gain=self.gain, name=f"{p}_static", clock=clock,
                              pairs=block_pairs([(a, b, None) for a, b in shapes]), read=self.read)
        syn.w = np.concatenate([requests[r][3] * np.ravel(requests[r][0]) for r, _ in chunk])  # gain factor
        if self.read[0]:  # the offset of the read noise, scaled like the weight
            syn.read_base = np.concatenate([np.full(np.size(requests[r][0]), requests[r][3] * self.read[1])
                                            for r, _ in chunk])
        inhib = lateral_inhibition(neurons, None, self.inhibition, name=f"{p}_inhib", clock=clock, pairs=block_pairs(
            [(len(requests[r][1]), len(requests[r][1]), inhibition_pairs(requests[r][1])) for r, _ in chunk]))
        monitor = b2.SpikeMonitor(neurons, name=f"{p}_outmon")
        b2.Network(inputs, neurons, syn, inhib, monitor).run(self.slot * ms)
        self._collect(requests, chunk, out, out_offset, adapters.owned(monitor.i), adapters.owned(monitor.t / ms))

    def _run_standalone(self, requests, chunk, out, shapes, idx, times):
        """The same run on a standalone device: one build per structure (the layers' shapes and groups, padded
        to a power of two of patterns with silent copies of the last, so a few patterns more or less reuse a
        build), inputs and weights as ``run_args``."""
        import brian2 as b2
        from brian2 import ms

        from . import device as devices

        pad = (1 << (len(shapes) - 1).bit_length()) - len(shapes)  # copies without inputs or weights: silent
        groups = [tuple(np.asarray(requests[r][1]).tolist()) for r, _ in chunk]
        groups += [groups[-1]] * pad
        shapes = np.vstack([shapes, np.repeat(shapes[-1:], pad, axis=0)])
        p, n_in = self.prefix, int(shapes[:, 0].sum())
        out_offset = np.r_[0, np.cumsum(shapes[:, 1])]
        steps = np.round(times / self.dt).astype(np.int64)
        columns = schedule_columns(idx, np.zeros(len(idx), dtype=int), n_in)
        key = ("frozen", self.device, self.slot, self.dt, tuple(sorted(self.neuron.items())), self.gain,
               float(self.inhibition), p, tuple(map(tuple, shapes.tolist())), tuple(groups), columns)
        row_steps = round(self.slot / self.dt)

        def build(dev):
            clock = b2.Clock(self.dt * ms, name=f"{p}_clock")
            inputs, table = scheduled_group(n_in, 1, row_steps, columns, name=f"{p}_in", clock=clock)
            neurons = output_neurons(int(out_offset[-1]), teacher_amp=0.0, suppress_amp=0.0, name=f"{p}_out",
                                     clock=clock, **self.neuron)
            syn = static_synapses(inputs, neurons, gain=self.gain, name=f"{p}_static", clock=clock,
                                  pairs=block_pairs([(a, b, None) for a, b in shapes]))
            inhib = lateral_inhibition(neurons, None, self.inhibition, name=f"{p}_inhib", clock=clock,
                                       pairs=block_pairs([(len(g), len(g), inhibition_pairs(g)) for g in groups]))
            monitor = b2.SpikeMonitor(neurons, name=f"{p}_outmon")
            b2.Network(inputs, neurons, syn, inhib, monitor).run(self.slot * ms, namespace={})
            return {"table": table, "syn": syn, "monitor": monitor}, {}

        entry = devices.built(key, build, self.device)
        o = entry.objects
        weights = np.concatenate([requests[r][3] * np.ravel(requests[r][0]) for r, _ in chunk]
                                 + [np.zeros(int(a * b)) for a, b in shapes[len(chunk):]])
        entry.run({o["table"]: schedule_values(idx, steps, n_in, 1, row_steps, columns), o["syn"].w: weights})
        monitor = o["monitor"]
        self._collect(requests, chunk, out, out_offset, adapters.owned(monitor.i), adapters.owned(monitor.t / ms))

    @staticmethod
    def _collect(requests, chunk, out, out_offset, si, st):
        """Each pattern's first-spike times and counts from the spikes (neuron, ms) of one run of ``chunk``."""
        copy = np.searchsorted(out_offset, si, side="right") - 1
        for c in np.unique(copy):
            r, k = chunk[c]
            first, counts = out[r]
            mine = copy == c
            j = si[mine] - out_offset[c]
            np.add.at(counts[k], j, 1)
            np.minimum.at(first[k], j, st[mine])
