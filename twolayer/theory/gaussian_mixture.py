r"""Gaussian mixtures: the exact risk of an encoder, and a mixture fitted to data.

A source x ~ sum_k w_k N(mu_k, Sigma_k) is Gaussian given its component, so the moments that
fix the best linear decoder are averages of the Gaussian ones (:func:`.risk.code_moments`):

    C = sum_k w_k C(mu_k, Sigma_k),   M = sum_k w_k M(mu_k, Sigma_k),
    E||x||^2 = sum_k w_k (tr Sigma_k + |mu_k|^2),

    R(B) = 1 - tr(C M^+ C^T) / E||x||^2        (proved; any activation for zero means, no bias),

with the best linear decoder A = C M^+. It contains the one-scale mixture (Sigma_k = s_k^2
Sigma: R = 1 - kappa (1 - R_gauss), theory/scale_mixture.md) and describes what one scale
cannot: components whose covariances differ in *shape*, as when the brightness of image
patches does not scale with their contrast (theory/universality.md, "Two scales").

With means (sign and linear codes, :func:`sign_moments_with_mean`), u = Bx given the component
is N(m, K), m = B mu_k, a_i = m_i / sqrt(K_ii), rho_ij = K_ij / sqrt(K_ii K_jj), and

    E[x sign(u_i)] = mu_k erf(a_i / sqrt 2) + Sigma_k b_i / sqrt(K_ii) * 2 phi(a_i),
    E[sign(u_i) sign(u_j)] = 4 Phi_2(a_i, a_j; rho_ij) - 2 Phi(a_i) - 2 Phi(a_j) + 1,

with Phi_2 the bivariate normal orthant probability (:func:`bivariate_normal_cdf`; proved:
Gaussian integrals). Zero means give back 2 phi(0) = sqrt(2/pi) and (2/pi) arcsin rho.
Clusters (the digit classes) need the means (theory/universality.md, "Exploitable structure").

**The smoothed sign code** that sample training differentiates (:mod:`twolayer.simulations.estimators`),
s_i = erf(u_i / (sqrt 2 t_i)) = E_eps sign(u_i + t_i eps_i), is the sign code of u + t eps with
independent eps ~ N(0, I). So the same formulas hold with K_ii -> K_ii + t_i^2 in a_i and in
sqrt(K_ii) (not in K_ij, i != j), and the diagonal E[s_i^2], two independent noises, is
4 Phi_2(a_i, a_i; K_ii / (K_ii + t_i^2)) - 4 Phi(a_i) + 1 (proved, the same Gaussian integrals;
zero means: (2/pi) arcsin(K_ij / sqrt((K_ii + t_i^2)(K_jj + t_j^2))), the erf kernel).
:func:`smoothed_sign_loss_jax` is the exact loss E||x - A s||^2 of the smoothed network under a
mixture, which :func:`twolayer.simulations.mixture_training.train_on_mixture` descends.

Mixtures for data: :func:`fit_gaussian_mixture` (EM, zero means, full covariances, eigenvalues
floored), :func:`fit_gaussian_mixture_with_means` (scikit-learn's EM) and
:func:`contrast_binned_mixture` (rows grouped by contrast, no fit). Using one as a prediction of
real data is a model: exact for data that are such a mixture, validated numerically on image
patches and digits. :func:`gaussian_mixture_optimum` finds the best sign code for a mixture.
"""

from __future__ import annotations

import functools

import numpy as np

from .risk import _solve_psd, code_moments

#: Gauss-Legendre order of :func:`bivariate_normal_cdf` (error < 1e-12 for |rho| <= 0.999, 3e-9 at 0.9999; |rho| = 1 exact).
_BVN_NODES = 48

#: components of the mixture fitted to a data set's training rows (``theory_encoder_gmm_risk``).
DATA_COMPONENTS = 4


def _special(xp):
    """(ndtr, erf) of the array namespace ``xp`` (numpy or jax.numpy)."""
    if xp is np:
        from scipy.special import erf, ndtr
    else:
        from jax.scipy.special import erf, ndtr
    return ndtr, erf


