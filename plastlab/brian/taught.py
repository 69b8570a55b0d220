"""Taught copies of the shared layer: many independent layers, each with its own teacher, trained in one Network.

The classifier (:mod:`plastlab.learn.classifier`) describes what it needs -- a :class:`TeachingSpec` (neurons,
teacher, slot, reset) and the copies' sizes -- and this module builds and runs the Brian2 objects. It knows
nothing of classes, estimators or data: a copy is "n inputs -> output neurons in groups", a pattern is input
indices and times, and teaching names the group whose neurons the teacher drives.

Why copies: a layer this small spends its time in Brian2's per-step and per-run overhead, not in arithmetic, so
k layers side by side in one network train in little more than the time of one (see ``fit_many``).
"""
from dataclasses import dataclass

import numpy as np

from .layer import NEURON_RESET, build_layer, reset_statement, schedule_columns, schedule_values, scheduled_group

__all__ = ["TeachingSpec", "TaughtCopies", "scope"]


def scope(*, target=None, dt=None, seed=None):
    """:func:`plastlab.brian.settings.brian_settings` with ``dt`` in ms (a plain number), so callers above
    ``brian/`` need no Brian2 units."""
    from brian2 import ms

    from .settings import brian_settings

    return brian_settings(target=target, dt=None if dt is None else dt * ms, seed=seed)


@dataclass(frozen=True)
class TeachingSpec:
    """What every copy in one network shares (times in ms, currents in units of the threshold scale).

    ``hold`` is how long a held-down neuron stays suppressed; ``suppress`` (> 0) or ``anti_teach`` say what the
    neurons that are not taught get: a hold-down current, or a drive at the slot start (before the inputs).
    """

    dt: float
    slot: float
    tau_m: float
    tau_syn: float
    t_ref: float
    v_th: float
    inhibition: float
    teacher_amp: float
    teacher_duration: float
    suppress: float
    hold: float
    anti_teach: bool
    reset: bool
    # competitive layers (never taught; see ``_competition``): a spike holds the rivals down with the ``suppress``
    # current for the rest of the slot; homeostasis (an adaptive threshold, as in Diehl & Cook 2015): each spike
    # of a neuron raises its own inhibitory current by ``homeostasis``, which decays by exp(-1/homeostasis_tau)
    # per slot (0: off). Both need ``reset``.
    winner_holds: bool = False
    homeostasis: float = 0.0
    homeostasis_tau: float = 1.0


