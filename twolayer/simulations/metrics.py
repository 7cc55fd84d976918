r"""Comparison of a learned (A, B) with the theory (pure float64 functions of their arguments).

Notation: Sigma = Q diag(sigma) Q^T the source covariance (None = I), and
W = rows of B Sigma^{1/2} normalised to unit norm -- the encoder as the source sees it
(W = B with unit rows when Sigma = I); r = n/d.

* ``final_risk`` = R(A, B) exact (:func:`twolayer.theory.population_risk` with the learned A);
  ``final_risk_optimal_decoder`` = R(A*(B), B); ``predicted_risk`` = :func:`~twolayer.theory.min_risk`;
  ``relative_gap`` = (final_risk - predicted_risk) / predicted_risk.
* :func:`frame_spectrum_error` = max_j |lambda_j(W^T W) - m_j| over sorted eigenvalues, with m
  the predicted frame spectrum (sign): isotropic, n ones and d - n zeros (r <= 1: W W^T = I)
  or d values r (r > 1: W^T W = r I, a unit-norm tight frame); otherwise the sorted
  :func:`~twolayer.theory.optimal_allocation`.
* :func:`polar_alignment` = mean_i cos(b_i, t_i), T = rows of P Q^T normalised, where
  B0 = P S Q^T is the (thin) SVD of the initial encoder: gradient descent on the isotropic
  sign risk is predicted to end at the polar factor of its start (features fixed by the
  initialisation).
* :func:`decoder_distance` = ||A - A*(B)||_F / ||A*(B)||_F.
* :func:`allocation_profile` (non-isotropic): F = Q^T W^T W Q, the frame operator in Sigma's
  eigenbasis; its diagonal against m = optimal_allocation(sigma, n):
  ``allocation_profile_error`` = ||diag F - m||_2 / ||m||_2 (relative L2),
  ``allocation_max_error`` = max_j |F_jj - m_j| / max_j m_j, and
  ``leakage`` = ||F - diag F||_F / ||F||_F (mass off the eigenbasis).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_covariance, as_matrix
from ..activations import get_activation
from ..theory import min_risk, optimal_allocation, optimal_decoder
from ..theory.risk import risks_and_optimal_decoder


def _root(cov):
    """(Sigma^{1/2}, sigma, Q) for a covariance (Sigma^{1/2} symmetric); (None, None, None) for I."""
    if cov is None:
        return None, None, None
    sigma, Q = np.linalg.eigh(cov)
    sigma = np.clip(sigma, 0.0, None)
    return (Q * np.sqrt(sigma)) @ Q.T, sigma, Q


def source_frame(B, cov=None) -> np.ndarray:
    """W = rows of B Sigma^{1/2} normalised to unit norm (B with unit rows when cov is None).

    Parameters
    ----------
    B : array_like
        n x d encoder.
    cov : array_like, optional
        d x d source covariance (symmetric PSD); None (default) is Sigma = I.

    Returns
    -------
    ndarray
        n x d float64 matrix W with unit rows.

    Raises
    ------
    ValueError
        If ``B`` or ``cov`` is invalid, or a row of B Sigma^{1/2} is zero.
    """
    B = as_matrix(B, "B (encoder, n x d)")
    root, _, _ = _root(None if cov is None else as_covariance(cov, B.shape[1]))
    W = B if root is None else B @ root
    norms = np.linalg.norm(W, axis=1, keepdims=True)
    if np.any(norms <= 0):
        raise ValueError("a row of B has no projection on the source; W = B Sigma^{1/2} has a zero row")
    return W / norms


def predicted_frame_spectrum(d: int, n: int, cov=None) -> np.ndarray:
    """Predicted eigenvalues of W^T W, sorted decreasing (sign): flat (isotropic) or the allocation.

    Parameters
    ----------
    d : int
        Input dimension.
    n : int
        Code size.
    cov : array_like, optional
        d x d source covariance (symmetric PSD); None (default) is Sigma = I.

    Returns
    -------
    ndarray
        d values: isotropic, min(n, d) values max(1, n/d) then zeros; otherwise the sorted
        :func:`~twolayer.theory.optimal_allocation` of the eigenvalues of ``cov``.

    Raises
    ------
    ValueError
        If ``cov`` is invalid or not d x d.

    Examples
    --------
    >>> predicted_frame_spectrum(4, 2).tolist(), predicted_frame_spectrum(2, 4).tolist()
    ([1.0, 1.0, 0.0, 0.0], [2.0, 2.0])
    """
    if cov is None:
        return np.concatenate([np.full(min(n, d), max(1.0, n / d)), np.zeros(max(d - n, 0))])
    sigma = np.clip(np.linalg.eigvalsh(as_covariance(cov, d)), 0.0, None)
    return np.sort(optimal_allocation(sigma, n))[::-1]


def frame_spectrum_error(B, *, cov=None) -> float:
    """max_j |lambda_j(W^T W) - m_j| (sorted): distance of the learned frame to the predicted one.

    Parameters
    ----------
    B : array_like
        n x d encoder.
    cov : array_like, optional
        d x d source covariance (symmetric PSD); None (default) is Sigma = I.

    Returns
    -------
    float
        The largest deviation from :func:`predicted_frame_spectrum` (0 for a minimizer).

    Raises
    ------
    ValueError
        As :func:`source_frame`.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.

    Examples
    --------
    >>> round(frame_spectrum_error(np.eye(2, 4)), 6)  # orthonormal rows, r = 1/2
    0.0
    """
    W = source_frame(B, cov)
    n, d = W.shape
    small = W @ W.T if n <= d else W.T @ W
    eig = np.sort(np.linalg.eigvalsh(small))[::-1]
    eig = np.concatenate([eig, np.zeros(d - eig.size)])  # W^T W has d - n extra zeros when n < d
    return float(np.max(np.abs(eig - predicted_frame_spectrum(d, n, cov))))


def polar_target(B0) -> np.ndarray:
    """Rows of the polar factor P Q^T of B0 = P S Q^T (thin SVD), normalised to unit norm.

    Parameters
    ----------
    B0 : array_like
        n x d initial encoder, finite.

    Returns
    -------
    ndarray
        n x d float64 matrix T with unit rows.

    Raises
    ------
    ValueError
        If ``B0`` is not a finite, non-empty 2-D array.
    """
    B0 = as_matrix(B0, "B0 (initial encoder)")
    P, _, Qt = np.linalg.svd(B0, full_matrices=False)
    T = P @ Qt
    return T / np.linalg.norm(T, axis=1, keepdims=True)


def polar_alignment(B, B0) -> float:
    """mean_i cos(b_i, t_i), T = normalised rows of the polar factor of B0 (1 = features fixed by the start).

    Parameters
    ----------
    B : array_like
        n x d learned encoder (non-zero rows).
    B0 : array_like
        n x d initial encoder.

    Returns
    -------
    float
        The mean cosine, in [-1, 1].

    Raises
    ------
    ValueError
        If ``B`` or ``B0`` is invalid or their shapes differ.

    References
    ----------
    .. [1] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.

    Examples
    --------
    >>> round(polar_alignment(np.eye(2, 4), np.eye(2, 4)), 6)
    1.0
    """
    B = as_matrix(B, "B (encoder, n x d)")
    T = polar_target(B0)
    if T.shape != B.shape:
        raise ValueError(f"B0 has shape {T.shape} but B has shape {B.shape}")
    U = B / np.linalg.norm(B, axis=1, keepdims=True)
    return float(np.mean(np.sum(U * T, axis=1)))


def decoder_distance(A, B, *, activation="sign", cov=None) -> float:
    """||A - A*(B)||_F / ||A*(B)||_F with A*(B) the exact optimal decoder.

    Parameters
    ----------
    A : array_like
        d x n decoder.
    B : array_like
        n x d encoder.
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).
    cov : array_like, optional
        d x d source covariance (symmetric PSD); None (default) is Sigma = I.

    Returns
    -------
    float
        The relative Frobenius distance (0 for the optimal decoder).

    Raises
    ------
    ValueError
        If an input is invalid or ``A`` is not d x n.
    """
    A_star = optimal_decoder(B, activation=activation, cov=cov)
    A = as_matrix(A, "A (decoder, d x n)", shape=A_star.shape)
    return float(np.linalg.norm(A - A_star) / np.linalg.norm(A_star))


def allocation_profile(B, cov) -> dict:
    """Frame operator of W in Sigma's eigenbasis vs :func:`~twolayer.theory.optimal_allocation` (see module doc).

    Returns ``eigenvalues`` (sigma, in the order of ``eigh``), ``learned`` (diag F),
    ``predicted`` (m), ``allocation_profile_error``, ``allocation_max_error`` and ``leakage``.

    Parameters
    ----------
    B : array_like
        n x d encoder.
    cov : array_like
        d x d source covariance (symmetric PSD).

    Returns
    -------
    dict
        Three arrays of length d and three floats (see above).

    Raises
    ------
    ValueError
        If ``B`` or ``cov`` is invalid.
    """
    B = as_matrix(B, "B (encoder, n x d)")
    cov = as_covariance(cov, B.shape[1])
    _, sigma, Q = _root(cov)
    W = source_frame(B, cov)
    F = Q.T @ (W.T @ W) @ Q
    learned = np.diag(F).copy()
    m = optimal_allocation(sigma, W.shape[0])
    off = F - np.diag(learned)
    return {
        "eigenvalues": sigma,
        "learned": learned,
        "predicted": m,
        "allocation_profile_error": float(np.linalg.norm(learned - m) / np.linalg.norm(m)),
        "allocation_max_error": float(np.max(np.abs(learned - m)) / np.max(m)),
        "leakage": float(np.linalg.norm(off) / np.linalg.norm(F)),
    }


def is_isotropic(cov) -> bool:
    """True when cov is None or a multiple of the identity.

    Parameters
    ----------
    cov : array_like or None
        A square matrix (not validated).

    Returns
    -------
    bool
        Whether ``cov`` equals cov[0, 0] I to a relative tolerance of about 1e-10.

    Examples
    --------
    >>> is_isotropic(None), is_isotropic(2.0 * np.eye(3)), is_isotropic(np.diag([1.0, 2.0]))
    (True, True, False)
    """
    if cov is None:
        return True
    cov = np.asarray(cov, dtype=np.float64)
    return bool(np.allclose(cov, cov[0, 0] * np.eye(cov.shape[0]), rtol=1e-10, atol=1e-12 * abs(cov[0, 0])))


def compare_with_theory(A, B, *, activation="sign", cov=None, B0=None) -> dict:
    """All the metrics of the module docstring for one (A, B) (JSON-ready floats; None when undefined).

    The frame and allocation metrics are predictions for sign only (None for other
    activations); ``polar_alignment`` needs the initial encoder ``B0``; the allocation
    metrics are added for a non-isotropic ``cov``. ``predicted_risk`` is the proportional-limit minimum at r = n/d.

    Parameters
    ----------
    A : array_like
        d x n decoder.
    B : array_like
        n x d encoder.
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).
    cov : array_like, optional
        d x d source covariance (symmetric PSD); None (default) is Sigma = I.
    B0 : array_like, optional
        n x d initial encoder, for ``polar_alignment`` (default None: not computed).

    Returns
    -------
    dict
        ``final_risk``, ``final_risk_optimal_decoder``, ``predicted_risk``,
        ``relative_gap``, ``frame_spectrum_error``, ``polar_alignment``,
        ``decoder_distance`` and, for a non-isotropic ``cov``,
        ``allocation_profile_error``, ``allocation_max_error`` and ``leakage``.

    Raises
    ------
    ValueError
        If an input is invalid or of the wrong shape, or ``activation`` is unknown.

    Examples
    --------
    >>> from twolayer.theory import minimizer
    >>> A, B = minimizer(8, 4)
    >>> out = compare_with_theory(A, B)
    >>> round(out["relative_gap"], 6), round(out["frame_spectrum_error"], 6)
    (0.0, 0.0)
    """
    act = get_activation(activation)
    B = as_matrix(B, "B (encoder, n x d)")
    n, d = B.shape
    if cov is not None:
        cov = as_covariance(cov, d)
    iso = is_isotropic(cov)
    theory_cov = None if iso else cov  # a multiple of I is the isotropic theory (risk is scale-free)
    spectrum = None if iso else np.clip(np.linalg.eigvalsh(cov), 0.0, None)
    A = as_matrix(A, "A (decoder, d x n)", shape=(d, n))
    final, final_optimal, A_star = risks_and_optimal_decoder(B, A, activation=act, cov=cov)  # moments once
    predicted = float(min_risk(n / d, activation=act, spectrum=spectrum))
    out = {
        "final_risk": final,
        "final_risk_optimal_decoder": final_optimal,
        "predicted_risk": predicted,
        "relative_gap": (final - predicted) / predicted if predicted > 0 else None,
        "frame_spectrum_error": frame_spectrum_error(B, cov=theory_cov) if act.name == "sign" else None,
        "polar_alignment": polar_alignment(B, B0) if B0 is not None else None,
        "decoder_distance": float(np.linalg.norm(A - A_star) / np.linalg.norm(A_star)),  # as decoder_distance
    }
    if not iso:
        keys = ("allocation_profile_error", "allocation_max_error", "leakage")
        profile = allocation_profile(B, cov) if act.name == "sign" else dict.fromkeys(keys)
        out.update({k: profile[k] for k in keys})
    return out


def row_localisation(B) -> float:
    """Mean inverse participation ratio of the rows of B: sum_j u_j^4 / (sum_j u_j^2)^2.

    1 for rows that each select one coordinate (identity-like), about 3/d for dense random rows.

    Parameters
    ----------
    B : array_like
        n x d encoder (converted to float64, not otherwise checked).

    Returns
    -------
    float
        The mean over the non-zero rows (all-zero rows are left out; NaN when every row is zero).

    Examples
    --------
    >>> import numpy as np
    >>> row_localisation(np.eye(4)[:2]), round(row_localisation(np.ones((2, 4))), 6)
    (1.0, 0.25)
    """
    B = np.asarray(B, dtype=np.float64)
    sq = B * B
    norms = sq.sum(axis=1)
    keep = norms > 0
    return float(np.mean((sq[keep] ** 2).sum(axis=1) / norms[keep] ** 2))
