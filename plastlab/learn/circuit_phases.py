"""The per-minibatch protocol of the dis-inhibitory circuit as a small state machine.

load -> open loop (to steady state) -> [closed loop (to steady state) -> one plastic step -> absorb] -> next batch.
:meth:`Phases.step` is a plain callable: the circuit's network (:mod:`plastlab.brian.circuit`) calls it at the end
of every simulation step, so a whole epoch is one Brian2 run and the decisions stay here, in NumPy.
"""
import numpy as np

from .steady_state import closed_loop_steady_state, steady_state_forward

__all__ = ["Phases"]


def _rms(a):
    return np.sqrt((a ** 2).mean(axis=1))


class Phases:
    """The protocol for samples X (and targets Y when ``learn``) on ``circuit`` (a DisinhibitoryCircuit).

    ``stop_for_update``: the plastic step is a run of its own (schedule "run_per_batch")."""

    def __init__(self, circuit, X, Y, learn, progress, stop_for_update=False):
        self.c, self.net, self.X, self.Y, self.learn, self.progress = circuit, circuit.network, X, Y, learn, progress
        self.stop_for_update = stop_for_update
        p = circuit.params
        steady = p.phases == "steady_state"
        self.max_open = int(round((p.t_max if steady else p.t_open) / p.dt))
        self.max_closed = int(round((p.t_max if steady else p.t_closed) / p.dt))
        self.steady, self.dt_s = steady, p.dt * 1e-3
        self.outputs = np.zeros((X.shape[0], circuit.sizes[-1]))
        self.n_batches = -(-X.shape[0] // circuit.copies)
        self.steps, self.done, self.started = [], False, False

    def max_steps(self):
        """Steps the whole protocol can take at most (plus one)."""
        per_batch = self.max_open + (self.max_closed + 1 if self.learn else 0)
        return self.n_batches * per_batch + 1

    def update_pending(self):
        return self.phase == "update" and not self.done

    def load(self, k):
        """Batch k into the network, from rest; with steady_state = "newton" solved at once."""
        c, B, n_out = self.c, self.c.copies, self.c.sizes[-1]
        idx = np.arange(k * B, min((k + 1) * B, self.X.shape[0]))
        self.k, self.idx = k, idx
        self.valid = np.zeros(B, bool)
        self.valid[:len(idx)] = True
        Xb = np.zeros((B, c.sizes[0]))
        Xb[:len(idx)] = self.X[idx]
        self.net.set_inputs(Xb)
        self.net.reset_state()
        if self.learn:
            Yb = np.zeros((B, n_out))
            Yb[:len(idx)] = self.Y[idx]
            self.net.set_targets(Yb)
        self.phase, self.count, self.previous = "open", 0, self.net.state(False)
        self.batch_steps = {}
        if self.learn and c.params.steady_state == "newton":
            self._solve(Xb, Yb)

    def _solve(self, X, Y):
        """steady_state = "newton": both fixed points solved, the closed one written into the network, the next
        step is the plastic one. A closed loop that Newton does not solve to 1e-10 is integrated as usual."""
        c, net = self.c, self.net
        y, cache = steady_state_forward(c.weights, X, c.params.beta)
        layers = [(u_E, u_I) for _, u_E, u_I in cache[:-1]]
        c.write_steady_state(X, layers, y, np.zeros_like(y), np.zeros_like(y))
        self.outputs[self.idx] = y[:len(self.idx)]
        c.state_feedback(self.valid)
        net.set_closed(self.valid)
        start = np.concatenate([u for pair in layers for u in pair] + [y], axis=1)
        state, c_int, control, iterations, converged = closed_loop_steady_state(
            c.weights, X, Y, net.feedback_matrices(), c.params, self.valid, start)
        self.batch_steps.update(open=0, closed=0, newton=iterations)
        if not converged[self.valid].all():
            self.batch_steps["newton_failed"] = int((~converged[self.valid]).sum())
            self.phase, self.count, self.previous = "closed", 0, net.state(True)
            return
        c.write_steady_state(X, state[:-1], state[-1], c_int, control)
        net.set_plastic(self.valid)
        self.phase = "update"
        net.rules_running(True)

    def _steady(self, with_controller):
        now = self.net.state(with_controller)
        previous, self.previous = self.previous, now
        if not self.steady or previous.shape != now.shape:
            return False
        rate = (now - previous)[self.valid] / self.dt_s
        return bool(np.all(_rms(rate) <= self.c.params.atol + self.c.params.rtol * _rms(now[self.valid])))

    def step(self):
        """One simulation step has ended: move the protocol on."""
        if self.done:
            return
        if not self.started:  # the run has just prepared the rules' code: skip it until the plastic step
            self.net.rules_running(False)
            self.started = True
        self.count += 1
        if self.phase == "open":
            self._open_step()
        elif self.phase == "closed":
            self._closed_step()
        else:  # one plastic step done
            self.net.rules_running(False)
            self.net.freeze_layers()
            self.c.absorb(self.valid)
            self._next()

    def _open_step(self):
        if not (self._steady(False) or self.count >= self.max_open):
            return
        self.batch_steps["open"] = self.count
        self.outputs[self.idx] = self.net.outputs()[:len(self.idx)]
        if not self.learn:
            return self._next()
        self.c.state_feedback(self.valid)
        self.net.set_closed(self.valid)
        self.phase, self.count, self.previous = "closed", 0, self.net.state(True)

    def _closed_step(self):
        if not (self._steady(True) or self.count >= self.max_closed):
            return
        self.batch_steps["closed"] = self.count
        self.net.set_plastic(self.valid)
        self.phase = "update"
        if self.stop_for_update:
            self.net.stop()  # the plastic step runs on its own (see CircuitNetwork.run_protocol)
        else:
            self.net.rules_running(True)

    def _next(self):
        self.steps.append(self.batch_steps)
        if self.progress is not None:
            self.progress.update(len(self.idx))
        if self.k + 1 < self.n_batches:
            self.load(self.k + 1)
        else:
            self.done = True
            self.net.stop()
