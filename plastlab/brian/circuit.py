"""The dis-inhibitory rate microcircuit as Brian2 objects: groups, plastic synapses, the PI controller, its clock
and the network that runs them.

Every hidden unit is an excitatory unit E and an inhibitory interneuron I (Dale's law),

    tau_E du_E/dt = -u_E + W r_pre + b - phi_I(u_I)          r   = phi_E(u_E)   (what the next layer reads)
    tau_I du_I/dt = -u_I + phi_E(u_E) - top                  r_I = phi_I(u_I)

with phi the soft-ReLU log(1 + exp(beta*u))/beta; the linear readout is tau_E dy/dt = -y + W r + c; the leaky PI
controller on the output error, tau_C dc_int/dt = e - lam c_int, c = k_p e + k_i c_int, reaches every layer as
top = Q c. What the network learns and when is decided above (:mod:`plastlab.learn.disinhibitory`); this module
only builds, reads and writes the simulation, so that learning logic never has to know Brian2's objects.

``params`` is the circuit's table (:class:`plastlab.learn.circuit_params.CircuitParams`, or anything with its
attributes); this module reads dt, the time constants, the controller's gains, beta, the error's options, readout,
theta and delta from it.
"""
import numpy as np
from brian2 import Clock, Network, NetworkOperation, NeuronGroup, Synapses, ms, second

from ..errors import DataError, PlastlabError
from . import adapters
from .codegen import synapses
from .requirements import Offer
from .settings import brian_settings

__all__ = ["POST_VARIABLES", "PRE_VARIABLES", "HIDDEN_OFFER", "READOUT_OFFER", "CircuitNetwork"]

#: variables every hidden layer offers to a rule: pre side "r" (rate), post side these.
POST_VARIABLES = ("r", "u_E", "u_I", "r_I", "plastic", "theta_lin", "delta_lin")
PRE_VARIABLES = ("r",)
HIDDEN_OFFER = Offer(network="the dis-inhibitory circuit", pre=PRE_VARIABLES, post=POST_VARIABLES,
                     forms=("continuous",), parameters=("eta",), state=False)
READOUT_OFFER = Offer(network="the circuit's linear readout", pre=PRE_VARIABLES, post=("r", "I_ff", "plastic"),
                      forms=("continuous",), parameters=("eta",), state=False)


def _softplus(u):
    return f"(beta*{u}*int({u} > 0) + log(1 + exp(-beta*abs({u}))))/beta"


LAYER_EQS = f"""
du_E/dt = (-u_E + I_ff + I_b - r_I)/tau_E : 1
du_I/dt = (-u_I + r - top + I_I)/tau_I : 1
r = {_softplus('u_E')} : 1
r_I = {_softplus('u_I')} : 1
I_ff : 1
I_b : 1
I_I : 1
top : 1
plastic : 1
theta_lin : 1
delta_lin : 1
"""
READOUT_EQS = """
dr/dt = (-r + I_ff + top)/tau_E : 1
I_ff : 1
top : 1
plastic : 1
"""
CONTROLLER_EQS = """
y : 1
target : 1
dc_int/dt = closed*(err - lam*c_int)/tau_C : 1
c = closed*(k_p*err + k_i*c_int) : 1
closed : 1
"""
DIFFERENCE_ERROR = "err = target - y : 1\n"
#: target - softmax(g y) over the outputs of one copy (Z = sum_k exp(g y_k), y_sum = sum_k y_k arrive through
#: synapses from the output layer), plus an optional pull of the copy's mean output towards rate_level. Z is 0
#: only before the first summation (the guard avoids 0/0 there).
SOFTMAX_ERROR = ("err = target - exp(g_sm*y)/(Z + int(Z <= 0)) + rate_anchor*(rate_level - y_sum/n_out) : 1\n"
                 "Z : 1\ny_sum : 1\n")


def _dense(B, n_pre, n_post):
    """i, j of all-to-all connections inside each copy, ordered (copy, pre, post)."""
    b, p, q = np.meshgrid(np.arange(B), np.arange(n_pre), np.arange(n_post), indexing="ij")
    return {"i": (b * n_pre + p).ravel(), "j": (b * n_post + q).ravel()}


