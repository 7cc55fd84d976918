r"""Learning curve of the sign autoencoder: the spectral flow of population gradient descent (derived).

Setting: ``twolayer train``'s default, x ~ N(0, I), code sign(B x), the optimal decoder, plain
gradient descent at rate ``lr`` on d R(B) (conventions: theory/dynamics.md; flow time t = 2 lr x steps).

**Linearised risk.** With U the row-normalised encoder and Q = U U^T (unit diagonal),
R(B) = 1 - tr(Q arcsin(Q)^{-1}) / d exactly. From a random start the off-diagonal entries of Q
are O(1/sqrt(d)), so arcsin(Q) ~ Q + c I, c = pi/2 - 1 (exact on the diagonal, cubic error off
it), and

    R ~ 1 - (1/d) sum_k q_k / (q_k + c),     q_k the eigenvalues of Q (mean 1, n of them).

At q = 1 (orthonormal rows) this is the theorem's 1 - 2r/pi; at a tight frame (r > 1, q = r on
d of them) it is 1 - r/(r + c).

**Flow of the spectrum.** The gradient of d R in U is -2c (Q + cI)^{-2} U; the row normalisation
removes its radial part, whose per-row coefficient [(Q + cI)^{-2} Q]_ii concentrates on its mean
m = (1/n) sum_k q_k / (q_k + c)^2 (the eigenvectors of Q are delocalised). So U keeps its singular
vectors and, with rho = the mean squared row norm of B and e_k = 1/(q_k + c)^2 - m,

    dq_k/dt = (2c / rho) q_k e_k,       drho/dt = lr (2c^2 / rho) h,   h = (1/n) sum_k q_k e_k^2

(t = 2 lr x steps). The gradient is orthogonal to each row, so gradient *descent* grows the row
norms by lr^2 |gradient|^2 per step, which shrinks the effective step on U: that is the rho term,
of first order in lr. **The discrete map** (one GD step, exact given the two approximations
above) is

    q_k <- q_k (1 + a e_k)^2 rho / rho',   a = 2 c lr / rho,   rho' = rho + lr^2 (4 c^2 / rho) h,

which keeps sum_k q_k = n exactly. From B(0) = G / sqrt(d) the q_k(0) follow Marchenko-Pastur of
ratio r (the proportional limit; quadrature nodes of :func:`.linear_dynamics.marchenko_pastur_nodes`,
moved as particles: the flow keeps their order).

Status: derived (two approximations: the linearised arcsin and the concentration of the radial
coefficient), validated numerically against ``train`` (theory/dynamics.md, where it breaks).
"""

from __future__ import annotations

import numpy as np

from .linear_dynamics import marchenko_pastur_nodes

#: c = pi/2 - 1, the sign code's linearised constant.
SIGN_C = np.pi / 2 - 1


def linearised_sign_risk(q, weights, rate):
    r"""R = 1 - r sum_k p_k q_k / (q_k + c): the linearised risk of a row-normalised sign encoder.

    Parameters
    ----------
    q : array_like
        Eigenvalues of Q = U U^T (particles), on the last axis.
    weights : array_like
        Their weights p_k (1/n each for a finite encoder; sum 1, or 1/r for r > 1 in the limit).
    rate : float
        r = n/d.

    Returns
    -------
    ndarray
        R per leading index.

    Examples
    --------
    >>> round(float(linearised_sign_risk([1.0, 1.0], [0.5, 0.5], 0.5)), 6)  # 1 - 2r/pi
    0.68169
    """
    q = np.asarray(q, dtype=np.float64)
    return 1.0 - rate * np.sum(np.asarray(weights) * q / (q + SIGN_C), axis=-1)


def _drift(q, weights):
    """(e_k, m, h) of the module docstring."""
    m = np.sum(weights * q / (q + SIGN_C) ** 2)
    e = 1.0 / (q + SIGN_C) ** 2 - m
    return e, m, np.sum(weights * q * e * e)


