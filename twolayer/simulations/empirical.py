"""Empirical (sample) counterparts of the theory: codes, least-squares decoder, held-out risk.

Used at the end of sample-based training on a data matrix and by the real-data experiments.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import as_matrix
from ..activations import get_activation

__all__ = ["code_matrix", "heldout_risk", "least_squares_decoder", "reconstruction_risk"]


def code_matrix(X, B, *, activation="sign") -> np.ndarray:
    """S = sigma(X B^T) (N x n, float64): the codes of the rows of ``X`` (N x d) under ``B`` (n x d).

    Parameters
    ----------
    X : array_like
        N x d samples, finite.
    B : array_like
        n x d encoder, finite.
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).

    Returns
    -------
    ndarray
        N x n float64 codes.

    Raises
    ------
    ValueError
        If ``X`` or ``B`` is invalid, their column counts differ, or ``activation`` is
        unknown.

    Examples
    --------
    >>> code_matrix([[1.0, -2.0]], np.eye(2)).tolist()
    [[1.0, -1.0]]
    """
    act = get_activation(activation)
    X = as_matrix(X, "X (samples, N x d)")
    B = as_matrix(B, "B (encoder, n x d)", shape=(None, X.shape[1]))
    return np.asarray(act(X @ B.T, np), dtype=np.float64)


def least_squares_decoder(X, B, *, activation="sign") -> np.ndarray:
    r"""The decoder that minimises the empirical risk on ``X`` for the encoder ``B``.

    A = argmin_A sum_i ||x_i - A sigma(B x_i)||^2 = X^T S (S^T S)^+,  S = sigma(X B^T),

    computed by ``numpy.linalg.lstsq`` (SVD; the minimum-norm solution when S has dependent
    columns, e.g. two neurons with the same sign pattern). Returns A (d x n).

    Parameters
    ----------
    X : array_like
        N x d samples, finite.
    B : array_like
        n x d encoder, finite.
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).

    Returns
    -------
    ndarray
        d x n float64 decoder.

    Raises
    ------
    ValueError
        As :func:`code_matrix`.
    """
    S = code_matrix(X, B, activation=activation)
    X = np.asarray(X, dtype=np.float64)
    return np.linalg.lstsq(S, X, rcond=None)[0].T


def heldout_risk(X, B, A, *, activation="sign", return_stderr: bool = False):
    r"""Empirical normalised risk of (A, B) on the rows of ``X``:

        R = sum_i ||x_i - A sigma(B x_i)||^2 / sum_i ||x_i||^2,

    both sums over the same rows (for a test set: the plug-in estimate of
    E||x - x_hat||^2 / E||x||^2 on the test distribution). ``return_stderr=True`` returns
    ``(R, se)`` with the delta-method standard error of this ratio of means over i.i.d. rows,
    se = std_i(e_i - R q_i) / (sqrt(N) mean_i q_i), e_i the squared error, q_i = ||x_i||^2
    (it ignores that A and B may have been fitted on other rows: it is the test-set noise).

    Parameters
    ----------
    X : array_like
        N x d samples, finite, not all zero.
    B : array_like
        n x d encoder.
    A : array_like
        d x n decoder.
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).
    return_stderr : bool, optional
        Also return the standard error (default False).

    Returns
    -------
    risk : float
        The empirical normalised risk R.
    se : float
        Its standard error (NaN for N = 1), only when ``return_stderr`` is True.

    Raises
    ------
    ValueError
        If an input is invalid or of the wrong shape, ``X`` is all zeros, or
        ``activation`` is unknown.
    """
    X = as_matrix(X, "X (samples, N x d)")
    B = as_matrix(B, "B (encoder, n x d)", shape=(None, X.shape[1]))
    A = as_matrix(A, "A (decoder, d x n)", shape=(X.shape[1], B.shape[0]))
    risk, se = reconstruction_risk(X, code_matrix(X, B, activation=activation) @ A.T)
    return (risk, se) if return_stderr else risk


def reconstruction_risk(X, X_hat) -> tuple[float, float]:
    r"""R = sum_i ||x_i - x_hat_i||^2 / sum_i ||x_i||^2 over the rows, with its standard error.

    The standard error is the delta method's for a ratio of means: std(e_i - R q_i) /
    (sqrt(N) mean q_i), e_i = ||x_i - x_hat_i||^2, q_i = ||x_i||^2 (NaN for N = 1).

    Parameters
    ----------
    X, X_hat : ndarray
        N x d rows and their reconstructions (float64, same shape; not checked).

    Returns
    -------
    (float, float)
        R and its standard error.

    Raises
    ------
    ValueError
        If ``X`` is all zeros.

    Examples
    --------
    >>> reconstruction_risk(np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]))[0]
    0.2
    """
    err = X - X_hat
    e = np.einsum("ij,ij->i", err, err)
    q = np.einsum("ij,ij->i", X, X)
    if q.sum() <= 0.0:
        raise ValueError("X is all zeros: the normalised risk is undefined")
    risk = float(e.sum() / q.sum())
    n = X.shape[0]
    se = float(np.std(e - risk * q, ddof=1) / (math.sqrt(n) * q.mean())) if n > 1 else float("nan")
    return risk, se