def bivariate_normal_cdf(h, k, rho, xp=np, nodes: int = _BVN_NODES):
    r"""Phi_2(h, k; rho) = P(Z_1 < h, Z_2 < k) for standard normals with correlation rho (broadcast).

    Sheppard's formula, integrated over the angle theta = arcsin t (no singularity at |rho| = 1):

        Phi_2 = Phi(h) Phi(k) + (1/2pi) int_0^{arcsin rho} exp(-(h^2 - 2 h k sin th + k^2) / (2 cos^2 th)) d th,

    by Gauss-Legendre with :data:`_BVN_NODES` nodes (proved identity; the quadrature is checked
    against ``scipy.stats.multivariate_normal`` in the tests: 1e-12 for |rho| <= 0.999, 3e-9 at
    |rho| = 0.9999; |rho| = 1 in closed form, Phi(min(h, k)) and max(0, Phi(h) + Phi(k) - 1)).
    ``xp = jax.numpy`` gives the same function for JAX, with the exact partial derivatives
    (:func:`_bivariate_normal_cdf_jax`; differentiable for |rho| < 1); ``nodes`` sets the rule's
    order (16: 2e-15 for |rho| <= 0.9, 4e-9 at 0.99, 1.4e-6 at 0.999).

    >>> round(float(bivariate_normal_cdf(0.0, 0.0, 0.5)), 12)      # 1/4 + arcsin(1/2)/(2 pi)
    0.333333333333
    """
    if xp is np:
        h, k, rho = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (h, k, rho)))
        return _bivariate_normal_quadrature(h, k, rho, np, int(nodes))
    return _bivariate_normal_cdf_jax(int(nodes))(*xp.broadcast_arrays(h, k, rho))


def _bivariate_normal_quadrature(h, k, rho, xp, nodes: int):
    """:func:`bivariate_normal_cdf`'s rule on arrays of one shape (cos^2 th as (1 - sin th)(1 + sin th): one sine a node)."""
    ndtr, _ = _special(xp)
    x, w = np.polynomial.legendre.leggauss(nodes)
    top = xp.arcsin(xp.clip(rho, -1.0, 1.0))[..., None]
    sine = xp.sin(0.5 * top * (x + 1.0))  # interior nodes: cos(theta) > 0
    hh, kk = h[..., None], k[..., None]
    expo = -(hh * hh - 2.0 * hh * kk * sine + kk * kk) / (2.0 * (1.0 - sine) * (1.0 + sine))
    integral = 0.5 * top[..., 0] * (xp.exp(xp.minimum(expo, 0.0)) @ w)
    value = ndtr(h) * ndtr(k) + integral / (2.0 * np.pi)
    # |rho| = 1 in closed form (the integrand's edge at theta = pi/2 is too sharp for the rule when h ~ k)
    value = xp.where(rho >= 1.0, ndtr(xp.minimum(h, k)), value)
    return xp.where(rho <= -1.0, xp.maximum(ndtr(h) + ndtr(k) - 1.0, 0.0), value)


