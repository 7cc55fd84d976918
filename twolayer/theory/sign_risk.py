r"""R(B) of the sign code with the optimal decoder, isotropic source, and its closed-form gradient (JAX).

Proved (exact at every d; the same quantity as :func:`.risk.optimal_decoder_risk_jax`, which
calls this for ``activation="sign"``, ``cov=None``). sign is homogeneous of degree 0, so R
depends on B only through the unit rows U = D^{-1/2} B, D = diag(B B^T), s_i = ||b_i||:

    Q = U U^T,   M = (2/pi) arcsin(Q) (diagonal exactly 1, plus the jitter),
    C^T = sqrt(2/pi) U,   A^T = M^{-1} C^T,   G = A^T A,
    R = (d - 2 <A^T, C^T> + <G, M>) / d          (= 1 - tr(C M^{-1} C^T)/d for the exact solve).

Gradient (envelope theorem: A is optimal for this B, so only the explicit dependence counts):

    H = G o (2/pi) / sqrt(1 - Q^2) off the diagonal, 0 on it      (dM/dQ; M_ii does not move)
    dR/dU = (2 H U - 2 sqrt(2/pi) A^T) / d
    dR/db_i = (I - u_i u_i^T) (dR/du_i) / s_i                      (through the normalisation)

The radial part u_i . dR/du_i = (2 sum_j H_ij Q_ij - 2 sqrt(2/pi) a_i . u_i) / d comes from
n x n and n x d arrays at hand, not from a row sum over H U (XLA fused that sum with the product
into one slow loop: about 1 s of a 2.3 s float64 step at d = 2048).

One step therefore costs three n x n x d matrix products (Q, G, H U), one Cholesky
factorisation, two triangular solves and a few O(n^2) elementwise passes (arcsin vectorised,
:mod:`._fast_math`). Measured at d = n = 1024 on 2 cores (a ``train`` step, `benchmarks/run.py`,
2026-12-04): 97 ms in float32 and 0.19 s in float64, 0.53 and 0.59 of plain automatic
differentiation of the formula through an LU solve, 58 % of the best matrix-product rate of the
same run counting only the products, the factorisation and the solves.
Where it breaks: two parallel rows (|Q_ij| = 1) make arcsin' infinite, so the gradient is
not finite there (the risk is).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from ._fast_math import arcsin
from ._jax_linalg import psd_solve

_TWO_OVER_PI = 2.0 / math.pi
_SLOPE = math.sqrt(2.0 / math.pi)  # E[g sign(g)]


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def sign_risk(B, jitter=0.0, fallback=True):
    """R(B) = 1 - tr(C M^{-1} C^T)/d for sign, Sigma = I, optimal decoder (M + jitter I solved).

    ``jitter`` (a Python float) regularises the solve and is not differentiated.
    Differentiable in ``B`` with the closed-form gradient of the module docstring.

    Parameters
    ----------
    B : jax.Array
        n x d encoder with non-zero rows (only their directions matter).
    jitter : float, optional
        Added to the diagonal of M (default 0.0); a static argument.
    fallback : bool, optional
        Solve by LU where the Cholesky factorisation of M fails (default True); False: the
        value and gradient are NaN there (``train`` then reruns its chunk with True).

    Returns
    -------
    jax.Array
        Scalar normalised risk, in the dtype of ``B``.

    References
    ----------
    .. [1] W. F. Sheppard, "On the application of the theory of error to cases of normal
       distribution and normal correlation", Phil. Trans. R. Soc. A 192 (1899): the
       arcsine law M = (2/pi) arcsin(Q).
    .. [2] A. Shevchenko, K. Kögler, H. Hassani and M. Mondelli, "Fundamental limits of
       two-layer autoencoders, and achieving them with gradient methods", ICML 2023
       (PMLR 202), arXiv:2212.13468.
    """
    return _forward(B, jitter, fallback)[0]


def _forward(B, jitter, fallback):
    n, d = B.shape
    norms = jnp.sqrt(jnp.sum(B * B, axis=1, keepdims=True))
    U = B / norms
    eye = jnp.eye(n, dtype=bool)
    Q = jnp.clip(jnp.where(eye, 0.0, U @ U.T), -1.0, 1.0)  # off-diagonal correlations
    M = jnp.where(eye, 1.0 + jitter, _TWO_OVER_PI * arcsin(Q))  # vectorised; XLA's asin is 25x slower
    Ct = _SLOPE * U
    At = psd_solve(M, Ct, fallback)
    G = At @ At.T
    value = (d - 2.0 * jnp.sum(At * Ct) + jnp.sum(G * M)) / d
    return value, (U, norms, Q, At, G)


def _backward(jitter, fallback, res, g):
    U, norms, Q, At, G = res
    n, d = U.shape
    H = jnp.where(jnp.eye(n, dtype=bool), 0.0, G * (_TWO_OVER_PI * jax.lax.rsqrt(1.0 - Q * Q)))
    scale = g / d
    dU = (2.0 * (H @ U) - (2.0 * _SLOPE) * At) * scale
    # radial part u_i . dU_i = (2 sum_j H_ij Q_ij - 2 sqrt(2/pi) a_i . u_i) g/d, from n x n and
    # n x d arrays at hand: a row sum over the product H U itself makes XLA fuse the two into
    # one slow loop (float64, d = 2048: about 1 s a step)
    radial = (2.0 * jnp.sum(H * Q, axis=1, keepdims=True) - (2.0 * _SLOPE) * jnp.sum(At * U, axis=1, keepdims=True)) * scale
    dB = (dU - U * radial) / norms
    return (dB,)


sign_risk.defvjp(_forward, _backward)
