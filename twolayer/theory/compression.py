r"""Compression limits: Shannon's distortion-rate function and the references around it.

A sign autoencoder with n = r d neurons emits r bits per input dimension, so it is a
lossy compressor at rate r and can be compared with the best any code could do:

* Gaussian source N(0, diag(sigma)), rate R bits per dimension, squared error normalised
  by sum_j sigma_j (proved, Shannon; reverse water-filling, Cover & Thomas Thm 10.3.3)::

      D(R) = sum_j min(theta, sigma_j) / sum_j sigma_j,
      R    = (1/d) sum_j max(0, (1/2) log2(sigma_j / theta)).

  Isotropic: D(R) = 2^(-2R).
* the 1-bit scalar quantiser x -> sqrt(2/pi) sign(x) on each coordinate (rate 1):
  1 - 2/pi (proved: E|g|^2 = 2/pi).
* PCA: :func:`twolayer.theory.limits.pca_risk`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from .._validation import as_rates, as_spectrum
from .limits import min_risk, pca_risk

#: Risk of the 1-bit scalar quantiser sqrt(2/pi) sign(x_i) on every coordinate (rate 1).
ONE_BIT_SCALAR_QUANTISER_RISK = 1.0 - 2.0 / math.pi


def rate_distortion(rate, *, spectrum=None):
    """Shannon's distortion-rate D(R) of a Gaussian source, R in bits per input dimension.

    Normalised like the autoencoder risk (D(0) = 1). Scalar or array ``rate``.
    Proved (Shannon): reverse water-filling over the eigenvalues, see the module docstring.

    Parameters
    ----------
    rate : float or array_like
        Rate(s) R in bits per input dimension, finite and > 0.
    spectrum : array_like, optional
        Eigenvalues of the source covariance (zeros allowed, positive sum); None (default)
        is the isotropic source, D(R) = 2^(-2R).

    Returns
    -------
    float or ndarray
        D(R) / (sum_j sigma_j), a float for a scalar ``rate``, else an array of the shape
        of ``rate``.

    Raises
    ------
    ValueError
        If a rate is not finite and > 0, or ``spectrum`` is invalid.

    References
    ----------
    .. [1] T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed.,
       Wiley, 2006, Section 10.3.3, Theorem 10.3.3 (independent Gaussian random
       variables, reverse water-filling).

    Examples
    --------
    >>> round(float(rate_distortion(1.0)), 6)  # 2^(-2)
    0.25
    >>> round(float(rate_distortion(0.5, spectrum=[4.0, 1.0])), 6)  # theta = 1: (1 + 1)/5
    0.4
    """
    R = as_rates(rate)
    if spectrum is None:
        out = np.exp2(-2.0 * R)
        return float(out) if np.ndim(rate) == 0 else out
    active, log_theta, tail, total = _water_filling(R, spectrum)
    D = ((active * np.exp2(log_theta) + tail) / total).reshape(R.shape)
    return float(D) if np.ndim(rate) == 0 else D


def _water_filling(R: np.ndarray, spectrum):
    """Reverse water-filling at the rates ``R``: per rate, the number of active eigenvalues k, log2 of
    the water level theta, the sum of the inactive eigenvalues, and (one number) the sum of all."""
    sigma_all = as_spectrum(spectrum)
    d = sigma_all.size
    sigma = np.sort(sigma_all[sigma_all > 0])[::-1]
    log_s = np.log2(sigma)
    k = np.arange(1, sigma.size + 1)
    cum_log = np.cumsum(log_s)
    tail = np.concatenate([np.cumsum(sigma[::-1])[::-1][1:], [0.0]])  # sum_{j>k} sigma_j
    Rcol = R.reshape(-1, 1)
    log_theta = (cum_log - 2.0 * Rcol * d) / k  # water level if the top k are active
    next_log = np.concatenate([log_s[1:], [-np.inf]])
    valid = (log_theta < log_s + 1e-12) & (log_theta >= next_log - 1e-12)
    idx = np.argmax(valid, axis=1)  # the active set is unique; argmax takes the first match
    return k[idx], log_theta[np.arange(R.size), idx], tail[idx], sigma_all.sum()


def gap_db(rate, risk, *, spectrum=None) -> float:
    """10 log10(risk / D(rate)) in dB: how far ``risk`` is above Shannon's limit at ``rate``.

    Computed from log2 D where D(rate) is below float64's normal range (the isotropic D = 2^(-2r)
    is for r > 511), so it stays finite and exact where :func:`rate_distortion` rounds to 0.

    Parameters
    ----------
    rate : float
        One rate R in bits per input dimension, finite, > 0 and at most 1e300.
    risk : float
        A normalised risk > 0 (e.g. :func:`~twolayer.theory.limits.min_risk` at ``rate``).
    spectrum : array_like, optional
        Eigenvalues of the source covariance; None (default) is the isotropic source.

    Returns
    -------
    float
        The gap in dB.

    Raises
    ------
    ValueError
        If ``rate`` or ``spectrum`` is invalid, or ``risk`` is not > 0.

    Examples
    --------
    >>> round(gap_db(600, 1.0), 2)    # 10 log10(2^1200)
    3612.36
    """
    R = as_rates(rate).reshape(1)
    if not risk > 0:
        raise ValueError(f"risk must be > 0 to compare it with Shannon's limit in dB, got {risk!r}")
    shannon = float(rate_distortion(R[0], spectrum=spectrum))
    if shannon >= np.finfo(np.float64).tiny:
        return 10.0 * math.log10(risk / shannon)
    if spectrum is None:
        log2_d = -2.0 * float(R[0])
    else:
        active, log_theta, tail, total = _water_filling(R, spectrum)
        with np.errstate(divide="ignore"):  # log2(0) = -inf: no inactive eigenvalue
            log2_d = float(np.logaddexp2(np.log2(active) + log_theta, np.log2(tail))[0] - np.log2(total))
    return 10.0 * (math.log10(risk) - log2_d * math.log10(2.0))


def _warn_underflow(rate: float) -> None:
    warnings.warn(f"Shannon's D(r) at r = {rate:g} is below float64's normal range: it is rounded (to 0 at the "
                  "latest, the ratio then inf); gap_db is computed from log D and stays exact",
                  RuntimeWarning, stacklevel=3)


@dataclass(frozen=True)
class ShannonGap:
    """The best sign autoencoder at rate r beside Shannon's limit and the simple references.

    Attributes
    ----------
    rate : float
        r = n/d, which is also the code rate in bits per dimension (one bit per neuron).
    min_risk : float
        :func:`~twolayer.theory.limits.min_risk` for sign at this rate.
    rate_distortion : float
        :func:`rate_distortion` at R = r.
    pca_risk : float
        :func:`~twolayer.theory.limits.pca_risk` at this rate.
    one_bit_scalar : float
        :data:`ONE_BIT_SCALAR_QUANTISER_RISK` = 1 - 2/pi.
    ratio : float
        min_risk / rate_distortion (>= 1; inf where rate_distortion underflows float64).
    gap_db : float
        10 log10(ratio), computed from log D where D underflows (:func:`gap_db`).
    """

    rate: float
    min_risk: float
    rate_distortion: float
    pca_risk: float
    one_bit_scalar: float
    ratio: float  # min_risk / rate_distortion (>= 1)
    gap_db: float  # 10 log10(ratio)

    def as_dict(self) -> dict:
        """The fields as a plain ``dict`` of floats (JSON-ready)."""
        return asdict(self)


def shannon_gap(rate, *, spectrum=None) -> ShannonGap:
    """How far the best two-layer sign autoencoder is from Shannon's limit at rate r (one call).

    Parameters
    ----------
    rate : float
        One rate r = n/d (bits per dimension), finite and > 0.
    spectrum : array_like, optional
        Eigenvalues of the source covariance; None (default) is the isotropic source.

    Returns
    -------
    ShannonGap
        The sign minimum, Shannon's D(r), the PCA and 1-bit scalar references, their
        ratio and the gap in dB.

    Raises
    ------
    ValueError
        If ``rate`` is not finite, > 0 and at most 1e300, or ``spectrum`` is invalid.

    Warns
    -----
    RuntimeWarning
        Where D(r) underflows float64 (it is then 0 and ``ratio`` inf; ``gap_db`` stays exact).

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.
    .. [2] T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed.,
       Wiley, 2006, Theorem 10.3.3.

    Examples
    --------
    >>> gap = shannon_gap(1.0)
    >>> round(gap.min_risk, 6), round(gap.rate_distortion, 6)  # 1 - 2/pi, 2^(-2)
    (0.36338, 0.25)
    """
    R = float(as_rates(rate))
    best = float(min_risk(R, activation="sign", spectrum=spectrum))
    shannon = float(rate_distortion(R, spectrum=spectrum))
    if shannon < np.finfo(np.float64).tiny:
        _warn_underflow(R)
    return ShannonGap(
        rate=R,
        min_risk=best,
        rate_distortion=shannon,
        pca_risk=float(pca_risk(R, spectrum=spectrum)),
        one_bit_scalar=ONE_BIT_SCALAR_QUANTISER_RISK,
        ratio=best / shannon if shannon > 0 else math.inf,
        gap_db=gap_db(R, best, spectrum=spectrum),
    )
