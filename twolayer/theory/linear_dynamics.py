r"""Exact learning curves of the linear autoencoder x_hat = A B (x + s xi) from a tied start.

Conventions (theory/dynamics.md): the loss is L = (1/2) E||x - A B (x + s xi)||^2
+ (gamma/2)(||A||_F^2 + ||B||_F^2) with x ~ N(0, Sigma), xi ~ N(0, I); time t is the
gradient-flow time of L, and gradient descent with step eta on L runs t = eta per step.
``twolayer train`` minimises d R = 2 L (Sigma = I; in general the standardised source, whose
covariance has mean eigenvalue 1), so its learning rate ``lr`` is eta = 2 lr: t = 2 lr x steps
(:func:`time_of_steps`). The risk is normalised as everywhere in twolayer,
R = E||x - x_hat||^2 / tr Sigma (with the noise: the denoising objective, input x + s xi).

**Per-mode solution (proved).** For a tied start A(0) = B(0)^T on Sigma = I (or on any Sigma
with the rows of B(0) in an eigenbasis of Sigma: "aligned"), A = B^T for all time, B keeps its
singular vectors, and each squared singular value u = s_k^2 of B (an eigenvalue of B B^T)
with source eigenvalue lambda obeys

    du/dt = 2 u (a - b u),   a = lambda - gamma,   b = lambda + s^2,

a logistic equation (Saxe, McClelland & Ganguli 2014; Pretorius, Kroon & Kamper 2018 for the
noise and weight decay). 1/u is linear in t, so

    u(t) = u0 / (e^{-2at} + 2 b phi(t) u0),   phi(t) = (1 - e^{-2at}) / (2a)  (= t at a = 0).

**Discrete map (proved).** Gradient descent with step eta keeps A = B^T exactly and multiplies
each singular value by 1 + eta (a - b s^2):  u_{k+1} = u_k (1 + eta (a - b u_k))^2.

**Risk.** With W = A B = sum_k u_k v_k v_k^T, tr((I - W) Sigma (I - W)) + s^2 tr W^2 gives

    R = (tr Sigma - sum_k [2 lambda_k u_k - (lambda_k + s^2) u_k^2]) / tr Sigma.

**Proportional limit (proved, given the above).** For B(0) = eps G / sqrt(d), G an n x d matrix
of i.i.d. N(0, 1), n = r d and Sigma = I, the u_k(0) / eps^2 follow the Marchenko-Pastur law of
ratio r (an atom 1 - 1/r at 0 when r > 1), and

    R(t) = 1 - r int g(u(t; eps^2 x)) dMP_r(x),   g(u) = 2u - (1 + s^2) u^2,

integrated by a tanh-sinh rule (:func:`marchenko_pastur_nodes`; 2e-16 with 201 nodes, r = 1 included).

Where it breaks: independent random A(0), B(0) (A = B^T no longer holds; measured in
theory/dynamics.md), a non-isotropic Sigma with a start that is not aligned (the modes
couple), and steps with eta (a - b u) < -1 (the discrete map overshoots and oscillates; it is
still exact, the flow is not its limit).
"""

from __future__ import annotations

import numpy as np

#: the flow time of one ``twolayer train`` step per unit of ``lr`` (it minimises d R = 2 L).
TIME_PER_LR_STEP = 2.0
#: quadrature nodes of the Marchenko-Pastur integral (tanh-sinh; :func:`marchenko_pastur_nodes`).
MP_NODES = 201
#: the tanh-sinh rule's range |tau| <= DE_RANGE (its end nodes lie 1e-16 from the ends of the support).
DE_RANGE = 3.2


def time_of_steps(steps, lr):
    """t = 2 lr x steps: the flow time of L after ``steps`` plain-GD steps of ``twolayer train`` at ``lr``.

    Parameters
    ----------
    steps : int or array_like
        Steps of ``train`` (optimizer sgd, constant schedule).
    lr : float
        Its learning rate (on d R = 2 L).

    Returns
    -------
    float or ndarray
        The flow time t.

    Examples
    --------
    >>> time_of_steps(150, 0.01)
    3.0
    """
    t = TIME_PER_LR_STEP * float(lr) * np.asarray(steps, dtype=np.float64)
    return float(t) if t.ndim == 0 else t


