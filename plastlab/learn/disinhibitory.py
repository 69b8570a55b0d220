"""Dis-inhibitory control of plasticity (Rossbroich & Zenke 2023): a rate microcircuit that learns with a rule.

Every hidden unit is an E/I microcircuit; a leaky PI controller on the output error reaches the interneurons as
top = Q c, so the control *dis-inhibits* (equations: :mod:`plastlab.brian.circuit`, which builds the Brian2
network). As published the readout is linear, the error is softmax (e = target - softmax(y), the cross-entropy
gradient), and Q (``feedback = "jacobian"``) is each sample's output Jacobian at the open-loop steady state,
including the slopes phi_E' and phi_I', normalised to unit norm.

Protocol per minibatch (``copies`` samples side by side; :mod:`plastlab.learn.circuit_phases`): open loop from rest
until the state stops changing (rms of d(state)/dt below ``atol + rtol * rms(state)``, per second; at most
``t_max`` ms), then closed loop until steady again, then one step with the gate ``plastic`` = 1 in which the rule
files' dw/dt run. Each copy's change divided by eta*dt is the rule's value; its minibatch mean is handed to Adam
(:mod:`plastlab.learn.optim`) as the descent direction. ``steady_state = "newton"`` solves both fixed points instead
(:mod:`plastlab.learn.steady_state`) and writes them into the network, where one plastic step runs the rules.

Earlier departures are named options (:mod:`plastlab.learn.circuit_params`): ``readout = "microcircuit"``,
``error = "difference"``, ``feedback = "weights"``, ``optimizer = "sgd"``, ``phases = "fixed"``,
``linearise = "fixed"``.
"""
import numpy as np

from ..brian.circuit import HIDDEN_OFFER, READOUT_OFFER, CircuitNetwork
from ..brian.requirements import require
from ..errors import DataError, PlastlabError
from ..rules.files import load_rule
from .circuit_maths import (
    init_weights,
    jacobian_feedback,
    linearised_inverse,
    softplus,
    softplus_inverse,
    weight_feedback,
)
from .circuit_params import CircuitParams
from .circuit_phases import Phases
from .optim import Adam
from .steady_state import steady_state_forward

__all__ = ["DisinhibitoryCircuit", "check_rule", "plasticity_curves", "HIDDEN_OFFER", "READOUT_OFFER"]


def check_rule(rule, offer=HIDDEN_OFFER):
    """Refuse, before anything is built, a rule this circuit cannot run: one line naming what is missing."""
    return require(load_rule(rule), offer)


