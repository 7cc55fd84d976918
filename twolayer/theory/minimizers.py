r"""Constructed minimizers of the population risk.

* sign, isotropic, r <= 1: orthonormal rows B B^T = I (risk 1 - 2r/pi at every d: K = I, so
  M = I and the risk is exact, not only in the limit).
* sign, isotropic, r > 1: a unit-norm tight frame, rows of norm 1 and B^T B = r I.
* sign, covariance Sigma: an *equal-norm* frame W (unit rows) with frame operator
  W^T W = Q diag(m) Q^T, m = :func:`~twolayer.theory.limits.optimal_allocation`, and
  B = W Sigma^{-1/2} (so that B Sigma^{1/2} = W). Equal row norms matter: sign ignores
  the row norms of B, so a matrix with the right frame operator but unequal rows is far
  from optimal (20-70% above the minimum on image spectra).
* linear: the top-n principal directions (PCA).
* relu, r >= 2: pairs (u, -u) over an orthonormal basis: relu(z) - relu(-z) = z, risk 0.

Equal-norm frames with a prescribed frame operator exist whenever the eigenvalues are
non-negative and sum to n (Schur-Horn); :func:`equal_norm_frame` finds one by alternating
projections between the two constraint sets, from a seeded Gaussian start.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_covariance, as_size
from ..activations import get_activation
from .limits import optimal_allocation
from .risk import optimal_decoder


def orthonormal_rows(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random n x d matrix with orthonormal rows (n <= d).

    Parameters
    ----------
    n, d : int
        Number of rows and columns, n <= d.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray
        n x d float64 matrix B with B B^T = I.

    Raises
    ------
    ValueError
        If n > d.

    Examples
    --------
    >>> B = orthonormal_rows(2, 3, np.random.default_rng(0))
    >>> bool(np.allclose(B @ B.T, np.eye(2)))
    True
    """
    if n > d:
        raise ValueError(f"orthonormal rows need n <= d, got n = {n}, d = {d}")
    Q, R = np.linalg.qr(rng.standard_normal((d, n)))
    return (Q * np.sign(np.diag(R))).T


def equal_norm_frame(
    n: int,
    frame_eigenvalues,
    rng: np.random.Generator,
    *,
    tol: float = 1e-10,
    max_iter: int = 20_000,
) -> np.ndarray:
    """An n x k matrix V with unit-norm rows and V^T V = diag(frame_eigenvalues).

    Alternating projections: V <- polar(Y D^{1/2}) D^{1/2} (nearest matrix with V^T V = D),
    then rows normalised; stops when ||V^T V - D||_max < tol. The eigenvalues must be >= 0
    and sum to n (the trace of V^T V equals the sum of the squared row norms).

    Parameters
    ----------
    n : int
        Number of rows (unit-norm frame vectors).
    frame_eigenvalues : array_like
        The k diagonal entries of D = V^T V, each >= 0, summing to n, with k <= n.
    rng : numpy.random.Generator
        Seeds the Gaussian start.
    tol : float, optional
        Stopping tolerance on ||V^T V - D||_max (default 1e-10).
    max_iter : int, optional
        Maximum number of alternating-projection steps (default 20000).

    Returns
    -------
    ndarray
        n x k float64 matrix V with unit rows and V^T V = D within ``tol``.

    Raises
    ------
    ValueError
        If an eigenvalue is negative, they do not sum to n, or k > n.
    RuntimeError
        If the iteration has not converged after ``max_iter`` steps.
    """
    m = np.asarray(frame_eigenvalues, dtype=np.float64)
    if np.any(m < 0) or not np.isclose(m.sum(), n, rtol=1e-9):
        raise ValueError(f"frame eigenvalues must be >= 0 and sum to n = {n}; got sum {m.sum():.6g}")
    k = m.size
    if k > n:
        raise ValueError(f"an n x k frame with V^T V of full rank k needs k <= n; got k = {k}, n = {n}")
    root = np.sqrt(m)
    V = rng.standard_normal((n, k))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    for _ in range(max_iter):
        P, _, Qt = np.linalg.svd(V * root, full_matrices=False)
        V = (P @ Qt) * root
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        if np.max(np.abs(V.T @ V - np.diag(m))) < tol:
            return V
    err = np.max(np.abs(V.T @ V - np.diag(m)))
    raise RuntimeError(f"equal_norm_frame did not converge: ||V^T V - D||_max = {err:.2e} after {max_iter} steps")


