"""Adam, small and written out: no optimiser library is a dependency, and the update is a few lines.

Used by the circuit (on the rules' minibatch change) and by its backprop baseline (on exact gradients), so both
descend with the same optimiser.
"""
import numpy as np

__all__ = ["Adam"]


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