@functools.cache
def _bivariate_normal_cdf_jax(nodes: int):
    r"""JAX Phi_2(h, k; rho) with the rule of order ``nodes`` and the exact partial derivatives (proved):

        dPhi_2/dh = phi(h) Phi((k - rho h) / s),   dPhi_2/dk = phi(k) Phi((h - rho k) / s),
        dPhi_2/drho = exp(-(h^2 - 2 rho h k + k^2) / (2 s^2)) / (2 pi s),   s = sqrt(1 - rho^2),

    (the last is the bivariate density, Plackett's identity), taken as 0 at |rho| = 1. Differentiating
    the rule instead made a step of ``bc-train`` 2.7-3.5 times slower (``benchmarks/orthant_gradient.py``).
    """
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import ndtr

    @jax.custom_jvp
    def cdf(h, k, rho):
        return _bivariate_normal_quadrature(h, k, rho, jnp, nodes)

    @cdf.defjvp
    def _cdf_jvp(primals, tangents):
        h, k, rho = primals
        s2 = jnp.maximum((1.0 - rho) * (1.0 + rho), 1e-300)
        s = jnp.sqrt(s2)
        density = jnp.exp(-(h * h - 2.0 * rho * h * k + k * k) / (2.0 * s2)) / (2.0 * np.pi * s)
        by_h = jnp.exp(-0.5 * h * h) / np.sqrt(2.0 * np.pi) * ndtr((k - rho * h) / s)
        by_k = jnp.exp(-0.5 * k * k) / np.sqrt(2.0 * np.pi) * ndtr((h - rho * k) / s)
        by_rho = jnp.where(jnp.abs(rho) < 1.0, density, 0.0)
        return cdf(h, k, rho), by_h * tangents[0] + by_k * tangents[1] + by_rho * tangents[2]

    return cdf


def sign_moments_with_mean(B, mean, cov, xp=np, nodes: int = _BVN_NODES, smoothing=None):
    """(C, M, E||x||^2) of the sign code of x ~ N(mean, cov): the formulas of the module docstring.

    ``xp``: numpy (default) or jax.numpy (differentiable in B while no two rows are parallel);
    ``nodes``: the order of :func:`bivariate_normal_cdf`; ``smoothing``: None (the sign code) or
    the variances t_i^2 >= 0 of the smoothed code erf(u_i / (sqrt 2 t_i)) (module docstring).
    """
    ndtr, erf = _special(xp)
    n = B.shape[0]
    cov_b = cov @ B.T  # d x n, shared by K and C
    K = B @ cov_b
    kd = xp.diagonal(K)
    s = xp.sqrt(xp.maximum(kd if smoothing is None else kd + smoothing, 1e-300))
    a = (B @ mean) / s
    C = xp.outer(mean, erf(a / np.sqrt(2.0))) + cov_b / s * (2.0 * xp.exp(-0.5 * a * a) / np.sqrt(2.0 * np.pi))
    P = ndtr(a)
    # M is symmetric with M_ii = 1: the orthant probabilities (the cost) only for the pairs i < j
    i, j = np.triu_indices(n, 1)
    rho = xp.clip(K[i, j] / (s[i] * s[j]), -1.0, 1.0)
    upper = 4.0 * bivariate_normal_cdf(a[i], a[j], rho, xp, nodes) - 2.0 * P[i] - 2.0 * P[j] + 1.0
    if xp is np:
        M = np.zeros((n, n))
        M[i, j] = upper
    else:
        M = xp.zeros((n, n), dtype=upper.dtype).at[i, j].set(upper)
    if smoothing is None:
        diagonal = xp.eye(n)
    else:  # E[s_i^2]: u_i + t_i eps and u_i + t_i eps', correlation K_ii / (K_ii + t_i^2)
        diagonal = xp.diag(4.0 * bivariate_normal_cdf(a, a, xp.clip(kd / (s * s), -1.0, 1.0), xp, nodes) - 4.0 * P + 1.0)
    return C, M + M.T + diagonal, xp.trace(cov) + mean @ mean


