r"""Gaussian scale mixtures x = s g and the sign autoencoder.

Model: g ~ N(0, Sigma_g), s > 0 a random scale independent of g, x = s g. For a
positively-homogeneous-of-degree-0 activation (sign: sign(s z) = sign(z) for s > 0) the
code y = sign(Bx) = sign(Bg) does not see s, so for any encoder B

    E[x y^T] = E[s] C,   E[y y^T] = M,   E||x||^2 = E[s^2] tr Sigma_g,

with C = E[g sign(Bg)^T] and M = E[sign(Bg) sign(Bg)^T] the Gaussian quantities. The optimal
decoder is A = E[s] C M^{-1}, and the normalised risk R = E||x - A y||^2 / E||x||^2 is

    R = 1 - kappa (1 - R_gauss),   kappa = (E s)^2 / E s^2  (in (0, 1] by Cauchy-Schwarz,
                                                            = 1 iff s is constant),

where R_gauss = 1 - tr(C M^{-1} C^T) / tr Sigma_g is the Gaussian risk of the same B. R is an
increasing affine function of R_gauss, so the optimal encoder is the Gaussian one. The
derivation, its scope and where it breaks are in theory/scale_mixture.md.

The same holds for any elliptical source x = r Sigma^{1/2} u (u uniform on the sphere,
independent of r), with kappa = [(E r)^2 / E r^2] / [(E chi_d)^2 / d], which may exceed 1;
``estimate_kappa(..., clip=False)`` estimates it.

Estimating kappa from data: E||x|| = E[s] E||g|| and E||x||^2 = E[s^2] E||g||^2, so

    kappa = [(E||x||)^2 / E||x||^2] * [E||g||^2 / (E||g||)^2],

the first factor measured on the samples, the second (>= 1, a function of the SHAPE of
Sigma_g only) computed exactly by :func:`expected_gaussian_norm`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate

from .._validation import as_matrix, as_spectrum

__all__ = ["mixture_risk", "expected_gaussian_norm", "estimate_kappa", "kappa_of_scales", "twin_scales"]


def mixture_risk(gaussian_risk, kappa):
    r"""Normalised risk of the sign autoencoder on a scale mixture: R = 1 - kappa (1 - R_gauss).

    ``gaussian_risk`` in [0, 1] is the normalised risk of the encoder on the Gaussian part
    (with its optimal decoder), ``kappa = (E s)^2 / E s^2`` in (0, 1]. Arrays broadcast;
    scalars give a float. Exact for any degree-0 homogeneous activation (sign).

    Parameters
    ----------
    gaussian_risk : float or array_like
        Normalised Gaussian risk(s) R_gauss, each in [0, 1].
    kappa : float or array_like
        (E s)^2 / E s^2, each in (0, 1].

    Returns
    -------
    float or ndarray
        R = 1 - kappa (1 - R_gauss), a float when the broadcast result is a scalar.

    Raises
    ------
    ValueError
        If a risk is outside [0, 1] or a kappa outside (0, 1] (or either is not finite).

    Examples
    --------
    >>> mixture_risk(0.5, 0.5)
    0.75
    """
    r = np.asarray(gaussian_risk, dtype=np.float64)
    k = np.asarray(kappa, dtype=np.float64)
    if not np.all(np.isfinite(r)) or np.any(r < 0.0) or np.any(r > 1.0):
        raise ValueError(f"gaussian_risk must be in [0, 1] (a normalised risk), got {gaussian_risk!r}")
    if not np.all(np.isfinite(k)) or np.any(k <= 0.0) or np.any(k > 1.0):
        raise ValueError(f"kappa must be in (0, 1] (kappa = (E s)^2 / E s^2), got {kappa!r}")
    out = 1.0 - k * (1.0 - r)
    return float(out) if out.ndim == 0 else out


def kappa_of_scales(scales, weights=None) -> float:
    r"""kappa = (E s)^2 / E s^2 for a discrete scale law (values, optional weights) or a sample.

    For example ``kappa_of_scales([0.5, 2])`` = 1.25^2 / 2.125 = 0.7353 (s uniform on {0.5, 2}).

    Parameters
    ----------
    scales : array_like
        Values (or samples) of s, finite and > 0; flattened.
    weights : array_like, optional
        Probabilities of the values (>= 0, not all zero, normalised here); None (default)
        gives every value the same weight.

    Returns
    -------
    float
        kappa in (0, 1] (rounding above 1 is clipped).

    Raises
    ------
    ValueError
        If ``scales`` is empty or has a non-finite or non-positive value, or ``weights``
        is invalid or has another shape.

    Examples
    --------
    >>> round(kappa_of_scales([0.5, 2]), 4)
    0.7353
    """
    s = np.asarray(scales, dtype=np.float64).ravel()
    if s.size == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0.0):
        raise ValueError("scales must be a non-empty array of finite values > 0")
    if weights is None:
        w = np.full(s.shape, 1.0 / s.size)
    else:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != s.shape or not np.all(np.isfinite(w)) or np.any(w < 0.0) or w.sum() <= 0.0:
            raise ValueError("weights must be finite, >= 0, not all zero, one per scale")
        w = w / w.sum()
    mean = float(w @ s)
    return min(1.0, mean * mean / float(w @ (s * s)))


def expected_gaussian_norm(spectrum) -> float:
    r"""E||g|| for g ~ N(0, diag(spectrum)), by one-dimensional quadrature (no Monte Carlo).

    From sqrt(a) = (1 / (2 sqrt(pi))) int_0^inf (1 - e^{-t a}) t^{-3/2} dt and
    E e^{-t ||g||^2} = prod_j (1 + 2 t lambda_j)^{-1/2} =: P(t),

        E||g|| = (1 / (2 sqrt(pi))) int_0^inf (1 - P(t)) t^{-3/2} dt.

    The spectrum is first divided by tau = sum lambda (E||g|| scales as sqrt(tau)); with
    t = e^u the integrand becomes (1 - P(e^u)) e^{-u/2} du, smooth and exponentially small
    at both ends. On u > 0 it is split as e^{-u/2} (integral 2, exact) minus P e^{-u/2};
    1 - P is evaluated as -expm1(-1/2 sum log1p(2 t lambda_j)) to keep full precision at
    small t. Relative error against the isotropic closed form sqrt(2) Gamma((d+1)/2) /
    Gamma(d/2): ~1e-13 up to d = 100, ~1e-11 at d = 1e5. Zero eigenvalues are allowed.

    Parameters
    ----------
    spectrum : array_like
        Variances lambda_j (finite, >= 0, positive sum).

    Returns
    -------
    float
        E||g||.

    Raises
    ------
    ValueError
        If ``spectrum`` is invalid.

    Examples
    --------
    >>> round(expected_gaussian_norm([1.0]), 6)  # E|g| = sqrt(2/pi)
    0.797885
    """
    lam = as_spectrum(spectrum)
    tau = float(lam.sum())
    p = lam[lam > 0.0] / tau

    def log_p(t):
        return -0.5 * float(np.sum(np.log1p(2.0 * t * p)))

    def low(u):  # u < 0: (1 - P) e^{-u/2}
        return -math.expm1(log_p(math.exp(u))) * math.exp(-0.5 * u)

    def high(u):  # u > 0: P e^{-u/2}
        return math.exp(log_p(math.exp(u)) - 0.5 * u)

    # Tails: for u < -U, 1 - P ~ t sum p = e^u, so the low integrand is ~ e^{u/2} and its
    # tail 2 e^{-U/2} is added in closed form; for u > U, P e^{-u/2} <= e^{-u} / sqrt(2 max p)
    # <= sqrt(d/2) e^{-U}, negligible at U = 80.
    cut = 80.0
    opts = dict(epsabs=1e-15, epsrel=1e-13, limit=500)
    i_low = sum(integrate.quad(low, a, b, **opts)[0] for a, b in ((-cut, -20.0), (-20.0, 0.0)))
    i_low += 2.0 * math.exp(-0.5 * cut)
    i_high = sum(integrate.quad(high, a, b, **opts)[0] for a, b in ((0.0, 20.0), (20.0, cut)))
    return math.sqrt(tau) * (i_low + 2.0 - i_high) / (2.0 * math.sqrt(math.pi))


def _spectrum_of(X: np.ndarray) -> np.ndarray:
    """Eigenvalues of the second-moment matrix X^T X / N (via the smaller Gram matrix)."""
    n, d = X.shape
    gram = X.T @ X if d <= n else X @ X.T
    return np.clip(np.linalg.eigvalsh(gram / n), 0.0, None)


def estimate_kappa(
    X, *, spectrum=None, return_stderr: bool = False, center: bool = False, clip: bool = True
):
    r"""Estimate kappa = (E s)^2 / E s^2 from samples, assuming x = s g, g ~ N(0, Sigma_g).

    ``X`` is N x d, one centred sample per row (set ``center=True`` to subtract the sample
    mean first). Sigma_g is taken proportional to the second-moment matrix
    Sigma_x = X^T X / N (normalisation E s^2 = 1, i.e. Sigma_g = Sigma_x), or to
    diag(``spectrum``) when given (only its shape matters: a common factor goes into s).
    With a_i = ||x_i||, b_i = ||x_i||^2, m = mean a_i, q = mean b_i:

        kappa_hat = (m^2 / q) * rho,   rho = tr Sigma_g / (E||g||)^2 >= 1

    (E||g|| from :func:`expected_gaussian_norm`); with Sigma_g = Sigma_x this is the same as
    (m / E||g||)^2. kappa_hat is clipped to (0, 1] (``clip=False`` returns the raw value):
    sampling noise can push it slightly above 1 when s is (nearly) constant, and a raw value
    above 1 by many standard errors means the norms are MORE concentrated than a Gaussian's
    with this covariance, i.e. the data are not a Gaussian scale mixture (e.g. the digits:
    raw 1.025 +- 0.0004). ``return_stderr=True`` returns ``(kappa, stderr)``,
    stderr from the delta method on (m, q) (gradient (2m/q, -m^2/q^2) times the sample
    covariance of (a_i, b_i) over N), of the unclipped estimate; the uncertainty of the
    covariance shape, which enters rho, is neglected (its bias is O(1/N)).

    Parameters
    ----------
    X : array_like
        N x d samples, one per row, N >= 2, finite, not all zero.
    spectrum : array_like, optional
        d eigenvalues fixing the shape of Sigma_g; None (default) uses the eigenvalues of
        X^T X / N.
    return_stderr : bool, optional
        Also return the delta-method standard error (default False).
    center : bool, optional
        Subtract the sample mean first (default False).
    clip : bool, optional
        Clip the estimate to at most 1 (default True).

    Returns
    -------
    kappa : float
        The estimate of kappa.
    stderr : float
        Its standard error, only when ``return_stderr`` is True.

    Raises
    ------
    ValueError
        If ``X`` is not a finite 2-D array, has fewer than 2 rows or is all zeros, or
        ``spectrum`` is invalid or does not have d values.
    """
    X = as_matrix(X, "X")
    n, d = X.shape
    if n < 2:
        raise ValueError(f"estimate_kappa needs at least 2 samples, got {n}")
    if center:
        X = X - X.mean(axis=0)
    b = np.einsum("ij,ij->i", X, X)
    a = np.sqrt(b)
    m, q = float(a.mean()), float(b.mean())
    if q <= 0.0:
        raise ValueError("X is all zeros: kappa is undefined")
    if spectrum is None:
        lam = _spectrum_of(X)
    else:
        lam = as_spectrum(spectrum)
        if lam.size != d:
            raise ValueError(f"spectrum has {lam.size} eigenvalues but X has d = {d} columns")
    lam = as_spectrum(lam)
    rho = float(lam.sum()) / expected_gaussian_norm(lam) ** 2
    raw = (m * m / q) * rho
    kappa = min(1.0, raw) if clip else raw
    if not return_stderr:
        return kappa
    grad = np.array([2.0 * m / q, -m * m / (q * q)])
    cov = np.cov(np.vstack([a, b]))
    stderr = rho * math.sqrt(max(float(grad @ cov @ grad), 0.0) / n)
    return kappa, stderr


def twin_scales(X, G) -> np.ndarray:
    r"""Scales s_i whose law is that of the row norms of X less the Gaussian rows' own: a scale-mixture twin s * G.

    With x = s g (s independent of g), log||x|| = log s + log||g||, so
    Var log s = Var log||x|| - Var log||g||. The scales keep the shape of the data's log-norm
    law and shrink it to that variance:

        log s_i = c (log||x_i|| - mean_j log||x_j||),   c^2 = max(0, 1 - Var log||g|| / Var log||x||),

    with Var log||g|| measured on the rows of G (Gaussian, the covariance of X). Rows of X with
    zero norm (whose scale would be 0) get the smallest scale of the others. The twin rows
    s_i g_i then have (to second order in the log) the norm spread of X, and their exact risk is
    known: 1 - kappa(s) (1 - R_gauss) for the sign code (:func:`kappa_of_scales` of these s).
    On Gaussian X, c is O(N^(-1/4)) and s ~ 1. Status: a moment match in the log (exact in its
    variance; the shape of the law is the data's, not deconvolved), validated numerically as the
    excess correction of the binned data models (theory/universality.md, "The scale-mixture twin").

    Parameters
    ----------
    X : array_like
        N x d data rows, at least 2 of positive norm.
    G : array_like
        M x d Gaussian rows with the covariance of X (M >= 2, none of zero norm).

    Returns
    -------
    ndarray
        N scales, > 0, with geometric mean 1.

    Raises
    ------
    ValueError
        If X or G is not a finite 2-D array, X has fewer than 2 rows of positive norm, G has
        fewer than 2 rows or one of zero norm, or their widths differ.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> G = rng.standard_normal((20000, 16))
    >>> s = rng.choice([0.5, 2.0], size=20000)
    >>> round(kappa_of_scales(twin_scales(s[:, None] * rng.standard_normal((20000, 16)), G)), 2)  # law's: 0.7353
    0.73
    """
    X, G = as_matrix(X, "X"), as_matrix(G, "G")
    if X.shape[1] != G.shape[1]:
        raise ValueError(f"X has d = {X.shape[1]} columns but G has {G.shape[1]}")
    sx, sg = np.einsum("ij,ij->i", X, X), np.einsum("ij,ij->i", G, G)
    positive = sx > 0.0
    if np.count_nonzero(positive) < 2:
        raise ValueError("twin_scales needs at least 2 rows of X of positive norm")
    if sg.size < 2 or np.any(sg <= 0.0):
        raise ValueError("twin_scales needs at least 2 rows of G, none of zero norm")
    lx, lg = 0.5 * np.log(sx[positive]), 0.5 * np.log(sg)
    vx = float(lx.var())
    c = math.sqrt(max(0.0, 1.0 - float(lg.var()) / vx)) if vx > 0.0 else 0.0
    log_scales = np.full(sx.shape, float(lx.min()))
    log_scales[positive] = lx
    return np.exp(c * (log_scales - lx.mean()))
