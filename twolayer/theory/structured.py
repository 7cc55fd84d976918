r"""Risks and optimal linear decoders for structured sources (i.i.d. laws of :mod:`.priors`).

The risk R(A, B) = E||x - A sigma(Bx)||^2 / E||x||^2 (E||x||^2 = d: unit-variance coordinates)
of a source x = Q z, z with i.i.d. coordinates of law L and Q a fixed orthogonal matrix
(identity, or a Haar rotation for ``...:rotated``), is estimated with a standard error:

* Bernoulli-Gaussian (and Gaussian): given its support S, z is Gaussian with covariance
  Sigma_S = diag(1_S) / P, so E||x - x_hat||^2 = E_S[e_S] with e_S the exact Gaussian error
  (proved, see :mod:`.risk`); the average over S is Monte Carlo over supports
  (Rao-Blackwellised: the Gaussian part is integrated exactly), with tr Sigma_S = |S|/P
  (known mean d) as a control variate, and the standard error over supports;
* any law: plain Monte Carlo over fresh samples, with the standard error over samples.

A rotation enters as R(A, B; Q z) = R(Q^T A, B Q; z). ``sign(0) = +1`` (one bit per neuron): a
neuron whose row misses the support of z emits +1 (the supports estimator handles it exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..activations import get_activation
from .priors import Law


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: ``value`` with its standard error ``stderr`` over ``count`` draws.

    Parameters
    ----------
    value : float
        The estimate.
    stderr : float
        Its standard error.
    count : int
        The number of draws (supports or samples) behind it.
    """

    value: float
    stderr: float
    count: int


def _unrotate(B, A, rotation):
    if rotation is None:
        return B, A
    return B @ rotation, (None if A is None else rotation.T @ A)


def _support_moments(B, mask, p, act):
    """(C_S restricted to S, M_S, |S|/P) for z | S ~ N(0, diag(1_S)/P).

    A neuron whose row misses S (B_i z = 0 surely) emits the constant sigma(0), with sign(0) = +1:
    it is uncorrelated with z, and E[sigma_i sigma_j] = sigma(0) E[sigma_j].
    """
    Bs = B[:, mask]
    K = (Bs @ Bs.T) / p
    diag = np.diag(K).copy()
    dead = diag <= 0
    if not np.any(dead):
        coef = act.code_coefficient(diag, np)
        return (Bs / p).T * coef[None, :], act.kernel_matrix(K, np), mask.sum() / p
    live = ~dead
    const = 1.0 if act.name == "sign" else float(act(np.zeros(1), np)[0])
    C_S = np.zeros((int(mask.sum()), B.shape[0]))
    M = np.empty((B.shape[0], B.shape[0]))
    if np.any(live):
        Kl = K[np.ix_(live, live)]
        C_S[:, live] = (Bs[live] / p).T * act.code_coefficient(np.diag(Kl), np)[None, :]
        M[np.ix_(live, live)] = act.kernel_matrix(Kl, np)
        means = np.asarray(act.mean(np.sqrt(np.diag(Kl)), np), dtype=np.float64)
        M[np.ix_(dead, live)] = const * means[None, :]
        M[np.ix_(live, dead)] = const * means[:, None]
    M[np.ix_(dead, dead)] = const * const
    return C_S, M, mask.sum() / p


def sign_code(z):
    """sign with sign(0) = +1: one bit per neuron.

    Parameters
    ----------
    z : ndarray or float
        Pre-activations (compared with ``>= 0``; a Python list is not accepted).

    Returns
    -------
    ndarray
        float64 +1 where z >= 0, -1 elsewhere, the shape of ``z``.

    Examples
    --------
    >>> sign_code(np.array([-1.5, 0.0, 2.0])).tolist()
    [-1.0, 1.0, 1.0]
    """
    return np.where(z >= 0, 1.0, -1.0)


def _code(act, z):
    return sign_code(z) if act.name == "sign" else act(z, np)


