"""Dis-inhibitory control of plasticity (Rossbroich & Zenke 2023) as a rate microcircuit in Brian2.

Every unit of a layer is a microcircuit: an excitatory unit E and an inhibitory interneuron I (Dale's law),

    tau_E du_E/dt = -u_E + W r_pre + b - phi_I(u_I)          r   = phi_E(u_E)   (what the next layer reads)
    tau_I du_I/dt = -u_I + phi_E(u_E) - top                  r_I = phi_I(u_I)

with phi the soft-ReLU log(1 + exp(beta*u))/beta. A leaky PI controller on the output error e = target - y,

    c = k_p e + k_i c_int,      tau_C dc_int/dt = e - lam c_int,

reaches the interneurons as top = Q c: the control *dis-inhibits*. Q is the identity for the output layer and,
for a hidden layer, the transposed product of the downstream weights (the output Jacobian up to the slopes of
phi), normalised; it is recomputed from the current weights after every update.

Protocol per sample: open loop (no control) for ``t_open``, closed loop for ``t_closed``, then the weight
update phase ``t_plast`` in which the layer variable ``plastic`` is 1 (the rule reads it as its gate). The
feed-forward and bias weights are Synapses compiled from a rule file (``rules/disinhibitory.toml``:
dw/dt = eta*gate*r_pre*phi_E'(u_E)*(r_E - u_I)) through ``Rule.synapses``; nothing about the rule is coded here.

Speed: a batch of samples runs as parallel copies of the circuit inside the same NeuronGroups. The Brian2
network is built once and a whole epoch is one ``Network.run``: a ``network_operation`` at every batch
boundary loads the next batch, resets the state and replaces every copy's weights by the shared weights plus
the mean of the copies' updates (minibatch learning). Online learning (one copy learning from a stream) uses
the same machinery with the phases switched off (``t_open = t_closed = 0``: always closed loop and plastic).
"""
import gc
from dataclasses import dataclass, fields

import numpy as np
from brian2 import Clock, Network, NeuronGroup, Synapses, ms, network_operation, prefs, second

from ..brian.codegen import synapses
from ..errors import DataError, PlastlabError, RuleError
from ..rules.files import load_rule

