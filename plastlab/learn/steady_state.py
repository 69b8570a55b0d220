"""The circuit's fixed points without integrating them: the open loop (also the backprop baseline's forward
pass) and the closed loop by damped Newton (option ``steady_state = "newton"``).

tests/test_disinhibitory_steady_state.py shows the rule updates at these fixed points equal to those of the Brian2
circuit integrated to a tight tolerance.
"""
import numpy as np

from .circuit_maths import softplus, softplus_slope

__all__ = ["steady_state_forward", "controller_error", "closed_loop_steady_state"]


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
