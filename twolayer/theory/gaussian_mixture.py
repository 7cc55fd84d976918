r"""Zero-mean Gaussian mixtures: the exact risk of an encoder, and a mixture fitted to data.

A source x ~ sum_k w_k N(0, Sigma_k) is Gaussian given its component, so the moments that
fix the best linear decoder are averages of the Gaussian ones (:func:`.risk.code_moments`):

    C = sum_k w_k C(Sigma_k),   M = sum_k w_k M(Sigma_k),   E||x||^2 = sum_k w_k tr Sigma_k,

    R(B) = 1 - tr(C M^+ C^T) / sum_k w_k tr Sigma_k        (proved, any activation, no bias),

with the best linear decoder A = C M^+. It contains the one-scale mixture (Sigma_k = s_k^2
Sigma: R = 1 - kappa (1 - R_gauss), theory/scale_mixture.md) and describes what one scale
cannot: components whose covariances differ in *shape*, as when the brightness of image
patches does not scale with their contrast (theory/universality.md, "Two scales").

:func:`fit_gaussian_mixture` fits the w_k and Sigma_k to data by EM (maximum likelihood, zero
means, full covariances, eigenvalues floored). Using it as a prediction of real data is a
model: exact for data that are such a mixture, validated numerically on image patches.
"""

from __future__ import annotations

import numpy as np

from .risk import _solve_psd, code_moments

#: components of the mixture fitted to a data set's training rows (``theory_encoder_gmm_risk``).
DATA_COMPONENTS = 4


def gaussian_mixture_risk(B, covariances, weights, *, activation="sign") -> float:
    """R(B) with the best linear decoder for x ~ sum_k w_k N(0, Sigma_k) (module docstring).

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

    Returns
    -------
    float
        The normalised risk.

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
    C = M = 0.0
    energy = 0.0
    for w, cov in zip(weights, covariances):
        Ck, Mk, trace = code_moments(B, cov, act)
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
