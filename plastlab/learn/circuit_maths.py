"""The circuit's maths in NumPy: the soft-ReLU and its inverse, initial weights, and the feedback matrices Q.

Shared by the learning circuit, its fixed-point solvers and the backprop baseline; nothing here touches Brian2, so
each piece can be checked against its closed form.
"""
import numpy as np

from ..errors import DataError

__all__ = ["softplus", "softplus_slope", "softplus_inverse", "linearised_inverse", "init_weights", "weight_feedback",
           "jacobian_feedback"]


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