class DisinhibitoryCircuit:
    """A layered dis-inhibitory network learning with a rule: ``copies`` parallel copies of ``sizes`` (inputs first).

    ``rule``: name, path or Rule for the hidden layers' plastic feed-forward and bias synapses (``None`` gives a
    frozen network, e.g. a teacher); ``readout_rule`` for the linear readout's. ``inputs``: "static" (rates set
    per sample) or "sinusoid" (r_j = 0.5 + 0.5 sin(2 pi f_j t + phase_j)). ``teacher``: another circuit whose
    output is the target (online student-teacher). ``network`` is its Brian2 side
    (:class:`plastlab.brian.circuit.CircuitNetwork`); nothing process-wide is changed.
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
        self._check_beta(name)
        self.copies, self.name, self.teacher, self.codegen = int(copies), name, teacher, codegen
        self.rng = np.random.default_rng(seed)
        weights = weights if weights is not None else init_weights(self.sizes, self.rng, self.params.init_scale)
        self._check_weights(weights)
        self.weights = [(np.array(W, float), np.array(b, float)) for W, b in weights]
        self.optimizer = Adam(self.params.lr) if self.params.optimizer == "adam" else None
        self.inhibition = [np.full(n, self.params.inhibition_init) for n in self.sizes[1:-1]]
        n_layers = len(self.sizes) - 1
        rules = [self.readout_rule if self.linear and k == n_layers - 1 else self.rule for k in range(n_layers)]
        self.network = CircuitNetwork(self.sizes, self.copies, self.params, rules,
                                      [self._layer_eta(k) for k in range(n_layers)], linear=self.linear,
                                      inputs=inputs, frequencies=frequencies, phases=phases,
                                      teacher=teacher.network if teacher is not None else None, codegen=codegen,
                                      name=name)
        self.network.set_weights(self.weights)
        self._set_static_feedback()
        self.history = []

    def _check_beta(self, name):
        if self.rule is not None and "beta" in self.rule.parameters and \
                abs(float(self.rule.parameters["beta"]) - self.params.beta) > 1e-12:
            raise PlastlabError(f"{name}: rule '{self.rule.name}' assumes beta = {self.rule.parameters['beta']} "
                                f"but the circuit's soft-ReLU has beta = {self.params.beta}")

    def _check_weights(self, weights):
        if len(weights) != len(self.sizes) - 1:
            raise DataError(f"{self.name}: {len(weights)} weight layers for sizes {self.sizes}")
        for (W, b), n_pre, n_post in zip(weights, self.sizes[:-1], self.sizes[1:]):
            if np.shape(W) != (n_pre, n_post) or np.shape(b) != (n_post,):
                raise DataError(f"{self.name}: weights of shape {np.shape(W)}/{np.shape(b)}, expected "
                                f"({n_pre}, {n_post})/({n_post},)")

    # --- learning rates, weights and feedback -----------------------------------------------------------

    def _layer_eta(self, k):
        """The rules' eta: with Adam only a scale (the change is divided by eta*dt again); with sgd eta/n_pre."""
        p = self.params
        return p.eta if p.optimizer == "adam" else p.eta / self.sizes[k] ** p.eta_fan_in

    def set_eta(self, eta):
        """Change the rules' learning rate (1/second) for the next runs (optimizer = "sgd")."""
        self.params.eta = float(eta)
        for k in range(len(self.sizes) - 1):
            self.network.set_eta(k, self._layer_eta(k))

    def set_weights(self, weights):
        """Replace the shared weights (e.g. by the best epoch's), in every copy."""
        self._check_weights(weights)
        self.weights = [(np.array(W, float), np.array(b, float)) for W, b in weights]
        self.network.set_weights(self.weights)
        self._set_static_feedback()

    def _set_static_feedback(self):
        """Feedback that does not depend on the state: the readout's own, and Q from the weights (option)."""
        if self.network.ctrl is None:
            return
        p = self.params
        self.network.set_q(len(self.sizes) - 2, (1.0 if self.linear else p.q_out) * np.eye(self.sizes[-1]))
        if p.feedback == "weights":
            for k, Q in enumerate(weight_feedback(self.weights, p.q_norm)):
                self.network.set_q(k, Q)

    def state_feedback(self, valid):
        """Published Q from each copy's current (open-loop steady) state; and the linearisation point of the
        linear-threshold rule: the minibatch's mean inhibition per neuron."""
        p = self.params
        u_E, u_I = self.network.hidden_potentials()
        if p.feedback == "jacobian":
            for k, Q in enumerate(jacobian_feedback(self.weights, u_E, u_I, p.beta, p.q_norm)):
                self.network.set_q(k, Q)
        if p.linearise == "batch_mean" and np.any(valid):
            for k in range(len(u_I)):
                self.inhibition[k] = softplus(u_I[k][valid], p.beta).mean(axis=0)
                self.network.set_linearisation(k, *linearised_inverse(self.inhibition[k], p.beta))

    def absorb(self, learning):
        """Apply the rule's minibatch-mean change: Adam on it (published) or as it is (sgd)."""
        if not np.any(learning):
            return
        params, directions = [], []
        for k, (W, b) in enumerate(self.weights):
            Wc, bc = self.network.layer_weights(k)
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
        self.network.set_weights(self.weights)
        if self.params.feedback == "weights":
            self._set_static_feedback()

    def write_steady_state(self, X, layers, y, c_int, c):
        """Put a fixed point (steady_state = "newton") into the network together with the summed inputs that
        belong to it, so that the next Euler step starts there and stays there (up to the solver's residual)."""
        p, B, n_out = self.params, self.copies, self.sizes[-1]
        hidden, r = [], X
        for (W, b), (u_E, u_I) in zip(self.weights, layers):
            hidden.append({"u_E": u_E.ravel(), "u_I": u_I.ravel(), "I_ff": (r @ W).ravel(), "I_b": np.tile(b, B)})
            r = softplus(u_E, p.beta)
        out = {"r": y.ravel(), "I_ff": (r @ self.weights[-1][0]).ravel(), "top": c.ravel()}
        controller = {"c_int": c_int.ravel(), "y": y.ravel()}
        if self.network.softmax_sums():
            controller.update(Z=np.repeat(np.exp(p.softmax_gain * y).sum(axis=1), n_out),
                              y_sum=np.repeat(y.sum(axis=1), n_out))
        tops = [np.einsum("bk,bkn->bn", c, Q).ravel() for Q in self.network.feedback_matrices()]
        self.network.write_fixed_point(hidden, out, controller, tops)

    # --- presenting samples -----------------------------------------------------------------------------

    def present(self, X, Y=None, *, learn=False, progress=None, schedule="one_run"):
        """Present samples X (n, n_in) in batches of ``copies``: open loop, then (learn=True) closed loop
        towards targets Y (n, n_out) and the weight update.

        ``schedule = "one_run"``: every batch, phase and plastic step runs in a single Brian2 run. Brian2 prepares
        (code-generates and binds) every object at the start of each run, ~0.2 s for this network; the earlier
        schedule (``"run_per_batch"``, kept to check and time against: benchmarks/disinhibitory_epoch.py) stopped
        for each batch's plastic step and paid that twice per minibatch. Outside the plastic step the rules'
        dw/dt is not computed in either schedule (with the gate at 0 it changes nothing).
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
        phases = Phases(self, X, Y, learn, progress, stop_for_update=not one_run)
        phases.load(0)
        self.network.run_protocol(phases.step, phases.max_steps(), finished=lambda: phases.done,
                                  update_pending=phases.update_pending, one_run=one_run)
        if not phases.done:
            raise PlastlabError(f"{self.name}: the protocol did not finish (internal error)")
        self.last_steps = phases.steps
        return phases.outputs

    def _check_samples(self, X, Y, learn):
        X = np.asarray(X, dtype=float)
        n_in, n_out = self.sizes[0], self.sizes[-1]
        if self.network.sinusoidal():
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
        if self.teacher is None or self.network.ctrl is None:
            raise PlastlabError(f"{self.name}: online learning needs a rule and a teacher circuit")
        if self.copies < 2:
            raise DataError(f"{self.name}: online learning needs copies >= 2 (copy 0 learns, the others probe)")
        learning = np.zeros(self.copies, bool)
        learning[0] = True
        self.network.set_plastic(learning & learn)
        self.network.set_closed(learning)
        rows = []
        optimizer, self.optimizer = self.optimizer, None  # online: the rule's change as it is

        def sync(t):
            if learn:
                self.absorb(learning)
            self.state_feedback(learning)
            if progress is not None:
                progress.update(sync_every)

        def record(t):
            y, target = self.network.outputs(), self.teacher.network.outputs()  # the teacher now (target lags)
            rows.append((t, y[1].copy(), target[1].copy(), y[0].copy()))

        try:
            self.state_feedback(learning)
            self.network.run(duration, every=[(sync, sync_every, "sync"), (record, record_every, "record")])
        finally:
            self.optimizer = optimizer
        return tuple(np.array([r[k] for r in rows]) for k in range(4))


def plasticity_curves(rule, r_E, r_I, *, params=None, t_settle=100.0, t_window=1.0, codegen="numpy"):
    """Δw of one synapse (presynaptic rate 1) on a microcircuit held at each (r_I, r_E), top-down input removed.

    Every (r_I, r_E) pair is one unit of a single E/I layer: its feed-forward drive and an extra input to its
    interneuron are chosen so that the open-loop steady state has exactly these rates; the circuit settles for
    ``t_settle`` ms without plasticity, then the rule runs for ``t_window`` ms. The linear-threshold rule uses the
    constant (theta, delta) of ``params`` here. Returns (Δw / t_window in 1/second, measured r_E, measured r_I),
    each of shape (len(r_I), len(r_E))."""
    r_E, r_I = np.atleast_1d(np.asarray(r_E, float)), np.atleast_1d(np.asarray(r_I, float))
    table = dict({"k_p": 0.0, "k_i": 0.0, "eta_fan_in": 0.0}, **(params.table() if isinstance(params, CircuitParams)
                                                                 else params or {}))
    params = CircuitParams.from_dict(dict(table, readout="microcircuit", optimizer="sgd", linearise="fixed",
                                          phases="fixed", feedback="weights"))
    grid_E, grid_I = np.meshgrid(r_E, r_I)
    u_E, u_I = softplus_inverse(grid_E, params.beta), softplus_inverse(grid_I, params.beta)
    n = grid_E.size
    # steady state without control: u_E = drive - r_I and u_I = r_E + I_I
    weights = [(np.zeros((1, n)), (u_E + grid_I).ravel())]
    net = DisinhibitoryCircuit([1, n], rule=rule, params=params, copies=1, weights=weights, codegen=codegen,
                               name="curves").network
    net.set_layer(0, I_I=(u_I - grid_E).ravel())
    net.set_inputs(np.ones(1))
    net.set_layer(0, u_E=u_E.ravel(), u_I=u_I.ravel(), plastic=0)
    net.run(t_settle)
    measured_E, measured_I = net.layer_values(0, "r", "r_I")
    w0 = net.layer_weights(0)[0][0, 0].copy()
    net.set_layer(0, plastic=1)
    net.run(t_window)
    dw = (net.layer_weights(0)[0][0, 0] - w0) / (t_window * 1e-3)
    shape = grid_E.shape
    return dw.reshape(shape), measured_E.reshape(shape), measured_I.reshape(shape)