def _coefficients(eigenvalue, noise, weight_decay):
    eigenvalue = np.asarray(eigenvalue, dtype=np.float64)
    for name, value in (("noise", noise), ("weight_decay", weight_decay)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if np.any(~np.isfinite(eigenvalue)) or np.any(eigenvalue < 0):
        raise ValueError("eigenvalue: the source's eigenvalues must be finite and >= 0")
    return eigenvalue - weight_decay, eigenvalue + noise


def mode_flow(u0, t, *, eigenvalue=1.0, noise=0.0, weight_decay=0.0):
    r"""u(t) = u0 / (e^{-2at} + 2 b phi(t) u0): one mode's squared singular value under gradient flow (proved).

    a = lambda - gamma, b = lambda + s^2, phi(t) = (1 - e^{-2at}) / (2a) (t when a = 0); the
    arrays broadcast.

    Parameters
    ----------
    u0 : array_like
        Squared singular values at t = 0 (>= 0).
    t : array_like
        Flow times (>= 0).
    eigenvalue : array_like, optional
        The source eigenvalue lambda of each mode (default 1).
    noise : float, optional
        Input-noise variance s^2 (default 0).
    weight_decay : float, optional
        gamma (default 0).

    Returns
    -------
    ndarray
        u(t), broadcast over the inputs.

    Examples
    --------
    >>> round(float(mode_flow(0.01, 100.0)), 12)  # tends to the fixed point a / b = 1
    1.0
    >>> round(float(mode_flow(0.5, 1.0, noise=0.25)), 6)  # 0.5 / (e^-2 + 1.25 (1 - e^-2) 0.5)
    0.739918
    """
    a, b = _coefficients(eigenvalue, noise, weight_decay)
    u0 = np.asarray(u0, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        decay = np.exp(-2.0 * a * t)
        phi = np.where(a == 0, t, -np.expm1(-2.0 * a * t) / np.where(a == 0, 1.0, 2.0 * a))
        u = u0 / (decay + 2.0 * b * phi * u0)
    return np.where(u0 == 0, 0.0, np.nan_to_num(u, nan=0.0, posinf=0.0))[()]


def mode_map(u0, steps, eta, *, eigenvalue=1.0, noise=0.0, weight_decay=0.0):
    r"""u_k after k gradient-descent steps of size eta on L: u_{k+1} = u_k (1 + eta (a - b u_k))^2 (proved).

    Parameters
    ----------
    u0 : array_like
        Squared singular values at step 0, shape (m,) (or a scalar).
    steps : array_like of int
        The steps k >= 0 at which to return u_k.
    eta : float
        Step on L (``twolayer train``'s lr is eta / 2).
    eigenvalue, noise, weight_decay
        As in :func:`mode_flow`.

    Returns
    -------
    ndarray
        Shape ``steps.shape + u0.shape``.

    Examples
    --------
    >>> float(mode_map(0.25, [1], 0.1)[0])  # 0.25 (1 + 0.1 (1 - 0.25))^2
    0.2889...
    """
    a, b = _coefficients(eigenvalue, noise, weight_decay)
    u = np.array(u0, dtype=np.float64)
    steps = np.asarray(steps)
    if steps.size and (steps.min() < 0 or not np.issubdtype(steps.dtype, np.integer)):
        raise ValueError("steps must be integers >= 0")
    out = np.empty(steps.shape + u.shape)
    order = np.argsort(steps, axis=None)
    flat = steps.reshape(-1)
    k = 0
    for i in order:
        while k < flat[i]:
            u = u * (1.0 + eta * (a - b * u)) ** 2
            k += 1
        out.reshape((-1,) + u.shape)[i] = u
    return out


def modes_risk(u, *, eigenvalue=1.0, trace, noise=0.0):
    r"""R = (tr Sigma - sum_k [2 lambda_k u_k - (lambda_k + s^2) u_k^2]) / tr Sigma, summed over the last axis.

    Parameters
    ----------
    u : array_like
        Squared singular values, modes on the last axis.
    eigenvalue : array_like, optional
        lambda_k of each mode (default 1).
    trace : float
        tr Sigma (d for Sigma = I).
    noise : float, optional
        s^2 (default 0): the denoising objective.

    Returns
    -------
    ndarray
        The normalised risk, one value per leading index.

    Examples
    --------
    >>> float(modes_risk([1.0, 1.0], trace=4))  # PCA on 2 of 4 directions
    0.5
    """
    u = np.asarray(u, dtype=np.float64)
    lam = np.asarray(eigenvalue, dtype=np.float64)
    explained = np.sum(2.0 * lam * u - (lam + noise) * u * u, axis=-1)
    return (trace - explained) / trace


def tied_start_modes(B0):
    """The squared singular values u_k(0) of a start B(0) (eigenvalues of B(0) B(0)^T, clipped at 0).

    Parameters
    ----------
    B0 : array_like
        n x d encoder at t = 0 (with A(0) = B(0)^T).

    Returns
    -------
    ndarray
        min(n, d) values, ascending.
    """
    B0 = np.asarray(B0, dtype=np.float64)
    small = B0 @ B0.T if B0.shape[0] <= B0.shape[1] else B0.T @ B0
    return np.clip(np.linalg.eigvalsh(small), 0.0, None)


def linear_curve(B0, times, *, noise=0.0, weight_decay=0.0, eta=None):
    r"""R(t) of the linear autoencoder on N(0, I) from the tied start A(0) = B(0)^T (exact; finite d).

    With ``eta`` the discrete map at steps t / eta (exact for gradient descent with step eta on L);
    without, the gradient flow.

    Parameters
    ----------
    B0 : array_like
        n x d start.
    times : array_like
        Flow times t >= 0 (with ``eta``: multiples of eta, rounded to the nearest step).
    noise, weight_decay : float, optional
        s^2 and gamma (default 0).
    eta : float or None, optional
        Step on L for the discrete map (default None: the flow).

    Returns
    -------
    ndarray
        R at each time.

    Examples
    --------
    >>> B0 = 0.1 * np.eye(2, 4)
    >>> round(float(linear_curve(B0, [50.0])[0]), 9)  # the two modes reach u = 1: R = 1 - 2/4
    0.5
    """
    u0 = tied_start_modes(B0)
    d = np.asarray(B0).shape[1]
    times = np.asarray(times, dtype=np.float64)
    u = _modes_at(u0, times, eta, 1.0, noise, weight_decay)
    return modes_risk(u, trace=d, noise=noise)


def _modes_at(u0, times, eta, eigenvalue, noise, weight_decay):
    if eta is None:
        return mode_flow(u0, times[..., None], eigenvalue=eigenvalue, noise=noise, weight_decay=weight_decay)
    steps = np.rint(times / eta).astype(np.int64)
    return mode_map(u0, steps, eta, eigenvalue=eigenvalue, noise=noise, weight_decay=weight_decay)


def marchenko_pastur_nodes(rate, nodes=MP_NODES):
    r"""Nodes x_i and weights w_i with sum_i w_i f(x_i) / x_i ~ int f dMP_r for f(0) = 0 (ratio r = n/d).

    MP_r (eigenvalues of G G^T / d, G n x d i.i.d. N(0, 1)) has density
    sqrt((b - x)(x - a)) / (2 pi r x) on [a, b] = [(1 - sqrt r)^2, (1 + sqrt r)^2] and an atom
    1 - 1/r at 0 for r > 1 (which f(0) = 0 ignores). With x = c + h cos(theta) the integral is
    int_0^pi f(x) h^2 sin^2(theta) / (2 pi r x) dtheta, taken by the tanh-sinh (double exponential)
    rule theta = (pi/2)(1 + tanh((pi/2) sinh tau)), tau = j T / M, |j| <= M, nodes = 2M + 1. Its
    nodes crowd doubly exponentially at both ends, where the integrand has its sharp features:
    the near-pole of 1/x when a ~ 0 (r ~ 1) and the boundary layer of u(t; x) near x = 0 at large t.
    Measured against 4001 nodes: 2e-16 for r in {0.25, 0.99, 1, 1.01, 2} at 201 nodes.

    Parameters
    ----------
    rate : float
        r = n/d > 0.
    nodes : int, optional
        2M + 1 (default :data:`MP_NODES`; an even number is rounded up).

    Returns
    -------
    x, w : ndarray
        Nodes in [a, b] and the weights of f(x)/x.

    Examples
    --------
    >>> x, w = marchenko_pastur_nodes(1.0)
    >>> round(float(np.sum(w / x)), 12), round(float(np.sum(w)), 12), round(float(np.sum(w * x)), 12)
    (1.0, 1.0, 2.0)
    """
    if not np.isfinite(rate) or rate <= 0:
        raise ValueError(f"rate must be a finite number > 0, got {rate!r}")
    lo, hi = (1.0 - np.sqrt(rate)) ** 2, (1.0 + np.sqrt(rate)) ** 2
    half = (hi - lo) / 2.0
    M = max(nodes // 2, 1)
    step = DE_RANGE / M
    tau = np.arange(-M, M + 1) * step
    e = np.exp(-np.pi * np.sinh(np.abs(tau)))  # exp(-2 s), s = (pi/2) sinh|tau|
    delta = np.pi * e / (1.0 + e)  # distance of theta to its nearer end, without cancellation
    lift = 2.0 * half * np.sin(delta / 2.0) ** 2  # h (1 - cos delta)
    x = np.where(tau < 0, hi - lift, lo + lift)
    dtheta = np.pi**2 * np.cosh(tau) * e / (1.0 + e) ** 2
    w = step * dtheta * half**2 * np.sin(delta) ** 2 / (2.0 * np.pi * rate)
    return x, w


def marchenko_pastur_curve(times, rate, init_scale, *, noise=0.0, weight_decay=0.0, eta=None, nodes=MP_NODES):
    r"""R(t) = 1 - r int g(u(t; eps^2 x)) dMP_r(x): the proportional limit from B(0) = eps G / sqrt(d), A(0) = B(0)^T.

    Sigma = I, g(u) = 2u - (1 + s^2) u^2 (module docstring). Proved in the limit d -> infinity,
    n = r d (the eigenvalues of B(0) B(0)^T / eps^2 converge to MP_r and R is a linear statistic
    of them). With ``eta``: the limit of the discrete map instead of the flow.

    Parameters
    ----------
    times : array_like
        Flow times t >= 0.
    rate : float
        r = n/d > 0.
    init_scale : float
        eps > 0.
    noise, weight_decay : float, optional
        s^2 and gamma (default 0).
    eta : float or None, optional
        Step on L for the discrete map (default None: the flow).
    nodes : int, optional
        Quadrature nodes (default :data:`MP_NODES`).

    Returns
    -------
    ndarray
        R at each time.

    Examples
    --------
    >>> round(float(marchenko_pastur_curve([0.0], 0.25, 1e-3)[0]), 6)  # a start near 0 explains nothing
    1.0
    >>> round(float(marchenko_pastur_curve([60.0], 0.25, 0.1)[0]), 9)  # every mode at u = 1: PCA, 1 - r
    0.75
    """
    if not np.isfinite(init_scale) or init_scale <= 0:
        raise ValueError(f"init_scale must be a finite number > 0, got {init_scale!r}")
    x, w = marchenko_pastur_nodes(rate, nodes)
    times = np.asarray(times, dtype=np.float64)
    u = _modes_at(init_scale**2 * x, times, eta, 1.0, noise, weight_decay)
    g = 2.0 * u - (1.0 + noise) * u * u
    return 1.0 - rate * np.sum(w * g / x, axis=-1)