def structured_risk(B, A, law: Law, *, rotation=None, activation="sign", estimator="auto", draws=None,
                    seed=0, batch=2000) -> Estimate:
    """R(A, B) for x = Q z, z i.i.d. of ``law``, with its standard error.

    Parameters
    ----------
    B, A : array_like
        n x d encoder and d x n decoder.
    law : Law
        The coordinate law of z.
    rotation : array_like, optional
        The d x d orthogonal Q (None: the identity).
    activation : str or Activation
        The code sigma, anything :func:`~twolayer.activations.get_activation` accepts (sign: sign(0) = +1).
    estimator : {"auto", "supports", "mc"}
        "supports" (Bernoulli-Gaussian and Gaussian only): exact Gaussian risks averaged over
        sampled supports; "mc": plain Monte Carlo; "auto": "supports" where it applies.
    draws : int, optional
        Supports (default 200) or samples (default 20000).
    seed : int or sequence of int
        Seed of ``numpy.random.default_rng`` for the draws.
    batch : int
        Samples per batch of the "mc" estimator (default 2000).

    Returns
    -------
    Estimate
        ``value`` = R, ``stderr``, ``count``.

    Raises
    ------
    ValueError
        An unknown ``estimator``, or "supports" for a law that is not Gaussian given its support.

    Examples
    --------
    >>> import numpy as np
    >>> from twolayer.theory.priors import Law
    >>> B = np.linalg.qr(np.random.default_rng(0).standard_normal((32, 16)))[0].T   # 16 orthonormal rows
    >>> A = np.sqrt(2 / np.pi) * B.T
    >>> round(structured_risk(B, A, Law("gaussian")).value, 10)     # exact: 1 - 2r/pi at r = 1/2
    0.6816901138
    >>> est = structured_risk(B, A, Law("bernoulli-gaussian", 0.3), draws=400)
    >>> est.count, est.value > 0.6816901138     # sparse data at d = 32: above the Gaussian value
    (400, True)
    """
    act = get_activation(activation)
    B = np.asarray(B, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    d = B.shape[1]
    B, A = _unrotate(B, A, None if rotation is None else np.asarray(rotation, dtype=np.float64))
    rng = np.random.default_rng(seed)
    if estimator == "auto":
        estimator = "supports" if law.is_gaussian_mixture else "mc"
    if estimator == "supports":
        if not law.is_gaussian_mixture:
            raise ValueError(f"estimator 'supports' needs a Gaussian given its support; {law.spec} is not")
        count = draws or 200
        p = law.p if law.name == "bernoulli-gaussian" else 1.0
        values, traces = np.empty(count), np.empty(count)
        for k in range(count):
            mask = rng.random(d) < p if p < 1 else np.ones(d, dtype=bool)
            C_S, M_S, traces[k] = _support_moments(B, mask, p, act)
            values[k] = traces[k] - 2.0 * np.sum(A[mask] * C_S) + np.sum((A @ M_S) * A)
        # control variate: tr Sigma_S = |S|/P has the known mean d and carries most of the
        # support-to-support variance (the error grows with the support's size)
        control = traces - d
        beta = float(np.dot(control, values - values.mean()) / np.dot(control, control)) if np.any(control) else 0.0
        adjusted = values - beta * control
        return Estimate(float(adjusted.mean() / d), float(adjusted.std(ddof=1) / math.sqrt(count) / d), count)
    if estimator != "mc":
        raise ValueError(f"unknown estimator {estimator!r}; accepted: auto, supports, mc")
    count = draws or 20000
    errors = []
    for start in range(0, count, batch):
        z = law.sample(rng, (min(batch, count - start), d))
        errors.append(np.sum((z - _code(act, z @ B.T) @ A.T) ** 2, axis=1))
    errors = np.concatenate(errors) / d
    return Estimate(float(errors.mean()), float(errors.std(ddof=1) / math.sqrt(count)), count)


def structured_linear_decoder(B, law: Law, *, rotation=None, activation="sign", draws=None, seed=1,
                              batch=2000) -> np.ndarray:
    """The best linear decoder A* = E[x sigma^T] E[sigma sigma^T]^{-1} for x = Q z (moments estimated).

    Bernoulli-Gaussian: the moments are averages of the exact Gaussian moments over ``draws``
    sampled supports (default 400); other laws: sample moments over ``draws`` samples (default
    20000). Score it with draws independent of these (another ``seed``).

    Parameters
    ----------
    B : array_like
        n x d encoder.
    law : Law
        The coordinate law of z.
    rotation : array_like, optional
        The d x d orthogonal Q (None: the identity).
    activation : str or Activation
        The code sigma, anything :func:`~twolayer.activations.get_activation` accepts (sign: sign(0) = +1).
    draws : int, optional
        Supports (default 400) or samples (default 20000).
    seed : int or sequence of int
        Seed of ``numpy.random.default_rng`` for the draws (default 1).
    batch : int
        Samples per batch for the laws that are not Gaussian given their support (default 2000).

    Returns
    -------
    ndarray
        The d x n decoder A* for x; the inverse is a least-squares solve (``rcond=1e-12``), so a
        singular E[sigma sigma^T] (e.g. constant neurons) gives a pseudo-inverse solution.
    """
    act = get_activation(activation)
    B = np.asarray(B, dtype=np.float64)
    n, d = B.shape
    Q = None if rotation is None else np.asarray(rotation, dtype=np.float64)
    Bz, _ = _unrotate(B, None, Q)
    rng = np.random.default_rng(seed)
    C = np.zeros((d, n))
    M = np.zeros((n, n))
    if law.is_gaussian_mixture:
        count = draws or 400
        p = law.p if law.name == "bernoulli-gaussian" else 1.0
        for _ in range(count):
            mask = rng.random(d) < p if p < 1 else np.ones(d, dtype=bool)
            C_S, M_S, _ = _support_moments(Bz, mask, p, act)
            C[mask] += C_S
            M += M_S
    else:
        count = draws or 20000
        for start in range(0, count, batch):
            z = law.sample(rng, (min(batch, count - start), d))
            code = _code(act, z @ Bz.T)
            C += z.T @ code
            M += code.T @ code
    C, M = C / count, M / count
    A = np.linalg.lstsq(M, C.T, rcond=1e-12)[0].T  # decoder for z
    return A if Q is None else Q @ A


# ----------------------------------------------------------------------------- identity vs rotation
def flat_frame(d: int, n: int, seed=0) -> np.ndarray:
    """n orthonormal rows with every entry +-1/sqrt(d): a randomised Hadamard matrix H D / sqrt(d).

    Random signs D, a random choice of rows and a random column order (all from
    ``numpy.random.default_rng(seed)``). m4 = sum_j b_ij^4 = 1/d, the least a unit row can have
    (a Haar row has 3/(d + 2) on average), so it is the orthonormal encoder whose projections of
    i.i.d. data are closest to Gaussian (:func:`orthonormal_finite_d_risk`).

    Parameters
    ----------
    d : int
        Dimension, a power of 2.
    n : int
        Rows, 1 <= n <= d.
    seed : int or sequence of int
        Seed of the signs, rows and column order.

    Returns
    -------
    ndarray
        n x d, B B^T = I.

    Examples
    --------
    >>> B = flat_frame(8, 4)
    >>> np.allclose(B @ B.T, np.eye(4)), np.allclose(np.abs(B), 8 ** -0.5)
    (True, True)
    """
    from scipy.linalg import hadamard

    if not (isinstance(d, int) and d >= 1 and d & (d - 1) == 0):
        raise ValueError(f"d: a flat frame needs a power of 2, got {d!r}")
    if not (isinstance(n, int) and 1 <= n <= d):
        raise ValueError(f"n: expected an integer in [1, d = {d}], got {n!r}")
    rng = np.random.default_rng(seed)
    signs = np.where(rng.random(d) < 0.5, -1.0, 1.0)
    rows = (hadamard(d) * signs / math.sqrt(d))[rng.permutation(d)[:n]]
    return rows[:, rng.permutation(d)]


def orthonormal_finite_d_risk(B, law: Law, *, rotation=None) -> float:
    r"""First-order finite-d risk of orthonormal sign rows with the Gaussian-optimal decoder, i.i.d. coordinates.

        R ≈ 1 - (2 n / (pi d)) (1 - kappa4 m4 / 12),     m4 = mean_i sum_j b_ij^4,

    kappa4 the law's excess kurtosis (:meth:`Law.excess_kurtosis`, 3/P - 3 for
    Bernoulli-Gaussian). Derived (theory/structured.md): the projection b_i . z has excess
    kurtosis kappa4 sum_j b_ij^4, and by the first Edgeworth term E|b_i . z| = sqrt(2/pi)
    (1 - kappa4 sum_j b_ij^4 / 24); with orthonormal rows the codes stay uncorrelated to first
    order, so each neuron keeps (E|b_i . z|)^2 of the energy. The Gaussian value 1 - 2r/pi is
    m4 -> 0. Validated against :func:`structured_risk` (Haar and flat rows, d = 128-512, P = 0.1
    and 0.3, r = 0.5 and 1: within 0.1 % of the risk); second order in kappa4 m4, so it breaks
    for very sparse data at small d (kappa4 m4 of order 1) and for rows that are not orthonormal.

    Parameters
    ----------
    B : array_like
        n x d encoder with orthonormal rows (n <= d; not checked beyond the shape).
    law : Law
        The coordinate law of z (x = Q z).
    rotation : array_like, optional
        Q of a rotated source: the rows seen by z are those of B Q.

    Returns
    -------
    float
        The predicted normalised risk.

    Examples
    --------
    >>> B = np.eye(4)[:2]                       # rows e_1, e_2: m4 = 1, the identity-like encoder
    >>> round(orthonormal_finite_d_risk(B, Law("gaussian")), 6)     # 1 - 2r/pi at r = 1/2
    0.68169
    """
    B = np.asarray(B, dtype=np.float64)
    if B.ndim != 2 or B.shape[0] > B.shape[1]:
        raise ValueError(f"B: expected n x d orthonormal rows with n <= d, got shape {B.shape}")
    rows = B if rotation is None else B @ np.asarray(rotation, dtype=np.float64)
    m4 = float(np.mean(np.sum(rows**4, axis=1)))
    n, d = B.shape
    return 1.0 - 2.0 * n / (math.pi * d) * (1.0 - law.excess_kurtosis() * m4 / 12.0)


def code_statistics(law: Law) -> tuple[float, float, float]:
    """(E[x s], E s, Var s) of the 1-bit code s = sign(x) of one coordinate, with sign(0) = +1.

    E[x s] = E|x| (a zero contributes nothing); E s = P(x = 0) (atoms at 0 code as +1).

    Parameters
    ----------
    law : Law
        The coordinate law (P(x = 0) = 1 - P for the sparse laws, 0 for the others).

    Returns
    -------
    (float, float, float)
        E|x|, q = P(x = 0) and 1 - q^2.

    Examples
    --------
    >>> code_statistics(Law("sparse-rademacher", 0.25))
    (0.5, 0.75, 0.4375)
    """
    zero = 1.0 - law.p if law.name in ("bernoulli-gaussian", "sparse-rademacher") else 0.0
    return law.abs_mean(), zero, 1.0 - zero * zero


def identity_encoder_risk(law: Law, n: int, d: int) -> float:
    r"""Exact risk of the identity-like encoder (B selects n <= d coordinates) with its best linear decoder.

    Codes s_j = sign(x_j), sign(0) = +1, independent across j with mean q = P(x = 0) and
    E[x_j s_j] = E|x|; so C = E|x| [I_n; 0] and M = (1 - q^2) I + q^2 1 1^T, and

        R = 1 - (E|x|)^2 tr(M^{-1}) / d,   tr M^{-1} = (n - n q^2 / (1 - q^2 + n q^2)) / (1 - q^2)

    (Sherman-Morrison; proved). As n grows the decoder cancels the code's mean with the other
    neurons and R -> 1 - r (E|x|)^2 / (1 - q^2) = 1 - r kappa_z / (2 - P) for the sparse laws
    (kappa_z = (E|z|)^2 / E z^2 of the non-zero part). A single neuron (n = 1) gives
    1 - (E|x|)^2 / d, the value without that cancellation.

    Parameters
    ----------
    law : Law
        The coordinate law.
    n : int
        Number of selected coordinates (neurons), 1 <= n <= d.
    d : int
        Input dimension.

    Returns
    -------
    float
        The normalised risk R (1.0 when the code is constant, Var s = 0).

    Raises
    ------
    ValueError
        If not 1 <= n <= d.

    Notes
    -----
    One side of the identity-vs-rotation question of [1]_ (the formula is this project's).

    References
    ----------
    .. [1] K. Kögler, A. Shevchenko, H. Hassani and M. Mondelli, "Compression of structured data
       with autoencoders: provable benefit of nonlinearities and depth", ICML 2024, arXiv:2402.05013.

    Examples
    --------
    >>> round(identity_encoder_risk(Law("sparse-rademacher", 1.0), 8, 16), 12)   # x = +-1: exact code
    0.5
    """
    if not 1 <= n <= d:
        raise ValueError(f"the identity-like encoder selects n <= d coordinates; got n = {n}, d = {d}")
    ex, q, var = code_statistics(law)
    if var <= 0:
        return 1.0
    q2 = q * q
    trace = (n - n * q2 / (var + n * q2)) / var
    return float(1.0 - ex * ex * trace / d)


def identity_limit(law: Law, rate: float) -> float:
    """Proportional limit of :func:`identity_encoder_risk`: 1 - r (E|x|)^2 / Var(s) (r <= 1).

    The limit n = r d, d -> infinity of the proved formula (theory/structured.md).

    Parameters
    ----------
    law : Law
        The coordinate law.
    rate : float
        The rate r = n/d (the formula is applied as is; it holds for r <= 1).

    Returns
    -------
    float
        1 - r (E|x|)^2 / (1 - q^2), q = P(x = 0).

    Examples
    --------
    >>> identity_limit(Law("uniform"), 0.5)     # 1 - 0.5 * 0.75
    0.625
    """
    ex, _, var = code_statistics(law)
    return 1.0 - rate * ex * ex / var


def identity_wins(law: Law) -> bool:
    """True when the identity-like encoder beats a rotation (the Gaussian value 1 - 2r/pi) in the limit, r <= 1.

    The comparison does not depend on r <= 1: (E|x|)^2 / Var(s) against 2/pi.

    Derived between these two structures only; neither is shown to be the global minimizer
    (theory/structured.md); the rotation's value is the Gaussian limit of the linear decoder [1]_.
    A tie (Bernoulli-Gaussian at P = 1) is not a win.

    Parameters
    ----------
    law : Law
        The coordinate law.

    Returns
    -------
    bool
        (E|x|)^2 / Var(s) > 2/pi.

    References
    ----------
    .. [1] K. Kögler, A. Shevchenko, H. Hassani and M. Mondelli, "Compression of structured data
       with autoencoders: provable benefit of nonlinearities and depth", ICML 2024, arXiv:2402.05013.

    Examples
    --------
    >>> identity_wins(Law("uniform")), identity_wins(Law("laplace"))
    (True, False)
    """
    ex, _, var = code_statistics(law)
    return ex * ex / var > 2.0 / math.pi


#: sparse Rademacher: the identity wins above P* = 2 - pi/2 (from 1 / (2 - P) = 2/pi).
SPARSE_RADEMACHER_CRITICAL_P = 2.0 - math.pi / 2.0
