"""Dis-inhibitory control of plasticity (Rossbroich & Zenke 2023) as a rate microcircuit in Brian2.

Every hidden unit is a microcircuit: an excitatory unit E and an inhibitory interneuron I (Dale's law),

    tau_E du_E/dt = -u_E + W r_pre + b - phi_I(u_I)          r   = phi_E(u_E)   (what the next layer reads)
    tau_I du_I/dt = -u_I + phi_E(u_E) - top                  r_I = phi_I(u_I)

with phi the soft-ReLU log(1 + exp(beta*u))/beta. As published (``readout = "linear"``), the readout is a linear
leaky unit without bias that receives the control directly, tau_E dy/dt = -y + W r + c. A leaky PI controller on
the output error (``error = "softmax"``: e = target - softmax(y), the cross-entropy gradient),

    c = k_p e + k_i c_int,      tau_C dc_int/dt = e - lam c_int,

reaches the interneurons as top = Q c: the control *dis-inhibits*. Q (``feedback = "jacobian"``) is each sample's
output Jacobian at the open-loop steady state, including the slopes phi_E' and phi_I', normalised to unit norm.

Protocol per minibatch (``copies`` samples side by side in the same NeuronGroups): open loop from rest until the
state stops changing (rms of d(state)/dt below ``atol + rtol * rms(state)``, per second, as the reference code's
steady-state event; at most ``t_max`` ms), then closed loop from there until steady again, then one step with the
layer variable ``plastic`` = 1 in which the rule files' dw/dt run (``rules/disinhibitory.toml`` or
``disinhibitory_linear.toml`` for hidden layers, ``disinhibitory_readout.toml`` for the readout). Each copy's change
divided by eta*dt is the rule's value; its minibatch mean is handed to Adam (lr 1e-3) as the descent direction.

``steady_state = "newton"`` reaches the same steady states without integrating them: the open loop's fixed point
as for backprop (:func:`steady_state_forward`), the closed loop's by damped Newton on the same equations
(:func:`closed_loop_steady_state`), written into the Brian2 groups, where one step with ``plastic`` = 1 runs the
rules as before (only the steady states enter the rule; tests/test_disinhibitory_steady_state.py shows the updates
equal to Brian2 integrated to a tight tolerance; a closed loop Newton does not solve is integrated).

Earlier departures are named options (``CircuitParams``): ``readout = "microcircuit"`` (an E/I output layer with
bias, feedback q_out * identity), ``error = "difference"`` (target - y), ``feedback = "weights"`` (Q from the weights
only, no slopes), ``optimizer = "sgd"`` (the rule's raw change with eta / n_pre), ``phases = "fixed"`` (fixed
t_open / t_closed instead of steady state), ``linearise = "fixed"`` (theta, delta constant instead of the
linearisation around the minibatch's mean inhibition).
"""
import weakref
from dataclasses import dataclass, fields

import numpy as np
from brian2 import Clock, Network, NetworkOperation, NeuronGroup, Synapses, ms, network_operation, second

from ..brian.requirements import Offer, require
from ..brian.settings import brian_settings
from ..config import Param, validate
from ..errors import DataError, PlastlabError
from ..brian.codegen import synapses
from ..rules.files import load_rule

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

_positive = dict(low=0, strict=True)
#: the [circuit] table: published values by default, earlier departures as named options
CIRCUIT = {
    "tau_E": Param(float, 20.0, **_positive, doc="ms"), "tau_I": Param(float, 5.0, **_positive),
    "tau_C": Param(float, 100.0, **_positive), "k_p": Param(float, 0.2, low=0), "k_i": Param(float, 0.4, low=0),
    "lam": Param(float, 1.0, low=0), "beta": Param(float, 1.0, **_positive), "dt": Param(float, 1.0, **_positive),
    "readout": Param(str, "linear", choices=("linear", "microcircuit")),
    "error": Param(str, "softmax", choices=("softmax", "difference")),
    "softmax_gain": Param(float, 1.0, **_positive), "rate_anchor": Param(float, 0.0, low=0),
    "rate_level": Param(float, 0.0, low=0),
    "feedback": Param(str, "jacobian", choices=("jacobian", "weights")),
    "q_norm": Param(float, 1.0, low=0, doc="norm of each Q (jacobian) / mean column norm (weights)"),
    "q_out": Param(float, 1.0, low=0, doc="microcircuit readout: feedback q_out * identity"),
    "optimizer": Param(str, "adam", choices=("adam", "sgd")),
    "lr": Param(float, 1e-3, **_positive, doc="Adam's learning rate"),
    "eta": Param(float, 1.0, low=0, doc="the rules' eta (1/second); sgd: the learning rate, / n_pre**eta_fan_in"),
    "eta_fan_in": Param(float, 1.0, low=0),
    "phases": Param(str, "steady_state", choices=("steady_state", "fixed")),
    "steady_state": Param(str, "integrate", choices=("integrate", "newton"),
                          doc="integrate the ODEs in Brian2 until steady, or solve the fixed point by Newton"),
    "rtol": Param(float, 1e-3, **_positive), "atol": Param(float, 1e-6, **_positive),
    "t_max": Param(float, 2000.0, **_positive, doc="ms per phase at most (steady_state)"),
    "t_open": Param(float, 30.0, low=0, doc="ms (phases = fixed)"), "t_closed": Param(float, 30.0, low=0),
    "linearise": Param(str, "batch_mean", choices=("batch_mean", "fixed")),
    "theta": Param(float, 1.5), "delta": Param(float, 1.5), "inhibition_init": Param(float, 0.8, **_positive),
    "init_scale": Param(float, 1.0, low=0),
}


