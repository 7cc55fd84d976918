r"""Proportional-regime limits of the minimal risk (n, d -> infinity, r = n/d fixed).

Status of each formula (see theory/limits.md for the derivations):

* sign, isotropic source (theorem of Shevchenko, Kögler, Hassani and Mondelli, ICML 2023,
  arXiv:2212.13468; verified here against constructed minimizers and gradient descent on
  the exact risk)::

      min_risk(r) = 1 - 2r/pi            for r <= 1   (orthonormal rows)
                  = 1 - r/(r + c)        for r >  1   (unit-norm tight frame), c = pi/2 - 1.

* linear activation: PCA, the spectrum's tail beyond the top n (Eckart-Young, proved).
* sign, any spectrum sigma_1 >= ... >= sigma_d: *derived under an approximation*
  (arcsin linearised off the diagonal, arcsin(K) ~ K + c I), validated numerically within
  1% for spectra without a dominant spike; up to ~10% optimistic when one eigenvalue
  carries much of the variance::

      min_risk = min_{k <= min(n, d)} [sum_{j<=k} sigma_j c/(m_j + c) + sum_{j>k} sigma_j] / sum_j sigma_j

  with m_j = max(0, sqrt(sigma_j c / lam) - c), sum_j m_j = n (:func:`optimal_allocation`).
  For n = r d < 1 (less than one neuron) the value is interpolated linearly between
  n = 0 (risk 1) and n = 1 (time-sharing), which stays above Shannon's bound.
* other activations: the same allocation with c = inf_s c(s) from
  :meth:`~twolayer.activations.Activation.linearised_constant` -- an approximation.
  It is fair for odd activations (for erf and tanh the infimum is the linear regime
  s -> 0, i.e. the PCA value) and *fails for relu*: pairs of neurons (b, -b) give
  relu(z) - relu(-z) = z, so relu reaches the PCA risk at rate r/2 (0 at r >= 2), below
  the linearised value there. For relu ``min_risk`` returns the smaller of the two: the
  pairs value is achievable (an upper bound on the true minimum, exact 0 for r >= 2).

Closed-form sums use an O(d) scan with cumulative sums, so 1,000 rates over a spectrum
of 1,000 eigenvalues take milliseconds.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize

from .._validation import as_rate, as_rates, as_spectrum
from ..activations import get_activation

#: c = pi/2 - 1: the non-linear part of sign relative to its linear part (E g sign g = sqrt(2/pi)).
SIGN_C = math.pi / 2.0 - 1.0


def _maybe_scalar(values: np.ndarray, like) -> float | np.ndarray:
    return float(values) if np.ndim(like) == 0 else values


def linearised_constant(activation="sign") -> float:
    """c* = inf over the pre-activation scale s of c(s) (scale-free for homogeneous activations).

    c(s) is :meth:`~twolayer.activations.Activation.linearised_constant`; for a homogeneous
    activation it is evaluated at s = 1, otherwise minimised over a log grid of s in
    [1e-3, 1e2] and refined by a bounded scalar search.

    Parameters
    ----------
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).

    Returns
    -------
    float
        c* (pi/2 - 1 for sign, 1 - 2/pi for relu, 0 for linear).

    Raises
    ------
    ValueError
        If ``activation`` is not recognised.

    Examples
    --------
    >>> round(linearised_constant("sign"), 6)  # pi/2 - 1
    0.570796
    """
    act = get_activation(activation)
    if act.homogeneous:
        return act.linearised_constant(1.0)
    # c(s) on a log grid, then a bounded refinement around the best grid point.
    grid = np.logspace(-3, 2, 61)
    values = np.array([act.linearised_constant(s) for s in grid])
    best = int(np.argmin(values))
    if 0 < best < grid.size - 1:
        res = scipy.optimize.minimize_scalar(
            lambda t: act.linearised_constant(math.exp(t)),
            bounds=(math.log(grid[best - 1]), math.log(grid[best + 1])),
            method="bounded",
        )
        return float(min(res.fun, values[best]))
    return float(max(values[best], 0.0))


def _allocation_scan(spectrum: np.ndarray, n: np.ndarray, c: float):
    """For each code size n: the best number p of active directions and its risk (unnormalised).

    With the top p directions active, the optimal allocation is m_j = mu sqrt(c sigma_j) - c,
    mu = (n + p c) / (sqrt(c) S_p), S_p = sum_{j<=p} sqrt(sigma_j), and the risk is
    F(p) = c S_p^2 / (n + p c) + sum_{j>p} sigma_j. p is admissible when m_p >= 0 and
    p <= max(1, floor(n)); the minimum over admissible p equals the minimum over k of the
    water-filled top-k allocations (a water-filling over the top k activates some top p).
    """
    sigma = np.sort(spectrum)[::-1]
    d = sigma.size
    p = np.arange(1, d + 1, dtype=np.float64)
    S = np.cumsum(np.sqrt(sigma))
    tail = np.clip(sigma.sum() - np.cumsum(sigma), 0.0, None)
    n_col = n.reshape(-1, 1)
    denom = n_col + p * c
    F = c * S**2 / denom + tail
    admissible = (denom * np.sqrt(sigma) >= c * S * (1 - 1e-12)) & (p <= np.maximum(1.0, np.floor(n_col + 1e-9)))
    F = np.where(admissible, F, np.inf)
    best = np.argmin(F, axis=1)
    return sigma, best + 1, F[np.arange(n.size), best]


def optimal_allocation(spectrum, n, *, c: float = SIGN_C) -> np.ndarray:
    r"""Predicted eigenvalues m_j of the optimal encoder's frame operator W^T W along Sigma's eigenvectors.

    W = rows of B Sigma^{1/2} normalised to unit norm (the encoder as the source sees it;
    W = B with unit rows when Sigma = I). m_j = max(0, sqrt(sigma_j c / lam) - c), with
    lam such that sum_j m_j = n and at most min(n, d) directions active; returned in the
    order of ``spectrum`` (derived under the linearised-arcsin approximation).

    Parameters
    ----------
    spectrum : array_like
        Eigenvalues sigma_j of the source covariance (finite, >= 0, positive sum).
    n : float
        Code size n (number of neurons), finite and > 0.
    c : float, optional
        Linearised constant c (default :data:`SIGN_C` = pi/2 - 1).

    Returns
    -------
    ndarray
        m, one value per eigenvalue, >= 0, summing to n (at most max(1, floor(n))
        entries are non-zero).

    Raises
    ------
    ValueError
        If ``spectrum`` or ``n`` is invalid.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.

    Examples
    --------
    >>> [round(float(m), 6) for m in optimal_allocation([1.0, 1.0, 1.0, 1.0], 2)]  # n ones
    [1.0, 1.0, 0.0, 0.0]
    """
    sigma_in = as_spectrum(spectrum)
    n_val = as_rate(n, "n (code size)")
    order = np.argsort(-sigma_in, kind="stable")
    sigma, p, _ = _allocation_scan(sigma_in, np.array([n_val]), c)
    p = int(p[0])
    root = np.sqrt(c * sigma[:p])
    mu = (n_val + p * c) / root.sum()
    m_sorted = np.zeros_like(sigma)
    m_sorted[:p] = np.clip(mu * root - c, 0.0, None)
    m = np.empty_like(m_sorted)
    m[order] = m_sorted
    return m


def allocation_risk(spectrum, m, *, c: float = SIGN_C) -> float:
    """Linearised risk of an allocation: sum_j sigma_j c / (m_j + c) / sum_j sigma_j (m_j = 0: sigma_j).

    Parameters
    ----------
    spectrum : array_like
        Eigenvalues sigma_j of the source covariance (finite, >= 0, positive sum).
    m : array_like
        Allocation m_j >= 0, one value per eigenvalue (e.g. :func:`optimal_allocation`).
    c : float, optional
        Linearised constant c (default :data:`SIGN_C`); c = 0 counts only the
        eigenvalues with m_j = 0 as lost.

    Returns
    -------
    float
        The normalised linearised risk.

    Raises
    ------
    ValueError
        If ``spectrum`` is invalid or ``m`` does not have its shape.
    """
    sigma = as_spectrum(spectrum)
    m = np.asarray(m, dtype=np.float64)
    if m.shape != sigma.shape:
        raise ValueError(f"allocation has shape {m.shape}, expected {sigma.shape} (one value per eigenvalue)")
    if c == 0:
        return float(np.sum(np.where(m > 0, 0.0, sigma)) / sigma.sum())
    return float(np.sum(sigma * c / (m + c)) / sigma.sum())


def pca_risk(rate, *, spectrum=None):
    """PCA (optimal linear autoencoder) risk: 1 - (sum of the top n = r d eigenvalues) / total.

    Isotropic: max(0, 1 - r). For a fractional n the partial sum is interpolated linearly
    between floor(n) and floor(n) + 1 (exact at integer n). Proved (Eckart-Young).

    Parameters
    ----------
    rate : float or array_like
        Rate(s) r = n/d, finite and > 0.
    spectrum : array_like, optional
        Eigenvalues of the source covariance (d = its length); None (default) is the
        isotropic source.

    Returns
    -------
    float or ndarray
        The risk, a float for a scalar ``rate``, else an array of the shape of ``rate``.

    Raises
    ------
    ValueError
        If a rate is not finite and > 0, or ``spectrum`` is invalid.

    References
    ----------
    .. [1] C. Eckart and G. Young, "The approximation of one matrix by another of lower
       rank", Psychometrika 1 (1936).

    Examples
    --------
    >>> round(float(pca_risk(0.25)), 6)
    0.75
    >>> round(float(pca_risk(0.5, spectrum=[3.0, 1.0])), 6)  # 1 - 3/4
    0.25
    """
    r = as_rates(rate)
    if spectrum is None:
        return _maybe_scalar(np.clip(1.0 - r, 0.0, None), rate)
    sigma = np.sort(as_spectrum(spectrum))[::-1]
    d = sigma.size
    cum = np.concatenate([[0.0], np.cumsum(sigma)])
    n = np.minimum(r * d, d)
    lo = np.floor(n).astype(int)
    hi = np.minimum(lo + 1, d)
    top = cum[lo] + (n - lo) * (cum[hi] - cum[lo])
    return _maybe_scalar(np.clip(1.0 - top / cum[-1], 0.0, None), rate)


def min_risk(rate, *, activation="sign", spectrum=None):
    """Proportional-limit minimal risk at rate r = n/d (scalar or array of rates).

    sign & spectrum=None: 1 - 2r/pi (r <= 1), 1 - r/(r + pi/2 - 1) (r > 1).
    linear: :func:`pca_risk`. Otherwise the allocation formula of the module docstring
    with c = :func:`linearised_constant` (isotropic: the same closed form with that c).
    See :func:`prediction_status` for how far each case is proved.

    Parameters
    ----------
    rate : float or array_like
        Rate(s) r = n/d, finite and > 0.
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).
    spectrum : array_like, optional
        Eigenvalues of the source covariance (d = its length); None (default) is the
        isotropic source.

    Returns
    -------
    float or ndarray
        The normalised risk, a float for a scalar ``rate``, else an array of the shape of
        ``rate``.

    Raises
    ------
    ValueError
        If a rate is not finite and > 0, ``spectrum`` is invalid or ``activation`` unknown.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.

    Examples
    --------
    >>> round(float(min_risk(0.5)), 6)  # 1 - 2r/pi = 1 - 1/pi
    0.68169
    >>> round(float(min_risk(2.0)), 6)  # 1 - r/(r + pi/2 - 1)
    0.222031
    """
    r = as_rates(rate)
    act = get_activation(activation)
    if act.name == "linear":
        return pca_risk(rate, spectrum=spectrum)
    c = SIGN_C if act.name == "sign" else linearised_constant(act)
    if spectrum is None:
        values = np.where(r <= 1.0, 1.0 - r / (1.0 + c), c / (r + c))  # c/(r+c) = 1 - r/(r+c), no cancellation
    else:
        sigma = as_spectrum(spectrum)
        n = r.ravel() * sigma.size
        _, _, F = _allocation_scan(sigma, np.maximum(n, 1.0), c)
        values = F / sigma.sum()
        # fewer than one neuron (n < 1): time-sharing between no code (risk 1) and one neuron
        values = np.where(n < 1.0, 1.0 - n * (1.0 - values), values).reshape(r.shape)
    if act.name == "relu":  # pairs (b, -b) are a linear code of n/2 directions
        values = np.minimum(values, pca_risk(r / 2.0, spectrum=spectrum))
    return _maybe_scalar(values, rate)


def prediction_status(activation="sign", spectrum=None) -> str:
    """How much to trust :func:`min_risk` for this activation and source (one short phrase).

    Parameters
    ----------
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).
    spectrum : array_like, optional
        Only whether it is None (isotropic) matters.

    Returns
    -------
    str
        For example ``"proved (PCA)"``, ``"theorem (isotropic)"`` or
        ``"approximation (linearised)"``.

    Raises
    ------
    ValueError
        If ``activation`` is not recognised.
    """
    name = get_activation(activation).name
    if name == "linear":
        return "proved (PCA)"
    if name == "sign":
        return "theorem (isotropic)" if spectrum is None else "derived (linearised arcsin)"
    if name == "relu":
        return "approximation (linearised) or relu pairs, whichever is lower; 0 at r >= 2 is proved"
    return "approximation (linearised)"