class CircuitNetwork:
    """``copies`` parallel copies of a layered circuit of ``sizes`` (inputs first) in one set of Brian2 groups.

    ``rules``: per weight layer, the Rule its feed-forward and bias synapses run (None for all: a frozen network,
    e.g. a teacher, without a controller); ``etas``: per layer, the rules' learning rate (1/second). ``linear``:
    the last layer is the linear readout (no bias) instead of an E/I layer. ``inputs``: "static" (rates set per
    sample) or "sinusoid" (r_j = 0.5 + 0.5 sin(2 pi f_j t + phase_j)). ``teacher``: another CircuitNetwork whose
    output is the controller's target. Built and run inside ``brian_settings(target=codegen)``.
    """

    def __init__(self, sizes, copies, params, rules, etas, *, linear, inputs="static", frequencies=None,
                 phases=None, teacher=None, codegen="numpy", name="circuit"):
        self.sizes, self.copies, self.params, self.name = list(sizes), int(copies), params, name
        self.linear, self.teacher, self.codegen = linear, teacher, codegen
        self.plastic_rules = any(rule is not None for rule in rules)
        self.net = None
        with brian_settings(target=codegen):
            self._build(rules, etas, inputs, frequencies, phases)

    # --- construction -----------------------------------------------------------------------------------

    def _namespace(self):
        p = self.params
        return dict(tau_E=p.tau_E * ms, tau_I=p.tau_I * ms, tau_C=p.tau_C * ms, k_p=p.k_p, k_i=p.k_i, lam=p.lam,
                    beta=p.beta, g_sm=p.softmax_gain, rate_anchor=p.rate_anchor, rate_level=p.rate_level,
                    n_out=float(self.sizes[-1]))

    def _input_group(self, inputs, frequencies, phases):
        n = self.sizes[0] * self.copies
        if inputs == "static":
            return NeuronGroup(n, "r : 1", clock=self.clock, name=f"{self.name}_input")
        if inputs == "sinusoid":
            group = NeuronGroup(n, "r = 0.5 + 0.5*sin(2*pi*f*t + phase) : 1\nf : Hz\nphase : 1", clock=self.clock,
                                name=f"{self.name}_input")
            group.f = np.tile(np.asarray(frequencies, float), self.copies) / second
            group.phase = np.tile(np.asarray(phases, float), self.copies)
            return group
        raise DataError(f"{self.name}: inputs must be 'static' or 'sinusoid', got {inputs!r}")

    def _build(self, rules, etas, inputs, frequencies, phases):
        p, B = self.params, self.copies
        self.clock = Clock(dt=p.dt * ms, name=f"{self.name}_clock")
        ns = self.namespace = self._namespace()
        self.inp = self._input_group(inputs, frequencies, phases)
        self.bias = NeuronGroup(1, "r : 1", clock=self.clock, name=f"{self.name}_bias")
        self.bias.r = 1
        self.layers, self.ff, self.fb, self.b_syn = [], [], [], []
        pre, n_layers = self.inp, len(self.sizes) - 1
        for k, n in enumerate(self.sizes[1:]):
            readout = self.linear and k == n_layers - 1
            rule = rules[k].with_parameters(eta=etas[k] / second) if rules[k] is not None else None
            g = NeuronGroup(n * B, READOUT_EQS if readout else LAYER_EQS, method="euler", namespace=ns,
                            clock=self.clock, name=f"{self.name}_layer{k}")
            if not readout:
                g.theta_lin, g.delta_lin = p.theta, p.delta
            self.layers.append(g)
            self.ff.append(self._plastic(rule, pre, g, "I_ff_post = w*r_pre : 1 (summed)",
                                         _dense(B, pre.N // B, n), f"{self.name}_ff{k}"))
            if not readout:  # the published readout has no bias
                self.b_syn.append(self._plastic(rule, self.bias, g, "I_b_post = w*r_pre : 1 (summed)",
                                                {"i": np.zeros(n * B, int), "j": np.arange(n * B)},
                                                f"{self.name}_bias{k}"))
            pre = g
        self.out = self.layers[-1]
        self.hidden = self.layers[:-1]  # E/I layers fed back through Q (a microcircuit readout gets q_out * 1)
        self.objects = [self.inp, self.bias, *self.layers, *self.ff, *self.b_syn]
        self.ctrl = None
        if self.plastic_rules:
            self.objects += self._controller(ns)
        self._perm = [self._permutation(s, pre_n, post_n)
                      for s, pre_n, post_n in zip(self.ff, self.sizes[:-1], self.sizes[1:])]

    def _controller(self, ns):
        """The PI controller on the output, its feedback onto every layer (and the target from a teacher)."""
        p, B, n_out = self.params, self.copies, self.sizes[-1]
        eqs = CONTROLLER_EQS + (SOFTMAX_ERROR if p.error == "softmax" else DIFFERENCE_ERROR)
        self.ctrl = NeuronGroup(n_out * B, eqs, method="euler", namespace=ns, clock=self.clock,
                                name=f"{self.name}_controller")
        objects = [self.ctrl, self._static(self.out, self.ctrl, "y_post = r_pre : 1 (summed)", {"j": "i"},
                                           "readout_to_controller")]
        if p.error == "softmax":  # per copy: Z = sum_k exp(g y_k), y_sum = sum_k y_k
            objects.append(self._static(self.out, self.ctrl, "Z_post = exp(g_sm*r_pre) : 1 (summed)\n"
                                        "y_sum_post = r_pre : 1 (summed)", _dense(B, n_out, n_out), "softmax"))
        if self.teacher is not None:
            if self.teacher.sizes[-1] != n_out or self.teacher.copies != B:
                raise DataError(f"{self.name}: teacher output {self.teacher.sizes[-1]} x {self.teacher.copies} "
                                f"copies does not match {n_out} x {B}")
            objects.append(self._static(self.teacher.out, self.ctrl, "target_post = r_pre : 1 (summed)",
                                        {"j": "i"}, "teacher_target"))
        for k, g in enumerate(self.layers):
            fb = self._static(self.ctrl, g, "q : 1\ntop_post = q*c_pre : 1 (summed)",
                              _dense(B, n_out, self.sizes[k + 1]), f"feedback{k}")
            self.fb.append(fb)
            objects.append(fb)
        return objects

    def _static(self, source, target, model, connections, suffix):
        syn = Synapses(source, target, model, namespace=self.namespace, clock=self.clock,
                       name=f"{self.name}_{suffix}")
        syn.connect(**connections)
        return syn

    def _plastic(self, rule, pre, post, summed, connections, name):
        if rule is None:
            syn = Synapses(pre, post, "w : 1\n" + summed, namespace=self.namespace, clock=self.clock, name=name)
        else:
            syn = synapses(rule, pre, post, extra_model=summed, namespace=self.namespace, method="euler",
                           clock=self.clock, name=name)
        syn.connect(**connections)
        return syn

    def _permutation(self, syn, n_pre, n_post):
        i, j = np.asarray(syn.i[:]), np.asarray(syn.j[:])
        flat = i * n_post + j % n_post
        if not np.array_equal(np.sort(flat), np.arange(self.copies * n_pre * n_post)):
            raise PlastlabError(f"{self.name}: unexpected synapse layout in {syn.name}")
        return np.argsort(flat)

    # --- weights and feedback ---------------------------------------------------------------------------

    def set_eta(self, k, eta):
        """The rules' learning rate (1/second) of weight layer k for the next runs."""
        for syns in (self.ff, self.b_syn):
            if k < len(syns):
                syns[k].namespace["eta"] = eta / second

    def layer_weights(self, k):
        """(feed-forward w as (copies, n_pre, n_post), bias w as (copies, n_post)) of layer k."""
        wv = self.ff[k].variables["w"].get_value()
        n_pre, n_post = self.sizes[k], self.sizes[k + 1]
        W = wv[self._perm[k]].reshape(self.copies, n_pre, n_post)
        if k < len(self.b_syn):
            return W, self.b_syn[k].variables["w"].get_value().reshape(self.copies, n_post)
        return W, np.zeros((self.copies, n_post))

    def set_weights(self, weights):
        """The same weights [(W, b), ...] in every copy."""
        for k, (W, b) in enumerate(weights):
            wv = self.ff[k].variables["w"].get_value()
            wv[self._perm[k]] = np.broadcast_to(W, (self.copies,) + W.shape).reshape(-1)
            if k < len(self.b_syn):
                self.b_syn[k].variables["w"].get_value()[:] = np.tile(b, self.copies)

    def set_q(self, k, Q):
        """Feedback onto layer k: Q of shape (n_out, n) (all copies) or (copies, n_out, n)."""
        fb, n, n_out = self.fb[k], self.sizes[k + 1], self.sizes[-1]
        Q = np.broadcast_to(Q, (self.copies, n_out, n))
        i, j = np.asarray(fb.i[:]), np.asarray(fb.j[:])
        fb.variables["q"].get_value()[:] = Q[i // n_out, i % n_out, j % n]

    def feedback_matrices(self):
        """Q per hidden layer as the feedback synapses hold it: (copies, n_out, n_l)."""
        out, n_out = [], self.sizes[-1]
        for k in range(len(self.hidden)):
            fb, n = self.fb[k], self.sizes[k + 1]
            Q = np.zeros((self.copies, n_out, n))
            i, j = np.asarray(fb.i[:]), np.asarray(fb.j[:])
            Q[i // n_out, i % n_out, j % n] = fb.variables["q"].get_value()
            out.append(Q)
        return out

    # --- state ------------------------------------------------------------------------------------------

    def per_copy(self, values):
        """(copies, -1) view of a group's values."""
        return np.asarray(values).reshape(self.copies, -1)

    def hidden_potentials(self):
        """(u_E, u_I) of every hidden layer, each (copies, n_l)."""
        return ([self.per_copy(g.u_E[:]) for g in self.hidden], [self.per_copy(g.u_I[:]) for g in self.hidden])

    def set_linearisation(self, k, theta, delta):
        """The linear-threshold rule's (theta, delta) per neuron of hidden layer k, the same in every copy."""
        g = self.hidden[k]
        g.theta_lin, g.delta_lin = np.tile(theta, self.copies), np.tile(delta, self.copies)

    def set_layer(self, k, **values):
        """Set variables of layer k (e.g. ``u_E=..., plastic=0``), in the order given."""
        for name, value in values.items():
            setattr(self.layers[k], name, value)

    def layer_values(self, k, *names):
        """Copies of layer k's variables ``names`` (flat, all copies)."""
        return [adapters.owned(getattr(self.layers[k], name)[:]) for name in names]

    def set_inputs(self, X):
        """Static input rates, X (copies, n_in)."""
        self.inp.r = X.ravel()

    def set_targets(self, Y):
        """The controller's targets, Y (copies, n_out)."""
        self.ctrl.target = Y.ravel()

    def per_neuron(self, per_copy, group):
        """A per-copy flag (copies,) as floats for every neuron of ``group``."""
        return np.repeat(per_copy, group.N // self.copies).astype(float)

    def set_closed(self, closed):
        """Control on (1) in the copies where ``closed`` (copies,) is True, off elsewhere."""
        self.ctrl.closed = self.per_neuron(closed, self.ctrl)

    def set_plastic(self, plastic):
        """The layers' gate ``plastic``: 1 in the copies where ``plastic`` (copies,) is True."""
        for g in self.layers:
            g.plastic = self.per_neuron(plastic, g)

    def freeze_layers(self):
        """The gate ``plastic`` at 0 everywhere: the rules change nothing."""
        for g in self.layers:
            g.plastic = 0

    def outputs(self):
        """The readout's rates, (copies, n_out)."""
        return self.per_copy(self.out.r[:])

    def state(self, with_controller):
        """(copies, n_state): every dynamic variable, to test for a steady state."""
        parts = []
        for g in self.layers:
            for name in ("u_E", "u_I") if "u_E" in g.variables else ("r",):
                parts.append(g.variables[name].get_value().reshape(self.copies, -1))
        if with_controller:
            parts.append(self.ctrl.variables["c_int"].get_value().reshape(self.copies, -1))
        return np.concatenate(parts, axis=1).copy()

    def reset_state(self):
        """Every layer and the controller at rest, control and plasticity off (before each batch)."""
        for g in self.layers:
            if "u_E" in g.variables:
                g.u_E = 0
                g.u_I = 0
            else:
                g.r = 0
            g.plastic = 0
        if self.ctrl is not None:
            self.ctrl.c_int = 0
            self.ctrl.closed = 0

    def write_fixed_point(self, hidden, out, controller, tops):
        """Put a fixed point into the groups (values computed above): ``hidden`` per hidden layer a dict of
        u_E, u_I, I_ff, I_b; ``out`` the readout's r, I_ff, top; ``controller`` c_int, y (and Z, y_sum with the
        softmax error); ``tops`` the top-down input per hidden layer."""
        for g, values in zip(self.hidden, hidden):
            g.u_E, g.u_I = values["u_E"], values["u_I"]
            g.I_ff, g.I_b = values["I_ff"], values["I_b"]
        self.out.r, self.out.I_ff = out["r"], out["I_ff"]
        self.ctrl.c_int, self.ctrl.y = controller["c_int"], controller["y"]
        if "Z" in self.ctrl.variables:
            self.ctrl.Z, self.ctrl.y_sum = controller["Z"], controller["y_sum"]
        for g, top in zip(self.hidden, tops):
            g.top = top
        self.out.top = out["top"]

    def softmax_sums(self):
        """True if the controller sums exp(g y) and y over each copy (error = "softmax")."""
        return "Z" in self.ctrl.variables

    def sinusoidal(self):
        """True if the inputs are sinusoidal streams (not rates set per sample)."""
        return "f" in self.inp.variables

    # --- running ----------------------------------------------------------------------------------------

    def network(self):
        """The one Brian2 Network of this circuit (built on first use, reused for every batch and epoch)."""
        if self.net is None:
            self.net = Network(*self.objects)
            if self.teacher is not None:
                self.net.add(*self.teacher.objects)
        return self.net

    def run(self, duration, every=()):
        """Run ``duration`` ms; ``every``: (callable(t in s), period in ms, name) called at the end of each
        period's step."""
        net = self.network()
        extra = [self._operation(fn, period, name) for fn, period, name in every]
        net.add(*extra)
        try:
            with brian_settings(target=self.codegen):
                net.run(duration * ms, namespace={})
        finally:
            net.remove(*extra)

    def _operation(self, fn, period, name):
        def call(t):
            fn(float(t / second))

        return NetworkOperation(call, dt=period * ms, when="end", name=f"{self.name}_{name}")

    def stop(self):
        """End the current run after this step (called from inside it)."""
        self.net.stop()

    def run_protocol(self, step, max_steps, *, finished, update_pending, one_run):
        """Run ``step()`` at the end of every step until ``finished()``, at most ``max_steps`` steps.

        ``one_run``: the rules' code is prepared once and skipped between plastic steps (``rules_running``);
        otherwise a run stops before each plastic step (``update_pending()``), which runs on its own with the
        rules' integration switched on."""
        dt = self.params.dt
        op = NetworkOperation(step, clock=self.clock, when="end", name=f"{self.name}_phases")
        net = self.network()
        net.add(op)
        try:
            with brian_settings(target=self.codegen):
                self.integrate_rules(one_run)
                while not finished() and max_steps > 0:
                    start = self.clock.t_
                    net.run(max_steps * dt * ms, namespace={})
                    max_steps -= int(round((self.clock.t_ - start) / (dt * 1e-3)))
                    if update_pending() and not finished():
                        self.integrate_rules(True)
                        net.run(dt * ms, namespace={})
                        self.integrate_rules(False)
                        max_steps -= 1
        finally:
            self.rules_running(True)
            self.integrate_rules(True)
            net.remove(op)

    def _plastic_synapses(self):
        return self.ff + self.b_syn if self.plastic_rules else []

    def integrate_rules(self, on):
        """Switch the plastic synapses' dw/dt integration on or off for the next run."""
        for syn in self._plastic_synapses():
            adapters.set_state_update_active(syn, on)

    def rules_running(self, on):
        """Run or skip the plastic synapses' dw/dt code from the next step on, inside a run (with the gate at 0
        it changes nothing, so skipping it saves the time only)."""
        for syn in self._plastic_synapses():
            adapters.set_state_update_running(syn, on)
