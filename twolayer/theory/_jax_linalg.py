r"""Two dense linear-algebra pieces of the JAX risk, written for speed (shared by :mod:`.risk`
and :mod:`.sign_risk`).

* :func:`gram` -- K = B Sigma B^T with the symmetric vector-Jacobian product
  dB = (H + H^T) B Sigma: one matrix product in the backward pass where plain autodiff of
  ``B @ B.T`` makes two.
* :func:`psd_solve` -- X = M^{-1} R for a symmetric positive definite M: a Cholesky
  factorisation (n^3/3 flops, no pivoting) and two triangular solves; if the factorisation
  breaks down (M numerically singular or indefinite, e.g. duplicate neurons or a linear code
  with n > d), an LU solve instead (``jax.lax.cond``: the LU branch runs only then).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_factor, cho_solve


@jax.custom_vjp
def gram(B, cov=None):
    """K = B B^T (``cov=None``) or B Sigma B^T; backward dB = (H + H^T) B Sigma, dSigma = B^T H B."""
    return _gram_fwd(B, cov)[0]


def _gram_fwd(B, cov):
    BS = B if cov is None else B @ cov
    return BS @ B.T, (B, BS, cov)


def _gram_bwd(res, H):
    B, BS, cov = res
    dB = (H + H.T) @ BS
    dcov = None if cov is None else B.T @ H @ B  # dead code (removed by XLA) unless cov is differentiated
    return dB, dcov


gram.defvjp(_gram_fwd, _gram_bwd)


def psd_solve(M, R):
    """M^{-1} R for symmetric positive (semi)definite M: Cholesky, or LU where Cholesky fails."""
    factor, lower = cho_factor(M, lower=True)
    ok = jnp.all(jnp.isfinite(jnp.diagonal(factor)))
    return jax.lax.cond(ok, lambda: cho_solve((factor, lower), R), lambda: jnp.linalg.solve(M, R))
