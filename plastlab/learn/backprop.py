"""The baseline: the same steady-state network trained by backprop (exact gradients of its fixed point)."""
import numpy as np

from .circuit_maths import softplus_slope
from .steady_state import steady_state_forward

__all__ = ["backprop_gradients", "predict_steady_state"]


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
    """The baseline's outputs: the open-loop fixed point's readout (what the circuit reports without control)."""
    return steady_state_forward(weights, X, beta)[0]
