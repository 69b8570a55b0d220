"""The SuperSpike network (Zenke & Ganguli 2018) as Brian2 objects: inputs -> (optional hidden layer) -> outputs.

Current-based LIF neurons whose membrane potential ``v`` the rule reads every step, and an error signal ``err`` per
neuron: at an output, the target spike train minus the output spike train, filtered by the eligibility trace's
alpha kernel; at a hidden unit, the output errors fed back through fixed weights B (or W^T, kept in step after
every weight update). ``loss`` integrates err² exactly (the van Rossum distance with that kernel).

What the network learns from is decided above (:mod:`plastlab.learn.superspike`: sessions, initial weights, B);
this module builds it, runs trials and reads its monitors. Copies share no synapse: connections are all-to-all
within each copy, ordered (copy, pre, post).
"""
import numpy as np
from brian2 import (
    Network,
    NetworkOperation,
    NeuronGroup,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    ms,
    mV,
    second,
)

from . import adapters
from .codegen import rule_operations, synapses
from .requirements import Offer

__all__ = ["NEURON", "OUTPUT_ERROR", "OFFER", "SuperSpikeNetwork"]

NEURON = """
dv/dt = (EL - v + I)/tau_mem : volt (unless refractory)
dI/dt = -I/tau_syn : volt
"""
OUTPUT_ERROR = """
derr1/dt = -err1/tau_rise : 1
derr/dt = (err1 - err)/tau_decay : 1
dloss/dt = err**2 : second
"""
#: what a SuperSpike network offers a rule: the postsynaptic membrane potential and error, nothing from outside
OFFER = Offer(network="the SuperSpike network", pre=(), post=("v", "err"), modulators=())
_THRESHOLD, _REFRACTORY, _TRANSMIT = "v > theta", 5 * ms, "I_post += w*w_scale"


def _within(copies, n_pre, n_post):
    """i, j of all-to-all connections inside each copy, ordered (copy, pre, post)."""
    c, p, q = np.meshgrid(np.arange(copies), np.arange(n_pre), np.arange(n_post), indexing="ij")
    return {"i": (c * n_pre + p).ravel(), "j": (c * n_post + q).ravel()}