@dataclass
class CircuitParams:
    """Numbers and options of the microcircuit, its controller and its protocol (times in ms); see CIRCUIT."""

    tau_E: float = 20.0
    tau_I: float = 5.0
    tau_C: float = 100.0
    k_p: float = 0.2
    k_i: float = 0.4
    lam: float = 1.0
    beta: float = 1.0
    dt: float = 1.0
    readout: str = "linear"
    error: str = "softmax"
    softmax_gain: float = 1.0
    rate_anchor: float = 0.0
    rate_level: float = 0.0
    feedback: str = "jacobian"
    q_norm: float = 1.0
    q_out: float = 1.0
    optimizer: str = "adam"
    lr: float = 1e-3
    eta: float = 1.0
    eta_fan_in: float = 1.0
    phases: str = "steady_state"
    steady_state: str = "integrate"
    rtol: float = 1e-3
    atol: float = 1e-6
    t_max: float = 2000.0
    t_open: float = 30.0
    t_closed: float = 30.0
    linearise: str = "batch_mean"
    theta: float = 1.5
    delta: float = 1.5
    inhibition_init: float = 0.8
    init_scale: float = 1.0

    @classmethod
    def from_dict(cls, values, *, file=None, section="circuit"):
        """Checked through the declared table CIRCUIT (ConfigError naming the key)."""
        checked = validate(dict(values or {}), CIRCUIT, file=file, section=section)
        params = cls(**checked)
        from ..errors import ConfigError
        if params.dt > min(params.tau_E, params.tau_I):  # Euler's fixed points are the ODEs'; this keeps it stable
            raise ConfigError(f"dt = {params.dt} ms is too coarse for tau_E = {params.tau_E} ms, tau_I = "
                              f"{params.tau_I} ms (need dt <= the smallest tau for the Euler rate equations)",
                              file=file, section=section, key="dt")
        if params.optimizer == "adam" and params.eta <= 0:
            raise ConfigError("must be positive with optimizer = 'adam' (the change is divided by it)", file=file,
                              section=section, key="eta")
        if params.steady_state == "newton":
            for key, ok, why in (("phases", params.phases == "steady_state", "phases = 'steady_state'"),
                                 ("readout", params.readout == "linear", "the linear readout"),
                                 ("lam", params.lam > 0, "a leaky controller (lam > 0)")):
                if not ok:
                    raise ConfigError(f"steady_state = 'newton' needs {why}", file=file, section=section, key=key)
        for key in ("t_open", "t_closed", "t_max"):
            steps = getattr(params, key) / params.dt
            if abs(steps - round(steps)) > 1e-9:
                raise ConfigError(f"{getattr(params, key)} ms is not a whole number of dt steps (dt = {params.dt} "
                                  "ms)", file=file, section=section, key=key)
        return params

    def table(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}


def check_rule(rule, offer=HIDDEN_OFFER):
    """Refuse, before anything is built, a rule this circuit cannot run: one line naming what is missing."""
    return require(load_rule(rule), offer)


def softplus(u, beta=1.0):
    u = np.asarray(u, dtype=float)
    return (np.maximum(beta * u, 0) + np.log1p(np.exp(-np.abs(beta * u)))) / beta


def softplus_slope(u, beta=1.0):
    return 1 / (1 + np.exp(-beta * np.asarray(u, dtype=float)))


def softplus_inverse(r, beta=1.0):
    r = np.asarray(r, dtype=float)
    if np.any(r <= 0):
        raise DataError("rates must be positive to invert the soft-ReLU")
    return np.where(beta * r > 30, r, np.log(np.expm1(np.minimum(beta * r, 30))) / beta)


def linearised_inverse(r0, beta=1.0):
    """(intercept, slope) of the soft-ReLU's inverse linearised around the rate r0 (first-order Taylor)."""
    u0 = softplus_inverse(r0, beta)
    slope = 1 / softplus_slope(u0, beta)
    return u0 - r0 * slope, slope


def init_weights(sizes, rng, scale=1.0, *, readout_bias=False):
    """[(W (n_pre, n_post), b (n_post)), ...] with W ~ N(0, scale^2/n_pre) and b = 0."""
    return [(rng.normal(0.0, scale / np.sqrt(n_pre), size=(n_pre, n_post)), np.zeros(n_post))
            for n_pre, n_post in zip(sizes[:-1], sizes[1:])]


def weight_feedback(weights, q_norm=1.0):
    """Option ``feedback = "weights"``: Q (n_out, n_l) for each hidden layer from the downstream weights only,
    normalised so that its rows have mean norm q_norm."""
    out = []
    for layer in range(len(weights) - 1):
        J = np.eye(weights[-1][0].shape[1])
        for W, _ in reversed(weights[layer + 1:]):
            J = W @ J
        norm = np.sqrt((J ** 2).sum(axis=0)).mean()
        out.append((q_norm * J / (norm if norm > 0 else 1.0)).T)
    return out


def jacobian_feedback(weights, u_E, u_I, beta=1.0, q_norm=1.0):
    """Published Q: for each hidden layer l and copy, d y / d u_E(l) through the linearised network (slopes
    phi_E'), times phi_I'(u_I(l)), scaled to Frobenius norm q_norm. ``u_E``/``u_I``: per hidden layer
    (copies, n_l). Returns per layer (copies, n_out, n_l)."""
    out = [None] * len(u_E)
    J = None
    for layer in reversed(range(len(u_E))):
        W_next = weights[layer + 1][0]  # (n_l, n_next)
        D = softplus_slope(u_E[layer], beta)  # (copies, n_l)
        J = (W_next.T[None] if J is None else np.einsum("bkn,ln->bkl", J, W_next)) * D[:, None, :]
        Q = J * softplus_slope(u_I[layer], beta)[:, None, :]
        norm = np.sqrt((Q ** 2).sum(axis=(1, 2), keepdims=True))
        out[layer] = q_norm * Q / np.where(norm > 0, norm, 1.0)
    return out