#: variables every circuit layer offers to a rule: pre side "r" (rate), post side these.
POST_VARIABLES = ("r", "u_E", "u_I", "r_I", "plastic")
PRE_VARIABLES = ("r",)


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
learn : 1
plastic = learn*int(t - t0 > t_update - 0.5*dt) : 1
t0 : second (shared)
"""

CONTROLLER_EQS = """
y : 1
err = target - y : 1
closed = ctrl_on*int(t - t0 > t_open - 0.5*dt) : 1
dc_int/dt = closed*(err - lam*c_int)/tau_C : 1
c = closed*(k_p*err + k_i*c_int) : 1
ctrl_on : 1
t0 : second (shared)
"""

#: the controller's error with ``error_softmax = g > 0``: the cross-entropy gradient target - softmax(g y) over the
#: outputs of one copy (Z = sum_k exp(g y_k) and y_sum = sum_k y_k arrive through synapses from the output layer),
#: plus a weak pull ``rate_anchor`` of the copies' mean output rate towards ``rate_level`` (softmax ignores a
#: common shift of the outputs; the anchor keeps them where phi_E' is not small). Z is 0 only before the first
#: summation (the guard avoids 0/0 there).
SOFTMAX_ERROR = "err = target - exp(g_sm*y)/(Z + int(Z <= 0)) + rate_anchor*(rate_level - y_sum/n_out) : 1"
SOFTMAX_VARIABLES = "Z : 1\ny_sum : 1\n"


@dataclass
class CircuitParams:
    """Numbers of the microcircuit, its controller and its protocol (times in ms, the rest dimensionless)."""

    tau_E: float = 10.0
    tau_I: float = 5.0
    tau_C: float = 10.0
    k_p: float = 0.2
    k_i: float = 0.4
    lam: float = 1.0
    beta: float = 1.0
    dt: float = 1.0
    t_open: float = 30.0
    t_closed: float = 30.0
    t_plast: float = 1.0
    eta: float = 1.0          # the rule's learning rate eta, in 1/second (overrides the rule file's value)
    eta_fan_in: float = 1.0   # each layer uses eta / n_pre**eta_fan_in (1: normalised by fan-in, 0: plain eta)
    q_hidden: float = 1.0     # scale of the normalised hidden feedback Q
    q_out: float = 1.0        # feedback onto the output interneurons (Q = q_out * identity)
    init_scale: float = 1.0   # initial weights ~ N(0, init_scale^2 / n_pre)
    error_softmax: float = 0.0  # 0: the controller's error is target - y; g > 0: target - softmax(g y) (see below)
    rate_anchor: float = 0.0    # with error_softmax: pull of the mean output rate towards rate_level
    rate_level: float = 0.0

    @classmethod
    def from_dict(cls, values, *, where="circuit"):
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise DataError(f"{where}: unknown circuit setting '{unknown[0]}' (known: {', '.join(sorted(known))})")
        out = {}
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise DataError(f"{where}: circuit setting '{key}' must be a finite number, got {value!r}")
            out[key] = float(value)
        params = cls(**out)
        for key in ("tau_E", "tau_I", "tau_C", "dt", "beta"):
            if getattr(params, key) <= 0:
                raise DataError(f"{where}: circuit setting '{key}' must be positive, got {getattr(params, key)}")
        for key in ("t_open", "t_closed", "t_plast", "lam", "init_scale", "error_softmax", "rate_anchor",
                    "rate_level"):
            if getattr(params, key) < 0:
                raise DataError(f"{where}: circuit setting '{key}' must not be negative")
        for key in ("t_open", "t_closed", "t_plast"):
            steps = getattr(params, key) / params.dt
            if abs(steps - round(steps)) > 1e-9:
                raise DataError(f"{where}: {key} = {getattr(params, key)} ms is not a whole number of dt steps "
                                f"(dt = {params.dt} ms)")
        if params.dt > 0.5 * min(params.tau_E, params.tau_I):
            raise DataError(f"{where}: dt = {params.dt} ms is too coarse for tau_E = {params.tau_E} ms, "
                            f"tau_I = {params.tau_I} ms (need dt <= tau/2 for the Euler rate equations)")
        return params

    @property
    def t_batch(self):
        return self.t_open + self.t_closed + self.t_plast


def check_rule(rule):
    """Refuse, before anything is built, a rule this circuit cannot run: one line naming what is missing."""
    rule = load_rule(rule)
    if rule.dw_dt is None or rule.window is not None or rule.on_pre or rule.on_post:
        raise RuleError(f"rule '{rule.name}' is not a continuous (dw_dt) rule: the dis-inhibitory circuit is "
                        "rate based and has no spikes to trigger [on_pre]/[on_post]/[window] updates",
                        file=str(rule.source) if rule.source else None, section="continuous")
    for name, spec in rule.inputs.items():
        if spec.source == "modulator":
            raise RuleError(f"rule '{rule.name}' needs the modulator input '{name}', which the dis-inhibitory "
                            f"circuit does not provide (it offers pre 'r' and post {', '.join(POST_VARIABLES)})",
                            file=str(rule.source) if rule.source else None, section="inputs", term=name)
        offered = PRE_VARIABLES if spec.source == "pre" else POST_VARIABLES
        if spec.variable not in offered:
            raise RuleError(f"rule '{rule.name}' reads its input '{name}' from the {spec.source}synaptic variable "
                            f"'{spec.variable}', which the dis-inhibitory circuit does not provide (it offers "
                            f"{spec.source} {', '.join(offered)})",
                            file=str(rule.source) if rule.source else None, section="inputs", term=name)
    if getattr(rule, "state", None) or getattr(rule, "periodic", None) is not None:
        raise RuleError(f"rule '{rule.name}' has [state]/[periodic] updates, which the circuit does not drive",
                        file=str(rule.source) if rule.source else None, section="rule")
    if "eta" not in rule.parameters:
        raise RuleError(f"rule '{rule.name}' has no parameter 'eta' (the learning rate the circuit sets)",
                        file=str(rule.source) if rule.source else None, section="parameters", term="eta")
    return rule


def softplus(u, beta=1.0):
    u = np.asarray(u, dtype=float)
    return (np.maximum(beta * u, 0) + np.log1p(np.exp(-np.abs(beta * u)))) / beta


def init_weights(sizes, rng, scale=1.0):
    """[(W (n_pre, n_post), b (n_post)), ...] with W ~ N(0, scale^2/n_pre) and b = 0."""
    return [(rng.normal(0.0, scale / np.sqrt(n_pre), size=(n_pre, n_post)), np.zeros(n_post))
            for n_pre, n_post in zip(sizes[:-1], sizes[1:])]


def feedback_matrices(weights, q_hidden=1.0):
    """Q for each hidden layer (n_l, n_out): the transposed product of the downstream weights, normalised so
    that its columns have mean norm q_hidden."""
    out = []
    for layer in range(len(weights) - 1):
        J = np.eye(weights[-1][0].shape[1])
        for W, _ in reversed(weights[layer + 1:]):
            J = W @ J
        norm = np.sqrt((J ** 2).sum(axis=0)).mean()
        out.append(q_hidden * J / (norm if norm > 0 else 1.0))
    return out


class DisinhibitoryCircuit:
    """A layered dis-inhibitory network in Brian2: ``copies`` parallel copies of ``sizes`` (inputs first).

    ``rule``: name, path or Rule for the plastic feed-forward and bias synapses (``None`` gives a frozen
    network, e.g. a teacher). ``inputs``: "static" (the input rates are set per sample) or "sinusoid"
    (r_j = 0.5 + 0.5 sin(2 pi f_j t + phase_j), frequencies and phases given). ``teacher``: another circuit
    whose output is the target (online student-teacher) instead of per-sample targets.
    """

    def __init__(self, sizes, *, rule="disinhibitory", params=None, copies=1, seed=0, weights=None,
                 inputs="static", frequencies=None, phases=None, teacher=None, codegen="numpy", name="circuit"):
        self.sizes = [int(n) for n in sizes]
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise DataError(f"{name}: layer sizes must be at least [n_in, n_out] with positive sizes, got {sizes}")
        self.params = params if isinstance(params, CircuitParams) else CircuitParams.from_dict(params)
        self.rule = check_rule(rule) if rule is not None else None
        if self.rule is not None and "beta" in self.rule.parameters and \
                abs(float(self.rule.parameters["beta"]) - self.params.beta) > 1e-12:
            raise PlastlabError(f"{name}: rule '{self.rule.name}' assumes beta = {self.rule.parameters['beta']} "
                                f"but the circuit's soft-ReLU has beta = {self.params.beta}")
        self.copies, self.name, self.teacher = int(copies), name, teacher
        self.rng = np.random.default_rng(seed)
        weights = weights if weights is not None else init_weights(self.sizes, self.rng, self.params.init_scale)
        self._check_weights(weights)
        self.weights = [(np.array(W, float), np.array(b, float)) for W, b in weights]
        prefs.codegen.target = codegen
        self._build(inputs, frequencies, phases)
        self.history = []

    # --- construction -----------------------------------------------------------------------------------

    def _check_weights(self, weights):
        if len(weights) != len(self.sizes) - 1:
            raise DataError(f"{self.name}: {len(weights)} weight layers for sizes {self.sizes}")
        for (W, b), n_pre, n_post in zip(weights, self.sizes[:-1], self.sizes[1:]):
            if np.shape(W) != (n_pre, n_post) or np.shape(b) != (n_post,):
                raise DataError(f"{self.name}: weights of shape {np.shape(W)}/{np.shape(b)}, expected "
                                f"({n_pre}, {n_post})/({n_post},)")

    def _build(self, inputs, frequencies, phases):
        p, B = self.params, self.copies
        self.clock = Clock(dt=p.dt * ms, name=f"{self.name}_clock")
        ns = dict(tau_E=p.tau_E * ms, tau_I=p.tau_I * ms, tau_C=p.tau_C * ms, k_p=p.k_p, k_i=p.k_i, lam=p.lam,
                  beta=p.beta, t_open=p.t_open * ms, t_update=(p.t_open + p.t_closed) * ms)
        if p.error_softmax > 0:
            ns.update(g_sm=p.error_softmax, rate_anchor=p.rate_anchor, rate_level=p.rate_level,
                      n_out=float(self.sizes[-1]))
        self.namespace = ns
        n_in = self.sizes[0]
        if inputs == "static":
            self.inp = NeuronGroup(n_in * B, "r : 1", clock=self.clock, name=f"{self.name}_input")
        elif inputs == "sinusoid":
            self.inp = NeuronGroup(n_in * B, "r = 0.5 + 0.5*sin(2*pi*f*t + phase) : 1\nf : Hz\nphase : 1",
                                   clock=self.clock, name=f"{self.name}_input")
            self.inp.f = np.tile(np.asarray(frequencies, float), B) / second
            self.inp.phase = np.tile(np.asarray(phases, float), B)
        else:
            raise DataError(f"{self.name}: inputs must be 'static' or 'sinusoid', got {inputs!r}")
        self.bias = NeuronGroup(1, "r : 1", clock=self.clock, name=f"{self.name}_bias")
        self.bias.r = 1
        self.layers, self.ff, self.fb, self.b_syn = [], [], [], []
        pre = self.inp
        for k, n in enumerate(self.sizes[1:]):
            rule_ns = dict(ns, eta=self._layer_eta(k, p.eta) / second)
            g = NeuronGroup(n * B, LAYER_EQS, method="euler", namespace=ns, clock=self.clock,
                            name=f"{self.name}_layer{k}")
            g.learn = 0
            g.t0 = -1e6 * second  # never plastic until a batch starts
            self.layers.append(g)
            n_pre = pre.N // B
            self.ff.append(self._plastic(pre, g, "I_ff_post = w*r_pre : 1 (summed)", rule_ns,
                                         *self._dense(B, n_pre, n), f"{self.name}_ff{k}"))
            self.b_syn.append(self._plastic(self.bias, g, "I_b_post = w*r_pre : 1 (summed)", rule_ns,
                                            np.zeros(n * B, int), np.arange(n * B), f"{self.name}_bias{k}"))
            pre = g
        self.out = self.layers[-1]
        objects = [self.inp, self.bias, *self.layers, *self.ff, *self.b_syn]
        self.ctrl = None
        if self.rule is not None:  # a learner: controller on its output, feedback onto every layer
            n_out = self.sizes[-1]
            eqs = CONTROLLER_EQS + "target : 1"
            if p.error_softmax > 0:
                eqs = eqs.replace("err = target - y : 1", SOFTMAX_ERROR) + "\n" + SOFTMAX_VARIABLES
            self.ctrl = NeuronGroup(n_out * B, eqs, method="euler", namespace=ns,
                                    clock=self.clock, name=f"{self.name}_controller")
            self.ctrl.t0 = -1e6 * second
            readout = Synapses(self.out, self.ctrl, "y_post = r_pre : 1 (summed)", namespace=ns, clock=self.clock,
                               name=f"{self.name}_readout")
            readout.connect(j="i")
            objects += [self.ctrl, readout]
            if p.error_softmax > 0:  # per copy: Z = sum_k exp(g y_k), y_sum = sum_k y_k, read from the same rates
                softmax = Synapses(self.out, self.ctrl, "Z_post = exp(g_sm*r_pre) : 1 (summed)\n"
                                   "y_sum_post = r_pre : 1 (summed)", namespace=ns, clock=self.clock,
                                   name=f"{self.name}_softmax")
                pre, post = self._dense(B, n_out, n_out)
                softmax.connect(i=pre, j=post)
                objects.append(softmax)
            if self.teacher is not None:
                if self.teacher.sizes[-1] != n_out or self.teacher.copies != B:
                    raise DataError(f"{self.name}: teacher output {self.teacher.sizes[-1]} x {self.teacher.copies} "
                                    f"copies does not match {n_out} x {B}")
                tsyn = Synapses(self.teacher.out, self.ctrl, "target_post = r_pre : 1 (summed)",
                                namespace=ns, clock=self.clock, name=f"{self.name}_teacher_target")
                tsyn.connect(j="i")
                objects += [tsyn]
            for k, g in enumerate(self.layers):
                n = self.sizes[k + 1]
                fb = Synapses(self.ctrl, g, "q : 1\ntop_post = q*c_pre : 1 (summed)", namespace=ns, clock=self.clock,
                              name=f"{self.name}_feedback{k}")
                fb.connect(i=self._dense(B, n_out, n)[0], j=self._dense(B, n_out, n)[1])
                self.fb.append(fb)
                objects.append(fb)
        self._objects = objects
        self.net = None
        self._perm = [self._permutation(s, pre_n, post_n)
                      for s, pre_n, post_n in zip(self.ff, self.sizes[:-1], self.sizes[1:])]
        self._set_weights_all(self.weights)
        self._update_feedback()

    def _layer_eta(self, k, eta):
        return eta / self.sizes[k] ** self.params.eta_fan_in

    def set_eta(self, eta):
        """Change the learning rate (1/second) for the next runs, e.g. per epoch."""
        self.params.eta = float(eta)
        for k, (ff, bs) in enumerate(zip(self.ff, self.b_syn)):
            for syn in (ff, bs):
                syn.namespace["eta"] = self._layer_eta(k, eta) / second

    def _plastic(self, pre, post, summed, rule_ns, i, j, name):
        if self.rule is None:
            syn = Synapses(pre, post, "w : 1\n" + summed, namespace=rule_ns, clock=self.clock, name=name)
        else:
            own = {k: v for k, v in rule_ns.items() if k not in self.rule.parameters}
            chosen = {k: v for k, v in rule_ns.items() if k in self.rule.parameters}
            syn = synapses(self.rule, pre, post, extra_model=summed, namespace=own, parameters=chosen,
                           method="euler", clock=self.clock, name=name)
        syn.connect(i=i, j=j)
        return syn

    @staticmethod
    def _dense(B, n_pre, n_post):
        """i, j of all-to-all connections inside each copy, ordered (copy, pre, post)."""
        b, p, q = np.meshgrid(np.arange(B), np.arange(n_pre), np.arange(n_post), indexing="ij")
        return (b * n_pre + p).ravel(), (b * n_post + q).ravel()

    def _permutation(self, syn, n_pre, n_post):
        i, j = np.asarray(syn.i[:]), np.asarray(syn.j[:])
        flat = ((i // n_pre) * n_pre + i % n_pre) * n_post + j % n_post
        if not np.array_equal(np.sort(flat), np.arange(self.copies * n_pre * n_post)):
            raise PlastlabError(f"{self.name}: unexpected synapse layout in {syn.name}")
        return np.argsort(flat)

    # --- weights ----------------------------------------------------------------------------------------

    def _w_arrays(self, k):
        """(feed-forward w as (copies, n_pre, n_post) copy, bias w as (copies, n_post)) of layer k."""
        wv = self.ff[k].variables["w"].get_value()
        bv = self.b_syn[k].variables["w"].get_value()
        n_pre, n_post = self.sizes[k], self.sizes[k + 1]
        return wv[self._perm[k]].reshape(self.copies, n_pre, n_post), bv.reshape(self.copies, n_post)

    def _set_weights_all(self, weights):
        for k, (W, b) in enumerate(weights):
            wv = self.ff[k].variables["w"].get_value()
            full = np.broadcast_to(W, (self.copies,) + W.shape).reshape(-1)
            wv[self._perm[k]] = full
            self.b_syn[k].variables["w"].get_value()[:] = np.tile(b, self.copies)

    def _update_feedback(self):
        if self.ctrl is None:
            return
        Qs = feedback_matrices(self.weights, self.params.q_hidden)
        B, n_out = self.copies, self.sizes[-1]
        for k, fb in enumerate(self.fb):
            n = self.sizes[k + 1]
            if k == len(self.layers) - 1:
                Q = self.params.q_out * np.eye(n_out)
            else:
                Q = Qs[k]
            # synapse (copy, pre=controller unit kk, post=unit q) has weight Q[q, kk]
            i, j = np.asarray(fb.i[:]), np.asarray(fb.j[:])
            fb.variables["q"].get_value()[:] = Q[j % n, i % n_out]

    def _absorb_updates(self, learning):
        """Shared weights += mean over learning copies of each copy's change; every copy gets the result."""
        if not np.any(learning):
            return
        new = []
        for k, (W, b) in enumerate(self.weights):
            Wc, bc = self._w_arrays(k)
            new.append((W + (Wc[learning] - W).mean(axis=0), b + (bc[learning] - b).mean(axis=0)))
        if not all(np.all(np.isfinite(W)) and np.all(np.isfinite(b)) for W, b in new):
            raise PlastlabError(f"{self.name}: weights became non-finite (learning rate eta = {self.params.eta} "
                                "too large?)")
        self.weights = new
        self._set_weights_all(new)
        self._update_feedback()

    # --- running ----------------------------------------------------------------------------------------

    def _reset_state(self):
        for g in self.layers:
            g.u_E = 0
            g.u_I = 0
        if self.ctrl is not None:
            self.ctrl.c_int = 0

    def _network(self):
        """The one Brian2 Network of this circuit (built on first use, reused for every batch and epoch)."""
        if self.net is None:
            self.net = Network(*self._objects)
            if self.teacher is not None:
                self.net.add(*self.teacher._objects)
        return self.net

    def _run(self, duration, extra):
        net = self._network()
        net.add(*extra)
        gc.collect()
        gc.freeze()  # Network.run calls gc.collect() every run; freezing the built objects keeps that cheap
        try:
            net.run(duration, namespace={})
        finally:
            gc.unfreeze()
            net.remove(*extra)

    def present(self, X, Y=None, *, learn=False, progress=None):
        """Present samples X (n, n_in) in batches of ``copies``: open loop, then (learn=True) closed loop
        towards targets Y (n, n_out) and the weight update. One Brian2 run for all batches.

        Returns the open-loop outputs (n, n_out) read at the end of each sample's open-loop phase."""
        X = np.asarray(X, dtype=float)
        n_in, n_out, B, p = self.sizes[0], self.sizes[-1], self.copies, self.params
        if "f" in self.inp.variables:
            raise DataError(f"{self.name}: this circuit reads sinusoidal input streams; use run_online")
        if p.t_open <= 0:
            raise DataError(f"{self.name}: presenting samples needs an open-loop phase: t_open > 0")
        if X.ndim != 2 or X.shape[1] != n_in:
            raise DataError(f"{self.name}: inputs have shape {X.shape}, expected (n_samples, {n_in})")
        if not np.all(np.isfinite(X)):
            raise DataError(f"{self.name}: inputs contain NaN or infinite values")
        if learn:
            if self.rule is None:
                raise PlastlabError(f"{self.name}: a circuit without a rule cannot learn")
            Y = np.asarray(Y, dtype=float) if Y is not None else None
            if Y is None or Y.ndim != 2 or Y.shape != (X.shape[0], n_out):
                raise DataError(f"{self.name}: targets have shape {None if Y is None else Y.shape}, expected "
                                f"({X.shape[0]}, {n_out}) for {X.shape[0]} samples and {n_out} outputs")
            if not np.all(np.isfinite(Y)):
                raise DataError(f"{self.name}: targets contain NaN or infinite values")
        n = X.shape[0]
        n_batches = -(-n // B)
        t_open = p.t_open * ms
        t_batch = (p.t_batch if learn else p.t_open) * ms
        outputs = np.zeros((n, n_out))
        state = {"step": 0, "open_read": False}

        def load(k, now):
            idx = np.arange(k * B, min((k + 1) * B, n))
            valid = np.zeros(B, bool)
            valid[:len(idx)] = True
            Xb = np.zeros((B, n_in))
            Xb[:len(idx)] = X[idx]
            self.inp.r = Xb.ravel()
            self._reset_state()
            for g in self.layers:
                g.t0 = now
                g.learn = np.repeat(valid & learn, g.N // B).astype(float)
            if self.ctrl is not None:
                self.ctrl.t0 = now
                self.ctrl.ctrl_on = np.repeat(valid & learn, n_out).astype(float)
                if learn:
                    Yb = np.zeros((B, n_out))
                    Yb[:len(idx)] = Y[idx]
                    self.ctrl.target = Yb.ravel()
            state.update(idx=idx, valid=valid, open_read=False, t0=now)

        def read_open():
            outputs[state["idx"]] = np.asarray(self.out.r[:]).reshape(B, n_out)[:len(state["idx"])]
            state["open_read"] = True

        def finish():
            if not state["open_read"]:
                read_open()
            if learn:
                self._absorb_updates(state["valid"])
            if progress is not None:
                progress.update(len(state["idx"]))

        steps_batch = int(round(float(t_batch / self.clock.dt)))
        steps_open = int(round(float(t_open / self.clock.dt)))

        @network_operation(when="start", clock=self.clock, name=f"{self.name}_batches")
        def batches(t):
            # counts steps on the circuit's own clock, so batches start wherever the previous run ended
            step = state["step"]
            if step % steps_batch == 0:
                if step > 0:
                    finish()
                load(step // steps_batch, float(t / second) * second)  # a copy: t is a view on the clock
            elif learn and step % steps_batch == steps_open:
                read_open()  # the state at the end of the open-loop phase, before the controller acts
            state["step"] = step + 1

        extra = [batches]
        self._run(n_batches * t_batch, extra)
        finish()
        return outputs

    def run_online(self, duration, *, learn=True, sync_every=10.0, record_every=5.0, progress=None):
        """Online learning from a stream (``inputs="sinusoid"`` and a ``teacher``): copy 0 runs closed loop
        and plastic all the time; every other copy is an open-loop probe whose weights follow copy 0 every
        ``sync_every`` ms (so its output is the student's own prediction on the current input).

        Returns (times in s, probe outputs (n, n_out), teacher outputs (n, n_out), closed-loop outputs), sampled
        every ``record_every`` ms. One Brian2 run; call again to continue."""
        if self.teacher is None or self.ctrl is None:
            raise PlastlabError(f"{self.name}: online learning needs a rule and a teacher circuit")
        if self.copies < 2:
            raise DataError(f"{self.name}: online learning needs copies >= 2 (copy 0 learns, the others probe)")
        if self.params.t_open != 0 or self.params.t_closed != 0:
            raise DataError(f"{self.name}: online learning runs without phases: set t_open = t_closed = 0")
        B, n_out = self.copies, self.sizes[-1]
        learning = np.zeros(B, bool)
        learning[0] = True
        for g in self.layers:
            g.t0 = 0 * second
            g.learn = np.repeat(learning & learn, g.N // B).astype(float)
        self.ctrl.t0 = 0 * second
        self.ctrl.ctrl_on = np.repeat(learning, n_out).astype(float)
        rows = []

        @network_operation(dt=sync_every * ms, when="end", name=f"{self.name}_sync")
        def sync(t):
            if learn:
                self._absorb_updates(learning)
            if progress is not None:
                progress.update(sync_every)

        @network_operation(dt=record_every * ms, when="end", name=f"{self.name}_record")
        def record(t):
            y = np.asarray(self.out.r[:]).reshape(B, n_out)
            target = np.asarray(self.teacher.out.r[:]).reshape(B, n_out)  # the teacher now (ctrl.target lags a step)
            rows.append((float(t / second), y[1].copy(), target[1].copy(), y[0].copy()))

        self._run(duration * ms, [sync, record])
        times = np.array([r[0] for r in rows])
        return times, np.array([r[1] for r in rows]), np.array([r[2] for r in rows]), np.array([r[3] for r in rows])


def softplus_inverse(r, beta=1.0):
    r = np.asarray(r, dtype=float)
    if np.any(r <= 0):
        raise DataError("rates must be positive to invert the soft-ReLU")
    return np.where(beta * r > 30, r, np.log(np.expm1(beta * r)) / beta)


def plasticity_curves(rule, r_E, r_I, *, params=None, t_settle=100.0, t_window=1.0, codegen="numpy"):
    """Δw of one synapse (presynaptic rate 1) on a microcircuit held at each (r_I, r_E), top-down input removed.

    Every (r_I, r_E) pair is one unit of a single Brian2 layer: its feed-forward drive and an extra input to
    its interneuron are chosen so that the open-loop steady state has exactly these rates; the circuit settles
    for ``t_settle`` ms without plasticity, then the rule runs for ``t_window`` ms. Returns (Δw / t_window in
    1/second, measured r_E, measured r_I), each of shape (len(r_I), len(r_E))."""
    r_E, r_I = np.atleast_1d(np.asarray(r_E, float)), np.atleast_1d(np.asarray(r_I, float))
    params = params if isinstance(params, CircuitParams) else CircuitParams.from_dict(
        dict({"t_open": 0.0, "t_closed": 0.0, "t_plast": 0.0, "k_p": 0.0, "k_i": 0.0, "eta_fan_in": 0.0},
             **(params or {})))
    beta = params.beta
    grid_E, grid_I = np.meshgrid(r_E, r_I)
    u_E, u_I = softplus_inverse(grid_E, beta), softplus_inverse(grid_I, beta)
    n = grid_E.size
    # steady state without control: u_E = drive - r_I and u_I = r_E + I_I
    weights = [(np.zeros((1, n)), (u_E + grid_I).ravel())]
    circuit = DisinhibitoryCircuit([1, n], rule=rule, params=params, copies=1, weights=weights, codegen=codegen,
                                   name="curves")
    layer = circuit.layers[0]
    layer.I_I = (u_I - grid_E).ravel()
    circuit.inp.r = 1.0
    layer.u_E, layer.u_I = u_E.ravel(), u_I.ravel()
    layer.t0 = 0 * second
    circuit.ctrl.ctrl_on = 0
    layer.learn = 0
    circuit._run(t_settle * ms, [])
    measured_E, measured_I = np.asarray(layer.r[:]).copy(), np.asarray(layer.r_I[:]).copy()
    w0 = circuit._w_arrays(0)[0][0, 0].copy()
    layer.learn = 1
    circuit._run(t_window * ms, [])
    dw = (circuit._w_arrays(0)[0][0, 0] - w0) / (t_window * 1e-3)
    shape = grid_E.shape
    return dw.reshape(shape), measured_E.reshape(shape), measured_I.reshape(shape)
