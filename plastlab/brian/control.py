"""The closed-loop controller's Brian2 network: a decision layer and a teaching layer of the shared layer's pieces.

:mod:`plastlab.learn.cartpole` owns the loop (environment, encoder, what is taught and when); this module owns
the Brian2 objects and every read and write of their state, through a few verbs in plain numbers (ms, fractions
of the rule's range). Each slot of ``slot`` ms is one environment step; ``on_slot(t0)`` (t0 in ms) is called at
every slot start, before the neurons integrate, and is where the loop acts.

* decision layer: inputs -> static synapses (a copy of the plastic weights, read with the device's read noise if
  the rule has one) -> action neurons;
* teaching layer: inputs -> plastic synapses (the rule) -> action neurons with a teacher current.

Each input neuron fires once per slot, at a time set by :meth:`ControlNetwork.set_spike_times`. Every change the
rule makes to the plastic weights is multiplied by a shared factor (:meth:`ControlNetwork.set_learning_rate`, 1 at
first), which the loop sets for each teaching presentation.
"""
import numpy as np

from .layer import (
    get_weights,
    lateral_inhibition,
    output_neurons,
    plastic_synapses,
    read_noise,
    set_weights,
    static_synapses,
    synapse_state_names,
    weight_bounds,
)

__all__ = ["ControlNetwork"]

LEARNING_RATE = "plasticity_scale"  # the shared factor every change the rule makes to w is multiplied by
_NEVER = -1.0  # s: a time before every slot (an input that does not fire, a teacher that is off)
_LONG_AGO = -1e4  # s: the action neurons' last spike, reset at each slot start (not refractory)


def _raw(group, name):
    """The value array behind a Brian2 variable (no copy, no units: seconds for times)."""
    return group.variables[name].get_value()


class ControlNetwork:
    """Two layers of ``n_out`` action neurons side by side, one Network, one clock of ``dt`` ms.

    ``neuron``: tau_m, tau_syn, t_ref, v_th (ms), teacher_amp, suppress_amp; ``initial``: the plastic weights'
    first values as fractions of the rule's range (n_in * n_out, input-major). Build inside
    :func:`plastlab.brian.taught.scope`.
    """

    def __init__(self, rule, *, n_in, n_out=2, dt, slot, neuron, gain, inhibition, plasticity, initial, on_slot):
        import brian2 as b2
        from brian2 import ms

        self.rule, self.slot, self.bounds = rule, float(slot), weight_bounds(rule)
        clock = b2.Clock(dt * ms, name="ctl_clock")
        self.inputs = {"decision": self._inputs(n_in, "ctl_in_dec", clock),
                       "teaching": self._inputs(n_in, "ctl_in_teach", clock)}
        self.out_dec = output_neurons(n_out, name="ctl_out_dec", clock=clock, **neuron)
        self.out_teach = output_neurons(n_out, name="ctl_out_teach", clock=clock, **neuron)
        self.plastic = plastic_synapses(rule, self.inputs["teaching"], self.out_teach, gain=gain, name="ctl_plastic",
                                        clock=clock, learning_rate=LEARNING_RATE)
        self.plastic.active = plasticity
        self.static = static_synapses(self.inputs["decision"], self.out_dec, gain=gain, name="ctl_static",
                                      clock=clock, read=read_noise(rule))  # the device's read noise, if any
        groups = list(range(n_out))
        inhib = [lateral_inhibition(g, groups, inhibition, name=f"{g.name}_inhib", clock=clock)
                 for g in (self.out_dec, self.out_teach)]
        lo, hi = self.bounds
        set_weights(rule, self.plastic, lo + (hi - lo) * np.asarray(initial))
        # every synaptic state variable but the weight goes back to its initial value at each slot start
        self.pairing_state = {k: _raw(self.plastic, k).copy() for k in synapse_state_names(self.plastic)
                              if k != LEARNING_RATE}

        def tick(t):
            on_slot(float(np.asarray(t)) * 1e3)  # seconds -> ms

        loop = b2.NetworkOperation(tick, clock=b2.Clock(self.slot * ms, name="ctl_loop_clock"), when="start",
                                   name="ctl_loop")
        self.net = b2.Network(self.inputs["decision"], self.inputs["teaching"], self.out_dec, self.out_teach,
                              self.plastic, self.static, *inhib, loop)

    @staticmethod
    def _inputs(n_in, name, clock):
        """Input neurons that each spike once, at ``t_spike``."""
        import brian2 as b2
        from brian2 import second

        g = b2.NeuronGroup(n_in, "t_spike : second", threshold="abs(t - t_spike) < 0.5*dt", reset="", clock=clock,
                           name=name)
        g.t_spike = -1 * second
        return g

    # ------------------------------------------------------------------ the loop's verbs
    def run(self, duration):
        """Run for ``duration`` ms (or until :meth:`stop`); the simulated time in ms."""
        from brian2 import ms

        self.net.run(duration * ms)
        return float(self.net.t / ms)

    def stop(self):
        self.net.stop()

    def decision_spikes(self):
        """The decision neurons' last spike times in s (the array itself): < -1 when silent since the slot start."""
        return _raw(self.out_dec, "t_last")

    def set_spike_times(self, layer, times):
        """Each input of ``layer`` ("decision" or "teaching") fires at ``times`` ms (NaN: not at all)."""
        _raw(self.inputs[layer], "t_spike")[:] = np.where(np.isnan(times), _NEVER, times * 1e-3)

    def silence(self, layer):
        _raw(self.inputs[layer], "t_spike")[:] = _NEVER

    def reset_slot(self):
        """Neurons at rest and not refractory, teacher and hold-down off, the rule's state as it started."""
        for g in (self.out_dec, self.out_teach):
            for name in ("v", "I"):
                _raw(g, name)[:] = 0
            for name in ("t_last", "teach_from", "teach_until", "suppress_until"):
                _raw(g, name)[:] = _LONG_AGO if name == "t_last" else _NEVER
        for k, v in self.pairing_state.items():
            _raw(self.plastic, k)[:] = v

    def set_teacher_amp(self, amp):
        _raw(self.out_teach, "teach_amp")[:] = amp

    def set_learning_rate(self, factor):
        """The rule's weight changes are multiplied by ``factor`` from now on (1: the rule as it is)."""
        _raw(self.plastic, LEARNING_RATE)[:] = factor

    def learning_rate(self):
        return float(_raw(self.plastic, LEARNING_RATE)[0])

    def teach(self, neuron, start, until):
        """The teaching layer's ``neuron`` gets the teacher current from ``start`` until ``until`` ms."""
        _raw(self.out_teach, "teach_from")[neuron] = start * 1e-3
        _raw(self.out_teach, "teach_until")[neuron] = until * 1e-3

    def hold_down(self, neuron, until):
        """The teaching layer's ``neuron`` is held down until ``until`` ms."""
        _raw(self.out_teach, "suppress_until")[neuron] = until * 1e-3

    def copy_weights(self):
        """The decision layer's static synapses take the plastic weights (as fractions of the rule's range)."""
        lo, hi = self.bounds
        _raw(self.static, "w")[:] = (_raw(self.plastic, "w") - lo) / (hi - lo)

    def fractions(self):
        """The plastic weights as fractions of the rule's range, (inputs, action neurons)."""
        lo, hi = self.bounds
        return ((get_weights(self.rule, self.plastic) - lo) / (hi - lo)).reshape(-1, len(self.out_teach))