class SuperSpikeNetwork:
    """``copies`` independent networks in one set of Brian2 groups, all plastic with ``rule``; built once.

    ``inputs`` and ``targets``: (indices, times in s) of every copy, indices already offset per copy; ``trial``:
    seconds per trial. ``w_out`` (and with ``n_hidden`` > 0 ``w_in`` and ``feedback``, B ordered like the feedback
    synapses output -> hidden): initial values, concatenated over copies; ``symmetric``: per feedback synapse, True
    where B follows W^T. Build and run inside ``brian_settings(dt=...)``: the groups use the default clock."""

    def __init__(self, rule, *, copies, n_inputs, n_outputs, n_hidden, inputs, targets, trial, w_scale_mV, w_out,
                 w_in=None, feedback=None, symmetric=None):
        self.copies, self.n_outputs, self.trial = copies, n_outputs, trial
        self.names = dict(EL=-60 * mV, tau_mem=10 * ms, tau_syn=5 * ms, tau_rise=5 * ms, tau_decay=10 * ms,
                          theta=-50 * mV, w_scale=w_scale_mV * mV)
        C = copies
        self.inputs = SpikeGeneratorGroup(n_inputs * C, inputs[0], inputs[1] * second, name="inputs")
        self.outputs = self._neurons(n_outputs * C, NEURON + OUTPUT_ERROR, "v = EL; err1 -= 1", "euler", "outputs")
        self.target = SpikeGeneratorGroup(n_outputs * C, targets[0], targets[1] * second, name="targets")
        self.teach = Synapses(self.target, self.outputs, on_pre="err1_post += 1", name="teach")
        self.teach.connect(j="i")
        objects = [self.inputs, self.outputs, self.target, self.teach]
        self.w_in = self.feedback = None
        if n_hidden:
            objects += self._hidden_layer(rule, n_inputs, n_hidden, w_in, w_out, feedback, symmetric)
        else:
            self.w_out = self._plastic(rule, self.inputs, self.outputs, n_inputs, n_outputs, "w_out", w_out)
            objects.append(self.w_out)
        self.initial_w = adapters.owned(self.w_out.w[:])
        self.spikes = SpikeMonitor(self.outputs)
        self.loss = StateMonitor(self.outputs, "loss", record=True, dt=trial * second)
        self.net = Network(*objects, self.spikes, self.loss)

    def _neurons(self, n, model, reset, method, name):
        group = NeuronGroup(n, model, threshold=_THRESHOLD, reset=reset, refractory=_REFRACTORY, method=method,
                            namespace=self.names, name=name)
        group.v = self.names["EL"]
        return group

    def _plastic(self, rule, source, target, n_pre, n_post, name, w):
        syn = synapses(rule, source, target, _TRANSMIT, namespace=self.names, name=name)
        syn.connect(**_within(self.copies, n_pre, n_post))
        syn.w = w
        return syn

    def _hidden_layer(self, rule, n_in, n_hid, w_in, w_out, feedback, symmetric):
        """Hidden neurons, both plastic layers and the feedback of the output errors (and B = W^T upkeep)."""
        C, n_out = self.copies, self.n_outputs
        self.hidden = self._neurons(n_hid * C, NEURON + "err : 1", "v = EL", "exact", "hidden")
        self.w_in = synapses(rule, self.inputs, self.hidden, _TRANSMIT, namespace=self.names, name="w_in")
        self.w_out = synapses(rule, self.hidden, self.outputs, _TRANSMIT, namespace=self.names, name="w_out")
        self.feedback = Synapses(self.outputs, self.hidden, "B : 1\nerr_post = B*err_pre : 1 (summed)",
                                 name="feedback")
        self.w_in.connect(**_within(C, n_in, n_hid))
        self.w_out.connect(**_within(C, n_hid, n_out))
        self.feedback.connect(**_within(C, n_out, n_hid))
        self.w_in.w, self.w_out.w, self.feedback.B = w_in, w_out, feedback
        return [self.hidden, self.w_in, self.w_out, self.feedback] + self._symmetric(rule, symmetric)

    def _symmetric(self, rule, symmetric):
        """B = W^T where ``symmetric``: set now and after every periodic weight update of the same step."""
        if not np.any(symmetric):
            return []
        order = self._transpose_order()

        def symmetric_feedback():
            B = np.asarray(self.feedback.B[:])
            B[symmetric] = np.asarray(self.w_out.w[:])[order][symmetric]
            self.feedback.B = B

        symmetric_feedback()
        # after the periodic weight update of the same step (order 1): B is W^T as soon as W changes
        return [NetworkOperation(symmetric_feedback, dt=rule.parameters["T_update"], when="end", order=1,
                                 name="symmetric_feedback")]

    def _transpose_order(self):
        """Index into w_out (hidden i -> output j) for each feedback synapse (output j -> hidden i)."""
        n = self.n_outputs * self.copies
        w_i, w_j = np.asarray(self.w_out.i[:]), np.asarray(self.w_out.j[:])
        flat = w_i * n + w_j
        lookup = np.argsort(flat)
        wanted = np.asarray(self.feedback.j[:]) * n + np.asarray(self.feedback.i[:])
        return lookup[np.searchsorted(flat[lookup], wanted)]

    # --- running ----------------------------------------------------------------------------------------

    def plastic(self):
        """The plastic synapses (input -> hidden, if any, and -> output)."""
        return [syn for syn in (self.w_in, self.w_out) if syn is not None]

    def eta(self):
        """The rule's learning rate as the plastic synapses run it (None if the rule has no eta)."""
        return self.plastic()[0].namespace.get("eta")

    def set_eta(self, eta):
        """The rule's learning rate for the next runs (the annealing schedule is decided above)."""
        for syn in self.plastic():
            syn.namespace["eta"] = eta

    def run_trials(self, count, report=None):
        """``count`` trials in one Brian2 run, continuing where the last run ended."""
        self.net.run(count * self.trial * second, namespace={}, report=report)

    def freeze(self):
        """Plasticity off: the rule's periodic weight updates (made by codegen) are switched off."""
        for syn in self.plastic():
            periodic = rule_operations(syn).get("periodic")
            if periodic is not None:
                periodic.active = False

    # --- reading ----------------------------------------------------------------------------------------

    def plastic_weights(self):
        """Copies of the plastic synapses' weights."""
        return [adapters.owned(syn.w[:]) for syn in self.plastic()]

    def output_weights(self):
        """hidden/input -> output weights, ordered (copy, pre, post)."""
        return adapters.owned(self.w_out.w[:])

    def feedback_weights(self):
        """B in the order of the output weights (copy, hidden, output)."""
        return adapters.owned(self.feedback.B[:])[self._transpose_order()]

    def loss_per_trial(self, trials):
        """(copies, trials): ∫ err² dt over each trial, summed over each copy's outputs."""
        loss = np.asarray(self.loss.loss / second)  # (outputs, samples at trial starts)
        ends = np.concatenate([loss[:, 1:], np.asarray(self.outputs.loss / second)[:, None]], axis=1)
        per_output = (ends - loss)[:, :trials]
        return per_output.reshape(self.copies, self.n_outputs, -1).sum(axis=1)

    def copy_spikes(self, k):
        """(spike times in s, output index within the copy) of copy k."""
        t, i = np.asarray(self.spikes.t / second), np.asarray(self.spikes.i)
        mine = i // self.n_outputs == k
        return t[mine], i[mine] % self.n_outputs