class Adam:
    """Adam (Kingma & Ba 2015) as optax/PyTorch implement it: one moment pair per parameter array."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = self.v = None
        self.t = 0

    def step(self, params, grads):
        """New parameters (a list of arrays) after one descent step along ``grads``."""
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        out = []
        for k, (p, g) in enumerate(zip(params, grads)):
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * g
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * g * g
            m_hat = self.m[k] / (1 - self.beta1 ** self.t)
            v_hat = self.v[k] / (1 - self.beta2 ** self.t)
            out.append(p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps))
        return out


def _dense(B, n_pre, n_post):
    """i, j of all-to-all connections inside each copy, ordered (copy, pre, post)."""
    b, p, q = np.meshgrid(np.arange(B), np.arange(n_pre), np.arange(n_post), indexing="ij")
    return {"i": (b * n_pre + p).ravel(), "j": (b * n_post + q).ravel()}


class DisinhibitoryCircuit:
    """A layered dis-inhibitory network in Brian2: ``copies`` parallel copies of ``sizes`` (inputs first).

    ``rule``: name, path or Rule for the hidden layers' plastic feed-forward and bias synapses (``None`` gives a
    frozen network, e.g. a teacher); ``readout_rule`` for the linear readout's. ``inputs``: "static" (rates set
    per sample) or "sinusoid" (r_j = 0.5 + 0.5 sin(2 pi f_j t + phase_j)). ``teacher``: another circuit whose
    output is the target (online student-teacher). Brian2 objects are built and run inside
    ``brian_settings(target=codegen)``; nothing process-wide is changed.
    """

    def __init__(self, sizes, *, rule="disinhibitory", readout_rule="disinhibitory_readout", params=None, copies=1,
                 seed=0, weights=None, inputs="static", frequencies=None, phases=None, teacher=None,
                 codegen="numpy", name="circuit"):
        self.sizes = [int(n) for n in sizes]
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise DataError(f"{name}: layer sizes must be at least [n_in, n_out] with positive sizes, got {sizes}")
        self.params = params if isinstance(params, CircuitParams) else CircuitParams.from_dict(params)
        self.linear = self.params.readout == "linear"
        if self.linear and len(self.sizes) < 3:
            raise DataError(f"{name}: a linear readout needs at least one hidden layer (sizes {sizes})")
        self.rule = check_rule(rule) if rule is not None else None
        self.readout_rule = (check_rule(readout_rule, READOUT_OFFER) if rule is not None and self.linear
                             else self.rule)
        if self.rule is not None and "beta" in self.rule.parameters and \
                abs(float(self.rule.parameters["beta"]) - self.params.beta) > 1e-12:
            raise PlastlabError(f"{name}: rule '{self.rule.name}' assumes beta = {self.rule.parameters['beta']} "
                                f"but the circuit's soft-ReLU has beta = {self.params.beta}")
        self.copies, self.name, self.teacher, self.codegen = int(copies), name, teacher, codegen
        self.rng = np.random.default_rng(seed)
        weights = weights if weights is not None else init_weights(self.sizes, self.rng, self.params.init_scale)
        self._check_weights(weights)
        self.weights = [(np.array(W, float), np.array(b, float)) for W, b in weights]
        self.optimizer = Adam(self.params.lr) if self.params.optimizer == "adam" else None
        self.inhibition = [np.full(n, self.params.inhibition_init) for n in self.sizes[1:-1]]
        with brian_settings(target=codegen):
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
                  beta=p.beta, g_sm=p.softmax_gain, rate_anchor=p.rate_anchor, rate_level=p.rate_level,
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
        n_layers = len(self.sizes) - 1
        for k, n in enumerate(self.sizes[1:]):
            readout = self.linear and k == n_layers - 1
            rule = self.readout_rule if readout else self.rule
            if rule is not None:  # the learning rate this layer runs the rule with (set_eta changes it later)
                rule = rule.with_parameters(eta=self._layer_eta(k) / second)
            g = NeuronGroup(n * B, READOUT_EQS if readout else LAYER_EQS, method="euler", namespace=ns,
                            clock=self.clock, name=f"{self.name}_layer{k}")
            if not readout:
                g.theta_lin, g.delta_lin = p.theta, p.delta
            self.layers.append(g)
            self.ff.append(self._plastic(rule, pre, g, "I_ff_post = w*r_pre : 1 (summed)", ns,
                                         _dense(B, pre.N // B, n), f"{self.name}_ff{k}"))
            if not readout:  # the published readout has no bias
                self.b_syn.append(self._plastic(rule, self.bias, g, "I_b_post = w*r_pre : 1 (summed)", ns,
                                                {"i": np.zeros(n * B, int), "j": np.arange(n * B)},
                                                f"{self.name}_bias{k}"))
            pre = g
        self.out = self.layers[-1]
        self.hidden = self.layers[:-1]  # E/I layers fed back through Q (a microcircuit readout gets q_out * 1)
        objects = [self.inp, self.bias, *self.layers, *self.ff, *self.b_syn]
        self.ctrl = None
        if self.rule is not None:
            objects += self._controller(ns)
        self._objects = objects
        self.net = None
        self._perm = [self._permutation(s, pre_n, post_n)
                      for s, pre_n, post_n in zip(self.ff, self.sizes[:-1], self.sizes[1:])]
        self._set_weights_all(self.weights)
        self._set_static_feedback()

    def _controller(self, ns):
        """The PI controller on the output, its feedback onto every layer (and the target from a teacher)."""
        p, B, n_out = self.params, self.copies, self.sizes[-1]
        eqs = CONTROLLER_EQS + (SOFTMAX_ERROR if p.error == "softmax" else DIFFERENCE_ERROR)
        self.ctrl = NeuronGroup(n_out * B, eqs, method="euler", namespace=ns, clock=self.clock,
                                name=f"{self.name}_controller")
        read = Synapses(self.out, self.ctrl, "y_post = r_pre : 1 (summed)", namespace=ns, clock=self.clock,
                        name=f"{self.name}_readout_to_controller")
        read.connect(j="i")
        objects = [self.ctrl, read]
        if p.error == "softmax":  # per copy: Z = sum_k exp(g y_k), y_sum = sum_k y_k
            softmax = Synapses(self.out, self.ctrl, "Z_post = exp(g_sm*r_pre) : 1 (summed)\n"
                               "y_sum_post = r_pre : 1 (summed)", namespace=ns, clock=self.clock,
                               name=f"{self.name}_softmax")
            softmax.connect(**_dense(B, n_out, n_out))
            objects.append(softmax)
        if self.teacher is not None:
            if self.teacher.sizes[-1] != n_out or self.teacher.copies != B:
                raise DataError(f"{self.name}: teacher output {self.teacher.sizes[-1]} x {self.teacher.copies} "
                                f"copies does not match {n_out} x {B}")
            tsyn = Synapses(self.teacher.out, self.ctrl, "target_post = r_pre : 1 (summed)", namespace=ns,
                            clock=self.clock, name=f"{self.name}_teacher_target")
            tsyn.connect(j="i")
            objects.append(tsyn)
        for k, g in enumerate(self.layers):
            n = self.sizes[k + 1]
            fb = Synapses(self.ctrl, g, "q : 1\ntop_post = q*c_pre : 1 (summed)", namespace=ns, clock=self.clock,
                          name=f"{self.name}_feedback{k}")
            fb.connect(**_dense(B, n_out, n))
            self.fb.append(fb)
            objects.append(fb)
        return objects

    def _layer_eta(self, k):
        """The rules' eta: with Adam only a scale (the change is divided by eta*dt again); with sgd eta/n_pre."""
        p = self.params
        return p.eta if p.optimizer == "adam" else p.eta / self.sizes[k] ** p.eta_fan_in

    def set_eta(self, eta):
        """Change the rules' learning rate (1/second) for the next runs (optimizer = "sgd")."""
        self.params.eta = float(eta)
        for k, syn in enumerate(self.ff):
            syn.namespace["eta"] = self._layer_eta(k) / second
        for k, syn in enumerate(self.b_syn):
            syn.namespace["eta"] = self._layer_eta(k) / second

    def _plastic(self, rule, pre, post, summed, namespace, connections, name):
        if rule is None:
            syn = Synapses(pre, post, "w : 1\n" + summed, namespace=namespace, clock=self.clock, name=name)
        else:
            syn = synapses(rule, pre, post, extra_model=summed, namespace=namespace, method="euler",
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

    def _w_arrays(self, k):
        """(feed-forward w as (copies, n_pre, n_post), bias w as (copies, n_post)) of layer k."""
        wv = self.ff[k].variables["w"].get_value()
        n_pre, n_post = self.sizes[k], self.sizes[k + 1]
        W = wv[self._perm[k]].reshape(self.copies, n_pre, n_post)
        if k < len(self.b_syn):
            return W, self.b_syn[k].variables["w"].get_value().reshape(self.copies, n_post)
        return W, np.zeros((self.copies, n_post))

    def _set_weights_all(self, weights):
        for k, (W, b) in enumerate(weights):
            wv = self.ff[k].variables["w"].get_value()
            wv[self._perm[k]] = np.broadcast_to(W, (self.copies,) + W.shape).reshape(-1)
            if k < len(self.b_syn):
                self.b_syn[k].variables["w"].get_value()[:] = np.tile(b, self.copies)

    def set_weights(self, weights):
        """Replace the shared weights (e.g. by the best epoch's), in every copy."""
        self._check_weights(weights)
        self.weights = [(np.array(W, float), np.array(b, float)) for W, b in weights]
        self._set_weights_all(self.weights)
        self._set_static_feedback()

    def _set_q(self, k, Q):
        """Feedback onto layer k: Q of shape (n_out, n) (all copies) or (copies, n_out, n)."""
        fb, n, n_out = self.fb[k], self.sizes[k + 1], self.sizes[-1]
        Q = np.broadcast_to(Q, (self.copies, n_out, n))
        i, j = np.asarray(fb.i[:]), np.asarray(fb.j[:])
        fb.variables["q"].get_value()[:] = Q[i // n_out, i % n_out, j % n]

    def _set_static_feedback(self):
        """Feedback that does not depend on the state: the readout's own, and Q from the weights (option)."""
        if self.ctrl is None:
            return
        p = self.params
        self._set_q(len(self.layers) - 1, (1.0 if self.linear else p.q_out) * np.eye(self.sizes[-1]))
        if p.feedback == "weights":
            for k, Q in enumerate(weight_feedback(self.weights, p.q_norm)):
                self._set_q(k, Q)

    def _state_feedback(self, valid):
        """Published Q from each copy's current (open-loop steady) state; and the linearisation point of the
        linear-threshold rule: the minibatch's mean inhibition per neuron."""
        p = self.params
        u_E = [np.asarray(g.u_E[:]).reshape(self.copies, -1) for g in self.hidden]
        u_I = [np.asarray(g.u_I[:]).reshape(self.copies, -1) for g in self.hidden]
        if p.feedback == "jacobian":
            for k, Q in enumerate(jacobian_feedback(self.weights, u_E, u_I, p.beta, p.q_norm)):
                self._set_q(k, Q)
        if p.linearise == "batch_mean" and np.any(valid):
            for k, g in enumerate(self.hidden):
                self.inhibition[k] = softplus(u_I[k][valid], p.beta).mean(axis=0)
                theta, delta = linearised_inverse(self.inhibition[k], p.beta)
                g.theta_lin, g.delta_lin = np.tile(theta, self.copies), np.tile(delta, self.copies)

    def _absorb(self, learning):
        """Apply the rule's minibatch-mean change: Adam on it (published) or as it is (sgd)."""
        if not np.any(learning):
            return
        params, directions = [], []
        for k, (W, b) in enumerate(self.weights):
            Wc, bc = self._w_arrays(k)
            params += [W, b]
            directions += [(Wc[learning] - W).mean(axis=0), (bc[learning] - b).mean(axis=0)]
        if self.optimizer is not None:
            scale = [self._layer_eta(k) * self.params.dt * 1e-3 for k in range(len(self.weights)) for _ in (0, 1)]
            new = self.optimizer.step(params, [-d / s for d, s in zip(directions, scale)])
        else:
            new = [p + d for p, d in zip(params, directions)]
        if not all(np.all(np.isfinite(x)) for x in new):
            raise PlastlabError(f"{self.name}: weights became non-finite (learning rate too large?)")
        self.weights = [(new[2 * k], new[2 * k + 1]) for k in range(len(self.weights))]
        self._set_weights_all(self.weights)
        if self.params.feedback == "weights":
            self._set_static_feedback()

    # --- running ----------------------------------------------------------------------------------------

    def _state(self, with_controller):
        """(copies, n_state): every dynamic variable, to test for a steady state."""
        parts = []
        for g in self.layers:
            for name in ("u_E", "u_I") if "u_E" in g.variables else ("r",):
                parts.append(g.variables[name].get_value().reshape(self.copies, -1))
        if with_controller:
            parts.append(self.ctrl.variables["c_int"].get_value().reshape(self.copies, -1))
        return np.concatenate(parts, axis=1).copy()

    def _reset_state(self):
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
        try:
            with brian_settings(target=self.codegen):
                net.run(duration, namespace={})
        finally:
            net.remove(*extra)

    def present(self, X, Y=None, *, learn=False, progress=None, schedule="one_run"):
        """Present samples X (n, n_in) in batches of ``copies``: open loop, then (learn=True) closed loop
        towards targets Y (n, n_out) and the weight update.

        ``schedule = "one_run"``: every batch, phase and plastic step runs in a single Brian2 run. Brian2 prepares
        (code-generates and binds) every object at the start of each run, ~0.2 s for this network; the earlier
        schedule (``"run_per_batch"``, kept to check and time against: benchmarks/disinhibitory_epoch.py) stopped
        for each batch's plastic step and paid that twice per minibatch. Outside the plastic step the rules'
        dw/dt is not computed in either schedule (with the gate at 0 it changes nothing; see ``_rule_code``).
        Both schedules integrate the same equations step for step and give the same numbers.
        Returns the open-loop outputs (n, n_out) at the open-loop steady state; ``self.last_steps`` holds the
        steps each phase took per batch."""
        if schedule not in ("one_run", "run_per_batch"):
            raise DataError(f"{self.name}: schedule must be 'one_run' or 'run_per_batch', got {schedule!r}")
        X, Y = self._check_samples(X, Y, learn)
        n, B = X.shape[0], self.copies
        if self.params.steady_state == "newton" and not learn:  # the open-loop fixed point is all that is used
            self.last_steps = [{"open": 0} for _ in range(-(-n // B))]
            if progress is not None:
                progress.update(n)
            return steady_state_forward(self.weights, X, self.params.beta)[0]
        one_run = schedule == "one_run" or self.params.steady_state == "newton"  # newton: one step per batch
        phases = _Phases(self, X, Y, learn, progress, stop_for_update=not one_run)
        max_steps = -(-n // B) * (phases.max_open + (phases.max_closed + 1 if learn else 0)) + 1
        op = NetworkOperation(phases.step, clock=self.clock, when="end", name=f"{self.name}_phases")
        phases.load(0)
        net = self._network()
        net.add(op)
        try:
            with brian_settings(target=self.codegen):
                self._integrate_rules(one_run)  # one_run: prepared once, skipped by _rule_code between updates
                while not phases.done and max_steps > 0:
                    start = self.clock.t_
                    net.run(max_steps * self.params.dt * ms, namespace={})
                    max_steps -= int(round((self.clock.t_ - start) / (self.params.dt * 1e-3)))
                    if phases.phase == "update" and not phases.done:
                        self._integrate_rules(True)
                        net.run(self.params.dt * ms, namespace={})
                        self._integrate_rules(False)
                        max_steps -= 1
        finally:
            self._rule_code(True)
            self._integrate_rules(True)
            net.remove(op)
        if not phases.done:
            raise PlastlabError(f"{self.name}: the protocol did not finish (internal error)")
        self.last_steps = phases.steps
        return phases.outputs

    def _feedback_matrices(self):
        """Q per hidden layer as the feedback synapses hold it: (copies, n_out, n_l)."""
        out, n_out = [], self.sizes[-1]
        for k in range(len(self.hidden)):
            fb, n = self.fb[k], self.sizes[k + 1]
            Q = np.zeros((self.copies, n_out, n))
            i, j = np.asarray(fb.i[:]), np.asarray(fb.j[:])
            Q[i // n_out, i % n_out, j % n] = fb.variables["q"].get_value()
            out.append(Q)
        return out

    def _write_steady_state(self, X, layers, y, c_int, c):
        """Put a fixed point (steady_state = "newton") into the Brian2 groups together with the summed inputs that
        belong to it, so that the next Euler step starts there and stays there (up to the solver's residual)."""
        p, B = self.params, self.copies
        r = X
        for (W, b), g, (u_E, u_I) in zip(self.weights, self.hidden, layers):
            g.u_E, g.u_I = u_E.ravel(), u_I.ravel()
            g.I_ff, g.I_b = (r @ W).ravel(), np.tile(b, B)
            r = softplus(u_E, p.beta)
        self.out.r, self.out.I_ff = y.ravel(), (r @ self.weights[-1][0]).ravel()
        self.ctrl.c_int, self.ctrl.y = c_int.ravel(), y.ravel()
        n_out = self.sizes[-1]
        if "Z" in self.ctrl.variables:
            self.ctrl.Z = np.repeat(np.exp(p.softmax_gain * y).sum(axis=1), n_out)
            self.ctrl.y_sum = np.repeat(y.sum(axis=1), n_out)
        for g, Q in zip(self.hidden, self._feedback_matrices()):
            g.top = np.einsum("bk,bkn->bn", c, Q).ravel()
        self.out.top = c.ravel()

    def _integrate_rules(self, on):
        """Switch the plastic synapses' dw/dt integration on or off (read by Brian2 at the start of a run)."""
        if self.rule is not None:
            for syn in self.ff + self.b_syn:
                syn.state_updater.active = on

    def _rule_code(self, on):
        """Run or skip the plastic synapses' dw/dt code from the next step on, inside a run.

        Brian2 reads ``active`` only when a run starts, and a new run re-prepares every object; a run executes
        each object's list of code objects at every step, so emptying the state updater's list skips it and
        putting back its code object (made at the start of the run) runs it again."""
        if self.rule is None:
            return
        for syn in self.ff + self.b_syn:
            updater = syn.state_updater
            code = [weakref.proxy(updater.codeobj)] if on and updater.codeobj is not None else []
            updater.code_objects[:] = code

    def _check_samples(self, X, Y, learn):
        X = np.asarray(X, dtype=float)
        n_in, n_out = self.sizes[0], self.sizes[-1]
        if "f" in self.inp.variables:
            raise DataError(f"{self.name}: this circuit reads sinusoidal input streams; use run_online")
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
        return X, Y

    def run_online(self, duration, *, learn=True, sync_every=10.0, record_every=5.0, progress=None):
        """Online learning from a stream (``inputs="sinusoid"`` and a ``teacher``): copy 0 runs closed loop
        and plastic all the time; every other copy is an open-loop probe whose weights follow copy 0 every
        ``sync_every`` ms (so its output is the student's own prediction on the current input). Weight changes
        are applied as they are (the rule's continuous dw/dt); Q follows copy 0's state at every sync.

        Returns (times in s, probe outputs (n, n_out), teacher outputs (n, n_out), closed-loop outputs), sampled
        every ``record_every`` ms. One Brian2 run; call again to continue."""
        if self.teacher is None or self.ctrl is None:
            raise PlastlabError(f"{self.name}: online learning needs a rule and a teacher circuit")
        if self.copies < 2:
            raise DataError(f"{self.name}: online learning needs copies >= 2 (copy 0 learns, the others probe)")
        B, n_out = self.copies, self.sizes[-1]
        learning = np.zeros(B, bool)
        learning[0] = True
        for g in self.layers:
            g.plastic = np.repeat(learning & learn, g.N // B).astype(float)
        self.ctrl.closed = np.repeat(learning, n_out).astype(float)
        rows = []
        optimizer, self.optimizer = self.optimizer, None  # online: the rule's change as it is

        @network_operation(dt=sync_every * ms, when="end", name=f"{self.name}_sync")
        def sync(t):
            if learn:
                self._absorb(learning)
            self._state_feedback(learning)
            if progress is not None:
                progress.update(sync_every)

        @network_operation(dt=record_every * ms, when="end", name=f"{self.name}_record")
        def record(t):
            y = np.asarray(self.out.r[:]).reshape(B, n_out)
            target = np.asarray(self.teacher.out.r[:]).reshape(B, n_out)  # the teacher now (ctrl.target lags a step)
            rows.append((float(t / second), y[1].copy(), target[1].copy(), y[0].copy()))

        try:
            self._state_feedback(learning)
            self._run(duration * ms, [sync, record])
        finally:
            self.optimizer = optimizer
        times = np.array([r[0] for r in rows])
        return times, np.array([r[1] for r in rows]), np.array([r[2] for r in rows]), np.array([r[3] for r in rows])


class _Phases:
    """The per-batch protocol as a small state machine driven by a network_operation at the end of each step:
    load -> open loop (to steady state) -> [closed loop (to steady state) -> one plastic step -> absorb] -> next."""

    def __init__(self, circuit, X, Y, learn, progress, stop_for_update=False):
        self.c, self.X, self.Y, self.learn, self.progress = circuit, X, Y, learn, progress
        self.stop_for_update = stop_for_update  # run_per_batch: the plastic step is a run of its own
        p = circuit.params
        steady = p.phases == "steady_state"
        self.max_open = int(round((p.t_max if steady else p.t_open) / p.dt))
        self.max_closed = int(round((p.t_max if steady else p.t_closed) / p.dt))
        self.steady, self.dt_s = steady, p.dt * 1e-3
        self.outputs = np.zeros((X.shape[0], circuit.sizes[-1]))
        self.n_batches = -(-X.shape[0] // circuit.copies)
        self.steps, self.done, self.started = [], False, False

    def load(self, k):
        c, B, n_out = self.c, self.c.copies, self.c.sizes[-1]
        idx = np.arange(k * B, min((k + 1) * B, self.X.shape[0]))
        self.k, self.idx = k, idx
        self.valid = np.zeros(B, bool)
        self.valid[:len(idx)] = True
        Xb = np.zeros((B, c.sizes[0]))
        Xb[:len(idx)] = self.X[idx]
        c.inp.r = Xb.ravel()
        c._reset_state()
        if self.learn:
            Yb = np.zeros((B, n_out))
            Yb[:len(idx)] = self.Y[idx]
            c.ctrl.target = Yb.ravel()
        self.phase, self.count, self.previous = "open", 0, c._state(False)
        self.batch_steps = {}
        if self.learn and c.params.steady_state == "newton":
            self._solve(Xb, Yb)

    def _solve(self, X, Y):
        """steady_state = "newton": both fixed points solved, the closed one written into the network, the next
        step is the plastic one. A closed loop that Newton does not solve to 1e-10 is integrated as usual."""
        c, n_out = self.c, self.c.sizes[-1]
        y, cache = steady_state_forward(c.weights, X, c.params.beta)
        layers = [(u_E, u_I) for _, u_E, u_I in cache[:-1]]
        c._write_steady_state(X, layers, y, np.zeros_like(y), np.zeros_like(y))
        self.outputs[self.idx] = y[:len(self.idx)]
        c._state_feedback(self.valid)
        c.ctrl.closed = np.repeat(self.valid, n_out).astype(float)
        start = np.concatenate([u for pair in layers for u in pair] + [y], axis=1)
        state, c_int, control, iterations, converged = closed_loop_steady_state(
            c.weights, X, Y, c._feedback_matrices(), c.params, self.valid, start)
        self.batch_steps.update(open=0, closed=0, newton=iterations)
        if not converged[self.valid].all():
            self.batch_steps["newton_failed"] = int((~converged[self.valid]).sum())
            self.phase, self.count, self.previous = "closed", 0, c._state(True)
            return
        c._write_steady_state(X, state[:-1], state[-1], c_int, control)
        for g in c.layers:
            g.plastic = np.repeat(self.valid, g.N // c.copies).astype(float)
        self.phase = "update"
        c._rule_code(True)

    def _steady(self, with_controller):
        now = self.c._state(with_controller)
        previous, self.previous = self.previous, now
        if not self.steady or previous.shape != now.shape:
            return False
        rate = (now - previous)[self.valid] / self.dt_s
        rms = lambda a: np.sqrt((a ** 2).mean(axis=1))  # noqa: E731
        return bool(np.all(rms(rate) <= self.c.params.atol + self.c.params.rtol * rms(now[self.valid])))

    def step(self, t):
        if self.done:
            return
        if not self.started:  # the run has just prepared the rules' code: skip it until the plastic step
            self.c._rule_code(False)
            self.started = True
        self.count += 1
        c = self.c
        if self.phase == "open":
            if self._steady(False) or self.count >= self.max_open:
                self.batch_steps["open"] = self.count
                self.outputs[self.idx] = np.asarray(c.out.r[:]).reshape(c.copies, -1)[:len(self.idx)]
                if not self.learn:
                    return self._next()
                c._state_feedback(self.valid)
                c.ctrl.closed = np.repeat(self.valid, c.sizes[-1]).astype(float)
                self.phase, self.count, self.previous = "closed", 0, c._state(True)
        elif self.phase == "closed":
            if self._steady(True) or self.count >= self.max_closed:
                self.batch_steps["closed"] = self.count
                for g in c.layers:
                    g.plastic = np.repeat(self.valid, g.N // c.copies).astype(float)
                self.phase = "update"
                if self.stop_for_update:
                    c.net.stop()  # the plastic step runs on its own (see present)
                else:
                    c._rule_code(True)
        else:  # one plastic step done
            c._rule_code(False)
            for g in c.layers:
                g.plastic = 0
            c._absorb(self.valid)
            self._next()

    def _next(self):
        self.steps.append(self.batch_steps)
        if self.progress is not None:
            self.progress.update(len(self.idx))
        if self.k + 1 < self.n_batches:
            self.load(self.k + 1)
        else:
            self.done = True
            self.c.net.stop()


def plasticity_curves(rule, r_E, r_I, *, params=None, t_settle=100.0, t_window=1.0, codegen="numpy"):
    """Δw of one synapse (presynaptic rate 1) on a microcircuit held at each (r_I, r_E), top-down input removed.

    Every (r_I, r_E) pair is one unit of a single Brian2 E/I layer: its feed-forward drive and an extra input to
    its interneuron are chosen so that the open-loop steady state has exactly these rates; the circuit settles
    for ``t_settle`` ms without plasticity, then the rule runs for ``t_window`` ms. The linear-threshold rule uses
    the constant (theta, delta) of ``params`` here. Returns (Δw / t_window in 1/second, measured r_E, measured
    r_I), each of shape (len(r_I), len(r_E))."""
    r_E, r_I = np.atleast_1d(np.asarray(r_E, float)), np.atleast_1d(np.asarray(r_I, float))
    table = dict({"k_p": 0.0, "k_i": 0.0, "eta_fan_in": 0.0}, **(params.table() if isinstance(params, CircuitParams)
                                                                 else params or {}))
    params = CircuitParams.from_dict(dict(table, readout="microcircuit", optimizer="sgd", linearise="fixed",
                                          phases="fixed", feedback="weights"))
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
    layer.plastic = 0
    circuit._run(t_settle * ms, [])
    measured_E, measured_I = np.asarray(layer.r[:]).copy(), np.asarray(layer.r_I[:]).copy()
    w0 = circuit._w_arrays(0)[0][0, 0].copy()
    layer.plastic = 1
    circuit._run(t_window * ms, [])
    dw = (circuit._w_arrays(0)[0][0, 0] - w0) / (t_window * 1e-3)
    shape = grid_E.shape
    return dw.reshape(shape), measured_E.reshape(shape), measured_I.reshape(shape)


# --- the same network trained by backprop (the baseline) ---------------------------------------------------------

def steady_state_forward(weights, X, beta=1.0, *, tol=1e-12, max_iter=100):
    """The circuit's open-loop steady state: per hidden layer u_E solving u_E + phi(phi(u_E)) = a (a = W r + b,
    Newton from u_E = a/2, monotone), r = phi(u_E); the readout y = W r (linear, no bias).

    Returns (y, cache) with the per-layer (a, u_E, u_I, r) for :func:`backprop_gradients`."""
    r, cache = np.asarray(X, float), []
    for W, b in weights[:-1]:
        a = r @ W + b
        u = np.minimum(a, a / 2)
        for _ in range(max_iter):
            u_I = softplus(u, beta)
            f = u + softplus(u_I, beta) - a
            step = f / (1 + softplus_slope(u_I, beta) * softplus_slope(u, beta))
            u = u - step
            if np.max(np.abs(step), initial=0) < tol:
                break
        cache.append((r, u, softplus(u, beta)))
        r = softplus(u, beta)
    return r @ weights[-1][0], cache + [(r, None, None)]


def backprop_gradients(weights, X, T, beta=1.0):
    """Loss and exact gradients [(dW, db), ...] of the softmax cross-entropy of the steady-state network
    (implicit differentiation of the E/I fixed point: du_E/da = 1 / (1 + phi'(u_I) phi'(u_E)))."""
    y, cache = steady_state_forward(weights, X, beta)
    z = y - y.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = float(-(T * np.log(np.maximum(p, 1e-300))).sum(axis=1).mean())
    delta = (p * T.sum(axis=1, keepdims=True) - T) / len(y)  # d loss / d y
    r_last = cache[-1][0]
    grads = [(r_last.T @ delta, np.zeros(weights[-1][0].shape[1]))]
    back = delta @ weights[-1][0].T  # d loss / d r of the last hidden layer
    for layer in reversed(range(len(weights) - 1)):
        r_in, u, u_I = cache[layer]
        slope = softplus_slope(u, beta)
        da = back * slope / (1 + softplus_slope(u_I, beta) * slope)
        grads.insert(0, (r_in.T @ da, da.sum(axis=0)))
        back = da @ weights[layer][0].T
    return loss, grads


def predict_steady_state(weights, X, beta=1.0):
    return steady_state_forward(weights, X, beta)[0]


# --- the closed loop's fixed point by Newton (option steady_state = "newton") ------------------------------------

def controller_error(y, T, params):
    """The controller's error e(y) and de/dy (copies, n_out, n_out), as the controller's equations define them."""
    p, n_out = params, y.shape[1]
    if p.error == "difference":
        return T - y, np.broadcast_to(-np.eye(n_out), (len(y), n_out, n_out))
    z = np.exp(p.softmax_gain * (y - y.max(axis=1, keepdims=True)))
    prob = z / z.sum(axis=1, keepdims=True)
    e = T - prob + p.rate_anchor * (p.rate_level - y.mean(axis=1, keepdims=True))
    de = -p.softmax_gain * (prob[:, :, None] * np.eye(n_out) - prob[:, :, None] * prob[:, None, :])
    return e, de - p.rate_anchor / n_out


def closed_loop_steady_state(weights, X, T, Q, params, closed, start, *, tol=1e-10, max_iter=50):
    """Fixed point of the closed loop (linear readout, leaky PI controller), per copy, by damped Newton.

    Setting every time derivative of the circuit's equations to zero gives, with c_int = e / lam,
        u_E = W r_pre + b - phi(u_I),   u_I = phi(u_E) - Q^T c  (per hidden layer),   y = W r + c,
        c = (k_p + k_i / lam) e(y)   (0 in copies with closed = False),
    solved for x = [u_E, u_I per hidden layer..., y] from ``start`` (the open-loop fixed point, where the
    integrated closed loop starts too). The interneurons' extra input I_I (set only by plasticity_curves) is 0
    here. ``Q``: per hidden layer (copies, n_out, n_l). Returns (x as a list
    [(u_E, u_I), ..., y], c_int, c, iterations, converged per copy); converged: max |residual| <= tol."""
    p, beta = params, params.beta
    sizes = [W.shape[1] for W, _ in weights[:-1]]
    n_out, B = weights[-1][0].shape[1], X.shape[0]
    cuts = np.cumsum([0] + [n for n in sizes for _ in (0, 1)] + [n_out])
    gain = np.where(closed, p.k_p + p.k_i / p.lam, 0.0)[:, None]

    def split(x):
        parts = [x[:, a:b] for a, b in zip(cuts[:-1], cuts[1:])]
        return [(parts[2 * k], parts[2 * k + 1]) for k in range(len(sizes))], parts[-1]

    def residual(x):
        layers, y = split(x)
        e, de = controller_error(y, T, p)
        c = gain * e
        r, out = X, []
        for (W, b), Q_l, (u_E, u_I) in zip(weights[:-1], Q, layers):
            top = np.einsum("bk,bkn->bn", c, Q_l)
            out += [-u_E + r @ W + b - softplus(u_I, beta), -u_I + softplus(u_E, beta) - top]
            r = softplus(u_E, beta)
        out.append(-y + r @ weights[-1][0] + c)
        return np.concatenate(out, axis=1), layers, y, e, de

    def jacobian(layers, de):
        J = np.zeros((B, cuts[-1], cuts[-1]))
        dc = gain[:, :, None] * de  # (B, n_out, n_out)
        ys = slice(cuts[-2], cuts[-1])
        diag = np.arange(cuts[-1])
        J[:, diag, diag] = -1.0
        for k, ((u_E, u_I), Q_l) in enumerate(zip(layers, Q)):
            e0, i0 = cuts[2 * k], cuts[2 * k + 1]
            n = sizes[k]
            idx = np.arange(n)
            J[:, e0 + idx, i0 + idx] = -softplus_slope(u_I, beta)
            J[:, i0 + idx, e0 + idx] = softplus_slope(u_E, beta)
            J[:, i0:i0 + n, ys] = -np.einsum("bkn,bkj->bnj", Q_l, dc)
            W_next = weights[k + 1][0]  # d(input of the next layer) / d u_E = W_next^T diag(phi')
            rows = slice(cuts[2 * k + 2], cuts[2 * k + 3]) if k + 1 < len(sizes) else ys
            J[:, rows, e0:e0 + n] += W_next.T[None] * softplus_slope(u_E, beta)[:, None, :]
        J[:, ys, ys] += dc
        return J

    x = np.array(start, float)
    F, layers, y, e, de = residual(x)
    size = np.abs(F).max(axis=1)
    for iteration in range(max_iter + 1):
        converged = size <= tol
        if converged.all() or iteration == max_iter:
            break
        step = np.linalg.solve(jacobian(layers, de), F[:, :, None])[:, :, 0]
        alpha = np.where(converged, 0.0, 1.0)
        for _ in range(40):  # backtracking per copy until the largest residual shrinks
            x_new = x - alpha[:, None] * step
            F_new, *rest = residual(x_new)
            size_new = np.abs(F_new).max(axis=1)
            worse = (size_new > (1 - 1e-4 * alpha) * size) & ~converged
            if not worse.any():
                break
            alpha[worse] *= 0.5
        x, F, size, (layers, y, e, de) = x_new, F_new, size_new, rest
    c_int = np.where(closed[:, None], e / p.lam, 0.0)
    return layers + [y], c_int, gain * e, iteration, converged