def spectral_map(q0, weights, steps, lr, rho0=1.0):
    r"""q_k and rho after each of ``steps`` gradient-descent steps (the discrete map of the module docstring).

    Parameters
    ----------
    q0 : array_like
        Eigenvalues of Q(0).
    weights : array_like
        Their weights.
    steps : int
        Number of steps.
    lr : float
        ``train``'s learning rate (on d R).
    rho0 : float, optional
        Mean squared row norm of B(0) (default 1).

    Returns
    -------
    q : ndarray
        (steps + 1) x len(q0).
    rho : ndarray
        steps + 1 values.

    Examples
    --------
    >>> q, rho = spectral_map([0.5, 1.5], [0.5, 0.5], 200, 0.3)
    >>> np.round(q[-1], 6), round(float(q[-1].sum()), 12)  # to orthonormal rows, sum kept
    (array([1., 1.]), 2.0)
    """
    q = np.array(q0, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    rho = float(rho0)
    qs, rhos = [q.copy()], [rho]
    for _ in range(int(steps)):
        e, _, h = _drift(q, weights)
        rho_next = rho + lr * lr * 4.0 * SIGN_C**2 * h / rho
        q = q * (1.0 + 2.0 * SIGN_C * lr / rho * e) ** 2 * (rho / rho_next)
        rho = rho_next
        qs.append(q.copy())
        rhos.append(rho)
    return np.array(qs), np.array(rhos)


def spectral_flow(q0, weights, times, lr=0.0, rho0=1.0):
    r"""q_k(t) and rho(t) of the spectral flow (module docstring), t = 2 lr x steps; ``lr`` only grows rho.

    Integrated by scipy's LSODA (rtol 1e-10).

    Parameters
    ----------
    q0, weights : array_like
        Eigenvalues of Q(0) and their weights.
    times : array_like
        Increasing flow times >= 0.
    lr : float, optional
        ``train``'s learning rate, for the growth of the row norms (default 0: the pure flow).
    rho0 : float, optional
        Mean squared row norm at t = 0 (default 1).

    Returns
    -------
    q : ndarray
        len(times) x len(q0).
    rho : ndarray
        len(times) values.
    """
    from scipy.integrate import solve_ivp

    weights = np.asarray(weights, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)

    def rhs(_, y):
        q, rho = y[:-1], y[-1]
        e, _, h = _drift(q, weights)
        return np.concatenate([2.0 * SIGN_C / rho * q * e, [lr * 2.0 * SIGN_C**2 * h / rho]])

    y0 = np.concatenate([np.asarray(q0, dtype=np.float64), [float(rho0)]])
    if times.size == 0 or times[-1] == 0:
        return np.tile(y0[:-1], (times.size, 1)), np.full(times.size, float(rho0))
    sol = solve_ivp(rhs, (0.0, times[-1]), y0, t_eval=times, method="LSODA", rtol=1e-10, atol=1e-13)
    return sol.y[:-1].T, sol.y[-1]


def encoder_spectrum(B0):
    """(q, weights, rho0): eigenvalues of U U^T (U = B0 with unit rows), weights 1/n, mean squared row norm.

    Parameters
    ----------
    B0 : array_like
        n x d start.

    Returns
    -------
    tuple
        (min(n, d) eigenvalues clipped at 0, as many weights 1/n, float): for n > d the n - d zero
        eigenvalues are left out (they stay 0 and weigh nothing).
    """
    B0 = np.asarray(B0, dtype=np.float64)
    n, d = B0.shape
    norms = np.sum(B0 * B0, axis=1)
    U = B0 / np.sqrt(norms)[:, None]
    # n > d: the n - d zero eigenvalues stay exactly 0 under the flow, but a rounding-level q would grow
    # (0 is an unstable fixed point), so they are left out: the other d keep their weights 1/n.
    q = np.clip(np.linalg.eigvalsh(U @ U.T if n <= d else U.T @ U), 0.0, None)
    return q, np.full(q.size, 1.0 / n), float(np.mean(norms))


def sign_curve(q0, weights, rate, times, lr, rho0=1.0, *, discrete=True):
    r"""Predicted R at flow times t = 2 lr x steps: the discrete map (default) or the flow.

    Parameters
    ----------
    q0, weights : array_like
        The start's spectrum (:func:`encoder_spectrum`, or Marchenko-Pastur: :func:`limit_curve`).
    rate : float
        r = n/d.
    times : array_like
        Flow times >= 0 (the map rounds t / (2 lr) to whole steps).
    lr : float
        ``train``'s learning rate.
    rho0 : float, optional
        Mean squared row norm at the start (default 1).
    discrete : bool, optional
        The discrete map (default) or the flow.

    Returns
    -------
    ndarray
        R at each time.
    """
    times = np.asarray(times, dtype=np.float64)
    if discrete:
        steps = np.rint(times / (2.0 * lr)).astype(np.int64)
        q, _ = spectral_map(q0, weights, int(steps.max(initial=0)), lr, rho0)
        return linearised_sign_risk(q[steps], weights, rate)
    order = np.argsort(times)
    q, _ = spectral_flow(q0, weights, times[order], lr, rho0)
    out = np.empty(times.size)
    out[order] = linearised_sign_risk(q, weights, rate)
    return out


def limit_curve(times, rate, lr, *, discrete=True, rho0=1.0):
    r"""The proportional limit from B(0) = eps G / sqrt(d): :func:`sign_curve` from Marchenko-Pastur particles.

    Parameters
    ----------
    times : array_like
        Flow times >= 0.
    rate : float
        r = n/d.
    lr : float
        ``train``'s learning rate.
    discrete : bool, optional
        The discrete map (default) or the flow.
    rho0 : float, optional
        eps^2, the mean squared row norm at the start (default 1): a small start takes larger steps on U.

    Returns
    -------
    ndarray
        R at each time.

    Examples
    --------
    >>> round(float(limit_curve([0.0], 0.5, 0.3)[0]), 6)  # a random start: 1 - r E[q/(q + c)] under MP
    0.720941
    >>> round(float(limit_curve([60.0], 0.5, 0.3)[0]), 6)  # converged: 1 - 2r/pi
    0.68169
    """
    x, w = marchenko_pastur_nodes(rate)
    return sign_curve(x, w / x, rate, times, lr, rho0, discrete=discrete)
