r"""Exact finite-d population risk of x_hat = A sigma(B x) for x ~ N(0, Sigma).

With z = B x ~ N(0, K), K = B Sigma B^T, the risk is a quadratic form in A whose
coefficients are two Gaussian expectations (proved; no approximation):

    C = E[x sigma(z)^T] = Sigma B^T diag(E[z_i sigma(z_i)] / K_ii)       (Stein's lemma)
    M = E[sigma(z) sigma(z)^T]                                           (activation kernel)
    R(A, B) = (tr Sigma - 2 tr(A^T C) + tr(A M A^T)) / tr Sigma.

The optimal decoder is A*(B) = C M^{-1} (M^+ when M is singular) and
R(B) := R(A*(B), B) = 1 - tr(C M^{-1} C^T) / tr Sigma.

**Denoising** (``noise`` = tau^2 > 0; proved, the same kernels): the encoder sees
x~ = x + tau eps, eps ~ N(0, I), and the target is x. x and z = B x~ are jointly Gaussian with
Cov(x, z) = Sigma B^T and Cov(z) = K~ = B (Sigma + tau^2 I) B^T, so

    C = Sigma B^T diag(E[z_i sigma(z_i)] / K~_ii),   M = E[sigma(z) sigma(z)^T] at K~,

and R(A, B) = E||x - A sigma(B x~)||^2 / tr Sigma keeps the formula above. For sign with
Sigma = I this is R(B) = 1 - (1 - R_0(B)) / (1 + tau^2), R_0 the noiseless risk.

**Skip connection** (``skip`` = b; x_hat = b x~ + A sigma(B x~); proved, the same moments): with
C~ = E[x~ sigma(z)^T] = (Sigma + tau^2 I) B^T diag(E[z_i sigma(z_i)] / K~_ii), the risk gains
b^2 (tr Sigma + tau^2 d) - 2 b tr Sigma + 2 b tr(A^T C~) in its numerator.

For sign, M = (2/pi) arcsin(D^-1/2 K D^-1/2) with D = diag(K): its diagonal is exactly 1
and is set directly, because arcsin'(1) is infinite (see
:meth:`twolayer.activations.Activation.kernel_matrix`).

Every function here is written once against an array namespace ``xp``; the NumPy
versions (:func:`population_risk`, :func:`optimal_decoder`) run in float64, the JAX
versions (:func:`risk_jax`, :func:`optimal_decoder_risk_jax`) are differentiable.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from .._validation import as_covariance, as_matrix, as_nonnegative
from ..activations import Sign, get_activation
from ._jax_linalg import psd_solve, sandwich
from .sign_risk import sign_risk


def code_moments(B, cov, activation, xp=np, noise=0.0):
    """Return (C, M, tr Sigma) for encoder ``B`` (n x d) and covariance ``cov`` (None = I).

    No input checks: the public functions validate first.

    Parameters
    ----------
    B : array
        n x d encoder (NumPy or JAX array, matching ``xp``).
    cov : array or None
        d x d source covariance; None is Sigma = I.
    activation : Activation
        An :class:`~twolayer.activations.Activation` instance (not a name).
    xp : module, optional
        Array namespace, ``numpy`` (default) or ``jax.numpy``.
    noise : float, optional
        Input-noise variance tau^2 (default 0): the code is sigma(B(x + tau eps)).

    Returns
    -------
    C : array
        d x n matrix E[x sigma(Bx)^T].
    M : array
        n x n kernel E[sigma(Bx) sigma(Bx)^T].
    trace : int, float or array
        tr Sigma (d when ``cov`` is None).
    """
    if xp is np:
        BS = B if cov is None else B @ cov
        K = BS @ B.T
    else:  # JAX: the same (K, B Sigma), with a one-product backward pass for K
        K, BS = sandwich(B, cov)
    if noise:  # the encoder sees x + tau eps: K~ = B (Sigma + tau^2 I) B^T; Cov(x, z) stays Sigma B^T
        K = K * (1.0 + noise) if cov is None else K + noise * (B @ B.T)
    trace = B.shape[1] if cov is None else xp.trace(cov)
    coef = activation.code_coefficient(xp.diagonal(K), xp)
    C = BS.T * coef[None, :]
    M = activation.kernel_matrix(K, xp)
    return C, M, trace


def _check_inputs(B, A, activation, cov):
    act = get_activation(activation)
    B = as_matrix(B, "B (encoder, n x d)")
    n, d = B.shape
    if A is not None:
        A = as_matrix(A, "A (decoder, d x n)")
        if A.shape != (d, n):
            raise ValueError(
                f"shape mismatch: B is {n} x {d} (n x d), so A must be {d} x {n} (d x n); got A {A.shape}"
            )
    if cov is not None:
        cov = as_covariance(cov, d)
    with np.errstate(over="ignore", invalid="ignore"):
        K_diag = np.einsum("ij,ij->i", B, B) if cov is None else np.einsum("ij,jk,ik->i", B, cov, B)
    if cov is not None and not np.all(np.isfinite(K_diag)):  # each of B and cov fits alone (as_matrix)
        raise ValueError(
            "B Sigma B^T overflows float64: the scale of B and cov together is too large "
            f"(entries up to {np.abs(B).max():.3g} and {np.abs(cov).max():.3g}); rescale B or cov"
        )
    dead = np.flatnonzero(K_diag <= 1e-300)
    if dead.size:
        raise ValueError(
            f"row {dead[0]} of B has zero variance under the source (B Sigma B^T has a zero "
            "diagonal entry): every row of B must have a non-zero projection on the source"
        )
    return act, B, A, cov


def _as_noise(noise) -> float:
    """The input-noise variance tau^2 as a float >= 0, or ValueError."""
    return as_nonnegative(noise, "noise (input-noise variance tau^2)")


def _solve_psd(M, rhs):
    """Solve M X = rhs for symmetric PSD M: Cholesky, or a pseudo-inverse when singular."""
    try:
        factor = scipy.linalg.cho_factor(M, lower=True)
        diag = np.abs(np.diag(factor[0]))
        if diag.min() ** 2 > 1e-12 * diag.max() ** 2:  # well enough conditioned for Cholesky
            return scipy.linalg.cho_solve(factor, rhs)
    except np.linalg.LinAlgError:
        pass
    return np.linalg.lstsq(M, rhs, rcond=1e-12)[0]  # minimum-norm solution (M^+ rhs)


def optimal_decoder(B, *, activation="sign", cov=None, noise=0.0) -> np.ndarray:
    """A*(B) = C M^{-1}: the decoder minimising the exact population risk for fixed B (d x n).

    M^+ (minimum-norm solution) replaces M^{-1} when M is singular or badly conditioned.

    Parameters
    ----------
    B : array_like
        n x d encoder, finite, each row with non-zero variance under the source.
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).
    cov : array_like, optional
        d x d source covariance (symmetric PSD); None (default) is Sigma = I.

    noise : float, optional
        Input-noise variance tau^2 >= 0 of a denoising autoencoder (default 0; module docstring).
    Returns
    -------
    ndarray
        The d x n float64 decoder A*(B).

    Raises
    ------
    ValueError
        If ``B`` or ``cov`` is invalid, a row of B has zero variance under the source, or
        ``activation`` is unknown.

    Examples
    --------
    >>> optimal_decoder(np.eye(2, 4)).shape
    (4, 2)
    """
    act, B, _, cov = _check_inputs(B, None, activation, cov)
    C, M, _ = code_moments(B, cov, act, noise=_as_noise(noise))
    return _solve_psd(M, C.T).T


def population_risk(B, A=None, *, activation="sign", cov=None, noise=0.0, skip=None) -> float:
    """Exact R(A, B) = E||x - A sigma(Bx)||^2 / E||x||^2 for x ~ N(0, cov) (proved, float64).

    ``A=None`` uses the optimal decoder, R(B) = 1 - tr(C M^{-1} C^T) / tr Sigma.
    ``cov=None`` is the isotropic source Sigma = I.

    Parameters
    ----------
    B : array_like
        n x d encoder, finite, each row with non-zero variance under the source.
    A : array_like, optional
        d x n decoder; None (default) uses the optimal decoder A*(B).
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).
    cov : array_like, optional
        d x d source covariance (symmetric PSD); None (default) is Sigma = I.

    noise : float, optional
        Input-noise variance tau^2 >= 0 of a denoising autoencoder (default 0; module docstring).
    Returns
    -------
    float
        The normalised risk (>= 0; 1 for the zero decoder).

    Raises
    ------
    ValueError
        If ``B``, ``A`` or ``cov`` is invalid or of the wrong shape, a row of B has zero
        variance under the source, or ``activation`` is unknown.

    References
    ----------
    .. [1] W. F. Sheppard, "On the application of the theory of error to cases of normal
       distribution and normal correlation", Phil. Trans. R. Soc. A 192 (1899): the
       arcsine law E[sign(u) sign(v)] = (2/pi) arcsin(rho) behind M for sign.
    .. [2] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.

    Examples
    --------
    >>> round(population_risk(np.eye(2, 4)), 6)  # sign, orthonormal rows: 1 - 2(n/d)/pi
    0.68169
    >>> round(population_risk(np.eye(2, 4), activation="linear"), 6)  # PCA: 1 - n/d
    0.5
    """
    act, B, A, cov = _check_inputs(B, A, activation, cov)
    C, M, trace = code_moments(B, cov, act, noise=_as_noise(noise))
    if skip is not None:
        if A is None:
            raise ValueError("skip needs the decoder A (the optimal decoder is defined without the skip connection)")
        value = trace - 2.0 * np.sum(A * C) + np.sum((A @ M) * A) + _skip_terms(B, A, cov, act, noise, float(skip),
                                                                                 trace, np)
        return float(value / trace)
    if A is None:
        explained = float(np.sum(C.T * _solve_psd(M, C.T)))
        return float(max(0.0, 1.0 - explained / trace))  # clip rounding below 0 only
    value = trace - 2.0 * np.sum(A * C) + np.sum((A @ M) * A)
    return float(value / trace)


def risks_and_optimal_decoder(B, A, *, activation="sign", cov=None):
    """(R(A, B), R(B), A*(B)): :func:`population_risk` with and without ``A`` and :func:`optimal_decoder`,
    from one computation of the code moments (C, M) and one solve (proved, float64).

    The three quantities a report of a trained network needs; computing them separately costs
    the O(n^2 d) moments three times (a second each at d = n = 2048).

    Parameters
    ----------
    B : array_like
        n x d encoder, finite, each row with non-zero variance under the source.
    A : array_like
        d x n decoder.
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).
    cov : array_like, optional
        d x d source covariance (symmetric PSD); None (default) is Sigma = I.

    Returns
    -------
    tuple
        (R(A, B), R(B), A*(B)) as (float, float, d x n ndarray).

    Raises
    ------
    ValueError
        As :func:`population_risk`.

    Examples
    --------
    >>> B = np.eye(2, 4)
    >>> r, r_opt, A = risks_and_optimal_decoder(B, optimal_decoder(B))
    >>> round(r, 6), round(r_opt, 6), A.shape
    (0.68169, 0.68169, (4, 2))
    """
    act, B, A, cov = _check_inputs(B, A, activation, cov)
    C, M, trace = code_moments(B, cov, act)
    A_star = _solve_psd(M, C.T).T
    risk = float((trace - 2.0 * np.sum(A * C) + np.sum((A @ M) * A)) / trace)
    optimal = float(max(0.0, 1.0 - np.sum(C * A_star) / trace))
    return risk, optimal, A_star


# ----------------------------------------------------------------------------- JAX versions
def _skip_terms(B, A, cov, act, noise, skip, trace, xp):
    """b^2 (tr Sigma + tau^2 d) - 2 b tr Sigma + 2 b tr(A^T C~): the skip connection's part of the numerator."""
    d = B.shape[1]
    BS = B if cov is None else B @ cov
    K_diag = xp.sum(BS * B, axis=1) + noise * xp.sum(B * B, axis=1)
    coef = act.code_coefficient(K_diag, xp)
    C_tilde = (BS + noise * B).T * coef[None, :]
    return skip * skip * (trace + noise * d) - 2.0 * skip * trace + 2.0 * skip * xp.sum(A * C_tilde)