class TaughtCopies:
    """Independent copies of the shared layer (:func:`plastlab.brian.layer.build_layer`) in one Brian2 Network,
    with a teacher and, with ``spec.reset``, a reset of neurons and rule state at every slot start.

    ``copies`` lists each copy's (number of inputs, group of each output neuron). Patterns are presented in slots
    of ``spec.slot`` ms, slot k of every copy at the same time. Build inside :func:`scope`.
    """

    def __init__(self, rule, spec, copies, *, gain, schedule=None):
        import brian2 as b2
        from brian2 import ms

        self._plan(spec, copies)
        n_out = int(self.out_offset[-1])
        # named clocks: Brian2 would name a group's own clock after the ones still alive (another fitted
        # classifier), and the name is part of the generated code, so every fit would compile anew
        clock = b2.Clock(spec.dt * ms, name="plc_clock")
        inputs = None
        if schedule is not None:  # standalone (train_standalone): spikes from tables that run_args set
            n_rows, in_columns, teacher_columns = schedule
            row_steps = round(self.slot / spec.dt)
            inputs, self.input_table = scheduled_group(int(self.in_offset[-1]), n_rows, row_steps, in_columns,
                                                       name="plc_in", clock=clock)
        self.layer = layer = build_layer(
            rule, int(self.in_offset[-1]), n_out, tau_m=spec.tau_m, tau_syn=spec.tau_syn, t_ref=spec.t_ref,
            v_th=spec.v_th, gain=gain, inhibition=spec.inhibition, group_of=None, copies=copies, prefix="plc",
            teacher_amp=spec.teacher_amp, suppress_amp=spec.suppress, clock=clock, inputs=inputs)
        if schedule is None:
            self.teacher = b2.SpikeGeneratorGroup(2 * n_out, np.array([], dtype=int), np.array([]) * ms,
                                                  clock=clock, name="plc_teacher")
        else:
            self.teacher, self.teacher_table = scheduled_group(2 * n_out, n_rows, row_steps, teacher_columns,
                                                               name="plc_teacher", clock=clock)
        self.net = b2.Network(*layer.objects(), self.teacher, *self._teaching(clock, n_out), *self._resets())

    def _plan(self, spec, copies):
        """Where each copy's inputs, neurons and weights sit in the shared objects."""
        self.spec, self.copies, self.slot = spec, copies, float(spec.slot)
        sizes = np.array([(n_in, len(g)) for n_in, g in copies])
        self.in_offset = np.r_[0, np.cumsum(sizes[:, 0])]
        self.out_offset = np.r_[0, np.cumsum(sizes[:, 1])]
        self.w_offset = np.r_[0, np.cumsum(sizes[:, 0] * sizes[:, 1])]

    @classmethod
    def train_standalone(cls, rule, spec, copies, *, gain, initial, epochs, device):
        """Every epoch of a training on a standalone ``device`` in one program: the same spikes and weights as
        ``present`` epoch after epoch on the runtime device (nothing may change between epochs, e.g. no
        normalisation). ``initial``: each copy's first weights (fractions); ``epochs``: per epoch the arguments
        ``(trains, orders, teach, delays)`` of ``present``. Built once per structure (copies, rule, settings,
        number of slots) and run with ``run_args`` for new patterns and weights. Returns (per epoch ``present``'s
        result, each copy's final weights as fractions, the transmit code)."""
        from brian2 import ms

        from . import device as devices
        from .layer import _weight_unit, transmit_code, weight_bounds, weight_values

        if not epochs:  # nothing to simulate: the first weights stay
            return [], [np.ravel(f) for f in initial], transmit_code(rule, gain)
        plan = cls.__new__(cls)
        plan._plan(spec, copies)
        n_slots = max((len(o) for _, orders, _, _ in epochs for o in orders), default=0)
        row_steps = round(plan.slot / spec.dt)
        dt_s = float(spec.dt * ms)
        starts = [e * n_slots * row_steps * dt_s / float(ms) for e in range(len(epochs) + 1)]  # ms, as net.t
        inputs, teacher = [], []
        for (trains, orders, teach, delays), t0 in zip(epochs, starts):
            a, b = plan._schedule(trains, orders, teach, delays, t0)
            inputs.append(a)
            teacher.append(b)
        steps = lambda parts: (np.concatenate([np.asarray(p[0], dtype=np.int64) for p in parts]),  # noqa: E731
                               np.round(np.concatenate([np.asarray(p[1], dtype=float) for p in parts]) / spec.dt)
                               .astype(np.int64))
        (in_idx, in_steps), (t_idx, t_steps) = steps(inputs), steps(teacher)
        n_in, n_out, n_rows = int(plan.in_offset[-1]), int(plan.out_offset[-1]), max(len(epochs) * n_slots, 1)
        in_columns = schedule_columns(in_idx, in_steps // row_steps, n_in)
        teacher_columns = schedule_columns(t_idx, t_steps // row_steps, 2 * n_out)
        rule_key = repr(rule.__getstate__()) if hasattr(rule, "__getstate__") else repr(rule)
        key = ("taught", device, rule_key, spec, tuple((n, tuple(np.asarray(g).tolist())) for n, g in copies),
               float(gain), n_rows, in_columns, teacher_columns)

        def build(dev):
            net = cls(rule, spec, copies, gain=gain, schedule=(n_rows, in_columns, teacher_columns))
            net.layer.plastic.active, net.layer.static.active = True, False
            net.net.run(n_rows * plan.slot * ms, namespace={})
            return {"net": net}, {}

        entry = devices.built(key, build, device)
        net = entry.objects["net"]
        layer = net.layer
        frac = np.concatenate([np.ravel(f) for f in initial])
        lo, hi = weight_bounds(rule)
        weights = weight_values(rule, lo + (hi - lo) * frac)  # what set_fractions would set
        entry.run({net.input_table: schedule_values(in_idx, in_steps, n_in, n_rows, row_steps, in_columns),
                   net.teacher_table: schedule_values(t_idx, t_steps, 2 * n_out, n_rows, row_steps, teacher_columns),
                   layer.plastic.w: weights * _weight_unit(rule), layer.static.w: frac})
        si, st = np.asarray(layer.monitor.i), np.asarray(layer.monitor.t / ms)
        results = []
        for e, (_, orders, _, _) in enumerate(epochs):
            mine = (st >= starts[e]) & (st < starts[e + 1])
            results.append(plan._per_copy(si[mine], st[mine] - starts[e], orders, n_slots))
        final = (layer.weights() - lo) / (hi - lo)
        return results, [final[a:b] for a, b in zip(plan.w_offset[:-1], plan.w_offset[1:])], net.transmit

    def _teaching(self, clock, n_out):
        """Teacher sources 0..n_out-1 switch neuron k's teacher current on; sources n_out..2n_out-1 hold neuron k
        down for ``hold`` ms."""
        import brian2 as b2
        from brian2 import ms

        teach = b2.Synapses(self.teacher, self.layer.neurons, clock=clock, name="plc_teach_syn",
                            on_pre="teach_from_post = t\nteach_until_post = t + teach_dur",
                            namespace={"teach_dur": self.spec.teacher_duration * ms})
        teach.connect(i=np.arange(n_out), j=np.arange(n_out))
        hold = b2.Synapses(self.teacher, self.layer.neurons, on_pre="suppress_until_post = t + suppress_dur",
                           namespace={"suppress_dur": self.spec.hold * ms}, clock=clock, name="plc_supp_syn")
        hold.connect(i=np.arange(n_out, 2 * n_out), j=np.arange(n_out))
        return [teach, hold]

    def _resets(self):
        """With ``reset``: neurons, and the rule's traces and pairing memory, start afresh with each pattern."""
        import brian2 as b2
        from brian2 import ms

        if not self.spec.reset:
            return []
        layer = self.layer
        slot = b2.Clock(self.slot * ms, name="plc_slot_clock")
        objects = [layer.neurons.run_regularly(NEURON_RESET, clock=slot, when="start", name="plc_reset")]
        if layer.state:
            objects.append(layer.plastic.run_regularly(reset_statement(layer.state), clock=slot, when="start",
                                                       name="plc_syn_reset"))
        return objects + self._competition(slot)

    def _competition(self, slot):
        """Competitive (untaught) layers, which get no teacher and no hold-down spikes, use those currents instead:
        with ``spec.winner_holds`` a spike holds the neuron's rivals (those it inhibits) down with the ``suppress``
        current for the rest of the slot (winner-take-all); with ``spec.homeostasis`` an adaptive threshold rides
        on the teacher current, negative (``teach_amp = -theta``, flowing for the whole slot): each spike raises
        theta by ``homeostasis``, every slot start lets it decay."""
        import brian2 as b2
        from brian2 import ms

        neurons, objects, spec = self.layer.neurons, [], self.spec
        neurons.namespace["slot_dur"] = self.slot * ms
        if spec.winner_holds:
            inhib = self.layer.inhibition
            hold = b2.Synapses(neurons, neurons, on_pre="suppress_until_post = t - dt + slot_dur", clock=neurons.clock,
                               namespace={"slot_dur": self.slot * ms}, name="plc_win_hold")
            rival_i, rival_j = np.asarray(inhib.i[:]), np.asarray(inhib.j[:])
            hold.connect(i=rival_i, j=rival_j) if len(rival_i) else hold.connect(False)
            objects.append(hold)
        if spec.homeostasis:
            neurons.teach_amp = 0.0
            neurons.namespace["theta_decay"] = float(np.exp(-1.0 / spec.homeostasis_tau))
            objects.append(neurons.run_regularly(
                "teach_amp = teach_amp * theta_decay\nteach_from = t\nteach_until = t + slot_dur", clock=slot,
                when="start", order=1, name="plc_theta_decay"))
            rise = b2.Synapses(neurons, neurons, on_pre="teach_amp_post -= theta_plus", clock=neurons.clock,
                               namespace={"theta_plus": float(spec.homeostasis)}, name="plc_theta_rise")
            rise.connect(j="i")
            objects.append(rise)
        return objects

    # ------------------------------------------------------------------ weights
    def fractions(self):
        """Each copy's plastic weights (flat, input-major) as fractions of the rule's range."""
        w = self.layer.fractions()
        return [w[a:b] for a, b in zip(self.w_offset[:-1], self.w_offset[1:])]

    def set_fractions(self, fractions):
        self.layer.set_fractions(np.concatenate([np.ravel(f) for f in fractions]))

    def set_readout_gain(self, gain):
        """The current jump of a full-scale weight in the frozen (static) synapses: the readout gain."""
        self.layer.static.namespace["transmit_gain"] = gain

    @property
    def transmit(self):
        return self.layer.transmit

    def normalize(self):
        """Per copy, rescale each output neuron's weights to the copy's mean (synaptic scaling), within [0, 1]."""
        scaled = []
        for w, (_, group_of) in zip(self.fractions(), self.copies):
            w = w.reshape(-1, len(group_of))
            mean = w.mean(axis=0)
            scaled.append(np.clip(w * (mean.mean() / np.where(mean > 0, mean, 1.0))[None, :], 0.0, 1.0))
        self.set_fractions(scaled)

    # ------------------------------------------------------------------ one run over the patterns
    def present(self, trains, orders, teach=None, delays=None):
        """Run once over the patterns ``trains[c][orders[c]]`` of every copy c (taught with group indices
        ``teach[c]`` after ``delays[c]`` ms -- one delay, or one per slot --, or frozen when ``teach`` is None; a
        group index < 0 leaves that slot untaught: plastic, with no teacher current and nobody held down); per
        copy, first-spike times (ms from the slot start, inf when silent) and spike counts, both (n_patterns,
        n_out)."""
        from brian2 import ms

        layer, net, slot = self.layer, self.net, self.slot
        t0 = float(net.t / ms)
        inputs, teacher = self._schedule(trains, orders, teach, delays, t0)
        on_grid = lambda t: np.round(np.asarray(t) / self.spec.dt) * self.spec.dt * ms  # noqa: E731
        layer.inputs.set_spikes(inputs[0], on_grid(inputs[1]))
        self.teacher.set_spikes(teacher[0], on_grid(teacher[1]))
        layer.freeze(teach is None)
        n_slots = max((len(o) for o in orders), default=0)
        n_before = layer.monitor.num_spikes
        net.run(n_slots * slot * ms)
        si = np.asarray(layer.monitor.i[n_before:])
        st = np.asarray(layer.monitor.t[n_before:] / ms) - t0
        return self._per_copy(si, st, orders, n_slots)

    def _schedule(self, trains, orders, teach, delays, t0):
        """(indices, times in ms) of the input spikes and of the teacher's spikes, every copy's slots in step
        (copy by copy, in whole arrays; the order of the spikes is not theirs in time, SpikeGeneratorGroup and
        ``schedule_values`` sort them)."""
        spec, slot, dt = self.spec, self.slot, self.spec.dt
        idx, times, t_idx, t_times = [np.array([], dtype=int)], [np.array([])], [np.array([], dtype=int)], []
        n_out = int(self.out_offset[-1])  # hold-down sources follow the n_out teacher sources
        flat = {}  # per list of patterns (the members of one fit share theirs): spikes of all patterns end to end
        for c, (patterns, order) in enumerate(zip(trains, orders)):
            if id(patterns) not in flat:
                lens = np.array([len(ix) for ix, _ in patterns], dtype=np.int64)
                tts = [np.asarray(tt, dtype=float) for _, tt in patterns]
                all_tt = np.concatenate(tts) if tts else np.array([])
                flat[id(patterns)] = (
                    np.concatenate([np.asarray(ix, dtype=int) for ix, _ in patterns]) if patterns else
                    np.array([], dtype=int), np.minimum(np.round(all_tt / dt) * dt, slot - dt),  # inside the slot
                    lens, np.r_[0, np.cumsum(lens)[:-1]],
                    np.array([tt.min() if len(tt) else 0.0 for tt in tts]))
                flat[id(patterns)] += (patterns,)  # keeps the id valid while the dict lives
            flat_ix, flat_tt, lens, offs, t_min, _ = flat[id(patterns)]
            order = np.asarray(order, dtype=np.int64)
            starts = t0 + np.arange(len(order)) * slot
            n = lens[order]
            pos = np.repeat(offs[order] - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(int(n.sum()))
            idx.append(flat_ix[pos] + self.in_offset[c])
            times.append(np.repeat(starts, n) + flat_tt[pos])
            if teach is None:
                continue
            member = np.asarray(self.copies[c][1])[None, :] == np.asarray(teach[c])[:, None]  # (slot, neuron)
            k, j = np.nonzero(member)
            t_idx.append(self.out_offset[c] + j)
            if np.ndim(delays[c]):  # one delay per slot (a jittered teacher), kept inside its slot
                t_times.append(np.minimum(starts[k] + t_min[order][k] + np.asarray(delays[c])[k],
                                          starts[k] + slot - 2 * dt))
            else:
                t_times.append(starts[k] + t_min[order][k] + delays[c])
            # a group index < 0 teaches nobody in that slot: no teacher and nobody held down (unsupervised)
            k, j = np.nonzero(~member & (np.asarray(teach[c]) >= 0)[:, None])
            if spec.anti_teach:  # the other groups fire before the inputs: post-before-pre, depression
                t_idx.append(self.out_offset[c] + j)
                t_times.append(starts[k])
            elif spec.suppress > 0:
                t_idx.append(n_out + self.out_offset[c] + j)
                t_times.append(starts[k])
        teacher_times = np.concatenate(t_times) if t_times else []
        return (np.concatenate(idx), np.concatenate(times)), (np.concatenate(t_idx), teacher_times)

    def _per_copy(self, si, st, orders, n_slots):
        """The monitor's spikes (neuron, ms since the run's start) as each copy's first-spike times and counts."""
        slot = self.slot
        slot_k = np.minimum((st // slot).astype(int), max(n_slots - 1, 0))
        copy = np.searchsorted(self.out_offset, si, side="right") - 1
        results = []
        for c, order in enumerate(orders):
            n_out = len(self.copies[c][1])
            mine = (copy == c) & (slot_k < len(order))
            k, j, when = slot_k[mine], si[mine] - self.out_offset[c], st[mine] - slot_k[mine] * slot
            first, counts = np.full((len(order), n_out), np.inf), np.zeros((len(order), n_out), dtype=int)
            np.add.at(counts, (k, j), 1)
            np.minimum.at(first, (k, j), when)
            results.append((first, counts))
        return results