def tight_frame(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """A random unit-norm tight frame: n x d, unit rows, B^T B = (n/d) I (n >= d).

    The sign minimizer of the isotropic risk for r = n/d > 1.

    Parameters
    ----------
    n, d : int
        Number of rows and columns, n >= d.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray
        n x d float64 matrix with unit rows and B^T B = (n/d) I (orthonormal rows if n = d).

    Raises
    ------
    ValueError
        If n < d.
    RuntimeError
        If the underlying :func:`equal_norm_frame` does not converge.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.
    """
    if n < d:
        raise ValueError(f"a tight frame needs n >= d, got n = {n}, d = {d}")
    if n == d:
        return orthonormal_rows(n, d, rng)
    V = equal_norm_frame(n, np.full(d, n / d), rng)
    return V @ orthonormal_rows(d, d, rng)


def minimizer(d, n, *, activation="sign", cov=None, seed=0):
    """(A, B) minimising the population risk (in the proportional limit), with A = A*(B).

    See the module docstring for the construction per activation. Deterministic in ``seed``.

    Parameters
    ----------
    d : int
        Input dimension, >= 1.
    n : int
        Code size (number of neurons), >= 1.
    activation : str, Activation or callable, optional
        ``"sign"`` (default), ``"linear"`` or ``"relu"`` (relu needs n >= 2d).
    cov : array_like, optional
        d x d source covariance (symmetric PSD); None (default) is Sigma = I.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` (default 0).

    Returns
    -------
    A : ndarray
        d x n optimal decoder A*(B) (:func:`~twolayer.theory.risk.optimal_decoder`).
    B : ndarray
        n x d encoder.

    Raises
    ------
    ValueError
        If d, n or ``cov`` is invalid, for relu with n < 2d, or for an activation with no
        closed-form minimizer (erf, tanh, callables).

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.

    Examples
    --------
    >>> A, B = minimizer(8, 4)  # sign, r = 1/2: orthonormal rows
    >>> A.shape, B.shape
    ((8, 4), (4, 8))
    >>> from twolayer.theory.risk import population_risk
    >>> round(population_risk(B, A), 6)  # 1 - 2r/pi
    0.68169
    """
    d = as_size(d, "d (input dimension)")
    n = as_size(n, "n (code size)")
    act = get_activation(activation)
    rng = np.random.default_rng(seed)
    if cov is not None:
        cov = as_covariance(cov, d)
    if act.name == "linear":
        if cov is None:
            B = orthonormal_rows(min(n, d), d, rng)
        else:
            _, vecs = np.linalg.eigh(cov)
            B = vecs[:, ::-1][:, : min(n, d)].T.copy()
        if n > d:  # extra neurons are useless for a linear code; give them copies of a direction
            B = np.vstack([B, B[rng.integers(0, d, n - d)]])
        return optimal_decoder(B, activation=act, cov=cov), B
    if act.name == "relu":
        if n < 2 * d:
            raise ValueError(
                f"no closed-form relu minimizer is known for r = n/d = {n / d:.3g} < 2; "
                "use twolayer.simulations.train(method='population') for a numerical one"
            )
        U = orthonormal_rows(d, d, rng) if cov is None else np.linalg.eigh(cov)[1].T
        extra = rng.standard_normal((n - 2 * d, d))
        B = np.vstack([U, -U, extra / np.linalg.norm(extra, axis=1, keepdims=True)])
        return optimal_decoder(B, activation=act, cov=cov), B
    if act.name != "sign":
        raise ValueError(
            f"no closed-form minimizer is known for activation {act.name!r}; closed forms exist for "
            "sign, linear and relu (r >= 2). Use twolayer.simulations.train(method='population')."
        )
    if cov is None:
        B = orthonormal_rows(n, d, rng) if n <= d else tight_frame(n, d, rng)
    else:
        B = _allocated_encoder(cov, n, rng)
    return optimal_decoder(B, activation=act, cov=cov), B


def _allocated_encoder(cov: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """B = V diag(sigma_p^{-1/2}) Q_p^T with V an equal-norm frame of frame operator diag(m_p)."""
    sigma, Q = np.linalg.eigh(cov)
    sigma, Q = sigma[::-1], Q[:, ::-1]
    m = optimal_allocation(np.clip(sigma, 0.0, None), n)
    p = int(np.count_nonzero(m > 0))
    V = equal_norm_frame(n, m[:p] * (n / m[:p].sum()), rng) if p < n else _square_frame(n, m[:p], rng)
    B = (V / np.sqrt(sigma[:p])) @ Q[:, :p].T
    return B / np.linalg.norm(B, axis=1, keepdims=True)


def _square_frame(n: int, m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """p = n active directions: V is n x n with unit rows and V^T V = diag(m)."""
    if np.allclose(m, 1.0):
        return orthonormal_rows(n, n, rng)
    return equal_norm_frame(n, m * (n / m.sum()), rng)