def risk_jax(B, A, *, activation="sign", cov=None, noise=0.0, skip=None):
    """Differentiable R(A, B) (JAX). ``activation`` must be static under ``jax.jit``.

    No input checks (the inputs may be tracers); see :func:`population_risk` for the
    validated float64 version.

    Parameters
    ----------
    B : jax.Array
        n x d encoder.
    A : jax.Array
        d x n decoder.
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).
    cov : jax.Array, optional
        d x d source covariance; None (default) is Sigma = I.
    noise : float, optional
        Input-noise variance tau^2 >= 0 of a denoising autoencoder (default 0; module docstring).
    skip : jax.Array or None, optional
        The weight b of a skip connection x_hat = b x~ + A sigma(B x~) (default None: none).

    Returns
    -------
    jax.Array
        Scalar normalised risk, in the dtype of the inputs.

    Raises
    ------
    ValueError
        If ``activation`` is unknown.
    """
    act = get_activation(activation)
    C, M, trace = code_moments(B, cov, act, jnp, noise)
    value = trace - 2.0 * jnp.sum(A * C) + jnp.sum((A @ M) * A)
    if skip is not None:
        value = value + _skip_terms(B, A, cov, act, noise, skip, trace, jnp)
    return value / trace


def optimal_decoder_risk_jax(B, *, activation="sign", cov=None, jitter=0.0, noise=0.0, fallback=True):
    """Differentiable R(B) = R(A*(B), B) = 1 - tr(C M^{-1} C^T)/tr Sigma with the optimal decoder (JAX).

    Envelope theorem: A*(B) minimises the quadratic R(., B), so grad_B R(A*(B), B) equals
    the partial gradient grad_B R(A, B) at A = A*(B). The decoder and G = A^T A are therefore
    computed under ``stop_gradient`` (A from a Cholesky solve of M + jitter I, LU where
    Cholesky fails) and only the explicit dependence on B is differentiated, through
    R = (tr Sigma - 2 <A, C> + <G, M>) / tr Sigma: no derivative through a factorisation.
    For sign with Sigma = I the gradient is closed-form (:func:`.sign_risk.sign_risk`).

    Parameters
    ----------
    B : jax.Array
        n x d encoder.
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).
    cov : jax.Array, optional
        d x d source covariance; None (default) is Sigma = I.
    jitter : float, optional
        Added to the diagonal of M before the solve (default 0.0).

    noise : float, optional
        Input-noise variance tau^2 >= 0 of a denoising autoencoder (default 0; module docstring).
    fallback : bool, optional
        Solve by LU where Cholesky fails (default True); False: NaN there (for a caller that
        falls back itself, as ``train`` does).

    Returns
    -------
    jax.Array
        Scalar normalised risk R(B), in the dtype of the inputs.

    Raises
    ------
    ValueError
        If ``activation`` is unknown.
    """
    act = get_activation(activation)
    if isinstance(act, Sign) and cov is None:  # closed-form gradient; noise only rescales C by (1 + tau^2)^(-1/2)
        value = sign_risk(B, jitter, fallback)
        return 1.0 - (1.0 - value) / (1.0 + noise) if noise else value
    C, M, trace = code_moments(B, cov, act, jnp, noise)
    if jitter:
        M = M + jitter * jnp.eye(M.shape[0], dtype=M.dtype)
    At = jax.lax.stop_gradient(psd_solve(M, C.T, fallback))
    G = jax.lax.stop_gradient(At @ At.T)
    return (trace - 2.0 * jnp.sum(At.T * C) + jnp.sum(G * M)) / trace


def optimal_decoder_jax(B, *, activation="sign", cov=None, noise=0.0):
    """A*(B) = C M^{-1} in JAX (Cholesky solve; LU where Cholesky fails).

    Parameters
    ----------
    B : jax.Array
        n x d encoder.
    activation : str, Activation or callable, optional
        Anything :func:`~twolayer.activations.get_activation` accepts (default ``"sign"``).
    cov : jax.Array, optional
        d x d source covariance; None (default) is Sigma = I.

    noise : float, optional
        Input-noise variance tau^2 >= 0 of a denoising autoencoder (default 0; module docstring).
    Returns
    -------
    jax.Array
        The d x n decoder.

    Raises
    ------
    ValueError
        If ``activation`` is unknown.
    """
    act = get_activation(activation)
    C, M, _ = code_moments(B, cov, act, jnp, noise)
    return psd_solve(M, C.T).T