def gaussian_mixture_risk(B, covariances, weights, *, activation="sign", means=None) -> float:
    """R(B) with the best linear decoder for x ~ sum_k w_k N(mu_k, Sigma_k) (module docstring).

    Parameters
    ----------
    B : array_like
        n x d encoder.
    covariances : sequence of array_like
        The d x d Sigma_k (symmetric positive semi-definite).
    weights : array_like
        w_k >= 0, summing to 1.
    activation : str or Activation
        The code (default sign).
    means : sequence of array_like, optional
        The mu_k (default: zero means). Non-zero means need the sign or the linear code.

    Returns
    -------
    float
        The normalised risk (by E||x||^2, which includes the means).

    Examples
    --------
    >>> import numpy as np
    >>> B = np.eye(4)[:2]                                   # two coordinates of d = 4, sign
    >>> round(gaussian_mixture_risk(B, [np.eye(4)], [1.0]), 6)          # 1 - 2r/pi, r = 1/2
    0.68169
    >>> round(gaussian_mixture_risk(B, [0.25 * np.eye(4), 4 * np.eye(4)], [0.5, 0.5]), 6)  # 1 - kappa 2r/pi
    0.765949
    """
    from ..activations import get_activation

    act = get_activation(activation)
    B = np.asarray(B, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    covariances = [np.asarray(c, dtype=np.float64) for c in covariances]
    if B.ndim != 2 or any(c.shape != (B.shape[1], B.shape[1]) for c in covariances):
        raise ValueError(f"B: n x d and covariances d x d expected; got B {B.shape}, "
                         f"covariances {[c.shape for c in covariances]}")
    if weights.shape != (len(covariances),) or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise ValueError("weights: one non-negative weight per covariance, summing to 1")
    if means is not None:
        means = [np.asarray(m, dtype=np.float64) for m in means]
        if len(means) != len(covariances) or any(m.shape != (B.shape[1],) for m in means):
            raise ValueError(f"means: one length-{B.shape[1]} vector per covariance expected")
        if not any(np.any(m) for m in means):
            means = None
        elif act.name not in ("sign", "linear"):
            raise ValueError(f"means: non-zero component means need the sign or the linear code, not {act.name!r}")
    C = M = 0.0
    energy = 0.0
    for k, (w, cov) in enumerate(zip(weights, covariances)):
        if means is None:
            Ck, Mk, trace = code_moments(B, cov, act)
        elif act.name == "sign":
            Ck, Mk, trace = sign_moments_with_mean(B, means[k], cov)
        else:  # linear code: the second moments of x
            second = cov + np.outer(means[k], means[k])
            Ck, Mk, trace = second @ B.T, B @ second @ B.T, np.trace(second)
        C, M, energy = C + w * Ck, M + w * Mk, energy + w * trace
    return float(1.0 - np.trace(C @ _solve_psd(M, C.T)) / energy)


def fit_gaussian_mixture(X, components: int = DATA_COMPONENTS, *, iterations: int = 200,
                         tol: float = 1e-7) -> tuple[list[np.ndarray], np.ndarray]:
    r"""Maximum-likelihood zero-mean Gaussian mixture of the rows of ``X``, by EM.

    Starts from Sigma_k = c_k S (S = X^T X / N, c_k log-spaced in [0.2, 5]) with equal weights,
    alternates responsibilities p(k | x) ∝ w_k N(x; 0, Sigma_k) and the weighted second moments
    Sigma_k = sum p(k|x) x x^T / sum p(k|x), w_k = mean p(k|x); every Sigma_k keeps its
    eigenvalues above 1e-6 tr(S)/d. Stops when the mean log-likelihood gains less than ``tol``.

    Parameters
    ----------
    X : array_like
        N x d rows (centred: the model has zero means), N > d.
    components : int
        K >= 1 (default :data:`DATA_COMPONENTS`).
    iterations : int
        Most EM steps (default 200).
    tol : float
        Stop when the mean log-likelihood per row improves by less (default 1e-7). The start is
        deterministic, so the fit is too.

    Returns
    -------
    (list of ndarray, ndarray)
        The K covariances and the weights.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20000, 3)) * np.where(rng.random((20000, 1)) < 0.5, 0.5, 2.0)
    >>> covs, w = fit_gaussian_mixture(X, 2)
    >>> sorted(np.round([np.trace(c) / 3 for c in covs], 1).tolist()), np.round(sorted(w), 1).tolist()
    ([0.2, 4.0], [0.5, 0.5])
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] <= X.shape[1] or not np.all(np.isfinite(X)):
        raise ValueError(f"X: expected finite N x d rows with N > d, got shape {X.shape}")
    if not isinstance(components, (int, np.integer)) or components < 1:
        raise ValueError(f"components: expected an integer >= 1, got {components!r}")
    N, d = X.shape
    S = X.T @ X / N
    floor = 1e-6 * np.trace(S) / d
    covs = [c * S for c in np.geomspace(0.2, 5.0, components)] if components > 1 else [S]
    weights = np.full(components, 1.0 / components)
    previous = -np.inf
    for _ in range(iterations):
        logp = np.empty((components, N))
        for k, (cov, w) in enumerate(zip(covs, weights)):
            lam, V = np.linalg.eigh(cov)
            lam = np.maximum(lam, floor)
            Z = (X @ V) / np.sqrt(lam)
            logp[k] = np.log(max(w, 1e-300)) - 0.5 * np.sum(np.log(lam)) - 0.5 * np.einsum("ij,ij->i", Z, Z)
        top = logp.max(axis=0)
        resp = np.exp(logp - top)
        total = resp.sum(axis=0)
        loglik = float(np.mean(top + np.log(total)))
        resp /= total
        weights = resp.mean(axis=1)
        covs = [(X * r[:, None]).T @ X / max(r.sum(), 1e-300) for r in resp]
        if loglik - previous < tol:
            break
        previous = loglik
    return covs, weights


#: most bins of :func:`contrast_binned_mixture` (fewer when there are fewer than 2 d rows per bin).
CONTRAST_BINS = 32


def contrast_binned_mixture(X, bins: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    r"""A zero-mean mixture whose components are the rows of ``X`` grouped by contrast.

    The contrast of a row is the norm of its part outside the top principal direction v_1 of
    S = X^T X / N, c(x) = ||x - (x . v_1) v_1|| (on raw image patches v_1 is the brightness,
    which does not scale with the contrast). The rows are sorted by c and cut into ``bins`` groups
    of equal size; component k has the weight N_k / N and the second-moment matrix of its rows,
    Sigma_k = sum_{i in k} x_i x_i^T / N_k. The covariance is thereby allowed to change *shape*
    with the contrast (the direction-contrast dependence of image patches), which one scale
    (:mod:`.scale_mixture`) cannot describe. No fit: the grouping is fixed by the data.

    Status: a model of the data; the risk under it is exact (:func:`gaussian_mixture_risk`).
    Validated numerically (theory/universality.md, "Contrast bins"): it recovers a mixture with
    well-separated scales (``tests/test_gaussian_mixture.py``). Where it breaks: a Gaussian's own
    norm fluctuations are read as a scale, so on Gaussian rows the risk comes out too high, by
    0.2 % (isotropic, d = 64), 1.2 % (k^-1) and 9.5 % (k^-2, small effective dimension); data
    runs subtract that excess measured on Gaussian rows with the same covariance. More bins
    resolve the scale better; each bin needs enough rows for its covariance.

    Parameters
    ----------
    X : array_like
        N x d rows (centred).
    bins : int, optional
        Number of groups (default: min(:data:`CONTRAST_BINS`, N // (2 d)), so that every bin has at
        least 2 d rows).

    Returns
    -------
    (list of ndarray, ndarray)
        The covariances and weights (:func:`gaussian_mixture_risk`'s arguments).

    Raises
    ------
    ValueError
        If N < 4 d (fewer than two bins of 2 d rows) or ``bins`` is not an integer >= 1.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"X: expected finite N x d rows, got shape {X.shape}")
    N, d = X.shape
    if bins is None:
        bins = default_contrast_bins(N, d)
        if bins < 2:
            raise ValueError(f"contrast bins need N >= 4 d rows (two bins of 2 d); got N = {N}, d = {d}")
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or not 1 <= bins <= N:
        raise ValueError(f"bins: expected an integer in [1, N = {N}], got {bins!r}")
    groups = contrast_groups(X, bins)
    covariances = [X[g].T @ X[g] / len(g) for g in groups]
    return covariances, np.array([len(g) / N for g in groups])


def default_contrast_bins(N: int, d: int) -> int:
    """Groups of :func:`contrast_binned_mixture` by default: min(:data:`CONTRAST_BINS`, N // (2 d)), 2 d rows each at least.

    >>> default_contrast_bins(16000, 64), default_contrast_bins(1438, 64)
    (32, 11)
    """
    return min(CONTRAST_BINS, N // (2 * d))


def contrast_groups(X, bins: int) -> list[np.ndarray]:
    """Row indices of :func:`contrast_binned_mixture`'s components: ``bins`` equal groups by contrast, lowest first.

    Parameters
    ----------
    X : array_like
        N x d rows (finite).
    bins : int
        Number of groups.

    Returns
    -------
    list of ndarray
        One index array per group (sizes differ by at most one).
    """
    _, contrast = _brightness_and_contrast(np.asarray(X, dtype=np.float64))
    return np.array_split(np.argsort(contrast, kind="stable"), int(bins))


def _brightness_and_contrast(X):
    """Per row: b = x . v_1 (v_1 the top eigenvector of X^T X / N) and c^2 = ||x||^2 - b^2."""
    top = np.linalg.eigh(X.T @ X / X.shape[0])[1][:, -1]
    brightness = X @ top
    return brightness, np.sum(X * X, axis=1) - brightness**2


#: (brightness groups, contrast groups per brightness group) of :func:`brightness_contrast_mixture`.
BRIGHTNESS_CONTRAST_BINS = (4, 8)


def brightness_contrast_mixture(X, bins=BRIGHTNESS_CONTRAST_BINS) -> tuple[list, np.ndarray, list]:
    r"""A mixture with means whose components are the rows of ``X`` grouped by brightness, then contrast.

    Brightness b = x . v_1 (v_1 the top principal direction of S = X^T X / N) and contrast
    c = ||x - b v_1|| (as :func:`contrast_binned_mixture`). The rows are cut into ``bins[0]`` equal
    groups by b, each of those into ``bins[1]`` equal groups by c; component k is the Gaussian
    N(mu_k, Sigma_k) with its rows' mean and covariance, weight N_k / N. The brightness groups
    carry the brightness's own (non-Gaussian) marginal and its dependence on the contrast, which
    the zero-mean contrast bins treat as one Gaussian variance. Use with the sign or linear code
    (:func:`gaussian_mixture_risk` with ``means``).

    Status: a model of the data; validated numerically on raw image patches (theory/universality.md,
    "Brightness and contrast bins"), where it gives the theory encoder's measured risk within
    2.4 %. Where it breaks: on item-mean-removed patches it is about 4 % optimistic; it needs
    N >= d * bins[0] * bins[1] rows (one row per dimension per group at least).

    Parameters
    ----------
    X : array_like
        N x d rows.
    bins : (int, int)
        Brightness groups and contrast groups within each (default :data:`BRIGHTNESS_CONTRAST_BINS`).

    Returns
    -------
    (list of ndarray, ndarray, list of ndarray)
        Covariances, weights and means.

    Raises
    ------
    ValueError
        If there are fewer than d rows per group, or ``bins`` is not two positive integers.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"X: expected finite N x d rows, got shape {X.shape}")
    if (len(bins) != 2 or any(isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1 for b in bins)):
        raise ValueError(f"bins: expected two positive integers (brightness, contrast), got {bins!r}")
    N, d = X.shape
    if N < d * bins[0] * bins[1]:
        raise ValueError(f"brightness x contrast bins {bins[0]} x {bins[1]} need N >= {d * bins[0] * bins[1]} rows "
                         f"(d per group) in d = {d}; got N = {N}")
    covariances, weights, means = [], [], []
    for group in brightness_contrast_groups(X, bins):
        mean = X[group].mean(axis=0)
        Y = X[group] - mean
        covariances.append(Y.T @ Y / len(group))
        weights.append(len(group) / N)
        means.append(mean)
    return covariances, np.array(weights), means


def brightness_contrast_groups(X, bins=BRIGHTNESS_CONTRAST_BINS) -> list[np.ndarray]:
    """Row indices of :func:`brightness_contrast_mixture`'s components, brightness-major.

    ``bins[0]`` equal groups by brightness b = x . v_1, each cut into ``bins[1]`` equal groups by
    contrast c = ||x - b v_1||.

    Parameters
    ----------
    X : array_like
        N x d rows (finite).
    bins : (int, int)
        Brightness groups and contrast groups within each.

    Returns
    -------
    list of ndarray
        ``bins[0] * bins[1]`` index arrays.
    """
    brightness, contrast = _brightness_and_contrast(np.asarray(X, dtype=np.float64))
    return [group
            for level in np.array_split(np.argsort(brightness, kind="stable"), int(bins[0]))
            for group in np.array_split(level[np.argsort(contrast[level], kind="stable")], int(bins[1]))]


def fit_gaussian_mixture_with_means(X, components: int = DATA_COMPONENTS, *, seed: int = 0):
    """Maximum-likelihood Gaussian mixture *with means* of the rows of ``X`` (scikit-learn's EM).

    ``sklearn.mixture.GaussianMixture`` with full covariances, k-means start (``random_state =
    seed``), at most 500 EM steps, and ``reg_covar`` = 1e-6 times the mean per-coordinate
    variance. Clusters (the digit classes) need the means; :func:`fit_gaussian_mixture` (zero
    means) describes shapes and scales only.

    Parameters
    ----------
    X : array_like
        N x d rows, N > components (d + 1).
    components : int
        K >= 1 (default :data:`DATA_COMPONENTS`).
    seed : int
        Seed of the k-means start (default 0).

    Returns
    -------
    (list of ndarray, ndarray, list of ndarray)
        Covariances, weights and means: the arguments of :func:`gaussian_mixture_risk`.
    """
    from sklearn.mixture import GaussianMixture

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"X: expected finite N x d rows, got shape {X.shape}")
    if not isinstance(components, (int, np.integer)) or components < 1:
        raise ValueError(f"components: expected an integer >= 1, got {components!r}")
    if X.shape[0] <= components * (X.shape[1] + 1):
        raise ValueError(f"X: {components} components with full covariances need more than "
                         f"{components * (X.shape[1] + 1)} rows in d = {X.shape[1]}; got {X.shape[0]}")
    reg = 1e-6 * float(np.mean(np.sum(X * X, axis=1))) / X.shape[1]
    gm = GaussianMixture(int(components), covariance_type="full", reg_covar=reg, random_state=int(seed),
                         max_iter=500).fit(X)
    return list(gm.covariances_), np.asarray(gm.weights_), list(gm.means_)


def gaussian_mixture_risk_jax(B, covariances, weights, means, nodes: int = _BVN_NODES):
    """:func:`gaussian_mixture_risk` for the sign code in JAX (differentiable in B; call under ``jax.enable_x64``).

    ``nodes``: the order of the orthant-probability rule (:func:`bivariate_normal_cdf`).
    """
    import jax.numpy as jnp

    C = M = energy = 0.0
    for w, cov, mean in zip(weights, covariances, means):
        Ck, Mk, trace = sign_moments_with_mean(B, mean, cov, jnp, nodes)
        C, M, energy = C + w * Ck, M + w * Mk, energy + w * trace
    return 1.0 - jnp.trace(C @ jnp.linalg.solve(M, C.T)) / energy


def smoothed_sign_loss_jax(A, B, covariances, weights, means, width, nodes: int = 16):
    r"""E||x - A s||^2 exactly, s_i = erf(u_i / (sqrt 2 width r_i)), u = B x, x ~ sum_k w_k N(mu_k, Sigma_k).

    r_i^2 = E u_i^2 = b_i^T S b_i, S = sum_k w_k (Sigma_k + mu_k mu_k^T) the second moment, is the population scale of
    neuron i (sample training uses its minibatch root-mean-square), so the smoothing is invariant to
    rescaling a row of B. With C = E[x s^T] and M = E[s s^T] from :func:`sign_moments_with_mean`
    (``smoothing`` = width^2 r^2), the loss is E||x||^2 - 2 tr(A^T C) + tr(A M A^T) (proved).
    JAX, differentiable in (A, B); call under ``jax.enable_x64``.

    Parameters
    ----------
    A : jax.Array
        d x n decoder.
    B : jax.Array
        n x d encoder.
    covariances, means : jax.Array
        K x d x d and K x d, the stacked components.
    weights : jax.Array
        The K weights, summing to 1.
    width : float or jax.Array
        The relative smoothing width tau > 0 (sign as tau -> 0).
    nodes : int
        Order of the orthant-probability rule (default 16, :func:`bivariate_normal_cdf`).
    """
    import jax
    import jax.numpy as jnp

    second = jnp.tensordot(weights, covariances, 1) + (means.T * weights) @ means  # S, d x d
    smoothing = width * width * jnp.sum((B @ second) * B, axis=1)
    C, M, energy = jax.vmap(lambda mu, cov: sign_moments_with_mean(B, mu, cov, jnp, nodes, smoothing))(
        means, covariances)
    C, M, energy = (jnp.tensordot(weights, v, 1) for v in (C, M, energy))
    return energy - 2.0 * jnp.sum(A * C) + jnp.sum((A @ M) * A)


def gaussian_mixture_optimum(B0, covariances, weights, means=None, *, maxiter: int = 500, full_output: bool = False):
    """Minimise the exact sign-code risk under a Gaussian mixture over the encoder, from ``B0``.

    L-BFGS (scipy) on :func:`gaussian_mixture_risk_jax` in float64, with a 16-node orthant rule
    (the returned risk is re-evaluated with the full rule). The result is where L-BFGS stops, an
    upper bound on the mixture's optimum, and the prediction "the best sign code for this
    mixture" (theory/universality.md, "Exploitable structure"; validated numerically, not proved).
    On the digits it converges (144-163 iterations at n = 16 and 64); on raw image patches it stops
    at ``maxiter`` still descending (8x8, n = 32: 0.2653 at 300 iterations, 0.2543 at 1000), so there
    it depends on ``maxiter`` and on the gradient's last digits (theory/universality.md, "`bc-train`
    at every patch cell").

    Parameters
    ----------
    B0 : array_like
        n x d start (e.g. the Gaussian-optimal encoder of the pooled covariance).
    covariances, weights, means :
        As in :func:`gaussian_mixture_risk` (means default to zero).
    maxiter : int
        Most L-BFGS iterations (default 500).
    full_output : bool
        Also return ``{"iterations": ..., "converged": ...}`` (L-BFGS's count, and whether it met its
        gradient or decrease test rather than ``maxiter``).

    Returns
    -------
    (float, ndarray) or (float, ndarray, dict)
        The risk (re-evaluated by :func:`gaussian_mixture_risk`) and the encoder (and the dict).
    """
    import jax
    import jax.numpy as jnp
    from scipy.optimize import minimize

    B0 = np.asarray(B0, dtype=np.float64)
    n, d = B0.shape
    means = [np.zeros(d)] * len(covariances) if means is None else means
    with jax.enable_x64(True):
        covs = [jnp.asarray(c, dtype=jnp.float64) for c in covariances]
        mus = [jnp.asarray(m, dtype=jnp.float64) for m in means]
        ws = [float(w) for w in weights]
        value_and_grad = jax.jit(jax.value_and_grad(
            lambda b: gaussian_mixture_risk_jax(b.reshape(n, d), covs, ws, mus, nodes=16)))

        def fun(b):
            value, grad = value_and_grad(jnp.asarray(b))
            return float(value), np.asarray(grad, dtype=np.float64)

        result = minimize(fun, B0.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": int(maxiter)})
    B = result.x.reshape(n, d)
    risk = gaussian_mixture_risk(B, covariances, weights, means=means)
    if full_output:
        return risk, B, {"iterations": int(result.nit), "converged": bool(result.success)}
    return risk, B
